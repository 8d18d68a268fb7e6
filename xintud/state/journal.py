"""The action journal: every move, copy and tag, written before the file is touched and after.

Each write commits on its own before returning (``synchronous=FULL``), so after a crash at any
instant the next start finds the unfinished actions (`unfinished`) and finishes or rolls them
back, and every done action can be undone. States and the only allowed transitions:

    begun ──> done ──> undone
      ├────> failed
      └────> rolled_back

Any other transition raises ValueError; an unknown action id raises KeyError.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from xintud.state.db import path_from_db, path_to_db, transaction

ActionKind = Literal["move", "copy", "tag"]
ActionState = Literal["begun", "done", "failed", "rolled_back", "undone"]

ACTION_KINDS: tuple[str, ...] = get_args(ActionKind)


@dataclass(frozen=True)
class Action:
    """One journaled action on one file: `src` is where the photo was, `dst` where it goes (for
    a tag, the sidecar written)."""

    id: int
    kind: ActionKind
    sha256: str
    src: Path
    dst: Path
    state: ActionState
    started_at: float
    finished_at: float | None
    note: str
    undone_at: float | None = None
    reverses: int | None = None  # the id of the action this one undoes (an undo's own move)
    part_of: int | None = None  # a companion's move: the id of its photo's action


_COLUMNS = (
    "id, kind, sha256, src, dst, state, started_at, finished_at, note, undone_at, reverses, "
    "part_of"
)


class Journal:
    """The durable log of actions, on a state database connection.

    Every method that writes commits before it returns, so it must not be called inside an
    open `transaction(conn)` (RuntimeError): the journal's promise is that the row is on disk.
    """

    def __init__(self, conn: sqlite3.Connection, clock: Callable[[], float] = time.time) -> None:
        self._conn = conn
        self._clock = clock

    def begin(
        self, kind: ActionKind, sha256: str, src: Path, dst: Path, reverses: int | None = None,
        note: str = "", part_of: int | None = None,
    ) -> Action:
        """Journal an action about to happen; it is committed to disk when this returns.

        `reverses` marks an undo's own move: it names the action being undone, and such moves
        are not offered for undo themselves (undoing twice goes further back, never redoes).
        """
        if kind not in ACTION_KINDS:
            raise ValueError(f"unknown action kind {kind!r}; valid: {', '.join(ACTION_KINDS)}")
        started_at = self._clock()
        with transaction(self._conn, durable=True) as conn:
            cursor = conn.execute(
                "INSERT INTO actions (kind, sha256, src, dst, state, started_at, reverses, note, "
                "part_of) VALUES (?, ?, ?, ?, 'begun', ?, ?, ?, ?)",
                (kind, sha256, path_to_db(src), path_to_db(dst), started_at, reverses, note,
                 part_of),
            )
            action_id = cursor.lastrowid
        assert action_id is not None
        return Action(
            id=action_id,
            kind=kind,
            sha256=sha256,
            src=Path(src),
            dst=Path(dst),
            state="begun",
            started_at=started_at,
            finished_at=None,
            note=note,
            reverses=reverses,
            part_of=part_of,
        )

    def get(self, action_id: int) -> Action | None:
        """The action with this id, or None."""
        with transaction(self._conn, immediate=False) as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM actions WHERE id = ?", (action_id,)
            ).fetchone()
        return None if row is None else _action_from_row(row)

    def mark_done(self, action_id: int) -> Action:
        """begun → done: the file is in place."""
        return self._transition(action_id, "begun", "done", finished=True)

    def mark_failed(self, action_id: int, reason: str) -> Action:
        """begun → failed: the action could not be carried out; the photo was left as it was."""
        return self._transition(action_id, "begun", "failed", finished=True, note=reason)

    def mark_rolled_back(self, action_id: int, reason: str) -> Action:
        """begun → rolled_back: a half-done action (e.g. found at start) was reverted."""
        return self._transition(action_id, "begun", "rolled_back", finished=True, note=reason)

    def mark_undone(self, action_id: int) -> Action:
        """done → undone: the user took the photo back; only a done action can be undone."""
        return self._transition(action_id, "done", "undone", undone=True)

    def done_action_from(self, sha256: str, src: Path) -> Action | None:
        """The newest done action (not an undo's own move) that took this content from `src`."""
        with transaction(self._conn, immediate=False) as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM actions WHERE sha256 = ? AND src = ? "
                "AND state = 'done' AND reverses IS NULL ORDER BY id DESC LIMIT 1",
                (sha256, path_to_db(src)),
            ).fetchone()
        return None if row is None else _action_from_row(row)

    def unfinished(self) -> list[Action]:
        """Actions begun and never finished (a crash came in between), oldest first."""
        with transaction(self._conn, immediate=False) as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM actions WHERE state = 'begun' ORDER BY id"
            ).fetchall()
        return [_action_from_row(row) for row in rows]

    def done_actions(
        self, limit: int | None = None, since: float | None = None, include_reversals: bool = False
    ) -> list[Action]:
        """Done (hence undoable) actions, newest first; those finished at or after `since`,
        at most `limit` of them. An undo's own moves are left out unless include_reversals."""
        # A companion's move is undone with its photo's, never on its own.
        sql = f"SELECT {_COLUMNS} FROM actions WHERE state = 'done' AND part_of IS NULL"
        if not include_reversals:
            sql += " AND reverses IS NULL"
        params: list[object] = []
        if since is not None:
            sql += " AND finished_at >= ?"
            params.append(since)
        sql += " ORDER BY finished_at DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(0, limit))
        with transaction(self._conn, immediate=False) as conn:
            rows = conn.execute(sql, params).fetchall()
        return [_action_from_row(row) for row in rows]

    def latest_noted(self, sha256: str, kind: ActionKind, note_prefix: str) -> Action | None:
        """The newest done or undone action of this kind on this content whose note starts
        with `note_prefix` (a writer that keeps its own state in its notes)."""
        with transaction(self._conn, immediate=False) as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM actions WHERE sha256 = ? AND kind = ? "
                "AND state IN ('done', 'undone') AND substr(note, 1, ?) = ? "
                "ORDER BY id DESC LIMIT 1",
                (sha256, kind, len(note_prefix), note_prefix),
            ).fetchone()
        return None if row is None else _action_from_row(row)

    def noted(self, kind: ActionKind, note_prefix: str) -> list[Action]:
        """Every done or undone action of this kind whose note starts with `note_prefix`,
        oldest first."""
        with transaction(self._conn, immediate=False) as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM actions WHERE kind = ? AND state IN ('done', 'undone') "
                "AND substr(note, 1, ?) = ? ORDER BY id",
                (kind, len(note_prefix), note_prefix),
            ).fetchall()
        return [_action_from_row(row) for row in rows]

    def members(self, action_id: int) -> list[Action]:
        """The companions' actions that are part of this photo's action, oldest first."""
        with transaction(self._conn, immediate=False) as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM actions WHERE part_of = ? ORDER BY id",
                                (action_id,)).fetchall()
        return [_action_from_row(row) for row in rows]

    def _transition(
        self,
        action_id: int,
        from_state: ActionState,
        to_state: ActionState,
        *,
        finished: bool = False,
        undone: bool = False,
        note: str | None = None,
    ) -> Action:
        now = self._clock()
        with transaction(self._conn, durable=True) as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM actions WHERE id = ?", (action_id,)
            ).fetchone()
            if row is None:
                raise KeyError(f"no journal action with id {action_id}")
            action = _action_from_row(row)
            if action.state != from_state:
                raise ValueError(
                    f"journal action {action_id} ({action.kind} {action.src} -> {action.dst}) "
                    f"is {action.state}; only a {from_state} action can become {to_state}"
                )
            conn.execute(
                "UPDATE actions SET state = ?, "
                "finished_at = CASE WHEN ? THEN ? ELSE finished_at END, "
                "undone_at = CASE WHEN ? THEN ? ELSE undone_at END, "
                "note = COALESCE(?, note) WHERE id = ?",
                (to_state, finished, now, undone, now, note, action_id),
            )
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM actions WHERE id = ?", (action_id,)
            ).fetchone()
        return _action_from_row(row)


def _action_from_row(row: tuple) -> Action:
    (action_id, kind, sha256, src, dst, state, started_at, finished_at, note, undone_at, rev,
     part_of) = row
    return Action(
        id=int(action_id),
        kind=kind,
        sha256=str(sha256),
        src=path_from_db(src),
        dst=path_from_db(dst),
        state=state,
        started_at=float(started_at),
        finished_at=None if finished_at is None else float(finished_at),
        note=str(note),
        undone_at=None if undone_at is None else float(undone_at),
        reverses=None if rev is None else int(rev),
        part_of=None if part_of is None else int(part_of),
    )
