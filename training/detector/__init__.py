"""The detector step of training.build: SSD-MobileNetV2-COCO → detector.onnx (+ int8).

Run it as ``python -m training.export_detector --out models/``. One module per job:

- model: tensor names, COCO labels, the source package; running an ONNX detector;
- images: the drawn scenes and photos it is checked on;
- convert: the frozen graph → ONNX with tf2onnx, provenance stamped into the file;
- verify: the ONNX model against TensorFlow, and batching;
- agreement: one ONNX model's decisions against another's (the int8 acceptance rule);
- quantize: the int8 variant; speed: timings;
- report: detector.json and coco_labels.json; pipeline: the steps in order, and the CLI.

TensorFlow, tf2onnx and onnx are imported only where they are used: this package imports
without the train-detector extras. The names below are what tests and callers use.
"""

from training.detector.agreement import Agreement, compare_models, iou
from training.detector.convert import convert_to_onnx, locate_frozen_graph, stamp_provenance
from training.detector.images import drawn_images, photo_images
from training.detector.model import (
    COCO_LABELS,
    INPUT_NAME,
    OUTPUT_NAMES,
    Detection,
    ExportError,
    TestImage,
    detect,
    make_session,
)
from training.detector.pipeline import main, parse_args
from training.detector.quantize import Int8Result, make_int8, quantize_weights_only
from training.detector.report import Report, write_labels, write_report
from training.detector.speed import Speed, measure_speed
from training.detector.verify import check_batching, verify_against_tf

__all__ = [
    "COCO_LABELS",
    "INPUT_NAME",
    "OUTPUT_NAMES",
    "Agreement",
    "Detection",
    "ExportError",
    "Int8Result",
    "Report",
    "Speed",
    "TestImage",
    "check_batching",
    "compare_models",
    "convert_to_onnx",
    "detect",
    "drawn_images",
    "iou",
    "locate_frozen_graph",
    "main",
    "make_int8",
    "make_session",
    "measure_speed",
    "parse_args",
    "photo_images",
    "quantize_weights_only",
    "stamp_provenance",
    "verify_against_tf",
    "write_labels",
    "write_report",
]
