"""Where a correction is learned: the category head refitted on the user's own examples, pulled
toward the head in use so that a few corrections move it only where they must.

Without the development photos (they do not ship) a refit sees nothing but the user's
examples; a plain fit on ten photos would forget everything else. So the fit minimises the
examples' cross-entropy plus a Gaussian prior in weight space centred on the current head,
strength/2 · |W − W₀|² (and the same for the bias), in the current head's standardised feature
space. A category of the user's own is a new column starting from zero weights and a bias
that makes it unlikely until examples say otherwise. Measured in
training/learning_curve.py (figures in bench/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from xintud.engine.head import HeadWeights, softmax, standardise
from xintud.learning.fit import adam_step

# The pull toward the head in use, per unit of standardised weight (see the module docstring):
# the middle of the strengths training/learning_curve.py tried (10, 30, 100). For corrections
# of the eight categories the memory (memory.py) won: every refit lost 10-44 points of some
# category elsewhere; a category of the user's own needs a column, so it is learned here
# (10 examples: recall 0.85-0.92 at all three strengths, 99.7-100% of the rest kept).
DEFAULT_STRENGTH = 30.0
# A new category's starting bias, below the others' mean: unlikely until its examples say so.
NEW_CATEGORY_BIAS = -4.0
STEPS = 300
LEARNING_RATE = 0.02


def with_categories(head: HeadWeights, categories: Sequence[str]) -> HeadWeights:
    """The head with a zero-weight column for each category it does not know yet."""
    new = [name for name in categories if name not in head.categories]
    if not new:
        return head
    weights = np.concatenate(
        [head.weights, np.zeros((head.weights.shape[0], len(new)), np.float32)], axis=1)
    bias = np.concatenate(
        [head.bias, np.full(len(new), head.bias.mean() + NEW_CATEGORY_BIAS, np.float32)])
    return replace(head, weights=weights, bias=bias,
                   categories=(*head.categories, *new))


def without_category(head: HeadWeights, category: str) -> HeadWeights:
    """The head with one category's column removed (a custom category forgotten)."""
    if category not in head.categories:
        return head
    keep = [i for i, name in enumerate(head.categories) if name != category]
    return replace(head, weights=head.weights[:, keep].copy(), bias=head.bias[keep].copy(),
                   categories=tuple(head.categories[i] for i in keep))


def refit_head(head: HeadWeights, features: np.ndarray, labels: Sequence[str],
               strength: float = DEFAULT_STRENGTH, steps: int = STEPS) -> HeadWeights:
    """The head refitted on examples (features [N, F] in the head's feature order, and their
    category names), pulled toward `head`. Unknown category names become new categories."""
    if len(features) != len(labels):
        raise ValueError(f"{len(features)} feature rows but {len(labels)} labels")
    start = with_categories(head, sorted(set(labels) - set(head.categories)))
    if not len(labels):
        return start
    index = {name: i for i, name in enumerate(start.categories)}
    targets = np.array([index[name] for name in labels])
    x = standardise(start, features.astype(np.float32)).astype(np.float32)
    weights, bias = _fit_toward(x, targets, start.weights, start.bias, strength, steps)
    return replace(start, weights=weights, bias=bias)


def _fit_toward(x: np.ndarray, targets: np.ndarray, prior_w: np.ndarray, prior_b: np.ndarray,
                strength: float, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Adam on sum-of-examples cross-entropy + strength/2 · |θ − θ₀|², from θ₀: deterministic."""
    onehot = np.eye(prior_w.shape[1], dtype=np.float32)[targets]
    params = [prior_w.copy(), prior_b.copy()]
    priors = [prior_w, prior_b]
    moment1 = [np.zeros_like(p) for p in params]
    moment2 = [np.zeros_like(p) for p in params]
    for step in range(1, steps + 1):
        delta = softmax(x @ params[0] + params[1]) - onehot
        grads = [x.T @ delta + strength * (params[0] - priors[0]),
                 delta.sum(axis=0) + strength * (params[1] - priors[1])]
        adam_step(params, grads, moment1, moment2, step, LEARNING_RATE)
    return params[0].astype(np.float32), params[1].astype(np.float32)
