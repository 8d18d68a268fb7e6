"""Camera RAW files the tests build: a TIFF-based RAW (as DNG, NEF, CR2, ARW are) whose IFD0
holds the camera, the date, the orientation and a small thumbnail JPEG, with a SubIFD holding
the large preview JPEG (compression 7) and fake sensor data; and a Fuji RAF header."""

from __future__ import annotations

import struct

_ASCII, _SHORT, _LONG = 2, 3, 4


def _ifd(entries: list[tuple[int, int, list[int] | bytes]], base: int, nxt: int = 0
         ) -> tuple[bytes, bytes]:
    """An IFD placed at `base` and the out-of-line data that follows it."""
    entries = sorted(entries)
    table_size = 2 + 12 * len(entries) + 4
    extra = b""
    table = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        raw = value if isinstance(value, bytes) else b"".join(
            struct.pack("<H" if kind == _SHORT else "<I", v) for v in value)
        count = len(raw) if kind == _ASCII else len(raw) // (2 if kind == _SHORT else 4)
        if len(raw) <= 4:
            field = raw.ljust(4, b"\x00")
        else:
            field = struct.pack("<I", base + table_size + len(extra))
            extra += raw + (b"\x00" if len(raw) % 2 else b"")
        table += struct.pack("<HHI", tag, kind, count) + field
    return table + struct.pack("<I", nxt), extra


def tiff_raw(preview: bytes | None, thumbnail: bytes | None = None, orientation: int = 1,
             make: bytes = b"NIKON CORPORATION\x00", model: bytes = b"NIKON Z 6\x00") -> bytes:
    """A little-endian TIFF-based RAW; `preview` None: one without any preview."""
    sensor = bytes(range(256)) * 16
    blobs = b""
    header = 8
    # Layout: header, IFD0 (+ its data), SubIFD (+ its data), then the blobs.
    ifd0_entries: list[tuple[int, int, list[int] | bytes]] = [
        (0x010F, _ASCII, make), (0x0110, _ASCII, model), (0x0112, _SHORT, [orientation]),
        (0x0132, _ASCII, b"2026:07:14 09:30:00\x00")]
    placeholder_sub = [(0x00FE, _LONG, [0]), (0x0103, _SHORT, [7]), (0x0111, _LONG, [0]),
                       (0x0117, _LONG, [0])]
    ifd0_entries += [(0x014A, _LONG, [0]), (0x0201, _LONG, [0]), (0x0202, _LONG, [0])]
    ifd0, extra0 = _ifd(ifd0_entries, header)
    sub_at = header + len(ifd0) + len(extra0)
    sub, extra_sub = _ifd(placeholder_sub, sub_at)
    blobs_at = sub_at + len(sub) + len(extra_sub)
    preview_at = blobs_at
    blobs += preview or sensor
    thumb_at = blobs_at + len(blobs)
    blobs += thumbnail or b""
    ifd0_entries[-3:] = [(0x014A, _LONG, [sub_at]),
                         (0x0201, _LONG, [thumb_at if thumbnail else 0]),
                         (0x0202, _LONG, [len(thumbnail) if thumbnail else 0])]
    compression = 7 if preview else 1
    sub_entries = [(0x00FE, _LONG, [1]), (0x0103, _SHORT, [compression]),
                   (0x0111, _LONG, [preview_at]), (0x0117, _LONG, [len(preview or sensor)])]
    ifd0, extra0 = _ifd(ifd0_entries, header)
    sub, extra_sub = _ifd(sub_entries, sub_at)
    return b"II*\x00" + struct.pack("<I", header) + ifd0 + extra0 + sub + extra_sub + blobs


def raf(preview: bytes) -> bytes:
    """A Fuji RAF: its header points at the embedded JPEG."""
    head = b"FUJIFILMCCD-RAW 0201FF383501".ljust(84, b"\x00")
    offset = 100
    return head + struct.pack(">II", offset, len(preview)) + b"\x00" * 8 + preview
