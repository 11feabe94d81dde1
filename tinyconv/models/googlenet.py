"""GoogLeNet / Inception v1 (Szegedy et al., 2014), as torchvision builds it.

An inception module runs four branches on the same input and concatenates their outputs along
the channels: a 1x1 conv; a 1x1 reduction then a 3x3 conv; a 1x1 reduction then a "5x5" conv;
a 3x3/1 max pool then a 1x1 projection. The 1x1 reductions keep the wide convolutions cheap.

Choice: the third branch uses a **3x3** kernel, as torchvision's implementation (and its
pretrained weights) do, not the paper's 5x5; the names still say ``ch5x5``. Every conv is a
``BasicConv2d``: conv without bias, BatchNorm (eps 0.001), ReLU (torchvision's, not the
paper's plain conv + ReLU). Stem: conv 7x7/2 (224 -> 112), max pool 3/2 ceil (-> 56), conv 1x1,
conv 3x3, max pool (-> 28), 3a, 3b, max pool (-> 14), 4a-4e, max pool 2/2 (-> 7), 5a, 5b,
global average pool, dropout 0.2, fc 1024 -> num_classes. The stride-2 pools round up
(PyTorch's ``ceil_mode=True``, here ``MaxPool2dCeil``).

Auxiliary classifiers (``aux_logits=True``) hang after 4a and 4d: adaptive average pool to
4x4, BasicConv2d 1x1 to 128, fc 2048 -> 1024, ReLU, dropout 0.7, fc 1024 -> num_classes. In
training mode the model then returns ``(logits, aux2, aux1)`` (torchvision's order); in eval
mode just the logits.

Initialisation: conv and linear weights N(0, 0.01^2) (torchvision truncates this normal at
+-2, i.e. 200 standard deviations, which never happens in practice, so a plain normal is used),
linear biases PyTorch's default, BatchNorm weight 1 and bias 0.
Parameters at 1000 classes: 6,624,904 without the auxiliary classifiers, 13,004,888 with them.
"""

from __future__ import annotations

from typing import Any

from .. import nn
from ..nn import init
from ..nn.linear import check_positive_int
from ..ops.basic import cat
from ..ops.linear import pad
from ..ops.pool import max_pool2d
from ..tensor import Tensor
from ._base import register_model


