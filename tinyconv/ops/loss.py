"""Losses: cross-entropy from logits, negative log-likelihood, mean squared error, binary
cross-entropy (from logits or probabilities), L1 and smooth L1.

Cross-entropy is one fused ``Function`` (the from-scratch book's SoftmaxWithLoss):
log-softmax with the maximum subtracted, then the negative log-likelihood, whose gradient
is simply softmax - target. Both classification losses are written as

    loss_i = -sum_c q_ic * logp_ic

with a coefficient matrix q: the class weight at the true class, times (1 - eps), plus
eps/C * weight_c everywhere for label smoothing eps, and zero rows for ignored targets.
Then d loss_i / d logp = -q_i, and through the log-softmax
d loss_i / d x_i = sum(q_i) * softmax(x_i) - q_i. The "mean" reduction divides by the sum of
the true classes' weights (the number of targets without weights), as PyTorch does.

The binary and regression losses compare x with a target of its own shape elementwise; their
"mean" divides by the number of elements.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from .. import amp
from ..backend import get_array_module
from ..dtypes import is_floating
from ..tensor import Function, Tensor
from .activation import stable_sigmoid, stable_softplus

REDUCTIONS = ("mean", "sum", "none")


def _to_rows(x: Any) -> tuple[Any, tuple[int, ...]]:
    """(N, C, d1, ...) -> (N*d1*..., C) with the class axis last; also the layout to undo it."""
    if x.ndim == 1:  # one unbatched sample (C,)
        return x[None, :], x.shape
    if x.ndim == 2:
        return x, x.shape
    moved = x.reshape(x.shape[0], x.shape[1], -1).transpose(0, 2, 1)  # (N, d, C)
    return moved.reshape(-1, x.shape[1]), x.shape


def _from_rows(rows: Any, shape: tuple[int, ...]) -> Any:
    """Inverse of ``_to_rows``."""
    if len(shape) <= 2:
        return rows.reshape(shape)
    N, C = shape[:2]
    return rows.reshape(N, -1, C).transpose(0, 2, 1).reshape(shape)


def _coefficients(
    target: Any, C: int, weight: Any, ignore_index: int, smoothing: float, dtype: Any
) -> tuple[Any, Any]:
    """q (M, C) with loss_i = -sum_c q_ic logp_ic, and the "mean" denominator sum_i w[y_i]."""
    xp = get_array_module(target)
    M = target.shape[0]
    valid = target != ignore_index  # (M,)
    y = xp.where(valid, target, 0)
    w = xp.ones(C, dtype=dtype) if weight is None else weight.astype(dtype, copy=False)
    w_y = w[y] * valid  # (M,) weight of each sample's class, 0 when ignored
    q = xp.zeros((M, C), dtype=dtype)
    if smoothing:
        q += (dtype.type(smoothing / C) * w) * valid[:, None]
    q[xp.arange(M), y] += dtype.type(1 - smoothing) * w_y
    return q, w_y.sum()


def _reduce(per_sample: Any, reduction: str, denom: Any, target_shape: tuple[int, ...]) -> Any:
    if reduction == "none":
        return per_sample.reshape(target_shape)
    total = per_sample.sum(keepdims=True).reshape(())
    return total if reduction == "sum" else total / denom


def _reduce_backward(dout: Any, reduction: str, denom: Any, M: int) -> Any:
    """d total / d loss_i as a column (M, 1)."""
    if reduction == "none":
        return dout.reshape(M, 1)
    g = dout if reduction == "sum" else dout / denom
    return get_array_module(dout).broadcast_to(g.reshape(1, 1), (M, 1))


class CrossEntropy(Function):
    """Softmax + negative log-likelihood in one step, from logits x (N, C, *) and labels (N, *).

    Under autocast it runs in float32 (so does every loss here).
    """

    autocast_policy = amp.FP32

    def forward(
        self,
        x: Any,
        target: Any,
        weight: Any,
        ignore_index: int,
        reduction: str,
        label_smoothing: float,
    ) -> Any:
        xp = get_array_module(x)
        rows, shape = _to_rows(x)  # (M, C)
        z = rows - rows.max(axis=1, keepdims=True)
        logp = z - xp.log(xp.exp(z).sum(axis=1, keepdims=True))  # log-softmax (M, C)
        q, denom = _coefficients(
            target.reshape(-1), rows.shape[1], weight, ignore_index, label_smoothing, x.dtype
        )
        per_sample = -(q * logp).sum(axis=1)  # (M,)
        self.save_for_backward(logp, q, denom, reduction, shape)
        return _reduce(per_sample, reduction, denom, target.shape)

    def backward(self, dout: Any) -> Any:
        logp, q, denom, reduction, shape = self.saved
        xp = get_array_module(dout)
        g = _reduce_backward(dout, reduction, denom, q.shape[0])  # (M, 1)
        drows = g * (q.sum(axis=1, keepdims=True) * xp.exp(logp) - q)  # softmax - target
        return _from_rows(drows, shape)


class NLL(Function):
    """loss_i = -weight[y_i] * logp[i, y_i] from log-probabilities (N, C, *) and labels (N, *)."""

    autocast_policy = amp.FP32

    def forward(self, x: Any, target: Any, weight: Any, ignore_index: int, reduction: str) -> Any:
        rows, shape = _to_rows(x)
        q, denom = _coefficients(
            target.reshape(-1), rows.shape[1], weight, ignore_index, 0.0, x.dtype
        )
        per_sample = -(q * rows).sum(axis=1)
        self.save_for_backward(q, denom, reduction, shape)
        return _reduce(per_sample, reduction, denom, target.shape)

    def backward(self, dout: Any) -> Any:
        q, denom, reduction, shape = self.saved
        g = _reduce_backward(dout, reduction, denom, q.shape[0])
        return _from_rows(-g * q, shape)


# ------------------------------------------------------------------ checks
def _check_reduction(reduction: str, layer: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{layer}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _check_classification(
    x: Tensor, target: Any, weight: Any, ignore_index: int, layer: str
) -> tuple[Any, Any]:
    """Validate logits/log-probs and integer labels; return the raw target and weight arrays."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer}: expected a tinyconv Tensor as input, got {type(x).__name__}")
    if not is_floating(x.dtype):
        raise TypeError(f"{layer}: expected a floating-point input, got dtype {x.dtype}")
    if x.ndim < 1:
        raise ValueError(f"{layer}: expected an input (N, C) or (N, C, *), got a scalar")
    t = target.data if isinstance(target, Tensor) else target
    xp = get_array_module(x.data)
    t = xp.asarray(t)
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"{layer}: expected integer class labels (int64) as target, got dtype {t.dtype}; "
            "class probabilities are not supported, pass the label indices"
        )
    C = x.shape[1] if x.ndim > 1 else x.shape[0]
    expected = (x.shape[0],) + x.shape[2:] if x.ndim > 1 else ()
    if tuple(t.shape) != expected:
        raise ValueError(
            f"{layer}: expected target of shape {expected} for input of shape {x.shape} "
            f"(one label per sample), got target of shape {tuple(t.shape)}"
        )
    valid = t[t != ignore_index]
    if valid.size and (int(valid.min()) < 0 or int(valid.max()) >= C):
        bad = int(valid.min()) if int(valid.min()) < 0 else int(valid.max())
        raise ValueError(
            f"{layer}: target {bad} is out of range for {C} classes "
            f"(expected 0 <= target < {C}, or ignore_index={ignore_index})"
        )
    w = weight.data if isinstance(weight, Tensor) else weight
    if w is not None:
        w = xp.asarray(w)
        if tuple(w.shape) != (C,):
            raise ValueError(
                f"{layer}: expected a class weight of shape ({C},), got {tuple(w.shape)}"
            )
    return t, w


