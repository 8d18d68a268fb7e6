"""The user's corrections remembered as examples: a photo that looks like one the user corrected
leans toward the category they gave it.

The local half of learning from corrections (refit.py is the global half). Photos from one
source — one phone, one chat, one scanner — look alike, and a correction should carry to
their look-alikes without moving the answers for anything else; a refit of the head's
weights, however firmly pulled toward the head in use, moves every photo a little. Each
remembered example adds to its category's logit in proportion to how far the photo's
embedding cosine to it rises above NEAR (0 below it), so nothing that does not look like a
correction is touched at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from xintud.engine.features import EMBEDDING_SIZE

# Cosine of backbone embeddings above which a photo counts as looking like an example, and the
# logit bonus at identity. NEAR was chosen by training/learning_curve.py on each half of the
# sources (0.75 both times, of 0.75 and 0.85) and reported on the other half: with 10
# corrections the weak sources gain 31.7 points and no category elsewhere loses any.
NEAR = 0.75
BONUS = 8.0


@dataclass(frozen=True)
class CorrectionMemory:
    """Unit embeddings [N, 1280] of the corrected photos and the category each was given."""

    embeddings: np.ndarray
    categories: tuple[str, ...]
    near: float = NEAR
    bonus: float = BONUS

    @classmethod
    def of(cls, features: np.ndarray, categories: Sequence[str], near: float = NEAR,
           bonus: float = BONUS) -> CorrectionMemory:
        """A memory of these examples (feature rows in the head's order: embedding first)."""
        if len(features) != len(categories):
            raise ValueError(f"{len(features)} feature rows but {len(categories)} categories")
        return cls(_units(features[:, :EMBEDDING_SIZE]), tuple(categories), near, bonus)

    def logit_bonus(self, features: np.ndarray, categories: Sequence[str]) -> np.ndarray:
        """[N, len(categories)]: what to add to the head's logits for these photos."""
        bonus = np.zeros((len(features), len(categories)), dtype=np.float32)
        if not self.categories:
            return bonus
        cosine = _units(features[:, :EMBEDDING_SIZE]) @ self.embeddings.T
        lean = np.clip((cosine - self.near) / (1.0 - self.near), 0.0, None) * self.bonus
        given = np.array(self.categories)
        for column, name in enumerate(categories):
            examples = np.flatnonzero(given == name)
            if len(examples):
                # the nearest example of a category speaks for it, not their sum
                bonus[:, column] = lean[:, examples].max(axis=1)
        return bonus

    def reasons(self, features: np.ndarray) -> list[str]:
        """For one photo's feature row: which of the user's categories it leans to, and why."""
        if not self.categories:
            return []
        cosine = (_units(features[None, :EMBEDDING_SIZE]) @ self.embeddings.T)[0]
        lines = []
        for name in dict.fromkeys(self.categories):
            near = [float(c) for c, given in zip(cosine, self.categories, strict=True)
                    if given == name and c > self.near]
            if near:
                photos = "a photo" if len(near) == 1 else f"{len(near)} photos"
                lines.append(f"looks like {photos} you filed as {name} "
                             f"(closest {max(near):.2f}, lean from {self.near:.2f})")
        return lines


def _units(rows: np.ndarray) -> np.ndarray:
    rows = rows.astype(np.float32)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)
