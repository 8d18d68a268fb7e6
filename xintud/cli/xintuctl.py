"""xintuctl: steer a running xintud over its control socket — arguments and human output.

It runs on every keystroke-level command, so it must start fast: standard library only (plus
core.paths, which uses platformdirs; the transport is control/client.py). Never import numpy,
onnxruntime, PIL or pydantic here, nor control.protocol (it needs pydantic).

Exit codes: 0 ok, 1 the daemon answered with an error (or spoke nonsense), 2 bad usage,
3 the daemon is not running.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from xintud.cli.albums import albums_json_lines, format_albums_reply
from xintud.cli.dupes_text import (
    dupes_json_lines,
    format_dupes,
    format_duplicates_status,
    format_quality,
    format_set_aside,
)
from xintud.cli.learning_text import (
    LEARNING_FORMATTERS,
    SLOW_COMMAND_TIMEOUT_S,
    SLOW_COMMANDS,
    add_learning_commands,
    learning_args,
    learning_json_lines,
)
from xintud.cli.output import until_reader_leaves
from xintud.control.client import (
    DEFAULT_TIMEOUT_S,
    ControlReplyError,
    DaemonNotRunning,
    default_socket_path,
    not_running_message,
    request,
)
from xintud.core.text import json_text, printable

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_RUNNING = 3
UNDO_ALL = 10000  # the protocol's ceiling for `count`, used when only --since is given

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


# ---------------------------------------------------------------------------------------------
# Talking to the daemon


# ---------------------------------------------------------------------------------------------
# Arguments


def parse_since(text: str, now: float | None = None) -> float:
    """Unix time from ISO 8601 ("2026-11-29T14:00", local time if no zone) or "10m"/"2h"/"1d"."""
    now = time.time() if now is None else now
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if match:
        return now - float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    iso = text.strip()
    if iso.endswith(("Z", "z")):  # fromisoformat before 3.11 does not take "Z"
        iso = iso[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: use ISO 8601 (2026-11-29T14:00) or an age like 10m, 2h, 1d"
        ) from None


def _positive_int(limit: int) -> Any:
    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not 1 <= value <= limit:
            raise argparse.ArgumentTypeError(f"{value} is out of range 1..{limit}")
        return value

    return check


# Commands xintuctl runs itself, without the daemon; every other command is one of the control
# protocol's (control.protocol.ARGS_MODELS: a test keeps the two lists equal).
LOCAL_COMMANDS = ("service",)


def build_parser() -> argparse.ArgumentParser:
    """The xintuctl command line; `--json` may come before or after the command."""
    parser = argparse.ArgumentParser(prog="xintuctl", description="Control the xintud daemon.")
    parser.add_argument("--json", action="store_true", help="print the raw result as JSON")
    parser.add_argument("--socket", type=Path, help="control socket path (default: per user)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help=argparse.SUPPRESS)
    # On a command, --json is only set when typed, so it never undoes one given before it.
    json_after = argparse.ArgumentParser(add_help=False)
    json_after.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                            help="print the raw result as JSON")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, parents=[json_after])

    command("status", "counters, model and the last action")
    command("pause", "stop processing new photos (watching goes on)")
    command("resume", "process photos again")
    scan = command("scan", "rescan the watched folders (or PATH) for missed photos")
    scan.add_argument("path", nargs="?", help="a file or folder; default: every watched folder")
    recent = command("recent", "the last processed files")
    recent.add_argument(
        "-n", dest="limit", type=_positive_int(1000), default=20, help="how many (default 20)"
    )
    explain = command("explain", "why a photo got its category")
    explain.add_argument("path", help="the photo (where it is now or where it was)")
    undo = command("undo", "undo the last action(s): move files back")
    undo.add_argument(
        "count",
        nargs="?",
        type=_positive_int(UNDO_ALL),
        help=f"how many actions (default 1, or up to {UNDO_ALL} with --since)",
    )
    undo.add_argument(
        "--since",
        type=parse_since,
        metavar="TIME",
        help="only actions since TIME: ISO 8601 or an age like 10m, 2h, 1d",
    )
    command("reload", "re-read the config file")
    dupes = command("dupes", "groups of copies and bursts in the library, the best shot marked; "
                             "`dupes set-aside GROUP...` moves the others to _Review/Duplicates")
    dupes.add_argument("words", nargs="*", metavar="set-aside GROUP",
                       help="set-aside and the groups whose non-best photos to set aside")
    dupes.add_argument("--tier", choices=("exact", "same", "burst"), default="burst",
                       help="the loosest tier that makes a group (default: %(default)s)")
    dupes.add_argument("--all", action="store_true", help="with set-aside: every group")
    review = command("review", "write one HTML page of the groups and blurry/accidental shots")
    review.add_argument("--html", required=True, metavar="FILE", help="the page to write")
    review.add_argument("--tier", choices=("exact", "same", "burst"), default="burst")
    add_learning_commands(command)
    command("albums", "the events and trips in the library's Albums/ folder")
    service = command("service", "start xintud at login (systemd/launchd)")
    service.add_argument("action", choices=["install", "uninstall"])
    return parser


def request_args(ns: argparse.Namespace) -> dict[str, Any]:
    """The protocol `args` for a parsed command line."""
    if ns.command == "scan":
        return {"path": _absolute(ns.path)} if ns.path else {}
    if ns.command == "recent":
        return {"limit": ns.limit}
    if ns.command == "explain":
        return {"path": _absolute(ns.path)}
    if ns.command == "undo":
        count = ns.count or (UNDO_ALL if ns.since is not None else 1)
        return {"count": count, "since": ns.since}
    if ns.command == "dupes":
        return dupes_args(ns)
    if ns.command == "review":
        return {"html": _absolute(ns.html), "tier": ns.tier}
    if ns.command in LEARNING_FORMATTERS:
        try:
            return learning_args(ns, _absolute)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return {}


def dupes_args(ns: argparse.Namespace) -> dict[str, Any]:
    """`dupes [--tier T]` lists; `dupes set-aside GROUP...|--all` sets aside."""
    if not ns.words:
        if ns.all:
            raise UsageError("--all goes with set-aside: `xintuctl dupes set-aside --all`")
        return {"action": "list", "tier": ns.tier}
    if ns.words[0] != "set-aside":
        raise UsageError(f"unknown dupes action {ns.words[0]!r}: use `xintuctl dupes` or "
                         "`xintuctl dupes set-aside GROUP...`")
    groups = ns.words[1:]
    if not groups and not ns.all:
        raise UsageError("name the groups to set aside (from `xintuctl dupes`), or give --all")
    return {"action": "set_aside", "tier": ns.tier, "groups": groups, "all": ns.all}


class UsageError(ValueError):
    """A command line that parses but does not make sense; exit 2 with the message."""


def _absolute(path: str) -> str:
    # The daemon has its own working directory: send what the user meant from here.
    return os.path.abspath(os.path.expanduser(path))


# ---------------------------------------------------------------------------------------------
# Human output


def format_duration(seconds: float) -> str:
    """A short age: 45s, 12m, 3h 05m, 2d 4h."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, _ = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def _score(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, (int, float)) else "?"


