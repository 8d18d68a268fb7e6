"""daemon.refile: which filed photos refile looks at again — those that look like a remembered
example, never one the user placed by hand, never one in the review folder or outside the
library."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from xintud.config.load import validate_config
from xintud.daemon.refile import Refiler
from xintud.duplicates.vectors import project, vector_bytes
from xintud.library.actor import Actor
from xintud.state.corrections import Correction, Corrections
from xintud.state.db import open_state_db
from xintud.state.journal import Journal
from xintud.state.prints import Prints, StoredPrint
from xintud.state.records import FileRecord, FileState, Records


def embedding(seed: int, half: int = 0) -> np.ndarray:
    """A ReLU-like embedding active on one half of the dimensions only."""
    values = np.abs(np.random.default_rng(seed).standard_normal(1280)).astype(np.float32)
    values[(1 - half) * 640:(2 - half) * 640] = 0.0
    return values


def test_refile_looks_again_only_at_look_alikes_the_user_did_not_place(tmp_path: Path) -> None:
    library = tmp_path / "Library"
    config = validate_config({"watch": [{"path": str(tmp_path / "Camera")}],
                              "library": {"root": str(library)}})
    conn = open_state_db(tmp_path / "state.db")
    records, prints, corrections = Records(conn), Prints(conn), Corrections(conn)
    taught = embedding(1)
    near = taught + 0.05 * embedding(2)  # a look-alike of the taught example
    photos = {
        "look-alike": (near, library / "Other/2026/12/a.jpg"),
        "placed-by-hand": (near, library / "Food/2026/12/b.jpg"),
        "set-aside": (near, library / "_Review/Duplicates/g/c.jpg"),
        "outside": (near, tmp_path / "elsewhere/d.jpg"),
        "unlike": (embedding(3, half=1), library / "Travel/2026/12/e.jpg"),
    }
    for name, (vector, path) in photos.items():
        sha = name.ljust(64, "0")
        records.upsert(FileRecord(sha, path, state=FileState.DONE, category="other"))
        prints.put(StoredPrint(sha, vector=vector_bytes(project(vector))))
    corrections.put(Correction("placed-by-hand".ljust(64, "0"), "food", "other", "moved",
                               photos["placed-by-hand"][1], b"", "{}"))
    unit = np.sqrt(taught) / np.linalg.norm(np.sqrt(taught))  # as a memory keeps it
    refiler = Refiler(records, corrections, prints, Actor(Journal(conn)), threading.Lock(),
                      classifier=lambda: None, config=lambda: config,  # type: ignore[arg-type]
                      anchors=lambda: unit[None])
    chosen = refiler._candidates(config, unit[None])
    assert [r.sha256.rstrip("0") for r in chosen if r.sha256] == ["look-alike"]
    assert refiler._candidates(config, np.zeros((0, 1), np.float32)) == []
