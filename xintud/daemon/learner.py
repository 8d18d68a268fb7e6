"""The learner in the daemon: refits what the user taught a short while after corrections stop
arriving (or at once on `xintuctl model refit`), puts a version into use only when the guard
rail lets it (learning/propose.py), and rolls back on request.

A refit is numpy on the stored corrections (no photo is read again): well under a second for
hundreds of corrections, so the loop runs it between batches and filing goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from xintud.control.protocol import ControlCommandError
from xintud.engine.learned import Learned, LearnedHeads
from xintud.engine.models.manifest import ModelError
from xintud.engine.models.store import load_heads
from xintud.learning.propose import Example, propose
from xintud.learning.versions import SHIPPED, ModelVersions, StoredVersion, VersionError
from xintud.state.corrections import Correction, Corrections

logger = logging.getLogger("xintud")


def example_of(correction: Correction) -> Example:
    """A stored correction (or taught example) as learning takes it."""
    return Example(sha256=correction.sha256, category=correction.category,
                   features=np.frombuffer(correction.features, dtype=np.float32))


def shipped_heads() -> LearnedHeads:
    """The shipped heads, what every version is built on (ModelError when broken)."""
    return LearnedHeads(*load_heads())


class Learner:
    """Versions of what the user taught: the one in use, refits and rollbacks."""

    def __init__(self, corrections: Corrections, versions: ModelVersions,
                 refit_after_seconds: float,
                 on_version: Callable[[StoredVersion | None], None],
                 shipped: Callable[[], LearnedHeads] = shipped_heads) -> None:
        self.corrections = corrections
        self.versions = versions
        self.refit_after_seconds = refit_after_seconds
        self._on_version = on_version
        self._shipped = shipped
        self._due: float | None = None
        self._lock = threading.Lock()  # the loop and the control thread refit one at a time
        self.in_use = self._load_current()

    @property
    def learned(self) -> Learned | None:
        """The version in use as the engine applies it (None: the shipped models alone)."""
        return None if self.in_use is None else self.in_use.learned()

    def _load_current(self) -> StoredVersion | None:
        if self.versions.current_name() == SHIPPED:
            return None
        try:
            return self.versions.current(self._shipped())
        except (VersionError, ModelError) as exc:
            logger.warning("the shipped models answer alone: %s", exc)
            return None

    def corrected(self) -> None:
        """A correction arrived: refit once they have stopped arriving for a while."""
        self._due = time.monotonic() + self.refit_after_seconds

    def next_deadline(self) -> float | None:
        """When the loop should wake to refit (monotonic), if one is due."""
        return self._due

    def refit_if_due(self) -> None:
        """Refit when corrections stopped arriving long enough ago (the loop's thread)."""
        if self._due is None or time.monotonic() < self._due:
            return
        self._due = None
        try:
            self.refit("corrections stopped arriving")
        except ControlCommandError as exc:
            logger.info("no refit: %s", exc)

    def refit(self, why: str) -> dict[str, Any]:
        """A new version from every correction, taken into use if the guard rail allows."""
        with self._lock:
            self._due = None
            examples = [example_of(c) for c in self.corrections.all()]
            if not examples and self.in_use is None:
                raise ControlCommandError("there are no corrections to learn from yet: move a "
                                          "photo to its right category folder, or use "
                                          "`xintuctl correct PATH CATEGORY`")
            started = time.perf_counter()
            try:
                shipped = self._shipped()
            except ModelError as exc:
                raise ControlCommandError(f"cannot refit: {exc}") from exc
            proposal = propose(examples, self.in_use, self.versions.next_name(), shipped)
            stored = self.versions.save(proposal.info, proposal.memory, proposal.heads,
                                        proposal.hashes)
            seconds = time.perf_counter() - started
            if stored.info.taken:
                self._use(stored)
            logger.info("model %s (%s, %.2f s): %s", stored.info.version, why, seconds,
                        stored.info.note)
            return {"version": stored.info.version, "taken": stored.info.taken,
                    "in_use": self.versions.current_name(), "seconds": round(seconds, 3),
                    "info": _info_json(stored.info.__dict__)}

    def rollback(self, version: str | None) -> dict[str, Any]:
        """Go back to `version` (a name or "shipped"), or to the one before the current."""
        with self._lock:
            try:
                target = version or self.versions.previous()
                stored = None if target == SHIPPED else self.versions.load(target,
                                                                          self._shipped())
                self.versions.use(target)
            except (VersionError, ModelError) as exc:
                raise ControlCommandError(str(exc)) from exc
            self._use(stored)
        logger.info("model rolled back to %s", target)
        return {"in_use": target,
                "message": f"now using {target}; photos already filed stay where they are "
                           "(`xintuctl refile --dry-run` shows what this model would move)"}

    def report(self) -> dict[str, Any]:
        """Every version with its figures, and which is in use."""
        return {"in_use": self.versions.current_name(),
                "corrections": self.corrections.count(),
                "refit_due_in_s": None if self._due is None else
                round(max(0.0, self._due - time.monotonic()), 1),
                "versions": [_info_json(info.__dict__) for info in self.versions.infos()]}

    def _use(self, stored: StoredVersion | None) -> None:
        self.in_use = stored
        self._on_version(stored)


def _info_json(info: dict[str, Any]) -> dict[str, Any]:
    return {key: (round(value, 4) if isinstance(value, float) else value)
            for key, value in info.items()}
