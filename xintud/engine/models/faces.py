"""The face detector, MTCNN: a picture → faces, each with a score, a box and five landmarks.

Three small nets run in cascade (made by training/faces/ from facenet-pytorch 2.6.0's weights);
everything between them is numpy here, step for step as facenet-pytorch's ``detect_face`` does
it, so that the exported nets see exactly the inputs they were made for:
1. an image pyramid, each level area-resampled so that a face of MIN_FACE_SIZE px becomes
   P-net's 12 px window; P-net proposes a box wherever P(face) ≥ THRESHOLDS[0];
2. NMS within each level (IoU 0.5), then over all levels (0.7); the proposals are regressed,
   squared and cut out (clipped to the picture, area-resampled to 24x24) for R-net, which keeps
   P(face) > THRESHOLDS[1]; NMS 0.7, regression, squaring;
3. the same at 48x48 for O-net (> THRESHOLDS[2]), which also places the five landmarks; a last
   NMS measures overlap against the smaller box, so a box inside another goes.
Area resampling (torch's ``interpolate(mode="area")``, i.e. adaptive average pooling) is done
with a summed-area table, for the pyramid and for every crop at once. One departure: R-net
judges at most MAX_PROPOSALS proposals (the likeliest), which only dense texture reaches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from xintud.core.facts import Face
from xintud.engine.models.contract import checked_names
from xintud.engine.models.manifest import REINSTALL_HINT, ModelError, ModelFile

if TYPE_CHECKING:
    import onnxruntime as ort

# The smallest face looked for, in pixels of the working picture (shorter side ≤ 448): 30 px is
# 6.7% of it, a face in a small group photo. Measured on all of ../shared/photos (a face counts
# at O-net score ≥ 0.95), against facenet-pytorch's default of 20 px and against 40:
#   min 20: social ≥ 2 faces 83%, single exactly 1 83%, ~65 ms CPU per photo
#   min 30: social ≥ 2 faces 78%, single exactly 1 83%, ~35 ms
#   min 40: social ≥ 2 faces 68%, single exactly 1 81%, ~26 ms
# P-net's first pyramid level and the proposals R-net must judge shrink with (12/size)², so
# 30 px halves the cost for a few faces in crowds, which the COCO person count also sees.
MIN_FACE_SIZE = 30
SCALE_FACTOR = 0.709  # each pyramid level is 0.709x the last: the face size doubles in 2 levels
THRESHOLDS = (0.6, 0.7, 0.7)  # P-, R-, O-net face probability to go on (facenet-pytorch's)
NMS_LEVEL, NMS_STAGE = 0.5, 0.7  # IoU above which the weaker of two boxes goes
PNET_WINDOW, PNET_STRIDE = 12, 2
RNET_SIZE, ONET_SIZE = 24, 48
# R-net sees at most this many proposals, the likeliest: a photo gives a few hundred; only
# dense texture gives thousands, and those would cost time without adding faces.
MAX_PROPOSALS = 1000
NMS_BLOCK = 256  # boxes whose overlaps with all later ones nms computes at once
# R- and O-net crops are cut and judged this many at a time: each crop is judged alone, so
# the answers are the same, and memory stays small (1000 crops at once took ~55 MB of
# activations; 300 O-net crops ~40 MB of numpy temporaries; 16 take ~4 MB).
CROP_BATCH = 16
OUTPUT_COUNTS = {"pnet": 2, "rnet": 2, "onet": 3}
# Regions of a picture: ((y0, y1), (x0, x1)), one entry per region in each array.
Regions = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class FaceNet:
    """One of MTCNN's three nets: an onnxruntime session run with its contract's names."""

    def __init__(self, name: str, session: ort.InferenceSession, contract: ModelFile) -> None:
        self.name = name
        self._session = session
        self._input, outputs = checked_names(session, contract)
        if len(outputs) != OUTPUT_COUNTS[name]:
            raise ModelError(f"{contract.file}: the contract lists {len(outputs)} outputs, "
                             f"{name} has {OUTPUT_COUNTS[name]}; {REINSTALL_HINT}")
        # Listed in the order the code reads them: offsets, (landmarks,) face probability.
        self._outputs = outputs

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        """The net's outputs for a float32 NHWC batch of 0..255 RGB pixels."""
        return self._session.run(self._outputs, {self._input: batch})

    def judge(self, table: np.ndarray, regions: Regions, side: int) -> list[np.ndarray]:
        """The net's outputs for the regions of a summed-area table, each area-resampled to
        side x side, CROP_BATCH crops at a time (cut and judged together, so that neither the
        crops nor their activations pile up), joined in order."""
        (y0, y1), (x0, x1) = regions
        parts = []
        for start in range(0, len(y0), CROP_BATCH):
            part = slice(start, start + CROP_BATCH)
            crops = area_crops(table, (y0[part], y1[part]), (x0[part], x1[part]), side, side)
            parts.append(self.run(crops))
        return [np.concatenate(outputs) for outputs in zip(*parts, strict=True)]


