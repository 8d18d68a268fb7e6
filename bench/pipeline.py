"""Classify throughput: our full pipeline and the published reference pipeline, side by side.

Ours: `Classifier.classify` as the daemon and `xintud classify` run it — read, sha256, decode
(draft), backbone (two views), detector, quality/metadata/hashes, head — with the daemon's
default threads and batch size.

The reference, from the published write-up: per image Pillow open → convert("RGB") → resize to
224×224 → normalise → one onnxruntime `run` with the same backbone file, default session
options. The shipped backbone takes uint8 pixels and normalises inside the graph
((x − 127) / 128), so the reference's normalise step is that part of the graph; it computes no
hash, no detector, no second view.

Both run over the same files in the same process, alternating, so the machine's load hits both
alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from bench.measure import Timed, load_average, median, timed
from xintud.config.schema import DaemonConfig
from xintud.core.facts import AnalysisFailure
from xintud.engine.classify import Classifier, Job
from xintud.engine.models.manifest import models_dir
from xintud.engine.models.store import LoadedModels, load_models

WARMUP_FILES = 4


@dataclass(frozen=True)
class Throughput:
    """Repeated timings of one pipeline over one folder."""

    pipeline: str
    folder: str
    images: int
    runs: tuple[Timed, ...]
    load_averages: tuple[float, ...]

    @property
    def images_per_s(self) -> float:
        """Median images per second over the runs."""
        return median([self.images / run.wall for run in self.runs])

    @property
    def ms_per_image(self) -> float:
        """Median wall milliseconds per image (throughput's inverse)."""
        return median([run.wall * 1000 / self.images for run in self.runs])

    @property
    def cpu_ms_per_image(self) -> float:
        """Median CPU milliseconds per image, all threads: what the work costs, load aside."""
        return median([run.cpu * 1000 / self.images for run in self.runs])

    def summary(self) -> dict[str, object]:
        """Figures for the JSON report."""
        return {
            "pipeline": self.pipeline, "folder": self.folder, "images": self.images,
            "images_per_s": round(self.images_per_s, 2),
            "ms_per_image": round(self.ms_per_image, 2),
            "cpu_ms_per_image": round(self.cpu_ms_per_image, 2),
            "runs_images_per_s": [round(self.images / r.wall, 2) for r in self.runs],
            "load_average_1min": list(self.load_averages),
        }


def daemon_classifier(models: LoadedModels) -> Classifier:
    """A classifier set up as the daemon sets it up (default batch size and threads)."""
    return Classifier(models, batch_size=DaemonConfig().batch_size)


def run_ours(classifier: Classifier, files: Sequence[Path], kind: str) -> None:
    """Classify every file; a failure is a broken benchmark, not a figure."""
    for result in classifier.classify(Job(path, kind) for path in files):
        if isinstance(result, AnalysisFailure):
            raise RuntimeError(f"benchmark picture failed to classify: {result.error}")


def reference_session() -> ort.InferenceSession:
    """The backbone with onnxruntime's default session options, as the write-up uses it."""
    path = models_dir() / "backbone-int8.onnx"
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run_reference(session: ort.InferenceSession, files: Sequence[Path]) -> None:
    """The write-up's loop: open, convert, resize 224×224, one run per image."""
    for path in files:
        picture = Image.open(path).convert("RGB").resize((224, 224))
        session.run(None, {"image": np.asarray(picture, dtype=np.uint8)[None]})


def compare(files: Sequence[Path], kind: str, repeats: int) -> tuple[Throughput, Throughput]:
    """Ours and the reference over the same files, alternating, `repeats` times each."""
    models = load_models(threads=DaemonConfig().inference_threads)
    session = reference_session()
    ours_runs, ref_runs, ours_load, ref_load = [], [], [], []
    with daemon_classifier(models) as classifier:
        run_ours(classifier, files[:WARMUP_FILES], kind)
        run_reference(session, files[:WARMUP_FILES])
        for _ in range(repeats):
            ours_load.append(load_average())
            ours_runs.append(timed(lambda: run_ours(classifier, files, kind)))
            ref_load.append(load_average())
            ref_runs.append(timed(lambda: run_reference(session, files)))
    folder = str(files[0].parent) if files else ""
    return (Throughput("xintud", folder, len(files), tuple(ours_runs), tuple(ours_load)),
            Throughput("reference", folder, len(files), tuple(ref_runs), tuple(ref_load)))
