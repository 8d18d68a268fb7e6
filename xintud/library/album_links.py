"""Where album folders are made: `Albums/<name>/` in the library, holding relative symlinks to
the filed photos — views, never copies; nothing is ever moved, copied or changed to make one.

A folder xintud made carries a MARK file naming its album, so a folder the user renamed is
still that album's (its new name is kept), and a folder without one is the user's and never
touched. Only symlinks are ever removed from an album folder, and only ones xintud would have
made (or broken ones); a link is never followed. A folder whose album is gone loses its links
and its mark, and is removed only when nothing else is left in it.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from xintud.library.names import numbered_name

logger = logging.getLogger(__name__)

ALBUMS_FOLDER = "Albums"
MARK = ".xintud-album"
_UNSAFE = re.compile(r"[/\\\x00-\x1f]")


@dataclass(frozen=True)
class AlbumView:
    """An album as a folder of links: a stable id, its name and its photos."""

    id: str
    name: str
    members: tuple[Path, ...]


@dataclass
class SyncReport:
    """What one pass changed."""

    folders: dict[str, Path] = field(default_factory=dict)  # album id → its folder
    linked: int = 0
    unlinked: int = 0
    removed_folders: int = 0


def folder_name(name: str) -> str:
    """An album's name as a folder name (no slashes or control characters, not hidden)."""
    text = _UNSAFE.sub("-", name).strip().lstrip(".")
    return text[:200] or "Album"


def marked_folders(albums_dir: Path) -> dict[str, Path]:
    """The album folders xintud made, by album id (wherever the user renamed them to)."""
    found = {}
    if not albums_dir.is_dir():
        return found
    for entry in os.scandir(albums_dir):
        if entry.is_dir(follow_symlinks=False):
            mark = Path(entry.path) / MARK
            try:
                album_id = mark.read_text().strip() if mark.is_file() else ""
            except OSError:
                album_id = ""
            if album_id:
                found[album_id] = Path(entry.path)
    return found


def sync_album_folders(library_root: Path, albums: Sequence[AlbumView]) -> SyncReport:
    """Make `Albums/` show exactly these albums; see the module docstring for what is kept."""
    albums_dir = library_root / ALBUMS_FOLDER
    albums_dir.mkdir(exist_ok=True)
    ours = marked_folders(albums_dir)
    report = SyncReport()
    for album in albums:
        folder = ours.pop(album.id, None) or _new_folder(albums_dir, album)
        report.folders[album.id] = folder
        linked, unlinked = _sync_links(folder, album.members, library_root)
        report.linked += linked
        report.unlinked += unlinked
    for folder in ours.values():  # albums that are no more
        report.unlinked += _sync_links(folder, (), library_root)[1]
        (folder / MARK).unlink(missing_ok=True)
        try:
            folder.rmdir()
            report.removed_folders += 1
        except OSError:
            logger.info("album folder %s holds files of yours; left in place", folder)
    return report


def _new_folder(albums_dir: Path, album: AlbumView) -> Path:
    base = folder_name(album.name)
    for n in range(10000):
        folder = albums_dir / numbered_name(base, n)
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        (folder / MARK).write_text(album.id + "\n")
        return folder
    raise OSError(f"no free folder name for album {album.name!r} in {albums_dir}")


def _sync_links(folder: Path, members: Sequence[Path], root: Path) -> tuple[int, int]:
    """Links to exactly `members` in `folder`; (made, removed)."""
    wanted: dict[str, str] = {}
    for member in members:
        target = os.path.relpath(member, folder)
        name, n = member.name, 0
        while name in wanted and wanted[name] != target:
            n += 1
            name = numbered_name(member.name, n)
        wanted[name] = target
    made = removed = 0
    for entry in os.scandir(folder):
        if not entry.is_symlink():
            continue  # a file or folder of the user's: never touched
        path = Path(entry.path)
        if wanted.get(entry.name) == os.readlink(path) and (folder / wanted[entry.name]).exists():
            del wanted[entry.name]
            continue
        path.unlink()  # an old, moved or broken link: only the link goes
        removed += 1
    for name, target in wanted.items():
        link = folder / name
        if os.path.lexists(link):
            continue  # a file of the user's by that name
        if not (folder / target).resolve().is_relative_to(root.resolve()):
            continue  # never point out of the library
        os.symlink(target, link)
        made += 1
    return made, removed
