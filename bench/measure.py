"""Small measuring tools: medians, percentiles, CPU time, RSS and the machine's load."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence."""
    return float(statistics.median(values))


def percentile(values: Sequence[float], fraction: float) -> float:
    """The fraction-th percentile (0..1) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def load_average() -> float:
    """The 1-minute load average: the benchmark shares the machine, so every figure carries it."""
    return round(os.getloadavg()[0], 2)


@dataclass(frozen=True)
class Timed:
    """Wall and CPU seconds of one timed call (CPU: this process, all threads)."""

    wall: float
    cpu: float


def timed(action: Callable[[], object]) -> Timed:
    """Run action once, measuring wall and process CPU time."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    action()
    return Timed(time.perf_counter() - wall0, time.process_time() - cpu0)


def _status_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def rss_mib(pid: int | None = None) -> float:
    """Resident set size now, MiB."""
    return _status_kib(pid or os.getpid(), "VmRSS") / 1024


def peak_rss_mib(pid: int | None = None) -> float:
    """Peak resident set size since the process started, MiB."""
    return _status_kib(pid or os.getpid(), "VmHWM") / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (all its threads)."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (3rd field of stat); utime and stime are the 14th and 15th.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
