"""Rejecting a photo in tag mode: xmp:Rating -1 in its sidecar, as Lightroom, digiKam and
darktable read a rejected photo — journaled, undoable, merged into the sidecar that is there.

The journal row (a "tag" action) carries what undo needs in its note: the rating before and
whether xintud created the sidecar. Undo puts the old rating back only while the sidecar still
says -1: a rating the user changed since is theirs and stays.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from xintud.core.fs import lstat_or_none
from xintud.library.outcome import ActError, ActOutcome, explain_os_error
from xintud.library.steps import ActionSteps
from xintud.library.xmp import sidecar_path
from xintud.library.xmp_packet import NS_XMP, RDF_ABOUT, RDF_DESCRIPTION, Packet, XmpError
from xintud.library.xmp_store import (
    load_or_new,
    update,
)
from xintud.state.journal import Action

logger = logging.getLogger(__name__)

XMP_RATING = f"{{{NS_XMP}}}Rating"
REJECTED = -1
RATING_NOTE = "xmp:Rating"  # how a rejection's journal note starts
_NOTE = re.compile(r"^xmp:Rating before=(?P<before>-?\d+|none) created=(?P<created>yes|no)")


def rating_of(packet: Packet) -> int | None:
    """xmp:Rating of a packet, as attribute or element of any rdf:Description."""
    for description in packet.rdf.iter(RDF_DESCRIPTION):
        text = description.get(XMP_RATING)
        if text is None:
            element = description.find(XMP_RATING)
            text = element.text if element is not None else None
        if text is not None:
            try:
                return max(-1, min(5, round(float(text))))
            except ValueError:
                continue
    return None


def is_rating_action(action: Action) -> bool:
    """True for a journaled rejection (as opposed to a category tag)."""
    return action.kind == "tag" and action.note.startswith(RATING_NOTE)


class Rater(ActionSteps):
    """Marks photos rejected in their sidecars, and takes that back."""

    def reject(self, src: Path, sha256: str) -> ActOutcome:
        """Set xmp:Rating -1 in the sidecar beside `src` (creating it if need be)."""
        src = Path(src)
        sidecar = sidecar_path(src)
        try:
            self._check_source(src, sha256)
            before_stat = lstat_or_none(sidecar)
            before = rating_of(load_or_new(sidecar, before_stat))
        except (ActError, XmpError) as exc:
            return self._failed(src, sidecar, None, str(exc))
        except OSError as exc:
            return self._failed(src, sidecar, None, f"cannot read {sidecar}: "
                                                    f"{explain_os_error(exc)}")
        if before == REJECTED:
            return ActOutcome("tagged", src, sidecar, None, f"{sidecar} already says rejected")
        if self.dry_run:
            return ActOutcome("dry_run", src, sidecar, None, f"would mark {src.name} rejected")
        note = (f"{RATING_NOTE} before={'none' if before is None else before} "
                f"created={'yes' if before_stat is None else 'no'}")
        action = self._begin("tag", sha256, src, sidecar, note=note)
        if isinstance(action, ActOutcome):
            return action
        try:
            _write_rating(sidecar, REJECTED)
        except (OSError, XmpError) as exc:
            return self._sidecar_write_failed(action, src, sidecar, exc)
        self._finish(action)
        return ActOutcome("tagged", src, sidecar, action.id, f"marked rejected in {sidecar}")

    def undo_reject(self, action: Action) -> ActOutcome:
        """Put back the rating a rejection replaced (see the module docstring)."""
        sidecar = action.dst
        match = _NOTE.match(action.note)
        if match is None:
            raise ActError(f"cannot undo #{action.id}: its journal note {action.note!r} does "
                           "not say what the rating was")
        before = None if match["before"] == "none" else int(match["before"])
        try:
            result = _restore_rating(sidecar, before, match["created"] == "yes")
        except XmpError as exc:
            raise ActError(f"cannot undo #{action.id}: {exc}") from exc
        self._journal.mark_undone(action.id)
        logger.info("undo #%d: %s", action.id, result)
        return ActOutcome("undone", action.src, sidecar, action.id, result)

    def recover_reject(self, action: Action) -> str:
        """After a crash: done when the sidecar says rejected, else rolled back."""
        try:
            rating = rating_of(load_or_new(action.dst, lstat_or_none(action.dst)))
        except (OSError, XmpError):
            rating = None
        if rating == REJECTED:
            self._journal.mark_done(action.id)
            return f"finished rejection #{action.id} ({action.dst}): the sidecar was written"
        self._journal.mark_rolled_back(action.id, "the crash came before the sidecar changed")
        return f"rolled back rejection #{action.id} ({action.dst}): the sidecar is as it was"


def _set_rating(packet: Packet, rating: int | None) -> bool:
    """Set (or, with None, remove) xmp:Rating; True when the packet changed."""
    changed = False
    descriptions = list(packet.rdf.iter(RDF_DESCRIPTION))
    for description in descriptions:
        for element in description.findall(XMP_RATING):
            description.remove(element)
            changed = True
        if XMP_RATING in description.attrib:
            del description.attrib[XMP_RATING]
            changed = True
    if rating is not None:
        target = descriptions[0] if descriptions else None
        if target is None:
            target = ET.SubElement(packet.rdf, RDF_DESCRIPTION, {RDF_ABOUT: ""})
        target.set(XMP_RATING, str(rating))
        changed = True
    return changed


def _write_rating(sidecar: Path, rating: int | None) -> None:
    update(sidecar, lambda packet: _set_rating(packet, rating))


def _restore_rating(sidecar: Path, rating: int | None, created: bool) -> str:
    # Only while the sidecar still says rejected: a rating changed since is the user's.
    result = update(sidecar, lambda packet: rating_of(packet) == REJECTED and
                    _set_rating(packet, rating), create=False, delete_if_empty=created)
    return {
        "absent": f"there is no sidecar at {sidecar} any more; nothing to put back",
        "unchanged": f"{sidecar} has another rating since; it is kept as it is",
        "deleted": f"removed {sidecar}, which xintud had created",
        "rewritten": f"put the rating in {sidecar} back to "
                     f"{rating if rating is not None else 'none'}",
    }[result]
