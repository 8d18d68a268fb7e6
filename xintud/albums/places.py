"""Where the person usually is, and how far a place is from it: the usual places are the grid
cells (about 25 km) they come back to — photos there in at least USUAL_SHARE as many distinct
weeks as in the cell they photograph in most weeks — so that a week abroad with hundreds of
photos does not make it home; a place is away beyond AWAY_KM from all of them."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import date

CELL_DEGREES = 0.25
USUAL_SHARE = 0.5
AWAY_KM = 100.0
EARTH_KM = 6371.0


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(
        (lon2 - lon1) / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(h)))


def usual_places(points: Sequence[tuple[tuple[float, float], date]]
                 ) -> list[tuple[float, float]]:
    """The centres of the cells the person comes back to, from (place, day) of each photo."""
    weeks: dict[tuple[int, int], Counter[tuple[int, int]]] = defaultdict(Counter)
    for (lat, lon), day in points:
        weeks[cell_of((lat, lon))][day.isocalendar()[:2]] += 1
    return usual_places_of_weeks(weeks)


def cell_of(place: tuple[float, float]) -> tuple[int, int]:
    """The grid cell a place is in."""
    return math.floor(place[0] / CELL_DEGREES), math.floor(place[1] / CELL_DEGREES)


def usual_places_of_weeks(weeks: Mapping[tuple[int, int], Mapping[tuple[int, int], int]]
                          ) -> list[tuple[float, float]]:
    """The usual places from the weeks (ISO year, week) photographed in each cell, in cell
    order."""
    if not weeks:
        return []
    most = max(len(w) for w in weeks.values())
    return [((y + 0.5) * CELL_DEGREES, (x + 0.5) * CELL_DEGREES)
            for (y, x), w in sorted(weeks.items()) if len(w) >= USUAL_SHARE * most]


def middle(points: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """The median point (robust to a stray fix)."""
    if not points:
        return None
    lats, lons = sorted(p[0] for p in points), sorted(p[1] for p in points)
    return lats[len(lats) // 2], lons[len(lons) // 2]


def is_away(place: tuple[float, float] | None, usual: Sequence[tuple[float, float]]) -> bool:
    """Far from every usual place (False without a place or without usual places)."""
    if place is None or not usual:
        return False
    return all(distance_km(place, home) > AWAY_KM for home in usual)