def format_status(result: Mapping[str, Any]) -> str:
    """Three or four lines: state and counters, per-category counts, last action, pid/uptime."""
    head = [
        f"xintud {result.get('state', '?')}",
        f"model {result.get('model', '?')}",
        f"queue {result.get('queue', '?')}",
        f"processed {result.get('processed', '?')}",
        f"failed {result.get('failed', '?')}",
    ]
    if result.get("skipped"):
        head.append(f"skipped {result['skipped']}")
    lines = [" · ".join(head)]
    counts = result.get("per_category") or {}
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    lines.append("  " + ("  ".join(f"{cat} {n}" for cat, n in ranked) or "nothing sorted yet"))
    if result.get("last_action"):
        lines.append(f"  last: {printable(str(result['last_action']))}")
    learning = result.get("learning") or {}
    if learning.get("corrections") or learning.get("in_use", "shipped") != "shipped":
        lines.append(f"  learned from you: version {learning.get('in_use')}, corrections and "
                     f"examples {learning.get('corrections', 0)} (`xintuctl model`)")
    duplicates = format_duplicates_status(result.get("duplicates"))
    if duplicates:
        lines.append(duplicates)
    pid, uptime = result.get("pid"), result.get("uptime_s")
    if pid is not None or uptime is not None:
        up = format_duration(uptime) if isinstance(uptime, (int, float)) else "?"
        lines.append(f"  pid {pid if pid is not None else '?'} · up {up}")
    return "\n".join(lines)


