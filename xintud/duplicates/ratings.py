"""A person's own verdict on a photo, from its XMP sidecar: xmp:Rating, as Lightroom, digiKam
and darktable write it (-1 rejected, 0 unrated, 1..5 stars)."""

from __future__ import annotations

import logging
from pathlib import Path

from xintud.library.rating import rating_of
from xintud.library.xmp_packet import XmpError, parse_packet, read_bounded

logger = logging.getLogger(__name__)



def sidecar_candidates(photo: Path) -> list[Path]:
    """Where a photo's sidecar may be: `IMG.jpg.xmp` (digiKam, darktable, xintud) first, then
    `IMG.xmp` (Lightroom, exiftool)."""
    return [photo.with_name(photo.name + ".xmp"), photo.with_suffix(".xmp")]


def sidecar_rating(photo: Path) -> int | None:
    """The rating in the photo's sidecar, or None (no sidecar, no rating, or unreadable —
    an unreadable one is logged and otherwise left alone)."""
    for sidecar in sidecar_candidates(Path(photo)):
        try:
            packet = parse_packet(read_bounded(sidecar), sidecar)
        except FileNotFoundError:
            continue
        except (OSError, XmpError) as exc:
            logger.warning("could not read the rating in %s (%s); the best-shot choice goes "
                           "without it", sidecar, exc)
            continue
        rating = rating_of(packet)
        if rating is not None:
            return rating
    return None
