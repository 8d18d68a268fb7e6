"""FileQueue on a real state database: dedupe, claim order, retries, recovery, a big backlog."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from xintud.state.db import open_state_db
from xintud.state.queue import FileQueue


class FakeClock:
    """A settable wall clock, so retry times are exact without sleeping."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now




@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(conn: sqlite3.Connection, clock: FakeClock) -> FileQueue:
    return FileQueue(conn, clock=clock)


def _paths(items) -> list[str]:
    return [item.path.name for item in items]


def test_enqueue_dedupes_pending_and_inflight_paths(queue: FileQueue) -> None:
    assert queue.enqueue(Path("/p/a.jpg"), "camera") is True
    assert queue.enqueue(Path("/p/a.jpg"), "camera") is False
    assert queue.pending_count() == 1

    [item] = queue.claim(10)
    assert queue.enqueue(Path("/p/a.jpg"), "camera") is False  # in flight
    queue.complete(item.id)
    assert queue.enqueue(Path("/p/a.jpg"), "camera") is True  # done: may come again


def test_claim_returns_due_items_oldest_first_and_only_once(
    queue: FileQueue, clock: FakeClock
) -> None:
    for i, name in enumerate(["c.jpg", "a.jpg", "b.jpg"]):
        clock.now += i
        queue.enqueue(Path("/p") / name, "screenshots")

    first = queue.claim(2)
    second = queue.claim(2)

    assert _paths(first) == ["c.jpg", "a.jpg"]
    assert _paths(second) == ["b.jpg"]
    assert first[0].kind == "screenshots" and first[0].attempts == 0
    assert first[0].enqueued_at < first[1].enqueued_at
    assert queue.claim(5) == []
    assert queue.pending_count() == 0 and queue.inflight_count() == 3
    assert queue.claim(0) == []


def test_complete_deletes_and_is_idempotent(queue: FileQueue) -> None:
    queue.enqueue(Path("/p/a.jpg"), "camera")
    [item] = queue.claim(1)
    queue.complete(item.id)
    queue.complete(item.id)
    assert queue.pending_count() == 0 and queue.inflight_count() == 0


def test_release_puts_inflight_items_back_in_their_order(queue: FileQueue) -> None:
    queue.enqueue_many((Path(f"/p/{n}.jpg"), "camera") for n in "abcd")
    batch = queue.claim(3)

    queue.release([item.id for item in batch[1:]])  # e.g. SIGTERM after the first one

    assert queue.inflight_count() == 1
    again = queue.claim(10)
    assert _paths(again) == ["b.jpg", "c.jpg", "d.jpg"]
    assert all(item.attempts == 0 for item in again)


def test_release_leaves_pending_items_alone(queue: FileQueue, clock: FakeClock) -> None:
    queue.enqueue(Path("/p/a.jpg"), "camera")
    [item] = queue.claim(1)
    queue.retry_later(item.id, 60, "busy")
    queue.release([item.id])  # not in flight any more: must not clear the retry time
    assert queue.claim(1) == []
    assert queue.next_retry_at() == clock.now + 60


def test_retry_later_waits_counts_and_keeps_age_order(queue: FileQueue, clock: FakeClock) -> None:
    queue.enqueue(Path("/p/old.jpg"), "camera")
    [old] = queue.claim(1)
    queue.retry_later(old.id, 30, "image still being written")
    clock.now += 1
    queue.enqueue(Path("/p/new.jpg"), "camera")

    assert _paths(queue.claim(10)) == ["new.jpg"]  # old one is not due yet
    assert queue.next_retry_at() == pytest.approx(clock.now - 1 + 30)

    clock.now += 29  # exactly at the not-before time: due
    queue.enqueue(Path("/p/newer.jpg"), "camera")
    due = queue.claim(10)
    assert _paths(due) == ["old.jpg", "newer.jpg"]  # the retried item keeps its age
    assert due[0].attempts == 1
    assert due[0].last_error == "image still being written"
    assert queue.next_retry_at() is None


def test_next_retry_at_is_the_earliest_future_time(queue: FileQueue, clock: FakeClock) -> None:
    assert queue.next_retry_at() is None
    queue.enqueue_many((Path(f"/p/{n}.jpg"), "camera") for n in "abc")
    a, b, c = queue.claim(3)
    queue.retry_later(a.id, 100, "x")
    queue.retry_later(b.id, 10, "y")
    queue.retry_later(c.id, 0, "z")  # due at once: not a future time
    assert queue.next_retry_at() == clock.now + 10
    assert _paths(queue.claim(10)) == ["c.jpg"]
    assert queue.pending_count() == 2


