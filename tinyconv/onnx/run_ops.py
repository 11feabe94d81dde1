"""The ONNX ops an ``OnnxModel`` runs, each as tinyconv operations (so backward works).

``run_node(node, inputs, training, opset)`` looks the op up in ``OPS`` and returns its
output, or a tuple for several. Attribute defaults follow the ONNX operator specs; where an
opset moved an attribute to an input (axes of Squeeze/ReduceSum, pads of Pad, ratio of
Dropout) both forms are read. Values that are shapes are NumPy integer arrays; an op whose
inputs are all NumPy computes with NumPy (shape arithmetic), otherwise with Tensors.

``SUPPORTED`` lists the op names; anything else is refused when the file is read.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy

from ..backend import get_array_module, to_device
from ..ops import activation as act
from ..ops import basic
from ..ops.avg_pool import AvgPool
from ..ops.conv import Conv2d, conv_transpose2d
from ..ops.dropout import dropout
from ..ops.linear import Pad, linear
from ..ops.norm import batch_norm, local_response_norm
from ..ops.pool import MaxPool
from ..tensor import Cast, Tensor

Op = Callable[[list[Any], dict[str, Any], "Ctx"], Any]
OPS: dict[str, Op] = {}


class Ctx:
    """What an op may need besides inputs and attributes."""

    def __init__(self, name: str, training: bool, opset: int, want_indices: bool) -> None:
        self.name, self.training, self.opset = name, training, opset
        self.want_indices = want_indices  # a second output (MaxPool's Indices) is read

    def error(self, message: str) -> ValueError:
        return ValueError(f"ONNX node {self.name!r}: {message}")


def op(*names: str) -> Callable[[Op], Op]:
    def register(f: Op) -> Op:
        for n in names:
            OPS[n] = f
        return f

    return register


def run_node(node: dict[str, Any], inputs: list[Any], training: bool, opset: int) -> Any:
    """Run one node (a ``read.describe`` dict) on its input values."""
    outs = node["outputs"]
    ctx = Ctx(f"{node['name']} ({node['op']})", training, opset, len(outs) > 1 and bool(outs[1]))
    attrs = node["attrs"]
    return OPS[node["op"]](inputs, attrs, ctx)


# ------------------------------------------------------------------ value helpers
def _is_np(v: Any) -> bool:
    return isinstance(v, (numpy.ndarray, numpy.generic))


def _ints(v: Any) -> list[int]:
    """An int list from an attribute or a small integer input (Tensor or array)."""
    if isinstance(v, Tensor):
        v = to_device(v.data, "cpu")
    return [int(i) for i in numpy.asarray(v).reshape(-1)]


def _floats(v: Any) -> list[float]:
    if isinstance(v, Tensor):
        v = to_device(v.data, "cpu")
    return [float(i) for i in numpy.asarray(v).reshape(-1)]


def _host(v: Any) -> numpy.ndarray:
    """A NumPy array of a value (a shape input, or a constant Tensor)."""
    if isinstance(v, Tensor):
        return numpy.asarray(to_device(v.data, "cpu"))
    return numpy.asarray(v)


def _tensor(v: Any, like: Any = None) -> Tensor:
    if isinstance(v, Tensor):
        return v
    arr = numpy.asarray(v)
    if like is not None and isinstance(like, Tensor):
        if arr.dtype.kind == "f" or like.dtype.kind == "f":
            arr = arr.astype(like.dtype)
        xp = get_array_module(like.data)
        return Tensor(xp.asarray(to_device(arr, like.device)))
    return Tensor(arr)


def _shape_only(v: Any) -> bool:
    """Integer data (shapes, indices): computed with NumPy, never differentiated."""
    if _is_np(v):
        return True
    return isinstance(v, Tensor) and v.dtype.kind in "iub" and not v.requires_grad


def _axis(a: int, rank: int, ctx: Ctx) -> int:
    if not -rank <= a < max(rank, 1):
        raise ctx.error(f"axis {a} is out of range for rank {rank}")
    return a % rank if rank else 0


def _rank_check(x: Tensor, ranks: tuple[int, ...], ctx: Ctx) -> None:
    if x.ndim not in ranks:
        raise ctx.error(f"expected an input of rank {' or '.join(map(str, ranks))}, got {x.shape}")


def _to2d(x: Tensor) -> tuple[Tensor, bool]:
    """(N, C, L) -> (N, C, 1, L): 1-D convolution and pooling run as 2-D, one row high."""
    if x.ndim == 3:
        return basic.Reshape.apply(x, shape=(x.shape[0], x.shape[1], 1, x.shape[2])), True
    return x, False


def _from2d(y: Tensor, was: bool) -> Tensor:
    if was:
        return basic.Reshape.apply(y, shape=(y.shape[0], y.shape[1], y.shape[3]))
    return y


def _pads_2d(attrs: dict[str, Any], in_hw: tuple[int, ...], kernel: list[int], stride: list[int],
             dil: list[int], ctx: Ctx) -> list[int]:  # fmt: skip
    """[top, left, bottom, right] from ``pads`` or ``auto_pad``."""
    n = len(kernel)
    auto = attrs.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = [0] * (2 * n)
        for i in range(n):
            out = -(-in_hw[i] // stride[i])
            total = max((out - 1) * stride[i] + dil[i] * (kernel[i] - 1) + 1 - in_hw[i], 0)
            small, big = total // 2, total - total // 2
            pads[i], pads[i + n] = (small, big) if auto == "SAME_UPPER" else (big, small)
        return pads
    if auto == "VALID":
        return [0] * (2 * n)
    if auto not in ("NOTSET", ""):
        raise ctx.error(f"unknown auto_pad {auto!r}")
    pads = list(attrs.get("pads", [0] * (2 * n)))
    if len(pads) != 2 * n or min(pads) < 0:
        raise ctx.error(f"pads {pads} do not fit a {n}-D kernel")
    return pads


def _hw(pads: list[int]) -> tuple[list[int], list[int]]:
    n = len(pads) // 2
    return pads[:n], pads[n:]


def _lift(pair: list[int], one_d: bool, fill: int) -> list[int]:
    return [fill, *pair] if one_d else pair


# ------------------------------------------------------------------ convolution and dense
@op("Conv")
def _conv(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    x, W = v[0], v[1]
    b = v[2] if len(v) > 2 else None
    _rank_check(x, (3, 4), ctx)
    if W.ndim != x.ndim:
        raise ctx.error(f"weight {W.shape} does not fit input {x.shape}")
    group = int(a.get("group", 1))
    if W.shape[1] * group != x.shape[1] or W.shape[0] % group:
        raise ctx.error(
            f"weight {W.shape} with group={group} needs {W.shape[1] * group} input channels, "
            f"the input {x.shape} has {x.shape[1]}"
        )
    if b is not None and tuple(b.shape) != (W.shape[0],):
        raise ctx.error(f"bias {b.shape} does not fit {W.shape[0]} filters")
    k = list(a.get("kernel_shape", W.shape[2:]))
    n = len(k)
    stride = list(a.get("strides", [1] * n))
    dil = list(a.get("dilations", [1] * n))
    pads = _pads_2d(a, tuple(x.shape[2:]), k, stride, dil, ctx)
    one = x.ndim == 3
    x2, was = _to2d(x)
    W2 = basic.Reshape.apply(W, shape=(*W.shape[:2], 1, W.shape[2])) if one else W
    (pb, pe) = _hw(pads)
    pb, pe = _lift(pb, one, 0), _lift(pe, one, 0)
    s2, d2 = _lift(stride, one, 1), _lift(dil, one, 1)
    for i, (hw, f) in enumerate(zip(x2.shape[2:], W2.shape[2:], strict=True)):
        span = hw + pb[i] + pe[i] - d2[i] * (f - 1) - 1
        if span < 0:
            raise ctx.error(
                f"kernel {f} (dilation {d2[i]}) is larger than the padded input: "
                f"({hw} - {d2[i] * (f - 1) + 1} + {pb[i]} + {pe[i]})/{s2[i]} + 1 < 1"
            )
    y = Conv2d.apply(
        x2, W2, b, stride=tuple(s2), pads=(pb[0], pe[0], pb[1], pe[1]), dilation=tuple(d2),
        groups=group,
    )  # fmt: skip
    return _from2d(y, was)


@op("ConvTranspose")
def _conv_transpose(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    x, W = v[0], v[1]
    b = v[2] if len(v) > 2 else None
    _rank_check(x, (3, 4), ctx)
    if x.ndim == 3:  # 1-D: one row high
        W4 = basic.Reshape.apply(W, shape=(*W.shape[:2], 1, W.shape[2]))
        a1 = dict(a)
        for key, fill in (("kernel_shape", 1), ("strides", 1), ("dilations", 1),
                          ("output_padding", 0), ("output_shape", 1)):  # fmt: skip
            if key in a:
                a1[key] = [fill, *a[key]]
        if "pads" in a:
            a1["pads"] = [0, a["pads"][0], 0, a["pads"][1]]
        x4, _ = _to2d(x)
        return _from2d(_conv_transpose([x4, W4, *v[2:]], a1, ctx), True)
    group = int(a.get("group", 1))
    if W.shape[0] != x.shape[1]:
        raise ctx.error(f"weight {W.shape} needs {W.shape[0]} input channels, got {x.shape}")
    k = list(a.get("kernel_shape", W.shape[2:]))
    stride = list(a.get("strides", [1, 1]))
    dil = list(a.get("dilations", [1, 1]))
    out_pad = list(a.get("output_padding", [0, 0]))
    full = [
        (n - 1) * s + d * (f - 1) + 1
        for n, s, d, f in zip(x.shape[2:], stride, dil, k, strict=True)
    ]
    auto = a.get("auto_pad", "NOTSET")
    if "output_shape" in a or auto in ("SAME_UPPER", "SAME_LOWER"):
        if "output_shape" in a:
            want = list(a["output_shape"])[-2:]
        else:
            want = [n * s for n, s in zip(x.shape[2:], stride, strict=True)]
        pads = [0] * 4
        for i in range(2):
            total = full[i] + out_pad[i] - want[i]
            if total < 0:  # a larger output: the extra rows at the end, as output_padding
                out_pad[i] -= total
                total = 0
            small, big = total // 2, total - total // 2
            pads[i], pads[i + 2] = (big, small) if auto == "SAME_LOWER" else (small, big)
    else:
        pads = list(a.get("pads", [0, 0, 0, 0]))
    if (
        pads[0] == pads[2]
        and pads[1] == pads[3]
        and all(o < max(s, d) for o, s, d in zip(out_pad, stride, dil, strict=True))
    ):
        return conv_transpose2d(
            x, W, b, tuple(stride), (pads[0], pads[1]), tuple(out_pad), group, tuple(dil)
        )
    # asymmetric pads: the full result, cropped
    y = conv_transpose2d(x, W, b, tuple(stride), 0, 0, group, tuple(dil))
    out = [fu - pads[i] - pads[i + 2] + out_pad[i] for i, fu in enumerate(full)]
    if any(pads[i] + out[i] > y.shape[2 + i] for i in range(2)):
        raise ctx.error(
            f"output_padding {out_pad} larger than the end pads {pads[2:]} is not supported"
        )
    return basic.GetItem.apply(
        y,
        index=(
            slice(None),
            slice(None),
            slice(pads[0], pads[0] + out[0]),
            slice(pads[1], pads[1] + out[1]),
        ),
    )


@op("Gemm")
def _gemm(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    A, B = v[0], v[1]
    C = v[2] if len(v) > 2 else None
    alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
    ta, tb = int(a.get("transA", 0)), int(a.get("transB", 0))
    if A.ndim != 2 or B.ndim != 2:
        raise ctx.error(f"Gemm takes 2-D inputs, got {A.shape} and {B.shape}")
    k_a = A.shape[0] if ta else A.shape[1]
    k_b = B.shape[1] if tb else B.shape[0]
    if k_a != k_b:
        raise ctx.error(f"A {A.shape} (transA={ta}) and B {B.shape} (transB={tb}) do not multiply")
    if not ta and tb and alpha == 1.0 and (C is None or (beta == 1.0 and C.ndim == 1)):
        if C is not None and C.shape[0] != B.shape[0]:
            raise ctx.error(f"bias {C.shape} does not fit {B.shape[0]} outputs")
        return linear(A, B, C)
    A2 = basic.Permute.apply(A, dims=(1, 0)) if ta else A
    B2 = basic.Permute.apply(B, dims=(1, 0)) if tb else B
    y = basic.MatMul.apply(A2, B2)
    if alpha != 1.0:
        y = basic.Mul.apply(y, _tensor(alpha, y))
    if C is not None:
        c = _tensor(C, y)
        if beta != 1.0:
            c = basic.Mul.apply(c, _tensor(beta, y))
        y = basic.Add.apply(y, c)
    return y


@op("MatMul")
def _matmul(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    x, w = v
    if x.shape[-1] != (w.shape[-2] if w.ndim > 1 else w.shape[0]):
        raise ctx.error(f"{x.shape} @ {w.shape}: inner sizes differ")
    return basic.MatMul.apply(_tensor(x, w), _tensor(w, x))


# ------------------------------------------------------------------ pooling
def _pool_geometry(x: Tensor, a: dict[str, Any], ctx: Ctx) -> tuple[Any, ...]:
    k = list(a["kernel_shape"]) if "kernel_shape" in a else None
    if k is None:
        raise ctx.error("kernel_shape is required")
    n = len(k)
    if n != x.ndim - 2 or n not in (1, 2):
        raise ctx.error(f"a {n}-D kernel on input {x.shape} (tinyconv pools 1-D and 2-D)")
    stride = list(a.get("strides", [1] * n))
    dil = list(a.get("dilations", [1] * n))
    pads = _pads_2d(a, tuple(x.shape[2:]), k, stride, dil, ctx)
    pb, pe = _hw(pads)
    ceil = int(a.get("ceil_mode", 0))
    out = []
    for i in range(n):
        span = x.shape[2 + i] + pb[i] + pe[i] - dil[i] * (k[i] - 1) - 1
        if span < 0:
            raise ctx.error(
                f"kernel {k[i]} is larger than the padded input: ({x.shape[2 + i]} - "
                f"{dil[i] * (k[i] - 1) + 1} + {pb[i]} + {pe[i]})/{stride[i]} + 1 < 1"
            )
        o = (-(-span // stride[i]) if ceil else span // stride[i]) + 1
        if ceil and (o - 1) * stride[i] >= x.shape[2 + i] + pb[i]:
            o -= 1  # the last window would start in the end padding
        if a.get("auto_pad", "NOTSET") in ("SAME_UPPER", "SAME_LOWER"):
            o = -(-x.shape[2 + i] // stride[i])
        out.append(o)
    one = n == 1
    lift = _lift
    return (
        tuple(lift(k, one, 1)), tuple(lift(stride, one, 1)), tuple(lift(pb, one, 0)),
        tuple(lift(pe, one, 0)), tuple(lift(out, one, 1)), tuple(lift(dil, one, 1)),
    )  # fmt: skip


@op("MaxPool")
def _max_pool(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Any:
    x = v[0]
    if _shape_only(x):  # integer images: pooled as float64 (exact for them), cast back
        y = _max_pool([Tensor(_host(x).astype(numpy.float64)), *v[1:]], a, ctx)
        ys = y if isinstance(y, tuple) else (y,)
        back = (_host(ys[0]).astype(_host(x).dtype), *ys[1:])
        return back if isinstance(y, tuple) else back[0]
    k, s, pb, pe, out, d = _pool_geometry(x, a, ctx)
    x2, was = _to2d(x)
    sink: list | None = [] if ctx.want_indices else None
    y = MaxPool.apply(
        x2, kernel=k, stride=s, padding=pb, out_hw=out, mode="max", dilation=d, indices=sink
    )
    y = _from2d(y, was)
    if sink is None:
        return y
    idx = numpy.asarray(to_device(sink[0], "cpu")).astype(numpy.int64)  # h * W + w per plane
    N, C = x2.shape[:2]
    H, W = x2.shape[2:]
    if int(a.get("storage_order", 0)):
        idx = (idx % W) * H + idx // W
    plane = (numpy.arange(N)[:, None] * C + numpy.arange(C)[None, :]) * (H * W)
    idx = idx + plane[:, :, None, None]
    return y, idx.reshape(y.shape)


@op("AveragePool")
def _avg_pool(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    x = v[0]
    k, s, pb, pe, out, _ = _pool_geometry(x, a, ctx)
    if any(dd != 1 for dd in a.get("dilations", [])):
        raise ctx.error("AveragePool with dilations is not supported")
    x2, was = _to2d(x)
    y = AvgPool.apply(
        x2, kernel=k, stride=s, padding=pb, out_hw=out,
        count_include_pad=bool(int(a.get("count_include_pad", 0))), pads_end=pe,
    )  # fmt: skip
    return _from2d(y, was)


@op("GlobalAveragePool")
def _global_avg(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    x = v[0]
    return basic.Mean.apply(x, dim=tuple(range(2, x.ndim)), keepdim=True)


@op("GlobalMaxPool")
def _global_max(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    x = v[0]
    return basic.Max.apply(x, dim=tuple(range(2, x.ndim)), keepdim=True, mode="max")


# ------------------------------------------------------------------ normalisation
@op("BatchNormalization")
def _batch_norm(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Any:
    x, scale, bias, mean, var = v[:5]
    C = x.shape[1] if x.ndim > 1 else 0
    for name, t in (("scale", scale), ("B", bias), ("mean", mean), ("var", var)):
        if tuple(t.shape) != (C,):
            raise ctx.error(
                f"{name} has shape {tuple(t.shape)}, the input {x.shape} has {C} channels"
            )
    train = ctx.training or bool(int(a.get("training_mode", 0)))
    if ctx.want_indices and train:  # running mean and var as outputs: ONNX's update rule
        m = float(a.get("momentum", 0.9))
        axes = (0, *range(2, x.ndim))
        xs = _host(x)
        mean_out = _host(mean) * m + xs.mean(axis=axes) * (1 - m)
        var_out = _host(var) * m + xs.var(axis=axes) * (1 - m)
        y = batch_norm(x, None, None, scale, bias, training=True, eps=float(a.get("epsilon", 1e-5)))
        return y, _tensor(mean_out.astype(xs.dtype), x), _tensor(var_out.astype(xs.dtype), x)
    y = batch_norm(
        x, mean, var, scale, bias, training=train and x.shape[0] * math.prod(x.shape[2:]) > 1,
        momentum=1.0 - float(a.get("momentum", 0.9)), eps=float(a.get("epsilon", 1e-5)),
    )  # fmt: skip
    return y


@op("LRN")
def _lrn(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    x = v[0]
    size = int(a["size"])
    alpha, beta, bias = (
        float(a.get("alpha", 1e-4)),
        float(a.get("beta", 0.75)),
        float(a.get("bias", 1.0)),
    )
    if size % 2:
        return local_response_norm(x, size, alpha, beta, bias)
    # ONNX's even window is c - size/2 + 1 .. c + size/2, tinyconv's the mirror image
    flip = (slice(None), slice(None, None, -1))
    y = local_response_norm(basic.GetItem.apply(x, index=flip), size, alpha, beta, bias)
    return basic.GetItem.apply(y, index=flip)


# ------------------------------------------------------------------ activations
def _unary(fn: Callable[[Tensor], Tensor]) -> Op:
    def run(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
        return fn(v[0])

    return run


OPS["Relu"] = _unary(act.ReLU.apply)
OPS["Sigmoid"] = _unary(act.Sigmoid.apply)
OPS["Tanh"] = _unary(act.Tanh.apply)
OPS["Exp"] = _unary(basic.Exp.apply)
OPS["Log"] = _unary(basic.Log.apply)
OPS["Abs"] = _unary(basic.Abs.apply)
OPS["Sqrt"] = _unary(lambda x: basic.PowScalar.apply(x, exponent=0.5))
OPS["Reciprocal"] = _unary(lambda x: basic.PowScalar.apply(x, exponent=-1.0))
OPS["Identity"] = _unary(lambda x: x)


@op("Neg")
def _neg(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Any:
    return -v[0] if _shape_only(v[0]) else basic.Neg.apply(v[0])


@op("LeakyRelu")
def _leaky(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    return act.LeakyReLU.apply(v[0], negative_slope=float(a.get("alpha", 0.01)))


@op("Softplus")
def _softplus(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    return act.Softplus.apply(v[0], beta=1.0, threshold=math.inf)


def _softmax_like(fn: Any) -> Op:
    def run(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
        x = v[0]
        default = -1 if ctx.opset >= 13 else 1
        axis = _axis(int(a.get("axis", default)), x.ndim, ctx)
        if ctx.opset < 13 and axis != x.ndim - 1:  # old opsets: softmax of the flattened tail
            flat = basic.Reshape.apply(x, shape=(math.prod(x.shape[:axis]), -1))
            return basic.Reshape.apply(fn.apply(flat, dim=1), shape=x.shape)
        return fn.apply(x, dim=axis)

    return run


OPS["Softmax"] = _softmax_like(act.Softmax)
OPS["LogSoftmax"] = _softmax_like(act.LogSoftmax)


# ------------------------------------------------------------------ arithmetic
def _binary(fn: Any, np_fn: Callable[[Any, Any], Any]) -> Op:
    def run(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Any:
        x, y = v
        if _shape_only(x) and _shape_only(y):
            return np_fn(_host(x), _host(y))
        try:
            numpy.broadcast_shapes(tuple(x.shape), tuple(y.shape))
        except ValueError:
            raise ctx.error(
                f"shapes {tuple(x.shape)} and {tuple(y.shape)} do not broadcast"
            ) from None
        return fn.apply(_tensor(x, y), _tensor(y, x))

    return run


OPS["Add"] = _binary(basic.Add, numpy.add)
OPS["Sub"] = _binary(basic.Sub, numpy.subtract)
OPS["Mul"] = _binary(basic.Mul, numpy.multiply)


def _np_div(p: numpy.ndarray, q: numpy.ndarray) -> numpy.ndarray:
    if p.dtype.kind in "iu" and q.dtype.kind in "iu":  # ONNX integer division truncates
        return (numpy.sign(p) * numpy.sign(q) * (numpy.abs(p) // numpy.abs(q))).astype(p.dtype)
    return p / q


OPS["Div"] = _binary(basic.Div, _np_div)


@op("Pow")
def _pow(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    x, e = v
    if _shape_only(x):  # an integer base: NumPy, in the base's type
        return numpy.power(_host(x).astype(numpy.float64), _host(e)).astype(_host(x).dtype)
    if not isinstance(e, Tensor) or not e.requires_grad:
        ev = _host(e)
        if ev.size == 1:
            return basic.PowScalar.apply(x, exponent=float(ev.reshape(-1)[0]))
    return basic.Pow.apply(x, _tensor(e, x))


def _reduce(kind: str) -> Op:
    def run(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
        x = v[0]
        if len(v) > 1 and v[1] is not None:
            axes = _ints(v[1])
        else:
            axes = list(a.get("axes", []))
        keep = bool(int(a.get("keepdims", 1)))
        if not axes:
            if int(a.get("noop_with_empty_axes", 0)):
                return x
            axes = list(range(x.ndim))
        dims = tuple(sorted(_axis(i, x.ndim, ctx) for i in axes))
        if _shape_only(x) or any(x.shape[d] == 0 for d in dims):  # NumPy; empty sets
            arr = _host(x)
            shape = tuple(1 if i in dims else n for i, n in enumerate(arr.shape))
            if not keep:
                shape = tuple(n for i, n in enumerate(arr.shape) if i not in dims)
            if arr.size == 0 or any(arr.shape[d] == 0 for d in dims):
                empty = {"sum": 0, "mean": math.nan, "max": -math.inf, "min": math.inf}[kind]
                if arr.dtype == bool and kind in ("max", "min"):
                    empty = kind == "min"
                elif arr.dtype.kind in "iu" and kind in ("max", "min"):
                    info = numpy.iinfo(arr.dtype)
                    empty = info.min if kind == "max" else info.max
                out = numpy.full(shape, empty, dtype=arr.dtype)
            else:
                fn = {"sum": numpy.sum, "mean": numpy.mean, "max": numpy.max, "min": numpy.min}[
                    kind
                ]
                out = fn(arr, axis=dims, keepdims=keep).astype(arr.dtype)
            return out if _shape_only(x) else _tensor(out, x)
        if kind == "sum":
            return basic.Sum.apply(x, dim=dims, keepdim=keep)
        if kind == "mean":
            return basic.Mean.apply(x, dim=dims, keepdim=keep)
        return basic.Max.apply(x, dim=dims, keepdim=keep, mode=kind)

    return run


OPS["ReduceSum"] = _reduce("sum")
OPS["ReduceMean"] = _reduce("mean")
OPS["ReduceMax"] = _reduce("max")
OPS["ReduceMin"] = _reduce("min")


# ------------------------------------------------------------------ shapes
@op("Constant")
def _constant(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Any:
    if "value" in a:
        val = a["value"]
        arr = numpy.asarray(val["__array__"], dtype=val["dtype"]).reshape(val["shape"])
    elif "value_float" in a:
        arr = numpy.asarray(a["value_float"], dtype=numpy.float32)
    elif "value_floats" in a:
        arr = numpy.asarray(a["value_floats"], dtype=numpy.float32)
    elif "value_int" in a:
        arr = numpy.asarray(a["value_int"], dtype=numpy.int64)
    elif "value_ints" in a:
        arr = numpy.asarray(a["value_ints"], dtype=numpy.int64)
    else:
        raise ctx.error(f"Constant without a value attribute I read (has {sorted(a)})")
    return Tensor(arr) if arr.dtype.kind == "f" else arr


@op("Shape")
def _shape(v: list[Any], a: dict[str, Any], ctx: Ctx) -> numpy.ndarray:
    shape = numpy.asarray(v[0].shape, dtype=numpy.int64)
    start, end = int(a.get("start", 0)), a.get("end")
    return shape[start : None if end is None else int(end)]


@op("Flatten")
def _flatten(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    x = v[0]
    axis = int(a.get("axis", 1))
    axis = axis + x.ndim if axis < 0 else axis
    if not 0 <= axis <= x.ndim:
        raise ctx.error(f"axis {axis} out of range for rank {x.ndim}")
    return basic.Reshape.apply(x, shape=(math.prod(x.shape[:axis]), math.prod(x.shape[axis:])))


@op("Reshape")
def _reshape(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Any:
    x, shape = v[0], _ints(v[1])
    allowzero = int(a.get("allowzero", 0))
    target = [x.shape[i] if (s == 0 and not allowzero) else s for i, s in enumerate(shape)]
    if target.count(-1) > 1:
        raise ctx.error(f"shape {shape} has more than one -1")
    known = math.prod(s for s in target if s != -1)
    if -1 in target:
        if known == 0 or math.prod(x.shape) % known:
            raise ctx.error(f"cannot reshape {tuple(x.shape)} to {shape}")
        target[target.index(-1)] = math.prod(x.shape) // known
    if math.prod(target) != math.prod(x.shape):
        raise ctx.error(f"cannot reshape {tuple(x.shape)} ({math.prod(x.shape)} values) to {shape}")
    if _shape_only(x):
        return _host(x).reshape(target)
    return basic.Reshape.apply(x, shape=tuple(target))


@op("Transpose")
def _transpose(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Any:
    x = v[0]
    perm = list(a.get("perm", reversed(range(x.ndim))))
    if sorted(perm) != list(range(x.ndim)):
        raise ctx.error(f"perm {perm} is not a permutation of rank {x.ndim}")
    if _shape_only(x):
        return _host(x).transpose(perm)
    return basic.Permute.apply(x, dims=tuple(perm))


@op("Concat")
def _concat(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Any:
    xs = [x for x in v if x is not None and not (x.ndim == 1 and x.shape[0] == 0)]
    axis = _axis(int(a["axis"]), xs[0].ndim, ctx)
    if all(_shape_only(x) for x in xs):
        return numpy.concatenate([_host(x) for x in xs], axis=axis)
    for x in xs[1:]:
        if x.ndim != xs[0].ndim or any(
            p != q for i, (p, q) in enumerate(zip(x.shape, xs[0].shape, strict=True)) if i != axis
        ):
            raise ctx.error(f"shapes {[tuple(t.shape) for t in xs]} differ outside axis {axis}")
    return basic.Cat.apply(*[_tensor(x, xs[0]) for x in xs], dim=axis)


@op("Unsqueeze")
def _unsqueeze(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Any:
    x = v[0]
    axes = _ints(v[1]) if len(v) > 1 else list(a["axes"])
    rank = x.ndim + len(axes)
    axes = sorted(_axis(i, rank, ctx) for i in axes)
    shape = list(x.shape)
    for i in axes:
        shape.insert(i, 1)
    if _shape_only(x):
        return _host(x).reshape(shape)
    return basic.Reshape.apply(x, shape=tuple(shape))


@op("Squeeze")
def _squeeze(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Any:
    x = v[0]
    axes = _ints(v[1]) if len(v) > 1 and v[1] is not None else list(a.get("axes", []))
    axes = [_axis(i, x.ndim, ctx) for i in axes] or [i for i, s in enumerate(x.shape) if s == 1]
    if any(x.shape[i] != 1 for i in axes):
        raise ctx.error(f"cannot squeeze axes {axes} of {tuple(x.shape)}")
    shape = [s for i, s in enumerate(x.shape) if i not in axes]
    if _shape_only(x):
        return _host(x).reshape(shape)
    return basic.Reshape.apply(x, shape=tuple(shape))


@op("Gather")
def _gather(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Any:
    x, idx = v[0], _host(v[1]).astype(numpy.int64)
    axis = _axis(int(a.get("axis", 0)), x.ndim, ctx)
    n = x.shape[axis]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise ctx.error(f"indices {idx.tolist()} out of range for axis {axis} of size {n}")
    idx = numpy.where(idx < 0, idx + n, idx)
    if _shape_only(x):
        return numpy.take(_host(x), idx, axis=axis)
    index = (slice(None),) * axis + ((int(idx),) if idx.ndim == 0 else (idx,))
    return basic.GetItem.apply(x, index=index)


@op("Slice")
def _slice(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Any:
    x = v[0]
    if len(v) > 1:
        starts, ends = _ints(v[1]), _ints(v[2])
        axes = _ints(v[3]) if len(v) > 3 and v[3] is not None else list(range(len(starts)))
        steps = _ints(v[4]) if len(v) > 4 and v[4] is not None else [1] * len(starts)
    else:  # opset < 10: attributes
        starts, ends = list(a["starts"]), list(a["ends"])
        axes = list(a.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    index = [slice(None)] * x.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps, strict=True):
        if st == 0:
            raise ctx.error("slice step 0")
        ax = _axis(ax, x.ndim, ctx)
        n = x.shape[ax]
        if st < 0 and e < -n:
            e = None
        index[ax] = slice(max(min(s, n), -n - 1), e if e is None else max(min(e, n), -n - 1), st)
    if _shape_only(x):
        return _host(x)[tuple(index)]
    return basic.GetItem.apply(x, index=tuple(index))


def _no_pad_modes(x: Any, pads: list[int], axes: list[int], mode: str, ctx: Ctx) -> Tensor:
    raise ctx.error(f"Pad mode {mode!r} is not supported (constant only)")


PAD_MODES: Callable[..., Tensor] = _no_pad_modes  # run_ops_modern sets the reflect/edge/wrap pad


@op("Pad")
def _pad(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    x = v[0]
    mode = a.get("mode", "constant")
    if mode not in ("constant", "reflect", "edge", "wrap"):
        raise ctx.error(f"Pad mode {mode!r} is not supported (constant, reflect, edge, wrap)")
    pads = _ints(v[1]) if len(v) > 1 and v[1] is not None else list(a["pads"])
    value = 0.0
    if len(v) > 2 and v[2] is not None:
        value = _floats(v[2])[0]
    elif "value" in a:
        value = float(a["value"])
    axes = _ints(v[3]) if len(v) > 3 and v[3] is not None else list(range(x.ndim))
    axes = [_axis(i, x.ndim, ctx) for i in axes]
    k = len(axes)
    if len(pads) != 2 * k:
        raise ctx.error(f"pads {pads} do not fit {k} axes")
    if mode != "constant":
        return PAD_MODES(x, pads, axes, mode, ctx)
    per = [(0, 0)] * x.ndim
    for j, ax in enumerate(axes):
        per[ax] = (pads[j], pads[j + k])
    crop = [slice(max(-b, 0), x.shape[i] - max(-e, 0)) for i, (b, e) in enumerate(per)]
    if any(b < 0 or e < 0 for b, e in per):
        x = basic.GetItem.apply(x, index=tuple(crop))
    per = tuple((max(b, 0), max(e, 0)) for b, e in per)
    return Pad.apply(x, pads=per, value=value)


_CAST_TYPES = {1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 16}  # float .. uint64, bool, f16, bf16


@op("Cast")
def _cast(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Any:
    from onnx import TensorProto, helper  # noqa: PLC0415

    to = int(a["to"])
    if to not in _CAST_TYPES:
        name = TensorProto.DataType.Name(to) if to in TensorProto.DataType.values() else str(to)
        raise ctx.error(f"Cast to {name} is not supported (float, integer and bool types are)")
    dtype = numpy.dtype(helper.tensor_dtype_to_np_dtype(to))
    x = v[0]
    if _shape_only(x) or dtype.kind not in "f":
        return _host(x).astype(dtype)
    return Cast.apply(x, dtype=dtype) if x.dtype != dtype else x


@op("Dropout")
def _dropout(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Any:
    x = v[0]
    ratio = _floats(v[1])[0] if len(v) > 1 and v[1] is not None else float(a.get("ratio", 0.5))
    train = len(v) > 2 and v[2] is not None and bool(_host(v[2]).reshape(-1)[0])
    if not (ctx.training or train) or ratio == 0:
        return x, numpy.ones(x.shape, dtype=bool)
    if "seed" in a:  # a seeded node draws its mask from that seed: keep u >= ratio
        keep = numpy.random.RandomState(int(a["seed"])).uniform(0.0, 1.0, x.shape) >= ratio
        scale = keep.astype(x.dtype) / x.dtype.type(1 - ratio)
        return basic.Mul.apply(x, _tensor(scale, x)), keep
    keep_t = dropout(Tensor(numpy.ones(x.shape, x.dtype)), ratio, training=True)
    return basic.Mul.apply(x, keep_t), _host(keep_t) != 0
