"""Converters for the newer operations: norms, resizing, pad modes, pixel shuffle, activations.

They extend ``convert.CONVERTERS`` when ``convert`` is imported. Where opset 17 has the op
(Clip, HardSigmoid, HardSwish, Elu, Selu, PRelu, DepthToSpace, Erf) it is used; the rest is
written out exactly as tinyconv computes it: ``Standardize`` (layer, group, instance and
channel norms) as ReduceMean/Sub/Mul/Sqrt. Resampling (``interpolate``) and index padding
(reflect, replicate, circular) become Resize and Pad in ``convert_resize``; where those cannot
say it, they stay Gathers of the traced source indices with their weights (here), which
compute what tinyconv computed, for the traced spatial size.
"""

from __future__ import annotations

import math

import numpy

from ..ops.fused import ConvReluMaxPool
from ..ops.hard_activations import Hardsigmoid, Hardswish, Hardtanh
from ..ops.layer_norm import Standardize
from ..ops.pad import source_index
from ..ops.pixel_shuffle import PixelShuffle, PixelUnshuffle
from ..ops.prelu import PReLU
from ..ops.smooth_activations import ELU, GELU, Mish, SiLU
from .convert import CONVERTERS, Graph, _host, _like, _shape, converts
from .trace import Call


@converts(Hardtanh)
def _hardtanh(g: Graph, c: Call) -> str:
    lo, hi = _like(c, c.kwargs["min_val"]), _like(c, c.kwargs["max_val"])
    return g.node("Clip", [g.name(c.inputs[0]), g.const(lo), g.const(hi)])


@converts(Hardsigmoid)
def _hardsigmoid(g: Graph, c: Call) -> str:
    return g.node("HardSigmoid", [g.name(c.inputs[0])], alpha=1.0 / 6.0, beta=0.5)


@converts(Hardswish)
def _hardswish(g: Graph, c: Call) -> str:
    return g.node("HardSwish", [g.name(c.inputs[0])])


@converts(SiLU)
def _silu(g: Graph, c: Call) -> str:
    x = g.name(c.inputs[0])
    return g.node("Mul", [x, g.node("Sigmoid", [x])])


@converts(Mish)
def _mish(g: Graph, c: Call) -> str:
    x = g.name(c.inputs[0])
    return g.node("Mul", [x, g.node("Tanh", [g.node("Softplus", [x])])])


@converts(GELU)
def _gelu(g: Graph, c: Call) -> str:
    x = g.name(c.inputs[0])
    half, one = g.const(_like(c, 0.5)), g.const(_like(c, 1.0))
    if c.kwargs["approximate"] == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = g.node("Mul", [g.node("Mul", [x, x]), x])
        inner = g.node("Add", [x, g.node("Mul", [cube, g.const(_like(c, 0.044715))])])
        t = g.node("Tanh", [g.node("Mul", [inner, g.const(_like(c, math.sqrt(2 / math.pi)))])])
    else:  # 0.5 x (1 + erf(x / sqrt 2))
        t = g.node("Erf", [g.node("Div", [x, g.const(_like(c, math.sqrt(2.0)))])])
    return g.node("Mul", [g.node("Mul", [x, half]), g.node("Add", [t, one])])


@converts(ELU)
def _elu(g: Graph, c: Call) -> str:
    alpha, scale = float(c.kwargs["alpha"]), float(c.kwargs["scale"])
    x = g.name(c.inputs[0])
    if scale == 1.0:
        return g.node("Elu", [x], alpha=alpha)
    return g.node("Selu", [x], alpha=alpha, gamma=scale)


@converts(PReLU)
def _prelu(g: Graph, c: Call) -> str:
    x, w = c.inputs
    slope = g.name(w)
    rank = len(_shape(x))
    if rank > 2 and _shape(w)[0] > 1:  # (C,) -> (C, 1, ...): ONNX broadcasts from the right
        slope = g.node("Reshape", [slope, g.ints([_shape(w)[0]] + [1] * (rank - 2))])
    return g.node("PRelu", [g.name(x), slope])


