"""The exported graph checked against PyTorch: ONNX Runtime must give the same numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.backbone.convert import INPUT_NAME, OUTPUT_NAMES, ImageBackbone, torch_outputs
from training.common import drawn_squares, noise_squares, ort_session
from training.efficientnet_lite import DEFAULT_IMAGE_SIZE

LOGITS_TOLERANCE = 1e-3
EMBEDDING_TOLERANCE = 1e-3


@dataclass(frozen=True)
class ParityResult:
    """Largest |ONNX − PyTorch| for one batch of test images."""

    source: str
    batch: int
    max_abs_logits: float
    max_abs_embedding: float
    top1_equal: bool


def check_parity(
    backbone: ImageBackbone, onnx_path: Path, batches: Sequence[int] = (1, 4)
) -> list[ParityResult]:
    """Compare ONNX Runtime with PyTorch on random and drawn images at each batch size."""
    session = ort_session(onnx_path)
    results = []
    for source, make in (("random", noise_squares), ("drawn", drawn_squares)):
        for batch in batches:
            images = make(batch, seed=batch, size=DEFAULT_IMAGE_SIZE)
            ref_emb, ref_log = torch_outputs(backbone, images)
            emb, log = session.run(list(OUTPUT_NAMES), {INPUT_NAME: images})
            results.append(
                ParityResult(
                    source=source,
                    batch=batch,
                    max_abs_logits=float(np.abs(log - ref_log).max()),
                    max_abs_embedding=float(np.abs(emb - ref_emb).max()),
                    top1_equal=bool((log.argmax(1) == ref_log.argmax(1)).all()),
                )
            )
    return results


def parity_failures(results: Sequence[ParityResult]) -> list[ParityResult]:
    """Results over the logits or embedding tolerance."""
    return [
        r
        for r in results
        if r.max_abs_logits > LOGITS_TOLERANCE or r.max_abs_embedding > EMBEDDING_TOLERANCE
    ]
