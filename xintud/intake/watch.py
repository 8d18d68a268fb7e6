"""Watch stage: report image files that appear or change in the watch folders.

``FolderWatcher``: watchdog observers, recursive, one schedule per folder, live events, reported
as (path, kind). Its twin for what events miss (the daemon was down, the inotify queue
overflowed, the watch limit was reached) is scan.py's full walk, of the same shape.

Neither decides whether a file is complete: that is the settle stage's job. Symlinks are never
reported and never descended into, so the daemon can never move a link's target.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from xintud.intake.settle import is_ignored, is_image_name

logger = logging.getLogger(__name__)

# watchdog 7's recursive inotify watch warns when a new folder is registered twice — once from
# its own creation event and once by the walk of its parent made a moment earlier (`mkdir -p`,
# a folder of folders moved in). It re-registers the same callback, so nothing is lost; the
# warning would only be a scary log line for the user.
warnings.filterwarnings("ignore", message="Callback with id .* already exists for watch",
                        category=RuntimeWarning)

# Only the events that can mean "new or changed content". Leaving out opened/closed-no-write
# matters: the daemon reading a photo must not make it reappear. Attribute changes count: a
# photo that could not be read becomes readable by a chmod, and sync clients set mtime last.
_EVENT_FILTER: list[type[FileSystemEvent]] = [
    FileAttribEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileClosedEvent,
    DirCreatedEvent,
    DirMovedEvent,
]

STOP_TIMEOUT_SECONDS = 2.0

OnPath = Callable[[Path, str], None]


class WatchFolderLike(Protocol):
    """What the watcher needs of a watch folder; config.WatchFolder satisfies it."""

    @property
    def path(self) -> Path: ...

    @property
    def kind(self) -> str: ...


@dataclass(frozen=True)
class _Scheduled:
    watch: ObservedWatch
    identity: tuple[int, int]  # (st_dev, st_ino) of the folder when scheduled


def dir_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of a directory, following a symlinked root; None if it is not a dir."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode):
        return None
    return (st.st_dev, st.st_ino)


def _emitter_alive(observer: BaseObserver, watch: ObservedWatch) -> bool:
    """False once watchdog stopped the watch's emitter (it does when the folder is deleted)."""
    return any(emitter.watch == watch and emitter.is_alive() for emitter in observer.emitters)


def _is_inside(path: str, folder: str) -> bool:
    """True if ``path`` is strictly below ``folder`` (both absolute, normalised)."""
    return path.startswith(folder.rstrip(os.sep) + os.sep)


def _nested_roots(roots: Sequence[str], index: int) -> list[str]:
    """The other watch folders that lie inside folder ``index``: their files are theirs."""
    return [other for other in roots if _is_inside(other, roots[index])]


def _has_symlink_between(root: Path, path: Path) -> bool:
    """True if ``path`` itself or any folder between ``root`` and it is a symlink."""
    current = path
    while current != root and current != current.parent:
        if current.is_symlink():
            return True
        current = current.parent
    return False


class _FolderEventHandler(FileSystemEventHandler):
    """Turns one folder's watchdog events into on_path(path, kind) calls."""

    def __init__(
        self,
        root: Path,
        watched_root: str,
        kind: str,
        ignore: Sequence[str],
        on_path: OnPath,
        nested_roots: Sequence[str] = (),
        names: Callable[[Path], bool] = is_image_name,
    ) -> None:
        self._names = names
        self._root = root
        self._watched_root = watched_root
        self._nested_roots = tuple(nested_roots)
        self._kind = kind
        self._ignore = tuple(ignore)
        self._on_path = on_path

    def on_created(self, event: FileSystemEvent) -> None:
        self._consider(event)

    def on_modified(self, event: FileSystemEvent) -> None:
        self._consider(event)

    def on_attrib(self, event: FileSystemEvent) -> None:
        self._consider(event)

    def on_closed(self, event: FileSystemEvent) -> None:
        # A writer closed the file; it may still be incomplete (cp reopens, sync clients
        # resume), so it only restarts the settle clock.
        self._consider(event)

    def on_moved(self, event: FileSystemEvent) -> None:
        # A temp name renamed to its final name: only the destination matters.
        self._consider(event, use_dest=True)

    def _consider(self, event: FileSystemEvent, use_dest: bool = False) -> None:
        if event.is_directory:
            return
        raw = event.dest_path if use_dest else event.src_path
        if not raw:
            return
        try:
            path = self._to_configured_path(os.fsdecode(raw))
            if path is None or not self._wanted(path):
                return
            self._on_path(path, self._kind)
        except Exception:
            # An exception here would kill watchdog's dispatcher thread and silently stop
            # all watching, so log it and keep going.
            logger.exception("watch: handling an event for %s failed; continuing", raw)

    def _to_configured_path(self, event_path: str) -> Path | None:
        """Map a path under the (resolved) watched folder back under the configured folder."""
        if not _is_inside(event_path, self._watched_root):
            return None
        if any(_is_inside(event_path, nested) for nested in self._nested_roots):
            return None  # a more specific watch folder (with its own kind) reports it
        return self._root / os.path.relpath(event_path, self._watched_root)

    def _wanted(self, path: Path) -> bool:
        return (
            self._names(path)
            and not is_ignored(path, self._ignore, root=self._root)
            and not _has_symlink_between(self._root, path)
        )


