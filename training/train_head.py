"""Train and evaluate the category head on the labelled development photos.

    python -m training.train_head --photos ../shared/photos --models models

1. Runs the shipped backbone + detector over every photo (the same analyze/feature code the
   daemon runs; features cached in training/cache/ keyed by the model hashes).
2. Groups near-identical photos (dHash or embedding cosine) so they never straddle a split.
3. Nested, grouped, stratified cross-validation: the outer 5 folds measure accuracy, the inner
   folds pick the L2 strength — no photo is ever scored by a head that saw it.
4. By source held out, the headline figure: each source repository of the manifest is left out
   in turn and scored by a head fitted on all the others, with the setting the nested CV chose
   (so nothing is tuned on this figure). Photos of one source share a look; a random split puts
   that look on both sides and flatters the head.
5. Fits the final head on all photos and writes models/head.npz, plus a JSON report with the
   per-category accuracy and the confusion matrix of both protocols, and the sources seen.

File names are replaced by neutral ones: the development photos are named after their category,
which would leak the label into the screenshot-name rule.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.common import (
    DEFAULT_PHOTOS,
    MODELS,
    REPO,
    REPORTS,
    has_photo_manifest,
    read_photo_manifest,
    sha256_file,
    write_json,
)
from xintud.core.categories import CATEGORY_IDS
from xintud.core.facts import FileContext
from xintud.engine.analyze import analyze_batch
from xintud.engine.classify import Job, prepare
from xintud.engine.features import FEATURE_NAMES, SIGNAL_NAMES, feature_vector
from xintud.engine.head import HeadWeights, predict, save_head
from xintud.engine.models.manifest import read_manifest as read_model_manifest
from xintud.engine.models.store import Perception, build_perception, read_labels
from xintud.learning.fit import train_head

# (L2 strength, signal gain) pairs the inner folds choose from; see learn.train_head.
GRID = tuple((l2, gain) for l2 in (0.01, 0.03, 0.1) for gain in (3.0, 5.0))
STEPS = 400
OUTER_FOLDS = 5
INNER_FOLDS = 4


@dataclass
class Dataset:
    """Feature rows of the development photos with their labels and near-duplicate groups."""

    files: list[str]
    features: np.ndarray
    labels: np.ndarray
    dhashes: list[str]


def read_manifest(photos: Path) -> list[tuple[str, str]]:
    """(file relative to photos/, category) for every labelled photo."""
    return [(row["file"], row["category"]) for row in read_photo_manifest(photos)]


def read_sources(photos: Path) -> dict[str, str]:
    """The source repository of every labelled photo, by file relative to photos/."""
    return {row["file"]: row["repo"] for row in read_photo_manifest(photos)}


def by_source_held_out(data: Dataset, sources: np.ndarray, setting: tuple[float, float]
                       ) -> np.ndarray:
    """Predictions for every photo by a head that saw none of its source's photos."""
    predicted = np.empty_like(data.labels)
    names = sorted(set(sources.tolist()))
    for index, source in enumerate(names):
        test = sources == source
        head = fit(data.features[~test], data.labels[~test], setting)
        predicted[test] = predict(head, data.features[test]).argmax(axis=1)
        print(f"  source {index + 1}/{len(names)} held out: {source} ({int(test.sum())} photos, "
              f"acc={np.mean(predicted[test] == data.labels[test]):.3f})", end="\r", flush=True)
    print()
    return predicted


def sources_seen(data: Dataset, sources: np.ndarray) -> list[dict[str, object]]:
    """Per source repository: how many photos of each category the head saw from it."""
    seen = []
    for source in sorted(set(sources.tolist())):
        labels = data.labels[sources == source]
        counts = {CATEGORY_IDS[c]: int(n) for c, n in enumerate(np.bincount(labels,
                  minlength=len(CATEGORY_IDS))) if n}
        seen.append({"repo": source, "photos": int(len(labels)), "categories": counts})
    return seen


