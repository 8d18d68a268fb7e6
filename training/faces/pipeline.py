"""Build the face detector: MTCNN's P-, R- and O-net → three ONNX files, checked and reported.

    python -m training.faces --out DIR

Steps, each a module of training.faces:
1. load facenet-pytorch 2.6.0's state dicts strictly into training/faces/nets.py — nets;
2. export each net to ONNX, input raw NHWC float pixels (P-net: any height and width) — convert;
3. check each ONNX net against PyTorch on noise, drawn pictures and real photos' pyramid levels
   and crops; check xintud's numpy pipeline over the files against facenet-pytorch's own
   detect_face — verify, reference (exit 1 when either is over tolerance);
4. write the report (default training/reports/faces.json) — report.

Needs torch, onnx and `pip install --no-deps facenet-pytorch==2.6.0`; never run by the daemon.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from training.common import DEFAULT_PHOTOS, has_photo_manifest, sha256_file
from training.faces.convert import export_all
from training.faces.nets import find_state_dicts, load_nets
from training.faces.report import (
    DEFAULT_REPORT,
    STANDING_NOTES,
    Report,
    file_entries,
    pipeline_constants,
    preprocessing,
    provenance,
    write_report,
)
from training.faces.verify import (
    NET_TOLERANCE,
    PIPELINE_TOLERANCE_PX,
    check_nets,
    check_pipeline,
    drawn_pictures,
    net_failures,
    pipeline_failures,
    working_pictures,
)

logger = logging.getLogger(__name__)
INT8_NOTE = (
    "not made: tried as onnxruntime static QDQ (per-channel int8 weights, uint8 MinMax "
    "activations) calibrated on the nets' real inputs from 1/8 of the single/social/idphoto/"
    "travel photos, it did not hold on the other half: with int8 R- and O-net the face count "
    "changed on 17 of 304 photos and boxes moved by a median 3.9 px (up to 560), for ~10% less "
    "CPU; int8 P-net too: 27 of 304, no faster. fp32 is 2 MB for all three")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the ONNX files")
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS,
                        help="labelled photos (manifest.csv); checks use drawn images without")
    parser.add_argument("--no-photos", action="store_true", help="check on drawn images only")
    parser.add_argument("--report", type=Path, default=DEFAULT_REPORT, help="JSON report path")
    parser.add_argument("--opset", type=int, default=17)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Export, verify and report; exit 1 when a parity check fails."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    args = parse_args(argv)
    torch.set_num_threads(2)
    state_dicts = find_state_dicts()
    nets = load_nets(state_dicts)
    paths = export_all(nets, args.out, args.opset)

    use_photos = not args.no_photos and has_photo_manifest(args.photos)
    photos = working_pictures(args.photos) if use_photos else []
    pictures = [*drawn_pictures(), *photos]
    photo_note = (f"{len(photos)} photos of {args.photos} at working size" if photos
                  else "none (drawn pictures only)")
    logger.info("checking on %d pictures (photos: %s)", len(pictures), photo_note)
    parity = check_nets(nets, paths, pictures)
    pipeline = check_pipeline(nets, paths, pictures)
    for bad in net_failures(parity):
        logger.error("ONNX differs from PyTorch beyond %g: %s", NET_TOLERANCE, bad)
    for bad in pipeline_failures(pipeline):
        logger.error("the numpy pipeline differs from facenet-pytorch's: %s", bad)

    report = Report(
        model="MTCNN face detector (P-, R-, O-net) from facenet-pytorch",
        files=file_entries(paths),
        preprocessing=preprocessing(),
        pipeline=pipeline_constants(),
        provenance=provenance(state_dicts),
        parity=parity,
        parity_tolerance=NET_TOLERANCE,
        pipeline_parity=pipeline,
        pipeline_tolerance_px=PIPELINE_TOLERANCE_PX,
        photos=photo_note,
        int8=INT8_NOTE,
        notes=list(STANDING_NOTES),
    )
    write_report(report, args.report)
    for path in (*paths.values(), args.report):
        print(f"{sha256_file(path)}  {path}")
    return 1 if net_failures(parity) or pipeline_failures(pipeline) else 0
