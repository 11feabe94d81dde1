"""Elementwise arithmetic, matrix product, reductions and shape operations.

Each ``Function`` has its forward and backward side by side. Binary operations broadcast
like NumPy; their backward sums the gradient back to each input's shape with ``unbroadcast``.

16-bit arrays (float16, bfloat16) keep their dtype through every operation here, but sums and
matrix products accumulate in float32 and round once (``tinyconv.dtypes``): a float16 sum of
a few thousand numbers would otherwise lose most of its digits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backend import get_array_module
from ..cast_policy import LOW
from ..dtypes import compute_dtype, is_floating, matmul32, mean32, sum32
from ..tensor import Cast, Function, Tensor, ToDevice  # noqa: F401  (re-exported: the Tensor's own, in tensor.py)


def unbroadcast(grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``grad`` over the axes along which an input of ``shape`` was broadcast."""
    if tuple(grad.shape) == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        i + extra for i, s in enumerate(shape) if s == 1 and grad.shape[i + extra] != 1
    )
    if axes:
        grad = sum32(grad, axis=axes, keepdims=True)
    return grad.reshape(shape)


# ------------------------------------------------------------------ arithmetic
class Add(Function):
    """y = a + b (broadcasting)."""

    def forward(self, a: Any, b: Any) -> Any:
        self.save_for_backward(a.shape, b.shape)
        return a + b

    def backward(self, dout: Any) -> tuple[Any, Any]:
        sa, sb = self.saved
        return unbroadcast(dout, sa), unbroadcast(dout, sb)


class Sub(Function):
    """y = a - b (broadcasting)."""

    def forward(self, a: Any, b: Any) -> Any:
        self.save_for_backward(a.shape, b.shape)
        return a - b

    def backward(self, dout: Any) -> tuple[Any, Any]:
        sa, sb = self.saved
        db = unbroadcast(-dout, sb) if self.needs_input_grad[1] else None
        return unbroadcast(dout, sa), db


class Mul(Function):
    """y = a * b; da = dout * b, db = dout * a."""

    def forward(self, a: Any, b: Any) -> Any:
        self.save_for_backward(a, b)
        return a * b

    def backward(self, dout: Any) -> tuple[Any, Any]:
        a, b = self.saved
        da = unbroadcast(dout * b, a.shape) if self.needs_input_grad[0] else None
        db = unbroadcast(dout * a, b.shape) if self.needs_input_grad[1] else None
        return da, db


class Div(Function):
    """y = a / b; da = dout / b, db = -dout * a / b^2."""

    def forward(self, a: Any, b: Any) -> Any:
        self.save_for_backward(a, b)
        return a / b

    def backward(self, dout: Any) -> tuple[Any, Any]:
        a, b = self.saved
        da = unbroadcast(dout / b, a.shape) if self.needs_input_grad[0] else None
        db = unbroadcast(-dout * a / (b * b), b.shape) if self.needs_input_grad[1] else None
        return da, db


class Neg(Function):
    """y = -x."""

    def forward(self, x: Any) -> Any:
        return -x

    def backward(self, dout: Any) -> Any:
        return -dout


class PowScalar(Function):
    """y = x ** p for a constant p; dx = dout * p * x^(p-1)."""

    def forward(self, x: Any, exponent: float) -> Any:
        self.save_for_backward(x, exponent)
        return x ** x.dtype.type(exponent) if is_floating(x.dtype) else x**exponent

    def backward(self, dout: Any) -> Any:
        x, p = self.saved
        return dout * (x.dtype.type(p) * x ** x.dtype.type(p - 1))


class Pow(Function):
    """y = a ** b with both tensors; da = dout * b a^(b-1), db = dout * y * log(a)."""

    def forward(self, a: Any, b: Any) -> Any:
        y = a**b
        self.save_for_backward(a, b, y)
        return y

    def backward(self, dout: Any) -> tuple[Any, Any]:
        a, b, y = self.saved
        xp = get_array_module(a)
        da = unbroadcast(dout * b * a ** (b - 1), a.shape) if self.needs_input_grad[0] else None
        db = unbroadcast(dout * y * xp.log(a), b.shape) if self.needs_input_grad[1] else None
        return da, db


class Exp(Function):
    """y = e^x; dx = dout * y."""

    def forward(self, x: Any) -> Any:
        y = get_array_module(x).exp(x)
        self.save_for_backward(y)
        return y

    def backward(self, dout: Any) -> Any:
        (y,) = self.saved
        return dout * y


