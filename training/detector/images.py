"""The images the detector is checked, timed and calibrated on: drawn scenes and photos."""

from __future__ import annotations

from pathlib import Path

from training.common import drawn_scenes, load_rgb, photo_files
from training.detector.model import TestImage

DRAWN_SIZES = ((640, 480), (300, 300), (480, 720))  # (width, height): landscape, square, portrait
PHOTO_CATEGORIES = ("pets", "social", "food")


def drawn_images() -> list[TestImage]:
    """Synthetic scenes of several sizes and aspect ratios (deterministic)."""
    return [TestImage(f"drawn-{width}x{height}", pixels)
            for (width, height), pixels in zip(DRAWN_SIZES, drawn_scenes(DRAWN_SIZES), strict=True)]


def photo_paths(photos: Path, category: str, start: int, count: int) -> list[Path]:
    """count photos of a category from position start in name order (stable across runs)."""
    return photo_files(photos, category)[start:start + count]


def photo_images(photos: Path | None, per_category: int, start: int = 0) -> list[TestImage]:
    """Photos of pets, social and food scenes, decoded."""
    if photos is None:
        return []
    return [
        TestImage(f"{category}/{path.name}", load_rgb(path))
        for category in PHOTO_CATEGORIES
        for path in photo_paths(photos, category, start, per_category)
    ]
