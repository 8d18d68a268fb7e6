"""How far one ONNX detector's decisions follow another's: the int8 acceptance rule.

Only what the daemon decides on counts: person, cat, dog and food detections at DECISION_SCORE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from training.detector.model import INTEREST_IDS, Detection

DECISION_SCORE = 0.5
SURE_SCORE = 0.6  # a detection this sure must not vanish ...
KEPT_SCORE = 0.4  # ... i.e. the other model must still give it at least this
MATCH_IOU = 0.5
INT8_MIN_LABELSET_AGREEMENT = 0.85
INT8_MIN_MEAN_IOU = 0.9


@dataclass
class Agreement:
    """How far a candidate model's decisions follow a reference model's on the same images."""

    images: int
    reference_detections: int
    labelset_agreement: float
    matched: int
    mean_iou: float
    p10_iou: float
    mean_abs_score_diff: float
    max_abs_score_diff: float
    sure_detections_lost: int

    def holds_up(self) -> bool:
        """True when the candidate keeps the reference's decisions (the int8 acceptance rule)."""
        return (
            self.sure_detections_lost == 0
            and self.labelset_agreement >= INT8_MIN_LABELSET_AGREEMENT
            and self.mean_iou >= INT8_MIN_MEAN_IOU
        )


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (ymin, xmin, ymax, xmax) boxes."""
    height = min(a[2], b[2]) - max(a[0], b[0])
    width = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, height) * max(0.0, width)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def best_match(detection: Detection, candidates: Sequence[Detection]) -> tuple[float, float]:
    """(IoU, score) of the same-class candidate overlapping detection most; (0, 0) if none."""
    pairs = [(iou(detection.box, c.box), c.score) for c in candidates if c.label == detection.label]
    return max(pairs) if pairs else (0.0, 0.0)


def interesting(detections: Sequence[Detection], min_score: float) -> list[Detection]:
    """Person, cat, dog and food detections at or above min_score."""
    return [d for d in detections if d.label in INTEREST_IDS and d.score >= min_score]


def count_lost(sure: Sequence[Detection], other: Sequence[Detection]) -> int:
    """Sure detections that the other model does not keep (same label, IoU, KEPT_SCORE)."""
    lost = 0
    for detection in sure:
        overlap, score = best_match(detection, other)
        if not (overlap >= MATCH_IOU and score >= KEPT_SCORE):
            lost += 1
    return lost


def compare_models(reference: Sequence[list[Detection]], candidate: Sequence[list[Detection]]
                   ) -> Agreement:
    """Agreement of candidate with reference on person/cat/dog/food at DECISION_SCORE."""
    same_labels, ious, score_diffs, lost, total = 0, [], [], 0, 0
    for ref, cand in zip(reference, candidate, strict=True):
        ref_dec, cand_dec = interesting(ref, DECISION_SCORE), interesting(cand, DECISION_SCORE)
        total += len(ref_dec)
        same_labels += {d.label for d in ref_dec} == {d.label for d in cand_dec}
        for detection in ref_dec:
            overlap, score = best_match(detection, interesting(cand, 0.0))
            if overlap >= MATCH_IOU:
                ious.append(overlap)
                score_diffs.append(abs(score - detection.score))
        lost += count_lost(interesting(ref, SURE_SCORE), interesting(cand, 0.0))
        lost += count_lost(interesting(cand, SURE_SCORE), interesting(ref, 0.0))
    images = max(len(reference), 1)
    return Agreement(
        images=len(reference),
        reference_detections=total,
        labelset_agreement=round(same_labels / images, 4),
        matched=len(ious),
        mean_iou=round(float(np.mean(ious)), 4) if ious else 1.0,
        p10_iou=round(float(np.percentile(ious, 10)), 4) if ious else 1.0,
        mean_abs_score_diff=round(float(np.mean(score_diffs)), 4) if score_diffs else 0.0,
        max_abs_score_diff=round(float(np.max(score_diffs)), 4) if score_diffs else 0.0,
        sure_detections_lost=lost,
    )