# -------------------------------------------------------------- functional
def cross_entropy(
    input: Tensor,
    target: Any,
    weight: Any = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    layer: str = "cross_entropy",
) -> Tensor:
    """Cross-entropy between logits and integer labels (``torch.nn.functional.cross_entropy``).

    loss_i = -(1 - eps) w[y_i] log softmax(x_i)[y_i] - eps/C sum_c w[c] log softmax(x_i)[c]

    Args:
        input (Tensor): logits (N, C), (C,) or (N, C, d1, ...), floating point.
        target (Tensor or array): class indices (N,), () or (N, d1, ...), integers.
        weight (Tensor or array, optional): per-class weight (C,). Default: None.
        ignore_index (int): label whose samples contribute nothing. Default: -100.
        reduction (str): "mean" (divided by the summed weights of the targets), "sum" or
            "none" (per sample). Default: "mean".
        label_smoothing (float): eps in [0, 1], mixing the target with the uniform
            distribution. Default: 0.

    Raises:
        TypeError: float targets (probabilities are not supported) or a non-float input.
        ValueError: a target shape that does not match, labels out of range, a bad
            reduction or smoothing.

    Example:
        >>> import tinyconv
        >>> logits = tinyconv.tensor([[0.0, 0.0]])
        >>> round(cross_entropy(logits, tinyconv.tensor([1])).item(), 4)  # log 2
        0.6931
    """
    _check_reduction(reduction, layer)
    if not 0.0 <= float(label_smoothing) <= 1.0:
        raise ValueError(f"{layer}: label_smoothing must be in [0, 1], got {label_smoothing}")
    t, w = _check_classification(input, target, weight, ignore_index, layer)
    return CrossEntropy.apply(
        input,
        target=t,
        weight=w,
        ignore_index=int(ignore_index),
        reduction=reduction,
        label_smoothing=float(label_smoothing),
    )


