"""Albums in the library, kept by the daemon: `Albums/<name>/` folders of links to the filed
photos (library/album_links.py), remade a little while after photos stop arriving. The moments
are read once from the records at start and added to as photos are filed; the grouping itself
(albums/build.py) takes ~5 s for 100,000 photos, so it runs when the loop is idle, not per
photo. `[library] albums = false` turns it off; tag mode makes no folders.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from xintud.albums.build import Album, build_albums
from xintud.albums.moments import Moment, moment_of, taken_when
from xintud.config.schema import Config
from xintud.core.facts import Analysis
from xintud.library.album_links import AlbumView, sync_album_folders
from xintud.state.records import Records

logger = logging.getLogger("xintud")

REMAKE_AFTER_SECONDS = 5.0


class AlbumKeeper:
    """The library's albums: moments in memory, folders remade when the loop is idle."""

    def __init__(self, records: Records, config: Callable[[], Config]) -> None:
        self.records = records
        self.config = config
        self._moments: dict[str, Moment] | None = None
        self._albums: list[Album] = []
        self._due: float | None = time.monotonic()  # once at start
        self._lock = threading.Lock()  # the control thread reads the albums

    def add(self, analysis: Analysis, where: Path) -> None:
        """A photo was filed: it joins the timeline; the folders are remade soon."""
        if self._moments is not None:
            self._moments[analysis.sha256] = moment_of(analysis, where, key=analysis.sha256)
        self._due = time.monotonic() + REMAKE_AFTER_SECONDS

    def start(self) -> None:
        """Nothing to watch: the loop's steps do the work."""

    def stop(self) -> None:
        """Nothing to stop."""

    def next_deadline(self) -> float | None:
        """When the folders are to be remade (monotonic), if they are."""
        return self._due if self._enabled() else None

    def step(self) -> None:
        """Remake the albums and their folders when due."""
        if self._due is None or time.monotonic() < self._due or not self._enabled():
            return
        self._due = None
        started = time.perf_counter()
        moments = self._timeline()
        albums = build_albums(list(moments.values()))
        with self._lock:
            self._albums = albums
        report = sync_album_folders(self.config().library.root, [
            AlbumView(a.id, a.name, tuple(m.path for m in a.members)) for a in albums])
        if report.linked or report.unlinked or report.removed_folders:
            logger.info("albums: %d in Albums/ (%d links made, %d removed) in %.1f s",
                        len(albums), report.linked, report.unlinked,
                        time.perf_counter() - started)

    def report(self) -> list[dict[str, Any]]:
        """The albums as `xintuctl albums` shows them, one object each."""
        with self._lock:
            albums = list(self._albums)
        return [{"name": a.name, "kind": a.kind, "start": a.start.isoformat(),
                 "end": a.end.isoformat(), "place": a.place, "count": len(a.members),
                 "cover": str(a.cover.path), "members": [str(m.path) for m in a.members]}
                for a in albums]

    def _enabled(self) -> bool:
        config = self.config()
        return config.library.albums and config.library.action != "tag" and \
            config.library.root.is_dir()

    def _timeline(self) -> dict[str, Moment]:
        if self._moments is None:
            self._moments = {}
            for sha256, path, category, result in self.records.filed_results():
                try:
                    data = json.loads(result)
                except (TypeError, ValueError):
                    continue
                self._moments[sha256] = _moment(sha256, path, category, data)
        root = self.config().library.root
        current = dict(self.records.filed_paths())  # photos the user moved, or took back
        timeline = {}
        for key, moment in self._moments.items():
            path = current.get(key)
            if path is not None and path.is_relative_to(root):
                timeline[key] = moment if path == moment.path else replace(moment, path=path)
        self._moments = timeline
        return timeline


def _moment(sha256: str, path: Path, category: str | None, result: dict[str, Any]) -> Moment:
    """The moment of a filed photo from its stored result (plain JSON: a full Analysis per
    photo would cost a pydantic parse each at start)."""
    metadata = (result.get("evidence") or {}).get("metadata") or {}
    taken, from_exif = taken_when(metadata.get("taken_at"), path)
    gps = metadata.get("gps")
    return Moment(path=path, taken=taken, from_exif=from_exif,
                  gps=(float(gps[0]), float(gps[1])) if gps else None,
                  category=category or result.get("category") or "other",
                  quality=float((result.get("quality") or {}).get("score") or 0.0),
                  key=sha256)
