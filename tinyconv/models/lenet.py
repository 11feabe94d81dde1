"""LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998) and its modern variant.

The 1998 layout, for a 1x32x32 input::

    C1 conv 6@5x5 -> 6x28x28 - act - S2 2x2 subsampling -> 6x14x14
    C3 conv 16@5x5 -> 16x10x10 - act - S4 2x2 subsampling -> 16x5x5
    C5 conv 120@5x5 -> 120x1x1 - act - flatten - F6 84 - act - output 10

Simplifications, as usual today: S2/S4 are plain 2x2 average pooling (the paper multiplies
the average by a learned coefficient and adds a learned bias); C3 connects every S2 map to
every C3 map (the paper's table connects each C3 map to 3, 4 or 6 of them: 1,516 weights
instead of 2,416); the activation is plain tanh or sigmoid (the paper scales tanh,
1.7159 tanh(2a/3)); the output layer is a Linear layer, not Euclidean RBF units.
For a 1x28x28 input (MNIST) C1 pads by 2 so the maps keep the same sizes.

``lenet5_modern`` swaps the activation for ReLU and subsampling for 2x2 max pooling.
Parameters (full C3, 10 classes): 156 + 2,416 + 48,120 + 10,164 + 850 = 61,706.
"""

from __future__ import annotations

from collections import OrderedDict

from .. import nn
from ..nn.linear import check_positive_int
from ._base import ZooSequential, register_model

_ACTIVATIONS = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "relu": nn.ReLU}
_POOLS = {"avg": nn.AvgPool2d, "max": nn.MaxPool2d}


class LeNet5(ZooSequential):
    """LeNet-5 with a choice of activation and subsampling.

    Args:
        num_classes (int): outputs. Default: 10.
        in_channels (int): input channels. Default: 1.
        input_size (int): 32 (the paper) or 28 (MNIST, C1 padded by 2). Default: 32.
        activation (str): "tanh", "sigmoid" or "relu". Default: "tanh".
        pool (str): "avg" (the paper's subsampling) or "max". Default: "avg".

    Shape:
        Input (N, in_channels, input_size, input_size) -> Output (N, num_classes).

    Raises:
        ValueError: for another input_size, activation or pool.

    Example:
        >>> import numpy, tinyconv
        >>> LeNet5()(tinyconv.tensor(numpy.zeros((2, 1, 32, 32), numpy.float32))).shape
        (2, 10)
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        input_size: int = 32,
        activation: str = "tanh",
        pool: str = "avg",
    ) -> None:
        check_positive_int("LeNet5", "num_classes", num_classes)
        check_positive_int("LeNet5", "in_channels", in_channels)
        if input_size not in (28, 32):
            raise ValueError(
                f"LeNet5: input_size must be 32 (paper) or 28 (MNIST), got {input_size}"
            )
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"LeNet5: activation must be in {sorted(_ACTIVATIONS)}, got {activation!r}"
            )
        if pool not in _POOLS:
            raise ValueError(f"LeNet5: pool must be 'avg' or 'max', got {pool!r}")
        act, subsample = _ACTIVATIONS[activation], _POOLS[pool]
        super().__init__(
            OrderedDict(
                c1=nn.Conv2d(in_channels, 6, 5, padding=(32 - input_size) // 2),
                act1=act(),
                s2=subsample(2, stride=2),
                c3=nn.Conv2d(6, 16, 5),
                act3=act(),
                s4=subsample(2, stride=2),
                c5=nn.Conv2d(16, 120, 5),
                act5=act(),
                flatten=nn.Flatten(),
                f6=nn.Linear(120, 84),
                act6=act(),
                output=nn.Linear(84, num_classes),
            )
        )
        self.input_shape = (in_channels, input_size, input_size)


@register_model
def lenet5(
    num_classes: int = 10, in_channels: int = 1, activation: str = "tanh", input_size: int = 32
) -> LeNet5:
    """LeNet-5 as the 1998 paper: tanh (or sigmoid) and average subsampling (see ``LeNet5``)."""
    if activation not in ("tanh", "sigmoid"):
        raise ValueError(f"lenet5: activation must be 'tanh' or 'sigmoid', got {activation!r}")
    return LeNet5(num_classes, in_channels, input_size, activation=activation, pool="avg")


@register_model
def lenet5_modern(num_classes: int = 10, in_channels: int = 1, input_size: int = 32) -> LeNet5:
    """LeNet-5 as people build it today: ReLU and 2x2 max pooling (see ``LeNet5``)."""
    return LeNet5(num_classes, in_channels, input_size, activation="relu", pool="max")
