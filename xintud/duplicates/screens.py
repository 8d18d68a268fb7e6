"""Is one screen-like picture a copy of another, or another screen of the same app?

At 64x64 (align.py) a copy of a screenshot — resized, re-encoded, its status bar cropped — and
another screen of the same app (a sidebar opened, other search results, the next messages)
agree alike (grey and detail 0.93-0.995 either way, measured in bench/RESULTS.md). What tells
them apart is *where* they disagree: a copy agrees everywhere up to blur and compression,
another screen disagrees strongly in one place. So the engine keeps a finer thumbnail of
screen-like pictures (engine.hashes.screen_thumbnail, 128 px on the shorter side), and here,
lined up as the layouts were and refined at that size, both are blurred alike (a resized copy
is softer), the one fitted to the other's grey levels, and the residual measured tile by tile
against the tile's own contrast: the worst tile is the measure.

Measured on copies of 150 development photos (630 pairs of screen-like copies; not the photos
bench/dupes reports on) and all pairs of the 174 screen-like labelled photos of
../shared/photos: copies 0.15 median, 96.5% at most 0.75 (compare.SCREEN_DISAGREEMENT); of
the 154 distinct pairs that reach this measure (compare.py's gates), 1.12 at the least.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from xintud.duplicates.align import Fit, Target, edge_moves

# The residual is measured in TILES x TILES tiles...
TILES = 8
# ...after a blur that makes a resized copy and its original alike...
BLUR_SIGMA = 1.0
# ...against the tile's contrast, or this many grey levels where the tile is flat (a blank
# tile in one and writing in the other is a difference; noise on white is not).
FLAT_TILE_GREYS = 8.0
# The box is refined at this size in these steps (pixels): the 64-px fit is 2x coarser.
_REFINE_STEPS = (1.0, 0.5)
_REFINE_ROUNDS = 3
_MIN_BOX = 8


def screen_disagreement(first: np.ndarray, second: np.ndarray, fit: Fit,
                        hopeless_above: float = float("inf")) -> float:
    """The worst tile's residual over its contrast, of two screen thumbnails lined up as
    their layouts were (`fit`, of the first and second in that order): small for copies,
    ~1 or more for different screens. Where it is above `hopeless_above` before the fit is
    refined, that is the answer: refining costs ~10 ms, and in a library of look-alikes
    (thousands of screens of one app) most pairs are that far apart."""
    cropped, target = (first, second) if fit.first_cropped else (second, first)
    source = Image.fromarray(np.ascontiguousarray(cropped))
    box = fit.box * np.array([source.width, source.height] * 2, dtype=np.float64)
    goal = np.asarray(target, dtype=np.float32)
    blurred_goal = _blurred(goal)
    rough = _worst_tile(_blurred(_crop(source, box, goal.shape)), blurred_goal)
    if rough > hopeless_above:
        return rough
    box = _refined(source, Target(goal), goal.shape, box)
    return _worst_tile(_blurred(_crop(source, box, goal.shape)), blurred_goal)


def _crop(source: Image.Image, box: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    # Pillow's own bilinear resize of a box: for these sizes faster than align.crops' products
    return np.asarray(source.resize((shape[1], shape[0]), Image.Resampling.BILINEAR,
                                    box=tuple(box.tolist())), dtype=np.float32)


def _refined(source: Image.Image, goal: Target, shape: tuple[int, ...], box: np.ndarray
             ) -> np.ndarray:
    """The box with the best single edge move taken while the grey correlation improves."""
    best = goal.correlation(_crop(source, box, shape))
    for step in _REFINE_STEPS:
        for _ in range(_REFINE_ROUNDS):
            moves = edge_moves(box, step, source.width, source.height, _MIN_BOX)
            if not len(moves):
                break
            scores = goal.correlations(np.stack([_crop(source, move, shape) for move in moves]))
            top = int(np.argmax(scores))
            if scores[top] <= best + 1e-5:
                break
            best, box = float(scores[top]), moves[top]
    return box


def _blurred(pixels: np.ndarray) -> np.ndarray:
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return np.asarray(image.filter(ImageFilter.GaussianBlur(BLUR_SIGMA)), dtype=np.float32)


def _worst_tile(crop: np.ndarray, goal: np.ndarray) -> float:
    # the crop fitted to the goal's grey levels: a copy may be brighter or flatter overall
    design = np.stack([goal.ravel(), np.ones(goal.size, dtype=np.float32)], axis=1)
    (gain, offset), *_ = np.linalg.lstsq(design, crop.ravel(), rcond=None)
    fitted = gain * goal + offset
    residual = crop - fitted
    rows, columns = goal.shape[0] // TILES, goal.shape[1] // TILES
    if rows == 0 or columns == 0:
        return float("inf")

    def tiles(pixels: np.ndarray) -> np.ndarray:
        return pixels[:rows * TILES, :columns * TILES].reshape(TILES, rows, TILES, columns)

    error = np.sqrt((tiles(residual) ** 2).mean(axis=(1, 3)))
    contrast = np.maximum(np.maximum(tiles(crop).std(axis=(1, 3)),
                                     tiles(fitted).std(axis=(1, 3))), FLAT_TILE_GREYS)
    return float((error / contrast).max())
