"""EfficientNet-Lite0 in PyTorch, laid out to load lukemelas-style state dicts unchanged.

Lite differs from EfficientNet-B0 in ways that make it friendly to int8 on CPUs: no
squeeze-excite, ReLU6 instead of swish, and a stem (32) and head (1280) that are not scaled.
The weights were trained in TensorFlow, so convolutions use TF "same" padding (extra padding on
the bottom/right for stride 2), computed once for a fixed input size.

Only training/ imports this module; the daemon uses the exported ONNX file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional

BN_EPS = 1e-3  # TensorFlow's BatchNorm epsilon; PyTorch's default 1e-5 shifts the logits.
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
NUM_CLASSES = 1000
DEFAULT_IMAGE_SIZE = 224


@dataclass(frozen=True)
class StageConfig:
    """One stage of MBConv blocks: the first block may stride, the rest keep the size."""

    repeats: int
    kernel: int
    stride: int
    expand_ratio: int
    in_channels: int
    out_channels: int


# EfficientNet-B0 stages (width and depth multipliers 1.0), which Lite0 keeps.
LITE0_STAGES: tuple[StageConfig, ...] = (
    StageConfig(1, 3, 1, 1, 32, 16),
    StageConfig(2, 3, 2, 6, 16, 24),
    StageConfig(2, 5, 2, 6, 24, 40),
    StageConfig(3, 3, 2, 6, 40, 80),
    StageConfig(3, 5, 1, 6, 80, 112),
    StageConfig(4, 5, 2, 6, 112, 192),
    StageConfig(1, 3, 1, 6, 192, 320),
)


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """Return (before, after) padding that TF "SAME" uses for one spatial dimension."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """Conv2d with TF "same" padding fixed for one input size (exports as Pad + Conv)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int,
        stride: int,
        input_size: int,
        groups: int = 1,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel, stride, bias=False, groups=groups)
        top, bottom = same_padding(input_size, kernel, stride)
        self._pad = (top, bottom, top, bottom)  # (left, right, top, bottom) for a square input
        self.output_size = math.ceil(input_size / stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(self._pad):
            x = functional.pad(x, self._pad)
        return super().forward(x)


def batch_norm(channels: int) -> nn.BatchNorm2d:
    """BatchNorm with TF's epsilon (momentum only matters for training, kept TF-like)."""
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=0.01)


class MBConvBlock(nn.Module):
    """Inverted residual block: 1x1 expand, depthwise KxK, 1x1 project, identity skip."""

    def __init__(self, stage: StageConfig, in_channels: int, stride: int, input_size: int) -> None:
        super().__init__()
        hidden = in_channels * stage.expand_ratio
        self.has_expand = stage.expand_ratio != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(in_channels, hidden, 1, bias=False)
            self._bn0 = batch_norm(hidden)
        self._depthwise_conv = SameConv2d(
            hidden, hidden, stage.kernel, stride, input_size, groups=hidden
        )
        self._bn1 = batch_norm(hidden)
        self._project_conv = nn.Conv2d(hidden, stage.out_channels, 1, bias=False)
        self._bn2 = batch_norm(stage.out_channels)
        self.has_skip = stride == 1 and in_channels == stage.out_channels
        self.output_size = self._depthwise_conv.output_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.has_expand:
            y = functional.relu6(self._bn0(self._expand_conv(y)))
        y = functional.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        # Drop-connect is a training-time regulariser; at inference the skip is a plain add.
        return y + x if self.has_skip else y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite classifier; forward returns (embedding [N,1280], logits [N,1000]).

    Input: float NCHW RGB already normalised as (pixel - 127) / 128, of size `image_size`.
    """

    def __init__(
        self,
        stages: tuple[StageConfig, ...] = LITE0_STAGES,
        image_size: int = DEFAULT_IMAGE_SIZE,
        num_classes: int = NUM_CLASSES,
    ) -> None:
        super().__init__()
        self.image_size = image_size
        self._conv_stem = SameConv2d(3, STEM_CHANNELS, 3, 2, image_size)
        self._bn0 = batch_norm(STEM_CHANNELS)
        self._blocks = nn.ModuleList(build_blocks(stages, self._conv_stem.output_size))
        self._conv_head = nn.Conv2d(stages[-1].out_channels, HEAD_CHANNELS, 1, bias=False)
        self._bn1 = batch_norm(HEAD_CHANNELS)
        self._fc = nn.Linear(HEAD_CHANNELS, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = functional.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = functional.relu6(self._bn1(self._conv_head(x)))
        embedding = torch.flatten(functional.adaptive_avg_pool2d(x, 1), 1)
        # Dropout before _fc is identity at inference.
        return embedding, self._fc(embedding)


def build_blocks(stages: tuple[StageConfig, ...], input_size: int) -> list[MBConvBlock]:
    """Expand stage configs into blocks, tracking the spatial size for "same" padding."""
    blocks: list[MBConvBlock] = []
    size = input_size
    for stage in stages:
        for index in range(stage.repeats):
            first = index == 0
            block = MBConvBlock(
                stage,
                stage.in_channels if first else stage.out_channels,
                stage.stride if first else 1,
                size,
            )
            size = block.output_size
            blocks.append(block)
    return blocks


def load_efficientnet_lite0(
    weights_path: str, image_size: int = DEFAULT_IMAGE_SIZE
) -> EfficientNetLite:
    """Build Lite0, load a lukemelas-style state dict strictly, and return it in eval mode."""
    model = EfficientNetLite(image_size=image_size)
    state = torch.load(weights_path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()
