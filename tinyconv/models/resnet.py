"""ResNet (He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition", CVPR 2016).

A residual block learns F(x) and outputs relu(F(x) + x): the identity path lets the gradient
reach early layers unchanged, so networks of 34 layers and more still train.

ImageNet models (``resnet18/34/50``), torchvision's layout and state-dict names::

    conv1 7x7/2 (224 -> 112), bn1, relu, maxpool 3/2 pad 1 (-> 56)
    layer1..layer4 (56 -> 56 -> 28 -> 14 -> 7), avgpool (1x1), fc

``BasicBlock`` (resnet18/34): 3x3 conv - BN - ReLU - 3x3 conv - BN, + shortcut, ReLU.
``Bottleneck`` (resnet50, "v1.5" as torchvision: the stride sits on the 3x3 conv):
1x1 conv - BN - ReLU - 3x3 conv (stride) - BN - ReLU - 1x1 conv (x4 channels) - BN, + shortcut.
Where the shape changes the shortcut is a projection, ``downsample`` = 1x1 conv (stride) + BN.
Initialisation as torchvision: convs He-normal (fan_out, relu), BN weight 1 and bias 0, fc
PyTorch's default.

CIFAR models (``resnet20/32/56``, the paper's section 4.2, 6n+2 layers for n = 3, 5, 9)::

    conv1 3x3 16 (32x32), bn1, relu
    layer1: n blocks of 16 (32x32), layer2: n of 32 (16x16), layer3: n of 64 (8x8)
    avgpool (1x1), fc 64 -> num_classes

Shortcut choice: **option A**, as the paper uses on CIFAR-10: where the block halves the map
and doubles the channels, the shortcut takes every second pixel and pads the new channels with
zeros, so it has no parameters (0.27M parameters for resnet20, as the paper's table 6).

The forwards write each conv - BN (- ReLU) (+ shortcut) as ``nn.fusion.conv_bn``: the layers
one by one, except in eval mode with the compiled kernels on, where the batch norm, the add
and the ReLU run as one pass over the convolution's output (the same values).
"""

from __future__ import annotations

from typing import Any

from .. import nn
from ..nn import init
from ..nn.fusion import conv_bn
from ..nn.linear import check_positive_int
from ..ops.linear import pad
from ..tensor import Tensor
from ._base import register_model


def _conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)


def _conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


class ShortcutA(nn.Module):
    """Option-A shortcut: subsample by ``stride`` and zero-pad the channels (no parameters).

    Shape:
        (N, C, H, W) -> (N, out_channels, ceil(H/stride), ceil(W/stride)), the new channels
        split evenly before and after the old ones.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 2) -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(f"ShortcutA: out_channels={out_channels} < in_channels={in_channels}")
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]  # (N, C, H/s, W/s)
        extra = self.out_channels - self.in_channels
        return pad(x, (0, 0, 0, 0, extra // 2, extra - extra // 2))  # (N, out_channels, H/s, W/s)

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        n, _, h, w = in_shape
        s = self.stride
        return (n, self.out_channels, (h + s - 1) // s, (w + s - 1) // s)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"


class BasicBlock(nn.Module):
    """Two 3x3 convs with BatchNorm and a shortcut: relu(bn2(conv2(relu(bn1(conv1(x))))) + s(x)).

    Args:
        inplanes (int): input channels.
        planes (int): output channels.
        stride (int): stride of the first conv (2 halves the map). Default: 1.
        shortcut (str): when the shape changes, "B" a 1x1 conv + BN projection (torchvision),
            "A" subsampling + zero channels (the paper's CIFAR models). Default: "B".
    """

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, shortcut: str = "B") -> None:
        super().__init__()
        self.conv1 = _conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = _shortcut(inplanes, planes * self.expansion, stride, shortcut)

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = conv_bn(self.conv1, self.bn1, x, relu=self.relu)  # relu(bn1(conv1(x)))
        # relu(bn2(conv2(out)) + identity): the skip connection
        return conv_bn(self.conv2, self.bn2, out, residual=identity, relu=self.relu)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carrying the stride, v1.5), 1x1 expand to 4*planes, + shortcut.

    Args:
        inplanes (int): input channels.
        planes (int): channels of the 3x3 conv; the block outputs ``4 * planes``.
        stride (int): stride of the 3x3 conv. Default: 1.
        shortcut (str): "B" projection (default) or "A" zero padding.
    """

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, shortcut: str = "B") -> None:
        super().__init__()
        self.conv1 = _conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = _conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU()
        self.downsample = _shortcut(inplanes, planes * self.expansion, stride, shortcut)

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = conv_bn(self.conv1, self.bn1, x, relu=self.relu)  # relu(bn1(conv1(x)))
        out = conv_bn(self.conv2, self.bn2, out, relu=self.relu)
        return conv_bn(self.conv3, self.bn3, out, residual=identity, relu=self.relu)


def _shortcut(inplanes: int, outplanes: int, stride: int, option: str) -> nn.Module | None:
    if stride == 1 and inplanes == outplanes:
        return None
    if option == "A":
        return ShortcutA(inplanes, outplanes, stride)
    if option == "B":
        return nn.Sequential(_conv1x1(inplanes, outplanes, stride), nn.BatchNorm2d(outplanes))
    raise ValueError(f"shortcut must be 'A' (zero padding) or 'B' (projection), got {option!r}")


