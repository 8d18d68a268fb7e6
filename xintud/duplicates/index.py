"""The in-memory index that finds a photo's candidates among everything already seen.

Numpy brute force over 128-d unit vectors, by choice: one new photo against 100,000 is one
matrix-vector product (~2-4 ms on two cores), exact, and needs no library or index file that
could go stale; the whole library's pairs are block products, each row's nearest taken (~
100,000). Measured against the alternatives in bench/RESULTS.md. Only what choosing candidates
needs lives here (~600 bytes a photo); the layouts the close comparison reads are fetched per
candidate (FingerprintSource).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

import numpy as np

from xintud.duplicates.compare import (
    BURST_SECONDS,
    CANDIDATE_COSINE,
    CANDIDATE_PHASH_BITS,
)
from xintud.duplicates.fingerprint import Fingerprint
from xintud.duplicates.vectors import VECTOR_SIZE

# The most look-alikes a photo is compared closely with: a burst of 30 frames is still one
# group, since each frame links to its nearest ones.
MAX_CANDIDATES = 24
# Rows per block when every pair is searched: 64 x 100,000 float32 similarities is 25 MB.
BLOCK_ROWS = 64


class FingerprintIndex:
    """Vectors, pHashes and capture times of the photos seen, by fingerprint key."""

    def __init__(self) -> None:
        self._keys: list[str] = []
        self._row: dict[str, int] = {}
        self._vectors = np.zeros((0, VECTOR_SIZE), dtype=np.float32)
        self._phashes = np.zeros(0, dtype=np.uint64)
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
        self._keys.pop()
        taken = self._time_of.pop(key, None)
        if taken is not None:
            self._times.remove((taken, key))

    def candidates(self, fingerprint: Fingerprint) -> list[str]:
        """The photos worth comparing closely with this one (never itself): its nearest
        vectors, pHashes within CANDIDATE_PHASH_BITS, and photos taken within BURST_SECONDS."""
        count = len(self._keys)
        if count == 0:
            return []
        similarity = self._vectors[:count] @ fingerprint.vector
        bits = np.bitwise_count(self._phashes[:count] ^ np.uint64(fingerprint.phash))
        rows = _nearest(similarity, CANDIDATE_COSINE)
        rows = np.union1d(rows, np.flatnonzero(bits <= CANDIDATE_PHASH_BITS))
        found = {self._keys[row] for row in rows}
        found.update(self._taken_near(fingerprint.taken_at))
        found.discard(fingerprint.key)
        return sorted(found)

    def candidate_pairs(self) -> Iterator[tuple[str, str]]:
        """Every pair that `candidates` would give for one of its photos (a pair may come more
        than once): each row's nearest vectors among all rows, in blocks, then the pHash and
        capture-time neighbours."""
        count = len(self._keys)
        vectors = self._vectors[:count]
        for start in range(0, count, BLOCK_ROWS):
            block = vectors[start:start + BLOCK_ROWS] @ vectors.T
            rows, columns = np.nonzero(block >= CANDIDATE_COSINE)
            crowded = np.flatnonzero(np.bincount(rows, minlength=len(block)) > MAX_CANDIDATES)
            keep = ~np.isin(rows, crowded)
            pairs = list(zip((rows[keep] + start).tolist(), columns[keep].tolist(), strict=True))
            for offset in crowded.tolist():
                pairs.extend((start + offset, int(j))
                             for j in _nearest(block[offset], CANDIDATE_COSINE))
            for i, j in pairs:
                if i != j:
                    yield self._keys[min(i, j)], self._keys[max(i, j)]
        yield from self._phash_pairs()
        yield from self._time_pairs()

    def _phash_pairs(self) -> Iterator[tuple[str, str]]:
        count = len(self._keys)
        phashes = self._phashes[:count]
        for i in range(count):
            bits = np.bitwise_count(phashes[i + 1:] ^ phashes[i])
            for j in np.flatnonzero(bits <= CANDIDATE_PHASH_BITS):
                yield self._keys[i], self._keys[i + 1 + int(j)]

    def _time_pairs(self) -> Iterator[tuple[str, str]]:
        times = self._times
        for k, (taken, key) in enumerate(times):
            following = k + 1
            while following < len(times) and times[following][0] - taken <= BURST_SECONDS:
                yield key, times[following][1]
                following += 1

    def _taken_near(self, taken_at: float | None) -> list[str]:
        if taken_at is None:
            return []
        low = bisect.bisect_left(self._times, (taken_at - BURST_SECONDS, ""))
        high = bisect.bisect_right(self._times, (taken_at + BURST_SECONDS, "\uffff"))
        return [key for _, key in self._times[low:high]]

    def _grow(self, needed: int) -> None:
        if needed <= len(self._vectors):
            return
        size = max(needed, 2 * len(self._vectors), 256)
        vectors = np.zeros((size, VECTOR_SIZE), dtype=np.float32)
        vectors[:len(self._keys)] = self._vectors[:len(self._keys)]
        phashes = np.zeros(size, dtype=np.uint64)
        phashes[:len(self._keys)] = self._phashes[:len(self._keys)]
        self._vectors, self._phashes = vectors, phashes


def _nearest(similarity: np.ndarray, floor: float) -> np.ndarray:
    """Indices of the MAX_CANDIDATES highest similarities at or above `floor`."""
    above = np.flatnonzero(similarity >= floor)
    if len(above) > MAX_CANDIDATES:
        keep = np.argpartition(-similarity[above], MAX_CANDIDATES)[:MAX_CANDIDATES]
        above = above[keep]
    return above
