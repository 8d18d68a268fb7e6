"""Deterministic clocks for the state tests."""

from __future__ import annotations


class TickingClock:
    """A wall clock that ticks one second per reading, so "newest" is unambiguous."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        self.now += 1.0
        return self.now
