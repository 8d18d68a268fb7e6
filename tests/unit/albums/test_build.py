"""albums: a dinner, a quiet month, a day trip and a week abroad become the events and the
trip a person would make of them, with the names they would write; every photo in one album."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from xintud.albums.build import album_name
from xintud.albums.events import split_events
from xintud.albums.moments import Moment
from xintud.albums.timeline import build_albums

MUNICH, AUGSBURG, KYOTO, NARA = (48.137, 11.575), (48.370, 10.898), (35.012, 135.768), \
    (34.685, 135.805)


def shots(start: datetime, count: int, every: timedelta, place: tuple[float, float] | None,
          category: str, name: str) -> list[Moment]:
    return [Moment(Path(f"/p/{name}-{i:03d}.jpg"), start + i * every, True, place, category,
                   0.5 + (i % 3) / 10) for i in range(count)]


def library() -> dict[str, list[Moment]]:
    quiet = [m for day in range(0, 30, 4) for m in shots(
        datetime(2026, 6, 1 + day, 12), 1, timedelta(0), MUNICH, "pets", f"quiet{day}")]
    week = []
    for day in range(7):
        town = NARA if day == 3 else KYOTO
        week += shots(datetime(2026, 7, 10 + day, 9), 6, timedelta(minutes=20), town,
                      "travel", f"kyoto-a{day}")
        week += shots(datetime(2026, 7, 10 + day, 19), 4, timedelta(minutes=10), town,
                      "food", f"kyoto-b{day}")
    return {
        "quiet": quiet,
        "dinner": shots(datetime(2026, 8, 1, 19), 12, timedelta(minutes=12), MUNICH, "food",
                        "dinner"),
        "day trip": shots(datetime(2026, 8, 15, 9), 15, timedelta(minutes=35), AUGSBURG,
                          "travel", "augsburg"),
        "week": week,
    }


def test_events_trips_and_names() -> None:
    parts = library()
    everything = [m for group in parts.values() for m in group]
    albums = build_albums(everything)
    members = [m.path for album in albums for m in album.members]
    assert sorted(members) == sorted(m.path for m in everything), "every photo in one album"
    by_first = {album.members[0].path.name: album for album in albums}

    dinner = by_first["dinner-000.jpg"]
    assert dinner.kind == "event" and len(dinner.members) == 12
    assert dinner.name == "2026-08-01 Munich — food"
    trip = by_first["kyoto-a0-000.jpg"]
    assert trip.kind == "trip" and len(trip.members) == 70, "a week abroad is one trip"
    assert trip.name.startswith("2026-07-10 – 07-16 Kyoto — travel, food")
    day = by_first["augsburg-000.jpg"]
    assert day.kind == "event" and day.name == "2026-08-15 Augsburg — travel", \
        "a day trip (one day, far from home) is an event of its own"
    assert all(a.kind == "event" for a in albums if a.members[0].path.name.startswith("quiet"))
    assert len([a for a in albums if a.members[0].path.name.startswith("quiet")]) == 8


def test_gaps_adapt_to_how_densely_one_shoots() -> None:
    party = shots(datetime(2026, 9, 5, 20), 40, timedelta(minutes=1), None, "social", "party")
    walk = shots(datetime(2026, 9, 6, 10), 6, timedelta(minutes=55), None, "travel", "walk")
    events = split_events([*party, *walk])
    assert [len(e) for e in events] == [40, 6], "an hour between shots on a walk is no break"
    cut = shots(datetime(2026, 9, 7, 10), 10, timedelta(minutes=1), None, "food", "brunch")
    later = shots(datetime(2026, 9, 7, 11, 30), 10, timedelta(minutes=1), None, "food", "cake")
    assert [len(e) for e in split_events([*cut, *later])] == [10, 10], \
        "81 minutes after a minute-by-minute brunch is a new event"


def test_without_gps_a_name_is_date_and_content() -> None:
    moments = shots(datetime(2026, 10, 3, 15), 5, timedelta(minutes=5), None, "pets", "cat")
    [album] = build_albums(moments)
    assert album.name == "2026-10-03 — pets" and album.place is None
    assert album.cover.quality == max(m.quality for m in moments)
    assert album_name(datetime(2025, 12, 30), datetime(2026, 1, 2), "Kyoto", ["food"]) == \
        "2025-12-30 – 2026-01-02 Kyoto — food"


def test_the_cover_passes_over_what_is_not_a_duplicate_groups_best_shot() -> None:
    [album] = build_albums(shots(datetime(2026, 8, 1, 19), 6, timedelta(minutes=5), MUNICH,
                                 "food", "dinner"))
    best = album.cover
    assert best.quality == max(m.quality for m in album.members)
    # The best-scored photo is a copy the duplicates passed over: the next best is the cover.
    second = album.cover_passing_over({best.path})
    assert second != best and second.quality == max(m.quality for m in album.members
                                                    if m != best)
    assert album.cover_passing_over({m.path for m in album.members}) == best, \
        "an album of nothing but passed-over photos still has a cover"
