"""Journal on a real state database: durable begin, transitions, listing, across connections."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.support.clocks import TickingClock
from xintud.state.db import open_state_db, transaction
from xintud.state.journal import Journal

SHA = "f" * 64
SRC = Path("/camera/IMG_0001.jpg")
DST = Path("/lib/Food/2026/11/IMG_0001.jpg")





@pytest.fixture
def journal(conn: sqlite3.Connection) -> Journal:
    return Journal(conn, clock=TickingClock())


def test_begin_is_visible_to_another_connection_at_once(journal: Journal, db_path: Path) -> None:
    action = journal.begin("move", SHA, SRC, DST)

    # A second daemon connection, and a plain sqlite3 one, both see the committed row.
    other = open_state_db(db_path)
    raw = sqlite3.connect(db_path)
    try:
        [seen] = Journal(other).unfinished()
        assert seen == action
        assert raw.execute("SELECT state FROM actions WHERE id = ?", (action.id,)).fetchone() == (
            "begun",
        )
        journal.mark_done(action.id)
        assert Journal(other).get(action.id).state == "done"
    finally:
        other.close()
        raw.close()


def test_journal_survives_reopen(db_path: Path) -> None:
    conn = open_state_db(db_path)
    journal = Journal(conn)
    done = journal.begin("copy", SHA, SRC, DST)
    journal.mark_done(done.id)
    begun = journal.begin("move", SHA, SRC, DST)
    conn.close()

    conn = open_state_db(db_path)
    try:
        journal = Journal(conn)
        assert [a.id for a in journal.unfinished()] == [begun.id]
        assert [a.id for a in journal.done_actions()] == [done.id]
    finally:
        conn.close()


def test_begin_records_everything(journal: Journal) -> None:
    action = journal.begin("tag", SHA, SRC, SRC.with_suffix(".jpg.xmp"))
    assert action.kind == "tag" and action.state == "begun"
    assert action.src == SRC and action.dst == SRC.with_suffix(".jpg.xmp")
    assert action.finished_at is None and action.note == ""
    assert journal.get(action.id) == action


def test_begin_refuses_unknown_kind(journal: Journal) -> None:
    with pytest.raises(ValueError, match="unknown action kind"):
        journal.begin("delete", SHA, SRC, DST)  # type: ignore[arg-type]


def test_done_then_undone(journal: Journal) -> None:
    action = journal.begin("move", SHA, SRC, DST)
    done = journal.mark_done(action.id)
    assert done.state == "done" and done.finished_at is not None

    undone = journal.mark_undone(action.id)
    assert undone.state == "undone"
    assert undone.finished_at == done.finished_at
    assert undone.undone_at is not None and undone.undone_at > done.finished_at
    assert journal.done_actions() == []


def test_failed_and_rolled_back_keep_the_reason(journal: Journal) -> None:
    failed = journal.mark_failed(journal.begin("move", SHA, SRC, DST).id, "disk full")
    rolled = journal.mark_rolled_back(journal.begin("move", SHA, SRC, DST).id, "crash recovery")
    assert (failed.state, failed.note) == ("failed", "disk full")
    assert (rolled.state, rolled.note) == ("rolled_back", "crash recovery")
    assert failed.finished_at is not None and rolled.finished_at is not None
    assert journal.unfinished() == []


def _to_state(journal: Journal, state: str) -> int:
    action_id = journal.begin("move", SHA, SRC, DST).id
    if state == "done":
        journal.mark_done(action_id)
    elif state == "failed":
        journal.mark_failed(action_id, "x")
    elif state == "rolled_back":
        journal.mark_rolled_back(action_id, "x")
    elif state == "undone":
        journal.mark_done(action_id)
        journal.mark_undone(action_id)
    return action_id


TRANSITIONS = {
    "done": lambda j, i: j.mark_done(i),
    "failed": lambda j, i: j.mark_failed(i, "r"),
    "rolled_back": lambda j, i: j.mark_rolled_back(i, "r"),
    "undone": lambda j, i: j.mark_undone(i),
}
ALLOWED = {("begun", "done"), ("begun", "failed"), ("begun", "rolled_back"), ("done", "undone")}
STATES = ("begun", "done", "failed", "rolled_back", "undone")


@pytest.mark.parametrize(
    ("start", "target"),
    [(s, t) for s in STATES for t in TRANSITIONS if (s, t) not in ALLOWED],
)
def test_invalid_transitions_raise_and_change_nothing(
    journal: Journal, start: str, target: str
) -> None:
    action_id = _to_state(journal, start)
    before = journal.get(action_id)
    with pytest.raises(ValueError, match=f"only a .* action can become {target}"):
        TRANSITIONS[target](journal, action_id)
    assert journal.get(action_id) == before


def test_unknown_action_id_raises_key_error(journal: Journal) -> None:
    with pytest.raises(KeyError):
        journal.mark_done(999)
    assert journal.get(999) is None


def test_unfinished_is_oldest_first(journal: Journal) -> None:
    ids = [journal.begin("move", SHA, SRC, Path(f"/lib/{n}.jpg")).id for n in range(4)]
    journal.mark_done(ids[1])
    assert [a.id for a in journal.unfinished()] == [ids[0], ids[2], ids[3]]


def test_done_actions_newest_first_with_limit_and_since(journal: Journal) -> None:
    ids = [journal.begin("move", SHA, SRC, Path(f"/lib/{n}.jpg")).id for n in range(4)]
    # Finish out of start order: listing follows the finish time.
    finished = {i: journal.mark_done(i).finished_at for i in (ids[2], ids[0], ids[3])}
    journal.mark_failed(ids[1], "x")

    assert [a.id for a in journal.done_actions()] == [ids[3], ids[0], ids[2]]
    assert [a.id for a in journal.done_actions(limit=2)] == [ids[3], ids[0]]
    assert [a.id for a in journal.done_actions(since=finished[ids[0]])] == [ids[3], ids[0]]
    assert journal.done_actions(limit=1, since=finished[ids[3]] + 1) == []


def test_journal_writes_refuse_an_open_transaction(
    journal: Journal, conn: sqlite3.Connection
) -> None:
    """Joining an outer transaction would delay the commit past the file operation."""
    with transaction(conn), pytest.raises(RuntimeError, match="commit on its own"):
        journal.begin("move", SHA, SRC, DST)
    assert journal.unfinished() == []


def test_an_undo_move_is_not_offered_for_undo(tmp_path: Path) -> None:
    """Undoing twice must go further back in history, never redo what was just undone."""
    journal = Journal(open_state_db(tmp_path / "state.db"))
    filed = journal.begin("move", "a" * 64, Path("/w/a.jpg"), Path("/lib/a.jpg"))
    journal.mark_done(filed.id)
    back = journal.begin("move", "a" * 64, Path("/lib/a.jpg"), Path("/w/a.jpg"),
                         reverses=filed.id)
    journal.mark_done(back.id)
    journal.mark_undone(filed.id)
    assert journal.done_actions() == []
    with_reversals = journal.done_actions(include_reversals=True)
    assert [a.id for a in with_reversals] == [back.id]
    assert with_reversals[0].reverses == filed.id
