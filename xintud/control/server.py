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
import logging
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xintud.control.protocol import (
    MAX_LINE_BYTES,
    ControlCommandError,
    ControlRequest,
    RequestError,
    encode_reply,
    error_reply,
    parse_request,
)
from xintud.control.socketfile import (
    bind_control_socket,
    peer_credentials,
    peer_refusal,
    remove_own_socket,
)

logger = logging.getLogger(__name__)

DEFAULT_IDLE_TIMEOUT_S = 60.0
DEFAULT_MAX_CLIENTS = 256
_RECV_CHUNK = 64 * 1024


# ---------------------------------------------------------------------------------------------
# Requests


Handler = Callable[[ControlRequest], Mapping[str, Any] | None]


# ---------------------------------------------------------------------------------------------
# Socket file and peer checks


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
        self._listener, self._socket_id = bind_control_socket(self.socket_path)
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
        remove_own_socket(self.socket_path, self._socket_id)
        with contextlib.suppress(OSError):
            self._wake_w.close()  # type: ignore[union-attr]

    def __enter__(self) -> ControlServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()



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
            client.outbuf += answer(line, self._handle)
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


def answer(line: bytes, handle: Handler) -> bytes:
    """The reply line to one request line, from `handle`; never raises."""
    if not line.strip():
        return error_reply("empty request line")
    try:
        request = parse_request(line)
    except RequestError as exc:
        logger.info("bad control request: %s", exc)
        return error_reply(str(exc))
    try:
        result = handle(request)
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
