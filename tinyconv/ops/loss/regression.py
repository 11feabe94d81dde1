"""Regression losses: mean squared error, L1 and smooth L1, elementwise against a target of
the input's shape ("mean" divides by the number of elements)."""

from __future__ import annotations

import numbers
from typing import Any

from ...backend import get_array_module
from ...cast_policy import FP32
from ...dtypes import is_floating
from ...tensor import Function, Tensor
from ._common import (
    _check_pair,
    _check_reduction,
    _elementwise_dout,
    _reduce_elementwise,
    mean_grad,
    mean_of,
)


class MSE(Function):
    """loss = (a - b)^2 reduced; da = 2 (a - b) * g, db = -da."""

    def forward(self, a: Any, b: Any, reduction: str) -> Any:
        diff = a - b
        self.save_for_backward(diff, reduction)
        sq = diff * diff
        if reduction == "none":
            return sq
        total = sq.sum(keepdims=True).reshape(())
        return total if reduction == "sum" else mean_of(total, int(a.size))

    def backward(self, dout: Any) -> tuple[Any, Any]:
        diff, reduction = self.saved
        g = dout if reduction != "mean" else mean_grad(dout, int(diff.size))
        da = 2 * diff * g
        return da, (-da if self.needs_input_grad[1] else None)


def mse_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", *, layer: str = "mse_loss"
) -> Tensor:
    """Mean squared error (``torch.nn.functional.mse_loss``); both inputs get gradients.

    Args:
        input (Tensor): predictions, floating point.
        target (Tensor): same shape as input.
        reduction (str): "mean", "sum" or "none". Default: "mean".

    Example:
        >>> import tinyconv
        >>> mse_loss(tinyconv.tensor([1.0, 3.0]), tinyconv.tensor([0.0, 0.0])).item()
        5.0
    """
    _check_reduction(reduction, layer)
    if not isinstance(target, Tensor):
        target = Tensor(target, dtype=input.dtype)
    for name, t in (("input", input), ("target", target)):
        if not is_floating(t.dtype):
            raise TypeError(f"{layer}: expected a floating-point {name}, got dtype {t.dtype}")
    if input.shape != target.shape:
        raise ValueError(
            f"{layer}: input and target shapes differ: input {input.shape}, target {target.shape}"
        )
    return MSE.apply(input, target, reduction=reduction)


class L1(Function):
    """loss = |x - y|; dx = g sign(x - y) (0 where x = y, as PyTorch), dy = -dx."""

    autocast_policy = FP32

    def forward(self, x: Any, y: Any, reduction: str) -> Any:
        diff = x - y.astype(x.dtype, copy=False)
        self.save_for_backward(diff, reduction, y.dtype)
        return _reduce_elementwise(abs(diff), reduction)

    def backward(self, dout: Any) -> tuple[Any, Any]:
        diff, reduction, y_dtype = self.saved
        xp = get_array_module(diff)
        dx = _elementwise_dout(dout, reduction, diff.shape) * xp.sign(diff)
        return dx, (-dx.astype(y_dtype, copy=False) if self.needs_input_grad[1] else None)


class SmoothL1(Function):
    """Huber-like loss with d = x - y: 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta.

    dx = g clip(d / beta, -1, 1) (g sign(d) for beta = 0, where the loss is |d|), dy = -dx.
    """

    autocast_policy = FP32

    def forward(self, x: Any, y: Any, reduction: str, beta: float) -> Any:
        xp = get_array_module(x)
        diff = x - y.astype(x.dtype, copy=False)
        ad, b = abs(diff), x.dtype.type(beta)
        if beta == 0:
            loss = ad
        else:
            half = x.dtype.type(0.5)
            loss = xp.where(ad < b, half * diff * diff / b, ad - half * b)
        self.save_for_backward(diff, reduction, beta, y.dtype)
        return _reduce_elementwise(loss, reduction)

    def backward(self, dout: Any) -> tuple[Any, Any]:
        diff, reduction, beta, y_dtype = self.saved
        xp = get_array_module(diff)
        one = diff.dtype.type(1)
        slope = xp.sign(diff) if beta == 0 else xp.clip(diff / diff.dtype.type(beta), -one, one)
        dx = _elementwise_dout(dout, reduction, diff.shape) * slope
        return dx, (-dx.astype(y_dtype, copy=False) if self.needs_input_grad[1] else None)


def l1_loss(
    input: Tensor, target: Any, reduction: str = "mean", *, layer: str = "l1_loss"
) -> Tensor:
    """Mean absolute error |x - y| (``torch.nn.functional.l1_loss``); both inputs get gradients.

    Args:
        input (Tensor): predictions, floating point.
        target (Tensor or array): the input's shape.
        reduction (str): "mean", "sum" or "none". Default: "mean".

    Example:
        >>> import tinyconv
        >>> l1_loss(tinyconv.tensor([1.0, -3.0]), tinyconv.tensor([0.0, 0.0])).item()
        2.0
    """
    _check_reduction(reduction, layer)
    target = _check_pair(input, target, layer)
    return L1.apply(input, target, reduction=reduction)


def smooth_l1_loss(
    input: Tensor,
    target: Any,
    reduction: str = "mean",
    beta: float = 1.0,
    *,
    layer: str = "smooth_l1_loss",
) -> Tensor:
    """Smooth L1 (``torch.nn.functional.smooth_l1_loss``): quadratic near 0, linear beyond beta.

    loss = 0.5 (x - y)^2 / beta where |x - y| < beta, |x - y| - 0.5 beta otherwise.

    Args:
        input (Tensor): predictions, floating point.
        target (Tensor or array): the input's shape.
        reduction (str): "mean", "sum" or "none". Default: "mean".
        beta (float): where the loss turns linear, >= 0 (0 gives the L1 loss). Default: 1.

    Example:
        >>> import tinyconv
        >>> x = tinyconv.tensor([0.5, 3.0])
        >>> smooth_l1_loss(x, tinyconv.tensor([0.0, 0.0]), reduction="none").tolist()
        [0.125, 2.5]
    """
    _check_reduction(reduction, layer)
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real):
        raise TypeError(f"{layer}: expected a number for beta, got {beta!r}")
    if not beta >= 0:
        raise ValueError(
            f"{layer}: beta must be >= 0 (the width of the quadratic zone |x - y| < beta), "
            f"got beta={beta!r}"
        )
    target = _check_pair(input, target, layer)
    return SmoothL1.apply(input, target, reduction=reduction, beta=float(beta))