def format_recent_item(item: Mapping[str, Any]) -> str:
    """One line per file: when, state, name, category and what was done."""
    when = item.get("time")
    stamp = (
        datetime.fromtimestamp(when).strftime("%Y-%m-%d %H:%M")
        if isinstance(when, (int, float))
        else "????-??-?? ??:??"
    )
    parts = [stamp, f"{item.get('state', '?'):<8}", Path(str(item.get("file", "?"))).name]
    if item.get("category"):
        parts.append(f"{item['category']} {_score(item.get('confidence'))}")
    if item.get("action"):
        parts.append(f"{item['action']} -> {item['dest']}" if item.get("dest") else item["action"])
    if item.get("reason"):
        parts.append(f"({item['reason']})")
    # File names may hold newlines or escape codes: one file stays one line.
    return printable("  ".join(parts))


def format_recent(result: Mapping[str, Any]) -> str:
    """The recent list, oldest line first as the daemon sent it."""
    items = result.get("items") or []
    return "\n".join(format_recent_item(i) for i in items) if items else "no files processed yet"


def format_faces(evidence: Mapping[str, Any]) -> str:
    """The faces line of explain: how many, how sure, how large, and the head's background."""
    faces = evidence.get("faces")
    if faces is None:
        return "  faces: not looked for"
    if not faces:
        return "  faces: none"
    shown = ", ".join(
        f"{_score(f.get('score'))} ({(f['box'][2] - f['box'][0]) * (f['box'][3] - f['box'][1]):.0%}"
        " of the picture)" for f in faces[:4])
    line = f"  faces: {len(faces)} — {shown}" + (" …" if len(faces) > 4 else "")
    background = evidence.get("background")
    if background:
        line += (f"; around the head {background.get('uniformity', 0):.0%} plain, brightness "
                 f"{background.get('brightness', 0):.2f}, blue {background.get('blue', 0):+.2f}, "
                 f"red {background.get('red', 0):+.2f}")
    return line


def format_text(evidence: Mapping[str, Any]) -> str:
    """The writing line of explain: lines, the share of the picture, where it sits."""
    text = evidence.get("text")
    if text is None:
        return "  text: not looked for"
    if not text.get("boxes"):
        return "  text: none found"
    return (f"  text: {text.get('lines')} lines ({text.get('boxes')} boxes) over "
            f"{text.get('area', 0):.0%} of the picture, {text.get('left_aligned', 0):.0%} "
            f"left-aligned; top/middle/bottom {text.get('top', 0):.0%}/"
            f"{text.get('middle', 0):.0%}/{text.get('bottom', 0):.0%}")


def format_explain(result: Mapping[str, Any], top: int = 5) -> str:
    """Why a photo got its category: scores, ImageNet labels, detections, faces, writing,
    metadata cues and the rules and gates that applied."""
    lines = [printable(str(result.get("path", "?")))]
    verdict = f"  category: {result.get('category') or 'none'} ({_score(result.get('confidence'))})"
    if result.get("engine_category"):
        verdict = (f"  category: {result.get('category')} (yours; the engine said "
                   f"{result['engine_category']} {_score(result.get('confidence'))})")
    state = f"  state: {result.get('state', '?')}"
    if result.get("action"):
        state += f" · {result['action']}" + (f" -> {result['dest']}" if result.get("dest") else "")
    lines += [verdict, printable(state)]
    scores = result.get("scores") or {}
    if scores:
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        lines.append("  scores: " + "  ".join(f"{c} {_score(p)}" for c, p in ranked))
    evidence = result.get("evidence") or {}
    labels = evidence.get("imagenet") or []
    if labels:
        shown = sorted(labels, key=lambda e: -e.get("p", 0))[:top]
        lines.append(
            "  imagenet: " + ", ".join(f"{e.get('label')} {_score(e.get('p'))}" for e in shown)
        )
    detections = evidence.get("detections") or []
    lines.append(
        "  detections: "
        + (", ".join(f"{d.get('label')} {_score(d.get('score'))}" for d in detections) or "none")
    )
    lines += [format_faces(evidence), format_text(evidence)]
    metadata = evidence.get("metadata") or {}
    if metadata:
        lines.append("  metadata: " + ", ".join(f"{k}={v}" for k, v in metadata.items()))
    lines += [printable(f"  rule: {rule}") for rule in evidence.get("rules") or []]
    quality = format_quality(result.get("quality"))
    if quality:
        lines.append(quality)
    if result.get("model"):
        lines.append(f"  model: {result['model']}")
    return "\n".join(lines)


