"""Move and copy a photo into the library, journaled; the source is never lost.

A move within one filesystem is one no-replace rename (`rename_no_replace`). Across filesystems
it is copy to ``.xintud-<action id>.part`` in the destination folder → fsync → verify the sha256
→ no-replace rename to the final name → fsync the folder → unlink the source. A copy is the same
without the unlink. On any error the temp file is removed and the source is as it was.
"""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

from xintud.core.fs import (
    copy_to_new_file,
    drop_cached_pages,
    ensure_directory,
    fsync_dir,
    part_path,
    rename_no_replace,
)
from xintud.core.hashing import sha256_file
from xintud.library.names import choose_destination
from xintud.library.outcome import ActError, ActOutcome, Status, explain_os_error
from xintud.library.steps import ActionSteps, fsync_dirs_after_placement, unlink_quietly
from xintud.state.journal import Action, ActionKind

logger = logging.getLogger(__name__)


class Mover(ActionSteps):
    """Files photos by moving or copying them (see the module docstring)."""

    def move(self, src: Path, dst_dir: Path, sha256: str) -> ActOutcome:
        """Move `src` into `dst_dir` (created if missing); see the module docstring."""
        return self._file("move", Path(src), Path(dst_dir), sha256)

    def copy(self, src: Path, dst_dir: Path, sha256: str) -> ActOutcome:
        """Copy `src` into `dst_dir` (created if missing); the source stays as it is."""
        return self._file("copy", Path(src), Path(dst_dir), sha256)

    def _file(self, kind: ActionKind, src: Path, dst_dir: Path, sha256: str) -> ActOutcome:
        try:
            self._check_library_root(src, dst_dir)
            self._check_source(src, sha256)
            destination = choose_destination(src, dst_dir, sha256)
        except ActError as exc:
            return self._failed(src, None, None, str(exc))
        except OSError as exc:
            return self._failed(src, None, None, f"cannot {kind} {src}: {explain_os_error(exc)}")
        if destination.identical:
            return self._duplicate(src, destination)
        if self.dry_run:
            return ActOutcome(
                "dry_run", src, destination.dst, None, f"would {kind} to {destination.dst}"
            )
        try:
            ensure_directory(dst_dir)
        except OSError as exc:
            return self._failed(
                src,
                destination.dst,
                None,
                f"cannot create folder {dst_dir} for {src.name}: {explain_os_error(exc)}. "
                f"{src} was left untouched.",
            )
        action = self._begin(kind, sha256, src, destination.dst)
        if isinstance(action, ActOutcome):
            return action
        try:
            self._transfer(action, remove_source=kind == "move")
        except (OSError, ActError) as exc:
            cause = explain_os_error(exc) if isinstance(exc, OSError) else str(exc)
            message = (f"cannot {kind} {src} to {destination.dst}: {cause}. "
                       f"{src} was left untouched.")
            self._abandon(action, message)
            return self._failed(src, destination.dst, action.id, message)
        self._finish(action)
        status: Status = "moved" if kind == "move" else "copied"
        # The batch logs the one line per decision ("filed x -> Food/2026/11"); this is detail.
        logger.debug("%s %s → %s", status, src, destination.dst)
        return ActOutcome(status, src, destination.dst, action.id,
                          f"{status} to {destination.dst}")

    def _transfer(self, action: Action, remove_source: bool) -> None:
        """Put action.src's content at action.dst (moving or copying); raise on failure with
        the source untouched and nothing left at dst."""
        src, dst = action.src, action.dst
        if remove_source and not self._force_cross_device and _same_device(src, dst.parent):
            try:
                rename_no_replace(src, dst)
            except OSError as exc:
                # Bind mounts and some FUSE filesystems share st_dev but refuse rename with EXDEV.
                if exc.errno != errno.EXDEV:
                    raise
                logger.debug("rename %s → %s crosses filesystems; copying", src, dst)
            else:
                fsync_dirs_after_placement(dst.parent, src.parent)
                return
        self._copy_verify_place(action)
        if remove_source:
            self._remove_source_after_copy(action)

    def _copy_verify_place(self, action: Action) -> None:
        part = part_path(action.dst.parent, action.id)
        copy_to_new_file(action.src, part)
        drop_cached_pages(part)
        actual = sha256_file(part)
        if actual != action.sha256:
            raise ActError(
                f"the copy at {part} does not match the original (sha256 {actual[:12]}… instead "
                f"of {action.sha256[:12]}…): the source changed during the copy, or the disk "
                "returned different data; check the drive if this repeats"
            )
        rename_no_replace(part, action.dst)
        try:
            fsync_dir(action.dst.parent)
        except OSError:
            # The copy may not survive a crash, so the source must not go: take the copy back.
            unlink_quietly(action.dst)
            raise

    def _remove_source_after_copy(self, action: Action) -> None:
        try:
            os.unlink(action.src)
        except FileNotFoundError:
            # Someone else removed the source meanwhile: the verified copy is now the only one.
            logger.warning("%s vanished during the move; its copy is at %s", action.src, action.dst)
            return
        except OSError:
            # The source stays (its folder is read-only?), so take our verified copy back: a
            # failed move leaves things as they were, not a photo in two places.
            unlink_quietly(action.dst)
            raise
        fsync_dirs_after_placement(action.src.parent)


def _same_device(src: Path, dst_dir: Path) -> bool:
    return os.stat(src).st_dev == os.stat(dst_dir).st_dev
