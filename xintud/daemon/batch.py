"""One batch of queued files through the pipeline: hash → known? → classify → place → act → record.

This is where the stages meet for the daemon: it owns no thread and no timer, so it can be
driven (and tested) one batch at a time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from xintud.config.schema import Config
from xintud.core.facts import (
    BULKY_FIELDS,
    Analysis,
    AnalysisFailure,
    analysis_from_json,
    result_to_json,
)
from xintud.core.formats import RAW_SUFFIXES
from xintud.core.text import printable
from xintud.engine.classify import Classifier, Job
from xintud.engine.decode import DecodeError, read_file_bytes
from xintud.engine.models.manifest import ModelError
from xintud.intake.companions import companions_of, image_twin_of_raw, photos_for
from xintud.intake.settle import IMAGE_SUFFIXES
from xintud.intake.video import is_video_file, is_video_name
from xintud.library.actor import Actor
from xintud.library.outcome import ActOutcome, Status
from xintud.library.placement import Placement, place
from xintud.state.journal import ActionKind, Journal
from xintud.state.queue import FileQueue, QueueItem
from xintud.state.records import FileRecord, FileState, Records

logger = logging.getLogger(__name__)

# A failed move (disk full, destination read-only) is retried with growing pauses, then given up.
MAX_ACT_ATTEMPTS = 6
RETRY_BASE_SECONDS = 30.0
RETRY_MAX_SECONDS = 3600.0

_DONE_STATUS: dict[ActionKind, Status] = {"move": "moved", "copy": "copied", "tag": "tagged"}


def retry_delay(attempts: int) -> float:
    """Seconds to wait before the next try after `attempts` failures."""
    return min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempts))


def describe(outcome: ActOutcome, root: Path) -> str:
    """Where a photo went, relative to the library root when it is inside it."""
    if outcome.dst is None:
        return ""
    try:
        return str(outcome.dst.relative_to(root))
    except ValueError:
        return str(outcome.dst)


class BatchProcessor:
    """Runs claimed queue items through classify → act → record."""

    def __init__(self, queue: FileQueue, records: Records, actor: Actor,
                 classifier: Callable[[], Classifier], config: Config,
                 on_filed: Callable[[Analysis, Path], None] | None = None) -> None:
        self.queue = queue
        self.records = records
        self.actor = actor
        self.classifier = classifier  # loads the models on first use (they may be unloaded)
        self.config = config
        self.on_filed = on_filed  # each photo filed (moved, copied or tagged), where it is now

    def process(self, items: Sequence[QueueItem]) -> None:
        """Finish every item: filed, skipped, failed, or scheduled for a retry."""
        jobs: list[tuple[QueueItem, Job]] = []
        for item in items:
            job = self._job_if_new(item)
            if job is None:
                self.queue.complete(item.id)
            else:
                jobs.append((item, job))
        if not jobs:
            return
        # Each photo is filed as soon as its result is in, while the classifier's workers go on
        # with the rest of the batch: filing (hash check, rename, fsync, record) overlaps them.
        results = self.classifier().classify(job for _, job in jobs)
        for (item, _), result in zip(jobs, results, strict=True):
            self._finish(item, result)

    def process_guarded(self, items: Sequence[QueueItem], act_lock: threading.Lock) -> bool:
        """Process claimed items under `act_lock`; False when the models cannot classify.

        A bug must neither lose photos nor stop the daemon, and must not repeat at every start:
        the batch's photos are then tried one by one and the one that triggers it is set aside.
        A locked database propagates (the loop waits for it); the items go back to the queue.
        """
        try:
            with act_lock:
                self.process(items)
        except ModelError as exc:
            self.queue.release([item.id for item in items])
            logger.error("cannot classify: %s", exc)
            return False
        except sqlite3.OperationalError:
            self.queue.release([item.id for item in items])
            raise
        except Exception:
            logger.exception("unexpected error in a batch; retrying its photos one by one")
            self.queue.release([item.id for item in items])
            self._isolate_failing_items(items, act_lock)
        return True

    def _isolate_failing_items(self, items: Sequence[QueueItem], act_lock: threading.Lock) -> None:
        for item in items:
            claimed = self.queue.claim_ids([item.id])
            if not claimed:
                continue
            try:
                with act_lock:
                    self.process(claimed)
            except (ModelError, sqlite3.OperationalError):
                self.queue.release([item.id])
                raise
            except Exception as exc:
                logger.exception("failed %s: internal error", printable(item.path.name))
                self.give_up(item, f"internal error ({type(exc).__name__}: {exc}); "
                                             "the photo was left where it is — please report it")

    def _job_if_new(self, item: QueueItem) -> Job | None:
        """Read and hash the file; None when there is nothing to do for it."""
        path = item.path
        if path.is_symlink() or not path.exists():
            logger.debug("%s is gone or a symlink; nothing to do", path)
            return None
        if self._goes_with_its_twin(path):
            return None
        try:
            data = read_file_bytes(path)
        except DecodeError as exc:
            if not os.path.lexists(path):
                # Deleted or moved away after it was queued: nothing failed, nothing to do.
                logger.info("%s disappeared before it was read; nothing to do", path.name)
                return None
            self._fail(None, path, str(exc))
            return None
        sha256 = hashlib.sha256(data).hexdigest()
        known = self.records.get(sha256)
        if known is not None and known.state is not FileState.QUEUED:
            self._recognise(known, path)
            return None
        return Job(path, item.kind, data, sha256)

    def _goes_with_its_twin(self, path: Path) -> bool:
        """A RAW with a JPEG (or HEIC) twin is one photo with it: classified once, from the
        twin, and moved as its companion (now, or after it when the twin is filed already)."""
        if path.suffix.lower() not in RAW_SUFFIXES:
            return False
        twin = image_twin_of_raw(path, IMAGE_SUFFIXES)
        filed = self.records.filed_from(photos_for(path, IMAGE_SUFFIXES - RAW_SUFFIXES))
        if twin is None and filed is None:
            return False
        logger.info("%s goes with its twin %s", printable(path.name),
                    printable((twin or (filed.original_path if filed else path)).name))
        return True

    def _recognise(self, known: FileRecord, path: Path) -> None:
        """A photo we have seen before, at this or another path: never filed twice."""
        if known.path == path:
            return
        if known.state is FileState.UNDONE or (known.path.exists() and known.path != path):
            logger.info("skipped %s: same photo as %s (%s)", path.name, known.path,
                        known.state.value)
            return
        # The user renamed or moved it: follow it, do not re-file it.
        self.records.upsert(replace(known, path=path))
        logger.info("recognised %s (moved or renamed; already %s)", path, known.state.value)

    def _finish(self, item: QueueItem, result: Analysis | AnalysisFailure) -> None:
        path = item.path
        if isinstance(result, AnalysisFailure):
            self._fail(result.sha256, path, result.error)
            self.queue.complete(item.id)
            return
        placement = place(self.config, result, path)
        self._note_intent(result, path, placement)
        outcome = self._act(placement, result, path)
        if outcome is not None and outcome.status == "failed":
            if not os.path.lexists(path):
                # Gone while it was being classified: retrying could only fail again.
                logger.info("%s disappeared before it could be filed; nothing to do",
                            path.name)
                self.queue.complete(item.id)
                return
            self._retry_or_give_up(item, result, outcome.message)
            return
        self._record(result, path, placement, outcome)
        self.queue.complete(item.id)

    def _note_intent(self, analysis: Analysis, path: Path, placement: Placement) -> None:
        """Keep the analysis and decision before acting, as a QUEUED record: if a crash comes
        after the action but before `_record`, `record_interrupted` finishes the record from it
        and the journal at the next start (else the photo would be filed but unknown)."""
        if placement.action == "leave" or self.actor.dry_run:
            return
        self.records.upsert(FileRecord(
            sha256=analysis.sha256, path=path, original_path=path, state=FileState.QUEUED,
            category=placement.category, confidence=analysis.confidence,
            action=f"{placement.action} begun", reason=placement.note,
            result_json=result_to_json(analysis, exclude=set(BULKY_FIELDS)),
        ))

    def record_interrupted(self, journal: Journal) -> int:
        """At start, after `Actor.recover`: record the photos whose action the journal shows
        done but whose record a crash left QUEUED; return how many. A QUEUED record without a
        done action stays: its queue item analyses and files it again."""
        finished = 0
        for record in self.records.queued():
            if record.sha256 is None or record.result_json is None:
                continue
            action = journal.done_action_from(record.sha256, record.path)
            if action is None:
                continue
            analysis = analysis_from_json(record.result_json)
            placement = Placement(action.kind, record.category or analysis.category,
                                  action.dst.parent, record.reason)
            outcome = ActOutcome(_DONE_STATUS[action.kind], action.src, action.dst, action.id,
                                 "finished before a crash; recorded at the next start")
            self._record(analysis, record.path, placement, outcome)
            finished += 1
        return finished

    def _act(self, placement: Placement, analysis: Analysis, path: Path) -> ActOutcome | None:
        if placement.action == "leave":
            return None
        if placement.action == "tag":
            return self.actor.tag(path, placement.category, analysis.sha256)
        assert placement.dst_dir is not None
        kind: ActionKind = "copy" if placement.action == "copy" else "move"
        return self.actor.file_set(kind, path, placement.dst_dir, analysis.sha256,
                                   settled_companions(path, self.config.daemon.settle_seconds))

    def _record(self, analysis: Analysis, path: Path, placement: Placement,
                outcome: ActOutcome | None) -> None:
        root = self.config.library.root
        score = f"{placement.category} {analysis.confidence:.2f}"
        result_json = result_to_json(analysis, exclude=set(BULKY_FIELDS))
        if outcome is None:
            logger.info("left %s in place: %s", path.name, placement.note)
            state, where, action = FileState.SKIPPED, path, f"left in place ({placement.note})"
        elif outcome.status == "dry_run":
            logger.info("dry run: would %s %s -> %s (%s)", placement.action, path.name,
                        describe(outcome, root) or placement.category, score)
            return  # nothing happened, so nothing is remembered: turning dry run off files it
        elif outcome.status == "duplicate":
            logger.info("skipped %s: identical copy already at %s", path.name,
                        describe(outcome, root))
            state, where, action = FileState.SKIPPED, path, f"duplicate of {outcome.dst}"
        elif outcome.status == "tagged":
            logger.info("tagged %s as %s (%s)", path.name, placement.category, score)
            state, where, action = FileState.DONE, path, f"tagged {placement.category}"
        else:
            verb = "filed" if outcome.status == "moved" else "copied"
            where = outcome.dst if outcome.status == "moved" and outcome.dst else path
            dest = describe(outcome, root)
            logger.info("%s %s -> %s (%s)", verb, path.name, str(Path(dest).parent), score)
            state, action = FileState.DONE, f"{verb} {path.name} -> {dest} ({score})"
        self.records.upsert(FileRecord(
            sha256=analysis.sha256, path=where, original_path=path, state=state,
            category=placement.category, confidence=analysis.confidence, action=action,
            reason=placement.note, result_json=result_json,
        ))
        if state is FileState.DONE:
            self._tell_filed(analysis, where)

    def _tell_filed(self, analysis: Analysis, where: Path) -> None:
        if self.on_filed is None:
            return
        try:
            self.on_filed(analysis, where)
        except sqlite3.OperationalError:
            raise
        except Exception:
            # Finding its duplicates is a suggestion; the photo is filed whatever happens here.
            logger.exception("could not look for duplicates of %s; it is filed all the same",
                             printable(where.name))

    def _retry_or_give_up(self, item: QueueItem, analysis: Analysis, message: str) -> None:
        if item.attempts + 1 >= MAX_ACT_ATTEMPTS:
            self._fail(analysis.sha256, item.path, f"gave up after {item.attempts + 1} tries: "
                                                   f"{message}")
            self.queue.complete(item.id)
            return
        delay = retry_delay(item.attempts)
        logger.warning("could not file %s: %s — will try again in %.0f s", item.path.name,
                       message, delay)
        self.queue.retry_later(item.id, delay, message)

    def give_up(self, item: QueueItem, reason: str) -> None:
        """Record a photo as failed for `reason` and drop it from the queue; it stays put."""
        self._fail(None, item.path, reason)
        self.queue.complete(item.id)

    def _fail(self, sha256: str | None, path: Path, reason: str) -> None:
        logger.warning("failed %s: %s", path.name, reason)
        try:
            self.records.mark_failed(sha256, path, reason)
        except ValueError as exc:  # an UNDONE photo: the user's choice stands
            logger.debug("not recording failure for %s: %s", path, exc)




def recover_state(actor: Actor, processor: BatchProcessor, journal: Journal,
                  queue: FileQueue) -> None:
    """Settle what a crash (or a database outage) left half-done: begun journal actions,
    records of photos filed just before it, and claimed queue items."""
    for line in actor.recover():
        logger.info("recovered: %s", line)
    recorded = processor.record_interrupted(journal)
    if recorded:
        logger.info("recorded %d photos filed just before the last stop", recorded)
    returned = queue.recover_inflight()
    if returned:
        logger.info("%d photos were in flight at the last stop; queued again", returned)


def settled_companions(photo: Path, settle_seconds: float) -> list[Path]:
    """The photo's companions that are complete (unchanged for the settle time): one still
    being written follows later, when it settles (daemon/companions.py)."""
    now = time.time()
    found = []
    for companion in companions_of(photo):
        try:
            if now - companion.stat().st_mtime < settle_seconds:
                continue
        except OSError:
            continue
        if is_video_name(companion) and not is_video_file(companion):
            logger.warning("%s is named like %s's video but is not one (no MP4/MOV boxes); "
                           "it stays where it is — check what wrote it", printable(
                               companion.name), printable(photo.name))
            continue
        found.append(companion)
    return found
