"""Binary cross-entropy, from logits or from probabilities, elementwise against a target of
the input's shape ("mean" divides by the number of elements)."""

from __future__ import annotations

from typing import Any

from ...backend import get_array_module
from ...cast_policy import FP32
from ...dtypes import is_floating
from ...tensor import Function, Tensor
from ..activation import stable_sigmoid, stable_softplus
from ._common import (
    _check_pair,
    _check_reduction,
    _elementwise_dout,
    _reduce_elementwise,
)


def _clamped_log(a: Any) -> Any:
    """max(log a, -100) for a in [0, 1], without evaluating log 0 (PyTorch's BCE clamp)."""
    xp = get_array_module(a)
    floor = a.dtype.type(-100)
    positive = a > 0
    return xp.where(positive, xp.maximum(xp.log(xp.where(positive, a, 1)), floor), floor)


class BCEWithLogits(Function):
    """Binary cross-entropy of logits x against targets y in [0, 1], any shape (one shape).

    With p = pos_weight and L = 1 + (p - 1) y (L = 1 without pos_weight), and
    softplus(-x) = -log sigma(x) = max(-x, 0) + log1p(e^-|x|), which never overflows:

        loss = w [(1 - y) x + L softplus(-x)]   (= w [max(x, 0) - x y + log1p(e^-|x|)] for p = 1)
        dx   = w (L sigma(x) - p y)             (= w (sigma(x) - y))
        dy   = w ((p - 1) softplus(-x) - x)

    w (weight) and p broadcast to x's shape; neither gets a gradient.
    """

    autocast_policy = FP32

    def forward(self, x: Any, y: Any, weight: Any, pos_weight: Any, reduction: str) -> Any:
        y_dtype, y = y.dtype, y.astype(x.dtype, copy=False)
        w = None if weight is None else weight.astype(x.dtype, copy=False)
        p = None if pos_weight is None else pos_weight.astype(x.dtype, copy=False)
        loss = (1 - y) * x + stable_softplus(-x) * (1 if p is None else 1 + (p - 1) * y)
        if w is not None:
            loss = loss * w
        self.save_for_backward(x, y, w, p, reduction, y_dtype)
        return _reduce_elementwise(loss, reduction)

    def backward(self, dout: Any) -> tuple[Any, Any]:
        x, y, w, p, reduction, y_dtype = self.saved
        g = _elementwise_dout(dout, reduction, x.shape)  # (x.shape)
        if w is not None:
            g = g * w
        dx = dy = None
        if self.needs_input_grad[0]:
            s = stable_sigmoid(x)
            dx = g * (s - y if p is None else (1 + (p - 1) * y) * s - p * y)
        if self.needs_input_grad[1]:
            dloss_dy = -x if p is None else (p - 1) * stable_softplus(-x) - x
            dy = (g * dloss_dy).astype(y_dtype, copy=False)
        return dx, dy


class BCE(Function):
    """Binary cross-entropy of probabilities x in [0, 1] against targets y in [0, 1].

        loss = -w [y max(log x, -100) + (1 - y) max(log(1 - x), -100)]
        dx   = w (x - y) / max(x (1 - x), 1e-12)
        dy   = w (max(log(1 - x), -100) - max(log x, -100))

    PyTorch's clamps: log 0 counts as -100, and the gradient's denominator stays >= 1e-12.
    x, y of one shape, w broadcasts to it -> () or x's shape.
    """

    autocast_policy = FP32

    def forward(self, x: Any, y: Any, weight: Any, reduction: str) -> Any:
        y_dtype, y = y.dtype, y.astype(x.dtype, copy=False)
        w = None if weight is None else weight.astype(x.dtype, copy=False)
        loss = -(y * _clamped_log(x) + (1 - y) * _clamped_log(1 - x))
        if w is not None:
            loss = loss * w
        self.save_for_backward(x, y, w, reduction, y_dtype)
        return _reduce_elementwise(loss, reduction)

    def backward(self, dout: Any) -> tuple[Any, Any]:
        x, y, w, reduction, y_dtype = self.saved
        xp = get_array_module(x)
        g = _elementwise_dout(dout, reduction, x.shape)
        if w is not None:
            g = g * w
        dx = dy = None
        if self.needs_input_grad[0]:
            dx = g * (x - y) / xp.maximum(x * (1 - x), x.dtype.type(1e-12))
        if self.needs_input_grad[1]:
            dy = (g * (_clamped_log(1 - x) - _clamped_log(x))).astype(y_dtype, copy=False)
        return dx, dy


