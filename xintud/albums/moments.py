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


def taken_when(taken_at: str | None, path: Path) -> tuple[datetime, bool]:
    """When a photo was taken and whether EXIF said so: its EXIF time (ISO 8601), else the
    file's modification time, else now."""
    if taken_at:
        try:
            return datetime.fromisoformat(taken_at), True
        except ValueError:
            pass
    try:
        return datetime.fromtimestamp(path.stat().st_mtime), False
    except OSError:
        return datetime.now(), False


def moment_of(analysis: Analysis, path: Path, key: str = "") -> Moment:
    """The moment of an analysed photo."""
    meta = analysis.evidence.metadata
    taken, from_exif = taken_when(meta.taken_at, path)
    return Moment(path=path, taken=taken, from_exif=from_exif,
                  gps=tuple(meta.gps) if meta.gps else None,  # type: ignore[arg-type]
                  category=analysis.category, quality=analysis.quality.score, key=key)
