"""The exported nets checked against PyTorch, and the engine's pipeline against facenet-pytorch's.

Two checks, both needed:
- net parity: each ONNX file gives the PyTorch net's outputs (within NET_TOLERANCE) on noise,
  drawn pictures and, when the photos are there, the inputs real photos give it — pyramid
  levels for P-net, box crops for R- and O-net;
- pipeline parity: xintud's numpy MTCNN with the ONNX files finds the same faces as
  facenet-pytorch's own detect_face with the PyTorch nets: the same count, boxes and landmarks
  within PIPELINE_TOLERANCE_PX pixels, scores within NET_TOLERANCE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from training.common import drawn_scenes, ort_session, photo_files
from training.faces.convert import CROP_SIZES, INPUT_NAME, OUTPUT_NAMES, contract, torch_outputs
from training.faces.reference import load_detect_face, reference_faces
from xintud.engine.decode import decode_image
from xintud.engine.models.faces import (
    MIN_FACE_SIZE,
    SCALE_FACTOR,
    THRESHOLDS,
    FaceDetector,
    FaceNet,
    area_crops,
    area_resize,
    pyramid_scales,
    summed_area_table,
)

NET_TOLERANCE = 1e-3
PIPELINE_TOLERANCE_PX = 0.01
# Photos the checks use: every PHOTO_STEP-th of these folders (faces, and scenes without).
PHOTO_FOLDERS = ("idphoto", "single", "social", "travel")
PHOTO_STEP = 25
Named = tuple[str, np.ndarray]  # a picture or a batch, and where it came from


@dataclass(frozen=True)
class NetParity:
    """Largest |ONNX − PyTorch| per output of one net on one batch."""

    net: str
    source: str
    shape: tuple[int, ...]
    max_abs: dict[str, float]


@dataclass(frozen=True)
class PipelineParity:
    """One picture through both pipelines: face counts and the largest differences."""

    source: str
    faces: int
    reference_faces: int
    max_abs_box_px: float
    max_abs_landmark_px: float
    max_abs_score: float


def working_pictures(photos: Path, step: int = PHOTO_STEP) -> list[tuple[str, np.ndarray]]:
    """(name, picture) for every step-th photo of PHOTO_FOLDERS, decoded as the engine does."""
    chosen = [path for folder in PHOTO_FOLDERS for path in photo_files(photos, folder)[::step]]
    return [(f"{path.parent.name}/{path.name}", np.asarray(decode_image(path).image))
            for path in chosen]


def drawn_pictures() -> list[tuple[str, np.ndarray]]:
    """Drawn scenes and noise (no faces, but P-net proposes and R-net judges on them)."""
    scenes = drawn_scenes([(320, 240), (200, 290)], seed=3)
    noise = np.random.default_rng(5).integers(0, 256, (180, 250, 3), dtype=np.uint8)
    return [("drawn 320x240", scenes[0]), ("drawn 200x290", scenes[1]), ("noise 250x180", noise)]


def net_inputs(pictures: Sequence[Named]) -> dict[str, list[Named]]:
    """Inputs for each net from pictures: two pyramid levels each (P), 8 random crops (R, O)."""
    rng = np.random.default_rng(0)
    inputs: dict[str, list[Named]] = {name: [] for name in OUTPUT_NAMES}
    for source, picture in pictures:
        height, width = picture.shape[:2]
        table = summed_area_table(picture)
        for scale in pyramid_scales(height, width)[::4][:2]:
            level = area_resize(table, int(height * scale + 1), int(width * scale + 1))
            inputs["pnet"].append((f"{source} scale {scale:.3f}", level[None]))
        sides = rng.integers(12, min(height, width), 8)
        y0, x0 = rng.integers(0, height - sides), rng.integers(0, width - sides)
        for name, size in CROP_SIZES.items():
            crops = area_crops(table, (y0, y0 + sides), (x0, x0 + sides), size, size)
            inputs[name].append((f"{source} crops", crops))
    return inputs


def check_nets(nets: dict[str, nn.Module], paths: dict[str, Path],
               pictures: Sequence[tuple[str, np.ndarray]]) -> list[NetParity]:
    """Compare every ONNX net with its PyTorch net on the inputs pictures give, plus noise."""
    rng = np.random.default_rng(1)
    inputs = net_inputs(pictures)
    inputs["pnet"].append(("noise", rng.uniform(0, 255, (2, 37, 53, 3)).astype(np.float32)))
    for name, size in CROP_SIZES.items():
        inputs[name].append(("noise", rng.uniform(0, 255, (4, size, size, 3)).astype(np.float32)))
    results = []
    for name, batches in inputs.items():
        session = ort_session(paths[name])
        for source, batch in batches:
            reference = torch_outputs(nets[name], batch)
            outputs = session.run(list(OUTPUT_NAMES[name]), {INPUT_NAME: batch})
            results.append(NetParity(
                net=name, source=source, shape=tuple(batch.shape),
                max_abs={key: float(np.abs(got - want).max()) for key, got, want
                         in zip(OUTPUT_NAMES[name], outputs, reference, strict=True)}))
    return results


def net_failures(results: Sequence[NetParity]) -> list[NetParity]:
    """Results with any output over NET_TOLERANCE."""
    return [r for r in results if max(r.max_abs.values()) > NET_TOLERANCE]


def onnx_detector(paths: dict[str, Path]) -> FaceDetector:
    """The engine's FaceDetector over the exported files, with their contracts."""
    nets = [FaceNet(name, ort_session(paths[name], threads=1), contract(name, paths[name]))
            for name in ("pnet", "rnet", "onet")]
    return FaceDetector(*nets)


def check_pipeline(nets: dict[str, nn.Module], paths: dict[str, Path],
                   pictures: Sequence[tuple[str, np.ndarray]]) -> list[PipelineParity]:
    """Run both pipelines over pictures and compare what they find."""
    detector, module = onnx_detector(paths), load_detect_face()
    results = []
    for source, picture in pictures:
        boxes, points = detector.detect_pixels(picture)
        ref_boxes, ref_points = reference_faces(nets, picture, MIN_FACE_SIZE, THRESHOLDS,
                                                SCALE_FACTOR, module)
        same = boxes.shape == ref_boxes.shape and len(boxes) > 0
        results.append(PipelineParity(
            source=source, faces=len(boxes), reference_faces=len(ref_boxes),
            max_abs_box_px=float(np.abs(boxes[:, :4] - ref_boxes[:, :4]).max()) if same else 0.0,
            max_abs_landmark_px=float(np.abs(points - ref_points).max()) if same else 0.0,
            max_abs_score=float(np.abs(boxes[:, 4] - ref_boxes[:, 4]).max()) if same else 0.0))
    return results


def pipeline_failures(results: Sequence[PipelineParity]) -> list[PipelineParity]:
    """Pictures where the pipelines disagree: another count, or boxes/scores too far apart."""
    return [r for r in results
            if r.faces != r.reference_faces
            or max(r.max_abs_box_px, r.max_abs_landmark_px) > PIPELINE_TOLERANCE_PX
            or r.max_abs_score > NET_TOLERANCE]