def _check_elementwise_weight(weight: Any, input: Tensor, name: str, layer: str) -> Any:
    """A weight that broadcasts to the input's shape, as a raw array (or None)."""
    if weight is None:
        return None
    xp = get_array_module(input.data)
    w = weight.data if isinstance(weight, Tensor) else xp.asarray(weight)
    if w.dtype.kind not in "iuf" and not is_floating(w.dtype):
        raise TypeError(f"{layer}: expected a numeric {name}, got dtype {w.dtype}")
    shape = tuple(w.shape)
    if len(shape) > input.ndim or any(
        d not in (1, n) for d, n in zip(reversed(shape), reversed(input.shape), strict=False)
    ):
        raise ValueError(
            f"{layer}: expected {name} broadcastable to the input's shape {input.shape} "
            f"(each trailing dimension 1 or equal), got {name} of shape {shape}"
        )
    return w


def _check_unit_interval(a: Tensor, name: str, layer: str, hint: str = "") -> None:
    """PyTorch's BCE check: every element of ``a`` in [0, 1] (NaN fails too)."""
    if a.data.size == 0:
        return
    lo, hi = float(a.data.min()), float(a.data.max())
    if not (lo >= 0.0 and hi <= 1.0):
        raise ValueError(
            f"{layer}: expected {name} values in [0, 1]{hint}, got values from {lo} to {hi}"
        )


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
    pos_weight: Any = None,
    *,
    layer: str = "binary_cross_entropy_with_logits",
) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable step (``F.binary_cross_entropy_with_logits``).

    loss = -w [p y log sigma(x) + (1 - y) log(1 - sigma(x))]
         = w [(1 - y) x + (1 + (p - 1) y) (max(-x, 0) + log1p(e^-|x|))]

    Args:
        input (Tensor): logits x, floating point, any shape.
        target (Tensor or array): y of the input's shape, floating point (usually in [0, 1]);
            it gets a gradient when it requires one.
        weight (Tensor or array, optional): w, broadcast to the input's shape. Default: None.
        reduction (str): "mean", "sum" or "none". Default: "mean".
        pos_weight (Tensor or array, optional): p, the weight of the positive term, broadcast
            to the input's shape ((C,) for (N, C), (C, 1, 1) for (N, C, H, W)). Default: None.

    Shape:
        input (*), target (*) -> () (or (*) with reduction="none").

    Raises:
        TypeError: a non-float input or target.
        ValueError: shapes that differ, a weight that does not broadcast, a bad reduction.

    Example:
        >>> import tinyconv
        >>> x, y = tinyconv.tensor([0.0, 100.0]), tinyconv.tensor([1.0, 1.0])
        >>> round(binary_cross_entropy_with_logits(x, y, reduction="sum").item(), 4)  # log 2
        0.6931
    """
    _check_reduction(reduction, layer)
    target = _check_pair(input, target, layer)
    w = _check_elementwise_weight(weight, input, "weight", layer)
    p = _check_elementwise_weight(pos_weight, input, "pos_weight", layer)
    return BCEWithLogits.apply(input, target, weight=w, pos_weight=p, reduction=reduction)


def binary_cross_entropy(
    input: Tensor,
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
    *,
    layer: str = "binary_cross_entropy",
) -> Tensor:
    """Binary cross-entropy of probabilities (``torch.nn.functional.binary_cross_entropy``).

    loss = -w [y log x + (1 - y) log(1 - x)], each log clamped at -100 as PyTorch does.
    Prefer ``binary_cross_entropy_with_logits`` on logits: it is stable for any input.

    Args:
        input (Tensor): probabilities x in [0, 1], floating point, any shape.
        target (Tensor or array): y in [0, 1] of the input's shape, floating point.
        weight (Tensor or array, optional): w, broadcast to the input's shape. Default: None.
        reduction (str): "mean", "sum" or "none". Default: "mean".

    Raises:
        TypeError: a non-float input or target.
        ValueError: values outside [0, 1], shapes that differ, a bad weight or reduction.

    Example:
        >>> import tinyconv
        >>> p = tinyconv.tensor([0.5, 0.0])
        >>> [round(v, 4) for v in binary_cross_entropy(p, [1.0, 1.0], reduction="none").tolist()]
        [0.6931, 100.0]
    """
    _check_reduction(reduction, layer)
    target = _check_pair(input, target, layer)
    _check_unit_interval(
        input, "input", layer, " (probabilities; use binary_cross_entropy_with_logits for logits)"
    )
    _check_unit_interval(target, "target", layer)
    w = _check_elementwise_weight(weight, input, "weight", layer)
    return BCE.apply(input, target, weight=w, reduction=reduction)
