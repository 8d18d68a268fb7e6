"""The control socket: a Unix stream socket that speaks newline-delimited JSON to `xintuctl`.

Wire format: each request is one line `{"cmd": "...", "args": {...}}`; each gets exactly one
response line, `{"ok": true, "result": {...}}` or `{"ok": false, "error": "..."}`. A connection may
carry several requests, answered in order.

The server runs one selectors loop in one daemon thread with non-blocking sockets, so a client that
connects and says nothing (or reads its replies slowly) cannot stall the daemon or other clients;
idle clients are dropped after `idle_timeout` seconds. The handler is called from that thread and
must therefore be quick: it should read counters or enqueue work, never analyse photos itself.
"""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import os
import selectors
import socket
import stat
import struct
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from xintud.paths import ensure_private_dir

logger = logging.getLogger(__name__)

MAX_LINE_BYTES = 64 * 1024
DEFAULT_IDLE_TIMEOUT_S = 60.0
DEFAULT_MAX_CLIENTS = 256
# Linux sun_path is 108 bytes including the terminating NUL; macOS allows 104.
MAX_SOCKET_PATH_BYTES = 103 if sys.platform == "darwin" else 107
_RECV_CHUNK = 64 * 1024
_PROBE_TIMEOUT_S = 1.0

Command = Literal["status", "pause", "resume", "scan", "recent", "explain", "undo", "reload"]


# ---------------------------------------------------------------------------------------------
# Requests


class NoArgs(BaseModel):
    """Arguments of commands that take none (status, pause, resume, reload)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ScanArgs(NoArgs):
    """`scan`: rescan every watched folder, or only `path`."""

    path: str | None = None


class RecentArgs(NoArgs):
    """`recent`: the last `limit` processed files."""

    limit: int = Field(20, ge=1, le=1000)


class ExplainArgs(NoArgs):
    """`explain`: the analysis record of one file."""

    path: str = Field(min_length=1)


class UndoArgs(NoArgs):
    """`undo`: undo the last `count` actions, only those done at or after `since` (unix time)."""

    count: int = Field(1, ge=1, le=10000)
    since: float | None = Field(None, allow_inf_nan=False)


CommandArgs = ScanArgs | RecentArgs | ExplainArgs | UndoArgs | NoArgs

ARGS_MODELS: dict[str, type[NoArgs]] = {
    "status": NoArgs,
    "pause": NoArgs,
    "resume": NoArgs,
    "scan": ScanArgs,
    "recent": RecentArgs,
    "explain": ExplainArgs,
    "undo": UndoArgs,
    "reload": NoArgs,
}


class ControlRequest(BaseModel):
    """One validated request; `args` is the model for `cmd` (e.g. RecentArgs for "recent")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cmd: Command
    args: CommandArgs = Field(default_factory=dict, validate_default=True)

    @field_validator("args", mode="before")
    @classmethod
    def _validate_args_for_cmd(cls, value: Any, info: ValidationInfo) -> Any:
        cmd = info.data.get("cmd")
        if cmd is None:
            return NoArgs()  # cmd itself is invalid: report that error alone
        if value is None:
            value = {}
        try:
            return ARGS_MODELS[cmd].model_validate(value)
        except ValidationError as exc:
            raise PydanticCustomError(
                "invalid_args", "{detail}", {"detail": _describe_errors(exc, prefix="args")}
            ) from None


def _describe_errors(exc: ValidationError, prefix: str = "") -> str:
    """Turn a ValidationError into one readable line: `args.limit: Input should be ...`."""
    parts = []
    for error in exc.errors(include_url=False):
        if error["type"] == "invalid_args":
            parts.append(error["msg"])
            continue
        loc = ".".join(str(p) for p in error["loc"])
        where = ".".join(p for p in (prefix, loc) if p) or "request"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def parse_request(line: bytes | str) -> ControlRequest:
    """Parse one request line; raise RequestError with a message meant for the client."""
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
    except UnicodeDecodeError:
        raise RequestError("malformed request: not UTF-8 text") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise RequestError(f"malformed JSON: {exc}") from None
    except RecursionError:
        # `[[[[...` within the size limit: json recurses per level. Not a ValueError, and
        # uncaught it would leave the client without a reply.
        raise RequestError("malformed request: JSON nested too deeply") from None
    try:
        return ControlRequest.model_validate(data)
    except ValidationError as exc:
        raise RequestError(f"invalid request: {_describe_errors(exc)}") from None


class RequestError(ValueError):
    """A request line that is not valid JSON or not a valid ControlRequest."""


class ControlCommandError(Exception):
    """Raise from a handler for expected failures (unknown file, bad path): logged briefly."""


class ControlSocketError(RuntimeError):
    """The control socket cannot be created (another daemon, foreign dir, path too long...)."""


Handler = Callable[[ControlRequest], Mapping[str, Any] | None]


# ---------------------------------------------------------------------------------------------
# Socket file and peer checks


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
    size = len(os.fsencode(path))
    if size > MAX_SOCKET_PATH_BYTES:
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


