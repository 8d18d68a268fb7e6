"""What is known about a photo: the facts the engine draws and the result contract it returns.

`Analysis` / `AnalysisFailure` are the shapes `xintud classify --json` prints and the daemon
stores, one per file, enough for `xintuctl explain` to say "why here?"; they are pydantic
models so that a stored result can be read back and checked. `Facts` is the engine's working
form of the same evidence (with the raw arrays), which the decide stage and training read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, Field

from xintud.core.text import json_text


class ImageNetGuess(BaseModel):
    """One of the backbone's top ImageNet-1k classes."""

    wnid: str
    label: str
    p: float


class Detection(BaseModel):
    """One COCO object found by the detector; box is (x0, y0, x1, y1) as fractions of the image."""

    label: str
    score: float
    box: tuple[float, float, float, float]


class Face(BaseModel):
    """One face found by the face detector (MTCNN), in fractions of the image.

    box is (x0, y0, x1, y1); landmarks are five (x, y) points in MTCNN's order: left eye, right
    eye, nose, left and right mouth corner (left and right as seen in the picture).
    """

    score: float
    box: tuple[float, float, float, float]
    landmarks: tuple[tuple[float, float], ...]


class HeadBackground(BaseModel):
    """What lies around the largest face's head: plain and white/blue/red/grey for ID photos.

    Measured on strips beside and above the head (outside the hair), in 0..1 RGB terms.
    """

    uniformity: float = Field(description="share of the pixels around the head close to their "
                                          "median colour: 1 for one flat colour")
    brightness: float = Field(description="the darkest channel of the median colour, 0..1")
    saturation: float = Field(description="(max - min) / max of the median colour, 0..1")
    blue: float = Field(description="blue minus the larger of red and green, -1..1")
    red: float = Field(description="red minus the larger of green and blue, -1..1")


class TextLayout(BaseModel):
    """How the writing in a picture is laid out (PP-OCR text detector), for the head.

    area: share of the picture covered by text boxes (their union). lines: boxes grouped into
    rows. left_aligned: share of the lines whose left edge sits on the most common left edge
    (0 below two lines). height_spread: standard deviation / median of line heights (0 below
    two lines). top/middle/bottom: shares of the text area in each third of the picture's
    height (all 0 without text).
    """

    boxes: int
    lines: int
    area: float
    left_aligned: float
    height_spread: float
    top: float
    middle: float
    bottom: float


class MetadataCues(BaseModel):
    """What the file and its place say, independent of the pixels."""

    format: str
    width: int
    height: int
    camera_exif: bool = Field(description="EXIF names a camera make or model")
    camera: str | None = None
    software: str | None = None
    taken_at: str | None = Field(None, description="EXIF date/time the photo was taken, ISO 8601")
    time_offset: str | None = Field(None, description="EXIF offset of taken_at from UTC, e.g. "
                                                      '"+09:00"; null when the file has none')
    gps: tuple[float, float] | None = Field(None, description="EXIF GPS (latitude, longitude) "
                                                              "in degrees; null without a fix")
    screenshot_name: bool = Field(description="file name looks like a screenshot")
    screenshot_folder: bool = Field(description="found in a watch folder of kind 'screenshots'")
    screen_size: bool = Field(description="pixel size matches a common phone or desktop screen")
    jpeg_quality: int | None = Field(None, description="JPEG quality the file was saved at, "
                                                       "estimated; null for other formats")
    rating: int | None = Field(None, description="xmp:Rating in the file's own XMP: -1 "
                                                 "rejected, 0..5 stars; null without one")
    border_uniformity: float = Field(description="0..1, how plain the image border is")


# The machine-readable quality flags (Quality.flags); a photo may carry several.
QUALITY_FLAGS = ("blurry", "motion_blur", "underexposed", "overexposed", "accidental")


