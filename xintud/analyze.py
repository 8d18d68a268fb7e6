"""Analyze stage: decoded pictures in, facts out — backbone, detector, metadata, quality, hashes.

Pure with respect to the daemon: no files are touched and nothing is decided here, so the stage
can be tested and benchmarked on its own. One picture at a time: on a CPU the networks gain
nothing from larger batches (measured: the same ms per image at 1, 2 and 16) while their memory
grows with them, so the classifier runs pictures side by side in threads instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from xintud.decode import DecodedImage
from xintud.modelstore import Perception
from xintud.result import Detection, ImageNetGuess, MetadataCues, Quality

BACKBONE_SIZE = 224
BACKBONE_RESIZE = 256  # ImageNet evaluation: short side 256, centre crop 224
DETECTOR_SIZE = 300  # SSD-MobileNetV2 resizes to 300x300 inside; feeding that size saves work
DETECTION_MIN_SCORE = 0.3
TOP_IMAGENET = 5

SCREENSHOT_NAME = re.compile(
    r"(screenshot|screen[ _-]?shot|screen[ _-]?capture|scrnli|截屏|截图|屏幕截图|屏幕快照|"
    r"スクリーンショット|bildschirmfoto|capture d.écran|captura de pantalla)",
    re.IGNORECASE,
)
# Widths (short side) of common phone screens and the usual desktop resolutions.
PHONE_WIDTHS = frozenset({640, 720, 750, 828, 1080, 1125, 1170, 1179, 1206, 1242, 1284, 1290,
                          1320, 1440, 1536, 1620, 1668, 2048})
DESKTOP_SIZES = frozenset({(1280, 720), (1280, 800), (1366, 768), (1440, 900), (1536, 864),
                           (1600, 900), (1680, 1050), (1920, 1080), (1920, 1200), (2560, 1440),
                           (2560, 1600), (2880, 1800), (3024, 1964), (3456, 2234), (3840, 2160)})


@dataclass(frozen=True)
class FileContext:
    """What the pipeline knows about a file besides its bytes."""

    name: str
    folder_kind: str | None = None  # "camera" | "screenshots" | None (unknown)


@dataclass
class Facts:
    """Everything the decide stage needs about one picture."""

    embedding: np.ndarray  # [1280] float32
    imagenet_probs: np.ndarray  # [1000] float32, softmax of the logits
    imagenet_top: list[ImageNetGuess]
    detections: list[Detection]
    metadata: MetadataCues
    quality: Quality
    dhash: str
    notes: list[str] = field(default_factory=list)  # what was left out and why, for explain


def backbone_input(image: Image.Image) -> np.ndarray:
    """Short side to 256, centre crop 224, as uint8 HWC RGB (the graph normalises).

    Resized straight from the crop's source square (Pillow's box=): the same pixels as resizing
    the whole picture and cutting, without resizing the parts the crop throws away.
    """
    side = min(image.size) * BACKBONE_SIZE / BACKBONE_RESIZE
    left, top = (image.width - side) / 2, (image.height - side) / 2
    crop = image.resize((BACKBONE_SIZE, BACKBONE_SIZE), Image.Resampling.BILINEAR,
                        box=(left, top, left + side, top + side))
    return np.asarray(crop, dtype=np.uint8)


def full_view_input(image: Image.Image) -> np.ndarray:
    """The whole picture squashed to 224x224: people and things at the edges stay in view."""
    resized = image.resize((BACKBONE_SIZE, BACKBONE_SIZE), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8)


def detector_input(image: Image.Image) -> np.ndarray:
    """The whole picture squashed to 300x300, uint8 HWC RGB."""
    resized = image.resize((DETECTOR_SIZE, DETECTOR_SIZE), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def run_backbone(perception: Perception, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings [N,1280] and ImageNet probabilities [N,1000] for a uint8 NHWC batch."""
    embedding, logits = perception.backbone.run(["embedding", "logits"], {"image": batch})
    return embedding.astype(np.float32), softmax(logits.astype(np.float32))


def run_detector(perception: Perception, picture: np.ndarray) -> list[Detection]:
    """COCO detections above DETECTION_MIN_SCORE for one uint8 HWC picture."""
    boxes, classes, scores, count = perception.detector.run(
        ["detection_boxes:0", "detection_classes:0", "detection_scores:0", "num_detections:0"],
        {"image_tensor:0": picture[None]},
    )
    found = []
    for i in range(int(count[0])):
        score = float(scores[0, i])
        if score < DETECTION_MIN_SCORE:
            continue
        ymin, xmin, ymax, xmax = (round(float(v), 4) for v in boxes[0, i])
        class_id = int(classes[0, i])
        label = perception.labels.coco_names.get(class_id, f"class{class_id}")
        found.append(Detection(label=label, score=round(score, 4), box=(xmin, ymin, xmax, ymax)))
    return found


def top_imagenet(perception: Perception, probs: np.ndarray) -> list[ImageNetGuess]:
    """The TOP_IMAGENET most likely ImageNet classes, best first."""
    order = np.argsort(-probs)[:TOP_IMAGENET]
    return [ImageNetGuess(wnid=perception.labels.imagenet_wnids[i],
                          label=perception.labels.imagenet_names[i],
                          p=round(float(probs[i]), 4)) for i in order]


