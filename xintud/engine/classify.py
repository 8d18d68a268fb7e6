"""The classification engine: files in, one Analysis (or AnalysisFailure) per file out.

Strings the stages together — read + hash, decode, analyze, decide — and is what both
`xintud classify` and the daemon call. Pictures run side by side, one per worker thread, each
worker taking its picture through every stage: decoding (Pillow) and inference (onnxruntime,
one thread per run) both release the GIL, so N workers keep N cores busy with no hand-over
between a decode pool and an inference thread, and no onnxruntime thread waiting on another.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xintud.core.facts import Analysis, AnalysisFailure, Evidence, Facts, FileContext
from xintud.engine.analyze import glance, look_closer, read_text
from xintud.engine.decide import Decision, check_head, decide
from xintud.engine.decode import DecodedImage, DecodeError, decode_bytes, read_file_bytes
from xintud.engine.features import FEATURE_NAMES, GLANCE_FEATURE_NAMES, TEXT_FEATURE_NAMES
from xintud.engine.gates import glance_is_enough, text_look_reason
from xintud.engine.hashes import layout_text
from xintud.engine.models.store import LoadedModels


@dataclass(frozen=True)
class Job:
    """One file to classify, with what is known about where it came from."""

    path: Path
    folder_kind: str | None = None
    data: bytes | None = None  # the file's bytes when the caller has read them already
    sha256: str | None = None  # their hash, when the caller has computed it too


@dataclass(frozen=True)
class Prepared:
    """A file read, hashed and decoded — or the reason it could not be."""

    job: Job
    sha256: str | None
    decoded: DecodedImage | None
    error: str | None


@dataclass(frozen=True)
class Examined:
    """A file's hash, facts and decision (the decoded picture is dropped once they are in)."""

    job: Job
    sha256: str | None
    facts: Facts | None
    decision: Decision | None
    error: str | None


def decide_in_stages(models: LoadedModels, decoded: DecodedImage, facts: Facts) -> Decision:
    """The answer, each network looking only where it can change it (engine/gates.py): the
    glance head's answer where it is sure; else the detector and the face detector look and
    the first head answers; where writing could change that, the text detector reads the
    picture and the text head answers. Fills in facts and says in facts.notes what ran."""
    glanced = decide(models.glance_head, facts)
    enough = glance_is_enough(glanced.scores)
    if enough:
        facts.notes.append(f"detector, faces and text not looked at: {enough}")
        return glanced
    look_closer(models.perception, decoded, facts)
    closer = decide(models.head, facts)
    reason = text_look_reason(closer.scores)
    if reason is None:
        facts.notes.append(f"text not looked for: the answer is sure "
                           f"({closer.category} {closer.confidence:.2f})")
        return closer
    facts.text = read_text(models.perception, decoded)
    facts.notes.append(f"text looked for: {reason}")
    return decide(models.text_head, facts)


def prepare(job: Job) -> Prepared:
    """Read, hash and decode one file; never raises for a bad file."""
    try:
        data = job.data if job.data is not None else read_file_bytes(job.path)
    except DecodeError as exc:
        return Prepared(job, None, None, str(exc))
    known = job.sha256 if job.data is not None else None  # a hash without its bytes proves nothing
    sha256 = known or hashlib.sha256(data).hexdigest()
    try:
        return Prepared(job, sha256, decode_bytes(data, str(job.path)), None)
    except DecodeError as exc:
        return Prepared(job, sha256, None, str(exc))


class Classifier:
    """Classifies files with loaded models, several pictures at once (one per worker)."""

    def __init__(self, models: LoadedModels, batch_size: int = 8,
                 decode_threads: int | None = None):
        """batch_size bounds how many files are in flight (read, decoded, being analysed);
        decode_threads is how many pictures are worked on at once (default: models.threads).
        """
        check_head(models.glance_head, GLANCE_FEATURE_NAMES, "head_glance")
        check_head(models.head, FEATURE_NAMES, "head")
        check_head(models.text_head, TEXT_FEATURE_NAMES, "head_text")
        self.models = models
        self.batch_size = max(1, batch_size)
        self.workers = max(1, decode_threads or models.threads)
        self._pool = ThreadPoolExecutor(max_workers=self.workers,
                                        thread_name_prefix="xintud-analyze")

    def close(self) -> None:
        """Stop the worker threads."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Classifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def classify(self, jobs: Iterable[Job]) -> Iterator[Analysis | AnalysisFailure]:
        """Results in input order, one per job; later files are worked on meanwhile."""
        in_flight = max(self.batch_size, self.workers)
        pending: deque[Future[Examined]] = deque()
        for job in jobs:
            pending.append(self._pool.submit(self.examine, job))
            if len(pending) >= in_flight:
                yield self.conclude(pending.popleft().result())
        while pending:
            yield self.conclude(pending.popleft().result())

    def classify_batch(self, jobs: Sequence[Job]) -> list[Analysis | AnalysisFailure]:
        """Results for a list of jobs (the daemon's batches)."""
        return list(self.classify(jobs))

    def examine(self, job: Job) -> Examined:
        """Read, hash, decode and analyse one file (runs in a worker thread)."""
        prepared = prepare(job)
        if prepared.decoded is None:
            return Examined(job, prepared.sha256, None, None, prepared.error)
        context = FileContext(job.path.name, job.folder_kind)
        facts = glance(self.models.perception, prepared.decoded, context)
        decision = decide_in_stages(self.models, prepared.decoded, facts)
        return Examined(job, prepared.sha256, facts, decision, None)

    def conclude(self, examined: Examined) -> Analysis | AnalysisFailure:
        """The result record for an examined file (main thread)."""
        path = str(examined.job.path)
        facts, decision = examined.facts, examined.decision
        if facts is None or decision is None or examined.sha256 is None:
            return AnalysisFailure(path=path, error=examined.error or "not analysed",
                                   sha256=examined.sha256, model=self.models.version)
        return Analysis(
            path=path,
            category=decision.category,
            confidence=decision.confidence,
            scores=decision.scores,
            evidence=Evidence(imagenet=facts.imagenet_top, detections=facts.detections,
                              faces=facts.faces, background=facts.background, text=facts.text,
                              metadata=facts.metadata, rules=[*facts.notes, *decision.rules]),
            quality=facts.quality,
            sha256=examined.sha256,
            dhash=facts.dhash,
            phash=facts.phash,
            content_share=facts.content_share,
            model=self.models.version,
            embedding=np.round(facts.embedding.astype(np.float64), 5).tolist(),
            layout=None if facts.layout is None else layout_text(facts.layout),
        )
