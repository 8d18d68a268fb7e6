"""How well duplicates are found: real transformations of ../shared/photos and the real
near-duplicate groups of ../shared/neardup, pairwise precision/recall per tier, distractors
grouped, and how often the best shot is the sharp one or the original.

Run with `python -m bench.dupes` (see there). The transformed copies are written to a temp dir,
never into the repository.
"""

from __future__ import annotations

import csv
import io
import itertools
import random
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from xintud.core.facts import Analysis
from xintud.duplicates.compare import Tier
from xintud.duplicates.fingerprint import Fingerprint, fingerprint_of_file
from xintud.duplicates.report import GroupReport, find_groups
from xintud.engine.classify import Classifier, Job
from xintud.engine.models.store import load_models

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
TRANSFORMS = ("reencode", "resize", "crop", "exif_strip", "exif_rotate", "chat_resave")


@dataclass(frozen=True)
class PairScore:
    """Pairwise figures of one grouping against the truth."""

    true_pairs: int
    found_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.found_pairs if self.found_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0


def fingerprints_of(paths: Sequence[Path], threads: int = 2) -> dict[str, Fingerprint]:
    """Analyse files as `xintud dupes` does; key = path text."""
    models = load_models(threads=threads)
    found = {}
    with Classifier(models, batch_size=8, decode_threads=2) as classifier:
        for result in classifier.classify(Job(path, None) for path in paths):
            if isinstance(result, Analysis):
                found[result.path] = fingerprint_of_file(result, key=result.path)
    return found


def pairs_in(groups: Iterable[Iterable[str]]) -> set[tuple[str, str]]:
    """Every unordered pair of members within each group."""
    return {tuple(sorted(pair)) for group in groups  # type: ignore[misc]
            for pair in itertools.combinations(sorted(group), 2)}


def score_pairs(truth: set[tuple[str, str]], found: set[tuple[str, str]]) -> PairScore:
    """Pairwise agreement of found pairs with true pairs."""
    return PairScore(len(truth), len(found), len(truth & found))


def transform(image: Image.Image, exif: bytes | None, kind: str, rng: random.Random) -> bytes:
    """One real-world copy of a photo (JPEG bytes)."""
    out = io.BytesIO()
    if kind == "reencode":
        image.save(out, "JPEG", quality=rng.randint(50, 95), exif=exif or b"")
    elif kind == "resize":
        scale = rng.uniform(0.25, 0.5)
        size = (max(16, round(image.width * scale)), max(16, round(image.height * scale)))
        image.resize(size, Image.Resampling.LANCZOS).save(out, "JPEG", quality=90)
    elif kind == "crop":
        share = rng.uniform(0.03, 0.10)
        dx, dy = round(image.width * share), round(image.height * share)
        x0, y0 = rng.randint(0, dx), rng.randint(0, dy)
        image.crop((x0, y0, image.width - (dx - x0), image.height - (dy - y0))).save(
            out, "JPEG", quality=90)
    elif kind == "exif_strip":
        image.save(out, "JPEG", quality=92)
    elif kind == "exif_rotate":
        # Pixels stored sideways with orientation 6, as phones store portrait shots: the photo
        # shows as before.
        tags = Image.Exif()
        tags[0x0112] = 6
        image.transpose(Image.Transpose.ROTATE_90).save(out, "JPEG", quality=92,
                                                        exif=tags.tobytes())
    elif kind == "chat_resave":
        copy = image.copy()
        copy.thumbnail((1280, 1280), Image.Resampling.BILINEAR)
        copy.save(out, "JPEG", quality=70, optimize=True)
    else:
        raise ValueError(kind)
    return out.getvalue()


def flattened(image: Image.Image) -> Image.Image:
    """RGB as viewers show it: transparency over white (as the engine decodes it; a plain
    convert("RGB") would put a transparent screenshot on black — another picture)."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGB", rgba.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    return image.convert("RGB")


def make_transformed(photos: Sequence[Path], folder: Path, seed: int = 7
                     ) -> dict[str, list[Path]]:
    """For each photo, its six copies in `folder`; original path text → [original, copies]."""
    rng = random.Random(seed)
    families = {}
    for number, photo in enumerate(photos):
        with Image.open(photo) as opened:
            exif = opened.info.get("exif")
            image = flattened(opened)
        members = [photo]
        for kind in TRANSFORMS:
            target = folder / f"p{number:04d}-{kind}.jpg"
            target.write_bytes(transform(image, exif, kind, rng))
            members.append(target)
        families[str(photo)] = members
    return families


def read_manifest(path: Path) -> list[dict[str, str]]:
    """The rows of a shared folder's manifest.csv."""
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def pick_photos(count: int, seed: int = 11) -> list[Path]:
    """A fixed sample of the labelled photos, spread over the categories."""
    rows = read_manifest(SHARED / "photos" / "manifest.csv")
    random.Random(seed).shuffle(rows)
    return sorted(SHARED / "photos" / row["file"] for row in rows[:count])


