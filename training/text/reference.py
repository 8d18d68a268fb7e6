"""rapidocr's own detector (OpenCV, pyclipper, shapely), the yardstick for the engine's numpy one.

Two ways to compare: the whole detector on a picture (rapidocr resizes with OpenCV, the engine
with Pillow), and the post-processing alone on one probability map (the same numbers in, so
any difference is the numpy approximation of contours, minAreaRect and unclip).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from xintud.engine.models.dbmap import (
    BINARY_THRESHOLD,
    BOX_THRESHOLD,
    MAX_CANDIDATES,
    UNCLIP_RATIO,
)
from xintud.engine.models.text import TEXT_MAX_SIDE, TEXT_MEAN, TEXT_STD

Box = tuple[float, float, float, float]


def reference_config(model: Path, max_side: int = TEXT_MAX_SIDE, limit_type: str = "max",
                     threads: int = 2) -> dict[str, Any]:
    """rapidocr's Det settings with the engine's input limit (limit_type "min", max_side 736
    is rapidocr's default: it scales pictures *up* to a 736 px shorter side)."""
    return {
        "model_path": str(model), "use_cuda": False, "use_dml": False,
        "intra_op_num_threads": threads, "inter_op_num_threads": 1,
        "limit_side_len": max_side, "limit_type": limit_type,
        "mean": list(TEXT_MEAN), "std": list(TEXT_STD),
        "thresh": BINARY_THRESHOLD, "box_thresh": BOX_THRESHOLD,
        "max_candidates": MAX_CANDIDATES, "unclip_ratio": UNCLIP_RATIO,
        "use_dilation": True, "score_mode": "fast",
    }


class ReferenceDetector:
    """rapidocr-onnxruntime's TextDetector, fed BGR as rapidocr's own loader feeds it."""

    def __init__(self, model: Path, max_side: int = TEXT_MAX_SIDE, limit_type: str = "max"
                 ) -> None:
        from rapidocr_onnxruntime.ch_ppocr_det import TextDetector
        from rapidocr_onnxruntime.ch_ppocr_det.utils import DBPostProcess, DetPreProcess

        config = reference_config(model, max_side, limit_type)
        self._detector = TextDetector(config)
        if limit_type == "max":
            # TextDetector ignores limit_side_len for "max" (it picks 960, 1500 or 2000 by
            # the picture's size); pin it to the engine's limit so both see the same pixels.
            fixed = DetPreProcess(max_side, "max", config["mean"], config["std"])
            self._detector.get_preprocess = lambda _longer_side: fixed
        self._post = DBPostProcess(
            thresh=BINARY_THRESHOLD, box_thresh=BOX_THRESHOLD, max_candidates=MAX_CANDIDATES,
            unclip_ratio=UNCLIP_RATIO, score_mode="fast", use_dilation=True)

    def boxes(self, image: Image.Image) -> list[Box]:
        """Axis-aligned hulls of rapidocr's boxes, as fractions of the picture."""
        bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
        found, _ = self._detector(bgr)
        if found is None or len(found) == 0:
            return []
        return hulls(np.asarray(found, dtype=np.float64), image.width, image.height)

    def map_boxes(self, prob: np.ndarray) -> tuple[list[Box], list[float]]:
        """DBPostProcess alone on a [H, W] map: box hulls in map pixels and their scores."""
        height, width = prob.shape
        found, scores = self._post(prob[None, None], (height, width))
        if len(found) == 0:
            return [], []
        return hulls(np.asarray(found, dtype=np.float64), 1, 1), [float(s) for s in scores]


def hulls(corners: np.ndarray, width: float, height: float) -> list[Box]:
    """(xmin, ymin, xmax, ymax) of each [4, 2] corner set, divided by width and height."""
    low, high = corners.min(axis=1), corners.max(axis=1)
    return [(float(a[0] / width), float(a[1] / height), float(b[0] / width),
             float(b[1] / height)) for a, b in zip(low, high, strict=True)]
