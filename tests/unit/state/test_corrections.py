"""state.corrections: one correction per photo, the latest wins, and undo forgets it."""

from __future__ import annotations

from pathlib import Path

import pytest

from xintud.state.corrections import Correction, Corrections
from xintud.state.db import open_state_db


def correction(sha: str, category: str, origin: str = "moved") -> Correction:
    return Correction(sha256=sha, category=category, was="food", origin=origin,
                      path=Path(f"/lib/{category}/{sha}.jpg"), features=b"\0" * 8,
                      shipped='{"food": 0.9, "pets": 0.1}')


def test_corrections_are_kept_by_content_and_the_latest_wins(tmp_path: Path) -> None:
    times = iter([1.0, 2.0, 3.0, 4.0])
    store = Corrections(open_state_db(tmp_path / "state.db"), clock=lambda: next(times))
    assert store.count() == 0 and store.latest_at() is None
    store.put(correction("a" * 64, "pets"))
    store.put(correction("b" * 64, "travel", "command"))
    store.put(correction("a" * 64, "social"))
    assert [(c.sha256[0], c.category, c.made_at) for c in store.all()] == [
        ("b", "travel", 2.0), ("a", "social", 3.0)]
    store.put(correction("d" * 64, "receipts", "taught"))
    assert store.placed_by_hand() == {"a" * 64, "b" * 64}, "an example is not placed by hand"
    assert store.remove_category("receipts") == 1
    assert store.latest_at() == 3.0, "the removed example was the latest"
    got = store.get("b" * 64)
    assert got is not None and got.features == b"\0" * 8 and got.origin == "command"
    assert store.remove("a" * 64) and not store.remove("a" * 64)
    assert store.count() == 1


def test_an_unknown_origin_is_refused(tmp_path: Path) -> None:
    store = Corrections(open_state_db(tmp_path / "state.db"))
    with pytest.raises(ValueError, match="unknown correction origin 'guessed'"):
        store.put(correction("c" * 64, "pets", "guessed"))
