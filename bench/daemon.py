"""The daemon end to end, as a real subprocess in a private tree.

Measures, in order: RSS at start (no model loaded yet); latency from a photo's last write to its
filing at idle, minus the configured settle time (the first photo loads the models, the next
ones find them loaded, one more arrives after the idle unload); RSS once the models are
unloaded; CPU used over an idle minute; `xintuctl status` start time against the live daemon;
throughput while it clears a backlog; peak RSS over the whole run.

A photo is "filed" when it leaves the watch folder: the bench config moves photos, and a move
within one filesystem is one rename.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.data import backlog, distinct_copy
from bench.measure import cpu_seconds, load_average, median, peak_rss_mib, percentile, rss_mib
from bench.startup import ctl_status_start
from tests.support.daemon_tree import DaemonTree, wait_for

POLL_S = 0.002  # how often the source file is checked for having been filed


@dataclass(frozen=True)
class DaemonSettings:
    """The [daemon] table the bench runs with."""

    settle_seconds: float = 2.0
    idle_unload_seconds: float = 8.0
    batch_size: int = 8
    batch_max_wait_seconds: float = 0.5


@dataclass
class BenchTree(DaemonTree):
    """The tests' daemon tree (tests/support/daemon_tree.py), paced as the bench runs."""

    settings: DaemonSettings = field(default_factory=lambda: DaemonSettings())

    def __post_init__(self) -> None:
        super().__post_init__()
        self.write_config(daemon={**asdict(self.settings), "reconcile_interval_seconds": 0})


def models_loaded(tree: BenchTree) -> bool:
    """Whether the daemon's log says the models are loaded right now."""
    text = tree.log.read_text(errors="replace") if tree.log.exists() else ""
    return text.rfind("models loaded") > text.rfind("models unloaded")


def file_one(tree: BenchTree, source: Path, name: str, timeout: float = 120.0) -> float:
    """Write one photo into the watch folder; seconds from its last write until it is filed."""
    target = tree.camera / name
    distinct_copy(source, target, f"xintud-bench {name} {time.time()}")
    written = time.monotonic()
    deadline = written + timeout
    while target.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} was not filed within {timeout:.0f} s: {tree.tail()}")
        time.sleep(POLL_S)
    return time.monotonic() - written


def idle_latencies(tree: BenchTree, sources: Sequence[Path], count: int, gap: float
                   ) -> list[float]:
    """Latency (minus settle) of `count` photos arriving one at a time, `gap` s apart."""
    settle = tree.settings.settle_seconds
    out = []
    for i in range(count):
        out.append(file_one(tree, sources[i % len(sources)], f"IMG_L{i:04d}.jpg") - settle)
        time.sleep(gap)
    return out


def clear_backlog(tree: BenchTree, sources: Sequence[Path], count: int, staging: Path
                  ) -> dict[str, object]:
    """Pause, drop `count` photos in, resume; photos per second until the folder is empty."""
    files = backlog(sources, staging, count)
    if tree.ctl("pause").returncode != 0:
        raise RuntimeError(f"xintuctl pause failed: {tree.tail()}")
    for path in files:
        path.rename(tree.camera / path.name)  # same filesystem: each arrives whole, at once
    time.sleep(tree.settings.settle_seconds + 1.0)  # let every one settle and be queued
    started = time.monotonic()
    load = load_average()
    if tree.ctl("resume").returncode != 0:
        raise RuntimeError(f"xintuctl resume failed: {tree.tail()}")

    def remaining() -> int:
        return sum(1 for entry in os.scandir(tree.camera) if entry.is_file())

    wait_for(lambda: remaining() == 0, timeout=max(600.0, count * 1.0),
             what=f"a backlog of {count} photos to clear", interval=0.25)
    elapsed = time.monotonic() - started
    return {"photos": count, "seconds": round(elapsed, 2),
            "photos_per_s": round(count / elapsed, 2),
            "load_average_1min": [load, load_average()]}


def run(camera_files: Sequence[Path], quick: bool, backlog_count: int,
        settings: DaemonSettings | None = None) -> dict[str, object]:
    """The whole daemon section; returns its figures."""
    settings = settings or DaemonSettings()
    base = Path(tempfile.mkdtemp(prefix="xintud-bench-daemon-"))
    tree = BenchTree(base, settings)
    process = tree.start()
    pid = process.pid
    result: dict[str, object] = {"settings": settings.__dict__}
    try:
        time.sleep(2.0)
        result["rss_start_mib"] = round(rss_mib(pid), 1)
        first = idle_latencies(tree, camera_files, 1, gap=0.5)
        warm = idle_latencies(tree, camera_files[1:], 5 if quick else 20, gap=1.0)
        result["latency_minus_settle_s"] = {
            "first_photo_loading_models": round(first[0], 3),
            "warm_p50": round(median(warm), 3),
            "warm_p95": round(percentile(warm, 0.95), 3),
            "warm_max": round(max(warm), 3),
            "photos": len(warm),
            "load_average_1min": load_average(),
        }
        wait_for(lambda: not models_loaded(tree), settings.idle_unload_seconds + 30,
                 interval=0.05, what="the models to be unloaded")
        time.sleep(1.0)
        result["rss_idle_after_unload_mib"] = round(rss_mib(pid), 1)
        idle_window = 20.0 if quick else 60.0
        cpu0 = cpu_seconds(pid)
        time.sleep(idle_window)
        result["idle_cpu_s_per_min"] = round((cpu_seconds(pid) - cpu0) * 60.0 / idle_window, 3)
        result["idle_window_s"] = idle_window
        result["rss_idle_after_minute_mib"] = round(rss_mib(pid), 1)
        reload = idle_latencies(tree, camera_files[2:], 1, gap=0.5)
        result["latency_minus_settle_s"]["after_idle_unload"] = round(reload[0], 3)
        result["xintuctl_status"] = ctl_status_start(tree.env(), 5 if quick else 10)
        result["backlog"] = clear_backlog(tree, camera_files, backlog_count, base / "staging")
        result["rss_peak_mib"] = round(peak_rss_mib(pid), 1)
    finally:
        tree.stop(process)
        tree.remove()
    return result
