"""The in-memory index that finds a photo's candidates among everything already seen.

Numpy brute force over 128-d unit vectors, by choice: one new photo against 100,000 is one
matrix-vector product (~2-4 ms on two cores), exact, and needs no library or index file that
could go stale; the whole library's pairs are block products. Measured against the
alternatives in bench/RESULTS.md. Only what choosing candidates needs lives here (~660 bytes a
photo); the layouts the close comparison reads are fetched per candidate (FingerprintSource).

The close comparison costs ~1.5 ms, so how many a photo gets is bounded whatever the library:
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
        similarity = (self._vectors[:count] @ fingerprint.vector)[None, :]
        bits = np.bitwise_count(self._phashes[:count] ^ np.uint64(fingerprint.phash))[None, :]
        exclude = self._row.get(fingerprint.key, -1)
        evidence = _by_evidence(similarity, bits, np.array([exclude]))[0]
        rows = self._choose(evidence, similarity[0], self._taken_near(fingerprint.taken_at),
                            small_turns(small_thumbnail(fingerprint.layout)), exclude)
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
            evidence = _by_evidence(similarity, bits, np.arange(start, stop))
            for offset, row in enumerate(range(start, stop)):
                key = self._keys[row]
                small = self._smalls[row].reshape(SMALL_SIDE, SMALL_SIDE)
                chosen = self._choose(evidence[offset], similarity[offset],
                                      self._taken_near(self._time_of.get(key)),
                                      small_turns(small), row)
                for other in chosen.tolist():
                    yield key, self._keys[other]

    def _choose(self, evidence: np.ndarray, similarity: np.ndarray, timed: np.ndarray,
                turns: np.ndarray, exclude: int) -> np.ndarray:
        """The rows to compare closely: those by vector and pHash (`evidence`) and those taken
        near it, and of them the likeliest by cosine and 8x8 thumbnail (in the eight turns)."""
        rows = np.union1d(evidence, timed[timed != exclude])
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


def _by_evidence(similarity: np.ndarray, bits: np.ndarray, exclude: np.ndarray
                 ) -> list[np.ndarray]:
    """Per row of a block ([B, N] cosines and pHash bits to every photo; `exclude` the row of
    each one's own photo or -1): the MAX_CANDIDATES nearest vectors at or above
    CANDIDATE_COSINE and the MAX_CANDIDATES pHashes fewest bits away within
    CANDIDATE_PHASH_BITS. Overwrites the excluded cells. Thresholds first, over the whole
    block at once: most photos have few rows above them, and those are all that is sorted."""
    block = np.arange(len(similarity))
    own = exclude >= 0
    similarity[block[own], exclude[own]] = -np.inf  # a photo is never its own candidate
    bits[block[own], exclude[own]] = 255
    by_vector = _per_row(np.nonzero(similarity >= CANDIDATE_COSINE), len(block))
    by_bits = _per_row(np.nonzero(bits <= CANDIDATE_PHASH_BITS), len(block))
    found = []
    for i in block:
        vector_rows, bit_rows = by_vector[i], by_bits[i]
        if len(vector_rows) > MAX_CANDIDATES:
            keep = np.argpartition(-similarity[i, vector_rows], MAX_CANDIDATES - 1)
            vector_rows = vector_rows[keep[:MAX_CANDIDATES]]
        if len(bit_rows) > MAX_CANDIDATES:
            # bits then row as one integer: ties go to the earlier row, whichever way asked
            order = bits[i, bit_rows].astype(np.int64) * similarity.shape[1] + bit_rows
            bit_rows = bit_rows[np.argpartition(order, MAX_CANDIDATES - 1)[:MAX_CANDIDATES]]
        found.append(np.union1d(vector_rows, bit_rows))
    return found


def _per_row(cells: tuple[np.ndarray, np.ndarray], rows: int) -> list[np.ndarray]:
    """np.nonzero's (row, column) cells of a 2-D array as each row's columns."""
    row_of, columns = cells
    bounds = np.searchsorted(row_of, np.arange(rows + 1))
    return [columns[bounds[i]:bounds[i + 1]] for i in range(rows)]
