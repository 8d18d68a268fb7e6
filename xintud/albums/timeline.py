"""The timeline the albums are made of, kept up to date photo by photo: adding, removing or
moving one photo re-splits only the events around it and renames only the albums it changed,
so a library of 100,000 photos updates in milliseconds instead of being regrouped.

Why that is exact (the same albums as grouping everything anew): whether a gap splits two
events depends only on the WINDOW gaps either side of it (events.py), so a change can only
move boundaries within WINDOW + 1 photos of it; those photos' events are re-split with their
neighbours as context, and the boundaries at the edges of what is re-split stay as they were.
Trips join consecutive away events pairwise (build.py), so they are re-made from the events.

An album keeps its id while it keeps most of its photos — when a trip grows by a day, or an
event splits in two (the larger part keeps it) — which is what the folder in `Albums/` is known
by, so a folder the user renamed stays theirs as the album changes.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left, bisect_right, insort
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import repeat
from pathlib import Path

from xintud.albums.build import Album, make_album
from xintud.albums.events import WINDOW, order_key, split_between, split_events
from xintud.albums.geocode import Gazetteer
from xintud.albums.moments import Moment
from xintud.albums.places import cell_of, is_away, middle, usual_places_of_weeks

REACH = WINDOW + 2  # photos either side of a change whose events are re-split


def build_albums(moments: Sequence[Moment], gazetteer: Gazetteer | None = None
                 ) -> list[Album]:
    """Every photo in exactly one album, albums in time order."""
    return Timeline(gazetteer).load(moments)


def name_of(moment: Moment) -> str:
    """What a photo is known by on the timeline."""
    return moment.key or str(moment.path)


@dataclass(eq=False)
class Event:
    """Photos taken together, in time order (compared by identity: a re-split makes new ones)."""

    moments: list[Moment]
    centre: tuple[float, float] | None = None
    away: bool = False

    @classmethod
    def of(cls, moments: list[Moment]) -> Event:
        """An event with its middle point."""
        return cls(moments, middle([m.gps for m in moments if m.gps]))


@dataclass
class Change:
    """What one update changed: albums to show anew, ids of albums that are no more."""

    shown: list[Album] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)


class Timeline:
    """Events and albums of a set of photos, updated one photo at a time."""

    def __init__(self, gazetteer: Gazetteer | None = None) -> None:
        self.gazetteer = gazetteer or Gazetteer()
        self._events: list[Event] = []
        self._firsts: list[tuple[datetime, str]] = []  # order key of each event's first photo
        self._weeks: dict[tuple[int, int], Counter[tuple[int, int]]] = defaultdict(Counter)
        self._usual: list[tuple[float, float]] = []
        self._albums: list[Album] = []
        self._album_firsts: list[tuple[datetime, str]] = []  # order key of each album's first
        self._pending = Change()
        self._album_of: dict[str, str] = {}  # photo → id of its album
        self._by_id: dict[str, Album] = {}

    def load(self, moments: Iterable[Moment], known: Mapping[str, str] | None = None
             ) -> list[Album]:
        """Start from these photos; `known` (photo → album id, e.g. read back from the
        folders) lets albums keep the ids they had."""
        moments = list(moments)
        self._album_of = dict(known or {})
        self._events = [Event.of(e) for e in split_events(moments)]
        self._firsts = [order_key(e.moments[0]) for e in self._events]
        self._weeks = defaultdict(Counter)
        for moment in moments:
            self._count_week(moment, 1)
        self._usual = usual_places_of_weeks(self._weeks)
        for event in self._events:
            event.away = is_away(event.centre, self._usual)
        self._albums, self._album_firsts, self._by_id = [], [], {}
        self._regroup_around(0, len(self._events))
        self._pending = Change()
        return self.albums

    @property
    def albums(self) -> list[Album]:
        """Every album, in time order; every photo in exactly one."""
        return list(self._albums)

    def __len__(self) -> int:
        return sum(len(e.moments) for e in self._events)

    def add(self, moment: Moment) -> Change:
        """A photo joins (one already there under its name is replaced)."""
        self._take_out(name_of(moment))
        self._count_week(moment, 1)
        self._resplit(order_key(moment), lambda region: insort(region, moment, key=order_key))
        return self._settle()

    def remove(self, name: str) -> Change:
        """A photo leaves (taken back, deleted); nothing when it is not there."""
        return self._settle() if self._take_out(name) else Change()

    def replace(self, name: str, **changes: object) -> Change:
        """A photo moved or was corrected: same moment, another path or category."""
        found = self._find(name)
        if found is None:
            return Change()
        at, index = found
        event = self._events[at]
        moments = list(event.moments)
        moments[index] = replace(moments[index], **changes)  # type: ignore[arg-type]
        self._put_events(at, at + 1, [Event(moments, event.centre, event.away)])
        return self._settle()

    def album_of(self, name: str) -> Album | None:
        """The album a photo is in, by the photo's name."""
        return self._by_id.get(self._album_of.get(name, ""))

    def paths(self) -> dict[str, Path]:
        """Where each photo on it is, by its name."""
        return {name_of(m): m.path for e in self._events for m in e.moments}

    # the events

    def _take_out(self, name: str) -> bool:
        found = self._find(name)
        if found is None:
            return False
        gone = self._events[found[0]].moments[found[1]]
        self._count_week(gone, -1)
        self._resplit(order_key(gone), lambda region: region.remove(gone))
        return True

    def _find(self, name: str) -> tuple[int, int] | None:
        """(index of its event, its index in the event)."""
        album = self.album_of(name)
        if album is None:  # every photo on the timeline is in an album
            return None
        first = max(bisect_right(self._firsts, order_key(album.members[0])) - 1, 0)
        last = bisect_right(self._firsts, order_key(album.members[-1]))
        for at in range(first, last):
            for index, moment in enumerate(self._events[at].moments):
                if name_of(moment) == name:
                    return at, index
        return None

    def _resplit(self, at: tuple[datetime, str], edit: Callable[[list[Moment]], None]) -> None:
        """Apply `edit` to the photos around `at`, split them anew into events and re-make
        the albums around them. The photos re-split are REACH either side of `at`, even
        inside a long event (a day of undated photos is one): the events cut at either end
        keep their photos beyond, as nothing there can have changed."""
        if not self._events:
            region: list[Moment] = []
            edit(region)
            self._put_events(0, 0, self._events_of(split_between(region)))
            return
        e = max(bisect_right(self._firsts, at) - 1, 0)
        here = (e, bisect_left(self._events[e].moments, at, key=order_key))
        low, high = self._back(here, REACH), self._on(here, REACH + 1)
        region = self._between(low, high)
        edit(region)
        parts = split_between(region, self._between(self._back(low, REACH), low),
                              self._between(high, self._on(high, REACH)))
        head = self._events[low[0]].moments[:low[1]]
        tail = self._events[high[0]].moments[high[1]:]
        if head:  # the gap before the region was within an event, and still is
            parts[0][:0] = head
        if tail:
            parts[-1].extend(tail)
        self._put_events(low[0], high[0] + 1, self._events_of(parts))

    def _events_of(self, parts: list[list[Moment]]) -> list[Event]:
        events = [Event.of(part) for part in parts]
        for event in events:
            event.away = is_away(event.centre, self._usual)
        return events

    def _back(self, at: tuple[int, int], count: int) -> tuple[int, int]:
        """The place `count` photos before (event, index) `at`, or the timeline's start."""
        e, i = at
        while i < count and e > 0:
            count -= i
            e -= 1
            i = len(self._events[e].moments)
        return e, max(i - count, 0)

    def _on(self, at: tuple[int, int], count: int) -> tuple[int, int]:
        """The place `count` photos after (event, index) `at`, or the timeline's end."""
        e, i = at
        while len(self._events[e].moments) - i < count and e < len(self._events) - 1:
            count -= len(self._events[e].moments) - i
            e, i = e + 1, 0
        return e, min(i + count, len(self._events[e].moments))

    def _between(self, start: tuple[int, int], end: tuple[int, int]) -> list[Moment]:
        """The photos from place `start` up to place `end`, in time order."""
        (e0, i0), (e1, i1) = start, end
        if e0 == e1:
            return self._events[e0].moments[i0:i1]
        return [*self._events[e0].moments[i0:],
                *(m for event in self._events[e0 + 1:e1] for m in event.moments),
                *self._events[e1].moments[:i1]]

    def _put_events(self, low: int, end: int, events: list[Event]) -> None:
        """Events [low:end) are replaced by `events`; the albums around them re-made."""
        self._events[low:end] = events
        self._firsts[low:end] = [order_key(e.moments[0]) for e in events]
        self._regroup_around(low, low + len(events))

    def _count_week(self, moment: Moment, by: int) -> None:
        if moment.gps is None:
            return
        cell = cell_of(moment.gps)
        week = moment.taken.isocalendar()[:2]
        self._weeks[cell][week] += by
        if self._weeks[cell][week] <= 0:
            del self._weeks[cell][week]
            if not self._weeks[cell]:
                del self._weeks[cell]

    # the albums

    def _settle(self) -> Change:
        """What the edits since the last call changed (all albums re-made when the usual
        places moved: rare once there is a history)."""
        usual = usual_places_of_weeks(self._weeks)
        if usual != self._usual:
            self._usual = usual
            for event in self._events:
                event.away = is_away(event.centre, usual)
            self._regroup_around(0, len(self._events))
        change, self._pending = self._pending, Change()
        current = [self._by_id.get(a.id) for a in change.shown]
        return Change(shown=[a for a, now in zip(change.shown, current, strict=True)
                             if now is a],
                      gone=sorted(set(change.gone) - set(self._by_id)))

    def _regroup_around(self, low: int, end: int) -> None:
        """Re-make the albums of the runs that events [low:end) (new ones) and their
        neighbours are in: trips join consecutive events pairwise, so whole runs are re-made
        and the albums before and after them stay as they are."""
        first, last = max(low - 1, 0), min(end, len(self._events) - 1)
        while first > 0 and _joined(self._events[first - 1], self._events[first]):
            first -= 1
        while 0 <= last < len(self._events) - 1 and _joined(self._events[last],
                                                            self._events[last + 1]):
            last += 1
        span = self._events[first:last + 1]
        # The span's first and last events are old ones, which begin and end albums — except
        # at either end of the timeline, where they may be new.
        a_low = 0 if first == 0 or not span else \
            bisect_left(self._album_firsts, order_key(span[0].moments[0]))
        a_end = len(self._albums) if last >= len(self._events) - 1 or not span else \
            bisect_right(self._album_firsts, order_key(span[-1].moments[-1]))
        old = self._albums[a_low:a_end]
        for album in old:
            del self._by_id[album.id]
        albums = self._make_albums(_runs(span), set(self._by_id))
        self._albums[a_low:a_end] = albums
        self._album_firsts[a_low:a_end] = [order_key(a.members[0]) for a in albums]
        self._by_id.update((a.id, a) for a in albums)
        self._pending.shown.extend(albums)
        self._pending.gone.extend(a.id for a in old)

    def _make_albums(self, runs: Sequence[tuple[str, Sequence[Event]]], taken: set[str]
                     ) -> list[Album]:
        """Make these albums, each keeping the id of the album most of its photos were in
        (the album with the larger share wins it)."""
        albums = [make_album(kind, [m for e in events for m in e.moments], self.gazetteer)
                  for kind, events in runs]
        # map() and zip() keep these per-photo passes out of Python bytecode: a day of
        # undated photos is one album of thousands, voted on for every photo added to it.
        names = [list(map(name_of, album.members)) for album in albums]
        claims = []
        for index, album_names in enumerate(names):
            votes = Counter(map(self._album_of.get, album_names))
            votes.pop(None, None)
            claims += [(count, index, old) for old, count in votes.items()]
        ids: dict[int, str] = {}
        for _count, index, old in sorted(claims, reverse=True):
            if index not in ids and old not in taken:
                ids[index] = old
                taken.add(old)
        for index, album in enumerate(albums):
            if index not in ids:
                ids[index] = _new_id(album, taken)
                taken.add(ids[index])
            albums[index] = replace(album, id=ids[index])
            self._album_of.update(zip(names[index], repeat(ids[index])))
        return albums


