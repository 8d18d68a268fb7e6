"""Duplicates for people, from the JSON both command lines get (standard library only: xintuctl
imports it): a group as a header and one line per member, the best marked `*`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xintud.core.text import json_text, printable

TIER_WORDS = {"exact": "exact copies", "same": "same picture", "burst": "burst",
              "similar": "alike only (shown, never acted on)"}


def format_group(group: Mapping[str, Any]) -> str:
    """A header line (id, tier, count), then each member: `*` for the best, its reasons."""
    if group.get("group") is None:
        return printable(f"{group.get('best')}  (no group)")
    members = group.get("members") or []
    tier = TIER_WORDS.get(str(group.get("tier")), str(group.get("tier")))
    lines = [f"group {group.get('group')}  {tier}  {len(members)} photos"]
    for member in members:
        best = member.get("path") == group.get("best")
        reasons = ", ".join(member.get("reasons") or [])
        label = f"best: {reasons}" if best else reasons
        lines.append(printable(f"  {'*' if best else ' '} {member.get('path')}  {label}"))
    return "\n".join(lines)


def format_dupes(result: Mapping[str, Any]) -> str:
    """`xintuctl dupes`: every group, or a line saying there are none."""
    groups = result.get("groups") or []
    if not groups:
        return "no duplicates or bursts among the filed photos"
    aside = sum(len(g.get("members") or []) - 1 for g in groups)
    body = "\n".join(format_group(group) for group in groups)
    return (f"{body}\n{len(groups)} groups; {aside} photos could be set aside with "
            "`xintuctl dupes set-aside GROUP...` (nothing is deleted)")


def dupes_json_lines(result: Mapping[str, Any]) -> str:
    """`xintuctl dupes --json`: one group per line (JSON Lines)."""
    return "\n".join(json_text(group) for group in result.get("groups") or [])


def format_set_aside(result: Mapping[str, Any]) -> str:
    """What was set aside and what was refused, and how to take it back."""
    lines = [printable(f"set aside {item.get('path')} -> {item.get('moved')}")
             for item in result.get("set_aside") or []]
    lines += [printable(f"left {item.get('path') or 'group ' + str(item.get('group'))}: "
                        f"{item.get('reason')}") for item in result.get("refused") or []]
    if result.get("set_aside"):
        lines.append("`xintuctl undo N` puts the last N back")
    return "\n".join(lines) or "nothing to set aside"


def format_quality(quality: Mapping[str, Any] | None) -> str | None:
    """The quality line of explain: score, blur and motion, and what looks wrong."""
    if not quality:
        return None
    parts = [f"score {_number(quality.get('score'))}", f"blur {_number(quality.get('blur'))}",
             f"motion {_number(quality.get('motion'))}",
             f"brightness {_number(quality.get('brightness'))}"]
    if quality.get("face_sharpness") is not None:
        parts.append(f"face sharpness {_number(quality.get('face_sharpness'))}")
    words = "; ".join(quality.get("suggestions") or []) or "nothing looks wrong"
    return f"  quality: {', '.join(parts)} — {words}"


def _number(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, (int, float)) else "?"


def format_duplicates_status(status: Mapping[str, Any] | None) -> str | None:
    """The status line about duplicates, or None when the daemon does not track them."""
    if not status:
        return None
    line = f"  duplicates: {status.get('photos', '?')} photos analysed"
    backfill = status.get("backfill")
    if backfill:
        eta = backfill.get("eta_s")
        line += (f"; earlier photos {backfill.get('done')}/{backfill.get('total')}"
                 + (f", about {round(eta / 60) or 1} min left" if eta is not None else ""))
    return line
