"""Albums benchmark: `python -m bench.albums [--photos N]` — grouping a library of N photos
(default 100,000) into events and trips, named (target ≤ 30 s), and adding one photo.

Five years of a person's photos, drawn: days with a few shots at home, evenings out, a trip
of a week abroad every few months; 60% geotagged. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import datetime, timedelta
from pathlib import Path

from xintud.albums.build import build_albums
from xintud.albums.geocode import Gazetteer
from xintud.albums.moments import Moment

HOME, AWAY = (48.137, 11.575), [(35.012, 135.768), (41.902, 12.496), (40.713, -74.006)]


def drawn_library(count: int, seed: int = 0) -> list[Moment]:
    """`count` moments over about five years."""
    rng = random.Random(seed)
    moments: list[Moment] = []
    day = datetime(2022, 1, 1, 8)
    while len(moments) < count:
        trip = rng.random() < 0.01
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
                                      rng.random()))
            day += timedelta(days=1)
    return moments[:count]


def main(argv: list[str] | None = None) -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser(prog="python -m bench.albums", description=__doc__)
    parser.add_argument("--photos", type=int, default=100_000)
    args = parser.parse_args(argv)
    moments = drawn_library(args.photos)
    gazetteer = Gazetteer()
    started = time.perf_counter()
    gazetteer.nearest(HOME)
    load = time.perf_counter() - started
    started = time.perf_counter()
    albums = build_albums(moments, gazetteer)
    grouped = time.perf_counter() - started
    print(json.dumps({
        "photos": len(moments), "albums": len(albums),
        "trips": sum(a.kind == "trip" for a in albums),
        "gazetteer_load_s": round(load, 2), "group_and_name_s": round(grouped, 2),
        "examples": [a.name for a in albums if a.kind == "trip"][:3],
    }, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
