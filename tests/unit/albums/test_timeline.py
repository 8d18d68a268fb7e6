"""albums/timeline: photo by photo, the albums are exactly those of grouping everything anew
(events, trips, names), whatever the order photos arrive or leave in; an album keeps its id —
what its folder is known by — as it grows, and the larger part keeps it when it splits."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bench.albums import drawn_library
from xintud.albums.geocode import Gazetteer
from xintud.albums.moments import Moment
from xintud.albums.timeline import Timeline, build_albums, name_of


def drawn(count: int, seed: int) -> list[Moment]:
    """Days at home, evenings out and weeks abroad (trips), 60% geotagged."""
    return drawn_library(count, seed, trips=0.08)  # seed 1: five trips among 62 albums


def shape(albums: list) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(a.kind, a.name, tuple(name_of(m) for m in a.members)) for a in albums]


@pytest.fixture(scope="module")
def towns() -> Gazetteer:
    return Gazetteer()


def test_photo_by_photo_is_grouping_everything_anew(towns: Gazetteer) -> None:
    photos = drawn(4000, seed=1)
    assert sum(a.kind == "trip" for a in build_albums(photos, towns)) >= 3, "it has trips"
    rng = random.Random(1)
    late = rng.sample(photos, 1200)
    timeline = Timeline(towns)
    timeline.load([m for m in photos if m.key not in {m.key for m in late}])
    for count, moment in enumerate(late, 1):
        timeline.add(moment)
        if count % 200 == 0:
            waiting = {m.key for m in late[count:]}
            assert shape(timeline.albums) == shape(build_albums(gazetteer=towns, moments=
                [m for m in photos if m.key not in waiting])), f"after {count} adds"
    assert shape(timeline.albums) == shape(build_albums(photos, towns))
    leaving = {m.key for m in rng.sample(photos, 1000)}
    for key in leaving:
        timeline.remove(key)
    kept = [m for m in photos if m.key not in leaving]
    assert shape(timeline.albums) == shape(build_albums(kept, towns)), "removes"
    moved = kept[100]
    change = timeline.replace(name_of(moved), path=Path("/lib/elsewhere.jpg"), category="pets")
    assert [m.path for a in change.shown for m in a.members].count(Path("/lib/elsewhere.jpg"))
    assert shape(timeline.albums) == shape(build_albums(gazetteer=towns, moments=
        [replace(m, path=Path("/lib/elsewhere.jpg"), category="pets") if m is moved else m
         for m in kept]))
    assert sorted(timeline.paths()) == sorted(name_of(m) for m in kept)


def test_starting_empty_and_emptying_again() -> None:
    timeline = Timeline()
    photos = drawn(60, seed=2)
    for moment in photos:
        timeline.add(moment)
    assert shape(timeline.albums) == shape(build_albums(photos))
    for moment in photos:
        timeline.remove(name_of(moment))
    assert timeline.albums == [] and len(timeline) == 0
    assert timeline.remove("k000001").shown == []


def shot(at: datetime, n: int, place: tuple[float, float] | None = None) -> Moment:
    return Moment(Path(f"/lib/{n}.jpg"), at, True, place, "travel", 0.5, key=f"p{n}")


def test_an_album_keeps_its_id_as_it_grows_and_the_larger_part_keeps_it() -> None:
    start = datetime(2026, 3, 7, 10)
    timeline = Timeline()
    [album] = timeline.load([shot(start + timedelta(minutes=5 * i), i) for i in range(10)])
    earlier = timeline.add(shot(start - timedelta(minutes=3), 100))
    assert [a.id for a in earlier.shown] == [album.id] and earlier.gone == [], \
        "a photo before its first one does not make it another album"
    assert timeline.albums[0].members[0].key == "p100"
    for i in range(10, 14):  # four more an evening later: an event of their own
        timeline.add(shot(start + timedelta(hours=9, minutes=i), i))
    first, second = timeline.albums
    assert first.id == album.id and second.id != album.id
    for i in range(6, 10):  # the afternoon's last photos taken out, the bigger part remains
        timeline.remove(f"p{i}")
    assert timeline.albums[0].id == album.id


def test_ids_come_back_from_what_the_folders_knew() -> None:
    photos = drawn(300, seed=9)
    albums = build_albums(photos)
    known = {name_of(m): f"folder-{i}" for i, a in enumerate(albums) for m in a.members}
    again = Timeline().load(photos, known=known)
    assert [a.id for a in again] == [f"folder-{i}" for i in range(len(albums))]


def test_gaps_that_depend_on_their_neighbours_are_split_as_a_whole_grouping_would() -> None:
    """Gaps from a minute to half a day (log-uniform): many fall where a boundary depends on
    the typical gap of the shots around it, so an add or remove moves boundaries near it."""
    rng = random.Random(4)
    at, photos = datetime(2026, 1, 1), []
    for n in range(1500):
        at += timedelta(seconds=60 * 10 ** rng.uniform(0, 2.9))
        photos.append(shot(at, n))
    timeline = Timeline()
    timeline.load(photos[::2])
    for moment in rng.sample(photos[1::2], len(photos[1::2])):
        timeline.add(moment)
    assert shape(timeline.albums) == shape(build_albums(photos))
    leaving = {m.key for m in rng.sample(photos, 600)}
    for key in leaving:
        timeline.remove(key)
    assert shape(timeline.albums) == shape(build_albums([m for m in photos
                                                         if m.key not in leaving]))