def test_attempts_accumulate_over_retries(queue: FileQueue, clock: FakeClock) -> None:
    queue.enqueue(Path("/p/a.jpg"), "camera")
    for expected in range(3):
        [item] = queue.claim(1)
        assert item.attempts == expected
        queue.retry_later(item.id, 5, f"try {expected}")
        clock.now += 5
    [item] = queue.claim(1)
    assert item.attempts == 3 and item.last_error == "try 2"


def test_retry_later_of_unknown_item_raises(queue: FileQueue) -> None:
    with pytest.raises(KeyError):
        queue.retry_later(12345, 10, "gone")


def test_inflight_items_survive_a_crash_and_are_recovered(db_path: Path) -> None:
    conn = open_state_db(db_path)
    queue = FileQueue(conn)
    queue.enqueue_many((Path(f"/p/{n}.jpg"), "camera") for n in "abc")
    queue.claim(2)
    conn.close()  # "crash": nothing completed or released

    conn = open_state_db(db_path)
    try:
        queue = FileQueue(conn)
        assert queue.claim(10) != []  # only c.jpg was pending
        assert queue.recover_inflight() == 3
        assert queue.inflight_count() == 0
        assert _paths(queue.claim(10)) == ["a.jpg", "b.jpg", "c.jpg"]
    finally:
        conn.close()


def test_non_utf8_path_round_trips(queue: FileQueue) -> None:
    odd = Path(os.fsdecode(b"/p/caf\xe9.jpg"))
    assert queue.enqueue(odd, "camera")
    assert not queue.enqueue(odd, "camera")
    [item] = queue.claim(1)
    assert item.path == odd


def test_big_backlog_claims_in_batches(queue: FileQueue, conn: sqlite3.Connection) -> None:
    total = 20_000
    added = queue.enqueue_many((Path(f"/p/img{i:06}.jpg"), "camera") for i in range(total))
    assert added == total
    assert queue.pending_count() == total

    first = queue.claim(500)
    second = queue.claim(500)

    assert _paths(first)[:2] == ["img000000.jpg", "img000001.jpg"]
    assert _paths(first)[-1] == "img000499.jpg"
    assert _paths(second)[0] == "img000500.jpg"
    assert queue.pending_count() == total - 1000
    assert queue.inflight_count() == 1000


def _plan(conn: sqlite3.Connection, sql: str, params: tuple) -> str:
    rows = conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    return " | ".join(str(row[-1]) for row in rows)


def test_queue_queries_use_indexes(conn: sqlite3.Connection) -> None:
    """The backlog stays cheap only if claim walks an index in order and stops at LIMIT."""
    claim_plan = _plan(
        conn, "SELECT id FROM queue WHERE status = ? ORDER BY id LIMIT ?", ("pending", 10)
    )
    assert "queue_status_id" in claim_plan
    assert "TEMP B-TREE" not in claim_plan  # no sort of the whole backlog

    promote_plan = _plan(
        conn,
        "UPDATE queue SET status = ? WHERE status = ? AND not_before <= ?",
        ("pending", "waiting", 0.0),
    )
    assert "queue_status_not_before" in promote_plan

    count_plan = _plan(conn, "SELECT COUNT(*) FROM queue WHERE status = ?", ("pending",))
    assert "USING COVERING INDEX" in count_plan

    retry_plan = _plan(
        conn,
        "SELECT MIN(not_before) FROM queue WHERE status = ? AND not_before > ?",
        ("waiting", 0.0),
    )
    assert "queue_status_not_before" in retry_plan


def test_enqueue_many_queues_every_path_across_its_transactions(
        queue: FileQueue, monkeypatch: pytest.MonkeyPatch) -> None:
    from xintud.state import queue as queue_module

    monkeypatch.setattr(queue_module, "CHUNK", 3)
    paths = [(Path(f"/camera/IMG_{n}.jpg"), "camera") for n in range(10)]
    assert queue.enqueue_many(paths) == 10
    assert queue.enqueue_many(paths[4:] + [(Path("/camera/new.jpg"), "camera")]) == 1
    assert queue.pending_count() == 11
    assert _paths(queue.claim(20)) == [p.name for p, _ in paths] + ["new.jpg"]
