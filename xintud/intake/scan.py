"""Scan stage: find photos that arrived while nobody was looking, and tell which are settled.

At start, periodically, on `xintuctl scan` and when a lost watch folder comes back, the daemon
walks the watch folders: files whose events were lost (the daemon was down, the inotify queue
overflowed, the watch limit was reached) are found here. A file old enough is handed on at
once; a newer one goes through the settle stage like a live event.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from xintud.intake.settle import is_ignored, is_ignored_name, is_image_name
from xintud.intake.watch import WatchFolderLike, dir_identity

logger = logging.getLogger(__name__)


def reconcile_scan(
    folders: Sequence[WatchFolderLike], ignore: Sequence[str] = ()
) -> Iterator[tuple[Path, str]]:
    """Yield (path, kind) for every image file under each watch folder, in name order.

    Skips ignored names, dot-directories and user-ignored folders, and never follows or reports
    symlinks (a symlinked watch folder itself is followed). A watch folder nested in another
    is scanned once, with its own kind. Missing or unreadable folders are logged and skipped.
    """
    patterns = tuple(ignore)
    identities = [dir_identity(Path(folder.path)) for folder in folders]
    roots = {identity for identity in identities if identity is not None}
    scanned: set[tuple[int, int]] = set()
    for folder, identity in zip(folders, identities, strict=True):
        if identity is None:
            logger.debug("scan: watch folder %s (%s) is missing; skipped", folder.path, folder.kind)
            continue
        if identity in scanned:
            continue  # the same folder listed twice
        scanned.add(identity)
        for path in _walk_images(Path(folder.path), patterns, roots - {identity}):
            yield path, folder.kind


def _walk_images(
    root: Path, patterns: tuple[str, ...], other_roots: set[tuple[int, int]]
) -> Iterator[Path]:
    """Depth-first walk without following symlinks, skipping other watch folders' trees.

    Folder identities are remembered so a bind-mount loop cannot make the walk endless.
    """
    seen: set[tuple[int, int]] = set(other_roots)
    stack: list[Path] = [root]
    while stack:
        directory = stack.pop()
        identity = dir_identity(directory)
        if identity is None or identity in seen:
            continue
        seen.add(identity)
        subdirs, files = _list_directory(directory, patterns)
        yield from files
        # Reversed so the walk pops subfolders in name order.
        stack.extend(reversed(subdirs))


def _list_directory(directory: Path, patterns: tuple[str, ...]) -> tuple[list[Path], list[Path]]:
    """Read one folder fully (closing it before yielding): (subfolders, image files), sorted."""
    subdirs: list[Path] = []
    files: list[Path] = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if is_ignored_name(entry.name, patterns):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        subdirs.append(Path(entry.path))
                    elif entry.is_file(follow_symlinks=False) and is_image_name(Path(entry.name)):
                        files.append(Path(entry.path))
                except OSError:
                    continue  # vanished between listing and checking
    except OSError as exc:
        logger.warning("scan: cannot read folder %s: %s; skipped", directory, exc)
    return sorted(subdirs), sorted(files)


def is_settled_on_disk(path: Path, settle_seconds: float, now: float) -> bool:
    """True when the file's mtime is older than the settle time (found by a reconcile scan)."""
    try:
        return now - os.stat(path).st_mtime >= settle_seconds
    except OSError:
        return False


@dataclass(frozen=True)
class ScanFolder:
    """A folder to scan and the kind of watch folder it belongs to."""

    path: Path
    kind: str


@dataclass
class ScanResult:
    """What a scan found: files settled enough to queue now, and files still being written."""

    settled: list[tuple[Path, str]] = field(default_factory=list)
    unsettled: list[tuple[Path, str]] = field(default_factory=list)


def kind_of(folder: Path, watch: Sequence[WatchFolderLike]) -> str:
    """The kind of the watch folder that holds `folder` ("camera" when none does)."""
    for item in watch:
        if folder == item.path or item.path in folder.parents:
            return item.kind
    return "camera"


def scan_for_missed(
    folders: Sequence[WatchFolderLike],
    ignore: Sequence[str],
    settle_seconds: float,
    already_handled: Callable[[Path], bool],
    now: float,
) -> ScanResult:
    """Image files under `folders` that still need handling, split by whether they settled.

    `already_handled(path)` says when a file needs nothing (a copied or tagged photo that stays
    in the watch folder and has not changed since): it is not hashed again on every scan.
    """
    result = ScanResult()
    for path, kind in reconcile_scan(folders, ignore):
        if not is_image_name(path) or is_ignored(path, ignore):
            continue
        if not is_settled_on_disk(path, settle_seconds, now):
            result.unsettled.append((path, kind))
        elif not already_handled(path):
            result.settled.append((path, kind))
    return result
