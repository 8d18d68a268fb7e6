"""Where xintud keeps its config, state, socket and lock, per user.

Locations come from platformdirs, so the XDG variables (XDG_CONFIG_HOME, XDG_STATE_HOME,
XDG_RUNTIME_DIR) move them. The runtime dir (socket, lock) needs a private base directory;
when there is none (no XDG_RUNTIME_DIR and no /run/user/UID, as in containers, cron and
ssh sessions without logind), a private 0700 directory is used instead: state_dir/run, or
/tmp/xintud-UID when that path is too long for a Unix socket.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

import platformdirs

logger = logging.getLogger(__name__)

APP_NAME = "xintud"
CONFIG_FILE_NAME = "config.toml"
DB_FILE_NAME = "state.db"
SOCKET_FILE_NAME = "control.sock"
LOCK_FILE_NAME = "xintud.lock"
PRIVATE_DIR_MODE = 0o700

# sun_path is 108 bytes on Linux and 104 on macOS, the terminating NUL included.
MAX_SOCKET_PATH_BYTES = 103 if sys.platform == "darwin" else 107


class UnsafeDirectoryError(PermissionError):
    """A directory that must be private is owned by someone else or writable by others."""


@dataclass(frozen=True)
class AppPaths:
    """Every per-user location the daemon and xintuctl use."""

    config_file: Path
    state_dir: Path
    runtime_dir: Path
    db_path: Path
    socket_path: Path
    lock_path: Path


def default_config_file() -> Path:
    """The default config file, user_config_dir("xintud")/config.toml; creates nothing."""
    return Path(platformdirs.user_config_dir(APP_NAME)) / CONFIG_FILE_NAME


def default_state_dir() -> Path:
    """The state directory, user_state_dir("xintud"); creates nothing."""
    return Path(platformdirs.user_state_dir(APP_NAME))


def app_paths(run_user_root: Path = Path("/run/user")) -> AppPaths:
    """Resolve every path, creating the state and runtime dirs private (0700).

    run_user_root is where logind makes per-user runtime dirs; tests point it elsewhere.
    Raises UnsafeDirectoryError when a directory that must be private is not.
    """
    state_dir = ensure_private_dir(default_state_dir())
    runtime_dir = ensure_private_dir(user_runtime_dir(state_dir, run_user_root))
    return AppPaths(
        config_file=default_config_file(),
        state_dir=state_dir,
        runtime_dir=runtime_dir,
        db_path=state_dir / DB_FILE_NAME,
        socket_path=runtime_dir / SOCKET_FILE_NAME,
        lock_path=runtime_dir / LOCK_FILE_NAME,
    )


def user_runtime_dir(state_dir: Path, run_user_root: Path = Path("/run/user")) -> Path:
    """The runtime dir for the socket and lock (not created).

    On Linux and the BSDs this is $XDG_RUNTIME_DIR/xintud, else /run/user/UID/xintud — the
    same answer as platformdirs.user_runtime_dir — but only when that base is a private
    directory of ours; otherwise fallback_runtime_dir(). macOS and Windows use platformdirs.
    """
    if sys.platform in ("darwin", "win32"):
        return Path(platformdirs.user_runtime_dir(APP_NAME))
    base = _runtime_base(run_user_root)
    problem = private_dir_problem(base)
    if problem is None:
        return base / APP_NAME
    fallback = fallback_runtime_dir(state_dir)
    logger.info("runtime dir %s unusable (%s); using %s for the socket and lock",
                base, problem, fallback)
    return fallback


def fallback_runtime_dir(state_dir: Path) -> Path:
    """A private runtime dir when the system gives none: state_dir/run, or /tmp/xintud-UID.

    The state dir is in the user's home, so nobody else can squat it; /tmp is used only
    when the socket path under the state dir would be too long for AF_UNIX.
    """
    candidate = state_dir / "run"
    if socket_path_fits(candidate / SOCKET_FILE_NAME):
        return candidate
    return Path("/tmp") / f"{APP_NAME}-{os.geteuid()}"


def socket_path_fits(path: Path) -> bool:
    """Whether a Unix socket can be bound at this path (length limit of sun_path)."""
    return len(os.fsencode(str(path))) <= MAX_SOCKET_PATH_BYTES


def ensure_private_dir(path: Path) -> Path:
    """mkdir -p path with mode 0700, and check it is ours and private; return path.

    A directory of ours that others may only read is tightened to 0700. One owned by another
    user, or writable by group or others (someone may have planted files), is refused with
    UnsafeDirectoryError: we never put a socket or state there.
    """
    try:
        path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    except FileExistsError as error:
        raise UnsafeDirectoryError(
            f"{path} exists and is not a directory. Fix: move it away, then start again."
        ) from error
    problem = _ownership_problem(path)
    if problem is not None:
        raise UnsafeDirectoryError(
            f"{path} cannot be used as a private directory: {problem}. Fix: remove it (if it "
            f"is not yours, ask the admin) or set XDG_RUNTIME_DIR / XDG_STATE_HOME elsewhere."
        )
    info = path.stat()
    if stat.S_IMODE(info.st_mode) & 0o022:
        raise UnsafeDirectoryError(
            f"{path} is writable by group or others (mode {stat.S_IMODE(info.st_mode):04o}), "
            f"so files in it cannot be trusted. Fix: check its contents, then "
            f"`chmod 700 {path}`."
        )
    if stat.S_IMODE(info.st_mode) != PRIVATE_DIR_MODE:
        path.chmod(PRIVATE_DIR_MODE)
    return path


def private_dir_problem(path: Path) -> str | None:
    """Why path is not an existing private (0700, ours, real) directory, or None if it is."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return "it does not exist"
    except OSError as error:
        return f"it cannot be checked: {error.strerror}"
    if stat.S_ISLNK(info.st_mode):
        return "it is a symlink"
    if not stat.S_ISDIR(info.st_mode):
        return "it is not a directory"
    if info.st_uid != os.geteuid():
        return f"it is owned by uid {info.st_uid}, not {os.geteuid()}"
    if stat.S_IMODE(info.st_mode) & 0o077:
        return f"its mode is {stat.S_IMODE(info.st_mode):04o}, not 0700"
    return None


