"""Albums in the library, kept by the daemon: `Albums/<name>/` folders of links to the filed
photos (library/album_links.py), updated as each photo is filed — the timeline (albums/
timeline.py) re-makes only the albums around it, in milliseconds — and checked against the
records when the loop is idle, for photos the user moved or took back. The timeline is read
from the records at start; the ids the folders carry are read back so that a folder keeps its
album (and the name the user gave it) across restarts. `[library] albums = false` turns it
off. Tag mode makes no folders: the albums are keywords in the photos' sidecars instead
(album_tags.py), written from the loop's steps, never while a batch holds the act lock.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from xintud.albums.build import Album
from xintud.albums.moments import Moment, moment_of, taken_when
from xintud.albums.timeline import Change, Timeline
from xintud.config.schema import Config
from xintud.core.facts import Analysis
from xintud.daemon.album_tags import AlbumTags
from xintud.daemon.side import earliest
from xintud.duplicates.report import GroupReport, not_best
from xintud.library.actor import Actor
from xintud.library.album_links import AlbumFolders, AlbumView, members_shown
from xintud.state.records import Records

logger = logging.getLogger("xintud")

CHECK_AFTER_SECONDS = 30.0  # after the last photo filed: look for photos moved meanwhile
# A backlog pouring into one album updates its folder once a second, not once per photo: a
# folder update reads the whole album (10,000 undated photos filed at once are one event).
FOLDERS_EVERY_SECONDS = 1.0


class AlbumKeeper:
    """The library's albums: a timeline in memory, folders (or, in tag mode, the sidecars'
    keywords) updated photo by photo."""

    def __init__(self, records: Records, config: Callable[[], Config],
                 actor: Actor | None = None, act_lock: threading.Lock | None = None,
                 duplicates: Callable[[], Iterable[GroupReport]] = list) -> None:
        self.records = records
        self.config = config
        self.duplicates = duplicates  # the library's groups: a cover is a group's best shot
        self._timeline: Timeline | None = None
        self._folders: AlbumFolders | None = None
        self._tags = AlbumTags(actor, act_lock or threading.Lock()) if actor else None
        self._kept_in: Path | None = None  # the library the folders are in; None: tag mode
        self._due: float | None = time.monotonic()  # once at start
        self._lock = threading.Lock()  # the control thread reads the albums
        self._unshown = _Unshown()
        self._shown_at = float("-inf")

    def add(self, analysis: Analysis, where: Path) -> None:
        """A photo was filed: it joins its album, whose folder is updated now."""
        if self._timeline is None or not self._enabled():
            return
        started = time.perf_counter()
        with self._lock:
            change = self._timeline.add(moment_of(analysis, where, key=analysis.sha256))
            album = self._timeline.album_of(analysis.sha256)
        self._show(change)
        if album is not None:
            logger.info("album %s: now %d photos, with %s (%.0f ms)", album.name,
                        len(album.members), where.name, 1000 * (time.perf_counter() - started))
        self._due = time.monotonic() + CHECK_AFTER_SECONDS

    def start(self) -> None:
        """Nothing to watch: the loop's steps do the work."""

    def stop(self) -> None:
        """The folders show every photo filed before the daemon stops."""
        self._show_folders()

    def next_deadline(self) -> float | None:
        """When the folders are next updated or the albums checked against the records
        (monotonic), if they are."""
        if not self._enabled():
            return None
        return earliest(self._due, self._shown_at + FOLDERS_EVERY_SECONDS
                        if self._unshown else None)

    def step(self) -> None:
        """At start: read the timeline and make `Albums/` whole; later: follow the photos the
        user moved or took back since."""
        if self._unshown and time.monotonic() >= self._shown_at + FOLDERS_EVERY_SECONDS:
            self._show_folders()
        if self._due is None or time.monotonic() < self._due or not self._enabled():
            return
        self._due = None
        started = time.perf_counter()
        if self._timeline is None or self._kept_in != self._where():
            self._load()
            return
        self._follow_records()
        logger.debug("albums checked against the records in %.2f s",
                     time.perf_counter() - started)

    def report(self) -> list[dict[str, Any]]:
        """The albums as `xintuctl albums` shows them, one object each."""
        with self._lock:
            albums = self._timeline.albums if self._timeline is not None else []
        passed_over = not_best(self.duplicates()) if albums else set()
        return [{"name": a.name, "kind": a.kind, "start": a.start.isoformat(),
                 "end": a.end.isoformat(), "place": a.place, "count": len(a.members),
                 "cover": str(a.cover_passing_over(passed_over).path),
                 "members": [str(m.path) for m in a.members]}
                for a in albums]

    def _enabled(self) -> bool:
        config = self.config()
        if not config.library.albums:
            return False
        if config.library.action == "tag":
            return self._tags is not None
        return config.library.root.is_dir()

    def _where(self) -> Path | None:
        """The library whose photos are in albums; None in tag mode, where every photo filed
        is (tagged where it lies)."""
        config = self.config()
        return None if config.library.action == "tag" else config.library.root

    def _load(self) -> None:
        started = time.perf_counter()
        where = self._kept_in = self._where()
        moments = [_moment(sha256, path, category, result) for sha256, path, category, result
                   in self.records.filed_results() if where is None or path.is_relative_to(where)]
        if where is None:
            self._load_tags(moments)
            return
        folders = AlbumFolders(where)
        by_path = {m.path: m.key for m in moments}
        known = {by_path[p]: album_id for album_id, folder in folders.folders().items()
                 for p in members_shown(folder) if p in by_path}
        timeline = Timeline()
        albums = timeline.load(moments, known=known)
        report = folders.sync([_view(a) for a in albums])
        with self._lock:
            self._timeline, self._folders = timeline, folders
        self._unshown = _Unshown()
        logger.info("albums: %d in %s (%d photos; %d links made, %d removed) in %.1f s",
                    len(albums), folders.albums_dir, len(moments), report.linked,
                    report.unlinked, time.perf_counter() - started)

    def _load_tags(self, moments: list[Moment]) -> None:
        assert self._tags is not None
        started = time.perf_counter()
        timeline = Timeline()
        albums = timeline.load(moments)
        with self._lock:
            self._timeline, self._folders = timeline, None
        self._unshown = _Unshown()
        changed = sum(self._tags.show(album) for album in albums)
        logger.info("albums: %d as keywords in the sidecars (%d photos; %d sidecars changed) "
                    "in %.1f s", len(albums), len(moments), changed,
                    time.perf_counter() - started)

    def _follow_records(self) -> None:
        assert self._timeline is not None
        where = self._kept_in
        current = {sha: path for sha, path in self.records.filed_paths()
                   if where is None or path.is_relative_to(where)}
        with self._lock:
            shown = self._timeline.paths()
        for sha256, path in shown.items():
            if current.get(sha256) == path:
                continue
            with self._lock:
                change = self._timeline.remove(sha256) if sha256 not in current else \
                    self._timeline.replace(sha256, path=current[sha256])
            if self._tags is not None and where is None:
                if sha256 in current:
                    self._tags.forget(sha256)
                else:
                    self._tags.drop(sha256, path)
            self._show(change)

    def _show(self, change: Change) -> None:
        """The folders of what changed, now or (amid a backlog) within a second."""
        self._unshown.take(change)
        # Sidecars wait for the next step: add() runs under the batch's act lock, which a
        # sidecar write takes too (undo runs on the control thread).
        if self._folders is not None and \
                time.monotonic() >= self._shown_at + FOLDERS_EVERY_SECONDS:
            self._show_folders()

    def _show_folders(self) -> None:
        unshown, self._unshown = self._unshown, _Unshown()
        self._shown_at = time.monotonic()
        if not unshown:
            return
        if self._folders is None:
            if self._tags is not None and self._timeline is not None and self._kept_in is None:
                for album in unshown.shown.values():
                    self._tags.show(album)
            return
        try:
            for album_id in unshown.gone:
                self._folders.drop(album_id)
            for album in unshown.shown.values():
                self._folders.show(_view(album))
        except OSError as exc:
            logger.warning("albums: cannot update %s (%s); they are made again at the next "
                           "start", self._folders.albums_dir, exc)


