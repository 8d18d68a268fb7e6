"""Writing an XMP sidecar safely: to a temp file, fsynced, then into place without clobbering
a program that wrote it meanwhile (the caller merges again). xmp.py (keywords), rating.py
(xmp:Rating) and event_tags.py (album keywords) all write through here (`update`).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from xintud.core.fs import fsync_dir, lstat_or_none, write_new_file
from xintud.library.xmp_packet import (
    RDF_ABOUT,
    RDF_DESCRIPTION,
    Packet,
    XmpError,
    new_packet,
    parse_packet,
    read_bounded,
    serialize,
)

logger = logging.getLogger(__name__)

MERGE_ATTEMPTS = 3

UpdateResult = Literal["rewritten", "deleted", "unchanged", "absent"]


def update(sidecar: Path, edit: Callable[[Packet], bool], *, temp: Path | None = None,
           create: bool = True, delete_if_empty: bool | Callable[[], bool] = False
           ) -> UpdateResult:
    """Read the sidecar (a new packet when there is none and `create`), let `edit` change it
    (True when it did) and put it in place, merging again when another program wrote it
    meanwhile. With `delete_if_empty` (or when it returns True, asked after the edit: the
    edit may have read who created the file), a sidecar left with nothing in it is deleted.
    Returns what happened to the file; raises XmpError when it kept changing."""
    temp = temp or sidecar.with_name(f".xintud-{secrets.token_hex(6)}.part")
    for _attempt in range(MERGE_ATTEMPTS):
        before = lstat_or_none(sidecar)
        if before is None and not create:
            return "absent"
        packet = load_or_new(sidecar, before)
        if not edit(packet):
            return "unchanged"
        deletable = delete_if_empty() if callable(delete_if_empty) else delete_if_empty
        if deletable and before is not None and is_empty(packet):
            if not same_file_state(sidecar, before):
                continue
            os.unlink(sidecar)
            fsync_dir(sidecar.parent)
            return "deleted"
        if store(packet, sidecar, temp, before):
            return "rewritten"
        logger.info("sidecar %s changed while being updated; merging again", sidecar)
    raise busy_error(sidecar)


def load_or_new(sidecar: Path, before: os.stat_result | None) -> Packet:
    if before is None:
        return new_packet()
    if not stat.S_ISREG(before.st_mode):
        raise XmpError(
            f"sidecar {sidecar} is not a regular file (a symlink or directory?); xintud will "
            "not write through it. Replace it with a plain file or remove it, then tag again."
        )
    return parse_packet(read_bounded(sidecar), sidecar)


def is_empty(packet: Packet) -> bool:
    """True when the packet holds no property at all (only empty rdf:Descriptions)."""
    if packet.root is not packet.rdf and any(c is not packet.rdf for c in packet.root):
        return False
    for child in packet.rdf:
        if child.tag != RDF_DESCRIPTION:
            return False
        if set(child.attrib) - {RDF_ABOUT} or any(isinstance(c.tag, str) for c in child):
            return False
    return True


def store(packet: Packet, sidecar: Path, temp: Path, before: os.stat_result | None) -> bool:
    """Write the packet to `temp`, fsync, then put it at `sidecar` without clobbering a
    concurrent writer. False when the sidecar changed meanwhile (the caller merges again)."""
    payload = serialize(packet)
    mode = stat.S_IMODE(before.st_mode) if before is not None else None
    write_new_file(temp, payload, mode)
    try:
        if before is None:
            placed = _place_new(temp, sidecar)
        elif same_file_state(sidecar, before):
            os.replace(temp, sidecar)  # replaces only the sidecar we just read and merged
            placed = True
        else:
            placed = False
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    if placed:
        fsync_dir(sidecar.parent)
    return placed


def _place_new(temp: Path, sidecar: Path) -> bool:
    """Give `temp` the name `sidecar` unless that name appeared meanwhile (then False)."""
    try:
        # link() fails with EEXIST instead of replacing, so a sidecar another program created
        # since we looked is never clobbered; the temp name is unlinked by the caller.
        os.link(temp, sidecar)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
    # No hard links here (FAT/exFAT, some network shares): check-then-rename. The window is
    # microseconds and the file at stake is a sidecar, never a photo.
    if os.path.lexists(sidecar):
        return False
    os.replace(temp, sidecar)
    return True


def same_file_state(path: Path, before: os.stat_result) -> bool:
    now = lstat_or_none(path)
    return now is not None and (now.st_ino, now.st_size, now.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )


def busy_error(sidecar: Path) -> XmpError:
    return XmpError(
        f"sidecar {sidecar} kept changing while xintud tried to update it "
        f"({MERGE_ATTEMPTS} attempts): another program is writing it. Close that program "
        "(or wait for it) and tag again."
    )