def grey(image: Image.Image, size: int = 256) -> np.ndarray:
    """A small float greyscale copy (0..1) for quality and layout measures."""
    small = image.convert("L")
    if min(small.size) > size:
        scale = size / min(small.size)
        new_size = (max(1, round(small.width * scale)), max(1, round(small.height * scale)))
        small = small.resize(new_size, Image.Resampling.BILINEAR)
    return np.asarray(small, dtype=np.float32) / 255.0


def measure_quality(luma: np.ndarray) -> Quality:
    """Sharpness (Laplacian variance), brightness and clipping, with plain-language hints."""
    if min(luma.shape) >= 3:
        lap = (luma[1:-1, :-2] + luma[1:-1, 2:] + luma[:-2, 1:-1] + luma[2:, 1:-1]
               - 4 * luma[1:-1, 1:-1])
        sharpness = float(lap.var() * 1000)
    else:
        sharpness = 0.0
    brightness = float(luma.mean())
    dark = float((luma < 0.03).mean())
    bright = float((luma > 0.97).mean())
    suggestions = []
    if sharpness < 0.5:
        suggestions.append("looks blurry")
    if brightness < 0.15 or dark > 0.5:
        suggestions.append("looks underexposed")
    if brightness > 0.9 or bright > 0.5:
        suggestions.append("looks overexposed")
    return Quality(sharpness=round(sharpness, 3), brightness=round(brightness, 4),
                   dark_clip=round(dark, 4), bright_clip=round(bright, 4), suggestions=suggestions)


def border_uniformity(view: np.ndarray) -> float:
    """How plain the picture's border is: 1 for one flat colour, near 0 for busy scenes.

    ID photos and studio portraits sit on a plain background; the border is where it shows.
    `view` is the whole picture squashed (full_view_input), brought down to 64x64 here.
    """
    small = Image.fromarray(view).resize((64, 64), Image.Resampling.BILINEAR)
    rgb = np.asarray(small, dtype=np.float32) / 255.0
    border = np.concatenate([rgb[:4].reshape(-1, 3), rgb[-4:].reshape(-1, 3),
                             rgb[:, :4].reshape(-1, 3), rgb[:, -4:].reshape(-1, 3)])
    spread = float(np.abs(border - np.median(border, axis=0)).mean())
    return round(max(0.0, 1.0 - spread * 8.0), 4)


def difference_hash(luma: np.ndarray) -> str:
    """64-bit dHash: compares neighbouring pixels of a 9x8 thumbnail; robust to resizing."""
    thumb = Image.fromarray((luma * 255).astype(np.uint8)).resize((9, 8), Image.Resampling.BILINEAR)
    pixels = np.asarray(thumb, dtype=np.int16)
    bits = (pixels[:, 1:] > pixels[:, :-1]).flatten()
    return f"{int(''.join('1' if b else '0' for b in bits), 2):016x}"


def is_screen_size(width: int, height: int) -> bool:
    """True when the size is that of a phone or desktop screen (either orientation)."""
    short, long = sorted((width, height))
    if (long, short) in DESKTOP_SIZES:
        return True
    return short in PHONE_WIDTHS and long / short >= 1.7


def metadata_cues(decoded: DecodedImage, context: FileContext, uniformity: float) -> MetadataCues:
    """The non-pixel evidence for one file."""
    meta = decoded.meta
    camera = " ".join(part for part in (meta.camera_make, meta.camera_model) if part) or None
    return MetadataCues(
        format=meta.format,
        width=meta.width,
        height=meta.height,
        camera_exif=meta.has_camera_exif,
        camera=camera,
        software=meta.software,
        taken_at=meta.taken_at.isoformat() if meta.taken_at else None,
        screenshot_name=bool(SCREENSHOT_NAME.search(context.name)),
        screenshot_folder=context.folder_kind == "screenshots",
        screen_size=is_screen_size(meta.width, meta.height),
        border_uniformity=uniformity,
    )


def detector_skip_reason(metadata: MetadataCues) -> str | None:
    """Why the detector need not look at this picture, or None when it must.

    A screen capture is a screenshot whatever it shows — a video call full of faces included —
    so people, pets and food found on it cannot change the category. A PNG (or a file named or
    filed as a screenshot) at a phone or desktop screen size, with no camera in its EXIF, is a
    screen capture. Training applies the same rule (it runs this code), so the head has learnt
    what an unlooked-at screen looks like.
    """
    if metadata.camera_exif or not metadata.screen_size:
        return None
    if metadata.format == "PNG":
        return "a PNG at a screen size without camera EXIF is a screen capture"
    if metadata.screenshot_name or metadata.screenshot_folder:
        return "named or filed as a screenshot, at a screen size, without camera EXIF"
    return None


def analyze_one(perception: Perception, decoded: DecodedImage, context: FileContext) -> Facts:
    """Facts for one decoded picture: one backbone run (two views), one detector run.

    The backbone sees two views of the picture — the ImageNet-style centre crop (whose
    probabilities are the evidence) and the whole picture squashed — and the embedding is
    their mean: the crop has the detail, the full view what lies at the edges.
    """
    image = decoded.image
    full = full_view_input(image)
    embeddings, probs = run_backbone(perception, np.stack([backbone_input(image), full]))
    metadata = metadata_cues(decoded, context, border_uniformity(full))
    skipped = detector_skip_reason(metadata)
    detections = [] if skipped else run_detector(perception, detector_input(image))
    luma = grey(image)
    return Facts(
        embedding=(embeddings[0] + embeddings[1]) / 2,
        imagenet_probs=probs[0],
        imagenet_top=top_imagenet(perception, probs[0]),
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
