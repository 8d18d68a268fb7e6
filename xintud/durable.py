"""Durability helpers shared by the modules that write files (act, xmp)."""

from __future__ import annotations

import errno
import os
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    """Make a directory's entries (a rename, a new name, an unlink) durable."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        # Some filesystems (network, FUSE) cannot fsync a directory; nothing more can be done.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
    finally:
        os.close(fd)
