"""Signals besides the networks: what the file says (metadata, screenshot cues), dHash.

Cheap measures on the decoded picture and its metadata; the head sees them next to the
embedding (features.py), and `explain` shows them as evidence.
"""

from __future__ import annotations

import re

import numpy as np
from PIL import Image

from xintud.core.facts import Face, FileContext, HeadBackground, MetadataCues
from xintud.engine.decode import DecodedImage

SCREENSHOT_NAME = re.compile(
    r"(screenshot|screen[ _-]?shot|screen[ _-]?capture|scrnli|截屏|截图|屏幕截图|屏幕快照|"
    r"スクリーンショット|bildschirmfoto|capture d.écran|captura de pantalla)",
    re.IGNORECASE,
)


# Widths (short side) of common phone screens and the usual desktop resolutions.
PHONE_WIDTHS = frozenset({640, 720, 750, 828, 1080, 1125, 1170, 1179, 1206, 1242, 1284, 1290,
                          1320, 1440, 1536, 1620, 1668, 2048})


DESKTOP_SIZES = frozenset({(1280, 720), (1280, 800), (1366, 768), (1440, 900), (1536, 864),
                           (1600, 900), (1680, 1050), (1920, 1080), (1920, 1200), (2560, 1440),
                           (2560, 1600), (2880, 1800), (3024, 1964), (3456, 2234), (3840, 2160)})


def grey(image: Image.Image, size: int = 256) -> np.ndarray:
    """A small float greyscale copy (0..1) for quality and layout measures."""
    small = image.convert("L")
    if min(small.size) > size:
        scale = size / min(small.size)
        new_size = (max(1, round(small.width * scale)), max(1, round(small.height * scale)))
        small = small.resize(new_size, Image.Resampling.BILINEAR)
    return np.asarray(small, dtype=np.float32) / 255.0


def border_uniformity(view: np.ndarray) -> float:
    """How plain the picture's border is: 1 for one flat colour, near 0 for busy scenes.

    ID photos and studio portraits sit on a plain background; the border is where it shows.
    `view` is the whole picture squashed (full_view_input), brought down to 64x64 here.
    """
    small = Image.fromarray(view).resize((64, 64), Image.Resampling.BILINEAR)
    rgb = np.asarray(small, dtype=np.float32) / 255.0
    border = np.concatenate([rgb[:4].reshape(-1, 3), rgb[-4:].reshape(-1, 3),
                             rgb[:, :4].reshape(-1, 3), rgb[:, -4:].reshape(-1, 3)])
    spread = float(np.abs(border - np.median(border, axis=0)).mean())
    return round(max(0.0, 1.0 - spread * 8.0), 4)


def is_screen_size(width: int, height: int) -> bool:
    """True when the size is that of a phone or desktop screen (either orientation)."""
    short, long = sorted((width, height))
    if (long, short) in DESKTOP_SIZES:
        return True
    return short in PHONE_WIDTHS and long / short >= 1.7


def metadata_cues(decoded: DecodedImage, context: FileContext, uniformity: float) -> MetadataCues:
    """The non-pixel evidence for one file."""
    meta = decoded.meta
    camera = " ".join(part for part in (meta.camera_make, meta.camera_model) if part) or None
    return MetadataCues(
        format=meta.format,
        width=meta.width,
        height=meta.height,
        camera_exif=meta.has_camera_exif,
        camera=camera,
        software=meta.software,
        taken_at=meta.taken_at.isoformat() if meta.taken_at else None,
        time_offset=meta.time_offset,
        gps=meta.gps,
        screenshot_name=bool(SCREENSHOT_NAME.search(context.name)),
        screenshot_folder=context.folder_kind == "screenshots",
        screen_size=is_screen_size(meta.width, meta.height),
        jpeg_quality=meta.jpeg_quality,
        rating=meta.rating,
        border_uniformity=uniformity,
    )


# Where the background around a head is sampled, in face-box widths/heights from the box
# (MTCNN's box runs from the brows to the chin): beside the head from just past the ears, and
# above it past the hair — close enough to the box that a tightly cropped ID photo (face 55%
# of the width) still shows some. Hair or a shoulder in a strip lowers the plain share (see
# PLAIN_TOLERANCE) rather than hiding the background. Fewer pixels than MIN_BACKGROUND_PIXELS
# say nothing.
SIDE_STRIP = (0.2, 0.9)  # from the box's side, outward
SIDE_ROWS = (-0.5, 0.2)  # from the box's top, downward
ABOVE_ROWS = (0.9, 0.45)  # above the box's top
MIN_BACKGROUND_PIXELS = 24
# A background pixel is "plain" when it is this close (mean of |ΔR|, |ΔG|, |ΔB|, 0..1) to the
# median colour: hair or a shoulder reaching into a strip then lowers the share, not all of it.
PLAIN_TOLERANCE = 0.06


def _region(pixels: np.ndarray, x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    """The pixels of a rectangle, clipped to the picture (empty when it lies outside)."""
    height, width = pixels.shape[:2]

    def clipped(start: float, stop: float, extent: int) -> slice:
        # Both ends clipped: a negative stop would count from the far edge.
        return slice(min(max(0, round(start)), extent), min(max(0, round(stop)), extent))

    return pixels[clipped(y0, y1, height), clipped(x0, x1, width)].reshape(-1, 3)


def head_background(pixels: np.ndarray, face: Face) -> HeadBackground | None:
    """The colour and plainness of what surrounds a face's head, or None when the head fills
    the picture. `pixels` is the working picture, uint8 HxWx3 RGB."""
    height, width = pixels.shape[:2]
    x0, y0, x1, y1 = (face.box[0] * width, face.box[1] * height,
                      face.box[2] * width, face.box[3] * height)
    w, h = x1 - x0, y1 - y0
    rows = (y0 + SIDE_ROWS[0] * h, y0 + SIDE_ROWS[1] * h)
    strips = [
        _region(pixels, x0 - SIDE_STRIP[1] * w, x0 - SIDE_STRIP[0] * w, *rows),
        _region(pixels, x1 + SIDE_STRIP[0] * w, x1 + SIDE_STRIP[1] * w, *rows),
        _region(pixels, x0, x1, y0 - ABOVE_ROWS[0] * h, y0 - ABOVE_ROWS[1] * h),
    ]
    around = np.concatenate(strips).astype(np.float32) / 255.0
    if len(around) < MIN_BACKGROUND_PIXELS:
        return None
    median = np.median(around, axis=0)
    plain = float((np.abs(around - median).mean(axis=1) <= PLAIN_TOLERANCE).mean())
    r, g, b = (float(v) for v in median)
    top = max(r, g, b)
    return HeadBackground(
        uniformity=round(plain, 4),
        brightness=round(min(r, g, b), 4),
        saturation=round((top - min(r, g, b)) / top if top > 0 else 0.0, 4),
        blue=round(b - max(r, g), 4),
        red=round(r - max(g, b), 4),
    )
