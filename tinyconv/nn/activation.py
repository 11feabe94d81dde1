"""Activation layers: ReLU, LeakyReLU, Sigmoid, Tanh, Softplus, LogSigmoid, Softmax and
LogSoftmax.

They have no parameters and keep the input's shape; the forward and backward passes are in
``tinyconv/ops/activation.py``.
"""

from __future__ import annotations

import numbers

from .. import functional as F
from ..tensor import Tensor
from .module import Module


class _Elementwise(Module):
    """Shape-preserving layer without parameters."""

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(in_shape)


class ReLU(_Elementwise):
    """max(x, 0) elementwise: keeps the positive responses of a conv (after every conv).

    Args:
        inplace (bool): accepted so PyTorch code runs unchanged; tinyconv never overwrites
            its input. Default: False.

    Shape:
        Any shape; output has the input's shape.

    Example:
        >>> import tinyconv
        >>> ReLU()(tinyconv.tensor([-1.0, 2.0])).tolist()
        [0.0, 2.0]
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(_Elementwise):
    """x for x > 0, negative_slope * x otherwise.

    Args:
        negative_slope (float): slope for negative inputs. Default: 0.01.
        inplace (bool): accepted for PyTorch code; ignored. Default: False.

    Example:
        >>> import tinyconv
        >>> LeakyReLU(0.1)(tinyconv.tensor([-10.0, 2.0])).tolist()
        [-1.0, 2.0]
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        if isinstance(negative_slope, bool) or not isinstance(negative_slope, numbers.Real):
            raise TypeError(
                "LeakyReLU: invalid type for argument `negative_slope`. Expected a number. "
                f"Received negative_slope={negative_slope!r}."
            )
        self.negative_slope = float(negative_slope)
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Sigmoid(_Elementwise):
    """1 / (1 + e^-x) elementwise (LeNet's activation).

    Example:
        >>> import tinyconv
        >>> Sigmoid()(tinyconv.tensor([0.0])).tolist()
        [0.5]
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class Tanh(_Elementwise):
    """tanh(x) elementwise.

    Example:
        >>> import tinyconv
        >>> Tanh()(tinyconv.tensor([0.0])).tolist()
        [0.0]
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class Softplus(_Elementwise):
    """log(1 + e^(beta x)) / beta elementwise, a smooth ReLU; x itself where beta x > threshold.

    Args:
        beta (float): sharpness, nonzero. Default: 1.
        threshold (float): above this value of beta x the output is x. Default: 20.

    Shape:
        Any shape; output has the input's shape.

    Example:
        >>> import tinyconv
        >>> Softplus(beta=2.0)(tinyconv.tensor([0.0, 30.0])).tolist()[1]
        30.0
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        for name, value in (("beta", beta), ("threshold", threshold)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(
                    f"Softplus: invalid type for argument `{name}`. Expected a number. "
                    f"Received {name}={value!r}."
                )
        if beta == 0:
            raise ValueError(
                "Softplus: invalid value for argument `beta`. Expected a nonzero number. "
                f"Received beta={beta!r}."
            )
        self.beta = float(beta)
        self.threshold = float(threshold)

    def forward(self, x: Tensor) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class LogSigmoid(_Elementwise):
    """log(1 / (1 + e^-x)) elementwise, computed stably (finite for any x).

    Example:
        >>> import tinyconv
        >>> LogSigmoid()(tinyconv.tensor([0.0])).shape
        (1,)
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.logsigmoid(x)


def _check_dim(layer: str, dim: int) -> int:
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(
            f"{layer}: invalid type for argument `dim`. Expected an int (the axis that sums to "
            f"one, 1 for (N, classes)). Received dim={dim!r}."
        )
    return int(dim)


class Softmax(_Elementwise):
    """exp(x) / sum(exp(x)) along ``dim`` (max-subtracted, so it never overflows).

    Args:
        dim (int): the axis whose entries sum to one (1 for scores of shape (N, classes)).

    Example:
        >>> import tinyconv
        >>> Softmax(dim=1)(tinyconv.tensor([[1.0, 1.0, 1.0, 1.0]])).tolist()
        [[0.25, 0.25, 0.25, 0.25]]
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = _check_dim("Softmax", dim)

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(_Elementwise):
    """log(softmax(x)) along ``dim``, computed stably; pairs with ``NLLLoss``.

    Args:
        dim (int): the class axis.

    Example:
        >>> import tinyconv
        >>> LogSoftmax(dim=1)(tinyconv.tensor([[0.0, 0.0]])).shape
        (1, 2)
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = _check_dim("LogSoftmax", dim)

    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
