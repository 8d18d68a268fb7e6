"""RAW files (DNG, NEF, CR2, ARW, ORF, RW2, RAF, CR3): classified from the preview JPEG the
camera stores inside, never demosaiced. The largest JPEG the file's own structure points to:
the TIFF directories (IFD0, its chain and SubIFDs: DNG, NEF, CR2, ARW, ORF, RW2), the RAF
header, or the CR3 preview box. Reads the bytes already in memory; never raises for bad input.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from xintud.core.formats import RAW_SUFFIXES

_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"IIRO", b"IIU\x00", b"MMOR")
_JPEG_OFFSET, _JPEG_LENGTH = 0x0201, 0x0202
_STRIP_OFFSETS, _STRIP_BYTES, _COMPRESSION, _SUB_IFDS = 0x0111, 0x0117, 0x0103, 0x014A
_MAX_IFDS = 64
_MAX_ENTRIES = 1024
_SOI = b"\xff\xd8\xff"


def is_raw_name(path: Path | str) -> bool:
    """True for a camera RAW file's name (any letter case)."""
    return Path(path).suffix.lower() in RAW_SUFFIXES


def embedded_preview(data: bytes) -> bytes | None:
    """The largest preview JPEG inside a RAW file's bytes, or None when it has none."""
    if data.startswith(b"FUJIFILMCCD-RAW"):
        return _raf_preview(data)
    if data[4:8] == b"ftyp" and data[8:12] == b"crx ":
        return _cr3_preview(data)
    if data[:4] in _TIFF_MAGICS:
        return _tiff_preview(data)
    return None


def _jpeg_at(data: bytes, offset: int, length: int) -> bytes | None:
    if offset <= 0 or length <= 0 or offset + length > len(data):
        return None
    chunk = data[offset:offset + length]
    return chunk if chunk.startswith(_SOI) else None


def _raf_preview(data: bytes) -> bytes | None:
    if len(data) < 92:
        return None
    offset, length = struct.unpack(">II", data[84:92])
    return _jpeg_at(data, offset, length)


def _cr3_preview(data: bytes) -> bytes | None:
    # The PRVW box (in Canon's uuid box) holds the 1620-px preview JPEG, after a small header.
    at = data.find(b"PRVW")
    if at < 4:
        return None
    size = struct.unpack(">I", data[at - 4:at])[0]
    start = data.find(_SOI, at, at + 64)
    return _jpeg_at(data, start, at - 4 + size - start) if start > 0 else None


def _tiff_preview(data: bytes) -> bytes | None:
    order = "<" if data[:2] == b"II" else ">"
    try:
        first = struct.unpack(order + "I", data[4:8])[0]
    except struct.error:
        return None
    best: bytes | None = None
    pending, seen = [first], set()
    while pending and len(seen) < _MAX_IFDS:
        offset = pending.pop()
        if offset in seen or not 8 <= offset < len(data) - 2:
            continue
        seen.add(offset)
        tags, following = _read_ifd(data, offset, order)
        pending.extend(tags.get(_SUB_IFDS, []))
        if following:
            pending.append(following)
        for candidate in _ifd_jpegs(data, tags):
            if best is None or len(candidate) > len(best):
                best = candidate
    return best


def _ifd_jpegs(data: bytes, tags: dict[int, list[int]]) -> list[bytes]:
    found = []
    if _JPEG_OFFSET in tags and _JPEG_LENGTH in tags:
        jpeg = _jpeg_at(data, tags[_JPEG_OFFSET][0], tags[_JPEG_LENGTH][0])
        if jpeg:
            found.append(jpeg)
    if tags.get(_COMPRESSION, [0])[0] in (6, 7) and len(tags.get(_STRIP_OFFSETS, [])) == 1:
        jpeg = _jpeg_at(data, tags[_STRIP_OFFSETS][0], tags.get(_STRIP_BYTES, [0])[0])
        if jpeg:
            found.append(jpeg)
    return found


_TYPE_SIZES = {3: 2, 4: 4, 13: 4}  # SHORT, LONG, IFD: the only types these tags use


def _read_ifd(data: bytes, offset: int, order: str) -> tuple[dict[int, list[int]], int]:
    """The integer tags of one directory and the offset of the next (0: none)."""
    try:
        count = struct.unpack(order + "H", data[offset:offset + 2])[0]
    except struct.error:
        return {}, 0
    tags: dict[int, list[int]] = {}
    for index in range(min(count, _MAX_ENTRIES)):
        entry = data[offset + 2 + 12 * index: offset + 14 + 12 * index]
        if len(entry) < 12:
            break
        tag, kind, number = struct.unpack(order + "HHI", entry[:8])
        size = _TYPE_SIZES.get(kind)
        if size is None or not 0 < number <= 4096:
            continue
        where = entry[8:12] if size * number <= 4 else data[
            (start := struct.unpack(order + "I", entry[8:12])[0]):start + size * number]
        if len(where) < size * number:
            continue
        code = order + ("H" if size == 2 else "I") * number
        tags[tag] = list(struct.unpack(code, where[:size * number]))
    end = offset + 2 + 12 * count
    following = struct.unpack(order + "I", data[end:end + 4])[0] if end + 4 <= len(data) else 0
    return tags, following


@dataclass(frozen=True)
class RawCamera:
    """What a TIFF-based RAW's first directory says of the camera and the shot."""

    make: str | None
    model: str | None
    orientation: int
    taken: str | None  # "YYYY:MM:DD HH:MM:SS" as EXIF writes it


def raw_camera(data: bytes) -> RawCamera | None:
    """The camera, orientation and date from IFD0 of a TIFF-based RAW (None for others)."""
    if data[:4] not in _TIFF_MAGICS:
        return None
    order = "<" if data[:2] == b"II" else ">"
    try:
        offset = struct.unpack(order + "I", data[4:8])[0]
        count = struct.unpack(order + "H", data[offset:offset + 2])[0]
    except struct.error:
        return None
    texts: dict[int, str] = {}
    orientation = 1
    for index in range(min(count, _MAX_ENTRIES)):
        entry = data[offset + 2 + 12 * index: offset + 14 + 12 * index]
        if len(entry) < 12:
            break
        tag, kind, number = struct.unpack(order + "HHI", entry[:8])
        if tag == 0x0112 and kind == 3:
            orientation = struct.unpack(order + "H", entry[8:10])[0]
        elif tag in (0x010F, 0x0110, 0x0132) and kind == 2 and 0 < number <= 256:
            where = entry[8:12] if number <= 4 else data[
                (start := struct.unpack(order + "I", entry[8:12])[0]):start + number]
            texts[tag] = where[:number].split(b"\x00")[0].decode("utf-8", "replace").strip()
    return RawCamera(texts.get(0x010F) or None, texts.get(0x0110) or None,
                     orientation if 1 <= orientation <= 8 else 1, texts.get(0x0132) or None)
