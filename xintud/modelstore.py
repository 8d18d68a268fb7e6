"""Find, verify and load the shipped models (models/manifest.json and the files it lists).

Every file is checked against the sha256 in the manifest before it is used: a corrupt or
missing model is refused with a message that says how to get a good one back.

onnxruntime is imported when the first model loads, not with this module: a daemon that has
not seen a photo yet does not carry it (~20 MB). release_model_memory gives back what dropped
models leave behind.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import json
import logging
import os
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ValidationError

from xintud.hashing import sha256_file

if TYPE_CHECKING:
    import onnxruntime as ort

logger = logging.getLogger(__name__)

MODELS_DIR_ENV = "XINTUD_MODELS_DIR"
REINSTALL_HINT = (
    "reinstall xintud (pip install --force-reinstall xintud) or rebuild the models with "
    "`python -m training.build` from the source tree"
)


class ModelError(Exception):
    """A model that is missing, corrupt or unusable; the message says what to do."""


class InputContract(BaseModel):
    """How a model wants its input."""

    name: str
    shape: list[int | str]
    layout: str
    dtype: str
    color: str | None = None
    mean: float | None = None
    std: float | None = None
    resize: str | None = None


class ModelFile(BaseModel):
    """One file listed in the manifest."""

    file: str
    sha256: str
    bytes: int
    role: str
    input: InputContract | None = None
    outputs: list[str] = []
    labels: str | None = None
    provenance: dict[str, str] = {}
    accuracy: dict[str, object] = {}


class Manifest(BaseModel):
    """models/manifest.json."""

    version: str
    files: dict[str, ModelFile]


@dataclass(frozen=True)
class Labels:
    """ImageNet wnids/labels by class index and COCO names by class id."""

    imagenet_wnids: tuple[str, ...]
    imagenet_names: tuple[str, ...]
    coco_names: dict[int, str]


@dataclass(frozen=True)
class HeadWeights:
    """The category head: standardised features → softmax regression."""

    feature_names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # [n_features, n_categories]
    bias: np.ndarray  # [n_categories]
    categories: tuple[str, ...]


@dataclass
class Perception:
    """The networks that look at pixels: backbone and detector, with their label tables."""

    backbone: ort.InferenceSession
    detector: ort.InferenceSession
    labels: Labels


@dataclass
class LoadedModels:
    """Everything the classifier needs, verified against the manifest."""

    version: str
    perception: Perception
    head: HeadWeights
    manifest: Manifest
    threads: int = 1  # how many pictures may be analysed at once (one session thread each)


def models_dir() -> Path:
    """Where the models are: $XINTUD_MODELS_DIR if set, else the installed xintud.models."""
    override = os.environ.get(MODELS_DIR_ENV)
    if override:
        return Path(override)
    return Path(str(resources.files("xintud.models")))


def read_manifest(directory: Path) -> Manifest:
    """Read and validate manifest.json in directory."""
    path = directory / "manifest.json"
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except FileNotFoundError as exc:
        raise ModelError(f"model manifest {path} is missing; {REINSTALL_HINT}") from exc
    except (ValidationError, ValueError) as exc:
        raise ModelError(f"model manifest {path} is damaged ({exc}); {REINSTALL_HINT}") from exc


def verified_path(directory: Path, entry: ModelFile) -> Path:
    """The path of a manifest entry, after checking it exists and its sha256 matches."""
    path = directory / entry.file
    if not path.is_file():
        raise ModelError(f"model file {path} is missing; {REINSTALL_HINT}")
    actual = sha256_file(path)
    if actual != entry.sha256:
        raise ModelError(
            f"model file {path} is corrupt (sha256 {actual[:12]}…, manifest says "
            f"{entry.sha256[:12]}…); {REINSTALL_HINT}"
        )
    return path


def session_options(threads: int) -> ort.SessionOptions:
    """CPU session options for a background service: few threads, no spinning."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning threads burn CPU between batches; a daemon that idles most of the day must not.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # The memory pattern pre-plans one block per run for all activations; without it, each
    # tensor is taken from the arena as needed and given back early: half the peak memory of
    # two runs side by side (measured 17 vs 34 MB), at the same speed.
    options.enable_mem_pattern = False
    options.log_severity_level = 3
    return options


