"""Videos: which names are videos, and when a video was made — the MP4/MOV movie header's
creation time (`moov/mvhd`, seconds since 1904 in UTC), read by walking the boxes with seeks
(a video is large; only a few hundred bytes are read), else None.
"""

from __future__ import annotations

import struct
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import BinaryIO

VIDEO_SUFFIXES = frozenset({".mov", ".mp4", ".m4v", ".3gp"})
_EPOCH_1904 = datetime(1904, 1, 1, tzinfo=timezone.utc)
# Phones that never set the clock write 0 (1904) or small values: not a date to file by.
_EARLIEST = datetime(1990, 1, 1, tzinfo=timezone.utc)
_MAX_BOXES = 4096


def is_video_name(path: Path) -> bool:
    """True for a video file's name (any letter case)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


_FIRST_BOXES = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


def is_video_file(path: Path) -> bool:
    """True when the file starts as an MP4/MOV does (its first box is one of theirs)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError:
        return False
    return len(head) == 8 and head[4:8] in _FIRST_BOXES


def video_created_at(path: Path) -> datetime | None:
    """When the video was made (UTC), from its movie header; None when it has none that
    is plausible, or the file is not an ISO base media file (a .MOV that is not a video)."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, 2)
            moov = _find_box(handle, 0, size, b"moov")
            if moov is None:
                return None
            mvhd = _find_box(handle, moov[0], moov[1], b"mvhd")
            if mvhd is None:
                return None
            handle.seek(mvhd[0])
            head = handle.read(12)
    except OSError:
        return None
    if len(head) < 8:
        return None
    version = head[0]
    seconds = struct.unpack(">Q", head[4:12])[0] if version == 1 and len(head) >= 12 \
        else struct.unpack(">I", head[4:8])[0]
    try:
        made = _EPOCH_1904 + timedelta(seconds=seconds)
    except OverflowError:
        return None
    return made if _EARLIEST <= made <= datetime.now(timezone.utc) + timedelta(days=2) else None


def _find_box(handle: BinaryIO, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    """(payload start, payload end) of the first box of this kind between start and end."""
    position = start
    for _ in range(_MAX_BOXES):
        if position + 8 > end:
            return None
        handle.seek(position)
        header = handle.read(16)
        if len(header) < 8:
            return None
        length, name = struct.unpack(">I4s", header[:8])
        payload = position + 8
        if length == 1 and len(header) >= 16:  # a 64-bit size follows
            length = struct.unpack(">Q", header[8:16])[0]
            payload = position + 16
        elif length == 0:  # to the end of the file
            length = end - position
        if length < payload - position:
            return None  # damaged
        if name == kind:
            return payload, min(end, position + length)
        position += length
    return None
