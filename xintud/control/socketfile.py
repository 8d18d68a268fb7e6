"""The control socket's file and its peers: a private place, a fitting name, the right user.

The socket lives in the user's runtime dir (0700), is bound 0600, and a peer of another uid is
refused; a socket file left by a dead daemon is cleared, one answered by a live daemon is not.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
import struct
import sys
from pathlib import Path

from xintud.control.protocol import MAX_LINE_BYTES
from xintud.core.paths import MAX_SOCKET_PATH_BYTES, ensure_private_dir, socket_path_fits

logger = logging.getLogger(__name__)



_PROBE_TIMEOUT_S = 1.0


class ControlSocketError(RuntimeError):
    """The control socket cannot be created (another daemon, foreign dir, path too long...)."""


def peer_refusal(peer_uid: int | None, own_uid: int) -> str | None:
    """Return why a peer must be refused, or None when it may talk to us.

    An unknown uid (platform without peer credentials) is allowed: there the 0600 socket inside
    a 0700 directory is the guard.
    """
    if peer_uid is None or peer_uid == own_uid:
        return None
    return f"permission denied: this xintud belongs to uid {own_uid}, you are uid {peer_uid}"


def peer_credentials(sock: socket.socket) -> tuple[int | None, int | None]:
    """Return (pid, uid) of the process at the other end of a Unix socket, None where unknown."""
    if hasattr(socket, "SO_PEERCRED"):  # Linux: struct ucred {pid_t pid; uid_t uid; gid_t gid}
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("i2I"))
        pid, uid, _gid = struct.unpack("i2I", raw)
        return pid, uid
    if sys.platform == "darwin":
        # getpeereid() equivalent: LOCAL_PEERCRED (0x001) at level SOL_LOCAL (0) returns
        # struct xucred {u_int cr_version; uid_t cr_uid; short cr_ngroups; gid_t cr_groups[16]}.
        # The socket module does not export these constants, hence the literals.
        raw = sock.getsockopt(0, 0x001, 76)
        _version, uid = struct.unpack_from("2I", raw)
        return None, uid
    return None, None  # other platforms: rely on file and directory modes


def ensure_socket_dir(directory: Path) -> None:
    """Create `directory` 0700, or check that an existing one is ours and private."""
    try:
        ensure_private_dir(directory)
    except OSError as exc:
        raise ControlSocketError(f"cannot use {directory} for the control socket: {exc}") from exc


def check_socket_path_length(path: Path) -> None:
    """Raise ControlSocketError when `path` is too long for an AF_UNIX address."""
    if not socket_path_fits(path):
        size = len(os.fsencode(path))
        raise ControlSocketError(
            f"control socket path {path} is {size} bytes, over the AF_UNIX limit of "
            f"{MAX_SOCKET_PATH_BYTES}; use a shorter runtime dir (XDG_RUNTIME_DIR)"
        )


def remove_stale_socket(path: Path) -> None:
    """Remove a socket file left by a dead daemon; refuse if a live one answers on it."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise ControlSocketError(f"{path} exists and is not a socket; move it away and restart")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(_PROBE_TIMEOUT_S)
        try:
            probe.connect(os.fspath(path))
        except (ConnectionRefusedError, FileNotFoundError):
            logger.info("removing stale control socket %s left by a daemon that is gone", path)
            path.unlink(missing_ok=True)
            return
        except TimeoutError:
            pid = "?"  # a full accept backlog: someone is listening but busy
        except OSError as exc:
            raise ControlSocketError(f"cannot check control socket {path}: {exc}") from exc
        else:
            pid = _ask_pid(probe)
    raise ControlSocketError(
        f"another xintud is running (pid {pid}) and answering on {path}; stop it first "
        "(`systemctl --user stop xintud`) or check it with `xintuctl status`"
    )


def _ask_pid(sock: socket.socket) -> str:
    """Ask a live daemon for its pid via `status`; "?" when it does not say."""
    try:
        sock.sendall(b'{"cmd":"status"}\n')
        reply = b""
        while not reply.endswith(b"\n") and len(reply) < MAX_LINE_BYTES:
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
        pid = json.loads(reply).get("result", {}).get("pid")
        return str(pid) if isinstance(pid, int) else "?"
    except (OSError, ValueError, AttributeError):
        return "?"


def bind_control_socket(socket_path: Path) -> tuple[socket.socket, tuple[int, int]]:
    """Bind and listen at `socket_path` (checked first); return the listener and the file's
    (st_dev, st_ino), by which `remove_own_socket` later knows it."""
    check_socket_path_length(socket_path)
    ensure_socket_dir(socket_path.parent)
    remove_stale_socket(socket_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(os.fspath(socket_path))
        # chmod after bind leaves a short window with the umask's mode, but the 0700
        # directory keeps everyone else out meanwhile (changing umask is process-wide).
        os.chmod(socket_path, 0o600)
        listener.listen(128)
    except OSError as exc:
        listener.close()
        if socket_path.is_socket():  # bound but unusable: leave no stale file
            socket_path.unlink(missing_ok=True)
        raise ControlSocketError(f"cannot listen on {socket_path}: {exc}") from exc
    info = socket_path.stat()
    return listener, (info.st_dev, info.st_ino)


def remove_own_socket(socket_path: Path, socket_id: tuple[int, int] | None) -> None:
    """Unlink our socket file, but not one a newer daemon has put in its place."""
    try:
        info = socket_path.lstat()
    except FileNotFoundError:
        return
    if (info.st_dev, info.st_ino) == socket_id:
        socket_path.unlink(missing_ok=True)
