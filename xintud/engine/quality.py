"""Photo quality: sharpness, blur and shake, exposure, accidental shots, and a score.

Everything here is a suggestion: nothing is moved or deleted for quality alone. The measures
read the 256 px grey copy the glance already makes (`signals.grey`), so the whole measure costs
about a millisecond; `with_face_sharpness` adds the sharpness inside the faces once they are
found, for choosing the best shot of a burst where the faces are what matters.

The thresholds below were chosen on ../shared (README figures are from there): the blur groups
and bursts of ../shared/neardup, the 1057 labelled photos of ../shared/photos (mostly ordinary,
well taken photos, so what is flagged there is mostly a false flag), and drawn pictures with
known defects (Gaussian and motion blur, dark noisy frames, a covered lens, overexposure).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from xintud.core.facts import Face, Quality

# --- Blur --------------------------------------------------------------------------------------
# Blur is measured by re-blurring (Crété et al. 2007, "The blur effect"), which compares the
# picture with itself rather than with a notion of how much detail a scene should have: a sharp
# photo of a white wall has little Laplacian energy, but what detail it has is sharp. Along
# each of four directions, every 1-pixel step |g(p+u) - g(p)| is compared with the mean slope
# over DETAIL_SPAN pixels around it; the part of the step that the slope does not explain is the
# fine detail. raw = 1 - fine detail / all steps: a smear's steps are all explained by its
# slopes. On the 256 px copy DETAIL_SPAN 5 covers about 7 px of the working picture (a 12 MP
# photo arrives at 378 px). Span 9, a 320 px copy and the working picture were tried: all rank
# the sharp shot first in the same 11/11 neardup blur groups; the working picture catches more
# light blur (Gaussian radius 1: 62% against 36% beyond the photos' 97th percentile) at three
# times the cost.
DETAIL_SPAN = 5
STEPS = ((0, 1), (1, 1), (1, 0), (1, -1))  # (dy, dx): 0°, 45°, 90°, 135°
# A direction with less than this share of the mean step size carries too little detail to
# judge (the vertical steps of vertical stripes are all noise).
DIRECTION_MIN_SHARE = 0.3
# Below this mean step (an eighth of a grey level) there is nothing to judge: a smear.
MIN_DETAIL = 0.0005
# raw (of the worst direction with detail: a shaken photo is sharp across the shake) → blur
# 0..1. ../shared/photos: median 0.43, 97th percentile 0.62; screenshots 0.22-0.44 (95th
# percentile; one game screen with glowing shapes 0.73); ID photos 90th percentile 0.66, max 0.75
# (soft, upscaled portraits from ID-photo tools). The same photos blurred at working size,
# medians: Gaussian radius 1 0.58, 2 0.75, 4 0.87; motion blur of 9 px 0.74, 15 px 0.78. The real
# camera shots of neardup: sharp 0.37-0.45, defocused 0.61-0.78, shaken 0.65-0.74.
RAW_SHARP = 0.35
RAW_SMEAR = 0.85

# --- Motion -------------------------------------------------------------------------------------
# Shake smears detail along one direction only, so the picture is sharper across the shake than
# along it: the coherence of a structure tensor of the fine detail (motion_amount). On
# ../shared/photos: median 0.05, 95th percentile 0.14, 99th 0.22; the same photos with Gaussian
# blur of radius 2 (defocus) 0.12, with motion blur of 9 px 0.64 (0.42 at 30°, between the
# measured directions), 15 px 0.70, 5 px 0.36. neardup's real shaken shots 0.63, 0.67 and 0.18,
# their sharp and defocused twins 0.02-0.18. Flagged when also blurry-ish: photos 0.2%,
# Gaussian radius 2 4% and 4 8% (a smear has little detail left to have a direction), motion
# blur of 9 px 90% (63% at 30°), 15 px 99%, 5 px 46%.
MOTION_MIN = 0.35
SHAKEN_BLUR = 0.45

# --- Flags --------------------------------------------------------------------------------------
# blurry: 1.2% of ../shared/photos (0.7% but for the soft ID-photo portraits: 11%), while
# Gaussian blur of radius 2 at working size (about 16 px on a 12 MP photo) is flagged in 92%,
# radius 4 in 100%, radius 1 in 16%; motion blur of 9 px 84%, 15 px 96%. At 0.55: 2.6% of the
# photos and 98% of radius 2; at 0.70: 0.5% and 79%.
BLURRY = 0.62

# Exposure keeps the old rules as the way in (mean luma beyond 0.9 or 0.15, or half the frame
# clipped) but a bright or dark background alone is not a bad exposure. Of ../shared/photos the
# old rules flagged 48 of 158 screenshots overexposed and 29 underexposed, 24 of 142 "other"
# (receipts, documents, product shots on white) and 7 of 69 ID photos. What such pictures have
# and a blown or murky photo has not: the content is thin strokes on the page (text), or flat
# rendered fills (a screen), or the white runs round the picture's edges as a backdrop behind a
# normally lit subject, or (dark) a lit subject on black. With the rules below 2 of the 1057
# are flagged overexposed (a stylised selfie against a blown window and a drum's white head,
# both arguably so), none underexposed, no screenshot either way; of neardup's exposure bracket
# the darkest frame is underexposed, the brightest overexposed, the two between neither.
OVER_MEAN, UNDER_MEAN, CLIPPED_HALF = 0.9, 0.15, 0.5
PAGE_WHITE, PAGE_BLACK = 0.9, 0.2  # a page's (or backdrop's) tone, light or dark mode
STROKE_WIDTH = 8  # px of the 256 px copy: body text and rules on a page are thinner than this
PAGE_STROKES = 0.5  # share of the content in strokes above which it is writing on a page
MIN_CONTENT = 0.15  # share of the frame that is not page: less is a page with a few marks
FLAT_STEP = 1.5 / 255  # below a grey level and a half a step is flat: rendered, not photographed
RENDERED_FLAT = 0.2  # screens: median 0.36 of their content is flat; photos 0.02 (p90 0.13)
# A dark-mode screen's background is exactly flat: in the dark screenshots of ../shared/photos
# at least 76% of it has exactly equal neighbours; the shadows of dark photos keep some noise
# (neardup's darkest exposure and the darkest food photo: 46%).
EXACT_STEP = 0.5 / 255
RENDERED_BLACK = 0.65
BACKDROP_EDGE = 0.04  # width of the border strips, as a share of the shorter side
BACKDROP_COVER = 0.7  # white covering this much of three of the four strips is a backdrop
# ...unless what the white surrounds is itself washed out: the mean luma of the content of the
# ID photos and product shots on white of ../shared/photos is 0.31-0.62, the overexposed frame
# of neardup's exposure bracket 0.63 (and only 0.65 of its edge is white), drawn scenes lifted
# into the white 0.73-0.82.
WASHED_OUT = 0.68
LIT_SUBJECT = 0.35  # mean luma of the content of a dark picture with a lit subject

# accidental: a frame with nothing in it — pocket, covered lens, the floor in the dark: without
# a single strong edge, and dark or smooth (a covered lens is a glow). Every photo of
# ../shared/photos has strong edges in at least 0.76% of its pixels (a dark-mode screen's or a
# sparse white page's text is edges too; the lowest screenshot has 1.5%), neardup's darkest
# exposure 3.4%. The luma spread (std) of ordinary photos is at least 0.096 in every category
# but screenshots and receipts (0.039, 0.045).
DARK_MEAN = 0.12
SMOOTH_STD = 0.08
STRONG_EDGE = 0.1  # a Laplacian beyond this (about 25 grey levels) is an edge...
NOISE_SIGMAS = 5.0  # ...and beyond this many times the noise (estimated from the median)
MIN_EDGES = 0.002  # share of strong-edge pixels below which a frame holds no picture

# --- Score --------------------------------------------------------------------------------------
# score = (1 - BLUR_WEIGHT * blur) × EXPOSURE_FACTOR per exposure flag × ACCIDENTAL_FACTOR:
# 1 is a well exposed, sharp picture; within a burst (same exposure) it orders by blur.
BLUR_WEIGHT = 0.8
EXPOSURE_FACTOR = 0.6
ACCIDENTAL_FACTOR = 0.2

WORDS = {
    "blurry": "looks blurry",
    "motion_blur": "looks shaken (motion blur)",
    "underexposed": "looks underexposed",
    "overexposed": "looks overexposed",
    "accidental": "looks accidental (pocket or covered lens)",
}


@dataclass(frozen=True)
class Detail:
    """Per direction (STEPS order): mean |1-px step|, mean fine detail (the part of the step
    that the slope over DETAIL_SPAN does not explain), and the fine detail's share of the steps'
    energy (squares), which does not depend on how much the scene itself varies that way."""

    steps: tuple[float, ...]
    fine: tuple[float, ...]
    fine_share: tuple[float, ...]


def measure_quality(luma: np.ndarray) -> Quality:
    """Sharpness, exposure, blur, shake and accidental-shot measures of a picture, with its
    flags and the flags in words. `luma` is the 256 px grey copy (signals.grey)."""
    lap = laplacian(luma)
    sharpness = float(lap.var() * 1000) if lap is not None else 0.0
    brightness = float(luma.mean())
    dark = float((luma < 0.03).mean())
    bright = float((luma > 0.97).mean())
    detail = fine_detail(luma)
    blur, motion = blur_amount(detail), motion_amount(detail)
    flags = blur_flags(blur, motion)
    if is_accidental(luma, lap, brightness):
        flags = ["accidental"]  # an empty frame is not a blurred or badly exposed picture
    else:
        flags += exposure_flags(luma, brightness, dark, bright)
    return Quality(
        sharpness=round(sharpness, 3), brightness=round(brightness, 4),
        dark_clip=round(dark, 4), bright_clip=round(bright, 4),
        blur=round(blur, 4), motion=round(motion, 4), score=round(score(blur, flags), 4),
        flags=flags, suggestions=in_words(flags),
    )


def laplacian(luma: np.ndarray) -> np.ndarray | None:
    """The 4-neighbour Laplacian of the inner pixels; None for a picture thinner than 3 px."""
    if min(luma.shape) < 3:
        return None
    return (luma[1:-1, :-2] + luma[1:-1, 2:] + luma[:-2, 1:-1] + luma[2:, 1:-1]
            - 4 * luma[1:-1, 1:-1])


def _along(luma: np.ndarray, dy: int, dx: int, k: int, span: int) -> np.ndarray:
    """The pixels k steps along (dy, dx) from every start p whose whole span lies in the
    picture, taking every second line across the direction (means over half the pixels are as
    good, at half the cost)."""
    height, width = luma.shape
    rows, cols = height - span * dy, width - span * abs(dx)
    top = k * dy
    left = k * dx if dx >= 0 else span - k
    if (dy, dx) == (1, 0):
        return luma[top:top + rows, left:left + cols:2]
    return luma[top:top + rows:2, left:left + cols]


def fine_detail(luma: np.ndarray) -> Detail:
    """How much of the picture's local variation is fine detail, per direction (see Detail)."""
    if min(luma.shape) <= DETAIL_SPAN + 1:
        return Detail((0.0,) * 4, (0.0,) * 4, (0.0,) * 4)
    half, span = DETAIL_SPAN // 2, DETAIL_SPAN
    steps, fine, share = [], [], []
    for dy, dx in STEPS:
        slope = _along(luma, dy, dx, span, span) - _along(luma, dy, dx, 0, span)
        np.abs(slope, out=slope)
        slope *= 1.0 / span
        # the 1-px step in the middle of each span
        one = _along(luma, dy, dx, half + 1, span) - _along(luma, dy, dx, half, span)
        np.abs(one, out=one)
        explained = np.minimum(one, slope, out=slope)
        total = float(np.einsum("ij->", one))
        energy = float(np.einsum("ij,ij->", one, one))
        excess = np.subtract(one, explained, out=explained)
        steps.append(total / one.size)
        fine.append(float(np.einsum("ij->", excess)) / one.size)
        share.append(float(np.einsum("ij,ij->", excess, excess)) / energy if energy > 0 else 0.0)
    return Detail(tuple(steps), tuple(fine), tuple(share))


