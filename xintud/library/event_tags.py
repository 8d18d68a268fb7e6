"""Albums in tag mode: ``Events|<album name>`` in a photo's sidecar, so that digiKam, darktable
and Lightroom show the album in their keyword trees — journaled, undoable, merged into the
sidecar that is there.

As for categories (xmp.py), the leaf goes into dc:subject and the path into
lr:hierarchicalSubject. Which of them xintud wrote is kept in the journal, not in xintud's mark
in the sidecar: the mark belongs to the category tag (its undo takes out everything the mark
lists and checks the mark's action id), so the albums' writes would either be undone with the
category or block its undo. Each change is one "tag" row whose note (`EventNote`) says the
album, what was added, what was taken out and which of the sidecar's Events keywords are
xintud's afterwards; the newest row of a photo is what the next change starts from. A keyword
the user wrote is never xintud's — not even when it names the same album.

Undo takes out what its action added and puts nothing back: the keyword an album's rename
replaced named an album that is no more.
"""

from __future__ import annotations

import json
import logging
import stat
from dataclasses import dataclass
from pathlib import Path

from xintud.core.fs import lstat_or_none, part_path
from xintud.library.outcome import ActError, ActOutcome, explain_os_error
from xintud.library.steps import ActionSteps, unlink_quietly
from xintud.library.xmp import (
    add_keywords,
    packet_keywords,
    remove_keywords,
    sidecar_path,
)
from xintud.library.xmp_packet import Packet, XmpError
from xintud.library.xmp_store import load_or_new, update
from xintud.state.journal import Action, Journal

logger = logging.getLogger(__name__)

EVENTS_ROOT = "Events"
EVENT_NOTE = "Events "  # how an album keyword's journal note starts


@dataclass(frozen=True)
class Keywords:
    """Keywords in the two bags: dc:subject and lr:hierarchicalSubject."""

    subjects: tuple[str, ...] = ()
    hierarchical: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.subjects or self.hierarchical)

    def minus(self, other: Keywords) -> Keywords:
        """These keywords without `other`'s."""
        return Keywords(tuple(s for s in self.subjects if s not in other.subjects),
                        tuple(h for h in self.hierarchical if h not in other.hierarchical))

    def within(self, subjects: tuple[str, ...], hierarchical: tuple[str, ...]) -> Keywords:
        """Those of these keywords that are in the given bags."""
        return Keywords(tuple(s for s in self.subjects if s in subjects),
                        tuple(h for h in self.hierarchical if h in hierarchical))

    def union(self, other: Keywords) -> Keywords:
        """These keywords and `other`'s, each once."""
        return Keywords(tuple(dict.fromkeys([*self.subjects, *other.subjects])),
                        tuple(dict.fromkeys([*self.hierarchical, *other.hierarchical])))


@dataclass(frozen=True)
class EventNote:
    """What one album keyword change did, as its journal note carries it."""

    album: str | None  # the album the photo was put in; None: in none any more
    added: Keywords
    removed: Keywords
    owned: Keywords  # xintud's Events keywords in the sidecar after the change
    created: bool  # xintud created the sidecar

    def render(self) -> str:
        """The journal note: a prefix, then JSON (album names hold any character)."""
        return EVENT_NOTE + json.dumps({
            "album": self.album, "created": self.created,
            **{name: {"subjects": list(k.subjects), "hierarchical": list(k.hierarchical)}
               for name, k in (("added", self.added), ("removed", self.removed),
                               ("owned", self.owned))}}, ensure_ascii=False)

    @classmethod
    def parse(cls, note: str) -> EventNote | None:
        """The note of an album keyword action, or None for any other note."""
        if not note.startswith(EVENT_NOTE):
            return None
        try:
            data = json.loads(note[len(EVENT_NOTE):])
            bags = {name: Keywords(tuple(map(str, data[name]["subjects"])),
                                   tuple(map(str, data[name]["hierarchical"])))
                    for name in ("added", "removed", "owned")}
            album = data["album"]
            return cls(None if album is None else str(album), created=bool(data["created"]),
                       **bags)
        except (ValueError, KeyError, TypeError):
            return None


def event_keyword(album: str) -> str:
    """The lr:hierarchicalSubject entry of an album: ``Events|2026-08-01 Munich``."""
    return f"{EVENTS_ROOT}|{album}"


def keywords_of_album(album: str | None) -> Keywords:
    """The keywords that put a photo in `album` (none for None)."""
    if album is None:
        return Keywords()
    # A "|" would read as one more level of the keyword tree.
    leaf = album.replace("|", "/")
    return Keywords((leaf,), (event_keyword(leaf),))


def is_event_action(action: Action) -> bool:
    """True for a journaled album keyword change (as opposed to a category tag)."""
    return action.kind == "tag" and action.note.startswith(EVENT_NOTE)


def owned_after(action: Action | None) -> Keywords:
    """xintud's Events keywords in a photo's sidecar after its newest such action."""
    note = EventNote.parse(action.note) if action is not None else None
    if note is None:
        return Keywords()
    # An undone change took out what it added; what it had kept is still xintud's.
    return note.owned if action is not None and action.state == "done" else \
        note.owned.minus(note.added)


def album_written(action: Action) -> str | None:
    """The album an album keyword action put its photo in (undone or not: an undo is the
    user's word, and is not written again for the same album)."""
    note = EventNote.parse(action.note)
    return note.album if note is not None else None