def transformations_figures(count: int) -> dict[str, object]:
    """exact+same precision/recall over copies of `count` labelled photos, per transform."""
    with tempfile.TemporaryDirectory(prefix="xintud-dupes-bench-") as tmp:
        photos = pick_photos(count)
        families = make_transformed(photos, Path(tmp))
        paths = [path for members in families.values() for path in members]
        prints = fingerprints_of(paths)
        groups = find_groups(prints.values(), Tier.SAME)
        found = pairs_in([m.path for m in g.members] for g in groups)
        truth = pairs_in([str(p) for p in members] for members in families.values())
        per_transform = {}
        for kind in TRANSFORMS:
            kind_truth = {pair for pair in truth if any(kind in part for part in pair)
                          and any(str(photo) in pair for photo in photos)}
            per_transform[kind] = round(score_pairs(kind_truth, found).recall, 4)
        overall = score_pairs(truth, found)
        wrong = sorted(found - truth)
        return {"photos": len(photos), "files": len(paths),
                "precision": round(overall.precision, 4), "recall": round(overall.recall, 4),
                "recall_by_transform": per_transform,
                "wrong_pairs": [[Path(a).name, Path(b).name] for a, b in wrong[:20]],
                "best_is_original": _originals_chosen(groups, families)}


def _originals_chosen(groups: list[GroupReport], families: dict[str, list[Path]]) -> float:
    originals = set(families)
    with_original = [g for g in groups if any(m.path in originals for m in g.members)]
    chosen = sum(1 for g in with_original if g.best in originals)
    return round(chosen / len(with_original), 4) if with_original else 0.0


def neardup_figures() -> dict[str, object]:
    """Per kind of real near-duplicate group: pairwise recall at each tier, precision,
    distractors grouped, and best shot = the sharp/original one."""
    folder = SHARED / "neardup"
    rows = read_manifest(folder / "manifest.csv")
    paths = {str(folder / row["file"]): row for row in rows}
    prints = fingerprints_of([Path(p) for p in paths])
    truth_groups: dict[str, list[str]] = {}
    for path, row in paths.items():
        if row["kind"] not in ("distractor", "singleton"):
            truth_groups.setdefault(row["group"], []).append(path)
    truth = pairs_in(truth_groups.values())
    figures: dict[str, object] = {"files": len(paths), "analysed": len(prints)}
    for loosest in (Tier.SAME, Tier.BURST):
        groups = find_groups(prints.values(), loosest)
        found = pairs_in([m.path for m in g.members] for g in groups)
        by_kind = {}
        for kind in ("edit", "blur", "burst"):
            kind_truth = {p for p in truth if paths[p[0]]["kind"] == kind}
            by_kind[kind] = round(score_pairs(kind_truth, found).recall, 4)
        overall = score_pairs(truth, found)
        grouped = {m.path for g in groups for m in g.members}
        distractors = [p for p, row in paths.items() if row["kind"] == "distractor"]
        figures[f"up_to_{loosest.value}"] = {
            "precision": round(overall.precision, 4), "recall": round(overall.recall, 4),
            "recall_by_kind": by_kind,
            "distractors_grouped": f"{sum(p in grouped for p in distractors)}/{len(distractors)}",
            "wrong_pairs": [[Path(a).name, Path(b).name] for a, b in sorted(found - truth)],
        }
        if loosest is Tier.BURST:
            figures["best_shot"] = _best_shot_figures(groups, paths)
    return figures


def _best_shot_figures(groups: list[GroupReport], paths: dict[str, dict[str, str]]
                       ) -> dict[str, object]:
    marked = {p for p, row in paths.items() if row["best"] == "1"}
    relevant = [g for g in groups if any(m.path in marked for m in g.members)]
    right = [g for g in relevant if g.best in marked]
    wrong = [[Path(g.best).name, next(Path(m.path).name for m in g.members if m.path in marked)]
             for g in relevant if g.best not in marked]
    return {"groups_with_a_marked_best": len(relevant), "chosen_right": len(right),
            "share": round(len(right) / len(relevant), 4) if relevant else None,
            "wrong (chosen, marked)": wrong}


def labelled_photos_figures() -> dict[str, object]:
    """Groups among all of ../shared/photos: distinct pictures from 52 sources (ID photos of
    different people on one backdrop, screenshots of one app), so every group found is either
    a real copy within the collection or a false group — listed for a person to check."""
    rows = read_manifest(SHARED / "photos" / "manifest.csv")
    prints = fingerprints_of([SHARED / "photos" / row["file"] for row in rows])
    groups = find_groups(prints.values(), Tier.BURST)
    return {"photos": len(prints), "groups": len(groups),
            "photos_grouped": sum(len(g.members) for g in groups),
            "groups_found": [[g.tier] + [Path(m.path).name for m in g.members] for g in groups]}
