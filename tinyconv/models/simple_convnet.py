"""SimpleConvNet and DeepConvNet, the from-scratch book's two MNIST networks (chapters 7 and 8).

SimpleConvNet::

    conv1 (30 filters 5x5, pad 0, stride 1) - relu1 - pool1 (max 2x2, stride 2)
    - flatten - affine1 (100) - relu2 - affine2 (10)

DeepConvNet (six 3x3 convolutions, He initialisation, dropout)::

    conv 16 (pad 1) - relu - conv 16 (pad 1) - relu - max pool 2
    conv 32 (pad 1) - relu - conv 32 (pad 2) - relu - max pool 2
    conv 64 (pad 1) - relu - conv 64 (pad 1) - relu - max pool 2
    flatten - affine 50 - relu - dropout 0.5 - affine 10 - dropout 0.5

For a 1x28x28 input the maps are 28 -> 14 -> 16 -> 8 -> 4, so the first affine layer sees
64*4*4 = 1024 features. The book divides by the fan-in of each layer: std = sqrt(2 / fan_in).
"""

from __future__ import annotations

import math
from collections import OrderedDict

from .. import nn
from ..nn import init
from ..nn.linear import check_positive_int
from ._base import ZooSequential, register_model


def _conv_out(size: int, kernel: int, stride: int, pad: int) -> int:
    """(W_in - F + 2P)/S + 1, floored."""
    return (size - kernel + 2 * pad) // stride + 1


class SimpleConvNet(ZooSequential):
    """The from-scratch book's SimpleConvNet (conv - relu - pool - affine - relu - affine).

    Args:
        num_classes (int): outputs of the last layer. Default: 10.
        in_channels (int): input channels. Default: 1.
        input_size (int): input height and width. Default: 28.
        filter_num (int): filters of the convolution. Default: 30.
        filter_size (int): their size. Default: 5.
        hidden_size (int): width of the hidden affine layer. Default: 100.
        weight_init_std (float): every weight is N(0, weight_init_std^2); biases are 0.
            Default: 0.01.

    Shape:
        Input (N, in_channels, input_size, input_size) -> Output (N, num_classes).
        With the defaults the convolution gives 30x24x24, pooling 30x12x12 = 4,320 features.

    Example:
        >>> import numpy, tinyconv
        >>> SimpleConvNet()(tinyconv.tensor(numpy.zeros((2, 1, 28, 28), numpy.float32))).shape
        (2, 10)
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        input_size: int = 28,
        filter_num: int = 30,
        filter_size: int = 5,
        hidden_size: int = 100,
        weight_init_std: float = 0.01,
    ) -> None:
        name = "SimpleConvNet"
        check_positive_int(name, "num_classes", num_classes)
        check_positive_int(name, "in_channels", in_channels)
        check_positive_int(name, "input_size", input_size)
        conv_size = _conv_out(input_size, filter_size, 1, 0)
        if conv_size < 2:
            raise ValueError(
                f"{name}: input_size={input_size} is too small for a {filter_size}x{filter_size} "
                f"filter and a 2x2 pool: W_out = (W_in - F + 2P)/S + 1 = "
                f"({input_size} - {filter_size} + 2*0)/1 + 1 = {conv_size}"
            )
        pool_size = conv_size // 2
        super().__init__(
            OrderedDict(
                conv1=nn.Conv2d(in_channels, filter_num, filter_size, stride=1, padding=0),
                relu1=nn.ReLU(),
                pool1=nn.MaxPool2d(2, stride=2),
                flatten=nn.Flatten(),
                affine1=nn.Linear(filter_num * pool_size * pool_size, hidden_size),
                relu2=nn.ReLU(),
                affine2=nn.Linear(hidden_size, num_classes),
            )
        )
        self.input_shape = (in_channels, input_size, input_size)
        for layer in (self.conv1, self.affine1, self.affine2):
            init.normal_(layer.weight, 0.0, weight_init_std)
            init.zeros_(layer.bias)


class DeepConvNet(ZooSequential):
    """The from-scratch book's DeepConvNet: six 3x3 convolutions, three pools, dropout.

    Args:
        num_classes (int): outputs. Default: 10.
        in_channels (int): input channels. Default: 1.
        input_size (int): input height and width. Default: 28.
        hidden_size (int): width of the hidden affine layer. Default: 50.
        dropout (float): drop probability of both dropout layers. Default: 0.5.

    Shape:
        Input (N, in_channels, S, S) -> Output (N, num_classes); for S = 28 the maps are
        28 -> 14 -> 16 -> 8 -> 4 and the flattened features 64*4*4 = 1,024.

    Attributes:
        Weights N(0, 2/fan_in) (He), biases 0, as the book.

    Example:
        >>> import numpy, tinyconv
        >>> DeepConvNet()(tinyconv.tensor(numpy.zeros((1, 1, 28, 28), numpy.float32))).shape
        (1, 10)
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        input_size: int = 28,
        hidden_size: int = 50,
        dropout: float = 0.5,
    ) -> None:
        name = "DeepConvNet"
        check_positive_int(name, "num_classes", num_classes)
        check_positive_int(name, "in_channels", in_channels)
        check_positive_int(name, "input_size", input_size)
        channels = (16, 16, 32, 32, 64, 64)
        pads = (1, 1, 1, 2, 1, 1)
        stages: OrderedDict[str, nn.Module] = OrderedDict()
        c_in, size = in_channels, input_size
        for i, (c_out, pad) in enumerate(zip(channels, pads, strict=True)):
            stages[f"conv{i + 1}"] = nn.Conv2d(c_in, c_out, 3, stride=1, padding=pad)
            stages[f"relu{i + 1}"] = nn.ReLU()
            size = _conv_out(size, 3, 1, pad)
            if i % 2 == 1:
                stages[f"pool{i // 2 + 1}"] = nn.MaxPool2d(2, stride=2)
                size //= 2
            c_in = c_out
        if size < 1:
            raise ValueError(
                f"{name}: input_size={input_size} is too small (last map {size}x{size})"
            )
        stages["flatten"] = nn.Flatten()
        stages["affine1"] = nn.Linear(c_in * size * size, hidden_size)
        stages["relu7"] = nn.ReLU()
        stages["dropout1"] = nn.Dropout(dropout)
        stages["affine2"] = nn.Linear(hidden_size, num_classes)
        stages["dropout2"] = nn.Dropout(dropout)
        super().__init__(stages)
        self.input_shape = (in_channels, input_size, input_size)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight.numel() // m.weight.shape[0]
                init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_in))
                init.zeros_(m.bias)


@register_model
def simple_convnet(
    num_classes: int = 10, in_channels: int = 1, input_size: int = 28, weight_init_std: float = 0.01
) -> SimpleConvNet:
    """The from-scratch book's SimpleConvNet for 1x28x28 MNIST (see ``SimpleConvNet``)."""
    return SimpleConvNet(num_classes, in_channels, input_size, weight_init_std=weight_init_std)


@register_model
def deep_convnet(
    num_classes: int = 10, in_channels: int = 1, input_size: int = 28, dropout: float = 0.5
) -> DeepConvNet:
    """The from-scratch book's DeepConvNet: six 3x3 convs, He init, dropout (``DeepConvNet``)."""
    return DeepConvNet(num_classes, in_channels, input_size, dropout=dropout)
