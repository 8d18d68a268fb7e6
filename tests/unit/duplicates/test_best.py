"""choose_best: a person's verdict first (a rejection never wins, a rating does), then for copies
the original, for a burst the sharpest frame — with the reasons shown — and near-equal members
ranked by age, then name."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from xintud.core.facts import Quality
from xintud.duplicates.best import TIE, choose_best
from xintud.duplicates.compare import Tier
from xintud.duplicates.fingerprint import Fingerprint
from xintud.duplicates.vectors import VECTOR_SIZE

QUALITY = Quality(sharpness=200.0, brightness=0.5, dark_clip=0.0, bright_clip=0.0)
BASE = Fingerprint(
    key="base", sha256="base", path=Path("/p/base.jpg"), phash=0, phash_turns=(0,) * 8,
    layout=np.zeros((64, 64), np.uint8), vector=np.zeros(VECTOR_SIZE, np.float32),
    taken_at=None, camera=None, category="other", screen_like=False, width=4000, height=3000,
    content_share=1.0, file_bytes=3_000_000, modified=1_000.0, jpeg_quality=92,
    camera_exif=False, rating=None, edited=False, faces=0, quality=QUALITY)


def member(name: str, sharpness: float = 200.0, face_sharpness: float | None = None,
           **fields: object) -> Fingerprint:
    quality = QUALITY.model_copy(update={"sharpness": sharpness,
                                         "face_sharpness": face_sharpness})
    return replace(BASE, key=name, sha256=name, path=Path(f"/p/{name}.jpg"), quality=quality,
                   **fields)  # type: ignore[arg-type]


def ranking(members: list[Fingerprint], tier: Tier) -> list[str]:
    """Keys best first, checked to be the same whatever order the members come in."""
    order = [j.fingerprint.key for j in choose_best(members, tier)]
    assert [j.fingerprint.key for j in choose_best(members[::-1], tier)] == order
    return order


def reasons_of(members: list[Fingerprint], tier: Tier) -> dict[str, tuple[str, ...]]:
    return {j.fingerprint.key: j.reasons for j in choose_best(members, tier)}


def original_and_copy() -> tuple[Fingerprint, Fingerprint]:
    """A camera original and its re-encoded, shrunk, EXIF-stripped copy made a day later."""
    original = member("original", camera_exif=True, jpeg_quality=95, modified=1_000.0)
    copy = member("copy", width=1600, height=1200, camera_exif=False, jpeg_quality=70,
                  modified=1_000.0 + 86_400, file_bytes=300_000)
    return original, copy


@pytest.mark.parametrize("tier", [Tier.SAME, Tier.BURST])
def test_a_rejected_member_never_wins(tier: Tier) -> None:
    original, copy = original_and_copy()
    rejected = replace(original, rating=-1, edited=True,
                       quality=original.quality.model_copy(update={"sharpness": 5_000.0}))
    blurry = replace(copy, quality=copy.quality.model_copy(update={"sharpness": 20.0}))
    assert ranking([rejected, blurry], tier) == ["copy", "original"]
    assert "rejected (xmp:Rating -1)" in reasons_of([rejected, blurry], tier)["original"]


@pytest.mark.parametrize("tier", [Tier.SAME, Tier.BURST])
def test_a_rated_member_wins(tier: Tier) -> None:
    original, _ = original_and_copy()
    # Rated, but newer, EXIF stripped, re-encoded and a quarter as sharp.
    rated = member("rated", rating=1, sharpness=50.0, modified=1_000.0 + 86_400,
                   jpeg_quality=70)
    assert ranking([original, rated], tier) == ["rated", "original"]
    assert "rated 1★" in reasons_of([original, rated], tier)["rated"]
    # Two ratings: the higher one.
    assert ranking([replace(original, rating=3), rated], tier)[0] == "original"


def test_a_rated_smaller_copy_still_wins() -> None:
    original, copy = original_and_copy()
    assert ranking([original, replace(copy, rating=1)], Tier.SAME)[0] == "copy"


def test_the_original_wins_a_same_group_over_its_copy() -> None:
    original, copy = original_and_copy()
    assert ranking([original, copy], Tier.SAME) == ["original", "copy"]
    assert ranking([original, copy], Tier.EXACT) == ["original", "copy"]
    reasons = reasons_of([original, copy], Tier.SAME)
    assert "largest (4000x3000)" in reasons["original"]
    assert "keeps the camera's EXIF" in reasons["original"]
    assert "smaller copy (1600x1200)" in reasons["copy"]
    assert "re-encoded (JPEG quality 70)" in reasons["copy"]


@pytest.mark.parametrize("only", ["larger", "older", "camera_exif"])
def test_each_sign_of_the_original_decides_alone(only: str) -> None:
    same = member("copy", modified=2_000.0, jpeg_quality=92)
    original = replace(same, key="original", sha256="original", path=Path("/p/original.jpg"))
    if only == "larger":
        same = replace(same, width=2000, height=1500)
    elif only == "older":
        original = replace(original, modified=1_000.0)
    else:
        original = replace(original, camera_exif=True)
    # "copy" sorts first by name, so only the sign of originality can put the original first.
    assert ranking([original, same], Tier.SAME) == ["original", "copy"]


def test_the_sharper_frame_wins_a_burst() -> None:
    sharp = member("sharp", sharpness=600.0, modified=2_000.0)
    shaken = member("shaken", sharpness=150.0, modified=1_000.0, width=4032, height=3024)
    assert ranking([sharp, shaken], Tier.BURST) == ["sharp", "shaken"]
    reasons = reasons_of([sharp, shaken], Tier.BURST)
    assert "sharpest" in reasons["sharp"]
    assert "blurrier than the best" in reasons["shaken"]
    assert "sharpest" not in reasons["shaken"]


def test_a_burst_of_faces_is_judged_by_the_faces() -> None:
    # Sharper overall (a busy background) but a blurred face loses to the sharp face.
    busy = member("busy", sharpness=900.0, face_sharpness=40.0, faces=1)
    face = member("face", sharpness=300.0, face_sharpness=160.0, faces=1)
    assert ranking([busy, face], Tier.BURST) == ["face", "busy"]
    assert "sharpest" in reasons_of([busy, face], Tier.BURST)["face"]
    # One frame without a face measured: the whole picture counts for all.
    assert ranking([busy, replace(face, quality=face.quality.model_copy(
        update={"face_sharpness": None}))], Tier.BURST) == ["busy", "face"]


@pytest.mark.parametrize("tier", [Tier.SAME, Tier.BURST])
def test_near_equal_members_go_to_the_older_file_then_the_first_name(tier: Tier) -> None:
    # 3% sharper (the same picture measured again) is no difference; the older file wins.
    newer = member("a_newer", sharpness=206.0, modified=2_000.0)
    older = member("b_older", sharpness=200.0, modified=1_000.5)  # less than a second older
    assert ranking([newer, older], tier) == ["b_older", "a_newer"]
    # Equal in everything: the first by name, and it says so.
    twin_b, twin_a = member("twin_b"), member("twin_a")
    assert ranking([twin_b, twin_a], tier) == ["twin_a", "twin_b"]
    assert reasons_of([twin_b, twin_a], tier)["twin_a"] == (
        "as good as the others; the first by name",)


def test_scores_less_than_tie_apart_are_always_a_tie() -> None:
    # In a burst, 2.1% fewer pixels costs log2(0.979) = -0.03 points: less than TIE.
    largest = member("b_largest", modified=2_000.0)
    older = member("a_older", modified=1_000.0, width=3958, height=2969)
    scores = {j.fingerprint.key: j.score for j in choose_best([largest, older], Tier.BURST)}
    assert abs(scores["b_largest"] - scores["a_older"]) < TIE
    assert ranking([largest, older], Tier.BURST)[0] == "a_older"
