"""Decode stage: file bytes → an upright RGB picture at working size, plus its metadata.

Decoding is the expensive, untrusted part of the pipeline, so it is bounded: JPEGs are decoded
in draft mode (DCT scaling: a 12 MP photo at 1/8 scale), other formats are refused above a
pixel budget before any pixel is decoded, and every failure becomes a DecodeError that names
the file and the cause.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import re
import stat
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageFile, UnidentifiedImageError

from xintud.engine.png_text import is_text_limit_error, without_text_chunks
from xintud.engine.provenance import embedded_rating, jpeg_quality
from xintud.engine.raw import embedded_preview, is_raw_name, raw_camera

# Shorter side of the working picture: larger pictures are resized down to it. The backbone sees
# 224 px and the detector 300 px; this leaves room for clean resampling to both.
WORKING_SIZE = 448
# JPEG DCT scaling (draft mode) skips most of the decoding work, but only in steps of 1/2, 1/4,
# 1/8. It may stop below WORKING_SIZE, down to this: a 12 MP photo (3024 px short side) then
# decodes at 1/8 (378 px) instead of 1/4 and a resize, a third less decoding time, and every
# network input is still a downscale.
DRAFT_FLOOR = 375

# Formats that cannot be decoded at reduced scale are refused above this many pixels: decoding
# allocates width × height × 4 bytes up front, and a bomb must not cost gigabytes.
MAX_FULL_DECODE_PIXELS = 50_000_000
# JPEGs decode at 1/8 scale at best, so even a huge panorama stays cheap up to this size.
MAX_JPEG_PIXELS = 400_000_000
# The largest file we read into memory at all (a 12 MP JPEG is ~5 MB, a big PNG ~40 MB).
MAX_FILE_BYTES = 200 * 1024 * 1024

# The only decoders untrusted bytes ever reach, whatever the file is called: Pillow would
# otherwise also try EPS (which runs Ghostscript), PSD, ICO and dozens of rarely used parsers.
# HEIF/AVIF count only when a plugin for them is installed.
PHOTO_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "HEIF", "AVIF")

EXIF_ORIENTATION = 0x0112
EXIF_MAKE = 0x010F
EXIF_MODEL = 0x0110
EXIF_SOFTWARE = 0x0131
EXIF_DATETIME = 0x0132
EXIF_IFD = 0x8769
EXIF_DATETIME_ORIGINAL = 0x9003
EXIF_USER_COMMENT = 0x9286
EXIF_OFFSET_TIME_ORIGINAL = 0x9011
EXIF_GPS_IFD = 0x8825

_EXIF_DATE = re.compile(r"(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")


class DecodeError(Exception):
    """A file that cannot be turned into a picture; the message says why and what to do."""


@dataclass(frozen=True)
class ImageMeta:
    """What the file itself says, before any pixel is looked at."""

    format: str
    width: int  # as displayed, after EXIF orientation
    height: int
    mode: str
    frames: int
    has_alpha: bool
    camera_make: str | None
    camera_model: str | None
    software: str | None
    user_comment: str | None
    taken_at: datetime | None
    orientation: int
    jpeg_quality: int | None = None  # estimated from the quantisation table (provenance.py)
    rating: int | None = None  # xmp:Rating in the file's own XMP (-1 rejected, 0..5)
    gps: tuple[float, float] | None = None  # (latitude, longitude) in degrees, from EXIF
    time_offset: str | None = None  # EXIF OffsetTimeOriginal of taken_at, e.g. "+09:00"

    @property
    def has_camera_exif(self) -> bool:
        """True when EXIF names the camera that took the photo (screenshots never do)."""
        return bool(self.camera_make or self.camera_model)


@dataclass(frozen=True)
class DecodedImage:
    """An upright RGB picture whose shorter side is at most WORKING_SIZE, and its metadata."""

    image: Image.Image
    meta: ImageMeta


def read_file_bytes(path: Path) -> bytes:
    """Read a whole file, refusing directories, special files and oversized files clearly.

    The checks are made on the opened file, not on the name, so a file swapped for a fifo
    between a check and the read cannot block the reader, and the read is bounded even if the
    file keeps growing meanwhile.
    """
    try:
        # O_NONBLOCK: opening a fifo must not wait for a writer that never comes.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise DecodeError(f"{path}: file disappeared before it could be read") from exc
    except OSError as exc:
        raise DecodeError(f"{path}: cannot read ({exc.strerror}); check its permissions") from exc
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise DecodeError(f"{path}: is a directory, not an image file")
        if not stat.S_ISREG(info.st_mode):
            raise DecodeError(f"{path}: not a regular file")
        _check_file_size(path, info.st_size)
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise DecodeError(f"{path}: cannot read ({exc.strerror}); check the drive") from exc
    _check_file_size(path, len(data))
    return data


def _check_file_size(path: Path, size: int) -> None:
    if size == 0:
        raise DecodeError(f"{path}: file is empty (0 bytes); it may still be downloading")
    if size > MAX_FILE_BYTES:
        raise DecodeError(
            f"{path}: file is {size / 2**20:.0f} MiB, above the {MAX_FILE_BYTES // 2**20} MiB "
            "limit for images"
        )


def decode_image(path: Path, working_size: int = WORKING_SIZE) -> DecodedImage:
    """Read and decode one image file (see decode_bytes)."""
    return decode_bytes(read_file_bytes(path), str(path), working_size)


def decode_bytes(data: bytes, name: str, working_size: int = WORKING_SIZE) -> DecodedImage:
    """Decode image bytes into an upright RGB picture at working size, with its metadata.

    Raises DecodeError for anything that is not a complete, reasonably sized image.
    """
    try:
        return _decode_allowing_png_text(data, name, working_size)
    except DecodeError:
        raise
    except Image.DecompressionBombError as exc:
        raise DecodeError(f"{name}: refused as a decompression bomb ({exc}); if it is a real "
                          "photo, save it as a smaller JPEG") from exc
    except UnidentifiedImageError as exc:
        raise DecodeError(_unidentified_message(data, name)) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise DecodeError(f"{name}: damaged or truncated image ({exc})") from exc
    except MemoryError as exc:
        raise DecodeError(f"{name}: too large to decode in memory") from exc
    except Exception as exc:
        # Pillow's parsers leak IndexError, struct.error, TypeError... on damaged input (e.g. a
        # truncated animated GIF). One bad file must never take the daemon down with it.
        raise DecodeError(
            f"{name}: damaged or truncated image ({type(exc).__name__}: {exc})"
        ) from exc


def _decode_allowing_png_text(data: bytes, name: str, working_size: int) -> DecodedImage:
    if is_raw_name(name):
        return _decode_raw(data, name, working_size)
    try:
        return _decode(data, name, working_size)
    except ValueError as exc:
        if not is_text_limit_error(exc):
            raise
    return _decode(without_text_chunks(data), name, working_size)


def _decode(data: bytes, name: str, working_size: int) -> DecodedImage:
    if sniff_format(data[:16]) in ("HEIF", "AVIF"):
        _check_boxes_complete(data, name)
    image = Image.open(io.BytesIO(data), formats=_photo_formats(heif=is_iso_base_media(data)))
    _check_pixel_budget(image, name)
    exif = image.getexif()
    orientation = _int_tag(exif.get(EXIF_ORIENTATION)) or 1
    fmt = image.format or "unknown"
    shown_as = _int_tag(image.info.get("original_orientation")) or orientation  # HEIF
    frames = getattr(image, "n_frames", 1)
    has_alpha = _has_alpha(image)
    mode = image.mode
    file_size = image.size  # draft() below changes .size
    if fmt == "JPEG":
        # DCT scaling: decode at the smallest 1/2^k scale that still covers the floor.
        floor = min(working_size, DRAFT_FLOOR)
        image.draft("RGB", (floor, floor))
    _load_strict(image, name)
    # Shrink before turning upright: the transpose then moves a fraction of the pixels.
    rgb = _upright(_shrink(_to_rgb(image), working_size), orientation)
    width, height = _displayed_size(file_size, orientation)
    meta = ImageMeta(
        format=fmt,
        width=width,
        height=height,
        mode=mode,
        frames=frames,
        has_alpha=has_alpha,
        camera_make=_text_tag(exif.get(EXIF_MAKE)),
        camera_model=_text_tag(exif.get(EXIF_MODEL)),
        software=_text_tag(exif.get(EXIF_SOFTWARE)),
        user_comment=_text_tag(exif.get_ifd(EXIF_IFD).get(EXIF_USER_COMMENT)),
        taken_at=_taken_at(exif),
        orientation=shown_as,
        jpeg_quality=jpeg_quality(image),
        rating=embedded_rating(image),
        gps=_gps(exif),
        time_offset=_time_offset(exif),
    )
    return DecodedImage(image=rgb, meta=meta)


def _decode_raw(data: bytes, name: str, working_size: int) -> DecodedImage:
    """A camera RAW from its embedded preview (engine/raw.py); the camera, the date and the
    orientation from the RAW's own directory where the preview has none."""
    preview = embedded_preview(data)
    if preview is None:
        raise DecodeError(f"{name}: a RAW file without an embedded preview JPEG; xintud "
                          "classifies RAW files from the preview the camera stores and does "
                          "not develop RAW data: export a JPEG of it, or keep the camera's "
                          "JPEG beside it")
    decoded = _decode(preview, name, working_size)
    meta, camera = decoded.meta, raw_camera(data)
    if camera is not None and not meta.has_camera_exif:
        width, height = _displayed_size((meta.width, meta.height), camera.orientation)
        taken = _EXIF_DATE.match(camera.taken or "")
        meta = replace(meta, camera_make=camera.make, camera_model=camera.model,
                       taken_at=meta.taken_at or _exif_datetime(taken), width=width,
                       height=height, orientation=camera.orientation)
        decoded = DecodedImage(_upright(decoded.image, camera.orientation), meta)
    return DecodedImage(decoded.image, replace(decoded.meta, format="RAW"))


