"""Prints (state/prints.py) on real SQLite files: a library made before the screen thumbnails
(schema 4) is migrated in place, its fingerprints kept, and the new column round-trips."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from xintud.state.db import MIGRATIONS, SCHEMA_VERSION, open_state_db
from xintud.state.prints import Prints, StoredPrint


def schema_4_database(path: Path) -> None:
    """A state database as xintud left it before schema 5, with one fingerprint row."""
    raw = sqlite3.connect(path)
    for version in range(1, 5):
        for statement in MIGRATIONS[version]:
            raw.execute(statement)
    raw.execute("PRAGMA user_version = 4")
    raw.execute("INSERT INTO prints (sha256, phash, layout, facts, made_at) "
                "VALUES ('old', 42, x'0102', '{}', 1.0)")
    raw.commit()
    raw.close()


def test_a_schema_4_library_keeps_its_prints_and_gains_the_screen_column(
        tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    schema_4_database(path)
    conn = open_state_db(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 5
        prints = Prints(conn)
        old = prints.get("old")
        assert old is not None and old.phash == 42 and old.layout == b"\x01\x02"
        assert old.screen is None, "a photo fingerprinted before has no screen thumbnail"
        prints.put(StoredPrint(sha256="new", phash=7, layout=b"\x03", facts="{}",
                               screen=b"\x89PNG..."))
        again = prints.get("new")
        assert again is not None and again.screen == b"\x89PNG..."
    finally:
        conn.close()
