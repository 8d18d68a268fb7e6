"""xintuctl's side of the control socket: one request, one reply. Standard library only.

xintuctl runs on every keystroke-level command, so it must start fast: never import numpy,
onnxruntime, PIL or pydantic here, nor protocol.py (it needs pydantic); the wire format is
plain JSON lines (see protocol.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_TIMEOUT_S = 30.0


MAX_REPLY_BYTES = 64 * 1024 * 1024


class DaemonNotRunning(Exception):
    """Nothing is listening on the control socket."""


class ControlReplyError(Exception):
    """The daemon answered {"ok": false, "error": ...} or an unreadable reply."""


def request(
    socket_path: Path,
    cmd: str,
    args: Mapping[str, Any] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> dict[str, Any]:
    """Send one request and return its result; raise DaemonNotRunning or ControlReplyError."""
    line = json.dumps({"cmd": cmd, "args": dict(args or {})}, ensure_ascii=False) + "\n"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(os.fspath(socket_path))
        except FileNotFoundError:
            raise DaemonNotRunning(f"no socket at {socket_path}") from None
        except ConnectionRefusedError:
            raise DaemonNotRunning(f"nothing is listening on {socket_path}") from None
        try:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                # A refused peer gets its error line and a close, maybe before we finish
                # sending: the reply is still there to read.
                sock.sendall(line.encode("utf-8"))
            raw = _read_line(sock)
        except TimeoutError:
            raise ControlReplyError(f"xintud did not answer within {timeout:.0f}s") from None
        except OSError as exc:
            raise ControlReplyError(f"lost the connection to xintud: {exc}") from None
    return _parse_reply(raw)


def _read_line(sock: socket.socket) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            if chunks:  # a peer that closed right after replying
                break
            raise
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if b"\n" in chunk or size > MAX_REPLY_BYTES:
            break
    return b"".join(chunks).split(b"\n", 1)[0]


def _parse_reply(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise ControlReplyError("xintud closed the connection without answering")
    try:
        reply = json.loads(raw)
    except ValueError:
        raise ControlReplyError(f"unreadable reply from xintud: {raw[:200]!r}") from None
    if not isinstance(reply, dict):
        raise ControlReplyError(f"unexpected reply from xintud: {raw[:200]!r}")
    if not reply.get("ok"):
        raise ControlReplyError(str(reply.get("error") or "unknown error"))
    result = reply.get("result")
    return result if isinstance(result, dict) else {}


def default_socket_path() -> Path:
    """The per-user socket path (core.paths, the same place the daemon listens on); raises
    UnsafeDirectoryError (an OSError) naming the folder when its runtime dir is unsafe."""
    from xintud.core.paths import client_socket_path  # platformdirs only: still fast

    return client_socket_path()


def not_running_message(detail: str, platform: str = sys.platform) -> str:
    """One line telling the user the daemon is down and how to start it."""
    if platform == "darwin":
        how = f"`launchctl kickstart gui/{os.getuid()}/io.xintu.xintud`"
    else:
        how = "`systemctl --user start xintud`"
    return f"xintuctl: xintud is not running ({detail}); start it with {how} or run `xintud`"
