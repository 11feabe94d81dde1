"""One converter per tinyconv operation: a traced ``Function`` call -> ONNX nodes (opset 17).

Each converter receives the ``Graph`` being built and one ``trace.Call`` (the Function, its
inputs and keyword arguments as the op received them, its output) and returns the name of
the ONNX value that holds the call's output. ``CONVERTERS`` maps Function classes to them.

Shapes come from the traced arrays, so a pooling's ``out_hw`` (which ceil_mode decided)
becomes explicit end pads, and adaptive average pooling becomes GlobalAveragePool or an
AveragePool whose kernel divides the input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy

from ..backend import to_device
from ..ops import activation as act
from ..ops import basic
from ..ops.adaptive_pool import AdaptiveAvgPool
from ..ops.avg_pool import AvgPool
from ..ops.conv import Conv2d, ConvTranspose2d
from ..ops.dropout import Dropout
from ..ops.linear import Linear, Pad
from ..ops.norm import BatchNorm, LocalResponseNorm
from ..ops.pool import MaxPool
from ..tensor import Cast, Function, Tensor
from .trace import Call


class Graph:
    """The nodes built so far and the ONNX name of every traced value (by object id)."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.nodes: list[Any] = []
        self._names: dict[int, str] = {}
        self._keep: list[Any] = []  # holds every bound object so that no id is reused
        self._count = 0

    def bind(self, value: Any, name: str) -> None:
        """``value`` (a Tensor, its array too) is known in the graph as ``name``."""
        self._keep.append(value)
        self._names[id(value)] = name
        if isinstance(value, Tensor):
            self._keep.append(value.data)
            self._names.setdefault(id(value.data), name)

    def name(self, value: Any, dtype: Any = None) -> str:
        """The ONNX name of a traced value; an untraced array or number becomes a Constant."""
        if value is None:
            return ""
        found = self._names.get(id(value))
        if found is not None:
            return found
        arr = _host(value.data if isinstance(value, Tensor) else value)
        arr = numpy.asarray(arr, dtype=dtype) if dtype is not None else numpy.asarray(arr)
        if arr.ndim and arr.shape[0] == self.batch and arr.size > 1:
            raise ValueError(
                f"tinyconv.onnx.export: the forward made a batch-sized array {arr.shape} that no "
                "traced operation computed (random noise, a tensor built in forward?); an ONNX "
                "graph holds it as a constant for one batch size only. Export a deterministic "
                "forward (for ConvVAE: one that decodes the mean)"
            )
        name = self.const(arr)
        self.bind(value, name)
        return name

    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"/{hint}_{self._count}"

    def const(self, arr: Any, hint: str = "Constant") -> str:
        from onnx import helper, numpy_helper  # noqa: PLC0415

        out = self.fresh(hint)
        value = numpy_helper.from_array(numpy.asarray(arr, order="C"), out)
        self.nodes.append(helper.make_node("Constant", [], [out], name=out, value=value))
        return out

    def ints(self, values: Any) -> str:
        return self.const(numpy.asarray(list(values), dtype=numpy.int64), "Ints")

    def node(self, op: str, inputs: list[str], **attrs: Any) -> str:
        from onnx import helper  # noqa: PLC0415

        out = self.fresh(op)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out


Converter = Callable[[Graph, Call], str]
CONVERTERS: dict[type[Function], Converter] = {}


def converts(*fns: type[Function]) -> Callable[[Converter], Converter]:
    def register(f: Converter) -> Converter:
        for fn in fns:
            CONVERTERS[fn] = f
        return f

    return register


def _shape(value: Any) -> tuple[int, ...]:
    return tuple(value.shape)


def _like(call: Call, value: float) -> numpy.ndarray:
    return numpy.asarray(value, dtype=call.output.dtype)


# ------------------------------------------------------------------ convolution and dense
@converts(Conv2d)
def _conv(g: Graph, c: Call) -> str:
    x, W, b = c.inputs
    kw = c.kwargs
    t, bo, left, r = kw["pads"]
    ins = [g.name(x), g.name(W)] + ([g.name(b)] if b is not None else [])
    return g.node(
        "Conv", ins, kernel_shape=list(_shape(W)[2:]), strides=list(kw["stride"]),
        pads=[t, left, bo, r], dilations=list(kw["dilation"]), group=int(kw["groups"]),
    )  # fmt: skip


