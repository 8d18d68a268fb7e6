"""The state database: one SQLite file (WAL) holding the queue, the file records and the journal.

Threading: `open_state_db` returns a `StateConnection` opened with ``check_same_thread=False``
that carries a re-entrant lock. `transaction(conn)` holds that lock for the whole transaction, so
the daemon's threads (worker, control server) may share one connection and each transaction runs
alone; `FileQueue`, `Records` and `Journal` do every read and write through `transaction`.
Opening one connection per thread also works: WAL lets readers run beside the single writer, and
``busy_timeout`` makes a second writer wait instead of failing.

Durability: ``synchronous=FULL`` because this file holds the undo journal; a commit is on disk
when it returns, which is what lets the journal be written *before* a photo is touched.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 5
DEFAULT_BUSY_TIMEOUT_S = 5.0

# Version 1: the whole schema. A later version appends its migration to MIGRATIONS, keyed by the
# version it produces; open_state_db runs every step above the file's PRAGMA user_version.
# Path columns are TEXT; a name that is not UTF-8 is stored as a BLOB (see path_to_db), which
# TEXT affinity leaves as it is.
_SCHEMA_V1: tuple[str, ...] = (
    # Work still to do. Rows are deleted when done, so every row is pending or in flight and a
    # unique path is exactly "dedupe a path that is already queued".
    """CREATE TABLE IF NOT EXISTS queue (
        id          INTEGER PRIMARY KEY,
        path        TEXT NOT NULL,
        kind        TEXT NOT NULL,
        status      TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'waiting', 'inflight')),
        attempts    INTEGER NOT NULL DEFAULT 0,
        enqueued_at REAL NOT NULL,
        not_before  REAL NOT NULL DEFAULT 0,
        last_error  TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE UNIQUE INDEX IF NOT EXISTS queue_path ON queue(path)",
    # claim() walks the due ('pending') items in id order here and stops after LIMIT.
    "CREATE INDEX IF NOT EXISTS queue_status_id ON queue(status, id)",
    # Items waiting for a retry time: claim() promotes the due ones, next_retry_at() is one seek.
    "CREATE INDEX IF NOT EXISTS queue_status_not_before ON queue(status, not_before)",
    # One row per known content. sha256 is NULL only for a file that could not even be read;
    # such a row is keyed by its path instead (files_unhashed_path).
    """CREATE TABLE IF NOT EXISTS files (
        id            INTEGER PRIMARY KEY,
        sha256        TEXT UNIQUE,
        path          TEXT NOT NULL,
        original_path TEXT,
        state         TEXT NOT NULL
                      CHECK (state IN ('queued', 'done', 'failed', 'skipped', 'undone')),
        category      TEXT,
        confidence    REAL,
        action        TEXT,
        reason        TEXT NOT NULL DEFAULT '',
        result_json   TEXT,
        updated_at    REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS files_path ON files(path)",
    "CREATE UNIQUE INDEX IF NOT EXISTS files_unhashed_path ON files(path) WHERE sha256 IS NULL",
    "CREATE INDEX IF NOT EXISTS files_state_category ON files(state, category)",
    "CREATE INDEX IF NOT EXISTS files_updated_at ON files(updated_at)",
    # The journal: every move/copy/tag, written before and after the file is touched.
    """CREATE TABLE IF NOT EXISTS actions (
        id          INTEGER PRIMARY KEY,
        kind        TEXT NOT NULL CHECK (kind IN ('move', 'copy', 'tag')),
        sha256      TEXT NOT NULL,
        src         TEXT NOT NULL,
        dst         TEXT NOT NULL,
        state       TEXT NOT NULL
                    CHECK (state IN ('begun', 'done', 'failed', 'rolled_back', 'undone')),
        started_at  REAL NOT NULL,
        finished_at REAL,
        undone_at   REAL,
        note        TEXT NOT NULL DEFAULT '',
        reverses    INTEGER REFERENCES actions(id)  -- set on the move that undoes another
    )""",
    "CREATE INDEX IF NOT EXISTS actions_state_id ON actions(state, id)",
    "CREATE INDEX IF NOT EXISTS actions_state_finished ON actions(state, finished_at)",
    "CREATE INDEX IF NOT EXISTS actions_sha256 ON actions(sha256)",
)

# Version 2: what duplicates/ keeps of each photo (its fingerprint, or why it has none) and the
# links found between photos, so that groups survive a restart without a pass over the library.
_SCHEMA_V2: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS prints (
        sha256    TEXT PRIMARY KEY,
        phash     INTEGER,
        turns     BLOB,
        vector    BLOB,
        layout    BLOB,
        taken_at  REAL,
        facts     TEXT,
        problem   TEXT,
        made_at   REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS links (
        a         TEXT NOT NULL,
        b         TEXT NOT NULL,
        tier      TEXT NOT NULL CHECK (tier IN ('exact', 'same', 'burst')),
        closeness TEXT NOT NULL,
        PRIMARY KEY (a, b)
    )""",
    "CREATE INDEX IF NOT EXISTS links_b ON links(b)",
)

