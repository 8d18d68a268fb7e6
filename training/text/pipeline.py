"""Build the text detector: PP-OCRv4 det from rapidocr-onnxruntime → text.onnx, with a report.

    python -m training.text --out models/

Steps:
1. find the ONNX file in the installed rapidocr-onnxruntime 1.4.4 and check it against the
   wheel's RECORD hash; copy it byte for byte to OUT/text.onnx — source;
2. read its graph contract and rapidocr's own Det settings, and check the engine's constants
   (thresholds, normalisation) are rapidocr's — source;
3. agreement with rapidocr's own detector on drawn pages of text (and plain pictures, where
   neither may find text): the post-processing alone on the same probability maps, and the
   whole detector — reference, agreement;
4. with the development photos: the same on their screenshots, documents (receipts, notes)
   and other `other` photos, with the engine's cost per photo at working size; then smaller
   inputs and int8, measured against the shipped settings — photos, variants;
5. the JSON report (default training/reports/text.json).

Needs the ``train-text`` extra (rapidocr-onnxruntime: OpenCV, pyclipper, shapely); never run
by the daemon, which needs only the file and xintud/engine/models/text.py.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from training.common import (
    DEFAULT_PHOTOS,
    MODELS,
    REPORTS,
    drawn_text,
    has_photo_manifest,
    ort_session,
    striped_noise,
    write_json,
)
from training.text.agreement import MATCH_IOU, Agreement, iou_matrix
from training.text.photos import photo_groups
from training.text.reference import ReferenceDetector
from training.text.source import (
    OUTPUT_NAME,
    SourceModel,
    copy_model,
    find_model,
    graph_contract,
    reference_settings,
)
from training.text.variants import int8_trial, size_sweep
from xintud.engine.decode import decode_image
from xintud.engine.models import dbmap
from xintud.engine.models.manifest import InputContract, ModelFile
from xintud.engine.models.text import (
    TEXT_MAX_SIDE,
    TEXT_MEAN,
    TEXT_STD,
    TextDetector,
    boxes_as_fractions,
)

logger = logging.getLogger(__name__)

DEFAULT_REPORT = REPORTS / "text.json"
INPUT_NAME = "x"
OUTPUT_NAMES = ["sigmoid_0.tmp_0"]
# Every 3rd photo of the groups that are not text-rich; all screenshots and documents.
PHOTO_STEP = 3
# Drawn pages: (width, height) of working-size pictures x font sizes x polarity.
DRAWN_SIZES = ((448, 970), (640, 448), (448, 448))
DRAWN_FONTS = (11, 14, 18, 24, 36, 48)
NOTES = [
    "The file is rapidocr's, copied unchanged (PaddlePaddle export, opset 12, fp32).",
    "detector: the engine's whole detector (Pillow resize) vs rapidocr's TextDetector (OpenCV "
    "resize) on the same picture, both capped at the engine's max_side; postprocess_same_map: "
    "dbmap.boxes_from_map vs rapidocr's DBPostProcess on one probability map, our corners "
    "rounded to whole pixels as rapidocr's are. Boxes match one to one at IoU >= 0.5.",
    "input_sizes: the engine at each cap vs itself at 960 (no working-size picture is scaled "
    "down there); rates: share of photos with >= 3 text lines.",
    "int8_trial: measured, not shipped: it keeps ~0.8 of fp32's boxes on screenshots and "
    "documents and runs only ~5-10% faster, even on this AVX-512 VNNI CPU.",
]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODELS, help="output folder")
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS,
                        help="development photos (skipped when absent)")
    parser.add_argument("--no-photos", action="store_true", help="drawn pictures only")
    parser.add_argument("--report", type=Path, default=DEFAULT_REPORT, help="JSON report path")
    return parser.parse_args(argv)


def engine_contract(path: Path, source: SourceModel) -> ModelFile:
    """The manifest-style entry the engine's TextDetector checks its session against."""
    return ModelFile(
        file=OUTPUT_NAME, sha256=source.sha256, bytes=source.bytes, role="text",
        input=InputContract(
            name=INPUT_NAME, shape=[1, 3, "H", "W"], layout="NCHW", dtype="float32",
            color="BGR", mean=TEXT_MEAN[0] * 255, std=TEXT_STD[0] * 255,
            resize=f"longer side at most {TEXT_MAX_SIDE}, both sides multiples of 32"),
        outputs=OUTPUT_NAMES,
        provenance={"package": source.package, "version": source.version,
                    "licence": source.licence, "file_in_wheel": source.wheel_path,
                    "made_by": "training/text (copied unchanged)"},
    )


def settings_differences(settings: dict[str, Any]) -> dict[str, list[Any]]:
    """rapidocr's Det settings the engine does not share: {key: [rapidocr, engine]}."""
    engine = {"thresh": dbmap.BINARY_THRESHOLD, "box_thresh": dbmap.BOX_THRESHOLD,
              "unclip_ratio": dbmap.UNCLIP_RATIO, "max_candidates": dbmap.MAX_CANDIDATES,
              "mean": list(TEXT_MEAN), "std": list(TEXT_STD), "use_dilation": True,
              "score_mode": "fast"}
    return {key: [settings.get(key), value] for key, value in engine.items()
            if settings.get(key) != value}


def drawn_pictures() -> Iterator[tuple[str, Image.Image]]:
    """(kind, picture): pages of text at several sizes and fonts, then plain and noise ones."""
    seed = 0
    for width, height in DRAWN_SIZES:
        for font in DRAWN_FONTS:
            lines = max(2, min(14, int(height * 0.8 / (font * 1.6))))
            seed += 1
            yield "text", drawn_text((width, height), font, lines, seed, dark_on_light=seed % 3 > 0)
    for width, height in DRAWN_SIZES:
        yield "plain", Image.new("RGB", (width, height), (200, 210, 220))
    for pixels in striped_noise([(h, w) for w, h in DRAWN_SIZES], count=6):
        yield "noise", Image.fromarray(pixels)


