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
from training.make_manifest import network_entries
from xintud.core.categories import CATEGORY_IDS
from xintud.core.facts import FileContext
from xintud.engine.analyze import analyze_batch, read_text
from xintud.engine.classify import Job, prepare
from xintud.engine.decide import pet_bonus
from xintud.engine.features import (
    EMBEDDING_SIZE,
    FEATURE_NAMES,
    GLANCE_COLUMNS,
    GLANCE_FEATURE_NAMES,
    TEXT_FEATURE_NAMES,
    feature_vector,
    text_signals,
)
from xintud.engine.gates import GLANCE_SURE, glance_is_enough, text_look_reason
from xintud.engine.head import HeadWeights, head_logits, predict, save_head, softmax
from xintud.engine.models.manifest import Manifest
from xintud.engine.models.store import PERCEPTION_ROLES, Perception, build_perception, read_labels
from xintud.learning.fit import train_head

# (L2 strength, signal gain) pairs the inner folds choose from, per head; see
# learning.fit.train_head.
GRID = tuple((l2, gain) for l2 in (0.01, 0.03, 0.1) for gain in (3.0, 5.0))
STEPS = 400
# The engine code that turns a picture into features: part of the feature cache's key.
FEATURE_CODE = tuple(f"xintud/engine/{name}.py" for name in
                     ("analyze", "features", "gates", "signals", "decode", "models/faces",
                      "models/text", "models/dbmap", "models/backbone", "models/detector"))
OUTER_FOLDS = 5
INNER_FOLDS = 4


@dataclass
class Dataset:
    """Feature rows of the development photos with their labels and near-duplicate groups.

    features are the first head's (FEATURE_NAMES); text the text detector's signals, read on
    every photo here so that the gate between the heads can be replayed (see Heads).
    """

    files: list[str]
    features: np.ndarray
    text: np.ndarray
    labels: np.ndarray
    dhashes: list[str]

    def subset(self, mask: np.ndarray) -> Dataset:
        """The photos where mask is true."""
        keep = np.flatnonzero(mask)
        return Dataset([self.files[i] for i in keep], self.features[keep], self.text[keep],
                       self.labels[keep], [self.dhashes[i] for i in keep])


