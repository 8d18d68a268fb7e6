"""Settle stage: decide when a file in a watch folder is complete enough to touch.

A file is only handed on once its size, mtime and inode have stayed the same for
``settle_seconds``; temp and partial files (sync clients, browsers, rsync, our own temp files)
are never handed on at all.
"""

from __future__ import annotations

import fnmatch
import os
import stat
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from xintud.core.formats import RAW_SUFFIXES

IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif",
     ".hif", ".avif", *RAW_SUFFIXES}
)

# Names that writers use while a file is incomplete. Dot-names cover rsync (.name.XXXXXX),
# Syncthing (.syncthing.name.tmp), Android MediaStore (.pending-123-name), our own
# .xintud-*.part files and hidden/system files in general.
TEMP_NAME_PATTERNS: tuple[str, ...] = (
    ".*",
    "~$*",
    "*~",
    "*.part",
    "*.partial",
    "*.crdownload",
    "*.download",
    "*.tmp",
    "*.temp",
    "*.filepart",
    "*.!sync",
)

# An empty file is often a placeholder a sync client fills later, so it gets a longer quiet
# period than a file with content before it is reported (and then recorded as failed).
EMPTY_SETTLE_FACTOR = 10.0


def _matches_any(name: str, patterns: Sequence[str]) -> bool:
    """Case-insensitive glob match of a name (IMG.PART is as partial as img.part)."""
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, pattern.lower()) for pattern in patterns)


def is_ignored_name(name: str, extra_patterns: Sequence[str] = ()) -> bool:
    """True if a single file or folder name is a temp/partial/hidden name or matches a user glob."""
    return _matches_any(name, TEMP_NAME_PATTERNS) or _matches_any(name, extra_patterns)


def is_ignored(path: Path, extra_patterns: Sequence[str] = (), root: Path | None = None) -> bool:
    """True if the file at ``path`` must never be processed.

    The file name is checked against the temp/partial patterns and the user's globs
    (``extra_patterns``, fnmatch, case-insensitive). With ``root`` (the watch folder), every
    folder between root and the file is checked too, so anything inside a dot-directory
    (``.stfolder``, ``.thumbnails``, ``.trash``) or a user-ignored folder is ignored. The root
    itself and its parents are never checked: a watch folder may live under ``~/.var``.
    """
    if is_ignored_name(path.name, extra_patterns):
        return True
    if root is None:
        return False
    try:
        relative = PurePath(path).relative_to(root)
    except ValueError:
        return False
    return any(is_ignored_name(part, extra_patterns) for part in relative.parts[:-1])


def is_image_name(path: Path) -> bool:
    """True if the file name has an image extension we process (any letter case)."""
    return path.suffix.lower() in IMAGE_SUFFIXES


@dataclass(frozen=True)
class FileSignature:
    """What must stay unchanged for a file to count as settled."""

    size: int
    mtime_ns: int
    inode: int


@dataclass(frozen=True)
class _Pending:
    signature: FileSignature
    changed_at: float  # clock() when the signature was last seen to change


def _signature(path: Path) -> FileSignature | None:
    """Stat without following symlinks; None if the path is gone or not a regular file."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return FileSignature(size=st.st_size, mtime_ns=st.st_mtime_ns, inode=st.st_ino)


class Settler:
    """Tracks files that changed recently and reports each one once it has stayed unchanged.

    ``observe`` is called from the watcher thread for every event; ``due`` and
    ``next_deadline`` from the daemon loop. All methods are thread-safe. File system calls
    are made outside the lock so a slow disk never blocks the other thread on the lock.
    """

    def __init__(
        self,
        settle_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        empty_settle_seconds: float | None = None,
    ) -> None:
        """``empty_settle_seconds`` (default ``EMPTY_SETTLE_FACTOR`` x settle) applies to
        zero-byte files, which are reported too, but only after that longer quiet period."""
        if settle_seconds < 0:
            raise ValueError(f"settle_seconds must be >= 0, got {settle_seconds}")
        self._settle = float(settle_seconds)
        self._empty_settle = (
            float(empty_settle_seconds)
            if empty_settle_seconds is not None
            else self._settle * EMPTY_SETTLE_FACTOR
        )
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[Path, _Pending] = {}

    @property
    def settle_seconds(self) -> float:
        """Quiet period a non-empty file needs before it is due."""
        return self._settle

    def observe(self, path: Path) -> None:
        """Note activity on ``path``: (re)start its quiet period if its size/mtime/inode changed.

        A path that no longer exists (or is a symlink, folder, fifo...) is dropped.
        """
        path = Path(path)
        signature = _signature(path)
        now = self._clock()
        with self._lock:
            if signature is None:
                self._pending.pop(path, None)
                return
            current = self._pending.get(path)
            if current is None or current.signature != signature:
                self._pending[path] = _Pending(signature, now)

    def forget(self, path: Path) -> None:
        """Stop tracking ``path`` (no error if it was not tracked)."""
        with self._lock:
            self._pending.pop(Path(path), None)

    def due(self) -> list[Path]:
        """Return the paths that stayed unchanged for their settle time and stop tracking them.

        Candidates are stat'ed again: one that changed since its last observation restarts its
        quiet period; one that vanished is dropped.
        """
        now = self._clock()
        with self._lock:
            candidates = [
                (path, entry)
                for path, entry in self._pending.items()
                if now >= self._deadline_of(entry)
            ]
        checked = [(path, entry, _signature(path)) for path, entry in candidates]
        ready: list[Path] = []
        with self._lock:
            for path, entry, signature in checked:
                if self._pending.get(path) is not entry:
                    continue  # observe() saw newer activity meanwhile; its record wins
                if signature is None:
                    del self._pending[path]
                elif signature != entry.signature:
                    self._pending[path] = _Pending(signature, now)
                else:
                    del self._pending[path]
                    ready.append(path)
        return ready

    def next_deadline(self) -> float | None:
        """Earliest clock() time at which something could become due; None if nothing pending."""
        with self._lock:
            if not self._pending:
                return None
            return min(self._deadline_of(entry) for entry in self._pending.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    def __contains__(self, path: object) -> bool:
        with self._lock:
            return isinstance(path, PurePath) and Path(path) in self._pending

    def _deadline_of(self, entry: _Pending) -> float:
        quiet = self._empty_settle if entry.signature.size == 0 else self._settle
        return entry.changed_at + quiet
