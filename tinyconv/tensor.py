"""Tensor, Function and reverse-mode autograd.

A ``Tensor`` wraps one NumPy or CuPy array. Every differentiable operation is a
``Function`` subclass with ``forward`` and ``backward`` side by side (see ``tinyconv/ops``).
``Function.apply`` runs ``forward`` on raw arrays and, when any input needs a gradient,
records itself as the output's ``_ctx`` so that ``Tensor.backward`` can walk the graph
back: a topological sort, then one reverse sweep. The sweep is iterative, so a graph as
deep as a ResNet never meets Python's recursion limit, and gradients reaching one tensor
along several paths (skip connections, concatenations) are summed.

The graph links Functions, not tensors: a Function's ``parents`` are the Functions that
made its inputs (or the leaf tensors themselves, whose ``.grad`` it fills). So an
intermediate array lives only as long as someone uses it, the caller or a Function that
saved it for backward, as in PyTorch: a layer's output that no backward needs is freed as
soon as the next layer has read it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy

from . import amp as _amp
from .backend import device_of, get_array_module, resolve_dtype, to_device
from .dtypes import is_floating

_grad_enabled = True


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()``."""
    return _grad_enabled


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Context manager in which operations record no graph (inference, optimizer steps)."""
    global _grad_enabled
    prev, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = prev


@contextlib.contextmanager
def enable_grad() -> Iterator[None]:
    """Context manager that turns graph recording back on inside ``no_grad()``."""
    global _grad_enabled
    prev, _grad_enabled = _grad_enabled, True
    try:
        yield
    finally:
        _grad_enabled = prev


class Function:
    """One differentiable operation: ``forward`` on arrays, ``backward`` on the output's gradient.

    Subclasses write::

        class Mul(Function):
            def forward(self, a, b):            # arrays in, array out
                self.save_for_backward(a, b)
                return a * b
            def backward(self, dout):           # one gradient per tensor input (or None)
                a, b = self.saved
                return dout * b, dout * a

    Tensor inputs are positional; hyper-parameters are keyword arguments. ``needs_input_grad``
    tells ``backward`` which gradients are wanted, so it can skip the others (return None).
    ``backward`` must never modify ``dout`` or the saved arrays in place.

    ``autocast_policy`` says what the operation does inside ``tinyconv.amp.autocast``: "16-bit"
    (convolutions, matrix products) casts its floating-point inputs to the autocast dtype,
    "float32" (softmax, losses, batch norm) casts 16-bit inputs up to float32, None (the
    default: elementwise operations, pooling, shapes) leaves them as they are. The casts are
    ``Cast`` operations, so the gradients go back to each input in its own dtype.
    """

    autocast_policy: str | None = None

    needs_input_grad: tuple[bool, ...]
    saved: tuple[Any, ...]
    parents: tuple[Any, ...]  # per input: its Function, the leaf Tensor itself, or None
    out_shape: tuple[int, ...]
    released = False  # True once backward has freed the saved arrays

    def save_for_backward(self, *values: Any) -> None:
        self.saved = values

    def forward(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, dout: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Any, **kwargs: Any) -> Tensor:
        if cls.autocast_policy is not None and _amp._autocast_dtype is not None:
            inputs = _amp.cast_inputs(cls.autocast_policy, inputs)
        ctx = cls()
        ctx.needs_input_grad = tuple(isinstance(t, Tensor) and t.requires_grad for t in inputs)
        raw = [t.data if isinstance(t, Tensor) else t for t in inputs]
        out = Tensor(ctx.forward(*raw, **kwargs))
        if _grad_enabled and any(ctx.needs_input_grad):
            out.requires_grad = True
            out._ctx = ctx
            ctx.out_shape = out.shape
            # link to the inputs' Functions, not to the input tensors: holding a tensor
            # would keep its array alive until backward even when no backward needs it
            ctx.parents = tuple(
                (t._ctx if t._ctx is not None else t) if need else None
                for t, need in zip(inputs, ctx.needs_input_grad, strict=True)
            )
        return out

    @property
    def name(self) -> str:
        return type(self).__name__


def _as_array(data: Any, dtype: Any = None) -> Any:
    """Turn data (array, list, scalar, Tensor) into an array; floats default to float32."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        dtype = resolve_dtype(dtype)
    xp = get_array_module(data)
    if xp is numpy and not isinstance(data, numpy.ndarray):
        arr = numpy.asarray(data)
        if dtype is None and arr.dtype.kind == "f" and not isinstance(data, numpy.generic):
            dtype = resolve_dtype(None)  # Python floats are float64; tinyconv's default is float32
        return arr.astype(dtype, copy=False) if dtype is not None else arr
    return data.astype(dtype, copy=False) if dtype is not None else data


