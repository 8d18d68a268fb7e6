"""The converted model checked against TensorFlow running the frozen graph itself.

TF and ONNX must match to float noise: the same detections both ways, scores and boxes within
TF_SCORE_TOL / TF_BOX_TOL, and the dense pre-NMS tensors within TF_RAW_TOL.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training.common import squashed
from training.detector.convert import load_graph_def
from training.detector.model import (
    COCO_LABELS,
    INPUT_NAME,
    OUTPUT_NAMES,
    RAW_OUTPUTS,
    TF_MIN_SCORE,
    Detection,
    TestImage,
    make_session,
    run_onnx,
    to_detections,
)

logger = logging.getLogger(__name__)

TF_SCORE_TOL = 2e-3
TF_BOX_TOL = 2e-3
TF_RAW_TOL = 1e-3


@dataclass
class ImageCheck:
    """TensorFlow vs ONNX on one image."""

    image: str
    shape: list[int]
    tf_detections: int
    onnx_detections: int
    max_score_diff: float
    max_box_diff: float
    max_raw_box_encoding_diff: float
    max_raw_score_diff: float
    top: list[str]
    passed: bool


class TfDetector:
    """The frozen graph run by TensorFlow itself: the reference."""

    def __init__(self, pb_path: Path) -> None:
        import tensorflow as tf

        graph = tf.Graph()
        with graph.as_default():
            tf.import_graph_def(load_graph_def(pb_path), name="")
        self._session = tf.compat.v1.Session(graph=graph)

    def run(self, batch: np.ndarray, names: Sequence[str] = OUTPUT_NAMES) -> list[np.ndarray]:
        """Tensors named (default: boxes, classes, scores, num_detections) for a uint8 batch."""
        return self._session.run(list(names), {INPUT_NAME: batch})

    def close(self) -> None:
        """Free the TensorFlow session."""
        self._session.close()


def with_raw_outputs(onnx_path: Path, out_path: Path) -> Path:
    """A copy of the model that also outputs RAW_OUTPUTS (tf2onnx keeps TF's tensor names)."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(onnx_path))
    for name in RAW_OUTPUTS:
        model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    onnx.save(model, str(out_path))
    return out_path


def box_distance(a: Detection, b: Detection) -> float:
    """Largest coordinate difference between two detections' boxes."""
    return max(abs(p - q) for p, q in zip(a.box, b.box, strict=True))


def find_twin(detection: Detection, candidates: Sequence[Detection]) -> Detection | None:
    """The candidate of the same class whose box is nearest to detection's box."""
    same = [c for c in candidates if c.label == detection.label]
    if not same:
        return None
    return min(same, key=lambda c: box_distance(c, detection))


def check_image(name: str, pixels: np.ndarray, tf_model: TfDetector, session: Any) -> ImageCheck:
    """Compare TF and ONNX detections (score >= TF_MIN_SCORE) on one image, both ways."""
    batch = pixels[None]
    names = OUTPUT_NAMES + RAW_OUTPUTS
    tf_out, onnx_out = tf_model.run(batch, names), run_onnx(session, batch, names)
    raw_diffs = [float(np.abs(a - b).max()) for a, b in zip(tf_out[4:], onnx_out[4:], strict=True)]
    # The other side is searched with a lower floor, so a score right at the cut cannot fail it.
    reference_all = to_detections(tf_out[:4], min_score=TF_MIN_SCORE - 0.01)
    converted_all = to_detections(onnx_out[:4], min_score=TF_MIN_SCORE - 0.01)
    reference = [d for d in reference_all if d.score >= TF_MIN_SCORE]
    converted = [d for d in converted_all if d.score >= TF_MIN_SCORE]
    score_diff, box_diff, passed = 0.0, 0.0, True
    for ours, theirs in ((reference, converted_all), (converted, reference_all)):
        for detection in ours:
            twin = find_twin(detection, theirs)
            if twin is None:
                passed = False
                continue
            score_diff = max(score_diff, abs(twin.score - detection.score))
            box_diff = max(box_diff, box_distance(twin, detection))
    passed = (passed and score_diff <= TF_SCORE_TOL and box_diff <= TF_BOX_TOL
              and max(raw_diffs) <= TF_RAW_TOL)
    top = [f"{COCO_LABELS.get(d.label, d.label)} {d.score:.3f}" for d in reference[:5]]
    return ImageCheck(name, list(pixels.shape), len(reference), len(converted),
                      score_diff, box_diff, raw_diffs[0], raw_diffs[1], top, passed)


def log_check(check: ImageCheck) -> None:
    """One log line per image: the figures, and whether they are within tolerance."""
    level = logging.INFO if check.passed else logging.ERROR
    logger.log(level, "TF vs ONNX %-24s dets %d/%d  d_score %.1e  d_box %.1e  raw %.1e %.1e %s",
               check.image, check.tf_detections, check.onnx_detections,
               check.max_score_diff, check.max_box_diff, check.max_raw_box_encoding_diff,
               check.max_raw_score_diff, "ok" if check.passed else "FAIL")


def verify_against_tf(pb_path: Path, onnx_path: Path, images: Sequence[TestImage]
                      ) -> dict[str, Any]:
    """Run TF and ONNX on every image; the result says per image whether they agree."""
    tf_model = TfDetector(pb_path)
    with tempfile.TemporaryDirectory() as tmp:
        session = make_session(with_raw_outputs(onnx_path, Path(tmp) / "raw.onnx"))
        try:
            checks = [check_image(img.name, img.pixels, tf_model, session) for img in images]
        finally:
            tf_model.close()
    for check in checks:
        log_check(check)
    return {
        "min_score": TF_MIN_SCORE,
        "score_tolerance": TF_SCORE_TOL,
        "box_tolerance": TF_BOX_TOL,
        "raw_tensors": list(RAW_OUTPUTS),
        "raw_tolerance": TF_RAW_TOL,
        "passed": all(c.passed for c in checks),
        "images": [asdict(c) for c in checks],
    }


def check_batching(onnx_path: Path, images: Sequence[TestImage]) -> dict[str, Any]:
    """Does a batch of 2 (same size) give the same detections as two single runs?"""
    session = make_session(onnx_path)
    first, second = (squashed(img.pixels, 640, 480) for img in images[:2])
    batch = np.stack([first, second])
    try:
        outputs = run_onnx(session, batch)
    except Exception as error:  # noqa: BLE001 - any runtime failure means "batch does not work"
        return {"batch_2_works": False, "error": str(error)}
    worst = 0.0
    for index, pixels in enumerate((first, second)):
        single = run_onnx(session, pixels[None])
        for got, want in zip(outputs[:3], single[:3], strict=True):
            worst = max(worst, float(np.abs(got[index] - want[0]).max()))
    return {
        "batch_2_works": worst <= TF_SCORE_TOL,
        "output_shapes": [list(o.shape) for o in outputs],
        "max_abs_diff_vs_single": worst,
        "note": "all images of a batch must share H and W (one NHWC tensor)",
    }
