"""MobileNetV3 (Howard et al., "Searching for MobileNetV3", ICCV 2019), torchvision's layout
and state-dict names.

MobileNetV2's inverted residuals, plus: 5x5 depthwise kernels in places, a squeeze-and-
excitation gate (hard-sigmoid) inside some blocks, and hard-swish x * relu6(x + 3) / 6 in the
deeper half, all chosen by architecture search. BatchNorm uses eps 1e-3, momentum 0.01::

    features.0      3x3/2 conv 16, BN, hardswish                 224 -> 112
    features.1..N   blocks of V3_LARGE / V3_SMALL below           112 -> 7
    features.N+1    1x1 conv 6 * last channels, BN, hardswish
    avgpool (1x1), classifier = Linear(-, 1280 or 1024), hardswish, Dropout(0.2),
                                Linear(-, num_classes)

5,483,032 (large) and 2,542,856 (small) parameters at 1000 classes, as torchvision.
"""

from __future__ import annotations

from .. import nn
from ..nn.linear import check_positive_int
from ..tensor import Tensor
from ._base import register_model
from .mobile_blocks import (
    Conv2dNormActivation,
    SqueezeExcitation,
    init_mobile_,
    make_activation,
    make_divisible,
)

BN = {"eps": 1e-3, "momentum": 0.01}

# (kernel, expanded channels, output channels, squeeze-excitation, activation, stride),
# the paper's tables 1 and 2.
V3_LARGE = (
    (3, 16, 16, False, "relu", 1),
    (3, 64, 24, False, "relu", 2),
    (3, 72, 24, False, "relu", 1),
    (5, 72, 40, True, "relu", 2),
    (5, 120, 40, True, "relu", 1),
    (5, 120, 40, True, "relu", 1),
    (3, 240, 80, False, "hardswish", 2),
    (3, 200, 80, False, "hardswish", 1),
    (3, 184, 80, False, "hardswish", 1),
    (3, 184, 80, False, "hardswish", 1),
    (3, 480, 112, True, "hardswish", 1),
    (3, 672, 112, True, "hardswish", 1),
    (5, 672, 160, True, "hardswish", 2),
    (5, 960, 160, True, "hardswish", 1),
    (5, 960, 160, True, "hardswish", 1),
)
V3_SMALL = (
    (3, 16, 16, True, "relu", 2),
    (3, 72, 24, False, "relu", 2),
    (3, 88, 24, False, "relu", 1),
    (5, 96, 40, True, "hardswish", 2),
    (5, 240, 40, True, "hardswish", 1),
    (5, 240, 40, True, "hardswish", 1),
    (5, 120, 48, True, "hardswish", 1),
    (5, 144, 48, True, "hardswish", 1),
    (5, 288, 96, True, "hardswish", 2),
    (5, 576, 96, True, "hardswish", 1),
    (5, 576, 96, True, "hardswish", 1),
)
_ARCHS = {"large": (V3_LARGE, 1280), "small": (V3_SMALL, 1024)}


class InvertedResidualV3(nn.Module):
    """[1x1 expand] - kxk depthwise - [squeeze-excitation] - 1x1 project, + x when it fits.

    Args:
        input_channels (int), expanded_channels (int), out_channels (int): widths.
        kernel (int): depthwise kernel, 3 or 5.
        use_se (bool): a hard-sigmoid SE gate of width make_divisible(expanded / 4).
        activation (str): "relu" or "hardswish".
        stride (int): of the depthwise conv, 1 or 2.

    Shape:
        (N, input_channels, H, W) -> (N, out_channels, H / stride, W / stride) (rounded up).
    """

    def __init__(
        self,
        input_channels: int,
        kernel: int,
        expanded_channels: int,
        out_channels: int,
        use_se: bool,
        activation: str,
        stride: int,
    ) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidualV3: stride must be 1 or 2, got {stride}")
        self.use_res_connect = stride == 1 and input_channels == out_channels
        layers: list[nn.Module] = []
        if expanded_channels != input_channels:
            layers.append(
                Conv2dNormActivation(
                    input_channels, expanded_channels, 1, activation=activation, **BN
                )
            )
        layers.append(
            Conv2dNormActivation(
                expanded_channels,
                expanded_channels,
                kernel,
                stride,
                groups=expanded_channels,
                activation=activation,
                **BN,
            )
        )
        if use_se:
            squeeze = make_divisible(expanded_channels // 4)
            layers.append(
                SqueezeExcitation(expanded_channels, squeeze, scale_activation="hardsigmoid")
            )
        layers.append(
            Conv2dNormActivation(expanded_channels, out_channels, 1, activation=None, **BN)
        )
        self.block = nn.Sequential(*layers)
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.block(x)
        return x + out if self.use_res_connect else out


class MobileNetV3(nn.Module):
    """MobileNetV3, "large" or "small".

    Args:
        arch (str): "large" or "small".
        num_classes (int): outputs. Default: 1000.
        in_channels (int): input channels. Default: 3.
        width_mult (float): scales the channels of the blocks (multiples of 8). Default: 1.0.
        dropout (float): inside the classifier. Default: 0.2.

    Shape:
        (N, C, H, W) -> (N, 6 * last block channels, H/32, W/32) -> (N, num_classes).
    """

    def __init__(
        self,
        arch: str = "large",
        num_classes: int = 1000,
        in_channels: int = 3,
        width_mult: float = 1.0,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if arch not in _ARCHS:
            raise ValueError(f"MobileNetV3: arch must be 'large' or 'small', got {arch!r}")
        check_positive_int("MobileNetV3", "num_classes", num_classes)
        check_positive_int("MobileNetV3", "in_channels", in_channels)
        if width_mult <= 0:
            raise ValueError(f"MobileNetV3: width_mult must be > 0, got {width_mult}")
        settings, last_channel = _ARCHS[arch]
        last_channel = make_divisible(last_channel * width_mult)
        channels = make_divisible(16 * width_mult)
        layers: list[nn.Module] = [
            Conv2dNormActivation(in_channels, channels, 3, 2, activation="hardswish", **BN)
        ]
        for kernel, expanded, out, use_se, act, stride in settings:
            expanded, out = make_divisible(expanded * width_mult), make_divisible(out * width_mult)
            layers.append(InvertedResidualV3(channels, kernel, expanded, out, use_se, act, stride))
            channels = out
        layers.append(Conv2dNormActivation(channels, 6 * channels, 1, activation="hardswish", **BN))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(
            nn.Linear(6 * channels, last_channel),
            make_activation("hardswish"),
            nn.Dropout(dropout),
            nn.Linear(last_channel, num_classes),
        )
        self.input_shape = (in_channels, 224, 224)
        init_mobile_(self, linear="normal")

    def forward(self, x: Tensor) -> Tensor:
        x = self.flatten(self.avgpool(self.features(x)))  # (N, 6 * last block channels)
        return self.classifier(x)


@register_model
def mobilenet_v3_large(
    num_classes: int = 1000, in_channels: int = 3, width_mult: float = 1.0
) -> MobileNetV3:
    """MobileNetV3-Large: 5,483,032 parameters at 1000 classes (torchvision's names)."""
    return MobileNetV3("large", num_classes, in_channels, width_mult)


@register_model
def mobilenet_v3_small(
    num_classes: int = 1000, in_channels: int = 3, width_mult: float = 1.0
) -> MobileNetV3:
    """MobileNetV3-Small: 2,542,856 parameters at 1000 classes (torchvision's names)."""
    return MobileNetV3("small", num_classes, in_channels, width_mult)
