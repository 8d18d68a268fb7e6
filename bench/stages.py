"""Where one picture's time goes: each stage of the pipeline timed alone, in one thread.

CPU time of the calling thread (time.thread_time), median over the pictures: what each stage
costs whatever else the machine is doing. The stages are the ones Classifier.examine runs, in
its order; py-spy (see bench/RESULTS.md) shows the same split from the outside.
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
from xintud.engine import signals
from xintud.engine.classify import Classifier, Job
from xintud.engine.decide import decide
from xintud.engine.decode import decode_bytes, read_file_bytes
from xintud.engine.models.backbone import backbone_input, full_view_input
from xintud.engine.models.detector import detector_input
from xintud.engine.models.store import LoadedModels

T = TypeVar("T")


class StageClock:
    """Collects thread CPU milliseconds per stage name."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = defaultdict(list)

    def time(self, stage: str, action: Callable[[], T]) -> T:
        """Run action, adding its thread CPU time to `stage`."""
        started = time.thread_time()
        result = action()
        self.samples[stage].append((time.thread_time() - started) * 1000)
        return result

    def medians(self) -> dict[str, float]:
        """Median ms per stage, in the order the stages first ran."""
        return {stage: round(median(values), 2) for stage, values in self.samples.items()}


def profile_one(clock: StageClock, models: LoadedModels, classifier: Classifier, path: Path,
                kind: str) -> None:
    """Every stage of one picture, each timed on its own."""
    perception = models.perception
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
    metadata = clock.time("border + metadata cues", lambda: signals.metadata_cues(
        decoded, context, signals.border_uniformity(full)))
    if signals.detector_skip_reason(metadata) is None:
        picture = clock.time("detector input", lambda: detector_input(image))
        clock.time("detector run", lambda: perception.detector.detect(picture))
    luma = clock.time("grey copy", lambda: signals.grey(image))
    clock.time("quality + dHash",
               lambda: (signals.measure_quality(luma), signals.difference_hash(luma)))
    examined = classifier.examine(Job(path, kind, data))
    assert examined.facts is not None, examined.error
    facts = examined.facts
    clock.time("head (decide)", lambda: decide(models.head, facts))
    clock.time("result record (pydantic)", lambda: classifier.conclude(examined))


def profile(models: LoadedModels, files: Sequence[Path], kind: str, passes: int = 2
            ) -> dict[str, object]:
    """Median CPU ms per stage over `passes` passes of the files, and their sum."""
    clock = StageClock()
    with Classifier(models, decode_threads=1) as classifier:
        profile_one(clock, models, classifier, files[0], kind)  # warm-up, not counted
        clock.samples.clear()
        for _ in range(passes):
            for path in files:
                profile_one(clock, models, classifier, path, kind)
    stages = clock.medians()
    return {"stages_cpu_ms": stages, "total_cpu_ms": round(sum(stages.values()), 1)}
