"""Accuracy on the labelled development photos in ../shared/photos (skipped when absent).

The heads (the first and the text head, gated as the classifier runs them) are refitted here
with one fixed setting, so every photo is scored by heads that never saw it (the shipped heads
saw every photo): in grouped 5-fold cross-validation (near-duplicates on one side), and by
source held out (each source repository left out in turn: the figure a
user with photos from elsewhere should expect). Bounds sit a little below the figures in
models/MODEL_CARD.md, so a change that makes the head worse fails here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training import train_head
from xintud.core.categories import CATEGORY_IDS
from xintud.engine.models.store import load_models

REPO = Path(__file__).resolve().parents[2]
PHOTOS = REPO.parent / "shared" / "photos"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (PHOTOS / "manifest.csv").is_file(),
                       reason=f"labelled development photos not present at {PHOTOS}"),
]


@pytest.fixture(scope="module")
def dataset() -> train_head.Dataset:
    models = load_models(threads=2)
    return train_head.compute_features(PHOTOS, models.perception, train_head.read_manifest(PHOTOS))


def test_head_generalises_to_held_out_photos(dataset: train_head.Dataset) -> None:
    groups = train_head.near_duplicate_groups(dataset)
    folds = train_head.grouped_stratified_folds(dataset.labels, groups, 5, seed=7)
    predicted = np.empty_like(dataset.labels)
    for held_out in range(5):
        test = folds == held_out
        heads = train_head.fit(dataset.subset(~test), (0.03, 3.0))
        predicted[test] = heads.predict(dataset.subset(test))[0]
    truth = dataset.labels
    recall = {c: round(float(np.mean(predicted[truth == i] == i)), 3)
              for i, c in enumerate(CATEGORY_IDS)}
    assert np.mean(list(recall.values())) >= 0.925, recall  # measured 0.939
    assert min(recall.values()) >= 0.86, recall  # measured 0.882 (single)


def test_head_generalises_to_sources_it_has_never_seen(dataset: train_head.Dataset) -> None:
    by_repo = train_head.read_sources(PHOTOS)
    sources = np.array([by_repo[name] for name in dataset.files])
    assert len(set(sources.tolist())) >= 50
    predicted, _ = train_head.by_source_held_out(dataset, sources, (0.01, 3.0))
    truth = dataset.labels
    recall = {c: round(float(np.mean(predicted[truth == i] == i)), 3)
              for i, c in enumerate(CATEGORY_IDS)}
    print(f"by source held out: macro {np.mean(list(recall.values())):.3f}, {recall}")
    assert np.mean(list(recall.values())) >= 0.87, recall  # measured 0.885
    assert min(recall.values()) >= 0.77, recall  # measured 0.789 (other)


def test_backbone_top1_on_imagenet_sourced_photos() -> None:
    import csv
    import json
    import re

    from PIL import Image

    from xintud.engine.decode import decode_image

    models = load_models(threads=2)
    wnids = [item["wnid"] for item in json.loads((REPO / "models" / "imagenet_labels.json")
                                                 .read_text())]
    rows = []
    with (PHOTOS / "manifest.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            match = re.search(r"n\d{8}", Path(row["path"]).name)
            if match and match.group(0) in wnids:
                rows.append((row["file"], wnids.index(match.group(0))))
    assert len(rows) > 200
    correct = 0
    for name, truth in rows:
        image = decode_image(PHOTOS / name).image
        scale = 256 / min(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)),
                             Image.Resampling.BILINEAR)
        left, top = (image.width - 224) // 2, (image.height - 224) // 2
        crop = np.asarray(image.crop((left, top, left + 224, top + 224)), dtype=np.uint8)
        _, probs = models.perception.backbone.run(crop[None])
        correct += int(np.argmax(probs[0]) == truth)
    assert correct / len(rows) >= 0.85, f"top-1 {correct}/{len(rows)}"
