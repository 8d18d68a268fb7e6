"""Lining layouts up: a cropped copy's box is found, alone or among many pairs at once."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from xintud.duplicates.align import agreement_at, best_fit, best_fits


def smooth_layout(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    noise = Image.fromarray((rng.random((64, 64)) * 255).astype(np.uint8))
    return noise.filter(ImageFilter.GaussianBlur(2.5))


def cropped(image: Image.Image, box: tuple[int, int, int, int]) -> np.ndarray:
    return np.asarray(image.crop(box).resize((64, 64), Image.Resampling.BILINEAR))


CROPS = [(0, 0, 64, 64), (3, 0, 64, 61), (0, 4, 60, 64), (2, 2, 62, 62), (5, 1, 63, 60)]


@pytest.mark.parametrize("box", CROPS)
def test_the_crop_of_a_copy_is_found(box: tuple[int, int, int, int]) -> None:
    original = smooth_layout(7)
    fit = best_fit(np.asarray(original), cropped(original, box))
    assert fit.first_cropped or box == (0, 0, 64, 64)
    assert fit.box * 64 == pytest.approx(np.array(box, dtype=float), abs=1.0)
    grey, detail = agreement_at(np.asarray(original), cropped(original, box), fit)
    assert grey > 0.97 and detail > 0.85


def test_the_copy_cropped_either_side_of_the_pair() -> None:
    original = smooth_layout(3)
    fit = best_fit(cropped(original, (4, 2, 62, 63)), np.asarray(original))
    assert not fit.first_cropped
    assert fit.box * 64 == pytest.approx([4, 2, 62, 63], abs=1.0)


def test_many_pairs_at_once_are_each_answered_as_alone() -> None:
    # The refinement moves all pairs in lockstep; each must keep its own box and picture.
    pairs = []
    for seed in range(70):  # more than one batch of pairs
        original = smooth_layout(seed)
        box = CROPS[seed % len(CROPS)]
        other = cropped(original, box) if seed % 4 else np.asarray(smooth_layout(seed + 500))
        pairs.append((np.asarray(original), other) if seed % 2 else (other, np.asarray(original)))
    together = best_fits(pairs)
    alone = [best_fit(a, b) for a, b in pairs]
    for fit, single in zip(together, alone, strict=True):
        assert fit.first_cropped == single.first_cropped
        assert fit.box == pytest.approx(single.box, abs=1e-6)
    assert best_fits([]) == []
