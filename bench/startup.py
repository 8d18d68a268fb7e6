"""Start-up costs, each in a fresh process: model load, `xintud classify` cold start, xintuctl.

Fresh processes with a warm page cache: what a user sees the second time they run a command,
not the first read from a cold disk.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.measure import load_average, median

# Modules xintuctl must never import: it runs on every keystroke-level command.
HEAVY_MODULES = ("numpy", "onnxruntime", "PIL", "pydantic")

_LOAD_SCRIPT = """
import time
started = time.perf_counter()
from xintud.engine.models.store import load_models
imported = time.perf_counter()
load_models(threads=2)
done = time.perf_counter()
rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1]
print(imported - started, done - imported, int(rss) / 1024)
"""


@dataclass(frozen=True)
class ModelLoad:
    """Fresh-process model loading: import seconds, load seconds, RSS after loading (MiB)."""

    import_s: float
    load_s: float
    rss_mib: float


def model_load(repeats: int) -> ModelLoad:
    """Median import and load_models() time over `repeats` fresh processes."""
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", _LOAD_SCRIPT], capture_output=True,
                             text=True, check=True).stdout.split()
        runs.append(tuple(float(v) for v in out))
    return ModelLoad(*(round(median([r[i] for r in runs]), 3) for i in range(3)))


def wall_seconds(command: Sequence[str], env: Mapping[str, str] | None = None) -> float:
    """Wall time of one command run to completion (its exit code is not judged here)."""
    started = time.perf_counter()
    subprocess.run(list(command), env=dict(env) if env is not None else None,
                   capture_output=True, check=False)
    return time.perf_counter() - started


def classify_cold_start(photo: Path, repeats: int) -> dict[str, object]:
    """`xintud classify PHOTO` in a fresh process, start to exit (median seconds)."""
    command = [sys.executable, "-m", "xintud", "classify", str(photo)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"xintud classify failed: {done.stderr.strip()[-400:]}")
    times = [wall_seconds(command) for _ in range(repeats)]
    return {"seconds": round(median(times), 3), "runs": [round(t, 3) for t in times],
            "load_average_1min": load_average()}


def heavy_imports(command_args: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """Which HEAVY_MODULES a `python -m ...` command imports (via -X importtime)."""
    done = subprocess.run([sys.executable, "-X", "importtime", *command_args],
                          env=dict(env), capture_output=True, text=True, check=False)
    names = set()
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", line)
        if match:
            names.add(match.group(1).split(".")[0])
    return sorted(names & set(HEAVY_MODULES))


def ctl_status_start(env: Mapping[str, str], repeats: int) -> dict[str, object]:
    """`xintuctl status` start-to-exit seconds (median) and any heavy module it imports."""
    command = [sys.executable, "-m", "xintud.cli.xintuctl", "status"]
    times = [wall_seconds(command, env) for _ in range(repeats)]
    bare = [wall_seconds([sys.executable, "-c", "pass"], env) for _ in range(repeats)]
    return {
        "seconds": round(median(times), 3),
        "python_startup_seconds": round(median(bare), 3),
        "heavy_imports": heavy_imports(["-m", "xintud.cli.xintuctl", "status"], env),
        "load_average_1min": load_average(),
    }


def default_env() -> dict[str, str]:
    """This process's environment (for commands that need no private tree)."""
    return dict(os.environ)
