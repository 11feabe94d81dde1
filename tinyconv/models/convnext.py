"""ConvNeXt-T (Liu, Mao, Wu, Feichtenhofer, Darrell and Xie, "A ConvNet for the 2020s", CVPR
2022), torchvision's layout and state-dict names.

A ResNet modernised step by step towards a vision Transformer: a 4x4/4 "patchify" stem, stages
of 3-3-9-3 blocks, 7x7 depthwise convs, LayerNorm instead of BatchNorm, GELU, an inverted
bottleneck (4x wider in the middle) done by Linear layers on channels-last maps, a learned
per-channel layer scale (init 1e-6) on each residual branch, and stochastic depth::

    features.0    4x4/4 conv 96, LayerNorm2d                      224 -> 56
    features.1    3 blocks, 96 channels
    features.2    LayerNorm2d, 2x2/2 conv 192                       56 -> 28
    features.3    3 blocks, 192;  features.4  downsample to 384     28 -> 14
    features.5    9 blocks, 384;  features.6  downsample to 768     14 -> 7
    features.7    3 blocks, 768
    avgpool (1x1), classifier = LayerNorm2d, Flatten, Linear(768, num_classes)

Block: x + drop(layer_scale * permute_back(fc2(gelu(fc1(norm(permute(dwconv7x7(x)))))))).
28,589,128 parameters at 1000 classes, as torchvision's ``convnext_tiny``.
"""

from __future__ import annotations

import numpy

from .. import nn
from ..backend import default_rng, get_array_module, to_device
from ..nn.linear import check_positive_int
from ..nn.module import Parameter
from ..tensor import Tensor
from ._base import register_model

# (channels, blocks) per stage for ConvNeXt-T, the paper's section 2.
TINY_STAGES = ((96, 3), (192, 3), (384, 9), (768, 3))


class Permute(nn.Module):
    """Reorder the axes: (0, 2, 3, 1) makes (N, C, H, W) channels-last, (0, 3, 1, 2) undoes it."""

    def __init__(self, dims: list[int] | tuple[int, ...]) -> None:
        super().__init__()
        self.dims = tuple(int(d) for d in dims)

    def forward(self, x: Tensor) -> Tensor:
        return x.permute(*self.dims)

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(in_shape[d] for d in self.dims)

    def extra_repr(self) -> str:
        return f"dims={list(self.dims)}"


class CNBlock(nn.Module):
    """7x7 depthwise conv - LayerNorm - Linear(4C) - GELU - Linear(C), scaled, + x.

    Args:
        dim (int): channels C.
        layer_scale (float): initial value of the per-channel scale ``layer_scale`` (C, 1, 1).
        stochastic_depth_prob (float): chance of dropping the branch for a sample in training.

    Shape:
        (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(self, dim: int, layer_scale: float, stochastic_depth_prob: float) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, 7, padding=3, groups=dim),
            Permute((0, 2, 3, 1)),  # (N, H, W, C): LayerNorm and Linear act on the last axis
            nn.LayerNorm(dim, eps=1e-6),
            nn.Linear(dim, 4 * dim),
            nn.GELU(),
            nn.Linear(4 * dim, dim),
            Permute((0, 3, 1, 2)),  # back to (N, C, H, W)
        )
        self.layer_scale = Parameter(numpy.full((dim, 1, 1), layer_scale, dtype=numpy.float32))
        self.stochastic_depth = nn.StochasticDepth(stochastic_depth_prob, "row")

    def forward(self, x: Tensor) -> Tensor:
        return x + self.stochastic_depth(self.layer_scale * self.block(x))

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(in_shape)


def _trunc_normal_(t: Tensor, std: float, bound: float = 2.0) -> None:
    """N(0, std^2) restricted to [-bound, bound] (torchvision's trunc_normal_(std=0.02): at
    std 0.02 the absolute bound 2 lies 100 sigma out, so redraws are practically never needed).
    """
    rng = default_rng()
    values = rng.standard_normal(t.shape).astype(numpy.float32) * numpy.float32(std)
    outside = numpy.abs(values) > bound
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum())) * std
        outside = numpy.abs(values) > bound
    xp = get_array_module(t.data)
    t.data = xp.asarray(to_device(values.astype(t.dtype, copy=False), t.device))


class ConvNeXt(nn.Module):
    """ConvNeXt with the given stages (ConvNeXt-T by default).

    Args:
        stages (sequence of (channels, blocks)): Default: ((96, 3), (192, 3), (384, 9),
            (768, 3)) (tiny).
        num_classes (int): outputs. Default: 1000.
        in_channels (int): input channels. Default: 3.
        stochastic_depth_prob (float): the last block's drop rate; block i of B drops with
            this x i / (B - 1). Default: 0.1 (tiny).
        layer_scale (float): initial layer scale. Default: 1e-6.

    Shape:
        (N, C, H, W) -> (N, 768, H/32, W/32) -> (N, num_classes).
    """

    def __init__(
        self,
        stages: list[list[int]] | tuple[tuple[int, int], ...] = TINY_STAGES,
        num_classes: int = 1000,
        in_channels: int = 3,
        stochastic_depth_prob: float = 0.1,
        layer_scale: float = 1e-6,
    ) -> None:
        super().__init__()
        check_positive_int("ConvNeXt", "num_classes", num_classes)
        check_positive_int("ConvNeXt", "in_channels", in_channels)
        stages = [(int(c), int(n)) for c, n in stages]
        if not stages:
            raise ValueError("ConvNeXt: stages must list at least one (channels, blocks)")
        first = stages[0][0]
        layers: list[nn.Module] = [
            nn.Sequential(nn.Conv2d(in_channels, first, 4, stride=4), nn.LayerNorm2d(first))
        ]
        total = sum(n for _, n in stages)
        block_id = 0
        for i, (channels, n) in enumerate(stages):
            blocks = []
            for _ in range(n):
                sd = stochastic_depth_prob * block_id / max(total - 1.0, 1.0)
                blocks.append(CNBlock(channels, layer_scale, sd))
                block_id += 1
            layers.append(nn.Sequential(*blocks))
            if i + 1 < len(stages):  # downsample: LayerNorm2d, 2x2/2 conv to the next width
                nxt = stages[i + 1][0]
                layers.append(
                    nn.Sequential(nn.LayerNorm2d(channels), nn.Conv2d(channels, nxt, 2, stride=2))
                )
        last = stages[-1][0]
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.LayerNorm2d(last), nn.Flatten(1), nn.Linear(last, num_classes)
        )
        self.input_shape = (in_channels, 224, 224)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                _trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.avgpool(self.features(x)))  # (N, 768, 1, 1) -> (N, classes)


@register_model
def convnext_tiny(num_classes: int = 1000, in_channels: int = 3) -> ConvNeXt:
    """ConvNeXt-T: 28,589,128 parameters at 1000 classes (torchvision's names)."""
    return ConvNeXt(TINY_STAGES, num_classes, in_channels)
