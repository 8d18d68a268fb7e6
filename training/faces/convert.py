"""The three MTCNN nets → ONNX files that take raw RGB pixels, NHWC float32.

Each graph normalises its own input ((pixel − 127.5) · 0.0078125, then NCHW) and returns only
what the pipeline reads: the face probability (softmax channel 1), the box offsets, and for
O-net the five landmarks. The input is float, not uint8: P-net sees the area-resampled levels
of the image pyramid, and R-/O-net area-resampled crops, both fractional.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from training.common import sha256_file
from training.faces.nets import NET_NAMES, SOURCE_LICENCE, SOURCE_PACKAGE, SOURCE_VERSION
from xintud.engine.models.manifest import InputContract, ModelFile

PIXEL_MEAN = 127.5  # facenet-pytorch's detect_face: (x - 127.5) * 0.0078125, RGB
PIXEL_SCALE = 0.0078125
INPUT_NAME = "image"
OUTPUT_NAMES: dict[str, tuple[str, ...]] = {
    "pnet": ("offsets", "face"),
    "rnet": ("offsets", "face"),
    "onet": ("offsets", "landmarks", "face"),
}
FILE_NAMES = {name: f"faces-{name}.onnx" for name in NET_NAMES}
CROP_SIZES = {"rnet": 24, "onet": 48}
# P-net is exported at this size and runs at any height and width of at least 12 (one window).
PNET_EXAMPLE = (1, 64, 80, 3)


class PixelInput(nn.Module):
    """Wraps one net: NHWC float pixels in, the pipeline's outputs out (face = P(face))."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The outputs named in OUTPUT_NAMES, for a float32 NHWC batch of 0..255 RGB pixels."""
        x = ((image - PIXEL_MEAN) * PIXEL_SCALE).permute(0, 3, 1, 2)
        *regressions, probabilities = self.net(x)
        return (*regressions, probabilities[:, 1])


def example_input(name: str) -> torch.Tensor:
    """A zero batch of the net's export shape."""
    if name == "pnet":
        return torch.zeros(PNET_EXAMPLE)
    size = CROP_SIZES[name]
    return torch.zeros((1, size, size, 3))


def dynamic_axes(name: str) -> dict[str, dict[int, str]]:
    """Batch is dynamic for every net; P-net's height and width (in and out) too."""
    if name == "pnet":
        return {INPUT_NAME: {0: "N", 1: "H", 2: "W"}, "offsets": {0: "N", 2: "h", 3: "w"},
                "face": {0: "N", 1: "h", 2: "w"}}
    return {key: {0: "N"} for key in (INPUT_NAME, *OUTPUT_NAMES[name])}


def export_onnx(name: str, net: nn.Module, path: Path, opset: int = 17) -> None:
    """Export one net wrapped in PixelInput to path, and check the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # The legacy (TorchScript) exporter gives a plain graph, as for the backbone; its
    # deprecation notice says nothing about these models.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export")
        warnings.filterwarnings("ignore", message="The feature will be removed")
        torch.onnx.export(
            PixelInput(net).eval(),
            (example_input(name),),
            str(path),
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES[name]),
            dynamic_axes=dynamic_axes(name),
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)


def export_all(nets: dict[str, nn.Module], out: Path, opset: int = 17) -> dict[str, Path]:
    """Export the three nets into out; their paths by name."""
    paths = {}
    for name in NET_NAMES:
        paths[name] = out / FILE_NAMES[name]
        export_onnx(name, nets[name], paths[name], opset)
    return paths


def torch_outputs(net: nn.Module, images: np.ndarray) -> tuple[np.ndarray, ...]:
    """PyTorch reference outputs (as OUTPUT_NAMES) for float32 NHWC pixel images."""
    with torch.inference_mode():
        outputs = PixelInput(net)(torch.from_numpy(np.ascontiguousarray(images, np.float32)))
    return tuple(output.numpy() for output in outputs)


def input_shape(name: str) -> list[int | str]:
    """The input's shape as the manifest states it (names for the dynamic axes)."""
    if name == "pnet":
        return ["N", "H", "W", 3]
    size = CROP_SIZES[name]
    return ["N", size, size, 3]


def contract(name: str, path: Path) -> ModelFile:
    """The manifest entry for one exported net: the contract the engine's FaceNet checks."""
    resize = ("image pyramid, area-resampled (adaptive average pooling)" if name == "pnet"
              else f"box crop clipped to the picture, area-resampled to {CROP_SIZES[name]}")
    return ModelFile(
        file=path.name,
        sha256=sha256_file(path),
        bytes=path.stat().st_size,
        role=f"face_{name}",
        input=InputContract(name=INPUT_NAME, shape=input_shape(name), layout="NHWC",
                            dtype="float32", color="RGB", mean=PIXEL_MEAN, std=1 / PIXEL_SCALE,
                            resize=resize),
        outputs=list(OUTPUT_NAMES[name]),
        provenance={"package": SOURCE_PACKAGE, "version": SOURCE_VERSION,
                    "licence": SOURCE_LICENCE, "made_by": "training/faces/", "variant": "fp32"},
    )
