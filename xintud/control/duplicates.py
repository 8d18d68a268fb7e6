"""Control: the duplicates commands — list the library's groups, set non-best shots aside into
the review folder (journaled; `xintuctl undo` puts them back), write the review page.

Nothing is ever deleted. A group is acted on only as it is now: its id is made from its members,
so a group whose members changed since it was listed has another id and is refused; each
member is checked again (still filed, still where its record says, same content) just before
it is moved.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from xintud.control.protocol import ControlCommandError
from xintud.core.text import printable
from xintud.duplicates.compare import Tier
from xintud.duplicates.library import LibraryDuplicates
from xintud.duplicates.report import GroupReport, MemberReport
from xintud.library.actor import Actor
from xintud.library.rating import REJECTED
from xintud.library.review import duplicates_folder, is_in_review
from xintud.state.records import FileRecord, FileState, Records

logger = logging.getLogger(__name__)


def list_groups(duplicates: LibraryDuplicates, tier: str, library_root: Path | None
                ) -> list[dict[str, Any]]:
    """The groups still to review as JSON-able objects (one `GroupReport` each), largest
    first: a group whose other members are all set aside already is done."""
    groups = []
    for report in duplicates.groups(Tier(tier)):
        waiting = [m for m in report.members if not is_in_review(Path(m.path), library_root)
                   and m.rating != REJECTED]
        if len(waiting) >= 2 or (waiting and waiting[0].path != report.best):
            groups.append(report.model_dump(mode="json"))
    return groups


def set_aside(duplicates: LibraryDuplicates, records: Records, actor: Actor,
              act_lock: threading.Lock, action: str, group_ids: list[str], every: bool,
              tier: str) -> dict[str, Any]:
    """Move the non-best members of the named groups (or all) into the review folder."""
    root = actor.library_root
    if root is None and action != "tag":
        raise ControlCommandError("no library folder is set: set [library] root in the config")
    current = {report.group: report for report in duplicates.groups(Tier(tier))}
    chosen = list(current) if every else group_ids
    if not chosen:
        raise ControlCommandError("name the groups to set aside (see `xintuctl dupes`), or "
                                  "give --all")
    moved, refused = [], []
    with act_lock:
        for group_id in chosen:
            report = current.get(group_id)
            if report is None:
                refused.append({"group": group_id, "reason": "no such group now: its members "
                                "changed or were moved since it was listed; run `xintuctl "
                                "dupes` again"})
                continue
            for member in report.members:
                if member.path == report.best:
                    continue
                if action == "tag":
                    outcome = _reject_member(records, actor, report, member)
                else:
                    assert root is not None
                    outcome = _set_aside_member(records, actor, root, report, member)
                (moved if outcome.get("moved") else refused).append(outcome)
    return {"set_aside": moved, "refused": refused}


def _still_in_place(records: Records, member: MemberReport) -> FileRecord | None:
    """The member's record if it is still filed where the group says it is."""
    record = records.get(member.sha256)
    if record is None or record.state is not FileState.DONE or record.path != Path(member.path):
        return None
    return record


def _left(report: GroupReport, member: MemberReport, why: str) -> dict[str, Any]:
    return {"group": report.group, "path": member.path, "reason": f"{why}; left alone"}


def _reject_member(records: Records, actor: Actor, report: GroupReport,
                   member: MemberReport) -> dict[str, Any]:
    """Tag mode: files stay where they are; the copy is marked rejected in its sidecar."""
    path = Path(member.path)
    record = _still_in_place(records, member)
    if record is None:
        return _left(report, member, "not tagged where it was when the group was made")
    outcome = actor.reject(path, member.sha256)
    if not outcome.ok:
        return {"group": report.group, "path": member.path, "reason": outcome.message}
    best = Path(report.best).name
    records.upsert(replace(record, action=f"rejected (xmp:Rating -1): {report.tier} of {best} "
                                          f"(group {report.group})"))
    logger.info("marked %s rejected in its sidecar (%s of %s, group %s)",
                printable(path.name), report.tier, printable(best), report.group)
    return {"group": report.group, "path": member.path, "moved": str(outcome.dst),
            "rejected": True}


def _set_aside_member(records: Records, actor: Actor, root: Path, report: GroupReport,
                      member: MemberReport) -> dict[str, Any]:
    path = Path(member.path)
    record = _still_in_place(records, member)
    if record is None:
        return _left(report, member, "not filed where it was when the group was made")
    if is_in_review(path, root):
        return {"group": report.group, "path": member.path, "reason": "already set aside"}
    destination = duplicates_folder(root, str(report.group))
    outcome = actor.move(path, destination, member.sha256)
    if not outcome.ok or outcome.dst is None:
        return {"group": report.group, "path": member.path, "reason": outcome.message}
    best = Path(report.best).name
    records.upsert(replace(record, path=outcome.dst,
                           action=f"set aside: {report.tier} of {best} (group {report.group})"))
    logger.info("set aside %s -> %s (%s of %s, group %s)", printable(path.name),
                printable(str(outcome.dst.relative_to(root))), report.tier, printable(best),
                report.group)
    return {"group": report.group, "path": member.path, "moved": str(outcome.dst)}


def flagged_photos(duplicates: LibraryDuplicates, grouped: set[str]) -> list[MemberReport]:
    """Filed photos in no group whose quality has flags (blurry, accidental...)."""
    return [MemberReport(path=str(fp.path), sha256=fp.sha256, score=fp.quality.score,
                         quality=fp.quality, reasons=list(fp.quality.suggestions))
            for fp in duplicates.filed() if fp.quality.flags and fp.sha256 not in grouped]


def write_review(duplicates: LibraryDuplicates, html: str, tier: str) -> dict[str, Any]:
    """Write the review page to `html` (an absolute path the client gave)."""
    from xintud.duplicates.review_page import write_review_page

    groups = duplicates.groups(Tier(tier))
    grouped = {member.sha256 for group in groups for member in group.members}
    flagged = flagged_photos(duplicates, grouped)
    try:
        written = write_review_page(groups, flagged, Path(html))
    except OSError as exc:
        raise ControlCommandError(f"cannot write {html}: {exc.strerror or exc}; choose a folder "
                                  "you can write to") from exc
    return {"page": str(written), "groups": len(groups), "flagged": len(flagged),
            "message": f"wrote {written} ({len(groups)} groups, {len(flagged)} flagged photos); "
                       "open it in a browser"}
