"""Tag a photo in place: its category as a keyword in the XMP sidecar, journaled.

The keyword is the category id (e.g. "food"), the hierarchical keyword ``xintud|<category>``.
The photo itself is never written; the sidecar is merged, never replaced (see xmp.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

from xintud.core.fs import part_path
from xintud.library.outcome import ActError, ActOutcome, Status, explain_os_error
from xintud.library.steps import ActionSteps
from xintud.library.xmp import (
    XmpError,
    check_keyword,
    hierarchical_keyword,
    read_sidecar,
    sidecar_path,
    write_sidecar,
)

logger = logging.getLogger(__name__)


class Tagger(ActionSteps):
    """Writes categories into XMP sidecars."""

    def tag(self, src: Path, category: str, sha256: str) -> ActOutcome:
        """Write `category` into the XMP sidecar beside `src` (merging with an existing one).

        The keyword is `category` as given (the category id, e.g. "food"); the hierarchical
        keyword is ``xintud|<category>``. The photo itself is never written.
        """
        src = Path(src)
        sidecar = sidecar_path(src)
        try:
            _check_category(category)
            self._check_source(src, sha256)
            already = self._already_tagged(sidecar, category)
        except (ActError, XmpError) as exc:
            return self._failed(src, sidecar, None, str(exc))
        except OSError as exc:
            return self._failed(src, sidecar, None, f"cannot tag {src}: {explain_os_error(exc)}")
        if already:
            status: Status = "dry_run" if self.dry_run else "tagged"
            return ActOutcome(
                status, src, sidecar, None, f"{sidecar} already has {category!r}; unchanged"
            )
        if self.dry_run:
            return ActOutcome("dry_run", src, sidecar, None, f"would tag {category!r} in {sidecar}")
        action = self._begin("tag", sha256, src, sidecar)
        if isinstance(action, ActOutcome):
            return action
        try:
            write_sidecar(
                src,
                [category],
                [hierarchical_keyword(category)],
                action_id=action.id,
                temp_name=part_path(sidecar.parent, action.id).name,
            )
        except (OSError, XmpError) as exc:
            return self._sidecar_write_failed(action, src, sidecar, exc)
        self._finish(action)
        logger.debug("tagged %s as %s in %s", src, category, sidecar)
        return ActOutcome("tagged", src, sidecar, action.id, f"tagged {category!r} in {sidecar}")

    @staticmethod
    def _already_tagged(sidecar: Path, category: str) -> bool:
        try:
            info = read_sidecar(sidecar)
        except FileNotFoundError:
            return False
        return category in info.subjects and hierarchical_keyword(category) in info.hierarchical


def _check_category(category: str) -> None:
    if not category or "|" in category or category != category.strip():
        raise ActError(f"category {category!r} cannot be a keyword (empty, spaces or '|')")
    try:
        check_keyword(category)
    except ValueError as exc:
        raise ActError(str(exc)) from exc
