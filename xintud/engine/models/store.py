"""Load the shipped models: verified files → onnxruntime sessions, label tables and the head.

onnxruntime is imported when the first model loads, not with this module: a daemon that has
not seen a photo yet does not carry it (~20 MB); memory.py gives back what dropped models
leave behind.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from xintud.engine.head import HeadWeights, load_head
from xintud.engine.models.backbone import Backbone
from xintud.engine.models.detector import Detector
from xintud.engine.models.faces import FaceDetector, FaceNet
from xintud.engine.models.manifest import (
    REINSTALL_HINT,
    Manifest,
    ModelError,
    models_dir,
    read_manifest,
    verified_path,
)
from xintud.engine.models.providers import CPU, resolve_providers
from xintud.engine.models.text import TextDetector

if TYPE_CHECKING:
    import onnxruntime as ort

@dataclass(frozen=True)
class Labels:
    """ImageNet wnids/labels by class index and COCO names by class id."""

    imagenet_wnids: tuple[str, ...]
    imagenet_names: tuple[str, ...]
    coco_names: dict[int, str]


# The network files by manifest role; the face detector is three nets in cascade.
PERCEPTION_ROLES = ("backbone", "detector", "face_pnet", "face_rnet", "face_onet", "text")
HEAD_ROLES = ("head_glance", "head", "head_text")
LABEL_ROLES = ("imagenet_labels", "coco_labels")


@dataclass
class Perception:
    """The networks that look at pixels, each with its label table."""

    backbone: Backbone
    detector: Detector
    faces: FaceDetector
    text: TextDetector


@dataclass
class LoadedModels:
    """Everything the classifier needs, verified against the manifest."""

    version: str
    perception: Perception
    glance_head: HeadWeights  # the answer from the backbone alone, where it is sure
    head: HeadWeights  # the answer once the detector and the face detector have looked
    text_head: HeadWeights  # the answer once the text detector has read it too (engine.gates)
    manifest: Manifest
    threads: int = 1  # how many pictures may be analysed at once (one session thread each)
    providers: tuple[str, ...] = ("CPUExecutionProvider",)  # what the sessions run on


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
    # The arena stays on for every network, the face and text detectors (whose input sizes
    # vary) included: without it their tensors came from malloc and the daemon's peak RSS was
    # higher (267 and 252 vs 231 and 226 MiB, two runs each) and slower.
    options.log_severity_level = 3
    # Without VNNI (an AVX2-only CPU) the int8 kernels' U8S8 products saturate at 16 bits: on
    # such an AMD EPYC the backbone's top-1 fell from 0.85+ to 0.815 and the heads below their
    # floors. U8U8 there is exact; a CPU with VNNI is not affected by this setting.
    options.add_session_config_entry("session.x64quantprecision", "1")
    return options


def open_session(path: Path, threads: int, providers: Sequence[str] = (CPU,)
                 ) -> ort.InferenceSession:
    """An onnxruntime session for one verified model file (providers: resolve_providers)."""
    import onnxruntime as ort

    try:
        return ort.InferenceSession(
            str(path), sess_options=session_options(threads), providers=list(providers)
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(f"model file {path} cannot be loaded ({exc}); {REINSTALL_HINT}") from exc


def build_perception(paths: dict[str, Path], manifest: Manifest, labels: Labels,
                     threads: int = 1, providers: Sequence[str] = (CPU,)) -> Perception:
    """Sessions for the network files (by role, PERCEPTION_ROLES), run by the manifest's
    contracts."""
    files = manifest.files

    def session(role: str) -> ort.InferenceSession:
        return open_session(paths[role], threads, providers)

    nets = [FaceNet(name, session(f"face_{name}"), files[f"face_{name}"])
            for name in ("pnet", "rnet", "onet")]
    return Perception(
        backbone=Backbone(session("backbone"), files["backbone"],
                          labels.imagenet_wnids, labels.imagenet_names),
        detector=Detector(session("detector"), files["detector"], labels.coco_names),
        faces=FaceDetector(*nets),
        text=TextDetector(session("text"), files["text"]),
    )


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


def load_models(threads: int = 2, directory: Path | None = None,
                providers: Sequence[str] = ()) -> LoadedModels:
    """Verify and load every model in the manifest; raises ModelError with a fix on failure.

    `providers`: the config's names (resolve_providers; default the CPU alone).

    `threads` is how many pictures the classifier may analyse at once. Each session runs
    single-threaded and is shared by those workers: on networks this small, onnxruntime's
    intra-op threads spend their time waiting on each other (measured ~25% more CPU per image
    with 2 than with 1), while pictures side by side use every core fully.
    """
    directory = directory or models_dir()
    manifest = read_manifest(directory)
    for role in (*PERCEPTION_ROLES, *HEAD_ROLES, *LABEL_ROLES):
        if role not in manifest.files:
            raise ModelError(f"model manifest in {directory} lists no {role}; {REINSTALL_HINT}")
    files = manifest.files
    paths = {role: verified_path(directory, files[role]) for role in PERCEPTION_ROLES}
    chosen = resolve_providers(providers)
    perception = build_perception(paths, manifest, load_labels(directory, manifest),
                                  providers=chosen)
    return LoadedModels(
        version=manifest.version,
        perception=perception,
        glance_head=load_head(verified_path(directory, files["head_glance"])),
        head=load_head(verified_path(directory, files["head"])),
        text_head=load_head(verified_path(directory, files["head_text"])),
        manifest=manifest,
        threads=max(1, threads),
        providers=tuple(chosen),
    )




def load_heads(directory: Path | None = None) -> tuple[HeadWeights, HeadWeights, HeadWeights]:
    """The three shipped heads alone (glance, first, text), verified: what a refit starts
    from, without loading any network."""
    directory = directory or models_dir()
    files = read_manifest(directory).files
    return tuple(load_head(verified_path(directory, files[role]))  # type: ignore[return-value]
                 for role in HEAD_ROLES)
