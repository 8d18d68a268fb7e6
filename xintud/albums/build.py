"""An album and its name: an event (events.py) or a trip — consecutive events away from the
usual places (places.py) spanning more than one day, merged into one by timeline.py — named as
a person would write it: the date range, the place (geocode.py) and what the photos mostly
are (`2026-07-14 Kyoto — food, travel`). Photos without GPS get date and content only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Container, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from xintud.albums.geocode import Gazetteer
from xintud.albums.moments import Moment
from xintud.albums.places import middle

TOP_CATEGORIES = 2
PLACE_SAMPLES = 24  # points of a trip looked up


@dataclass(frozen=True)
class Album:
    """One event or trip."""

    name: str
    kind: str  # "event" | "trip"
    start: datetime
    end: datetime
    place: str | None
    members: tuple[Moment, ...]
    id: str = ""  # what its folder is known by (timeline.py keeps it as the album changes)

    @property
    def cover(self) -> Moment:
        """The best photo of it (quality score), the earliest of equals."""
        return self.cover_passing_over(frozenset())

    def cover_passing_over(self, not_best: Container[Path]) -> Moment:
        """The best photo of it that is not among `not_best` — the photos of a duplicate
        group other than its best shot (a chat app's copy, the shaken shot of a burst) —
        unless all of them are."""
        shots = [m for m in self.members if m.path not in not_best] or self.members
        return max(shots, key=lambda m: (m.quality, -m.taken.timestamp()))

    @property
    def dated_by_file_time(self) -> int:
        """How many of its photos had no EXIF date (dated by the file's time instead)."""
        return sum(not m.from_exif for m in self.members)


def make_album(kind: str, members: list[Moment], gazetteer: Gazetteer) -> Album:
    """An event or trip of these photos (in time order), named; its id is set by the
    timeline."""
    start, end = members[0].taken, members[-1].taken
    place = _place_name(members, gazetteer, kind)
    return Album(name=album_name(start, end, place, [m.category for m in members]),
                 kind=kind, start=start, end=end, place=place, members=tuple(members))


def _place_name(members: list[Moment], gazetteer: Gazetteer, kind: str) -> str | None:
    """An event's town (at its middle point); a trip's most photographed town, or the
    country most of it was in when it went through more than two towns."""
    points = [m.gps for m in members if m.gps]
    if not points:
        return None
    if kind == "event":
        found = gazetteer.nearest(middle(points))  # type: ignore[arg-type]
        return None if found is None else found[0]
    step = max(1, len(points) // PLACE_SAMPLES)  # spread over the trip, not every photo
    towns = [t for t in (gazetteer.nearest(p) for p in points[::step]) if t is not None]
    if not towns:
        return None
    (town, _), _ = Counter(towns).most_common(1)[0]
    if len({t for t, _ in towns}) > 2:
        return Counter(c for _, c in towns).most_common(1)[0][0]
    return town


def album_name(start: datetime, end: datetime, place: str | None,
               categories: Sequence[str]) -> str:
    """`2026-07-14 Kyoto — food, travel`; a range for several days: `2026-07-10 – 07-17`."""
    if start.date() == end.date():
        dates = f"{start:%Y-%m-%d}"
    elif start.year == end.year:
        dates = f"{start:%Y-%m-%d} – {end:%m-%d}"
    else:
        dates = f"{start:%Y-%m-%d} – {end:%Y-%m-%d}"
    ranked = [c for c, _ in Counter(categories).most_common(TOP_CATEGORIES)]
    return " ".join(part for part in (dates, place) if part) + (
        f" — {', '.join(ranked)}" if ranked else "")