def _unidentified_message(data: bytes, name: str) -> str:
    """Pillow says only "cannot identify": tell a damaged photo from something else."""
    sniffed = sniff_format(data)
    if sniffed is not None:
        return (f"{name}: damaged {sniffed} image (it starts like one, but its header cannot "
                "be read)")
    formats = ", ".join(_photo_formats())
    return f"{name}: not an image xintud can read (unknown format; it reads {formats})"


def sniff_format(data: bytes) -> str | None:
    """The photo format the first bytes announce (16 are enough), if any."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if is_iso_base_media(data):  # the major brand says which
        return _FTYP_BRANDS.get(data[8:12])
    for magic, fmt in _MAGIC:
        if data.startswith(magic):
            return fmt
    return None


def is_iso_base_media(data: bytes) -> bool:
    """Whether the bytes start as an ISO base media file (HEIF, AVIF, MP4…): an `ftyp` box."""
    return data[4:8] == b"ftyp"


# Major brands of still pictures in an ISO base media file (a .mov or .mp4 has others).
_FTYP_BRANDS: dict[bytes, str] = {
    **dict.fromkeys((b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"),
                    "HEIF"),
    b"avif": "AVIF", b"avis": "AVIF",
}

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)


def _photo_formats(heif: bool = True) -> list[str]:
    """The formats Pillow may open a photo as; `heif`: with HEIF, loading pillow-heif for it.

    A HEIF file is an ISO base media file (an `ftyp` box first): for any other content the
    plugin is not loaded, and a daemon that never sees a HEIF does not carry libheif and its
    codecs (2.6 MiB resident after the first photo, measured).
    """
    _register_photo_plugins()
    if heif:
        _register_heif()
    return [fmt for fmt in PHOTO_FORMATS if fmt in Image.OPEN]


@lru_cache(maxsize=1)
def _register_photo_plugins() -> None:
    """Register Pillow's plugins for PHOTO_FORMATS only, once per process: Image.init() would
    import all forty-odd (FITS, DDS, …), ~0.8 MiB the daemon keeps for nothing."""
    Image.preinit()  # BMP, GIF, JPEG, PPM, PNG
    for plugin in ("WebPImagePlugin", "TiffImagePlugin", "AvifImagePlugin"):
        # A Pillow without one of them: that format is simply not read.
        with contextlib.suppress(ImportError):
            importlib.import_module(f"PIL.{plugin}")


@lru_cache(maxsize=1)
def _register_heif() -> None:
    """Let Pillow open HEIC/HEIF through pillow-heif, once per process (a Pillow plugin is
    process-wide by nature). One decoding thread: pictures are decoded side by side, one per
    worker, and more libheif threads gained nothing on a 12 MP photo (0.49 s with 1, 0.45 s
    with 2 or 4; 4.1 photos/s with two workers either way). Its thumbnails are not used: an
    iPhone's are 320×240, below what the networks are given. libheif applies the picture's
    rotation and mirroring itself and sets the EXIF orientation to 1 (the original is kept
    in info["original_orientation"]), so _upright does nothing more for HEIF."""
    try:
        import pillow_heif
    except ImportError:  # then HEIF is simply not among the formats read
        return
    pillow_heif.register_heif_opener(thumbnails=False, decode_threads=1)


def _check_pixel_budget(image: Image.Image, name: str) -> None:
    width, height = image.size
    pixels = width * height
    if width <= 0 or height <= 0:
        raise DecodeError(f"{name}: image has no pixels ({width}x{height})")
    limit = MAX_JPEG_PIXELS if image.format == "JPEG" else MAX_FULL_DECODE_PIXELS
    if pixels > limit:
        raise DecodeError(
            f"{name}: {width}x{height} ({pixels / 1e6:.0f} MP) is above the "
            f"{limit / 1e6:.0f} MP limit for {image.format or 'this format'}; "
            "likely a decompression bomb — if it is a real photo, save it as a smaller JPEG"
        )


def _check_boxes_complete(data: bytes, name: str) -> None:
    """A HEIC/AVIF whose top-level boxes run past the end of the file was cut short.

    libheif decodes such a file without complaint when the cut falls in data it does not need
    for the picture (the EXIF block, a thumbnail), or when the HEVC decoder conceals the loss;
    whether it does depends on how large the encoder made each part. The box sizes say it
    either way.
    """
    offset = 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset:offset + 4], "big")
        kind = data[offset + 4:offset + 8].decode("latin-1")
        if size == 1 and offset + 16 <= len(data):  # 64-bit size follows the type
            size = int.from_bytes(data[offset + 8:offset + 16], "big")
        if size == 0:  # runs to the end of the file, whatever it is
            return
        if size < 8 or offset + size > len(data):
            raise DecodeError(
                f"{name}: damaged or truncated image (its '{kind}' box needs "
                f"{offset + size} bytes, the file has {len(data)}); copy it again from the phone"
            )
        offset += size


def _load_strict(image: Image.Image, name: str) -> None:
    # Pillow's LOAD_TRUNCATED_IMAGES is a process-wide switch; we leave it off so a truncated
    # file is an error rather than a half-grey picture filed with confidence.
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise DecodeError(f"{name}: refusing to decode with LOAD_TRUNCATED_IMAGES enabled")
    image.load()


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )


def _upright(image: Image.Image, orientation: int) -> Image.Image:
    method = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }.get(orientation)
    return image.transpose(method) if method is not None else image


def _to_rgb(image: Image.Image) -> Image.Image:
    """Flatten any mode to RGB; transparency is composited onto white, as viewers show it."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        image = _sixteen_bit_to_l(image)
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("LA", "PA", "La"):
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "RGBa"):
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB")


