"""xintuctl against a real ControlServer, plus its small formatting and parsing functions."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from xintud.cli.xintuctl import (
    format_duration,
    format_explain,
    format_recent,
    format_simple,
    format_status,
    format_undo,
    parse_since,
)
from xintud.control.protocol import ControlCommandError, ControlRequest
from xintud.control.server import ControlServer

STATUS = {
    "state": "running",
    "queue": 0,
    "processed": 412,
    "failed": 2,
    "skipped": 0,
    "per_category": {"food": 97, "pets": 40, "social": 80},
    "last_action": "filed IMG_0042.jpg -> Food/2026/11 (food 0.93)",
    "model": "xintud-2026.11",
    "pid": 4242,
    "uptime_s": 11700.0,
}
RECENT_ITEM = {
    "time": 1764412980.0,
    "file": "/home/u/Pictures/Camera/IMG_0042.jpg",
    "category": "food",
    "confidence": 0.93,
    "action": "move",
    "dest": "/home/u/Pictures/Xintu/Food/2026/11/IMG_0042.jpg",
    "state": "done",
    "reason": None,
}
EXPLAIN = {
    "path": "/home/u/Pictures/Camera/IMG_0042.jpg",
    "category": "food",
    "confidence": 0.93,
    "scores": {"food": 0.93, "other": 0.04, "travel": 0.03},
    "evidence": {
        "imagenet": [
            {"wnid": "n07873807", "label": "pizza", "p": 0.61},
            {"wnid": "n07579787", "label": "plate", "p": 0.12},
        ],
        "detections": [{"label": "pizza", "score": 0.88, "box": [0.1, 0.1, 0.9, 0.9]}],
        "metadata": {"camera": "Pixel 8", "has_exif_date": True},
    },
    "state": "done",
    "action": "move",
    "dest": "/home/u/Pictures/Xintu/Food/2026/11/IMG_0042.jpg",
}
HEAVY = ("numpy", "onnxruntime", "PIL", "pydantic", "xintud.control.protocol",
         "xintud.control.server")


VERSION = {"version": "v0001", "made_at": 1764600000.0, "examples": 3, "held_back": 0,
           "score_before": None, "score_after": None, "taken": True,
           "note": "remembers 3 corrections; fewer than 10, so none was held back to check it "
                   "on: taken into use", "per_category": {"pets": 3}}
MODEL = {"in_use": "v0001", "corrections": 3, "refit_due_in_s": None, "versions": [VERSION]}
REFILE_ITEM = {"path": "/l/Food/2026/11/cat.jpg", "from": "food", "to": "pets",
               "confidence": 0.91, "model": "m+v0001",
               "why": ["looks like a photo you filed as pets (closest 0.93, lean from 0.75)"]}
REFILE = {"dry_run": True, "looked_at": 4, "items": [REFILE_ITEM],
          "message": "would move 1 of 4 photos that look like ones you corrected"}
CORRECT = {"path": "/l/Pets/2026/11/cat.jpg", "category": "pets", "was": "food",
           "message": "/l/Food/2026/11/cat.jpg is now pets (was food), at "
                      "/l/Pets/2026/11/cat.jpg"}


ALBUM = {"name": "2026-07-14 Kyoto — food, travel", "kind": "event", "start":
         "2026-07-14T09:00:00", "end": "2026-07-14T21:00:00", "place": "Kyoto", "count": 2,
         "cover": "/l/Food/a.jpg", "members": ["/l/Food/a.jpg", "/l/Travel/b.jpg"]}
OFFER = {"folder": "/l/Receipts", "photos": 7, "name": "receipts",
         "command": "xintuctl teach receipts '/l/Receipts'"}
FORGET = {"category": "receipts", "removed": 7, "message": "forgot receipts (7 examples)"}


class FakeDaemon:
    """A handler with canned answers that records the requests it got."""

    def __init__(self) -> None:
        self.requests: list[ControlRequest] = []

    def __call__(self, request: ControlRequest) -> dict[str, Any]:
        self.requests.append(request)
        if request.cmd == "status":
            return STATUS
        if request.cmd == "recent":
            return {"items": [RECENT_ITEM]}
        if request.cmd == "explain":
            if request.args.path.endswith("unknown.jpg"):  # type: ignore[union-attr]
                raise ControlCommandError("no analysis record for unknown.jpg")
            return EXPLAIN
        if request.cmd == "undo":
            return {"undone": [{"src": "/c/IMG_1.jpg", "dst": "/l/Food/IMG_1.jpg", "message": ""}]}
        if request.cmd == "dupes":
            if request.args.action == "list":  # type: ignore[union-attr]
                tier = request.args.tier  # type: ignore[union-attr]
                return {"groups": [GROUP] if tier == "same"
                        else [GROUP, {**GROUP, "group": "bbbbbbbbbb"}]}
            return SET_ASIDE
        if request.cmd == "review":
            return REVIEW
        if request.cmd == "model":
            return MODEL
        if request.cmd == "refile":
            return REFILE
        if request.cmd == "correct":
            return CORRECT
        if request.cmd == "teach":
            return {"offers": [OFFER]} if request.args.name is None else {  # type: ignore
                "category": "receipts", "examples": 5, "message": "taught receipts"}
        if request.cmd == "forget":
            return FORGET
        if request.cmd == "albums":
            return {"albums": [ALBUM]}
        return {}


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="xt", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def daemon(sock_dir: Path) -> Iterator[tuple[Path, FakeDaemon]]:
    handler = FakeDaemon()
    path = sock_dir / "control.sock"
    with ControlServer(path, handler):
        yield path, handler


def xintuctl_command() -> list[str]:
    script = Path(sys.executable).parent / "xintuctl"
    return [str(script)] if script.exists() else [sys.executable, "-m", "xintud.cli.xintuctl"]


def xintuctl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*xintuctl_command(), *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=False,
    )


# --- against a live server ------------------------------------------------------------------


# Every command the daemon answers, with the arguments it needs, and the result FakeDaemon sends.
GROUP = {"group": "aaaaaaaaaa", "tier": "same", "best": "/l/Other/a.jpg", "why": [],
         "members": [{"path": "/l/Other/a.jpg", "sha256": "1" * 64, "score": 0.0,
                      "quality": {"score": 0.9}, "reasons": ["largest (4032x3024)"]},
                     {"path": "/l/Other/a-WA0001.jpg", "sha256": "2" * 64, "score": -6.0,
                      "quality": {"score": 0.9}, "reasons": ["smaller copy (600x450)"]}]}
SET_ASIDE = {"set_aside": [{"group": "aaaaaaaaaa", "path": "/l/Other/a-WA0001.jpg",
                            "moved": "/l/_Review/Duplicates/aaaaaaaaaa/a-WA0001.jpg"}],
             "refused": []}
REVIEW = {"page": "/tmp/x.html", "groups": 1, "flagged": 0, "message": "wrote /tmp/x.html"}


EVERY_COMMAND: dict[str, tuple[list[str], dict[str, Any]]] = {
    "status": ([], STATUS),
    "pause": ([], {}),
    "resume": ([], {}),
    "scan": ([], {}),
    "recent": (["-n", "3"], {"items": [RECENT_ITEM]}),
    "explain": (["IMG_0042.jpg"], EXPLAIN),
    "undo": (["2"], {"undone": [{"src": "/c/IMG_1.jpg", "dst": "/l/Food/IMG_1.jpg",
                                  "message": ""}]}),
    "reload": ([], {}),
    "dupes": (["--tier", "same"], {**GROUP}),  # --json: one group per line (here the last)
    "review": (["--html", "x.html"], REVIEW),
    "model": ([], {**VERSION, "in_use": True}),  # --json: one version per line
    "refile": (["--dry-run"], REFILE_ITEM),  # --json: one photo per line
    "correct": (["cat.jpg", "pets"], CORRECT),
    "teach": (["--from-folder"], OFFER),  # --json: one offered folder per line
    "forget": (["receipts"], FORGET),
    "albums": ([], ALBUM),  # --json: one album per line
}


@pytest.mark.parametrize("where", ["before", "after"])
@pytest.mark.parametrize("command", sorted(EVERY_COMMAND))
def test_every_command_takes_json_before_or_after_it(
    daemon: tuple[Path, FakeDaemon], command: str, where: str
) -> None:
    path, handler = daemon
    args, expected = EVERY_COMMAND[command]
    line = (["--json", "--socket", str(path), command, *args] if where == "before"
            else ["--socket", str(path), command, *args, "--json"])
    proc = xintuctl(*line)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == expected
    assert [r.cmd for r in handler.requests] == [command]


def test_dupes_json_is_one_group_per_line_and_set_aside_sends_the_groups(
    daemon: tuple[Path, FakeDaemon]
) -> None:
    path, handler = daemon
    proc = xintuctl("--socket", str(path), "dupes", "--json")  # tier "burst": two groups
    lines = proc.stdout.splitlines()
    assert [json.loads(line)["group"] for line in lines] == ["aaaaaaaaaa", "bbbbbbbbbb"]
    plain = xintuctl("--socket", str(path), "dupes").stdout
    assert "group aaaaaaaaaa  same picture  2 photos" in plain
    assert "  * /l/Other/a.jpg  best: largest (4032x3024)" in plain
    done = xintuctl("--socket", str(path), "dupes", "set-aside", "aaaaaaaaaa", "bbbbbbbbbb")
    assert done.returncode == 0, done.stderr
    assert "set aside /l/Other/a-WA0001.jpg -> /l/_Review/Duplicates/aaaaaaaaaa" in done.stdout
    sent = handler.requests[-1].args
    assert (sent.action, sent.groups, sent.all) == ("set_aside", ["aaaaaaaaaa", "bbbbbbbbbb"],
                                                    False)
    xintuctl("--socket", str(path), "dupes", "set-aside", "--all", "--tier", "exact")
    assert (handler.requests[-1].args.all, handler.requests[-1].args.tier) == (True, "exact")


@pytest.mark.parametrize("words", [["set-aside"], ["remove", "aaaaaaaaaa"], ["--all"]])
def test_dupes_usage_errors_exit_2_without_asking_the_daemon(
    daemon: tuple[Path, FakeDaemon], words: list[str]
) -> None:
    path, handler = daemon
    proc = xintuctl("--socket", str(path), "dupes", *words)
    assert proc.returncode == 2 and "xintuctl:" in proc.stderr
    assert handler.requests == []


def test_every_daemon_command_of_the_registry_is_covered_above() -> None:
    from xintud.control.protocol import ARGS_MODELS

    assert set(EVERY_COMMAND) == set(ARGS_MODELS)


def test_json_after_the_command_does_not_undo_json_before_it(
    daemon: tuple[Path, FakeDaemon]
) -> None:
    path, _ = daemon
    proc = xintuctl("--json", "--socket", str(path), "status")
    assert json.loads(proc.stdout) == STATUS
    proc = xintuctl("--socket", str(path), "status")
    assert not proc.stdout.startswith("{")


def test_an_error_with_json_is_a_json_object_too(daemon: tuple[Path, FakeDaemon]) -> None:
    path, _ = daemon
    proc = xintuctl("--socket", str(path), "explain", "unknown.jpg", "--json")
    assert proc.returncode == 1
    reply = json.loads(proc.stdout)
    assert reply["ok"] is False and reply["exit_code"] == 1
    assert "unknown.jpg" in reply["error"]
    assert "unknown.jpg" in proc.stderr


def test_not_running_with_json_says_so_in_json(sock_dir: Path) -> None:
    proc = xintuctl("--socket", str(sock_dir / "none.sock"), "status", "--json")
    assert proc.returncode == 3
    reply = json.loads(proc.stdout)
    assert reply["exit_code"] == 3 and "not running" in reply["error"]


def test_status_human_output(daemon: tuple[Path, FakeDaemon]) -> None:
    path, _ = daemon
    proc = xintuctl("--socket", str(path), "status")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "xintud running · model xintud-2026.11 · queue 0 · processed 412 · failed 2"
    assert lines[1] == "  food 97  social 80  pets 40"
    assert lines[2] == "  last: filed IMG_0042.jpg -> Food/2026/11 (food 0.93)"
    assert lines[3] == "  pid 4242 · up 3h 15m"
    assert proc.stderr == ""


def test_json_output_is_the_raw_result(daemon: tuple[Path, FakeDaemon]) -> None:
    path, _ = daemon
    proc = xintuctl("--json", "--socket", str(path), "status")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == STATUS


def test_explain_sends_an_absolute_path_and_prints_evidence(
    daemon: tuple[Path, FakeDaemon], tmp_path: Path
) -> None:
    path, handler = daemon
    proc = subprocess.run(
        [*xintuctl_command(), "--socket", str(path), "explain", "IMG_0042.jpg"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert handler.requests[-1].args.path == str(tmp_path / "IMG_0042.jpg")  # type: ignore[union-attr]
    assert "category: food (0.93)" in proc.stdout
    assert "scores: food 0.93  other 0.04  travel 0.03" in proc.stdout
    assert "imagenet: pizza 0.61, plate 0.12" in proc.stdout
    assert "detections: pizza 0.88" in proc.stdout
    assert "camera=Pixel 8" in proc.stdout


def test_error_reply_goes_to_stderr_with_exit_1(daemon: tuple[Path, FakeDaemon]) -> None:
    path, _ = daemon
    proc = xintuctl("--socket", str(path), "explain", "/x/unknown.jpg")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "no analysis record for unknown.jpg" in proc.stderr


def test_recent_and_undo_send_their_arguments(daemon: tuple[Path, FakeDaemon]) -> None:
    path, handler = daemon
    recent = xintuctl("--socket", str(path), "recent", "-n", "5")
    undo_since = xintuctl("--socket", str(path), "undo", "--since", "10m")
    undo_three = xintuctl("--socket", str(path), "undo", "3")
    assert recent.returncode == undo_since.returncode == undo_three.returncode == 0
    assert "IMG_0042.jpg  food 0.93  move -> /home/u/Pictures/Xintu/Food" in recent.stdout
    assert "/l/Food/IMG_1.jpg -> /c/IMG_1.jpg" in undo_since.stdout
    limit, since, three = (r.args for r in handler.requests)
    assert limit.limit == 5  # type: ignore[union-attr]
    assert since.count == 10000  # type: ignore[union-attr]
    assert abs(since.since - (time.time() - 600)) < 30  # type: ignore[union-attr,operator]
    assert (three.count, three.since) == (3, None)  # type: ignore[union-attr]


def test_simple_commands(daemon: tuple[Path, FakeDaemon]) -> None:
    path, handler = daemon
    outputs = [xintuctl("--socket", str(path), cmd).stdout.strip() for cmd in ("pause", "reload")]
    assert outputs == ["xintud paused", "config reloaded"]
    assert [r.cmd for r in handler.requests] == ["pause", "reload"]


def test_usage_errors_exit_2(daemon: tuple[Path, FakeDaemon]) -> None:
    path, handler = daemon
    assert xintuctl("--socket", str(path), "recent", "-n", "0").returncode == 2
    assert xintuctl("--socket", str(path), "undo", "--since", "yesterday-ish").returncode == 2
    assert handler.requests == []


def test_refused_peer_sees_the_reason(sock_dir: Path) -> None:
    path = sock_dir / "control.sock"
    with ControlServer(path, FakeDaemon(), allowed_uid=os.geteuid() + 1):
        proc = xintuctl("--socket", str(path), "status")
    assert proc.returncode == 1
    assert "permission denied" in proc.stderr


# --- no daemon -------------------------------------------------------------------------------


def test_no_socket_exits_3_with_one_clear_line(sock_dir: Path) -> None:
    missing = sock_dir / "control.sock"
    proc = xintuctl("--socket", str(missing), "status")
    assert proc.returncode == 3
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"xintuctl: xintud is not running (no socket at {missing}); start it with "
        "`systemctl --user start xintud` or run `xintud`"
    ]


def test_stale_socket_exits_3(sock_dir: Path) -> None:
    stale = sock_dir / "control.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(stale))
    dead.close()
    proc = xintuctl("--socket", str(stale), "status")
    assert proc.returncode == 3
    assert "xintud is not running (nothing is listening on" in proc.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG runtime dir is Linux")
def test_default_socket_path_follows_xdg_runtime_dir(sock_dir: Path) -> None:
    env = {**os.environ, "XDG_RUNTIME_DIR": str(sock_dir), "XDG_STATE_HOME": str(sock_dir / "s")}
    proc = xintuctl("status", env=env)
    assert proc.returncode == 3
    assert f"no socket at {sock_dir / 'xintud' / 'control.sock'}" in proc.stderr


def test_xintuctl_imports_no_heavy_modules(daemon: tuple[Path, FakeDaemon]) -> None:
    path, _ = daemon
    code = (
        "import io, contextlib, json, sys\n"
        "from xintud.cli import service, xintuctl\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = xintuctl.main(['--socket', {str(path)!r}, 'status'])\n"
        f"print(json.dumps([rc, [m for m in {HEAVY!r} if m in sys.modules]]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [0, []]


# --- formatting and parsing ------------------------------------------------------------------


def test_format_status_without_optional_fields() -> None:
    text = format_status({"state": "paused", "queue": 3, "processed": 0, "failed": 0})
    assert text.splitlines() == [
        "xintud paused · model ? · queue 3 · processed 0 · failed 0",
        "  nothing sorted yet",
    ]
    assert "skipped 5" in format_status({**STATUS, "skipped": 5})


def test_format_recent_and_failed_items() -> None:
    failed = {
        **RECENT_ITEM,
        "state": "failed",
        "category": None,
        "action": None,
        "dest": None,
        "reason": "truncated JPEG",
    }
    text = format_recent({"items": [RECENT_ITEM, failed]})
    first, second = text.splitlines()
    assert first.endswith(
        "done      IMG_0042.jpg  food 0.93  move -> "
        "/home/u/Pictures/Xintu/Food/2026/11/IMG_0042.jpg"
    )
    assert second.endswith("failed    IMG_0042.jpg  (truncated JPEG)")
    assert format_recent({"items": []}) == "no files processed yet"


def test_format_explain_sorts_scores_and_handles_missing_evidence() -> None:
    text = format_explain({**EXPLAIN, "scores": {"other": 0.1, "food": 0.9}, "evidence": {}})
    assert "scores: food 0.90  other 0.10" in text
    assert "detections: none" in text
    assert "imagenet" not in text
    top = format_explain(EXPLAIN, top=1)
    assert "imagenet: pizza 0.61\n" in top


def test_format_explain_shows_faces_writing_rules_and_model() -> None:
    face = {"score": 0.999, "box": [0.3, 0.2, 0.7, 0.7], "landmarks": [[0.4, 0.4]] * 5}
    evidence = {
        **EXPLAIN["evidence"],
        "faces": [face],
        "background": {"uniformity": 0.95, "brightness": 0.2, "saturation": 0.8, "blue": 0.5,
                       "red": -0.4},
        "text": {"boxes": 3, "lines": 2, "area": 0.05, "left_aligned": 1.0, "height_spread": 0.1,
                 "top": 0.0, "middle": 1.0, "bottom": 0.0},
        "rules": ["text looked for: first answer unsure (idphoto 0.60)"],
    }
    text = format_explain({**EXPLAIN, "evidence": evidence, "model": "xintud-2026.12-abc"})
    assert "faces: 1 — 1.00 (20% of the picture); around the head 95% plain" in text
    assert "blue +0.50" in text
    assert "text: 2 lines (3 boxes) over 5% of the picture" in text
    assert "rule: text looked for: first answer unsure (idphoto 0.60)" in text
    assert "model: xintud-2026.12-abc" in text
    bare = format_explain(EXPLAIN)
    assert "faces: not looked for" in bare and "text: not looked for" in bare
    none = format_explain({**EXPLAIN, "evidence": {**EXPLAIN["evidence"], "faces": [],
                                                   "text": {"boxes": 0}}})
    assert "faces: none" in none and "text: none found" in none


def test_format_explain_shows_quality_and_status_shows_the_duplicates_backfill() -> None:
    quality = {"score": 0.35, "blur": 0.81, "motion": 0.6, "brightness": 0.42,
               "face_sharpness": None, "flags": ["blurry", "motion_blur"],
               "suggestions": ["looks shaken (motion blur)"]}
    text = format_explain({**EXPLAIN, "quality": quality})
    assert ("  quality: score 0.35, blur 0.81, motion 0.60, brightness 0.42 — looks shaken "
            "(motion blur)") in text
    assert "quality" not in format_explain({**EXPLAIN, "quality": None})
    status = format_status({**STATUS, "duplicates": {
        "photos": 120, "backfill": {"done": 120, "total": 500, "eta_s": 300.0}}})
    assert "duplicates: 120 photos analysed; earlier photos 120/500, about 5 min left" in status
    assert "duplicates" not in format_status({**STATUS, "duplicates": None})


def test_format_undo_and_simple() -> None:
    assert format_undo({"undone": []}) == "nothing to undo"
    assert format_undo({"undone": [{"src": "/a", "dst": "/b", "message": "moved back"}]}) == (
        "/b -> /a  (moved back)"
    )
    assert format_simple("scan", {"queued": 7}) == "scan queued 7 file(s)"
    assert format_simple("resume", {}) == "xintud resumed"
    assert format_simple("pause", {"message": "already paused"}) == "already paused"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (59, "59s"),
        (60, "1m"),
        (3599, "59m"),
        (3600, "1h 00m"),
        (11700, "3h 15m"),
        (90000, "1d 1h"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_parse_since() -> None:
    now = 1_800_000_000.0
    assert parse_since("10m", now) == now - 600
    assert parse_since("2h", now) == now - 7200
    assert parse_since("1.5d", now) == now - 1.5 * 86400
    utc = datetime(2026, 11, 29, 14, 0, tzinfo=timezone.utc).timestamp()
    assert parse_since("2026-11-29T14:00:00Z", now) == utc
    assert parse_since("2026-11-29T15:00:00+01:00", now) == utc
    assert parse_since("2026-11-29T14:00", now) == datetime(2026, 11, 29, 14, 0).timestamp()
    for bad in ("10", "soon", "10 minutes", "-5m"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_since(bad, now)


def test_a_reader_that_leaves_early_is_no_error(daemon: tuple[Path, FakeDaemon]) -> None:
    """`xintuctl recent | head -1`: the pipe closes before xintuctl writes; no traceback."""
    path, _ = daemon
    proc = subprocess.Popen([*xintuctl_command(), "--socket", str(path), "--json", "status"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    errors = proc.stderr.read().decode()
    assert proc.wait(timeout=30) == 0
    assert "Traceback" not in errors and "BrokenPipe" not in errors


def test_learning_commands_send_their_arguments_and_read_as_text(
    daemon: tuple[Path, FakeDaemon]
) -> None:
    path, handler = daemon
    plain = xintuctl("--socket", str(path), "model").stdout
    assert "* v0001" in plain and "3 corrections (pets 3)\n      remembers 3" in plain
    assert "  shipped" in plain
    xintuctl("--socket", str(path), "model", "rollback", "shipped")
    assert (handler.requests[-1].args.action, handler.requests[-1].args.version) == (
        "rollback", "shipped")
    xintuctl("--socket", str(path), "model", "refit")
    assert handler.requests[-1].args.action == "refit"
    refile = xintuctl("--socket", str(path), "refile", "--dry-run").stdout
    assert "/l/Food/2026/11/cat.jpg  food -> pets (0.91)  looks like a photo" in refile
    assert handler.requests[-1].args.dry_run is True
    done = xintuctl("--socket", str(path), "correct", "cat.jpg", "pets")
    assert "is now pets (was food)" in done.stdout
    assert handler.requests[-1].args.path == os.path.abspath("cat.jpg")
    offers = xintuctl("--socket", str(path), "teach", "--from-folder").stdout
    assert "/l/Receipts  7 photos:  xintuctl teach receipts '/l/Receipts'" in offers
    taught = xintuctl("--socket", str(path), "teach", "receipts", "r1.jpg", "shots")
    assert taught.stdout.strip() == "taught receipts"
    sent = handler.requests[-1].args
    assert (sent.name, sent.paths) == ("receipts", [os.path.abspath("r1.jpg"),
                                                    os.path.abspath("shots")])
    assert xintuctl("--socket", str(path), "teach").returncode == 2


@pytest.mark.parametrize("words", [["retrain"], ["rollback", "v1", "v2"], ["refit", "now"]])
def test_model_usage_errors_exit_2_without_asking_the_daemon(
    daemon: tuple[Path, FakeDaemon], words: list[str]
) -> None:
    path, handler = daemon
    proc = xintuctl("--socket", str(path), "model", *words)
    assert proc.returncode == 2 and "unknown model action" in proc.stderr
    assert handler.requests == []


def test_status_names_what_was_learned() -> None:
    from xintud.cli.xintuctl import format_status

    learned = {**STATUS, "model": "xintud-2026.11+v0003",
               "learning": {"corrections": 12, "in_use": "v0003"}}
    text = format_status(learned)
    assert "model xintud-2026.11+v0003" in text
    assert "  learned from you: version v0003, corrections and examples 12" in text
    quiet = format_status({**STATUS, "learning": {"corrections": 0, "in_use": "shipped"}})
    assert "learned" not in quiet


def test_explain_of_a_corrected_photo_says_whose_category_it_is() -> None:
    from xintud.cli.xintuctl import format_explain

    text = format_explain({**EXPLAIN, "category": "pets", "engine_category": "other",
                           "confidence": 0.95})
    assert "  category: pets (yours; the engine said other 0.95)" in text
