"""The analysis result contract: one per file, enough for `xintuctl explain` to say "why here?".

These are the shapes `xintud classify --json` prints and the daemon stores; they are pydantic
models so that a stored result can be read back and checked.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, Field


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


class MetadataCues(BaseModel):
    """What the file and its place say, independent of the pixels."""

    format: str
    width: int
    height: int
    camera_exif: bool = Field(description="EXIF names a camera make or model")
    camera: str | None = None
    software: str | None = None
    taken_at: str | None = Field(None, description="EXIF date/time the photo was taken, ISO 8601")
    screenshot_name: bool = Field(description="file name looks like a screenshot")
    screenshot_folder: bool = Field(description="found in a watch folder of kind 'screenshots'")
    screen_size: bool = Field(description="pixel size matches a common phone or desktop screen")
    border_uniformity: float = Field(description="0..1, how plain the image border is")


class Quality(BaseModel):
    """Photo quality hints; suggestions only, nothing is ever deleted for quality."""

    sharpness: float = Field(description="variance of the Laplacian at 448 px; low means blurry")
    brightness: float = Field(description="mean luma 0..1")
    dark_clip: float = Field(description="fraction of nearly black pixels")
    bright_clip: float = Field(description="fraction of nearly white pixels")
    suggestions: list[str] = Field(default_factory=list)


class Evidence(BaseModel):
    """Why the category was chosen."""

    imagenet: list[ImageNetGuess]
    detections: list[Detection]
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
    dhash: str = Field(description="64-bit difference hash, hex, for near-duplicate search")
    model: str
    embedding: list[float] | None = Field(
        None, description="backbone embedding; kept out of JSON output unless asked for"
    )


class AnalysisFailure(BaseModel):
    """A file that could not be analysed, and why."""

    path: str
    error: str
    sha256: str | None = None
    model: str | None = None


def result_to_json(result: Analysis | AnalysisFailure, exclude: set[str] | None = None) -> str:
    """One line of JSON for a result, as `model_dump_json` writes it — except that a path that
    is not UTF-8 (Python holds such bytes as surrogate escapes, which model_dump_json cannot
    encode) is written with \\udcXX escapes instead of failing; `analysis_from_json` reads it
    back to the same path."""
    data = result.model_dump(mode="json", exclude=exclude)
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(data, separators=(",", ":"))
    return text


def analysis_from_json(text: str | bytes) -> Analysis:
    """Inverse of `result_to_json` for an Analysis (pydantic's own JSON parser refuses the
    \\udcXX escapes of a non-UTF-8 path)."""
    return Analysis.model_validate(json.loads(text))
