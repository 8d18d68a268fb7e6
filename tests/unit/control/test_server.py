"""The control socket server: protocol, validation, robustness and socket-file safety."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from xintud.control.protocol import (
    MAX_LINE_BYTES,
    ControlCommandError,
    ControlRequest,
    ExplainArgs,
    NoArgs,
    RecentArgs,
    RequestError,
    UndoArgs,
    parse_request,
)
from xintud.control.server import ControlServer
from xintud.control.socketfile import ControlSocketError, peer_credentials, peer_refusal


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """A short directory: pytest's tmp_path can exceed the ~107-byte AF_UNIX path limit."""
    path = Path(tempfile.mkdtemp(prefix="xc", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def sock_path(sock_dir: Path) -> Path:
    return sock_dir / "run" / "control.sock"


class Recorder:
    """A small handler that remembers what it was asked."""

    def __init__(self) -> None:
        self.requests: list[ControlRequest] = []

    def __call__(self, request: ControlRequest) -> dict[str, Any] | None:
        self.requests.append(request)
        if request.cmd == "status":
            return {"state": "running", "pid": os.getpid(), "queue": 0, "where": Path("/x/y")}
        if request.cmd == "recent":
            assert isinstance(request.args, RecentArgs)
            return {"items": [], "limit": request.args.limit}
        if request.cmd == "explain":
            assert isinstance(request.args, ExplainArgs)
            raise ControlCommandError(f"no record for {request.args.path}")
        if request.cmd == "undo":
            raise RuntimeError("journal exploded")
        if request.cmd == "reload":
            return {"bad": object()}  # not JSON: must become an error reply
        return None


@pytest.fixture
def server(sock_path: Path) -> Iterator[tuple[ControlServer, Recorder]]:
    handler = Recorder()
    srv = ControlServer(sock_path, handler)
    srv.start()
    yield srv, handler
    srv.stop()


def connect(path: Path, timeout: float = 5.0) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(os.fspath(path))
    return sock


def read_lines(sock: socket.socket, count: int) -> list[dict[str, Any]]:
    data = b""
    while data.count(b"\n") < count:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return [json.loads(line) for line in data.splitlines()[:count]]


def ask(path: Path, payload: bytes | dict[str, Any]) -> dict[str, Any]:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    with connect(path) as sock:
        sock.sendall(raw + b"\n")
        (reply,) = read_lines(sock, 1)
    return reply


def wait_closed(sock: socket.socket, timeout: float = 3.0) -> bool:
    """True once the server has closed the connection (recv returns b"")."""
    sock.settimeout(timeout)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
    except (TimeoutError, ConnectionResetError):
        return False


# --- request validation ------------------------------------------------------------------------


def test_parse_request_fills_defaults_per_command() -> None:
    assert parse_request('{"cmd": "recent"}').args == RecentArgs(limit=20)
    assert parse_request('{"cmd": "undo"}').args == UndoArgs(count=1, since=None)
    assert parse_request('{"cmd": "status", "args": null}').args == NoArgs()
    req = parse_request('{"cmd": "undo", "args": {"count": 3, "since": 1700000000}}')
    assert req.args == UndoArgs(count=3, since=1700000000.0)
    assert ControlRequest(cmd="recent", args={"limit": 5}).args == RecentArgs(limit=5)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"cmd": "recent", "args": {"limit": 0}}', "args.limit"),
        ('{"cmd": "recent", "args": {"limit": 1001}}', "args.limit"),
        ('{"cmd": "recent", "args": {"limit": "5"}}', "args.limit"),
        ('{"cmd": "explain"}', "args.path: Field required"),
        ('{"cmd": "explain", "args": {"path": 3}}', "args.path"),
        ('{"cmd": "undo", "args": {"count": 10001}}', "args.count"),
        ('{"cmd": "undo", "args": {"count": true}}', "args.count"),
        ('{"cmd": "scan", "args": {"path": "/a", "deep": true}}', "args.deep: Extra inputs"),
        ('{"cmd": "status", "args": {"verbose": 1}}', "args.verbose: Extra inputs"),
        ('{"cmd": "status", "id": 7}', "id: Extra inputs"),
        ('{"cmd": "shutdown"}', "cmd: Input should be 'status'"),
        ('{"args": {}}', "cmd: Field required"),
        ("[1, 2]", "valid dictionary"),
        ("{nope", "malformed JSON"),
        ("[" * 30000 + "]" * 30000, "nested too deeply"),  # RecursionError inside json
    ],
)
def test_parse_request_refuses_bad_requests(line: str, expected: str) -> None:
    with pytest.raises(RequestError) as info:
        parse_request(line)
    assert expected in str(info.value)


