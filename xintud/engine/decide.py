"""Decide stage: facts → category, confidence and per-category scores.

A softmax regression (the head, trained by `python -m training.train_head`) over the
features, plus a few explicit rules for cues the training photos cannot teach: a file's name
and the kind of folder it arrived in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from xintud.core.facts import Facts
from xintud.engine.features import feature_vector, features_for, pet_mass
from xintud.engine.head import HeadWeights, head_logits, softmax
from xintud.engine.learned import Lean
from xintud.engine.models.manifest import ModelError

# Log-odds added to "screenshot" when the name or folder says so and no camera took the
# picture. Named like a screenshot and camera-less is near-certain; the pixels still get a say.
SCREENSHOT_HINT_BONUS = 3.0
# More when the size is a screen's too: that is a screen capture (engine.gates skips the
# detector on it), whatever it shows — a blank page or a photo on screen included.
SCREEN_CAPTURE_BONUS = 6.0
# Log-odds added to "pets" when the backbone's ImageNet dog, cat and small-pet classes hold at
# least PET_SURE of its probability: ImageNet knows dogs and cats better than a few hundred
# development photos from a few sources can teach the heads (held out by source, the heads
# called 12 photos that ImageNet put >= 90% on dog breeds "other"). On ../shared/photos that
# mass reaches 0.5 on 136 pet photos, 2 group photos with a dog, and nothing else.
PET_SURE = 0.5
PET_HINT_BONUS = 3.0


@dataclass(frozen=True)
class Decision:
    """The category chosen for one picture and how sure we are."""

    category: str
    confidence: float
    scores: dict[str, float]
    rules: list[str] = field(default_factory=list)
    stage: str = "closer"  # which head answered: "glance", "closer" or "text" (classify.py)


def check_head(head: HeadWeights, feature_names: tuple[str, ...], role: str) -> None:
    """Refuse a head trained on a different feature layout than this code builds for it."""
    if head.feature_names != feature_names:
        raise ModelError(
            f"the category head '{role}' was trained on other features than this version of "
            "xintud computes; rebuild it with `python -m training.train_head`"
        )


def pet_bonus(features: np.ndarray, categories: tuple[str, ...]) -> np.ndarray:
    """The pet rule's logit adjustments for feature vectors [N, FEATURE_NAMES...] → [N, C];
    training applies it as decide does."""
    bonus = np.zeros((len(features), len(categories)), dtype=np.float32)
    bonus[pet_mass(features) >= PET_SURE, categories.index("pets")] = PET_HINT_BONUS
    return bonus


def hint_rules(facts: Facts, categories: tuple[str, ...], full: np.ndarray
               ) -> tuple[np.ndarray, list[str]]:
    """Logit adjustments from explicit rules — cues outside the pixels, and what ImageNet
    knows of pets — and the reasons, for explain. `full` is feature_vector(facts)."""
    bonus = pet_bonus(full[None], categories)[0]
    reasons = []
    if bonus.any():
        reasons.append(f"the backbone sees a dog, cat or small pet ({pet_mass(full):.2f})")
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


def decide(head: HeadWeights, facts: Facts, lean: Lean | None = None,
           stage: str = "closer") -> Decision:
    """Choose the category for one picture; `lean` is what the user taught, if anything."""
    full = feature_vector(facts)
    logits = head_logits(head, features_for(head.feature_names, full, facts))
    bonus, reasons = hint_rules(facts, head.categories, full)
    if lean is not None:
        leaning = lean.logit_bonus(full[None], head.categories)[0]
        if leaning.any():
            bonus = bonus + leaning
            reasons.extend(lean.reasons(full))
    probs = softmax((logits + bonus)[None])[0]
    best = int(np.argmax(probs))
    return Decision(
        category=head.categories[best],
        confidence=round(float(probs[best]), 4),
        scores={c: round(float(p), 4) for c, p in zip(head.categories, probs, strict=True)},
        rules=reasons,
        stage=stage,
    )
