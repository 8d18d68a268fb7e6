"""Small images the tests draw themselves (no photo from ../shared is ever copied into tests)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
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


def textured_photo(seed: int, size: tuple[int, int] = (1200, 900)) -> Image.Image:
    """A photo-like picture: sky over land, with detail at every scale (clouds, texture,
    grain). Flat drawn shapes would look like a screen to the engine, and screenshots are held
    to near identity; this is what a camera gives."""
    rng = np.random.default_rng(seed)
    width, height = size
    layers = np.zeros((height, width, 3), dtype=np.float32)
    for scale, weight in ((64, 1.0), (16, 0.5), (4, 0.25), (1, 0.12)):
        small = rng.random((height // scale + 1, width // scale + 1, 3))
        layer = Image.fromarray((small * 255).astype(np.uint8)).resize(
            size, Image.Resampling.BICUBIC)
        layers += weight * np.asarray(layer, dtype=np.float32) / 255
    rows = np.linspace(0, 1, height)[:, None, None]
    ground = np.where(rows > 0.45, [0.35, 0.55, 0.25], [0.55, 0.7, 0.95])
    pixels = (0.5 * layers / 1.87 + 0.6 * ground) * 255
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def phone_picture_bytes(fmt: str, size: tuple[int, int] = (800, 600), orientation: int = 1,
                        quality: int = 80, seed: int | None = None) -> bytes:
    """A HEIF (written by pillow-heif itself) or AVIF (by Pillow's own plugin) as a phone saves
    it: camera EXIF with its orientation and date; the top-left quarter red, the rest blue
    (or, with a seed, a drawn scene)."""
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    if seed is not None:
        stored = scene(size, seed)
    else:
        stored = Image.new("RGB", size, (0, 0, 255))
        stored.paste((255, 0, 0), (0, 0, size[0] // 2, size[1] // 2))
    buffer = io.BytesIO()
    stored.save(buffer, fmt, quality=quality,
                exif=camera_exif("Apple", "iPhone 15", orientation).tobytes())
    return buffer.getvalue()


def app_screen(lines: list[str]) -> Image.Image:
    """A phone screenshot of a messaging app: status bar, title bar, one row per line."""
    width, height = 1080, 2340
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 80), fill=(30, 30, 30))
    draw.rectangle((0, 80, width, 260), fill=(33, 150, 243))
    draw.text((40, 140), "Messages", fill="white", font_size=60)
    for row, line in enumerate(lines):
        y = 300 + row * 160
        draw.ellipse((40, y, 140, y + 100), fill=(200, 200, 200))
        draw.text((170, y + 10), line, fill="black", font_size=44)
        draw.text((170, y + 65), "tap to read more", fill=(120, 120, 120), font_size=30)
        draw.line((40, y + 140, width - 40, y + 140), fill=(230, 230, 230), width=2)
    return image
