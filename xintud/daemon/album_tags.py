"""Albums in tag mode: instead of folders of links, each member's sidecar names its album
(``Events|<album name>``, library/event_tags.py). Only the photos whose album name changed are
written: the name last written for each photo is kept in memory, read from the journal at the
first update, so a restart does not rewrite every sidecar — and a keyword the user undid is
not written again while its album keeps its name.
"""

from __future__ import annotations

import threading
from pathlib import Path

from xintud.albums.build import Album
from xintud.library.actor import Actor
from xintud.library.event_tags import albums_written


class AlbumTags:
    """Writes the album keywords of the photos whose album changed."""

    def __init__(self, actor: Actor, act_lock: threading.Lock) -> None:
        self.actor = actor
        self.act_lock = act_lock  # undo (the control thread) writes the same sidecars
        self._written: dict[str, str | None] | None = None  # sha256 → album name written

    def show(self, album: Album) -> int:
        """Name `album` in its members' sidecars where it is not named yet; how many changed."""
        written = self._loaded()
        changed = 0
        for member in album.members:
            key = member.key
            if key is None or (key in written and written[key] == album.name):
                continue
            changed += self._put(member.path, key, album.name)
        return changed

    def drop(self, sha256: str, path: Path) -> None:
        """A photo in no album any more (taken back, gone): xintud's album keyword goes."""
        written = self._loaded()
        if sha256 in written and written[sha256] is None:
            return
        self._put(path, sha256, None)

    def forget(self, sha256: str) -> None:
        """The photo moved: its sidecar at the new place is looked at again."""
        self._loaded().pop(sha256, None)

    def _loaded(self) -> dict[str, str | None]:
        if self._written is None:
            self._written = albums_written(self.actor.settings.journal)
        return self._written

    def _put(self, path: Path, sha256: str, album: str | None) -> int:
        with self.act_lock:
            outcome = self.actor.tag_event(path, sha256, album)
        if outcome is not None and outcome.status in ("failed", "dry_run"):
            return 0  # not remembered: tried again at the album's next change
        self._loaded()[sha256] = album
        return int(outcome is not None)
