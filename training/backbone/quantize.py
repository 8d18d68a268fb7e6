"""backbone-int8.onnx: static QDQ int8 calibrated on photos outside the evaluation set."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from training.backbone.convert import INPUT_NAME

QUANTISATION_METHOD = (
    "onnxruntime static QDQ: per-channel int8 weights, uint8 activations (MinMax), "
    "dedicated Q/DQ pair per consumer"
)


class ArrayCalibrationReader(CalibrationDataReader):
    """Feeds calibration images to the quantiser one at a time."""

    def __init__(self, images: np.ndarray) -> None:
        self._images = images
        self._iterator: Iterator[dict[str, np.ndarray]] = self._feeds()

    def _feeds(self) -> Iterator[dict[str, np.ndarray]]:
        for image in self._images:
            yield {INPUT_NAME: image[None]}

    def get_next(self) -> dict[str, np.ndarray] | None:
        """The next single-image feed, or None when all have been given."""
        return next(self._iterator, None)

    def rewind(self) -> None:
        """Start again from the first image (the calibrator may read them twice)."""
        self._iterator = self._feeds()


def quantize_int8(fp32_path: Path, int8_path: Path, calibration: np.ndarray) -> None:
    """Static QDQ int8 (per-channel weights, MinMax activations) calibrated on `calibration`.

    uint8 activations with int8 weights and one Q/DQ pair per consumer: with int8 activations
    or shared DQ nodes, ORT leaves the convolutions feeding residual adds in float and the
    model runs barely faster than fp32 (measured ~22 vs ~4 ms/image).
    """
    with tempfile.TemporaryDirectory() as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        # Shape inference + graph fusions first, so the quantiser sees the final op layout.
        quant_pre_process(str(fp32_path), str(prepared))
        quantize_static(
            str(prepared),
            str(int8_path),
            ArrayCalibrationReader(calibration),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            extra_options={"DedicatedQDQPair": True},
        )
    onnx.checker.check_model(onnx.load(str(int8_path)))
