"""learning.refit: the user's examples move the head where they are and barely elsewhere, a new
category is learned from a few examples, and the pull toward the head in use is what keeps it."""

from __future__ import annotations

import numpy as np
import pytest

from xintud.engine.head import HeadWeights, predict
from xintud.learning.refit import refit_head, with_categories, without_category

CATEGORIES = ("food", "pets", "travel")


def three_way_head() -> HeadWeights:
    """Food along +x, pets along +y, travel along -x-y (16 features, the rest noise)."""
    weights = np.zeros((16, 3), np.float32)
    weights[0, 0], weights[1, 1] = 3.0, 3.0
    weights[0, 2] = weights[1, 2] = -3.0
    return HeadWeights(feature_names=tuple(f"f{i}" for i in range(16)),
                       mean=np.zeros(16, np.float32), scale=np.ones(16, np.float32),
                       weights=weights, bias=np.zeros(3, np.float32), categories=CATEGORIES)


def points(centre: tuple[float, ...], count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = rng.normal(0, 0.3, (count, 16)).astype(np.float32)
    rows[:, :len(centre)] += np.array(centre, np.float32)
    return rows


def answers(head: HeadWeights, rows: np.ndarray) -> list[str]:
    return [head.categories[i] for i in predict(head, rows).argmax(axis=1)]


def test_no_examples_leave_the_head_as_it_is() -> None:
    head = three_way_head()
    same = refit_head(head, np.zeros((0, 16), np.float32), [])
    assert np.array_equal(same.weights, head.weights) and same.categories == CATEGORIES


def test_corrections_move_their_corner_and_leave_the_rest() -> None:
    """Photos at (2, 0, 2) look like food to the head, but the user says they are pets: five
    corrections teach that corner, and food and travel elsewhere keep their answers."""
    head = three_way_head()
    corner = points((2.0, 0.0, 2.0), 5, seed=1)
    assert set(answers(head, corner)) == {"food"}
    refitted = refit_head(head, corner, ["pets"] * 5, strength=1.0)
    later = points((2.0, 0.0, 2.0), 40, seed=2)  # more of that corner, not the examples
    assert answers(refitted, later).count("pets") >= 36
    food = points((2.0, 0.0, -2.0), 40, seed=3)
    travel = points((-2.0, -2.0), 40, seed=4)
    assert answers(refitted, food) == ["food"] * 40
    assert answers(refitted, travel) == ["travel"] * 40


def test_the_pull_toward_the_head_in_use_is_what_keeps_it() -> None:
    head = three_way_head()
    corner = points((2.0, 0.0, 2.0), 5, seed=1)
    loose = refit_head(head, corner, ["pets"] * 5, strength=0.01)
    firm = refit_head(head, corner, ["pets"] * 5, strength=10.0)
    moved = [float(np.abs(h.weights - head.weights).sum()) for h in (loose, firm)]
    assert moved[1] < moved[0] / 3


def test_a_category_of_the_users_own_from_a_few_examples() -> None:
    head = three_way_head()
    receipts = points((0.0, 0.0, 0.0, 0.0, 0.0, 3.0), 6, seed=5)
    taught = refit_head(head, receipts, ["receipts"] * 6, strength=1.0)
    assert taught.categories == (*CATEGORIES, "receipts")
    assert answers(taught, points((0.0, 0.0, 0.0, 0.0, 0.0, 3.0), 30, seed=6)).count(
        "receipts") >= 27
    assert answers(taught, points((2.0, 0.0), 30, seed=7)) == ["food"] * 30
    forgotten = without_category(taught, "receipts")
    assert forgotten.categories == CATEGORIES and forgotten.weights.shape == (16, 3)


def test_a_new_category_starts_unlikely() -> None:
    head = with_categories(three_way_head(), ["receipts", "food"])
    assert head.categories == (*CATEGORIES, "receipts")
    assert set(answers(head, points((0.0, 0.0), 50, seed=8))) <= set(CATEGORIES)


def test_examples_and_labels_must_match() -> None:
    with pytest.raises(ValueError, match="2 feature rows but 1 labels"):
        refit_head(three_way_head(), np.zeros((2, 16), np.float32), ["food"])
