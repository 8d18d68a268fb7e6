"""The text detector, PP-OCRv4 det (DB): where writing is in a picture, and how it is laid out.

Owns its pre-processing (the picture resized so both sides are multiples of 32, the longer at
most TEXT_MAX_SIDE; BGR, scaled to [-1, 1], NCHW float32 — what rapidocr feeds the same model)
and its post-processing (dbmap.py: the probability map → line boxes, numpy only). The layout
summary turns the boxes into the signals that tell screenshots, receipts/documents and photos
of screens apart: how much of the picture is text, how many lines, how regular, and where.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from xintud.core.facts import TextLayout
from xintud.engine.models.contract import checked_names
from xintud.engine.models.dbmap import boxes_from_map
from xintud.engine.models.manifest import ModelFile

if TYPE_CHECKING:
    import onnxruntime as ort

# The decoded picture's shorter side is at most 448 px, so a phone screenshot arrives as about
# 448x970. Capping the longer side at 640 costs about two thirds of 960 (where no working-size
# picture is scaled down: 51 vs 75 ms per development photo on 2 cores) and keeps the >= 3-
# lines rate: 0.92 vs 0.94 on screenshots, 0.91 on documents at both; 512 and 448 px lose
# screenshots and documents (training/reports/text.json, input_sizes).
TEXT_MAX_SIDE = 640
TEXT_STRIDE = 32  # the network downsamples by 32: both sides must be multiples of it
# rapidocr 1.4.4's config.yaml normalises with 0.5/0.5. PaddleOCR's own predictor uses the
# ImageNet mean/std; tried once at 640 px on 300 development photos, it found >= 3 lines as
# often on screenshots (0.94) and less often on documents (10/11 vs 11/11): rapidocr's stays.
TEXT_MEAN = (0.5, 0.5, 0.5)
TEXT_STD = (0.5, 0.5, 0.5)
# rapidocr drops boxes whose sides are 3 px or less in the picture it was given.
MIN_BOX_PIXELS = 3
# Two boxes are on one line when they overlap vertically by half the smaller one's height.
SAME_LINE_OVERLAP = 0.5
# Left edges within this share of the picture's width count as aligned.
LEFT_EDGE_TOLERANCE = 0.02


@dataclass(frozen=True)
class TextBox:
    """One detected text line (or word group), in fractions of the picture's width/height.

    box is the axis-aligned hull (xmin, ymin, xmax, ymax); corners the detected rectangle,
    clockwise from the top left; height its shorter side as a share of the picture's height.
    """

    box: tuple[float, float, float, float]
    corners: tuple[tuple[float, float], ...]
    score: float
    height: float


def text_input_size(width: int, height: int, max_side: int = TEXT_MAX_SIDE) -> tuple[int, int]:
    """(width, height) the network sees: scaled down so the longer side is at most max_side,
    each side then rounded to a multiple of 32, as rapidocr's DetPreProcess does with
    limit_type "max" (never below 32)."""
    ratio = min(1.0, max_side / max(width, height))

    def rounded(side: int) -> int:  # Python's round, as rapidocr's: halves go to even
        return max(TEXT_STRIDE, int(round(int(side * ratio) / TEXT_STRIDE) * TEXT_STRIDE))

    return rounded(width), rounded(height)


def text_input(image: Image.Image, max_side: int = TEXT_MAX_SIDE) -> np.ndarray:
    """The picture as the network wants it: [1, 3, H, W] float32, BGR, (x/255 - 0.5) / 0.5."""
    size = text_input_size(image.width, image.height, max_side)
    resized = image.convert("RGB").resize(size, Image.Resampling.BILINEAR)
    # The model was trained on OpenCV's BGR images; rapidocr feeds it BGR too.
    pixels = np.asarray(resized, dtype=np.float32)[:, :, ::-1]
    mean = np.asarray(TEXT_MEAN, dtype=np.float32) * 255.0
    scale = 1.0 / (np.asarray(TEXT_STD, dtype=np.float32) * 255.0)
    normalised = (pixels - mean) * scale
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[None])


def boxes_as_fractions(prob: np.ndarray, picture_size: tuple[int, int]) -> list[TextBox]:
    """Text boxes from a [H, W] probability map, in fractions of the picture, dropping those
    whose sides are MIN_BOX_PIXELS or less in the picture (picture_size: its width, height)."""
    found = boxes_from_map(prob)
    map_height, map_width = prob.shape
    width, height = picture_size
    out = []
    for corners, score, side in zip(found.corners, found.scores, found.short_sides,
                                    strict=True):
        fractions = np.clip(corners / [map_width, map_height], 0.0, 1.0)
        pixels = fractions * [width, height]
        if min(np.linalg.norm(pixels[0] - pixels[1]),
               np.linalg.norm(pixels[0] - pixels[3])) <= MIN_BOX_PIXELS:
            continue
        low, high = fractions.min(axis=0), fractions.max(axis=0)
        out.append(TextBox(
            box=(round(float(low[0]), 4), round(float(low[1]), 4),
                 round(float(high[0]), 4), round(float(high[1]), 4)),
            corners=tuple((round(float(x), 4), round(float(y), 4)) for x, y in fractions),
            score=round(float(score), 4),
            height=round(float(side / map_height), 4),
        ))
    return out


class TextDetector:
    """One onnxruntime session of the text detector, run with the contract's names.

    One picture at a time, whatever the number of worker threads: a 640 px page takes ~60 MB
    of activations, two side by side would pass the daemon's memory budget, and the detector
    runs on a few pictures in ten, so the workers rarely wait for each other here.
    """

    def __init__(self, session: ort.InferenceSession, contract: ModelFile,
                 max_side: int = TEXT_MAX_SIDE) -> None:
        self._session = session
        self._one_at_a_time = threading.Lock()
        self._input, outputs = checked_names(session, contract)
        self._output = outputs[0]  # the probability map [1, 1, H, W]
        self.max_side = max_side

    def probability_map(self, image: Image.Image) -> np.ndarray:
        """The network's text probability per pixel of its input, [H, W] float32."""
        pixels = text_input(image, self.max_side)
        with self._one_at_a_time:
            (prob,) = self._session.run([self._output], {self._input: pixels})
        return prob[0, 0]

    def detect(self, image: Image.Image) -> list[TextBox]:
        """Text boxes in an RGB picture, in fractions of its size, top to bottom (by the
        first row each box's region reaches)."""
        return boxes_as_fractions(self.probability_map(image), image.size)


