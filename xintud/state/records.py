"""What xintud knows about each photo, keyed by its content hash (sha256), not its path.

A file the user renames or moves keeps its hash, so it is recognised and not filed again; a file
the user took back with undo stays UNDONE, and `upsert` refuses to re-file it unless asked.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path

from xintud.core.categories import CATEGORY_IDS, is_category_name
from xintud.state.db import path_from_db, path_to_db, transaction


class FileState(str, Enum):
    """Where a file stands. DONE, SKIPPED, FAILED and UNDONE are final for the daemon."""

    QUEUED = "queued"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNDONE = "undone"


@dataclass(frozen=True)
class FileRecord:
    """One file: its hash (None only if it could not be read), where it is now and was first
    seen, its state, the decision and the analysis result (JSON text)."""

    sha256: str | None
    path: Path
    original_path: Path | None = None
    state: FileState = FileState.QUEUED
    category: str | None = None
    confidence: float | None = None
    action: str | None = None  # what was done, for people: "moved to Food/2026/11/a.jpg"
    reason: str = ""  # why it failed or was skipped
    result_json: str | None = None
    updated_at: float = 0.0


@dataclass(frozen=True)
class Stats:
    """Counts for `xintuctl status`. by_state has every FileState value and by_category every
    category id (counting DONE files, i.e. the photos sorted), zeros included."""

    by_state: dict[str, int]
    by_category: dict[str, int]
    failed: int
    processed: int  # files finished one way or another: everything but QUEUED
    total: int
    last_action: str | None = None
    last_action_at: float | None = None


_COLUMNS = (
    "sha256, path, original_path, state, category, confidence, action, reason, result_json, "
    "updated_at"
)


class Records:
    """Read and write file records on a state database connection."""

    def __init__(self, conn: sqlite3.Connection, clock: Callable[[], float] = time.time) -> None:
        self._conn = conn
        self._clock = clock

    def get(self, sha256: str) -> FileRecord | None:
        """The record for this content, or None if it was never seen."""
        with transaction(self._conn, immediate=False) as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM files WHERE sha256 = ?", (sha256,)
            ).fetchone()
        return None if row is None else _record_from_row(row)

    def get_by_path(self, path: Path) -> FileRecord | None:
        """The most recently updated record whose current path is `path`, or None."""
        with transaction(self._conn, immediate=False) as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM files WHERE path = ? "
                "ORDER BY updated_at DESC, id DESC LIMIT 1",
                (path_to_db(path),),
            ).fetchone()
        return None if row is None else _record_from_row(row)

    def filed_from(self, paths: list[Path]) -> FileRecord | None:
        """The newest DONE record first seen at one of these paths (a companion looking for
        its photo), or None."""
        if not paths:
            return None
        marks = ", ".join("?" * len(paths))
        with transaction(self._conn, immediate=False) as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM files WHERE state = ? AND original_path IN ({marks}) "
                "ORDER BY updated_at DESC, id DESC LIMIT 1",
                (FileState.DONE.value, *(path_to_db(p) for p in paths)),
            ).fetchone()
        return None if row is None else _record_from_row(row)

    def should_process(self, sha256: str) -> bool:
        """True when this content still needs analysing and filing: never seen, or QUEUED
        (a crash came before it was finished). A known file at a new path is not re-filed."""
        record = self.get(sha256)
        return record is None or record.state is FileState.QUEUED

    def upsert(self, record: FileRecord, *, allow_refile: bool = False) -> FileRecord:
        """Insert or replace the record for `record.sha256`, stamped with the current time;
        return what was stored.

        Raises ValueError for a record without a hash (use `mark_failed`), an unknown category,
        result_json that is not JSON, or — unless `allow_refile` — moving an UNDONE file to
        another state: the user took it back, so the daemon must leave it where it is.
        """
        if record.sha256 is None:
            raise ValueError("a record without a sha256 can only be stored with mark_failed()")
        _validate(record)
        stored = replace(record, state=FileState(record.state), updated_at=self._clock())
        with transaction(self._conn) as conn:
            if not allow_refile:
                _refuse_refiling_undone(conn, stored)
            conn.execute(
                f"INSERT INTO files ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (sha256) DO UPDATE SET path = excluded.path, "
                "original_path = excluded.original_path, state = excluded.state, "
                "category = excluded.category, confidence = excluded.confidence, "
                "action = excluded.action, reason = excluded.reason, "
                "result_json = excluded.result_json, updated_at = excluded.updated_at",
                _row_from_record(stored),
            )
            # The file can be read now: drop the failure noted when it could not be hashed.
            conn.execute(
                "DELETE FROM files WHERE sha256 IS NULL AND path = ?",
                (path_to_db(stored.path),),
            )
        return stored

    def mark_failed(self, sha256: str | None, path: Path, reason: str) -> FileRecord:
        """Record that processing `path` failed for `reason`; return the stored record.

        With a hash, the file's record (if any) keeps its other fields and becomes FAILED.
        Without one (the file could not even be read), a record keyed by the path is written.
        An UNDONE file is not marked failed (ValueError): the daemon should not have touched it.
        """
        if sha256 is not None:
            with transaction(self._conn):  # read and write as one step
                base = self.get(sha256) or FileRecord(sha256, path, original_path=path)
                failed = replace(base, path=path, state=FileState.FAILED, reason=reason)
                return self.upsert(failed)
        stored = FileRecord(
            sha256=None,
            path=path,
            original_path=path,
            state=FileState.FAILED,
            reason=reason,
            updated_at=self._clock(),
        )
        with transaction(self._conn) as conn:
            conn.execute(
                f"INSERT INTO files ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (path) WHERE sha256 IS NULL DO UPDATE SET "
                "reason = excluded.reason, updated_at = excluded.updated_at",
                _row_from_record(stored),
            )
        return stored

    def stats(self) -> Stats:
        """Counts per state and per category, and the last action, from one snapshot."""
        by_state = {state.value: 0 for state in FileState}
        by_category = dict.fromkeys(CATEGORY_IDS, 0)
        with transaction(self._conn, immediate=False) as conn:
            for state, count in conn.execute("SELECT state, COUNT(*) FROM files GROUP BY state"):
                by_state[str(state)] = int(count)
            for category, count in conn.execute(
                "SELECT category, COUNT(*) FROM files WHERE state = ? AND category IS NOT NULL "
                "GROUP BY category",
                (FileState.DONE.value,),
            ):
                by_category[str(category)] = int(count)
            last = conn.execute(
                "SELECT action, updated_at FROM files WHERE action IS NOT NULL "
                "ORDER BY updated_at DESC, id DESC LIMIT 1"
            ).fetchone()
        total = sum(by_state.values())
        return Stats(
            by_state=by_state,
            by_category=by_category,
            failed=by_state[FileState.FAILED.value],
            processed=total - by_state[FileState.QUEUED.value],
            total=total,
            last_action=None if last is None else str(last[0]),
            last_action_at=None if last is None else float(last[1]),
        )

    def queued(self) -> list[FileRecord]:
        """Records still QUEUED: analysed, and acted on or about to be, but not finished."""
        with transaction(self._conn, immediate=False) as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM files WHERE state = ? ORDER BY id",
                (FileState.QUEUED.value,),
            ).fetchall()
        return [_record_from_row(row) for row in rows]

    def filed_results(self) -> list[tuple[str, Path, str | None, str | None]]:
        """(sha256, path, category, result_json) of every DONE record, oldest first."""
        with transaction(self._conn, immediate=False) as conn:
            rows = conn.execute(
                "SELECT sha256, path, category, result_json FROM files WHERE state = ? "
                "AND sha256 IS NOT NULL ORDER BY id", (FileState.DONE.value,)).fetchall()
        return [(str(sha), path_from_db(path), category, result)
                for sha, path, category, result in rows]

    def filed_paths(self) -> list[tuple[str, Path]]:
        """(sha256, path) of every DONE record (the photos sorted), oldest first: what a pass
        over the library needs, without the analyses (a few KB each)."""
        with transaction(self._conn, immediate=False) as conn:
            rows = conn.execute(
                "SELECT sha256, path FROM files WHERE state = ? AND sha256 IS NOT NULL "
                "ORDER BY id", (FileState.DONE.value,),
            ).fetchall()
        return [(str(sha256), path_from_db(path)) for sha256, path in rows]

    def recent(self, limit: int) -> list[FileRecord]:
        """The `limit` most recently updated records, newest first."""
        with transaction(self._conn, immediate=False) as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM files ORDER BY updated_at DESC, id DESC LIMIT ?",
                (max(0, limit),),
            ).fetchall()
        return [_record_from_row(row) for row in rows]


def _validate(record: FileRecord) -> None:
    if record.category is not None and not is_category_name(record.category):
        raise ValueError(
            f"unknown category {record.category!r} for {record.path}; "
            f"valid: {', '.join(CATEGORY_IDS)} or a name of the user's own"
        )
    if record.result_json is not None:
        try:
            json.loads(record.result_json)
        except json.JSONDecodeError as exc:
            raise ValueError(f"result_json for {record.path} is not valid JSON: {exc}") from exc


def _refuse_refiling_undone(conn: sqlite3.Connection, record: FileRecord) -> None:
    row = conn.execute("SELECT state FROM files WHERE sha256 = ?", (record.sha256,)).fetchone()
    was_undone = row is not None and row[0] == FileState.UNDONE.value
    if was_undone and record.state is not FileState.UNDONE:
        raise ValueError(
            f"{record.path} (sha256 {record.sha256}) was taken back by the user with undo; "
            f"refusing to change it to {record.state.value} (pass allow_refile=True only when "
            "the user asks to sort it again)"
        )


def _row_from_record(record: FileRecord) -> tuple[object, ...]:
    return (
        record.sha256,
        path_to_db(record.path),
        None if record.original_path is None else path_to_db(record.original_path),
        FileState(record.state).value,
        record.category,
        record.confidence,
        record.action,
        record.reason,
        record.result_json,
        record.updated_at,
    )


def _record_from_row(row: tuple) -> FileRecord:
    (
        sha256,
        path,
        original_path,
        state,
        category,
        confidence,
        action,
        reason,
        result_json,
        updated_at,
    ) = row
    return FileRecord(
        sha256=sha256,
        path=path_from_db(path),
        original_path=None if original_path is None else path_from_db(original_path),
        state=FileState(state),
        category=category,
        confidence=None if confidence is None else float(confidence),
        action=action,
        reason=str(reason),
        result_json=result_json,
        updated_at=float(updated_at),
    )