class Tensor:
    """An n-dimensional array with an optional gradient.

    Args:
        data: array-like (NumPy/CuPy array, nested lists, scalar, Tensor).
        requires_grad (bool): record operations on it for ``backward``. Default: False.
        dtype: storage dtype; Python floats become float32 unless given. Default: None.

    Example:
        >>> import tinyconv
        >>> x = tinyconv.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad.numpy().tolist()
        [[2.0, 4.0], [6.0, 8.0]]
    """

    __array_priority__ = 1000  # numpy scalars on the left defer to Tensor's operators

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data = _as_array(data, dtype)
        self.grad: Tensor | None = None
        self.requires_grad = bool(requires_grad)
        self._ctx: Function | None = None

    # ----------------------------------------------------------------- basic facts
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> Any:
        return self.data.dtype

    @property
    def device(self) -> str:
        return device_of(self.data)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    def size(self, dim: int | None = None) -> Any:
        return self.shape if dim is None else self.shape[dim]

    def numel(self) -> int:
        return int(self.data.size)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        grad = f", grad_fn={self._ctx.name}" if self._ctx is not None else ""
        req = ", requires_grad=True" if self.requires_grad and self._ctx is None else ""
        dev = ", device='cuda'" if self.device == "cuda" else ""
        body = repr(self.numpy()).replace("array(", "tensor(", 1)
        if body.endswith(")"):
            body = body[:-1]
        return f"{body}{dev}{req}{grad})"

    def numpy(self) -> numpy.ndarray:
        """The values as a NumPy array (copied from the GPU when needed; shared on the CPU)."""
        return to_device(self.data, "cpu")

    def item(self) -> float | int:
        return self.data.item()

    def tolist(self) -> Any:
        return self.numpy().tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                "use .any() or .all() on .numpy()"
            )
        return bool(self.item())

    def __hash__(self) -> int:
        return id(self)

    # ------------------------------------------------------------- graph handling
    def detach(self) -> Tensor:
        """A tensor sharing the data, cut from the graph."""
        return Tensor(self.data)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        self.requires_grad = flag
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def backward(self, gradient: Tensor | Any | None = None, retain_graph: bool = False) -> None:
        """Compute d(self)/d(leaf) for every leaf that requires a gradient, into ``leaf.grad``.

        Args:
            gradient: d(loss)/d(self); may be omitted for a one-element tensor (then 1).
            retain_graph (bool): keep the saved arrays so backward can run again. Default: False.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() called on a tensor that does not require grad: no input of the "
                "computation had requires_grad=True (or it ran inside no_grad())"
            )
        xp = get_array_module(self.data)
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    "backward() without a gradient needs a one-element tensor, "
                    f"got shape {self.shape}"
                )
            g = xp.ones_like(self.data)
        else:
            g = _as_array(gradient, self.dtype)
            if tuple(g.shape) != self.shape:
                raise ValueError(
                    f"backward: gradient shape {tuple(g.shape)} != tensor shape {self.shape}"
                )

        # The graph's nodes are Functions and leaf tensors; order them by an iterative
        # depth-first search (no recursion).
        root: Function | Tensor = self._ctx if self._ctx is not None else self
        order: list[Function | Tensor] = []
        visited: set[int] = set()
        stack: list[tuple[Function | Tensor, bool]] = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            if isinstance(node, Function):
                if node.released:
                    raise RuntimeError(
                        f"backward through {node.name} a second time: its saved arrays were "
                        "freed by the first backward(); pass retain_graph=True to keep them"
                    )
                for p in node.parents:
                    if p is not None and id(p) not in visited:
                        stack.append((p, False))

        grads: dict[int, Any] = {id(root): g}
        for node in reversed(order):
            dout = grads.pop(id(node), None)
            if dout is None:
                continue
            if isinstance(node, Tensor):  # a leaf: accumulate into .grad
                if node.grad is None:
                    node.grad = Tensor(dout)
                else:  # out of place: dout may alias another gradient
                    node.grad = Tensor(node.grad.data + dout)
                continue
            in_grads = node.backward(dout)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            for p, pg, need in zip(node.parents, in_grads, node.needs_input_grad, strict=False):
                if p is None or not need or pg is None:
                    continue
                shape = p.shape if isinstance(p, Tensor) else p.out_shape
                if tuple(pg.shape) != shape:
                    raise RuntimeError(
                        f"internal error: {node.name}.backward returned a gradient of shape "
                        f"{tuple(pg.shape)} for an input of shape {shape}"
                    )
                prev = grads.get(id(p))
                grads[id(p)] = pg if prev is None else prev + pg
            if not retain_graph:
                node.saved = ()
                node.parents = ()
                node.released = True

    # ------------------------------------------------------------ type and device
    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """``t.to("cuda")``, ``t.to("cpu")``, ``t.to(numpy.float16)``, or both.

        Moving or casting is not recorded by autograd unless the dtype changes, in which case
        the gradient is cast back to the source dtype.
        """
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        if kwargs:
            raise TypeError(f"to() got unexpected arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, str) and (a in ("cpu",) or a.startswith("cuda")):
                device = a
            else:
                dtype = a
        from .ops.basic import Cast, ToDevice  # noqa: PLC0415

        out = self
        if dtype is not None and resolve_dtype(dtype) != out.dtype:
            out = Cast.apply(out, dtype=resolve_dtype(dtype))
        if device is not None and device != out.device:
            out = ToDevice.apply(out, device=device)
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self) -> Tensor:
        return self.to("cuda")

    def float(self) -> Tensor:
        return self.to(numpy.float32)

    def double(self) -> Tensor:
        return self.to(numpy.float64)

    def half(self) -> Tensor:
        return self.to(numpy.float16)

    def astype(self, dtype: Any) -> Tensor:
        return self.to(dtype)

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
        from .ops.basic import Add  # noqa: PLC0415

        return Add.apply(self, self._lift(other))

    def __radd__(self, other: Any) -> Tensor:
        from .ops.basic import Add  # noqa: PLC0415

        return Add.apply(self._lift(other), self)

    def __sub__(self, other: Any) -> Tensor:
        from .ops.basic import Sub  # noqa: PLC0415

        return Sub.apply(self, self._lift(other))

    def __rsub__(self, other: Any) -> Tensor:
        from .ops.basic import Sub  # noqa: PLC0415

        return Sub.apply(self._lift(other), self)

    def __mul__(self, other: Any) -> Tensor:
        from .ops.basic import Mul  # noqa: PLC0415

        return Mul.apply(self, self._lift(other))

    def __rmul__(self, other: Any) -> Tensor:
        from .ops.basic import Mul  # noqa: PLC0415

        return Mul.apply(self._lift(other), self)

    def __truediv__(self, other: Any) -> Tensor:
        from .ops.basic import Div  # noqa: PLC0415

        return Div.apply(self, self._lift(other))

    def __rtruediv__(self, other: Any) -> Tensor:
        from .ops.basic import Div  # noqa: PLC0415

        return Div.apply(self._lift(other), self)

    def __pow__(self, exponent: Any) -> Tensor:
        from .ops.basic import Pow, PowScalar  # noqa: PLC0415

        if isinstance(exponent, Tensor):
            return Pow.apply(self, exponent)
        return PowScalar.apply(self, exponent=float(exponent))

    def __rpow__(self, base: Any) -> Tensor:
        from .ops.basic import Pow  # noqa: PLC0415

        return Pow.apply(self._lift(base), self)

    def __neg__(self) -> Tensor:
        from .ops.basic import Neg  # noqa: PLC0415

        return Neg.apply(self)

    def __matmul__(self, other: Any) -> Tensor:
        from .ops.basic import MatMul  # noqa: PLC0415

        return MatMul.apply(self, self._lift(other))

    def __rmatmul__(self, other: Any) -> Tensor:
        from .ops.basic import MatMul  # noqa: PLC0415

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
        from .ops.basic import Exp  # noqa: PLC0415

        return Exp.apply(self)

    def log(self) -> Tensor:
        from .ops.basic import Log  # noqa: PLC0415

        return Log.apply(self)

    def sqrt(self) -> Tensor:
        return self**0.5

    def abs(self) -> Tensor:
        from .ops.basic import Abs  # noqa: PLC0415

        return Abs.apply(self)

    def relu(self) -> Tensor:
        from .ops.activation import ReLU  # noqa: PLC0415

        return ReLU.apply(self)

    def sigmoid(self) -> Tensor:
        from .ops.activation import Sigmoid  # noqa: PLC0415

        return Sigmoid.apply(self)

    def tanh(self) -> Tensor:
        from .ops.activation import Tanh  # noqa: PLC0415

        return Tanh.apply(self)

    # ---------------------------------------------------------------- reductions
    def sum(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        from .ops.basic import Sum  # noqa: PLC0415

        return Sum.apply(self, dim=_norm_dims(dim, self.ndim), keepdim=keepdim)

    def mean(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        from .ops.basic import Mean  # noqa: PLC0415

        return Mean.apply(self, dim=_norm_dims(dim, self.ndim), keepdim=keepdim)

    def max(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        from .ops.basic import Max  # noqa: PLC0415

        return Max.apply(self, dim=_norm_dims(dim, self.ndim), keepdim=keepdim, mode="max")

    def min(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        from .ops.basic import Max  # noqa: PLC0415

        return Max.apply(self, dim=_norm_dims(dim, self.ndim), keepdim=keepdim, mode="min")

    def argmax(self, dim: int | None = None) -> Tensor:
        xp = get_array_module(self.data)
        return Tensor(xp.argmax(self.data, axis=dim))

    # ------------------------------------------------------------------ shapes
    def reshape(self, *shape: Any) -> Tensor:
        from .ops.basic import Reshape  # noqa: PLC0415

        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return Reshape.apply(self, shape=tuple(int(s) for s in shape))

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        nd = self.ndim
        s, e = start_dim % nd if nd else 0, end_dim % nd if nd else 0
        new = self.shape[:s] + (-1,) + self.shape[e + 1 :]
        return self.reshape(new)

    def permute(self, *dims: Any) -> Tensor:
        from .ops.basic import Permute  # noqa: PLC0415

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
        from .ops.basic import GetItem  # noqa: PLC0415

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


def tensor(
    data: Any, requires_grad: bool = False, dtype: Any = None, device: str | None = None
) -> Tensor:
    """Make a Tensor (float32 unless ``dtype`` says otherwise for float data).

    Example:
        >>> tensor([1.0, 2.0]).dtype
        dtype('float32')
    """
    t = Tensor(data, requires_grad=requires_grad, dtype=dtype)
    if device is not None:
        t.data = to_device(t.data, device)
    return t


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Concatenate tensors along ``dim``; the gradient is split back among them.

    Example:
        >>> cat([tensor([[1.0]]), tensor([[2.0]])], dim=1).shape
        (1, 2)
    """
    from .ops.basic import Cat  # noqa: PLC0415

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