class Quality(BaseModel):
    """Photo quality: measures, an overall score and flags — suggestions only, nothing is ever
    deleted or moved for quality alone (duplicates' best-shot choice reads them)."""

    sharpness: float = Field(description="variance of the Laplacian of the 256 px grey copy "
                                         "(a head input); low means blurry")
    brightness: float = Field(description="mean luma 0..1")
    dark_clip: float = Field(description="fraction of nearly black pixels")
    bright_clip: float = Field(description="fraction of nearly white pixels")
    blur: float = Field(0.0, description="0..1: how much fine detail is missing (defocus or "
                                         "shake); 1 is a smear")
    motion: float = Field(0.0, description="0..1: how strongly what detail there is runs in one "
                                           "direction, as camera shake leaves it")
    face_sharpness: float | None = Field(None, description="Laplacian variance inside the faces, "
                                                           "where faces were found")
    score: float = Field(1.0, description="0..1 overall: 1 is a well exposed, sharp picture")
    flags: list[str] = Field(default_factory=list,
                             description="of: " + ", ".join(QUALITY_FLAGS))
    suggestions: list[str] = Field(default_factory=list, description="the flags in words")


class Evidence(BaseModel):
    """Why the category was chosen."""

    imagenet: list[ImageNetGuess]
    detections: list[Detection]
    faces: list[Face] | None = Field(None, description="faces found; null when not looked for")
    background: HeadBackground | None = Field(
        None, description="around the largest face's head; null without a face")
    text: TextLayout | None = Field(None, description="writing found; null when not looked for")
    metadata: MetadataCues
    rules: list[str] = Field(default_factory=list, description="explicit rules that applied")


class Analysis(BaseModel):
    """The full result for one file that could be analysed."""

    path: str
    category: str
    confidence: float
    scores: dict[str, float]
    evidence: Evidence
    quality: Quality
    sha256: str
    dhash: str = Field(description="64-bit difference hash, hex")
    phash: str = Field("", description="64-bit DCT perceptual hash, hex, for finding copies")
    content_share: float = Field(1.0, description="share of the picture inside flat borders "
                                                  "(letterbox, pillarbox, margins)")
    model: str
    embedding: list[float] | None = Field(
        None, description="backbone embedding; kept out of JSON output unless asked for"
    )
    layout: str | None = Field(
        None, description="64x64 grey layout thumbnail (base64 of 4096 bytes) that duplicates "
                          "compare; kept out of JSON output unless asked for")
    screen_layout: str | None = Field(
        None, description="screen-like pictures only: a finer grey thumbnail (base64 PNG, 128 "
                          "px on the shorter side) that tells a copy of a screenshot from "
                          "another screen of the same app; kept out of JSON output")


# The fields of Analysis that only machines read (duplicates, training): left out of results
# printed or stored as JSON.
BULKY_FIELDS = frozenset({"embedding", "layout", "screen_layout"})


def looks_like_a_screen(category: str, metadata: MetadataCues) -> bool:
    """Does a picture show a screen, not a moment? A screenshot by category or file name, or
    screen-sized without camera EXIF. Duplicates treat such pictures apart (never a burst, a
    copy only when near identical), and the engine keeps their screen thumbnail."""
    return (category == "screenshot" or metadata.screenshot_name
            or (metadata.screen_size and not metadata.camera_exif))


class AnalysisFailure(BaseModel):
    """A file that could not be analysed, and why."""

    path: str
    error: str
    sha256: str | None = None
    model: str | None = None


def result_to_json(result: Analysis | AnalysisFailure, exclude: set[str] | None = None) -> str:
    """One line of JSON for a result, as `model_dump_json` writes it — except that a path that
    is not UTF-8 is written with \\udcXX escapes instead of failing (see core.text.json_text);
    `analysis_from_json` reads it back to the same path."""
    return json_text(result.model_dump(mode="json", exclude=exclude))


def analysis_from_json(text: str | bytes) -> Analysis:
    """Inverse of `result_to_json` for an Analysis (pydantic's own JSON parser refuses the
    \\udcXX escapes of a non-UTF-8 path)."""
    return Analysis.model_validate(json.loads(text))


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
    phash: str = ""  # engine.hashes.perceptual_hash, hex
    layout: np.ndarray | None = None  # [64, 64] uint8 grey inside the flat borders (hashes.py)
    screen: np.ndarray | None = None  # hashes.screen_thumbnail, kept for screen-like pictures
    content_share: float = 1.0  # of the picture, inside the flat borders
    faces: list[Face] | None = None  # None: not looked for (see notes)
    background: HeadBackground | None = None  # around the largest face's head
    text: TextLayout | None = None  # None: not looked for (see notes)
    notes: list[str] = field(default_factory=list)  # what was left out and why, for explain
