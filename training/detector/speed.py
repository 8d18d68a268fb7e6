"""Speed of a detector file, what our own resize costs, and what resizing first changes."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from training.common import squashed
from training.detector.agreement import Agreement, compare_models
from training.detector.model import MODEL_SIDE, TestImage, detect_all, make_session, run_onnx


@dataclass
class Speed:
    """Median ms per image with onnxruntime CPU, INTRA_OP_THREADS threads."""

    ms_640x480: float
    ms_300x300: float
    ms_4032x3024: float
    load_average_1min: float  # the machine is shared: read the figures against this


def median_ms(session: Any, inputs: Sequence[np.ndarray], repeats: int) -> float:
    """Median wall time of one inference in ms over repeats passes (after one warm-up pass)."""
    for pixels in inputs:
        run_onnx(session, pixels[None])
    times = []
    for _ in range(repeats):
        for pixels in inputs:
            start = time.perf_counter()
            run_onnx(session, pixels[None])
            times.append((time.perf_counter() - start) * 1000.0)
    return round(statistics.median(times), 2)


def measure_speed(onnx_path: Path, images: Sequence[TestImage], repeats: int) -> Speed:
    """ms/image for 640x480 input, for input pre-resized to 300x300, and for a 12 MP input."""
    session = make_session(onnx_path)
    big = [squashed(images[0].pixels, 4032, 3024)]
    load = round(os.getloadavg()[0], 2)
    return Speed(
        ms_640x480=median_ms(session, [squashed(i.pixels, 640, 480) for i in images], repeats),
        ms_300x300=median_ms(session, [squashed(i.pixels, 300, 300) for i in images], repeats),
        ms_4032x3024=median_ms(session, big, max(2, repeats // 2)),
        load_average_1min=load,
    )


def measure_resize_ms(images: Sequence[TestImage], repeats: int) -> dict[str, float]:
    """What our own Pillow resize to 300x300 costs, from 640x480 and from 12 MP."""
    result = {}
    for width, height in ((640, 480), (4032, 3024)):
        source = Image.fromarray(squashed(images[0].pixels, width, height))
        times = []
        for _ in range(max(3, repeats)):
            start = time.perf_counter()
            source.resize((MODEL_SIDE, MODEL_SIDE), Image.Resampling.BILINEAR)
            times.append((time.perf_counter() - start) * 1000.0)
        result[f"pillow_resize_{width}x{height}_to_300_ms"] = round(statistics.median(times), 2)
    return result


def pre_resize_effect(onnx_path: Path, images: Sequence[TestImage]) -> Agreement:
    """Detections on 640x480 input vs the same image resized by Pillow to 300x300 first."""
    session = make_session(onnx_path)
    full = detect_all(session, [squashed(i.pixels, 640, 480) for i in images])
    small = detect_all(session, [squashed(i.pixels, MODEL_SIDE, MODEL_SIDE) for i in images])
    return compare_models(full, small)
