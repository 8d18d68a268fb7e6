"""What a library action did, or why it could not: outcomes and messages for people."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from xintud.core.fs import is_part_name

Status = Literal["moved", "copied", "tagged", "duplicate", "dry_run", "failed", "undone"]

# errno → (what went wrong, what the user can do about it)
_ERRNO_ADVICE: dict[int, tuple[str, str]] = {
    errno.EROFS: (
        "the filesystem is mounted read-only",
        "remount it read-write, or point library.root at a writable folder",
    ),
    errno.EACCES: (
        "permission denied",
        "give your user write access to that folder (chmod u+w), or choose another library.root",
    ),
    errno.EPERM: (
        "the operation is not permitted there",
        "check the folder's permissions and flags (chattr/chflags), or choose another folder",
    ),
    errno.ENOSPC: (
        "the disk is full",
        "free some space on that disk; xintud tries the file again later",
    ),
    errno.EDQUOT: (
        "your disk quota is used up",
        "free some space or ask for a larger quota; xintud tries the file again later",
    ),
    errno.ENOENT: (
        "a folder or file on the way does not exist (a drive unplugged? moved away?)",
        "reconnect the drive or check that the folder exists",
    ),
    errno.ENOTDIR: (
        "a part of the path is a file, not a folder",
        "rename that file, or change library.root / library.layout",
    ),
    errno.EEXIST: (
        "another file appeared under that name meanwhile",
        "nothing was replaced; xintud tries the file again later",
    ),
    errno.EIO: (
        "an input/output error (a failing disk or a dropped connection)",
        "check the drive (dmesg, SMART) and its cable or network",
    ),
    errno.ENAMETOOLONG: (
        "the path is too long for that filesystem",
        "use a shorter library.root or library.layout",
    ),
}


@dataclass
class ActOutcome:
    """What an action did. `dst` is the (planned) destination; `action_id` the journal row.

    status "undone" (an extension of the interface's list) is returned by `Actor.undo`.
    """

    status: Status
    src: Path
    dst: Path | None
    action_id: int | None
    message: str

    @property
    def ok(self) -> bool:
        """False only for "failed"."""
        return self.status != "failed"


class ActError(Exception):
    """An action cannot go ahead; the message is for people (file, cause, what to do)."""


def explain_os_error(exc: OSError) -> str:
    """A sentence for people: the file involved, what went wrong, and what to do."""
    cause, fix = _ERRNO_ADVICE.get(
        exc.errno or 0, (exc.strerror or str(exc), "check the path and its drive, then retry")
    )
    where = f" at {exc.filename}" if exc.filename else ""
    if exc.filename and is_part_name(os.fspath(exc.filename)):
        # Our temp file means nothing to the user; the folder it was going into does.
        where = f" in {Path(os.fspath(exc.filename)).parent}"
    if exc.filename2:
        where += f" → {exc.filename2}"
    return f"{cause}{where}; {fix}"