@dataclass(frozen=True)
class Heads:
    """The three heads the classifier runs in stages (classify.decide_in_stages): the glance
    head from the backbone alone, the first head once the detector and faces have looked, the
    text head where gates.text_look_reason says writing could change the first answer."""

    glance: HeadWeights
    first: HeadWeights
    text: HeadWeights

    def predict(self, data: Dataset) -> tuple[np.ndarray, np.ndarray]:
        """(category index per photo, the stage that answered: 0 glance, 1 first, 2 text),
        gated as the pipeline gates them."""
        answers, stage, _ = self.predict_with_glance(data)
        return answers, stage

    def predict_with_glance(self, data: Dataset, extra: np.ndarray | None = None
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """predict's answers (indices into the heads' categories, which may go past the eight
        when a user's own were learned) and stages, and the glance head's probabilities.
        `extra`: logits to add for every photo and category (learning/memory.py's)."""
        # The explicit rules the classifier adds (decide.hint_rules): of them only the pet rule
        # can fire here, the photos' names being neutral.
        bonus = pet_bonus(data.features, self.first.categories)
        if extra is not None:
            bonus = bonus + extra
        glance = rule_applied(self.glance, data.features[:, GLANCE_COLUMNS], bonus)
        first = rule_applied(self.first, data.features, bonus)
        full = rule_applied(self.text, np.concatenate([data.features, data.text], axis=1), bonus)
        eight = len(CATEGORY_IDS)  # the gates read the eight categories they were set on
        stage = np.array([stage_of(g[:eight], f[:eight])
                          for g, f in zip(glance, first, strict=True)])
        answers = np.stack([glance.argmax(axis=1), first.argmax(axis=1), full.argmax(axis=1)])
        return answers[stage, np.arange(len(stage))], stage, glance


def rule_applied(head: HeadWeights, features: np.ndarray, bonus: np.ndarray) -> np.ndarray:
    """A head's probabilities with the rules' logit adjustments, as decide computes them."""
    return softmax(head_logits(head, features) + bonus)


def stage_of(glance: np.ndarray, first: np.ndarray) -> int:
    """Which head answers a photo, from the glance and first heads' probabilities."""
    if glance_is_enough(dict(zip(CATEGORY_IDS, glance.tolist(), strict=True))):
        return 0
    return 2 if text_look_reason(dict(zip(CATEGORY_IDS, first.tolist(), strict=True))) else 1


def read_manifest(photos: Path) -> list[tuple[str, str]]:
    """(file relative to photos/, category) for every labelled photo."""
    return [(row["file"], row["category"]) for row in read_photo_manifest(photos)]


def read_sources(photos: Path) -> dict[str, str]:
    """The source repository of every labelled photo, by file relative to photos/."""
    return {row["file"]: row["repo"] for row in read_photo_manifest(photos)}


def by_source_held_out(data: Dataset, sources: np.ndarray,
                       setting: tuple[float, float] | Settings) -> tuple[np.ndarray, np.ndarray]:
    """Predictions for every photo by heads that saw none of its source's photos, and the
    stage that answered (Heads.predict)."""
    predicted = np.empty_like(data.labels)
    looked = np.zeros(len(data.labels), dtype=int)
    names = sorted(set(sources.tolist()))
    for index, source in enumerate(names):
        test = sources == source
        heads = fit(data.subset(~test), setting)
        predicted[test], looked[test] = heads.predict(data.subset(test))
        print(f"  source {index + 1}/{len(names)} held out: {source} ({int(test.sum())} photos, "
              f"acc={np.mean(predicted[test] == data.labels[test]):.3f})", end="\r", flush=True)
    print()
    return predicted, looked


def stage_shares(labels: np.ndarray, stages: np.ndarray) -> dict[str, dict[str, float]]:
    """Per category, the share of photos answered at each stage: what the gates let run."""
    names = ("glance", "detector+faces", "text")
    return {c: {name: round(float(np.mean(stages[labels == i] == k)), 4)
                for k, name in enumerate(names)} for i, c in enumerate(CATEGORY_IDS)}


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
    files, features, text, labels, dhashes = [], [], [], [], []
    for start in range(0, len(rows), batch):
        chunk = rows[start:start + batch]
        prepared = [prepare(Job(photos / name)) for name, _ in chunk]
        for p in prepared:
            if p.decoded is None:
                raise SystemExit(f"cannot decode development photo: {p.error}")
        contexts = [FileContext(f"IMG_{i:04d}.jpg") for i in range(len(chunk))]
        facts = analyze_batch(perception, [p.decoded for p in prepared], contexts)  # type: ignore[misc]
        for (name, category), fact, p in zip(chunk, facts, prepared, strict=True):
            files.append(name)
            features.append(feature_vector(fact))
            text.append(text_signals(read_text(perception, p.decoded)))  # type: ignore[arg-type]
            labels.append(CATEGORY_IDS.index(category))
            dhashes.append(fact.dhash)
        print(f"  features {start + len(chunk)}/{len(rows)}", end="\r", flush=True)
    print()
    return Dataset(files, np.stack(features), np.asarray(text, dtype=np.float32),
                   np.asarray(labels), dhashes)


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


def fit_one(features: np.ndarray, labels: np.ndarray, names: tuple[str, ...],
            setting: tuple[float, float]) -> HeadWeights:
    """One head with one (l2, signal gain) setting; the gain applies to every named signal
    (everything after the embedding)."""
    l2, gain = setting
    return train_head(features, labels, CATEGORY_IDS, names, l2, STEPS,
                      signal_gain=gain, n_signals=len(names) - EMBEDDING_SIZE)


Setting = tuple[float, float]  # (l2, signal gain)
Settings = tuple[Setting, Setting, Setting]  # one per head: glance, first, text


def per_head(settings: Setting | Settings) -> Settings:
    """One setting for every head, or one each."""
    if isinstance(settings[0], tuple):
        return settings  # type: ignore[return-value]
    return (settings, settings, settings)  # type: ignore[return-value]


def head_inputs(data: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each head's feature matrix: glance, first, text."""
    return (data.features[:, GLANCE_COLUMNS], data.features,
            np.concatenate([data.features, data.text], axis=1))


HEAD_NAMES = (GLANCE_FEATURE_NAMES, FEATURE_NAMES, TEXT_FEATURE_NAMES)


def fit(data: Dataset, settings: Setting | Settings) -> Heads:
    """The three heads on the same photos, each with its setting. Each later head sees every
    photo (more examples than the gated ones it will answer for): its features are all there."""
    inputs = head_inputs(data)
    return Heads(*(fit_one(x, data.labels, names, setting) for x, names, setting
                   in zip(inputs, HEAD_NAMES, per_head(settings), strict=True)))


def choose_settings(data: Dataset, groups: np.ndarray) -> Settings:
    """Each head's (l2, gain) with the best inner-CV macro accuracy of that head alone.

    Chosen per head: a setting that suits the first head can leave the glance head, with its
    few signals, sure and wrong (seen once: l2 0.1 gave a glance head 67% right).
    """
    folds = grouped_stratified_folds(data.labels, groups, INNER_FOLDS, seed=1)
    chosen = []
    for x, names in zip(head_inputs(data), HEAD_NAMES, strict=True):
        best, best_score = GRID[0], -1.0
        for setting in GRID:
            predicted = np.empty_like(data.labels)
            for fold in range(INNER_FOLDS):
                test = folds == fold
                head = fit_one(x[~test], data.labels[~test], names, setting)
                predicted[test] = predict(head, x[test]).argmax(axis=1)
            score = accuracy(data.labels, predicted)
            if score > best_score:
                best, best_score = setting, score
        chosen.append(best)
    return tuple(chosen)  # type: ignore[return-value]


def nested_cross_validation(data: Dataset, groups: np.ndarray) -> CrossValidated:
    """Out-of-fold answers for every photo, and the setting each outer fold chose."""
    folds = grouped_stratified_folds(data.labels, groups, OUTER_FOLDS, seed=0)
    predicted = np.empty_like(data.labels)
    stages = np.empty_like(data.labels)
    glance = np.empty((len(data.labels), len(CATEGORY_IDS)))
    chosen = []
    for fold in range(OUTER_FOLDS):
        test = folds == fold
        setting = choose_settings(data.subset(~test), groups[~test])
        heads = fit(data.subset(~test), setting)
        predicted[test], stages[test], glance[test] = heads.predict_with_glance(data.subset(test))
        chosen.append(setting)
        print(f"  outer fold {fold + 1}/{OUTER_FOLDS}: (l2, gain) per head {setting} "
              f"acc={np.mean(predicted[test] == data.labels[test]):.3f}")
    return CrossValidated(predicted, stages, glance, chosen)


@dataclass(frozen=True)
class CrossValidated:
    """Out-of-fold answers, stages and glance probabilities, and the settings chosen."""

    predicted: np.ndarray
    stages: np.ndarray
    glance: np.ndarray
    chosen: list[Settings]


def most_common(settings: list[Setting]) -> Setting:
    """The setting chosen most often; ties go to the one chosen first."""
    return max(set(settings), key=lambda s: (settings.count(s), -settings.index(s)))


def glance_table(labels: np.ndarray, glance: np.ndarray, sure: float) -> dict[str, object]:
    """How often, and how rightly, the glance head alone would answer at a few thresholds
    (out of fold): what gates.GLANCE_SURE was chosen from."""
    table = {}
    for threshold in sorted({0.9, 0.95, 0.97, 0.99, GLANCE_SURE}):
        stops = glance.max(axis=1) >= threshold
        right = glance.argmax(axis=1)[stops] == labels[stops]
        table[str(threshold)] = {"share": round(float(stops.mean()), 4),
                                 "accuracy": round(float(right.mean()), 4) if len(right) else None}
    return {"threshold_in_use": sure, "by_threshold": table}


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
    entries = network_entries(models, args.backbone, args.detector)
    key = hashlib.sha256()
    for role in PERCEPTION_ROLES:
        key.update(sha256_file(models / str(entries[role]["file"])).encode())
    key.update(json.dumps(rows).encode())
    key.update(json.dumps(TEXT_FEATURE_NAMES).encode())
    for module in FEATURE_CODE:  # a change in how a signal is measured makes new features
        key.update((REPO / module).read_bytes())
    cache = REPO / "training" / "cache" / f"features-{key.hexdigest()[:16]}.npz"
    if cache.exists():
        with np.load(cache) as saved:
            return Dataset(list(saved["files"]), saved["features"], saved["text"],
                           saved["labels"], list(saved["dhashes"]))
    labels = read_labels(models / "imagenet_labels.json", models / "coco_labels.json")
    manifest = Manifest.model_validate({"version": "training", "files": entries})
    paths = {role: models / str(entries[role]["file"]) for role in PERCEPTION_ROLES}
    perception = build_perception(paths, manifest, labels, args.threads)
    data = compute_features(Path(args.photos), perception, rows)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, files=np.array(data.files), features=data.features, text=data.text,
             labels=data.labels, dhashes=np.array(data.dhashes))
    return data


def add_feature_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that say which photos and models the features come from."""
    parser.add_argument("--photos", default=str(DEFAULT_PHOTOS))
    parser.add_argument("--models", default=str(MODELS))
    parser.add_argument("--backbone", default="backbone-int8.onnx")
    parser.add_argument("--detector", default="detector-int8.onnx")


def main() -> int:
    """Train, evaluate and write the head."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_feature_arguments(parser)
    parser.add_argument("--out", default=str(MODELS),
                        help="folder for head.npz and head-text.npz")
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
    validated = nested_cross_validation(data, groups)
    chosen = validated.chosen
    result = report(data, validated.predicted)
    result["stages"] = stage_shares(data.labels, validated.stages)
    result["glance"] = glance_table(data.labels, validated.glance, GLANCE_SURE)
    # Each final head takes the setting the outer folds chose most often (ties: the first).
    final = tuple(most_common([c[k] for c in chosen]) for k in range(3))
    by_repo = read_sources(photos)
    sources = np.array([by_repo[name] for name in data.files])
    predicted_by_source, stages = by_source_held_out(data, sources, final)
    held_out = report(data, predicted_by_source)
    held_out["stages"] = stage_shares(data.labels, stages)
    held_out["protocol"] = (f"each of the {len(set(by_repo.values()))} source repositories "
                            "left out in turn, the head fitted on the rest with the setting "
                            f"{final} the nested CV chose")
    heads = fit(data, final)
    save_head(heads.glance, str(Path(args.out) / "head-glance.npz"))
    save_head(heads.first, str(Path(args.out) / "head.npz"))
    save_head(heads.text, str(Path(args.out) / "head-text.npz"))

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
