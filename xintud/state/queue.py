"""The work queue, kept in the state database so a backlog costs disk, not RAM, and survives a
restart.

An item is *pending* (due), *waiting* (for its retry time) or *in flight* (claimed by the
worker); `complete` deletes it. Keeping waiting items apart lets `claim` walk the due items in
enqueue order on an index and stop after its LIMIT, however long the backlog.

A crash leaves items in flight; `recover_inflight` at start puts them back, so nothing is lost,
and the file records (records.py) make sure nothing is filed twice.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from xintud.state.db import path_from_db, path_to_db, transaction

_PENDING = "pending"
_WAITING = "waiting"
_INFLIGHT = "inflight"

# SQLite allows 32766 bound variables per statement; stay well below for IN (...) lists.
_MAX_IDS_PER_STATEMENT = 500
# Paths queued per transaction: 10,000 dropped at once in one would hold the database from
# `xintuctl status` (another thread, same connection lock) for as long as they all take.
CHUNK = 500


@dataclass(frozen=True)
class QueueItem:
    """One queued file: where it is, which watch folder kind it came from, and its history."""

    id: int
    path: Path
    kind: str
    attempts: int
    enqueued_at: float
    last_error: str = ""


class FileQueue:
    """A durable FIFO of file paths with claim/complete, retry times and crash recovery."""

    def __init__(self, conn: sqlite3.Connection, clock: Callable[[], float] = time.time) -> None:
        self._conn = conn
        self._clock = clock

    def enqueue(self, path: Path, kind: str) -> bool:
        """Queue `path`; False when it is already pending or in flight (nothing changes then).

        A path queued while its earlier item is in flight is *not* queued again: the worker is
        about to read it anyway, and a later change is seen by the next reconcile scan.
        """
        return self.enqueue_many([(path, kind)]) == 1

    def enqueue_many(self, items: Iterable[tuple[Path, str]]) -> int:
        """Queue many (path, kind) pairs, CHUNK to a transaction; return how many were new."""
        now = self._clock()
        added = 0
        pending = iter(items)
        while chunk := list(islice(pending, CHUNK)):
            with transaction(self._conn) as conn:
                for path, kind in chunk:
                    cursor = conn.execute(
                        "INSERT INTO queue (path, kind, enqueued_at) VALUES (?, ?, ?) "
                        "ON CONFLICT (path) DO NOTHING",
                        (path_to_db(path), kind, now),
                    )
                    added += cursor.rowcount
        return added

    def claim(self, limit: int) -> list[QueueItem]:
        """Move up to `limit` due items (retry time passed) to in flight; return them oldest
        first. Atomic: two workers never claim the same item."""
        if limit <= 0:
            return []
        with transaction(self._conn) as conn:
            conn.execute(
                "UPDATE queue SET status = ? WHERE status = ? AND not_before <= ?",
                (_PENDING, _WAITING, self._clock()),
            )
            # Walks queue_status_id in id (= enqueue) order and stops after `limit` rows, so a
            # 100k backlog costs the same as a short one; a retried item keeps its place.
            rows = conn.execute(
                "SELECT id, path, kind, attempts, enqueued_at, last_error FROM queue "
                "WHERE status = ? ORDER BY id LIMIT ?",
                (_PENDING, limit),
            ).fetchall()
            items = [_item_from_row(row) for row in rows]
            self._set_status(conn, [item.id for item in items], _INFLIGHT)
        return items

    def claim_ids(self, item_ids: Sequence[int]) -> list[QueueItem]:
        """Move these pending items (if they still are) to in flight and return them."""
        if not item_ids:
            return []
        marks = ", ".join("?" * len(item_ids))
        with transaction(self._conn) as conn:
            rows = conn.execute(
                "SELECT id, path, kind, attempts, enqueued_at, last_error FROM queue "
                f"WHERE status = ? AND id IN ({marks}) ORDER BY id",
                (_PENDING, *item_ids),
            ).fetchall()
            items = [_item_from_row(row) for row in rows]
            self._set_status(conn, [item.id for item in items], _INFLIGHT)
        return items

    def complete(self, item_id: int) -> None:
        """Forget a finished item. Completing an item that is already gone does nothing."""
        with transaction(self._conn) as conn:
            conn.execute("DELETE FROM queue WHERE id = ?", (item_id,))

    def release(self, item_ids: Sequence[int]) -> None:
        """Put in-flight items back to pending, due at once, attempts unchanged (e.g. SIGTERM
        arrived mid-batch). Ids that are not in flight are left alone."""
        with transaction(self._conn) as conn:
            self._set_status(conn, list(item_ids), _PENDING, only_from=_INFLIGHT)

    def retry_later(self, item_id: int, delay_s: float, reason: str) -> None:
        """Put an item back, not due before now + `delay_s`; record `reason` and count the
        attempt. Raises KeyError for an id that is not queued."""
        delay_s = max(0.0, delay_s)
        status = _WAITING if delay_s > 0 else _PENDING
        with transaction(self._conn) as conn:
            cursor = conn.execute(
                "UPDATE queue SET status = ?, not_before = ?, last_error = ?, "
                "attempts = attempts + 1 WHERE id = ?",
                (status, self._clock() + delay_s, reason, item_id),
            )
            if cursor.rowcount == 0:
                raise KeyError(f"queue item {item_id} is not queued (completed already?)")

    def recover_inflight(self) -> int:
        """At start: put every in-flight item (left by a crash) back to pending; return how many."""
        with transaction(self._conn) as conn:
            cursor = conn.execute(
                "UPDATE queue SET status = ? WHERE status = ?", (_PENDING, _INFLIGHT)
            )
            return cursor.rowcount

    def pending_count(self) -> int:
        """Items not yet claimed, including those waiting for a retry time."""
        return self._count(_PENDING) + self._count(_WAITING)

    def inflight_count(self) -> int:
        """Items claimed and not yet completed, released or retried."""
        return self._count(_INFLIGHT)

    def next_retry_at(self) -> float | None:
        """The earliest retry time still in the future (clock time), or None: the daemon can
        sleep until then instead of polling."""
        with transaction(self._conn, immediate=False) as conn:
            row = conn.execute(
                "SELECT MIN(not_before) FROM queue WHERE status = ? AND not_before > ?",
                (_WAITING, self._clock()),
            ).fetchone()
        return None if row[0] is None else float(row[0])

    def _count(self, status: str) -> int:
        with transaction(self._conn, immediate=False) as conn:
            row = conn.execute("SELECT COUNT(*) FROM queue WHERE status = ?", (status,)).fetchone()
        return int(row[0])

    @staticmethod
    def _set_status(
        conn: sqlite3.Connection, ids: list[int], status: str, only_from: str | None = None
    ) -> None:
        for start in range(0, len(ids), _MAX_IDS_PER_STATEMENT):
            chunk = ids[start : start + _MAX_IDS_PER_STATEMENT]
            marks = ",".join("?" * len(chunk))
            sql = f"UPDATE queue SET status = ? WHERE id IN ({marks})"
            params: list[object] = [status, *chunk]
            if only_from is not None:
                sql += " AND status = ?"
                params.append(only_from)
            conn.execute(sql, params)


def _item_from_row(row: tuple) -> QueueItem:
    item_id, path, kind, attempts, enqueued_at, last_error = row
    return QueueItem(
        id=int(item_id),
        path=path_from_db(path),
        kind=str(kind),
        attempts=int(attempts),
        enqueued_at=float(enqueued_at),
        last_error=str(last_error),
    )
