"""The MTCNN face detector (xintud/engine/models/faces.py): its numpy parts, and the whole
pipeline over ONNX files exported for this test session by training/faces/.

The face models are not in models/ yet, so the ONNX files come from a module-scoped export
into a temporary folder (skipped, saying so, without torch or facenet-pytorch), and the
contracts a manifest would give are written out here.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from xintud.core.facts import Face
from xintud.engine.decode import WORKING_SIZE, decode_image
from xintud.engine.models.faces import (
    FaceDetector,
    FaceNet,
    area_crops,
    area_resize,
    nms,
    pyramid_scales,
    summed_area_table,
)
from xintud.engine.models.manifest import InputContract, ModelError, ModelFile
from xintud.engine.models.store import open_session

REPO = Path(__file__).resolve().parents[3]
PHOTOS = REPO.parent / "shared" / "photos"
SUFFIXES = {".jpg", ".jpeg", ".png"}
SHAPES: dict[str, list[int | str]] = {"pnet": ["N", "H", "W", 3], "rnet": ["N", 24, 24, 3],
                                      "onet": ["N", 48, 48, 3]}
OUTPUTS = {"pnet": ["offsets", "face"], "rnet": ["offsets", "face"],
           "onet": ["offsets", "landmarks", "face"]}

# A face counts as confident at this O-net score: real faces in these photos score > 0.99,
# while O-net's false positives (textures, statues, pets) sit mostly between 0.7 and 0.95.
CONFIDENT = 0.95
# Each photo test looks at every PHOTO_STEP-th photo of a folder (all of them: ~40 s for the
# five). What it wants, against what all photos of ../shared/photos gave at working size with
# MIN_FACE_SIZE 30: idphoto 100% exactly one face, single 83% exactly one, social 78% two or
# more, food 2% and travel 3% any (each test prints its own figures):
PHOTO_STEP = 1
MIN_IDPHOTO_ONE_FACE = 0.90  # ID photos: exactly one confident face
MIN_SINGLE_ONE_FACE = 0.70  # one person: some are seen from behind or far away, a few have a
#                             bystander or a poster face
MIN_SOCIAL_TWO_FACES = 0.70  # gatherings: two or more faces (backs, hats and crowds miss some)
MAX_SCENERY_WITH_FACE = 0.10  # food and travel: a confident face in at most this share
MAX_MS_PER_PHOTO = 400.0  # CPU per photo, generous for a shared 2-core machine: catches a
#                           pathological slowdown (e.g. thousands of proposals), not drift


# --- the numpy parts, no models needed --------------------------------------------------------


def naive_area(picture: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """torch's adaptive average pooling, cell by cell."""
    height, width = picture.shape[:2]
    out = np.zeros((out_h, out_w, picture.shape[2]))
    for i in range(out_h):
        y0, y1 = i * height // out_h, -(-(i + 1) * height // out_h)
        for j in range(out_w):
            x0, x1 = j * width // out_w, -(-(j + 1) * width // out_w)
            out[i, j] = picture[y0:y1, x0:x1].reshape(-1, picture.shape[2]).mean(axis=0)
    return out


@pytest.mark.parametrize(("out_h", "out_w"), [(13, 17), (24, 24), (40, 9), (57, 70)])
def test_area_resize_is_adaptive_average_pooling(out_h: int, out_w: int) -> None:
    picture = np.random.default_rng(0).integers(0, 256, (50, 61, 3), dtype=np.uint8)

    got = area_resize(summed_area_table(picture), out_h, out_w)

    np.testing.assert_allclose(got, naive_area(picture, out_h, out_w), atol=1e-4)


