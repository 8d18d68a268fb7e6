"""The daemon: assembled here, in one place, from parts that each work and test alone.

Threads: watchdog's observer (reports paths to the settler), the control socket's server, the
decode pool inside the classifier, and the main loop below, which alone moves files. The loop
sleeps until something can happen — a file settles, a retry falls due, a scan or the idle
unload is due, or a command or signal wakes it — so an idle daemon costs no CPU.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from xintud.act import Actor
from xintud.classify import Classifier
from xintud.commands import Commands, DaemonFlags
from xintud.config import Config, ConfigError, load_config
from xintud.control import ControlServer, ControlSocketError
from xintud.db import StateDBError, is_locked_error, open_state_db
from xintud.journal import Journal
from xintud.modelstore import (
    ModelError,
    load_models,
    models_dir,
    read_manifest,
    release_model_memory,
    use_one_malloc_arena,
)
from xintud.paths import AppPaths, app_paths
from xintud.printable import printable
from xintud.process import BatchProcessor, is_settled_on_disk
from xintud.queue import FileQueue, QueueItem
from xintud.record import FileState, Records
from xintud.settle import Settler, is_ignored, is_image_name
from xintud.watch import FolderWatcher, reconcile_scan

logger = logging.getLogger("xintud")

EXIT_OK = 0
EXIT_FATAL = 2

# watchdog drops the watch of a folder that is deleted; every so many seconds the loop looks for
# such folders and watches them again once they are back (a sync client re-creating its folder).
WATCH_CHECK_SECONDS = 5.0
# While another process holds the state database locked, the loop tries again this often.
DB_RETRY_SECONDS = 5.0


class SingleInstanceError(Exception):
    """Another xintud of this user holds the lock."""


@contextlib.contextmanager
def single_instance(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock for the daemon's lifetime: one socket, one database owner."""
    handle = lock_path.open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise SingleInstanceError(
                f"another xintud is already running (lock {lock_path} is held); "
                "check it with `xintuctl status`, or stop it before starting a new one"
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()


class ModelHolder:
    """Loads the models on first use and drops them after an idle time (memory back to the OS)."""

    def __init__(self, threads: int, batch_size: int) -> None:
        self.threads = threads
        self.batch_size = batch_size
        self._classifier: Classifier | None = None
        self.last_used = time.monotonic()
        use_one_malloc_arena()  # before any worker thread: what unload frees stays returnable

    def get(self) -> Classifier:
        """The classifier, loading the models if they are not loaded."""
        if self._classifier is None:
            started = time.monotonic()
            self._classifier = Classifier(load_models(self.threads), batch_size=self.batch_size)
            logger.info("models loaded in %.1f s", time.monotonic() - started)
        self.last_used = time.monotonic()
        return self._classifier

    @property
    def loaded(self) -> bool:
        """True while the models are in memory."""
        return self._classifier is not None

    def unload(self) -> None:
        """Drop the models and give their memory back; the next get() loads them again."""
        if self._classifier is not None:
            self._classifier.close()
            self._classifier = None
            release_model_memory()
            logger.info("models unloaded after being idle; they load again when a photo arrives")


def model_version() -> str:
    """The shipped models' version, read from the manifest without loading anything."""
    try:
        return read_manifest(models_dir()).version
    except ModelError:
        return "unknown (manifest unreadable)"


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
        self.models = ModelHolder(config.daemon.inference_threads, config.daemon.batch_size)
        self.settler = Settler(config.daemon.settle_seconds)
        self.watcher = self._make_watcher(config)
        self.processor = BatchProcessor(self.queue, self.records, self.actor, self.models.get,
                                        config)
        self.version = model_version()
        self.commands = Commands(self.flags, self.queue, self.records, self.journal, self.actor,
                                 self.act_lock, config_path, lambda: self.version)
        self.control = ControlServer(paths.socket_path, self.commands.handle)
        self.next_reconcile = 0.0
        self.next_watch_check = 0.0
        self.database_locked = False
        self.first_waiting: float | None = None
        self._kinds: dict[Path, str] = {}  # watch-folder kind of each path the settler holds

    # -- assembly -------------------------------------------------------------------------

    def _make_watcher(self, config: Config) -> FolderWatcher:
        return FolderWatcher(config.watch, self._on_path, ignore=config.ignore,
                             create_missing=True)

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
        self.control.start()
        self.watcher.start()
        self._queue_what_was_missed()
        logger.info("xintud started: watching %s, filing into %s (%s%s), model %s",
                    ", ".join(str(w.path) for w in self.config.watch), self.config.library.root,
                    self.config.library.action, ", dry run" if self.config.daemon.dry_run else "",
                    self.version)

    def _recover_state(self) -> None:
        """Settle what a crash (or a database outage) left half-done: begun journal actions,
        records of photos filed just before it, and claimed queue items."""
        for line in self.actor.recover():
            logger.info("recovered: %s", line)
        recorded = self.processor.record_interrupted(self.journal)
        if recorded:
            logger.info("recorded %d photos filed just before the last stop", recorded)
        returned = self.queue.recover_inflight()
        if returned:
            logger.info("%d photos were in flight at the last stop; queued again", returned)

    def _queue_what_was_missed(self) -> None:
        self.reconcile(None)
        if self.queue.pending_count():
            # Items left by the last run (a crash, a stop mid-backlog) are not new to the scan,
            # so nothing else would wake the loop for them.
            self._note_waiting()

    def stop(self) -> None:
        """Stop watching and serving; the queue keeps whatever was not finished."""
        self.watcher.stop()
        self.control.stop()
        self.models.unload()
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
        self._unload_if_idle()

    # -- the loop's steps -------------------------------------------------------------------

    def _sleep_seconds(self) -> float | None:
        now = time.monotonic()
        deadlines = [self.settler.next_deadline(), self.next_watch_check]
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
        folders = self.config.watch if folder is None else [_Folder(folder, self._kind_of(folder))]
        now = time.time()
        settled = []
        for path, kind in reconcile_scan(folders, self.config.ignore):
            if not is_image_name(path) or is_ignored(path, self.config.ignore):
                continue
            if is_settled_on_disk(path, self.config.daemon.settle_seconds, now):
                if self._unchanged_since_recorded(path):
                    continue
                settled.append((path, kind))
            else:
                self._on_path(path, kind)
        queued = self.queue.enqueue_many(settled)
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

    def _kind_of(self, folder: Path) -> str:
        for watch in self.config.watch:
            if folder == watch.path or watch.path in folder.parents:
                return watch.kind
        return "camera"

    def _unchanged_since_recorded(self, path: Path) -> bool:
        # Copied or tagged photos stay in the watch folder: don't re-hash them on every scan.
        record = self.records.get_by_path(path)
        if record is None or record.state is FileState.QUEUED:
            return False  # QUEUED: not finished, so it must be looked at again
        try:
            return path.stat().st_mtime <= record.updated_at
        except OSError:
            return True

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
            try:
                with self.act_lock:
                    self.processor.process(items)
            except ModelError as exc:
                self.queue.release([item.id for item in items])
                logger.error("cannot classify: %s", exc)
                self.flags.paused.set()
                logger.error("paused; fix the models, then `xintuctl resume`")
                return
            except sqlite3.OperationalError:
                self.queue.release([item.id for item in items])
                raise  # run() waits for a locked database and recovers
            except Exception:
                # A bug must neither lose photos nor stop the daemon, and must not repeat at
                # every start: find the file that triggers it and set that one aside.
                logger.exception("unexpected error in a batch; retrying its photos one by one")
                self.queue.release([item.id for item in items])
                self._isolate_failing_items(items)
            self.first_waiting = time.monotonic() if self.queue.pending_count() else None

    def _isolate_failing_items(self, items: list[QueueItem]) -> None:
        for item in items:
            claimed = self.queue.claim_ids([item.id])
            if not claimed:
                continue
            try:
                with self.act_lock:
                    self.processor.process(claimed)
            except (ModelError, sqlite3.OperationalError):
                self.queue.release([item.id])
                raise
            except Exception as exc:
                logger.exception("failed %s: internal error", printable(item.path.name))
                self.processor.give_up(item, f"internal error ({type(exc).__name__}: {exc}); "
                                             "the photo was left where it is — please report it")

    def _unload_if_idle(self) -> None:
        idle = self.config.daemon.idle_unload_seconds
        if idle and self.models.loaded and time.monotonic() - self.models.last_used >= idle:
            self.models.unload()

    def _apply_new_config(self) -> None:
        config = self.flags.take_config()
        if config is None:
            return
        self.watcher.stop()
        self.config = config
        self.settler = Settler(config.daemon.settle_seconds)
        self.watcher = self._make_watcher(config)
        self.actor.dry_run = config.daemon.dry_run
        self.actor.library_root = prepare_library_root(config)
        self.processor.config = config
        self.models.threads = config.daemon.inference_threads
        self.models.batch_size = config.daemon.batch_size
        self.models.unload()
        self.watcher.start()
        self.reconcile(None)
        logger.info("config reloaded")


class _Folder:
    """A folder to scan on request, shaped like a config WatchFolder."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path = path
        self.kind = kind


def install_signal_handlers(daemon: Daemon) -> None:
    """SIGTERM/SIGINT stop cleanly; SIGHUP re-reads the config (keeping the old one if bad)."""

    def stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s; finishing the current batch and stopping",
                    signal.Signals(signum).name)
        daemon.flags.stop.set()
        daemon.flags.wake.set()

    def reload(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=_reload_from_signal, args=(daemon,), daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, reload)


def _reload_from_signal(daemon: Daemon) -> None:
    try:
        daemon.flags.offer_config(load_config(daemon.config_path))
    except ConfigError as exc:
        logger.error("SIGHUP: config not reloaded, the old one stays in use: %s", exc)


def refuse_root() -> str | None:
    """Why the daemon must not run as this user, or None."""
    if os.geteuid() == 0 and os.environ.get("XINTUD_ALLOW_ROOT") != "1":
        return ("xintud must not run as root: it is a per-user service for your own photos. "
                "Run it as your user (systemctl --user), or set XINTUD_ALLOW_ROOT=1 if you "
                "really mean it (e.g. in a container)")
    return None


def run_daemon(config_path: Path | None) -> int:
    """Run until SIGTERM; the exit code is 0 for a clean stop, 2 when it could not start."""
    problem = refuse_root()
    if problem:
        logger.error(problem)
        return EXIT_FATAL
    if os.geteuid() == 0:
        logger.warning("running as root (XINTUD_ALLOW_ROOT=1): everything xintud files will "
                       "belong to root and it can reach every user's photos; outside a "
                       "container, run it as your own user instead")
    try:
        config = load_config(config_path)
        paths = app_paths()
    except (ConfigError, PermissionError) as exc:
        logger.error("%s", exc)
        return EXIT_FATAL
    logging.getLogger().setLevel(config.daemon.python_log_level())
    try:
        with single_instance(paths.lock_path):
            daemon = Daemon(config, config_path, paths)
            install_signal_handlers(daemon)
            daemon.start()
            try:
                daemon.run()
            finally:
                daemon.stop()
    except (SingleInstanceError, StateDBError, ControlSocketError, ModelError) as exc:
        logger.error("%s", exc)
        return EXIT_FATAL
    return EXIT_OK
