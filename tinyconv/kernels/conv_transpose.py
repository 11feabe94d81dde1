"""The transposed convolution's col2im and im2col, compiled; the products stay in BLAS.

``ConvTranspose2d`` (ops/conv.py) is three matrix products around one scatter and one
gather. With x (N, C_in, H, W), W (C_in, C_out/G, FH, FW) and y (N, C_out, OH, OW)::

    col^T  = W_g^T @ x^T     (G, C_out/G*FH*FW, N*H*W), one column per input pixel
    y      = col2im(col) + b y[n, o, h*SH + i*DH - PH, w*SW + j*DW - PW] += col[(o,i,j), (n,h,w)]
    col'^T = im2col(dy)      (C_out*FH*FW, N*H*W), the same windows gathered from dy
    dx^T   = W_g @ col'^T    (G, C_in/G, N*H*W)
    dW     = x^T @ col'      (G, C_in/G, C_out/G*FH*FW)

with pixels outside y skipped (the padding crops them) and read as zero. The reference
runs col2im and im2col as one NumPy pass per kernel tap over the whole batch: at stride 2
the rows those passes walk are only W floats long (7-32 in the zoo's decoders), and col
(C_out*FH*FW floats per input pixel) goes out to main memory and back. Here each is one
compiled single-threaded pass over a block of images, which ``ops/conv_transpose_blocks.py``
runs next to that block's products while col is in cache, the blocks spread over the
threads. The bias and the crop are folded into col2im, and y comes out C-contiguous. Every
pixel sums its taps in the reference's order (tap by tap, then the bias).

Arrays: C-contiguous; y and col preallocated.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._jit import njit


@njit(inline="always")
def _phase(t: int, S: int, A: int, n: int) -> tuple[int, int, int, int]:
    """Where a tap at offset t = i*D - P sends input index k of a length-n axis: output
    k*S + t = a*S + p lies in phase p = t mod S at a = k + d. Returns p, d and the k in
    [lo, hi) whose a stays inside the phase's A_p = ceil((A - p)/S) outputs (A the output
    length)."""
    p = t % S  # Python's modulo: 0 <= p < S for a negative t too
    d = (t - p) // S
    count = (A - p + S - 1) // S
    lo = max(0, -d)
    return p, d, lo, max(lo, min(n, count - d))  # hi >= lo: a tap wholly outside is empty


@njit(inline="always")
def _interleave(
    ph: Any, flat: Any, plane: int, OH: int, OW: int, SH: int, SW: int, AH: int, AW: int,
    into_phases: bool, bias: float,
) -> None:  # fmt: skip
    """Between the plane of ``flat`` at offset ``plane`` (OH, OW) and its stride phases
    ph[p, q, a, c] = plane[a*SH + p, c*SW + q] (flat, (SH, SW, AH, AW)): split the plane
    into ph (``into_phases``), or write ph + bias back into the plane."""
    u = np.uint64
    for p in range(SH):
        for a in range((OH - p + SH - 1) // SH):
            for q in range(SW):
                k = u(((p * SW + q) * AH + a) * AW)
                m = u(plane + (a * SH + p) * OW + q)
                step = u(SW)
                if into_phases:
                    for c in range(u((OW - q + SW - 1) // SW)):
                        ph[k + c] = flat[m + c * step]
                else:
                    for c in range(u((OW - q + SW - 1) // SW)):
                        flat[m + c * step] = ph[k + c] + bias


@njit(fastmath=True)
def _col2im_bias(
    col: Any, y: Any, b: Any, H: int, W: int, FH: int, FW: int,
    SH: int, SW: int, DH: int, DW: int, PH: int, PW: int,
) -> None:  # fmt: skip
    """y[n, o] = b[o] + the taps of col (C_out*FH*FW, N*H*W) that land on plane (n, o).

    Each plane is accumulated split by stride phase, ph[p, q, a, c] = y[a*SH + p, c*SW + q]:
    then every tap adds a whole shifted (H, W) block of contiguous rows (vectorised), and
    one pass interleaves the phases into y with the bias. Flat arrays and unsigned indices
    keep Numba's negative-index checks out of the inner loops (they stop vectorising).
    """
    N, C, OH, OW = y.shape
    AH, AW = (OH + SH - 1) // SH, (OW + SW - 1) // SW
    HW, NHW = H * W, N * H * W
    cf, yf = col.reshape(-1), y.reshape(-1)
    u = np.uint64
    for n in range(N):
        ph = np.empty(SH * SW * AH * AW, dtype=y.dtype)
        for o in range(C):
            ph[:] = 0
            for i in range(FH):
                p, di, h0, h1 = _phase(i * DH - PH, SH, OH, H)
                for j in range(FW):
                    q, dj, w0, w1 = _phase(j * DW - PW, SW, OW, W)
                    src0 = ((o * FH + i) * FW + j) * NHW + n * HW
                    for h in range(h0, h1):
                        src = u(src0 + h * W + w0)
                        dst = u(((p * SW + q) * AH + h + di) * AW + w0 + dj)
                        for w in range(u(w1 - w0)):
                            ph[dst + w] += cf[src + w]
            _interleave(ph, yf, (n * C + o) * OH * OW, OH, OW, SH, SW, AH, AW, False, b[o])


@njit(fastmath=True)
def _im2col(
    dy: Any, col: Any, H: int, W: int, FH: int, FW: int,
    SH: int, SW: int, DH: int, DW: int, PH: int, PW: int,
) -> None:  # fmt: skip
    """col[(o, i, j), (n, h, w)] = dy[n, o, h*SH + i*DH - PH, w*SW + j*DW - PW], 0 outside.

    Each plane of dy is first split by stride phase (as in ``_col2im_bias``), so that every
    tap copies contiguous runs.
    """
    N, C, OH, OW = dy.shape
    AH, AW = (OH + SH - 1) // SH, (OW + SW - 1) // SW
    HW, NHW = H * W, N * H * W
    cf, df = col.reshape(-1), dy.reshape(-1)
    u = np.uint64
    for n in range(N):
        ph = np.empty(SH * SW * AH * AW, dtype=dy.dtype)
        for o in range(C):
            _interleave(ph, df, (n * C + o) * OH * OW, OH, OW, SH, SW, AH, AW, True, 0.0)
            for i in range(FH):
                p, di, h0, h1 = _phase(i * DH - PH, SH, OH, H)
                for j in range(FW):
                    q, dj, w0, w1 = _phase(j * DW - PW, SW, OW, W)
                    dst0 = ((o * FH + i) * FW + j) * NHW + n * HW
                    for h in range(H):
                        dst = u(dst0 + h * W)
                        if h < h0 or h >= h1:
                            for w in range(u(W)):
                                cf[dst + w] = 0
                            continue
                        src = u(((p * SW + q) * AH + h + di) * AW + dj)
                        for w in range(u(w0)):
                            cf[dst + w] = 0
                        for w in range(u(w0), u(w1)):
                            cf[dst + w] = ph[src + w]
                        for w in range(u(w1), u(W)):
                            cf[dst + w] = 0


# ------------------------------------------------------------------ Python entry points
def supported(x: Any, W: Any) -> bool:
    """True when these kernels take the transposed convolution: NumPy float32/float64
    arrays of one dtype."""
    return (
        type(x) is np.ndarray
        and type(W) is np.ndarray
        and x.dtype == W.dtype
        and x.dtype in (np.float32, np.float64)
        and x.size > 0
    )


def col2im_bias(
    col_T: Any, b: Any, y: Any, x_hw: tuple[int, int], kernel: tuple[int, int],
    stride: tuple[int, int], padding: tuple[int, int], dilation: tuple[int, int],
) -> None:  # fmt: skip
    """y (nb, C_out, OH, OW), C-contiguous, = col^T (C_out*FH*FW, nb*H*W) added onto its
    windows, plus b (C_out,). One thread; call it per block of images."""
    _col2im_bias(col_T, y, b, *x_hw, *kernel, *stride, *dilation, *padding)


def im2col_T(
    dy: Any, col_T: Any, x_hw: tuple[int, int], kernel: tuple[int, int],
    stride: tuple[int, int], padding: tuple[int, int], dilation: tuple[int, int],
) -> None:  # fmt: skip
    """col^T (C_out*FH*FW, nb*H*W), C-contiguous, := the window of every input pixel in dy
    (nb, C_out, OH, OW), C-contiguous. One thread; call it per block of images."""
    _im2col(dy, col_T, *x_hw, *kernel, *stride, *dilation, *padding)
