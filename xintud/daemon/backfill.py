"""Fingerprints for the photos filed before duplicates were tracked: analysed again in the
background, a few at a time while no new photo waits, resumable (the database is the
progress), with progress and ETA for `xintuctl status`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from xintud.core.facts import Analysis
from xintud.core.text import printable
from xintud.duplicates.library import LibraryDuplicates
from xintud.engine.classify import Classifier, Job
from xintud.state.prints import Prints
from xintud.state.queue import FileQueue
from xintud.state.records import Records

logger = logging.getLogger(__name__)

STEP_PHOTOS = 8  # per turn of the main loop: a new arrival waits at most one small batch


class Backfill:
    """Walks the filed photos without a fingerprint and gives each one."""

    def __init__(self, prints: Prints, records: Records, duplicates: LibraryDuplicates,
                 classifier: Callable[[], Classifier],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._prints = prints
        self._records = records
        self._duplicates = duplicates
        self._classifier = classifier
        self._clock = clock
        self._started: float | None = None
        self._done_this_run = 0
        self._pending = True  # until a step finds nothing left

    @property
    def pending(self) -> bool:
        """True while some filed photo may still lack a fingerprint."""
        return self._pending

    def step_when_idle(self, queue: FileQueue, act_lock: threading.Lock) -> bool:
        """One step when no new photo waits (new arrivals come first); True while more is
        left to do."""
        if not self._pending or queue.pending_count():
            return self._pending
        with act_lock:
            self.step()
        return self._pending

    def step(self, limit: int = STEP_PHOTOS) -> int:
        """Fingerprint up to `limit` photos; return how many were handled."""
        missing = self._prints.missing_for_done(limit)
        if not missing:
            if self._pending and self._done_this_run:
                logger.info("duplicates: every filed photo has been analysed (%d this run)",
                            self._done_this_run)
            self._pending = False
            return 0
        if self._started is None:
            self._started = self._clock()
            done, total = self._prints.coverage()
            logger.info("duplicates: analysing %d photos filed earlier, in the background",
                        total - done)
        jobs = []
        for sha256 in missing:
            record = self._records.get(sha256)
            if record is None or not record.path.is_file():
                where = record.path if record else "nowhere known"
                self._duplicates.note_problem(sha256, f"not found at {where}")
                continue
            jobs.append(Job(record.path, None, None, sha256))
        for job, result in zip(jobs, self._classifier().classify(iter(jobs)), strict=True):
            self._take(job, result)
        self._done_this_run += len(missing)
        return len(missing)

    def _take(self, job: Job, result: object) -> None:
        if isinstance(result, Analysis) and result.sha256 == job.sha256:
            self._duplicates.add(result, job.path)
            return
        problem = getattr(result, "error", None) or "its content changed since it was filed"
        logger.info("duplicates: could not analyse %s again: %s", printable(job.path.name),
                    problem)
        assert job.sha256 is not None
        self._duplicates.note_problem(job.sha256, problem)

    def progress(self) -> dict[str, Any] | None:
        """{done, total, eta_s} while photos are left to analyse, else None."""
        done, total = self._prints.coverage()
        if done >= total:
            return None
        eta = None
        if self._started is not None and self._done_this_run:
            rate = self._done_this_run / max(1e-6, self._clock() - self._started)
            eta = round((total - done) / rate, 1)
        return {"done": done, "total": total, "eta_s": eta}


def track_duplicates(conn: sqlite3.Connection, records: Records,
                     classifier: Callable[[], Classifier]) -> tuple[LibraryDuplicates, Backfill]:
    """The daemon's duplicates: the library's fingerprints and the backfill that completes
    them."""
    prints = Prints(conn)
    duplicates = LibraryDuplicates(prints, records)
    return duplicates, Backfill(prints, records, duplicates, classifier)
