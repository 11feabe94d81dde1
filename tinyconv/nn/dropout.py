"""Dropout layer (inverted dropout, as PyTorch); the arithmetic is in ``ops/dropout.py``."""

from __future__ import annotations

import numbers

from .. import functional as F
from ..tensor import Tensor
from .module import Module


class Dropout(Module):
    """Zero each element with probability p while training; scale the rest by 1/(1 - p).

    In ``eval()`` mode the layer is the identity. Masks come from tinyconv's global
    generator, so ``tinyconv.manual_seed`` makes them reproducible. Used after the dense
    layers of AlexNet and VGG (Srivastava et al., 2014).

    Args:
        p (float): drop probability, in [0, 1]. Default: 0.5.
        inplace (bool): accepted for PyTorch code; tinyconv never works in place. Default: False.

    Shape:
        Any shape; output has the input's shape.

    Example:
        >>> import numpy, tinyconv
        >>> drop = Dropout(0.2).eval()
        >>> drop(tinyconv.tensor(numpy.ones(3))).tolist()
        [1.0, 1.0, 1.0]
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
            raise ValueError(
                "Dropout: invalid value for argument `p`. Expected a drop probability in [0, 1]. "
                f"Received p={p!r}."
            )
        self.p = float(p)
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(in_shape)

    def extra_repr(self) -> str:
        return f"p={self.p}" + (", inplace=True" if self.inplace else "")


class StochasticDepth(Module):
    """Drop a residual branch per sample ("row") or per batch ("batch") with probability p
    while training, scaling what is kept by 1/(1 - p) (torchvision's ``ops.StochasticDepth``,
    used by EfficientNet and ConvNeXt). The identity in ``eval()`` mode.

    Args:
        p (float): drop probability, in [0, 1].
        mode (str): "row" or "batch".

    Shape:
        (N, ...) -> the same shape.

    Example:
        >>> import numpy, tinyconv
        >>> StochasticDepth(0.2, "row").eval()(tinyconv.tensor(numpy.ones((2, 1)))).tolist()
        [[1.0], [1.0]]
    """

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
            raise ValueError(
                "StochasticDepth: invalid value for argument `p`. Expected a drop probability "
                f"in [0, 1]. Received p={p!r}."
            )
        if mode not in ("row", "batch"):
            raise ValueError(
                "StochasticDepth: invalid value for argument `mode`. Expected 'row' or 'batch'. "
                f"Received mode={mode!r}."
            )
        self.p = float(p)
        self.mode = mode

    def forward(self, x: Tensor) -> Tensor:
        return F.stochastic_depth(x, self.p, self.mode, self.training)

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(in_shape)

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"
