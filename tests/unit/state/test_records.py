"""Records on a real state database: keyed by hash, renames, sticky undo, failures, stats."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.clocks import TickingClock
from xintud.core.categories import CATEGORY_IDS
from xintud.state.db import open_state_db
from xintud.state.records import FileRecord, FileState, Records

SHA_A = "a" * 64
SHA_B = "b" * 64
SHA_C = "c" * 64


@pytest.fixture
def records(conn: sqlite3.Connection) -> Records:
    return Records(conn, clock=TickingClock())


def _done(sha: str, path: str, category: str = "food") -> FileRecord:
    return FileRecord(
        sha256=sha,
        path=Path(path),
        original_path=Path("/camera") / Path(path).name,
        state=FileState.DONE,
        category=category,
        confidence=0.9,
        action=f"moved to {path}",
        result_json=json.dumps({"category": category, "scores": {category: 0.9}}),
    )


def test_upsert_then_get_round_trips_every_field(records: Records) -> None:
    stored = records.upsert(_done(SHA_A, "/lib/Food/a.jpg"))
    got = records.get(SHA_A)
    assert got == stored
    assert got.updated_at > 0
    assert json.loads(got.result_json)["category"] == "food"
    assert records.get(SHA_B) is None


def test_records_survive_reopen(db_path: Path) -> None:
    conn = open_state_db(db_path)
    stored = Records(conn).upsert(_done(SHA_A, "/lib/Food/a.jpg"))
    conn.close()
    conn = open_state_db(db_path)
    try:
        assert Records(conn).get(SHA_A) == stored
    finally:
        conn.close()


def test_renamed_file_is_recognised_by_hash(records: Records) -> None:
    records.upsert(_done(SHA_A, "/lib/Food/a.jpg"))
    assert not records.should_process(SHA_A)

    # The user renames the filed photo: same content, new path.
    moved = replace(records.get(SHA_A), path=Path("/lib/Food/dinner.jpg"))
    records.upsert(moved)

    assert records.get_by_path(Path("/lib/Food/a.jpg")) is None
    found = records.get_by_path(Path("/lib/Food/dinner.jpg"))
    assert found is not None and found.sha256 == SHA_A and found.state is FileState.DONE
    assert records.stats().total == 1


def test_should_process_only_new_or_interrupted_files(records: Records) -> None:
    assert records.should_process(SHA_A)
    records.upsert(FileRecord(SHA_A, Path("/camera/a.jpg")))  # QUEUED: crash before done
    assert records.should_process(SHA_A)
    for state in (FileState.DONE, FileState.SKIPPED, FileState.FAILED, FileState.UNDONE):
        records.upsert(FileRecord(SHA_B, Path("/camera/b.jpg"), state=state), allow_refile=True)
        assert not records.should_process(SHA_B), state


def test_undone_is_sticky(records: Records) -> None:
    records.upsert(_done(SHA_A, "/lib/Food/a.jpg"))
    records.upsert(replace(_done(SHA_A, "/camera/a.jpg"), state=FileState.UNDONE))

    with pytest.raises(ValueError, match="undo"):
        records.upsert(_done(SHA_A, "/lib/Food/a.jpg"))
    with pytest.raises(ValueError, match="undo"):
        records.mark_failed(SHA_A, Path("/camera/a.jpg"), "decode error")
    assert records.get(SHA_A).state is FileState.UNDONE
    assert records.get(SHA_A).path == Path("/camera/a.jpg")

    # Still UNDONE, only moved by the user: allowed.
    records.upsert(replace(records.get(SHA_A), path=Path("/home/u/keep/a.jpg")))
    assert records.get_by_path(Path("/home/u/keep/a.jpg")).state is FileState.UNDONE

    # The user explicitly asks to sort it again.
    records.upsert(_done(SHA_A, "/lib/Food/a.jpg"), allow_refile=True)
    assert records.get(SHA_A).state is FileState.DONE


def test_mark_failed_without_hash_is_keyed_by_path(records: Records) -> None:
    path = Path("/camera/unreadable.jpg")
    first = records.mark_failed(None, path, "permission denied")
    records.mark_failed(None, path, "permission denied again")

    got = records.get_by_path(path)
    assert got is not None
    assert got.sha256 is None and got.state is FileState.FAILED
    assert got.reason == "permission denied again"
    assert first.reason == "permission denied"
    assert records.stats().failed == 1  # one row per path, not one per attempt

    # Later the file can be read: its hashed record replaces the path-keyed failure.
    records.upsert(FileRecord(SHA_A, path))
    got = records.get_by_path(path)
    assert got.sha256 == SHA_A and got.state is FileState.QUEUED
    assert records.stats().failed == 0


def test_mark_failed_with_hash_keeps_what_was_known(records: Records) -> None:
    records.upsert(
        FileRecord(SHA_A, Path("/camera/a.jpg"), category="pets", original_path=Path("/c/a.jpg"))
    )
    failed = records.mark_failed(SHA_A, Path("/camera/a.jpg"), "move failed: disk full")
    assert failed.state is FileState.FAILED
    assert failed.category == "pets" and failed.original_path == Path("/c/a.jpg")
    assert records.get(SHA_A).reason == "move failed: disk full"

    fresh = records.mark_failed(SHA_B, Path("/camera/b.jpg"), "truncated JPEG")
    assert fresh.original_path == Path("/camera/b.jpg")
    assert records.get(SHA_B).state is FileState.FAILED


def test_stats_counts_states_categories_and_last_action(records: Records) -> None:
    empty = records.stats()
    assert empty.total == 0 and empty.last_action is None
    assert set(empty.by_category) == set(CATEGORY_IDS)
    assert set(empty.by_state) == {s.value for s in FileState}

    records.upsert(_done(SHA_A, "/lib/Food/a.jpg", "food"))
    records.upsert(_done(SHA_B, "/lib/Pets/b.jpg", "pets"))
    records.upsert(FileRecord(SHA_C, Path("/camera/c.jpg"), category="food"))  # queued
    records.upsert(
        FileRecord(
            "d" * 64, Path("/camera/d.jpg"), state=FileState.SKIPPED, reason="below threshold"
        )
    )
    records.mark_failed(None, Path("/camera/e.jpg"), "zero bytes")

    stats = records.stats()
    assert stats.by_state == {"queued": 1, "done": 2, "failed": 1, "skipped": 1, "undone": 0}
    assert stats.by_category["food"] == 1  # the queued food photo is not sorted yet
    assert stats.by_category["pets"] == 1
    assert stats.by_category["travel"] == 0
    assert stats.total == 5 and stats.processed == 4 and stats.failed == 1
    assert stats.last_action == "moved to /lib/Pets/b.jpg"
    assert stats.last_action_at == records.get(SHA_B).updated_at


def test_recent_is_newest_first_and_limited(records: Records) -> None:
    for sha, name in ((SHA_A, "a"), (SHA_B, "b"), (SHA_C, "c")):
        records.upsert(_done(sha, f"/lib/Food/{name}.jpg"))
    records.upsert(replace(records.get(SHA_A), path=Path("/lib/Food/a2.jpg")))  # touched last

    assert [r.sha256 for r in records.recent(10)] == [SHA_A, SHA_C, SHA_B]
    assert [r.sha256 for r in records.recent(2)] == [SHA_A, SHA_C]
    assert records.recent(0) == []


def test_bad_records_are_refused(records: Records) -> None:
    for bad in ("Cats!", "fod", ""):  # not a name, too like "food"
        with pytest.raises(ValueError, match="unknown category"):
            records.upsert(FileRecord(SHA_A, Path("/a.jpg"), category=bad))
    records.upsert(FileRecord(SHA_A, Path("/a.jpg"), category="receipts"))  # the user's own
    records.upsert(FileRecord(SHA_A, Path("/a.jpg"), category="food"))
    with pytest.raises(ValueError, match="not valid JSON"):
        records.upsert(FileRecord(SHA_A, Path("/a.jpg"), result_json="{nope"))
    with pytest.raises(ValueError, match="mark_failed"):
        records.upsert(FileRecord(None, Path("/a.jpg")))
    assert records.stats().total == 1


def test_records_table_has_path_index(conn: sqlite3.Connection) -> None:
    plan = conn.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM files WHERE path = ? "
        "ORDER BY updated_at DESC, id DESC LIMIT 1",
        ("/a.jpg",),
    ).fetchall()
    assert any("files_path" in str(row[-1]) for row in plan)
