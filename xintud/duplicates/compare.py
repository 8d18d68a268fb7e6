"""Are two photos copies, a burst, or neither? The close comparison and its thresholds.

Tiers, from the tightest:
- exact: the same bytes;
- same: the same picture in another file — re-encoded, resized, EXIF stripped, turned or
  mirrored, lightly cropped (≤ 10%), letterboxed, tinted or filtered;
- burst: the same moment, not the same picture — shots seconds apart, small movement, a sharp
  and a shaken frame, focus or exposure brackets;
- similar: alike in content only (the same place another day): shown on request, never grouped.

What discriminates (measured on ../shared/neardup and ../shared/photos, see bench/dupes.py and
bench/RESULTS.md): the backbone embedding's cosine says "same kind of picture" but is as high
for two ID photos of different people or two screenshots of one app (0.9-0.99) as for a burst;
the pHash tells copies from other pictures but not different ID photos on one backdrop (6-16
bits apart, like copies at 0-12). What separates them is the layout thumbnail compared after
aligning for a crop: its grey correlation, and above all the correlation of its fine detail
(a band-pass), which for copies stays >= 0.8 while for ID photos of different people it peaks
at 0.81 and for screenshots of different screens of one app at 0.99 — so screen-like pictures
need more (SCREEN_*): near identity at 64 px, or a finer screen thumbnail that disagrees
nowhere (screens.py); they are never a burst.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum

import numpy as np

from xintud.duplicates.align import Fit, agreement_at, best_fits, correlations
from xintud.duplicates.fingerprint import Fingerprint
from xintud.duplicates.screens import screen_disagreement


class Tier(str, Enum):
    """How close two photos are; groups are made of exact, same and burst links only."""

    EXACT = "exact"
    SAME = "same"
    BURST = "burst"
    SIMILAR = "similar"


TIER_ORDER = (Tier.EXACT, Tier.SAME, Tier.BURST, Tier.SIMILAR)


def tiers_up_to(loosest: Tier) -> tuple[Tier, ...]:
    """The tiers from exact down to `loosest`, tightest first."""
    return TIER_ORDER[:TIER_ORDER.index(loosest) + 1]

# Candidates: pairs below both of these are not compared closely at all.
CANDIDATE_COSINE = 0.5
CANDIDATE_PHASH_BITS = 16
# same: pHash within SAME_PHASH_BITS of one of the eight turns, and the aligned layouts agree.
SAME_PHASH_BITS = 12
SAME_LAYOUT = 0.90
SAME_DETAIL = 0.80
# A crop moves the pHash by up to 20 bits; aligned, a cropped copy still agrees nearly fully.
ALIGNED_LAYOUT = 0.95
ALIGNED_DETAIL = 0.93
# Screen-like pictures (fingerprint.is_screen_like) differ in a line of text, which the 64-px
# layout barely shows (two screens of one game: 2 bits, layout 0.989, detail 0.983): only near
# identity counts (resized copies: detail 0.991-0.995). A cropped screenshot is therefore
# mostly not found; a re-saved or resized one is.
SCREEN_PHASH_BITS = 4
SCREEN_LAYOUT = 0.985
SCREEN_DETAIL = 0.99
# Or, where both kept a screen thumbnail (screens.py), when the finer thumbnails disagree
# nowhere: copies of screenshots <= 0.75 in 96.5% of pairs, other screens >= 1.12.
SCREEN_DISAGREEMENT = 0.75
SCREEN_LOOSE_LAYOUT = 0.8
# ...and only for a light crop (<= 10% of each side): the top of a chat is a crop, pixel for
# pixel, of the same chat a message later.
SCREEN_LEAST_SHARE = 0.9
# Pairs above this before the fine alignment are not refined (no copy among the development
# photos was above 1.37 before and within SCREEN_DISAGREEMENT after; 71% of distinct screens,
# and nearly all the load test's drawn look-alikes, are).
SCREEN_HOPELESS = 1.5
# burst: capture times (where both have one) at most BURST_SECONDS apart, same camera; then a
# looser look suffices (BURST_TIMED_*); without times the look alone must be close (BURST_*).
BURST_SECONDS = 60.0
BURST_TIMED_COSINE = 0.6
BURST_TIMED_LAYOUT = 0.6
BURST_COSINE = 0.6
BURST_LAYOUT = 0.8
BURST_DETAIL = 0.6
# ID photos of different people share one template (pose, backdrop, framing): between them the
# detail correlation reached 0.81, so a burst of ID photos needs copy-like detail.
TEMPLATE_CATEGORIES = frozenset({"idphoto"})
TEMPLATE_DETAIL = 0.85
# ... and a copy of one must agree more than two different people's did (layout 0.917 and
# detail 0.819 at 12 bits, measured on ../shared/photos).
TEMPLATE_SAME_LAYOUT = 0.95
TEMPLATE_SAME_DETAIL = 0.9
SIMILAR_COSINE = 0.8
# The aligned comparison (align.py) costs ~1.5 ms; pairs whose layouts do not agree even roughly
# are left before it: below QUICK_LAYOUT as they are, more than SAME_PHASH_BITS apart, below
# CLOSE_COSINE (a crop can move the pHash by 26 bits, but keeps the embedding at >= 0.95), and
# not taken within BURST_SECONDS — or taken so but below BURST_TIMED_COSINE, where no burst can
# be. In a library of 100,000, two unrelated pHashes fall within 16 bits of each other ~200,000
# times by chance (their layouts agree at most 0.37 unaligned): without this gate those pairs
# took 90% of a full grouping.
QUICK_LAYOUT = 0.5
CLOSE_COSINE = 0.9


@dataclass(frozen=True)
class Closeness:
    """The measures behind a tier, for the reasons shown to the user."""

    cosine: float
    phash_bits: int
    layout: float = 0.0  # grey correlation of the layouts, best alignment
    detail: float = 0.0  # band-pass correlation at that alignment
    seconds_apart: float | None = None
    screen: float | None = None  # screens.screen_disagreement, where it was measured


def turned(layout: np.ndarray, turn: int) -> np.ndarray:
    """A layout in one of the eight turns/mirrors, numbered as engine.hashes.phash_variants."""
    rotated = np.rot90(layout, turn % 4)
    return np.fliplr(rotated) if turn >= 4 else rotated


def quick_agreements(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Grey correlation of [n, h, w] layouts with their partners as they are, without aligning
    (microseconds a pair)."""
    return correlations(first.reshape(len(first), -1), second.reshape(len(second), -1))


