"""The backbone step of training.build: EfficientNet-Lite0 → backbone.onnx + backbone-int8.onnx.

Run it as ``python -m training.export_backbone --out models/``. One module per job:

- convert: the weights into training/efficientnet_lite.py, exported to ONNX (uint8 NHWC in);
- verify: ONNX Runtime against PyTorch; labels: imagenet_labels.json from timm's info files;
- photos: the evaluation and calibration photos; quantize: the int8 variant;
- score: accuracy, timings, int8 vs fp32; report: backbone.json; pipeline: the steps, the CLI.

Needs the ``train-backbone`` extras (torch, the weights package, onnx). The names below are
what tests and callers use.
"""

from training.backbone.convert import (
    INPUT_NAME,
    OUTPUT_NAMES,
    ImageBackbone,
    build_backbone,
    export_onnx,
    find_weights,
    torch_outputs,
)
from training.backbone.labels import ImagenetLabel, imagenet_labels, write_labels
from training.backbone.pipeline import main, parse_args
from training.backbone.quantize import quantize_int8
from training.backbone.score import accuracy, int8_agreement, score_model
from training.backbone.verify import ParityResult, check_parity, parity_failures

__all__ = [
    "INPUT_NAME",
    "OUTPUT_NAMES",
    "ImageBackbone",
    "ImagenetLabel",
    "ParityResult",
    "accuracy",
    "build_backbone",
    "check_parity",
    "export_onnx",
    "find_weights",
    "imagenet_labels",
    "int8_agreement",
    "main",
    "parity_failures",
    "parse_args",
    "quantize_int8",
    "score_model",
    "torch_outputs",
    "write_labels",
]