@converts(ConvTranspose2d)
def _conv_transpose(g: Graph, c: Call) -> str:
    x, W, b = c.inputs
    kw = c.kwargs
    ph, pw = kw["padding"]
    ins = [g.name(x), g.name(W)] + ([g.name(b)] if b is not None else [])
    return g.node(
        "ConvTranspose", ins, kernel_shape=list(_shape(W)[2:]), strides=list(kw["stride"]),
        pads=[ph, pw, ph, pw], dilations=list(kw["dilation"]), group=int(kw["groups"]),
        output_padding=list(kw["output_padding"]),
    )  # fmt: skip


@converts(Linear)
def _linear(g: Graph, c: Call) -> str:
    x, W, *rest = c.inputs
    b = rest[0] if rest else None
    if len(_shape(x)) == 2:
        ins = [g.name(x), g.name(W)] + ([g.name(b)] if b is not None else [])
        return g.node("Gemm", ins, transB=1)
    y = g.node("MatMul", [g.name(x), g.node("Transpose", [g.name(W)], perm=[1, 0])])
    return g.node("Add", [y, g.name(b)]) if b is not None else y


@converts(basic.MatMul)
def _matmul(g: Graph, c: Call) -> str:
    return g.node("MatMul", [g.name(v) for v in c.inputs])


# ------------------------------------------------------------------ pooling
def _end_pads(
    in_hw: tuple[int, ...], kernel: Any, stride: Any, begin: Any, out_hw: Any, dilation: Any
) -> list[int]:
    """The end pads that make floor((n + b + e - d(f-1) - 1)/s) + 1 equal the traced out."""
    ends = []
    for n, f, s, b, o, d in zip(in_hw, kernel, stride, begin, out_hw, dilation, strict=True):
        need = (o - 1) * s + d * (f - 1) + 1 - n - b  # the smallest e giving o windows
        ends.append(b if need <= b <= need + s - 1 else max(need, 0))  # symmetric if it fits
    return ends


@converts(MaxPool)
def _max_pool(g: Graph, c: Call) -> str:
    (x,) = c.inputs
    kw = c.kwargs
    if kw.get("indices") is not None:
        raise ValueError("tinyconv.onnx.export: max_pool2d(return_indices=True) is not exported")
    kernel, stride, begin, dil = kw["kernel"], kw["stride"], kw["padding"], kw["dilation"]
    ends = _end_pads(_shape(x)[2:], kernel, stride, begin, kw["out_hw"], dil)
    src = g.name(x)
    if kw["mode"] == "min":  # min pool = -max pool(-x)
        src = g.node("Neg", [src])
    y = g.node(
        "MaxPool", [src], kernel_shape=list(kernel), strides=list(stride),
        pads=[begin[0], begin[1], ends[0], ends[1]], dilations=list(dil),
    )  # fmt: skip
    return g.node("Neg", [y]) if kw["mode"] == "min" else y


@converts(AvgPool)
def _avg_pool(g: Graph, c: Call) -> str:
    (x,) = c.inputs
    kw = c.kwargs
    kernel, stride, begin = kw["kernel"], kw["stride"], kw["padding"]
    pads_end = kw.get("pads_end") or begin
    in_hw = _shape(x)[2:]
    out_hw = kw["out_hw"]
    floor = [
        (n + b + e - f) // s + 1
        for n, f, s, b, e in zip(in_hw, kernel, stride, begin, pads_end, strict=True)
    ]
    attrs: dict[str, Any] = {"kernel_shape": list(kernel), "strides": list(stride)}
    attrs["pads"] = [begin[0], begin[1], pads_end[0], pads_end[1]]
    attrs["count_include_pad"] = int(bool(kw["count_include_pad"]))
    if list(out_hw) != floor:
        attrs["ceil_mode"] = 1
    y = g.node("AveragePool", [g.name(x)], **attrs)
    div = kw.get("divisor_override")
    if div is not None:  # sum / div = mean * (kh * kw) / div
        y = g.node("Mul", [y, g.const(_like(c, kernel[0] * kernel[1] / div))])
    return y


