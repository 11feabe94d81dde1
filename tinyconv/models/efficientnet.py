"""EfficientNet-B0 (Tan and Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
Networks", ICML 2019), torchvision's layout and state-dict names.

B0 is the searched base network; B1-B7 scale its depth, width and resolution together. Its
block is MBConv: MobileNetV2's inverted residual with a squeeze-and-excitation gate (sigmoid,
width input/4) and SiLU (x * sigmoid(x)) activations. Residual branches are dropped at random
for whole samples in training (stochastic depth), with a drop rate growing linearly from 0 to
0.2 * 15/16 over the 16 blocks::

    features.0      3x3/2 conv 32, BN, SiLU                      224 -> 112
    features.1..7   MBConv stages, (expand, kernel, stride, out, repeats):
                    (1, 3, 1, 16, 1) (6, 3, 2, 24, 2) (6, 5, 2, 40, 2) (6, 3, 2, 80, 3)
                    (6, 5, 1, 112, 3) (6, 5, 2, 192, 4) (6, 3, 1, 320, 1)    112 -> 7
    features.8      1x1 conv 1280, BN, SiLU
    avgpool (1x1), classifier = Dropout(0.2), Linear(1280, num_classes)

5,288,548 parameters at 1000 classes, as torchvision's ``efficientnet_b0``.
"""

from __future__ import annotations

import math

from .. import nn
from ..nn.linear import check_positive_int
from ..tensor import Tensor
from ._base import register_model
from .mobile_blocks import Conv2dNormActivation, SqueezeExcitation, init_mobile_, make_divisible

# (expand ratio, kernel, first stride, output channels, repeats), the paper's table 1.
B0_STAGES = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)


class MBConv(nn.Module):
    """[1x1 expand, SiLU] - kxk depthwise, SiLU - SE (sigmoid) - 1x1 project, + x when it fits.

    Args:
        input_channels (int), out_channels (int): widths.
        expand_ratio (int): hidden width = input_channels * expand_ratio (rounded to 8).
        kernel (int): depthwise kernel, 3 or 5.
        stride (int): of the depthwise conv, 1 or 2.
        stochastic_depth_prob (float): the chance of dropping the residual branch for a sample
            in training (only where the skip exists).

    Shape:
        (N, input_channels, H, W) -> (N, out_channels, H / stride, W / stride) (rounded up).
    """

    def __init__(
        self,
        input_channels: int,
        out_channels: int,
        expand_ratio: int,
        kernel: int,
        stride: int,
        stochastic_depth_prob: float,
    ) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"MBConv: stride must be 1 or 2, got {stride}")
        self.use_res_connect = stride == 1 and input_channels == out_channels
        expanded = make_divisible(input_channels * expand_ratio)
        layers: list[nn.Module] = []
        if expanded != input_channels:
            layers.append(Conv2dNormActivation(input_channels, expanded, 1, activation="silu"))
        layers += [
            Conv2dNormActivation(
                expanded, expanded, kernel, stride, groups=expanded, activation="silu"
            ),
            SqueezeExcitation(expanded, max(1, input_channels // 4), activation="silu"),
            Conv2dNormActivation(expanded, out_channels, 1, activation=None),
        ]
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = nn.StochasticDepth(stochastic_depth_prob, "row")
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.block(x)
        if self.use_res_connect:
            out = self.stochastic_depth(out) + x
        return out


class EfficientNet(nn.Module):
    """EfficientNet with B0's stages scaled by ``width_mult`` and ``depth_mult``.

    Args:
        num_classes (int): outputs. Default: 1000.
        in_channels (int): input channels. Default: 3.
        width_mult (float): channels x width_mult (rounded to 8). Default: 1.0 (B0).
        depth_mult (float): repeats x depth_mult (rounded up). Default: 1.0 (B0).
        dropout (float): before the classifier. Default: 0.2.
        stochastic_depth_prob (float): the last block's drop rate is this x (blocks-1)/blocks.
            Default: 0.2.

    Shape:
        (N, C, H, W) -> (N, 1280, H/32, W/32) -> (N, num_classes).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        in_channels: int = 3,
        width_mult: float = 1.0,
        depth_mult: float = 1.0,
        dropout: float = 0.2,
        stochastic_depth_prob: float = 0.2,
    ) -> None:
        super().__init__()
        check_positive_int("EfficientNet", "num_classes", num_classes)
        check_positive_int("EfficientNet", "in_channels", in_channels)
        if width_mult <= 0 or depth_mult <= 0:
            raise ValueError(
                f"EfficientNet: width_mult and depth_mult must be > 0, got {width_mult}, "
                f"{depth_mult}"
            )
        stages = [
            (t, k, s, make_divisible(c * width_mult), math.ceil(n * depth_mult))
            for t, k, s, c, n in B0_STAGES
        ]
        total = sum(n for *_, n in stages)
        channels = make_divisible(32 * width_mult)
        layers: list[nn.Module] = [
            Conv2dNormActivation(in_channels, channels, 3, 2, activation="silu")
        ]
        block_id = 0
        for t, k, s, c, n in stages:
            blocks = []
            for i in range(n):
                sd = stochastic_depth_prob * block_id / total
                blocks.append(MBConv(channels, c, t, k, s if i == 0 else 1, sd))
                channels, block_id = c, block_id + 1
            layers.append(nn.Sequential(*blocks))
        last = 4 * channels
        layers.append(Conv2dNormActivation(channels, last, 1, activation="silu"))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(last, num_classes))
        self.input_shape = (in_channels, 224, 224)
        init_mobile_(self, linear="uniform")

    def forward(self, x: Tensor) -> Tensor:
        x = self.flatten(self.avgpool(self.features(x)))  # (N, 1280)
        return self.classifier(x)


@register_model
def efficientnet_b0(num_classes: int = 1000, in_channels: int = 3) -> EfficientNet:
    """EfficientNet-B0: 5,288,548 parameters at 1000 classes (torchvision's names)."""
    return EfficientNet(num_classes, in_channels)
