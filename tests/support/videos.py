"""Small real MP4/MOV containers the tests build: ftyp, then moov with an mvhd movie header
holding the creation time (seconds since 1904, UTC), then a little mdat."""

from __future__ import annotations

import struct
from datetime import datetime, timezone

_EPOCH_1904 = datetime(1904, 1, 1, tzinfo=timezone.utc)


def box(kind: bytes, payload: bytes) -> bytes:
    """One ISO base media box."""
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def movie_bytes(created: datetime | None, brand: bytes = b"qt  ", version: int = 0,
                mdat_bytes: int = 2048) -> bytes:
    """A QuickTime/MP4 file made at `created` (None: a header that says 0, i.e. unset)."""
    seconds = 0 if created is None else int((created - _EPOCH_1904).total_seconds())
    if version == 1:
        times = struct.pack(">QQIQ", seconds, seconds, 600, 0)
    else:
        times = struct.pack(">IIII", seconds, seconds, 600, 0)
    mvhd = bytes([version, 0, 0, 0]) + times + b"\x00" * 80
    ftyp = box(b"ftyp", brand + b"\x00\x00\x02\x00" + brand)
    return ftyp + box(b"moov", box(b"mvhd", mvhd)) + box(b"mdat", b"\x00" * mdat_bytes)
