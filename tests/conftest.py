"""Fixtures shared across test folders: the state database, the text model, runtime dirs."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
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


REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def text_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """text.onnx as ``python -m training.text`` writes it from the installed rapidocr package
    (not in models/ yet), with its report (drawn pages only) beside it as text.json.

    Skips when rapidocr-onnxruntime is not installed: it is the only source of the file.
    """
    if importlib.util.find_spec("rapidocr_onnxruntime") is None:
        pytest.skip("rapidocr-onnxruntime is not installed (pip install -e '.[train-text]'): "
                    "it ships the text detector these tests need")
    out = tmp_path_factory.mktemp("text-model")
    proc = subprocess.run(
        [sys.executable, "-m", "training.text", "--out", str(out), "--no-photos",
         "--report", str(out / "text.json")],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, f"python -m training.text failed:\n{proc.stderr[-3000:]}"
    return out / "text.onnx"


@pytest.fixture(autouse=True)
def remove_daemon_runtime_dirs() -> Iterator[None]:
    """Daemon tests keep their socket dir in a short /tmp path (AF_UNIX length limit); remove
    the ones a test made once it is over."""
    pattern = f"{runtime_prefix()}*"  # this process's only: a suite beside it keeps its own
    before = set(Path("/tmp").glob(pattern))
    yield
    for leftover in set(Path("/tmp").glob(pattern)) - before:
        shutil.rmtree(leftover, ignore_errors=True)
