"""Where album folders are made: `Albums/<name>/` in the library, holding relative symlinks to
the filed photos — views, never copies; nothing is ever moved, copied or changed to make one.

A folder xintud made carries a MARK file naming its album and the name xintud gave it, so a
folder the user renamed is still that album's (its new name is kept; one xintud named is renamed
as the album's name changes — a trip that grows by a day), and a folder without one is the
user's and never touched. Only symlinks are ever removed from an album folder, and only ones
xintud would have made (or broken ones); a link is never followed. A folder whose album is
gone loses its links and its mark, and is removed only when nothing else is left in it.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
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


@dataclass(frozen=True)
class Mark:
    """What a folder's mark says: its album, and the folder name xintud last gave it."""

    album_id: str
    given: str

    def render(self) -> str:
        """The mark file's text."""
        return f"{self.album_id}\n{self.given}\n"


def read_mark(folder: Path) -> Mark | None:
    """The mark of a folder xintud made, or None for the user's own."""
    try:
        lines = (folder / MARK).read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    if not lines or not lines[0].strip():
        return None
    return Mark(lines[0].strip(), lines[1] if len(lines) > 1 else folder.name)


def marked_folders(albums_dir: Path) -> dict[str, Path]:
    """The album folders xintud made, by album id (wherever the user renamed them to)."""
    found = {}
    if not albums_dir.is_dir():
        return found
    for entry in os.scandir(albums_dir):
        if entry.is_dir(follow_symlinks=False):
            mark = read_mark(Path(entry.path))
            if mark is not None:
                found[mark.album_id] = Path(entry.path)
    return found


def members_shown(folder: Path) -> list[Path]:
    """The photos a folder's links point at (resolved within the folder, never followed)."""
    shown = []
    for entry in os.scandir(folder):
        if entry.is_symlink():
            shown.append(Path(os.path.normpath(folder / os.readlink(entry.path))))
    return shown


class AlbumFolders:
    """The `Albums/` folder of one library: all albums at once (`sync`), or the few one new
    photo changed (`show`, `drop`) without reading every folder again.

    The links last made are remembered per album, so that updating an album of 10,000 photos
    for one more costs one link, not a read of the folder's 10,000 (which made a backlog of
    undated photos, all in one album, quadratic). A folder is read again when its album is
    first shown, at every `sync`, and after anything went wrong in it."""

    def __init__(self, library_root: Path) -> None:
        self.root = library_root
        self.albums_dir = library_root / ALBUMS_FOLDER
        self._folders: dict[str, Path] | None = None
        self._links: dict[str, dict[Path, str]] = {}  # album id → member → its link's name

    def folders(self) -> dict[str, Path]:
        """The folders xintud made, by album id."""
        if self._folders is None:
            self._folders = marked_folders(self.albums_dir)
        return self._folders

    def sync(self, albums: Sequence[AlbumView]) -> SyncReport:
        """Make `Albums/` show exactly these albums; see the module docstring for what is
        kept."""
        self._folders = None
        self._links = {}
        report = SyncReport()
        wanted = {album.id for album in albums}
        for album in albums:
            self._show(album, report)
        for album_id in [i for i in self.folders() if i not in wanted]:
            self._drop(album_id, report)
        return report

    def show(self, album: AlbumView) -> SyncReport:
        """Make or update one album's folder."""
        report = SyncReport()
        self._show(album, report)
        return report

    def drop(self, album_id: str) -> SyncReport:
        """An album that is no more: its links and mark go, the folder when nothing is left."""
        report = SyncReport()
        self._drop(album_id, report)
        return report

    def _show(self, album: AlbumView, report: SyncReport) -> None:
        self.albums_dir.mkdir(exist_ok=True)
        folder = self.folders().get(album.id)
        mark = read_mark(folder) if folder is not None else None
        if folder is not None and (mark is None or mark.album_id != album.id):
            self._folders = None  # the user moved things about: look again
            self._links.pop(album.id, None)
            folder = self.folders().get(album.id)
            mark = read_mark(folder) if folder is not None else None
        folder = self._renamed(folder, mark, album) if folder is not None and mark else \
            _new_folder(self.albums_dir, album)
        self.folders()[album.id] = folder
        report.folders[album.id] = folder
        known = self._links.pop(album.id, None)
        if known is None:
            known, linked, unlinked = _sync_links(folder, album.members, self.root)
        else:
            linked, unlinked = _update_links(folder, known, album.members, self.root)
        self._links[album.id] = known
        report.linked += linked
        report.unlinked += unlinked

    def _renamed(self, folder: Path, mark: Mark, album: AlbumView) -> Path:
        """The album's folder under its new name — unless the user renamed it: theirs stays."""
        wanted = folder_name(album.name)
        if folder.name != mark.given or _base_of(mark.given) == wanted:
            return folder
        for n in range(10000):
            target = self.albums_dir / _numbered_folder(wanted, n)
            if os.path.lexists(target):
                continue
            try:
                folder.rename(target)
            except OSError as exc:
                logger.warning("album folder %s keeps its name: cannot rename it to %s (%s)",
                               folder, target.name, exc)
                return folder
            (target / MARK).write_text(Mark(album.id, target.name).render())
            return target
        return folder

    def _drop(self, album_id: str, report: SyncReport) -> None:
        folder = self.folders().pop(album_id, None)
        self._links.pop(album_id, None)
        if folder is None or not folder.is_dir():
            return
        report.unlinked += _sync_links(folder, (), self.root)[2]
        (folder / MARK).unlink(missing_ok=True)
        try:
            folder.rmdir()
            report.removed_folders += 1
        except OSError:
            logger.info("album folder %s holds files of yours; left in place", folder)


