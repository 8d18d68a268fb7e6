"""The text step: PP-OCRv4 det from rapidocr-onnxruntime 1.4.4 → text.onnx, checked and reported.

Run it as ``python -m training.text --out models/``. One module per job:

- source: the file in the installed wheel (RECORD-checked), copied; its graph contract and
  rapidocr's own settings;
- reference: rapidocr's detector (OpenCV, pyclipper), the yardstick;
- agreement: boxes matched one to one by IoU, counted over pictures;
- pipeline: the steps, the comparisons on drawn pages and photos, the report, the CLI.

Needs the ``train-text`` extra (rapidocr-onnxruntime); never imported by the daemon.
"""

from training.text.agreement import MATCH_IOU, Agreement, iou_matrix, matched_ious
from training.text.pipeline import (
    INPUT_NAME,
    OUTPUT_NAMES,
    drawn_pictures,
    engine_contract,
    main,
    parse_args,
)
from training.text.reference import ReferenceDetector
from training.text.source import OUTPUT_NAME, SourceError, SourceModel, copy_model, find_model

__all__ = [
    "INPUT_NAME",
    "MATCH_IOU",
    "OUTPUT_NAME",
    "OUTPUT_NAMES",
    "Agreement",
    "ReferenceDetector",
    "SourceError",
    "SourceModel",
    "copy_model",
    "drawn_pictures",
    "engine_contract",
    "find_model",
    "iou_matrix",
    "main",
    "matched_ious",
    "parse_args",
]
