"""Groups as people read them: each member's path, quality and reasons, the best shot marked,
and why the members belong together — the shape `xintud dupes --json` and `xintuctl dupes
--json` print, one group per line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import BaseModel, Field

from xintud.core.facts import Quality
from xintud.duplicates.best import choose_best
from xintud.duplicates.compare import Closeness, Tier, tiers_up_to
from xintud.duplicates.fingerprint import Fingerprint
from xintud.duplicates.groups import Group, group_links, link_all
from xintud.duplicates.index import FingerprintIndex


class MemberReport(BaseModel):
    """One photo of a group."""

    path: str
    sha256: str
    score: float = Field(description="best-shot score within the group; higher is better")
    quality: Quality
    reasons: list[str]
    rating: int | None = Field(None, description="xmp:Rating: -1 rejected, 0..5 stars")


class GroupReport(BaseModel):
    """One group (or, with --all, a photo in none: group and tier null)."""

    group: str | None
    tier: str | None
    best: str
    members: list[MemberReport]
    why: list[str] = Field(default_factory=list, description="the links that hold it together")


def describe_closeness(close: Closeness, tier: Tier) -> str:
    """A link's measures in words: `burst: cosine 0.95, layout 0.97, detail 0.91, 3 s apart`."""
    parts = [f"cosine {close.cosine:.2f}", f"pHash {close.phash_bits} bits",
             f"layout {close.layout:.2f}", f"detail {close.detail:.2f}"]
    if close.screen is not None:
        parts.append(f"screens differ at most {close.screen:.2f}")
    if close.seconds_apart is not None:
        parts.append(f"{close.seconds_apart:.0f} s apart")
    return f"{tier.value}: " + ", ".join(parts)


def report_group(group: Group, fingerprints: Mapping[str, Fingerprint]) -> GroupReport:
    """A group with its members judged (best first) and its links described."""
    members = [fingerprints[key] for key in group.members]
    judged = choose_best(members, group.tier)
    names = {key: fingerprints[key].path.name for key in group.members}
    return GroupReport(
        group=group.id, tier=group.tier.value, best=str(judged[0].fingerprint.path),
        members=[MemberReport(path=str(j.fingerprint.path), sha256=j.fingerprint.sha256,
                              score=j.score, quality=j.fingerprint.quality,
                              reasons=list(j.reasons), rating=j.fingerprint.rating)
                 for j in judged],
        why=[f"{names[link.a]} ~ {names[link.b]}: "
             + describe_closeness(link.closeness, link.tier) for link in group.links],
    )


def report_single(fingerprint: Fingerprint) -> GroupReport:
    """A photo in no group (printed with --all)."""
    member = MemberReport(path=str(fingerprint.path), sha256=fingerprint.sha256, score=0.0,
                          quality=fingerprint.quality, reasons=[])
    return GroupReport(group=None, tier=None, best=str(fingerprint.path), members=[member])


def find_groups(fingerprints: Iterable[Fingerprint], loosest: Tier = Tier.BURST,
                include_singles: bool = False) -> list[GroupReport]:
    """Every group among these photos (all compared with each other), largest first; with
    `include_singles`, then every photo in no group."""
    by_key = {fp.key: fp for fp in fingerprints}
    index = FingerprintIndex()
    for fingerprint in by_key.values():
        index.add(fingerprint)
    groups = group_links(link_all(index, by_key.get, tiers_up_to(loosest)), loosest)
    reports = [report_group(group, by_key) for group in groups]
    if include_singles:
        grouped = {key for group in groups for key in group.members}
        reports.extend(report_single(by_key[key]) for key in sorted(by_key)
                       if key not in grouped)
    return reports


def not_best(reports: Iterable[GroupReport]) -> set[Path]:
    """The photos of these groups that are not their group's best shot (what an album's
    cover passes over)."""
    return {Path(m.path) for report in reports if report.group is not None
            for m in report.members if m.path != report.best}
