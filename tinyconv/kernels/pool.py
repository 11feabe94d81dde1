"""Max (and min) pooling over non-overlapping K_h x K_w windows (stride = kernel, no padding or
dilation), forward and backward in one pass each.

The reference is ``MaxPool`` in ``tinyconv/ops/pool.py``: there the windows are strided views
of x and the max is a running ``maximum`` over the K_h*K_w views, each a pass over the whole
output with its own comparison for the argmax (DeepConvNet's three 2x2 pools: 2.6 ms forward,
2 ms backward of a 30 ms step at 2 threads). Here each window is read once::

    y[n, c, h, w] = running pick over taps k = a*K_w + b of x[n, c, h*K_h + a, w*K_w + b]
    arg[n, c, h, w] = the first k that was strictly better than the running value

with the reference's arithmetic kept exactly (the same values, the same ties and the same
NaN behaviour: ``pick`` is NumPy's ``maximum``, which propagates NaN, and a tap is better
only when strictly greater, so a NaN never moves the argmax). Backward writes every element
of dx once: dout where the argmax points, zero elsewhere and in the rows and columns the
floor left out.

Layout: x, dout (N, C, H, W) and (N, C, out_h, out_w) C-contiguous, float32 or float64;
arg int8 of y's shape. Planes (n, c) run on all threads; every result is elementwise, so
it does not depend on the thread count.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._jit import njit, prange
from ._windows import tap_range


def supported(x: Any, index_dtype: Any) -> bool:
    """A C-contiguous (N, C, H, W) NumPy float32/float64 x, and an int8 argmax (windows of
    at most 127 taps); the window rule (stride = kernel, no padding) is the caller's."""
    if type(x) is not np.ndarray or np.dtype(index_dtype) != np.int8 or x.ndim != 4:
        return False
    return x.dtype in (np.float32, np.float64) and x.flags.c_contiguous


def pool_forward(x: Any, y: Any, arg: Any, KH: int, KW: int, minimum: bool, keep: bool) -> None:
    """y (and arg when ``keep``) of the K_h x K_w / stride K pool of x; ``minimum``: min pool."""
    if (KH, KW) == (2, 2) and not minimum:
        _max_pool_2x2(x.reshape(-1), y.reshape(-1), arg.reshape(-1), x.shape[2], x.shape[3],
                      y.shape[2], y.shape[3], keep)  # fmt: skip
    else:
        _pool_forward(x, y, arg, KH, KW, minimum, keep)


@njit(parallel=True)
def _max_pool_2x2(x: Any, y: Any, arg: Any, H: int, W: int, oh: int, ow: int, keep: bool) -> None:
    """The 2 x 2 max pool on flat planes, branch-free (selects) so that the row loop
    vectorises; unsigned indices (no negative-index fix-up)."""
    u = np.uint64
    planes = y.shape[0] // (oh * ow)
    for t in prange(planes):
        for h in range(oh):
            r0 = u(t * H * W + 2 * h * W)
            r1 = r0 + u(W)
            o = u((t * oh + h) * ow)
            for w in range(ow):
                c = u(2 * w)
                best = x[r0 + c]
                k = np.int8(0)
                v = x[r0 + c + u(1)]
                m = v > best
                k = np.int8(1) if m else k
                best = v if (m or v != v) else best
                v = x[r1 + c]
                m = v > best
                k = np.int8(2) if m else k
                best = v if (m or v != v) else best
                v = x[r1 + c + u(1)]
                m = v > best
                k = np.int8(3) if m else k
                best = v if (m or v != v) else best
                y[o + u(w)] = best
                if keep:
                    arg[o + u(w)] = k


