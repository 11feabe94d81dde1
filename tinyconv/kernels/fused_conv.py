"""Conv2d + bias + ReLU + max pool in one pass over the images, and its backward in one pass.

The reference is the composition of the NumPy ops: ``conv2d`` (stride 1, no dilation, one
group), ``relu`` and ``max_pool2d`` with a square window of P x P taken with stride P
(``tinyconv/ops/fused.py`` composes them). Here no convolution or ReLU output is ever
stored: each image's convolution plane of one filter is computed into a small scratch
buffer (in L1 cache) and pooled at once.

The plane is kept W-strided, position p = oh*W + ow for a conv output (oh, ow), because then
every tap (c, i, j) adds one *contiguous* run of the image to it::

    acc[p] = b[f] + sum_{c,i,j} W[f,c,i,j] * x_n[c*H*W + i*W + j + p],   p < (OH'-1)*W + OW'

(x_n the image flat, OH' x OW' the conv outputs the pool reads: the floor drops the rest).
That inner loop runs over hundreds of elements and vectorises fully; the columns
ow >= OW' in between are computed and ignored (KW - 1 of every W). Register blocking: two
filters' planes are computed together and the taps of a kernel row go five (or three) at a
time into one loop, so each load of x feeds up to ten FMAs and each plane element is
loaded and stored once per kernel row, not once per tap (measured: the forward 4.1 -> 2.3
ms, the weight gradient 4.1 -> 2.2 ms of CPU time for SimpleConvNet's layer at batch 100).
Then::

    y[n, f, ph, pw] = max(0, max_{a,b<P} acc[(ph*P + a)*W + pw*P + b]),   arg = the first a*P + b

Backward: only the argmax of each window whose output is positive (the ReLU mask) gets the
gradient d = dy[n, f, ph, pw]. The kernel puts those d on a zero plane g of the same
W-strided layout, then every tap is one contiguous dot product or update::

    db[f] += sum of the d
    dW[f, c, i, j] += sum_p g[p] * x_n[c*H*W + i*W + j + p]
    dx_n[c*H*W + i*W + j + p] += W[f, c, i, j] * g[p]       (only when x needs a gradient)

Threads: the kernels are serial and release the GIL; ``forward``/``backward`` split the
batch into image blocks and hand them to a ``run(fn, n_blocks)`` (``tinyconv.ops.parallel.
run_blocks``: tinyconv's own threads, each taking the next block as it frees up). So the
kernels follow ``tinyconv.set_num_threads``, share one thread pool with the Linear layers'
products (no second pool spinning against it; a ``parallel=True`` kernel on Numba's
workqueue did, and that layer aborts the process when two Python threads enter it at once,
as a threaded HTTP server's requests would), and a core taken by another job delays one
block, not half of the batch. dW and db are summed per block of images (a fixed number of
blocks, whatever the thread count) and the blocks added in order, so the result does not
depend on the number of threads. The dot products are vectorised (``fastmath`` reassoc: a
fixed summation order, not the reference's), so the gradients equal the reference to
rounding, not bit for bit.

Layout: x (N, C, H, W) already padded, W (F, C, KH, KW), b (F,), all one dtype (float32 or
float64) and C-contiguous; y (N, F, PH, PW) and arg (int8, same shape) preallocated.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._jit import njit

BLOCKS = 16  # image blocks of the weight gradient (fixed: results independent of threads)
FORWARD_BLOCKS = 16  # image blocks of the forward pass (taken by the threads as they free up)


@njit
def _pool2(plane, yn, an):
    """The 2 x 2 pool of one (PH*2, W) plane into yn, an (PH, PW), ReLU included. Written
    out with constant offsets: every index is then provably non-negative and Numba drops
    its negative-index handling (measured: the pool's cost down from ~2.6 to ~0.8 ms)."""
    PH, PW = yn.shape
    for ph in range(PH):
        for pw in range(PW):
            best = plane[2 * ph, 2 * pw]
            k = 0
            v = plane[2 * ph, 2 * pw + 1]
            more = v > best  # strictly larger: the first maximum wins
            best, k = (v, 1) if more else (best, k)
            v = plane[2 * ph + 1, 2 * pw]
            more = v > best
            best, k = (v, 2) if more else (best, k)
            v = plane[2 * ph + 1, 2 * pw + 1]
            more = v > best
            best, k = (v, 3) if more else (best, k)
            yn[ph, pw] = best if best > 0 else 0
            an[ph, pw] = k


@njit
def _pool(plane, P, yn, an):
    """The P x P pool (any P) of one (PH*P, W) plane into yn, an (PH, PW), ReLU included."""
    PH, PW = yn.shape
    for ph in range(PH):
        for pw in range(PW):
            best = plane[ph * P, pw * P]
            k = 0
            for a in range(P):
                for bb in range(P):
                    v = plane[ph * P + a, pw * P + bb]
                    more = v > best
                    best, k = (v, a * P + bb) if more else (best, k)
            yn[ph, pw] = best if best > 0 else 0
            an[ph, pw] = k


@njit(fastmath={"contract"})
def forward_kernel(x, w, b, P, y, arg):
    """y, arg (N, F, PH, PW) of the N images of x (a block of the batch; serial)."""
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    PH, PW = y.shape[2], y.shape[3]
    L = (PH * P - 1) * W + PW * P  # the W-strided plane up to the last conv output pooled
    x_flat = x.reshape(N, C * H * W)
    planes = np.empty((2, PH * P, W), dtype=x.dtype)  # filters f and f1 = f + 1
    plane0 = planes[0]
    plane1 = planes[1]
    acc0 = plane0.reshape(PH * P * W)
    acc1 = plane1.reshape(PH * P * W)
    for n in range(N):
        xn = x_flat[n]
        for f in range(0, F, 2):
            f1 = min(f + 1, F - 1)  # an odd F: the last filter twice (written once)
            bias0 = b[f]
            bias1 = b[f1]
            for p in range(L):
                acc0[p] = bias0
                acc1[p] = bias1
            for c in range(C):
                for i in range(KH):
                    off = c * H * W + i * W
                    j = 0
                    while j + 5 <= KW:  # 5 taps of a row at once: 5 loads of x feed 10 FMAs
                        u0, u1, u2 = w[f, c, i, j], w[f, c, i, j + 1], w[f, c, i, j + 2]
                        u3, u4 = w[f, c, i, j + 3], w[f, c, i, j + 4]
                        v0, v1, v2 = w[f1, c, i, j], w[f1, c, i, j + 1], w[f1, c, i, j + 2]
                        v3, v4 = w[f1, c, i, j + 3], w[f1, c, i, j + 4]
                        s0 = xn[off + j : off + j + L]  # views: xn[off + p] would not vectorise
                        s1 = xn[off + j + 1 : off + j + 1 + L]
                        s2 = xn[off + j + 2 : off + j + 2 + L]
                        s3 = xn[off + j + 3 : off + j + 3 + L]
                        s4 = xn[off + j + 4 : off + j + 4 + L]
                        for p in range(L):  # contiguous: vectorised
                            e0, e1, e2, e3, e4 = s0[p], s1[p], s2[p], s3[p], s4[p]
                            acc0[p] += u0 * e0 + u1 * e1 + u2 * e2 + u3 * e3 + u4 * e4
                            acc1[p] += v0 * e0 + v1 * e1 + v2 * e2 + v3 * e3 + v4 * e4
                        j += 5
                    while j + 3 <= KW:
                        u0, u1, u2 = w[f, c, i, j], w[f, c, i, j + 1], w[f, c, i, j + 2]
                        v0, v1, v2 = w[f1, c, i, j], w[f1, c, i, j + 1], w[f1, c, i, j + 2]
                        s0 = xn[off + j : off + j + L]
                        s1 = xn[off + j + 1 : off + j + 1 + L]
                        s2 = xn[off + j + 2 : off + j + 2 + L]
                        for p in range(L):
                            e0, e1, e2 = s0[p], s1[p], s2[p]
                            acc0[p] += u0 * e0 + u1 * e1 + u2 * e2
                            acc1[p] += v0 * e0 + v1 * e1 + v2 * e2
                        j += 3
                    while j < KW:
                        u0 = w[f, c, i, j]
                        v0 = w[f1, c, i, j]
                        s0 = xn[off + j : off + j + L]
                        for p in range(L):
                            acc0[p] += u0 * s0[p]
                            acc1[p] += v0 * s0[p]
                        j += 1
            if P == 2:
                _pool2(plane0, y[n, f], arg[n, f])
                _pool2(plane1, y[n, f1], arg[n, f1])
            else:
                _pool(plane0, P, y[n, f], arg[n, f])
                _pool(plane1, P, y[n, f1], arg[n, f1])


@njit
def _unpool2(g_plane, dyn, yn, an, zero):
    """Put each 2 x 2 window's gradient dyn (PH, PW) at its argmax an in g_plane (PH*2, W),
    masked by the ReLU (yn > 0); returns the sum of what was put (db's share). Constant
    offsets and no branch: measured 0.7 ms where a table lookup and a select took 2.8."""
    PH, PW = yn.shape
    d_sum = zero
    for ph in range(PH):
        for pw in range(PW):
            k = an[ph, pw]
            d = dyn[ph, pw] * (yn[ph, pw] > 0)  # the ReLU mask, multiplied as the reference
            g_plane[2 * ph + (k >> 1), 2 * pw + (k & 1)] = d
            d_sum += d
    return d_sum


@njit
def _unpool(g_plane, P, dyn, yn, an, zero):
    """``_unpool2`` for a P x P window (any P)."""
    PH, PW = yn.shape
    d_sum = zero
    for ph in range(PH):
        for pw in range(PW):
            k = an[ph, pw]
            d = dyn[ph, pw] * (yn[ph, pw] > 0)
            g_plane[ph * P + k // P, pw * P + k % P] = d
            d_sum += d
    return d_sum


@njit
def _unpool_pair(g0, g1, dy, y, arg, n, f, f1, P, zero):
    """``_unpool2``/``_unpool`` of filters f and f1 into planes g0, g1; their gradient sums."""
    if P == 2:
        d0 = _unpool2(g0, dy[n, f], y[n, f], arg[n, f], zero)
        d1 = _unpool2(g1, dy[n, f1], y[n, f1], arg[n, f1], zero)
    else:
        d0 = _unpool(g0, P, dy[n, f], y[n, f], arg[n, f], zero)
        d1 = _unpool(g1, P, dy[n, f1], y[n, f1], arg[n, f1], zero)
    return d0, d1


@njit(fastmath={"contract"})
def _add_dx(dxn, w, f, g, C, H, W, L):
    """dxn[c*H*W + i*W + j + p] += W[f, c, i, j] * g[p]: filter f's share of one image's dx."""
    KH, KW = w.shape[2], w.shape[3]
    for c in range(C):
        for i in range(KH):
            for j in range(KW):
                wv = w[f, c, i, j]
                off = c * H * W + i * W + j
                dst = dxn[off : off + L]
                for p in range(L):
                    dst[p] += wv * g[p]


@njit(fastmath={"contract", "reassoc"})
def backward_kernel(x, w, y, arg, dy, P, want_dx, dx, dW, db, zero):
    """The gradients of a block of N images (serial): dx (N, C, H, W) zeroed (or
    (0, 0, 0, 0) when not wanted); dW (F, C, KH, KW) and db (F,) zeroed, the block's sums.
    ``zero``: 0 in x's dtype (the dot products accumulate in it, as the reference's do)."""
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    PH, PW = y.shape[2], y.shape[3]
    L = (PH * P - 1) * W + PW * P
    x_flat = x.reshape(N, C * H * W)
    dx_flat = dx.reshape(dx.shape[0], C * H * W)
    planes = np.empty((2, PH * P, W), dtype=x.dtype)  # filters f and f1 = f + 1
    plane0 = planes[0]
    plane1 = planes[1]
    g0 = plane0.reshape(PH * P * W)
    g1 = plane1.reshape(PH * P * W)
    for n in range(N):
        xn = x_flat[n]
        for f in range(0, F, 2):
            f1 = min(f + 1, F - 1)  # an odd F: the last filter twice (added once)
            two = f1 != f
            for p in range(L):
                g0[p] = 0
                g1[p] = 0
            d0, d1 = _unpool_pair(plane0, plane1, dy, y, arg, n, f, f1, P, zero)
            db[f] += d0
            if two:
                db[f1] += d1
            for c in range(C):
                for i in range(KH):
                    off = c * H * W + i * W
                    j = 0
                    while j + 5 <= KW:  # 5 taps x 2 filters: 7 loads feed 10 FMAs
                        s0 = xn[off + j : off + j + L]
                        s1 = xn[off + j + 1 : off + j + 1 + L]
                        s2 = xn[off + j + 2 : off + j + 2 + L]
                        s3 = xn[off + j + 3 : off + j + 3 + L]
                        s4 = xn[off + j + 4 : off + j + 4 + L]
                        a0 = a1 = a2 = a3 = a4 = zero
                        c0 = c1 = c2 = c3 = c4 = zero
                        for p in range(L):  # contiguous dot products: vectorised
                            h0, h1 = g0[p], g1[p]
                            e0, e1, e2, e3, e4 = s0[p], s1[p], s2[p], s3[p], s4[p]
                            a0 += h0 * e0
                            a1 += h0 * e1
                            a2 += h0 * e2
                            a3 += h0 * e3
                            a4 += h0 * e4
                            c0 += h1 * e0
                            c1 += h1 * e1
                            c2 += h1 * e2
                            c3 += h1 * e3
                            c4 += h1 * e4
                        dW[f, c, i, j] += a0
                        dW[f, c, i, j + 1] += a1
                        dW[f, c, i, j + 2] += a2
                        dW[f, c, i, j + 3] += a3
                        dW[f, c, i, j + 4] += a4
                        if two:
                            dW[f1, c, i, j] += c0
                            dW[f1, c, i, j + 1] += c1
                            dW[f1, c, i, j + 2] += c2
                            dW[f1, c, i, j + 3] += c3
                            dW[f1, c, i, j + 4] += c4
                        j += 5
                    while j + 3 <= KW:
                        s0 = xn[off + j : off + j + L]
                        s1 = xn[off + j + 1 : off + j + 1 + L]
                        s2 = xn[off + j + 2 : off + j + 2 + L]
                        a0 = a1 = a2 = zero
                        c0 = c1 = c2 = zero
                        for p in range(L):
                            h0, h1 = g0[p], g1[p]
                            e0, e1, e2 = s0[p], s1[p], s2[p]
                            a0 += h0 * e0
                            a1 += h0 * e1
                            a2 += h0 * e2
                            c0 += h1 * e0
                            c1 += h1 * e1
                            c2 += h1 * e2
                        dW[f, c, i, j] += a0
                        dW[f, c, i, j + 1] += a1
                        dW[f, c, i, j + 2] += a2
                        if two:
                            dW[f1, c, i, j] += c0
                            dW[f1, c, i, j + 1] += c1
                            dW[f1, c, i, j + 2] += c2
                        j += 3
                    while j < KW:
                        s0 = xn[off + j : off + j + L]
                        a0 = c0 = zero
                        for p in range(L):
                            a0 += g0[p] * s0[p]
                            c0 += g1[p] * s0[p]
                        dW[f, c, i, j] += a0
                        if two:
                            dW[f1, c, i, j] += c0
                        j += 1
            if want_dx:
                _add_dx(dx_flat[n], w, f, g0, C, H, W, L)
                if two:
                    _add_dx(dx_flat[n], w, f1, g1, C, H, W, L)


RunBlocks = Callable[[Callable[[int, int], None], int], None]


def _serial(fn: Callable[[int, int], None], n_blocks: int) -> None:
    """``run_blocks`` on the calling thread: blocks 0, 1, ... in order."""
    for k in range(n_blocks):
        fn(0, k)


def _image_blocks(N: int, n_blocks: int) -> tuple[int, int]:
    """(images per block, number of blocks) for N images in at most n_blocks blocks."""
    per = -(-N // max(1, min(n_blocks, N)))
    return per, -(-N // per)


def forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, P: int, run: RunBlocks = _serial
) -> tuple[np.ndarray, np.ndarray]:
    """y (N, F, PH, PW) and the argmax (int8) of conv(x, w) + b -> ReLU -> P x P max pool.

    ``run(fn, n_blocks)`` calls ``fn(worker, k)`` for every block k (``tinyconv.ops.parallel.
    run_blocks`` spreads them over the threads); the images are split into ``FORWARD_BLOCKS``.
    """
    N, _, H, W = x.shape
    F, _, KH, KW = w.shape
    PH, PW = (H - KH + 1) // P, (W - KW + 1) // P
    y = np.empty((N, F, PH, PW), dtype=x.dtype)
    arg = np.empty((N, F, PH, PW), dtype=np.int8)
    per, n_blocks = _image_blocks(N, FORWARD_BLOCKS)

    def block(worker: int, k: int) -> None:
        s = slice(k * per, (k + 1) * per)
        forward_kernel(x[s], w, b, P, y[s], arg[s])

    run(block, n_blocks)
    return y, arg


def backward(
    x: np.ndarray, w: np.ndarray, y: np.ndarray, arg: np.ndarray, dy: np.ndarray, P: int,
    want_dx: bool, run: RunBlocks = _serial,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:  # fmt: skip
    """(dx or None, dW, db) of ``forward``'s output gradient dy (N, F, PH, PW).

    dW and db are summed per block of images (``BLOCKS`` of them, whatever the thread count),
    then the blocks are added in order: the result does not depend on ``run``'s threads.
    """
    N, F = x.shape[0], w.shape[0]
    dx = np.empty(x.shape if want_dx else (0, 0, 0, 0), dtype=x.dtype)
    per, n_blocks = _image_blocks(N, BLOCKS)
    dW_blocks = np.zeros((n_blocks, *w.shape), dtype=x.dtype)
    db_blocks = np.zeros((n_blocks, F), dtype=x.dtype)
    dy = np.ascontiguousarray(dy)
    zero = x.dtype.type(0)

    def block(worker: int, k: int) -> None:
        s = slice(k * per, (k + 1) * per)
        dx_k = dx[s] if want_dx else dx
        dx_k[...] = 0
        backward_kernel(
            x[s], w, y[s], arg[s], dy[s], P, want_dx, dx_k, dW_blocks[k], db_blocks[k], zero
        )

    run(block, n_blocks)
    return (dx if want_dx else None), dW_blocks.sum(axis=0), db_blocks.sum(axis=0)