# Version 3: the user's corrections and the examples of their own categories, by content —
# what learning/ learns from. One row per photo: a later correction replaces the earlier one.
_SCHEMA_V3: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS corrections (
        sha256    TEXT PRIMARY KEY,
        category  TEXT NOT NULL,
        was       TEXT,
        origin    TEXT NOT NULL CHECK (origin IN ('moved', 'command', 'tagged', 'taught')),
        path      TEXT NOT NULL,
        features  BLOB NOT NULL,
        shipped   TEXT NOT NULL,
        made_at   REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS corrections_made_at ON corrections(made_at)",
)

# Version 4: a photo's companions (its Live Photo video, edits, sidecars, RAW twin) move with
# it: each companion's own action names the photo's action it is part of (library/sets.py).
_SCHEMA_V4: tuple[str, ...] = (
    "ALTER TABLE actions ADD COLUMN part_of INTEGER REFERENCES actions(id)",
    "CREATE INDEX IF NOT EXISTS actions_part_of ON actions(part_of)",
)

# Version 5: screen-like photos keep a finer thumbnail (PNG) that tells a copy of a screenshot
# from another screen of the same app (duplicates/screens.py); rows made before have none.
_SCHEMA_V5: tuple[str, ...] = (
    "ALTER TABLE prints ADD COLUMN screen BLOB",
)

MIGRATIONS: dict[int, tuple[str, ...]] = {1: _SCHEMA_V1, 2: _SCHEMA_V2, 3: _SCHEMA_V3,
                                          4: _SCHEMA_V4, 5: _SCHEMA_V5}

# SQLite primary result codes (sqlite3.h), used to tell "corrupt" from "locked" from "can't open".
_SQLITE_PERM = 3
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_CORRUPT = 11
_SQLITE_CANTOPEN = 14
_SQLITE_NOTADB = 26


class StateDBError(Exception):
    """The state database cannot be used; the message names the file, the cause and the fix."""

    def __init__(self, path: Path, problem: str, fix: str) -> None:
        super().__init__(f"state database {path} {problem}: {fix}")
        self.path = path
        self.problem = problem
        self.fix = fix