def test_area_crops_resample_each_region() -> None:
    picture = np.random.default_rng(1).integers(0, 256, (80, 90, 3), dtype=np.uint8)
    rows, cols = (np.array([0, 10, 33]), np.array([80, 31, 70])), (np.array([5, 0, 60]),
                                                                  np.array([50, 90, 61]))

    crops = area_crops(summed_area_table(picture), rows, cols, 24, 24)

    assert crops.shape == (3, 24, 24, 3) and crops.dtype == np.float32
    for k in range(3):
        region = picture[rows[0][k]:rows[1][k], cols[0][k]:cols[1][k]]
        np.testing.assert_allclose(crops[k], naive_area(region, 24, 24), atol=1e-4)


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10, 0.8], [1, 1, 11, 11, 0.9], [50, 50, 60, 60, 0.7],
                      [52, 52, 56, 56, 0.95]], np.float32)

    assert nms(boxes, 0.5).tolist() == [3, 1, 2]  # the small box inside [2] has IoU 0.16
    assert nms(boxes, 0.5, overlap="min").tolist() == [3, 1]  # ...but lies wholly inside it
    assert nms(boxes[:0], 0.5).tolist() == []


def test_nms_blocks_give_the_plain_greedy_answer() -> None:
    rng = np.random.default_rng(2)
    corner = rng.uniform(0, 200, (700, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(5, 40, (700, 2)),
                            rng.uniform(0, 1, (700, 1))], axis=1).astype(np.float32)
    order, expected = list(np.argsort(-boxes[:, 4], kind="stable")), []
    while order:
        best, order = order[0], order[1:]
        expected.append(best)
        order = [i for i in order if iou(boxes[best], boxes[i]) <= 0.5]

    assert nms(boxes, 0.5).tolist() == expected


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boxes (continuous areas)."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return float(w * h / union)


def test_pyramid_maps_the_smallest_face_to_the_window_and_stops_at_one_window() -> None:
    scales = pyramid_scales(WORKING_SIZE, 600)

    assert scales[0] == pytest.approx(12 / 30)
    assert all(b == pytest.approx(a * 0.709) for a, b in zip(scales, scales[1:], strict=False))
    assert WORKING_SIZE * scales[-1] >= 12 > WORKING_SIZE * scales[-1] * 0.709
    assert pyramid_scales(11, 11) == []