class _Unshown:
    """Changes the folders do not show yet: the latest of each album, and the albums gone."""

    def __init__(self) -> None:
        self.shown: dict[str, Album] = {}
        self.gone: set[str] = set()

    def __bool__(self) -> bool:
        return bool(self.shown or self.gone)

    def take(self, change: Change) -> None:
        """Add one update's change (a later one wins)."""
        for album_id in change.gone:
            self.shown.pop(album_id, None)
            self.gone.add(album_id)
        for album in change.shown:
            self.gone.discard(album.id)
            self.shown[album.id] = album


def _view(album: Album) -> AlbumView:
    return AlbumView(album.id, album.name, tuple(m.path for m in album.members))


def _moment(sha256: str, path: Path, category: str | None, result: str | None) -> Moment:
    """The moment of a filed photo from its stored result (plain JSON: a full Analysis per
    photo would cost a pydantic parse each at start)."""
    try:
        data = json.loads(result or "{}")
    except ValueError:
        data = {}
    metadata = (data.get("evidence") or {}).get("metadata") or {}
    taken, from_exif = taken_when(metadata.get("taken_at"), path)
    gps = metadata.get("gps")
    return Moment(path=path, taken=taken, from_exif=from_exif,
                  gps=(float(gps[0]), float(gps[1])) if gps else None,
                  category=category or data.get("category") or "other",
                  quality=float((data.get("quality") or {}).get("score") or 0.0),
                  key=sha256)