@converts(PixelShuffle)
def _pixel_shuffle(g: Graph, c: Call) -> str:
    return g.node("DepthToSpace", [g.name(c.inputs[0])], blocksize=int(c.kwargs["r"]), mode="CRD")


@converts(PixelUnshuffle)
def _pixel_unshuffle(g: Graph, c: Call) -> str:
    (x,) = c.inputs
    r = int(c.kwargs["r"])
    _, C, H, W = _shape(x)
    y = g.node("Reshape", [g.name(x), g.ints([0, C, H // r, r, W // r, r])])
    y = g.node("Transpose", [y], perm=[0, 1, 3, 5, 2, 4])
    return g.node("Reshape", [y, g.ints([0, C * r * r, H // r, W // r])])


@converts(Standardize)
def _standardize(g: Graph, c: Call) -> str:
    (x,) = c.inputs
    axes = [int(a) for a in c.kwargs["axes"]]
    src = g.name(x)
    mean = g.node("ReduceMean", [src], axes=axes, keepdims=1)
    centred = g.node("Sub", [src, mean])
    var = g.node("ReduceMean", [g.node("Mul", [centred, centred])], axes=axes, keepdims=1)
    std = g.node("Sqrt", [g.node("Add", [var, g.const(_like(c, c.kwargs["eps"]))])])
    return g.node("Mul", [centred, g.node("Reciprocal", [std])])


def _gather_sum(g: Graph, c: Call, y: str, axis: int, idx: numpy.ndarray, w: object) -> str:
    """sum_t Gather(y, idx[:, t], axis) * w[:, t] (w None: one plain gather)."""
    rank = len(_shape(c.inputs[0]))
    if w is None:
        return g.node("Gather", [y, g.ints(idx[:, 0])], axis=axis)
    shape = [1] * rank
    shape[axis] = -1
    out = None
    for t in range(idx.shape[1]):
        wt = numpy.asarray(_host(w)[:, t], dtype=c.output.dtype).reshape(shape)
        term = g.node("Mul", [g.node("Gather", [y, g.ints(idx[:, t])], axis=axis), g.const(wt)])
        out = term if out is None else g.node("Add", [out, term])
    assert out is not None
    return out


def _resample_gathers(g: Graph, c: Call) -> str:
    """interpolate's plan as Gathers and weighted sums: exact, for the traced size only."""
    y = g.name(c.inputs[0])
    for axis, idx, w in c.kwargs["plan"]:
        y = _gather_sum(g, c, y, int(axis), _host(idx).astype(numpy.int64), w)
    return y


def _index_pad_gathers(g: Graph, c: Call) -> str:
    """Index padding as one Gather per axis: exact, for the traced size only."""
    (x,) = c.inputs
    shape = list(_shape(x))
    y = g.name(x)
    for axis, before, after in c.kwargs["pads"]:
        src = _host(source_index(numpy, shape[axis], before, after, c.kwargs["mode"]))
        y = g.node("Gather", [y, g.ints(src.astype(numpy.int64))], axis=int(axis))
        shape[axis] = len(src)
    return y


__all__ = ["CONVERTERS"]


@converts(ConvReluMaxPool)
def _conv_relu_max_pool(g: Graph, c: Call) -> str:
    """Sequential's fused Conv -> ReLU -> MaxPool(K) (compiled kernels on): three nodes again."""
    x, W, b = c.inputs
    ph, pw = c.kwargs["padding"]
    k = int(c.kwargs["pool"])
    ins = [g.name(x), g.name(W)] + ([g.name(b)] if b is not None else [])
    y = g.node("Conv", ins, kernel_shape=list(_shape(W)[2:]), pads=[ph, pw, ph, pw])
    return g.node("MaxPool", [g.node("Relu", [y])], kernel_shape=[k, k], strides=[k, k])
