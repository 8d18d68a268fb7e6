"""The learning commands of xintuctl — `correct`, `model`, `refile` — their arguments and their
output for people (standard library only: xintuctl imports it)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from xintud.core.text import json_text, printable

# Refile analyses photos again, and a refit of many corrections takes seconds: wait longer for
# them than for the quick commands.
SLOW_COMMAND_TIMEOUT_S = 1800.0


def add_learning_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """The subcommands, on xintuctl's parser (`command(name, help)` makes one)."""
    correct = command("correct", "give a filed photo its right category (moves it there); "
                                 "xintud learns from it")
    correct.add_argument("path", help="the photo, where it is now")
    correct.add_argument("category", help="its right category id (e.g. pets)")
    model = command("model", "what xintud learned from your corrections: the versions; "
                             "`model refit` now, `model rollback [VERSION]`")
    model.add_argument("words", nargs="*", metavar="refit | rollback [VERSION]",
                       help="refit now, or roll back (to VERSION, 'shipped', or the one before)")
    teach = command("teach", "a category of your own from at least 5 example photos (files "
                             "or folders); --from-folder: the library folders that could be one")
    teach.add_argument("name", nargs="?", help="its name (e.g. receipts)")
    teach.add_argument("paths", nargs="*", metavar="PATH", help="example photos or folders")
    teach.add_argument("--from-folder", action="store_true",
                       help="without NAME: list the library folders you made that could be "
                            "categories; with NAME FOLDER: teach from that folder")
    forget = command("forget", "remove a category of your own (its photos stay where they are)")
    forget.add_argument("name", help="the category")
    refile = command("refile", "move filed photos that the model in use would file elsewhere "
                               "(never those you placed yourself)")
    refile.add_argument("--dry-run", action="store_true",
                        help="only show what would move, and why")


def learning_args(ns: argparse.Namespace, absolute: Callable[[str], str]) -> dict[str, Any]:
    """The protocol `args` of a learning command; ValueError for words that make no sense."""
    if ns.command == "correct":
        return {"path": absolute(ns.path), "category": ns.category}
    if ns.command == "refile":
        return {"dry_run": ns.dry_run}
    if ns.command == "forget":
        return {"name": ns.name}
    if ns.command == "teach":
        if ns.name is None and not ns.from_folder:
            raise ValueError("name the category and its examples: `xintuctl teach NAME "
                             "PATH...` (or `xintuctl teach --from-folder` for suggestions)")
        return {"name": ns.name, "paths": [absolute(p) for p in ns.paths],
                "from_folder": ns.from_folder}
    words = list(ns.words)
    if not words:
        return {"action": "list"}
    if words[0] == "refit" and len(words) == 1:
        return {"action": "refit"}
    if words[0] == "rollback" and len(words) <= 2:
        return {"action": "rollback", "version": words[1] if len(words) == 2 else None}
    raise ValueError(f"unknown model action {' '.join(words)!r}: use `xintuctl model`, "
                     "`xintuctl model refit` or `xintuctl model rollback [VERSION]`")


def _when(stamp: Any) -> str:
    if not isinstance(stamp, (int, float)):
        return "?"
    return datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M")


def format_version(info: Mapping[str, Any], in_use: str) -> str:
    """One version: name, in use or not, when, how many corrections, then its note."""
    mark = "*" if info.get("version") == in_use else " "
    counts = ", ".join(f"{c} {n}" for c, n in (info.get("per_category") or {}).items())
    examples = info.get("examples")
    noun = "correction" if examples == 1 else "corrections"
    return "\n".join([printable(f"{mark} {info.get('version')}  {_when(info.get('made_at'))}  "
                                 f"{examples} {noun} ({counts or 'none'})"),
                      printable(f"      {info.get('note')}")])


def format_model(result: Mapping[str, Any]) -> str:
    """`model`: the versions (the one in use marked), or what a refit or rollback did."""
    if "versions" not in result:
        if "info" in result:
            return format_version(result["info"], str(result.get("in_use")))
        return str(result.get("message", f"now using {result.get('in_use')}"))
    in_use = str(result.get("in_use"))
    lines = [format_version(info, in_use) for info in result.get("versions") or []]
    shipped = "*" if in_use == "shipped" else " "
    lines.append(f"{shipped} shipped  the models as installed, nothing learned")
    due = result.get("refit_due_in_s")
    count = result.get("corrections", 0)
    lines.append(f"{count} {'correction' if count == 1 else 'corrections'} and examples"
                 + (f"; a refit is due in {due:.0f} s" if isinstance(due, (int, float)) else ""))
    return "\n".join(lines)


def format_refile(result: Mapping[str, Any]) -> str:
    """`refile`: one line per photo (from → to, why), then the count."""
    lines = []
    for item in result.get("items") or []:
        why = "; ".join(item.get("why") or [])
        where = f" -> {item['dest']}" if item.get("dest") else ""
        error = f"  error: {item['error']}" if item.get("error") else ""
        lines.append(printable(f"{item.get('path')}{where}  {item.get('from')} -> "
                               f"{item.get('to')} ({item.get('confidence', 0):.2f})  {why}"
                               f"{error}"))
    lines.append(str(result.get("message", "")))
    return "\n".join(lines)


def format_teach(result: Mapping[str, Any]) -> str:
    """`teach`: what was taught, or the folders offered with the command for each."""
    if "offers" not in result:
        return printable(str(result.get("message", "ok")))
    offers = result["offers"]
    if not offers:
        return ("no folder of yours in the library holds 5 or more photos outside the "
                "category folders")
    return "\n".join(printable(f"{o['folder']}  {o['photos']} photos:  {o['command']}")
                     for o in offers)


def format_message(result: Mapping[str, Any]) -> str:
    """`correct`, `forget`: what changed."""
    return printable(str(result.get("message", "ok")))


def learning_json_lines(cmd: str, result: Mapping[str, Any]) -> str | None:
    """JSON Lines for the commands with one result per item (model list, refile), else None."""
    if cmd == "model" and "versions" in result:
        rows = [{**info, "in_use": info.get("version") == result.get("in_use")}
                for info in result["versions"]]
        return "\n".join(json_text(row) for row in rows)
    if cmd == "refile":
        return "\n".join(json_text(item) for item in result.get("items") or [])
    if cmd == "teach" and "offers" in result:
        return "\n".join(json_text(offer) for offer in result["offers"])
    return None


LEARNING_FORMATTERS = {"correct": format_message, "model": format_model,
                       "refile": format_refile, "teach": format_teach,
                       "forget": format_message}
SLOW_COMMANDS = ("refile", "model", "correct", "teach", "forget")
