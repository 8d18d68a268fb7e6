"""The steps every library action shares: journal before and after, refuse early, log once.

`ActionSteps` holds what the verbs (move.py, tag.py, undo.py, recovery.py) have in common: the
journal and the settings of one `Actor` (dry run, library root, forced copy path). The settings
live in one `ActSettings` object, so a config reload seen by the actor is seen by every verb.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from xintud.core.fs import fsync_dir, part_path
from xintud.core.hashing import sha256_file
from xintud.library.names import Destination
from xintud.library.outcome import ActError, ActOutcome, Status, explain_os_error
from xintud.state.journal import Action, ActionKind, Journal

logger = logging.getLogger(__name__)


@dataclass
class ActSettings:
    """One actor's settings, shared by its verbs (see `Actor` for what each means)."""

    journal: Journal
    dry_run: bool = False
    force_cross_device: bool = False
    library_root: Path | None = None


class ActionSteps:
    """Base of the verbs: the journaled begin / finish / abandon and the checks before acting."""

    def __init__(self, settings: ActSettings) -> None:
        self.settings = settings

    @property
    def _journal(self) -> Journal:
        return self.settings.journal

    @property
    def dry_run(self) -> bool:
        """Nothing is changed on disk and nothing is journaled."""
        return self.settings.dry_run

    @property
    def library_root(self) -> Path | None:
        """The library folder, which must exist before anything is filed into it."""
        return self.settings.library_root

    @property
    def _force_cross_device(self) -> bool:
        return self.settings.force_cross_device

    def _check_library_root(self, src: Path, dst_dir: Path) -> None:
        root = self.library_root
        if root is None:
            return
        if not root.is_dir():
            raise ActError(
                f"the library folder {root} does not exist (is its drive unplugged?); {src} was "
                "left where it is. Reconnect the drive or create the folder."
            )
        if not dst_dir.resolve().is_relative_to(root.resolve()):
            raise ActError(f"{dst_dir} is outside the library {root}; {src} was left where it is")

    @staticmethod
    def _check_source(src: Path, sha256: str) -> None:
        try:
            info = os.lstat(src)
        except FileNotFoundError as exc:
            raise ActError(
                f"{src} is gone (moved or deleted before xintud got to it); nothing to do"
            ) from exc
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
            raise ActError(f"{src} is not a regular file (a link?); xintud leaves it alone")
        actual = sha256_file(src)
        if actual != sha256:
            raise ActError(
                f"{src} changed since it was analysed (sha256 {actual[:12]}… instead of "
                f"{sha256[:12]}…); it was left where it is and will be looked at again"
            )

    def _duplicate(self, src: Path, destination: Destination) -> ActOutcome:
        if destination.same_file:
            message = f"{src} is already filed at {destination.dst}; nothing to do"
        else:
            message = (f"{destination.dst} already holds identical content; "
                       f"{src} was left where it is")
        status: Status = "dry_run" if self.dry_run else "duplicate"
        return ActOutcome(status, src, destination.dst, None, message)

    def _begin(
        self, kind: ActionKind, sha256: str, src: Path, dst: Path, reverses: int | None = None,
        note: str = "", part_of: int | None = None,
    ) -> Action | ActOutcome:
        try:
            return self._journal.begin(kind, sha256, src, dst, reverses=reverses, note=note,
                                       part_of=part_of)
        except Exception as exc:  # the journal is the precondition: no row, no touching files
            logger.exception("could not journal %s %s → %s", kind, src, dst)
            return self._failed(
                src,
                dst,
                None,
                f"cannot {kind} {src}: the journal could not be written ({exc}); nothing was "
                "touched. Check the state database (see the log).",
            )

    def _finish(self, action: Action) -> None:
        try:
            self._journal.mark_done(action.id)
        except Exception:
            # The files are in place; the row stays "begun" and recover() marks it done later.
            logger.exception("action #%d is done but could not be journaled as done", action.id)

    def _abandon(self, action: Action, message: str) -> None:
        unlink_quietly(part_path(action.dst.parent, action.id))
        try:
            self._journal.mark_failed(action.id, message)
        except Exception:
            # The row stays "begun"; recover() finds nothing complete and rolls it back.
            logger.exception("could not journal the failure of action #%d", action.id)

    def _sidecar_write_failed(self, action: Action, src: Path, sidecar: Path,
                              exc: OSError | Exception) -> ActOutcome:
        """Abandon a journaled sidecar write that raised, saying why; the photo is untouched."""
        cause = explain_os_error(exc) if isinstance(exc, OSError) else str(exc)
        message = f"cannot write sidecar {sidecar}: {cause}. {src} is untouched."
        self._abandon(action, message)
        return self._failed(src, sidecar, action.id, message)

    @staticmethod
    def _failed(src: Path, dst: Path | None, action_id: int | None, message: str) -> ActOutcome:
        logger.warning("%s", message)
        return ActOutcome("failed", src, dst, action_id, message)


def fsync_dirs_after_placement(*directories: Path) -> None:
    """fsync folders after the file is already in place: a failure here cannot be undone by
    failing the action (the rename happened), so it is logged, not raised."""
    for directory in dict.fromkeys(directories):
        try:
            fsync_dir(directory)
        except OSError as exc:
            logger.warning("could not fsync folder %s: %s", directory, explain_os_error(exc))


def unlink_quietly(path: Path) -> bool:
    """Remove one of xintud's own files if it is there; True when something was removed."""
    if not os.path.lexists(path):
        return False  # checked first: on a read-only filesystem unlink says EROFS, not ENOENT
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        logger.warning("could not remove %s: %s", path, explain_os_error(exc))
        return False
    return True
