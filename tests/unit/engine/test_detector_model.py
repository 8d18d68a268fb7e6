"""The shipped COCO detector (models/detector*.onnx) run with onnxruntime alone, as the daemon does.

The files are made by training/export_detector.py; each test skips, saying so, when its file is
absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[3]
MODELS = REPO / "models"
PHOTOS = REPO.parent / "shared" / "photos"
LABELS = MODELS / "coco_labels.json"
MODEL_FILES = ("detector.onnx", "detector-int8.onnx")

INPUT = "image_tensor:0"
OUTPUTS = ("detection_boxes:0", "detection_classes:0", "detection_scores:0", "num_detections:0")
MAX_DETECTIONS = 100
PERSON, CAT, DOG = 1, 17, 18
SURE = 0.5
# Every 10th photo of pets/ and social/ (12 each). Measured with fp32 and int8 on all photos:
# 105/117 pets photos have a cat or dog >= 0.5, 119/127 social photos >= 2 persons >= 0.5;
# on this sample 10/12 each. A working model stays above 3/4; a broken one falls far below.
PHOTO_STEP = 10
PHOTO_SAMPLE = 12
MIN_FRACTION_FOUND = 0.75


SHIPPED = "detector-int8.onnx"


def model_path(name: str) -> Path:
    """Path of a model file. The shipped int8 model must exist; the fp32 one is an intermediate
    of training/ (not committed), so its tests skip, saying so, when it has not been built."""
    path = MODELS / name
    if name == SHIPPED:
        assert path.is_file(), f"{path} is missing: it ships with xintud"
    elif not path.is_file():
        pytest.skip(f"{path} is the fp32 intermediate of training/, not shipped; run "
                    "python -m training.export_detector --out models/ to check it")
    return path


@pytest.fixture(scope="module", params=MODEL_FILES)
def session(request: pytest.FixtureRequest) -> ort.InferenceSession:
    """An onnxruntime CPU session for each shipped detector file."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(str(model_path(request.param)), options,
                                providers=["CPUExecutionProvider"])


def drawn_scene(width: int, height: int) -> np.ndarray:
    """A simple drawn RGB scene (gradient, shapes), uint8 HWC."""
    image = Image.new("RGB", (width, height), (90, 140, 200))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, height * 2 // 3, width, height), fill=(60, 150, 60))
    draw.ellipse((width // 4, height // 4, width // 2, height * 3 // 4), fill=(200, 160, 120))
    box = (width * 3 // 5, height // 3, width * 4 // 5, height * 5 // 6)
    draw.rectangle(box, fill=(40, 40, 40))
    return np.asarray(image)


def run(session: ort.InferenceSession, pixels: np.ndarray) -> list[np.ndarray]:
    """The four outputs for one image."""
    return session.run(list(OUTPUTS), {INPUT: pixels[None]})


def sure_labels(session: ort.InferenceSession, path: Path) -> list[int]:
    """COCO ids of the detections at score >= SURE on a photo file."""
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"))
    _, classes, scores, _ = run(session, pixels)
    return [int(c) for c, s in zip(classes[0], scores[0], strict=True) if s >= SURE]


def test_model_declares_uint8_nhwc_input_of_any_size(session: ort.InferenceSession) -> None:
    (declared,) = session.get_inputs()
    assert declared.name == INPUT
    assert declared.type == "tensor(uint8)"
    assert len(declared.shape) == 4 and declared.shape[3] == 3
    assert not isinstance(declared.shape[1], int) and not isinstance(declared.shape[2], int)
    assert [o.name for o in session.get_outputs()] == list(OUTPUTS)


@pytest.mark.parametrize("size", [(640, 480), (300, 300), (360, 720)])
def test_outputs_have_the_documented_shapes_and_ranges(
    session: ort.InferenceSession, size: tuple[int, int]
) -> None:
    boxes, classes, scores, count = run(session, drawn_scene(*size))
    assert boxes.shape == (1, MAX_DETECTIONS, 4)
    assert classes.shape == scores.shape == (1, MAX_DETECTIONS)
    assert count.shape == (1,)
    assert all(o.dtype == np.float32 for o in (boxes, classes, scores, count))
    assert np.all((scores >= 0.0) & (scores <= 1.0))
    assert np.all(np.diff(scores[0]) <= 0), "scores must come best first"
    found = int(count[0])
    assert 0 <= found <= MAX_DETECTIONS
    live = boxes[0, :found]
    assert np.all((live >= 0.0) & (live <= 1.0))
    assert np.all(live[:, 0] <= live[:, 2]) and np.all(live[:, 1] <= live[:, 3])
    ids = classes[0, :found]
    assert np.all(ids == np.round(ids)) and np.all((ids >= 1) & (ids <= 90))


def test_labels_map_the_model_class_ids() -> None:
    assert LABELS.is_file(), f"{LABELS} is missing: it ships with xintud"
    labels = {int(k): v for k, v in json.loads(LABELS.read_text(encoding="utf-8")).items()}
    assert len(labels) == 80
    assert labels[PERSON] == "person" and labels[CAT] == "cat" and labels[DOG] == "dog"
    assert labels[52] == "banana" and labels[59] == "pizza" and labels[90] == "toothbrush"
    assert 12 not in labels and 83 not in labels  # ids COCO leaves unused


def photo_sample(category: str) -> list[Path]:
    """Every PHOTO_STEP-th photo of a category, at most PHOTO_SAMPLE of them."""
    folder = PHOTOS / category
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent (the labelled photos live in ../shared/photos)")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    return files[::PHOTO_STEP][:PHOTO_SAMPLE]


def test_finds_a_cat_or_dog_on_most_pet_photos(session: ort.InferenceSession) -> None:
    photos = photo_sample("pets")
    hits = [p.name for p in photos if {CAT, DOG} & set(sure_labels(session, p))]
    assert len(hits) >= MIN_FRACTION_FOUND * len(photos), f"cat/dog found only on {hits}"


def test_finds_two_or_more_people_on_most_social_photos(session: ort.InferenceSession) -> None:
    photos = photo_sample("social")
    hits = [p.name for p in photos if sure_labels(session, p).count(PERSON) >= 2]
    assert len(hits) >= MIN_FRACTION_FOUND * len(photos), f">= 2 persons only on {hits}"
