"""Where events are split: at the gaps in time that stand out from how densely the person
shoots around them (after PhotoTOC, Platt et al. 2003): a gap is a boundary when it is at
least MIN_GAP and FACTOR times the typical gap of the WINDOW shots on either side, and always
from HARD_GAP on. Someone who shoots a burst every minute at a party and someone who takes one
photo an hour on a walk both get their outing as one event.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from statistics import median

from xintud.albums.moments import Moment

MIN_GAP = timedelta(minutes=45)
HARD_GAP = timedelta(hours=8)
FACTOR = 8.0
WINDOW = 6


def order_key(moment: Moment) -> tuple[datetime, str]:
    """Where a photo sits on the timeline: by time, then by what names it."""
    return moment.taken, moment.key or str(moment.path)


def split_events(moments: Sequence[Moment]) -> list[list[Moment]]:
    """The photos as events, each in time order, the events in time order; every photo in
    exactly one."""
    return split_between(sorted(moments, key=order_key))


def split_between(ordered: Sequence[Moment], before: Sequence[Moment] = (),
                  after: Sequence[Moment] = ()) -> list[list[Moment]]:
    """`ordered` (in time order) as events, as they would be split on the whole timeline
    given its neighbours there: `before` and `after` (in time order, at least WINDOW + 1 of
    them where the timeline has them) only count for the typical gap near the edges."""
    if not ordered:
        return []
    around = [*before, *ordered, *after]
    gaps = [(b.taken - a.taken).total_seconds() for a, b in zip(around, around[1:],
                                                               strict=False)]
    events, current = [], [ordered[0]]
    for index in range(1, len(ordered)):
        if _is_boundary(gaps, len(before) + index - 1):
            events.append(current)
            current = []
        current.append(ordered[index])
    events.append(current)
    return events


def _is_boundary(gaps: list[float], index: int) -> bool:
    gap = gaps[index]
    if gap >= HARD_GAP.total_seconds():
        return True
    if gap < MIN_GAP.total_seconds():
        return False
    around = gaps[max(0, index - WINDOW):index] + gaps[index + 1:index + 1 + WINDOW]
    typical = median(around) if around else 0.0
    return gap >= FACTOR * max(typical, 60.0)
