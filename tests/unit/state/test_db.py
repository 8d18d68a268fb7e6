"""open_state_db and transaction(), on real SQLite files in tmp_path."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from xintud.state.db import (
    SCHEMA_VERSION,
    StateDBError,
    open_state_db,
    path_from_db,
    path_to_db,
    transaction,
)
from xintud.state.journal import Journal
from xintud.state.queue import FileQueue
from xintud.state.records import FileRecord, FileState, Records


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _table_names(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {row[0] for row in rows}


def test_open_creates_private_dir_file_and_schema(tmp_path: Path) -> None:
    db_path = tmp_path / "state" / "xintud" / "state.db"
    conn = open_state_db(db_path)
    try:
        assert _mode(db_path.parent) == 0o700
        assert _mode(db_path) == 0o600
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert {"queue", "files", "actions"} <= _table_names(conn)
    finally:
        conn.close()


def test_reopen_after_close_keeps_queue_records_and_journal(tmp_path: Path) -> None:
    db_path = tmp_path / "state.db"
    conn = open_state_db(db_path)
    FileQueue(conn).enqueue(Path("/photos/a.jpg"), "camera")
    Records(conn).upsert(
        FileRecord("ab" * 32, Path("/lib/Food/a.jpg"), state=FileState.DONE, category="food")
    )
    action = Journal(conn).begin("move", "ab" * 32, Path("/photos/a.jpg"), Path("/lib/a.jpg"))
    conn.close()

    conn = open_state_db(db_path)
    try:
        assert FileQueue(conn).pending_count() == 1
        record = Records(conn).get("ab" * 32)
        assert record is not None and record.category == "food"
        assert [a.id for a in Journal(conn).unfinished()] == [action.id]
    finally:
        conn.close()


def test_garbage_file_is_refused_with_file_cause_and_fix(tmp_path: Path) -> None:
    db_path = tmp_path / "state.db"
    garbage = bytes(range(256)) * 64
    db_path.write_bytes(garbage)

    with pytest.raises(StateDBError) as caught:
        open_state_db(db_path)

    message = str(caught.value)
    assert str(db_path) in message
    assert "corrupt" in message
    assert "move it aside" in message and "restart" in message
    assert db_path.read_bytes() == garbage  # refused, not "repaired" over


def test_damaged_pages_are_found_by_quick_check(tmp_path: Path) -> None:
    db_path = tmp_path / "state.db"
    conn = open_state_db(db_path)
    FileQueue(conn).enqueue_many((Path(f"/photos/img{i:05}.jpg"), "camera") for i in range(3000))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    page_size = 4096
    assert db_path.stat().st_size > 8 * page_size
    with db_path.open("r+b") as f:  # header intact, b-tree pages trashed
        f.seek(3 * page_size)
        f.write(b"\xde\xad" * page_size)

    with pytest.raises(StateDBError, match="is corrupt") as caught:
        open_state_db(db_path)
    assert str(db_path) in str(caught.value)


def test_empty_file_becomes_a_fresh_database(tmp_path: Path) -> None:
    db_path = tmp_path / "state.db"
    db_path.touch()
    conn = open_state_db(db_path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db_path = tmp_path / "state.db"
    open_state_db(db_path).close()
    raw = sqlite3.connect(db_path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.commit()
    raw.close()

    with pytest.raises(StateDBError, match="newer") as caught:
        open_state_db(db_path)
    assert str(db_path) in str(caught.value)
    assert "upgrade xintud" in str(caught.value)


def test_locked_database_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    db_path = tmp_path / "state.db"
    open_state_db(db_path).close()
    holder = sqlite3.connect(db_path, isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("INSERT INTO queue (path, kind, enqueued_at) VALUES ('/x.jpg', 'camera', 1)")

        with pytest.raises(StateDBError, match="locked by another process") as caught:
            open_state_db(db_path, busy_timeout_s=0.1)
        assert str(db_path) in str(caught.value)
    finally:
        holder.close()


def test_parent_that_is_a_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("not a directory")
    with pytest.raises(StateDBError, match="cannot be created") as caught:
        open_state_db(blocker / "state.db")
    assert str(blocker / "state.db") in str(caught.value)


@pytest.fixture
def conn(tmp_path: Path):
    connection = open_state_db(tmp_path / "state.db")
    yield connection
    connection.close()


def _queue_rows(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM queue").fetchone()[0]


def test_transaction_commits_on_success(conn: sqlite3.Connection, tmp_path: Path) -> None:
    with transaction(conn):
        conn.execute("INSERT INTO queue (path, kind, enqueued_at) VALUES ('/a.jpg', 'camera', 1)")
    other = sqlite3.connect(tmp_path / "state.db")
    try:
        assert _queue_rows(other) == 1
    finally:
        other.close()


def test_transaction_rolls_back_on_error(conn: sqlite3.Connection) -> None:
    with pytest.raises(RuntimeError), transaction(conn):
        conn.execute("INSERT INTO queue (path, kind, enqueued_at) VALUES ('/a.jpg', 'camera', 1)")
        raise RuntimeError("boom")
    assert not conn.in_transaction
    assert _queue_rows(conn) == 0


def test_nested_transaction_joins_the_outer_one(conn: sqlite3.Connection) -> None:
    queue = FileQueue(conn)
    with pytest.raises(RuntimeError), transaction(conn):
        queue.enqueue(Path("/a.jpg"), "camera")  # joins: not committed on its own
        raise RuntimeError("boom")
    assert queue.pending_count() == 0


def test_durable_transaction_refuses_to_nest(conn: sqlite3.Connection) -> None:
    with (
        transaction(conn),
        pytest.raises(RuntimeError, match="commit on its own"),
        transaction(conn, durable=True),
    ):
        pass


def test_threads_can_share_one_connection(conn: sqlite3.Connection) -> None:
    queue = FileQueue(conn)
    errors: list[BaseException] = []

    def enqueue_some(worker: int) -> None:
        try:
            for i in range(40):
                queue.enqueue(Path(f"/photos/w{worker}-{i}.jpg"), "camera")
                queue.pending_count()
        except BaseException as exc:  # collected: an exception in a thread would be lost
            errors.append(exc)

    threads = [threading.Thread(target=enqueue_some, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert queue.pending_count() == 160


def test_path_round_trip_keeps_non_utf8_names() -> None:
    odd = Path(os.fsdecode(b"/photos/caf\xe9.jpg"))  # Latin-1 name on a UTF-8 system
    stored = path_to_db(odd)
    assert isinstance(stored, bytes)
    assert path_from_db(stored) == odd
    assert path_to_db(Path("/photos/咖啡.jpg")) == "/photos/咖啡.jpg"
