"""Which development photos the backbone is scored and calibrated on, and how they are cropped.

Scored on the photos whose source is an ImageNet file (its name carries the class wnid);
calibrated on the others, so the int8 score is not measured on what it was calibrated on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from training.backbone.labels import ImagenetLabel
from training.common import has_photo_manifest, open_rgb, read_photo_manifest
from training.efficientnet_lite import DEFAULT_IMAGE_SIZE

RESIZE_SHORT_SIDE = 256
WNID_PATTERN = re.compile(r"n\d{8}")


@dataclass(frozen=True)
class LabelledPhoto:
    """A photo whose original ImageNet file name carries its class wnid."""

    file: str
    wnid: str
    class_index: int


def load_photo(path: Path, size: int = DEFAULT_IMAGE_SIZE) -> np.ndarray:
    """Pillow decode → RGB → resize short side to 256 (bilinear) → centre crop `size`."""
    picture = open_rgb(path)
    width, height = picture.size
    scale = RESIZE_SHORT_SIDE / min(width, height)
    new_size = (max(size, round(width * scale)), max(size, round(height * scale)))
    picture = picture.resize(new_size, Image.Resampling.BILINEAR)
    left, top = (new_size[0] - size) // 2, (new_size[1] - size) // 2
    return np.asarray(picture.crop((left, top, left + size, top + size)))


def load_photos(photos_dir: Path, files: Sequence[str]) -> np.ndarray:
    """Decode and crop each file into one uint8 NHWC array."""
    return np.stack([load_photo(photos_dir / name) for name in files])


def imagenet_photos(
    rows: Sequence[dict[str, str]], labels: Sequence[ImagenetLabel]
) -> tuple[list[LabelledPhoto], list[str]]:
    """Photos whose source path names an ImageNet-1k wnid; also the wnids outside the 1k."""
    index = {label.wnid: i for i, label in enumerate(labels)}
    photos, outside = [], []
    for row in rows:
        match = WNID_PATTERN.search(row["path"])
        if match is None:
            continue
        if match.group(0) in index:
            photos.append(LabelledPhoto(row["file"], match.group(0), index[match.group(0)]))
        else:
            outside.append(match.group(0))
    return photos, outside


def calibration_files(rows: Sequence[dict[str, str]], limit: int) -> list[str]:
    """Photos not sourced from ImageNet, spread evenly over the manifest, at most `limit`.

    Keeping them disjoint from the evaluation photos keeps the int8 score honest.
    """
    files = [row["file"] for row in rows if WNID_PATTERN.search(row["path"]) is None]
    step = max(1, len(files) // limit)
    return files[::step][:limit]


def gather_photo_sets(
    photos_dir: Path, labels: Sequence[ImagenetLabel], calibration_count: int
) -> tuple[list[LabelledPhoto], list[str], list[str], list[str]]:
    """(evaluation photos, wnids outside the 1k, calibration files, notes) from the manifest."""
    if not has_photo_manifest(photos_dir):
        note = f"{photos_dir}/manifest.csv absent: calibrated on drawn images, no accuracy"
        return [], [], [], [note]
    rows = read_photo_manifest(photos_dir)
    evaluation, outside = imagenet_photos(rows, labels)
    return evaluation, outside, calibration_files(rows, calibration_count), []
