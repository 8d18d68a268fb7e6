"""How well two sets of text boxes agree: one-to-one matches by IoU, counted over many pictures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

Box = tuple[float, float, float, float]
MATCH_IOU = 0.5  # a box counts as found again when it overlaps its match by IoU >= 0.5


def iou_matrix(first: Sequence[Box], second: Sequence[Box]) -> np.ndarray:
    """IoU of every box of `first` with every box of `second`, [len(first), len(second)]."""
    a = np.asarray(first, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(second, dtype=np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def matched_ious(reference: Sequence[Box], ours: Sequence[Box], threshold: float = MATCH_IOU
                 ) -> list[float]:
    """IoUs of greedy one-to-one matches (best pair first) at or above threshold."""
    if not reference or not ours:
        return []
    iou = iou_matrix(reference, ours)
    found = []
    while True:
        i, j = np.unravel_index(int(np.argmax(iou)), iou.shape)
        if iou[i, j] < threshold:
            return found
        found.append(float(iou[i, j]))
        iou[i, :] = -1.0
        iou[:, j] = -1.0


@dataclass
class Agreement:
    """Box agreement summed over pictures: reference boxes, ours, one-to-one matches."""

    pictures: int = 0
    reference: int = 0
    ours: int = 0
    matched: int = 0
    same_count: int = 0  # pictures where both found the same number of boxes
    ious: list[float] = field(default_factory=list)

    def add(self, reference: Sequence[Box], ours: Sequence[Box]) -> None:
        """Count one picture."""
        ious = matched_ious(reference, ours)
        self.pictures += 1
        self.reference += len(reference)
        self.ours += len(ours)
        self.matched += len(ious)
        self.same_count += int(len(reference) == len(ours))
        self.ious.extend(ious)

    def figures(self) -> dict[str, float | int]:
        """The counts, recall (reference boxes found), precision (our boxes that match) and
        the mean and 5th percentile IoU of the matches."""
        return {
            "pictures": self.pictures, "reference_boxes": self.reference,
            "our_boxes": self.ours, "matched": self.matched,
            "recall": round(self.matched / self.reference, 4) if self.reference else 1.0,
            "precision": round(self.matched / self.ours, 4) if self.ours else 1.0,
            "same_count_share": round(self.same_count / self.pictures, 4)
            if self.pictures else 1.0,
            "mean_iou": round(float(np.mean(self.ious)), 4) if self.ious else None,
            "p5_iou": round(float(np.percentile(self.ious, 5)), 4) if self.ious else None,
        }
