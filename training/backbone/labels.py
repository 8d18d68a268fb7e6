"""imagenet_labels.json: the 1000 ImageNet-1k classes in output order, from timm's info files."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from training.common import sha256_file

TIMM_VERSION = "1.0.31"
TIMM_INFO_DIR = "timm/data/_info"
LABELS_NAME = "imagenet_labels.json"


@dataclass(frozen=True)
class ImagenetLabel:
    """One ImageNet-1k class in model output order."""

    wnid: str
    label: str


def read_timm_info(name: str, timm_wheel: Path | None) -> str:
    """Read one of timm's data/_info files from a wheel, or from the installed package.

    timm is never imported: it pulls in torchvision, which we neither need nor trust here.
    """
    if timm_wheel is not None:
        with zipfile.ZipFile(timm_wheel) as wheel:
            return wheel.read(f"{TIMM_INFO_DIR}/{name}").decode("utf-8")
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "timm's ImageNet label files are needed: run "
            f"`pip install --no-deps timm=={TIMM_VERSION}` or pass --timm-wheel PATH.whl "
            f"(from `pip download --no-deps timm=={TIMM_VERSION}`)"
        )
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    return (package_dir / "data" / "_info" / name).read_text(encoding="utf-8")


def timm_source(timm_wheel: Path | None) -> str:
    """Say where the label files came from, for the report."""
    if timm_wheel is not None:
        return f"{timm_wheel.name} (sha256 {sha256_file(timm_wheel)})"
    return f"installed timm {importlib.metadata.version('timm')}"


def imagenet_labels(timm_wheel: Path | None) -> list[ImagenetLabel]:
    """The 1000 ImageNet-1k classes in index order, each with its first WordNet lemma."""
    wnids = read_timm_info("imagenet_synsets.txt", timm_wheel).split()
    lemmas = {}
    for line in read_timm_info("imagenet_synset_to_lemma.txt", timm_wheel).splitlines():
        wnid, _, names = line.partition("\t")
        lemmas[wnid] = names.split(",")[0].strip()
    if len(wnids) != 1000 or len(set(wnids)) != 1000:
        raise SystemExit(f"imagenet_synsets.txt lists {len(wnids)} wnids, expected 1000 unique")
    missing = [w for w in wnids if not lemmas.get(w)]
    if missing:
        raise SystemExit(f"imagenet_synset_to_lemma.txt has no lemma for {missing[:5]}")
    return [ImagenetLabel(wnid=w, label=lemmas[w]) for w in wnids]


def write_labels(labels: Sequence[ImagenetLabel], path: Path) -> None:
    """Write labels as a JSON list of {"wnid", "label"} in class-index order."""
    # One class per line: readable, and a diff shows exactly which class changed.
    lines = ",\n".join(json.dumps(asdict(label), ensure_ascii=False) for label in labels)
    path.write_text(f"[\n{lines}\n]\n", encoding="utf-8")
