"""Fixtures the library's tests share."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from xintud.state.db import open_state_db
from xintud.state.journal import Journal


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    """A journal on a real state database of its own (test_actor's shares its connection)."""
    connection: sqlite3.Connection = open_state_db(tmp_path / "state" / "state.db")
    yield Journal(connection)
    connection.close()
