"""Raw control-socket clients for end-to-end tests: no xintuctl process, so timings measure the
daemon, not a Python start."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from tests.support.daemon_tree import DaemonTree


def socket_path(tree: DaemonTree) -> Path:
    """Where the daemon of `tree` listens ($XDG_RUNTIME_DIR/xintud/control.sock)."""
    return tree.runtime / "xintud" / "control.sock"


def connect(path: Path, timeout: float = 10.0) -> socket.socket:
    """A connected, blocking Unix stream socket with a timeout."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(os.fspath(path))
    return sock


def read_line(sock: socket.socket, limit: int = 64 * 1024 * 1024) -> bytes:
    """One reply line (without the newline); b"" when the daemon closed without a reply."""
    data = bytearray()
    while b"\n" not in data and len(data) < limit:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return bytes(data).split(b"\n", 1)[0]


def ask_raw(path: Path, payload: bytes, timeout: float = 10.0) -> dict[str, Any]:
    """Send `payload` as it is (the caller adds the newline) and parse the one reply line."""
    with connect(path, timeout) as sock:
        sock.sendall(payload)
        line = read_line(sock)
    assert line, f"the daemon closed the connection without a reply to {payload[:80]!r}"
    return json.loads(line)


def ask(path: Path, cmd: str, args: dict[str, Any] | None = None,
        timeout: float = 10.0) -> tuple[dict[str, Any], float]:
    """One request on a fresh connection, as xintuctl makes it; returns (reply, seconds)."""
    line = json.dumps({"cmd": cmd, "args": args or {}}).encode() + b"\n"
    started = time.perf_counter()
    reply = ask_raw(path, line, timeout)
    return reply, time.perf_counter() - started
