"""Security, end to end on the real daemon: private socket and state, peer uid checks, hostile
requests, no root by default, no network sockets, and photo metadata that is only ever text."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from tests.support.control_socket import ask, ask_raw, connect, read_line, socket_path
from tests.support.daemon_tree import DaemonTree, sha256, wait_for
from tests.support.images import scene, write_jpeg

pytestmark = pytest.mark.slow

MAX_LINE_BYTES = 64 * 1024  # xintud.control.MAX_LINE_BYTES, restated: the tests pin the contract
NOBODY_UID = 65534
NET_TABLES = ("tcp", "tcp6", "udp", "udp6", "udplite", "udplite6", "raw", "raw6")


@pytest.fixture
def tree(tmp_path: Path) -> DaemonTree:
    tree = DaemonTree(tmp_path)
    tree.write_config()
    return tree


# --- helpers ----------------------------------------------------------------------------------


def socket_inodes(pid: int) -> set[int]:
    """Inodes of every socket the process holds open (all its threads share one fd table)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:["):-1]))
    return inodes


def network_socket_inodes(pid: int) -> set[int]:
    """Inodes of every IPv4/IPv6 socket (TCP, UDP, UDP-Lite, raw) in the process's network
    namespace, listening or connected."""
    inodes = set()
    for table in NET_TABLES:
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 9:
                inodes.add(int(fields[9]))
    return inodes


def unix_socket_inodes(pid: int, path: Path) -> set[int]:
    """Inodes of the Unix sockets bound to `path`, from /proc/PID/net/unix."""
    inodes = set()
    for line in Path(f"/proc/{pid}/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[7] == os.fspath(path):
            inodes.add(int(fields[6]))
    return inodes


def child_pids(pid: int) -> list[int]:
    """Direct children of a process, from every one of its threads."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return children


CLIENT_SCRIPT = """
import socket, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.settimeout(10)
try:
    sock.connect(sys.argv[1])
except PermissionError:
    print("EACCES")
    raise SystemExit(0)
try:
    sock.sendall(sys.argv[2].encode() + b"\\n")
except OSError:
    pass  # a refused peer may be hung up on before it has sent: the reply is still there
data = b""
while not data.endswith(b"\\n"):
    chunk = sock.recv(65536)
    if not chunk:
        break
    data += chunk
print(data.decode().strip() or "EOF")
"""


def python_for_nobody() -> str | None:
    """A Python that user nobody may run (the venv's may live under a private /root)."""
    if os.geteuid() != 0:
        return None
    for candidate in (sys.executable, "/usr/bin/python3"):
        try:
            done = subprocess.run([candidate, "-c", "pass"], user=NOBODY_UID, group=NOBODY_UID,
                                  extra_groups=[], capture_output=True, timeout=30, cwd="/")
        except (OSError, subprocess.SubprocessError):
            continue
        if done.returncode == 0:
            return candidate
    return None


def as_nobody(python: str, sock: Path, request: str) -> str:
    """Send one request line as uid nobody; returns the reply line, "EACCES" or "EOF"."""
    done = subprocess.run([python, "-c", CLIENT_SCRIPT, os.fspath(sock), request],
                          user=NOBODY_UID, group=NOBODY_UID, extra_groups=[], cwd="/",
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


# --- the socket and the state are private -----------------------------------------------------


def test_socket_runtime_dir_and_state_are_private(tree: DaemonTree) -> None:
    daemon = tree.start()
    try:
        sock = socket_path(tree)
        info = sock.lstat()
        assert stat.S_ISSOCK(info.st_mode)
        assert stat.S_IMODE(info.st_mode) == 0o600
        assert info.st_uid == os.geteuid()
        runtime = sock.parent.stat()
        assert stat.S_IMODE(runtime.st_mode) == 0o700 and runtime.st_uid == os.geteuid()
        state_db = tree.base / "xdg-state" / "xintud" / "state.db"
        assert stat.S_IMODE(state_db.stat().st_mode) == 0o600
        assert stat.S_IMODE(state_db.parent.stat().st_mode) == 0o700
    finally:
        assert tree.stop(daemon) == 0, tree.logs()
    assert not socket_path(tree).exists(), "a stopped daemon removes its socket"


def test_other_uid_is_refused_even_with_loosened_modes(tree: DaemonTree) -> None:
    python = python_for_nobody()
    if python is None:
        pytest.skip("needs root (to act as user nobody) and a Python that nobody can run")
    daemon = tree.start()
    try:
        sock = socket_path(tree)
        # As installed, the 0700 runtime dir keeps other users from even reaching the socket.
        assert as_nobody(python, sock, '{"cmd": "pause"}') == "EACCES"

        # Loosened by mistake (or malice): the peer uid check still refuses the connection.
        os.chmod(tree.runtime, 0o711)
        os.chmod(sock.parent, 0o711)
        os.chmod(sock, 0o666)
        reply = as_nobody(python, sock, '{"cmd": "pause"}')
        assert '"ok":false' in reply.replace(" ", "") and "permission denied" in reply, reply
        assert "uid 65534" in reply
        reply = as_nobody(python, sock, '{"cmd": "status"}')
        assert "permission denied" in reply and '"processed"' not in reply, reply

        status, _ = ask(sock, "status")
        assert status["ok"] and status["result"]["state"] == "running", "nobody's pause ran"
        assert status["result"]["pid"] == daemon.pid
        assert "refused control connection" in tree.logs()
    finally:
        assert tree.stop(daemon) == 0, tree.logs()


# --- hostile requests ------------------------------------------------------------------------


MALFORMED: dict[str, bytes] = {
    "not JSON": b"status please\n",
    "JSON but not an object": b"[1, 2, 3]\n",
    "no cmd": b'{"args": {}}\n',
    "unknown cmd": b'{"cmd": "rm -rf ~"}\n',
    "extra key": b'{"cmd": "status", "sudo": true}\n',
    "args not an object": b'{"cmd": "recent", "args": [20]}\n',
    "wrong arg type": b'{"cmd": "recent", "args": {"limit": "all"}}\n',
    "float for int": b'{"cmd": "recent", "args": {"limit": 5.0}}\n',
    "arg out of range": b'{"cmd": "recent", "args": {"limit": 1000000}}\n',
    "negative count": b'{"cmd": "undo", "args": {"count": -1}}\n',
    "infinite since": b'{"cmd": "undo", "args": {"since": 1e999}}\n',
    "unknown arg": b'{"cmd": "status", "args": {"verbose": true}}\n',
    "empty path": b'{"cmd": "explain", "args": {"path": ""}}\n',
    "NUL in path": b'{"cmd": "explain", "args": {"path": "/tmp/a\\u0000b"}}\n',
    "lone surrogate in path": b'{"cmd": "explain", "args": {"path": "/tmp/\\ud800.jpg"}}\n',
    "scan a file": b'{"cmd": "scan", "args": {"path": "/etc/hostname"}}\n',
    "not UTF-8": b'{"cmd": "\xff\xfe"}\n',
    "empty line": b"\n",
    "huge integer": b'{"cmd": "recent", "args": {"limit": ' + b"9" * 20000 + b"}}\n",
    "deeply nested array": b"[" * 30000 + b"]" * 30000 + b"\n",
    "deeply nested args": (b'{"cmd": "status", "args": ' + b'{"a": ' * 9000 + b"1"
                           + b"}" * 9001 + b"\n"),
}


def test_malformed_requests_get_error_replies_and_the_daemon_lives(tree: DaemonTree) -> None:
    daemon = tree.start()
    try:
        sock = socket_path(tree)
        wrong = {}
        for name, payload in MALFORMED.items():
            assert len(payload) <= MAX_LINE_BYTES, name
            try:
                reply = ask_raw(sock, payload, timeout=10)
            except (OSError, AssertionError, ValueError) as exc:
                wrong[name] = f"{type(exc).__name__}: {exc}"
                continue
            if reply.get("ok") is not False or not isinstance(reply.get("error"), str):
                wrong[name] = reply
        assert wrong == {}, f"requests without an error reply: {wrong}"
        status, _ = ask(sock, "status")
        assert status["ok"] and status["result"]["pid"] == daemon.pid
        assert status["result"]["state"] == "running"
    finally:
        assert tree.stop(daemon) == 0, tree.logs()


def test_oversized_requests_are_cut_off_with_an_error(tree: DaemonTree) -> None:
    daemon = tree.start()
    try:
        sock = socket_path(tree)
        # Just over the limit, no newline yet: the daemon must not wait for the rest.
        with connect(sock) as client:
            client.sendall(b"a" * (MAX_LINE_BYTES + 1))
            reply = read_line(client)
            assert b"too long" in reply and b'"ok":false' in reply, reply
            assert client.recv(65536) == b"", "the connection is closed after the error"

        # A client that keeps sending (8 MiB): cut off, not buffered.
        with connect(sock) as client:
            def flood() -> None:
                with contextlib.suppress(OSError):  # the daemon hangs up on us: expected
                    client.sendall(b'{"cmd": "status", "args": {"x": "' + b"y" * (8 << 20))
            sender = threading.Thread(target=flood, daemon=True)
            sender.start()
            reply = read_line(client)
            sender.join(timeout=30)
        assert b"too long" in reply, reply

        # A valid request padded to exactly the limit is still answered.
        padded = b'{"cmd": "status"}'.ljust(MAX_LINE_BYTES) + b"\n"
        assert ask_raw(sock, padded)["ok"] is True

        status, _ = ask(sock, "status")
        assert status["ok"] and status["result"]["pid"] == daemon.pid
    finally:
        assert tree.stop(daemon) == 0, tree.logs()


# --- no root, no network ----------------------------------------------------------------------


@pytest.mark.skipif(os.geteuid() != 0, reason="the refusal is about running as root")
@pytest.mark.parametrize("allow", [None, "0", "yes"])
def test_refuses_to_run_as_root_unless_allowed(tree: DaemonTree, allow: str | None) -> None:
    env = tree.env()
    env.pop("XINTUD_ALLOW_ROOT")
    if allow is not None:
        env["XINTUD_ALLOW_ROOT"] = allow
    done = subprocess.run([sys.executable, "-m", "xintud", "--config", os.fspath(tree.config)],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "must not run as root" in done.stderr
    assert "XINTUD_ALLOW_ROOT=1" in done.stderr, "the message says how to override it"
    assert not socket_path(tree).exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="the warning is about running as root")
def test_running_as_root_when_allowed_is_warned_about(tree: DaemonTree) -> None:
    daemon = tree.start()  # DaemonTree sets XINTUD_ALLOW_ROOT=1
    assert tree.stop(daemon) == 0
    assert "WARNING running as root" in tree.logs(), tree.logs()


def test_network_socket_detection_works() -> None:
    """The check below must be able to fail: it sees this process's own TCP socket."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(1)
        mine = socket_inodes(os.getpid()) & network_socket_inodes(os.getpid())
        assert len(mine) == 1


def test_daemon_has_no_network_sockets(tree: DaemonTree) -> None:
    daemon = tree.start()
    try:
        write_jpeg(tree.camera / "IMG_0001.jpg", seed=3)  # models loaded, a photo filed
        wait_for(lambda: len(tree.library_files()) == 1, timeout=60, what="the photo filed")
        assert tree.ctl("recent").returncode == 0
        with connect(socket_path(tree)) as _idle_client:
            held = socket_inodes(daemon.pid)
            network = network_socket_inodes(daemon.pid)
            listening = unix_socket_inodes(daemon.pid, socket_path(tree))
        assert listening & held, "the daemon's own control socket is among its sockets"
        assert held & network == set(), "the daemon holds an IPv4/IPv6 socket"
    finally:
        assert tree.stop(daemon) == 0, tree.logs()


# --- metadata is text, never a command ---------------------------------------------------------


def shell_strings(markers: Path) -> dict[str, str]:
    """Strings that would create a marker file if any shell ever evaluated them."""
    return {
        "dollar": f"$(touch {markers}/dollar)",
        "backtick": f"`touch {markers}/backtick`",
        "semicolon": f"x; touch {markers}/semicolon; #",
        "pipe": f"x | touch {markers}/pipe",
        "and": f"x && touch {markers}/and",
        "newline": f"x\ntouch {markers}/newline\n",
    }


def hostile_exif(strings: dict[str, str]) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = strings["dollar"]  # Make
    exif[0x0110] = strings["backtick"]  # Model
    exif[0x0131] = strings["semicolon"]  # Software
    exif[0x010E] = strings["pipe"]  # ImageDescription
    exif[0x013B] = strings["and"]  # Artist
    exif[0x0132] = strings["dollar"]  # DateTime: not a date at all
    exif.get_ifd(0x8769)[0x9286] = strings["newline"]  # UserComment
    exif.get_ifd(0x8769)[0x9003] = "2024:05:06 07:08:09"  # DateTimeOriginal
    return exif


def hostile_xmp(strings: dict[str, str]) -> bytes:
    def esc(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"""<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/">
   <xmp:CreatorTool>{esc(strings["dollar"])}</xmp:CreatorTool>
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{esc(strings["backtick"])}</rdf:li>
   </rdf:Alt></dc:description>
   <dc:subject><rdf:Bag><rdf:li>{esc(strings["semicolon"])}</rdf:li></rdf:Bag></dc:subject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>""".encode()


def hostile_sidecar(strings: dict[str, str]) -> bytes:
    """An existing sidecar with an internal entity and shell strings in its keywords."""
    return f"""<?xml version="1.0"?>
<!DOCTYPE x:xmpmeta [<!ENTITY cmd "{strings["dollar"]}">]>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
   <dc:subject><rdf:Bag><rdf:li>&cmd;</rdf:li><rdf:li>{strings["backtick"]}</rdf:li></rdf:Bag>
   </dc:subject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>""".encode()


def write_hostile_photos(tree: DaemonTree, markers: Path) -> dict[Path, str]:
    """Photos whose metadata and names carry shell strings; returns path -> sha256."""
    strings = shell_strings(markers)
    photos = []
    jpeg = tree.camera / "IMG_0001.jpg"
    scene((320, 240), seed=5).save(jpeg, "JPEG", quality=90,
                                   exif=hostile_exif(strings).tobytes(),
                                   xmp=hostile_xmp(strings))
    photos.append(jpeg)
    # The name itself: relative touches would land in the daemon's working dir (tree.base).
    named = tree.camera / "IMG_$(touch name-dollar)`touch name-backtick`;touch name-semi;.jpg"
    write_jpeg(named, size=(320, 240), seed=6, exif=hostile_exif(strings))
    photos.append(named)
    info = PngImagePlugin.PngInfo()
    for key, value in strings.items():
        info.add_text(f"Comment-{key}", value)
    info.add_itxt("XML:com.adobe.xmp", hostile_xmp(strings).decode())
    png = tree.screenshots / "Screenshot_20240506-070809.png"
    scene((360, 780), seed=7).save(png, "PNG", pnginfo=info)
    photos.append(png)
    return {path: sha256(path) for path in photos}


@pytest.mark.parametrize("action", ["move", "tag"])
def test_shell_strings_in_metadata_are_never_executed(tree: DaemonTree, tmp_path: Path,
                                                      action: str) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    if action == "tag":
        tree.config.write_text(tree.config.read_text().replace('action = "move"',
                                                               'action = "tag"'))
    daemon = tree.start()
    spawned: list[int] = []
    try:
        photos = write_hostile_photos(tree, markers)
        if action == "tag":
            jpeg = next(p for p in photos if p.name == "IMG_0001.jpg")
            jpeg.with_name(jpeg.name + ".xmp").write_bytes(hostile_sidecar(shell_strings(markers)))

        def all_processed() -> bool:
            spawned.extend(child_pids(daemon.pid))
            return tree.status()["processed"] == len(photos)
        wait_for(all_processed, timeout=90, interval=0.2, what="the hostile photos processed")
        status = tree.status()
        assert status["failed"] == 0, tree.logs()

        if action == "move":
            filed = {sha256(p): p for p in tree.library_files()}
            assert set(filed) == set(photos.values()), "each photo filed, bytes unchanged"
            names = {p.name for p in filed.values()}
        else:
            assert {p: sha256(p) for p in photos} == photos, "tagging leaves the photo's bytes"
            sidecars = [Path(f"{p}.xmp") for p in photos]
            assert all(s.exists() for s in sidecars), tree.logs()
            names = {p.name for p in photos}
        assert names == {p.name for p in photos}

        for path in (filed.values() if action == "move" else photos):
            explained = tree.ctl("explain", os.fspath(path))
            assert explained.returncode == 0, explained.stderr
        assert tree.ctl("recent").returncode == 0
        time.sleep(1.0)  # anything started in the background would have run by now
        spawned.extend(child_pids(daemon.pid))
    finally:
        assert tree.stop(daemon) == 0, tree.logs()
    assert list(markers.iterdir()) == [], "a shell string in metadata was executed"
    assert sorted(tree.base.glob("name-*")) == [], "a shell string in a file name was executed"
    assert spawned == [], f"the daemon started child processes {spawned}"