class FolderWatcher:
    """Live watchdog observers on each watch folder and all its subfolders.

    ``on_path(path, kind)`` is called from watchdog's thread for every image name that is not
    ignored, possibly many times per file (each write chunk); the settle stage collapses them.
    A missing folder is reported in the log (or created, with ``create_missing``) and the
    others are watched anyway; call ``start()`` again later to pick it up.
    """

    def __init__(
        self,
        folders: Sequence[WatchFolderLike],
        on_path: OnPath,
        ignore: Sequence[str] = (),
        create_missing: bool = False,
        names: Callable[[Path], bool] = is_image_name,
    ) -> None:
        """`names` says which file names to report (default: photos; the learner watches
        XMP sidecars with it in tag mode)."""
        self._names = names
        self._folders = list(folders)
        self._on_path = on_path
        self._ignore = tuple(ignore)
        self._create_missing = create_missing
        self._lock = threading.Lock()
        self._observer: BaseObserver | None = None
        self._scheduled: dict[int, _Scheduled] = {}
        self._reported_missing: set[int] = set()

    def start(self) -> None:
        """Start watching every folder that exists and is not watched yet.

        Safe to call again: folders that appeared since are added, and a folder that was
        deleted and recreated gets a fresh watch.
        """
        with self._lock:
            if self._observer is None:
                self._observer = Observer()
                self._observer.daemon = True
                self._observer.start()
            roots = [os.path.realpath(folder.path) for folder in self._folders]
            for index, folder in enumerate(self._folders):
                if roots[index] in roots[:index]:
                    self._warn_once(
                        index,
                        "watch: %s (%s) is the same folder as an earlier watch entry; ignored",
                        folder.path,
                        folder.kind,
                    )
                    continue
                self._ensure_scheduled(self._observer, index, folder, roots)

    def stop(self) -> None:
        """Stop all observers; returns within about ``STOP_TIMEOUT_SECONDS``."""
        with self._lock:
            observer, self._observer = self._observer, None
            self._scheduled.clear()
            self._reported_missing.clear()
        if observer is None:
            return
        observer.stop()
        observer.join(timeout=STOP_TIMEOUT_SECONDS)
        if observer.is_alive():
            logger.warning(
                "watch: observer thread did not stop within %.1f s", STOP_TIMEOUT_SECONDS
            )

    @property
    def watched(self) -> list[Path]:
        """The configured folders currently being watched."""
        with self._lock:
            live = self._live_indexes()
            return [folder.path for i, folder in enumerate(self._folders) if i in live]

    @property
    def missing(self) -> list[Path]:
        """The configured folders not being watched: missing, not a folder, not watchable, or
        deleted since (watchdog drops a deleted folder's watch; ``start()`` restores it)."""
        with self._lock:
            live = self._live_indexes()
            return [folder.path for i, folder in enumerate(self._folders) if i not in live]

    def _live_indexes(self) -> set[int]:
        if self._observer is None:
            return set()
        return {
            index
            for index, scheduled in self._scheduled.items()
            if _emitter_alive(self._observer, scheduled.watch)
        }

    def _ensure_scheduled(
        self, observer: BaseObserver, index: int, folder: WatchFolderLike, roots: list[str]
    ) -> None:
        root = Path(folder.path)
        identity = self._existing_identity(index, root, folder.kind)
        previous = self._scheduled.get(index)
        if previous is not None:
            if previous.identity == identity and _emitter_alive(observer, previous.watch):
                return
            # Deleted or replaced since it was scheduled: the old inotify watch is dead.
            self._scheduled.pop(index)
            self._unschedule(observer, previous.watch)
        if identity is None:
            return
        handler = _FolderEventHandler(
            root,
            roots[index],
            folder.kind,
            self._ignore,
            self._on_path,
            nested_roots=_nested_roots(roots, index),
            names=self._names,
        )
        try:
            watch = observer.schedule(
                handler, roots[index], recursive=True, event_filter=_EVENT_FILTER
            )
        except OSError as exc:
            self._warn_once(
                index,
                "watch: cannot watch %s (%s): %s. New files there are found only by the "
                "periodic scan. If the inotify limit is reached, raise it, e.g. "
                "`sysctl fs.inotify.max_user_watches=524288`.",
                root,
                folder.kind,
                exc,
            )
            return
        self._scheduled[index] = _Scheduled(watch, identity)
        self._reported_missing.discard(index)
        logger.info("watch: watching %s (%s) and its subfolders", root, folder.kind)

    def _existing_identity(self, index: int, root: Path, kind: str) -> tuple[int, int] | None:
        """The folder's identity, creating it first if asked to; None (logged once) if absent."""
        if self._create_missing and not root.exists() and not root.is_symlink():
            try:
                root.mkdir(parents=True, exist_ok=True)
                logger.info("watch: created missing watch folder %s (%s)", root, kind)
            except OSError as exc:
                self._warn_once(
                    index, "watch: cannot create watch folder %s (%s): %s", root, kind, exc
                )
        identity = dir_identity(root)
        if identity is None:
            problem = "is not a folder" if root.exists() else "does not exist"
            self._warn_once(
                index,
                "watch: watch folder %s (%s) %s; not watching it. Create it (mkdir -p %s) or "
                "fix the 'watch' list in the config; the other folders are watched.",
                root,
                kind,
                problem,
                root,
            )
        return identity

    def _warn_once(self, index: int, message: str, *args: object) -> None:
        """Log a folder problem once, not on every start() retry."""
        if index not in self._reported_missing:
            self._reported_missing.add(index)
            logger.warning(message, *args)

    @staticmethod
    def _unschedule(observer: BaseObserver, watch: ObservedWatch) -> None:
        try:
            observer.unschedule(watch)
        except (KeyError, RuntimeError):
            logger.debug("watch: %s was already unscheduled", watch.path)


