"""Refile: move already filed photos that the model in use would now file elsewhere — only when
the user asks (`xintuctl refile`; `--dry-run` shows what would move and why).

A new version never moves anything on its own. Photos the user placed (corrected) are never
touched, nor those in the review folder. What the user taught leans only photos that look
like a corrected one, so the photos to look at again are found first by the stored 128-d
vectors (duplicates/vectors.py): a projected cosine of PREFILTER or more to a remembered
example. Measured on the 1,057 photos of ../shared/photos, every pair whose embedding cosine
reaches the memory's NEAR (0.75; 5,942 pairs) has a projected cosine of 0.447 or more, and
8.5% of all pairs pass 0.44. Those are analysed again with the model in use, exactly as a
new arrival would be; each move is journaled (`xintuctl undo` puts it back). A category of
the user's own also moves the heads a little for every photo (0.06% of the development
photos changed category with one taught): a photo unlike every example is not looked at.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from xintud.config.schema import Config
from xintud.control.protocol import ControlCommandError
from xintud.core.facts import BULKY_FIELDS, Analysis, result_to_json
from xintud.core.text import printable
from xintud.duplicates.vectors import project, vector_from_bytes
from xintud.engine.classify import Classifier, Job
from xintud.engine.features import EMBEDDING_SIZE
from xintud.library.actor import Actor
from xintud.library.placement import category_of_folder, place
from xintud.library.review import is_in_review
from xintud.state.corrections import Corrections
from xintud.state.prints import Prints
from xintud.state.records import FileRecord, Records

logger = logging.getLogger("xintud")

PREFILTER = 0.44


@dataclass
class Refiler:
    """Finds and (on request) moves the photos the model in use would file elsewhere."""

    records: Records
    corrections: Corrections
    prints: Prints
    actor: Actor
    act_lock: threading.Lock
    classifier: Callable[[], Classifier]
    config: Callable[[], Config]
    anchors: Callable[[], np.ndarray]  # unit embedding features of what the user taught

    def refile(self, dry_run: bool) -> dict[str, Any]:
        """What would move (dry run) or what moved, one item per photo, and the counts."""
        config = self.config()
        if config.library.action != "move":
            raise ControlCommandError(
                f"refile moves filed photos, which only move mode does; the library is in "
                f"{config.library.action} mode, so nothing was changed")
        anchors = self.anchors()
        with self.act_lock:
            candidates = self._candidates(config, anchors)
            items = [item for item in (self._refile_one(config, record, dry_run)
                                       for record in candidates) if item is not None]
        verb = "would move" if dry_run else "moved"
        return {"dry_run": dry_run, "looked_at": len(candidates), "items": items,
                "message": f"{verb} {len(items)} of {len(candidates)} photos that look like "
                           "ones you corrected"}

    def _candidates(self, config: Config, anchors: np.ndarray) -> list[FileRecord]:
        if not len(anchors):
            return []
        projected = np.stack([project(np.square(row[:EMBEDDING_SIZE])) for row in anchors])
        placed_by_hand = self.corrections.placed_by_hand()
        root = config.library.root
        chosen = []
        for sha256, path in self.records.filed_paths():
            if sha256 in placed_by_hand or is_in_review(path, root) or \
                    not path.is_relative_to(root):
                continue
            stored = self.prints.get(sha256)
            if stored is None or stored.vector is None:
                continue
            if float((projected @ vector_from_bytes(stored.vector)).max()) >= PREFILTER:
                record = self.records.get(sha256)
                if record is not None:
                    chosen.append(record)
        return chosen

    def _refile_one(self, config: Config, record: FileRecord, dry_run: bool
                    ) -> dict[str, Any] | None:
        assert record.sha256 is not None
        result = self.classifier().classify_batch([Job(record.path)])[0]
        if not isinstance(result, Analysis) or result.sha256 != record.sha256:
            return None
        placement = place(config, result, record.path)
        if placement.action == "leave" or placement.category == record.category \
                or placement.dst_dir is None \
                or category_of_folder(config, record.path) == placement.category:
            return None  # unsure, unchanged, or already in that category's folder
        why = [rule for rule in result.evidence.rules if rule.startswith("looks like")]
        item = {"path": str(record.path), "from": record.category, "to": placement.category,
                "confidence": result.confidence, "model": result.model, "why": why}
        if dry_run:
            return item
        outcome = self.actor.move(record.path, placement.dst_dir, record.sha256)
        if not outcome.ok or outcome.dst is None:
            return {**item, "error": outcome.message}
        self.records.upsert(replace(
            record, path=outcome.dst, category=placement.category,
            confidence=result.confidence,
            action=f"refiled {record.category} -> {placement.category} by {result.model}",
            result_json=result_to_json(result, exclude=set(BULKY_FIELDS))))
        logger.info("refiled %s -> %s (%s %.2f, %s)", printable(Path(record.path).name),
                    printable(str(outcome.dst.parent)), placement.category, result.confidence,
                    result.model)
        return {**item, "dest": str(outcome.dst)}
