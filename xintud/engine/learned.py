"""What the user taught, as the engine applies it: a lean on the heads' logits.

The engine does not learn (learning/ does, and the daemon hands its result in); it only needs
something that, for a photo's features, says how far to lean toward each category and why.
`learning.memory.CorrectionMemory` is one. Kept as a protocol here so that the engine never
imports learning/, and the shipped models answer alone when nothing was taught.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from xintud.engine.head import HeadWeights


class Lean(Protocol):
    """Logit adjustments from the user's corrections, and the reasons for one photo."""

    def logit_bonus(self, features: np.ndarray, categories: Sequence[str]) -> np.ndarray:
        """[N, len(categories)] to add to the logits of feature rows [N, F] (embedding first)."""
        ...

    def reasons(self, features: np.ndarray) -> list[str]:
        """Why one photo (feature row [F]) leans, for explain; empty when it does not."""
        ...


@dataclass(frozen=True)
class LearnedHeads:
    """The three heads refitted with the user's own categories as new columns."""

    glance: HeadWeights
    head: HeadWeights
    text: HeadWeights

    @property
    def categories(self) -> tuple[str, ...]:
        """Every category the heads answer with, the user's own included."""
        return self.head.categories


@dataclass(frozen=True)
class Learned:
    """A version of what the user taught: its name (e.g. "v3"), its lean, and the heads with
    the user's own categories (None: the shipped heads, when there are none)."""

    version: str
    lean: Lean
    heads: LearnedHeads | None = None


def model_name(shipped: str, learned: Learned | None) -> str:
    """The model as results name it: the shipped version, plus the user's version if any."""
    return shipped if learned is None else f"{shipped}+{learned.version}"
