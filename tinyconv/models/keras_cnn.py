"""The TensorFlow 2.0 lecture's two Keras CNNs, for MNIST and CIFAR-10.

MNIST (1x28x28)::

    conv 32@5x5 "same" - relu - max pool 2/2 -> 32x14x14
    conv 64@5x5 "same" - relu - max pool 2/2 -> 64x7x7 = 3,136
    flatten - dense 1024 - relu - dense 10

CIFAR-10 (3x32x32)::

    conv 64@5x5 "same" - relu - max pool 3/2 -> 64x15x15     ((32 - 3)/2 + 1 = 15)
    conv 64@5x5 "same" - relu - max pool 3/2 -> 64x7x7       ((15 - 3)/2 + 1 = 7)
    conv 128@3x3 "same" - relu, three times -> 128x7x7 = 6,272
    flatten - dense 384 - relu - dropout 0.2 - dense 10

(The lecture's comment says 8x8 before flattening; with valid 3x3/2 pooling the arithmetic
gives 7x7.) "same" with stride 1 and an odd kernel is a padding of (F - 1)/2 on every side.
Initialisation is Keras' default: Glorot-uniform kernels and zero biases. The softmax lives in
the loss (cross-entropy from logits), so the models return logits.
"""

from __future__ import annotations

from collections import OrderedDict

from .. import nn
from ..nn import init
from ..nn.linear import check_positive_int
from ._base import ZooSequential, register_model


def _keras_init(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            init.xavier_uniform_(m.weight)
            init.zeros_(m.bias)


class MnistCNN(ZooSequential):
    """The lecture's MNIST CNN (two 5x5 "same" convs, two 2x2 pools, dense 1024, dense 10).

    Args:
        num_classes (int): outputs. Default: 10.
        in_channels (int): input channels. Default: 1.
        input_size (int): input height and width, a multiple of 4. Default: 28.
        hidden (int): width of the hidden dense layer. Default: 1024 (the lecture's).

    Shape:
        Input (N, in_channels, 28, 28) -> (N, 64, 7, 7) before the dense layers -> (N, num_classes).

    Example:
        >>> import numpy, tinyconv
        >>> MnistCNN()(tinyconv.tensor(numpy.zeros((2, 1, 28, 28), numpy.float32))).shape
        (2, 10)
    """

    def __init__(
        self, num_classes: int = 10, in_channels: int = 1, input_size: int = 28, hidden: int = 1024
    ) -> None:
        check_positive_int("MnistCNN", "num_classes", num_classes)
        check_positive_int("MnistCNN", "hidden", hidden)
        check_positive_int("MnistCNN", "in_channels", in_channels)
        check_positive_int("MnistCNN", "input_size", input_size)
        size = input_size // 2 // 2
        if size < 1:
            raise ValueError(f"MnistCNN: input_size={input_size} is too small for two 2x2 pools")
        super().__init__(
            OrderedDict(
                conv1=nn.Conv2d(in_channels, 32, 5, stride=1, padding=2),
                relu1=nn.ReLU(),
                pool1=nn.MaxPool2d(2, stride=2),
                conv2=nn.Conv2d(32, 64, 5, stride=1, padding=2),
                relu2=nn.ReLU(),
                pool2=nn.MaxPool2d(2, stride=2),
                flatten=nn.Flatten(),
                fc1=nn.Linear(64 * size * size, hidden),
                relu3=nn.ReLU(),
                fc2=nn.Linear(hidden, num_classes),
            )
        )
        self.input_shape = (in_channels, input_size, input_size)
        _keras_init(self)


class Cifar10CNN(ZooSequential):
    """The lecture's CIFAR-10 CNN (two 5x5 convs with 3x3/2 pools, three 3x3 convs, dense 384).

    Args:
        num_classes (int): outputs. Default: 10.
        in_channels (int): input channels. Default: 3.
        input_size (int): input height and width. Default: 32.
        dropout (float): drop probability before the last layer. Default: 0.2.

    Shape:
        Input (N, in_channels, 32, 32) -> (N, 128, 7, 7) = 6,272 features -> (N, num_classes).

    Example:
        >>> import numpy, tinyconv
        >>> Cifar10CNN()(tinyconv.tensor(numpy.zeros((1, 3, 32, 32), numpy.float32))).shape
        (1, 10)
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 3,
        input_size: int = 32,
        dropout: float = 0.2,
    ) -> None:
        check_positive_int("Cifar10CNN", "num_classes", num_classes)
        check_positive_int("Cifar10CNN", "in_channels", in_channels)
        check_positive_int("Cifar10CNN", "input_size", input_size)
        size = (input_size - 3) // 2 + 1  # pool 3x3 stride 2, no padding: 32 -> 15
        size = (size - 3) // 2 + 1  # 15 -> 7
        if size < 1:
            raise ValueError(
                f"Cifar10CNN: input_size={input_size} is too small for two 3x3/2 pools"
            )
        super().__init__(
            OrderedDict(
                conv1=nn.Conv2d(in_channels, 64, 5, stride=1, padding=2),
                relu1=nn.ReLU(),
                pool1=nn.MaxPool2d(3, stride=2),
                conv2=nn.Conv2d(64, 64, 5, stride=1, padding=2),
                relu2=nn.ReLU(),
                pool2=nn.MaxPool2d(3, stride=2),
                conv3=nn.Conv2d(64, 128, 3, stride=1, padding=1),
                relu3=nn.ReLU(),
                conv4=nn.Conv2d(128, 128, 3, stride=1, padding=1),
                relu4=nn.ReLU(),
                conv5=nn.Conv2d(128, 128, 3, stride=1, padding=1),
                relu5=nn.ReLU(),
                flatten=nn.Flatten(),
                fc1=nn.Linear(128 * size * size, 384),
                relu6=nn.ReLU(),
                dropout=nn.Dropout(dropout),
                fc2=nn.Linear(384, num_classes),
            )
        )
        self.input_shape = (in_channels, input_size, input_size)
        _keras_init(self)


@register_model
def mnist_cnn(
    num_classes: int = 10, in_channels: int = 1, input_size: int = 28, hidden: int = 1024
) -> MnistCNN:
    """The TensorFlow lecture's MNIST CNN (see ``MnistCNN``): 3,274,634 parameters."""
    return MnistCNN(num_classes, in_channels, input_size, hidden)


@register_model
def cifar10_cnn(
    num_classes: int = 10, in_channels: int = 3, input_size: int = 32, dropout: float = 0.2
) -> Cifar10CNN:
    """The TensorFlow lecture's CIFAR-10 CNN (see ``Cifar10CNN``): 2,889,034 parameters."""
    return Cifar10CNN(num_classes, in_channels, input_size, dropout)
