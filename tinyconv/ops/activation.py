"""Activation functions: ReLU, leaky ReLU, sigmoid, tanh, softplus, log-sigmoid, softmax and
log-softmax.

Each ``Function`` keeps what its derivative needs: ReLU the mask of positive inputs,
sigmoid and tanh their outputs (sigma' = y(1 - y), tanh' = 1 - y^2), softmax its output.
Softmax and log-softmax subtract the maximum along ``dim`` first, so exp never overflows;
sigmoid, softplus and log-sigmoid go through e^-|x|, which lies in (0, 1] for any x.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from ..backend import get_array_module
from ..cast_policy import FP32
from ..dtypes import as_bits, is_floating, is_low_precision
from ..tensor import Function, Tensor, is_grad_enabled
from .parallel import for_chunks


class ReLU(Function):
    """y = max(x, 0); dx = dout where x > 0, else 0 (0 at x = 0, as PyTorch).

    Both passes of the forward (the max and the mask) run chunk by chunk on all threads
    (``for_chunks``), so each chunk is still in cache for the second pass. The outputs take
    x's memory layout (channel-major after a convolution). The mask is kept for backward at
    one bit per element (``pack_mask``): an eighth of a boolean array, a thirty-second of
    the float32 activation it stands for. 16-bit arrays are tested and masked through their
    int16 bits (``as_bits``), which NumPy handles far faster than its float16 arithmetic.
    """

    def forward(self, x: Any) -> Any:
        xp = get_array_module(x)
        zero = x.dtype.type(0)
        y = xp.empty_like(x)
        backward = is_grad_enabled() and self.needs_input_grad[0]  # else no mask is needed
        low = is_low_precision(x.dtype)
        mask = xp.empty_like(x, dtype=bool) if backward or low else None  # the book's mask
        xb, yb = as_bits(x), as_bits(y)

        def chunk(i: tuple[slice, ...]) -> None:
            if low:  # on the int16 bits: x > 0, then y = x * mask
                xp.greater(xb[i], 0, out=mask[i])
                xp.multiply(xb[i], mask[i], out=yb[i])
                return
            xp.maximum(x[i], zero, out=y[i])
            if mask is not None:
                xp.greater(y[i], zero, out=mask[i])

        for_chunks(chunk, y)
        self.save_for_backward(pack_mask(mask) if backward else None)
        return y

    def backward(self, dout: Any) -> Any:
        mask = unpack_mask(self.saved[0])
        xp = get_array_module(dout)
        dx = xp.empty_like(mask, dtype=dout.dtype)
        db, dxb = as_bits(dout), as_bits(dx)  # 16 bits: select the gradient's bits

        def chunk(i: tuple[slice, ...]) -> None:
            xp.multiply(db[i], mask[i], out=dxb[i])

        for_chunks(chunk, dx)
        return dx


def pack_mask(mask: Any) -> tuple[Any, tuple[int, ...], tuple[int, ...]]:
    """A boolean array at one bit per element: (bits, its shape in memory order, axis order).

    The bits follow the array's own memory layout (a channel-major mask is not copied).
    """
    xp = get_array_module(mask)
    order = tuple(sorted(range(mask.ndim), key=lambda d: -mask.strides[d]))  # outer axis first
    in_memory = mask.transpose(order)  # C-contiguous for an array from empty_like
    return xp.packbits(in_memory.reshape(-1)), in_memory.shape, order


def unpack_mask(packed: tuple[Any, tuple[int, ...], tuple[int, ...]]) -> Any:
    """The boolean array ``pack_mask`` packed, in its original shape and memory layout."""
    bits, shape, order = packed
    xp = get_array_module(bits)
    in_memory = xp.unpackbits(bits)[: math.prod(shape)].view(bool).reshape(shape)
    return in_memory.transpose(sorted(range(len(order)), key=order.__getitem__))


class LeakyReLU(Function):
    """y = x for x > 0, else negative_slope * x; dx = dout * (1 or negative_slope)."""

    def forward(self, x: Any, negative_slope: float) -> Any:
        xp = get_array_module(x)
        slope = x.dtype.type(negative_slope)
        mask = x > 0
        self.save_for_backward(mask, slope)
        return xp.where(mask, x, x * slope)

    def backward(self, dout: Any) -> Any:
        mask, slope = self.saved
        xp = get_array_module(dout)
        return xp.where(mask, dout, dout * slope)


def stable_sigmoid(x: Any) -> Any:
    """1 / (1 + e^-x) from e = e^-|x| in (0, 1]: 1 / (1 + e) for x >= 0, e / (1 + e) below."""
    xp = get_array_module(x)
    e = xp.exp(-abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def stable_softplus(x: Any) -> Any:
    """log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large x, no log(0) for small."""
    xp = get_array_module(x)
    return xp.maximum(x, x.dtype.type(0)) + xp.log1p(xp.exp(-abs(x)))


class Sigmoid(Function):
    """y = 1 / (1 + e^-x); dx = dout * y * (1 - y).

    Computed from e^-|x| (always in (0, 1]) so that neither branch overflows.
    """

    def forward(self, x: Any) -> Any:
        y = stable_sigmoid(x)
        self.save_for_backward(y)
        return y

    def backward(self, dout: Any) -> Any:
        (y,) = self.saved
        return dout * y * (1 - y)


class Tanh(Function):
    """y = tanh(x); dx = dout * (1 - y^2)."""

    def forward(self, x: Any) -> Any:
        y = get_array_module(x).tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, dout: Any) -> Any:
        (y,) = self.saved
        return dout * (1 - y * y)


class Softplus(Function):
    """y = log(1 + e^(beta x)) / beta, and y = x where beta x > threshold (linear there).

    dx = dout * sigma(beta x), and dout where beta x > threshold (PyTorch's definition).
    x (any shape) -> y (same shape). The log-sum is computed as ``stable_softplus(beta x)``,
    so it never overflows, even below the threshold in 16 bits.
    """

    def forward(self, x: Any, beta: float, threshold: float) -> Any:
        xp = get_array_module(x)
        bx = x * x.dtype.type(beta)
        linear = bx > threshold
        y = xp.where(linear, x, stable_softplus(bx) / x.dtype.type(beta))
        self.save_for_backward(bx, linear)
        return y

    def backward(self, dout: Any) -> Any:
        bx, linear = self.saved
        xp = get_array_module(dout)
        return xp.where(linear, dout, dout * stable_sigmoid(bx))


class LogSigmoid(Function):
    """y = log sigma(x) = -softplus(-x) = min(x, 0) - log1p(e^-|x|); dx = dout * sigma(-x).

    x (any shape) -> y (same shape), finite for any x (log sigma(-1000) = -1000).
    """

    def forward(self, x: Any) -> Any:
        xp = get_array_module(x)
        self.save_for_backward(x)
        return xp.minimum(x, x.dtype.type(0)) - xp.log1p(xp.exp(-abs(x)))

    def backward(self, dout: Any) -> Any:
        (x,) = self.saved
        return dout * stable_sigmoid(-x)  # 1 - sigma(x), exact also where sigma(x) rounds to 1


class Softmax(Function):
    """y_i = e^(x_i - m) / sum_j e^(x_j - m) along ``dim``, m the max.

    dx = y * (dout - sum(dout * y)) along ``dim`` (the Jacobian diag(y) - y y^T applied to dout).
    Under autocast it runs in float32.
    """

    autocast_policy = FP32

    def forward(self, x: Any, dim: int) -> Any:
        xp = get_array_module(x)
        if x.size == 0:  # an empty axis (or batch): nothing to normalise, as PyTorch
            self.save_for_backward(x, dim)
            return x.copy()
        e = xp.exp(x - x.max(axis=dim, keepdims=True))
        y = e / e.sum(axis=dim, keepdims=True)
        self.save_for_backward(y, dim)
        return y

    def backward(self, dout: Any) -> Any:
        y, dim = self.saved
        return y * (dout - (dout * y).sum(axis=dim, keepdims=True))


class LogSoftmax(Function):
    """y = x - m - log(sum_j e^(x_j - m)) along ``dim``; dx = dout - softmax * sum(dout).

    Under autocast it runs in float32.
    """

    autocast_policy = FP32

    def forward(self, x: Any, dim: int) -> Any:
        xp = get_array_module(x)
        if x.size == 0:  # an empty axis (or batch): an empty result, as PyTorch
            self.save_for_backward(x, dim)
            return x.copy()
        z = x - x.max(axis=dim, keepdims=True)
        y = z - xp.log(xp.exp(z).sum(axis=dim, keepdims=True))
        self.save_for_backward(y, dim)
        return y

    def backward(self, dout: Any) -> Any:
        y, dim = self.saved
        xp = get_array_module(dout)
        return dout - xp.exp(y) * dout.sum(axis=dim, keepdims=True)


# ------------------------------------------------------------------ functional
def _check_float(x: Tensor, layer: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer}: expected a tinyconv Tensor, got {type(x).__name__}")
    if not is_floating(x.dtype):
        raise TypeError(f"{layer}: expected a floating-point input, got dtype {x.dtype}")


def _check_dim(x: Tensor, dim: Any, layer: str) -> int:
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"{layer}: dim must be an int (the axis to normalise over), got {dim!r}")
    if not -max(x.ndim, 1) <= dim < max(x.ndim, 1):
        raise ValueError(
            f"{layer}: dim {dim} is out of range for a {x.ndim}-D input of shape {x.shape} "
            f"(expected -{x.ndim} <= dim < {x.ndim})"
        )
    return dim % x.ndim if x.ndim else 0


def relu(x: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0) elementwise.

    ``inplace`` is accepted so PyTorch code runs unchanged; tinyconv never works in place.

    Example:
        >>> import tinyconv
        >>> relu(tinyconv.tensor([-1.0, 0.0, 2.0])).tolist()
        [0.0, 0.0, 2.0]
    """
    return ReLU.apply(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, negative_slope * x otherwise.

    Example:
        >>> import tinyconv
        >>> leaky_relu(tinyconv.tensor([-2.0, 3.0]), 0.5).tolist()
        [-1.0, 3.0]
    """
    _check_float(x, "leaky_relu")
    return LeakyReLU.apply(x, negative_slope=float(negative_slope))


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + e^-x), the logistic function (LeNet's activation).

    Example:
        >>> import tinyconv
        >>> sigmoid(tinyconv.tensor([0.0])).tolist()
        [0.5]
    """
    _check_float(x, "sigmoid")
    return Sigmoid.apply(x)


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent, (e^x - e^-x) / (e^x + e^-x)."""
    _check_float(x, "tanh")
    return Tanh.apply(x)


def _check_number(value: Any, name: str, layer: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{layer}: expected a number for {name}, got {value!r}")
    return float(value)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(beta x)) / beta, a smooth ReLU; x itself where beta x > threshold.

    Args:
        x (Tensor): floating point, any shape.
        beta (float): sharpness; nonzero. Default: 1.
        threshold (float): above this value of beta x the result is x. Default: 20.

    Raises:
        TypeError: a non-float input, or beta/threshold that are not numbers.
        ValueError: beta = 0.

    Example:
        >>> import tinyconv
        >>> [round(v, 4) for v in softplus(tinyconv.tensor([0.0, 30.0])).tolist()]
        [0.6931, 30.0]
    """
    _check_float(x, "softplus")
    beta = _check_number(beta, "beta", "softplus")
    threshold = _check_number(threshold, "threshold", "softplus")
    if beta == 0:
        raise ValueError(
            "softplus: beta must be nonzero (y = log(1 + exp(beta * x)) / beta), got beta=0.0"
        )
    return Softplus.apply(x, beta=beta, threshold=threshold)


def logsigmoid(x: Tensor) -> Tensor:
    """log(1 / (1 + e^-x)) elementwise, computed stably as min(x, 0) - log1p(e^-|x|).

    Example:
        >>> import tinyconv
        >>> logsigmoid(tinyconv.tensor([-1000.0, 0.0])).tolist()[0]
        -1000.0
    """
    _check_float(x, "logsigmoid")
    return LogSigmoid.apply(x)


def _cast(x: Tensor, dtype: Any, layer: str) -> Tensor:
    """x in ``dtype`` (a differentiable cast: the gradient returns in x's dtype), or x."""
    if dtype is None:
        return x
    try:
        target = get_array_module(x.data).dtype(dtype)
    except TypeError as e:
        raise TypeError(f"{layer}: dtype must be a NumPy dtype or its name, got {dtype!r}") from e
    if not is_floating(target):
        raise TypeError(f"{layer}: dtype must be a floating-point type, got {target}")
    return x.to(target)


def softmax(x: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``, computed with the maximum subtracted.

    Args:
        x (Tensor): scores (logits), floating point; an empty ``dim`` gives an empty result.
        dim (int): the axis whose entries sum to one (1 for (N, classes)).
        dtype (optional): cast x to this floating dtype first (e.g. float64 for more
            precision); the gradient comes back in x's dtype. Default: None.

    Example:
        >>> import numpy, tinyconv
        >>> softmax(tinyconv.tensor([[0.0, 0.0]]), dim=1).tolist()
        [[0.5, 0.5]]
        >>> softmax(tinyconv.tensor([1.0, 2.0]), dim=0, dtype=numpy.float64).dtype
        dtype('float64')
    """
    _check_float(x, "softmax")
    x = _cast(x, dtype, "softmax")
    return Softmax.apply(x, dim=_check_dim(x, dim, "softmax"))


def log_softmax(x: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """log(softmax(x)) along ``dim``, stable for large scores (x - max - log-sum-exp).

    Arguments as ``softmax``.

    Example:
        >>> import tinyconv
        >>> round(log_softmax(tinyconv.tensor([[1000.0, 1000.0]]), dim=1).tolist()[0][0], 4)
        -0.6931
    """
    _check_float(x, "log_softmax")
    x = _cast(x, dtype, "log_softmax")
    return LogSoftmax.apply(x, dim=_check_dim(x, dim, "log_softmax"))
