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

This module sits below the operations (``ops/`` subclasses ``Function``), so it holds only
the two operations a Tensor needs for itself: ``Cast`` (``t.to(dtype)`` and autocast) and
``ToDevice`` (``t.to("cuda")``). Arithmetic and the other math methods (``a + b``,
``t.sum()``, ``t.reshape()``...) are bound to ``Tensor`` by ``ops/tensor_methods.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy

from . import cast_policy
from .backend import device_of, get_array_module, resolve_dtype, to_device
from .dtypes import FLOAT32, is_floating, is_low_precision

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

    ``autocast_policy`` (see ``cast_policy.py``) says what the operation does inside
    ``tinyconv.amp.autocast``: "16-bit"
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
        if cls.autocast_policy is not None and cast_policy.is_autocast_enabled():
            inputs = autocast_inputs(cls.autocast_policy, inputs)
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


class Cast(Function):
    """y = x stored as ``dtype``; the gradient goes back in x's dtype."""

    def forward(self, x: Any, dtype: Any) -> Any:
        self.save_for_backward(x.dtype)
        return x.astype(dtype)

    def backward(self, dout: Any) -> Any:
        (dtype,) = self.saved
        return dout.astype(dtype)


class ToDevice(Function):
    """y = x moved to ``device``; the gradient moves back."""

    def forward(self, x: Any, device: str) -> Any:
        self.save_for_backward("cuda" if type(x).__module__.startswith("cupy") else "cpu")
        return to_device(x, device)

    def backward(self, dout: Any) -> Any:
        (device,) = self.saved
        return to_device(dout, device)


def autocast_inputs(policy: str, inputs: tuple[Any, ...]) -> tuple[Any, ...]:
    """The inputs of an operation under autocast, cast as its ``policy`` asks.

    "16-bit" (``cast_policy.LOW``) casts floating-point inputs to the autocast dtype, "float32"
    (``cast_policy.FP32``) casts 16-bit inputs up to float32 (float64 stays). Only
    floating-point Tensors are cast (integer labels, None and raw arrays pass), each through
    the differentiable ``Cast``. Called by ``Function.apply`` inside an autocast block.
    """
    target = cast_policy.active_dtype() if policy == cast_policy.LOW else FLOAT32
    if target is None:
        return inputs
    out = []
    for t in inputs:
        if isinstance(t, Tensor) and is_floating(t.dtype) and t.dtype != target:
            if policy == cast_policy.LOW or is_low_precision(t.dtype):
                t = Cast.apply(t, dtype=target)
        out.append(t)
    return tuple(out)


NUMERIC_KINDS = "biufc"  # bool, signed and unsigned int, float, complex


def _numeric(dtype: Any) -> bool:
    """Numbers: bool, ints, floats (bfloat16 from ml_dtypes included), complex."""
    return dtype.kind in NUMERIC_KINDS or is_floating(dtype)


def _describe(data: Any) -> str:
    """``data``'s type, with its first element's for a list or tuple: "list of str"."""
    if isinstance(data, (list, tuple)) and data:
        return f"{type(data).__name__} of {type(data[0]).__name__}"
    return "None" if data is None else type(data).__name__


def _as_array(data: Any, dtype: Any = None) -> Any:
    """Turn data (array, list, scalar, Tensor) into an array; floats default to float32."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        dtype = resolve_dtype(dtype)
    xp = get_array_module(data)
    if xp is numpy and not isinstance(data, numpy.ndarray):
        arr = numpy.asarray(data)
        if not _numeric(arr.dtype):
            raise TypeError(
                f"tensor: expected numbers (an array, a scalar or nested lists of numbers), "
                f"got {_describe(data)}"
            )
        if dtype is None and arr.dtype.kind == "f" and not isinstance(data, numpy.generic):
            dtype = resolve_dtype(None)  # Python floats are float64; tinyconv's default is float32
        return arr.astype(dtype, copy=False) if dtype is not None else arr
    if getattr(data, "dtype", None) is not None and not _numeric(data.dtype):
        raise TypeError(f"tensor: expected a numeric array, got dtype {data.dtype}")
    return data.astype(dtype, copy=False) if dtype is not None else data


class Tensor:
    """An n-dimensional array with an optional gradient.

    Args:
        data: array-like (NumPy/CuPy array, nested lists, scalar, Tensor).
        requires_grad (bool): record operations on it for ``backward``. Default: False.
        dtype: storage dtype; Python floats become float32 unless given. Default: None.

    Its arithmetic and math methods (``+``, ``@``, ``sum``, ``reshape``, indexing, ``relu``...)
    are bound by ``tinyconv/ops/tensor_methods.py``.

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


def from_numpy(array: numpy.ndarray) -> Tensor:
    """A Tensor sharing memory with the NumPy ``array`` and keeping its dtype, as in PyTorch.

    Example:
        >>> a = numpy.zeros(2)
        >>> t = from_numpy(a)
        >>> a[0] = 5.0
        >>> t.numpy().tolist(), t.dtype
        ([5.0, 0.0], dtype('float64'))

    Raises:
        TypeError: ``array`` is not a NumPy array, or not numeric.
    """
    if not isinstance(array, numpy.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)