def nll_loss(
    input: Tensor,
    target: Any,
    weight: Any = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    layer: str = "nll_loss",
) -> Tensor:
    """Negative log-likelihood of integer labels under log-probabilities (after log_softmax).

    loss_i = -w[y_i] * input[i, y_i]; arguments as ``cross_entropy`` without smoothing.

    Example:
        >>> import tinyconv
        >>> nll_loss(tinyconv.tensor([[-1.0, -2.0]]), tinyconv.tensor([1])).item()
        2.0
    """
    _check_reduction(reduction, layer)
    t, w = _check_classification(input, target, weight, ignore_index, layer)
    return NLL.apply(input, target=t, weight=w, ignore_index=int(ignore_index), reduction=reduction)


class MSE(Function):
    """loss = (a - b)^2 reduced; da = 2 (a - b) * g, db = -da."""

    def forward(self, a: Any, b: Any, reduction: str) -> Any:
        diff = a - b
        self.save_for_backward(diff, reduction)
        sq = diff * diff
        if reduction == "none":
            return sq
        total = sq.sum(keepdims=True).reshape(())
        return total if reduction == "sum" else total / a.dtype.type(a.size)

    def backward(self, dout: Any) -> tuple[Any, Any]:
        diff, reduction = self.saved
        g = dout if reduction != "mean" else dout / dout.dtype.type(diff.size)
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


# ------------------------------------------------ elementwise losses (target of x's shape)
def _reduce_elementwise(loss: Any, reduction: str) -> Any:
    """loss (x's shape) -> its mean or sum (a 0-d array), or itself for "none"."""
    if reduction == "none":
        return loss
    total = loss.sum(keepdims=True).reshape(())
    return total if reduction == "sum" else total / loss.dtype.type(loss.size)


def _elementwise_dout(dout: Any, reduction: str, shape: tuple[int, ...]) -> Any:
    """d total / d loss for every element, an array of x's ``shape``."""
    if reduction == "none":
        return dout
    g = dout if reduction == "sum" else dout / dout.dtype.type(math.prod(shape))
    return get_array_module(dout).broadcast_to(g, shape)


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

    autocast_policy = amp.FP32

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

    autocast_policy = amp.FP32

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


class L1(Function):
    """loss = |x - y|; dx = g sign(x - y) (0 where x = y, as PyTorch), dy = -dx."""

    autocast_policy = amp.FP32

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

    autocast_policy = amp.FP32

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


def _check_pair(input: Tensor, target: Any, layer: str) -> Tensor:
    """Validate a floating-point input and a target of its shape; return the target Tensor."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{layer}: expected a tinyconv Tensor as input, got {type(input).__name__}")
    if not is_floating(input.dtype):
        raise TypeError(f"{layer}: expected a floating-point input, got dtype {input.dtype}")
    if not isinstance(target, Tensor):
        target = Tensor(target, dtype=input.dtype)
    if not is_floating(target.dtype):
        raise TypeError(
            f"{layer}: expected a floating-point target (the input's dtype {input.dtype}), "
            f"got dtype {target.dtype}"
        )
    if input.shape != target.shape:
        raise ValueError(
            f"{layer}: input and target shapes differ: input {input.shape}, target "
            f"{target.shape} (expected the same shape; broadcasting is not supported)"
        )
    return target


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
