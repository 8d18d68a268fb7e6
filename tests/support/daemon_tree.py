"""Run the real daemon as a subprocess in a private tree (XDG variables under a temp dir).

Shared by the system tests and by bench/ (which runs the same tree with its own pacing).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def wait_for(condition: Callable[[], object], timeout: float = 30.0, interval: float = 0.1,
             what: str = "condition") -> object:
    """Poll until condition() is truthy; fail the test with `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def runtime_prefix() -> str:
    """The name prefix of this test process's short runtime dirs in /tmp.

    With the pid in it, the clean-up after each test (conftest.py) removes only this run's
    dirs, never those of another suite running beside it on the same machine.
    """
    return f"xrt{os.getpid()}-"


# Fast settle and batching, no periodic scan, models unloaded at once: tests run quickly.
FAST_DAEMON: dict[str, float | int] = {
    "settle_seconds": 0.5,
    "batch_max_wait_seconds": 0.2,
    "reconcile_interval_seconds": 0,
    "idle_unload_seconds": 0,
}


@dataclass
class DaemonTree:
    """A home with watch folders, a library, XDG dirs and a config file."""

    base: Path
    camera: Path = field(init=False)
    screenshots: Path = field(init=False)
    library: Path = field(init=False)
    config: Path = field(init=False)
    runtime: Path = field(init=False)
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.camera = self.base / "home" / "Pictures" / "Camera"
        self.screenshots = self.base / "home" / "Pictures" / "Screenshots"
        self.library = self.base / "home" / "Pictures" / "Xintu"
        self.config = self.base / "config.toml"
        # AF_UNIX paths are limited to ~107 bytes: the runtime dir lives in a short /tmp path.
        self.runtime = Path(tempfile.mkdtemp(prefix=runtime_prefix(), dir="/tmp"))
        os.chmod(self.runtime, 0o700)
        self.log = self.base / "daemon.log"
        for folder in (self.camera, self.screenshots):
            folder.mkdir(parents=True, exist_ok=True)

    def write_config(self, extra_daemon: str = "", library: str = "",
                     daemon: Mapping[str, float | int] | None = None) -> None:
        """A config with fast settle/batching so tests run quickly; `daemon` replaces those
        [daemon] settings (the bench's pacing), `extra_daemon` adds lines to the table."""
        pacing = FAST_DAEMON if daemon is None else daemon
        daemon_lines = "\n".join(f"{key} = {value}" for key, value in pacing.items())
        self.config.write_text(f"""
[[watch]]
path = "{self.camera}"
kind = "camera"

[[watch]]
path = "{self.screenshots}"
kind = "screenshots"

[library]
root = "{self.library}"
action = "move"
min_confidence = 0.0
{library}

[daemon]
{daemon_lines}
{extra_daemon}
""")

    def env(self) -> dict[str, str]:
        """Environment for the daemon and xintuctl: XDG dirs point into the tree."""
        env = dict(os.environ)
        env.update({
            "HOME": str(self.base / "home"),
            "XDG_CONFIG_HOME": str(self.base / "xdg-config"),
            "XDG_STATE_HOME": str(self.base / "xdg-state"),
            "XDG_RUNTIME_DIR": str(self.runtime),
            "XINTUD_ALLOW_ROOT": "1",
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        """Start `xintud --config ... [args]` and wait until its control socket answers."""
        log = self.log.open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "xintud", "--config", str(self.config), *args],
            env=self.env(), stdout=log, stderr=subprocess.STDOUT, cwd=self.base,
        )
        def answering() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"daemon exited with {process.returncode}:\n{self.logs()}")
            return self.ctl("status").returncode == 0
        wait_for(answering, timeout=60, interval=0.2, what="the daemon's control socket")
        return process

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `xintuctl ARGS` against this daemon."""
        return subprocess.run([sys.executable, "-m", "xintud.cli.xintuctl", *args], env=self.env(),
                              capture_output=True, text=True, timeout=60)

    def status(self) -> dict[str, object]:
        """`xintuctl --json status` parsed."""
        done = self.ctl("--json", "status")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 15.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        process.send_signal(signal.SIGTERM)
        return process.wait(timeout=timeout)

    def logs(self) -> str:
        """What the daemon printed so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, chars: int = 2000) -> str:
        """The end of the daemon's log, for error messages."""
        return self.logs()[-chars:]

    def remove(self) -> None:
        """Delete the whole tree, the runtime dir included."""
        shutil.rmtree(self.base, ignore_errors=True)
        shutil.rmtree(self.runtime, ignore_errors=True)

    def tree_files(self) -> list[Path]:
        """Every regular file under the watch folders and the library, xintud's album
        folders (links and their marks) left out."""
        albums = self.library / "Albums"
        return [p for folder in (self.camera, self.screenshots, self.library) if folder.exists()
                for p in folder.rglob("*") if p.is_file() and not p.is_symlink()
                and not p.is_relative_to(albums)]

    def library_files(self) -> list[Path]:
        """Every file filed in the library (not the album folders: links and their marks)."""
        albums = self.library / "Albums"
        return sorted(p for p in self.library.rglob("*") if p.is_file() and not p.is_symlink()
                      and not p.is_relative_to(albums))
