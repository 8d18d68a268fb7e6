"""Every fit of what the user taught, as a versioned file in the user's state folder, and which
one is in use.

`learned/v0003.npz` holds the remembered examples (embeddings, categories, their photos'
hashes), `learned/v0003.json` what a person reads: when, from how many corrections, how it
scored on the held-back ones against the version before, whether it was taken into use and
why. `learned/current` names the version in use ("shipped": none). Files are written to a
temporary name and renamed, so a crash leaves either the old file or the new one.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from xintud.core.categories import CATEGORY_IDS
from xintud.engine.learned import Learned, LearnedHeads
from xintud.learning.memory import CorrectionMemory

SHIPPED = "shipped"
_NAME = re.compile(r"v(\d{4,})")


@dataclass(frozen=True)
class VersionInfo:
    """What a person reads about one fit."""

    version: str
    made_at: float
    examples: int  # corrections it remembers
    held_back: int  # corrections it was checked on
    score_before: float | None  # share of held-back corrections the version before got right
    score_after: float | None  # ... and this one
    taken: bool  # taken into use when it was made
    note: str
    per_category: dict[str, int] = field(default_factory=dict)  # examples per category


@dataclass(frozen=True)
class StoredVersion:
    """A version read back: its info, its memory, the photos that memory remembers, and the
    heads with the user's own categories (None: there are none)."""

    info: VersionInfo
    memory: CorrectionMemory
    hashes: tuple[str, ...]
    heads: LearnedHeads | None = None

    def learned(self) -> Learned:
        """The version as the engine applies it."""
        return Learned(self.info.version, self.memory, self.heads)

    @property
    def categories(self) -> tuple[str, ...]:
        """The categories of the user's own this version knows."""
        return () if self.heads is None else tuple(
            c for c in self.heads.categories if c not in CATEGORY_IDS)


class VersionError(Exception):
    """A version that does not exist or cannot be read; the message says what to do."""


class ModelVersions:
    """The versions in one folder (made on first write, private to the user)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def names(self) -> list[str]:
        """Every version's name, oldest first."""
        if not self.directory.is_dir():
            return []
        found = [p.stem for p in self.directory.glob("v*.json") if _NAME.fullmatch(p.stem)]
        return sorted(found, key=lambda name: int(name[1:]))

    def infos(self) -> list[VersionInfo]:
        """Every version's info, oldest first."""
        return [self.info(name) for name in self.names()]

    def info(self, version: str) -> VersionInfo:
        """One version's info; VersionError when it is not there."""
        path = self.directory / f"{version}.json"
        try:
            return VersionInfo(**json.loads(path.read_text()))
        except FileNotFoundError:
            raise VersionError(f"there is no model version {version!r}; "
                               "`xintuctl model` lists them") from None
        except (ValueError, TypeError) as exc:
            raise VersionError(f"{path} cannot be read ({exc}); move it aside, or roll back "
                               "to another version") from exc

    def current_name(self) -> str:
        """The version in use, or SHIPPED."""
        try:
            name = (self.directory / "current").read_text().strip()
        except FileNotFoundError:
            return SHIPPED
        return name if name == SHIPPED or _NAME.fullmatch(name) else SHIPPED

    def current(self, shipped: LearnedHeads) -> StoredVersion | None:
        """The version in use, read back; None for the shipped models alone."""
        name = self.current_name()
        return None if name == SHIPPED else self.load(name, shipped)

    def load(self, version: str, shipped: LearnedHeads) -> StoredVersion:
        """A version's memory, heads and info (its heads are columns on the shipped heads);
        VersionError when missing or unreadable."""
        info = self.info(version)
        path = self.directory / f"{version}.npz"
        try:
            with np.load(path, allow_pickle=False) as data:
                memory = CorrectionMemory(
                    embeddings=data["embeddings"].astype(np.float32),
                    categories=tuple(str(c) for c in data["categories"]),
                    near=float(data["near"]), bonus=float(data["bonus"]))
                hashes = tuple(str(h) for h in data["hashes"])
                heads = _heads_from(data, shipped) if "head_categories" in data else None
        except (OSError, KeyError, ValueError) as exc:
            raise VersionError(f"model version file {path} cannot be read ({exc}); roll back "
                               "to another version with `xintuctl model rollback`") from exc
        return StoredVersion(info, memory, hashes, heads)

    def next_name(self) -> str:
        """The name the next version gets."""
        names = self.names()
        return f"v{(int(names[-1][1:]) + 1) if names else 1:04d}"

    def save(self, info: VersionInfo, memory: CorrectionMemory, heads: LearnedHeads | None,
             hashes: tuple[str, ...]) -> StoredVersion:
        """Write a new version (named info.version); make it current when info.taken."""
        self._make_directory()
        stem = self.directory / info.version
        if stem.with_suffix(".json").exists():
            raise VersionError(f"model version {info.version} exists already")
        temporary = stem.with_name(f".{info.version}.npz.part")
        with open(temporary, "wb") as handle:
            np.savez(handle, embeddings=memory.embeddings.astype(np.float32),
                     categories=np.array(memory.categories, dtype=str),
                     hashes=np.array(hashes, dtype=str), near=memory.near, bonus=memory.bonus,
                     **({} if heads is None else _heads_arrays(heads)))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, stem.with_suffix(".npz"))
        _write_text(stem.with_suffix(".json"), json.dumps(asdict(info), indent=1))
        if info.taken:
            self.use(info.version)
        return StoredVersion(info, memory, hashes, heads)

    def use(self, version: str) -> None:
        """Put a version (or SHIPPED) into use."""
        if version != SHIPPED:
            self.info(version)  # refuses a version that is not there
        self._make_directory()
        _write_text(self.directory / "current", version + "\n")

    def previous(self) -> str:
        """The version to roll back to: the last taken one before the current, or SHIPPED."""
        current = self.current_name()
        if current == SHIPPED:
            raise VersionError("the shipped models are in use already; nothing to roll back")
        earlier = [info.version for info in self.infos()
                   if info.taken and int(info.version[1:]) < int(current[1:])]
        return earlier[-1] if earlier else SHIPPED

    def _make_directory(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)


_ROLES = ("glance", "head", "text")


def _heads_arrays(heads: LearnedHeads) -> dict[str, np.ndarray]:
    """What a version keeps of its heads: weights and biases (the standardisation and the
    feature names are the shipped heads')."""
    arrays = {"head_categories": np.array(heads.categories, dtype=str)}
    for role in _ROLES:
        head = getattr(heads, role)
        arrays[f"{role}_weights"] = head.weights
        arrays[f"{role}_bias"] = head.bias
    return arrays


def _heads_from(data: Any, shipped: LearnedHeads) -> LearnedHeads:
    categories = tuple(str(c) for c in data["head_categories"])
    built = {}
    for role in _ROLES:
        base = getattr(shipped, role)
        weights = data[f"{role}_weights"].astype(np.float32)
        if weights.shape != (len(base.feature_names), len(categories)):
            raise ValueError(f"its {role} head does not fit the shipped one (made by another "
                             "version of xintud?)")
        built[role] = replace(base, weights=weights, bias=data[f"{role}_bias"].astype(
            np.float32), categories=categories)
    return LearnedHeads(**built)


def _write_text(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.part")
    with open(temporary, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
