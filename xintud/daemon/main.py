"""Starting and stopping the daemon: the root check, the one-instance lock and the signals."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from xintud.config.load import ConfigError, load_config
from xintud.control.socketfile import ControlSocketError
from xintud.core.paths import app_paths
from xintud.daemon.loop import Daemon
from xintud.engine.models.manifest import ModelError
from xintud.state.db import StateDBError

logger = logging.getLogger("xintud")


EXIT_OK = 0


EXIT_FATAL = 2


class SingleInstanceError(Exception):
    """Another xintud of this user holds the lock."""


@contextlib.contextmanager
def single_instance(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock for the daemon's lifetime: one socket, one database owner."""
    handle = lock_path.open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise SingleInstanceError(
                f"another xintud is already running (lock {lock_path} is held); "
                "check it with `xintuctl status`, or stop it before starting a new one"
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()


def install_signal_handlers(daemon: Daemon) -> None:
    """SIGTERM/SIGINT stop cleanly; SIGHUP re-reads the config (keeping the old one if bad)."""

    def stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s; finishing the current batch and stopping",
                    signal.Signals(signum).name)
        daemon.flags.stop.set()
        daemon.flags.wake.set()

    def reload(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=_reload_from_signal, args=(daemon,), daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, reload)


def _reload_from_signal(daemon: Daemon) -> None:
    try:
        daemon.flags.offer_config(load_config(daemon.config_path))
    except ConfigError as exc:
        logger.error("SIGHUP: config not reloaded, the old one stays in use: %s", exc)


def refuse_root() -> str | None:
    """Why the daemon must not run as this user, or None."""
    if os.geteuid() == 0 and os.environ.get("XINTUD_ALLOW_ROOT") != "1":
        return ("xintud must not run as root: it is a per-user service for your own photos. "
                "Run it as your user (systemctl --user), or set XINTUD_ALLOW_ROOT=1 if you "
                "really mean it (e.g. in a container)")
    return None


def run_daemon(config_path: Path | None) -> int:
    """Run until SIGTERM; the exit code is 0 for a clean stop, 2 when it could not start."""
    problem = refuse_root()
    if problem:
        logger.error(problem)
        return EXIT_FATAL
    if os.geteuid() == 0:
        logger.warning("running as root (XINTUD_ALLOW_ROOT=1): everything xintud files will "
                       "belong to root and it can reach every user's photos; outside a "
                       "container, run it as your own user instead")
    try:
        config = load_config(config_path)
        paths = app_paths()
    except (ConfigError, PermissionError) as exc:
        logger.error("%s", exc)
        return EXIT_FATAL
    logging.getLogger().setLevel(config.daemon.python_log_level())
    try:
        with single_instance(paths.lock_path):
            daemon = Daemon(config, config_path, paths)
            install_signal_handlers(daemon)
            daemon.start()
            try:
                daemon.run()
            finally:
                daemon.stop()
    except (SingleInstanceError, StateDBError, ControlSocketError, ModelError) as exc:
        logger.error("%s", exc)
        return EXIT_FATAL
    return EXIT_OK


