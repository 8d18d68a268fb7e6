"""Where the user's gestures become corrections: a photo moved by hand from one category
folder to another in the library, or `xintuctl correct PATH CATEGORY`.

The photo is known by its content hash; the new category is read from its folder (the layout,
library/placement.py). A move is recorded as the user's: the record follows the photo, it is
never moved back or re-filed, and `refile` leaves it alone. What is not a correction: a move
into the review folder or out of the library, a copy (the photo is still where it was), a
photo xintud did not file, and xintud's own moves (the record already says where it is).
What learning needs of the photo — its features, what the shipped models alone said — is
taken now, while the file is at hand (state/corrections.py).
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from xintud.config.schema import Config
from xintud.control.protocol import ControlCommandError
from xintud.core.facts import AnalysisFailure, analysis_from_json
from xintud.core.hashing import sha256_file
from xintud.core.text import printable
from xintud.engine.classify import Classifier, Job
from xintud.library.actor import Actor
from xintud.library.placement import category_of_folder, photo_time, render_layout
from xintud.library.xmp import XmpError, category_keywords, photo_of_sidecar, read_sidecar
from xintud.state.corrections import Correction, Corrections
from xintud.state.journal import Journal
from xintud.state.records import FileRecord, FileState, Records

logger = logging.getLogger("xintud")


@dataclass
class CorrectionTaker:
    """Reads corrections from the library and from `xintuctl correct`, and stores them."""

    records: Records
    corrections: Corrections
    journal: Journal
    actor: Actor
    act_lock: threading.Lock
    classifier: Callable[[], Classifier]  # loads the models if they are not loaded
    config: Callable[[], Config]
    on_corrected: Callable[[], None]  # tell the learner: refit a little later

    def notice(self, path: Path) -> None:
        """A file that settled in the library (the loop's thread): a correction, a move to
        follow, or nothing. Takes the act lock, so xintud's own moves are recorded first."""
        with self.act_lock:
            self._notice(path)

    def _notice(self, path: Path) -> None:
        if not _is_regular_file(path) or self.records.get_by_path(path) is not None:
            return  # xintud filed it there itself: no need to read it again
        sha256 = sha256_file(path)
        record = self.records.get(sha256)
        if record is None or record.state is not FileState.DONE or record.path == path:
            return  # not ours, not filed, or filed there by xintud itself
        config = self.config()
        moving = config.library.action == "move"
        if moving and record.path.exists():
            return  # a copy made by the user: the photo is still where xintud filed it
        category = category_of_folder(config, path)
        if category is None or category == record.category:
            if moving:
                self.records.upsert(replace(record, path=path,
                                            action=f"moved by you to {path}"))
                logger.info("followed %s: you moved it to %s", printable(path.name),
                            printable(str(path.parent)))
            return
        self._learn(record, path, category, "moved", moving)

    def notice_sidecar(self, sidecar: Path) -> None:
        """A sidecar that settled in a watch folder, in tag mode: a correction when the
        category keyword xintud wrote was replaced by another category's (both removed from
        the plain and the xintud|... keywords; a second category added beside it is a
        keyword, not a correction). The sidecar stays as the user's program wrote it."""
        photo = photo_of_sidecar(sidecar)
        if photo is None:
            return
        with self.act_lock:
            record = self.records.get_by_path(photo)
            if record is None or record.state is not FileState.DONE or \
                    record.sha256 is None or not _is_regular_file(photo):
                return
            try:
                named = category_keywords(read_sidecar(sidecar), self.config().categories)
            except (OSError, XmpError) as exc:
                logger.debug("sidecar %s not read: %s", sidecar, exc)
                return
            if record.category in named or len(named) != 1:
                return
            self._learn(record, photo, named.pop(), "tagged", moving=False)

    def correct(self, path: Path, category: str) -> dict[str, object]:
        """`xintuctl correct`: give a filed photo its right category, and in move/copy mode
        move it (journaled, undoable) to that category's folder. Changes nothing on an error."""
        config = self.config()
        if category not in config.categories:
            raise ControlCommandError(f"unknown category {category!r}; valid: "
                                      f"{', '.join(config.categories)} (a category of your "
                                      "own: `xintuctl teach`)")
        if config.library.action == "tag":
            raise ControlCommandError(
                "in tag mode, correct a photo where its keywords live: replace its category "
                "keyword in the XMP sidecar with your photo program (digiKam, darktable) and "
                "xintud learns from it; `correct` moves photos, in move and copy mode; "
                "nothing was changed")
        with self.act_lock:
            record = self._filed_record(path, config)
            if record.category == category:
                return {"path": str(record.path), "category": category,
                        "message": f"{path} is filed as {category} already; nothing to do"}
            where = self._library_copy(record, config)
            dst_dir = config.library.root / render_layout(config, category,
                                                          _taken(record, where))
            outcome = self.actor.move(where, dst_dir, str(record.sha256))
            if not outcome.ok or outcome.dst is None:
                raise ControlCommandError(f"{where} could not be moved to {dst_dir}: "
                                          f"{outcome.message}; nothing was changed")
            moved = outcome.dst if outcome.status == "moved" else where
            self._learn(record, moved, category, "command", config.library.action == "move")
        return {"path": str(moved), "category": category, "was": record.category,
                "message": f"{path} is now {category} (was {record.category}), at {moved}"}

    def _filed_record(self, path: Path, config: Config) -> FileRecord:
        path = path.expanduser().absolute()
        if not _is_regular_file(path):
            raise ControlCommandError(f"{path} is not a file; give the path of a photo xintud "
                                      "filed")
        record = self.records.get_by_path(path) or self.records.get(sha256_file(path))
        if record is None or record.state is not FileState.DONE or record.sha256 is None:
            raise ControlCommandError(
                f"{path}: xintud has not filed this photo, so there is nothing to correct "
                "(`xintuctl explain` shows what it knows of a photo)")
        return record

    def _library_copy(self, record: FileRecord, config: Config) -> Path:
        """Where the library holds the photo: the record's path when moved, the copy's
        destination in copy mode (the record keeps the source)."""
        if config.library.action == "move":
            return record.path
        assert record.sha256 is not None
        action = self.journal.done_action_from(record.sha256, record.original_path
                                               or record.path)
        if action is None or action.kind != "copy" or not action.dst.exists():
            raise ControlCommandError(f"the library copy of {record.path} is not where xintud "
                                      "put it; move it into its category folder yourself")
        return action.dst

    def _learn(self, record: FileRecord, path: Path, category: str, origin: str,
               moving: bool) -> None:
        assert record.sha256 is not None
        studied = self.classifier().study(Job(path))
        if isinstance(studied, AnalysisFailure) or studied.sha256 != record.sha256:
            why = studied.error if isinstance(studied, AnalysisFailure) else "it changed"
            logger.warning("could not learn from %s (%s); it stays where you put it",
                           printable(path.name), why)
            if moving:
                self.records.upsert(replace(record, path=path, category=category))
            return
        self.corrections.put(Correction(
            sha256=record.sha256, category=category, was=record.category, origin=origin,
            path=path, features=np.asarray(studied.features, np.float32).tobytes(),
            shipped=json.dumps(studied.shipped.scores)))
        how = {"moved": "moved by you", "tagged": "keyword changed by you"}.get(
            origin, "corrected with xintuctl")
        self.records.upsert(replace(
            record, path=path if moving else record.path, category=category,
            action=f"{how}: {record.category} -> {category} ({path})"))
        logger.info("learned from you: %s is %s, not %s (%s)", printable(path.name), category,
                    record.category, how)
        self.on_corrected()


def _is_regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _taken(record: FileRecord, path: Path) -> datetime:
    """When the photo was taken, as filing saw it (EXIF), else the file's time."""
    if record.result_json:
        return photo_time(analysis_from_json(record.result_json), path)
    try:
        return datetime.fromtimestamp(path.stat().st_mtime)
    except OSError:
        return datetime.now()
