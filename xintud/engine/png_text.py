"""PNG text chunks, which Pillow refuses past 1 MB decompressed — dropped when they are in the
way of the pixels.

Real PNGs carry megabytes of text (editors' undo histories, embedded XMP dumps); Pillow's limit
on them guards memory, and we read nothing from them, so rather than raising the limit for the
whole process the picture is decoded again without them.
"""

from __future__ import annotations

import struct

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT_CHUNKS = frozenset({b"tEXt", b"zTXt", b"iTXt"})
# Pillow's message when a text chunk decompresses past PngImagePlugin.MAX_TEXT_CHUNK.
TOO_MUCH_TEXT = "MAX_TEXT_CHUNK"


def is_text_limit_error(exc: BaseException) -> bool:
    """True when Pillow refused a PNG only for the size of one of its text chunks."""
    return isinstance(exc, ValueError) and TOO_MUCH_TEXT in str(exc)


def without_text_chunks(data: bytes) -> bytes:
    """The PNG's bytes with every text chunk left out (other chunks byte for byte as they were).

    Raises ValueError when `data` is not a PNG whose chunk lengths hold together.
    """
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    kept = [PNG_SIGNATURE]
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        end = pos + 12 + length  # length, type, data, CRC
        if end > len(data):
            raise ValueError("a PNG chunk runs past the end of the file")
        if kind not in TEXT_CHUNKS:
            kept.append(data[pos:end])
        pos = end
        if kind == b"IEND":
            break
    return b"".join(kept)