def compute_features(photos: Path, perception: Perception, rows: list[tuple[str, str]],
                     batch: int = 16) -> Dataset:
    """Run the analyze stage over every photo and build feature vectors."""
    files, features, labels, dhashes = [], [], [], []
    for start in range(0, len(rows), batch):
        chunk = rows[start:start + batch]
        prepared = [prepare(Job(photos / name)) for name, _ in chunk]
        for p in prepared:
            if p.decoded is None:
                raise SystemExit(f"cannot decode development photo: {p.error}")
        contexts = [FileContext(f"IMG_{i:04d}.jpg") for i in range(len(chunk))]
        facts = analyze_batch(perception, [p.decoded for p in prepared], contexts)  # type: ignore[misc]
        for (name, category), fact in zip(chunk, facts, strict=True):
            files.append(name)
            features.append(feature_vector(fact))
            labels.append(CATEGORY_IDS.index(category))
            dhashes.append(fact.dhash)
        print(f"  features {start + len(chunk)}/{len(rows)}", end="\r", flush=True)
    print()
    return Dataset(files, np.stack(features), np.asarray(labels), dhashes)


def near_duplicate_groups(data: Dataset, max_hamming: int = 6, min_cosine: float = 0.95
                          ) -> np.ndarray:
    """Group id per photo: union of pairs whose dHash or embedding says 'same shot'."""
    n = len(data.files)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    emb = data.features[:, :1280]
    emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-9)
    cosine = emb @ emb.T
    hashes = [int(h, 16) for h in data.dhashes]
    for i in range(n):
        for j in range(i + 1, n):
            if cosine[i, j] >= min_cosine or bin(hashes[i] ^ hashes[j]).count("1") <= max_hamming:
                parent[find(i)] = find(j)
    roots = [find(i) for i in range(n)]
    return np.unique(roots, return_inverse=True)[1]


def grouped_stratified_folds(labels: np.ndarray, groups: np.ndarray, k: int, seed: int
                             ) -> np.ndarray:
    """Fold index per sample: whole groups per fold, each category spread evenly."""
    rng = np.random.default_rng(seed)
    fold_of_group: dict[int, int] = {}
    counts = np.zeros((k, labels.max() + 1))
    group_ids = rng.permutation(np.unique(groups))
    # Large groups first so they do not unbalance the folds at the end.
    group_ids = sorted(group_ids, key=lambda g: -np.sum(groups == g))
    for g in group_ids:
        members = labels[groups == g]
        category = np.bincount(members).argmax()
        fold = int(np.argmin(counts[:, category] + 1e-3 * counts.sum(axis=1)))
        fold_of_group[int(g)] = fold
        counts[fold] += np.bincount(members, minlength=counts.shape[1])
    return np.array([fold_of_group[int(g)] for g in groups])


def accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
    """Class-balanced (macro) accuracy: the mean of the per-category recalls."""
    return float(np.mean([np.mean(predicted[labels == c] == c) for c in np.unique(labels)]))


def fit(features: np.ndarray, labels: np.ndarray, setting: tuple[float, float]) -> HeadWeights:
    """A head with one (l2, signal gain) setting."""
    l2, gain = setting
    return train_head(features, labels, CATEGORY_IDS, FEATURE_NAMES, l2, STEPS,
                      signal_gain=gain, n_signals=len(SIGNAL_NAMES))


def choose_setting(features: np.ndarray, labels: np.ndarray, groups: np.ndarray
                   ) -> tuple[float, float]:
    """The (l2, gain) with the best inner-CV macro accuracy."""
    folds = grouped_stratified_folds(labels, groups, INNER_FOLDS, seed=1)
    best, best_score = GRID[0], -1.0
    for setting in GRID:
        predicted = np.empty_like(labels)
        for fold in range(INNER_FOLDS):
            test = folds == fold
            head = fit(features[~test], labels[~test], setting)
            predicted[test] = predict(head, features[test]).argmax(axis=1)
        score = accuracy(labels, predicted)
        if score > best_score:
            best, best_score = setting, score
    return best


