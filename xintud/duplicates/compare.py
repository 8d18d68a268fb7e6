"""Are two photos copies, a burst, or neither? The close comparison and its thresholds.

Tiers, from the tightest:
- exact: the same bytes;
- same: the same picture in another file — re-encoded, resized, EXIF stripped, turned or
  mirrored, lightly cropped (≤ 10%), letterboxed, tinted or filtered;
- burst: the same moment, not the same picture — shots seconds apart, small movement, a sharp
  and a shaken frame, focus or exposure brackets;
- similar: alike in content only (the same place another day): shown on request, never grouped.

What discriminates (measured on ../shared/neardup and ../shared/photos, see bench/dupes.py and
bench/RESULTS.md): the backbone embedding's cosine says "same kind of picture" but is as high
for two ID photos of different people or two screenshots of one app (0.9-0.99) as for a burst;
the pHash tells copies from other pictures but not different ID photos on one backdrop (6-16
bits apart, like copies at 0-12). What separates them is the layout thumbnail compared after
aligning for a crop: its grey correlation, and above all the correlation of its fine detail
(a band-pass), which for copies stays >= 0.8 while for ID photos of different people it peaks
at 0.81 and for screenshots of different screens of one app at 0.99 — so screen-like pictures
need more (SCREEN_*), and are never a burst.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
from PIL import Image, ImageFilter

from xintud.duplicates.fingerprint import Fingerprint


class Tier(str, Enum):
    """How close two photos are; groups are made of exact, same and burst links only."""

    EXACT = "exact"
    SAME = "same"
    BURST = "burst"
    SIMILAR = "similar"


TIER_ORDER = (Tier.EXACT, Tier.SAME, Tier.BURST, Tier.SIMILAR)

# Candidates: pairs below both of these are not compared closely at all.
CANDIDATE_COSINE = 0.5
CANDIDATE_PHASH_BITS = 16
# same: pHash within SAME_PHASH_BITS of one of the eight turns, and the aligned layouts agree.
SAME_PHASH_BITS = 12
SAME_LAYOUT = 0.90
SAME_DETAIL = 0.80
# A crop moves the pHash by up to 20 bits; aligned, a cropped copy still agrees nearly fully.
ALIGNED_LAYOUT = 0.95
ALIGNED_DETAIL = 0.93
# Screen-like pictures (fingerprint.is_screen_like) differ in a line of text, which the 64-px
# layout barely shows (two screens of one game: 2 bits, layout 0.989, detail 0.983): only near
# identity counts (resized copies: detail 0.991-0.995). A cropped screenshot is therefore
# mostly not found; a re-saved or resized one is.
SCREEN_PHASH_BITS = 4
SCREEN_LAYOUT = 0.985
SCREEN_DETAIL = 0.99
# burst: capture times (where both have one) at most BURST_SECONDS apart, same camera; then a
# looser look suffices (BURST_TIMED_*); without times the look alone must be close (BURST_*).
BURST_SECONDS = 60.0
BURST_TIMED_COSINE = 0.6
BURST_TIMED_LAYOUT = 0.6
BURST_COSINE = 0.6
BURST_LAYOUT = 0.8
BURST_DETAIL = 0.6
# ID photos of different people share one template (pose, backdrop, framing): between them the
# detail correlation reached 0.81, so a burst of ID photos needs copy-like detail.
TEMPLATE_CATEGORIES = frozenset({"idphoto"})
TEMPLATE_DETAIL = 0.85
# ... and a copy of one must agree more than two different people's did (layout 0.917 and
# detail 0.819 at 12 bits, measured on ../shared/photos).
TEMPLATE_SAME_LAYOUT = 0.95
TEMPLATE_SAME_DETAIL = 0.9
SIMILAR_COSINE = 0.8
# The aligned comparison costs ~2 ms; pairs whose layouts do not agree even roughly are left
# before it: below QUICK_LAYOUT as they are, more than SAME_PHASH_BITS apart, not taken
# within BURST_SECONDS and below CLOSE_COSINE (a crop can move the pHash by 26 bits, but keeps
# the embedding at >= 0.95). In a library of 100,000, two unrelated pHashes fall within 16
# bits of each other ~190,000 times by chance (their layouts agree at most 0.37 unaligned):
# without this gate those pairs took 90% of a full grouping.
QUICK_LAYOUT = 0.5
CLOSE_COSINE = 0.9
REFINE_FROM = 0.55
# The crops tried when aligning two layouts: a copy cropped by up to 10%, anywhere.
_ALIGN_SCALES = (1.0, 0.975, 0.95, 0.9)
_ALIGN_STEPS = (-1, 0, 1)
_ALIGN_SIZE = 32
_REFINE_STEPS = (1.0, 0.5, 0.25)  # pixels at _ALIGN_SIZE
_REFINE_PASSES = 2
_MIN_SIDE = 0.85


@dataclass(frozen=True)
class Closeness:
    """The measures behind a tier, for the reasons shown to the user."""

    cosine: float
    phash_bits: int
    layout: float = 0.0  # grey correlation of the layouts, best alignment
    detail: float = 0.0  # band-pass correlation at that alignment
    seconds_apart: float | None = None


def phash_bits(a: Fingerprint, b: Fingerprint) -> tuple[int, int]:
    """The fewest pHash bits between a and any of b's eight turns and mirrors, and which."""
    distances = [(a.phash ^ turn).bit_count() for turn in b.phash_turns]
    best = int(np.argmin(distances))
    return distances[best], best


