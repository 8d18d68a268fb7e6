"""The benchmark's pictures, generated once and cached outside the repository.

Camera photos: 12 MP (4032×3024) JPEGs at quality 90 with a phone's EXIF, upscaled from the
development photos in ../shared/photos (or drawn when they are absent) plus a little sensor-like
noise, so that their size (and so their Huffman-decoding cost) is that of a real phone photo
rather than of a smooth upscale. Every fourth one is stored sideways with EXIF orientation 6, as
phones store portrait shots. Screenshots: 1080×2340 PNGs drawn like an app screen (bars, text,
an embedded picture).

The development photos must not enter the repository, so the cache lives in the temp dir.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO.parent / "shared" / "photos"
DEFAULT_DATA_DIR = Path(tempfile.gettempdir()) / "xintud-bench-data"

CAMERA_SIZE = (4032, 3024)
CAMERA_QUALITY = 90
# Standard deviation of the added noise, in 8-bit levels: brings the files to ~2.5 MB, the size
# of a real 12 MP phone JPEG at this quality (a smooth upscale alone compresses to ~1 MB).
CAMERA_NOISE = 5.0
SCREEN_SIZE = (1080, 2340)
# Bumped whenever the generated pictures change, so a stale cache is rebuilt.
GENERATOR_VERSION = 3


@dataclass(frozen=True)
class PictureSet:
    """A folder of generated pictures and what they are."""

    kind: str  # "camera" | "screenshots"
    folder: Path
    files: tuple[Path, ...]

    @property
    def mean_bytes(self) -> float:
        """Mean file size in bytes."""
        return sum(p.stat().st_size for p in self.files) / max(1, len(self.files))


@dataclass(frozen=True)
class _Spec:
    kind: str
    count: int
    seed: int
    version: int = GENERATOR_VERSION
    source: str = ""


def source_photos() -> list[Path]:
    """Development photos to upscale (screenshots excluded), or [] when they are absent."""
    if not PHOTOS.is_dir():
        return []
    return sorted(p for p in PHOTOS.glob("*/*") if p.parent.name != "screenshot"
                  and p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def camera_exif(index: int, orientation: int) -> Image.Exif:
    """EXIF as a phone camera writes it: make, model, orientation, time taken."""
    exif = Image.Exif()
    exif[0x010F] = "Google"
    exif[0x0110] = "Pixel 8"
    exif[0x0112] = orientation
    taken = f"2026:11:{1 + index % 28:02d} {8 + index % 12:02d}:{index % 60:02d}:00"
    exif[0x0132] = taken
    exif.get_ifd(0x8769)[0x9003] = taken
    return exif


def drawn_scene(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """A drawn outdoor-ish picture, for when the development photos are absent."""
    width, height = size
    image = Image.new("RGB", size, (rng.randrange(60, 160), rng.randrange(120, 200), 220))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, height * 2 // 3, width, height), fill=(60, rng.randrange(100, 200), 50))
    for _ in range(12):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(width // 30, width // 6)
        draw.ellipse((x - r, y - r, x + r, y + r),
                     fill=tuple(rng.randrange(256) for _ in range(3)))
    return image


def make_camera_photo(source: Image.Image | None, path: Path, index: int, rng: random.Random,
                      noise: np.ndarray) -> None:
    """One 12 MP camera JPEG from a source picture (upscaled) or a drawn scene."""
    width, height = CAMERA_SIZE
    if source is None:
        picture = drawn_scene(CAMERA_SIZE, rng)
    else:
        picture = source.convert("RGB").resize(CAMERA_SIZE, Image.Resampling.BICUBIC)
    pixels = np.asarray(picture, dtype=np.float32)
    shift = rng.randrange(width)
    pixels += np.roll(noise, shift, axis=1)
    picture = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    orientation = 6 if index % 4 == 3 else 1
    if orientation == 6:
        # Stored sideways; EXIF says "rotate 90° clockwise to view", as phones do for portrait.
        picture = picture.transpose(Image.Transpose.ROTATE_90)
    picture.save(path, "JPEG", quality=CAMERA_QUALITY, exif=camera_exif(index, orientation))


def make_screenshot(path: Path, index: int, rng: random.Random,
                    inset: Image.Image | None) -> None:
    """One 1080×2340 PNG drawn like a phone app: status bar, app bar, text, a picture, buttons."""
    width, height = SCREEN_SIZE
    dark = index % 3 == 2
    background, ink = ((18, 18, 18), (230, 230, 230)) if dark else ((250, 250, 250), (33, 33, 33))
    image = Image.new("RGB", SCREEN_SIZE, background)
    draw = ImageDraw.Draw(image)
    accent = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    font = ImageFont.load_default(size=38)
    small = ImageFont.load_default(size=30)
    draw.rectangle((0, 0, width, 90), fill=(0, 0, 0))
    draw.text((40, 24), f"{9 + index % 12}:{index % 60:02d}", font=small, fill=(255, 255, 255))
    draw.rectangle((0, 90, width, 260), fill=accent)
    draw.text((60, 150), f"Messages {index}", font=font, fill=(255, 255, 255))
    top = 300
    if inset is not None:
        picture = inset.convert("RGB")
        picture = picture.resize((960, 960 * picture.height // max(1, picture.width)))
        picture = picture.crop((0, 0, 960, min(picture.height, 900)))
        image.paste(picture, (60, top))
        top += picture.height + 40
    words = ("photo", "sync", "today", "weather", "meeting", "train", "dinner", "see", "you",
             "at", "the", "station", "tomorrow", "ok", "thanks", "great", "price", "order")
    while top < height - 300:
        line = " ".join(rng.choice(words) for _ in range(rng.randrange(3, 9)))
        draw.text((60, top), line, font=font, fill=ink)
        draw.text((60, top + 52), " ".join(rng.choice(words) for _ in range(6)), font=small,
                  fill=(128, 128, 128))
        top += 130
    draw.rounded_rectangle((700, height - 200, 1020, height - 80), radius=40, fill=accent)
    image.save(path, "PNG")


def _cached(folder: Path, spec: _Spec) -> PictureSet | None:
    spec_file = folder / "spec.json"
    if not spec_file.is_file() or json.loads(spec_file.read_text()) != asdict(spec):
        return None
    files = tuple(sorted(p for p in folder.iterdir() if p.suffix in (".jpg", ".png")))
    return PictureSet(spec.kind, folder, files) if len(files) == spec.count else None


def _fresh_folder(folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def camera_photos(data_dir: Path, count: int, seed: int = 0) -> PictureSet:
    """`count` 12 MP camera JPEGs (cached in data_dir/camera-COUNT)."""
    sources = source_photos()
    spec = _Spec("camera", count, seed, source="photos" if sources else "drawn")
    folder = data_dir / f"camera-{count}"
    cached = _cached(folder, spec)
    if cached is not None:
        return cached
    _fresh_folder(folder)
    rng = random.Random(seed)
    rng.shuffle(sources)
    noise = np.random.default_rng(seed).normal(0.0, CAMERA_NOISE, (*CAMERA_SIZE[::-1], 3))
    noise = noise.astype(np.float32)
    for i in range(count):
        source = Image.open(sources[i % len(sources)]) if sources else None
        make_camera_photo(source, folder / f"IMG_2026{i:04d}.jpg", i, rng, noise)
    (folder / "spec.json").write_text(json.dumps(asdict(spec)))
    result = _cached(folder, spec)
    assert result is not None
    return result


def screenshots(data_dir: Path, count: int, seed: int = 0) -> PictureSet:
    """`count` 1080×2340 PNG screenshots (cached in data_dir/screenshots-COUNT)."""
    sources = source_photos()
    spec = _Spec("screenshots", count, seed, source="photos" if sources else "drawn")
    folder = data_dir / f"screenshots-{count}"
    cached = _cached(folder, spec)
    if cached is not None:
        return cached
    _fresh_folder(folder)
    rng = random.Random(seed + 1)
    rng.shuffle(sources)
    for i in range(count):
        # Half the screens show a picture (a feed, a chat photo), half are text only.
        inset = Image.open(sources[i % len(sources)]) if sources and i % 2 == 0 else None
        make_screenshot(folder / f"Screenshot_2026110{i % 10}-1{i:05d}.png", i, rng, inset)
    (folder / "spec.json").write_text(json.dumps(asdict(spec)))
    result = _cached(folder, spec)
    assert result is not None
    return result


def distinct_copy(source: Path, destination: Path, tag: str) -> None:
    """Copy a JPEG with a comment segment added after SOI: same pixels, different sha256.

    The daemon knows a photo by its content hash, so a backlog of plain copies would be
    recognised as duplicates instead of classified.
    """
    data = source.read_bytes()
    if data[:2] != b"\xff\xd8":
        raise ValueError(f"{source} is not a JPEG")
    comment = tag.encode()
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    destination.write_bytes(data[:2] + segment + data[2:])


def backlog(sources: Sequence[Path], folder: Path, count: int) -> list[Path]:
    """`count` distinct camera photos in folder, made from sources by distinct_copy."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i in range(count):
        destination = folder / f"IMG_B{i:05d}.jpg"
        distinct_copy(sources[i % len(sources)], destination, f"xintud-bench backlog {i}")
        written.append(destination)
    return written