def _lines(boxes: list[TextBox]) -> list[list[TextBox]]:
    """Boxes grouped into rows, top to bottom: a box joins the row it overlaps vertically by
    SAME_LINE_OVERLAP of the smaller height (a line split at wide gaps is still one line)."""
    rows: list[tuple[float, float, list[TextBox]]] = []
    for box in sorted(boxes, key=lambda b: (b.box[1] + b.box[3]) / 2):
        top, bottom = box.box[1], box.box[3]
        if rows:
            row_top, row_bottom, members = rows[-1]
            overlap = min(bottom, row_bottom) - max(top, row_top)
            if overlap >= SAME_LINE_OVERLAP * min(bottom - top, row_bottom - row_top):
                rows[-1] = (min(top, row_top), max(bottom, row_bottom), [*members, box])
                continue
        rows.append((top, bottom, [box]))
    return [members for _, _, members in rows]


def _union_area(boxes: list[TextBox], bands: tuple[float, ...]) -> np.ndarray:
    """The union area of the boxes within each horizontal band [bands[i], bands[i+1]]."""
    xs = np.unique([v for b in boxes for v in (b.box[0], b.box[2])])
    ys = np.unique([*bands, *(v for b in boxes for v in (b.box[1], b.box[3]))])
    covered = np.zeros((len(ys) - 1, len(xs) - 1), dtype=bool)
    for b in boxes:
        x0, x1 = np.searchsorted(xs, [b.box[0], b.box[2]])
        y0, y1 = np.searchsorted(ys, [b.box[1], b.box[3]])
        covered[y0:y1, x0:x1] = True
    cells = covered * np.diff(ys)[:, None] * np.diff(xs)[None, :]
    per_row = cells.sum(axis=1)
    centres = (ys[:-1] + ys[1:]) / 2
    band_of = np.clip(np.searchsorted(bands, centres, side="right") - 1, 0, len(bands) - 2)
    return np.bincount(band_of, weights=per_row, minlength=len(bands) - 1)


def summarise(boxes: list[TextBox]) -> TextLayout:
    """The layout signals of a picture's text boxes."""
    if not boxes:
        return TextLayout(boxes=0, lines=0, area=0.0, left_aligned=0.0, height_spread=0.0,
                          top=0.0, middle=0.0, bottom=0.0)
    lines = _lines(boxes)
    by_third = _union_area(boxes, (0.0, 1 / 3, 2 / 3, 1.0))
    area = float(by_third.sum())
    shares = by_third / area if area > 0 else np.zeros(3)
    left_aligned = spread = 0.0
    if len(lines) >= 2:
        lefts = np.array([min(b.box[0] for b in line) for line in lines])
        near = np.abs(lefts[:, None] - lefts[None, :]) <= LEFT_EDGE_TOLERANCE
        left_aligned = float(near.sum(axis=1).max() / len(lines))
        heights = np.array([np.median([b.height for b in line]) for line in lines])
        spread = float(heights.std() / max(float(np.median(heights)), 1e-6))
    return TextLayout(
        boxes=len(boxes), lines=len(lines), area=round(area, 4),
        left_aligned=round(left_aligned, 4), height_spread=round(spread, 4),
        top=round(float(shares[0]), 4), middle=round(float(shares[1]), 4),
        bottom=round(float(shares[2]), 4),
    )