class Comparison:
    """Ours vs rapidocr on a stream of pictures: the whole detector and the post-processing."""

    def __init__(self, ours: TextDetector, reference: ReferenceDetector) -> None:
        self.ours = ours
        self.reference = reference
        self.detector = Agreement()
        self.post = Agreement()
        self.score_gaps: list[float] = []
        self.network_ms: list[float] = []
        self.post_ms: list[float] = []

    def add(self, image: Image.Image) -> tuple[int, int]:
        """Compare on one picture; (rapidocr's box count, ours)."""
        started = time.perf_counter()
        prob = self.ours.probability_map(image)
        mapped = time.perf_counter()
        ours = [box.box for box in boxes_as_fractions(prob, image.size)]
        self.network_ms.append((mapped - started) * 1000)
        self.post_ms.append((time.perf_counter() - mapped) * 1000)
        theirs = self.reference.boxes(image)
        self.detector.add(theirs, ours)
        ref_map, ref_scores = self.reference.map_boxes(prob)
        found = dbmap.boxes_from_map(prob)
        # rapidocr rounds its boxes to whole pixels; rounding ours too compares like with like.
        whole = np.round(found.corners)
        our_map = [(float(c[:, 0].min()), float(c[:, 1].min()), float(c[:, 0].max()),
                    float(c[:, 1].max())) for c in whole]
        self.post.add(ref_map, our_map)
        if ref_map and our_map:
            self.score_gaps.extend(_score_gaps(ref_map, ref_scores, our_map,
                                               list(found.scores)))
        return len(theirs), len(ours)

    def figures(self) -> dict[str, Any]:
        """Agreement figures, the largest box-score gap and the engine's milliseconds."""
        return {
            "detector": self.detector.figures(),
            "postprocess_same_map": self.post.figures(),
            "max_score_gap": round(float(max(self.score_gaps)), 4) if self.score_gaps else None,
            "network_ms_mean": round(float(np.mean(self.network_ms)), 1),
            "postprocess_ms_mean": round(float(np.mean(self.post_ms)), 2),
            "postprocess_ms_p95": round(float(np.percentile(self.post_ms, 95)), 2),
        }


def _score_gaps(ref: list[Any], ref_scores: list[float], ours: list[Any],
                our_scores: list[float]) -> list[float]:
    """|score difference| of boxes matched by IoU >= MATCH_IOU (best match of each ref box)."""
    iou = iou_matrix(ref, ours)
    best = iou.argmax(axis=1)
    return [abs(ref_scores[i] - our_scores[j]) for i, j in enumerate(best)
            if iou[i, j] >= MATCH_IOU]


def compare_drawn(ours: TextDetector, reference: ReferenceDetector) -> dict[str, Any]:
    """Agreement on drawn pages; plain and noise pictures must give no box from either."""
    comparison = Comparison(ours, reference)
    found_on_blank = {"rapidocr": 0, "ours": 0}
    for kind, image in drawn_pictures():
        if kind == "text":
            comparison.add(image)
        else:
            theirs, mine = reference.boxes(image), ours.detect(image)
            found_on_blank["rapidocr"] += len(theirs)
            found_on_blank["ours"] += len(mine)
    return {**comparison.figures(), "boxes_on_plain_and_noise": found_on_blank}


def compare_photos(ours: TextDetector, reference: ReferenceDetector,
                   groups: dict[str, list[Path]]) -> dict[str, Any]:
    """Agreement per photo group, the photos decoded as the daemon decodes them."""
    out: dict[str, Any] = {}
    for group, paths in groups.items():
        comparison = Comparison(ours, reference)
        for path in paths:
            comparison.add(decode_image(path).image)
        out[group] = {"photos": len(paths), **comparison.figures()}
        logger.info("%s: %s", group, out[group])
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the steps; 1 when the package's file is missing or does not match."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    args = parse_args(argv)
    source = find_model()
    target = copy_model(source, args.out)
    logger.info("copied %s (%s) to %s", source.wheel_path, source.sha256[:12], target)
    contract = engine_contract(target, source)
    ours = TextDetector(ort_session(target), contract)
    reference = ReferenceDetector(target)
    settings = reference_settings()
    report: dict[str, Any] = {
        "source": {"package": source.package, "version": source.version,
                   "licence": source.licence, "file_in_wheel": source.wheel_path,
                   "sha256": source.sha256, "bytes": source.bytes,
                   "sha256_matches_wheel_record": True},
        "graph": graph_contract(target),
        "contract": contract.model_dump(),
        "rapidocr_settings": settings,
        "settings_differences": settings_differences(settings),
        "engine": {"max_side": TEXT_MAX_SIDE, "match_iou": MATCH_IOU},
        "notes": NOTES,
        "drawn": compare_drawn(ours, reference),
    }
    logger.info("drawn: %s", report["drawn"])
    if not args.no_photos and has_photo_manifest(args.photos):
        groups = photo_groups(args.photos, step=PHOTO_STEP)
        report["photos"] = compare_photos(
            ours, reference, {g: groups[g] for g in ("screenshot", "documents", "other")})
        report["input_sizes"] = size_sweep(target, groups)
        logger.info("input sizes: %s", report["input_sizes"])
        report["int8_trial"] = int8_trial(target, groups)
        logger.info("int8: %s", report["int8_trial"])
    write_json(args.report, report)
    logger.info("wrote %s", args.report)
    return 0
