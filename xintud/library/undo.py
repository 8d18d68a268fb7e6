"""Undo a done action: move the photo back, remove xintud's copy, or take the keyword out.

An undo refuses, changing nothing, when the file has changed or gone since; undoing a move is
itself a journaled move, so a crash during undo is recoverable too. Nothing is ever deleted
that could be the only copy of a photo.
"""

from __future__ import annotations

import logging
import os

from xintud.core.fs import PART_PREFIX, PART_SUFFIX, ensure_directory, holds_content, is_same_file
from xintud.library.event_tags import EventTagger, is_event_action
from xintud.library.move import Mover
from xintud.library.names import choose_destination
from xintud.library.outcome import ActError, ActOutcome, explain_os_error
from xintud.library.rating import Rater, is_rating_action
from xintud.library.steps import fsync_dirs_after_placement, unlink_quietly
from xintud.library.xmp import XmpError, remove_xintud_keywords
from xintud.state.journal import Action

logger = logging.getLogger(__name__)


class Undoer(Mover):
    """Reverses done actions (a move back is a move, hence a Mover)."""

    def undo(self, action: Action) -> ActOutcome:
        """Reverse a done action: move the photo back, remove the copy, or take the keyword out
        of the sidecar. Refuses (status "failed", nothing changed) when the file is missing or
        its content changed. On success the original action is marked undone; status "undone".
        """
        if action.state != "done":
            return self._failed(
                action.src,
                action.dst,
                action.id,
                f"action #{action.id} is {action.state}; only a done action can be undone",
            )
        if self.dry_run:
            return ActOutcome(
                "dry_run", action.dst, action.src, action.id, f"would undo action #{action.id}"
            )
        try:
            if action.kind == "tag":
                return self._undo_tag(action)
            outcome = self._undo_move(action) if action.kind == "move" else \
                self._undo_copy(action)
            return self._with_companions(action, outcome)
        except ActError as exc:
            return self._failed(action.dst, action.src, action.id, str(exc))
        except OSError as exc:
            return self._failed(
                action.dst,
                action.src,
                action.id,
                f"cannot undo action #{action.id}: {explain_os_error(exc)}. Nothing was changed.",
            )

    def _with_companions(self, photo: Action, outcome: ActOutcome) -> ActOutcome:
        """The photo is back: its companions (library/sets.py) go back with it."""
        if outcome.status != "undone":
            return outcome
        notes = []
        for member in self._journal.members(photo.id):
            if member.state != "done":
                continue
            try:
                (self._undo_move if member.kind == "move" else self._undo_copy)(member)
            except (ActError, OSError) as exc:
                notes.append(f"{member.dst.name} stays: {exc}")
            else:
                notes.append(f"{member.dst.name} back too")
        if notes:
            outcome.message += " (" + "; ".join(notes) + ")"
        return outcome

    def _undo_move(self, action: Action) -> ActOutcome:
        here, home = action.dst, action.src
        if not os.path.lexists(here):
            return self._undo_of_missing_move(action)
        if not holds_content(here, action.sha256):
            raise ActError(
                f"cannot undo move #{action.id}: {here} changed since xintud moved it (its "
                f"sha256 differs), so it was left where it is; move it back to {home} by hand "
                "if you want it there"
            )
        ensure_directory(home.parent)
        # No dedupe: the user asked for the photo back, and nothing is ever deleted to get there.
        destination = choose_destination(
            here, home.parent, action.sha256, name=home.name, dedupe=False
        )
        reverse = self._begin("move", action.sha256, here, destination.dst, reverses=action.id)
        if isinstance(reverse, ActOutcome):
            return reverse
        try:
            self._transfer(reverse, remove_source=True)
        except (OSError, ActError) as exc:
            cause = explain_os_error(exc) if isinstance(exc, OSError) else str(exc)
            message = (f"cannot move {here} back to {destination.dst}: {cause}. "
                       "Nothing was changed.")
            self._abandon(reverse, message)
            return self._failed(here, destination.dst, reverse.id, message)
        self._finish(reverse)
        self._journal.mark_undone(action.id)
        message = f"moved {here} back to {destination.dst}"
        if destination.dst != home:
            message += f" ({home} is taken by another file, so it got a numbered name)"
        logger.info("undo #%d: %s", action.id, message)
        return ActOutcome("undone", here, destination.dst, reverse.id, message)

    def _undo_of_missing_move(self, action: Action) -> ActOutcome:
        """The moved file is not at its destination: fine if it is already back (an undo that
        crashed before marking the original undone), else refuse."""
        if holds_content(action.src, action.sha256):
            self._journal.mark_undone(action.id)
            return ActOutcome(
                "undone", action.dst, action.src, action.id, f"{action.src} is already back"
            )
        reverse = self._find_reverse(action)
        if reverse is not None:
            self._journal.mark_undone(action.id)
            return ActOutcome(
                "undone",
                action.dst,
                reverse.dst,
                reverse.id,
                f"already moved back to {reverse.dst} by action #{reverse.id}",
            )
        raise ActError(
            f"cannot undo move #{action.id}: {action.dst} is no longer there (moved or deleted "
            f"since), and {action.src} does not hold it either; nothing was changed"
        )

    def _find_reverse(self, action: Action) -> Action | None:
        for candidate in self._journal.done_actions(since=action.finished_at,
                                                    include_reversals=True):
            if (
                candidate.kind == "move"
                and candidate.id > action.id
                and candidate.src == action.dst
                and candidate.sha256 == action.sha256
                and holds_content(candidate.dst, action.sha256)
            ):
                return candidate
        return None

    def _undo_copy(self, action: Action) -> ActOutcome:
        copy, original = action.dst, action.src
        original_ok = holds_content(original, action.sha256) and not is_same_file(original, copy)
        if not os.path.lexists(copy):
            if not original_ok:
                raise ActError(
                    f"cannot undo copy #{action.id}: the copy {copy} is gone and the original "
                    f"{original} is missing or changed; nothing was changed"
                )
            self._journal.mark_undone(action.id)
            return ActOutcome("undone", copy, original, action.id, f"{copy} was already gone")
        if not holds_content(copy, action.sha256):
            raise ActError(
                f"cannot undo copy #{action.id}: {copy} changed since xintud made it (its sha256 "
                "differs), so it is someone's edit; it was left in place"
            )
        if not original_ok:
            raise ActError(
                f"cannot undo copy #{action.id}: the original {original} is gone or changed, so "
                f"{copy} may be the only copy of this photo; xintud will not delete it. Remove "
                "it by hand if you are sure."
            )
        # One unlink: atomic, so a crash leaves the copy either there (undo again) or gone (undo
        # again finds it gone, sees the original intact, and marks the action undone).
        os.unlink(copy)
        fsync_dirs_after_placement(copy.parent)
        self._journal.mark_undone(action.id)
        logger.info("undo #%d: removed the copy %s", action.id, copy)
        return ActOutcome(
            "undone", copy, original, action.id, f"removed the copy {copy}; {original} is kept"
        )

    def _undo_tag(self, action: Action) -> ActOutcome:
        if is_rating_action(action):
            return Rater(self.settings).undo_reject(action)
        if is_event_action(action):
            return EventTagger(self.settings).undo_event(action)
        photo, sidecar = action.src, action.dst
        # The sidecar is replaced or removed in one step, so undo needs no journal row of its
        # own: after a crash it is either as before (undo again) or done (undo again finds
        # nothing of ours and marks the action undone). Only its temp file can be left over.
        temp = sidecar.with_name(f"{PART_PREFIX}{action.id}.undo{PART_SUFFIX}")
        unlink_quietly(temp)
        try:
            result = remove_xintud_keywords(photo, expect_action_id=action.id, temp_name=temp.name)
        except XmpError as exc:
            raise ActError(f"cannot undo tag #{action.id}: {exc}") from exc
        self._journal.mark_undone(action.id)
        message = {
            "deleted": f"removed {sidecar}, which xintud had created",
            "rewritten": f"took xintud's keywords out of {sidecar}; the rest of it is kept",
            "unchanged": f"{sidecar} holds nothing of xintud's any more",
            "absent": f"there is no sidecar at {sidecar} any more; nothing left to undo",
        }[result]
        logger.info("undo #%d: %s", action.id, message)
        return ActOutcome("undone", photo, sidecar, action.id, message)
