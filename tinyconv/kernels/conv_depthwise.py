"""Depthwise convolution (groups = C), compiled: forward, dx and dW as direct loops.

With groups equal to the input channels, each filter f reads one channel, c = f // m
(m = FN / C filters per channel, the "channel multiplier"). The reference path in
``ops/conv.py`` runs that as C batched products of one row each, (1, FH*FW) @ (FH*FW, P):
no work for BLAS, all overhead. Here each output row is a short sum of shifted input
rows, vectorised along the row::

    y[n, f, h, w]  = b[f] + sum_{i,j} W[f, 0, i, j] * x[n, c, h*SH + i*DH - pt, w*SW + j*DW - pl]
    dx[n, c, r, s] = sum over f of channel c, taps (i, j) and outputs (h, w) that read (r, s)
                     of W[f, 0, i, j] * dy[n, f, h, w]
    dW[f, 0, i, j] = sum_{n,h,w} dy[n, f, h, w] * x[n, c, h*SH + i*DH - pt, w*SW + j*DW - pl]

with pixels outside the input read as zero (the padding). The same kernels serve a
one-channel first layer (C = 1, groups = 1: every filter reads channel 0).

Threads: the forward splits the (image, filter) pairs over Numba's threads, dx the (image,
channel) pairs (each owns its dx plane: no two threads add into one pixel), dW the
filters. Every value is summed in one fixed order whatever the thread count, so results
do not depend on it. dW sums each filter's products in float64.

Arrays: x and dy may have any non-negative strides (a transposed view needs no copy):
the kernels index one flat view of their memory with element strides.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._jit import njit, prange


@njit(inline="always")
def _cols(off: int, SW: int, W: int, out_w: int) -> tuple[int, int]:
    """The outputs w in [lo, hi) whose input column w*SW + off lies in [0, W)."""
    lo = 0 if off >= 0 else min(out_w, (SW - 1 - off) // SW)  # ceil(-off/SW)
    hi = lo
    if W - 1 - off >= 0:
        hi = max(lo, min(out_w, (W - 1 - off) // SW + 1))
    return lo, hi


@njit
def _tap_cols(FW: int, DW: int, pl: int, SW: int, W: int, out_w: int) -> tuple[Any, Any]:
    """For every kernel column j: the outputs [LO[j], HI[j]) whose tap j reads inside the
    input row (``_cols`` with the tap's offset j*DW - pl)."""
    LO, HI = np.empty(FW, np.int64), np.empty(FW, np.int64)
    for j in range(FW):
        LO[j], HI[j] = _cols(j * DW - pl, SW, W, out_w)
    return LO, HI


@njit(parallel=True, fastmath=True)
def _forward(
    xf: Any, xs: Any, H: int, W: int, Wt: Any, b: Any, y: Any, m: int,
    SH: int, SW: int, DH: int, DW: int, pt: int, pl: int,
) -> None:  # fmt: skip
    N, FN, out_h, out_w = y.shape
    FH, FW = Wt.shape[1], Wt.shape[2]
    sN, sC, sH, sW = xs[0], xs[1], xs[2], xs[3]
    yf = y.reshape(-1)
    u = np.uint64
    LO, HI = _tap_cols(FW, DW, pl, SW, W, out_w)
    for task in prange(N * FN):
        n, f = task // FN, task % FN
        c = f // m
        base = n * sN + c * sC
        for h in range(out_h):
            yrow = u((n * FN + f) * out_h * out_w + h * out_w)
            for w in range(out_w):
                yf[yrow + u(w)] = b[f]
            for i in range(FH):
                row = h * SH + i * DH - pt
                if row < 0 or row >= H:
                    continue
                for j in range(FW):
                    off, lo, hi = j * DW - pl, LO[j], HI[j]
                    wv = Wt[f, i, j]
                    src = u(base + row * sH + (lo * SW + off) * sW)
                    step = u(SW * sW)
                    dst = yrow + u(lo)
                    if step == 1:  # the common case, spelt out so that it vectorises
                        for w in range(u(hi - lo)):
                            yf[dst + w] += wv * xf[src + w]
                    else:
                        for w in range(u(hi - lo)):
                            yf[dst + w] += wv * xf[src + w * step]


@njit(parallel=True, fastmath=True)
def _data_grad(
    dyf: Any, ds: Any, Wt: Any, dx: Any, m: int, out_h: int, out_w: int,
    SH: int, SW: int, DH: int, DW: int, pt: int, pl: int,
) -> None:  # fmt: skip
    N, C, H, W = dx.shape
    FH, FW = Wt.shape[1], Wt.shape[2]
    sN, sF, sH, sW = ds[0], ds[1], ds[2], ds[3]
    dxf = dx.reshape(-1)
    u = np.uint64
    LO, HI = _tap_cols(FW, DW, pl, SW, W, out_w)
    for task in prange(N * C):
        n, c = task // C, task % C
        plane = u((n * C + c) * H * W)
        for k in range(H * W):
            dxf[plane + u(k)] = 0
        for f in range(c * m, (c + 1) * m):
            base = n * sN + f * sF
            for h in range(out_h):
                for i in range(FH):
                    row = h * SH + i * DH - pt
                    if row < 0 or row >= H:
                        continue
                    for j in range(FW):
                        off, lo, hi = j * DW - pl, LO[j], HI[j]
                        wv = Wt[f, i, j]
                        src = u(base + h * sH + lo * sW)
                        dst = plane + u(row * W + lo * SW + off)
                        step, sws = u(SW), u(sW)
                        if step == 1 and sws == 1:
                            for w in range(u(hi - lo)):
                                dxf[dst + w] += wv * dyf[src + w]
                        else:
                            for w in range(u(hi - lo)):
                                dxf[dst + w * step] += wv * dyf[src + w * sws]


@njit(parallel=True, fastmath=True)
def _weight_grad(
    xf: Any, xs: Any, H: int, W: int, dyf: Any, ds: Any, dW: Any, N: int, m: int,
    out_h: int, out_w: int, SH: int, SW: int, DH: int, DW: int, pt: int, pl: int,
) -> None:  # fmt: skip
    FN, FH, FW = dW.shape
    u = np.uint64
    for f in prange(FN):
        c = f // m
        for i in range(FH):
            for j in range(FW):
                off = j * DW - pl
                lo, hi = _cols(off, SW, W, out_w)
                acc = 0.0  # float64
                for n in range(N):
                    xb = n * xs[0] + c * xs[1]
                    db = n * ds[0] + f * ds[1]
                    for h in range(out_h):
                        row = h * SH + i * DH - pt
                        if row < 0 or row >= H:
                            continue
                        src = u(xb + row * xs[2] + (lo * SW + off) * xs[3])
                        step = u(SW * xs[3])
                        g = u(db + h * ds[2] + lo * ds[3])
                        gs = u(ds[3])
                        s = 0.0
                        if step == 1 and gs == 1:
                            for w in range(u(hi - lo)):
                                s += np.float64(dyf[g + w]) * np.float64(xf[src + w])
                        else:
                            for w in range(u(hi - lo)):
                                s += np.float64(dyf[g + w * gs]) * np.float64(xf[src + w * step])
                        acc += s
                dW[f, i, j] = acc


# ------------------------------------------------------------------ Python entry points
def _flat(a: Any) -> tuple[Any, Any]:
    """A 1-D view of the memory under a (any non-negative strides) and its element strides."""
    item = a.itemsize
    strides = np.array([s // item for s in a.strides], dtype=np.int64)
    span = 1 + sum((d - 1) * s for d, s in zip(a.shape, strides, strict=True)) if a.size else 1
    flat = np.lib.stride_tricks.as_strided(a, shape=(int(span),), strides=(item,))
    return flat, strides


def supported(x: Any, W: Any, groups: int) -> bool:
    """True when these kernels take the convolution: NumPy float32/float64 arrays of one
    dtype, non-negative strides, and each filter reading one channel (groups = C)."""
    return (
        type(x) is np.ndarray
        and type(W) is np.ndarray
        and x.dtype == W.dtype
        and x.dtype in (np.float32, np.float64)
        and x.ndim == 4
        and W.ndim == 4
        and groups == x.shape[1]
        and W.shape[1] == 1
        and x.size > 0
        and all(s >= 0 for s in x.strides)
    )


def depthwise_forward(
    x: Any, W: Any, b: Any, stride: tuple[int, int], pads: tuple[int, int, int, int],
    dilation: tuple[int, int], out_hw: tuple[int, int],
) -> Any:  # fmt: skip
    """y (N, FN, out_h, out_w), C-contiguous, of x (N, C, H, W), W (FN, 1, FH, FW), b (FN,)."""
    N, C, H, Wd = x.shape
    FN, _, FH, FW = W.shape
    y = np.empty((N, FN, *out_hw), dtype=x.dtype)
    bias = np.zeros(FN, x.dtype) if b is None else np.ascontiguousarray(b, dtype=x.dtype)
    xf, xs = _flat(x)
    Wt = np.ascontiguousarray(W.reshape(FN, FH, FW))
    _forward(xf, xs, H, Wd, Wt, bias, y, FN // C, *stride, *dilation, pads[0], pads[2])
    return y


def depthwise_data_grad(
    dy: Any, W: Any, x_shape: tuple[int, ...], stride: tuple[int, int],
    pads: tuple[int, int, int, int], dilation: tuple[int, int],
) -> Any:  # fmt: skip
    """dx (N, C, H, W), C-contiguous, from dy (N, FN, out_h, out_w) and W (FN, 1, FH, FW)."""
    FN, _, FH, FW = W.shape
    dx = np.empty(x_shape, dtype=dy.dtype)
    dyf, ds = _flat(dy)
    Wt = np.ascontiguousarray(W.reshape(FN, FH, FW), dtype=dy.dtype)
    _data_grad(dyf, ds, Wt, dx, FN // x_shape[1], dy.shape[2], dy.shape[3], *stride,
               *dilation, pads[0], pads[2])  # fmt: skip
    return dx


def depthwise_weight_grad(
    x: Any, dy: Any, W_shape: tuple[int, ...], stride: tuple[int, int],
    pads: tuple[int, int, int, int], dilation: tuple[int, int],
) -> Any:  # fmt: skip
    """dW (FN, 1, FH, FW) in x's dtype, from x (N, C, H, W) and dy (N, FN, out_h, out_w)."""
    FN, _, FH, FW = W_shape
    N, C, H, Wd = x.shape
    dW = np.empty((FN, FH, FW), dtype=np.float64)
    xf, xs = _flat(x)
    dyf, ds = _flat(dy.astype(x.dtype, copy=False))
    _weight_grad(xf, xs, H, Wd, dyf, ds, dW, N, FN // C, dy.shape[2], dy.shape[3], *stride,
                 *dilation, pads[0], pads[2])  # fmt: skip
    return dW.astype(x.dtype).reshape(W_shape)
