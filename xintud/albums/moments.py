"""A photo as albums see it: when it was taken (EXIF, else the file's time, said so), where
(EXIF GPS), what it shows (its category) and how good it is (the cover is the best)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from xintud.core.facts import Analysis


@dataclass(frozen=True)
class Moment:
    """One photo on the timeline."""

    path: Path
    taken: datetime  # the wall-clock time where it was taken (as the camera shows it)
    from_exif: bool  # False: the file's modification time, a last resort
    gps: tuple[float, float] | None
    category: str
    quality: float
    key: str = ""  # what names the photo for good (its sha256 in the library), if not the path


def moment_of(analysis: Analysis, path: Path) -> Moment:
    """The moment of an analysed photo."""
    meta = analysis.evidence.metadata
    taken, from_exif = None, False
    if meta.taken_at:
        try:
            taken, from_exif = datetime.fromisoformat(meta.taken_at), True
        except ValueError:
            taken = None
    if taken is None:
        try:
            taken = datetime.fromtimestamp(path.stat().st_mtime)
        except OSError:
            taken = datetime.now()
    return Moment(path=path, taken=taken, from_exif=from_exif,
                  gps=tuple(meta.gps) if meta.gps else None,  # type: ignore[arg-type]
                  category=analysis.category, quality=analysis.quality.score)
