"""Where two layout thumbnails are lined up: the crop of one that fits the other best, so that a
copy cropped by up to 10% anywhere agrees with its original again, and how well they agree
there (grey and fine-detail correlation).

Every crop is a linear map of the picture — Pillow's bilinear resize of a box is, per axis, a
matrix of triangle weights — so the 28 crops of the coarse search and the 8 edge moves of each
refinement step are each one batched matrix product instead of one Pillow call per crop: a
close comparison takes ~1.5 ms instead of ~6 ms, which is what lets a library of look-alikes
(thousands of screenshots of one app, or of drawn test scenes) be matched as photos arrive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageFilter

# The crops tried first: the whole picture, and 90-97.5% crops at nine places.
_ALIGN_SCALES = (1.0, 0.975, 0.95, 0.9)
_ALIGN_STEPS = (-1, 0, 1)
_ALIGN_SIZE = 32
# Below this coarse agreement nothing is close enough to be worth refining.
REFINE_FROM = 0.55
_REFINE_STEPS = (1.0, 0.5, 0.25)  # pixels at _ALIGN_SIZE
_REFINE_MOVES_PER_STEP = 8
_MIN_SIDE = 0.85
# Pairs searched at once: their crops take ~230 KB each.
_PAIRS_AT_ONCE = 64


@lru_cache(maxsize=8192)
def _axis_weights(size_in: int, size_out: int, low: float, high: float) -> np.ndarray:
    """[size_out, size_in] weights of Pillow's bilinear resize of the span low..high (its
    precompute_coeffs in floats: a triangle widened by the scale when shrinking). Cached: the
    searches try the same spans again and again (coarse boxes, quarter-pixel moves)."""
    scale = (high - low) / size_out
    support = max(scale, 1.0)
    centers = low + (np.arange(size_out, dtype=np.float32) + 0.5) * scale
    offsets = (np.arange(size_in, dtype=np.float32) + 0.5 - centers[:, None]) / support
    weights = np.maximum(1.0 - np.abs(offsets), 0.0)
    weights /= np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)
    weights.flags.writeable = False
    return weights


def crops(pixels: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """[boxes, size, size]: each box (x0, y0, x1, y1) of a square picture resized to size."""
    rows, columns = _box_weights(boxes, pixels.shape[0], size)
    return (rows @ pixels.astype(np.float32)) @ columns.transpose(0, 2, 1)


class Target:
    """A picture to match against, centred and normalised once for many correlations."""

    def __init__(self, pixels: np.ndarray) -> None:
        self.unit = _units(pixels.astype(np.float32).ravel())

    def correlations(self, stack: np.ndarray) -> np.ndarray:
        """The correlation of each picture of a [n, h, w] stack with this one."""
        return _correlations_with(stack.reshape(len(stack), -1), self.unit)

    def correlation(self, pixels: np.ndarray) -> float:
        """The correlation of one picture with this one."""
        return float(self.correlations(pixels[None])[0])


def correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of two pictures' pixels (0 where either is flat)."""
    return Target(y).correlation(x.astype(np.float32))


