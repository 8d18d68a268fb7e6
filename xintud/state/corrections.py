"""The user's corrections, by content hash: which category they gave a photo, how (moved it
between category folders, `xintuctl correct`, an XMP keyword edit), and what learning needs of
it — its features and what the shipped models alone said — so that a refit never has to read
the photo again.

Plain bytes and JSON here; learning/ turns them into arrays.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from xintud.state.db import path_from_db, path_to_db, transaction

ORIGINS = ("moved", "command", "tagged", "taught")
# The user placed these photos themselves: refile never moves them.
PLACED_BY_HAND = ("moved", "command", "tagged")
_COLUMNS = "sha256, category, was, origin, path, features, shipped, made_at"


@dataclass(frozen=True)
class Correction:
    """One photo the user put in a category (or gave as an example of one of their own:
    origin "taught"): `was` is the category it had before, if xintud had filed it."""

    sha256: str
    category: str
    was: str | None
    origin: str  # one of ORIGINS
    path: Path
    features: bytes  # float32, the engine's TEXT_FEATURE_NAMES order
    shipped: str  # JSON {category: probability} of the shipped models alone
    made_at: float = 0.0


class Corrections:
    """Read and write corrections on a state database connection."""

    def __init__(self, conn: sqlite3.Connection, clock: Callable[[], float] = time.time) -> None:
        self._conn = conn
        self._clock = clock

    def put(self, correction: Correction) -> Correction:
        """Store a correction, stamped now; it replaces an earlier one of the same photo."""
        if correction.origin not in ORIGINS:
            raise ValueError(f"unknown correction origin {correction.origin!r}; "
                             f"valid: {', '.join(ORIGINS)}")
        stored = replace(correction, made_at=self._clock())
        with transaction(self._conn) as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO corrections ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",
                (stored.sha256, stored.category, stored.was, stored.origin,
                 path_to_db(stored.path), stored.features, stored.shipped, stored.made_at))
        return stored

    def get(self, sha256: str) -> Correction | None:
        """The correction of this photo, if the user made one."""
        with transaction(self._conn, immediate=False) as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM corrections WHERE sha256 = ?",
                               (sha256,)).fetchone()
        return None if row is None else _from_row(row)

    def all(self) -> list[Correction]:
        """Every correction, oldest first."""
        with transaction(self._conn, immediate=False) as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM corrections ORDER BY made_at, sha256").fetchall()
        return [_from_row(row) for row in rows]

    def placed_by_hand(self) -> set[str]:
        """The content hashes of the photos the user placed themselves (not those only
        given as examples of a category of their own)."""
        with transaction(self._conn, immediate=False) as conn:
            return {str(row[0]) for row in conn.execute(
                "SELECT sha256 FROM corrections WHERE origin IN (?, ?, ?)", PLACED_BY_HAND)}

    def remove_category(self, category: str) -> int:
        """Forget every correction and example of a category; how many there were."""
        with transaction(self._conn) as conn:
            return conn.execute("DELETE FROM corrections WHERE category = ?",
                                (category,)).rowcount

    def remove(self, sha256: str) -> bool:
        """Forget the correction of this photo (its move was undone); True if there was one."""
        with transaction(self._conn) as conn:
            return conn.execute("DELETE FROM corrections WHERE sha256 = ?",
                                (sha256,)).rowcount > 0

    def count(self) -> int:
        """How many photos the user corrected."""
        with transaction(self._conn, immediate=False) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM corrections").fetchone()[0])

    def latest_at(self) -> float | None:
        """When the last correction was made (unix time), or None."""
        with transaction(self._conn, immediate=False) as conn:
            value = conn.execute("SELECT MAX(made_at) FROM corrections").fetchone()[0]
        return None if value is None else float(value)


def _from_row(row: tuple) -> Correction:
    sha256, category, was, origin, path, features, shipped, made_at = row
    return Correction(sha256=str(sha256), category=str(category),
                      was=None if was is None else str(was), origin=str(origin),
                      path=path_from_db(path), features=bytes(features), shipped=str(shipped),
                      made_at=float(made_at))