_BLOCKS: dict[str, type[BasicBlock] | type[Bottleneck]] = {
    "basic": BasicBlock,
    "bottleneck": Bottleneck,
}


class ResNet(nn.Module):
    """ResNet: an ImageNet stem (``cifar=False``) or the paper's CIFAR stem, then stages of blocks.

    Args:
        block (str): "basic" or "bottleneck".
        layers (list of int): blocks per stage: [2, 2, 2, 2] (resnet18), [3, 3, 3] (resnet20).
        num_classes (int): outputs. Default: 1000.
        in_channels (int): input channels. Default: 3.
        cifar (bool): 3x3 stem with 16 channels, no max pool, stages of 16/32/64 channels and
            option-A shortcuts (He et al. section 4.2). Default: False.
        zero_init_residual (bool): zero the last BN weight of every block so that each block
            starts as the identity (torchvision's option). Default: False.

    Shape:
        ImageNet: (N, C, 224, 224) -> (N, 512 * expansion, 7, 7) -> (N, num_classes).
        CIFAR: (N, C, 32, 32) -> (N, 64, 8, 8) -> (N, num_classes).
    """

    def __init__(
        self,
        block: str = "basic",
        layers: list[int] | tuple[int, ...] = (2, 2, 2, 2),
        num_classes: int = 1000,
        in_channels: int = 3,
        cifar: bool = False,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        if block not in _BLOCKS:
            raise ValueError(f"ResNet: block must be 'basic' or 'bottleneck', got {block!r}")
        check_positive_int("ResNet", "num_classes", num_classes)
        check_positive_int("ResNet", "in_channels", in_channels)
        block_cls = _BLOCKS[block]
        if cifar:
            widths, shortcut, self.inplanes = (16, 32, 64), "A", 16
            self.conv1 = _conv3x3(in_channels, 16)
            self.input_shape = (in_channels, 32, 32)
        else:
            widths, shortcut, self.inplanes = (64, 128, 256, 512), "B", 64
            self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
            self.input_shape = (in_channels, 224, 224)
        if len(layers) != len(widths):
            raise ValueError(
                f"ResNet: layers must list {len(widths)} block counts, got {list(layers)}"
            )
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU()
        if not cifar:
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        for i, (width, count) in enumerate(zip(widths, layers, strict=True)):
            check_positive_int("ResNet", f"layers[{i}]", count)
            stride = 1 if i == 0 else 2
            blocks = []
            for j in range(count):
                blocks.append(block_cls(self.inplanes, width, stride if j == 0 else 1, shortcut))
                self.inplanes = width * block_cls.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(self.inplanes, num_classes)
        self.num_stages = len(widths)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                last = getattr(m, "bn3", None) if isinstance(m, Bottleneck) else None
                last = getattr(m, "bn2", None) if isinstance(m, BasicBlock) else last
                if last is not None:
                    init.zeros_(last.weight)

    def forward(self, x: Tensor) -> Any:
        x = conv_bn(self.conv1, self.bn1, x, relu=self.relu)  # relu(bn1(conv1(x)))
        if "maxpool" in self._modules:
            x = self.maxpool(x)
        for i in range(self.num_stages):
            x = self._modules[f"layer{i + 1}"](x)
        x = self.flatten(self.avgpool(x))  # (N, channels)
        return self.fc(x)


def _imagenet(
    block: str, layers: list[int], num_classes: int, in_channels: int, zero: bool
) -> ResNet:
    return ResNet(block, layers, num_classes, in_channels, cifar=False, zero_init_residual=zero)


@register_model
def resnet18(
    num_classes: int = 1000, in_channels: int = 3, zero_init_residual: bool = False
) -> ResNet:
    """ResNet-18 (basic blocks 2-2-2-2): 11,689,512 parameters at 1000 classes."""
    return _imagenet("basic", [2, 2, 2, 2], num_classes, in_channels, zero_init_residual)


@register_model
def resnet34(
    num_classes: int = 1000, in_channels: int = 3, zero_init_residual: bool = False
) -> ResNet:
    """ResNet-34 (basic blocks 3-4-6-3): 21,797,672 parameters at 1000 classes."""
    return _imagenet("basic", [3, 4, 6, 3], num_classes, in_channels, zero_init_residual)


@register_model
def resnet50(
    num_classes: int = 1000, in_channels: int = 3, zero_init_residual: bool = False
) -> ResNet:
    """ResNet-50 (bottlenecks 3-4-6-3, v1.5): 25,557,032 parameters at 1000 classes."""
    return _imagenet("bottleneck", [3, 4, 6, 3], num_classes, in_channels, zero_init_residual)


def _cifar(n: int, num_classes: int, in_channels: int) -> ResNet:
    return ResNet("basic", [n, n, n], num_classes, in_channels, cifar=True)


@register_model
def resnet20(num_classes: int = 10, in_channels: int = 3) -> ResNet:
    """CIFAR ResNet-20 (n = 3, option-A shortcuts): 269,722 parameters at 10 classes."""
    return _cifar(3, num_classes, in_channels)


@register_model
def resnet32(num_classes: int = 10, in_channels: int = 3) -> ResNet:
    """CIFAR ResNet-32 (n = 5, option-A shortcuts)."""
    return _cifar(5, num_classes, in_channels)


@register_model
def resnet56(num_classes: int = 10, in_channels: int = 3) -> ResNet:
    """CIFAR ResNet-56 (n = 9, option-A shortcuts)."""
    return _cifar(9, num_classes, in_channels)