class MaxPool2dCeil(nn.Module):
    """Max pooling whose output size rounds up (PyTorch's ``ceil_mode=True``), padding-free.

    H_out = ceil((H - F)/S) + 1 (a last window would start beyond the input only with padding,
    which this layer does not take). The input is padded on the bottom and right with -inf,
    just enough for the last window, and max-pooled as usual: the -inf never wins, so every
    window is the part of the rounded-up window that lies inside the input.

    Args:
        kernel_size (int): window size F.
        stride (int): step S.

    Shape:
        (N, C, H, W) -> (N, C, ceil((H - F)/S) + 1, ceil((W - F)/S) + 1); 112 -> 56 for F=3, S=2.
    """

    def __init__(self, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.kernel_size = check_positive_int("MaxPool2dCeil", "kernel_size", kernel_size)
        self.stride = check_positive_int("MaxPool2dCeil", "stride", stride)

    def _out(self, size: int) -> int:
        f, s = self.kernel_size, self.stride
        if size < f:
            raise ValueError(
                f"{self!r}: input size {size} is smaller than the kernel: "
                f"W_out = ceil((W_in - F)/S) + 1 = ceil(({size} - {f})/{s}) + 1"
            )
        return -(-(size - f) // s) + 1

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4:
            raise ValueError(f"{self!r}: expected a 4-D input (N, C, H, W), got shape {x.shape}")
        h, w = x.shape[2:]
        f, s = self.kernel_size, self.stride
        extra_h = (self._out(h) - 1) * s + f - h  # rows the last window sticks out
        extra_w = (self._out(w) - 1) * s + f - w
        if extra_h or extra_w:
            x = pad(x, (0, extra_w, 0, extra_h), value=float("-inf"))
        return max_pool2d(x, f, s, layer=repr(self))

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        n, c, h, w = in_shape
        return (n, c, self._out(h), self._out(w))

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, ceil_mode=True"


class BasicConv2d(nn.Module):
    """conv (no bias) -> BatchNorm2d(eps=0.001) -> ReLU; names ``conv``, ``bn`` as torchvision."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False
        )
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """Four parallel branches concatenated on channels: out = ch1x1 + ch3x3 + ch5x5 + pool_proj.

    Args:
        in_channels (int): input channels.
        ch1x1 (int): branch 1, 1x1 conv.
        ch3x3red (int), ch3x3 (int): branch 2, 1x1 reduction then 3x3 conv.
        ch5x5red (int), ch5x5 (int): branch 3, 1x1 reduction then a 3x3 conv (torchvision's choice).
        pool_proj (int): branch 4, 3x3/1 max pool then 1x1 projection.

    Shape:
        (N, in_channels, H, W) -> (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W).
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3red: int,
        ch3x3: int,
        ch5x5red: int,
        ch5x5: int,
        pool_proj: int,
    ) -> None:
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, 1)
        self.branch2 = nn.Sequential(
            BasicConv2d(in_channels, ch3x3red, 1), BasicConv2d(ch3x3red, ch3x3, 3, padding=1)
        )
        self.branch3 = nn.Sequential(
            BasicConv2d(in_channels, ch5x5red, 1), BasicConv2d(ch5x5red, ch5x5, 3, padding=1)
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1), BasicConv2d(in_channels, pool_proj, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


class InceptionAux(nn.Module):
    """Auxiliary classifier: pool to 4x4, 1x1 conv to 128, fc 2048 -> 1024, dropout 0.7, fc."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d((4, 4))
        self.conv = BasicConv2d(in_channels, 128, 1)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(2048, 1024)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.flatten(self.conv(self.pool(x)))  # (N, 128 * 4 * 4)
        return self.fc2(self.dropout(self.relu(self.fc1(x))))


class GoogLeNet(nn.Module):
    """GoogLeNet (Inception v1) with torchvision's layout and state-dict names.

    Args:
        num_classes (int): outputs. Default: 1000.
        in_channels (int): input channels. Default: 3.
        aux_logits (bool): add the two auxiliary classifiers. Default: False.
        dropout (float): drop probability before ``fc``. Default: 0.2.
        dropout_aux (float): drop probability in the auxiliary classifiers. Default: 0.7.

    Shape:
        Input (N, in_channels, 224, 224) -> (N, 1024, 7, 7) before the pool -> (N, num_classes).
        In training mode with ``aux_logits`` the output is ``(logits, aux2, aux1)``.

    Example:
        >>> GoogLeNet().num_parameters()
        6624904
    """

    def __init__(
        self,
        num_classes: int = 1000,
        in_channels: int = 3,
        aux_logits: bool = False,
        dropout: float = 0.2,
        dropout_aux: float = 0.7,
    ) -> None:
        super().__init__()
        check_positive_int("GoogLeNet", "num_classes", num_classes)
        check_positive_int("GoogLeNet", "in_channels", in_channels)
        self.aux_logits = aux_logits
        self.conv1 = BasicConv2d(in_channels, 64, 7, stride=2, padding=3)
        self.maxpool1 = MaxPool2dCeil(3, stride=2)
        self.conv2 = BasicConv2d(64, 64, 1)
        self.conv3 = BasicConv2d(64, 192, 3, padding=1)
        self.maxpool2 = MaxPool2dCeil(3, stride=2)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = MaxPool2dCeil(3, stride=2)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = MaxPool2dCeil(2, stride=2)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout_aux)
            self.aux2 = InceptionAux(528, num_classes, dropout_aux)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.flatten = nn.Flatten()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1024, num_classes)
        self.input_shape = (in_channels, 224, 224)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                init.normal_(m.weight, 0.0, 0.01)
            elif isinstance(m, nn.BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Any:
        x = self.maxpool1(self.conv1(x))  # (N, 64, 56, 56)
        x = self.maxpool2(self.conv3(self.conv2(x)))  # (N, 192, 28, 28)
        x = self.maxpool3(self.inception3b(self.inception3a(x)))  # (N, 480, 14, 14)
        x = self.inception4a(x)  # (N, 512, 14, 14)
        aux1 = self.aux1(x) if self.aux_logits and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))  # (N, 528, 14, 14)
        aux2 = self.aux2(x) if self.aux_logits and self.training else None
        x = self.maxpool4(self.inception4e(x))  # (N, 832, 7, 7)
        x = self.inception5b(self.inception5a(x))  # (N, 1024, 7, 7)
        x = self.fc(self.dropout(self.flatten(self.avgpool(x))))  # (N, num_classes)
        if aux1 is not None:
            return x, aux2, aux1
        return x


@register_model
def googlenet(
    num_classes: int = 1000, in_channels: int = 3, aux_logits: bool = False, dropout: float = 0.2
) -> GoogLeNet:
    """torchvision's GoogLeNet (Inception v1); see ``GoogLeNet``."""
    return GoogLeNet(num_classes, in_channels, aux_logits, dropout)
