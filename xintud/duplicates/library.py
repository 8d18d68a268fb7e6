"""The library's duplicates: every filed photo's fingerprint stored, each new arrival matched
against all of them in milliseconds, the links kept, and groups made from them on request.

Members are known by content hash; where a photo is now comes from its record, and a member
whose file is gone or not filed any more is left out of its group (set-aside re-checks each one
again before it moves anything).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

from xintud.core.facts import Analysis, Quality
from xintud.core.text import printable
from xintud.duplicates.compare import Closeness, Tier
from xintud.duplicates.fingerprint import Fingerprint, fingerprint_of_file
from xintud.duplicates.groups import Link, group_links, link_one
from xintud.duplicates.index import FingerprintIndex
from xintud.duplicates.ratings import sidecar_rating
from xintud.duplicates.report import GroupReport, report_group
from xintud.duplicates.vectors import vector_bytes, vector_from_bytes
from xintud.engine.hashes import LAYOUT_SIZE, screen_from_png, screen_png
from xintud.state.prints import Prints, StoredLink, StoredPrint
from xintud.state.records import FileState, Records

logger = logging.getLogger(__name__)

# The fingerprint fields kept as JSON (the arrays and hashes have columns of their own).
_FACT_FIELDS = ("category", "camera", "screen_like", "width", "height", "content_share",
                "jpeg_quality", "camera_exif", "rating", "edited", "faces")


class LibraryDuplicates:
    """Fingerprints, index and links of the filed photos (one per daemon)."""

    def __init__(self, prints: Prints, records: Records) -> None:
        self._prints = prints
        self._records = records
        self._index = FingerprintIndex()
        self._links: dict[str, list[Link]] = {}

    def load(self) -> int:
        """Fill the index and the links from the database; return how many photos."""
        for stored in self._prints.all():
            fingerprint = from_stored(stored, Path(), 0, 0.0, None)
            self._index.add(fingerprint)
        for stored in self._prints.links():
            self._remember(link_from_stored(stored))
        if len(self._index):
            logger.info("duplicates: %d filed photos known", len(self._index))
        return len(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def add(self, analysis: Analysis, path: Path) -> list[Link]:
        """Store the fingerprint of a photo filed at `path`, match it against the library, keep
        the links and log them. An analysis without fingerprint parts is noted as a problem."""
        try:
            fingerprint = fingerprint_of_file(analysis, key=analysis.sha256, path=path)
        except ValueError as exc:
            self.note_problem(analysis.sha256, str(exc))
            return []
        self._prints.put(to_stored(fingerprint))
        links = link_one(fingerprint, self._index, self.source)
        self._index.add(fingerprint)
        self._prints.put_links([link_to_stored(link) for link in links])
        for link in links:
            self._remember(link)
        if links:
            self._log_joined(fingerprint, links)
        return links

    def note_problem(self, sha256: str, problem: str) -> None:
        """Remember that a photo has no fingerprint and why (it is not tried again)."""
        self._prints.put(StoredPrint(sha256=sha256, problem=problem))

    def source(self, sha256: str) -> Fingerprint | None:
        """The fingerprint of a filed photo where it is now, or None (gone, not filed)."""
        record = self._records.get(sha256)
        stored = self._prints.get(sha256)
        if record is None or record.state is not FileState.DONE or stored is None \
                or stored.problem is not None:
            return None
        try:
            info = record.path.stat()
        except OSError:
            return None
        return from_stored(stored, record.path, info.st_size, info.st_mtime,
                           sidecar_rating(record.path))

    def filed(self) -> list[Fingerprint]:
        """The fingerprints of every photo filed now, where it is now."""
        found = (self.source(key) for key in self._index.all_keys())
        return [fp for fp in found if fp is not None]

    def groups(self, loosest: Tier = Tier.BURST) -> list[GroupReport]:
        """The groups among the photos filed now, largest first."""
        present: dict[str, Fingerprint | None] = {}

        def lookup(key: str) -> Fingerprint | None:
            if key not in present:
                present[key] = self.source(key)
            return present[key]

        links = [link for link in self._all_links() if lookup(link.a) and lookup(link.b)]
        groups = group_links(links, loosest)
        found = {key: fp for key, fp in present.items() if fp is not None}
        return [report_group(group, found) for group in groups]

    def _all_links(self) -> list[Link]:
        seen = {}
        for links in self._links.values():
            for link in links:
                seen[(link.a, link.b)] = link
        return list(seen.values())

    def _remember(self, link: Link) -> None:
        for key in (link.a, link.b):
            kept = self._links.setdefault(key, [])
            kept[:] = [old for old in kept if (old.a, old.b) != (link.a, link.b)]
            kept.append(link)

    def _log_joined(self, fingerprint: Fingerprint, links: Iterable[Link]) -> None:
        for link in links:
            other = link.b if link.a == fingerprint.key else link.a
            other_fp = self.source(other)
            name = other_fp.path.name if other_fp else other[:12]
            logger.info("%s: %s of %s (cosine %.2f, detail %.2f)",
                        printable(fingerprint.path.name), _tier_words(link.tier),
                        printable(name), link.closeness.cosine, link.closeness.detail)


def _tier_words(tier: Tier) -> str:
    return {Tier.EXACT: "exact copy", Tier.SAME: "same picture", Tier.BURST: "burst"}.get(
        tier, tier.value)


def to_stored(fingerprint: Fingerprint) -> StoredPrint:
    """A fingerprint as the database keeps it (path, size, mtime and sidecar rating are read
    afresh each time: they change)."""
    facts = {name: getattr(fingerprint, name) for name in _FACT_FIELDS}
    facts["quality"] = fingerprint.quality.model_dump(mode="json")
    turns = b"".join(turn.to_bytes(8, "big") for turn in fingerprint.phash_turns)
    return StoredPrint(sha256=fingerprint.sha256, phash=fingerprint.phash, turns=turns,
                       vector=vector_bytes(fingerprint.vector),
                       layout=fingerprint.layout.tobytes(), taken_at=fingerprint.taken_at,
                       facts=json.dumps(facts),
                       screen=None if fingerprint.screen is None
                       else screen_png(fingerprint.screen))


def from_stored(stored: StoredPrint, path: Path, file_bytes: int, modified: float,
                sidecar: int | None) -> Fingerprint:
    """The fingerprint back from its row, at `path` now."""
    import numpy as np

    facts = json.loads(stored.facts or "{}")
    quality = Quality.model_validate(facts.pop("quality"))
    turns = stored.turns or b""
    embedded_rating = facts.pop("rating")
    return Fingerprint(
        key=stored.sha256, sha256=stored.sha256, path=path, phash=stored.phash or 0,
        phash_turns=tuple(int.from_bytes(turns[i:i + 8], "big") for i in range(0, len(turns), 8)),
        layout=np.frombuffer(stored.layout or b"", dtype=np.uint8).reshape(
            LAYOUT_SIZE, LAYOUT_SIZE),
        vector=vector_from_bytes(stored.vector or b""), taken_at=stored.taken_at,
        file_bytes=file_bytes, modified=modified,
        rating=sidecar if sidecar is not None else embedded_rating, quality=quality,
        screen=screen_from_png(stored.screen) if stored.screen else None, **facts)


def link_to_stored(link: Link) -> StoredLink:
    """A link as the database keeps it."""
    return StoredLink(link.a, link.b, link.tier.value, json.dumps(asdict(link.closeness)))


def link_from_stored(stored: StoredLink) -> Link:
    """A link back from its row."""
    return Link(stored.a, stored.b, Tier(stored.tier), Closeness(**json.loads(stored.closeness)))
