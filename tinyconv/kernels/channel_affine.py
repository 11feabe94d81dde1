"""A per-channel scale and shift, a residual add and a ReLU in one pass, in place (compiled).

An evaluation-mode batch norm after a convolution is a per-channel affine map of the
convolution's output, ``y = y_conv * a[c] + b[c]`` with ``a = weight / sqrt(var + eps)`` and
``b = bias - mean * a``. A ResNet block then adds its shortcut and applies ReLU. Run as
layers, that is three passes over memory, each allocating its result::

    y[n, c, h, w] = max(y_conv[n, c, h, w] * a[c] + b[c] + r[n, c, h, w], 0)

Here the convolution's fresh output is overwritten with that value in one pass. The
operations are the layers' own, in their order (multiply, add b, add r, then the max), and
``fastmath`` stays off (no fused multiply-add), so the result equals the layers' bit for
bit. ReLU keeps a NaN (``max(NaN, 0)`` is NaN in NumPy too).

Threads: the (image, channel) planes are split over Numba's threads; every value is
computed on its own, so the result does not depend on the thread count.

Arrays: y (and the residual r) must hold each (H, W) plane contiguously, with the planes in
any order of N and C (NCHW, or the channel-major (C, N, H, W) memory of a convolution's
output): ``planes`` gives the flat view and the plane strides, or None.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._jit import njit, prange


@njit(parallel=True, fastmath=False)
def _affine(
    yf: Any, yn: int, yc: int, rf: Any, rn: int, rc: int, a: Any, b: Any,
    N: int, C: int, HW: int, residual: bool, relu: bool,
) -> None:  # fmt: skip
    zero = yf.dtype.type(0)
    for task in prange(N * C):
        n, c = task // C, task % C
        y0, r0 = n * yn + c * yc, n * rn + c * rc
        av, bv = a[c], b[c]
        if residual and relu:
            for k in range(HW):
                v = yf[y0 + k] * av + bv + rf[r0 + k]
                yf[y0 + k] = zero if v < zero else v
        elif residual:
            for k in range(HW):
                yf[y0 + k] = yf[y0 + k] * av + bv + rf[r0 + k]
        elif relu:
            for k in range(HW):
                v = yf[y0 + k] * av + bv
                yf[y0 + k] = zero if v < zero else v
        else:
            for k in range(HW):
                yf[y0 + k] = yf[y0 + k] * av + bv


def planes(x: Any) -> tuple[Any, int, int] | None:
    """(flat view of x's memory, element stride of N, of C) when x (N, C, H, W) stores each
    (H, W) plane contiguously and its planes as one contiguous block (in N-C or C-N order);
    None otherwise (then ``supported`` is False)."""
    if not isinstance(x, np.ndarray) or x.ndim != 4:
        return None
    N, C, H, W = x.shape
    s = [v // x.itemsize for v in x.strides]
    if any(v * x.itemsize != t for v, t in zip(s, x.strides, strict=True)):
        return None
    if (W > 1 and s[3] != 1) or (H > 1 and s[2] != W):
        return None
    HW = H * W
    for order in ((0, 1, 2, 3), (1, 0, 2, 3)):  # N-C or C-N
        m = x.transpose(order)
        if m.flags.c_contiguous:
            return m.reshape(-1), (s[0] if N > 1 else HW), (s[1] if C > 1 else HW)
    return None


def supported(y: Any, residual: Any = None) -> bool:
    """True when ``affine_add_relu`` takes these arrays (NumPy float32/float64, plane layout)."""
    if not isinstance(y, np.ndarray) or y.dtype not in (np.float32, np.float64) or y.size == 0:
        return False
    if planes(y) is None:
        return False
    if residual is None:
        return True
    return (
        isinstance(residual, np.ndarray)
        and residual.dtype == y.dtype
        and residual.shape == y.shape
        and planes(residual) is not None
        and not np.shares_memory(residual, y)
    )


def affine_add_relu(y: Any, a: Any, b: Any, residual: Any = None, relu: bool = False) -> Any:
    """y = max(y * a[c] + b[c] (+ residual), 0 if relu) in place; returns y.

    y (N, C, H, W) and residual (the same shape) as ``supported`` accepts; a, b (C,) in y's
    dtype.
    """
    N, C, H, W = y.shape
    yf, yn, yc = planes(y)  # type: ignore[misc]
    if residual is None:
        rf, rn, rc = yf[:1], 0, 0
    else:
        rf, rn, rc = planes(residual)  # type: ignore[misc]
    a = np.ascontiguousarray(a, dtype=y.dtype)
    b = np.ascontiguousarray(b, dtype=y.dtype)
    _affine(yf, yn, yc, rf, rn, rc, a, b, N, C, H * W, residual is not None, bool(relu))
    return y
