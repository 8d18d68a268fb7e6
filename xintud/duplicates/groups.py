"""Where duplicates are grouped: links between photos (compare.py's tiers) joined into groups,
each with a stable id and the loosest tier that holds it together.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from xintud.duplicates.compare import TIER_ORDER, Closeness, Tier, compare_many, tiers_up_to
from xintud.duplicates.fingerprint import Fingerprint
from xintud.duplicates.index import FingerprintIndex

# Tiers that make groups; `similar` is shown on request and never acted on.
GROUP_TIERS = (Tier.EXACT, Tier.SAME, Tier.BURST)

FingerprintSource = Callable[[str], Fingerprint | None]
# Pairs compared in one batch by link_all: their layouts as floats take ~35 MiB at most.
PAIRS_AT_ONCE = 1024


@dataclass(frozen=True)
class Link:
    """Two photos (by fingerprint key) and how close they are."""

    a: str
    b: str
    tier: Tier
    closeness: Closeness


@dataclass(frozen=True)
class Group:
    """Photos that are copies or one moment. `id` is made from the members' keys, so the same
    members always get the same id, and any change of members a new one."""

    id: str
    tier: Tier
    members: tuple[str, ...]  # keys, sorted
    links: tuple[Link, ...]


def link_one(fingerprint: Fingerprint, index: FingerprintIndex,
             source: FingerprintSource) -> list[Link]:
    """The links of one photo to those in the index (a new arrival: milliseconds)."""
    others = [other for other in map(source, index.candidates(fingerprint)) if other is not None]
    return _links([(fingerprint, other) for other in others])


def link_all(index: FingerprintIndex, source: FingerprintSource,
             tiers: tuple[Tier, ...] = GROUP_TIERS) -> list[Link]:
    """Every link among the photos in the index (the whole library at once); `tiers` may add
    `similar` when it is asked for, to be shown. Compared PAIRS_AT_ONCE pairs at a time."""
    pairs = sorted({tuple(sorted(pair)) for pair in index.candidate_pairs()})
    links = []
    for start in range(0, len(pairs), PAIRS_AT_ONCE):
        found = []
        for a, b in pairs[start:start + PAIRS_AT_ONCE]:
            first, second = source(a), source(b)
            if first is not None and second is not None:
                found.append((first, second))
        links.extend(_links(found, tiers))
    return links


def _links(pairs: list[tuple[Fingerprint, Fingerprint]],
           tiers: tuple[Tier, ...] = GROUP_TIERS) -> list[Link]:
    links = []
    for (a, b), (tier, closeness) in zip(pairs, compare_many(pairs), strict=True):
        if tier in tiers:
            first, second = sorted((a.key, b.key))
            links.append(Link(first, second, tier, closeness))
    return links


def group_links(links: Iterable[Link], loosest: Tier = Tier.BURST) -> list[Group]:
    """Join links no looser than `loosest` into groups (union-find), largest first."""
    allowed = tiers_up_to(loosest)
    kept = [link for link in links if link.tier in allowed]
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for link in kept:
        parent[root(link.a)] = root(link.b)
    members: dict[str, list[str]] = {}
    for key in parent:
        members.setdefault(root(key), []).append(key)
    by_root: dict[str, list[Link]] = {}
    for link in kept:
        by_root.setdefault(root(link.a), []).append(link)
    groups = [_group(sorted(keys), by_root.get(top, [])) for top, keys in members.items()]
    return sorted(groups, key=lambda g: (-len(g.members), g.id))


def _group(keys: list[str], links: list[Link]) -> Group:
    tier = max((link.tier for link in links), key=TIER_ORDER.index)
    return Group(id=group_id(keys), tier=tier, members=tuple(keys), links=tuple(links))


def group_id(keys: Iterable[str]) -> str:
    """The id of a group with these members: 10 hex digits of a hash of their sorted keys."""
    digest = hashlib.sha256("\n".join(sorted(keys)).encode("utf-8", "surrogateescape"))
    return digest.hexdigest()[:10]