def _sixteen_bit_to_l(image: Image.Image) -> Image.Image:
    # 16-bit greyscale holds 0..65535; a plain convert("L") would clip it to white.
    return image.convert("I").point(lambda v: v / 256).convert("L")


def _shrink(image: Image.Image, working_size: int) -> Image.Image:
    short = min(image.size)
    if short <= working_size:
        return image
    scale = working_size / short
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # reducing_gap: Pillow first box-reduces by the whole factor (averaging k×k blocks, cheap
    # and alias-free), then resamples the rest; a 1080-wide screenshot costs 8 ms, not 13.
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=1.0)


def _displayed_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    width, height = size
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _int_tag(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _text_tag(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value).replace("\x00", "").strip()
    return text[:200] or None


def _taken_at(exif: Image.Exif) -> datetime | None:
    raw = exif.get_ifd(EXIF_IFD).get(EXIF_DATETIME_ORIGINAL) or exif.get(EXIF_DATETIME)
    return _exif_datetime(_EXIF_DATE.match(_text_tag(raw) or ""))


def _exif_datetime(match: re.Match[str] | None) -> datetime | None:
    if not match:
        return None
    try:
        return datetime(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def _gps(exif: Image.Exif) -> tuple[float, float] | None:
    """(latitude, longitude) from the EXIF GPS directory; None without a plausible one."""
    try:
        gps = exif.get_ifd(EXIF_GPS_IFD)
        latitude = _degrees(gps.get(2), gps.get(1), "S")
        longitude = _degrees(gps.get(4), gps.get(3), "W")
    except (TypeError, ValueError, ZeroDivisionError, KeyError):
        return None
    if latitude is None or longitude is None or not (-90 <= latitude <= 90) or not (
            -180 <= longitude <= 180) or (latitude == 0 and longitude == 0):
        return None  # 0,0 is what a phone without a fix writes
    return round(latitude, 6), round(longitude, 6)


def _degrees(value: object, ref: object, negative: str) -> float | None:
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        return None
    degrees, minutes, seconds = (float(part) for part in value)
    sign = -1.0 if str(_text_tag(ref) or "").upper().startswith(negative) else 1.0
    return sign * (degrees + minutes / 60 + seconds / 3600)


def _time_offset(exif: Image.Exif) -> str | None:
    text = _text_tag(exif.get_ifd(EXIF_IFD).get(EXIF_OFFSET_TIME_ORIGINAL))
    return text if text and re.fullmatch(r"[+-]\d{2}:\d{2}", text) else None