class Log(Function):
    """y = ln x; dx = dout / x."""

    def forward(self, x: Any) -> Any:
        self.save_for_backward(x)
        return get_array_module(x).log(x)

    def backward(self, dout: Any) -> Any:
        (x,) = self.saved
        return dout / x


class Abs(Function):
    """y = |x|; dx = dout * sign(x)."""

    def forward(self, x: Any) -> Any:
        self.save_for_backward(x)
        return abs(x)

    def backward(self, dout: Any) -> Any:
        (x,) = self.saved
        return dout * get_array_module(x).sign(x)


class MatMul(Function):
    """y = a @ b (batched like NumPy); da = dout @ b^T, db = a^T @ dout.

    Shapes: a (..., n, k), b (..., k, m) -> (..., n, m). A 1-D operand is treated as a
    row (a) or a column (b) vector, as in NumPy. 16-bit operands are multiplied in float32
    (converted per call: NumPy has no fast 16-bit product) and the result rounded back.
    Under autocast the operands become 16-bit first.
    """

    autocast_policy = LOW

    def forward(self, a: Any, b: Any) -> Any:
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul: both operands need at least one dimension")
        self.save_for_backward(a, b)
        return matmul32(a, b)

    def backward(self, dout: Any) -> tuple[Any, Any]:
        a, b = self.saved
        xp = get_array_module(a)
        a2 = a[None, :] if a.ndim == 1 else a  # (1, k)
        b2 = b[:, None] if b.ndim == 1 else b  # (k, 1)
        d = dout
        if a.ndim == 1:
            d = xp.expand_dims(d, -2)
        if b.ndim == 1:
            d = xp.expand_dims(d, -1)
        da = db = None
        if self.needs_input_grad[0]:
            da = unbroadcast(matmul32(d, xp.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            db = unbroadcast(matmul32(xp.swapaxes(a2, -1, -2), d), b2.shape).reshape(b.shape)
        return da, db


# ------------------------------------------------------------------ reductions
class Sum(Function):
    """y = sum of x over ``dim`` (all when None); dx = dout broadcast back."""

    def forward(self, x: Any, dim: tuple[int, ...] | None, keepdim: bool) -> Any:
        self.save_for_backward(x.shape, dim, keepdim)
        return sum32(x, axis=dim, keepdims=keepdim)

    def backward(self, dout: Any) -> Any:
        shape, dim, keepdim = self.saved
        xp = get_array_module(dout)
        if not keepdim:
            dout = dout.reshape(_kept_shape(shape, dim))
        return xp.broadcast_to(dout, shape)


class Mean(Function):
    """y = mean of x over ``dim``; dx = dout / count, broadcast back."""

    def forward(self, x: Any, dim: tuple[int, ...] | None, keepdim: bool) -> Any:
        count = x.size if dim is None else _prod(x.shape[d] for d in dim)
        self.save_for_backward(x.shape, dim, keepdim, count)
        return mean32(x, axis=dim, keepdims=keepdim)

    def backward(self, dout: Any) -> Any:
        shape, dim, keepdim, count = self.saved
        xp = get_array_module(dout)
        if not keepdim:
            dout = dout.reshape(_kept_shape(shape, dim))
        dt = compute_dtype(dout.dtype)  # 16 bits: divide in float32 (60000 is not a bfloat16)
        g = (dout.astype(dt, copy=False) / dt.type(count)).astype(dout.dtype, copy=False)
        return xp.broadcast_to(g, shape)


class Max(Function):
    """y = max (or min) of x over ``dim``; the gradient is shared equally among ties."""

    def forward(self, x: Any, dim: tuple[int, ...] | None, keepdim: bool, mode: str = "max") -> Any:
        y = x.max(axis=dim, keepdims=True) if mode == "max" else x.min(axis=dim, keepdims=True)
        mask = x == y
        self.save_for_backward(mask, dim, keepdim, x.shape)
        return y if keepdim else y.reshape(_reduced_shape(x.shape, dim))

    def backward(self, dout: Any) -> Any:
        mask, dim, keepdim, shape = self.saved
        if not keepdim:
            dout = dout.reshape(_kept_shape(shape, dim))
        count = mask.sum(axis=dim, keepdims=True).astype(dout.dtype)
        return mask * (dout / count)


def _kept_shape(shape: tuple[int, ...], dim: tuple[int, ...] | None) -> tuple[int, ...]:
    if dim is None:
        return (1,) * len(shape)
    return tuple(1 if i in dim else s for i, s in enumerate(shape))


def _reduced_shape(shape: tuple[int, ...], dim: tuple[int, ...] | None) -> tuple[int, ...]:
    if dim is None:
        return ()
    return tuple(s for i, s in enumerate(shape) if i not in dim)


def _prod(values: Any) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


# ------------------------------------------------------------------- shapes
class Reshape(Function):
    """y = x viewed with a new shape; dx = dout reshaped back."""

    def forward(self, x: Any, shape: tuple[int, ...]) -> Any:
        self.save_for_backward(x.shape)
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot view a tensor of shape {tuple(x.shape)} ({x.size} elements) "
                f"as {shape}"
            ) from None

    def backward(self, dout: Any) -> Any:
        (shape,) = self.saved
        return dout.reshape(shape)


class Permute(Function):
    """y = x with its axes reordered by ``dims``; dx = dout with the inverse order."""

    def forward(self, x: Any, dims: tuple[int, ...]) -> Any:
        if sorted(dims) != list(range(x.ndim)):
            raise ValueError(f"permute: dims {dims} are not a permutation of {x.ndim} axes")
        self.save_for_backward(dims)
        return x.transpose(dims)

    def backward(self, dout: Any) -> Any:
        (dims,) = self.saved
        inverse = [0] * len(dims)
        for i, d in enumerate(dims):
            inverse[d] = i
        return dout.transpose(inverse)


class GetItem(Function):
    """y = x[index] (basic or advanced indexing); dx scatters dout back, adding repeats."""

    def forward(self, x: Any, index: Any) -> Any:
        self.save_for_backward(x.shape, x.dtype, index)
        return x[index]

    def backward(self, dout: Any) -> Any:
        shape, dtype, index = self.saved
        xp = get_array_module(dout)
        dx = xp.zeros(shape, dtype=dtype)
        xp.add.at(dx, index, dout)
        return dx


class Cat(Function):
    """y = concatenation of the inputs along ``dim``; each dx is its slice of dout."""

    def forward(self, *xs: Any, dim: int) -> Any:
        xp = get_array_module(*xs)
        self.save_for_backward([x.shape[dim] for x in xs], dim)
        try:
            return xp.concatenate(xs, axis=dim)
        except ValueError:
            raise ValueError(
                f"cat: shapes {[tuple(x.shape) for x in xs]} differ outside dim {dim}"
            ) from None

    def backward(self, dout: Any) -> tuple[Any, ...]:
        sizes, dim = self.saved
        out, start = [], 0
        for size, need in zip(sizes, self.needs_input_grad, strict=True):
            index = [slice(None)] * dout.ndim
            index[dim] = slice(start, start + size)
            out.append(dout[tuple(index)] if need else None)
            start += size
        return tuple(out)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Concatenate tensors along ``dim``; the gradient is split back among them.

    Example:
        >>> import tinyconv
        >>> cat([tinyconv.tensor([[1.0]]), tinyconv.tensor([[2.0]])], dim=1).shape
        (1, 2)
    """
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat() needs at least one tensor")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"cat: expected tinyconv Tensors, got {type(t).__name__} at {i}")
        if t.ndim == 0:
            raise ValueError(
                f"cat: zero-dimensional tensors cannot be concatenated (tensor {i}); "
                "stack them instead (tinyconv.stack)"
            )
    # PyTorch's rule: 1-D empty tensors (0,) are skipped, whatever the others' shapes
    kept = [t for t in tensors if t.shape != (0,)] or tensors[:1]
    if not -kept[0].ndim <= dim < kept[0].ndim:
        raise ValueError(f"cat: dim {dim} is out of range for {kept[0].ndim}-D tensors")
    if len({t.ndim for t in kept}) > 1:
        raise ValueError(
            f"cat: tensors must have the same number of dimensions, got shapes "
            f"{[t.shape for t in kept]}"
        )
    return Cat.apply(*kept, dim=dim % kept[0].ndim)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Stack tensors of one shape along a new dimension ``dim``."""
    tensors = list(tensors)
    return cat([t.unsqueeze(dim) for t in tensors], dim=dim)
