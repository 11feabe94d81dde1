"""Any convolution (groups = 1) as im2col and one product on the compiled tiles, no BLAS.

The reference is ``Conv2d`` in ``tinyconv/ops/conv.py``: im2col, then one matrix product by
NumPy's BLAS. This module keeps that method and changes who multiplies. The patch matrix is
built by a compiled, parallel im2col, channel-tap major::

    col[k*T + q] = x_pad[n, c, oh*SH + i*DH, ow*SW + j*DW]      k = (c*FH + i)*FW + j
                                                                q = (n*out_h + oh)*out_w + ow

(T >= Q = N*out_h*out_w floats per row, zeros past Q), for a chunk of images at a time
whose col holds about CHUNK_BYTES (so that it stays in cache), and the product is the register-tiled
micro-kernel of the stride-1 convolutions (``conv_tiles.tile_products``): with the tap
offsets offs[k] = k*T the "grid" of ``conv3x3`` is exactly this matrix, every position q a
real output, so there is no junk at all, whatever the stride, kernel size or map size. On
AVX-512 hosts where NumPy's OpenBLAS runs its AVX2 ("Haswell") kernels, which is what
``OPENBLAS_CORETYPE=Haswell`` or an OpenBLAS that does not know the CPU gives, the tiles
multiply 1.2-1.8x faster (measured on AMD EPYC Zen 5, 2 threads: FN 64 x K 288 x Q 6272
0.57 vs 1.03 ms, 128 x 576 x 6272 2.93 vs 4.56 ms, 256 x 1152 x 1568 2.84 vs 4.13 ms).

* forward: y[n, f, oh, ow] = b[f] + sum_k W[f, k] * col[k*T + q]  (``tile_products``);
* dW[f, k] = sum_q dy[f, q] * col[k*T + q]  (``tile_weight_grad``, blocks of QB positions
  added in order, then the chunks in order), col rebuilt from x (it is not kept: it is
  K/C times larger than x);
* dx: dcol[k, q] = sum_f W[f, k] * dy[f*T + q] (the tiles again, with the filters' roles
  swapped), then a compiled col2im that *gathers*: each input pixel adds its taps' values
  in tap order (i, then j), starting from 0, which is the order of the reference's
  ``_col2im_add``, so dx equals col2im of the same dcol bit for bit.

Every output is one fixed sum, so results do not depend on the thread count. Products
contract to FMAs: results equal the reference to float32 rounding (rel ~1e-6).

Arrays: float32 only (the reference serves the rest); x and dy any strides.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._jit import njit, prange
from ._windows import tap_range
from .channel_affine import planes
from .conv3x3 import (
    _buffer,
    _pack,
    _pack_transposed,
    _tile_weights,
    grid_weight_grad,
    unpack_epilogue,
)

Pair = tuple[int, int]
Pads = tuple[int, int, int, int]
L = 16  # positions per tile (conv_tiles.L)


def row_stride(Q: int) -> int:
    """T: Q rounded up to whole tiles, then to an odd number of 64-byte lines, so that the K
    rows a tile reads spread over the L1 sets (rows a multiple of 4 KiB apart share a set)."""
    T = -(-Q // L) * L
    return T + L if (T // L) % 2 == 0 else T


@njit(parallel=True)
def _im2col(
    xf: Any, sn: int, sc: int, N: int, C: int, H: int, W: int, col: Any, T: int,
    FH: int, FW: int, SH: int, SW: int, DH: int, DW: int, pt: int, pl: int,
    out_h: int, out_w: int,
) -> None:  # fmt: skip
    """col[k*T + q] as the module docstring, 0 for taps in the padding and for q >= Q.

    x is read flat: x[n, c, h, w] = xf[n*sn + c*sc + h*W + w] (rows contiguous). Indices are
    unsigned, so Numba adds no negative-index fix-up to the copies."""
    P = out_h * out_w
    K = C * FH * FW
    u = np.uint64
    zero = np.float32(0)
    for task in prange(C * N):  # one (channel, image) plane: its FH*FW rows of col
        c = task // N
        n = task - c * N
        plane = u(n * sn + c * sc)
        for i in range(FH):
            for j in range(FW):
                dst0 = u(((c * FH + i) * FW + j) * T + n * P)
                # the outputs whose tap column is inside the image: ow*SW + w0 in [0, W)
                w0 = j * DW - pl
                lo, hi = tap_range(w0, SW, W, out_w)
                for oh in range(out_h):
                    h = oh * SH + i * DH - pt
                    dst = dst0 + u(oh * out_w)
                    if h < 0 or h >= H:
                        for ow in range(out_w):
                            col[dst + u(ow)] = zero
                        continue
                    for ow in range(lo):
                        col[dst + u(ow)] = zero
                    src = plane + u(h * W + lo * SW + w0)
                    for ow in range(hi - lo):
                        col[dst + u(lo + ow)] = xf[src + u(ow * SW)]
                    for ow in range(hi, out_w):
                        col[dst + u(ow)] = zero
    for k in prange(K):
        for q in range(N * P, T):
            col[k * T + q] = zero


def _flat(x: Any) -> tuple[Any, int, int]:
    """(flat memory, element stride of N, of C) of x (N, C, H, W): ``channel_affine.planes``
    for the layouts of convolutions and batch norms (NCHW, channel-major); others are copied."""
    return planes(x) or planes(np.ascontiguousarray(x))  # type: ignore[return-value]


@njit(parallel=True)
def _col2im_gather(
    dcol: Any, T: int, dxf: Any, N: int, C: int, H: int, W: int, FH: int, FW: int,
    SH: int, SW: int, DH: int, DW: int, pt: int, pl: int, out_h: int, out_w: int,
) -> None:  # fmt: skip
    """dx[n, c, h, w] = dxf[((n*C + c)*H + h)*W + w] = the sum of dcol[k*T + q] over the taps
    (i, j), in that order, of the outputs q whose window holds pixel (h, w): col2im, one
    (image, channel) plane per task, the plane zeroed and then each tap added over it in
    tap order (the reference's order: the same sums, the same bits)."""
    P = out_h * out_w
    u = np.uint64
    zero = np.float32(0)
    # per tap row i: the outputs oh in [rlo, rhi) whose row lies in the image; per tap column
    # j: the outputs ow in [clo, chi) likewise
    rlo, rhi = np.empty(FH, np.int64), np.empty(FH, np.int64)
    clo, chi = np.empty(FW, np.int64), np.empty(FW, np.int64)
    for i in range(FH):
        h0 = i * DH - pt
        rlo[i], rhi[i] = tap_range(h0, SH, H, out_h)
    for j in range(FW):
        w0 = j * DW - pl
        clo[j], chi[j] = tap_range(w0, SW, W, out_w)
    for task in prange(N * C):
        n = task // C
        c = task - n * C
        plane = u(task * H * W)
        for p in range(H * W):
            dxf[plane + u(p)] = zero
        for i in range(FH):
            for j in range(FW):
                k = (c * FH + i) * FW + j
                a, m = clo[j], chi[j] - clo[j]
                for oh in range(rlo[i], rhi[i]):
                    src = u(k * T + n * P + oh * out_w + a)
                    dst = plane + u((oh * SH + i * DH - pt) * W + a * SW + j * DW - pl)
                    for ow in range(m):
                        dxf[dst + u(ow * SW)] += dcol[src + u(ow)]


def _out_size(n: int, F: int, S: int, p0: int, p1: int, d: int) -> int:
    return (n + p0 + p1 - d * (F - 1) - 1) // S + 1


def im2col(
    x: Any, W_shape: tuple[int, ...], stride: Pair, pads: Pads, dilation: Pair, keep: bool = False
) -> Any:
    """(col (K*T,) float32, T, out_h, out_w) of x (N, C, H, W) for filters of ``W_shape``;
    col is this thread's scratch buffer, valid until the next call here (``keep``: a new
    array, to be kept)."""
    N, C, H, W_in = x.shape
    _, _, FH, FW = W_shape
    pt, pb, pl, pr = pads
    out_h = _out_size(H, FH, stride[0], pt, pb, dilation[0])
    out_w = _out_size(W_in, FW, stride[1], pl, pr, dilation[1])
    T = row_stride(N * out_h * out_w)
    size = C * FH * FW * T
    col = np.empty(size, np.float32) if keep else _buffer("col", size)
    xf, sn, sc = _flat(x)
    _im2col(xf, sn, sc, N, C, H, W_in, col, T, FH, FW, stride[0], stride[1], dilation[0],
            dilation[1], pt, pl, out_h, out_w)  # fmt: skip
    return col, T, out_h, out_w


CHUNK_BYTES = 4 << 20  # col per chunk of images (measured: 4-8 MiB best, see supported)
# Conv2d keeps the forward's col for dW up to this size (else dW rebuilds it from x). Measured
# (fast_mnist's 32->64 @14 3x3/2 at batch 128, a 7.2 MB col): forward + dW 2.26 vs 2.99 ms.
KEEP_BYTES = 32 << 20


def supported(
    x: Any, W: Any, stride: Pair, pads: Pads, dilation: Pair, groups: int, grad: bool = True
) -> bool:
    """Whether this path computes the convolution, and is measured to win.

    float32 NumPy arrays and one group; the batch goes through in chunks of images whose
    col holds CHUNK_BYTES (4 MiB, in cache: whole-batch cols of 15-60 MB were up to 1.8x
    slower). Measured on AMD EPYC Zen 5, 2 threads, OpenBLAS's Haswell kernels, ms this
    path vs the one before it (the reference, or for 3x3/2 layers of 16-64 channels a
    stride-2 kernel on the input's stride phases, removed since: it lost on every shape):

    * stride > 1, every measured shape. Forward: resnet18's 7x7/2 stem at batch 8 7.7 vs
      11.5, batch 1 0.92 vs 1.68; 64->128 @56 3x3 2.8 vs 4.8, 1x1 0.49 vs 1.06; 128->256 @28
      3x3 3.3 vs 4.6, 1x1 0.39 vs 0.87; 256->512 @14 3x3 3.8 vs 4.8, 1x1 0.43 vs 0.83;
      fast_mnist's layers at evaluation (batch 1000) 1->32 @28 5x5 2.5 vs 4.0, 32->64 @14
      3x3 10.3 vs 13.2. Forward + backward at batch 128 (fast_mnist): 1->32 @28 5x5 1.04
      vs 1.68, 32->64 @14 3x3 4.4 vs 5.9.
    * stride 1, only without gradients and only 3x3 layers of more than 128 channels (those
      the direct kernels of ``conv3x3`` leave to the reference): batch 8, 256->256 @14 5.5
      vs 8.7, 512->512 @7 6.7 vs 9.4. Fewer channels: the direct kernels win (128 @28 5.2
      vs 7.5 here).
    """
    if type(x) is not np.ndarray or x.dtype != np.float32 or W.dtype != np.float32:
        return False
    if groups != 1 or x.ndim != 4 or x.shape[0] == 0:
        return False
    H, W_in = x.shape[2:]
    C, FH, FW = W.shape[1:]
    pt, pb, pl, pr = pads
    if _out_size(H, FH, stride[0], pt, pb, dilation[0]) < 1:
        return False
    if _out_size(W_in, FW, stride[1], pl, pr, dilation[1]) < 1:
        return False
    if stride == (1, 1):
        return not grad and (FH, FW) == (3, 3) and C > 128
    return True


def conv_forward(
    x: Any,
    W: Any,
    b: Any,
    stride: Pair,
    pads: Pads,
    dilation: Pair,
    epilogue: Any = None,
    cols: list | None = None,
) -> Any:
    """y (N, FN, out_h, out_w) float32 C-contiguous = conv2d(x, W, b), in chunks of images
    whose col holds about CHUNK_BYTES (every output is its own sum: chunks change no bit).
    ``epilogue`` = (a, c, r, relu): an eval-mode batch norm's y * a + c, the residual r (or
    None) and the ReLU applied as the outputs are unpacked (``conv3x3.unpack_epilogue``).
    ``cols``: a list that receives every chunk's col (new arrays), for ``conv_weight_grad``,
    when the whole col holds at most KEEP_BYTES; else it stays empty."""
    from . import conv_tiles  # noqa: PLC0415  (compiles on first use)

    N, C, H, W_in = x.shape
    FN, _, FH, FW = W.shape
    pt, pb, pl, pr = pads
    out_h = _out_size(H, FH, stride[0], pt, pb, dilation[0])
    out_w = _out_size(W_in, FW, stride[1], pl, pr, dilation[1])
    K = C * FH * FW
    nc = _chunk(x.shape, W.shape, (out_h, out_w))
    wt, nob = _tile_weights(np.asarray(W, np.float32).reshape(FN, K), conv_tiles.OB)
    y = np.empty((N, FN, out_h, out_w), np.float32)
    bias = np.zeros(FN, np.float32) if b is None else np.asarray(b, np.float32)
    keep = cols is not None and K * N * out_h * out_w * 4 <= KEEP_BYTES
    for n0 in range(0, N, nc):
        xc = x[n0 : n0 + nc]
        col, T, _, _ = im2col(xc, W.shape, stride, pads, dilation, keep=keep)
        if keep:
            cols.append(col)
        offs = np.arange(K, dtype=np.uint64) * np.uint64(T)
        out = _buffer("out", nob * conv_tiles.OB * T)
        conv_tiles.tile_products(col, wt, offs, out, nob, T)
        ep = epilogue
        if ep is not None and ep[2] is not None:
            ep = (ep[0], ep[1], ep[2][n0 : n0 + nc], ep[3])
        # q = (n*out_h + h)*out_w + w: a grid without gaps
        unpack_epilogue(out, T, bias, y[n0 : n0 + nc], out_h, out_w, ep)
    return y


def _chunk(x_shape: tuple[int, ...], W_shape: tuple[int, ...], out_hw: Pair) -> int:
    """Images per chunk: those whose col holds about CHUNK_BYTES (at least one)."""
    K = W_shape[1] * W_shape[2] * W_shape[3]
    return max(1, min(x_shape[0], CHUNK_BYTES // (K * out_hw[0] * out_hw[1] * 4)))


def conv_weight_grad(
    x: Any,
    dy: Any,
    W_shape: tuple[int, ...],
    stride: Pair,
    pads: Pads,
    dilation: Pair,
    cols: list | None = None,
) -> Any:
    """dW (FN, C, FH, FW) float32 = dy (N, FN, out_h, out_w) against col(x), chunk by chunk of
    images (``cols``: the forward's, else rebuilt from x); the chunks' sums added in chunk
    order (free of the thread count)."""
    from .conv_tiles import LT  # noqa: PLC0415  (compiles on first use)

    FN = W_shape[0]
    N, _, out_h, out_w = dy.shape
    nc = _chunk(dy.shape, W_shape, (out_h, out_w))  # N is dy's too
    FNp = -(-FN // LT) * LT
    dW = None
    for i, n0 in enumerate(range(0, N, nc)):
        if cols is None:
            col, T, _, _ = im2col(x[n0 : n0 + nc], W_shape, stride, pads, dilation)
        else:
            col, T = cols[i], row_stride(min(nc, N - n0) * out_h * out_w)
        offs = np.arange(col.shape[0] // T, dtype=np.uint64) * np.uint64(T)
        dyt = _buffer("dyt", T * FNp)
        _pack_transposed(np.ascontiguousarray(dy[n0 : n0 + nc]), dyt, FNp, out_h, out_w)
        part = grid_weight_grad(col, offs, dyt, FNp, W_shape)  # dyt[q*FNp + f]
        dW = part if dW is None else np.add(dW, part, out=dW)
    return dW


def conv_data_grad(
    dy: Any, W: Any, x_shape: tuple[int, ...], stride: Pair, pads: Pads, dilation: Pair
) -> Any:
    """dx (N, C, H, W) float32: dcol = W^T dy on the tiles, then the gathering col2im, chunk
    by chunk of images."""
    from . import conv_tiles  # noqa: PLC0415  (compiles on first use)

    N, C, H, W_in = x_shape
    FN, _, FH, FW = W.shape
    _, _, out_h, out_w = dy.shape
    nc = _chunk(x_shape, W.shape, (out_h, out_w))
    wt, nob = _tile_weights(np.asarray(W, np.float32).reshape(FN, -1).T, conv_tiles.OB)
    dx = np.empty(x_shape, np.float32)
    pt, _, pl, _ = pads
    for n0 in range(0, N, nc):
        n = min(nc, N - n0)
        T = row_stride(n * out_h * out_w)
        dyg = _buffer("dy_rows", FN * T)  # dyg[f*T + q] = dy[n, f, oh, ow], 0 past Q
        _pack(np.ascontiguousarray(dy[n0 : n0 + n]), dyg, T, 0, out_h, out_w)
        offs = np.arange(FN, dtype=np.uint64) * np.uint64(T)
        dcol = _buffer("dcol", nob * conv_tiles.OB * T)  # (K_pad*T,)
        conv_tiles.tile_products(dyg, wt, offs, dcol, nob, T)
        _col2im_gather(dcol, T, dx[n0 : n0 + n].reshape(-1), n, C, H, W_in, FH, FW, stride[0],
                       stride[1], dilation[0], dilation[1], pt, pl, out_h, out_w)  # fmt: skip
    return dx
