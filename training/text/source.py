"""Where the text detector comes from: the PP-OCRv4 det ONNX file inside rapidocr-onnxruntime.

The file is used as the package ships it (no conversion): it is found through the installed
distribution's RECORD, checked against the sha256 the wheel recorded for it, and copied. Its
graph contract (input/output names, shapes, types) and rapidocr's own detection settings
(config.yaml) go into the report, so the engine's constants can be checked against them.
"""

from __future__ import annotations

import base64
import shutil
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from training.common import ort_session, sha256_file

PACKAGE = "rapidocr-onnxruntime"
VERSION = "1.4.4"
WHEEL_PATH = "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx"
CONFIG_PATH = "rapidocr_onnxruntime/config.yaml"
OUTPUT_NAME = "text.onnx"


class SourceError(Exception):
    """The package is missing, of another version, or its file does not match its RECORD."""


@dataclass(frozen=True)
class SourceModel:
    """The detector file as the installed package holds it."""

    path: Path
    package: str
    version: str
    licence: str
    wheel_path: str
    sha256: str
    bytes: int


def _record_sha256(entry: metadata.PackagePath) -> str:
    """The hex sha256 a wheel's RECORD gives for a file (RECORD stores urlsafe base64)."""
    if entry.hash is None or entry.hash.mode != "sha256":
        raise SourceError(f"{PACKAGE}'s RECORD has no sha256 for {entry}")
    padded = entry.hash.value + "=" * (-len(entry.hash.value) % 4)
    return base64.urlsafe_b64decode(padded).hex()


def _record_entry(dist: metadata.Distribution, wheel_path: str) -> metadata.PackagePath:
    for entry in dist.files or []:
        if str(entry) == wheel_path:
            return entry
    raise SourceError(f"{PACKAGE} {dist.version} does not list {wheel_path}")


def find_model(wheel_path: str = WHEEL_PATH) -> SourceModel:
    """The installed package's detector file, after checking version and RECORD hash."""
    try:
        dist = metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError as exc:
        raise SourceError(f"{PACKAGE} is not installed: pip install '{PACKAGE}=={VERSION}' "
                          "(or pip install -e '.[train-text]')") from exc
    if dist.version != VERSION:
        raise SourceError(f"{PACKAGE} {dist.version} is installed; this step is pinned to "
                          f"{VERSION} (pip install '{PACKAGE}=={VERSION}')")
    entry = _record_entry(dist, wheel_path)
    path = Path(str(dist.locate_file(entry)))
    actual = sha256_file(path)
    if actual != _record_sha256(entry):
        raise SourceError(f"{path} does not match the sha256 in {PACKAGE}'s RECORD: reinstall "
                          f"it (pip install --force-reinstall '{PACKAGE}=={VERSION}')")
    return SourceModel(path=path, package=PACKAGE, version=dist.version,
                       licence=str(dist.metadata["License"]), wheel_path=wheel_path,
                       sha256=actual, bytes=path.stat().st_size)


def copy_model(source: SourceModel, out: Path) -> Path:
    """Copy the file into out/ as text.onnx (byte for byte) and return its path."""
    out.mkdir(parents=True, exist_ok=True)
    target = out / OUTPUT_NAME
    shutil.copyfile(source.path, target)
    if sha256_file(target) != source.sha256:
        raise SourceError(f"copying {source.path} to {target} changed its bytes")
    return target


def graph_contract(path: Path) -> dict[str, Any]:
    """Opset, producer and the input/output names, shapes and types of an ONNX file."""
    session = ort_session(path, threads=1)
    meta = session.get_modelmeta()

    def described(items: list[Any]) -> list[dict[str, Any]]:
        return [{"name": i.name, "shape": list(i.shape), "type": i.type} for i in items]

    return {"producer": meta.producer_name, "graph": meta.graph_name,
            "inputs": described(session.get_inputs()),
            "outputs": described(session.get_outputs())}


def reference_settings() -> dict[str, Any]:
    """rapidocr's detection settings: the Det section of its config.yaml."""
    import yaml

    dist = metadata.distribution(PACKAGE)
    config = yaml.safe_load(Path(str(dist.locate_file(CONFIG_PATH))).read_text())
    det = dict(config["Det"])
    det.pop("model_path", None)
    return det
