"""training/reports/backbone.json: the contract, the provenance and every measured figure."""

from __future__ import annotations

import importlib.metadata
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from training.backbone.convert import (
    INPUT_NAME,
    PIXEL_MEAN,
    PIXEL_SCALE,
    WEIGHTS_LICENCE,
    WEIGHTS_PACKAGE,
)
from training.backbone.labels import TIMM_VERSION, timm_source
from training.backbone.score import Int8Agreement, ModelScore
from training.backbone.verify import ParityResult
from training.common import REPORTS, export_tool_versions, sha256_file, write_json

DEFAULT_REPORT = REPORTS / "backbone.json"
STANDING_NOTES = (
    "timings: onnxruntime CPU, 2 intra-op threads, decode/resize excluded, measured on the "
    "build machine (which may be shared); the best run is the fairer figure",
    "int8 uses uint8 x int8 kernels: full speed and these accuracy figures need AVX512-VNNI "
    "or AVX-VNNI; on AVX2-only CPUs onnxruntime's u8s8 path can saturate, so compare int8 "
    "with fp32 there before relying on it",
)


@dataclass
class Report:
    """Everything written to training/reports/backbone.json."""

    model: str
    input_contract: dict[str, object]
    provenance: dict[str, object]
    parity: list[ParityResult]
    parity_tolerance: dict[str, float]
    calibration: dict[str, object]
    evaluation_set: dict[str, object]
    fp32: ModelScore
    int8: ModelScore
    int8_vs_fp32: Int8Agreement | None
    labels: dict[str, object]
    notes: list[str] = field(default_factory=list)


def provenance(weights: Path, timm_wheel: Path | None) -> dict[str, object]:
    """Where the weights and tools came from, with versions and hashes."""
    return {
        "weights_package": WEIGHTS_PACKAGE,
        "weights_package_version": importlib.metadata.version(WEIGHTS_PACKAGE),
        "weights_licence": WEIGHTS_LICENCE,
        "weights_file": weights.name,
        "weights_sha256": sha256_file(weights),
        "architecture": "EfficientNet-Lite0 (no SE, ReLU6, TF same padding, BN eps 1e-3)",
        "labels_source": f"timm {TIMM_VERSION} data/_info: {timm_source(timm_wheel)}",
        **export_tool_versions(),
        "load_average_at_timing": [round(v, 2) for v in os.getloadavg()],
    }


def input_contract(opset: int) -> dict[str, object]:
    """The tensor contract the daemon must honour when feeding the model."""
    return {
        "input": {"name": INPUT_NAME, "dtype": "uint8", "shape": ["N", 224, 224, 3]},
        "layout": "NHWC RGB",
        "preprocessing_in_graph": f"(x - {PIXEL_MEAN:g}) / {PIXEL_SCALE:g}, then NCHW",
        "outputs": {
            "embedding": {"dtype": "float32", "shape": ["N", 1280]},
            "logits": {"dtype": "float32", "shape": ["N", 1000]},
        },
        "recommended_resize": "short side 256 bilinear, centre crop 224",
        "opset": opset,
    }


def write_report(report: Report, path: Path) -> None:
    """Write the report as indented JSON."""
    write_json(path, asdict(report), ensure_ascii=False)
