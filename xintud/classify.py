"""The classification engine: files in, one Analysis (or AnalysisFailure) per file out.

Strings the stages together — read + hash, decode (in a thread pool, overlapping inference:
Pillow releases the GIL while it decodes), analyze in batches, decide — and is what both
`xintud classify` and the daemon call.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from xintud.analyze import Facts, FileContext, analyze_batch
from xintud.decide import check_head, decide
from xintud.decode import DecodedImage, DecodeError, decode_bytes, read_file_bytes
from xintud.modelstore import LoadedModels
from xintud.result import Analysis, AnalysisFailure, Evidence


@dataclass(frozen=True)
class Job:
    """One file to classify, with what is known about where it came from."""

    path: Path
    folder_kind: str | None = None
    data: bytes | None = None  # the file's bytes when the caller has read them already


@dataclass(frozen=True)
class Prepared:
    """A file read, hashed and decoded — or the reason it could not be."""

    job: Job
    sha256: str | None
    decoded: DecodedImage | None
    error: str | None


def prepare(job: Job) -> Prepared:
    """Read, hash and decode one file; never raises for a bad file."""
    try:
        data = job.data if job.data is not None else read_file_bytes(job.path)
    except DecodeError as exc:
        return Prepared(job, None, None, str(exc))
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        return Prepared(job, sha256, decode_bytes(data, str(job.path)), None)
    except DecodeError as exc:
        return Prepared(job, sha256, None, str(exc))


class Classifier:
    """Classifies files with loaded models; decoding runs ahead in a small thread pool."""

    def __init__(self, models: LoadedModels, batch_size: int = 8, decode_threads: int = 2):
        check_head(models.head)
        self.models = models
        self.batch_size = max(1, batch_size)
        self._pool = ThreadPoolExecutor(max_workers=max(1, decode_threads),
                                        thread_name_prefix="xintud-decode")

    def close(self) -> None:
        """Stop the decode threads."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Classifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def classify(self, jobs: Iterable[Job]) -> Iterator[Analysis | AnalysisFailure]:
        """Results in input order, one per job, computed batch by batch."""
        pending: list[Future[Prepared]] = []
        for job in jobs:
            pending.append(self._pool.submit(prepare, job))
            # Keep one batch decoding ahead while the current one runs through the models.
            if len(pending) >= 2 * self.batch_size:
                yield from self._finish([f.result() for f in pending[: self.batch_size]])
                pending = pending[self.batch_size:]
        while pending:
            yield from self._finish([f.result() for f in pending[: self.batch_size]])
            pending = pending[self.batch_size:]

    def classify_batch(self, jobs: Sequence[Job]) -> list[Analysis | AnalysisFailure]:
        """Results for a list of jobs (the daemon's batches)."""
        return list(self.classify(jobs))

    def _finish(self, prepared: list[Prepared]) -> list[Analysis | AnalysisFailure]:
        decoded = [(p, p.decoded) for p in prepared if p.decoded is not None]
        contexts = [FileContext(p.job.path.name, p.job.folder_kind) for p, _ in decoded]
        facts = analyze_batch(self.models.perception, [d for _, d in decoded], contexts)
        facts_of = {id(p): f for (p, _), f in zip(decoded, facts, strict=True)}
        return [self._result(p, facts_of.get(id(p))) for p in prepared]

    def _result(self, prepared: Prepared, facts: Facts | None) -> Analysis | AnalysisFailure:
        path = str(prepared.job.path)
        if facts is None or prepared.sha256 is None:
            return AnalysisFailure(path=path, error=prepared.error or "not analysed",
                                   sha256=prepared.sha256, model=self.models.version)
        decision = decide(self.models.head, facts)
        return Analysis(
            path=path,
            category=decision.category,
            confidence=decision.confidence,
            scores=decision.scores,
            evidence=Evidence(imagenet=facts.imagenet_top, detections=facts.detections,
                              metadata=facts.metadata, rules=decision.rules),
            quality=facts.quality,
            sha256=prepared.sha256,
            dhash=facts.dhash,
            model=self.models.version,
            embedding=[round(float(v), 5) for v in facts.embedding],
        )