def _json_default(value: object) -> object:
    """Let handlers return Paths and enums; anything else unknown is a bug worth reporting."""
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode_reply(reply: Mapping[str, Any]) -> bytes:
    """One response line, UTF-8, newline-terminated."""
    text = json.dumps(reply, ensure_ascii=False, separators=(",", ":"), default=_json_default)
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        # A file name that is not UTF-8 (Python holds its bytes as surrogate escapes): send
        # \udcXX escapes, which json.loads turns back into that same Python path.
        text = json.dumps(reply, separators=(",", ":"), default=_json_default)
        return text.encode("ascii") + b"\n"


def error_reply(message: str) -> bytes:
    """The response line for a failed request."""
    return encode_reply({"ok": False, "error": message})


# ---------------------------------------------------------------------------------------------
# Server


@dataclass(eq=False)
class _Client:
    """One connection: buffered input and output and when it last made progress."""

    sock: socket.socket
    name: str
    last_active: float
    inbuf: bytearray = field(default_factory=bytearray)
    outbuf: bytearray = field(default_factory=bytearray)
    eof: bool = False
    closing: bool = False  # stop reading; close once outbuf is flushed


class ControlServer:
    """Serve control requests on a Unix socket from one background thread.

    `handle(request)` returns the result dict (or None for `{}`) and may raise; the exception's
    text becomes the error reply and the server carries on. It is called from the server thread,
    one request at a time, so it must return quickly.
    """

    def __init__(
        self,
        socket_path: Path,
        handle: Handler,
        *,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT_S,
        max_clients: int = DEFAULT_MAX_CLIENTS,
        allowed_uid: int | None = None,
    ) -> None:
        self.socket_path = Path(socket_path)
        self._handle = handle
        self._idle_timeout = idle_timeout
        self._max_clients = max_clients
        self._allowed_uid = os.geteuid() if allowed_uid is None else allowed_uid
        self._clock = time.monotonic
        self._selector: selectors.BaseSelector | None = None
        self._listener: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._clients: dict[socket.socket, _Client] = {}
        self._socket_id: tuple[int, int] | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Create the socket (raising ControlSocketError if that is unsafe) and start serving."""
        if self._thread is not None:
            raise RuntimeError("ControlServer.start() called twice")
        self._listener = self._bind()
        self._listener.setblocking(False)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, data="listener")
        self._selector.register(self._wake_r, selectors.EVENT_READ, data="wake")
        self._thread = threading.Thread(target=self._serve, name="xintud-control", daemon=True)
        self._thread.start()
        logger.info("control socket listening on %s", self.socket_path)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, close every connection and remove the socket file."""
        if self._thread is None:
            return
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")  # type: ignore[union-attr]
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("control thread did not stop within %.0fs (a slow handler?)", timeout)
        self._remove_socket_file()
        with contextlib.suppress(OSError):
            self._wake_w.close()  # type: ignore[union-attr]

    def __enter__(self) -> ControlServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _bind(self) -> socket.socket:
        check_socket_path_length(self.socket_path)
        ensure_socket_dir(self.socket_path.parent)
        remove_stale_socket(self.socket_path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(os.fspath(self.socket_path))
            # chmod after bind leaves a short window with the umask's mode, but the 0700
            # directory keeps everyone else out meanwhile (changing umask is process-wide).
            os.chmod(self.socket_path, 0o600)
            listener.listen(128)
        except OSError as exc:
            listener.close()
            if self.socket_path.is_socket():  # bound but unusable: leave no stale file
                self.socket_path.unlink(missing_ok=True)
            raise ControlSocketError(f"cannot listen on {self.socket_path}: {exc}") from exc
        info = self.socket_path.stat()
        self._socket_id = (info.st_dev, info.st_ino)
        return listener

    def _remove_socket_file(self) -> None:
        """Unlink our socket file, but not one a newer daemon has put in its place."""
        try:
            info = self.socket_path.lstat()
        except FileNotFoundError:
            return
        if (info.st_dev, info.st_ino) == self._socket_id:
            self.socket_path.unlink(missing_ok=True)

    # -- loop -----------------------------------------------------------------------------

    def _serve(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    self._serve_once()
                except Exception:  # the control thread must outlive any one bug
                    logger.exception("control loop error; carrying on")
                    time.sleep(0.1)
        finally:
            self._close_everything()

    def _serve_once(self) -> None:
        assert self._selector is not None
        for key, events in self._selector.select(self._select_timeout()):
            if key.data == "listener":
                self._accept_all()
            elif key.data == "wake":
                with contextlib.suppress(OSError):
                    key.fileobj.recv(64)  # type: ignore[union-attr]
            else:
                self._service(key.data, events)
        self._drop_idle_clients()

    def _select_timeout(self) -> float | None:
        if not self._clients:
            return None
        oldest = min(c.last_active for c in self._clients.values())
        return max(0.0, oldest + self._idle_timeout - self._clock()) + 0.01

    def _close_everything(self) -> None:
        for client in list(self._clients.values()):
            self._drop(client)
        for sock in (self._listener, self._wake_r):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        if self._selector is not None:
            self._selector.close()

    # -- connections ----------------------------------------------------------------------

    def _accept_all(self) -> None:
        assert self._listener is not None and self._selector is not None
        while True:
            try:
                sock, _addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. EMFILE: log and let the next select retry
                logger.warning("control socket accept failed: %s", exc)
                return
            sock.setblocking(False)
            client = self._admit(sock)
            self._clients[sock] = client
            self._selector.register(sock, selectors.EVENT_READ, data=client)
            self._pump(client)

    def _admit(self, sock: socket.socket) -> _Client:
        """Wrap a new connection; a refused one gets an error reply and is closed after it."""
        try:
            pid, uid = peer_credentials(sock)
        except OSError as exc:
            pid, uid = None, None
            logger.warning("cannot read control peer credentials: %s", exc)
        client = _Client(sock, name=f"pid {pid}" if pid else "client", last_active=self._clock())
        refusal = peer_refusal(uid, self._allowed_uid)
        if refusal is None and len(self._clients) >= self._max_clients:
            refusal = f"too many control connections (limit {self._max_clients}); try again"
        if refusal is not None:
            logger.warning(
                "refused control connection from %s uid %s: %s", client.name, uid, refusal
            )
            client.outbuf += error_reply(refusal)
            client.closing = True
        return client

    def _service(self, client: _Client, events: int) -> None:
        try:
            if events & selectors.EVENT_READ:
                self._read(client)
            if events & selectors.EVENT_WRITE:
                self._flush(client)
            self._pump(client)
        except OSError as exc:
            logger.debug("control connection %s dropped: %s", client.name, exc)
            self._drop(client)

    def _read(self, client: _Client) -> None:
        try:
            data = client.sock.recv(_RECV_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        if not data:
            client.eof = True
            return
        client.inbuf += data
        client.last_active = self._clock()

    def _flush(self, client: _Client) -> None:
        while client.outbuf:
            try:
                sent = client.sock.send(client.outbuf)
            except (BlockingIOError, InterruptedError):
                return
            del client.outbuf[:sent]
            client.last_active = self._clock()

    def _pump(self, client: _Client) -> None:
        """Answer buffered requests one at a time; the next is read only once a reply is out."""
        while True:
            if client.outbuf:
                self._flush(client)
                if client.outbuf:
                    break
            if client.closing:
                break
            line = self._next_line(client)
            if line is None:
                break
            client.outbuf += self._respond(line)
        if client.closing and not client.outbuf:
            self._drop(client)
            return
        wanted = selectors.EVENT_WRITE if client.outbuf else selectors.EVENT_READ
        assert self._selector is not None
        if self._selector.get_key(client.sock).events != wanted:
            self._selector.modify(client.sock, wanted, data=client)

    def _next_line(self, client: _Client) -> bytes | None:
        """Take one complete request line; queue an error and close on oversized input."""
        end = client.inbuf.find(b"\n", 0, MAX_LINE_BYTES + 1)
        if end == -1 and len(client.inbuf) <= MAX_LINE_BYTES:
            if not client.eof:
                return None
            client.closing = True  # a last line without newline still counts
            line, client.inbuf[:] = bytes(client.inbuf), b""
            return line if line.strip() else None
        if end == -1:
            logger.warning(
                "control request from %s over %d bytes; closing", client.name, MAX_LINE_BYTES
            )
            client.outbuf += error_reply(f"request line too long (limit {MAX_LINE_BYTES} bytes)")
            client.closing = True
            client.inbuf.clear()
            return None
        line = bytes(client.inbuf[:end])
        del client.inbuf[: end + 1]
        return line

    def _respond(self, line: bytes) -> bytes:
        """Answer one request line; never raises."""
        if not line.strip():
            return error_reply("empty request line")
        try:
            request = parse_request(line)
        except RequestError as exc:
            logger.info("bad control request: %s", exc)
            return error_reply(str(exc))
        try:
            result = self._handle(request)
        except ControlCommandError as exc:
            logger.info("control command %s failed: %s", request.cmd, exc)
            return error_reply(str(exc) or type(exc).__name__)
        except Exception as exc:
            logger.exception("control command %s failed", request.cmd)
            return error_reply(str(exc) or type(exc).__name__)
        if result is None:
            result = {}
        if not isinstance(result, Mapping):
            logger.error("handler for %s returned %s, not a dict", request.cmd, type(result))
            return error_reply(f"internal error: {request.cmd} produced no result")
        try:
            return encode_reply({"ok": True, "result": dict(result)})
        except (TypeError, ValueError) as exc:
            logger.error("result of %s is not JSON serialisable: %s", request.cmd, exc)
            return error_reply(f"internal error: result of {request.cmd} is not JSON ({exc})")

    def _drop_idle_clients(self) -> None:
        deadline = self._clock() - self._idle_timeout
        for client in [c for c in self._clients.values() if c.last_active < deadline]:
            logger.debug("closing idle control connection %s", client.name)
            self._drop(client)

    def _drop(self, client: _Client) -> None:
        if self._clients.pop(client.sock, None) is None:
            return
        if self._selector is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(client.sock)
        with contextlib.suppress(OSError):
            client.sock.close()
