"""Resizing: ``interpolate`` (nearest, nearest-exact, linear/bilinear/trilinear, bicubic, area).

Every mode is separable: each spatial axis is resized on its own, the last axis first (the
order of PyTorch's kernels, so the float32 roundings agree), as y[d] = sum_t w[d, t]
x[idx[d, t]]. For an output position d of an axis of input length n and output length m,
with s the scale (1 / scale_factor when one is given and not recomputed, else n / m),
PyTorch's source positions:

    nearest:        src = min(floor(d s), n - 1)
    nearest-exact:  src = min(floor((d + 1/2) s), n - 1)
    linear, align_corners=True:  r = d (n - 1) / (m - 1)   (0 when m = 1)
    linear, align_corners=False: r = max((d + 1/2) s - 1/2, 0)
    then i0 = floor(r), i1 = min(i0 + 1, n - 1), l = r - i0: y = (1 - l) x[i0] + l x[i1]
    bicubic: r as linear but not clipped at 0; taps i0 - 1 .. i0 + 2 (clamped to the
             axis) weighted by Keys' cubic kernel (A = -0.75) at t + 1, t, 1 - t, 2 - t
    area:    the mean of x[floor(d n / m) : ceil((d + 1) n / m)] (adaptive average pooling)

computed in float32 for float32 inputs (float64 for float64). Nearest is a gather, the
others a few gathers and a weighted sum. The backward is the transposed resampling matrix
A (m, n) = sum_t w[:, t] onehot(idx[:, t]) applied to dout, summing each output's gradient
onto the inputs it read. 1-D and 2-D "area" runs ``adaptive_avg_pool2d``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from ..backend import get_array_module
from ..tensor import Function, Tensor
from .adaptive_pool import adaptive_avg_pool2d

MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")
LINEAR_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


def _opmath(xp: Any, dtype: Any) -> Any:
    """The type PyTorch computes coordinates in: float64 for float64 inputs, else float32."""
    return xp.float64 if dtype.itemsize >= 8 else xp.float32


def source_weights(
    xp: Any, n: int, m: int, scale: float | None, mode: str, align_corners: bool, dtype: Any
) -> tuple[Any, Any]:
    """(idx, w), both (m, k): output d of the axis is sum_t w[d, t] x[idx[d, t]].

    k is 1 for the nearest modes (w None: a plain gather), 2 for linear, 4 for cubic and
    the longest window for area.
    """
    f = _opmath(xp, dtype)
    d = xp.arange(m).astype(f)
    if mode in ("nearest", "nearest-exact"):
        if mode == "nearest" and m == n:
            i0 = xp.arange(m)
        elif mode == "nearest" and m == 2 * n:
            i0 = xp.arange(m) // 2
        else:
            s = f(1.0 / scale) if scale else f(n) / f(m)
            pos = d * s if mode == "nearest" else (d + f(0.5)) * s
            i0 = xp.minimum(xp.floor(pos).astype(int), n - 1)
        return i0[:, None], None
    if mode == "area":  # adaptive average pooling: [floor(d n / m), ceil((d + 1) n / m))
        start = (xp.arange(m) * n) // m
        end = -((-(xp.arange(m) + 1) * n) // m)
        taps = xp.arange(int((end - start).max()))[None, :]
        inside = taps < (end - start)[:, None]
        idx = xp.minimum(start[:, None] + taps, n - 1)
        return idx, (inside / (end - start)[:, None]).astype(dtype)
    if align_corners:
        s = f(n - 1) / f(m - 1) if m > 1 else f(0)
        r = d * s
    else:
        s = f(1.0 / scale) if scale else f(n) / f(m)
        r = s * (d + f(0.5)) - f(0.5)
        if mode != "bicubic":
            r = xp.maximum(r, f(0))
    i0 = xp.floor(r).astype(int)
    t = r - i0.astype(f)
    if mode == "bicubic":  # Keys' cubic convolution with A = -0.75, taps i0-1 .. i0+2
        w = xp.stack([_cubic_far(t + 1), _cubic_near(t), _cubic_near(1 - t), _cubic_far(2 - t)], 1)
        idx = xp.clip(i0[:, None] + xp.arange(-1, 3)[None, :], 0, n - 1)
        return idx, w.astype(dtype)
    lam = xp.clip(t, f(0), f(1))
    idx = xp.stack([i0, xp.minimum(i0 + 1, n - 1)], 1)
    return idx, xp.stack([1 - lam, lam], 1).astype(dtype)


CUBIC_A = -0.75


def _cubic_near(x: Any) -> Any:
    """The cubic kernel for |x| <= 1: ((A + 2) x - (A + 3)) x^2 + 1."""
    a = x.dtype.type(CUBIC_A)
    return ((a + 2) * x - (a + 3)) * x * x + 1


def _cubic_far(x: Any) -> Any:
    """The cubic kernel for 1 < |x| < 2: ((A x - 5A) x + 8A) x - 4A."""
    a = x.dtype.type(CUBIC_A)
    return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a


class Resample(Function):
    """y = x resampled along each axis a (last first): y[d] = sum_t w[d, t] x[idx[d, t]].

    ``plan`` holds (axis, idx, w) per resized axis (w None for a plain gather). Backward,
    axes in reverse: dx = A^T dout with A (m, n) = sum_t w[:, t] onehot(idx[:, t]).
    """

    def forward(self, x: Any, plan: tuple[tuple[int, Any, Any], ...]) -> Any:
        xp = get_array_module(x)
        sizes = []
        y = x
        for axis, idx, w in plan:
            sizes.append(y.shape[axis])
            if w is None:
                y = xp.take(y, idx[:, 0], axis=axis)
                continue
            shape = [1] * y.ndim
            shape[axis] = -1
            out = None
            for t in range(idx.shape[1]):  # in order: x0 w0 + x1 w1 + ..., as PyTorch
                term = xp.take(y, idx[:, t], axis=axis) * w[:, t].reshape(shape)
                out = term if out is None else out + term
            y = out
        self.save_for_backward(plan, sizes)
        return y

    def backward(self, dout: Any) -> Any:
        plan, sizes = self.saved
        xp = get_array_module(dout)
        dx = dout
        for (axis, idx, w), n in zip(reversed(plan), reversed(sizes), strict=True):
            cols = xp.arange(n)[None, :]
            matrix = xp.zeros((idx.shape[0], n), dtype=dout.dtype)  # (m, n)
            for t in range(idx.shape[1]):
                wt = 1 if w is None else w[:, t : t + 1].astype(dout.dtype)
                matrix += (idx[:, t : t + 1] == cols) * wt
            dx = xp.moveaxis(xp.tensordot(dx, matrix, axes=([axis], [0])), -1, axis)
        return xp.ascontiguousarray(dx)


# ------------------------------------------------------------------ functional
def _per_dim(value: Any, dims: int, name: str, kind: type) -> tuple[Any, ...]:
    values = tuple(value) if isinstance(value, (list, tuple)) else (value,) * dims
    if len(values) != dims:
        raise ValueError(
            f"interpolate: {name} must have {dims} values (one per spatial dimension) for a "
            f"{dims + 2}-D input, got {name}={value!r}"
        )
    for v in values:
        if isinstance(v, bool) or not isinstance(v, kind):
            raise TypeError(f"interpolate: {name} must hold numbers, got {name}={value!r}")
    return values


def interpolate(
    x: Tensor,
    size: int | Sequence[int] | None = None,
    scale_factor: float | Sequence[float] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resize the spatial dimensions of (N, C, L), (N, C, H, W) or (N, C, D, H, W).

    Args:
        x (Tensor): floating point, 3-D to 5-D (batch and channels first).
        size (int or tuple): the output's spatial size.
        scale_factor (float or tuple): multiplier of each spatial size; the output size is
            floor(size * scale_factor). Give exactly one of size and scale_factor.
        mode (str): "nearest" (default), "nearest-exact", "linear" (3-D), "bilinear" or
            "bicubic" (4-D), "trilinear" (5-D) or "area" (adaptive average pooling).
        align_corners (bool): linear and cubic modes only: True maps the corner pixels' centres onto
            each other, False (default) the corners of the pixels (see the module doc).
        recompute_scale_factor (bool): with scale_factor, compute the coordinates from the
            output size (n / m) instead of 1 / scale_factor. Default: None (False).
        antialias (bool): not supported; must be False.

    Shape:
        (N, C, *in) -> (N, C, *out), out = size or floor(in * scale_factor).

    Raises:
        TypeError: a non-float input, non-number sizes.
        ValueError: neither or both of size and scale_factor, an unknown mode, a mode for
            another rank, align_corners with a non-linear mode, antialias, or an output size
            below 1.

    Example:
        >>> import numpy, tinyconv
        >>> x = tinyconv.tensor(numpy.array([[[0.0, 1.0]]]))
        >>> interpolate(x, scale_factor=2).tolist()
        [[[0.0, 0.0, 1.0, 1.0]]]
        >>> interpolate(x, size=3, mode="linear", align_corners=True).tolist()
        [[[0.0, 0.5, 1.0]]]
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"interpolate: expected a tinyconv Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"interpolate: expected a floating-point input, got dtype {x.dtype}")
    if mode not in MODES:
        raise ValueError(f"interpolate: mode must be one of {', '.join(MODES)}, got {mode!r}")
    if x.ndim not in (3, 4, 5):
        raise ValueError(
            f"interpolate: expected a 3-D, 4-D or 5-D input (N, C, *spatial), got {x.ndim}-D "
            f"of shape {x.shape}"
        )
    dims = x.ndim - 2
    if mode in LINEAR_DIMS and LINEAR_DIMS[mode] != dims:
        raise ValueError(
            f"interpolate: mode={mode!r} needs a {LINEAR_DIMS[mode] + 2}-D input, got a "
            f"{x.ndim}-D input of shape {x.shape}"
        )
    if align_corners is not None and mode not in LINEAR_DIMS:
        raise ValueError(
            "interpolate: align_corners can only be set with the interpolating modes (linear, "
            f"bilinear, bicubic, trilinear), got mode={mode!r}"
        )
    if antialias:
        raise ValueError("interpolate: antialias=True is not supported")
    if (size is None) == (scale_factor is None):
        raise ValueError(
            "interpolate: give exactly one of size and scale_factor, got "
            f"size={size!r}, scale_factor={scale_factor!r}"
        )
    in_sizes = x.shape[2:]
    scales: tuple[float | None, ...] = (None,) * dims
    if size is not None:
        out = tuple(int(s) for s in _per_dim(size, dims, "size", numbers.Integral))
    else:
        factors = _per_dim(scale_factor, dims, "scale_factor", numbers.Real)
        out = tuple(math.floor(float(n) * float(f)) for n, f in zip(in_sizes, factors, strict=True))
        if not recompute_scale_factor:
            scales = tuple(float(f) for f in factors)
    if min(out) < 1:
        raise ValueError(
            f"interpolate: the output size {out} of input {x.shape} must be at least 1 in every "
            "spatial dimension"
        )
    if mode == "area" and dims <= 2:
        if dims == 1:
            return adaptive_avg_pool2d(x.unsqueeze(2), (1, out[0])).squeeze(2)
        return adaptive_avg_pool2d(x, out)
    xp = get_array_module(x.data)
    plan = []
    for k in reversed(range(dims)):  # the last axis first, as PyTorch
        idx, w = source_weights(
            xp, in_sizes[k], out[k], scales[k], mode, bool(align_corners), x.dtype
        )
        plan.append((k + 2, idx, w))
    return Resample.apply(x, plan=tuple(plan))
