"""The decide stage's explicit rules: the screenshot hints and what ImageNet knows of pets."""

from __future__ import annotations

import numpy as np

from xintud.core.categories import CATEGORY_IDS
from xintud.core.facts import Facts, MetadataCues, Quality
from xintud.engine.decide import (
    PET_HINT_BONUS,
    SCREEN_CAPTURE_BONUS,
    SCREENSHOT_HINT_BONUS,
    hint_rules,
    pet_bonus,
)
from xintud.engine.features import feature_vector, pet_mass

DOG, CAT = 207, 281  # golden retriever, tabby cat (ImageNet-1k indices)


def facts(probs: dict[int, float] | None = None, **metadata: object) -> Facts:
    imagenet = np.full(1000, 1e-6, dtype=np.float32)
    for index, p in (probs or {}).items():
        imagenet[index] = p
    cues = {"format": "JPEG", "width": 4032, "height": 3024, "camera_exif": True,
            "screenshot_name": False, "screenshot_folder": False, "screen_size": False,
            "border_uniformity": 0.2, **metadata}
    return Facts(embedding=np.zeros(1280, np.float32), imagenet_probs=imagenet, imagenet_top=[],
                 detections=[], metadata=MetadataCues.model_validate(cues),
                 quality=Quality(sharpness=5.0, brightness=0.5, dark_clip=0.0, bright_clip=0.0),
                 dhash="0" * 16)


def with_features(picture: Facts) -> tuple[Facts, tuple[str, ...], np.ndarray]:
    return picture, CATEGORY_IDS, feature_vector(picture)


def test_a_sure_dog_or_cat_gets_the_pet_bonus_and_says_so() -> None:
    pets = CATEGORY_IDS.index("pets")
    for probs in ({DOG: 0.9}, {DOG: 0.3, CAT: 0.3}):
        bonus, reasons = hint_rules(*with_features(facts(probs)))
        assert bonus[pets] == PET_HINT_BONUS and bonus.sum() == PET_HINT_BONUS
        assert any("dog, cat or small pet" in r for r in reasons)
    bonus, reasons = hint_rules(*with_features(facts({DOG: 0.3})))  # below PET_SURE
    assert not bonus.any() and reasons == []


def test_the_pet_rule_reads_the_same_from_feature_rows_as_from_facts() -> None:
    rows = np.stack([feature_vector(facts({DOG: 0.9})), feature_vector(facts({DOG: 0.1}))])
    assert np.allclose(pet_mass(rows), [0.9, 0.1], atol=1e-3)
    assert pet_bonus(rows, CATEGORY_IDS)[:, CATEGORY_IDS.index("pets")].tolist() == [
        PET_HINT_BONUS, 0.0]


def test_screenshot_hints_weigh_more_at_a_screen_size() -> None:
    shot = CATEGORY_IDS.index("screenshot")
    named = dict(camera_exif=False, screenshot_name=True, format="PNG")
    bonus, _ = hint_rules(*with_features(facts(**named)))
    assert bonus[shot] == SCREENSHOT_HINT_BONUS
    bonus, reasons = hint_rules(*with_features(
        facts(**named, screen_size=True, width=1080, height=2340)))
    assert bonus[shot] == SCREEN_CAPTURE_BONUS and "screen's size" in reasons[0]
    bonus, _ = hint_rules(*with_features(facts(screenshot_name=True)))  # a camera took it
    assert not bonus.any()