class EventTagger(ActionSteps):
    """Writes the album keywords into sidecars, and takes them back."""

    def tag_event(self, photo: Path, sha256: str, album: str | None) -> ActOutcome | None:
        """Make the sidecar beside `photo` name `album` (None: no album): the Events keywords
        xintud wrote before and that name another album go, the new ones are added. None when
        the sidecar already says so (nothing written, nothing journaled)."""
        photo = Path(photo)
        sidecar = sidecar_path(photo)
        try:
            _check_photo(photo)
            owned = owned_after(self._latest(sha256))
            before_stat = lstat_or_none(sidecar)
            if before_stat is None and album is None:
                return None
            subjects, hierarchical = packet_keywords(load_or_new(sidecar, before_stat))
        except (ActError, XmpError) as exc:
            return self._failed(photo, sidecar, None, str(exc))
        except OSError as exc:
            return self._failed(photo, sidecar, None,
                                f"cannot read {sidecar}: {explain_os_error(exc)}")
        wanted = keywords_of_album(album)
        removed = owned.minus(wanted).within(subjects, hierarchical)
        added = wanted.minus(Keywords(subjects, hierarchical))
        if not removed and not added:
            return None
        if self.dry_run:
            return ActOutcome("dry_run", photo, sidecar, None,
                              f"would put {photo.name} in album {album!r} in {sidecar}")
        kept = owned.minus(removed).within(subjects, hierarchical)
        note = EventNote(album, added, removed, kept.union(added), before_stat is None)
        action = self._begin("tag", sha256, photo, sidecar, note=note.render())
        if isinstance(action, ActOutcome):
            return action
        try:
            update(sidecar, lambda packet: _apply(packet, note.added, note.removed),
                   temp=part_path(sidecar.parent, action.id))
        except (OSError, XmpError, ValueError) as exc:
            return self._sidecar_write_failed(action, photo, sidecar, exc)
        self._finish(action)
        message = f"album {album!r} in {sidecar}" if album else f"no album in {sidecar}"
        logger.debug("%s: %s", photo.name, message)
        return ActOutcome("tagged", photo, sidecar, action.id, message)

    def undo_event(self, action: Action) -> ActOutcome:
        """Take out the keywords `action` added (see the module docstring)."""
        note = EventNote.parse(action.note)
        if note is None:
            raise ActError(f"cannot undo #{action.id}: its journal note does not say which "
                           "album keywords it wrote")
        latest = self._latest(action.sha256)
        if latest is not None and latest.id != action.id and latest.state == "done":
            raise ActError(f"cannot undo #{action.id}: album keyword #{latest.id} changed "
                           f"{action.dst} since; undo #{latest.id} first. Nothing was changed.")
        temp = part_path(action.dst.parent, action.id).with_suffix(".undo.part")
        unlink_quietly(temp)
        try:
            result = _take_out(action.dst, temp, note)
        except XmpError as exc:
            raise ActError(f"cannot undo #{action.id}: {exc}") from exc
        self._journal.mark_undone(action.id)
        logger.info("undo #%d: %s", action.id, result)
        return ActOutcome("undone", action.src, action.dst, action.id, result)

    def recover_event(self, action: Action) -> str:
        """After a crash: done when the sidecar holds the change, else rolled back (the
        sidecar is replaced in one rename, so it is either as before or as after)."""
        label = f"album keyword #{action.id} ({action.dst})"
        removed_temp = unlink_quietly(part_path(action.dst.parent, action.id))
        note = EventNote.parse(action.note)
        try:
            subjects, hierarchical = packet_keywords(
                load_or_new(action.dst, lstat_or_none(action.dst)))
        except (OSError, XmpError):
            subjects, hierarchical = (), ()
        if note is not None and note.added.within(subjects, hierarchical) == note.added and \
                not note.removed.within(subjects, hierarchical):
            self._journal.mark_done(action.id)
            return f"finished {label}: the sidecar was written"
        reason = "the crash came before the sidecar changed; it is as it was"
        if removed_temp:
            reason += "; removed the temp file"
        self._journal.mark_rolled_back(action.id, reason)
        return f"rolled back {label}: {reason}"

    def _latest(self, sha256: str) -> Action | None:
        return self._journal.latest_noted(sha256, "tag", EVENT_NOTE)


def albums_written(journal: Journal) -> dict[str, str | None]:
    """Per photo (sha256), the album its newest album keyword action put it in."""
    return {action.sha256: album_written(action)
            for action in journal.noted("tag", EVENT_NOTE)}


def _check_photo(photo: Path) -> None:
    """A sidecar is written only beside the photo itself (no orphan sidecars, no links)."""
    info = lstat_or_none(photo)
    if info is None or not stat.S_ISREG(info.st_mode):
        raise ActError(f"{photo} is gone or is not a regular file; its album keyword is "
                       "not written")


def _apply(packet: Packet, added: Keywords, removed: Keywords) -> bool:
    changed = remove_keywords(packet, removed.subjects, removed.hierarchical)
    return add_keywords(packet, added.subjects, added.hierarchical) or changed


def _take_out(sidecar: Path, temp: Path, note: EventNote) -> str:
    result = update(sidecar, lambda packet: remove_keywords(
        packet, note.added.subjects, note.added.hierarchical), temp=temp, create=False,
        delete_if_empty=note.created)
    return {
        "absent": f"there is no sidecar at {sidecar} any more; nothing to take back",
        "unchanged": f"{sidecar} holds none of the album keywords xintud wrote any more",
        "deleted": f"removed {sidecar}, which xintud had created",
        "rewritten": f"took the album keyword out of {sidecar}; the rest of it is kept",
    }[result]
