"""Training-mode batch norm followed by ReLU, forward and backward, one compiled pass pair each.

Per channel c, over its M = N*H*W values (``BatchNorm`` and ``ReLU`` of ``tinyconv/ops``, the
same formulas in the same order)::

    mean = sum(x) / M                       (accumulated in float64)
    var  = sum((x - mean)^2) / M            (biased; the deviations in x's dtype)
    inv  = 1 / sqrt(var + eps)              (x's dtype, as the reference)
    xhat = (x - mean) * inv
    y    = max(xhat * w + b, 0)             (NaN stays NaN, as np.maximum)

Backward, with g = dout * (y > 0) (ReLU's rule: the gradient is cut at exactly 0 and at NaN,
and a NaN or inf in dout times 0 gives NaN, as the reference's multiply by the mask)::

    S = sum(g), Sx = sum(g * xhat)          (accumulated in float64)
    dbias = S, dweight = Sx
    dx = (M g - S - xhat Sx) * coef         coef = w * inv / M, given per channel

Nothing but x (and the per-channel vectors) is kept for backward: xhat, y's sign and g are
recomputed from x with the forward's operations, so they are the forward's bits exactly.

The sums run in a float64 vector of L = min(256, H*W) partial sums per channel: position k
of each of the channel's planes, n = 0 .. N-1, is added to lane k mod L (elementwise, so the
loop vectorises without reordering any sum), then the L lanes in index order. A fixed
order: the result depends on the data only. (Numba's wrap-around check of a negative index
kept loops over ``flat[p + k]`` scalar, 6x slower: each run of a plane is sliced first, so
the indices start at 0.)

Threads: the channels are split over Numba's threads (one thread: a serial compilation of the
same loops); a channel is reduced and written by one thread in a fixed order, so the result
does not depend on the thread count.

Arrays: x, dout and the outputs must hold each (H, W) plane contiguously, with the planes in
N-C or C-N order (NCHW, or the channel-major (C, N, H, W) memory of a convolution's output):
``channel_affine.planes`` gives the flat view and the plane strides.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from ._jit import njit, prange
from .channel_affine import planes

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
LANES = 256  # float64 partial sums per channel (see the module notes)


def _forward_loops(
    xf: Any, xn: int, xc: int, yf: Any, yn: int, yc: int, N: int, C: int, HW: int,
    w: Any, b: Any, eps: Any, mean: Any, var: Any, inv_std: Any, acc: Any,
) -> None:  # fmt: skip
    t = xf.dtype.type
    zero, one = t(0), t(1)
    M = N * HW
    L = acc.shape[1]
    for c in prange(C):
        a = acc[c]  # (L,) float64: a[j] sums positions j, j + L, ... of the N planes
        a[:] = 0.0
        for n in range(N):
            p = n * xn + c * xc
            for k0 in range(0, HW, L):
                xs = xf[p + k0 :][: min(L, HW - k0)]  # a view: indices from 0 vectorise
                for j in range(xs.shape[0]):
                    a[j] += xs[j]
        mu = t(_total(a) / M)
        a[:] = 0.0
        for n in range(N):
            p = n * xn + c * xc
            for k0 in range(0, HW, L):
                xs = xf[p + k0 :][: min(L, HW - k0)]
                for j in range(xs.shape[0]):
                    d = np.float64(xs[j] - mu)
                    a[j] += d * d
        v = t(_total(a) / M)
        inv = one / np.sqrt(v + eps)
        mean[c], var[c], inv_std[c] = mu, v, inv
        wc, bc = w[c], b[c]
        for n in range(N):
            xs, ys = xf[n * xn + c * xc :][:HW], yf[n * yn + c * yc :][:HW]
            for k in range(HW):
                u = (xs[k] - mu) * inv * wc + bc
                ys[k] = zero if u < zero else u


def _backward_loops(
    xf: Any, xn: int, xc: int, df: Any, dn: int, dc: int, gf: Any, gn: int, gc: int,
    N: int, C: int, HW: int, w: Any, b: Any, mean: Any, inv_std: Any, coef: Any,
    S: Any, Sx: Any, need_dx: bool, acc: Any, acc_x: Any,
) -> None:  # fmt: skip
    t = xf.dtype.type
    zero, one = t(0), t(1)
    Mt = t(N * HW)
    L = acc.shape[1]
    for c in prange(C):
        mu, inv, wc, bc = mean[c], inv_std[c], w[c], b[c]
        a, ax = acc[c], acc_x[c]  # (L,) float64 partial sums, as in forward
        a[:] = 0.0
        ax[:] = 0.0
        for n in range(N):
            p, q = n * xn + c * xc, n * dn + c * dc
            for k0 in range(0, HW, L):
                m = min(L, HW - k0)
                xs, ds = xf[p + k0 :][:m], df[q + k0 :][:m]
                for j in range(m):
                    h = (xs[j] - mu) * inv
                    g = ds[j] * (one if h * wc + bc > zero else zero)
                    a[j] += g
                    ax[j] += g * h
        sc, sxc = t(_total(a)), t(_total(ax))
        S[c], Sx[c] = sc, sxc
        if need_dx:
            cf = coef[c]
            for n in range(N):
                xs, ds = xf[n * xn + c * xc :][:HW], df[n * dn + c * dc :][:HW]
                gs = gf[n * gn + c * gc :][:HW]
                for k in range(HW):
                    h = (xs[k] - mu) * inv
                    g = ds[k] * (one if h * wc + bc > zero else zero)
                    gs[k] = (g * Mt - sc - h * sxc) * cf


@njit
def _total(a: Any) -> float:
    """sum(a) of a float64 vector, in index order."""
    s = 0.0
    for k in range(a.shape[0]):
        s += a[k]
    return s


# Two compilations of each (as channel_affine): serial for one Numba thread, parallel over
# the channels otherwise. fastmath stays off: the operations are the reference's, in order.
_forward = njit(fastmath=False)(_forward_loops)
_forward_parallel = njit(parallel=True, fastmath=False)(_forward_loops)
_backward = njit(fastmath=False)(_backward_loops)
_backward_parallel = njit(parallel=True, fastmath=False)(_backward_loops)


def supported(x: Any) -> bool:
    """True when ``forward`` takes x: a NumPy float32/float64 (N, C, H, W) array in a plane
    layout (``planes``) with more than one value per channel."""
    if not isinstance(x, np.ndarray) or x.ndim != 4 or x.dtype not in _FLOATS:
        return False
    if x.size == 0 or x.size == x.shape[1]:
        return False
    return planes(x) is not None


def _vector(v: Any, C: int, dtype: Any, fill: float) -> Any:
    """(C,) contiguous in dtype: v, or ``fill`` everywhere when v is None."""
    if v is None:
        return np.full(C, fill, dtype=dtype)
    return np.ascontiguousarray(v, dtype=dtype)


def forward(x: Any, weight: Any, bias: Any, eps: float) -> tuple[Any, Any, Any, Any]:
    """y = relu(batch_norm(x)) with the batch's statistics; returns (y, mean, var, inv_std).

    x (N, C, H, W) as ``supported`` accepts; weight, bias (C,) or None (1 and 0).
    y (N, C, H, W) is a new array in x's memory layout; mean, var (biased) and
    inv_std = 1 / sqrt(var + eps) are (C,) in x's dtype.
    """
    N, C, H, W = x.shape
    t = x.dtype.type
    y = np.empty_like(x)  # x's layout (order "K")
    xf, xn, xc = planes(x)  # type: ignore[misc]
    yf, yn, yc = planes(y)  # type: ignore[misc]
    w = _vector(weight, C, x.dtype, 1.0)
    b = _vector(bias, C, x.dtype, 0.0)
    mean, var, inv_std = (np.empty(C, dtype=x.dtype) for _ in range(3))
    kernel = _forward_parallel if numba.get_num_threads() > 1 else _forward
    acc = np.empty((C, min(LANES, H * W)), dtype=np.float64)
    kernel(xf, xn, xc, yf, yn, yc, N, C, H * W, w, b, t(eps), mean, var, inv_std, acc)
    return y, mean, var, inv_std


def backward(
    x: Any, dout: Any, weight: Any, bias: Any, mean: Any, inv_std: Any, coef: Any, need_dx: bool
) -> tuple[Any, Any, Any]:
    """(dx or None, S, Sx) of ``forward`` for the output gradient dout (N, C, H, W).

    x is forward's input, mean and inv_std its (C,) results, coef (C,) = w * inv_std / M in
    x's dtype. S = sum(g) (dbias) and Sx = sum(g * xhat) (dweight) are (C,); dx (in x's
    layout) is computed only when ``need_dx``.
    """
    N, C, H, W = x.shape
    if dout.dtype != x.dtype:
        dout = dout.astype(x.dtype)
    if planes(dout) is None:
        dout = np.ascontiguousarray(dout)
    xf, xn, xc = planes(x)  # type: ignore[misc]
    df, dn, dc = planes(dout)  # type: ignore[misc]
    if need_dx:
        dx = np.empty_like(x)
        gf, gn, gc = planes(dx)  # type: ignore[misc]
    else:
        dx, gf, gn, gc = None, xf[:1], 0, 0
    w = _vector(weight, C, x.dtype, 1.0)
    b = _vector(bias, C, x.dtype, 0.0)
    S, Sx = np.empty(C, dtype=x.dtype), np.empty(C, dtype=x.dtype)
    coef = np.ascontiguousarray(coef, dtype=x.dtype)
    kernel = _backward_parallel if numba.get_num_threads() > 1 else _backward
    L = min(LANES, H * W)
    acc, acc_x = np.empty((C, L)), np.empty((C, L))
    kernel(xf, xn, xc, df, dn, dc, gf, gn, gc, N, C, H * W, w, b, mean, inv_std, coef, S, Sx,
           bool(need_dx), acc, acc_x)  # fmt: skip
    return dx, S, Sx
