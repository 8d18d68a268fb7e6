"""detector.json and coco_labels.json: the figures, the tools and the provenance."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from training.common import REPORTS, sha256_file, write_json
from training.detector.model import (
    COCO_LABELS,
    SOURCE_FILE,
    SOURCE_LICENCE,
    SOURCE_MODEL,
    SOURCE_PACKAGE,
    make_session,
)
from training.detector.quantize import Int8Result
from training.detector.speed import Speed

logger = logging.getLogger(__name__)

DEFAULT_REPORT = REPORTS / "detector.json"
TOOLS = ("tensorflow-cpu", "tf2onnx", "onnx", "onnxruntime", "numpy", "pillow")


@dataclass
class Report:
    """Everything training/reports/detector.json says."""

    source: dict[str, Any]
    tools: dict[str, str]
    onnx: dict[str, Any]
    verification_vs_tf: dict[str, Any]
    labels: dict[str, Any] = field(default_factory=dict)
    speed_fp32: Speed | None = None
    pre_resize_300: dict[str, Any] = field(default_factory=dict)
    int8: Int8Result | None = None
    opset_survey: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def tool_versions() -> dict[str, str]:
    """Versions of the tools that shape the output."""
    versions = {"python": platform.python_version()}
    for name in TOOLS:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def source_provenance(pb_path: Path) -> dict[str, Any]:
    """Where the frozen graph came from, with its hash."""
    return {
        "package": SOURCE_PACKAGE,
        "version": importlib.metadata.version(SOURCE_PACKAGE),
        "file": SOURCE_FILE,
        "model": SOURCE_MODEL,
        "licence": SOURCE_LICENCE,
        "sha256": sha256_file(pb_path),
        "bytes": pb_path.stat().st_size,
    }


def describe_io(onnx_path: Path) -> dict[str, Any]:
    """Names, element types and shapes of the model's inputs and outputs."""
    session = make_session(onnx_path)

    def entry(arg: Any) -> dict[str, Any]:
        shape = [dim if isinstance(dim, int) else "dynamic" for dim in arg.shape]
        return {"name": arg.name, "type": arg.type, "shape": shape}

    return {
        "inputs": [entry(arg) for arg in session.get_inputs()],
        "outputs": [entry(arg) for arg in session.get_outputs()],
    }


def start_report(provenance: dict[str, Any], fp32_path: Path, opset: int,
                 verification: dict[str, Any]) -> Report:
    """The report's provenance, tool and model sections."""
    io = describe_io(fp32_path)
    io.update({"path": fp32_path.name, "opset": opset,
               "bytes": fp32_path.stat().st_size, "sha256": sha256_file(fp32_path)})
    report = Report(source=provenance, tools=tool_versions(), onnx=io,
                    verification_vs_tf=verification)
    report.notes.append(
        "tf2onnx output is not byte-identical between runs (duplicate nodes merged in a "
        "different order, so names differ) but computes identical outputs; "
        "tests/test_training_detector.py checks a fresh conversion against models/ by output."
    )
    return report


def write_labels(path: Path) -> dict[str, Any]:
    """Write coco_labels.json: {"1": "person", ...} for the ids the model outputs."""
    payload = {str(k): v for k, v in sorted(COCO_LABELS.items())}
    # indent=1, unlike the reports: the shipped file keeps the layout it has always had.
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return {
        "path": path.name,
        "count": len(payload),
        "source": "tensorflow/models research/object_detection/data/mscoco_label_map.pbtxt "
                  "(display_name by id; ids 1..90 with gaps)",
    }


def write_report(report: Report, path: Path) -> None:
    """Write the JSON report."""
    write_json(path, asdict(report))
    logger.info("report written to %s", path)
