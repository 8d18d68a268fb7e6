"""A new version from the user's corrections, and the guard rail that decides whether it is
taken into use.

The version is a correction memory (memory.py: chosen over a refit of the head's weights by
training/learning_curve.py). Once there are HOLD_BACK_FROM corrections, one in HOLD_BACK_EVERY
(by content hash, so always the same ones) is held back: the new memory is built without them,
the current version is scored without them too, and both are scored on them — the share the
shipped answer plus each memory's lean puts in the user's category. Worse than the current
version: the new one is kept as a file but not taken into use. Taken: the version in use then
remembers every correction, the held-back ones included, since the check was of the method on
this user's photos, not of those few examples.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from xintud.learning.memory import CorrectionMemory
from xintud.learning.versions import StoredVersion, VersionInfo

HOLD_BACK_FROM = 10
HOLD_BACK_EVERY = 5


@dataclass(frozen=True)
class Example:
    """One corrected photo as learning sees it."""

    sha256: str
    category: str
    features: np.ndarray  # [F] the engine's TEXT_FEATURE_NAMES order (embedding first)
    shipped: dict[str, float]  # what the shipped models alone said of it


@dataclass(frozen=True)
class Proposal:
    """A new version, not yet written: its info, its memory and the photos it remembers."""

    info: VersionInfo
    memory: CorrectionMemory
    hashes: tuple[str, ...]


def is_held_back(sha256: str, total: int) -> bool:
    """Whether this correction is held back to check a new version on."""
    return total >= HOLD_BACK_FROM and int(sha256[:8], 16) % HOLD_BACK_EVERY == 0


def memory_of(examples: Sequence[Example]) -> CorrectionMemory:
    """The memory of these examples."""
    if not examples:
        return CorrectionMemory(np.zeros((0, 1), np.float32), ())
    return CorrectionMemory.of(np.stack([e.features for e in examples]),
                               [e.category for e in examples])


def score(memory: CorrectionMemory | None, examples: Sequence[Example]) -> float:
    """Share of `examples` that the shipped answer, leaned by `memory`, puts in the user's
    category."""
    right = 0
    for example in examples:
        categories = tuple(example.shipped)
        logits = np.log(np.maximum(np.array([example.shipped[c] for c in categories]), 1e-6))
        if memory is not None and memory.categories:
            logits = logits + memory.logit_bonus(example.features[None], categories)[0]
        right += categories[int(np.argmax(logits))] == example.category
    return right / len(examples) if examples else 1.0


def without(stored: StoredVersion | None, hashes: set[str]) -> CorrectionMemory | None:
    """The current version's memory with some photos left out (None: the shipped models)."""
    if stored is None:
        return None
    keep = [i for i, sha in enumerate(stored.hashes) if sha not in hashes]
    memory = stored.memory
    return CorrectionMemory(memory.embeddings[keep], tuple(memory.categories[i] for i in keep),
                            memory.near, memory.bonus)


def propose(examples: Sequence[Example], current: StoredVersion | None, name: str
            ) -> Proposal:
    """The next version (named `name`) from every correction, checked against `current`."""
    held = [e for e in examples if is_held_back(e.sha256, len(examples))]
    held_hashes = {e.sha256 for e in held}
    taught = [e for e in examples if e.sha256 not in held_hashes]
    per_category = dict(sorted(Counter(e.category for e in examples).items()))
    if not held:
        taken, before, after = True, None, None
        note = (f"remembers {_corrections(len(examples))}; fewer than {HOLD_BACK_FROM}, so "
                "none was held back to check it on: taken into use")
    else:
        before = score(without(current, held_hashes), held)
        after = score(memory_of(taught), held)
        taken = after >= before
        figures = (f"on {len(held)} held-back corrections it gets {after:.0%} right, the "
                   f"version in use {before:.0%}")
        note = (f"{figures}: taken into use" if taken else
                f"{figures}: NOT taken into use (the version in use stays; `xintuctl model "
                f"rollback {name}` would use it all the same)")
    info = VersionInfo(version=name, made_at=time.time(), examples=len(examples),
                       held_back=len(held), score_before=before, score_after=after,
                       taken=taken, note=note, per_category=per_category)
    return Proposal(info, memory_of(examples), tuple(e.sha256 for e in examples))


def _corrections(count: int) -> str:
    return {0: "no correction (the ones it had were undone)", 1: "1 correction"}.get(
        count, f"{count} corrections")
