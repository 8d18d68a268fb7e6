"""Learning from the user, assembled: the library watched for moves between category folders,
corrections taken (corrections.py), refits a while after they stop (learner.py), refile on
request (refile.py) — and the `correct`, `model` and `refile` commands (control/learning.py).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from xintud.config.schema import Config
from xintud.core.paths import AppPaths
from xintud.daemon.corrections import CorrectionTaker
from xintud.daemon.learner import Learner
from xintud.daemon.models import ModelHolder
from xintud.daemon.refile import Refiler
from xintud.intake.settle import Settler
from xintud.intake.watch import FolderWatcher
from xintud.learning.versions import ModelVersions
from xintud.library.actor import Actor
from xintud.library.placement import category_of_folder
from xintud.library.review import REVIEW_FOLDER, is_in_review
from xintud.state.corrections import Corrections
from xintud.state.journal import Journal
from xintud.state.prints import Prints
from xintud.state.records import Records

LEARNED_FOLDER = "learned"  # in the state folder: one file per version (learning/versions.py)


@dataclass(frozen=True)
class LibraryFolder:
    """The library root as the watcher takes a folder."""

    path: Path
    kind: str = "library"


class Teaching:
    """The daemon's learning from corrections; the loop calls `step` between batches."""

    def __init__(self, conn: sqlite3.Connection, records: Records, journal: Journal,
                 actor: Actor, act_lock: threading.Lock, models: ModelHolder,
                 config: Callable[[], Config], paths: AppPaths,
                 wake: Callable[[], None]) -> None:
        self.config = config
        self.records = records
        self.corrections = Corrections(conn)
        self.learner = Learner(self.corrections, ModelVersions(paths.state_dir / LEARNED_FOLDER),
                               config().learning.refit_after_seconds, models.use_learned)
        models.use_learned(self.learner.learned)
        self.taker = CorrectionTaker(records, self.corrections, journal, actor, act_lock,
                                     models.get, config, self.learner.corrected)
        self.refiler = Refiler(records, self.corrections, Prints(conn), actor, act_lock,
                               models.get, config, self._anchors)
        self._wake = wake
        self.settler = Settler(config().daemon.settle_seconds)
        self.watcher: FolderWatcher | None = None

    # -- the library watch ------------------------------------------------------------------

    def start(self) -> None:
        """Watch the library for the user's moves (move and copy mode: tag mode files
        nothing into it)."""
        config = self.config()
        self.learner.refit_after_seconds = config.learning.refit_after_seconds
        self.settler = Settler(config.daemon.settle_seconds)
        if config.library.action == "tag" or not config.library.root.is_dir():
            return
        self.watcher = FolderWatcher([LibraryFolder(config.library.root)], self._on_path,
                                     ignore=config.ignore)
        self.watcher.start()
        self._catch_up(config)

    def _catch_up(self, config: Config) -> None:
        """Moves the user made while xintud was not running: filed photos that are no longer
        where their record says are looked for by name in the library (a move between
        folders keeps the name; a photo renamed as well is found when it is next touched)."""
        root = config.library.root
        missing = {path.name for _sha, path in self.records.filed_paths()
                   if path.is_relative_to(root) and not os.path.lexists(path)}
        if not missing:
            return
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if not d.startswith(".") and not (
                Path(folder) == root and d == REVIEW_FOLDER)]
            for name in files:
                if name in missing:
                    self.settler.observe(Path(folder) / name)

    def stop(self) -> None:
        """Stop watching the library."""
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None

    def _on_path(self, path: Path, _kind: str) -> None:
        self.settler.observe(path)  # watchdog's thread: only note it
        self._wake()

    def step(self) -> None:
        """Take the corrections that settled, and refit when it is due (the loop's thread)."""
        for path in self.settler.due():
            self.taker.notice(path)
        self.learner.refit_if_due()

    def next_deadline(self) -> float | None:
        """The earliest time (monotonic) `step` has something to do."""
        deadlines = [d for d in (self.settler.next_deadline(), self.learner.next_deadline())
                     if d is not None]
        return min(deadlines) if deadlines else None

    def _anchors(self) -> np.ndarray:
        stored = self.learner.in_use
        return np.zeros((0, 1), np.float32) if stored is None else stored.memory.embeddings

    # -- the commands (control/learning.py) ---------------------------------------------------

    def correct(self, path: Path, category: str) -> dict[str, Any]:
        """`xintuctl correct PATH CATEGORY`."""
        return self.taker.correct(path, category)

    def model(self, action: str, version: str | None) -> dict[str, Any]:
        """`xintuctl model [refit | rollback [VERSION]]`."""
        if action == "refit":
            return self.learner.refit("asked for with xintuctl")
        if action == "rollback":
            return self.learner.rollback(version)
        return self.learner.report()

    def refile(self, dry_run: bool) -> dict[str, Any]:
        """`xintuctl refile [--dry-run]`."""
        return self.refiler.refile(dry_run)

    def undone(self, sha256: str, src: Path, dst: Path) -> bool:
        """An undone move from one library folder to another (`correct`, `refile`): the photo
        is filed again where it was, in that folder's category, and a correction it made is
        forgotten (the next refit leaves it out)."""
        config = self.config()
        root = config.library.root
        if config.library.action == "tag" or not (
                src.is_relative_to(root) and dst.is_relative_to(root)) \
                or is_in_review(src, root) or is_in_review(dst, root):
            return False
        record = self.records.get(sha256)
        if record is None:
            return False
        correction = self.corrections.get(sha256)
        if correction is not None and correction.path == dst:
            self.corrections.remove(sha256)
            self.learner.corrected()
        moving = config.library.action == "move"
        self.records.upsert(replace(
            record, path=src if moving else record.path,
            category=category_of_folder(config, src) or record.category,
            action=f"undone: back at {src}"))
        return True

    def status(self) -> dict[str, Any]:
        """For `xintuctl status`: the corrections and the version in use."""
        return {"corrections": self.corrections.count(),
                "in_use": self.learner.versions.current_name()}