@converts(AdaptiveAvgPool)
def _adaptive_avg_pool(g: Graph, c: Call) -> str:
    (x,) = c.inputs
    in_hw = _shape(x)[2:]
    out_hw = tuple(c.kwargs["out_hw"])
    if out_hw == (1, 1):
        return g.node("GlobalAveragePool", [g.name(x)])
    if all(n % o == 0 for n, o in zip(in_hw, out_hw, strict=True)):
        k = [n // o for n, o in zip(in_hw, out_hw, strict=True)]
        return g.node("AveragePool", [g.name(x)], kernel_shape=k, strides=k)
    raise ValueError(
        f"tinyconv.onnx.export: adaptive_avg_pool2d from {in_hw} to {out_hw} has no ONNX form "
        "(the output size must divide the input size, or be 1)"
    )


# ------------------------------------------------------------------ normalisation
@converts(BatchNorm)
def _batch_norm(g: Graph, c: Call) -> str:
    x, weight, bias = c.inputs
    kw = c.kwargs
    if kw["training"]:
        raise ValueError("tinyconv.onnx.export: a batch norm traced in training mode")
    C = _shape(x)[1]
    scale = g.name(weight) if weight is not None else g.const(numpy.ones(C, x.dtype))
    shift = g.name(bias) if bias is not None else g.const(numpy.zeros(C, x.dtype))
    mean, var = g.name(kw["running_mean"]), g.name(kw["running_var"])
    return g.node(
        "BatchNormalization", [g.name(x), scale, shift, mean, var],
        epsilon=float(kw["eps"]), momentum=1.0 - float(kw["momentum"]),
    )  # fmt: skip


@converts(LocalResponseNorm)
def _lrn(g: Graph, c: Call) -> str:
    (x,) = c.inputs
    kw = c.kwargs
    size = int(kw["size"])
    attrs = dict(size=size, alpha=float(kw["alpha"]), beta=float(kw["beta"]), bias=float(kw["k"]))
    if size % 2:
        return g.node("LRN", [g.name(x)], **attrs)
    # even size: tinyconv's window is c - size/2 .. c + size/2 - 1, ONNX's the mirror image
    C = _shape(x)[1]
    idx = g.ints(range(C - 1, -1, -1))
    flipped = g.node("Gather", [g.name(x), idx], axis=1)
    return g.node("Gather", [g.node("LRN", [flipped], **attrs), idx], axis=1)


# ------------------------------------------------------------------ activations
def _unary(onnx_op: str, **attrs: Any) -> Converter:
    def convert(g: Graph, c: Call) -> str:
        return g.node(onnx_op, [g.name(c.inputs[0])], **attrs)

    return convert


CONVERTERS[act.ReLU] = _unary("Relu")
CONVERTERS[act.Sigmoid] = _unary("Sigmoid")
CONVERTERS[act.Tanh] = _unary("Tanh")
CONVERTERS[basic.Exp] = _unary("Exp")
CONVERTERS[basic.Log] = _unary("Log")
CONVERTERS[basic.Abs] = _unary("Abs")
CONVERTERS[basic.Neg] = _unary("Neg")


@converts(act.LeakyReLU)
def _leaky_relu(g: Graph, c: Call) -> str:
    return g.node("LeakyRelu", [g.name(c.inputs[0])], alpha=float(c.kwargs["negative_slope"]))


@converts(act.Softplus)
def _softplus(g: Graph, c: Call) -> str:
    beta = float(c.kwargs["beta"])
    if beta == 1.0:
        return g.node("Softplus", [g.name(c.inputs[0])])
    scaled = g.node("Mul", [g.name(c.inputs[0]), g.const(_like(c, beta))])
    return g.node("Div", [g.node("Softplus", [scaled]), g.const(_like(c, beta))])


@converts(act.LogSigmoid)
def _log_sigmoid(g: Graph, c: Call) -> str:  # log sigmoid(x) = -softplus(-x)
    return g.node("Neg", [g.node("Softplus", [g.node("Neg", [g.name(c.inputs[0])])])])


@converts(act.Softmax)
def _softmax(g: Graph, c: Call) -> str:
    return g.node("Softmax", [g.name(c.inputs[0])], axis=int(c.kwargs["dim"]))


@converts(act.LogSoftmax)
def _log_softmax(g: Graph, c: Call) -> str:
    return g.node("LogSoftmax", [g.name(c.inputs[0])], axis=int(c.kwargs["dim"]))


# ------------------------------------------------------------------ arithmetic
def _binary(onnx_op: str) -> Converter:
    def convert(g: Graph, c: Call) -> str:
        a, b = c.inputs
        dt = c.output.dtype
        return g.node(onnx_op, [g.name(a, dt), g.name(b, dt)])

    return convert


CONVERTERS[basic.Add] = _binary("Add")
CONVERTERS[basic.Sub] = _binary("Sub")
CONVERTERS[basic.Mul] = _binary("Mul")
CONVERTERS[basic.Div] = _binary("Div")
CONVERTERS[basic.Pow] = _binary("Pow")


@converts(basic.PowScalar)
def _pow_scalar(g: Graph, c: Call) -> str:
    return g.node("Pow", [g.name(c.inputs[0]), g.const(_like(c, c.kwargs["exponent"]))])


def _reduce(onnx_ops: dict[str, str]) -> Converter:
    def convert(g: Graph, c: Call) -> str:
        (x,) = c.inputs
        kw = c.kwargs
        op = onnx_ops[kw.get("mode", "max")] if len(onnx_ops) > 1 else next(iter(onnx_ops.values()))
        dims = kw["dim"]
        keep = int(bool(kw["keepdim"]))
        axes = list(range(len(_shape(x)))) if dims is None else [int(d) for d in dims]
        if op == "ReduceSum":  # opset 13 made ReduceSum's axes an input
            return g.node(op, [g.name(x), g.ints(axes)], keepdims=keep)
        return g.node(op, [g.name(x)], axes=axes, keepdims=keep)

    return convert


CONVERTERS[basic.Sum] = _reduce({"sum": "ReduceSum"})
CONVERTERS[basic.Mean] = _reduce({"mean": "ReduceMean"})
CONVERTERS[basic.Max] = _reduce({"max": "ReduceMax", "min": "ReduceMin"})


# ------------------------------------------------------------------ shapes
@converts(basic.Reshape)
def _reshape(g: Graph, c: Call) -> str:
    (x,) = c.inputs
    target = [int(s) for s in c.output.shape]
    if target and _shape(x) and target[0] == g.batch == _shape(x)[0]:
        target[0] = 0  # the batch axis stays whatever the batch is
    return g.node("Reshape", [g.name(x), g.ints(target)])


@converts(basic.Permute)
def _permute(g: Graph, c: Call) -> str:
    return g.node("Transpose", [g.name(c.inputs[0])], perm=[int(d) for d in c.kwargs["dims"]])


@converts(basic.Cat)
def _cat(g: Graph, c: Call) -> str:
    return g.node("Concat", [g.name(v) for v in c.inputs], axis=int(c.kwargs["dim"]))


@converts(Pad)
def _pad(g: Graph, c: Call) -> str:
    (x,) = c.inputs
    pads = c.kwargs["pads"]
    flat = [int(b) for b, _ in pads] + [int(a) for _, a in pads]
    value = g.const(_like(c, c.kwargs["value"]))
    return g.node("Pad", [g.name(x), g.ints(flat), value], mode="constant")


@converts(basic.GetItem)
def _get_item(g: Graph, c: Call) -> str:
    (x,) = c.inputs
    index = c.kwargs["index"]
    index = index if isinstance(index, tuple) else (index,)
    rank = len(_shape(x))
    ell = [i for i, item in enumerate(index) if item is Ellipsis]
    if ell:
        i = ell[0]
        index = index[:i] + (slice(None),) * (rank - len(index) + 1) + index[i + 1 :]
    y = g.name(x)
    starts, ends, axes, steps, drop = [], [], [], [], []
    for axis, item in enumerate(index):
        if isinstance(item, slice):
            if item == slice(None):
                continue
            start, stop, step = item.indices(_shape(x)[axis])
            if step < 0 and stop < 0:
                stop = -(2**62)  # "before the first element" for a backward slice
            starts.append(start), ends.append(stop), axes.append(axis), steps.append(step)
        elif isinstance(item, (int, numpy.integer)):
            drop.append((axis, int(item)))
        else:
            raise ValueError(
                f"tinyconv.onnx.export: indexing with {type(item).__name__} is not exported "
                "(only ints, slices and ...)"
            )
    if axes:
        y = g.node("Slice", [y, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    for axis, i in reversed(drop):
        y = g.node("Gather", [y, g.const(numpy.asarray(i, dtype=numpy.int64))], axis=axis)
    return y


@converts(Cast)
def _cast(g: Graph, c: Call) -> str:
    from onnx import helper  # noqa: PLC0415

    to = helper.np_dtype_to_tensor_dtype(numpy.dtype(c.output.dtype))
    return g.node("Cast", [g.name(c.inputs[0])], to=to)


@converts(Dropout)
def _dropout(g: Graph, c: Call) -> str:  # traced in eval mode it does not run; if it did
    return g.node("Identity", [g.name(c.inputs[0])])


def _host(array: Any) -> numpy.ndarray:
    """A NumPy copy (CuPy arrays come to the CPU)."""
    return numpy.asarray(to_device(array, "cpu"))