def turned(layout: np.ndarray, turn: int) -> np.ndarray:
    """A layout in one of the eight turns/mirrors, numbered as engine.hashes.phash_variants."""
    rotated = np.rot90(layout, turn % 4)
    return np.fliplr(rotated) if turn >= 4 else rotated


def _correlation(x: np.ndarray, y: np.ndarray) -> float:
    return _Target(y).correlation(x.astype(np.float32))


def _detail(layout: np.ndarray) -> np.ndarray:
    """The band-pass of a layout: edges and texture, not shading."""
    image = Image.fromarray(np.clip(layout, 0, 255).astype(np.uint8))
    fine = np.asarray(image.filter(ImageFilter.GaussianBlur(0.8)), dtype=np.float32)
    coarse = np.asarray(image.filter(ImageFilter.GaussianBlur(2.5)), dtype=np.float32)
    return fine - coarse


def _coarse_boxes(size: int) -> list[tuple[float, float, float, float]]:
    """The whole layout and its 90-95% crops at nine places: where the search starts."""
    boxes = [(0.0, 0.0, float(size), float(size))]
    for scale in _ALIGN_SCALES[1:]:
        side = size * scale
        room = size - side
        for dx in _ALIGN_STEPS:
            for dy in _ALIGN_STEPS:
                x0, y0 = room / 2 + dx * room / 2, room / 2 + dy * room / 2
                boxes.append((x0, y0, x0 + side, y0 + side))
    return boxes


Box = tuple[float, float, float, float]


def _crop(image: Image.Image, box: Box, size: int) -> np.ndarray:
    return np.asarray(image.resize((size, size), Image.Resampling.BILINEAR, box=box),
                      dtype=np.float32)


class _Target:
    """A picture to match against, centred and normalised once for many correlations."""

    def __init__(self, pixels: np.ndarray) -> None:
        flat = pixels.astype(np.float32).ravel()
        flat = flat - flat.mean()
        norm = float(np.linalg.norm(flat))
        self.unit = flat / norm if norm > 1e-6 else flat

    def correlation(self, pixels: np.ndarray) -> float:
        flat = pixels.ravel() - pixels.mean()
        norm = float(np.linalg.norm(flat))
        return float(flat @ self.unit) / norm if norm > 1e-6 else 0.0


def _coarse_fit(image: Image.Image, target: _Target, size: int) -> tuple[float, Box]:
    scored = [(target.correlation(_crop(image, box, size)), box)
              for box in _coarse_boxes(size)]
    return max(scored, key=lambda pair: pair[0])


def _refine(image: Image.Image, target: _Target, size: int, best: float, box: Box
            ) -> tuple[float, Box]:
    """Each edge of the crop moved while it helps, in halving steps: a crop is rarely centred,
    and the detail correlation needs the edges within half a pixel."""
    for step in _REFINE_STEPS:
        for _ in range(_REFINE_PASSES):
            improved = False
            for edge in range(4):
                for sign in (-1.0, 1.0):
                    moved = list(box)
                    moved[edge] = min(max(moved[edge] + sign * step, 0.0), float(size))
                    if min(moved[2] - moved[0], moved[3] - moved[1]) < size * _MIN_SIDE:
                        continue
                    candidate = (moved[0], moved[1], moved[2], moved[3])
                    score = target.correlation(_crop(image, candidate, size))
                    if score > best + 1e-4:
                        best, box, improved = score, candidate, True
            if not improved:
                break
    return best, box


