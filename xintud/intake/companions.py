"""Companions: the files that belong to a photo and must travel with it — same stem, same
folder: a Live Photo's video (IMG_1234.MOV beside IMG_1234.HEIC), the edits of the Photos app
(.AAE), XMP sidecars (IMG_1234.jpg.xmp as digiKam writes it, IMG_1234.xmp as darktable and
Lightroom do), Google Takeout's IMG_1234.jpg.json, and a camera's RAW twin of a JPEG
(DSC_0001.NEF beside DSC_0001.JPG: one photo, classified once from the JPEG).

Found by trying the few names a companion can have, not by listing the folder: a backlog of
10,000 files in one folder would otherwise be listed once per photo.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from xintud.core.formats import RAW_SUFFIXES

# Companions named <stem><suffix>, the suffix in any letter case.
STEM_SUFFIXES: tuple[str, ...] = (".mov", ".mp4", ".aae", ".xmp", ".json")
# Companions named <photo's whole name><suffix>.
NAME_SUFFIXES: tuple[str, ...] = (".xmp", ".json")
COMPANION_SUFFIXES = frozenset((*STEM_SUFFIXES, *RAW_SUFFIXES))


def is_companion_name(path: Path) -> bool:
    """True for a name a companion can have (a video, edits, a sidecar, a RAW)."""
    return Path(path).suffix.lower() in COMPANION_SUFFIXES


def _cases(suffix: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys((suffix, suffix.upper(), suffix.capitalize())))


def companions_of(photo: Path) -> list[Path]:
    """The regular files beside `photo` that belong to it, in a stable order."""
    photo = Path(photo)
    twins = () if photo.suffix.lower() in RAW_SUFFIXES else sorted(RAW_SUFFIXES)
    names = [photo.stem + variant for suffix in (*STEM_SUFFIXES, *twins)
             for variant in _cases(suffix)]
    names += [photo.name + variant for suffix in NAME_SUFFIXES for variant in _cases(suffix)]
    found = []
    for name in dict.fromkeys(names):
        if name == photo.name:
            continue
        candidate = photo.with_name(name)
        try:
            info = os.lstat(candidate)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and candidate not in found:
            found.append(candidate)
    return _one_per_file(found)


def _one_per_file(paths: list[Path]) -> list[Path]:
    """On a case-insensitive filesystem IMG.MOV and IMG.mov are one file: keep it once."""
    seen: set[tuple[int, int]] = set()
    unique = []
    for path in paths:
        info = os.stat(path)
        key = (info.st_dev, info.st_ino)
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def photos_for(companion: Path, image_suffixes: frozenset[str]) -> list[Path]:
    """The photo names a companion can belong to, for one that arrives after its photo:
    IMG_1234.MOV → IMG_1234.HEIC, .jpg, ...; IMG_1234.jpg.xmp → IMG_1234.jpg."""
    companion = Path(companion)
    inner = Path(companion.stem)
    if inner.suffix.lower() in image_suffixes:  # IMG_1234.jpg.xmp, IMG_1234.HEIC.json
        return [companion.with_name(inner.name)]
    return [companion.with_name(companion.stem + variant) for suffix in sorted(image_suffixes)
            for variant in _cases(suffix)]


def image_twin_of_raw(raw: Path, image_suffixes: frozenset[str]) -> Path | None:
    """The JPEG (or HEIC...) a camera saved beside this RAW, if there is one: the RAW is then
    its companion, not a photo of its own."""
    raw = Path(raw)
    for suffix in sorted(image_suffixes - RAW_SUFFIXES):
        for variant in _cases(suffix):
            twin = raw.with_name(raw.stem + variant)
            if twin.is_file():
                return twin
    return None
