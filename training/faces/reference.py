"""facenet-pytorch's own ``detect_face``, run with our nets: the yardstick for the engine's numpy
pipeline (xintud/engine/models/faces.py), which must find the same faces with the ONNX files.

``detect_face`` imports torchvision for two things: ``batched_nms`` and ``to_tensor`` (the latter
only for cropping faces, which detection never calls). torchvision does not install beside our
torch, so while its module loads, a stand-in torchvision with a torch-only ``batched_nms``
(greedy NMS, torchvision's semantics: continuous areas, a box goes when its IoU with a kept one
is above the threshold) sits in sys.modules, and is taken out again at once. The module is
loaded from its file, not through the package, whose __init__ pulls in more of torchvision.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

DETECT_FACE = Path("models") / "utils" / "detect_face.py"
STAND_IN_MODULES = ("torchvision", "torchvision.transforms", "torchvision.transforms.functional",
                    "torchvision.ops", "torchvision.ops.boxes")


def greedy_nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> torch.Tensor:
    """Indices kept by greedy NMS, best score first (torchvision.ops.nms semantics)."""
    order = torch.argsort(scores, descending=True, stable=True)
    x0, y0, x1, y1 = boxes.unbind(1)
    area = (x1 - x0) * (y1 - y0)
    keep = []
    while order.numel():
        best, rest = order[0], order[1:]
        keep.append(int(best))
        inter_w = (torch.minimum(x1[best], x1[rest]) - torch.maximum(x0[best], x0[rest])).clamp(0)
        inter_h = (torch.minimum(y1[best], y1[rest]) - torch.maximum(y0[best], y0[rest])).clamp(0)
        inter = inter_w * inter_h
        order = rest[inter / (area[best] + area[rest] - inter) <= threshold]
    return torch.tensor(keep, dtype=torch.long)


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor,
                threshold: float) -> torch.Tensor:
    """NMS within each idxs group, as torchvision.ops.batched_nms (boxes offset per group)."""
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.long)
    offsets = idxs.to(boxes) * (boxes.max() + 1)
    return greedy_nms(boxes + offsets[:, None], scores, threshold)


@contextmanager
def torchvision_stand_in() -> Iterator[None]:
    """A minimal torchvision in sys.modules for the duration of one import."""
    saved = {name: sys.modules.get(name) for name in STAND_IN_MODULES}
    modules = {name: types.ModuleType(name) for name in STAND_IN_MODULES}
    modules["torchvision.ops.boxes"].batched_nms = batched_nms  # type: ignore[attr-defined]
    modules["torchvision.transforms"].functional = modules["torchvision.transforms.functional"]
    sys.modules.update(modules)
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def load_detect_face() -> types.ModuleType:
    """facenet_pytorch/models/utils/detect_face.py as a module of its own."""
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("facenet-pytorch is not installed (pip install --no-deps "
                         "facenet-pytorch==2.6.0)")
    path = Path(next(iter(spec.submodule_search_locations))) / DETECT_FACE
    module_spec = importlib.util.spec_from_file_location("facenet_detect_face", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    with torchvision_stand_in():
        module_spec.loader.exec_module(module)
    return module


def reference_faces(nets: dict[str, nn.Module], picture: np.ndarray, min_face_size: float,
                    thresholds: tuple[float, float, float], factor: float,
                    module: types.ModuleType | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(boxes [K,5], landmarks [K,5,2]) in pixels from facenet-pytorch's detect_face."""
    module = module or load_detect_face()
    with torch.inference_mode():
        boxes, points = module.detect_face(picture[None], min_face_size, nets["pnet"],
                                           nets["rnet"], nets["onet"], list(thresholds), factor,
                                           "cpu")
    return (np.asarray(boxes[0], np.float32).reshape(-1, 5),
            np.asarray(points[0], np.float32).reshape(-1, 5, 2))