def aligned_agreement(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(grey, detail) correlation of two layouts at the crop of either that fits the other
    best: a copy cropped by up to 10% lines up with its original again. The crop is searched
    at half size (32 px, a quarter of the work), coarse first and finely only where the
    coarse search found something; the measures are taken at full size."""
    half = _ALIGN_SIZE
    fits = []
    for x, y in ((a, b), (b, a)):
        small = Image.fromarray(x).resize((half, half), Image.Resampling.BOX)
        target = _Target(np.asarray(Image.fromarray(y).resize((half, half),
                                                               Image.Resampling.BOX)))
        fits.append((*_coarse_fit(small, target, half), small, target, x, y))
    grey, box, small, target, x, y = max(fits, key=lambda fit: fit[0])
    if grey >= REFINE_FROM:
        grey, box = _refine(small, target, half, grey, box)
    scale = x.shape[0] / half
    crop = _crop(Image.fromarray(x), tuple(v * scale for v in box), x.shape[0])  # type: ignore[arg-type]
    full = y.astype(np.float32)
    return _correlation(crop, full), _correlation(_detail(crop), _detail(full))


def quick_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Grey correlation of two layouts as they are, without aligning (microseconds)."""
    return _correlation(a.astype(np.float32), b.astype(np.float32))


def seconds_apart(a: Fingerprint, b: Fingerprint) -> float | None:
    """How far apart the two were taken, when both know."""
    if a.taken_at is None or b.taken_at is None:
        return None
    return abs(a.taken_at - b.taken_at)


def is_candidate(cosine: float, bits: int, apart: float | None) -> bool:
    """Worth the close comparison at all?"""
    return (cosine >= CANDIDATE_COSINE or bits <= CANDIDATE_PHASH_BITS
            or (apart is not None and apart <= BURST_SECONDS))


def compare(a: Fingerprint, b: Fingerprint) -> tuple[Tier | None, Closeness]:
    """The tier of a pair (None: unrelated) and the measures it rests on."""
    cosine = float(a.vector @ b.vector)
    bits, turn = phash_bits(a, b)
    apart = seconds_apart(a, b)
    if a.sha256 == b.sha256:
        return Tier.EXACT, Closeness(cosine=cosine, phash_bits=bits, layout=1.0, detail=1.0,
                                     seconds_apart=apart)
    other = turned(b.layout, turn)
    timed = apart is not None and apart <= BURST_SECONDS
    if not is_candidate(cosine, bits, apart) or (
            bits > SAME_PHASH_BITS and not timed and cosine < CLOSE_COSINE
            and quick_agreement(a.layout, other) < QUICK_LAYOUT):
        loose = Tier.SIMILAR if cosine >= SIMILAR_COSINE else None
        return loose, Closeness(cosine=cosine, phash_bits=bits, seconds_apart=apart)
    grey, detail = aligned_agreement(a.layout, other)
    close = Closeness(cosine=cosine, phash_bits=bits, layout=grey, detail=detail,
                      seconds_apart=apart)
    return tier_of(a, b, close), close


def tier_of(a: Fingerprint, b: Fingerprint, close: Closeness) -> Tier | None:
    """The thresholds above, applied to measured closeness (exact is decided by hash)."""
    screen = a.screen_like or b.screen_like
    template = a.category in TEMPLATE_CATEGORIES or b.category in TEMPLATE_CATEGORIES
    if screen:
        if (close.phash_bits <= SCREEN_PHASH_BITS and close.layout >= SCREEN_LAYOUT
                and close.detail >= SCREEN_DETAIL):
            return Tier.SAME
    elif template:
        if close.layout >= TEMPLATE_SAME_LAYOUT and close.detail >= TEMPLATE_SAME_DETAIL:
            return Tier.SAME
    elif ((close.phash_bits <= SAME_PHASH_BITS and close.layout >= SAME_LAYOUT
           and close.detail >= SAME_DETAIL)
          or (close.layout >= ALIGNED_LAYOUT and close.detail >= ALIGNED_DETAIL)):
        return Tier.SAME
    if not screen and _is_burst(a, b, close):
        return Tier.BURST
    return Tier.SIMILAR if close.cosine >= SIMILAR_COSINE else None


def _is_burst(a: Fingerprint, b: Fingerprint, close: Closeness) -> bool:
    if a.camera and b.camera and a.camera != b.camera:
        return False
    if close.seconds_apart is not None:
        # Both know when they were taken: the same place another day is never a burst.
        return (close.seconds_apart <= BURST_SECONDS and close.cosine >= BURST_TIMED_COSINE
                and close.layout >= BURST_TIMED_LAYOUT)
    template = a.category in TEMPLATE_CATEGORIES or b.category in TEMPLATE_CATEGORIES
    return (close.cosine >= BURST_COSINE and close.layout >= BURST_LAYOUT
            and close.detail >= (TEMPLATE_DETAIL if template else BURST_DETAIL))
