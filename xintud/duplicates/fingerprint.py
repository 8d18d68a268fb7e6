"""What the duplicates stage keeps of each photo: enough to find its copies and bursts, and to
choose the best shot, without opening the file again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from xintud.core.facts import Analysis, Quality, looks_like_a_screen
from xintud.duplicates.vectors import project
from xintud.engine.hashes import layout_from_text, phash_variants, screen_from_text

# Software tags of programs people edit photos with; a phone's own "iOS 17.1" or firmware
# version is not an edit.
_EDITORS = re.compile(
    r"photoshop|lightroom|snapseed|gimp|darktable|digikam|affinity|pixelmator|capture one|"
    r"luminar|vsco|picsart|facetune|lightzone|rawtherapee|on1|acdsee|paint\.net|krita|"
    r"photo ?lab|polarr|meitu|美图|醒图",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Fingerprint:
    """One photo as the duplicates stage sees it. `key` names it in an index and its groups:
    the sha256 in the library (one record per content), the path for files on the command
    line (where two paths may hold the same bytes: an exact copy)."""

    key: str
    sha256: str
    path: Path
    phash: int  # engine.hashes.perceptual_hash of the layout thumbnail
    phash_turns: tuple[int, ...]  # engine.hashes.phash_variants: the eight turns and mirrors
    layout: np.ndarray  # [64, 64] uint8 grey inside the flat borders
    vector: np.ndarray  # [128] float32 unit length (vectors.project of the embedding)
    taken_at: float | None  # EXIF capture time in seconds (only differences are used)
    camera: str | None
    category: str  # the engine's category (compare.py treats ID photos with care)
    screen_like: bool  # a screenshot or screen-sized picture without camera EXIF
    width: int
    height: int
    content_share: float  # of the picture inside flat borders (a letterboxed copy: less)
    file_bytes: int
    modified: float  # the file's mtime: of two copies, the older is usually the original
    jpeg_quality: int | None
    camera_exif: bool
    rating: int | None  # xmp:Rating, -1 rejected .. 5 (the sidecar's over the file's own)
    edited: bool  # saved by a photo editor (EXIF Software)
    faces: int  # faces found (0 where not looked for)
    quality: Quality
    # engine.hashes.screen_thumbnail, for screen-like pictures analysed since it was made
    screen: np.ndarray | None = None

    @property
    def pixels(self) -> int:
        """The picture's own pixels: width times height inside any flat borders."""
        return round(self.width * self.height * self.content_share)


def capture_seconds(taken_at: str | None) -> float | None:
    """EXIF capture time (ISO text, usually without a zone) as seconds for differences: a
    naive time is read as UTC, which leaves differences between two photos exact."""
    if not taken_at:
        return None
    try:
        moment = datetime.fromisoformat(taken_at)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def is_screen_like(analysis: Analysis) -> bool:
    """Screenshots show screens, not moments: never a burst, and a copy only when near
    identical (compare.py)."""
    return looks_like_a_screen(analysis.category, analysis.evidence.metadata)


def fingerprint_of(analysis: Analysis, path: Path, file_bytes: int, modified: float = 0.0,
                   sidecar_rating: int | None = None, key: str | None = None) -> Fingerprint:
    """The fingerprint of an analysed photo (with its embedding and layout; see
    core.facts.BULKY_FIELDS). Raises ValueError when the analysis lacks them."""
    if analysis.embedding is None or analysis.layout is None or not analysis.phash:
        raise ValueError(f"{path}: its analysis has no embedding, layout or pHash; analyse it "
                         "again with this version")
    meta = analysis.evidence.metadata
    layout = layout_from_text(analysis.layout)
    return Fingerprint(
        key=key or analysis.sha256,
        sha256=analysis.sha256,
        path=Path(path),
        phash=int(analysis.phash, 16),
        phash_turns=tuple(phash_variants(layout)),
        layout=layout,
        vector=project(analysis.embedding),
        taken_at=capture_seconds(meta.taken_at),
        camera=meta.camera,
        category=analysis.category,
        screen_like=is_screen_like(analysis),
        width=meta.width,
        height=meta.height,
        content_share=analysis.content_share,
        file_bytes=file_bytes,
        modified=modified,
        jpeg_quality=meta.jpeg_quality,
        camera_exif=meta.camera_exif,
        rating=sidecar_rating if sidecar_rating is not None else meta.rating,
        edited=bool(meta.software and _EDITORS.search(meta.software)),
        faces=len(analysis.evidence.faces or []),
        quality=analysis.quality,
        screen=screen_from_text(analysis.screen_layout) if analysis.screen_layout else None,
    )


def fingerprint_of_file(analysis: Analysis, key: str | None = None,
                        path: Path | None = None) -> Fingerprint:
    """The fingerprint of an analysed photo on disk: its size, mtime and sidecar rating read
    from `path` (default: where `analysis.path` says it is; a vanished file: size 0)."""
    from xintud.duplicates.ratings import sidecar_rating

    path = Path(analysis.path) if path is None else path
    try:
        info = path.stat()
        size, modified = info.st_size, info.st_mtime
    except OSError:
        size, modified = 0, 0.0
    return fingerprint_of(analysis, path, size, modified, sidecar_rating(path), key=key)
