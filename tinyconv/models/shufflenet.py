"""ShuffleNetV2 (Ma, Zhang, Zheng and Sun, "ShuffleNet V2: Practical Guidelines for Efficient CNN
Architecture Design", ECCV 2018), torchvision's layout and state-dict names.

A unit splits its channels in two halves: one passes unchanged, the other goes through
1x1 conv - 3x3 depthwise conv - 1x1 conv; the halves are concatenated, then the channels are
shuffled (interleaved) so that the next unit mixes information from both. A downsampling unit
(stride 2) sends the whole input through both branches instead, doubling the channels::

    conv1    3x3/2 conv 24, BN, ReLU; maxpool 3/2            224 -> 56
    stage2   4 units, 116 channels                           56 -> 28
    stage3   8 units, 232 channels                           28 -> 14
    stage4   4 units, 464 channels                           14 -> 7
    conv5    1x1 conv 1024, BN, ReLU; mean over H, W; fc

2,278,604 parameters at 1000 classes (x1.0), as torchvision's ``shufflenet_v2_x1_0``.
"""

from __future__ import annotations

from .. import nn
from ..nn.linear import check_positive_int
from ..ops.basic import cat
from ..tensor import Tensor
from ._base import register_model

# Output channels of conv1, stage2..4 and conv5 for each width, the paper's table 5.
WIDTHS = {
    0.5: (24, 48, 96, 192, 1024),
    1.0: (24, 116, 232, 464, 1024),
    1.5: (24, 176, 352, 704, 1024),
    2.0: (24, 244, 488, 976, 2048),
}
REPEATS = (4, 8, 4)


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Interleave the channels of ``groups`` equal groups: (N, g*c, H, W) -> view as
    (N, g, c, H, W) -> swap g and c -> (N, c*g, H, W). Channel i of group j goes to j + g*i.
    """
    n, channels, h, w = x.shape
    x = x.reshape(n, groups, channels // groups, h, w)  # (N, g, c, H, W)
    x = x.transpose(1, 2)  # (N, c, g, H, W)
    return x.reshape(n, channels, h, w)


def _depthwise(channels: int, stride: int) -> nn.Conv2d:
    return nn.Conv2d(channels, channels, 3, stride, 1, groups=channels, bias=False)


def _pointwise(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1, bias=False)


class ShuffleUnit(nn.Module):
    """ShuffleNetV2's unit: split (stride 1) or duplicate (stride 2), two branches, concat,
    channel shuffle. torchvision calls it ``InvertedResidual``.

    Args:
        inp (int): input channels.
        oup (int): output channels (even); each branch gives oup / 2.
        stride (int): 1 (``inp == oup``; ``branch1`` is empty) or 2.

    Shape:
        (N, inp, H, W) -> (N, oup, H / stride, W / stride) (rounded up).
    """

    def __init__(self, inp: int, oup: int, stride: int) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"ShuffleUnit: stride must be 1 or 2, got {stride}")
        if oup % 2:
            raise ValueError(f"ShuffleUnit: output channels must be even, got {oup}")
        half = oup // 2
        if stride == 1 and inp != 2 * half:
            raise ValueError(f"ShuffleUnit: with stride 1 inp must equal oup, got {inp}, {oup}")
        self.stride = stride
        if stride > 1:
            self.branch1 = nn.Sequential(
                _depthwise(inp, stride),
                nn.BatchNorm2d(inp),
                _pointwise(inp, half),
                nn.BatchNorm2d(half),
                nn.ReLU(),
            )
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            _pointwise(inp if stride > 1 else half, half),
            nn.BatchNorm2d(half),
            nn.ReLU(),
            _depthwise(half, stride),
            nn.BatchNorm2d(half),
            _pointwise(half, half),
            nn.BatchNorm2d(half),
            nn.ReLU(),
        )

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == 1:
            half = x.shape[1] // 2
            out = cat([x[:, :half], self.branch2(x[:, half:])], dim=1)  # (N, oup, H, W)
        else:
            out = cat([self.branch1(x), self.branch2(x)], dim=1)  # (N, oup, H/2, W/2)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """ShuffleNetV2 at width 0.5, 1.0, 1.5 or 2.0.

    Args:
        width (float): one of 0.5, 1.0, 1.5, 2.0 (the channel table). Default: 1.0.
        num_classes (int): outputs. Default: 1000.
        in_channels (int): input channels. Default: 3.

    Shape:
        (N, C, H, W) -> (N, 1024, H/32, W/32) -> mean over H, W -> (N, num_classes).
    """

    def __init__(self, width: float = 1.0, num_classes: int = 1000, in_channels: int = 3) -> None:
        super().__init__()
        if width not in WIDTHS:
            raise ValueError(f"ShuffleNetV2: width must be one of {sorted(WIDTHS)}, got {width!r}")
        check_positive_int("ShuffleNetV2", "num_classes", num_classes)
        check_positive_int("ShuffleNetV2", "in_channels", in_channels)
        channels = WIDTHS[width]
        self.conv1 = nn.Sequential(
            nn.Conv2d(in_channels, channels[0], 3, 2, 1, bias=False),
            nn.BatchNorm2d(channels[0]),
            nn.ReLU(),
        )
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        inp = channels[0]
        for i, (repeats, out) in enumerate(zip(REPEATS, channels[1:4], strict=True)):
            units = [ShuffleUnit(inp, out, 2)] + [
                ShuffleUnit(out, out, 1) for _ in range(repeats - 1)
            ]
            setattr(self, f"stage{i + 2}", nn.Sequential(*units))
            inp = out
        self.conv5 = nn.Sequential(
            _pointwise(inp, channels[-1]), nn.BatchNorm2d(channels[-1]), nn.ReLU()
        )
        self.fc = nn.Linear(channels[-1], num_classes)
        self.input_shape = (in_channels, 224, 224)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.conv1(x))
        x = self.stage4(self.stage3(self.stage2(x)))
        x = self.conv5(x).mean(dim=(2, 3))  # (N, 1024): global average pooling
        return self.fc(x)


@register_model
def shufflenet_v2_x1_0(num_classes: int = 1000, in_channels: int = 3) -> ShuffleNetV2:
    """ShuffleNetV2 x1.0: 2,278,604 parameters at 1000 classes (torchvision's names)."""
    return ShuffleNetV2(1.0, num_classes, in_channels)
