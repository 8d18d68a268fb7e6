"""Would a smaller input or int8 do? Both measured against the engine's detector as shipped.

- input size: the longer side capped at 960 (a working-size picture is never scaled down),
  640, 512 and 448 px, each compared with 960: boxes kept, the >= 3-lines rate per photo
  group (the signal the head will use) and the milliseconds;
- int8: static QDQ (per-channel weights; the opset-12 graph converted to 13 first, which
  per-channel DequantizeLinear needs), calibrated on drawn pages and every 40th photo,
  compared with fp32 at TEXT_MAX_SIDE. It is measured, not shipped.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from training.common import drawn_text, ort_session
from training.text.agreement import Agreement
from xintud.engine.decode import decode_image
from xintud.engine.models.text import (
    TEXT_MAX_SIDE,
    boxes_as_fractions,
    summarise,
    text_input,
)

SIZES = (960, 640, 512, 448)
MANY_LINES = 3


def _run(session: Any, image: Image.Image, max_side: int) -> tuple[list[Any], float]:
    """Boxes for one picture and the milliseconds the network and post-processing took."""
    started = time.perf_counter()
    (prob,) = session.run(None, {"x": text_input(image, max_side)})
    boxes = boxes_as_fractions(prob[0, 0], image.size)
    return boxes, (time.perf_counter() - started) * 1000


def size_sweep(model: Path, groups: dict[str, list[Path]], sizes: Sequence[int] = SIZES
               ) -> dict[str, Any]:
    """Per size: agreement with the largest size, >= 3-lines rate per group, ms per photo."""
    session = ort_session(model)
    out: dict[str, Any] = {str(size): {"ms": [], "rates": {}, "agreement": {}}
                           for size in sizes}
    for group, paths in groups.items():
        agreements = {size: Agreement() for size in sizes}
        many = dict.fromkeys(sizes, 0)
        for path in paths:
            image = decode_image(path).image
            found = {}
            for size in sizes:
                found[size], ms = _run(session, image, size)
                out[str(size)]["ms"].append(ms)
                many[size] += summarise(found[size]).lines >= MANY_LINES
            for size in sizes:
                agreements[size].add([b.box for b in found[sizes[0]]],
                                     [b.box for b in found[size]])
        for size in sizes:
            out[str(size)]["rates"][group] = round(many[size] / max(len(paths), 1), 3)
            out[str(size)]["agreement"][group] = agreements[size].figures()
    for size in sizes:
        out[str(size)]["ms"] = round(float(np.mean(out[str(size)]["ms"])), 1)
    return out


def _calibration(groups: dict[str, list[Path]]) -> list[np.ndarray]:
    pictures = [drawn_text((448, 970), font, 12, font) for font in (12, 16, 24, 36)]
    pictures += [decode_image(p).image for paths in groups.values() for p in paths[3::40]]
    return [text_input(picture) for picture in pictures]


def quantize_int8(model: Path, target: Path, calibration: list[np.ndarray]) -> None:
    """Static QDQ int8 of the detector, calibrated on the given inputs."""
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._feeds = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            feed = next(self._feeds, None)
            return None if feed is None else {"x": feed}

        def rewind(self) -> None:
            self._feeds = iter(calibration)

    with tempfile.TemporaryDirectory() as scratch:
        opset13, prepared = Path(scratch) / "opset13.onnx", Path(scratch) / "prepared.onnx"
        onnx.save(version_converter.convert_version(onnx.load(str(model)), 13), str(opset13))
        # The graph's dynamic H/W defeat symbolic shape inference; ONNX's own is enough here.
        quant_pre_process(str(opset13), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(target), Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                        extra_options={"DedicatedQDQPair": True})


def int8_trial(model: Path, groups: dict[str, list[Path]]) -> dict[str, Any]:
    """int8 against fp32 at TEXT_MAX_SIDE: agreement and >= 3-lines rate per group, ms."""
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "text-int8.onnx"
        quantize_int8(model, target, _calibration(groups))
        fp32, int8 = ort_session(model), ort_session(target, log_severity=3)
        out: dict[str, Any] = {"bytes": target.stat().st_size, "groups": {}}
        ms: dict[str, list[float]] = {"fp32": [], "int8": []}
        for group, paths in groups.items():
            agreement, many = Agreement(), {"fp32": 0, "int8": 0}
            for path in paths:
                image = decode_image(path).image
                found = {}
                for name, session in (("fp32", fp32), ("int8", int8)):
                    found[name], took = _run(session, image, TEXT_MAX_SIDE)
                    ms[name].append(took)
                    many[name] += summarise(found[name]).lines >= MANY_LINES
                agreement.add([b.box for b in found["fp32"]], [b.box for b in found["int8"]])
            out["groups"][group] = {**agreement.figures(), "many_lines_fp32": many["fp32"],
                                    "many_lines_int8": many["int8"], "photos": len(paths)}
        out["ms"] = {name: round(float(np.mean(v)), 1) for name, v in ms.items()}
    return out
