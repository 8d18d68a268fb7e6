"""Fixtures shared by the state-database tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon_tree import runtime_prefix
from xintud.state.db import StateConnection, open_state_db


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where a test's state database lives (its folder does not exist yet)."""
    return tmp_path / "state" / "state.db"


@pytest.fixture
def conn(db_path: Path) -> Iterator[StateConnection]:
    """An open state database, closed after the test."""
    connection = open_state_db(db_path)
    yield connection
    connection.close()


@pytest.fixture(autouse=True)
def remove_daemon_runtime_dirs() -> Iterator[None]:
    """Daemon tests keep their socket dir in a short /tmp path (AF_UNIX length limit); remove
    the ones a test made once it is over."""
    pattern = f"{runtime_prefix()}*"  # this process's only: a suite beside it keeps its own
    before = set(Path("/tmp").glob(pattern))
    yield
    for leftover in set(Path("/tmp").glob(pattern)) - before:
        shutil.rmtree(leftover, ignore_errors=True)