@njit(parallel=True)
def _pool_forward(x: Any, y: Any, arg: Any, KH: int, KW: int, minimum: bool, keep: bool) -> None:
    """Any K_h x K_w window (the general loop of ``pool_forward``)."""
    N, C, H, W = x.shape
    oh, ow = y.shape[2], y.shape[3]
    for t in prange(N * C):
        n = t // C
        c = t - n * C
        for h in range(oh):
            for w in range(ow):
                r0 = h * KH
                c0 = w * KW
                best = x[n, c, r0, c0]
                k = 0
                for a in range(KH):
                    for b in range(KW):
                        if a == 0 and b == 0:
                            continue
                        v = x[n, c, r0 + a, c0 + b]
                        better = v < best if minimum else v > best
                        if better:
                            k = a * KW + b
                        if better or v != v:  # NumPy's maximum: NaN wins and stays
                            best = v
                y[n, c, h, w] = best
                if keep:
                    arg[n, c, h, w] = k


@njit(parallel=True)
def pool_backward(dout: Any, arg: Any, dx: Any, KH: int, KW: int) -> None:
    """dx (N, C, H, W): dout[n, c, h, w] at each window's argmax, 0 everywhere else."""
    N, C, H, W = dx.shape
    oh, ow = dout.shape[2], dout.shape[3]
    zero = dx.dtype.type(0)
    for t in prange(N * C):
        n = t // C
        c = t - n * C
        for r in range(oh * KH, H):  # the rows the floor left out
            for s in range(W):
                dx[n, c, r, s] = zero
        for h in range(oh):
            for a in range(KH):
                r = h * KH + a
                for w in range(ow):
                    d = dout[n, c, h, w]
                    k = arg[n, c, h, w]
                    for b in range(KW):
                        dx[n, c, r, w * KW + b] = d if k == a * KW + b else zero
                for s in range(ow * KW, W):  # the columns the floor left out
                    dx[n, c, r, s] = zero


@njit(parallel=True)
def _window_pool(
    x: Any, y: Any, KH: int, KW: int, SH: int, SW: int, PH: int, PW: int, DH: int, DW: int,
    minimum: bool,
) -> None:  # fmt: skip
    """Separable: per input row the pick over the tap columns b (in order), then per output
    row the pick over the tap rows a (in order) of those row results. That is the
    reference's pick over the taps in row-major order: a strictly better value replaces, so
    the first best tap wins, and a NaN always replaces, so the last NaN wins, either way."""
    N, C, H, W = x.shape
    oh, ow = y.shape[2], y.shape[3]
    start = x.dtype.type(np.inf if minimum else -np.inf)
    lo = np.empty(KW, np.int64)  # per tap column b: the outputs w in [lo, hi) inside the image
    hi = np.empty(KW, np.int64)
    for b in range(KW):
        lo[b], hi[b] = tap_range(b * DW - PW, SW, W, ow)
    for t in prange(N * C):
        n = t // C
        c = t - n * C
        rows = np.empty((H, ow), x.dtype)  # rows[r, w]: the pick over b of row r
        for r in range(H):
            xr, hr = x[n, c, r], rows[r]
            for w in range(ow):
                hr[w] = start
            for b in range(KW):
                s0 = b * DW - PW
                for w in range(lo[b], hi[b]):
                    v = xr[w * SW + s0]
                    best = hr[w]
                    m = (v < best) if minimum else (v > best)
                    hr[w] = v if (m or v != v) else best  # NaN wins and stays
        for h in range(oh):
            yr = y[n, c, h]
            for w in range(ow):
                yr[w] = start
            for a in range(KH):
                r = h * SH - PH + a * DH
                if r < 0 or r >= H:
                    continue
                hr = rows[r]
                for w in range(ow):
                    v = hr[w]
                    best = yr[w]
                    m = (v < best) if minimum else (v > best)
                    yr[w] = v if (m or v != v) else best


def window_pool_forward(
    x: Any,
    y: Any,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    minimum: bool,
) -> None:
    """y of any max (min) pool, windows overlapping, padded or dilated, *without* the argmax
    (inference): per output, the running pick over the taps inside the input, in tap order,
    from -inf (+inf), as the reference's general loop. x and y any layout (N, C, H, W)."""
    _window_pool(x, y, kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1],
                 dilation[0], dilation[1], minimum)  # fmt: skip