def format_undo(result: Mapping[str, Any]) -> str:
    """One line per undone action: where the file went back to."""
    undone = result.get("undone") or []
    if not undone:
        return "nothing to undo"
    lines = []
    for item in undone:
        line = f"{item.get('dst')} -> {item.get('src')}"
        if item.get("message"):
            line += f"  ({item['message']})"
        lines.append(printable(line))
    return "\n".join(lines)


_SIMPLE_DEFAULTS = {
    "pause": "xintud paused",
    "resume": "xintud resumed",
    "reload": "config reloaded",
    "scan": "scan started",
}


def format_simple(cmd: str, result: Mapping[str, Any]) -> str:
    """pause/resume/reload/scan: the daemon's `message`, else a standard line."""
    if result.get("message"):
        return str(result["message"])
    if cmd == "scan" and isinstance(result.get("queued"), int):
        return f"scan queued {result['queued']} file(s)"
    return _SIMPLE_DEFAULTS.get(cmd, "ok")


def json_result(result: Mapping[str, Any]) -> str:
    """The result as indented JSON; names that are not UTF-8 stay \\udcXX escapes."""
    return json_text(result, indent=2)


def format_result(cmd: str, result: Mapping[str, Any]) -> str:
    """Human text for any command's result."""
    formatters = {
        "status": format_status,
        "recent": format_recent,
        "explain": format_explain,
        "undo": format_undo,
        "dupes": lambda r: format_set_aside(r) if "set_aside" in r else format_dupes(r),
        **LEARNING_FORMATTERS,
        "albums": format_albums_reply,
    }
    formatter = formatters.get(cmd)
    return formatter(result) if formatter else format_simple(cmd, result)


# ---------------------------------------------------------------------------------------------
# Entry point


def run_service(action: str, as_json: bool = False) -> int:
    """`xintuctl service install|uninstall`; with `as_json`, one JSON object of what it said."""
    from xintud.cli import service  # standard library only

    run = service.install_service if action == "install" else service.uninstall_service
    if not as_json:
        return run()
    out, err = io.StringIO(), io.StringIO()
    code = run(out=out, err=err)
    print(json_result({"action": action, "ok": code == EXIT_OK, "exit_code": code,
                       "output": out.getvalue().splitlines(),
                       "errors": err.getvalue().splitlines()}))
    return code


def fail(ns: argparse.Namespace, message: str, code: int) -> int:
    """Report an error on stderr (and, with --json, as a JSON object on stdout); return code."""
    print(message, file=sys.stderr)
    if ns.json:
        print(json_result({"ok": False, "error": message, "exit_code": code}))
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run xintuctl; return (and, as a console script, exit with) the exit code."""
    return until_reader_leaves(run, argv)


def run(argv: Sequence[str] | None = None) -> int:
    """The command itself (see main)."""
    ns = build_parser().parse_args(argv)
    if ns.command in LOCAL_COMMANDS:
        return run_service(ns.action, ns.json)
    try:
        socket_path = ns.socket or default_socket_path()
    except OSError as exc:
        return fail(ns, f"xintuctl: cannot use the control socket: {exc}", EXIT_ERROR)
    try:
        args = request_args(ns)
    except UsageError as exc:
        return fail(ns, f"xintuctl: {exc}", EXIT_USAGE)
    try:
        timeout = ns.timeout
        if ns.command in SLOW_COMMANDS and timeout == DEFAULT_TIMEOUT_S:
            timeout = SLOW_COMMAND_TIMEOUT_S
        result = request(socket_path, ns.command, args, timeout=timeout)
    except DaemonNotRunning as exc:
        return fail(ns, not_running_message(str(exc)), EXIT_NOT_RUNNING)
    except ControlReplyError as exc:
        return fail(ns, f"xintuctl: {ns.command}: {exc}", EXIT_ERROR)
    except OSError as exc:
        return fail(ns, f"xintuctl: cannot reach xintud at {socket_path}: {exc}", EXIT_ERROR)
    item_lines = learning_json_lines(ns.command, result) if ns.json else None
    if ns.json and ns.command == "albums":
        item_lines = albums_json_lines(result)
    if ns.json and ns.command == "dupes" and "groups" in result:
        lines = dupes_json_lines(result)
        if lines:
            print(lines)
    elif item_lines is not None:
        if item_lines:
            print(item_lines)
    elif ns.json:
        print(json_result(result))
    else:
        print(format_result(ns.command, result))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
