"""Analyze stage: decoded pictures in, facts out — backbone, detector, faces, writing, metadata,
quality, hashes.

Pure with respect to the daemon: no files are touched and nothing is decided here, so the stage
can be tested and benchmarked on its own. One picture at a time: on a CPU the networks gain
nothing from larger batches (measured: the same ms per image at 1, 2 and 16) while their memory
grows with them, so the classifier runs pictures side by side in threads instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xintud.core.facts import Face, Facts, FileContext, HeadBackground, TextLayout
from xintud.engine.decode import DecodedImage
from xintud.engine.features import box_area
from xintud.engine.gates import detector_skip_reason, faces_skip_reason
from xintud.engine.hashes import (
    difference_hash,
    hash_hex,
    layout_thumbnail,
    perceptual_hash,
    screen_thumbnail,
)
from xintud.engine.models.backbone import backbone_input, full_view_input
from xintud.engine.models.detector import detector_input
from xintud.engine.models.store import Perception
from xintud.engine.models.text import summarise
from xintud.engine.quality import measure_quality, with_face_sharpness
from xintud.engine.signals import (
    border_uniformity,
    grey,
    head_background,
    metadata_cues,
)


def look_for_faces(perception: Perception, decoded: DecodedImage
                   ) -> tuple[list[Face], HeadBackground | None]:
    """The faces in a picture and the background around the largest one's head."""
    pixels = np.asarray(decoded.image)  # decode.py's pictures are RGB already
    faces = perception.faces.detect(pixels)
    largest = max(faces, key=lambda f: box_area(f.box), default=None)
    return faces, head_background(pixels, largest) if largest else None


def read_text(perception: Perception, decoded: DecodedImage) -> TextLayout:
    """How the writing in a picture is laid out (the text detector's boxes, summarised)."""
    return summarise(perception.text.detect(decoded.image))


def glance(perception: Perception, decoded: DecodedImage, context: FileContext) -> Facts:
    """The facts every picture gets: one backbone run (two views), metadata, quality, dHash.

    The backbone sees two views of the picture — the ImageNet-style centre crop (whose
    probabilities are the evidence) and the whole picture squashed — and the embedding is
    their mean: the crop has the detail, the full view what lies at the edges.
    """
    image = decoded.image
    full = full_view_input(image)
    embeddings, probs = perception.backbone.run(np.stack([backbone_input(image), full]))
    luma = grey(image)
    layout, content_share = layout_thumbnail(luma)
    metadata = metadata_cues(decoded, context, border_uniformity(full))
    return Facts(
        embedding=(embeddings[0] + embeddings[1]) / 2,
        imagenet_probs=probs[0],
        imagenet_top=perception.backbone.top_imagenet(probs[0]),
        detections=[],
        metadata=metadata,
        quality=measure_quality(luma),
        dhash=difference_hash(luma),
        phash=hash_hex(perceptual_hash(layout)),
        layout=layout,
        # a camera's photo is screen-like only if it shows a screen: not worth 0.5 ms each
        screen=None if metadata.camera_exif else screen_thumbnail(luma),
        content_share=round(content_share, 4),
    )


def look_closer(perception: Perception, decoded: DecodedImage, facts: Facts) -> None:
    """Add what the detector and the face detector see, where their gates let them
    (engine.gates), to a picture's glance facts; the notes say what was left out and why."""
    skipped = detector_skip_reason(facts.metadata)
    if skipped:
        facts.notes.append(f"detector skipped: {skipped}")
    else:
        facts.detections = perception.detector.detect(detector_input(decoded.image))
    no_faces = faces_skip_reason(facts.detections, skipped is not None)
    if no_faces:
        facts.notes.append(f"faces not looked for: {no_faces}")
    else:
        facts.faces, facts.background = look_for_faces(perception, decoded)
        facts.quality = with_face_sharpness(facts.quality, decoded.image, facts.faces)


def analyze_one(perception: Perception, decoded: DecodedImage, context: FileContext) -> Facts:
    """Every fact but the writing: the glance and the closer look, as training draws them.
    (The classifier looks closer only where the glance is not enough; see classify.py.)"""
    facts = glance(perception, decoded, context)
    look_closer(perception, decoded, facts)
    return facts


def analyze_batch(
    perception: Perception, decoded: Sequence[DecodedImage], contexts: Sequence[FileContext]
) -> list[Facts]:
    """Facts for several decoded pictures, one analyze_one each, in order."""
    return [analyze_one(perception, item, context)
            for item, context in zip(decoded, contexts, strict=True)]
