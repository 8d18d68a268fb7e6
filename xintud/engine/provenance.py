"""What a file says about where it came from: how hard it was compressed and whether a person
rated it — the duplicates stage prefers the original and the favourite over a plain copy.
"""

from __future__ import annotations

import re

from PIL import Image

# libjpeg's standard luminance quantisation table (ITU T.81 Annex K), which nearly every camera,
# phone and chat app scales by the quality setting.
_STANDARD_LUMA = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)
_XMP_RATING = re.compile(rb"xmp:Rating\s*(?:=\s*[\"']|>)\s*(-?\d+)")


def jpeg_quality(image: Image.Image) -> int | None:
    """The JPEG quality (1..100) the file was saved at, estimated from its luminance table as
    libjpeg scales it; None for other formats or tables that say nothing."""
    tables = getattr(image, "quantization", None)
    if not tables or 0 not in tables or len(tables[0]) != 64:
        return None
    scale = 100.0 * sum(tables[0]) / sum(_STANDARD_LUMA)  # libjpeg's percentage scale factor
    if scale <= 0:
        return None
    quality = (200.0 - scale) / 2.0 if scale <= 100.0 else 5000.0 / scale
    return max(1, min(100, round(quality)))


def embedded_rating(image: Image.Image) -> int | None:
    """The xmp:Rating a photo carries in its own XMP packet (-1 rejected, 0..5 stars), if any."""
    packet = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
    if isinstance(packet, str):
        packet = packet.encode("utf-8", "replace")
    if not isinstance(packet, bytes | bytearray):
        return None
    match = _XMP_RATING.search(packet)
    if not match:
        return None
    return max(-1, min(5, int(match.group(1))))
