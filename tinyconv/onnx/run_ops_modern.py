"""The newer ONNX ops an ``OnnxModel`` runs: clipping and hard activations, ELU/SELU, PRelu,
Erf and Gelu, Mish, the norms (Instance, Layer, Group), DepthToSpace/SpaceToDepth, and Pad's
reflect/edge/wrap modes. They join ``run_ops.OPS`` when imported (``runner.py`` does).

``Erf`` is a Function here: y = erf(x) = 1 - erfc(x) (``erfc`` of tinyconv's GELU, fractional
error below 1.2e-7), dy/dx = 2/sqrt(pi) exp(-x^2).
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from ..backend import get_array_module
from ..ops import basic
from ..ops.hard_activations import Hardswish, Hardtanh
from ..ops.layer_norm import Standardize
from ..ops.pad import pad as pad_modes
from ..ops.pixel_shuffle import PixelShuffle
from ..ops.prelu import PReLU
from ..ops.smooth_activations import ELU, GELU, Mish, erfc
from ..tensor import Function, Tensor
from . import run_ops
from .run_ops import Ctx, _axis, _floats, _host, _shape_only, _tensor, op


class Erf(Function):
    """y = erf(x); dx = dout * 2/sqrt(pi) * exp(-x^2)."""

    def forward(self, x: Any) -> Any:
        self.save_for_backward(x)
        return (1.0 - erfc(x.astype("float64"))).astype(x.dtype)

    def backward(self, dout: Any) -> Any:
        (x,) = self.saved
        xp = get_array_module(x)
        return dout * (x.dtype.type(2 / math.sqrt(math.pi)) * xp.exp(-x * x))


@op("Erf")
def _erf(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    return Erf.apply(v[0])


@op("Gelu")  # opset 20
def _gelu(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    return GELU.apply(v[0], approximate=a.get("approximate", "none"))


@op("Clip")
def _clip(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    x = v[0]
    if _shape_only(x):  # integers: NumPy, the type's own limits by default
        arr = _host(x)
        info = numpy.iinfo(arr.dtype)
        lo = _host(v[1]).item() if len(v) > 1 and v[1] is not None else info.min
        hi = _host(v[2]).item() if len(v) > 2 and v[2] is not None else info.max
        return numpy.minimum(numpy.maximum(arr, lo), hi).astype(arr.dtype)
    lo = _floats(v[1])[0] if len(v) > 1 and v[1] is not None else a.get("min", -math.inf)
    hi = _floats(v[2])[0] if len(v) > 2 and v[2] is not None else a.get("max", math.inf)
    if lo > hi:  # ONNX: every value becomes max
        return basic.Add.apply(basic.Mul.apply(x, _tensor(0.0, x)), _tensor(hi, x))
    return Hardtanh.apply(x, min_val=float(lo), max_val=float(hi))


@op("HardSigmoid")
def _hard_sigmoid(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    x = v[0]
    alpha, beta = float(a.get("alpha", 0.2)), float(a.get("beta", 0.5))
    y = basic.Add.apply(basic.Mul.apply(x, _tensor(alpha, x)), _tensor(beta, x))
    return Hardtanh.apply(y, min_val=0.0, max_val=1.0)


@op("HardSwish")
def _hard_swish(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    return Hardswish.apply(v[0])


@op("Elu")
def _elu(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    return ELU.apply(v[0], alpha=float(a.get("alpha", 1.0)), scale=1.0)


@op("Selu")
def _selu(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    alpha = float(a.get("alpha", 1.67326319217681884765625))
    gamma = float(a.get("gamma", 1.05070102214813232421875))
    return ELU.apply(v[0], alpha=alpha, scale=gamma)


@op("Mish")  # opset 18
def _mish(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    return Mish.apply(v[0])


@op("PRelu")
def _prelu(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    x, slope = v[0], _tensor(v[1], v[0])
    if slope.size == 1 or (x.ndim > 1 and slope.size == x.shape[1]):
        if (
            slope.size == 1
            or tuple(slope.shape) == (x.shape[1], *[1] * (x.ndim - 2))
            or (slope.ndim == 1 and x.ndim == 2)
        ):
            return PReLU.apply(x, basic.Reshape.apply(slope, shape=(slope.size,)))
    # any other broadcastable slope: max(x, 0) + slope * min(x, 0)
    pos = Hardtanh.apply(x, min_val=0.0, max_val=math.inf)
    neg = Hardtanh.apply(x, min_val=-math.inf, max_val=0.0)
    return basic.Add.apply(pos, basic.Mul.apply(neg, slope))


def _affine(y: Tensor, scale: Any, bias: Any, shape: tuple[int, ...]) -> Tensor:
    if scale is not None:
        y = basic.Mul.apply(y, basic.Reshape.apply(_tensor(scale, y), shape=shape))
    if bias is not None:
        y = basic.Add.apply(y, basic.Reshape.apply(_tensor(bias, y), shape=shape))
    return y


@op("InstanceNormalization")
def _instance_norm(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    x, scale, bias = v[0], v[1], v[2]
    if x.ndim < 3:
        raise ctx.error(f"expected (N, C, ...) input, got {x.shape}")
    y = Standardize.apply(x, axes=tuple(range(2, x.ndim)), eps=float(a.get("epsilon", 1e-5)))
    return _affine(y, scale, bias, (x.shape[1], *[1] * (x.ndim - 2)))


@op("LayerNormalization")
def _layer_norm(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    x = v[0]
    scale = v[1]
    bias = v[2] if len(v) > 2 else None
    axis = _axis(int(a.get("axis", -1)), x.ndim, ctx)
    axes = tuple(range(axis, x.ndim))
    eps = float(a.get("epsilon", 1e-5))
    y = Standardize.apply(x, axes=axes, eps=eps)
    lead = (1,) * axis
    y = basic.Mul.apply(y, basic.Reshape.apply(_tensor(scale, y), shape=lead + x.shape[axis:]))
    if bias is not None:
        y = basic.Add.apply(y, basic.Reshape.apply(_tensor(bias, y), shape=lead + x.shape[axis:]))
    if not ctx.want_indices:
        return y
    xs = _host(x).astype(numpy.float32)  # Mean and InvStdDev outputs (stash_type float32)
    mean = xs.mean(axis=axes, keepdims=True)
    inv_std = 1 / numpy.sqrt(((xs - mean) ** 2).mean(axis=axes, keepdims=True) + eps)
    return y, Tensor(mean), Tensor(inv_std.astype(numpy.float32))


@op("GroupNormalization")  # opset 18 (scale, bias per group) and 21 (per channel)
def _group_norm(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    x, scale, bias = v[0], v[1], v[2]
    G = int(a["num_groups"])
    N, C = x.shape[:2]
    if C % G:
        raise ctx.error(f"{C} channels do not split into {G} groups")
    grouped = basic.Reshape.apply(x, shape=(N, G, -1))
    y = Standardize.apply(grouped, axes=(2,), eps=float(a.get("epsilon", 1e-5)))
    y = basic.Reshape.apply(y, shape=tuple(x.shape))
    per = scale.shape[0] if hasattr(scale, "shape") else C
    if per == G and G != C:  # opset 18: one scale per group -> repeat over its channels
        index = numpy.repeat(numpy.arange(G), C // G)
        scale = basic.GetItem.apply(_tensor(scale, x), index=(index,))
        bias = basic.GetItem.apply(_tensor(bias, x), index=(index,))
    return _affine(y, scale, bias, (C, *[1] * (x.ndim - 2)))


@op("DepthToSpace")
def _depth_to_space(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    x = v[0]
    r = int(a["blocksize"])
    N, C, H, W = x.shape
    if C % (r * r):
        raise ctx.error(f"{C} channels are not a multiple of blocksize^2 = {r * r}")
    if a.get("mode", "DCR") == "CRD":
        return PixelShuffle.apply(x, r=r)
    y = basic.Reshape.apply(x, shape=(N, r, r, C // (r * r), H, W))
    y = basic.Permute.apply(y, dims=(0, 3, 4, 1, 5, 2))
    return basic.Reshape.apply(y, shape=(N, C // (r * r), H * r, W * r))


@op("SpaceToDepth")
def _space_to_depth(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    x = v[0]
    r = int(a["blocksize"])
    N, C, H, W = x.shape
    if H % r or W % r:
        raise ctx.error(f"{H}x{W} is not divisible by blocksize {r}")
    y = basic.Reshape.apply(x, shape=(N, C, H // r, r, W // r, r))
    crd = a.get("mode", "DCR") == "CRD"  # channels (c, i, j) in CRD, (i, j, c) in DCR
    y = basic.Permute.apply(y, dims=(0, 1, 3, 5, 2, 4) if crd else (0, 3, 5, 1, 2, 4))
    return basic.Reshape.apply(y, shape=(N, C * r * r, H // r, W // r))


def index_pad(x: Tensor, pads: list[int], axes: list[int], mode: str, ctx: Ctx) -> Tensor:
    """Pad's reflect/edge/wrap modes by tinyconv's ``pad`` (torch order: last axis first)."""
    k = len(axes)
    torch_mode = {"reflect": "reflect", "edge": "replicate", "wrap": "circular"}[mode]
    widths = [0, 0] * x.ndim
    for j, ax in enumerate(axes):
        widths[2 * (x.ndim - 1 - ax)] = pads[j]
        widths[2 * (x.ndim - 1 - ax) + 1] = pads[j + k]
    while len(widths) > 2 and widths[-2:] == [0, 0]:
        widths = widths[:-2]
    try:
        return pad_modes(x, tuple(widths), mode=torch_mode)
    except (ValueError, TypeError) as e:
        raise ctx.error(f"Pad mode {mode!r}: {e}") from None


run_ops.PAD_MODES = index_pad

__all__ = ["Erf", "index_pad"]
