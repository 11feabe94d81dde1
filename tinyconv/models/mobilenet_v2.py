"""MobileNetV2 (Sandler, Howard, Zhu, Zhmoginov and Chen, "MobileNetV2: Inverted Residuals and
Linear Bottlenecks", CVPR 2018), torchvision's layout and state-dict names.

An inverted residual widens the input t times with a 1x1 conv, filters each channel alone with a
3x3 depthwise conv (groups = channels, 9 weights per channel instead of 9 * C), and projects
back with a 1x1 conv that has no activation (the "linear bottleneck": ReLU on a narrow tensor
would destroy information). The skip connects the narrow ends when the shape allows::

    features.0   3x3/2 conv 32, BN, ReLU6                        224 -> 112
    features.1..17  inverted residuals, (t, c, n, s) per stage:
                 (1, 16, 1, 1) (6, 24, 2, 2) (6, 32, 3, 2) (6, 64, 4, 2)
                 (6, 96, 3, 1) (6, 160, 3, 2) (6, 320, 1, 1)     112 -> 7
    features.18  1x1 conv 1280, BN, ReLU6
    avgpool (1x1), classifier = Dropout(0.2), Linear(1280, num_classes)

3,504,872 parameters at 1000 classes, as torchvision's ``mobilenet_v2``.
"""

from __future__ import annotations

from .. import nn
from ..nn.linear import check_positive_int
from ..tensor import Tensor
from ._base import register_model
from .mobile_blocks import Conv2dNormActivation, init_mobile_, make_divisible

# (expansion t, output channels c, repeats n, first stride s), the paper's table 2.
V2_SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


class InvertedResidual(nn.Module):
    """1x1 expand (ReLU6) - 3x3 depthwise (ReLU6) - 1x1 project (linear), + x when it fits.

    Args:
        inp (int): input channels.
        oup (int): output channels.
        stride (int): 1 or 2 (on the depthwise conv).
        expand_ratio (int): t; the hidden width is round(inp * t) (no 1x1 expansion when 1).

    Shape:
        (N, inp, H, W) -> (N, oup, H / stride, W / stride) (rounded up).
    """

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride must be 1 or 2, got {stride}")
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(inp, hidden, 1, activation="relu6"))
        layers += [
            Conv2dNormActivation(hidden, hidden, 3, stride, groups=hidden, activation="relu6"),
            nn.Conv2d(hidden, oup, 1, bias=False),  # linear bottleneck: no activation
            nn.BatchNorm2d(oup),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv(x)
        return x + out if self.use_res_connect else out


class MobileNetV2(nn.Module):
    """MobileNetV2 for ImageNet-sized inputs (any H, W >= 32 works; 224 as trained).

    Args:
        num_classes (int): outputs. Default: 1000.
        in_channels (int): input channels. Default: 3.
        width_mult (float): scales every layer's channels (rounded to multiples of 8).
            Default: 1.0.
        dropout (float): before the classifier. Default: 0.2.

    Shape:
        (N, C, H, W) -> (N, 1280, H/32, W/32) -> (N, num_classes).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        in_channels: int = 3,
        width_mult: float = 1.0,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        check_positive_int("MobileNetV2", "num_classes", num_classes)
        check_positive_int("MobileNetV2", "in_channels", in_channels)
        if width_mult <= 0:
            raise ValueError(f"MobileNetV2: width_mult must be > 0, got {width_mult}")
        channels = make_divisible(32 * width_mult)
        self.last_channel = make_divisible(1280 * max(1.0, width_mult))
        layers: list[nn.Module] = [
            Conv2dNormActivation(in_channels, channels, 3, 2, activation="relu6")
        ]
        for t, c, n, s in V2_SETTINGS:
            out = make_divisible(c * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(channels, out, s if i == 0 else 1, t))
                channels = out
        layers.append(Conv2dNormActivation(channels, self.last_channel, 1, activation="relu6"))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(self.last_channel, num_classes)
        )
        self.input_shape = (in_channels, 224, 224)
        init_mobile_(self, linear="normal")

    def forward(self, x: Tensor) -> Tensor:
        x = self.flatten(self.avgpool(self.features(x)))  # (N, 1280)
        return self.classifier(x)


@register_model
def mobilenet_v2(
    num_classes: int = 1000, in_channels: int = 3, width_mult: float = 1.0
) -> MobileNetV2:
    """MobileNetV2: 3,504,872 parameters at 1000 classes (torchvision's names)."""
    return MobileNetV2(num_classes, in_channels, width_mult)
