"""DB (differentiable binarisation) post-processing in numpy: a text probability map → boxes.

PP-OCR's text detector outputs one probability per pixel. Its reference post-processing
(PaddleOCR's DBPostProcess, as rapidocr ships it) thresholds the map, dilates it by 2x2,
traces contours with OpenCV, fits each one a minimum-area rectangle, scores it by the mean
probability inside, and grows it with pyclipper ("unclip"). The daemon has none of OpenCV,
pyclipper or shapely, so the same steps are done here with numpy alone:

- contours → 8-connected components, labelled on runs of set pixels (one union-find over
  runs, vectorised), which is what a contour outlines;
- cv2.minAreaRect → the smaller of the axis-aligned rectangle and the rectangle along the
  component's principal axis (second moments): text lines are long and thin, so the principal
  axis is the rectangle's, and horizontal text gets exactly OpenCV's box;
- unclip → the rectangle grown by the same distance on every side (area * ratio / perimeter):
  the minimum-area rectangle around pyclipper's rounded offset of a rectangle is exactly that.

Boxes are in map pixels (pixel centres, as OpenCV's contour points are); text.py turns them
into image fractions. On the same maps this finds rapidocr's boxes one for one (3009 of 3013
on the development screenshots, 1004 of 1005 on documents, IoU 0.98 after rounding to whole
pixels); where it differs, it keeps a few boxes whose score lies just above the 0.5 box
threshold (0.50-0.56) and that rapidocr scores just below it: OpenCV fills a slightly tilted
rectangle through truncated corners. Measured in tests/training/test_text_detector.py and
training/reports/text.json.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BINARY_THRESHOLD = 0.3  # rapidocr's config.yaml: thresh
BOX_THRESHOLD = 0.5  # box_thresh: the mean probability a box needs
UNCLIP_RATIO = 1.6  # unclip_ratio
MAX_CANDIDATES = 1000  # max_candidates
MIN_SIDE = 3  # DBPostProcess.min_size: shorter rectangle side, in map pixels
# The principal-axis rectangle replaces the axis-aligned one only when clearly smaller: a
# horizontal line with ragged ends keeps its exact axis-aligned box.
ROTATED_GAIN = 0.97
# A tilted box's score counts the pixels whose centres lie within this many pixels outside it:
# OpenCV fills the polygon through the pixels its edges cross. 0.25 px gives the smallest mean
# gap to rapidocr's scores on drawn bars at 3-87° (+0.01; 0 px gives -0.04, 0.5 px -0.02).
SLACK = 0.25


@dataclass(frozen=True)
class MapBoxes:
    """Text rectangles on the map: corners [N,4,2] (x, y; clockwise from the top left),
    mean probability scores [N] and the shorter side [N], all in map pixels."""

    corners: np.ndarray
    scores: np.ndarray
    short_sides: np.ndarray


def binarise(prob: np.ndarray, threshold: float = BINARY_THRESHOLD) -> np.ndarray:
    """The map above threshold, dilated by a 2x2 kernel as cv2.dilate does (anchor at its
    centre: each pixel takes the maximum of itself and its upper and left neighbours)."""
    mask = prob > threshold
    grown = mask.copy()
    grown[1:, :] |= mask[:-1, :]
    out = grown.copy()
    out[:, 1:] |= grown[:, :-1]
    return out


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Horizontal runs of set pixels: rows, starts and exclusive ends, in row-major order."""
    height, width = mask.shape
    padded = np.zeros((height, width + 2), dtype=bool)
    padded[:, 1:-1] = mask
    # change[:, i] marks mask[:, i] != mask[:, i - 1]; with the zero padding every row's
    # changes alternate start, end, so one pass over the flat array finds both.
    changes = np.flatnonzero(padded[:, 1:] != padded[:, :-1])
    rows, columns = np.divmod(changes, width + 1)
    return rows[0::2], columns[0::2], columns[1::2]