def nested_cross_validation(data: Dataset, groups: np.ndarray
                            ) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Out-of-fold predictions for every photo, and the setting each outer fold chose."""
    folds = grouped_stratified_folds(data.labels, groups, OUTER_FOLDS, seed=0)
    predicted = np.empty_like(data.labels)
    chosen = []
    for fold in range(OUTER_FOLDS):
        test = folds == fold
        setting = choose_setting(data.features[~test], data.labels[~test], groups[~test])
        head = fit(data.features[~test], data.labels[~test], setting)
        predicted[test] = predict(head, data.features[test]).argmax(axis=1)
        chosen.append(setting)
        print(f"  outer fold {fold + 1}/{OUTER_FOLDS}: l2={setting[0]} gain={setting[1]} "
              f"acc={np.mean(predicted[test] == data.labels[test]):.3f}")
    return predicted, chosen


def report(data: Dataset, predicted: np.ndarray) -> dict[str, object]:
    """Per-category accuracy, macro/overall accuracy and the confusion matrix."""
    n = len(CATEGORY_IDS)
    confusion = np.zeros((n, n), dtype=int)
    for truth, guess in zip(data.labels, predicted, strict=True):
        confusion[truth, guess] += 1
    per_category = {c: round(float(confusion[i, i] / max(confusion[i].sum(), 1)), 4)
                    for i, c in enumerate(CATEGORY_IDS)}
    return {
        "photos": len(data.files),
        "per_category_accuracy": per_category,
        "macro_accuracy": round(float(np.mean(list(per_category.values()))), 4),
        "overall_accuracy": round(float(np.mean(predicted == data.labels)), 4),
        "confusion_matrix": {"rows_truth_cols_predicted": list(CATEGORY_IDS),
                             "matrix": confusion.tolist()},
    }


def load_or_compute(args: argparse.Namespace, rows: list[tuple[str, str]]) -> Dataset:
    """Features from the cache when the models and photos are unchanged."""
    models = Path(args.models)
    key = hashlib.sha256()
    for name in (args.backbone, args.detector):
        key.update(sha256_file(models / name).encode())
    key.update(json.dumps(rows).encode())
    key.update(json.dumps(FEATURE_NAMES).encode())
    cache = REPO / "training" / "cache" / f"features-{key.hexdigest()[:16]}.npz"
    if cache.exists():
        with np.load(cache) as saved:
            return Dataset(list(saved["files"]), saved["features"], saved["labels"],
                           list(saved["dhashes"]))
    labels = read_labels(models / "imagenet_labels.json", models / "coco_labels.json")
    perception = build_perception(models / args.backbone, models / args.detector,
                                  read_model_manifest(models), labels, args.threads)
    data = compute_features(Path(args.photos), perception, rows)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, files=np.array(data.files), features=data.features, labels=data.labels,
             dhashes=np.array(data.dhashes))
    return data


def main() -> int:
    """Train, evaluate and write the head."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", default=str(DEFAULT_PHOTOS))
    parser.add_argument("--models", default=str(MODELS))
    parser.add_argument("--backbone", default="backbone-int8.onnx")
    parser.add_argument("--detector", default="detector-int8.onnx")
    parser.add_argument("--out", default=str(MODELS / "head.npz"))
    parser.add_argument("--report", default=str(REPORTS / "head.json"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    photos = Path(args.photos)
    if not has_photo_manifest(photos):
        print(f"no labelled photos at {photos} (manifest.csv missing)", file=sys.stderr)
        return 2
    started = time.time()
    rows = read_manifest(photos)
    data = load_or_compute(args, rows)
    groups = near_duplicate_groups(data)
    print(f"{len(data.files)} photos in {groups.max() + 1} near-duplicate groups")
    predicted, chosen = nested_cross_validation(data, groups)
    result = report(data, predicted)
    # The final head takes the setting the outer folds chose most often (ties: the first).
    final = max(set(chosen), key=lambda s: (chosen.count(s), -chosen.index(s)))
    by_repo = read_sources(photos)
    sources = np.array([by_repo[name] for name in data.files])
    held_out = report(data, by_source_held_out(data, sources, final))
    held_out["protocol"] = (f"each of the {len(set(by_repo.values()))} source repositories "
                            "left out in turn, the head fitted on the rest with the setting "
                            f"{final} the nested CV chose")
    head = fit(data.features, data.labels, final)
    save_head(head, args.out)
    result.update({
        "protocol": f"nested grouped stratified CV: {OUTER_FOLDS} outer folds, {INNER_FOLDS} "
                    f"inner folds choosing (l2, signal gain) from {list(GRID)}; "
                    "near-duplicates grouped",
        "groups": int(groups.max() + 1),
        "outer_settings": chosen,
        "final_setting": final,
        "by_source_held_out": held_out,
        "sources": sources_seen(data, sources),
        "backbone": args.backbone,
        "detector": args.detector,
        "seconds": round(time.time() - started, 1),
    })
    write_json(Path(args.report), result)
    summary = ("per_category_accuracy", "macro_accuracy", "overall_accuracy")
    print("grouped CV:", json.dumps({k: result[k] for k in summary}, indent=2))
    print("by source held out:", json.dumps({k: held_out[k] for k in summary}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