def blur_amount(detail: Detail) -> float:
    """0..1, how much fine detail is missing in the worst direction that has detail to judge
    (a shaken photo is sharp across the shake): 0 for a crisp picture, 1 for a smear."""
    mean_step = sum(detail.steps) / len(detail.steps)
    if mean_step < MIN_DETAIL:
        return 1.0
    raw = max(1.0 - fine / step for step, fine in zip(detail.steps, detail.fine, strict=True)
              if step >= DIRECTION_MIN_SHARE * mean_step)
    return float(np.clip((raw - RAW_SHARP) / (RAW_SMEAR - RAW_SHARP), 0.0, 1.0))


def motion_amount(detail: Detail) -> float:
    """0..1, the coherence of a structure tensor of the fine detail: how much sharper the
    picture is one way than across it. Each direction's fine-detail share plays the tensor's
    u·J·u along it (Jxx at 0°, Jyy at 90°, Jxy from the two diagonals); being shares, a scene
    that simply has more edges one way (stripes, a building) stays near 0."""
    e0, e45, e90, e135 = detail.fine_share
    jxx, jyy, jxy = e0, e90, (e45 - e135) / 2
    trace = jxx + jyy
    if trace <= 1e-12:
        return 0.0
    return float(min(1.0, np.hypot(jxx - jyy, 2 * jxy) / trace))


