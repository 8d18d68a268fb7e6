"""The in-memory index that finds a photo's candidates among everything already seen.

Numpy brute force over 128-d unit vectors, by choice: one new photo against 100,000 is one
matrix-vector product (~2-4 ms on two cores), exact, and needs no library or index file that
could go stale; the whole library's pairs are block products. Measured against the
alternatives in bench/RESULTS.md. Only what choosing candidates needs lives here (~660 bytes a
photo); the layouts the close comparison reads are fetched per candidate (FingerprintSource).

The close comparison costs ~1 ms, so how many a photo gets is bounded whatever the library:
evidence of each kind (vector, pHash, capture time) gives at most MAX_CANDIDATES rows, and of
those the MAX_CLOSE likeliest — by cosine plus the agreement of 8x8 thumbnails, which a crop
of 10% barely moves — are compared. In a library of look-alikes (thousands of screenshots of
one app, the load test's drawn scenes) every photo has hundreds of candidates by evidence.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

import numpy as np

from xintud.duplicates.compare import (
    BURST_SECONDS,
    CANDIDATE_COSINE,
    CANDIDATE_PHASH_BITS,
    turned,
)
from xintud.duplicates.fingerprint import Fingerprint
from xintud.duplicates.vectors import VECTOR_SIZE

# The most rows each kind of evidence gives: a burst of 30 frames is still one group, since
# each frame links to its nearest ones.
MAX_CANDIDATES = 24
# The most of those compared closely, the likeliest first.
MAX_CLOSE = 8
# The thumbnail that ranks candidates: 8x8 (64 bytes a photo).
SMALL_SIDE = 8
# Rows per block when every pair is searched: 32 x 100,000 similarities and bit counts.
BLOCK_ROWS = 32


class FingerprintIndex:
    """Vectors, pHashes, 8x8 thumbnails and capture times of the photos seen, by key."""

    def __init__(self) -> None:
        self._keys: list[str] = []
        self._row: dict[str, int] = {}
        self._vectors = np.zeros((0, VECTOR_SIZE), dtype=np.float32)
        self._phashes = np.zeros(0, dtype=np.uint64)
        self._smalls = np.zeros((0, SMALL_SIDE * SMALL_SIDE), dtype=np.uint8)
        self._times: list[tuple[float, str]] = []  # sorted (capture time, key)
        self._time_of: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._row

    def all_keys(self) -> list[str]:
        """The keys of every photo in the index."""
        return list(self._keys)

    def add(self, fingerprint: Fingerprint) -> None:
        """Add a photo, or update it when its key is already in."""
        if fingerprint.key in self._row:
            self.remove(fingerprint.key)
        row = len(self._keys)
        self._grow(row + 1)
        self._keys.append(fingerprint.key)
        self._row[fingerprint.key] = row
        self._vectors[row] = fingerprint.vector
        self._phashes[row] = np.uint64(fingerprint.phash)
        self._smalls[row] = small_thumbnail(fingerprint.layout).ravel()
        if fingerprint.taken_at is not None:
            bisect.insort(self._times, (fingerprint.taken_at, fingerprint.key))
            self._time_of[fingerprint.key] = fingerprint.taken_at

    def remove(self, key: str) -> None:
        """Forget a photo (no error when it is not in)."""
        row = self._row.pop(key, None)
        if row is None:
            return
        last = len(self._keys) - 1
        if row != last:  # the last row fills the hole
            moved = self._keys[last]
            self._keys[row] = moved
            self._row[moved] = row
            self._vectors[row] = self._vectors[last]
            self._phashes[row] = self._phashes[last]
            self._smalls[row] = self._smalls[last]
        self._keys.pop()
        taken = self._time_of.pop(key, None)
        if taken is not None:
            self._times.remove((taken, key))

    def candidates(self, fingerprint: Fingerprint) -> list[str]:
        """The photos worth comparing closely with this one (never itself): of its nearest
        vectors, its pHashes within CANDIDATE_PHASH_BITS and the photos taken within
        BURST_SECONDS, the MAX_CLOSE likeliest."""
        count = len(self._keys)
        if count == 0:
            return []
        similarity = self._vectors[:count] @ fingerprint.vector
        bits = np.bitwise_count(self._phashes[:count] ^ np.uint64(fingerprint.phash))
        rows = self._choose(similarity, bits, self._taken_near(fingerprint.taken_at),
                            small_turns(small_thumbnail(fingerprint.layout)),
                            self._row.get(fingerprint.key, -1))
        return sorted(self._keys[row] for row in rows)

    def candidate_pairs(self) -> Iterator[tuple[str, str]]:
        """Every pair that `candidates` gives for one of its photos (a pair may come twice),
        each row against all rows, in blocks."""
        count = len(self._keys)
        vectors, phashes = self._vectors[:count], self._phashes[:count]
        for start in range(0, count, BLOCK_ROWS):
            stop = min(start + BLOCK_ROWS, count)
            similarity = vectors[start:stop] @ vectors.T
            bits = np.bitwise_count(phashes[start:stop, None] ^ phashes[None, :])
            for offset, row in enumerate(range(start, stop)):
                key = self._keys[row]
                small = self._smalls[row].reshape(SMALL_SIDE, SMALL_SIDE)
                chosen = self._choose(similarity[offset], bits[offset],
                                      self._taken_near(self._time_of.get(key)),
                                      small_turns(small), row)
                for other in chosen.tolist():
                    yield key, self._keys[other]

    def _choose(self, similarity: np.ndarray, bits: np.ndarray, timed: np.ndarray,
                turns: np.ndarray, exclude: int) -> np.ndarray:
        """The rows to compare closely, from each row's cosine and pHash bits to the photo,
        the rows taken near it, and its 8x8 thumbnail in the eight turns."""
        if exclude >= 0:  # a photo is never its own candidate
            similarity, bits = similarity.copy(), bits.copy()
            similarity[exclude], bits[exclude] = -np.inf, 255
        rows = np.union1d(_nearest(similarity, CANDIDATE_COSINE),
                          _fewest_bits(bits, CANDIDATE_PHASH_BITS))
        rows = np.union1d(rows, timed[timed != exclude])
        if len(rows) <= MAX_CLOSE:
            return rows
        likelihood = similarity[rows] + thumbnail_agreement(self._smalls[rows], turns)
        # ties broken by row, so one photo asked alone or among all gets the same rows
        order = np.lexsort((rows, -likelihood))
        return np.sort(rows[order[:MAX_CLOSE]])

    def _taken_near(self, taken_at: float | None) -> np.ndarray:
        """The rows of the MAX_CANDIDATES photos taken nearest in time, within BURST_SECONDS."""
        if taken_at is None:
            return np.zeros(0, dtype=np.int64)
        low = bisect.bisect_left(self._times, (taken_at - BURST_SECONDS, ""))
        high = bisect.bisect_right(self._times, (taken_at + BURST_SECONDS, "\uffff"))
        near = sorted(self._times[low:high], key=lambda item: (abs(item[0] - taken_at), item[1]))
        return np.array([self._row[key] for _, key in near[:MAX_CANDIDATES + 1]],
                        dtype=np.int64)

    def _grow(self, needed: int) -> None:
        if needed <= len(self._vectors):
            return
        size = max(needed, 2 * len(self._vectors), 256)
        used = len(self._keys)
        vectors = np.zeros((size, VECTOR_SIZE), dtype=np.float32)
        vectors[:used] = self._vectors[:used]
        phashes = np.zeros(size, dtype=np.uint64)
        phashes[:used] = self._phashes[:used]
        smalls = np.zeros((size, SMALL_SIDE * SMALL_SIDE), dtype=np.uint8)
        smalls[:used] = self._smalls[:used]
        self._vectors, self._phashes, self._smalls = vectors, phashes, smalls


def small_thumbnail(layout: np.ndarray) -> np.ndarray:
    """The layout thumbnail averaged down to SMALL_SIDE x SMALL_SIDE (uint8)."""
    side = layout.shape[0] // SMALL_SIDE
    cells = layout[:side * SMALL_SIDE, :side * SMALL_SIDE].astype(np.float32)
    averaged = cells.reshape(SMALL_SIDE, side, SMALL_SIDE, side).mean(axis=(1, 3))
    return np.rint(averaged).astype(np.uint8)


def small_turns(small: np.ndarray) -> np.ndarray:
    """[64, 8]: a small thumbnail in the eight turns and mirrors, centred and unit length."""
    turns = np.stack([turned(small, turn).ravel() for turn in range(8)]).astype(np.float32)
    return _centred_units(turns).T


def thumbnail_agreement(smalls: np.ndarray, turns: np.ndarray) -> np.ndarray:
    """The correlation of each stored small thumbnail with the photo's, best turn."""
    return (_centred_units(smalls.astype(np.float32)) @ turns).max(axis=1)


def _centred_units(rows: np.ndarray) -> np.ndarray:
    rows = rows - rows.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(norms, 1e-6)


def _nearest(similarity: np.ndarray, floor: float) -> np.ndarray:
    """Indices of the MAX_CANDIDATES highest similarities at or above `floor`."""
    above = np.flatnonzero(similarity >= floor)
    if len(above) > MAX_CANDIDATES:
        keep = np.argpartition(-similarity[above], MAX_CANDIDATES)[:MAX_CANDIDATES]
        above = above[keep]
    return above


def _fewest_bits(bits: np.ndarray, most: int) -> np.ndarray:
    """Indices of the MAX_CANDIDATES pHashes fewest bits away, at most `most`."""
    within = np.flatnonzero(bits <= most)
    if len(within) > MAX_CANDIDATES:
        # bits then row as one integer: ties go to the earlier row, whichever way asked
        order = bits[within].astype(np.int64) * len(bits) + within
        within = within[np.argpartition(order, MAX_CANDIDATES)[:MAX_CANDIDATES]]
    return within
