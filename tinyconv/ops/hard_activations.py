"""Piecewise-linear activations: hardtanh, ReLU6, hardsigmoid and hardswish (MobileNet).

Each is made of straight pieces, so its backward is the slope of the piece x lies on.
At the corners the slope is PyTorch's: hardtanh and ReLU6 pass the gradient only strictly
inside (min_val, max_val); hardsigmoid and hardswish use the middle piece only strictly inside
(-3, 3), hardswish's slope being 0 at -3 and 1 at 3.
"""

from __future__ import annotations

import numbers
from typing import Any

from ..backend import get_array_module
from ..tensor import Function, Tensor
from .activation import _check_float


class Hardtanh(Function):
    """y = clip(x, min_val, max_val); dx = dout where min_val < x < max_val, else 0."""

    def forward(self, x: Any, min_val: float, max_val: float) -> Any:
        xp = get_array_module(x)
        lo, hi = x.dtype.type(min_val), x.dtype.type(max_val)
        self.save_for_backward((x > lo) & (x < hi))
        return xp.minimum(xp.maximum(x, lo), hi)

    def backward(self, dout: Any) -> Any:
        (inside,) = self.saved
        return dout * inside


class Hardsigmoid(Function):
    """y = relu6(x + 3) / 6 = clip(x / 6 + 1/2, 0, 1); dx = dout / 6 where -3 < x < 3."""

    def forward(self, x: Any) -> Any:
        xp = get_array_module(x)
        self.save_for_backward((x > -3) & (x < 3))
        six = x.dtype.type(6)
        return xp.minimum(xp.maximum(x + x.dtype.type(3), x.dtype.type(0)), six) / six

    def backward(self, dout: Any) -> Any:
        (inside,) = self.saved
        return dout * inside / dout.dtype.type(6)


class Hardswish(Function):
    """y = x * relu6(x + 3) / 6 (Howard et al., 2019, MobileNetV3).

    dx = 0 for x <= -3, dout * (x / 3 + 1/2) for -3 < x < 3, dout for x >= 3.
    """

    def forward(self, x: Any) -> Any:
        xp = get_array_module(x)
        self.save_for_backward(x)
        six = x.dtype.type(6)
        return x * xp.minimum(xp.maximum(x + x.dtype.type(3), x.dtype.type(0)), six) / six

    def backward(self, dout: Any) -> Any:
        (x,) = self.saved
        xp = get_array_module(x)
        slope = xp.where(x <= -3, 0, xp.where(x < 3, x / x.dtype.type(3) + x.dtype.type(0.5), 1))
        return dout * slope.astype(dout.dtype, copy=False)


# ------------------------------------------------------------------ functional
def _number(value: Any, name: str, layer: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{layer}: expected a number for {name}, got {value!r}")
    return float(value)


def hardtanh(
    x: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """clip(x, min_val, max_val) elementwise.

    Args:
        x (Tensor): floating point, any shape.
        min_val, max_val (float): the clipping range; min_val <= max_val. Default: -1, 1.
        inplace (bool): accepted for PyTorch code; tinyconv never works in place.

    Raises:
        TypeError: a non-float input or non-number bounds.
        ValueError: min_val > max_val.

    Example:
        >>> import tinyconv
        >>> hardtanh(tinyconv.tensor([-2.0, 0.5, 3.0])).tolist()
        [-1.0, 0.5, 1.0]
    """
    _check_float(x, "hardtanh")
    lo = _number(min_val, "min_val", "hardtanh")
    hi = _number(max_val, "max_val", "hardtanh")
    if lo > hi:
        raise ValueError(
            f"hardtanh: min_val must be at most max_val, got min_val={lo} and max_val={hi}"
        )
    return Hardtanh.apply(x, min_val=lo, max_val=hi)


def relu6(x: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6) elementwise (MobileNetV2's activation): hardtanh(x, 0, 6).

    Example:
        >>> import tinyconv
        >>> relu6(tinyconv.tensor([-1.0, 3.0, 9.0])).tolist()
        [0.0, 3.0, 6.0]
    """
    _check_float(x, "relu6")
    return Hardtanh.apply(x, min_val=0.0, max_val=6.0)


def hardsigmoid(x: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6 elementwise: 0 below -3, 1 above 3, linear between.

    Example:
        >>> import tinyconv
        >>> hardsigmoid(tinyconv.tensor([-4.0, 0.0, 4.0])).tolist()
        [0.0, 0.5, 1.0]
    """
    _check_float(x, "hardsigmoid")
    return Hardsigmoid.apply(x)


def hardswish(x: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6 elementwise (MobileNetV3's activation).

    Example:
        >>> import tinyconv
        >>> hardswish(tinyconv.tensor([-4.0, 0.0, 4.0])).tolist()
        [-0.0, 0.0, 4.0]
    """
    _check_float(x, "hardswish")
    return Hardswish.apply(x)
