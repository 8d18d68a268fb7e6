"""Small images the tests draw themselves (no photo from ../shared is ever copied into tests)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image, ImageDraw


def scene(size: tuple[int, int] = (640, 480), seed: int = 0) -> Image.Image:
    """A colourful drawn picture: sky, ground and a few shapes, varied by seed."""
    width, height = size
    image = Image.new("RGB", size, (90 + seed % 100, 140, 200))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, height * 2 // 3, width, height), fill=(60, 120 + seed % 80, 50))
    for i in range(5):
        x = (seed * 37 + i * width // 5) % max(width - 40, 1)
        y = (seed * 11 + i * 53) % max(height - 40, 1)
        draw.ellipse((x, y, x + width // 8, y + height // 8), fill=(200, 50 + 30 * i, 40))
    return image


def write_jpeg(path: Path, size: tuple[int, int] = (640, 480), seed: int = 0,
               exif: Image.Exif | None = None, quality: int = 90) -> Path:
    """Draw a scene and save it as a JPEG (optionally with EXIF)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    kwargs = {"quality": quality}
    if exif is not None:
        kwargs["exif"] = exif.tobytes()
    scene(size, seed).save(path, "JPEG", **kwargs)
    return path


def jpeg_bytes(size: tuple[int, int] = (64, 48), seed: int = 0) -> bytes:
    """A small JPEG in memory."""
    buffer = io.BytesIO()
    scene(size, seed).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def camera_exif(make: str = "Google", model: str = "Pixel 8", orientation: int = 1,
                taken: str = "2026:11:02 10:20:30") -> Image.Exif:
    """EXIF as a phone camera writes it."""
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = model
    exif[0x0112] = orientation
    exif[0x0132] = taken
    exif.get_ifd(0x8769)[0x9003] = taken
    return exif


def png_bomb_bytes(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims a huge size: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
