"""Albums benchmark: `python -m bench.albums [--photos N]` — grouping a library of N photos
(default 100,000) into events and trips, named (target ≤ 30 s), and adding one photo to it
(target ≤ 50 ms): the timeline's update, and with it the album folders on disk (in a temp
folder: the links of the albums it changed).

Five years of a person's photos, drawn: days with a few shots at home, evenings out, a trip
of a week abroad every few months; 60% geotagged. And `--backlog N` (default 10,000) undated
photos dropped at once, added one by one as they are filed: their file times make them one
event, so each add updates one album of thousands (the daemon's load test does this). Prints
JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from bench.measure import median
from xintud.albums.build import Album
from xintud.albums.geocode import Gazetteer
from xintud.albums.moments import Moment
from xintud.albums.timeline import Change, Timeline, build_albums
from xintud.library.album_links import AlbumFolders, AlbumView

ADDED = 300  # photos held back and added one by one, at random places in the timeline

HOME, AWAY = (48.137, 11.575), [(35.012, 135.768), (41.902, 12.496), (40.713, -74.006)]


def drawn_library(count: int, seed: int = 0, trips: float = 0.01) -> list[Moment]:
    """`count` moments over about five years (a trip begins on a share `trips` of days);
    each keyed by its number, as the daemon keys a photo by its content."""
    rng = random.Random(seed)
    moments: list[Moment] = []
    day = datetime(2022, 1, 1, 8)
    while len(moments) < count:
        trip = rng.random() < trips
        place = rng.choice(AWAY) if trip else HOME
        for _ in range(7 if trip else 1):
            shots = rng.randint(40, 120) if trip else rng.randint(0, 60)
            at = day + timedelta(hours=rng.uniform(0, 12))
            for _ in range(shots):
                at += timedelta(seconds=rng.expovariate(1 / 300))
                gps = (place[0] + rng.gauss(0, 0.02), place[1] + rng.gauss(0, 0.02)) \
                    if rng.random() < 0.6 else None
                moments.append(Moment(Path(f"/lib/{len(moments):06d}.jpg"), at, True, gps,
                                      rng.choice(("food", "travel", "social", "pets")),
                                      rng.random(), key=f"k{len(moments):06d}"))
            day += timedelta(days=1)
    return moments[:count]


def view_of(album: Album) -> AlbumView:
    """An album as its folder shows it."""
    return AlbumView(album.id, album.name, tuple(m.path for m in album.members))


def show_change(folders: AlbumFolders, change: Change) -> None:
    """The folders of what one timeline update changed, as the daemon shows them."""
    for gone in change.gone:
        folders.drop(gone)
    for album in change.shown:
        folders.show(view_of(album))


def adding_photos(moments: list[Moment], gazetteer: Gazetteer) -> tuple[list[float],
                                                                       list[float]]:
    """Milliseconds to add each of ADDED photos: to the timeline alone, and then also to the
    album folders (real links in a temp library)."""
    late = random.Random(1).sample(range(len(moments)), ADDED)
    held = set(late)
    timeline = Timeline(gazetteer)
    timeline_ms, folders_ms = [], []
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        moments = [replace(m, path=root / "Photos" / m.path.name) for m in moments]
        (root / "Photos").mkdir()
        for moment in moments:
            moment.path.touch()  # the links point at files that are there, as in a library
        folders = AlbumFolders(root)
        for album in timeline.load([m for i, m in enumerate(moments) if i not in held]):
            folders.show(view_of(album))
        for index in late:
            started = time.perf_counter()
            change = timeline.add(moments[index])
            timeline_ms.append(1000 * (time.perf_counter() - started))
            show_change(folders, change)
            folders_ms.append(1000 * (time.perf_counter() - started))
    return timeline_ms, folders_ms


def undated_backlog(count: int) -> tuple[float, list[float]]:
    """Seconds to add `count` undated photos one by one (timeline and folders), in the order
    filed, and the milliseconds of each of the last ADDED adds (to an album of ~count)."""
    timeline, taken = Timeline(), datetime(2026, 11, 1, 12)
    timeline.load([])
    last_ms: list[float] = []
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        (root / "Other").mkdir()
        folders = AlbumFolders(root)
        started = time.perf_counter()
        for n in range(count):
            path = root / "Other" / f"IMG_{n:05d}.jpg"
            path.touch()
            moment = Moment(path, taken + timedelta(milliseconds=37 * n), False, None,
                            "other", 0.5, key=f"k{n:06d}")
            before = time.perf_counter()
            change = timeline.add(moment)
            show_change(folders, change)
            if n >= count - ADDED:
                last_ms.append(1000 * (time.perf_counter() - before))
        return time.perf_counter() - started, last_ms


def main(argv: list[str] | None = None) -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser(prog="python -m bench.albums", description=__doc__)
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--backlog", type=int, default=10_000)
    args = parser.parse_args(argv)
    moments = drawn_library(args.photos)
    gazetteer = Gazetteer()
    started = time.perf_counter()
    gazetteer.nearest(HOME)
    load = time.perf_counter() - started
    started = time.perf_counter()
    albums = build_albums(moments, gazetteer)
    grouped = time.perf_counter() - started
    timeline_ms, folders_ms = adding_photos(moments, gazetteer)
    backlog_s, backlog_ms = undated_backlog(args.backlog)
    print(json.dumps({
        "photos": len(moments), "albums": len(albums),
        "trips": sum(a.kind == "trip" for a in albums),
        "gazetteer_load_s": round(load, 2), "group_and_name_s": round(grouped, 2),
        "add_one_ms_p50": round(median(timeline_ms), 2),
        "add_one_ms_p95": round(sorted(timeline_ms)[int(0.95 * len(timeline_ms))], 2),
        "add_one_with_folders_ms_p50": round(median(folders_ms), 2),
        "add_one_with_folders_ms_p95": round(sorted(folders_ms)[int(0.95 * len(folders_ms))],
                                             2),
        "undated_backlog": args.backlog, "backlog_added_one_by_one_s": round(backlog_s, 1),
        "backlog_last_adds_ms_p50": round(median(backlog_ms), 2),
        "backlog_last_adds_ms_p95": round(sorted(backlog_ms)[int(0.95 * len(backlog_ms))], 2),
        "examples": [a.name for a in albums if a.kind == "trip"][:3],
    }, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
