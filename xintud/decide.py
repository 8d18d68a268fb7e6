"""Decide stage: facts → category, confidence and per-category scores.

A softmax regression (the head, trained by training/train_head.py) over the features, plus a
few explicit rules for cues the training photos cannot teach: a file's name and the kind of
folder it arrived in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from xintud.analyze import Facts, softmax
from xintud.features import FEATURE_NAMES, feature_vector
from xintud.modelstore import HeadWeights, ModelError

# Log-odds added to "screenshot" when the name or folder says so and no camera took the
# picture. Named like a screenshot and camera-less is near-certain; the pixels still get a say.
SCREENSHOT_HINT_BONUS = 3.0


@dataclass(frozen=True)
class Decision:
    """The category chosen for one picture and how sure we are."""

    category: str
    confidence: float
    scores: dict[str, float]
    rules: list[str] = field(default_factory=list)


def check_head(head: HeadWeights) -> None:
    """Refuse a head trained on a different feature layout than this code builds."""
    if head.feature_names != FEATURE_NAMES:
        raise ModelError(
            "the category head was trained on other features than this version of xintud "
            "computes; rebuild it with `python -m training.train_head`"
        )


def head_logits(head: HeadWeights, features: np.ndarray) -> np.ndarray:
    """Raw per-category logits for one or more feature vectors."""
    standardised = (features - head.mean) / head.scale
    return standardised @ head.weights + head.bias


def hint_rules(facts: Facts, categories: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
    """Logit adjustments from cues outside the pixels, and the reasons, for explain."""
    bonus = np.zeros(len(categories), dtype=np.float32)
    reasons = []
    meta = facts.metadata
    if (meta.screenshot_name or meta.screenshot_folder) and not meta.camera_exif:
        bonus[categories.index("screenshot")] += SCREENSHOT_HINT_BONUS
        where = "file name" if meta.screenshot_name else "screenshots folder"
        reasons.append(f"{where} suggests a screenshot and no camera EXIF")
    return bonus, reasons


def decide(head: HeadWeights, facts: Facts) -> Decision:
    """Choose the category for one picture."""
    logits = head_logits(head, feature_vector(facts))
    bonus, reasons = hint_rules(facts, head.categories)
    probs = softmax((logits + bonus)[None])[0]
    best = int(np.argmax(probs))
    return Decision(
        category=head.categories[best],
        confidence=round(float(probs[best]), 4),
        scores={c: round(float(p), 4) for c, p in zip(head.categories, probs, strict=True)},
        rules=reasons,
    )
