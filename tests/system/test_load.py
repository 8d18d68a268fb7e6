"""Load: 10,000 photos dropped into a watch folder at once, through the real daemon.

While the daemon works through the backlog we sample its memory every second, ask `status` over
the raw socket again and again (timing the daemon, not a Python start), hit it with 50 concurrent
`xintuctl` processes and 50 concurrent socket clients, and keep a few clients connected that say
nothing. At the end every photo must be in the library exactly once, and the figures are printed
(run with `-s`, or read them in the CI log: they are printed past pytest's capture). A second,
shorter test times watch → settle → queue alone, with 10,000 paths pending in the settler.
"""

from __future__ import annotations

import io
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import ImageDraw

from tests.support.control_socket import ask, connect, socket_path
from tests.support.daemon_tree import DaemonTree, sha256, wait_for
from tests.support.images import scene

pytestmark = pytest.mark.slow

FILE_COUNT = 10_000
IMAGE_SIZE = (64, 48)
# ~15-30 photos/s on two shared cores makes 10,000 take 6-12 minutes; this only catches a hang.
FILING_TIMEOUT_S = 45 * 60
STATUS_INTERVAL_S = 0.2
STATUS_P95_LIMIT_S = 0.200
STORM_STATUS_P95_LIMIT_S = 2.0
# Observed: the RSS rises once, by ~460 MB, when the models load with the first batch, then moves
# by a few MB for the rest of the backlog. A leak of even 10 KB per photo would add ~100 MB.
RSS_GROWTH_LIMIT_MB = 48.0
CONCURRENT_CLIENTS = 50
SILENT_CLIENTS = 5
IDLE_TIMEOUT_S = 60.0  # xintud.control.DEFAULT_IDLE_TIMEOUT_S: silent clients are dropped then
BURST_AFTER_PROCESSED = 1000
BATCH_SIZE = 8  # the daemon's default batch_size