def seconds_apart(a: Fingerprint, b: Fingerprint) -> float | None:
    """How far apart the two were taken, when both know."""
    if a.taken_at is None or b.taken_at is None:
        return None
    return abs(a.taken_at - b.taken_at)


def is_candidate(cosine: float, bits: int, apart: float | None) -> bool:
    """Worth the close comparison at all?"""
    return (cosine >= CANDIDATE_COSINE or bits <= CANDIDATE_PHASH_BITS
            or (apart is not None and apart <= BURST_SECONDS))


def compare(a: Fingerprint, b: Fingerprint) -> tuple[Tier | None, Closeness]:
    """The tier of a pair (None: unrelated) and the measures it rests on."""
    return compare_many([(a, b)])[0]


def compare_many(pairs: Sequence[tuple[Fingerprint, Fingerprint]]
                 ) -> list[tuple[Tier | None, Closeness]]:
    """`compare` of many pairs at once: the cheap measures and the quick gate in numpy for all
    of them (a library's chance pHash neighbours are ~200,000 pairs at 100,000 photos), the
    aligned comparison only for the pairs that pass."""
    if not pairs:
        return []
    cosines = np.einsum("ij,ij->i", np.stack([a.vector for a, _ in pairs]),
                        np.stack([b.vector for _, b in pairs]))
    distances = np.bitwise_count(
        np.array([a.phash for a, _ in pairs], dtype=np.uint64)[:, None]
        ^ np.array([b.phash_turns for _, b in pairs], dtype=np.uint64))
    turns = np.argmin(distances, axis=1)
    bits = distances[np.arange(len(pairs)), turns]
    aparts = [seconds_apart(a, b) for a, b in pairs]
    timed = np.array([apart is not None and apart <= BURST_SECONDS for apart in aparts])
    exact = np.array([a.sha256 == b.sha256 for a, b in pairs])
    candidate = (cosines >= CANDIDATE_COSINE) | (bits <= CANDIDATE_PHASH_BITS) | timed
    burst_possible = timed & (cosines >= BURST_TIMED_COSINE)
    gated = (~exact & candidate & (bits > SAME_PHASH_BITS) & ~burst_possible
             & (cosines < CLOSE_COSINE))
    quick = np.ones(len(pairs), dtype=np.float32)
    for turn in np.unique(turns[gated]).tolist():
        chosen = np.flatnonzero(gated & (turns == turn))
        quick[chosen] = quick_agreements(
            np.stack([pairs[i][0].layout for i in chosen]),
            np.stack([turned(pairs[i][1].layout, turn) for i in chosen]))
    close = np.flatnonzero(~exact & candidate & (quick >= QUICK_LAYOUT)).tolist()
    lined_up = [(pairs[i][0].layout, turned(pairs[i][1].layout, int(turns[i]))) for i in close]
    fits = dict(zip(close, best_fits(lined_up), strict=True))
    results = []
    for i, (a, b) in enumerate(pairs):
        cosine, distance, apart = float(cosines[i]), int(bits[i]), aparts[i]
        if exact[i]:
            results.append((Tier.EXACT, Closeness(cosine=cosine, phash_bits=distance,
                                                  layout=1.0, detail=1.0, seconds_apart=apart)))
        elif not candidate[i] or quick[i] < QUICK_LAYOUT:
            loose = Tier.SIMILAR if cosine >= SIMILAR_COSINE else None
            results.append((loose, Closeness(cosine=cosine, phash_bits=distance,
                                             seconds_apart=apart)))
        else:
            results.append(_closely(a, b, int(turns[i]), fits[i], cosine, distance, apart))
    return results


