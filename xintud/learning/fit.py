"""Fit the category head: L2-regularised softmax regression in plain numpy.

Lives in the package, not in training/, because it is small enough to run on the user's machine
(seconds on a few thousand photos) when the head is refitted from their corrections; training/
fits the shipped head with it too.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xintud.engine.head import HeadWeights, softmax


def standardiser(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and scale; constant features get scale 1 so they stay finite."""
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale < 1e-6] = 1.0
    return mean.astype(np.float32), scale.astype(np.float32)


def class_weights(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-sample weights that give every class the same total weight."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    per_class = len(labels) / (n_classes * np.maximum(counts, 1))
    return per_class[labels]


def fit_softmax_regression(
    features: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    l2: float,
    steps: int = 600,
    learning_rate: float = 0.05,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Weights [F, C] and bias [C] minimising class-balanced cross-entropy + l2·|W|²/2.

    Full-batch Adam: deterministic for a given seed, and plenty fast at this size.
    """
    rng = np.random.default_rng(seed)
    features = features.astype(np.float32)
    n, f = features.shape
    weights = rng.normal(0, 0.01, size=(f, n_classes)).astype(np.float32)
    bias = np.zeros(n_classes, dtype=np.float32)
    sample_weight = (class_weights(labels, n_classes)[:, None] / n).astype(np.float32)
    onehot = np.eye(n_classes, dtype=np.float32)[labels]
    params = [weights, bias]
    moment1 = [np.zeros_like(p) for p in params]
    moment2 = [np.zeros_like(p) for p in params]
    for step in range(1, steps + 1):
        probs = softmax(features @ weights + bias)
        delta = (probs - onehot) * sample_weight
        grads = [features.T @ delta + l2 * weights, delta.sum(axis=0)]
        adam_step(params, grads, moment1, moment2, step, learning_rate)
    return weights.astype(np.float32), bias.astype(np.float32)


def adam_step(params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
              moment1: Sequence[np.ndarray], moment2: Sequence[np.ndarray], step: int,
              learning_rate: float) -> None:
    """One Adam update of `params` in place (betas 0.9 and 0.999; `step` counts from 1)."""
    for p, g, m, v in zip(params, grads, moment1, moment2, strict=True):
        m *= 0.9
        m += 0.1 * g
        v *= 0.999
        v += 0.001 * g * g
        p -= learning_rate * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)


def train_head(
    features: np.ndarray,
    labels: np.ndarray,
    categories: Sequence[str],
    feature_names: Sequence[str],
    l2: float,
    steps: int = 600,
    signal_gain: float = 1.0,
    n_signals: int = 0,
) -> HeadWeights:
    """Standardise, fit, and package the head.

    The last `n_signals` features (the explicit signals) are scaled up by `signal_gain` after
    standardising: a few named signals then pay less L2 penalty than the 1280 embedding
    dimensions, which would otherwise drown them. The gain is folded into the stored scale.
    """
    mean, scale = standardiser(features)
    if n_signals:
        scale[-n_signals:] /= signal_gain
    weights, bias = fit_softmax_regression(
        (features - mean) / scale, labels, len(categories), l2=l2, steps=steps
    )
    return HeadWeights(
        feature_names=tuple(feature_names),
        mean=mean,
        scale=scale,
        weights=weights,
        bias=bias,
        categories=tuple(categories),
    )


