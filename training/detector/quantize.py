"""The int8 detector: static QDQ on the conv backbone calibrated on photos (weights-only int8
when no photos are at hand), measured against fp32 before it may replace anything.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training.common import load_rgb, squashed
from training.detector.agreement import Agreement, compare_models
from training.detector.images import photo_paths
from training.detector.model import INPUT_NAME, MODEL_SIDE, TestImage, detect_all, make_session
from training.detector.speed import Speed

logger = logging.getLogger(__name__)

CALIBRATION_CATEGORIES = (
    "travel", "other", "single", "pets", "social", "food", "idphoto", "screenshot",
)
CALIBRATION_OFFSET = 40  # calibration photos start here: disjoint from the evaluation photos


@dataclass
class Int8Result:
    """Outcome of one int8 attempt."""

    method: str
    calibration_images: int
    bytes: int
    agreement: Agreement
    holds_up: bool
    written: bool
    sha256: str = ""
    speed: Speed | None = None


class PhotoCalibration:
    """Feeds 300x300 photos to onnxruntime's calibrator (a CalibrationDataReader)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._paths: Iterator[Path] = iter(paths)

    def get_next(self) -> dict[str, np.ndarray] | None:
        """Next calibration input, or None when done."""
        path = next(self._paths, None)
        if path is None:
            return None
        return {INPUT_NAME: squashed(load_rgb(path), MODEL_SIDE, MODEL_SIDE)[None]}


def calibration_paths(photos: Path | None, per_category: int) -> list[Path]:
    """Photos of every category, taken past the evaluation photos (the last ones if few)."""
    if photos is None:
        return []
    chosen = []
    for category in CALIBRATION_CATEGORIES:
        every = photo_paths(photos, category, 0, 10**6)
        start = min(CALIBRATION_OFFSET, max(len(every) - per_category, 0))
        chosen += every[start:start + per_category]
    return chosen


def backbone_nodes(model: Any) -> list[str]:
    """Nodes of the feature extractor and box predictors; pre/post-processing stays float.

    tf2onnx names the convs it fuses 'Conv__N'; those are all backbone convs.
    """
    prefixes = ("FeatureExtractor/", "BoxPredictor_", "Conv__")
    return [node.name for node in model.graph.node if node.name.startswith(prefixes)]


def quantize_static_backbone(fp32_path: Path, out_path: Path, calibration: Sequence[Path],
                             workdir: Path) -> None:
    """Static QDQ int8 (per-channel weights, uint8 activations) on the backbone's Conv/Clip/Add.

    Postprocessing (box decoding, NMS, the class-id +1) is left float: quantizing the final Add
    would round the class ids.
    """
    import onnx
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = workdir / "prepared.onnx"
    # Folds the depthwise BatchNorm Mul/Add into the convs so they quantize as one node.
    quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
    nodes = backbone_nodes(onnx.load(str(prepared), load_external_data=False))
    quantize_static(
        str(prepared), str(out_path), PhotoCalibration(calibration),
        quant_format=QuantFormat.QDQ, per_channel=True,
        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        op_types_to_quantize=["Conv", "Clip", "Add"], nodes_to_quantize=nodes,
        calibrate_method=CalibrationMethod.MinMax,
    )


def quantize_weights_only(fp32_path: Path, out_path: Path) -> None:
    """Conv weights stored int8 (symmetric, per output channel) behind DequantizeLinear.

    Compute stays float, so it is no faster, but needs no calibration images.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(fp32_path))
    initializers = {init.name: init for init in model.graph.initializer}
    dequantize_nodes = []
    for node in model.graph.node:
        if node.op_type != "Conv" or node.input[1] not in initializers:
            continue
        name = node.input[1]
        weights = numpy_helper.to_array(initializers[name])
        scale = np.abs(weights).reshape(weights.shape[0], -1).max(axis=1) / 127.0
        scale[scale == 0] = 1.0
        shaped = scale.reshape((-1,) + (1,) * (weights.ndim - 1))
        quantized = np.clip(np.round(weights / shaped), -127, 127).astype(np.int8)
        model.graph.initializer.remove(initializers[name])
        model.graph.initializer.extend([
            numpy_helper.from_array(quantized, f"{name}_int8"),
            numpy_helper.from_array(scale.astype(np.float32), f"{name}_scale"),
            numpy_helper.from_array(np.zeros(weights.shape[0], np.int8), f"{name}_zero"),
        ])
        dequantize_nodes.append(helper.make_node(
            "DequantizeLinear", [f"{name}_int8", f"{name}_scale", f"{name}_zero"],
            [f"{name}_dq"], name=f"{name}_DequantizeLinear", axis=0,
        ))
        node.input[1] = f"{name}_dq"
    # The dequantize nodes read only initializers, so putting them first keeps the order valid.
    nodes = dequantize_nodes + list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    onnx.save(model, str(out_path))


def make_int8(fp32_path: Path, workdir: Path, photos: Path | None,
              eval_images: Sequence[TestImage], calibration_per_category: int
              ) -> tuple[Int8Result, Path]:
    """Build the int8 variant in workdir and measure its agreement with fp32."""
    candidate = workdir / "detector-int8.onnx"
    calibration = calibration_paths(photos, calibration_per_category)
    if calibration:
        logger.info("int8: static QDQ calibrated on %d photos", len(calibration))
        quantize_static_backbone(fp32_path, candidate, calibration, workdir)
        method = "static QDQ int8 on the backbone Conv/Clip/Add (per-channel, MinMax), post float"
    else:
        logger.warning("int8: no calibration photos; falling back to weights-only int8")
        quantize_weights_only(fp32_path, candidate)
        method = "weights-only int8 (Conv weights per-channel behind DequantizeLinear)"
    pixels = [img.pixels for img in eval_images]
    agreement = compare_models(detect_all(make_session(fp32_path), pixels),
                               detect_all(make_session(candidate), pixels))
    result = Int8Result(method=method, calibration_images=len(calibration),
                        bytes=candidate.stat().st_size, agreement=agreement,
                        holds_up=agreement.holds_up(), written=False)
    return result, candidate
