"""training/reports/faces.json: the contracts, the provenance and the parity figures."""

from __future__ import annotations

import importlib.metadata
from dataclasses import asdict, dataclass, field
from pathlib import Path

from training.common import REPORTS, export_tool_versions, sha256_file, write_json
from training.faces.convert import PIXEL_MEAN, PIXEL_SCALE, contract
from training.faces.nets import SOURCE_LICENCE, SOURCE_PACKAGE
from training.faces.verify import NetParity, PipelineParity
from xintud.engine.models.faces import MIN_FACE_SIZE, SCALE_FACTOR, THRESHOLDS

DEFAULT_REPORT = REPORTS / "faces.json"
STANDING_NOTES = (
    "fp32 only: the three files are ~2 MB together; int8 did not keep the boxes (see int8)",
    "the pipeline between the nets (pyramid, NMS, regression, crops) is numpy in "
    "xintud/engine/models/faces.py; pipeline_parity compares it with facenet-pytorch's own "
    "detect_face run on the PyTorch nets (torchvision stood in for by training/faces/reference.py)",
)


@dataclass
class Report:
    """Everything written to training/reports/faces.json."""

    model: str
    files: dict[str, dict[str, object]]
    preprocessing: str
    pipeline: dict[str, object]
    provenance: dict[str, object]
    parity: list[NetParity]
    parity_tolerance: float
    pipeline_parity: list[PipelineParity]
    pipeline_tolerance_px: float
    photos: str
    int8: str
    notes: list[str] = field(default_factory=list)


def file_entries(paths: dict[str, Path]) -> dict[str, dict[str, object]]:
    """Each exported file's manifest-style entry (sha256, bytes, contract), by net name."""
    return {name: contract(name, path).model_dump(exclude={"labels", "accuracy"})
            for name, path in paths.items()}


def pipeline_constants() -> dict[str, object]:
    """The engine's MTCNN settings the figures were measured with."""
    return {"min_face_size_px": MIN_FACE_SIZE, "scale_factor": SCALE_FACTOR,
            "thresholds": list(THRESHOLDS), "nms": "0.5 per level, 0.7 union, 0.7 min (last)"}


def provenance(state_dicts: dict[str, Path]) -> dict[str, object]:
    """Where the weights and tools came from, with versions and hashes."""
    return {
        "weights_package": SOURCE_PACKAGE,
        "weights_package_version": importlib.metadata.version(SOURCE_PACKAGE),
        "weights_licence": SOURCE_LICENCE,
        "weights_files": {name: {"file": f"facenet_pytorch/data/{path.name}",
                                 "sha256": sha256_file(path)}
                          for name, path in state_dicts.items()},
        "architecture": "MTCNN P/R/O-net as in facenet_pytorch/models/mtcnn.py (per-channel "
                        "PReLU, ceil-mode max pooling, (W,H,C) flattening before dense layers), "
                        "written in training/faces/nets.py, state dicts loaded strictly",
        **export_tool_versions(),
    }


def preprocessing() -> str:
    """What the graphs do to their input, in words."""
    return (f"input float32 NHWC RGB pixels 0..255; in the graph (x - {PIXEL_MEAN}) * "
            f"{PIXEL_SCALE}, then NCHW; outputs: offsets, (landmarks,) face = softmax channel 1")


def write_report(report: Report, path: Path) -> None:
    """Write the report as indented JSON."""
    write_json(path, asdict(report), ensure_ascii=False)
