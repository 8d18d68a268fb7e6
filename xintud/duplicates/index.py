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
# Every pair of the library is searched in tiles of 256 x 8192 (8 MiB of cosines).
TILE_ROWS = 256
TILE_COLUMNS = 8192
# Evidence held in the search of all pairs before it is cut to each photo's best.
EVIDENCE_HELD = 4_000_000


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
        exclude = self._row.get(fingerprint.key, -1)
        others = np.arange(count) != exclude
        by_vector = np.flatnonzero((similarity >= CANDIDATE_COSINE) & others)
        by_bits = np.flatnonzero((bits <= CANDIDATE_PHASH_BITS) & others)
        nearest_vectors = _best_per_row(np.zeros(len(by_vector), np.int64), by_vector,
                                        -similarity[by_vector].astype(np.float64))[1]
        nearest_bits = _best_per_row(np.zeros(len(by_bits), np.int64), by_bits,
                                     bits[by_bits].astype(np.float64))[1]
        timed = self._taken_near(fingerprint.taken_at)
        rows = np.union1d(np.union1d(nearest_vectors, nearest_bits), timed[timed != exclude])
        if len(rows) > MAX_CLOSE:
            rows = self._likeliest(rows, similarity[rows], small_thumbnail(fingerprint.layout))
        return sorted(self._keys[row] for row in rows)

    def candidate_pairs(self) -> Iterator[tuple[str, str]]:
        """Every pair that `candidates` gives for one of its photos (a pair may come twice):
        the evidence of all pairs searched at once, each pair once, in tiles."""
        count = len(self._keys)
        if count == 0:
            return
        by_vector, by_bits = self._evidence_of_all(count)
        timed_rows, timed_columns = self._timed_pairs(count)
        code = np.unique(np.concatenate([
            by_vector[0] * count + by_vector[1], by_bits[0] * count + by_bits[1],
            timed_rows * count + timed_columns]))
        rows, columns = np.divmod(code, count)
        starts = np.searchsorted(rows, np.arange(count + 1))
        sizes = np.diff(starts)
        few = sizes[rows] <= MAX_CLOSE
        for row, column in zip(rows[few].tolist(), columns[few].tolist(), strict=True):
            yield self._keys[row], self._keys[column]
        for row in np.flatnonzero(sizes > MAX_CLOSE).tolist():
            chosen = columns[starts[row]:starts[row + 1]]
            similarity = self._vectors[chosen] @ self._vectors[row]
            small = self._smalls[row].reshape(SMALL_SIDE, SMALL_SIDE)
            for column in self._likeliest(chosen, similarity, small).tolist():
                yield self._keys[row], self._keys[column]

    def _evidence_of_all(self, count: int) -> tuple[tuple[np.ndarray, ...], ...]:
        """Each row's MAX_CANDIDATES nearest vectors (at or above CANDIDATE_COSINE) and fewest
        pHash bits (within CANDIDATE_PHASH_BITS), as (rows, columns) — every pair computed once,
        tile by tile of the upper triangle. pHash bits come from a matrix product of the
        hashes' bits as +-1 (agreement = 64 - 2 x bits): exact, and several times faster than
        bit counts of 10^10 XORs."""
        vectors, phashes = self._vectors[:count], self._phashes[:count]
        least_agreement = 64 - 2 * CANDIDATE_PHASH_BITS
        by_vector, by_bits = _Evidence(), _Evidence()
        # the signs held as int8 and made float32 a tile at a time (100,000 x 64 floats would
        # be 25 MB); column tiles outside, so each is made once
        signs = _bit_signs(phashes)
        for first in range(0, count, TILE_COLUMNS):
            last = min(first + TILE_COLUMNS, count)
            column_signs = signs[first:last].T.astype(np.float32)
            for start in range(0, last, TILE_ROWS):
                stop = min(start + TILE_ROWS, last)
                # columns left of the row tile: those pairs are searched the other way round
                low = max(first, start)
                similarity = vectors[start:stop] @ vectors[low:last].T
                agreement = signs[start:stop].astype(np.float32) @ column_signs[:, low - first:]
                near = (similarity >= CANDIDATE_COSINE) | (agreement >= least_agreement)
                if stop > low:  # each pair once, never a photo with itself
                    near = np.triu(near, start - low + 1)
                # flat: np.nonzero of a 2-D mask is ~10x slower
                tile_rows, tile_columns = np.divmod(np.flatnonzero(near), last - low)
                cosines = similarity[tile_rows, tile_columns]
                bits = (64 - agreement[tile_rows, tile_columns]) / 2
                tile_rows += start
                tile_columns += low
                vector = cosines >= CANDIDATE_COSINE
                by_vector.add(tile_rows[vector], tile_columns[vector], -cosines[vector])
                hashed = bits <= CANDIDATE_PHASH_BITS
                by_bits.add(tile_rows[hashed], tile_columns[hashed], bits[hashed])
        return (tuple(part.astype(np.int64) for part in by_vector.best()[:2]),
                tuple(part.astype(np.int64) for part in by_bits.best()[:2]))

    def _timed_pairs(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, columns): for each photo with a capture time, those `_taken_near` gives."""
        if not self._times:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        times = np.array([taken for taken, _ in self._times])
        rows = np.array([self._row[key] for _, key in self._times], dtype=np.int64)
        low = np.searchsorted(times, times - BURST_SECONDS, side="left")
        high = np.searchsorted(times, times + BURST_SECONDS, side="right")
        # a window of at most MAX_CANDIDATES + 1 is taken whole: all of it is the nearest
        whole = (high - low <= MAX_CANDIDATES + 1) & (high - low > 1)
        sizes = (high - low)[whole]
        owners = np.repeat(np.flatnonzero(whole), sizes)
        offsets = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        members = np.repeat(low[whole], sizes) + offsets
        pair_rows, pair_columns = [rows[owners]], [rows[members]]
        for position in np.flatnonzero(high - low > MAX_CANDIDATES + 1).tolist():
            near = self._taken_near(float(times[position]))
            pair_rows.append(np.full(len(near), rows[position]))
            pair_columns.append(near)
        pair_rows_all, pair_columns_all = np.concatenate(pair_rows), np.concatenate(pair_columns)
        other = pair_rows_all != pair_columns_all
        return pair_rows_all[other], pair_columns_all[other]

    def _likeliest(self, rows: np.ndarray, similarity: np.ndarray, small: np.ndarray
                   ) -> np.ndarray:
        """Of more than MAX_CLOSE rows, the likeliest by cosine and 8x8 thumbnail (in the eight
        turns)."""
        likelihood = similarity + thumbnail_agreement(self._smalls[rows], small_turns(small))
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


class _Evidence:
    """Evidence of one kind, as directed (row, column, rank) — a smaller rank is nearer —
    cut down to each row's MAX_CANDIDATES best whenever more than EVIDENCE_HELD is held, so
    that a library of look-alikes (every pair within the thresholds) stays bounded."""

    def __init__(self) -> None:
        self._parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._held = 0

    def add(self, rows: np.ndarray, columns: np.ndarray, ranks: np.ndarray) -> None:
        """Add undirected evidence: each (row, column) counts for both photos."""
        if len(rows) == 0:
            return
        # int32 rows and float32 ranks: half the memory, and a library has < 2^31 photos
        rows, columns = rows.astype(np.int32), columns.astype(np.int32)
        ranks = ranks.astype(np.float32)
        self._parts.append((np.concatenate([rows, columns]), np.concatenate([columns, rows]),
                            np.concatenate([ranks, ranks])))
        self._held += 2 * len(rows)
        if self._held > EVIDENCE_HELD:
            self._parts = [self.best()]
            self._held = len(self._parts[0][0])

    def best(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, columns, ranks): each row's MAX_CANDIDATES best, sorted by row."""
        if not self._parts:
            empty = np.zeros(0, np.int32)
            return empty, empty, np.zeros(0, np.float32)
        rows, columns, ranks = (np.concatenate(part) for part in zip(*self._parts, strict=True))
        return _best_per_row(rows, columns, ranks)


def _best_per_row(rows: np.ndarray, columns: np.ndarray, ranks: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Of (row, column, rank) cells, each row's MAX_CANDIDATES of smallest rank; ties go to the
    earlier column, whichever way asked. Sorted by row."""
    order = np.lexsort((columns, ranks, rows))
    rows, columns, ranks = rows[order], columns[order], ranks[order]
    place = np.arange(len(rows)) - np.searchsorted(rows, rows, side="left")
    keep = place < MAX_CANDIDATES
    return rows[keep], columns[keep], ranks[keep]


def _bit_signs(phashes: np.ndarray) -> np.ndarray:
    """[n, 64] int8: each pHash's bits as +1/-1."""
    signs = np.empty((len(phashes), 64), dtype=np.int8)
    for start in range(0, len(phashes), TILE_COLUMNS):  # 8 bytes a bit only a tile at a time
        bits = (phashes[start:start + TILE_COLUMNS, None] >> np.arange(64, dtype=np.uint64))
        signs[start:start + TILE_COLUMNS] = (bits & np.uint64(1)).astype(np.int8) * 2 - 1
    return signs
