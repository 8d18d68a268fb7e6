"""The watchers beside the intake, run by the loop between batches: the library (learning from
the user's moves, daemon/teaching.py), albums (daemon/albums.py) and late companions
(daemon/companions.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol


def earliest(*deadlines: float | None) -> float | None:
    """The earliest of these times, None standing for "nothing due"."""
    due = [d for d in deadlines if d is not None]
    return min(due) if due else None


def both(first: Callable[..., Any], second: Callable[..., Any]) -> Callable[..., None]:
    """One callback that calls two (a filed photo tells duplicates and albums)."""
    def call(*args: Any) -> None:
        first(*args)
        second(*args)
    return call


class SideWatcher(Protocol):
    """What the loop needs of one."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def step(self) -> None: ...

    def next_deadline(self) -> float | None: ...


class SideWatchers:
    """Several side watchers as one."""

    def __init__(self, watchers: Sequence[SideWatcher]) -> None:
        self.watchers = list(watchers)

    def start(self) -> None:
        """Start every one."""
        for watcher in self.watchers:
            watcher.start()

    def stop(self) -> None:
        """Stop every one."""
        for watcher in self.watchers:
            watcher.stop()

    def step(self) -> None:
        """Let each do what has become due."""
        for watcher in self.watchers:
            watcher.step()

    def next_deadline(self) -> float | None:
        """The earliest time (monotonic) one of them has something to do."""
        return earliest(*(w.next_deadline() for w in self.watchers))
