"""What the losses share: the reductions, their gradients, and the input/target checks."""

from __future__ import annotations

import math
from typing import Any

from ...backend import get_array_module
from ...dtypes import is_floating
from ...tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str, layer: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{layer}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def mean_of(total: Any, count: Any) -> Any:
    """total / count; the mean of nothing (count 0: an empty batch, or every target ignored)
    is NaN, as PyTorch's, without NumPy's division warning."""
    if not count:
        return total * total.dtype.type(math.nan)
    return total / (total.dtype.type(count) if isinstance(count, int) else count)


def mean_grad(dout: Any, count: Any) -> Any:
    """d mean / d each term = dout / count; 0 when count is 0 (no term took part)."""
    if not count:
        return dout * dout.dtype.type(0)
    return dout / (dout.dtype.type(count) if isinstance(count, int) else count)


def _reduce_elementwise(loss: Any, reduction: str) -> Any:
    """loss (x's shape) -> its mean or sum (a 0-d array), or itself for "none"."""
    if reduction == "none":
        return loss
    total = loss.sum(keepdims=True).reshape(())
    return total if reduction == "sum" else mean_of(total, int(loss.size))


def _elementwise_dout(dout: Any, reduction: str, shape: tuple[int, ...]) -> Any:
    """d total / d loss for every element, an array of x's ``shape``."""
    if reduction == "none":
        return dout
    g = dout if reduction == "sum" else mean_grad(dout, math.prod(shape))
    return get_array_module(dout).broadcast_to(g, shape)


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
