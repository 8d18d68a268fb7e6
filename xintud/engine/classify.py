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

from xintud.core.facts import (
    Analysis,
    AnalysisFailure,
    Evidence,
    Facts,
    FileContext,
    looks_like_a_screen,
)
from xintud.engine.analyze import glance, look_closer, read_text
from xintud.engine.decide import Decision, check_head, decide
from xintud.engine.decode import DecodedImage, DecodeError, decode_bytes, read_file_bytes
from xintud.engine.features import (
    FEATURE_NAMES,
    GLANCE_FEATURE_NAMES,
    TEXT_FEATURE_NAMES,
    feature_vector,
    features_for,
)
from xintud.engine.gates import glance_is_enough, text_look_reason
from xintud.engine.hashes import layout_text, screen_text
from xintud.engine.learned import Learned, model_name
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
class Studied:
    """A photo as learning needs it: its hash, what the shipped models alone say of it, and
    its features for every head (TEXT_FEATURE_NAMES order)."""

    path: Path
    sha256: str
    shipped: Decision
    features: np.ndarray


@dataclass(frozen=True)
class Examined:
    """A file's hash, facts and decision (the decoded picture is dropped once they are in)."""

    job: Job
    sha256: str | None
    facts: Facts | None
    decision: Decision | None
    error: str | None
    model: str = ""  # the model that answered (shipped version + the user's, if any)


def decide_in_stages(models: LoadedModels, decoded: DecodedImage, facts: Facts,
                     learned: Learned | None = None) -> Decision:
    """The answer, each network looking only where it can change it (engine/gates.py): the
    glance head's answer where it is sure; else the detector and the face detector look and
    the first head answers; where writing could change that, the text detector reads the
    picture and the text head answers. What the user taught (`learned`) weighs in at every
    stage, with its heads where it has categories of its own. Fills in facts and says in
    facts.notes what ran."""
    lean = None if learned is None else learned.lean
    heads = None if learned is None else learned.heads
    glanced = decide(heads.glance if heads else models.glance_head, facts, lean, "glance")
    enough = glance_is_enough(glanced.scores)
    if enough:
        facts.notes.append(f"detector, faces and text not looked at: {enough}")
        return glanced
    look_closer(models.perception, decoded, facts)
    closer = decide(heads.head if heads else models.head, facts, lean, "closer")
    reason = text_look_reason(closer.scores)
    if reason is None:
        facts.notes.append(f"text not looked for: the answer is sure "
                           f"({closer.category} {closer.confidence:.2f})")
        return closer
    facts.text = read_text(models.perception, decoded)
    facts.notes.append(f"text looked for: {reason}")
    return decide(heads.text if heads else models.text_head, facts, lean, "text")


def every_feature(models: LoadedModels, decoded: DecodedImage, facts: Facts,
                  decision: Decision) -> np.ndarray:
    """The picture's features for every head (TEXT_FEATURE_NAMES), looking wherever the
    stages did not: what learning needs of a photo the user corrected or taught."""
    if decision.stage == "glance":
        look_closer(models.perception, decoded, facts)
    if facts.text is None:
        facts.text = read_text(models.perception, decoded)
    return features_for(TEXT_FEATURE_NAMES, feature_vector(facts), facts)


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
                 decode_threads: int | None = None, learned: Learned | None = None):
        """batch_size bounds how many files are in flight (read, decoded, being analysed);
        decode_threads is how many pictures are worked on at once (default: models.threads);
        learned is what the user taught (None: the shipped models alone).
        """
        self.learned: Learned | None = None
        check_head(models.glance_head, GLANCE_FEATURE_NAMES, "head_glance")
        check_head(models.head, FEATURE_NAMES, "head")
        check_head(models.text_head, TEXT_FEATURE_NAMES, "head_text")
        self.models = models
        self.batch_size = max(1, batch_size)
        self.workers = max(1, decode_threads or models.threads)
        self._pool = ThreadPoolExecutor(max_workers=self.workers,
                                        thread_name_prefix="xintud-analyze")
        self.use_learned(learned)

    @property
    def model(self) -> str:
        """The model every result names: the shipped version, and the user's if any."""
        return model_name(self.models.version, self.learned)

    def use_learned(self, learned: Learned | None) -> None:
        """Answer with this version of what the user taught from the next photo on."""
        if learned is not None and learned.heads is not None:
            check_head(learned.heads.glance, GLANCE_FEATURE_NAMES, "head_glance")
            check_head(learned.heads.head, FEATURE_NAMES, "head")
            check_head(learned.heads.text, TEXT_FEATURE_NAMES, "head_text")
        self.learned = learned

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
            return Examined(job, prepared.sha256, None, None, prepared.error, self.model)
        learned = self.learned  # one version for the whole photo, even if it changes now
        context = FileContext(job.path.name, job.folder_kind)
        facts = glance(self.models.perception, prepared.decoded, context)
        decision = decide_in_stages(self.models, prepared.decoded, facts, learned)
        return Examined(job, prepared.sha256, facts, decision, None, model_name(
            self.models.version, learned))

    def study(self, job: Job) -> Studied | AnalysisFailure:
        """What learning needs of one photo (the caller's thread): the shipped models'
        answer, without what the user taught, and the features of every head."""
        prepared = prepare(job)
        if prepared.decoded is None or prepared.sha256 is None:
            return AnalysisFailure(path=str(job.path), error=prepared.error or "not read",
                                   sha256=prepared.sha256, model=self.models.version)
        facts = glance(self.models.perception, prepared.decoded,
                       FileContext(job.path.name, job.folder_kind))
        shipped = decide_in_stages(self.models, prepared.decoded, facts)
        features = every_feature(self.models, prepared.decoded, facts, shipped)
        return Studied(job.path, prepared.sha256, shipped, features)

    def conclude(self, examined: Examined) -> Analysis | AnalysisFailure:
        """The result record for an examined file (main thread)."""
        path = str(examined.job.path)
        facts, decision = examined.facts, examined.decision
        if facts is None or decision is None or examined.sha256 is None:
            return AnalysisFailure(path=path, error=examined.error or "not analysed",
                                   sha256=examined.sha256, model=examined.model or self.model)
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
            model=examined.model,
            embedding=np.round(facts.embedding.astype(np.float64), 5).tolist(),
            layout=None if facts.layout is None else layout_text(facts.layout),
            screen_layout=(screen_text(facts.screen) if facts.screen is not None
                           and looks_like_a_screen(decision.category, facts.metadata) else None),
        )
