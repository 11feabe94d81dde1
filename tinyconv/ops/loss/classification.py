"""Classification losses: cross-entropy from logits (against labels or class probabilities)
and negative log-likelihood.

Cross-entropy is one fused ``Function`` (the from-scratch book's SoftmaxWithLoss):
log-softmax with the maximum subtracted, then the negative log-likelihood, whose gradient
is simply softmax - target. Both classification losses are written as

    loss_i = -sum_c q_ic * logp_ic

with a coefficient matrix q: the class weight at the true class, times (1 - eps), plus
eps/C * weight_c everywhere for label smoothing eps, and zero rows for ignored targets.
Then d loss_i / d logp = -q_i, and through the log-softmax
d loss_i / d x_i = sum(q_i) * softmax(x_i) - q_i. The "mean" reduction divides by the sum of
the true classes' weights (the number of targets without weights), as PyTorch does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import kernels
from ...backend import get_array_module
from ...cast_policy import FP32
from ...dtypes import is_floating
from ...tensor import Function, Tensor
from ._common import _check_reduction, mean_grad, mean_of


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
    return total if reduction == "sum" else mean_of(total, denom)


def _reduce_backward(dout: Any, reduction: str, denom: Any, M: int) -> Any:
    """d total / d loss_i as a column (M, 1)."""
    if reduction == "none":
        return dout.reshape(M, 1)
    g = dout if reduction == "sum" else mean_grad(dout, denom)
    return get_array_module(dout).broadcast_to(g.reshape(1, 1), (M, 1))


def _fused_rows(rows: Any, weight: Any) -> bool:
    """True when the compiled kernel computes the loss of these logits (kernels enabled,
    NumPy float32/float64 rows and weight; anything else takes the NumPy lines)."""
    return (
        kernels.enabled()
        and type(rows) is np.ndarray
        and rows.dtype in (np.float32, np.float64)
        and rows.size > 0
        and (weight is None or type(weight) is np.ndarray)
    )


class CrossEntropy(Function):
    """Softmax + negative log-likelihood in one step, from logits x (N, C, *) and labels (N, *).

    Under autocast it runs in float32 (so does every loss here).
    """

    autocast_policy = FP32

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
        if _fused_rows(rows, weight):  # the same loss and gradient in one pass (kernels/loss.py)
            from ...kernels import loss as fused  # noqa: PLC0415  (imports Numba)

            per_sample, drows, denom = fused.cross_entropy(
                rows, target.reshape(-1), weight, ignore_index, label_smoothing
            )
            self.save_for_backward(None, drows, denom, reduction, shape)
            return _reduce(per_sample, reduction, denom, target.shape)
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
        if logp is None:  # fused forward: q holds d loss_i / d x_i already
            return _from_rows(g * q, shape)
        drows = g * (q.sum(axis=1, keepdims=True) * xp.exp(logp) - q)  # softmax - target
        return _from_rows(drows, shape)


class SoftCrossEntropy(Function):
    """Cross-entropy against class probabilities: x, target (N, C, *) of one shape.

    loss_i = -sum_c q_ic logp_ic with q = weight_c * ((1 - eps) t_ic + eps/C): the same
    coefficients as the label case, now read from the target. "mean" divides by the number
    of samples M = N*d1*... (PyTorch's rule for probabilities, weights or not). Both inputs
    are differentiable:
        d loss_i / d x_i = sum(q_i) softmax(x_i) - q_i
        d loss_i / d t_ic = -(1 - eps) weight_c logp_ic
    """

    autocast_policy = FP32

    def forward(
        self, x: Any, target: Any, weight: Any, reduction: str, label_smoothing: float
    ) -> Any:
        xp = get_array_module(x)
        rows, shape = _to_rows(x)  # (M, C)
        t_rows, _ = _to_rows(target.astype(x.dtype, copy=False))
        M, C = rows.shape
        z = rows - rows.max(axis=1, keepdims=True) if M else rows
        logp = z - xp.log(xp.exp(z).sum(axis=1, keepdims=True))  # log-softmax (M, C)
        w = xp.ones(C, dtype=x.dtype) if weight is None else weight.astype(x.dtype, copy=False)
        eps = x.dtype.type(label_smoothing)
        q = w * ((1 - eps) * t_rows + eps / C)  # (M, C)
        per_sample = -(q * logp).sum(axis=1)  # (M,)
        denom = x.dtype.type(M)  # 0 samples: the mean is NaN, as PyTorch
        self.save_for_backward(logp, q, w, eps, denom, reduction, shape)
        out_shape = (shape[0],) + shape[2:] if len(shape) > 1 else ()
        return _reduce(per_sample, reduction, denom, out_shape)

    def backward(self, dout: Any) -> tuple[Any, Any]:
        logp, q, w, eps, denom, reduction, shape = self.saved
        xp = get_array_module(dout)
        g = _reduce_backward(dout, reduction, denom, q.shape[0])  # (M, 1)
        dx = dt = None
        if self.needs_input_grad[0]:
            dx = _from_rows(g * (q.sum(axis=1, keepdims=True) * xp.exp(logp) - q), shape)
        if self.needs_input_grad[1]:
            dt = _from_rows(-g * (1 - eps) * w * logp, shape)
        return dx, dt


class NLL(Function):
    """loss_i = -weight[y_i] * logp[i, y_i] from log-probabilities (N, C, *) and labels (N, *)."""

    autocast_policy = FP32

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
            "pass the label indices (cross_entropy also takes class probabilities of the "
            "input's shape)"
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


def _is_float_target(target: Any) -> bool:
    dtype = getattr(target, "dtype", None)
    if dtype is None:  # a list or a number: as NumPy reads it
        dtype = get_array_module(target).asarray(target).dtype
    return is_floating(dtype)


def _check_probabilities(x: Tensor, target: Any, weight: Any, layer: str) -> tuple[Tensor, Any]:
    """Validate logits and class probabilities of one shape; return the target Tensor and weight."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer}: expected a tinyconv Tensor as input, got {type(x).__name__}")
    if not is_floating(x.dtype):
        raise TypeError(f"{layer}: expected a floating-point input, got dtype {x.dtype}")
    if x.ndim < 1:
        raise ValueError(f"{layer}: expected an input (N, C), (C,) or (N, C, *), got a scalar")
    if not isinstance(target, Tensor):
        target = Tensor(target, dtype=x.dtype)
    if target.shape != x.shape:
        raise ValueError(
            f"{layer}: class-probability targets must have the input's shape {x.shape}, got "
            f"target of shape {target.shape} (integer targets hold one class index per sample)"
        )
    C = x.shape[1] if x.ndim > 1 else x.shape[0]
    w = weight.data if isinstance(weight, Tensor) else weight
    if w is not None:
        w = get_array_module(x.data).asarray(w)
        if tuple(w.shape) != (C,):
            raise ValueError(
                f"{layer}: expected a class weight of shape ({C},), got {tuple(w.shape)}"
            )
    return target, w


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
    """Cross-entropy of logits against labels or class probabilities (``F.cross_entropy``).

    With integer labels y:
    loss_i = -(1 - eps) w[y_i] log softmax(x_i)[y_i] - eps/C sum_c w[c] log softmax(x_i)[c];
    with class probabilities t (a float target of the input's shape, e.g. soft labels or
    mixup): loss_i = -sum_c w[c] ((1 - eps) t_ic + eps/C) log softmax(x_i)[c], and the
    gradient reaches t as well.

    Args:
        input (Tensor): logits (N, C), (C,) or (N, C, d1, ...), floating point.
        target (Tensor or array): class indices (N,), () or (N, d1, ...), integers; or class
            probabilities of the input's shape, floating point.
        weight (Tensor or array, optional): per-class weight (C,). Default: None.
        ignore_index (int): label whose samples contribute nothing (labels only). Default: -100.
        reduction (str): "mean" (labels: divided by the summed weights of the targets;
            probabilities: by the number of samples), "sum" or "none" (per sample).
            Default: "mean".
        label_smoothing (float): eps in [0, 1], mixing the target with the uniform
            distribution. Default: 0.

    Raises:
        TypeError: a non-float input.
        ValueError: a target shape that does not match, labels out of range, a bad
            reduction or smoothing.

    Example:
        >>> import tinyconv
        >>> logits = tinyconv.tensor([[0.0, 0.0]])
        >>> round(cross_entropy(logits, tinyconv.tensor([1])).item(), 4)  # log 2
        0.6931
        >>> round(cross_entropy(logits, tinyconv.tensor([[0.5, 0.5]])).item(), 4)
        0.6931
    """
    _check_reduction(reduction, layer)
    if not 0.0 <= float(label_smoothing) <= 1.0:
        raise ValueError(f"{layer}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if _is_float_target(target):
        target, w = _check_probabilities(input, target, weight, layer)
        return SoftCrossEntropy.apply(
            input, target, weight=w, reduction=reduction, label_smoothing=float(label_smoothing)
        )
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
