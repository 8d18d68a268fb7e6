"""The head's named signals: faces, the background around a head, and the writing."""

from __future__ import annotations

import numpy as np
import pytest

from xintud.core.facts import Detection, Face, HeadBackground, TextLayout
from xintud.engine.features import (
    FACE_SIGNAL_NAMES,
    FEATURE_NAMES,
    TEXT_FEATURE_NAMES,
    TEXT_SIGNAL_NAMES,
    embedding_features,
    face_signals,
    frontalness,
    text_signals,
)
from xintud.engine.signals import head_background


def face(box: tuple[float, float, float, float], score: float = 0.999,
         nose_shift: float = 0.0) -> Face:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    eyes = ((x0 + 0.3 * w, y0 + 0.35 * h), (x0 + 0.7 * w, y0 + 0.35 * h))
    nose = (x0 + (0.5 + nose_shift) * w, y0 + 0.55 * h)
    mouth = ((x0 + 0.35 * w, y0 + 0.75 * h), (x0 + 0.65 * w, y0 + 0.75 * h))
    return Face(score=score, box=box, landmarks=(*eyes, nose, *mouth))


def named(values: list[float]) -> dict[str, float]:
    assert len(values) == len(FACE_SIGNAL_NAMES)
    return dict(zip(FACE_SIGNAL_NAMES, values, strict=True))


PERSON = Detection(label="person", score=0.9, box=(0.2, 0.1, 0.8, 1.0))


def test_layouts_line_up() -> None:
    assert (*FEATURE_NAMES, *TEXT_SIGNAL_NAMES) == TEXT_FEATURE_NAMES
    assert set(FACE_SIGNAL_NAMES) <= set(FEATURE_NAMES)
    assert len(set(TEXT_FEATURE_NAMES)) == len(TEXT_FEATURE_NAMES)


def test_an_id_photo_face_is_one_large_centred_frontal_face() -> None:
    background = HeadBackground(uniformity=0.95, brightness=0.2, saturation=0.8, blue=0.6,
                                red=-0.4)
    signals = named(face_signals([face((0.3, 0.25, 0.7, 0.7))], [PERSON], background))
    assert signals["faces_looked"] == 1 and signals["face_one"] == 1
    assert signals["face_many"] == 0 and signals["faces_minus_persons"] == 0
    assert signals["face_largest_area"] == pytest.approx(0.4 * 0.45)
    assert signals["face_off_centre"] == pytest.approx(0.0, abs=1e-6)
    assert signals["face_frontal"] == pytest.approx(1.0)
    assert signals["head_bg_known"] == 1 and signals["head_bg_blue"] == pytest.approx(0.6)


def test_a_group_has_several_faces_and_a_profile_is_not_frontal() -> None:
    group = [face((0.1 + 0.2 * i, 0.3, 0.2 + 0.2 * i, 0.45), score=0.995) for i in range(4)]
    signals = named(face_signals(group, [PERSON], None))
    assert signals["face_count_sure"] == 4 and signals["face_many"] == 1
    assert signals["face_second_ratio"] == pytest.approx(1.0)
    assert signals["faces_minus_persons"] == 3 and signals["head_bg_known"] == 0
    profile = named(face_signals([face((0.3, 0.2, 0.6, 0.6), nose_shift=0.2)], [PERSON], None))
    assert profile["face_frontal"] < 0.2
    assert frontalness(face((0.3, 0.2, 0.6, 0.6)))[1] == pytest.approx(0.0)


def test_faces_not_looked_for_and_none_found_differ() -> None:
    assert face_signals(None, [], None) == [0.0] * len(FACE_SIGNAL_NAMES)
    none_found = named(face_signals([], [PERSON], None))
    assert none_found["faces_looked"] == 1 and none_found["face_count_loose"] == 0
    weak = named(face_signals([face((0.3, 0.3, 0.4, 0.4), score=0.8)], [], None))
    assert weak["face_count_loose"] == 0  # below the loose confidence: not counted


def test_text_signals() -> None:
    assert text_signals(None) == [0.0] * len(TEXT_SIGNAL_NAMES)
    page = TextLayout(boxes=30, lines=24, area=0.3, left_aligned=0.9, height_spread=0.2,
                      top=0.4, middle=0.4, bottom=0.2)
    values = dict(zip(TEXT_SIGNAL_NAMES, text_signals(page), strict=True))
    assert values["text_looked"] == 1 and values["text_many_lines"] == 1
    assert values["text_lines"] == pytest.approx(np.log1p(24))


def test_embedding_features_are_square_roots_of_the_activations() -> None:
    out = embedding_features(np.array([0.0, 4.0, 0.25, -1e-6], dtype=np.float32))
    assert out.tolist() == [0.0, 2.0, 0.5, 0.0]


def portrait(background: tuple[int, int, int], busy: bool = False) -> np.ndarray:
    rng = np.random.default_rng(0)
    pixels = np.empty((448, 336, 3), np.uint8)
    pixels[:] = background
    if busy:
        pixels[:] = rng.integers(0, 256, pixels.shape, dtype=np.uint8)
    pixels[120:330, 100:236] = (205, 160, 140)  # head and hair, wider than the face box
    pixels[330:, 60:276] = (30, 30, 40)  # shoulders
    return pixels


def test_the_background_around_a_head_says_plain_and_blue() -> None:
    head = face((0.36, 0.33, 0.64, 0.67))
    blue = head_background(portrait((40, 90, 220)), head)
    assert blue is not None and blue.uniformity > 0.9
    assert blue.blue > 0.4 and blue.red < 0 and blue.saturation > 0.7
    white = head_background(portrait((245, 245, 245)), head)
    assert white is not None and white.brightness > 0.9 and white.saturation < 0.05
    busy = head_background(portrait((0, 0, 0), busy=True), head)
    assert busy is not None and busy.uniformity < 0.2


def test_a_head_filling_the_picture_has_no_background() -> None:
    assert head_background(portrait((40, 90, 220)), face((0.0, 0.0, 1.0, 1.0))) is None
