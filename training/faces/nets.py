"""MTCNN's P-, R- and O-nets in PyTorch, laid out to load facenet-pytorch 2.6.0's state dicts.

The layer names are the keys of the wheel's ``facenet_pytorch/data/{pnet,rnet,onet}.pt`` so the
state dicts load strictly, with no renaming. Details that decide the numbers:
- PReLU has one slope per channel (per feature after the dense layers);
- max pooling rounds up (``ceil_mode=True``), as Caffe did;
- the weights come from the original Caffe model, which saw images transposed (width first), so
  before the first dense layer R- and O-net flatten the feature map in (W, H, C) order — the
  ``permute(0, 3, 2, 1)`` facenet-pytorch uses, kept here verbatim;
- the nets take float NCHW RGB already normalised as (pixel − 127.5) · 0.0078125.

Only training/ imports this module; the daemon uses the exported ONNX files.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

SOURCE_PACKAGE = "facenet-pytorch"
SOURCE_VERSION = "2.6.0"
SOURCE_LICENCE = "MIT"
NET_NAMES = ("pnet", "rnet", "onet")


class PNet(nn.Module):
    """Proposal net: fully convolutional, one 12x12 window every 2 px of its input.

    forward → (offsets [N,4,H',W'], probabilities [N,2,H',W']; channel 1 is "face").
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, kernel_size=3)
        self.prelu1 = nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(10, 16, kernel_size=3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, kernel_size=3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)
        self.softmax4_1 = nn.Softmax(dim=1)
        self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.prelu1(self.conv1(x))
        x = self.pool1(x)
        x = self.prelu2(self.conv2(x))
        x = self.prelu3(self.conv3(x))
        return self.conv4_2(x), self.softmax4_1(self.conv4_1(x))


class RNet(nn.Module):
    """Refine net on 24x24 crops. forward → (offsets [N,4], probabilities [N,2])."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, kernel_size=3)
        self.prelu1 = nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(28, 48, kernel_size=3)
        self.prelu2 = nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(48, 64, kernel_size=2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.softmax5_1 = nn.Softmax(dim=1)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        # The Caffe weights expect the transposed (W, H, C) flattening: see the module docstring.
        x = x.permute(0, 3, 2, 1).contiguous()
        x = self.prelu4(self.dense4(x.view(x.shape[0], -1)))
        return self.dense5_2(x), self.softmax5_1(self.dense5_1(x))


class ONet(nn.Module):
    """Output net on 48x48 crops.

    forward → (offsets [N,4], landmarks [N,10]: five x then five y, as fractions of the crop,
    probabilities [N,2]).
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3)
        self.prelu1 = nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.prelu2 = nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(64, 64, kernel_size=3)
        self.prelu3 = nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4 = nn.Conv2d(64, 128, kernel_size=2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.softmax6_1 = nn.Softmax(dim=1)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = x.permute(0, 3, 2, 1).contiguous()  # transposed flattening, as in RNet
        x = self.prelu5(self.dense5(x.view(x.shape[0], -1)))
        return self.dense6_2(x), self.dense6_3(x), self.softmax6_1(self.dense6_1(x))


NET_CLASSES: dict[str, type[nn.Module]] = {"pnet": PNet, "rnet": RNet, "onet": ONet}


def package_available() -> bool:
    """True when the facenet-pytorch wheel is installed (its data files can be read).

    Found without importing it: its __init__ imports torchvision, which this project does not
    install, and we need only its data files.
    """
    return importlib.util.find_spec("facenet_pytorch") is not None


def find_state_dicts() -> dict[str, Path]:
    """The .pt files the facenet-pytorch wheel ships, by net name; exit with how to get them."""
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            f"{SOURCE_PACKAGE} is not installed; install its weights with "
            f"`pip install --no-deps {SOURCE_PACKAGE}=={SOURCE_VERSION}` (no-deps: it pins an old "
            "torch and torchvision that must not replace ours)"
        )
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    paths = {name: data / f"{name}.pt" for name in NET_NAMES}
    missing = [str(path) for path in paths.values() if not path.is_file()]
    if missing:
        raise SystemExit(f"{SOURCE_PACKAGE} lacks {', '.join(missing)}; reinstall it with "
                         f"`pip install --no-deps --force-reinstall "
                         f"{SOURCE_PACKAGE}=={SOURCE_VERSION}`")
    return paths


def load_net(name: str, path: Path) -> nn.Module:
    """Build one net and load its state dict strictly (every key, every shape); eval mode."""
    net = NET_CLASSES[name]()
    state = torch.load(path, map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    return net.eval()


def load_nets(paths: dict[str, Path] | None = None) -> dict[str, nn.Module]:
    """P-, R- and O-net with the wheel's weights (or the given .pt files), by name."""
    paths = paths or find_state_dicts()
    return {name: load_net(name, paths[name]) for name in NET_NAMES}