def correlations(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of `first` with the same row of `second` ([n, pixels]
    each; 0 where either is flat). Few passes over the pixels: 200,000 pairs are asked at once
    when a whole library is grouped."""
    x = first.astype(np.float32)
    x -= x.mean(axis=1, keepdims=True)
    y = second.astype(np.float32)
    y -= y.mean(axis=1, keepdims=True)
    spread = np.sqrt(np.einsum("ij,ij->i", x, x) * np.einsum("ij,ij->i", y, y))
    return np.where(spread > 1e-6, np.einsum("ij,ij->i", x, y) / np.maximum(spread, 1e-6), 0.0)


def detail(layout: np.ndarray) -> np.ndarray:
    """The band-pass of a layout: edges and texture, not shading."""
    image = Image.fromarray(np.clip(layout, 0, 255).astype(np.uint8))
    fine = np.asarray(image.filter(ImageFilter.GaussianBlur(0.8)), dtype=np.float32)
    coarse = np.asarray(image.filter(ImageFilter.GaussianBlur(2.5)), dtype=np.float32)
    return fine - coarse


@lru_cache(maxsize=4)
def _coarse_boxes(size: int) -> np.ndarray:
    """[28, 4]: the whole layout and its crops at each scale, at nine places."""
    boxes = [(0.0, 0.0, float(size), float(size))]
    for scale in _ALIGN_SCALES[1:]:
        side = size * scale
        room = size - side
        for dx in _ALIGN_STEPS:
            for dy in _ALIGN_STEPS:
                x0, y0 = room / 2 + dx * room / 2, room / 2 + dy * room / 2
                boxes.append((x0, y0, x0 + side, y0 + side))
    found = np.array(boxes, dtype=np.float64)
    found.flags.writeable = False
    return found


def edge_moves(box: np.ndarray, step: float, width: float, height: float, least_side: float
               ) -> np.ndarray:
    """The box (x0, y0, x1, y1) with each edge moved by ±step, kept inside a width x height
    picture and with both sides at least least_side."""
    limits = (width, height, width, height)
    moved = np.repeat(box[None, :], 8, axis=0)
    for k, (edge, sign) in enumerate((e, s) for e in range(4) for s in (-1.0, 1.0)):
        moved[k, edge] = min(max(box[edge] + sign * step, 0.0), float(limits[edge]))
    sides = np.minimum(moved[:, 2] - moved[:, 0], moved[:, 3] - moved[:, 1])
    return moved[sides >= least_side]


def _half(layout: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(layout).resize((_ALIGN_SIZE, _ALIGN_SIZE),
                                                     Image.Resampling.BOX), dtype=np.float32)


@dataclass(frozen=True)
class Fit:
    """Where two layouts line up: the crop of one (the first, or else the second) that fits
    the other, as shares of its sides (x0, y0, x1, y1)."""

    first_cropped: bool
    box: np.ndarray


def best_fit(a: np.ndarray, b: np.ndarray) -> Fit:
    """The crop of either layout that fits the other best (best_fits of one pair)."""
    return best_fits([(a, b)])[0]


def best_fits(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[Fit]:
    """For each pair of layouts, the crop of either that fits the other best. Searched at half
    size (32 px, a quarter of the work), coarse first and finely only where the coarse search
    found something; many pairs at once (an arrival's candidates, a library's pairs), since
    one pair's search is a few dozen small products that Python's overhead would dominate."""
    fits: list[Fit] = []
    for start in range(0, len(pairs), _PAIRS_AT_ONCE):
        fits.extend(_best_fits(pairs[start:start + _PAIRS_AT_ONCE]))
    return fits


def _best_fits(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[Fit]:
    count = len(pairs)
    if not count:
        return []
    firsts = np.stack([_half(a) for a, _ in pairs])
    seconds = np.stack([_half(b) for _, b in pairs])
    # rows 0..count-1: the first cropped to fit the second; count..: the other way round
    smalls = np.concatenate([firsts, seconds])
    units = _units(np.concatenate([seconds, firsts]).reshape(2 * count, -1))
    boxes = _coarse_boxes(_ALIGN_SIZE)
    rows, columns = _box_weights(boxes, _ALIGN_SIZE, _ALIGN_SIZE)
    stack = (rows[None] @ smalls[:, None]) @ columns.transpose(0, 2, 1)[None]
    scores = _correlations_with(stack.reshape(2 * count, len(boxes), -1), units[:, None, :])
    tops = np.argmax(scores, axis=1)
    greys = scores[np.arange(2 * count), tops]
    first_cropped = greys[:count] >= greys[count:]  # the first wins a tie
    chosen = np.where(first_cropped, np.arange(count), np.arange(count) + count)
    grey, box = greys[chosen], boxes[tops[chosen]].copy()
    refine = np.flatnonzero(grey >= REFINE_FROM)
    if len(refine):
        box[refine] = _refine(smalls[chosen[refine]], units[chosen[refine]], grey[refine],
                              box[refine])
    return [Fit(bool(first_cropped[i]), box[i] / _ALIGN_SIZE) for i in range(count)]


def _refine(smalls: np.ndarray, units: np.ndarray, best: np.ndarray, boxes: np.ndarray
            ) -> np.ndarray:
    """For each picture, the best single edge move of its box taken while it helps, in
    halving steps: a crop is rarely centred, and the detail correlation needs the edges
    within half a pixel. All pictures move in lockstep, each stopping when no move helps it."""
    best, boxes = best.copy(), boxes.copy()
    for step in _REFINE_STEPS:
        active = list(range(len(boxes)))
        for _ in range(_REFINE_MOVES_PER_STEP):
            moves = {i: edge_moves(boxes[i], step, _ALIGN_SIZE, _ALIGN_SIZE,
                                   _ALIGN_SIZE * _MIN_SIDE) for i in active}
            active = [i for i in active if len(moves[i])]
            if not active:
                break
            counts = [len(moves[i]) for i in active]
            owner = np.repeat(active, counts)
            tried = np.concatenate([moves[i] for i in active])
            rows, columns = _box_weights(tried, _ALIGN_SIZE, _ALIGN_SIZE)
            stack = (rows @ smalls[owner]) @ columns.transpose(0, 2, 1)
            scores = _correlations_with(stack.reshape(len(tried), -1), units[owner])
            improved = []
            for i, start, end in zip(active, np.cumsum(counts) - counts, np.cumsum(counts),
                                     strict=True):
                top = start + int(np.argmax(scores[start:end]))
                if scores[top] > best[i] + 1e-4:
                    best[i], boxes[i] = scores[top], tried[top]
                    improved.append(i)
            active = improved
    return boxes


def _box_weights(boxes: np.ndarray, side: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """[boxes, size, side] row and column weights of each box (x0, y0, x1, y1) of a side x
    side picture resized to size x size."""
    rows = np.stack([_axis_weights(side, size, float(y0), float(y1))
                     for _, y0, _, y1 in boxes])
    columns = np.stack([_axis_weights(side, size, float(x0), float(x1))
                        for x0, _, x1, _ in boxes])
    return rows, columns


def _units(flat: np.ndarray) -> np.ndarray:
    """Each row centred and scaled to unit length (left centred where it is flat)."""
    centred = flat - flat.mean(axis=-1, keepdims=True)
    norms = np.linalg.norm(centred, axis=-1, keepdims=True)
    return np.where(norms > 1e-6, centred / np.maximum(norms, 1e-6), centred)


def _correlations_with(flat: np.ndarray, units: np.ndarray) -> np.ndarray:
    """The correlation of each row of `flat` [..., pixels] with the unit rows it meets."""
    centred = flat - flat.mean(axis=-1, keepdims=True)
    norms = np.linalg.norm(centred, axis=-1)
    return np.where(norms > 1e-6, (centred * units).sum(axis=-1) / np.maximum(norms, 1e-6),
                    0.0)


def agreement_at(a: np.ndarray, b: np.ndarray, fit: Fit) -> tuple[float, float]:
    """(grey, detail) correlation of two layouts lined up as `fit` says, at full size."""
    x, y = (a, b) if fit.first_cropped else (b, a)
    # rounded to grey levels as Pillow's own crop of a uint8 picture is
    crop = np.rint(np.clip(crops(x, (fit.box * x.shape[0])[None, :], x.shape[0])[0], 0, 255))
    full = y.astype(np.float32)
    return correlation(crop, full), correlation(detail(crop), detail(full))
