"""When the optional networks run: the detector, the face detector and the text detector."""

from __future__ import annotations

from xintud.core.facts import Detection, MetadataCues
from xintud.engine.gates import (
    TEXT_UNSURE_BELOW,
    detector_skip_reason,
    faces_skip_reason,
    text_look_reason,
)


def cues(**changes: object) -> MetadataCues:
    base = {"format": "PNG", "width": 1080, "height": 2340, "camera_exif": False,
            "screenshot_name": False, "screenshot_folder": False, "screen_size": True,
            "border_uniformity": 0.5}
    return MetadataCues.model_validate({**base, **changes})


def person(score: float) -> Detection:
    return Detection(label="person", score=score, box=(0.1, 0.1, 0.5, 0.9))


def scores(**given: float) -> dict[str, float]:
    names = ("social", "pets", "single", "food", "travel", "screenshot", "idphoto", "other")
    rest = (1.0 - sum(given.values())) / (len(names) - len(given))
    return {name: given.get(name, rest) for name in names}


def test_the_detector_skips_screen_captures_only() -> None:
    assert detector_skip_reason(cues()) is not None
    assert detector_skip_reason(cues(format="JPEG", screenshot_name=True)) is not None
    assert detector_skip_reason(cues(format="JPEG")) is None  # a JPEG at screen size: look
    assert detector_skip_reason(cues(camera_exif=True)) is None  # a camera took it
    assert detector_skip_reason(cues(screen_size=False)) is None


def test_faces_are_looked_for_only_with_a_person_in_the_picture() -> None:
    assert faces_skip_reason([person(0.8)], detector_skipped=False) is None
    assert faces_skip_reason([person(0.31)], detector_skipped=False) is None
    assert "no person" in (faces_skip_reason([], detector_skipped=False) or "")
    dog = Detection(label="dog", score=0.9, box=(0.1, 0.1, 0.5, 0.9))
    assert faces_skip_reason([dog], detector_skipped=False) is not None
    assert "screen capture" in (faces_skip_reason([], detector_skipped=True) or "")


def test_text_is_read_where_it_can_change_the_answer() -> None:
    assert text_look_reason(scores(food=0.97)) is None  # sure, and no writing category in play
    assert "screenshot" in (text_look_reason(scores(screenshot=0.99)) or "")
    assert "other" in (text_look_reason(scores(other=0.95)) or "")
    runner_up = text_look_reason(scores(travel=0.85, other=0.12))
    assert runner_up is not None and "runner-up" in runner_up
    unsure = text_look_reason(scores(single=TEXT_UNSURE_BELOW - 0.05, social=0.1))
    assert unsure is not None and "unsure" in unsure
