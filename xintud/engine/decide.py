"""Decide stage: facts → category, confidence and per-category scores.

A softmax regression (the head, trained by `python -m training.train_head`) over the
features, plus a few explicit rules for cues the training photos cannot teach: a file's name
and the kind of folder it arrived in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from xintud.core.facts import Facts
from xintud.engine.features import features_for
from xintud.engine.head import HeadWeights, head_logits, softmax
from xintud.engine.models.manifest import ModelError

# Log-odds added to "screenshot" when the name or folder says so and no camera took the
# picture. Named like a screenshot and camera-less is near-certain; the pixels still get a say.
SCREENSHOT_HINT_BONUS = 3.0
# More when the size is a screen's too: that is a screen capture (engine.gates skips the
# detector on it), whatever it shows — a blank page or a photo on screen included.
SCREEN_CAPTURE_BONUS = 6.0


@dataclass(frozen=True)
class Decision:
    """The category chosen for one picture and how sure we are."""

    category: str
    confidence: float
    scores: dict[str, float]
    rules: list[str] = field(default_factory=list)


def check_head(head: HeadWeights, feature_names: tuple[str, ...], role: str) -> None:
    """Refuse a head trained on a different feature layout than this code builds for it."""
    if head.feature_names != feature_names:
        raise ModelError(
            f"the category head '{role}' was trained on other features than this version of "
            "xintud computes; rebuild it with `python -m training.train_head`"
        )


def hint_rules(facts: Facts, categories: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
    """Logit adjustments from cues outside the pixels, and the reasons, for explain."""
    bonus = np.zeros(len(categories), dtype=np.float32)
    reasons = []
    meta = facts.metadata
    if (meta.screenshot_name or meta.screenshot_folder) and not meta.camera_exif:
        where = "file name" if meta.screenshot_name else "screenshots folder"
        if meta.screen_size:
            bonus[categories.index("screenshot")] += SCREEN_CAPTURE_BONUS
            reasons.append(f"{where} says screenshot, at a screen's size, no camera EXIF")
        else:
            bonus[categories.index("screenshot")] += SCREENSHOT_HINT_BONUS
            reasons.append(f"{where} suggests a screenshot and no camera EXIF")
    return bonus, reasons


def decide(head: HeadWeights, facts: Facts) -> Decision:
    """Choose the category for one picture."""
    logits = head_logits(head, features_for(head.feature_names, facts))
    bonus, reasons = hint_rules(facts, head.categories)
    probs = softmax((logits + bonus)[None])[0]
    best = int(np.argmax(probs))
    return Decision(
        category=head.categories[best],
        confidence=round(float(probs[best]), 4),
        scores={c: round(float(p), 4) for c, p in zip(head.categories, probs, strict=True)},
        rules=reasons,
    )