# --- protocol over a real socket ----------------------------------------------------------------


def test_status_round_trip(server: tuple[ControlServer, Recorder]) -> None:
    srv, handler = server
    reply = ask(srv.socket_path, {"cmd": "status", "args": {}})
    assert reply == {
        "ok": True,
        "result": {"state": "running", "pid": os.getpid(), "queue": 0, "where": "/x/y"},
    }
    assert [r.cmd for r in handler.requests] == ["status"]


def test_several_requests_on_one_connection_are_answered_in_order(
    server: tuple[ControlServer, Recorder],
) -> None:
    srv, _ = server
    with connect(srv.socket_path) as sock:
        sock.sendall(
            b'{"cmd":"recent","args":{"limit":3}}\n{"cmd":"pause"}\n{"cmd":"recent","args":{}}\n'
        )
        replies = read_lines(sock, 3)
        sock.sendall(b'{"cmd":"status"}\n')
        replies += read_lines(sock, 1)
    assert replies[0] == {"ok": True, "result": {"items": [], "limit": 3}}
    assert replies[1] == {"ok": True, "result": {}}
    assert replies[2]["result"]["limit"] == 20
    assert replies[3]["result"]["state"] == "running"


def test_malformed_json_gets_error_and_connection_stays_usable(
    server: tuple[ControlServer, Recorder],
) -> None:
    srv, handler = server
    with connect(srv.socket_path) as sock:
        sock.sendall(b'{"cmd": "status"\n')
        (bad,) = read_lines(sock, 1)
        sock.sendall(b'{"cmd": "status"}\n')
        (good,) = read_lines(sock, 1)
    assert bad["ok"] is False and bad["error"].startswith("malformed JSON")
    assert good["ok"] is True
    assert len(handler.requests) == 1


def test_invalid_utf8_and_empty_lines_get_errors(server: tuple[ControlServer, Recorder]) -> None:
    srv, _ = server
    assert "not UTF-8" in ask(srv.socket_path, b"\xff\xfe")["error"]
    assert "empty request" in ask(srv.socket_path, b"   ")["error"]


def test_unknown_cmd_and_extra_keys_are_refused(server: tuple[ControlServer, Recorder]) -> None:
    srv, handler = server
    unknown = ask(srv.socket_path, {"cmd": "rm -rf", "args": {}})
    extra_top = ask(srv.socket_path, {"cmd": "status", "args": {}, "sudo": True})
    extra_arg = ask(srv.socket_path, {"cmd": "recent", "args": {"limit": 5, "all": True}})
    assert unknown["ok"] is False and "cmd: Input should be" in unknown["error"]
    assert extra_top["ok"] is False and "sudo: Extra inputs" in extra_top["error"]
    assert extra_arg["ok"] is False and "args.all: Extra inputs" in extra_arg["error"]
    assert handler.requests == []


def test_handler_errors_become_error_replies_and_server_survives(
    server: tuple[ControlServer, Recorder],
) -> None:
    srv, _ = server
    expected = ask(srv.socket_path, {"cmd": "explain", "args": {"path": "/p/a.jpg"}})
    unexpected = ask(srv.socket_path, {"cmd": "undo", "args": {}})
    not_json = ask(srv.socket_path, {"cmd": "reload"})
    assert expected == {"ok": False, "error": "no record for /p/a.jpg"}
    assert unexpected == {"ok": False, "error": "journal exploded"}
    assert not_json["ok"] is False and "not JSON" in not_json["error"]
    assert ask(srv.socket_path, {"cmd": "status"})["ok"] is True