def _touching_runs(rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, width: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of runs in neighbouring rows that touch, diagonals included (8-connectivity).

    Runs of one row are sorted and disjoint, so those of the row above that touch a run form
    one contiguous index range, found with two binary searches over row-major keys.
    """
    stride = width + 2
    start_keys = rows * stride + starts
    end_keys = rows * stride + ends
    above = (rows - 1) * stride
    first = np.searchsorted(end_keys, above + starts, side="left")
    last = np.searchsorted(start_keys, above + ends, side="right") - 1
    counts = np.maximum(last - first + 1, 0)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    below = np.repeat(np.arange(len(rows)), counts)
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(first, counts) + offsets, below


def _root_labels(count: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Union-find over `count` items joined by edges: each item's smallest connected index.

    Vectorised hook-and-compress: every edge hooks the larger of its two roots onto the
    smaller, then paths are halved until every item points at a root; a few rounds suffice.
    """
    parent = np.arange(count)
    while True:
        root_left, root_right = parent[left], parent[right]
        apart = root_left != root_right
        if not apart.any():
            return parent
        low = np.minimum(root_left[apart], root_right[apart])
        np.minimum.at(parent, root_left[apart], low)
        np.minimum.at(parent, root_right[apart], low)
        while True:
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand


def _component_sums(label: np.ndarray, count: int, rows: np.ndarray, starts: np.ndarray,
                    ends: np.ndarray) -> dict[str, np.ndarray]:
    """Pixel count and first/second moments of each component, summed run by run in closed
    form (pixel centres x = start .. end-1, y = row)."""
    y = rows.astype(np.float64)
    x0 = starts.astype(np.float64)
    x1 = ends.astype(np.float64) - 1.0
    n = x1 - x0 + 1.0
    sum_x = (x0 + x1) * n / 2.0

    def squares(k: np.ndarray) -> np.ndarray:  # 0² + 1² + ... + k²
        return k * (k + 1.0) * (2.0 * k + 1.0) / 6.0

    per_run = {
        "n": n,
        "x": sum_x,
        "y": y * n,
        "xx": squares(x1) - squares(x0 - 1.0),
        "yy": y * y * n,
        "xy": y * sum_x,
    }
    return {key: np.bincount(label, weights=value, minlength=count)
            for key, value in per_run.items()}


def _principal_angles(sums: dict[str, np.ndarray]) -> np.ndarray:
    """The angle of each component's major axis, from its second central moments."""
    n = sums["n"]
    mean_x, mean_y = sums["x"] / n, sums["y"] / n
    cov_xx = sums["xx"] / n - mean_x**2
    cov_yy = sums["yy"] / n - mean_y**2
    cov_xy = sums["xy"] / n - mean_x * mean_y
    return 0.5 * np.arctan2(2.0 * cov_xy, cov_xx - cov_yy)


def _extents(label: np.ndarray, count: int, along: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-component minimum and maximum of a per-run-end coordinate [runs, 2]."""
    low = np.full(count, np.inf)
    high = np.full(count, -np.inf)
    np.minimum.at(low, label, along.min(axis=1))
    np.maximum.at(high, label, along.max(axis=1))
    return low, high


def _rectangles(label: np.ndarray, count: int, rows: np.ndarray, starts: np.ndarray,
                ends: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A small enclosing rectangle per component: (angle, u-range, v-range) in rotated axes.

    u runs along (cos a, sin a), v along (-sin a, cos a); angle 0 is the axis-aligned box.
    """
    angle = _principal_angles(_component_sums(label, count, rows, starts, ends))
    xs = np.stack([starts, ends - 1], axis=1).astype(np.float64)
    ys = np.repeat(rows[:, None].astype(np.float64), 2, axis=1)
    x_low, x_high = _extents(label, count, xs)
    y_low, y_high = _extents(label, count, ys)
    cos, sin = np.cos(angle)[label][:, None], np.sin(angle)[label][:, None]
    u_low, u_high = _extents(label, count, xs * cos + ys * sin)
    v_low, v_high = _extents(label, count, ys * cos - xs * sin)
    straight = (x_high - x_low) * (y_high - y_low)
    rotated = (u_high - u_low) * (v_high - v_low)
    turn = rotated < ROTATED_GAIN * straight
    return (np.where(turn, angle, 0.0),
            np.stack([np.where(turn, u_low, x_low), np.where(turn, u_high, x_high)], axis=1),
            np.stack([np.where(turn, v_low, y_low), np.where(turn, v_high, y_high)], axis=1))


def _corners(angle: float, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The four corners (x, y) of a rectangle given in rotated axes, clockwise from the one
    nearest the top left (the order rapidocr's boxes come in)."""
    cos, sin = np.cos(angle), np.sin(angle)
    uu = np.array([u[0], u[1], u[1], u[0]])
    vv = np.array([v[0], v[0], v[1], v[1]])
    points = np.stack([uu * cos - vv * sin, uu * sin + vv * cos], axis=1)
    first = int(np.argmin(points.sum(axis=1)))
    return np.roll(points, -first, axis=0)


def _mean_inside(prob: np.ndarray, angle: float, u: np.ndarray, v: np.ndarray) -> float:
    """Mean probability over the pixels a rectangle covers (rapidocr's "fast" box score,
    which fills the box polygon, its boundary included)."""
    height, width = prob.shape
    if angle == 0.0:
        x0, x1 = max(int(np.floor(u[0])), 0), min(int(np.ceil(u[1])), width - 1)
        y0, y1 = max(int(np.floor(v[0])), 0), min(int(np.ceil(v[1])), height - 1)
        return float(prob[y0:y1 + 1, x0:x1 + 1].mean())
    corners = _corners(angle, u, v)
    x0, y0 = np.clip(np.floor(corners.min(axis=0)).astype(int), 0, [width - 1, height - 1])
    x1, y1 = np.clip(np.ceil(corners.max(axis=0)).astype(int), 0, [width - 1, height - 1])
    yy, xx = np.mgrid[y0:y1 + 1, x0:x1 + 1]
    cos, sin = np.cos(angle), np.sin(angle)
    along, across = xx * cos + yy * sin, yy * cos - xx * sin
    inside = ((along >= u[0] - SLACK) & (along <= u[1] + SLACK)
              & (across >= v[0] - SLACK) & (across <= v[1] + SLACK))
    window = prob[y0:y1 + 1, x0:x1 + 1]
    return float(window[inside].mean()) if inside.any() else 0.0


def boxes_from_map(prob: np.ndarray, threshold: float = BINARY_THRESHOLD,
                   box_threshold: float = BOX_THRESHOLD, unclip_ratio: float = UNCLIP_RATIO,
                   max_candidates: int = MAX_CANDIDATES) -> MapBoxes:
    """Text rectangles from a [H, W] probability map, as DBPostProcess finds them."""
    empty = MapBoxes(np.zeros((0, 4, 2)), np.zeros(0), np.zeros(0))
    if not prob.size or float(prob.max()) <= threshold:  # most photos: no text at all
        return empty
    rows, starts, ends = _runs(binarise(prob, threshold))
    above, below = _touching_runs(rows, starts, ends, prob.shape[1])
    roots, label = np.unique(_root_labels(len(rows), above, below), return_inverse=True)
    count = min(len(roots), max_candidates)
    if len(roots) > max_candidates:
        keep = label < count
        rows, starts, ends, label = rows[keep], starts[keep], ends[keep], label[keep]
    angles, us, vs = _rectangles(label, count, rows, starts, ends)
    corners, scores, sides = [], [], []
    for index in range(count):
        u, v = us[index], vs[index]
        length, thickness = u[1] - u[0], v[1] - v[0]
        if min(length, thickness) < MIN_SIDE:
            continue
        score = _mean_inside(prob, float(angles[index]), u, v)
        if score < box_threshold:
            continue
        grow = length * thickness * unclip_ratio / (2.0 * (length + thickness))
        u, v = u + np.array([-grow, grow]), v + np.array([-grow, grow])
        if min(length, thickness) + 2.0 * grow < MIN_SIDE + 2:
            continue
        corners.append(_corners(float(angles[index]), u, v))
        scores.append(score)
        sides.append(min(length, thickness) + 2.0 * grow)
    if not corners:
        return empty
    return MapBoxes(np.stack(corners), np.array(scores), np.array(sides))
