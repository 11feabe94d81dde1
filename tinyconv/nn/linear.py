"""Linear (the from-scratch book's Affine), Flatten and Identity layers."""

from __future__ import annotations

from typing import Any

import numpy

from .. import functional as F
from ..tensor import Tensor
from . import init
from .module import Module, Parameter


def check_positive_int(layer: str, name: str, value: Any) -> int:
    """Keras-style hyper-parameter check shared by the layers."""
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)):
        raise TypeError(
            f"{layer}: invalid type for argument `{name}`. Expected an int. "
            f"Received {name}={value!r}."
        )
    if value <= 0:
        raise ValueError(
            f"{layer}: invalid value for argument `{name}`. Expected a strictly positive value. "
            f"Received {name}={value}."
        )
    return int(value)


class Linear(Module):
    """Fully connected layer: y = x W^T + b (Keras' Dense, the from-scratch book's Affine).

    Args:
        in_features (int): size of each input sample.
        out_features (int): size of each output sample.
        bias (bool): learn an additive bias. Default: True.
        dtype: parameter dtype. Default: float32.

    Shape:
        Input (N, *, in_features) -> Output (N, *, out_features).

    Attributes:
        weight: (out_features, in_features), init U(-1/sqrt(in), 1/sqrt(in)) as PyTorch.
        bias: (out_features,), same init.

    Example:
        >>> import tinyconv
        >>> Linear(4, 2)(tinyconv.tensor(numpy.zeros((3, 4)))).shape
        (3, 2)
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None
    ) -> None:
        super().__init__()
        self.in_features = check_positive_int("Linear", "in_features", in_features)
        self.out_features = check_positive_int("Linear", "out_features", out_features)
        dt = numpy.dtype(dtype or numpy.float32)
        self.weight = Parameter(numpy.empty((out_features, in_features), dtype=dt))
        self.bias = Parameter(numpy.empty((out_features,), dtype=dt)) if bias else None
        if not bias:
            self.register_parameter("bias", None)
        init.default_init_(self.weight, self.bias)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias, layer=repr(self))

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(in_shape[:-1]) + (self.out_features,)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}" + (
            ", bias=False" if self.bias is None else ""
        )


class Flatten(Module):
    """Flatten dims ``start_dim..end_dim``: (N, C, H, W) -> (N, C*H*W) before the Dense layers."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        nd = len(in_shape)
        s, e = self.start_dim % nd, self.end_dim % nd
        n = 1
        for d in in_shape[s : e + 1]:
            n *= d
        return tuple(in_shape[:s]) + (n,) + tuple(in_shape[e + 1 :])

    def extra_repr(self) -> str:
        return (
            ""
            if (self.start_dim, self.end_dim) == (1, -1)
            else f"start_dim={self.start_dim}, end_dim={self.end_dim}"
        )


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. to remove a head)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(in_shape)
