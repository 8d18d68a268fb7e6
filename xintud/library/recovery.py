"""Recovery at start: finish or roll back every action a crash left unfinished.

Decides from the disk: a complete destination (right sha256) means the action happened (a
move's leftover source is removed only when it holds the same content); otherwise it is rolled
back, removing only xintud's own temp file. An action that cannot be settled now (e.g. its
drive is missing) stays unfinished for the next start.
"""

from __future__ import annotations

import logging
import os

from xintud.core.fs import holds_content, is_same_file, part_path, rename_no_replace
from xintud.library.event_tags import EventTagger, is_event_action
from xintud.library.rating import Rater, is_rating_action
from xintud.library.sets import SetMover
from xintud.library.steps import ActionSteps, fsync_dirs_after_placement, unlink_quietly
from xintud.library.xmp import XmpError, read_sidecar
from xintud.state.journal import Action

logger = logging.getLogger(__name__)


class Recoverer(ActionSteps):
    """Settles the journal's unfinished actions."""

    def recover(self) -> list[str]:
        """Finish or roll back every action a crash left unfinished; one line per action.

        Decides from the disk: a complete destination (right sha256) means the action happened
        (a move's leftover source is removed only when it holds the same content); otherwise it
        is rolled back, removing only xintud's own temp file. An action that cannot be settled
        now (e.g. its drive is missing) stays unfinished for the next start.
        """
        lines: list[str] = []
        unfinished = self._journal.unfinished()
        photos = {action.id for action in unfinished}
        for action in unfinished:
            if action.part_of in photos:
                continue  # settled with its photo's set, below
            try:
                if action.kind == "tag":
                    line = self._recover_tag(action)
                elif action.part_of is None and self._journal.members(action.id):
                    line = self._recover_set(action)
                else:
                    line = self._recover_transfer(action)
            except Exception as exc:  # one bad row must not stop the daemon from starting
                logger.exception("could not recover journal action #%d", action.id)
                line = (
                    f"could not settle {action.kind} #{action.id} ({action.src} → {action.dst}): "
                    f"{exc}; it is tried again at the next start"
                )
            else:
                logger.info("recovery: %s", line)
            lines.append(line)
        return lines

    def _recover_transfer(self, action: Action) -> str:
        src, dst, part = action.src, action.dst, part_path(action.dst.parent, action.id)
        label = f"{action.kind} #{action.id} ({src} → {dst})"
        if not os.path.lexists(src) and not dst.parent.is_dir():
            # Neither end is reachable (a drive not plugged in yet?): deciding now could record
            # a finished move as rolled back, so leave the row for a later start.
            return (
                f"left {label} unfinished: neither {src} nor the folder {dst.parent} is there "
                "(a drive not connected?); it is tried again at the next start"
            )
        if holds_content(dst, action.sha256):
            detail = ""
            if action.kind == "move" and os.path.lexists(src):
                if is_same_file(src, dst) or holds_content(src, action.sha256):
                    os.unlink(src)
                    fsync_dirs_after_placement(src.parent)
                    detail = "; removed the source left beside the complete copy"
                else:
                    detail = f"; {src} now holds other content and was left alone"
            if unlink_quietly(part):
                detail += f"; removed the temp file {part.name}"
            self._journal.mark_done(action.id)
            return f"finished {label}{detail}"
        source_gone = not os.path.lexists(src)
        if source_gone and not os.path.lexists(dst) and holds_content(part, action.sha256):
            # The source was removed by someone else after the copy was complete: the temp file
            # is the last copy of this photo, so it is put in place rather than deleted.
            rename_no_replace(part, dst)
            fsync_dirs_after_placement(dst.parent)
            self._journal.mark_done(action.id)
            return (f"finished {label}: the source was gone, so the complete copy was put "
                    "in place")
        reason = "the crash came before the destination was complete"
        if unlink_quietly(part):
            reason += f"; removed the temp file {part}"
        reason += f"; {src} is where it was" if os.path.lexists(src) else f"; {src} is gone"
        if os.path.lexists(dst):
            reason += f"; {dst} holds another file, left alone"
        self._journal.mark_rolled_back(action.id, reason)
        return f"rolled back {label}: {reason}"

    def _recover_set(self, photo: Action) -> str:
        """A photo and its companions (library/sets.py): the photo moves last, so its
        destination decides — complete, every companion is finished (moved now if it had not
        gone yet); not, every companion that had arrived goes back, and the set is undone."""
        members = [m for m in self._journal.members(photo.id) if m.state == "begun"]
        arrived = holds_content(photo.dst, photo.sha256)
        settle = self._finish_member if arrived else self._roll_back_member
        details = [settle(member) for member in members]
        return "; ".join([self._recover_transfer(photo), *details])

    def _finish_member(self, member: Action) -> str:
        if not holds_content(member.dst, member.sha256) and holds_content(member.src,
                                                                          member.sha256):
            SetMover(self.settings)._transfer(member, remove_source=member.kind == "move")
        return f"companion {self._recover_transfer(member)}"

    def _roll_back_member(self, member: Action) -> str:
        unlink_quietly(part_path(member.dst.parent, member.id))
        if holds_content(member.dst, member.sha256):
            SetMover(self.settings).take_back(member)
        reason = "its photo had not been filed, so it is back where it was"
        self._journal.mark_rolled_back(member.id, reason)
        return f"companion {member.src.name}: {reason}"

    def _recover_tag(self, action: Action) -> str:
        if is_rating_action(action):
            return Rater(self.settings).recover_reject(action)
        if is_event_action(action):
            return EventTagger(self.settings).recover_event(action)
        sidecar, part = action.dst, part_path(action.dst.parent, action.id)
        label = f"tag #{action.id} ({sidecar})"
        removed = unlink_quietly(part)
        try:
            mark = read_sidecar(sidecar).mark
        except (FileNotFoundError, XmpError):
            mark = None
        if mark is not None and mark.action_id == action.id:
            self._journal.mark_done(action.id)
            return f"finished {label}: the sidecar was complete"
        reason = "the crash came before the sidecar was written; it is as it was"
        if removed:
            reason += f"; removed the temp file {part}"
        self._journal.mark_rolled_back(action.id, reason)
        return f"rolled back {label}: {reason}"
