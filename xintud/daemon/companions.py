"""Late companions and lone videos: a Live Photo's video, edits or sidecar that a sync client
uploads after its photo was filed (they arrive separately) follows the photo into the library,
journaled as part of the photo's action, so that `xintuctl undo` takes both back. One that
arrives before its photo waits for it: the photo takes its companions along when it is filed.
A video that no photo of its name claims within `[library] video_twin_wait_seconds` is filed
as a video, by the date it was made (its movie header, else the file's time), into
`[library] videos` (default Videos/{year}/{month}; "leave" leaves it). Videos are not
classified.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from xintud.config.schema import Config, fill_layout
from xintud.core.hashing import sha256_file
from xintud.core.text import printable
from xintud.daemon.side import earliest
from xintud.intake.companions import is_companion_name, photos_for
from xintud.intake.settle import IMAGE_SUFFIXES, Settler, is_ignored
from xintud.intake.video import is_video_file, is_video_name, video_created_at
from xintud.intake.watch import FolderWatcher
from xintud.library.actor import Actor
from xintud.state.journal import ActionKind, Journal
from xintud.state.records import FileRecord, FileState, Records

logger = logging.getLogger("xintud")


class CompanionFollower:
    """Watches the watch folders for companions and sends the late ones after their photo."""

    def __init__(self, records: Records, journal: Journal, actor: Actor,
                 act_lock: threading.Lock, config: Callable[[], Config],
                 wake: Callable[[], None]) -> None:
        self.records = records
        self.journal = journal
        self.actor = actor
        self.act_lock = act_lock
        self.config = config
        self._wake = wake
        self.settler = Settler(config().daemon.settle_seconds)
        self.watcher: FolderWatcher | None = None
        self._lone: dict[Path, float] = {}  # videos waiting for a photo: when to file them

    def start(self) -> None:
        """Watch for companions (move and copy mode: in tag mode nothing moves)."""
        config = self.config()
        self.settler = Settler(config.daemon.settle_seconds)
        if config.library.action == "tag":
            return
        self.watcher = FolderWatcher(config.watch, self._on_path, ignore=config.ignore,
                                     names=_watched_name)
        self.watcher.start()
        self._catch_up(config)

    def _catch_up(self, config: Config) -> None:
        """What waits in the watch folders from before the start: a companion left behind by
        a photo filed just before a stop, a video that arrived meanwhile."""
        for folder in config.watch:
            for where, dirs, names in os.walk(folder.path):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                for name in names:
                    path = Path(where) / name
                    if _watched_name(path) and not is_ignored(path, config.ignore,
                                                              root=folder.path):
                        self.settler.observe(path)

    def stop(self) -> None:
        """Stop watching."""
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None

    def _on_path(self, path: Path, _kind: str) -> None:
        self.settler.observe(path)
        self._wake()

    def next_deadline(self) -> float | None:
        """When a companion will have settled or a lone video is due (monotonic)."""
        return earliest(self.settler.next_deadline(), *self._lone.values())

    def step(self) -> None:
        """Send every settled companion after its photo, if the photo was filed; file the
        videos that no photo claimed in time."""
        for path in self.settler.due():
            with self.act_lock:
                self.follow(path)
        now = time.monotonic()
        for path, due in list(self._lone.items()):
            if due <= now:
                del self._lone[path]
                with self.act_lock:
                    self._file_video(path)

    def follow(self, companion: Path) -> None:
        """One companion: into its filed photo's folder, or left to wait for its photo."""
        if not companion.is_file() or companion.is_symlink():
            return
        if is_video_name(companion) and not is_video_file(companion):
            return  # said when its photo was filed: it stays where it is
        record = self.records.filed_from(photos_for(companion, IMAGE_SUFFIXES))
        if record is None or record.sha256 is None or record.original_path is None:
            # Its photo is not filed (yet): it takes the companion along when it is. A video
            # no photo claims in time is filed as a video.
            config = self.config()
            if is_video_name(companion) and config.library.videos != "leave":
                self._lone.setdefault(companion, time.monotonic()
                                      + config.library.video_twin_wait_seconds)
            return
        photo = self.journal.done_action_from(record.sha256, record.original_path)
        if photo is None or photo.kind not in ("move", "copy") or photo.part_of is not None:
            return
        outcome = self.actor.follow(companion, photo)
        if outcome.ok and outcome.dst is not None:
            logger.info("%s followed %s to %s", printable(companion.name),
                        printable(photo.dst.name), printable(str(outcome.dst.parent)))

    def _file_video(self, path: Path) -> None:
        """File a video no photo claimed, by the date it was made; journaled, undoable."""
        if not path.is_file() or path.is_symlink() or any(
                p.exists() for p in photos_for(path, IMAGE_SUFFIXES)):
            return  # gone, or its photo is here now: it goes with the photo
        if self.records.filed_from(photos_for(path, IMAGE_SUFFIXES)) is not None:
            self.follow(path)
            return
        sha256 = sha256_file(path)
        if not is_video_file(path):
            self.records.mark_failed(sha256, path, "named like a video but not one (no "
                                     "MP4/MOV boxes); it stays where it is")
            logger.warning("failed %s: named like a video but not one (no MP4/MOV boxes); it "
                           "stays where it is", printable(path.name))
            return
        known = self.records.get(sha256)
        if known is not None and known.state is not FileState.QUEUED:
            return
        config = self.config()
        made = video_created_at(path)
        when = made.astimezone().replace(tzinfo=None) if made else \
            datetime.fromtimestamp(path.stat().st_mtime)
        source = "its movie header" if made else "the file's time (no date inside)"
        dst_dir = config.library.root / fill_layout(config.library.videos, "", "", when)
        kind: ActionKind = "copy" if config.library.action == "copy" else "move"
        outcome = self.actor.file_set(kind, path, dst_dir, sha256, [])
        if not outcome.ok or outcome.dst is None:
            logger.warning("could not file video %s: %s", printable(path.name), outcome.message)
            return
        where = outcome.dst if kind == "move" else path
        folder = outcome.dst.parent.relative_to(config.library.root)
        self.records.upsert(FileRecord(
            sha256=sha256, path=where, original_path=path, state=FileState.DONE,
            action=f"filed video {path.name} -> {folder} (made {when:%Y-%m-%d %H:%M}, from "
                   f"{source})"))
        logger.info("filed video %s -> %s (made %s, from %s)", printable(path.name),
                    printable(str(folder)), f"{when:%Y-%m-%d %H:%M}", source)


def _watched_name(path: Path) -> bool:
    return is_companion_name(path) or is_video_name(path)
