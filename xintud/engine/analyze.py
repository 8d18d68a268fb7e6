"""Analyze stage: decoded pictures in, facts out — backbone, detector, metadata, quality, hashes.

Pure with respect to the daemon: no files are touched and nothing is decided here, so the stage
can be tested and benchmarked on its own. One picture at a time: on a CPU the networks gain
nothing from larger batches (measured: the same ms per image at 1, 2 and 16) while their memory
grows with them, so the classifier runs pictures side by side in threads instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xintud.core.facts import Facts, FileContext
from xintud.engine.decode import DecodedImage
from xintud.engine.models.backbone import backbone_input, full_view_input
from xintud.engine.models.detector import detector_input
from xintud.engine.models.store import Perception
from xintud.engine.signals import (
    border_uniformity,
    detector_skip_reason,
    difference_hash,
    grey,
    measure_quality,
    metadata_cues,
)


def analyze_one(perception: Perception, decoded: DecodedImage, context: FileContext) -> Facts:
    """Facts for one decoded picture: one backbone run (two views), one detector run.

    The backbone sees two views of the picture — the ImageNet-style centre crop (whose
    probabilities are the evidence) and the whole picture squashed — and the embedding is
    their mean: the crop has the detail, the full view what lies at the edges.
    """
    image = decoded.image
    full = full_view_input(image)
    embeddings, probs = perception.backbone.run(np.stack([backbone_input(image), full]))
    metadata = metadata_cues(decoded, context, border_uniformity(full))
    skipped = detector_skip_reason(metadata)
    detections = [] if skipped else perception.detector.detect(detector_input(image))
    luma = grey(image)
    return Facts(
        embedding=(embeddings[0] + embeddings[1]) / 2,
        imagenet_probs=probs[0],
        imagenet_top=perception.backbone.top_imagenet(probs[0]),
        detections=detections,
        metadata=metadata,
        quality=measure_quality(luma),
        dhash=difference_hash(luma),
        notes=[f"detector skipped: {skipped}"] if skipped else [],
    )


def analyze_batch(
    perception: Perception, decoded: Sequence[DecodedImage], contexts: Sequence[FileContext]
) -> list[Facts]:
    """Facts for several decoded pictures, one analyze_one each, in order."""
    return [analyze_one(perception, item, context)
            for item, context in zip(decoded, contexts, strict=True)]
