"""ImageNet top-1/top-5 of an ONNX backbone, its speed, and how closely int8 follows fp32."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from training.backbone.convert import INPUT_NAME, OUTPUT_NAMES
from training.common import ort_session, sha256_file


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
    session = ort_session(path, threads)
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


def score_model(
    path: Path, images: np.ndarray, targets: np.ndarray | None, timing_images: np.ndarray
) -> tuple[ModelScore, tuple[np.ndarray, np.ndarray]]:
    """Accuracy (when targets are known), timings at batch 1 and 8, size and hash."""
    outputs = run_session(ort_session(path), images)
    score = ModelScore(
        file=path.name,
        bytes=path.stat().st_size,
        sha256=sha256_file(path),
        accuracy=accuracy(outputs[1], targets) if targets is not None else None,
        timings=[time_model(path, timing_images, batch) for batch in (1, 8)],
    )
    return score, outputs