def distinct_jpeg(index: int) -> bytes:
    """A tiny drawn JPEG whose content differs for every index (16 bits drawn as black blocks)."""
    image = scene(IMAGE_SIZE, seed=index)
    draw = ImageDraw.Draw(image)
    for bit in range(16):
        if index >> bit & 1:
            x, y = (bit % 8) * 8, 32 + (bit // 8) * 8
            draw.rectangle((x, y, x + 7, y + 7), fill=(0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def write_staging(staging: Path, count: int) -> dict[str, str]:
    """Write `count` distinct JPEGs into `staging`; return file name -> sha256."""
    staging.mkdir(parents=True)
    names: dict[str, str] = {}
    for index in range(count):
        path = staging / f"IMG_{index:05d}.jpg"
        path.write_bytes(distinct_jpeg(index))
        names[path.name] = sha256(path)
    return names


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process in MiB (VmRSS), None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Sampler(threading.Thread):
    """Calls `sample()` every `interval` seconds until stopped."""

    def __init__(self, interval: float, sample: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.sample = sample
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.sample()
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=30)


@dataclass
class Observations:
    """What the samplers saw, with monotonic timestamps."""

    rss: list[tuple[float, float]] = field(default_factory=list)
    status_seconds: list[float] = field(default_factory=list)
    status_errors: list[str] = field(default_factory=list)
    last_status: dict[str, object] = field(default_factory=dict)
    max_queue: int = 0
    all_queued_at: float | None = None


def sample_rss(pid: int, seen: Observations) -> Callable[[], None]:
    def sample() -> None:
        value = rss_mb(pid)
        if value is not None:
            seen.rss.append((time.monotonic(), value))
    return sample


def probe_status(path: Path, seen: Observations, expected: int) -> Callable[[], None]:
    def sample() -> None:
        try:
            reply, seconds = ask(path, "status")
        except (OSError, ValueError, AssertionError) as exc:
            seen.status_errors.append(f"{type(exc).__name__}: {exc}")
            return
        if not reply.get("ok"):
            seen.status_errors.append(str(reply))
            return
        seen.status_seconds.append(seconds)
        result = reply["result"]
        seen.last_status = result
        seen.max_queue = max(seen.max_queue, int(result["queue"]))
        # status's queue leaves out the batch in flight (at most batch_size, 8 by default)
        queued_or_done = result["queue"] + result["processed"] + BATCH_SIZE
        if seen.all_queued_at is None and queued_or_done >= expected:
            seen.all_queued_at = time.monotonic()
    return sample


def open_silent_clients(path: Path) -> list[socket.socket]:
    """Clients that connect and say nothing, and one that stops half-way through a request."""
    clients = [connect(path) for _ in range(SILENT_CLIENTS)]
    half = connect(path)
    half.sendall(b'{"cmd": "sta')
    return [*clients, half]


def closed_by_daemon(sock: socket.socket) -> bool:
    """True when the daemon has hung up on this client (it drops idle ones after 60 s)."""
    sock.settimeout(5.0)
    try:
        return sock.recv(65536) == b""
    except (TimeoutError, ConnectionResetError):
        return False
    finally:
        sock.close()


def run_xintuctl_burst(tree: DaemonTree) -> tuple[float, list[str]]:
    """Start CONCURRENT_CLIENTS xintuctl processes at once; return (seconds, failures)."""
    commands = [["--json", "status"], ["status"], ["recent", "-n", "5"]]
    started = time.monotonic()
    processes = [
        subprocess.Popen([sys.executable, "-m", "xintud.cli.xintuctl",
                          *commands[i % len(commands)]],
                         env=tree.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
        for i in range(CONCURRENT_CLIENTS)
    ]
    failures = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        if process.returncode != 0:
            failures.append(f"exit {process.returncode}: {err.strip() or out.strip()}")
    return time.monotonic() - started, failures


def run_socket_burst(path: Path) -> tuple[float, list[str]]:
    """CONCURRENT_CLIENTS threads, each asking status, recent and status on its own
    connections, all at once; return (seconds, failures)."""
    barrier = threading.Barrier(CONCURRENT_CLIENTS)

    def client(_: int) -> list[str]:
        barrier.wait(timeout=30)
        problems = []
        for cmd, args in (("status", None), ("recent", {"limit": 5}), ("status", None)):
            try:
                reply, _seconds = ask(path, cmd, args, timeout=30)
            except (OSError, ValueError, AssertionError) as exc:
                problems.append(f"{cmd}: {type(exc).__name__}: {exc}")
                continue
            if not reply.get("ok"):
                problems.append(f"{cmd}: {reply}")
        return problems

    started = time.monotonic()
    with ThreadPoolExecutor(CONCURRENT_CLIENTS) as pool:
        failures = [p for problems in pool.map(client, range(CONCURRENT_CLIENTS)) for p in problems]
    return time.monotonic() - started, failures


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def report(capsys: pytest.CaptureFixture[str], lines: list[str]) -> None:
    """Print figures past pytest's capture, so a CI log shows them for a passing test too."""
    with capsys.disabled():
        print("\n" + "\n".join(f"[load] {line}" for line in lines), flush=True)


def test_ten_thousand_photos_dropped_at_once(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    tree = DaemonTree(tmp_path)
    tree.write_config()
    began = time.monotonic()
    originals = write_staging(tmp_path / "staging", FILE_COUNT)
    assert len(set(originals.values())) == FILE_COUNT, "the generated photos must all differ"
    generated_s = time.monotonic() - began

    daemon = tree.start()
    control = socket_path(tree)
    seen = Observations()
    samplers = [Sampler(1.0, sample_rss(daemon.pid, seen)),
                Sampler(STATUS_INTERVAL_S, probe_status(control, seen, FILE_COUNT))]
    silent = open_silent_clients(control)
    silent_since = time.monotonic()
    try:
        for sampler in samplers:
            sampler.start()
        dropped_at = time.monotonic()
        for name in originals:  # one burst of renames into the watched folder
            os.rename(tmp_path / "staging" / name, tree.camera / name)
        drop_s = time.monotonic() - dropped_at

        wait_for(lambda: int(seen.last_status.get("processed", 0)) >= BURST_AFTER_PROCESSED,
                 timeout=FILING_TIMEOUT_S, interval=0.5, what="the first photos filed")
        before_burst = int(seen.last_status["processed"])
        xintuctl_s, xintuctl_failures = run_xintuctl_burst(tree)
        socket_s, socket_failures = run_socket_burst(control)
        wait_for(lambda: int(seen.last_status.get("processed", 0)) > before_burst + 50,
                 timeout=120, interval=0.5, what="filing to go on after the client bursts")

        def finished() -> bool:
            if daemon.poll() is not None:
                raise AssertionError(f"daemon died ({daemon.returncode}):\n{tree.logs()[-3000:]}")
            return int(seen.last_status.get("processed", 0)) >= FILE_COUNT
        wait_for(finished, timeout=FILING_TIMEOUT_S, interval=1.0,
                 what=f"{FILE_COUNT} photos processed")
        done_at = time.monotonic()
        for sampler in samplers:
            sampler.stop()
        time.sleep(max(0.0, silent_since + IDLE_TIMEOUT_S + 5 - time.monotonic()))
        silent_closed = [closed_by_daemon(sock) for sock in silent]
        final, _ = ask(control, "status")
    finally:
        for sampler in samplers:
            sampler.stopped.set()
        for sock in silent:
            sock.close()
        code = tree.stop(daemon, timeout=60)

    took_s = done_at - dropped_at
    during = [(t, mb) for t, mb in seen.rss if dropped_at <= t <= done_at]
    middle = dropped_at + took_s / 2
    first_half = max(mb for t, mb in during if t < middle)
    second_half = max(mb for t, mb in during if t >= middle)
    latencies = seen.status_seconds
    p50, p95 = percentile(latencies, 0.50), percentile(latencies, 0.95)
    report(capsys, [
        f"{FILE_COUNT} photos of {IMAGE_SIZE[0]}x{IMAGE_SIZE[1]}: generated in "
        f"{generated_s:.1f} s, dropped (renamed in) in {drop_s:.2f} s",
        f"all queued (but one batch) {((seen.all_queued_at or done_at) - dropped_at):.1f} s "
        f"after the drop; "
        f"largest queue seen {seen.max_queue}",
        f"filed in {took_s:.0f} s = {FILE_COUNT / took_s:.1f} photos/s",
        f"RSS: {seen.rss[0][1]:.0f} MB at start, first-half max {first_half:.0f} MB, "
        f"second-half max {second_half:.0f} MB, peak {max(mb for _, mb in seen.rss):.0f} MB, "
        f"{len(seen.rss)} samples",
        f"status over the socket: {len(latencies)} answers, p50 {p50 * 1000:.1f} ms, "
        f"p95 {p95 * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms, "
        f"mean {statistics.fmean(latencies) * 1000:.1f} ms, {len(seen.status_errors)} errors",
        f"{CONCURRENT_CLIENTS} concurrent xintuctl processes answered in {xintuctl_s:.1f} s; "
        f"{CONCURRENT_CLIENTS} concurrent socket clients x 3 requests in {socket_s:.1f} s",
    ])

    assert code == 0, tree.logs()[-3000:]
    assert not xintuctl_failures, xintuctl_failures[:5]
    assert not socket_failures, socket_failures[:5]
    assert not seen.status_errors, seen.status_errors[:5]
    assert all(silent_closed), "silent clients must be dropped after the idle timeout"
    assert p95 < STATUS_P95_LIMIT_S, f"status p95 {p95 * 1000:.0f} ms"
    assert second_half - first_half < RSS_GROWTH_LIMIT_MB, (
        f"RSS grew from {first_half:.0f} MB to {second_half:.0f} MB during the backlog")

    assert final["ok"], final
    status = final["result"]
    assert (status["queue"], status["processed"], status["failed"], status["skipped"]) == (
        0, FILE_COUNT, 0, 0)

    left = [p.name for p in tree.camera.iterdir()]
    assert left == [], f"{len(left)} photos left in the watch folder, e.g. {left[:5]}"
    filed = tree.library_files()
    assert len(filed) == FILE_COUNT
    assert sorted(p.name for p in filed) == sorted(originals)
    assert sorted(sha256(p) for p in filed) == sorted(originals.values())

    expected_lines = Counter(list(originals))
    filed_lines = Counter(re.findall(r"^INFO filed (\S+) -> ", tree.logs(), flags=re.MULTILINE))
    assert filed_lines == expected_lines, (
        "each photo must be logged as filed exactly once; extra or missing: "
        f"{list((filed_lines - expected_lines) + (expected_lines - filed_lines))[:5]}")


def test_ten_thousand_paths_settle_into_the_queue(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The settler holding 10,000 paths: with processing paused, only watch → settle → queue
    runs, so this times that part of the loop alone (each wake scans the pending paths)."""
    tree = DaemonTree(tmp_path)
    tree.write_config()
    originals = write_staging(tmp_path / "staging", FILE_COUNT)
    daemon = tree.start()
    control = socket_path(tree)
    try:
        paused, _ = ask(control, "pause")
        assert paused["ok"], paused
        dropped_at = time.monotonic()
        for name in originals:
            os.rename(tmp_path / "staging" / name, tree.camera / name)
        latencies: list[float] = []

        def all_queued() -> bool:
            reply, seconds = ask(control, "status")
            latencies.append(seconds)
            return reply["result"]["queue"] == FILE_COUNT
        wait_for(all_queued, timeout=120, interval=0.05, what=f"{FILE_COUNT} photos queued")
        took_s = time.monotonic() - dropped_at
        rss = rss_mb(daemon.pid)
    finally:
        assert tree.stop(daemon) == 0, tree.logs()
    report(capsys, [f"paused daemon: {FILE_COUNT} dropped photos queued in {took_s:.1f} s; "
                    f"status p95 {percentile(latencies, 0.95) * 1000:.1f} ms, max "
                    f"{max(latencies) * 1000:.1f} ms over {len(latencies)} asks; RSS {rss:.0f} MB"])
    # Observed 2-3 s (settle_seconds is 0.5): a loop whose every wake cost grew with the number
    # of pending paths would take minutes here.
    assert took_s < 30
    # Status p95 while 10,000 inotify events pour in was 35-300 ms on two cores shared with
    # other jobs (the watcher thread is busy in Python), 280-580 ms on 2026-12-03 and 1.1-1.3 s
    # in two CI runs (p95 of 11-38 asks is nearly their maximum; the queue now takes the paths
    # 500 to a transaction, max 500-620 ms against 800-860 ms in one). Only a real stall (the
    # loop holding the database for seconds) fails here; the 200 ms figure is checked over the
    # whole backlog in the test above.
    assert percentile(latencies, 0.95) < STORM_STATUS_P95_LIMIT_S
    assert sorted(p.name for p in tree.camera.iterdir()) == sorted(originals), "nothing moved"