class StateConnection(sqlite3.Connection):
    """A sqlite3 connection carrying the lock that serialises its transactions across threads.

    Text parameters go through `text_to_db`, so a message quoting a file name that is not
    UTF-8 is stored (with that name's bytes escaped) instead of failing the write.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lock = threading.RLock()

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        if isinstance(parameters, Mapping):
            parameters = {key: text_to_db(value) for key, value in parameters.items()}
        else:
            parameters = tuple(text_to_db(value) for value in parameters)
        return super().execute(sql, parameters)


def text_to_db(value: object) -> object:
    """`value`, except that a str SQLite cannot hold (a lone surrogate: the stand-in for a
    byte of a file name that is not UTF-8) has those bytes written as ``\\xff`` escapes."""
    if not isinstance(value, str):
        return value
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        pass
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")


def open_state_db(path: Path, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> StateConnection:
    """Open (creating if needed) the state database at `path`, ready for the daemon.

    Creates the parent directory with mode 0700 and the file with mode 0600, checks the file
    with ``PRAGMA quick_check``, switches to WAL with ``synchronous=FULL``, enables foreign keys
    and a busy timeout, and creates or migrates the schema. Raises StateDBError when the file is
    corrupt, locked by another process, written by a newer xintud, or cannot be opened.
    """
    path = Path(path)
    _make_private_parent(path)
    is_new = not path.exists()
    try:
        conn = sqlite3.connect(
            path,
            timeout=busy_timeout_s,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves (see transaction())
            check_same_thread=False,
            factory=StateConnection,
        )
    except sqlite3.Error as exc:
        raise _error_for(path, exc) from exc
    assert isinstance(conn, StateConnection)
    try:
        if is_new:
            os.chmod(path, 0o600)  # SQLite gives the -wal and -shm files the same mode
        _check_integrity(conn, path)
        _configure(conn, path, busy_timeout_s)
        _ensure_schema(conn, path)
        _check_writable(conn)
    except sqlite3.Error as exc:
        conn.close()
        raise _error_for(path, exc) from exc
    except BaseException:
        conn.close()
        raise
    logger.debug("opened state database %s (schema %d)", path, SCHEMA_VERSION)
    return conn


@contextlib.contextmanager
def transaction(
    conn: sqlite3.Connection, *, immediate: bool = True, durable: bool = False
) -> Iterator[sqlite3.Connection]:
    """Run the block as one transaction: commit on success, roll back on an exception.

    Holds the connection's lock (see the module docstring) for the whole block. ``immediate``
    takes the write lock at BEGIN, so a writer never fails half-way on a lock upgrade; pass
    False for read-only blocks. A block inside an open transaction joins it and commits with it,
    unless ``durable`` is set: then it must commit by itself (the journal's rule), so nesting is
    refused with RuntimeError rather than silently delaying the commit.
    """
    lock = getattr(conn, "lock", None)
    with lock if lock is not None else contextlib.nullcontext():
        if conn.in_transaction:
            if durable:
                raise RuntimeError(
                    "a journal write must commit on its own, but a transaction is already open "
                    "on this connection: call it outside `with transaction(conn)`"
                )
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def path_to_db(path: Path | str) -> str | bytes:
    """Return the value stored for a path: text, or raw bytes for a name that is not UTF-8."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A POSIX file name may be any bytes; Python carries them as surrogate escapes, which
        # SQLite text cannot hold. The same path always maps to the same value, so lookups match.
        return os.fsencode(text)
    return text


def path_from_db(value: str | bytes) -> Path:
    """Inverse of `path_to_db`."""
    return Path(os.fsdecode(value) if isinstance(value, bytes) else value)


def _make_private_parent(path: Path) -> None:
    parent = path.parent
    if parent.is_dir():
        return
    try:
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(parent, 0o700)  # mkdir's mode is masked by the umask
    except OSError as exc:
        raise StateDBError(
            path,
            f"cannot be created ({exc.strerror or exc})",
            f"make sure {parent} can be created as a directory you own, then restart xintud",
        ) from exc


def _check_integrity(conn: sqlite3.Connection, path: Path) -> None:
    rows = [str(row[0]) for row in conn.execute("PRAGMA quick_check").fetchall()]
    if rows != ["ok"]:
        # quick_check may list hundreds of pages; the first few findings say enough.
        lines = [line for row in rows for line in row.splitlines() if not line.startswith("***")]
        detail = "; ".join(lines[:3]) + (f"; and {len(lines) - 3} more" if len(lines) > 3 else "")
        raise _corrupt(path, f"quick_check: {detail}")


def _configure(conn: sqlite3.Connection, path: Path, busy_timeout_s: float) -> None:
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        # e.g. a network filesystem without shared memory; still durable, only less concurrent.
        logger.warning(
            "state database %s stays in journal mode %r (WAL is not available here); "
            "it works, but readers wait for writers",
            path,
            mode,
        )
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")


def _ensure_schema(conn: sqlite3.Connection, path: Path) -> None:
    version = _user_version(conn)
    if version == SCHEMA_VERSION:
        return
    _refuse_newer(path, version)
    with transaction(conn):
        # Re-read under the write lock: another process may have migrated meanwhile.
        version = _user_version(conn)
        _refuse_newer(path, version)
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[target]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {target}")
            logger.info("state database %s: schema now at version %d", path, target)


def _check_writable(conn: sqlite3.Connection) -> None:
    # Take the write lock once, so a database that another process keeps locked (a sqlite3
    # shell in a transaction) is refused here with a clear message, not at the first write.
    with transaction(conn):
        pass


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _refuse_newer(path: Path, version: int) -> None:
    if version > SCHEMA_VERSION:
        raise StateDBError(
            path,
            f"has schema version {version}, newer than this xintud knows ({SCHEMA_VERSION})",
            "it was written by a newer xintud; upgrade xintud, or move the file aside "
            "(with its -wal and -shm files) to start afresh — the old file keeps its undo "
            "journal",
        )


def _corrupt(path: Path, detail: str) -> StateDBError:
    return StateDBError(
        path,
        f"is corrupt ({detail})",
        f"move it aside (e.g. mv {path} {path}.corrupt, and its -wal and -shm files) and "
        "restart xintud, which creates a new empty database; the journal of earlier moves "
        "was in that file, so they can no longer be undone with xintuctl, and your photos "
        "themselves are not affected",
    )


def _error_for(path: Path, exc: sqlite3.Error) -> StateDBError:
    """Turn a sqlite3 error met while opening into a StateDBError saying what to do."""
    detail = str(exc)
    code = _primary_code(exc)
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return StateDBError(
            path,
            f"is locked by another process ({detail})",
            "another xintud (or a sqlite3 shell) is using it; stop that process, then restart "
            "xintud",
        )
    if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return _corrupt(path, detail)
    if code in (_SQLITE_CANTOPEN, _SQLITE_PERM, _SQLITE_READONLY, _SQLITE_IOERR):
        return StateDBError(
            path,
            f"cannot be opened for writing ({detail})",
            f"check that {path.parent} is a directory you own with free space and that "
            f"{path.name} is a writable file, then restart xintud",
        )
    return StateDBError(
        path,
        f"cannot be used ({detail})",
        "if this persists, move the file aside (with its -wal and -shm files) and restart xintud",
    )


def is_locked_error(exc: sqlite3.Error) -> bool:
    """True when `exc` means another process holds the database locked (past the busy timeout)."""
    return _primary_code(exc) in (_SQLITE_BUSY, _SQLITE_LOCKED)


def _primary_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return int(code) & 0xFF  # extended codes carry the primary code in the low byte
    message = str(exc).lower()
    by_message = (
        ("locked", _SQLITE_BUSY),
        ("not a database", _SQLITE_NOTADB),
        ("malformed", _SQLITE_CORRUPT),
        ("unable to open", _SQLITE_CANTOPEN),
        ("readonly", _SQLITE_READONLY),
        ("disk i/o", _SQLITE_IOERR),
    )
    return next((c for text, c in by_message if text in message), None)