def test_last_line_without_newline_is_answered_at_eof(
    server: tuple[ControlServer, Recorder],
) -> None:
    srv, _ = server
    with connect(srv.socket_path) as sock:
        sock.sendall(b'{"cmd": "status"}')
        sock.shutdown(socket.SHUT_WR)
        (reply,) = read_lines(sock, 1)
        assert wait_closed(sock)
    assert reply["ok"] is True


def test_oversized_line_gets_error_and_close(server: tuple[ControlServer, Recorder]) -> None:
    srv, handler = server
    with connect(srv.socket_path) as sock:
        sock.sendall(b'{"cmd": "status", "pad": "' + b"x" * (MAX_LINE_BYTES + 100))
        (reply,) = read_lines(sock, 1)
        assert wait_closed(sock)
    assert reply["ok"] is False and "too long" in reply["error"]
    assert handler.requests == []
    assert ask(srv.socket_path, {"cmd": "status"})["ok"] is True


def test_line_of_exactly_the_limit_is_accepted(server: tuple[ControlServer, Recorder]) -> None:
    srv, _ = server
    body = b'{"cmd": "status"}'
    line = body + b" " * (MAX_LINE_BYTES - len(body))
    assert len(line) == MAX_LINE_BYTES
    assert ask(srv.socket_path, line)["ok"] is True


def test_silent_and_slow_clients_do_not_stall_fifty_others(
    server: tuple[ControlServer, Recorder],
) -> None:
    srv, _ = server
    silent = connect(srv.socket_path)
    slow = connect(srv.socket_path)
    slow.sendall(b'{"cmd": "sta')  # half a request, then nothing
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(50)

    def client() -> None:
        try:
            barrier.wait(timeout=10)
            reply = ask(srv.socket_path, {"cmd": "status"})
            with lock:
                results.append(reply)
        except BaseException as exc:  # collected and reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(50)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    elapsed = time.monotonic() - started
    assert errors == []
    assert len(results) == 50 and all(r["ok"] for r in results)
    assert elapsed < 10
    slow.sendall(b'tus"}\n')  # the slow client is still served once it finishes
    assert read_lines(slow, 1)[0]["ok"] is True
    silent.close()
    slow.close()


def test_idle_client_is_disconnected(sock_path: Path) -> None:
    with (
        ControlServer(sock_path, Recorder(), idle_timeout=0.2) as srv,
        connect(srv.socket_path) as sock,
    ):
        started = time.monotonic()
        assert wait_closed(sock, timeout=3)
        assert time.monotonic() - started < 2


def test_too_many_clients_get_a_clear_refusal(sock_path: Path) -> None:
    with ControlServer(sock_path, Recorder(), max_clients=2) as srv:
        first, second = connect(srv.socket_path), connect(srv.socket_path)
        time.sleep(0.1)  # let the server accept them
        with connect(srv.socket_path) as third:
            (reply,) = read_lines(third, 1)
            assert wait_closed(third)
        assert reply["ok"] is False and "too many" in reply["error"]
        first.close()
        second.close()


# --- peer credentials -------------------------------------------------------------------------


def test_peer_refusal_decides_by_uid() -> None:
    assert peer_refusal(1000, own_uid=1000) is None
    assert peer_refusal(None, own_uid=1000) is None  # unknown: the 0600 file mode guards
    refusal = peer_refusal(1001, own_uid=1000)
    assert refusal is not None and "uid 1001" in refusal and "uid 1000" in refusal
    assert peer_refusal(0, own_uid=1000) is not None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_PEERCRED is Linux-only")
def test_peer_credentials_report_our_pid_and_uid() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with left, right:
        assert peer_credentials(left) == (os.getpid(), os.geteuid())