def blur_flags(blur: float, motion: float) -> list[str]:
    """blurry and/or motion_blur: shake needs the picture blurry-ish as well as one-way."""
    flags = ["blurry"] if blur >= BLURRY else []
    if blur >= SHAKEN_BLUR and motion >= MOTION_MIN:
        flags.append("motion_blur")
    return flags


def is_accidental(luma: np.ndarray, lap: np.ndarray | None, brightness: float) -> bool:
    """A frame with nothing in it: dark or smooth, with no strong edge (sensor noise is not an
    edge; a dark-mode screen's text is)."""
    if brightness >= DARK_MEAN and float(luma.std()) >= SMOOTH_STD:
        return False
    if lap is None:
        return True
    size = np.abs(lap)
    # median |Laplacian| / 0.6745 estimates the noise's σ where most of the frame is noise (a
    # sixteenth of the pixels are plenty for that)
    threshold = max(STRONG_EDGE, NOISE_SIGMAS * float(np.median(size[::4, ::4])) / 0.6745)
    return float((size > threshold).mean()) < MIN_EDGES


def exposure_flags(luma: np.ndarray, brightness: float, dark: float, bright: float) -> list[str]:
    """underexposed / overexposed: the old rules as the way in, less pages, screens and
    backdrops (see OVER_MEAN)."""
    if brightness > OVER_MEAN or bright > CLIPPED_HALF:
        return ["overexposed"] if _blown(luma) else []
    if brightness < UNDER_MEAN or dark > CLIPPED_HALF:
        return ["underexposed"] if _murky(luma) else []
    return []