def test_the_engine_never_imports_torch() -> None:
    code = ("import sys, xintud.engine.models.faces; "
            "sys.exit(any(m.split('.')[0] in ('torch', 'facenet_pytorch', 'torchvision', 'cv2') "
            "for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --- the whole pipeline over exported files ---------------------------------------------------


def contract(name: str) -> ModelFile:
    """The manifest entry the next step will list for one face net."""
    return ModelFile(file=f"faces-{name}.onnx", sha256="0" * 64, bytes=0, role=f"face_{name}",
                     input=InputContract(name="image", shape=SHAPES[name], layout="NHWC",
                                         dtype="float32", color="RGB", mean=127.5, std=128.0),
                     outputs=OUTPUTS[name])


@pytest.fixture(scope="module")
def face_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The three ONNX files, exported by training.faces into a temporary folder."""
    pytest.importorskip("torch", reason="torch not installed: cannot export the face nets "
                                        "(pip install -e '.[train-backbone]')")
    pytest.importorskip("onnx", reason="onnx not installed: cannot export the face nets")
    if importlib.util.find_spec("facenet_pytorch") is None:
        pytest.skip("facenet-pytorch not installed: no MTCNN weights to export "
                    "(pip install --no-deps facenet-pytorch==2.6.0)")
    from training.faces import export_all, load_nets

    return export_all(load_nets(), tmp_path_factory.mktemp("face-models"))


def session(path: Path) -> ort.InferenceSession:
    """A single-threaded CPU session, opened as the daemon opens its models."""
    return open_session(path, 1)


@pytest.fixture(scope="module")
def detector(face_files: dict[str, Path]) -> FaceDetector:
    """FaceDetector over the exported files, with the contracts written above."""
    return FaceDetector(*(FaceNet(name, session(face_files[name]), contract(name))
                          for name in ("pnet", "rnet", "onet")))


def test_a_renamed_output_is_refused_at_load(face_files: dict[str, Path]) -> None:
    wrong = contract("onet").model_copy(update={"outputs": ["offsets", "points", "face"]})

    with pytest.raises(ModelError, match="points"):
        FaceNet("onet", session(face_files["onet"]), wrong)
    with pytest.raises(ValueError, match="wants pnet here, not onet"):
        onet = FaceNet("onet", session(face_files["onet"]), contract("onet"))
        FaceDetector(onet, onet, onet)


@pytest.mark.parametrize("kind", ["noise", "flat grey", "black", "white", "gradient", "tiny"])
def test_no_face_in_pictures_without_one(detector: FaceDetector, kind: str) -> None:
    rng = np.random.default_rng(3)
    pictures = {
        "noise": rng.integers(0, 256, (448, 600, 3), dtype=np.uint8),
        "flat grey": np.full((448, 448, 3), 128, np.uint8),
        "black": np.zeros((448, 336, 3), np.uint8),
        "white": np.full((600, 448, 3), 255, np.uint8),
        "gradient": np.broadcast_to(np.linspace(0, 255, 600, dtype=np.uint8)[None, :, None],
                                    (448, 600, 3)).copy(),
        "tiny": rng.integers(0, 256, (11, 30, 3), dtype=np.uint8),  # below one P-net window
    }

    assert detector.detect(pictures[kind]) == []


def test_only_8_bit_rgb_is_accepted(detector: FaceDetector) -> None:
    with pytest.raises(ValueError, match="uint8"):
        detector.detect(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(ValueError, match="uint8"):
        detector.detect(np.zeros((64, 64), np.uint8))


def folder_photos(category: str) -> list[Path]:
    """Every PHOTO_STEP-th photo of one category, skipping when the shared photos are absent."""
    if not (PHOTOS / "manifest.csv").is_file():
        pytest.skip(f"{PHOTOS} absent: no labelled photos to count faces on")
    files = sorted(p for p in (PHOTOS / category).iterdir() if p.suffix.lower() in SUFFIXES)
    return files[::PHOTO_STEP]


def confident_counts(detector: FaceDetector, category: str) -> tuple[list[int], float]:
    """Confident faces per photo of a category at working size, and CPU ms per photo."""
    counts, spent = [], 0.0
    for path in folder_photos(category):
        picture = np.asarray(decode_image(path).image)
        start = time.process_time()
        faces = detector.detect(picture)
        spent += time.process_time() - start
        check_fractions(faces)
        counts.append(int(sum(face.score >= CONFIDENT for face in faces)))
    ms = 1000 * spent / len(counts)
    histogram = dict(sorted(Counter(counts).items()))
    print(f"\n{category}: {len(counts)} photos, photos by confident faces {histogram}, "
          f"{ms:.1f} ms CPU per photo (detect only, at working size)")
    return counts, ms


def check_fractions(faces: list[Face]) -> None:
    """Boxes and landmarks inside the picture, scores above O-net's threshold, best first."""
    for face in faces:
        x0, y0, x1, y1 = face.box
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
        assert len(face.landmarks) == 5 and all(0 <= v <= 1 for p in face.landmarks for v in p)
        assert 0.7 < face.score <= 1
    assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)


RATES: dict[str, tuple[str, float, Callable[[int], bool]]] = {
    "idphoto": ("exactly one", MIN_IDPHOTO_ONE_FACE, lambda n: n == 1),
    "single": ("exactly one", MIN_SINGLE_ONE_FACE, lambda n: n == 1),
    "social": ("two or more", MIN_SOCIAL_TWO_FACES, lambda n: n >= 2),
}


@pytest.mark.parametrize("category", sorted(RATES))
def test_faces_in_photos_of_people(detector: FaceDetector, category: str) -> None:
    what, wanted, holds = RATES[category]

    counts, ms = confident_counts(detector, category)

    rate = float(np.mean([holds(n) for n in counts]))
    print(f"{category}: {what} confident face(s) in {rate:.1%} (wanted >= {wanted:.0%})")
    assert rate >= wanted
    assert ms <= MAX_MS_PER_PHOTO


@pytest.mark.parametrize("category", ["food", "travel"])
def test_few_faces_in_scenery(detector: FaceDetector, category: str) -> None:
    counts, ms = confident_counts(detector, category)

    rate = float(np.mean([n > 0 for n in counts]))
    print(f"{category}: a confident face in {rate:.1%} (wanted <= {MAX_SCENERY_WITH_FACE:.0%})")
    assert rate <= MAX_SCENERY_WITH_FACE
    assert ms <= MAX_MS_PER_PHOTO
