"""The daemon: assembled here, in one place, from parts that each work and test alone.

Threads: watchdog's observer (reports paths to the settler), the control socket's server, the
decode pool inside the classifier, and the main loop below, which alone moves files. The loop
sleeps until something can happen — a file settles, a retry falls due, a scan or the idle
unload is due, or a command or signal wakes it — so an idle daemon costs no CPU.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from functools import partial
from pathlib import Path

from xintud.config.schema import Config
from xintud.control.handlers import Commands, DaemonFlags
from xintud.control.server import ControlServer
from xintud.core.paths import AppPaths
from xintud.daemon.albums import AlbumKeeper
from xintud.daemon.backfill import track_duplicates
from xintud.daemon.batch import BatchProcessor, recover_state
from xintud.daemon.companions import CompanionFollower
from xintud.daemon.models import ModelHolder, model_version, providers_usable
from xintud.daemon.side import SideWatchers, both
from xintud.daemon.teaching import Teaching
from xintud.engine.learned import model_name
from xintud.intake.scan import ScanFolder, kind_of, scan_for_missed
from xintud.intake.settle import Settler
from xintud.intake.watch import FolderWatcher
from xintud.library.actor import Actor
from xintud.state.db import is_locked_error, open_state_db
from xintud.state.journal import Journal
from xintud.state.queue import FileQueue
from xintud.state.records import FileState, Records

logger = logging.getLogger("xintud")


# watchdog drops the watch of a folder that is deleted; every so many seconds the loop looks for
# such folders and watches them again once they are back (a sync client re-creating its folder).
WATCH_CHECK_SECONDS = 5.0
# While another process holds the state database locked, the loop tries again this often.
DB_RETRY_SECONDS = 5.0


def prepare_library_root(config: Config) -> Path | None:
    """Create the library folder once, at start; the actor then refuses to file anywhere if it
    is missing later (an unplugged drive) rather than re-create it on the wrong disk."""
    if config.library.action == "tag":
        return None
    root = config.library.root
    if not config.daemon.dry_run:
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            logger.error("cannot create the library folder %s (%s); photos wait in the queue "
                         "until it exists", root, exc.strerror)
    return root


def unchanged_since_recorded(records: Records, path: Path) -> bool:
    """True when a photo in a watch folder was finished with and has not changed since:
    copied or tagged photos stay there, and are not hashed again at every scan."""
    record = records.get_by_path(path)
    if record is None or record.state is FileState.QUEUED:
        return False  # QUEUED: not finished, so it must be looked at again
    try:
        return path.stat().st_mtime <= record.updated_at
    except OSError:
        return True


class Daemon:
    """The long-running service: watch → settle → queue → classify → act → record."""

    def __init__(self, config: Config, config_path: Path | None, paths: AppPaths) -> None:
        self.config = config
        self.config_path = config_path
        self.paths = paths
        self.flags = DaemonFlags()
        self.act_lock = threading.Lock()
        self.conn = open_state_db(paths.db_path)
        self.queue = FileQueue(self.conn)
        self.records = Records(self.conn)
        self.journal = Journal(self.conn)
        self.actor = Actor(self.journal, dry_run=config.daemon.dry_run,
                           library_root=prepare_library_root(config))
        self.models = ModelHolder(config.daemon.inference_threads, config.daemon.batch_size,
                                  config.engine.providers)
        self.settler = Settler(config.daemon.settle_seconds)
        self.watcher = self._make_watcher(config)
        self.duplicates, self.backfill = track_duplicates(self.conn, self.records, self.models.get)
        self.albums = AlbumKeeper(self.records, lambda: self.config, self.actor, self.act_lock,
                                  self.duplicates.groups)
        self.processor = BatchProcessor(self.queue, self.records, self.actor, self.models.get,
                                        config, on_filed=both(self.duplicates.add,
                                                              self.albums.add))
        self.version = model_version()
        self.taught: tuple[str, ...] = ()  # categories of the user's own, in the version in use
        self.teaching = Teaching(self.conn, self.records, self.journal, self.actor,
                                 self.act_lock, self.models, lambda: self.config, paths,
                                 self.flags.wake.set, self._use_categories)
        self.commands = Commands(self.flags, self.queue, self.records, self.journal, self.actor,
                                 self.act_lock, config_path,
                                 lambda: model_name(self.version, self.models.learned),
                                 duplicates=self.duplicates,
                                 library_action=lambda: self.config.library.action,
                                 backfill_progress=self.backfill.progress,
                                 learning=self.teaching, albums=self.albums.report)
        self.side = SideWatchers([self.teaching, self.albums, CompanionFollower(
            self.records, self.journal, self.actor, self.act_lock, lambda: self.config,
            self.flags.wake.set)])
        self.control = ControlServer(paths.socket_path, self.commands.handle)
        self.next_reconcile = 0.0
        self.next_watch_check = 0.0
        self.database_locked = False
        self.first_waiting: float | None = None
        self._kinds: dict[Path, str] = {}  # watch-folder kind of each path the settler holds

    def _use_categories(self, names: tuple[str, ...]) -> None:
        # A category of the user's own gets its folder (the config's, else its name).
        self.taught = names
        self.config = self.config.with_categories(names)
        self.processor.config = self.config

    def _make_watcher(self, config: Config) -> FolderWatcher:
        return FolderWatcher(config.watch, self._on_path, ignore=config.ignore, create_missing=True)

    def _on_path(self, path: Path, kind: str) -> None:
        # watchdog's thread: only note the path; the loop decides when it is whole. The kind
        # is noted first so the loop never sees a settled path without it.
        self._kinds[path] = kind
        self.settler.observe(path)
        self.flags.wake.set()

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Recover from a crash, open the socket, start watching, queue what arrived meanwhile."""
        self._recover_state()
        self.duplicates.load()
        self.control.start()
        self.watcher.start()
        self.side.start()
        self._queue_what_was_missed()
        logger.info("xintud started: watching %s, filing into %s (%s%s), model %s",
                    ", ".join(str(w.path) for w in self.config.watch), self.config.library.root,
                    self.config.library.action, ", dry run" if self.config.daemon.dry_run else "",
                    model_name(self.version, self.models.learned))

    def _recover_state(self) -> None:
        recover_state(self.actor, self.processor, self.journal, self.queue)

    def _queue_what_was_missed(self) -> None:
        self.reconcile(None)
        if self.queue.pending_count():
            # Items left by the last run (a crash, a stop mid-backlog) are not new to the scan,
            # so nothing else would wake the loop for them.
            self._note_waiting()

    def stop(self) -> None:
        """Stop watching and serving; the queue keeps whatever was not finished."""
        self.watcher.stop()
        self.side.stop()
        self.control.stop()
        self.models.unload(why=None)
        self.conn.close()
        logger.info("xintud stopped")

    def run(self) -> None:
        """The main loop, until a stop is asked for (SIGTERM, SIGINT)."""
        while not self.flags.stop.is_set():
            try:
                self._run_once()
            except sqlite3.OperationalError as exc:
                if not is_locked_error(exc):
                    raise
                self._wait_for_database(exc)

    def _wait_for_database(self, exc: sqlite3.OperationalError) -> None:
        # Nothing can be journaled or recorded, so nothing is touched until the lock is gone.
        if not self.database_locked:
            logger.error("state database %s is locked by another process (%s): xintud files "
                         "nothing until it is free and tries again every %.0f s; close the "
                         "program holding it (a sqlite3 shell in a transaction?)",
                         self.paths.db_path, exc, DB_RETRY_SECONDS)
        self.database_locked = True
        self.flags.stop.wait(DB_RETRY_SECONDS)

    def _after_database_outage(self) -> None:
        # A batch cut short by the lock may have left a begun action, a QUEUED record, claimed
        # items, and settled paths that never reached the queue: settle them as at a start.
        with self.act_lock:
            self._recover_state()
        self._queue_what_was_missed()
        self.database_locked = False
        logger.info("state database %s is free again; carrying on", self.paths.db_path)

    def _run_once(self) -> None:
        if self.database_locked:
            self._after_database_outage()
        self.flags.wake.wait(self._sleep_seconds())
        self.flags.wake.clear()
        if self.flags.stop.is_set():
            return
        self._apply_new_config()
        for path in self.flags.take_scans():
            self.reconcile(path)
        if self.config.daemon.reconcile_interval_seconds and \
                time.monotonic() >= self.next_reconcile:
            self.reconcile(None)
        self._rewatch_lost_folders()
        self._queue_settled()
        if not self.flags.paused.is_set():
            self._process_ready_batches()
            self.side.step()
            if self.backfill.step_when_idle(self.queue, self.act_lock):
                self.flags.wake.set()  # go on at the next turn, after any new arrival
        self.models.unload_if_idle(self.config.daemon.idle_unload_seconds, self.act_lock)

    # -- the loop's steps -------------------------------------------------------------------

    def _sleep_seconds(self) -> float | None:
        now = time.monotonic()
        deadlines = [self.settler.next_deadline(), self.next_watch_check]
        if not self.flags.paused.is_set():
            deadlines.append(self.side.next_deadline())
        if self.config.daemon.reconcile_interval_seconds:
            deadlines.append(self.next_reconcile)
        if self.first_waiting is not None and not self.flags.paused.is_set():
            deadlines.append(self.first_waiting + self.config.daemon.batch_max_wait_seconds)
        retry_at = self.queue.next_retry_at()
        if retry_at is not None:
            deadlines.append(now + max(0.0, retry_at - time.time()))
        if self.models.loaded and self.config.daemon.idle_unload_seconds:
            deadlines.append(self.models.last_used + self.config.daemon.idle_unload_seconds)
        upcoming = [d for d in deadlines if d is not None]
        return max(0.0, min(upcoming) - now) + 0.01 if upcoming else None

    def reconcile(self, folder: Path | None) -> None:
        """Queue files that arrived while we were not looking (or in one folder, on request)."""
        watch = self.config.watch
        folders = watch if folder is None else [ScanFolder(folder, kind_of(folder, watch))]
        found = scan_for_missed(folders, self.config.ignore, self.config.daemon.settle_seconds,
                                partial(unchanged_since_recorded, self.records), time.time())
        for path, kind in found.unsettled:
            self._on_path(path, kind)
        queued = self.queue.enqueue_many(found.settled)
        if queued:
            logger.info("queued %d photos found by a scan", queued)
            self._note_waiting()
        if folder is None:
            self.next_reconcile = time.monotonic() + self.config.daemon.reconcile_interval_seconds

    def _rewatch_lost_folders(self) -> None:
        if time.monotonic() < self.next_watch_check:
            return
        self.next_watch_check = time.monotonic() + WATCH_CHECK_SECONDS
        lost = self.watcher.missing
        if not lost:
            return
        self.watcher.start()  # re-arms folders that are back (and makes missing ones again)
        for folder in set(lost) & set(self.watcher.watched):
            logger.info("watch folder %s is back; watching it again", folder)
            self.reconcile(folder)  # what arrived before the new watch was in place

    def _queue_settled(self) -> None:
        due = self.settler.due()
        if not due:
            return
        self.queue.enqueue_many((path, self._kinds.pop(path, "camera")) for path in due)
        self._note_waiting()

    def _note_waiting(self) -> None:
        if self.first_waiting is None:
            self.first_waiting = time.monotonic()

    def _process_ready_batches(self) -> None:
        batch_size = self.config.daemon.batch_size
        while not self.flags.stop.is_set() and not self.flags.paused.is_set():
            pending = self.queue.pending_count()
            if pending == 0:
                self.first_waiting = None
                return
            waited = time.monotonic() - (self.first_waiting or 0.0)
            if pending < batch_size and waited < self.config.daemon.batch_max_wait_seconds \
                    and len(self.settler):
                # More are on their way (still settling): fill the batch, within the max wait.
                # With nothing on the way, waiting would only delay the photos that are here.
                return
            items = self.queue.claim(batch_size)
            if not items:
                # Everything pending waits for a retry time: _sleep_seconds wakes the loop
                # then; keeping first_waiting would make it spin until that time.
                self.first_waiting = None
                return
            if not self.processor.process_guarded(items, self.act_lock):
                self.flags.paused.set()
                logger.error("paused; fix the models, then `xintuctl resume`")
                return
            self.first_waiting = time.monotonic() if self.queue.pending_count() else None

    def _apply_new_config(self) -> None:
        config = self.flags.take_config()
        if config is None or not providers_usable(config.engine.providers):
            return
        self.watcher.stop()
        self.side.stop()
        self.config = config.with_categories(self.taught)
        self.settler = Settler(config.daemon.settle_seconds)
        self.watcher = self._make_watcher(config)
        self.actor.dry_run = config.daemon.dry_run
        self.actor.library_root = prepare_library_root(config)
        self.processor.config = self.config
        self.models.threads = config.daemon.inference_threads
        self.models.batch_size = config.daemon.batch_size
        self.models.providers = tuple(config.engine.providers)
        self.models.unload(why="to apply the new config")
        self.watcher.start()
        self.side.start()
        self.reconcile(None)
        logger.info("config reloaded")


