"""Where one picture's time goes: each stage of the pipeline timed alone, in one thread.

CPU time of the calling thread (time.thread_time), median over the pictures a stage ran on:
what each stage costs whatever else the machine is doing. The gated stages (detector, faces,
text; engine/gates.py) run on some pictures only: the share they ran on is reported with
them, and the total weighs each stage's median by it. The stages are the ones
Classifier.examine runs, in its order; py-spy (see bench/RESULTS.md) shows the same split
from the outside.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from bench.measure import median
from xintud.core.facts import FileContext
from xintud.engine import hashes, quality, signals
from xintud.engine.analyze import look_for_faces, read_text
from xintud.engine.classify import Classifier, Job
from xintud.engine.decide import decide
from xintud.engine.decode import decode_bytes, read_file_bytes
from xintud.engine.gates import detector_skip_reason, glance_is_enough
from xintud.engine.models.backbone import backbone_input, full_view_input
from xintud.engine.models.detector import detector_input
from xintud.engine.models.store import LoadedModels

T = TypeVar("T")


class StageClock:
    """Collects thread CPU milliseconds per stage name."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.pictures = 0

    def time(self, stage: str, action: Callable[[], T]) -> T:
        """Run action, adding its thread CPU time to `stage`."""
        started = time.thread_time()
        result = action()
        self.samples[stage].append((time.thread_time() - started) * 1000)
        return result

    def medians(self) -> dict[str, float]:
        """Median ms per stage where it ran, in the order the stages first ran."""
        return {stage: round(median(values), 2) for stage, values in self.samples.items()}

    def shares(self) -> dict[str, float]:
        """The share of the pictures each stage ran on."""
        return {stage: round(len(values) / max(1, self.pictures), 3)
                for stage, values in self.samples.items()}

    def clear(self) -> None:
        """Forget every sample (after a warm-up)."""
        self.samples.clear()
        self.pictures = 0


def profile_one(clock: StageClock, models: LoadedModels, classifier: Classifier, path: Path,
                kind: str) -> None:
    """Every stage of one picture, each timed on its own; the gated stages (detector, faces,
    text) where the classifier ran them on this picture."""
    perception = models.perception
    clock.pictures += 1
    data = clock.time("read file", lambda: read_file_bytes(path))
    clock.time("sha256", lambda: hashlib.sha256(data).hexdigest())
    decoded = clock.time("decode (draft/reduce, EXIF, upright)",
                         lambda: decode_bytes(data, str(path)))
    image = decoded.image
    crop = clock.time("backbone input: centre crop", lambda: backbone_input(image))
    full = clock.time("backbone input: full view", lambda: full_view_input(image))
    clock.time("backbone run (2 views)",
               lambda: perception.backbone.run(np.stack([crop, full])))
    context = FileContext(path.name, kind)
    clock.time("border + metadata cues", lambda: signals.metadata_cues(
        decoded, context, signals.border_uniformity(full)))
    luma = clock.time("grey copy", lambda: signals.grey(image))
    clock.time("quality", lambda: quality.measure_quality(luma))
    clock.time("hashes (dHash, layout, pHash)", lambda: (
        hashes.difference_hash(luma), hashes.perceptual_hash(hashes.layout_thumbnail(luma)[0])))
    examined = classifier.examine(Job(path, kind, data))
    assert examined.facts is not None, examined.error
    facts = examined.facts
    glanced = clock.time("glance head (decide)", lambda: decide(models.glance_head, facts))
    # The gates the classifier ran, asked again (engine/gates.py) rather than read back from
    # the notes it wrote.
    if glance_is_enough(glanced.scores):
        clock.time("result record (pydantic)", lambda: classifier.conclude(examined))
        return
    if detector_skip_reason(facts.metadata) is None:
        picture = clock.time("detector input", lambda: detector_input(image))
        clock.time("detector run", lambda: perception.detector.detect(picture))
    if facts.faces is not None:
        clock.time("faces (MTCNN) + head background",
                   lambda: look_for_faces(perception, decoded))
    clock.time("head (decide)", lambda: decide(models.head, facts))
    if facts.text is not None:
        clock.time("text detector + layout", lambda: read_text(perception, decoded))
        clock.time("text head (decide)", lambda: decide(models.text_head, facts))
    clock.time("result record (pydantic)", lambda: classifier.conclude(examined))


def profile(models: LoadedModels, files: Sequence[Path], kind: str, passes: int = 2
            ) -> dict[str, object]:
    """Median CPU ms per stage over `passes` passes of the files, and their sum."""
    clock = StageClock()
    with Classifier(models, decode_threads=1) as classifier:
        profile_one(clock, models, classifier, files[0], kind)  # warm-up, not counted
        clock.clear()
        for _ in range(passes):
            for path in files:
                profile_one(clock, models, classifier, path, kind)
    stages, shares = clock.medians(), clock.shares()
    total = sum(ms * shares[stage] for stage, ms in stages.items())
    return {"stages_cpu_ms": stages, "stages_share": shares, "total_cpu_ms": round(total, 1)}