def _blown(luma: np.ndarray) -> bool:
    """Whether a bright picture is blown highlights rather than writing on a white page, a
    rendered screen or a subject on a white backdrop."""
    page = luma >= PAGE_WHITE
    content = ~page
    if not content.any():
        return True
    # the cheap tests first: most bright pictures are pages and backdrops
    if float(luma[content].mean()) < WASHED_OUT and (
            float(content.mean()) < MIN_CONTENT  # a white page with a few marks
            or _edge_cover(page) >= BACKDROP_COVER):
        return False
    return not (_flat_share(luma, content) >= RENDERED_FLAT or _is_writing(page, content))


def _murky(luma: np.ndarray) -> bool:
    """Whether a dark picture is dark all over rather than a dark-mode screen, lights in the
    night (strokes on black) or a lit subject on black."""
    page = luma <= PAGE_BLACK
    content = ~page
    if not content.any():
        return True
    if float(content.mean()) >= MIN_CONTENT and float(luma[content].mean()) >= LIT_SUBJECT:
        return False
    return not (_flat_share(luma, page, clipped=True) >= RENDERED_BLACK
                or _is_writing(page, content))


def _is_writing(page: np.ndarray, content: np.ndarray) -> bool:
    """Whether the content on a page is mostly strokes: text, rules, a receipt."""
    return float(_strokes(page).sum()) >= PAGE_STROKES * float(content.sum())