def _numbered_folder(base: str, n: int) -> str:
    """`Kyoto (2)`: a folder's name has no suffix (`St. Gallen` is one name)."""
    return f"{base} ({n})" if n else base


def _base_of(given: str) -> str:
    """A folder name xintud gave without the ` (2)` it may have had to take."""
    return re.sub(r" \(\d+\)$", "", given)


def _new_folder(albums_dir: Path, album: AlbumView) -> Path:
    base = folder_name(album.name)
    for n in range(10000):
        folder = albums_dir / _numbered_folder(base, n)
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        (folder / MARK).write_text(Mark(album.id, folder.name).render())
        return folder
    raise OSError(f"no free folder name for album {album.name!r} in {albums_dir}")


def _link_names(members: Iterable[Path], taken: Mapping[str, Path]) -> dict[str, Path]:
    """A link name for each member (→ the member), beside the names `taken` already; two
    photos of one name get `name (1)`."""
    wanted: dict[str, Path] = {}
    for member in members:
        name, n = member.name, 0
        while (taken.get(name) or wanted.get(name, member)) != member:
            n += 1
            name = numbered_name(member.name, n)
        wanted[name] = member
    return wanted


def _sync_links(folder: Path, members: Sequence[Path], root: Path
                ) -> tuple[dict[Path, str], int, int]:
    """Links to exactly `members` in `folder`, checked against what is there; (member → its
    link's name, made, removed)."""
    names = _link_names(members, {})
    wanted = {name: os.path.relpath(member, folder) for name, member in names.items()}
    made = removed = 0
    for entry in os.scandir(folder):
        if not entry.is_symlink():
            continue  # a file or folder of the user's: never touched
        path = Path(entry.path)
        if wanted.get(entry.name) == os.readlink(path) and (folder / wanted[entry.name]).exists():
            continue
        path.unlink()  # an old, moved or broken link: only the link goes
        removed += 1
    for name, target in wanted.items():
        made += _make_link(folder, name, target, root)
    return {member: name for name, member in names.items()}, made, removed


def _update_links(folder: Path, known: dict[Path, str], members: Sequence[Path], root: Path
                  ) -> tuple[int, int]:
    """The links of `known` (member → link name, updated in place) changed to `members`:
    only the links of photos that left or joined are touched; (made, removed)."""
    # Set operations, not loops: an album of thousands is updated for every photo added.
    now = set(members)
    removed = 0
    for member in known.keys() - now:
        link = folder / known.pop(member)
        if link.is_symlink():
            link.unlink()
            removed += 1
    joined = now - known.keys()
    if not joined:
        return 0, removed
    added = _link_names(sorted(joined), dict(zip(known.values(), known.keys(), strict=True)))
    made = 0
    for name, member in added.items():
        made += _make_link(folder, name, os.path.relpath(member, folder), root)
        known[member] = name
    return made, removed


def _make_link(folder: Path, name: str, target: str, root: Path) -> int:
    """1 when the link was made; none over a file of the user's or pointing out of the
    library."""
    link = folder / name
    if os.path.lexists(link):
        return 0  # the link is there already, or a file of the user's by that name
    if not (folder / target).resolve().is_relative_to(root.resolve()):
        return 0  # never point out of the library
    os.symlink(target, link)
    return 1
