"""learning.memory: a photo that looks like a corrected one leans toward the category the user
gave it; one that does not is not touched at all."""

from __future__ import annotations

import numpy as np
import pytest

from xintud.engine.features import EMBEDDING_SIZE
from xintud.learning.memory import CorrectionMemory

CATEGORIES = ("food", "pets", "travel")


def rows_near(direction: np.ndarray, cosine: float, count: int, seed: int) -> np.ndarray:
    """Feature rows whose embeddings are at `cosine` to `direction` (plus 10 other features)."""
    rng = np.random.default_rng(seed)
    rows = np.zeros((count, EMBEDDING_SIZE + 10), np.float32)
    for i in range(count):
        other = rng.standard_normal(EMBEDDING_SIZE)
        other -= (other @ direction) * direction
        other /= np.linalg.norm(other)
        rows[i, :EMBEDDING_SIZE] = cosine * direction + np.sqrt(1 - cosine**2) * other
        rows[i, EMBEDDING_SIZE:] = rng.normal(0, 5, 10)  # the signals play no part
    return rows


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(EMBEDDING_SIZE)
    return vector / np.linalg.norm(vector)


def test_look_alikes_lean_toward_the_correction_and_nothing_else_moves() -> None:
    example = unit(1)
    memory = CorrectionMemory.of(rows_near(example, 1.0, 1, seed=2), ["pets"], near=0.8,
                                 bonus=8.0)
    close = memory.logit_bonus(rows_near(example, 0.95, 5, seed=3), CATEGORIES)
    far = memory.logit_bonus(rows_near(example, 0.5, 5, seed=4), CATEGORIES)
    assert np.allclose(close[:, 1], 8.0 * 0.75, atol=1e-3)
    assert not close[:, [0, 2]].any() and not far.any()


def test_the_nearest_example_of_a_category_speaks_for_it() -> None:
    example = unit(5)
    rows = rows_near(example, 1.0, 3, seed=6)  # three copies of one correction
    memory = CorrectionMemory.of(rows, ["food"] * 3, near=0.8, bonus=8.0)
    bonus = memory.logit_bonus(rows[:1], CATEGORIES)
    assert bonus[0, 0] == pytest.approx(8.0, abs=1e-3)  # not 24


def test_a_category_the_head_does_not_have_is_left_out_and_an_empty_memory_adds_nothing(
) -> None:
    example = unit(7)
    memory = CorrectionMemory.of(rows_near(example, 1.0, 1, seed=8), ["receipts"])
    assert not memory.logit_bonus(rows_near(example, 0.99, 2, seed=9), CATEGORIES).any()
    assert memory.logit_bonus(rows_near(example, 0.99, 2, seed=9), (*CATEGORIES, "receipts")
                              )[:, 3].min() > 0
    empty = CorrectionMemory.of(np.zeros((0, EMBEDDING_SIZE + 10), np.float32), [])
    assert not empty.logit_bonus(rows_near(example, 1.0, 2, seed=10), CATEGORIES).any()


def test_examples_and_categories_must_match() -> None:
    with pytest.raises(ValueError, match="1 feature rows but 2 categories"):
        CorrectionMemory.of(np.zeros((1, EMBEDDING_SIZE), np.float32), ["food", "pets"])


def test_reasons_name_the_category_and_how_close_the_photo_is() -> None:
    example = unit(11)
    memory = CorrectionMemory.of(rows_near(example, 1.0, 2, seed=12), ["pets", "pets"],
                                 near=0.8)
    [reason] = memory.reasons(rows_near(example, 0.9, 1, seed=13)[0])
    assert reason.startswith("looks like 2 photos you filed as pets (closest 0.9")
    assert memory.reasons(rows_near(example, 0.5, 1, seed=14)[0]) == []