def _runs(events: Sequence[Event]) -> list[tuple[str, tuple[Event, ...]]]:
    """Consecutive away events close in time make a trip when they span over a day; every
    other event is an album of its own."""
    runs: list[list[Event]] = []
    for event in events:
        if runs and _joined(runs[-1][-1], event):
            runs[-1].append(event)
        else:
            runs.append([event])
    albums: list[tuple[str, tuple[Event, ...]]] = []
    for run in runs:
        if run[0].away and _days(run) > 1:
            albums.append(("trip", tuple(run)))
        else:
            albums.extend(("event", (event,)) for event in run)
    return albums


def _joined(previous: Event, event: Event) -> bool:
    """Both away and at most two days apart: one run (a trip, if it spans over a day)."""
    return previous.away and event.away and \
        (event.moments[0].taken - previous.moments[-1].taken).days <= 2


def _new_id(album: Album, taken: set[str]) -> str:
    first = name_of(album.members[0])
    for n in range(1000):
        text = f"{album.kind}:{first}" + (f":{n}" if n else "")
        album_id = hashlib.sha1(text.encode()).hexdigest()[:12]
        if album_id not in taken:
            return album_id
    raise ValueError(f"no free id for the album of {first}")


def _days(run: Sequence[Event]) -> int:
    return (run[-1].moments[-1].taken.date() - run[0].moments[0].taken.date()).days + 1
