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
from xintud.control.protocol import ControlCommandError
from xintud.core.paths import AppPaths
from xintud.daemon.corrections import CorrectionTaker
from xintud.daemon.learner import Learner
from xintud.daemon.models import ModelHolder
from xintud.daemon.refile import Refiler
from xintud.daemon.side import earliest
from xintud.daemon.teach import Teacher
from xintud.intake.settle import Settler
from xintud.intake.watch import FolderWatcher
from xintud.learning.versions import ModelVersions, StoredVersion
from xintud.library.actor import Actor
from xintud.library.album_links import ALBUMS_FOLDER
from xintud.library.placement import category_of_folder
from xintud.library.review import REVIEW_FOLDER, is_in_review
from xintud.library.xmp import is_sidecar_name
from xintud.state.corrections import Corrections
from xintud.state.journal import Journal
from xintud.state.prints import Prints
from xintud.state.records import FileState, Records

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
                 wake: Callable[[], None],
                 on_categories: Callable[[tuple[str, ...]], None]) -> None:
        """`on_categories` hears the categories of the user's own whenever the version in
        use changes (the daemon gives them folders in its config)."""
        self.config = config
        self.records = records
        self.corrections = Corrections(conn)
        self._models = models
        self._on_categories = on_categories
        self.learner = Learner(self.corrections, ModelVersions(paths.state_dir / LEARNED_FOLDER),
                               config().learning.refit_after_seconds, self._use_version)
        self._use_version(self.learner.in_use)
        self.taker = CorrectionTaker(records, self.corrections, journal, actor, act_lock,
                                     models.get, config, self.learner.corrected)
        self.teacher = Teacher(self.corrections, act_lock, models.get, config,
                               lambda: () if self.learner.in_use is None
                               else self.learner.in_use.categories)
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
        if config.library.action == "tag":
            # Photos stay in the watch folders; a category keyword edited in a sidecar there
            # (digiKam, darktable) is the correction.
            self.watcher = FolderWatcher(config.watch, self._on_path, ignore=config.ignore,
                                         names=is_sidecar_name)
            self.watcher.start()
            return
        if not config.library.root.is_dir():
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
                Path(folder) == root and d in (REVIEW_FOLDER, ALBUMS_FOLDER))]
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
            if is_sidecar_name(path):
                self.taker.notice_sidecar(path)
            else:
                self.taker.notice(path)
        self.learner.refit_if_due()

    def next_deadline(self) -> float | None:
        """The earliest time (monotonic) `step` has something to do."""
        return earliest(self.settler.next_deadline(), self.learner.next_deadline())

    def _use_version(self, stored: StoredVersion | None) -> None:
        self._models.use_learned(None if stored is None else stored.learned())
        self._on_categories(() if stored is None else stored.categories)

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

    def teach(self, name: str | None, paths: list[Path], from_folder: bool) -> dict[str, Any]:
        """`xintuctl teach NAME PATH...`, or `teach --from-folder` for the folders offered."""
        if name is None:
            if not from_folder:
                raise ControlCommandError("name the category: `xintuctl teach NAME PATH...`")
            return {"offers": self.teacher.offers()}
        if from_folder and not paths:
            raise ControlCommandError("give the folder too: `xintuctl teach --from-folder "
                                      "NAME FOLDER`, or leave NAME out for the offers")
        taught = self.teacher.teach(name, paths)
        examples = len(taught)
        refit = self.learner.refit(f"taught {name}")
        config = self.config().with_categories((name,))
        folder = config.categories[name].folder
        self._file_as_taught(config, name, taught)
        return {**refit, "category": name, "examples": examples,
                "folder": str(self.config().library.root / folder),
                "message": f"taught {name} from {examples} photos: new photos like them go "
                           f"to {folder}/ (set [categories.{name}] folder to change it); "
                           f"{refit['info']['note']}. `xintuctl refile --dry-run` shows "
                           "which filed photos it would take"}

    def _file_as_taught(self, config: Config, name: str, taught: list[tuple[str, Path]]
                        ) -> None:
        # Examples that xintud filed and the user gathered in the new category's folder are
        # filed as that category now (nothing moves); refile leaves them where they are.
        for sha256, path in taught:
            record = self.records.get(sha256)
            if record is not None and record.state is FileState.DONE and \
                    category_of_folder(config, path) == name and record.category != name:
                self.records.upsert(replace(record, path=path, category=name,
                                            action=f"taught as {name} where you put it"))

    def forget(self, name: str) -> dict[str, Any]:
        """`xintuctl forget NAME`: its examples go, its photos stay where they are."""
        removed = self.teacher.forget(name)
        refit = self.learner.refit(f"forgot {name}")
        return {**refit, "category": name, "removed": removed,
                "message": f"forgot {name} ({removed} examples and corrections); its photos "
                           f"stay where they are; now using {refit['in_use']}"}

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
