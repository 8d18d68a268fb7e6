"""A new version from the user's corrections and examples, and the guard rail that decides
whether it is taken into use.

A version is a correction memory (memory.py: chosen over a refit of the head's weights by
training/learning_curve.py) and, once the user has taught categories of their own, the three
heads refitted on those examples only, each a new column (refit.py; always from the shipped
heads, so that versions never drift). Once there are HOLD_BACK_FROM corrections to the eight
categories, one in HOLD_BACK_EVERY of them (by content hash, so always the same ones) is held
back: the new memory is built without them, the version in use is scored without them too, and
both are scored on them — the share that the first head (the version's, else the shipped one)
plus the memory's lean puts in the user's category. No refit ever sees those corrections (refits
learn only the user's own categories), so neither score has seen its answers. Worse than the
version in use: the new one is kept as a file but not taken into use. Taken: the version then
remembers every correction, the held-back ones included, since the check was of the method on
this user's photos, not of those few examples.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from xintud.core.categories import CATEGORY_IDS
from xintud.engine.features import FEATURE_NAMES, GLANCE_COLUMNS
from xintud.engine.head import head_logits
from xintud.engine.learned import LearnedHeads
from xintud.learning.memory import CorrectionMemory
from xintud.learning.refit import refit_head
from xintud.learning.versions import StoredVersion, VersionInfo

HOLD_BACK_FROM = 10
HOLD_BACK_EVERY = 5


@dataclass(frozen=True)
class Example:
    """One corrected (or taught) photo as learning sees it."""

    sha256: str
    category: str
    features: np.ndarray  # [F] the engine's TEXT_FEATURE_NAMES order (embedding first)


@dataclass(frozen=True)
class Proposal:
    """A new version, not yet written: its info, memory, heads and the photos it remembers."""

    info: VersionInfo
    memory: CorrectionMemory
    heads: LearnedHeads | None
    hashes: tuple[str, ...]


def is_held_back(sha256: str, total: int) -> bool:
    """Whether a correction is held back to check a new version on (`total`: how many
    corrections to the eight categories there are)."""
    return total >= HOLD_BACK_FROM and int(sha256[:8], 16) % HOLD_BACK_EVERY == 0


def memory_of(examples: Sequence[Example]) -> CorrectionMemory:
    """The memory of these examples."""
    if not examples:
        return CorrectionMemory(np.zeros((0, 1), np.float32), ())
    return CorrectionMemory.of(np.stack([e.features for e in examples]),
                               [e.category for e in examples])


def refit_heads(shipped: LearnedHeads, examples: Sequence[Example]) -> LearnedHeads | None:
    """The shipped heads with a column for each category of the user's own, fitted on its
    examples (None when there is none); each head on its own features."""
    own = [e for e in examples if e.category not in CATEGORY_IDS]
    if not own:
        return None
    full = np.stack([e.features for e in own])
    first = full[:, :len(FEATURE_NAMES)]
    labels = [e.category for e in own]
    return LearnedHeads(glance=refit_head(shipped.glance, first[:, GLANCE_COLUMNS], labels),
                        head=refit_head(shipped.head, first, labels),
                        text=refit_head(shipped.text, full, labels))


def score(memory: CorrectionMemory | None, heads: LearnedHeads, examples: Sequence[Example]
          ) -> float:
    """Share of `examples` that the first head, leaned by `memory`, puts in the user's
    category."""
    if not examples:
        return 1.0
    features = np.stack([e.features for e in examples])
    logits = head_logits(heads.head, features[:, :len(FEATURE_NAMES)])
    categories = heads.head.categories
    if memory is not None and memory.categories:
        logits = logits + memory.logit_bonus(features, categories)
    answers = [categories[int(i)] for i in np.argmax(logits, axis=1)]
    return float(np.mean([a == e.category for a, e in zip(answers, examples, strict=True)]))


def without(stored: StoredVersion | None, hashes: set[str]) -> CorrectionMemory | None:
    """The current version's memory with some photos left out (None: the shipped models)."""
    if stored is None:
        return None
    keep = [i for i, sha in enumerate(stored.hashes) if sha not in hashes]
    memory = stored.memory
    return CorrectionMemory(memory.embeddings[keep], tuple(memory.categories[i] for i in keep),
                            memory.near, memory.bonus)


def propose(examples: Sequence[Example], current: StoredVersion | None, name: str,
            shipped: LearnedHeads) -> Proposal:
    """The next version (named `name`) from every example, checked against `current`."""
    corrections = [e for e in examples if e.category in CATEGORY_IDS]
    held = [e for e in corrections if is_held_back(e.sha256, len(corrections))]
    held_hashes = {e.sha256 for e in held}
    heads = refit_heads(shipped, examples)
    per_category = dict(sorted(Counter(e.category for e in examples).items()))
    if not held:
        taken, before, after = True, None, None
        note = (f"remembers {_corrections(len(examples))}; fewer than {HOLD_BACK_FROM} of "
                "them to the eight categories, so none was held back to check it on: taken "
                "into use")
    else:
        in_use = current.heads if current is not None and current.heads else shipped
        before = score(without(current, held_hashes), in_use, held)
        taught = [e for e in examples if e.sha256 not in held_hashes]
        after = score(memory_of(taught), heads or shipped, held)
        taken = after >= before
        figures = (f"on {len(held)} held-back corrections it gets {after:.0%} right, the "
                   f"version in use {before:.0%}")
        note = (f"{figures}: taken into use" if taken else
                f"{figures}: NOT taken into use (the version in use stays; `xintuctl model "
                f"rollback {name}` would use it all the same)")
    own = sorted({e.category for e in examples} - set(CATEGORY_IDS))
    if own:
        note += f"; categories of your own: {', '.join(own)}"
    info = VersionInfo(version=name, made_at=time.time(), examples=len(examples),
                       held_back=len(held), score_before=before, score_after=after,
                       taken=taken, note=note, per_category=per_category)
    return Proposal(info, memory_of(examples), heads, tuple(e.sha256 for e in examples))


def _corrections(count: int) -> str:
    return {0: "no correction (the ones it had were undone)", 1: "1 correction"}.get(
        count, f"{count} corrections")
