"""What the training steps share: where things live, the development photos, hashes, ONNX Runtime
sessions, drawn test images and the JSON reports.

Each step used to carry its own copy of these; they live here once so that every step reads the
photos, hashes a file and opens a model the same way. Only training/ imports this module.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# The package's hash is the one the manifest is checked with at run time: training uses the same
# function rather than a copy, and the steps take it from here so only this line names xintud's.
from xintud.core.hashing import sha256_file

if TYPE_CHECKING:
    import onnxruntime as ort

__all__ = [
    "DEFAULT_PHOTOS",
    "MODELS",
    "PHOTO_MANIFEST",
    "REPO",
    "REPORTS",
    "draw_blob",
    "drawn_scenes",
    "drawn_squares",
    "drawn_text",
    "has_photo_manifest",
    "load_rgb",
    "noise_squares",
    "open_rgb",
    "ort_session",
    "photo_files",
    "read_photo_manifest",
    "read_report",
    "sha256_file",
    "squashed",
    "striped_noise",
    "write_json",
]

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"
REPORTS = REPO / "training" / "reports"
# The labelled development photos sit beside the repository, never inside it (licences).
DEFAULT_PHOTOS = REPO.parent / "shared" / "photos"
PHOTO_MANIFEST = "manifest.csv"
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})


# --- development photos -----------------------------------------------------------------------


def has_photo_manifest(photos: Path) -> bool:
    """True when photos/ holds the labelled photos (its manifest.csv is there)."""
    return (photos / PHOTO_MANIFEST).is_file()


def read_photo_manifest(photos: Path) -> list[dict[str, str]]:
    """Rows of photos/manifest.csv: category, file (relative to photos/), repo, path, ..."""
    with (photos / PHOTO_MANIFEST).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def photo_files(photos: Path, category: str = "*") -> list[Path]:
    """Image files of one category folder (default: of every one), in path order.

    Path order keeps every selection made from the list the same across runs and machines.
    """
    return sorted(p for p in photos.glob(f"{category}/*") if p.suffix.lower() in PHOTO_SUFFIXES)


def open_rgb(path: Path) -> Image.Image:
    """Decode an image file to an RGB Pillow image."""
    with Image.open(path) as opened:
        # Palette images with transparency go through RGBA so Pillow does not warn; the RGB
        # values are the same either way.
        has_alpha = opened.mode == "P" and "transparency" in opened.info
        return (opened.convert("RGBA") if has_alpha else opened).convert("RGB")


def load_rgb(path: Path) -> np.ndarray:
    """Decode an image file to RGB uint8 (H, W, 3)."""
    return np.asarray(open_rgb(path))


def squashed(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pillow bilinear resize to exactly width x height, as the daemon feeds its models."""
    image = Image.fromarray(pixels).resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(image)


# --- models -----------------------------------------------------------------------------------