def _runtime_base(run_user_root: Path) -> Path:
    # XDG says a relative XDG_RUNTIME_DIR is invalid and must be ignored.
    xdg = os.environ.get("XDG_RUNTIME_DIR", "").strip()
    if xdg and Path(xdg).is_absolute():
        return Path(xdg)
    return run_user_root / str(os.geteuid())


def _ownership_problem(path: Path) -> str | None:
    # A symlink is followed (a user may link ~/.local/state elsewhere), but both the link and
    # its target must be ours: a link planted in /tmp by someone else is refused.
    uid = os.geteuid()
    link_owner = path.lstat().st_uid
    if link_owner != uid:
        return f"it is owned by uid {link_owner}, not by you (uid {uid})"
    info = path.stat()
    if not stat.S_ISDIR(info.st_mode):
        return "it is not a directory"
    if info.st_uid != uid:
        return f"it points to a directory owned by uid {info.st_uid}, not by you (uid {uid})"
    return None


def client_socket_path(run_user_root: Path = Path("/run/user")) -> Path:
    """Where xintuctl finds the daemon's socket: `app_paths().socket_path`, with one refusal.

    When the runtime dir stops being private after the daemon bound its socket there (its mode
    loosened, say), `app_paths` falls back to another folder, where no daemon listens; the user
    would hear "not running" about a daemon that runs. Raise UnsafeDirectoryError instead,
    naming the folder, what is wrong with it and the fix.
    """
    paths = app_paths(run_user_root)
    if sys.platform in ("darwin", "win32") or paths.socket_path.exists():
        return paths.socket_path
    base = _runtime_base(run_user_root)
    stranded = base / APP_NAME / SOCKET_FILE_NAME
    problem = private_dir_problem(base)
    if problem is not None and os.path.lexists(stranded):
        raise UnsafeDirectoryError(
            f"the runtime dir {base} is not safe ({problem}), so xintuctl will not talk to the "
            f"xintud socket in it ({stranded}). Fix: `chmod 700 {base}` (and find out what "
            f"changed it), then try again."
        )
    return paths.socket_path
