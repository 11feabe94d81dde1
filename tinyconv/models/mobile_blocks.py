"""Building blocks shared by MobileNet V2/V3 and EfficientNet, with torchvision's names.

``Conv2dNormActivation``: conv (no bias) - BatchNorm - activation, children "0", "1", "2".
``SqueezeExcitation`` (Hu, Shen and Sun, CVPR 2018): a per-channel gate computed from the
channel means, ``x * gate(fc2(act(fc1(mean_hw(x)))))``, with 1x1 convs ``fc1``/``fc2``.
``make_divisible``: channel counts rounded to a multiple of 8, as the MobileNet papers do.
Activations are named by strings ("relu", "relu6", "hardswish", "silu", ...) so that a model's
architecture stays JSON (``tinyconv.save``/``load`` rebuild it).
"""

from __future__ import annotations

from typing import Any

from .. import nn
from ..nn.module import Module
from ..tensor import Tensor

ACTIVATIONS: dict[str, type[Module]] = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "hardswish": nn.Hardswish,
    "hardsigmoid": nn.Hardsigmoid,
    "silu": nn.SiLU,
    "sigmoid": nn.Sigmoid,
}


def make_activation(name: str) -> Module:
    """The activation layer called ``name`` (a key of ``ACTIVATIONS``)."""
    if name not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {name!r}; expected one of {', '.join(sorted(ACTIVATIONS))}"
        )
    return ACTIVATIONS[name]()


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """``value`` rounded to the nearest multiple of ``divisor``, never below 90 % of it.

    Example:
        >>> make_divisible(16 * 0.75), make_divisible(72 // 4), make_divisible(4)
        (16, 24, 8)
    """
    floor = divisor if min_value is None else min_value
    rounded = max(floor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:  # rounding down must not remove more than 10 %
        rounded += divisor
    return rounded


class Conv2dNormActivation(nn.Sequential):
    """Conv2d (bias-free, "same" padding) - BatchNorm2d - activation (omitted when None).

    Args:
        in_channels (int), out_channels (int): channels.
        kernel_size (int): square kernel; padding (kernel_size - 1) // 2. Default: 3.
        stride (int): Default: 1.
        groups (int): ``in_channels`` for a depthwise conv. Default: 1.
        activation (str or None): a name of ``ACTIVATIONS``. Default: "relu".
        eps (float), momentum (float): BatchNorm's. Default: 1e-5, 0.1.

    Shape:
        (N, in_channels, H, W) -> (N, out_channels, H_out, W_out),
        H_out = (H + 2 * ((k - 1) // 2) - k) / stride + 1.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        activation: str | None = "relu",
        eps: float = 1e-5,
        momentum: float = 0.1,
    ) -> None:
        padding = (kernel_size - 1) // 2
        conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=False
        )
        layers: list[Module] = [conv, nn.BatchNorm2d(out_channels, eps=eps, momentum=momentum)]
        if activation is not None:
            layers.append(make_activation(activation))
        super().__init__(*layers)

    def config(self) -> dict[str, Any]:
        return Module.config(self)  # rebuilt from its arguments, not from an empty Sequential


class SqueezeExcitation(Module):
    """x * scale_activation(fc2(activation(fc1(avgpool(x))))): channels reweighted by a gate.

    Args:
        input_channels (int): C.
        squeeze_channels (int): the bottleneck width of the gate.
        activation (str): after ``fc1``. Default: "relu".
        scale_activation (str): the gate, "sigmoid" (EfficientNet) or "hardsigmoid"
            (MobileNetV3). Default: "sigmoid".

    Shape:
        (N, C, H, W) -> (N, C, H, W); the gate is (N, C, 1, 1).
    """

    def __init__(
        self,
        input_channels: int,
        squeeze_channels: int,
        activation: str = "relu",
        scale_activation: str = "sigmoid",
    ) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = make_activation(activation)
        self.scale_activation = make_activation(scale_activation)

    def forward(self, x: Tensor) -> Tensor:
        scale = self.avgpool(x)  # (N, C, 1, 1)
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(scale))))
        return x * scale

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(in_shape)


def init_mobile_(model: Module, linear: str = "normal") -> None:
    """torchvision's MobileNet/EfficientNet initialisation, in place.

    Convs He-normal (fan_out) with zero biases; BatchNorm weight 1, bias 0; Linear weights
    N(0, 0.01^2) (``linear="normal"``, MobileNet) or U(-1/sqrt(out), 1/sqrt(out))
    (``linear="uniform"``, EfficientNet), zero biases.
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            if linear == "normal":
                nn.init.normal_(m.weight, 0.0, 0.01)
            else:
                bound = 1.0 / m.out_features**0.5
                nn.init.uniform_(m.weight, -bound, bound)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
