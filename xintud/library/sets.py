"""Where a photo's companions are moved with it: its Live Photo video, edits, sidecars and
RAW twin (intake/companions.py finds them) go into the same folder under the photo's new name
(`IMG_1234 (1).HEIC` takes `IMG_1234 (1).MOV` with it), or none of them does.

Each companion has its own journal action, part of the photo's (state: actions.part_of), all
journaled before anything is touched. The companions move first and the photo last, so after a
crash the photo's destination decides for the set (recovery.py): complete, every companion is
finished; not, every companion that had arrived is moved back. `xintuctl undo` of the photo
takes its companions back too (undo.py); a companion that arrives after its photo was filed
follows it on its own action, part of the photo's.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

from xintud.core.fs import ensure_directory, holds_content
from xintud.core.hashing import sha256_file
from xintud.library.move import Mover
from xintud.library.names import MAX_NAME_SUFFIX, choose_destination, numbered_name
from xintud.library.outcome import ActError, ActOutcome, Status, explain_os_error
from xintud.library.steps import unlink_quietly
from xintud.state.journal import Action, ActionKind

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Member:
    """One companion to move: where it is, its content, where it goes."""

    src: Path
    sha256: str
    dst: Path


def companion_name(photo_dst_name: str, photo_name: str, companion_name_: str) -> str:
    """The companion's name beside the photo's new name: the photo's stem is replaced, the
    rest kept (IMG_1.MOV, IMG_1.HEIC.json → IMG_1 (2).MOV, IMG_1 (2).HEIC.json)."""
    old_stem, new_stem = Path(photo_name).stem, Path(photo_dst_name).stem
    return new_stem + companion_name_[len(old_stem):]


class SetMover(Mover):
    """Moves or copies a photo with its companions, all or nothing."""

    def file_set(self, kind: ActionKind, src: Path, dst_dir: Path, sha256: str,
                 companions: list[Path]) -> ActOutcome:
        """File `src` and its companions into `dst_dir`; without companions, as move/copy."""
        if not companions:
            return self._file(kind, src, dst_dir, sha256)
        try:
            self._check_library_root(src, dst_dir)
            self._check_source(src, sha256)
            destination = choose_destination(src, dst_dir, sha256)
            if destination.identical:
                return self._duplicate(src, destination)
            photo_dst, members = self._free_names(src, dst_dir, companions)
        except ActError as exc:
            return self._failed(src, None, None, str(exc))
        except OSError as exc:
            return self._failed(src, None, None, f"cannot {kind} {src}: {explain_os_error(exc)}")
        if self.dry_run:
            return ActOutcome("dry_run", src, photo_dst, None,
                              f"would {kind} to {photo_dst} with {len(members)} companions")
        try:
            ensure_directory(dst_dir)
        except OSError as exc:
            return self._failed(src, photo_dst, None, f"cannot create folder {dst_dir} for "
                                f"{src.name}: {explain_os_error(exc)}. {src} was left untouched.")
        return self._transfer_set(kind, src, sha256, photo_dst, members)

    def _free_names(self, src: Path, dst_dir: Path, companions: list[Path]
                    ) -> tuple[Path, list[Member]]:
        """The first numbered name under which the photo and every companion are free."""
        hashes = [sha256_file(c) for c in companions]
        for n in range(MAX_NAME_SUFFIX + 1):
            photo_dst = dst_dir / numbered_name(src.name, n)
            members = [Member(c, h, dst_dir / companion_name(photo_dst.name, src.name, c.name))
                       for c, h in zip(companions, hashes, strict=True)]
            if not any(os.path.lexists(p) for p in (photo_dst, *(m.dst for m in members))):
                return photo_dst, members
        raise ActError(f"{dst_dir} has no free name for {src.name} and its companions; "
                       f"{src} was left where it is. Tidy that folder up, then scan again.")

    def _transfer_set(self, kind: ActionKind, src: Path, sha256: str, photo_dst: Path,
                      members: list[Member]) -> ActOutcome:
        photo = self._begin(kind, sha256, src, photo_dst)
        if isinstance(photo, ActOutcome):
            return photo
        actions: list[Action] = []
        for member in members:
            begun = self._begin(kind, member.sha256, member.src, member.dst, part_of=photo.id)
            if isinstance(begun, ActOutcome):
                return self._give_up_set(photo, actions, [], begun.message)
            actions.append(begun)
        done: list[Action] = []
        try:
            for action in actions:  # the companions first: the photo's arrival decides
                self._transfer(action, remove_source=kind == "move")
                done.append(action)
            self._transfer(photo, remove_source=kind == "move")
        except (OSError, ActError) as exc:
            cause = explain_os_error(exc) if isinstance(exc, OSError) else str(exc)
            return self._give_up_set(photo, actions, done, f"cannot {kind} {src} with its "
                                     f"companions to {photo_dst.parent}: {cause}. {src} and its "
                                     "companions were left untouched.")
        for action in actions:
            self._finish(action)
        self._finish(photo)
        status: Status = "moved" if kind == "move" else "copied"
        names = ", ".join(m.dst.name for m in members)
        logger.debug("%s %s → %s with %s", status, src, photo_dst, names)
        return ActOutcome(status, src, photo_dst, photo.id,
                          f"{status} to {photo_dst} with {names}")

    def _give_up_set(self, photo: Action, actions: list[Action], done: list[Action],
                     message: str) -> ActOutcome:
        """Put back the companions that had arrived and mark the whole set failed."""
        try:
            for action in reversed(done):
                self.take_back(action)
        except (OSError, ActError):
            # Left "begun": the next start's recovery moves the companions back with the set.
            return self._failed(photo.src, photo.dst, photo.id, f"{message} (a companion "
                                "could not be put back now; the next start does it)")
        for action in actions:
            self._abandon(action, message)
        self._abandon(photo, message)
        return self._failed(photo.src, photo.dst, photo.id, message)

    def take_back(self, action: Action) -> None:
        """Undo one companion's transfer of a set that did not complete: a moved file goes
        back to its source name (free: it was just there; copied back across filesystems),
        a copy is removed (its original stays)."""
        try:
            if action.kind == "move" and not os.path.lexists(action.src):
                self._transfer(replace(action, src=action.dst, dst=action.src),
                               remove_source=True)
            elif os.path.lexists(action.src) and holds_content(action.src, action.sha256):
                unlink_quietly(action.dst)  # a copy (or a cross-device move's, source kept)
        except (OSError, ActError) as exc:
            # The row stays "begun": recovery at the next start settles it with the set.
            logger.warning("could not put %s back at %s: %s", action.dst, action.src, exc)
            raise

    def follow(self, companion: Path, photo: Action) -> ActOutcome:
        """A companion that arrived after its photo was filed: into the photo's folder under
        its name, journaled as part of the photo's action (undo takes it back with it)."""
        name = companion_name(photo.dst.name, photo.src.name, companion.name)
        dst = photo.dst.parent / name
        try:
            sha256 = sha256_file(companion)
            if os.path.lexists(dst):
                raise ActError(f"{dst} exists already; {companion} was left where it is")
        except (OSError, ActError) as exc:
            cause = explain_os_error(exc) if isinstance(exc, OSError) else str(exc)
            return self._failed(companion, dst, None, f"cannot follow {photo.dst.name}: {cause}")
        action = self._begin(photo.kind, sha256, companion, dst, part_of=photo.id)
        if isinstance(action, ActOutcome):
            return action
        try:
            self._transfer(action, remove_source=photo.kind == "move")
        except (OSError, ActError) as exc:
            message = f"cannot move {companion} beside {photo.dst}: {exc}; it stays where it is"
            self._abandon(action, message)
            return self._failed(companion, dst, action.id, message)
        self._finish(action)
        return ActOutcome("moved" if photo.kind == "move" else "copied", companion, dst,
                          action.id, f"followed its photo to {dst}")
