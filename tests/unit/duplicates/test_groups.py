"""Groups: links joined by union-find, each group's tier its loosest link, `loosest` leaving the
looser links out, and ids that depend on the members only."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import numpy as np

from xintud.core.facts import Quality
from xintud.duplicates.compare import Closeness, Tier
from xintud.duplicates.fingerprint import Fingerprint
from xintud.duplicates.groups import Link, group_id, group_links, link_all, link_one
from xintud.duplicates.index import FingerprintIndex
from xintud.duplicates.vectors import VECTOR_SIZE


def link(a: str, b: str, tier: Tier = Tier.SAME) -> Link:
    first, second = sorted((a, b))
    return Link(first, second, tier, Closeness(cosine=0.95, phash_bits=2, layout=0.97,
                                               detail=0.93))


def members_of(links: list[Link], **kwargs: Tier) -> list[tuple[str, ...]]:
    """The groups' members, by name (groups of one size come in the order of their ids)."""
    return sorted(group.members for group in group_links(links, **kwargs))


def test_links_join_chains_into_groups_largest_first() -> None:
    links = [link("c", "d"), link("e", "f"), link("a", "b"), link("b", "c")]
    groups = group_links(links)
    assert [g.members for g in groups] == [("a", "b", "c", "d"), ("e", "f")]
    assert {(k.a, k.b) for k in groups[0].links} == {("a", "b"), ("b", "c"), ("c", "d")}
    assert [(k.a, k.b) for k in groups[1].links] == [("e", "f")]
    # A long chain, linked in any order, is one group.
    chain = [link(f"p{i:02d}", f"p{i + 1:02d}") for i in range(30)]
    random.Random(1).shuffle(chain)
    assert members_of(chain) == [tuple(f"p{i:02d}" for i in range(31))]
    assert group_links([]) == []


def test_the_tier_of_a_group_is_its_loosest_link() -> None:
    assert group_links([link("a", "b", Tier.EXACT)])[0].tier is Tier.EXACT
    assert group_links([link("a", "b", Tier.EXACT), link("b", "c", Tier.SAME)])[0].tier \
        is Tier.SAME
    assert group_links([link("a", "b", Tier.BURST), link("b", "c", Tier.EXACT),
                        link("c", "d", Tier.SAME)])[0].tier is Tier.BURST


def test_loosest_same_leaves_burst_links_out() -> None:
    links = [link("a", "b", Tier.SAME), link("b", "c", Tier.BURST), link("d", "e", Tier.BURST),
             link("f", "g", Tier.EXACT)]
    groups = group_links(links, loosest=Tier.SAME)
    assert sorted((g.members, g.tier) for g in groups) == [(("a", "b"), Tier.SAME),
                                                           (("f", "g"), Tier.EXACT)]
    assert all(k.tier is not Tier.BURST for g in groups for k in g.links)
    assert members_of(links, loosest=Tier.EXACT) == [("f", "g")]
    assert members_of(links) == [("a", "b", "c"), ("d", "e"), ("f", "g")]
    assert group_links(links)[0].members == ("a", "b", "c")  # the largest first


def test_similar_links_never_make_groups() -> None:
    assert group_links([link("a", "b", Tier.SIMILAR)]) == []
    assert members_of([link("a", "b", Tier.SIMILAR), link("b", "c", Tier.BURST)]) == [("b", "c")]


def test_group_ids_depend_on_the_members_only() -> None:
    links = [link("k1", "k2", Tier.EXACT), link("k2", "k3", Tier.BURST), link("x", "y")]
    first = {g.members: g.id for g in group_links(links)}
    for seed in range(5):  # any order of links, and a different tier, give the same ids
        shuffled = [replace(k, tier=Tier.SAME) for k in links]
        random.Random(seed).shuffle(shuffled)
        assert {g.members: g.id for g in group_links(shuffled)} == first
    assert first[("k1", "k2", "k3")] == group_id(["k3", "k1", "k2"]) == group_id(("k1", "k2", "k3"))
    grown = {g.members: g.id for g in group_links([*links, link("k3", "k4")])}
    assert grown[("k1", "k2", "k3", "k4")] != first[("k1", "k2", "k3")]
    assert grown[("x", "y")] == first[("x", "y")]
    assert group_id(["k1", "k2"]) != group_id(["k1", "k3"]) != group_id(["k1"])
    assert len(first[("x", "y")]) == 10 and int(first[("x", "y")], 16) >= 0


# --- links from fingerprints: exact copies (same bytes at other paths) need no layout -------

def photo(key: str, sha256: str, axis: int, phash: int) -> Fingerprint:
    vector = np.zeros(VECTOR_SIZE, np.float32)
    vector[axis] = 1.0
    return Fingerprint(
        key=key, sha256=sha256, path=Path(key), phash=phash, phash_turns=(phash,) * 8,
        layout=np.zeros((64, 64), np.uint8), vector=vector, taken_at=None, camera=None,
        category="other", screen_like=False, width=10, height=10, content_share=1.0,
        file_bytes=1, modified=0.0, jpeg_quality=None, camera_exif=False, rating=None,
        edited=False, faces=0,
        quality=Quality(sharpness=1.0, brightness=0.5, dark_clip=0.0, bright_clip=0.0))


def test_link_all_and_link_one_find_copies_and_skip_vanished_photos() -> None:
    photos = {p.key: p for p in (photo("/a/1.jpg", "s1", 0, 0), photo("/b/1.jpg", "s1", 0, 0),
                                 photo("/a/2.jpg", "s2", 5, 2**64 - 1))}
    index = FingerprintIndex()
    for fingerprint in photos.values():
        index.add(fingerprint)
    links = link_all(index, photos.get)
    assert [(k.a, k.b, k.tier) for k in links] == [("/a/1.jpg", "/b/1.jpg", Tier.EXACT)]
    arrival = photo("/c/1.jpg", "s1", 0, 0)
    assert sorted((k.a, k.b) for k in link_one(arrival, index, photos.get)) == [
        ("/a/1.jpg", "/c/1.jpg"), ("/b/1.jpg", "/c/1.jpg")]
    gone = {key: value for key, value in photos.items() if key != "/b/1.jpg"}
    assert link_all(index, gone.get) == []
    assert [(k.a, k.b) for k in link_one(arrival, index, gone.get)] == [("/a/1.jpg", "/c/1.jpg")]
