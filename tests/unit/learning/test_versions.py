"""learning.versions and learning.propose: every fit a file, the one in use named, rollback,
and the guard rail on held-back corrections."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.learning.test_memory import rows_near, unit
from xintud.core.categories import CATEGORY_IDS
from xintud.engine.features import (
    EMBEDDING_SIZE,
    FEATURE_NAMES,
    GLANCE_FEATURE_NAMES,
    TEXT_FEATURE_NAMES,
)
from xintud.engine.head import HeadWeights
from xintud.engine.learned import LearnedHeads
from xintud.learning.memory import CorrectionMemory
from xintud.learning.propose import HOLD_BACK_FROM, Example, is_held_back, propose, score
from xintud.learning.versions import SHIPPED as SHIPPED_NAME
from xintud.learning.versions import ModelVersions, VersionError


def shipped_heads() -> LearnedHeads:
    """Three heads over the real feature layouts that call everything food."""
    def head(names: tuple[str, ...]) -> HeadWeights:
        bias = np.array([3.0 if c == "food" else 0.0 for c in CATEGORY_IDS], np.float32)
        return HeadWeights(names, np.zeros(len(names), np.float32),
                           np.ones(len(names), np.float32),
                           np.zeros((len(names), len(CATEGORY_IDS)), np.float32), bias,
                           CATEGORY_IDS)
    return LearnedHeads(head(GLANCE_FEATURE_NAMES), head(FEATURE_NAMES),
                        head(TEXT_FEATURE_NAMES))


SHIPPED = shipped_heads()


def examples(direction: np.ndarray, category: str, count: int, seed: int,
             prefix: str = "") -> list[Example]:
    rows = rows_near(direction, 0.97, count, seed)
    full = np.zeros((count, len(TEXT_FEATURE_NAMES)), np.float32)
    full[:, :EMBEDDING_SIZE] = rows[:, :EMBEDDING_SIZE]
    return [Example(sha256=f"{prefix}{seed:02x}{i:06x}".ljust(64, "0")[:64], category=category,
                    features=row) for i, row in enumerate(full)]


def test_a_version_is_written_read_back_used_and_rolled_back(tmp_path) -> None:
    versions = ModelVersions(tmp_path / "learned")
    assert versions.current_name() == SHIPPED_NAME and versions.current(SHIPPED) is None
    with pytest.raises(VersionError, match="nothing to roll back"):
        versions.previous()
    first = propose(examples(unit(1), "pets", 3, seed=2), None, versions.next_name(), SHIPPED)
    assert first.info.version == "v0001" and first.info.taken and first.heads is None
    versions.save(first.info, first.memory, first.heads, first.hashes)
    second = propose(examples(unit(1), "pets", 4, seed=3), versions.current(SHIPPED),
                     versions.next_name(), SHIPPED)
    versions.save(second.info, second.memory, second.heads, second.hashes)
    assert versions.names() == ["v0001", "v0002"] and versions.current_name() == "v0002"
    stored = versions.current(SHIPPED)
    assert stored is not None and stored.info.examples == 4
    assert stored.memory.categories == ("pets",) * 4
    assert np.allclose(stored.memory.embeddings, second.memory.embeddings)
    assert stored.learned().version == "v0002"
    assert versions.previous() == "v0001"
    versions.use("v0001")
    assert versions.previous() == SHIPPED_NAME
    with pytest.raises(VersionError, match="no model version 'v0009'"):
        versions.use("v0009")
    (tmp_path / "learned" / "v0001.npz").write_bytes(b"not a model")
    with pytest.raises(VersionError, match="cannot be read"):
        versions.current(SHIPPED)


def test_held_back_corrections_check_a_new_version_against_the_one_in_use() -> None:
    cats = examples(unit(4), "pets", 30, seed=5)
    assert sum(is_held_back(e.sha256, len(cats)) for e in cats) > 0
    assert not any(is_held_back(e.sha256, HOLD_BACK_FROM - 1) for e in cats)
    good = propose(cats, None, "v0001", SHIPPED)
    assert good.info.held_back > 0 and good.info.taken
    assert good.info.score_before == 0.0  # the shipped head calls them food
    assert good.info.score_after == 1.0
    assert len(good.hashes) == 30, "the version taken remembers the held-back ones too"


def test_a_guard_rail_refuses_a_fit_that_scores_worse() -> None:
    direction = unit(6)
    right = examples(direction, "pets", 20, seed=7)
    held = [e for e in right if is_held_back(e.sha256, 40)]
    assert held
    # The new corrections say the look-alikes are travel, but the held-back ones are pets:
    wrong = [Example(e.sha256, "travel", e.features) for e in right
             if e not in held]
    in_use = _stored(propose(right, None, "v0001", SHIPPED))
    fit = propose([*held, *wrong, *examples(unit(8), "food", 20, seed=9, prefix="f")],
                  in_use, "v0002", SHIPPED)
    assert fit.info.score_after < fit.info.score_before
    assert not fit.info.taken and "NOT taken into use" in fit.info.note


def test_score_counts_what_the_shipped_answer_plus_the_lean_gets_right() -> None:
    cats = examples(unit(10), "pets", 5, seed=11)
    assert score(None, SHIPPED, cats) == 0.0
    memory = CorrectionMemory.of(np.stack([cats[0].features]), ["pets"])
    assert score(memory, SHIPPED, cats) == 1.0


def test_a_category_of_ones_own_is_a_new_column_stored_with_the_version(tmp_path) -> None:
    receipts = examples(unit(12), "receipts", 6, seed=13)
    proposal = propose([*receipts, *examples(unit(14), "pets", 2, seed=15)], None, "v0001",
                       SHIPPED)
    assert proposal.heads is not None
    assert proposal.heads.categories == (*CATEGORY_IDS, "receipts")
    assert "categories of your own: receipts" in proposal.info.note
    versions = ModelVersions(tmp_path)
    versions.save(proposal.info, proposal.memory, proposal.heads, proposal.hashes)
    stored = versions.current(SHIPPED)
    assert stored is not None and stored.categories == ("receipts",)
    assert stored.heads is not None
    assert np.allclose(stored.heads.text.weights, proposal.heads.text.weights)
    look_alike = examples(unit(12), "receipts", 3, seed=16)
    assert score(stored.memory, stored.heads, look_alike) == 1.0
    assert score(None, SHIPPED, look_alike) == 0.0


def _stored(proposal):  # noqa: ANN001, ANN202 - a Proposal read back as a StoredVersion
    from xintud.learning.versions import StoredVersion

    return StoredVersion(proposal.info, proposal.memory, proposal.hashes, proposal.heads)