def ort_session(model: Path | bytes, threads: int = 2, log_severity: int | None = None
                ) -> ort.InferenceSession:
    """An onnxruntime CPU session (a file, or a serialised model) with fixed intra-op threads.

    Fixed threads keep the timings in the reports comparable between runs; log_severity 3 hides
    the warnings a step knows to be harmless.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if log_severity is not None:
        options.log_severity_level = log_severity
    # as the product's sessions (engine/models/store.py): no U8S8 saturation without VNNI
    options.add_session_config_entry("session.x64quantprecision", "1")
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


# --- drawn test images ------------------------------------------------------------------------
# Deterministic stand-ins for photos: parity checks and calibration still run without
# ../shared/photos, and give the same figures every time.


def draw_blob(draw: ImageDraw.ImageDraw, rng: np.random.Generator,
              box: tuple[int, int, int, int]) -> None:
    """Fill box with a random colour, as an ellipse or a rectangle (a coin toss)."""
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    if rng.random() < 0.5:
        draw.ellipse(box, fill=colour)
    else:
        draw.rectangle(box, fill=colour)


def noise_squares(count: int, seed: int, size: int) -> np.ndarray:
    """Uniform-noise uint8 images (count, size, size, 3): the harshest input for numeric parity."""
    return np.random.default_rng(seed).integers(0, 256, (count, size, size, 3), dtype=np.uint8)


def drawn_squares(count: int, seed: int, size: int) -> np.ndarray:
    """Photo-like uint8 images (count, size, size, 3): a colour gradient with filled shapes."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        top, bottom = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        ramp = np.linspace(0.0, 1.0, size)[:, None, None]
        background = (top * (1 - ramp) + bottom * ramp).repeat(size, axis=1).astype(np.uint8)
        picture = Image.fromarray(background, "RGB")
        draw = ImageDraw.Draw(picture)
        for _ in range(int(rng.integers(3, 9))):
            x0, y0 = (int(v) for v in rng.integers(0, size - 20, 2))
            x1, y1 = x0 + int(rng.integers(15, size // 2)), y0 + int(rng.integers(15, size // 2))
            draw_blob(draw, rng, (x0, y0, x1, y1))
        images.append(np.asarray(picture))
    return np.stack(images)


def drawn_scenes(sizes: Sequence[tuple[int, int]], seed: int = 7, shapes: int = 6
                 ) -> list[np.ndarray]:
    """Scenes of the given (width, height) sizes: a fixed gradient with random filled shapes."""
    rng = np.random.default_rng(seed)
    images = []
    for width, height in sizes:
        yy, xx = np.mgrid[0:height, 0:width]
        base = np.stack([xx * 255 // width, yy * 255 // height, (xx + yy) % 256], axis=-1)
        image = Image.fromarray(base.astype(np.uint8))
        draw = ImageDraw.Draw(image)
        for _ in range(shapes):
            x0, y0 = int(rng.integers(0, width - 60)), int(rng.integers(0, height - 60))
            x1, y1 = x0 + int(rng.integers(30, 200)), y0 + int(rng.integers(30, 200))
            draw_blob(draw, rng, (x0, y0, x1, y1))
        images.append(np.asarray(image))
    return images


def striped_noise(sizes: Sequence[tuple[int, int]], count: int = 12) -> list[np.ndarray]:
    """Noise pictures of the given (height, width) sizes in turn, every other one with white
    stripes and a dark band (flat and saturated regions that noise alone never has)."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(count):
        height, width = sizes[i % len(sizes)]
        base = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        if i % 2:
            base[:, ::7] = 255
            base[height // 3: height // 2] //= 3
        out.append(base)
    return out


def drawn_text(size: tuple[int, int], font_size: int, lines: int, seed: int = 0,
               dark_on_light: bool = True) -> Image.Image:
    """A page of random words in Pillow's default font: `lines` left-aligned lines at 1.6x the
    font size, starting a tenth of the way down (stand-ins for screenshots and documents)."""
    rng = np.random.default_rng(seed)
    paper, ink = ((245, 245, 240), (20, 20, 30)) if dark_on_light else ((25, 30, 40),
                                                                         (235, 235, 235))
    image = Image.new("RGB", size, paper)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=font_size)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
    top = size[1] // 10
    for line in range(lines):
        words = [
            "".join(rng.choice(letters, int(rng.integers(2, 9))))
            for _ in range(int(rng.integers(2, 7)))
        ]
        draw.text((size[0] // 16, top + int(line * font_size * 1.6)), " ".join(words),
                  fill=ink, font=font)
    return image


# --- reports ----------------------------------------------------------------------------------


def export_tool_versions() -> dict[str, str]:
    """Versions of the tools a PyTorch → ONNX export and its checks ran with, and the machine:
    for the reports' provenance. torch and onnx are imported here, not with this module,
    which also serves steps that have neither."""
    import platform

    import onnx
    import onnxruntime as ort
    import torch

    return {
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": ort.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
    }


def read_report(name: str) -> dict[str, Any]:
    """training/reports/<name>, or {} when that step has not written it."""
    path = REPORTS / name
    return json.loads(path.read_text()) if path.exists() else {}


def write_json(path: Path, payload: object, ensure_ascii: bool = True) -> None:
    """Write payload as indented JSON with a final newline, making the folder if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload, indent=2, ensure_ascii=ensure_ascii) + "\n"
    path.write_text(text, encoding="utf-8")
