"""A person's own verdict on a photo, from its XMP sidecar: xmp:Rating, as Lightroom, digiKam
and darktable write it (-1 rejected, 0 unrated, 1..5 stars)."""

from __future__ import annotations

import logging
from pathlib import Path

from xintud.library.xmp_packet import RDF_DESCRIPTION, XmpError, parse_packet, read_bounded

logger = logging.getLogger(__name__)

NS_XMP = "http://ns.adobe.com/xap/1.0/"
XMP_RATING = f"{{{NS_XMP}}}Rating"


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
        rating = rating_in(packet.rdf)
        if rating is not None:
            return rating
    return None


def rating_in(rdf) -> int | None:  # type: ignore[no-untyped-def]
    """xmp:Rating of an rdf:RDF element, as attribute or element of any rdf:Description."""
    for description in rdf.iter(RDF_DESCRIPTION):
        text = description.get(XMP_RATING)
        if text is None:
            element = description.find(XMP_RATING)
            text = element.text if element is not None else None
        if text is not None:
            try:
                return max(-1, min(5, round(float(text))))
            except ValueError:
                continue
    return None