def open_session(path: Path, threads: int) -> ort.InferenceSession:
    """An onnxruntime CPU session for one verified model file."""
    import onnxruntime as ort

    try:
        return ort.InferenceSession(
            str(path), sess_options=session_options(threads), providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(f"model file {path} cannot be loaded ({exc}); {REINSTALL_HINT}") from exc


def load_labels(directory: Path, manifest: Manifest) -> Labels:
    """The ImageNet and COCO label tables named in the manifest."""
    return read_labels(verified_path(directory, manifest.files["imagenet_labels"]),
                       verified_path(directory, manifest.files["coco_labels"]))


def read_labels(imagenet_path: Path, coco_path: Path) -> Labels:
    """Label tables from their JSON files (imagenet: list of {wnid,label}; coco: {id: name})."""
    imagenet = json.loads(imagenet_path.read_text())
    coco = json.loads(coco_path.read_text())
    return Labels(
        imagenet_wnids=tuple(item["wnid"] for item in imagenet),
        imagenet_names=tuple(item["label"] for item in imagenet),
        coco_names={int(key): str(name) for key, name in coco.items()},
    )


def load_head(path: Path) -> HeadWeights:
    """The category head's weights from its .npz file."""
    with np.load(path, allow_pickle=False) as data:
        return HeadWeights(
            feature_names=tuple(str(name) for name in data["feature_names"]),
            mean=data["mean"].astype(np.float32),
            scale=data["scale"].astype(np.float32),
            weights=data["weights"].astype(np.float32),
            bias=data["bias"].astype(np.float32),
            categories=tuple(str(name) for name in data["categories"]),
        )


def load_models(threads: int = 2, directory: Path | None = None) -> LoadedModels:
    """Verify and load every model in the manifest; raises ModelError with a fix on failure.

    `threads` is how many pictures the classifier may analyse at once. Each session runs
    single-threaded and is shared by those workers: on networks this small, onnxruntime's
    intra-op threads spend their time waiting on each other (measured ~25% more CPU per image
    with 2 than with 1), while pictures side by side use every core fully.
    """
    directory = directory or models_dir()
    manifest = read_manifest(directory)
    for role in ("backbone", "detector", "head", "imagenet_labels", "coco_labels"):
        if role not in manifest.files:
            raise ModelError(f"model manifest in {directory} lists no {role}; {REINSTALL_HINT}")
    files = manifest.files
    perception = Perception(
        backbone=open_session(verified_path(directory, files["backbone"]), 1),
        detector=open_session(verified_path(directory, files["detector"]), 1),
        labels=load_labels(directory, manifest),
    )
    return LoadedModels(
        version=manifest.version,
        perception=perception,
        head=load_head(verified_path(directory, files["head"])),
        manifest=manifest,
        threads=max(1, threads),
    )


# madvise(2) advice: drop these pages from the process; a later access reads them in again.
MADV_DONTNEED = 4
# mallopt(3) parameter: the most malloc arenas glibc may create.
M_ARENA_MAX = -8
# Where the libraries live that only the analysis runs: the inference runtime, numpy and
# Pillow with the codecs their wheels bundle. The idle daemon runs none of their code.
ANALYSIS_LIBRARY_DIRS = ("/onnxruntime/", "/numpy/", "/numpy.libs/", "/PIL/", "/pillow.libs/")


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def use_one_malloc_arena() -> None:
    """Have every thread allocate from one glibc arena; call before any worker thread starts.

    By default each thread that allocates gets an arena of its own, and freed memory stays
    scattered over them: a daemon that loads and drops the models over a day kept ~7 MB more
    after each cycle (measured: 44, 52, 68, 71, 76 MB). With one arena it stays flat (41 MB)
    at the same speed: the workers allocate few, large blocks.
    """
    libc = _glibc()
    if libc is not None:
        libc.mallopt(M_ARENA_MAX, 1)


def release_model_memory() -> None:
    """Give back to the system what models that were just dropped leave behind in this process.

    Freeing the sessions returns their memory to the C heap, not to the system: glibc keeps
    freed pages for reuse, so malloc_trim hands them back (~45 MB after a batch). And the
    libraries stay loaded (Python cannot unload an extension module) with every code page the
    analysis touched still resident (~25 MB, onnxruntime most); those pages are read-only and
    unchanged from their files, so they are dropped from the process, to be read in again
    from the page cache when the models next load. Linux/glibc only; elsewhere it collects.
    """
    gc.collect()
    libc = _glibc()
    if libc is None:
        return
    try:
        libc.malloc_trim(0)
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        for start, end in analysis_code_mappings():
            libc.madvise(start, end - start, MADV_DONTNEED)
    except OSError as exc:  # no /proc: the code pages stay
        logger.debug("could not release model memory: %s", exc)


def analysis_code_mappings() -> list[tuple[int, int]]:
    """Address ranges of the analysis libraries' code (read-only, executable, private)."""
    ranges = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            # Only code: "r-xp" pages are never written, so dropping them loses nothing.
            if len(fields) == 6 and fields[1] == "r-xp" and any(
                    mark in fields[5] for mark in ANALYSIS_LIBRARY_DIRS):
                start, end = (int(value, 16) for value in fields[0].split("-"))
                ranges.append((start, end))
    return ranges