def _closely(a: Fingerprint, b: Fingerprint, turn: int, fit: Fit, cosine: float, bits: int,
             apart: float | None) -> tuple[Tier | None, Closeness]:
    """The aligned comparison of one pair lined up as `fit` says (and of its screen
    thumbnails where they can decide)."""
    layout = turned(b.layout, turn)
    grey, detail = agreement_at(a.layout, layout, fit)
    close = Closeness(cosine=cosine, phash_bits=bits, layout=grey, detail=detail,
                      seconds_apart=apart)
    found = tier_of(a, b, close)
    share = min(fit.box[2] - fit.box[0], fit.box[3] - fit.box[1])
    if (found is not Tier.SAME and (a.screen_like or b.screen_like) and a.screen is not None
            and b.screen is not None and grey >= SCREEN_LOOSE_LAYOUT
            and share >= SCREEN_LEAST_SHARE):
        screen = screen_disagreement(a.screen, turned(b.screen, turn), fit,
                                     hopeless_above=SCREEN_HOPELESS)
        close = replace(close, screen=round(screen, 4))
        found = tier_of(a, b, close)
    return found, close


def tier_of(a: Fingerprint, b: Fingerprint, close: Closeness) -> Tier | None:
    """The thresholds above, applied to measured closeness (exact is decided by hash)."""
    screen = a.screen_like or b.screen_like
    template = a.category in TEMPLATE_CATEGORIES or b.category in TEMPLATE_CATEGORIES
    if screen:
        if ((close.phash_bits <= SCREEN_PHASH_BITS and close.layout >= SCREEN_LAYOUT
             and close.detail >= SCREEN_DETAIL)
                or (close.screen is not None and close.screen <= SCREEN_DISAGREEMENT
                    and close.layout >= SCREEN_LOOSE_LAYOUT)):
            return Tier.SAME
    elif template:
        if close.layout >= TEMPLATE_SAME_LAYOUT and close.detail >= TEMPLATE_SAME_DETAIL:
            return Tier.SAME
    elif ((close.phash_bits <= SAME_PHASH_BITS and close.layout >= SAME_LAYOUT
           and close.detail >= SAME_DETAIL)
          or (close.layout >= ALIGNED_LAYOUT and close.detail >= ALIGNED_DETAIL)):
        return Tier.SAME
    if not screen and _is_burst(a, b, close):
        return Tier.BURST
    return Tier.SIMILAR if close.cosine >= SIMILAR_COSINE else None


def _is_burst(a: Fingerprint, b: Fingerprint, close: Closeness) -> bool:
    if a.camera and b.camera and a.camera != b.camera:
        return False
    if close.seconds_apart is not None:
        # Both know when they were taken: the same place another day is never a burst.
        return (close.seconds_apart <= BURST_SECONDS and close.cosine >= BURST_TIMED_COSINE
                and close.layout >= BURST_TIMED_LAYOUT)
    template = a.category in TEMPLATE_CATEGORIES or b.category in TEMPLATE_CATEGORIES
    return (close.cosine >= BURST_COSINE and close.layout >= BURST_LAYOUT
            and close.detail >= (TEMPLATE_DETAIL if template else BURST_DETAIL))
