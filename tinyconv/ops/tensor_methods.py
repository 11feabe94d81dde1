"""Tensor's operators and math methods, bound to ``Tensor`` here, above the ops they call.

``a + b``, ``a @ b``, ``t.sum(dim)``, ``t.reshape(...)``, ``t[i]``, ``t.relu()``: each method is
one line that lifts its operands to Tensors and calls the ``Function`` of ``ops/`` that
computes it, so the gradient comes with it. They are written below as the body of a class,
as they would read inside ``Tensor``, and copied onto ``Tensor`` when ``tinyconv.ops`` is
imported (``import tinyconv`` always does). They live here and not in ``tensor.py`` because
``tensor.py`` sits below the operations: the ops subclass its ``Function``, so it cannot
import them (see ARCHITECTURE.md).

Comparisons give plain boolean tensors (no gradient); a Python scalar on either side of an
arithmetic operator takes the tensor's floating-point dtype (it never upcasts float32).

Example:
    >>> import tinyconv
    >>> x = tinyconv.tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True)
    >>> (2 * x).relu().sum().backward()
    >>> x.grad.tolist()
    [[2.0, 0.0], [2.0, 2.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from types import FunctionType
from typing import Any

from ..backend import get_array_module
from ..dtypes import is_floating
from ..tensor import Tensor
from .activation import ReLU, Sigmoid, Tanh
from .basic import (
    Abs,
    Add,
    Div,
    Exp,
    GetItem,
    Log,
    MatMul,
    Max,
    Mean,
    Mul,
    Neg,
    Permute,
    Pow,
    PowScalar,
    Reshape,
    Sub,
    Sum,
)


class TensorMethods:
    """The methods ``bind`` copies onto ``Tensor`` (``self`` is a Tensor)."""

    # --------------------------------------------------------------- arithmetic
    def _lift(self, other: Any) -> Tensor:
        if isinstance(other, Tensor):
            return other
        xp = get_array_module(self.data)
        arr = xp.asarray(other)
        if arr.dtype.kind in "fiub" and is_floating(self.dtype):
            arr = arr.astype(self.dtype)  # a Python scalar never upcasts a float32 tensor
        return Tensor(arr)

    def __add__(self, other: Any) -> Tensor:
        return Add.apply(self, self._lift(other))

    def __radd__(self, other: Any) -> Tensor:
        return Add.apply(self._lift(other), self)

    def __sub__(self, other: Any) -> Tensor:
        return Sub.apply(self, self._lift(other))

    def __rsub__(self, other: Any) -> Tensor:
        return Sub.apply(self._lift(other), self)

    def __mul__(self, other: Any) -> Tensor:
        return Mul.apply(self, self._lift(other))

    def __rmul__(self, other: Any) -> Tensor:
        return Mul.apply(self._lift(other), self)

    def __truediv__(self, other: Any) -> Tensor:
        return Div.apply(self, self._lift(other))

    def __rtruediv__(self, other: Any) -> Tensor:
        return Div.apply(self._lift(other), self)

    def __pow__(self, exponent: Any) -> Tensor:
        if isinstance(exponent, Tensor):
            return Pow.apply(self, exponent)
        return PowScalar.apply(self, exponent=float(exponent))

    def __rpow__(self, base: Any) -> Tensor:
        return Pow.apply(self._lift(base), self)

    def __neg__(self) -> Tensor:
        return Neg.apply(self)

    def __matmul__(self, other: Any) -> Tensor:
        return MatMul.apply(self, self._lift(other))

    def __rmatmul__(self, other: Any) -> Tensor:
        return MatMul.apply(self._lift(other), self)

    # Comparisons give plain boolean tensors (no gradient).
    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return Tensor(self.data == self._lift(other).data)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return Tensor(self.data != self._lift(other).data)

    def __lt__(self, other: Any) -> Tensor:
        return Tensor(self.data < self._lift(other).data)

    def __le__(self, other: Any) -> Tensor:
        return Tensor(self.data <= self._lift(other).data)

    def __gt__(self, other: Any) -> Tensor:
        return Tensor(self.data > self._lift(other).data)

    def __ge__(self, other: Any) -> Tensor:
        return Tensor(self.data >= self._lift(other).data)

    # --------------------------------------------------------- elementwise math
    def exp(self) -> Tensor:
        return Exp.apply(self)

    def log(self) -> Tensor:
        return Log.apply(self)

    def sqrt(self) -> Tensor:
        return self**0.5

    def abs(self) -> Tensor:
        return Abs.apply(self)

    def relu(self) -> Tensor:
        return ReLU.apply(self)

    def sigmoid(self) -> Tensor:
        return Sigmoid.apply(self)

    def tanh(self) -> Tensor:
        return Tanh.apply(self)

    # ---------------------------------------------------------------- reductions
    def sum(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return Sum.apply(self, dim=_norm_dims(dim, self.ndim), keepdim=keepdim)

    def mean(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return Mean.apply(self, dim=_norm_dims(dim, self.ndim), keepdim=keepdim)

    def max(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return Max.apply(self, dim=_norm_dims(dim, self.ndim), keepdim=keepdim, mode="max")

    def min(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return Max.apply(self, dim=_norm_dims(dim, self.ndim), keepdim=keepdim, mode="min")

    def argmax(self, dim: int | None = None) -> Tensor:
        xp = get_array_module(self.data)
        return Tensor(xp.argmax(self.data, axis=dim))

    # ------------------------------------------------------------------ shapes
    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return Reshape.apply(self, shape=tuple(int(s) for s in shape))

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        nd = self.ndim
        s, e = start_dim % nd if nd else 0, end_dim % nd if nd else 0
        merged = 1
        for size in self.shape[s : e + 1]:
            merged *= size  # not -1: an empty batch (0, C, H, W) has no size to infer
        return self.reshape(self.shape[:s] + (merged,) + self.shape[e + 1 :])

    def permute(self, *dims: Any) -> Tensor:
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        return Permute.apply(self, dims=tuple(d % self.ndim for d in dims))

    def transpose(self, dim0: int = -2, dim1: int = -1) -> Tensor:
        """Swap two dimensions (as ``torch.transpose``); ``.T`` reverses all of them."""
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(dims)

    @property
    def T(self) -> Tensor:  # noqa: N802
        return self.permute(tuple(reversed(range(self.ndim))))

    def __getitem__(self, index: Any) -> Tensor:
        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        return GetItem.apply(self, index=index)

    def unsqueeze(self, dim: int) -> Tensor:
        dim = dim % (self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim: int | None = None) -> Tensor:
        if dim is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        dim = dim % self.ndim
        if self.shape[dim] != 1:
            return self
        return self.reshape(self.shape[:dim] + self.shape[dim + 1 :])


def _norm_dims(dim: int | Sequence[int] | None, ndim: int) -> tuple[int, ...] | None:
    if dim is None:
        return None
    if isinstance(dim, int):
        dim = (dim,)
    return tuple(sorted(d % ndim for d in dim))


def bind(cls: type = Tensor) -> None:
    """Copy ``TensorMethods``' functions and properties onto ``cls`` (done once, on import)."""
    for name, value in vars(TensorMethods).items():
        if isinstance(value, (FunctionType, property)):
            setattr(cls, name, value)


bind()