def _page_on_both_sides(page: np.ndarray, axis: int) -> np.ndarray:
    """Whether page lies within STROKE_WIDTH pixels before and after each pixel along an axis
    (windows counted from a cumulative sum)."""
    reach, length = STROKE_WIDTH, page.shape[axis]
    shape = list(page.shape)
    shape[axis] += 1
    counts = np.zeros(shape, dtype=np.int16 if length < 32767 else np.int32)
    inner = [slice(None), slice(None)]
    inner[axis] = slice(1, None)
    np.cumsum(page, axis=axis, out=counts[tuple(inner)])
    # padded[reach + k] = page count in [0, k) along the axis, k clipped to 0..length
    pad = [(0, 0), (0, 0)]
    pad[axis] = (reach, reach)
    padded = np.pad(counts, pad, mode="edge")

    def at(start: int) -> np.ndarray:
        index = [slice(None), slice(None)]
        index[axis] = slice(start, start + length)
        return padded[tuple(index)]

    before = at(reach) - at(0)
    after = at(2 * reach + 1) - at(reach + 1)
    return (before > 0) & (after > 0)


def _strokes(page: np.ndarray) -> np.ndarray:
    """Non-page pixels with page on both sides within STROKE_WIDTH, across or down: writing,
    rules (a wider patch of content is a picture)."""
    return ~page & (_page_on_both_sides(page, 1) | _page_on_both_sides(page, 0))


def _flat_share(luma: np.ndarray, region: np.ndarray, clipped: bool = False) -> float:
    """The share of a region's pixels whose right and lower neighbours are the same grey:
    rendered fills; a camera's noise leaves few. Clipped highlights and shadows are flat in a
    photo too, so they count only with `clipped` (and then the step must be exactly 0)."""
    tolerance = EXACT_STEP if clipped else FLAT_STEP
    flat = ((np.abs(np.diff(luma, axis=1))[:-1] < tolerance)
            & (np.abs(np.diff(luma, axis=0))[:, :-1] < tolerance))
    corner = luma[:-1, :-1]
    inner = region[:-1, :-1]
    if not clipped:
        inner = inner & (corner > 0.03) & (corner < 0.97)
    return float((flat & inner).sum()) / max(1.0, float(inner.sum()))


def _edge_cover(page: np.ndarray) -> float:
    """How much of the picture's edge the page tone covers: the third best covered of the four
    border strips (a backdrop runs round three sides at least; a blown sky along one)."""
    strip = max(2, round(min(page.shape) * BACKDROP_EDGE))
    sides = sorted((float(page[:strip].mean()), float(page[-strip:].mean()),
                    float(page[:, :strip].mean()), float(page[:, -strip:].mean())),
                   reverse=True)
    return sides[2]


def score(blur: float, flags: list[str]) -> float:
    """0..1 overall (see BLUR_WEIGHT): 1 is a well exposed, sharp picture."""
    value = 1.0 - BLUR_WEIGHT * blur
    for flag in ("underexposed", "overexposed"):
        if flag in flags:
            value *= EXPOSURE_FACTOR
    if "accidental" in flags:
        value *= ACCIDENTAL_FACTOR
    return value


def in_words(flags: list[str]) -> list[str]:
    """The flags in plain words; a shaken picture is not also called blurry."""
    shown = [f for f in flags if not (f == "blurry" and "motion_blur" in flags)]
    return [WORDS[f] for f in shown]


def with_face_sharpness(quality: Quality, picture: Image.Image, faces: list[Face]) -> Quality:
    """`quality` with face_sharpness: the Laplacian variance (×1000, as `sharpness`) of all the
    faces' pixels pooled, on the working picture (faces are small: the 256 px copy would leave
    a few pixels across). Unchanged when no face is at least 3 px across."""
    laps = [lap.ravel() for lap in (_face_laplacian(picture, face) for face in faces)
            if lap is not None]
    if not laps:
        return quality
    pooled = float(np.concatenate(laps).var() * 1000)
    return quality.model_copy(update={"face_sharpness": round(pooled, 3)})


def _face_laplacian(picture: Image.Image, face: Face) -> np.ndarray | None:
    """The Laplacian inside one face box (fractions of the picture), or None when too small."""
    width, height = picture.size
    x0, y0, x1, y1 = face.box
    box = (max(0, round(x0 * width)), max(0, round(y0 * height)),
           min(width, round(x1 * width)), min(height, round(y1 * height)))
    if box[2] - box[0] < 3 or box[3] - box[1] < 3:
        return None
    crop = np.asarray(picture.crop(box).convert("L"), dtype=np.float32) / 255.0
    return laplacian(crop)
