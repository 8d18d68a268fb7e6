"""The category head: standardised features → logits → softmax, and its .npz file.

The one copy of the head's arithmetic: decide.py applies it to a photo, learning/ and training/
fit it. A softmax regression small enough to refit on the user's machine in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class HeadWeights:
    """The category head: standardised features → softmax regression."""

    feature_names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # [n_features, n_categories]
    bias: np.ndarray  # [n_categories]
    categories: tuple[str, ...]


def load_head(path: Path) -> HeadWeights:
    """The category head's weights from its .npz file."""
    with np.load(path, allow_pickle=False) as data:
        return HeadWeights(
            feature_names=tuple(str(name) for name in data["feature_names"]),
            mean=data["mean"].astype(np.float32),
            scale=data["scale"].astype(np.float32),
            weights=data["weights"].astype(np.float32),
            bias=data["bias"].astype(np.float32),
            categories=tuple(str(name) for name in data["categories"]),
        )


def standardise(head: HeadWeights, features: np.ndarray) -> np.ndarray:
    """Features on the scale the weights were fitted on."""
    return (features - head.mean) / head.scale


def predict(head: HeadWeights, features: np.ndarray) -> np.ndarray:
    """Class probabilities [N, C] (no hint rules: those need the facts, see decide.py)."""
    return softmax(head_logits(head, features))


def save_head(head: HeadWeights, path: str) -> None:
    """Write the head as an .npz that load_head reads (no pickles)."""
    np.savez(
        path,
        feature_names=np.array(head.feature_names),
        mean=head.mean,
        scale=head.scale,
        weights=head.weights,
        bias=head.bias,
        categories=np.array(head.categories),
    )


def head_logits(head: HeadWeights, features: np.ndarray) -> np.ndarray:
    """Raw per-category logits for one or more feature vectors."""
    return standardise(head, features) @ head.weights + head.bias