def test_other_uid_is_refused_even_with_loose_file_mode(sock_path: Path) -> None:
    handler = Recorder()
    # We cannot become another user, so make the server belong to one instead.
    with ControlServer(sock_path, handler, allowed_uid=os.geteuid() + 1) as srv:
        os.chmod(srv.socket_path, 0o666)
        with connect(srv.socket_path) as sock:
            (reply,) = read_lines(sock, 1)  # refused before it could even ask
            assert wait_closed(sock)
    assert reply["ok"] is False and "permission denied" in reply["error"]
    assert handler.requests == []


# --- socket file safety ---------------------------------------------------------------------


def test_socket_is_0600_in_a_0700_dir(server: tuple[ControlServer, Recorder]) -> None:
    srv, _ = server
    info = srv.socket_path.lstat()
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert stat.S_IMODE(srv.socket_path.parent.stat().st_mode) == 0o700


def test_stop_is_quick_and_removes_the_socket(sock_path: Path) -> None:
    srv = ControlServer(sock_path, Recorder())
    srv.start()
    idle = connect(sock_path)
    started = time.monotonic()
    srv.stop()
    assert time.monotonic() - started < 1
    assert not sock_path.exists()
    assert wait_closed(idle)
    idle.close()
    srv.stop()  # idempotent


def test_stale_socket_from_dead_daemon_is_replaced(sock_path: Path) -> None:
    sock_path.parent.mkdir(mode=0o700)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(os.fspath(sock_path))
    dead.close()  # the file stays behind, nobody listens
    assert stat.S_ISSOCK(sock_path.lstat().st_mode)
    with ControlServer(sock_path, Recorder()) as srv:
        assert ask(srv.socket_path, {"cmd": "status"})["ok"] is True


def test_refuses_to_start_when_another_daemon_answers(
    server: tuple[ControlServer, Recorder],
) -> None:
    srv, _ = server
    second = ControlServer(srv.socket_path, Recorder())
    with pytest.raises(ControlSocketError, match=rf"another xintud is running \(pid {os.getpid()}"):
        second.start()
    second.stop()
    assert ask(srv.socket_path, {"cmd": "status"})["ok"] is True  # first one untouched


def test_stop_leaves_a_newer_daemons_socket_alone(sock_path: Path) -> None:
    old = ControlServer(sock_path, Recorder())
    old.start()
    sock_path.unlink()  # as if the old one lost its file and a new daemon started
    with ControlServer(sock_path, Recorder()) as new:
        old.stop()
        assert ask(new.socket_path, {"cmd": "status"})["ok"] is True


def test_refuses_a_regular_file_at_the_socket_path(sock_path: Path) -> None:
    sock_path.parent.mkdir(mode=0o700)
    sock_path.write_text("precious")
    with pytest.raises(ControlSocketError, match="not a socket"):
        ControlServer(sock_path, Recorder()).start()
    assert sock_path.read_text() == "precious"


def test_refuses_a_path_too_long_for_af_unix(sock_dir: Path) -> None:
    path = sock_dir / ("d" * 120) / "control.sock"
    with pytest.raises(ControlSocketError, match="AF_UNIX limit"):
        ControlServer(path, Recorder()).start()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a directory to another user")
def test_refuses_a_directory_owned_by_another_user(sock_path: Path) -> None:
    sock_path.parent.mkdir(mode=0o700)
    os.chown(sock_path.parent, 65534, 65534)
    with pytest.raises(ControlSocketError, match="owned by uid 65534"):
        ControlServer(sock_path, Recorder()).start()
    assert not sock_path.exists()


def test_tightens_nothing_but_refuses_a_group_writable_directory(sock_path: Path) -> None:
    sock_path.parent.mkdir()
    os.chmod(sock_path.parent, 0o777)
    with pytest.raises(ControlSocketError, match="writable by group or others"):
        ControlServer(sock_path, Recorder()).start()