class FaceDetector:
    """MTCNN over one picture: P-net proposals, R-net refinement, O-net boxes and landmarks."""

    def __init__(self, pnet: FaceNet, rnet: FaceNet, onet: FaceNet,
                 min_face_size: float = MIN_FACE_SIZE) -> None:
        for net, name in ((pnet, "pnet"), (rnet, "rnet"), (onet, "onet")):
            if net.name != name:
                raise ValueError(f"FaceDetector wants {name} here, not {net.name}")
        self.pnet, self.rnet, self.onet = pnet, rnet, onet
        self.min_face_size = min_face_size

    def detect(self, picture: np.ndarray) -> list[Face]:
        """Faces in a uint8 HWC RGB picture, most confident first."""
        height, width = picture.shape[:2]
        boxes, points = self.detect_pixels(picture)
        return [face_in_fractions(box, pts, width, height)
                for box, pts in zip(boxes, points, strict=True)]

    def detect_pixels(self, picture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(boxes [K,5]: x0, y0, x1, y1, score; landmarks [K,5,2]: x, y) in pixels.

        Coordinates are facenet-pytorch's: boxes may reach past the picture's edges.
        """
        if picture.dtype != np.uint8 or picture.ndim != 3 or picture.shape[2] != 3:
            # The integer summed-area table is exact only for 8-bit pixels.
            raise ValueError(f"FaceDetector wants uint8 HxWx3 RGB, not {picture.dtype} "
                             f"{picture.shape}")
        table = summed_area_table(picture)
        height, width = picture.shape[:2]
        boxes = self._propose(table, height, width)
        if len(boxes):
            boxes = self._refine(table, boxes, height, width)
        if not len(boxes):
            return np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32)
        return self._output(table, boxes, height, width)

    def _propose(self, table: np.ndarray, height: int, width: int) -> np.ndarray:
        """Stage 1: P-net over the pyramid → squared candidate boxes [K,5]."""
        found = []
        for scale in pyramid_scales(height, width, self.min_face_size):
            level = area_resize(table, int(height * scale + 1), int(width * scale + 1))
            offsets, face = self.pnet.run(level[None])
            boxes = window_boxes(offsets[0], face[0], scale, THRESHOLDS[0])
            found.append(boxes[nms(boxes, NMS_LEVEL)])
        boxes = np.concatenate(found) if found else np.zeros((0, 9), np.float32)
        boxes = boxes[nms(boxes, NMS_STAGE)][:MAX_PROPOSALS]
        # P-net's offsets are in units of the window's size (no +1, unlike the later stages).
        size = np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]] * 2, axis=1)
        regressed = boxes[:, :4] + boxes[:, 5:9] * size
        return square(np.concatenate([regressed, boxes[:, 4:5]], axis=1))

    def _refine(self, table: np.ndarray, boxes: np.ndarray, height: int, width: int
                ) -> np.ndarray:
        """Stage 2: R-net on 24x24 crops → the boxes it keeps, regressed and squared."""
        boxes, regions = crop_regions(boxes, height, width)
        if not len(boxes):
            return boxes
        offsets, face = self.rnet.judge(table, regions, RNET_SIZE)
        keep = face > THRESHOLDS[1]
        boxes = np.concatenate([boxes[keep, :4], face[keep, None]], axis=1)
        pick = nms(boxes, NMS_STAGE)
        return square(regress(boxes[pick], offsets[keep][pick]))

    def _output(self, table: np.ndarray, boxes: np.ndarray, height: int, width: int
                ) -> tuple[np.ndarray, np.ndarray]:
        """Stage 3: O-net on 48x48 crops → final boxes and their five landmarks."""
        boxes, regions = crop_regions(boxes, height, width)
        if not len(boxes):
            return np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32)
        offsets, landmarks, face = self.onet.judge(table, regions, ONET_SIZE)
        keep = face > THRESHOLDS[2]
        boxes = np.concatenate([boxes[keep, :4], face[keep, None]], axis=1)
        landmarks = landmarks[keep]
        # Landmarks are fractions of the (unregressed) box O-net saw, five x then five y.
        side_x = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
        side_y = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
        points = np.stack([side_x * landmarks[:, :5] + boxes[:, 0:1] - 1,
                           side_y * landmarks[:, 5:] + boxes[:, 1:2] - 1], axis=2)
        boxes = regress(boxes, offsets[keep])
        pick = nms(boxes, NMS_STAGE, overlap="min")
        return boxes[pick], points[pick]


# --- resampling ---------------------------------------------------------------------------------


def summed_area_table(picture: np.ndarray) -> np.ndarray:
    """(H+1, W+1, 3) running sums with a zero first row and column.

    Integer sums are exact and half the memory traffic of float64 (the table is read once per
    pyramid level and per crop); int32 holds any picture below 8.4 MP, int64 the rest.
    """
    height, width, channels = picture.shape
    dtype = np.int32 if height * width * 255 < 2**31 else np.int64
    table = np.zeros((height + 1, width + 1, channels), dtype)
    np.cumsum(picture, axis=0, dtype=dtype, out=table[1:, 1:])
    np.cumsum(table[1:, 1:], axis=1, out=table[1:, 1:])
    return table


def pool_bounds(start: np.ndarray, length: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive average pooling's cells: [start + ⌊i·L/n⌋, start + ⌈(i+1)·L/n⌉) per row of start.

    The cells overlap when shrinking by a non-integer factor, exactly as torch's pooling does.
    """
    index = np.arange(size)
    low = start[:, None] + (index * length[:, None]) // size
    high = start[:, None] + ((index + 1) * length[:, None] + size - 1) // size
    return low, high


def area_crops(table: np.ndarray, rows: tuple[np.ndarray, np.ndarray],
               cols: tuple[np.ndarray, np.ndarray], out_h: int, out_w: int) -> np.ndarray:
    """Area-resample K regions (rows [y0, y1), cols [x0, x1)) to out_h x out_w: [K,h,w,3] f32."""
    (y0, y1), (x0, x1) = rows, cols
    stride = table.shape[1]
    top, bottom = (v[:, :, None] * stride for v in pool_bounds(y0, y1 - y0, out_h))
    left, right = (v[:, None, :] for v in pool_bounds(x0, x1 - x0, out_w))
    # One flat index per corner: numpy gathers rows of a 2-D array much faster than it
    # broadcasts a fancy index over three dimensions.
    flat = table.reshape(-1, table.shape[2])
    total = (flat[(bottom + right).ravel()] - flat[(top + right).ravel()]
             - flat[(bottom + left).ravel()] + flat[(top + left).ravel()])
    count = ((bottom - top) // stride * (right - left)).reshape(-1, 1)
    return (total / count).astype(np.float32).reshape(len(y0), out_h, out_w, -1)


def area_resize(table: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """The whole picture of a summed-area table, area-resampled to out_h x out_w: [h,w,3] f32.

    The same sums as area_crops over one region, taken row bands first and then columns: two
    gathers of whole rows instead of four of single pixels (a pyramid level in ~1/4 the time).
    """
    height, width = table.shape[0] - 1, table.shape[1] - 1
    zero = np.zeros(1, np.int64)
    top, bottom = (v[0] for v in pool_bounds(zero, np.array([height]), out_h))
    left, right = (v[0] for v in pool_bounds(zero, np.array([width]), out_w))
    bands = table[bottom] - table[top]  # [out_h, W+1, 3]: each output row's band of rows
    total = bands[:, right] - bands[:, left]
    count = (bottom - top)[:, None, None] * (right - left)[None, :, None]
    return (total / count).astype(np.float32)


# --- boxes --------------------------------------------------------------------------------------


def pyramid_scales(height: int, width: int, min_face_size: float = MIN_FACE_SIZE) -> list[float]:
    """The pyramid's scales: the first maps min_face_size to P-net's window, the last still
    leaves the shorter side one window long."""
    scale = PNET_WINDOW / min_face_size
    shorter = min(height, width) * scale
    scales = []
    while shorter >= PNET_WINDOW:
        scales.append(scale)
        scale *= SCALE_FACTOR
        shorter *= SCALE_FACTOR
    return scales


def window_boxes(offsets: np.ndarray, face: np.ndarray, scale: float, threshold: float
                 ) -> np.ndarray:
    """P-net's windows with P(face) ≥ threshold as [K,9]: x0, y0, x1, y1, score, 4 offsets.

    offsets is [4,h,w] and face [h,w] for one pyramid level; boxes are in picture pixels.
    """
    ys, xs = np.nonzero(face >= threshold)
    corner = np.stack([xs, ys], axis=1).astype(np.float32)
    scale32 = np.float32(scale)
    start = np.floor((PNET_STRIDE * corner + 1) / scale32)
    end = np.floor((PNET_STRIDE * corner + PNET_WINDOW) / scale32)
    score = face[ys, xs][:, None]
    return np.concatenate([start, end, score, offsets[:, ys, xs].T], axis=1).astype(np.float32)


def nms(boxes: np.ndarray, threshold: float, overlap: str = "union") -> np.ndarray:
    """Indices of the boxes greedy NMS keeps, highest score (column 4) first.

    overlap "union" is IoU with continuous areas (torchvision's nms, which facenet-pytorch uses
    for all but the last step); "min" is intersection over the smaller box, with MTCNN's +1 px
    areas, for the last.
    """
    order = np.argsort(-boxes[:, 4], kind="stable")
    keep = np.ones(len(order), bool)
    for start in range(0, len(order), NMS_BLOCK):
        # Overlaps of one block of boxes with every later box: a row at a time would cost one
        # numpy call per box; the whole matrix, memory quadratic in the count.
        block = order[start:start + NMS_BLOCK]
        over = overlaps(boxes[block], boxes[order[start:]], overlap) > threshold
        for row, i in enumerate(range(start, start + len(block))):
            if keep[i]:
                keep[i + 1:] &= ~over[row, row + 1:]
    return order[keep]


def overlaps(first: np.ndarray, second: np.ndarray, overlap: str) -> np.ndarray:
    """[len(first), len(second)] overlap of each box pair, as nms defines it."""
    extra = 1.0 if overlap == "min" else 0.0
    a, b = first[:, None, :4], second[None, :, :4]
    inter_w = np.maximum(0.0, np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
                         + extra)
    inter_h = np.maximum(0.0, np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
                         + extra)
    inter = inter_w * inter_h
    area_a = (a[..., 2] - a[..., 0] + extra) * (a[..., 3] - a[..., 1] + extra)
    area_b = (b[..., 2] - b[..., 0] + extra) * (b[..., 3] - b[..., 1] + extra)
    if overlap == "min":
        return inter / np.minimum(area_a, area_b)
    return inter / (area_a + area_b - inter)


def regress(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Move each box's edges by the offsets, in units of its +1 px side (R- and O-net)."""
    side_x = boxes[:, 2] - boxes[:, 0] + 1
    side_y = boxes[:, 3] - boxes[:, 1] + 1
    moved = boxes.copy()
    moved[:, :4] += offsets * np.stack([side_x, side_y, side_x, side_y], axis=1)
    return moved


def square(boxes: np.ndarray) -> np.ndarray:
    """Each box grown to a square of its longer side about the same centre."""
    width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(width, height)
    out = boxes.copy()
    out[:, 0] = boxes[:, 0] + width * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + height * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def crop_regions(boxes: np.ndarray, height: int, width: int) -> tuple[np.ndarray, Regions]:
    """(the boxes that touch the picture, their regions (rows [y0, y1), cols [x0, x1))) for
    the next net to judge.

    The region is the box's integer part clipped to the picture (facenet-pytorch pads
    nothing): a box over the edge is squashed, not filled with black.
    """
    whole = np.trunc(boxes[:, :4]).astype(np.int64)
    x0, y0 = np.maximum(whole[:, 0], 1) - 1, np.maximum(whole[:, 1], 1) - 1
    x1, y1 = np.minimum(whole[:, 2], width), np.minimum(whole[:, 3], height)
    inside = (x1 > x0) & (y1 > y0)
    return boxes[inside], ((y0[inside], y1[inside]), (x0[inside], x1[inside]))


def face_in_fractions(box: np.ndarray, points: np.ndarray, width: int, height: int) -> Face:
    """A Face with its box and landmarks as fractions of the picture, clipped to it."""
    def fraction(value: float, extent: int) -> float:
        return round(min(max(float(value) / extent, 0.0), 1.0), 4)

    x0, y0, x1, y1 = (fraction(v, e) for v, e in zip(box[:4], (width, height) * 2, strict=True))
    landmarks = tuple((fraction(x, width), fraction(y, height)) for x, y in points)
    return Face(score=round(float(box[4]), 4), box=(x0, y0, x1, y1), landmarks=landmarks)
