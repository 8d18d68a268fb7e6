"""What the duplicates stage keeps of each photo, and the links it found between photos —
stored by content hash, so a photo keeps both when it is moved or renamed.

The rows are plain bytes and JSON here; duplicates/ turns them into fingerprints and groups.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from xintud.state.db import transaction

_PRINT_COLUMNS = ("sha256, phash, turns, vector, layout, taken_at, facts, problem, made_at, "
                  "screen")
_INT64 = 1 << 63


@dataclass(frozen=True)
class StoredPrint:
    """One photo's fingerprint as stored; `problem` says why a photo has none (unreadable)."""

    sha256: str
    phash: int | None = None  # unsigned 64-bit
    turns: bytes | None = None
    vector: bytes | None = None
    layout: bytes | None = None
    taken_at: float | None = None
    facts: str | None = None  # JSON
    problem: str | None = None
    made_at: float = 0.0
    screen: bytes | None = None  # PNG of the screen thumbnail (screen-like photos only)


@dataclass(frozen=True)
class StoredLink:
    """Two photos (sha256, a < b), their tier and the measures (JSON)."""

    a: str
    b: str
    tier: str
    closeness: str


class Prints:
    """Read and write fingerprints and links on a state database connection."""

    def __init__(self, conn: sqlite3.Connection, clock: Callable[[], float] = time.time) -> None:
        self._conn = conn
        self._clock = clock

    def put(self, stored: StoredPrint) -> None:
        """Insert or replace a photo's fingerprint (or its problem)."""
        phash = None if stored.phash is None else _to_signed(stored.phash)
        with transaction(self._conn) as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO prints ({_PRINT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (stored.sha256, phash, stored.turns, stored.vector, stored.layout,
                 stored.taken_at, stored.facts, stored.problem, self._clock(), stored.screen))

    def get(self, sha256: str) -> StoredPrint | None:
        """The stored fingerprint of this content, or None."""
        with transaction(self._conn, immediate=False) as conn:
            row = conn.execute(f"SELECT {_PRINT_COLUMNS} FROM prints WHERE sha256 = ?",
                               (sha256,)).fetchone()
        return None if row is None else _print_from_row(row)

    def all(self) -> Iterator[StoredPrint]:
        """Every fingerprint that is not just a problem, in no particular order."""
        with transaction(self._conn, immediate=False) as conn:
            rows = conn.execute(f"SELECT {_PRINT_COLUMNS} FROM prints "
                                "WHERE problem IS NULL").fetchall()
        return (_print_from_row(row) for row in rows)

    def missing_for_done(self, limit: int) -> list[str]:
        """Up to `limit` sha256 of filed photos (state done) without a fingerprint row."""
        with transaction(self._conn, immediate=False) as conn:
            rows = conn.execute(
                "SELECT f.sha256 FROM files f LEFT JOIN prints p ON p.sha256 = f.sha256 "
                "WHERE f.state = 'done' AND f.sha256 IS NOT NULL AND p.sha256 IS NULL "
                "ORDER BY f.id LIMIT ?", (limit,)).fetchall()
        return [row[0] for row in rows]

    def coverage(self) -> tuple[int, int]:
        """(filed photos with a fingerprint row, filed photos) — the backfill's progress."""
        with transaction(self._conn, immediate=False) as conn:
            done, total = conn.execute(
                "SELECT COUNT(p.sha256), COUNT(*) FROM files f "
                "LEFT JOIN prints p ON p.sha256 = f.sha256 "
                "WHERE f.state = 'done' AND f.sha256 IS NOT NULL").fetchone()
        return int(done), int(total)

    def put_links(self, links: list[StoredLink]) -> None:
        """Insert or replace links (each pair once, a < b)."""
        with transaction(self._conn) as conn:
            conn.executemany("INSERT OR REPLACE INTO links (a, b, tier, closeness) "
                             "VALUES (?, ?, ?, ?)",
                             [(link.a, link.b, link.tier, link.closeness) for link in links])

    def links(self) -> list[StoredLink]:
        """Every stored link."""
        with transaction(self._conn, immediate=False) as conn:
            rows = conn.execute("SELECT a, b, tier, closeness FROM links").fetchall()
        return [StoredLink(*row) for row in rows]


def _to_signed(value: int) -> int:
    # SQLite integers are signed 64-bit: a hash with its top bit set is stored as negative.
    return value - (1 << 64) if value >= _INT64 else value


def _print_from_row(row: tuple) -> StoredPrint:  # type: ignore[type-arg]
    sha256, phash, turns, vector, layout, taken_at, facts, problem, made_at, screen = row
    return StoredPrint(sha256, None if phash is None else phash % (1 << 64), turns, vector,
                       layout, taken_at, facts, problem, made_at, screen)
