"""Stride-1 convolution (groups = 1), compiled: direct products on a "gap grid", no im2col.

The reference is ``Conv2d`` in ``tinyconv/ops/conv.py`` (im2col + one matrix product). Here
no patch matrix is built. The input is copied once into a layout in which every kernel tap
of every output is a *contiguous* run of memory, and register-tiled micro-kernels
(``conv_tiles.py``, generated) multiply straight from it.

The gap grid. All images of one channel are laid end to end, row after row, with Zc zero
columns after every row and Zr zero rows after every image::

    xs[c*T + lead + (n*Hs + r)*Ws + s] = x[n, c, r, s]      Hs = H + Zr,  Ws = W + Zc
    (every other element of xs is 0;  lead = pt*Ws + pl)

A zero column closes a row on the right and opens the next one on the left, a zero row ends
one image and begins the next, so the gaps are the padding, shared by neighbours:
Zc = max(pl, pr) columns suffice (Zr likewise). Number the outputs on the same grid,
q = (n*Hs + h)*Ws + w; then tap (i, j) of output q reads

    xs[c*T + q + i*DH*Ws + j*DW]       (the same offset for every output: offs[c, i, j])

so a tile of 16 consecutive outputs needs, per tap, 16 consecutive floats: two AVX loads,
multiplied by 4 filters' weights (8 accumulators of 8 lanes stay in registers; dW: 5 taps x
16 filters per tile, the filters' lanes contiguous in dy transposed to (q, f)). With AVX-512
(32 registers of 16 floats) the tiles are 16 filters x 16 outputs and 9 taps x 16 filters
(``conv_tiles.SHAPE``): the AVX2 shapes there keep only 4-5 accumulators in flight, too few
to cover the FMA latency (measured on AMD EPYC Zen 5, 1 thread, DeepConvNet's six layers:
tile products 15.5 -> 9.9 ms forward, 13.9 -> 9.7 ms dW).
Grid outputs with h >= out_h or w >= out_w (they straddle a gap) are junk: computed, then
never read (forward), or given a zero gradient (dW). For DeepConvNet's maps the junk is
7-21 % of the grid, against a 9x larger im2col copy and BLAS's packing of it.

* forward: y[n, f, h, w] = b[f] + sum_k W[f, k] * xs[q + offs[k]], k = (c, i, j).
* dx: the convolution of dy (padded by d*(F - 1) - P) with the filters flipped in H and W
  and their channels swapped: the same kernel (needs P <= d*(F - 1)).
* dW[f, k] = sum_q dy_grid[f, q] * xs[q + offs[k]], dy_grid = dy on the grid, zero at junk.

Every output is one fixed sum (over k, in order; dW: fixed blocks of the grid, added in block
order), so results do not depend on the thread count. Products contract to FMAs: results
equal the reference to float32 rounding (rel ~1e-6), not bit for bit.

Measured (AMD EPYC AVX2, 1 thread, batch 100, DeepConvNet's layers): see
``bench/conv3x3.py`` and the dispatch rule in ``supported``.

Arrays: float32 only (the reference serves the rest); x and dy any strides.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ._jit import njit, prange
from ._jit import vector_width as _vector_width

# conv_tiles compiles its kernels when imported (seconds the first time, then cached): it is
# imported by the functions that need it, not by ``supported``
L = 16  # = conv_tiles.L, grid positions per tile (tests/test_kernels_conv3x3.py checks it)

QB = 1024  # grid positions per weight-gradient block (fixed: results free of the thread count)

Pair = tuple[int, int]
Pads = tuple[int, int, int, int]


_scratch = threading.local()  # per thread: one reusable float32 buffer per role


def _buffer(role: str, size: int) -> Any:
    """A float32 scratch array of ``size`` for ``role``, kept per thread and reused.

    The grid outputs and dy's transposed copy are 1-6 MB per layer and live only inside one
    call; a fresh array costs a page fault per 4 KiB touched (measured: ~1 ms of a 7.5 ms
    16->16 @28 forward). The buffer grows to the largest size asked and stays allocated.
    """
    buffers = getattr(_scratch, "buffers", None)
    if buffers is None:
        buffers = _scratch.buffers = {}
    buf = buffers.get(role)
    if buf is None or buf.size < size:
        buf = buffers[role] = np.empty(size, np.float32)
    return buf[:size]


class Grid:
    """The gap grid of one convolution: sizes, tap offsets (see the module docstring)."""

    def __init__(self, x_shape: tuple[int, ...], FH: int, FW: int, pads: Pads, dilation: Pair):
        N, C, H, W = x_shape
        pt, pb, pl, pr = pads
        DH, DW = dilation
        self.N, self.C, self.H, self.W = N, C, H, W
        self.out_h = H + pt + pb - DH * (FH - 1)
        self.out_w = W + pl + pr - DW * (FW - 1)
        # zero rows/columns: the padding of both neighbours, and room for out_h grid rows
        self.Zr = max(pt, pb, pt + pb - DH * (FH - 1), 0)
        self.Zc = max(pl, pr, pl + pr - DW * (FW - 1), 0)
        self.Hs, self.Ws = H + self.Zr, W + self.Zc
        self.lead = pt * self.Ws + pl
        self.Q = N * self.Hs * self.Ws
        self.Qp = -(-self.Q // L) * L  # whole tiles
        reach = DH * (FH - 1) * self.Ws + DW * (FW - 1)  # the farthest tap of an output
        # per channel; T*4 bytes is kept 5 cache lines off a multiple of 4 KiB, else the
        # channels of one tile land in the same L1 sets (measured: 64-channel layers 2x slower)
        self.T = -(-max(self.Qp + reach, self.lead + self.Q) // 1024) * 1024 + 80
        taps = (np.arange(FH)[:, None] * DH * self.Ws + np.arange(FW)[None, :] * DW).ravel()
        offs = np.arange(C)[:, None] * self.T + taps[None, :]
        self.offs = offs.ravel().astype(np.uint64)  # (C*FH*FW,), k = (c, i, j)

    def pack(self, x: Any) -> Any:
        """x (N, C, H, W) -> xs (C*T,) float32 on the gap grid."""
        xs = np.empty(self.C * self.T, np.float32)
        _pack(np.ascontiguousarray(x), xs, self.T, self.lead, self.Hs, self.Ws)
        return xs


@njit(parallel=True)
def _pack(x: Any, xs: Any, T: int, lead: int, Hs: int, Ws: int) -> None:
    """xs[c*T + lead + (n*Hs + r)*Ws + s] = x[n, c, r, s], zero everywhere else.

    x C-contiguous. Indices are unsigned (no negative-index fix-up) so the row copies
    vectorise."""
    N, C, H, W = x.shape
    xf = x.reshape(-1)
    u = np.uint64
    for c in prange(C):
        base = u(c * T)
        for p in range(lead):
            xs[base + u(p)] = 0
        for n in range(N):
            for r in range(H):
                row = base + u(lead + (n * Hs + r) * Ws)
                src = u(((n * C + c) * H + r) * W)
                for s in range(W):
                    xs[row + u(s)] = xf[src + u(s)]
                for s in range(W, Ws):
                    xs[row + u(s)] = 0
            row = base + u(lead + (n * Hs + H) * Ws)
            for p in range((Hs - H) * Ws):
                xs[row + u(p)] = 0
        for p in range(lead + N * Hs * Ws, T):
            xs[base + u(p)] = 0


@njit(parallel=True)
def _unpack(out: Any, Qp: int, b: Any, y: Any, Hs: int, Ws: int) -> None:
    """y[n, f, h, w] = out[f*Qp + (n*Hs + h)*Ws + w] + b[f]: the valid grid outputs."""
    N, F, oh, ow = y.shape
    yf = y.reshape(-1)
    u = np.uint64
    for t in prange(N * F):
        n = t // F
        f = t - n * F
        bias = b[f]
        for h in range(oh):
            src = u(f * Qp + (n * Hs + h) * Ws)
            dst = u((t * oh + h) * ow)
            for w in range(ow):
                yf[dst + u(w)] = out[src + u(w)] + bias


@njit(parallel=True)
def _unpack_affine(
    out: Any, Qp: int, b: Any, a: Any, c: Any, r: Any, residual: bool, relu: bool, y: Any,
    Hs: int, Ws: int,
) -> None:  # fmt: skip
    """``_unpack`` followed by an eval-mode batch norm's affine map, a residual and a ReLU:
    y = max((out + b[f]) * a[f] + c[f] (+ r), 0 if relu), the operations of the layers in
    their order (no fused multiply-add), so the bits of Conv2d then ``channel_affine``."""
    N, F, oh, ow = y.shape
    yf = y.reshape(-1)
    u = np.uint64
    zero = np.float32(0)
    for t in prange(N * F):
        n = t // F
        f = t - n * F
        bias, av, cv = b[f], a[f], c[f]
        for h in range(oh):
            src = u(f * Qp + (n * Hs + h) * Ws)
            dst = u((t * oh + h) * ow)
            for w in range(ow):
                v = out[src + u(w)] + bias
                v = v * av + cv
                if residual:
                    v = v + r[n, f, h, w]
                if relu:
                    v = zero if v < zero else v
                yf[dst + u(w)] = v


def unpack_epilogue(out: Any, Qp: int, b: Any, y: Any, Hs: int, Ws: int, epilogue: Any) -> None:
    """y from the grid outputs, through ``_unpack`` or, with ``epilogue`` = (a, c, r, relu),
    through ``_unpack_affine`` (r None: no residual)."""
    if epilogue is None:
        _unpack(out, Qp, b, y, Hs, Ws)
        return
    a, c, r, relu = epilogue
    has_r = r is not None
    r = r if has_r else np.zeros((1, 1, 1, 1), np.float32)
    a, c = np.ascontiguousarray(a, np.float32), np.ascontiguousarray(c, np.float32)
    _unpack_affine(out, Qp, b, a, c, r, has_r, bool(relu), y, Hs, Ws)


@njit(parallel=True)
def _unpack_relu(
    out: Any, Qp: int, b: Any, y: Any, mask: Any, keep: bool, Hs: int, Ws: int
) -> None:
    """``_unpack`` followed by the ReLU: y = max(out + b, 0); mask = y > 0 when ``keep``."""
    N, F, oh, ow = y.shape
    yf = y.reshape(-1)
    mf = mask.reshape(-1)
    u = np.uint64
    zero = np.float32(0)
    for t in prange(N * F):
        n = t // F
        f = t - n * F
        bias = b[f]
        for h in range(oh):
            src = u(f * Qp + (n * Hs + h) * Ws)
            dst = u((t * oh + h) * ow)
            for w in range(ow):
                v = out[src + u(w)] + bias
                yf[dst + u(w)] = v if (v > zero or v != v) else zero  # NumPy's maximum
            if keep:
                for w in range(ow):
                    mf[dst + u(w)] = yf[dst + u(w)] > zero


@njit(parallel=True)
def _reblock(Wk: Any, wt: Any, OB: int) -> None:
    """wt[(ob*K + k)*OB + o] = Wk[ob*OB + o, k], 0 for the filters past FN (Wk any strides)."""
    FN, K = Wk.shape
    nob = wt.shape[0] // (K * OB)
    zero = np.float32(0)
    for ob in prange(nob):  # rows read whole, written every OB floats (measured faster than
        for o in range(OB):  # the other way round: 512 x 4608 in 0.52 vs 0.76 ms)
            f = ob * OB + o
            dst = ob * K * OB + o
            if f < FN:
                for k in range(K):
                    wt[dst + k * OB] = Wk[f, k]
            else:
                for k in range(K):
                    wt[dst + k * OB] = zero


def _tile_weights(Wk: Any, OB: int) -> tuple[Any, int]:
    """W (FN, K) -> wt with wt[(ob*K + k)*OB + o] = W[ob*OB + o, k] (FN padded with zeros):
    one compiled pass from any view (a transposed W is read in place)."""
    FN, K = Wk.shape
    nob = -(-FN // OB)
    wt = np.empty(nob * OB * K, np.float32)
    _reblock(Wk, wt, OB)
    return wt, nob


def grid_products(xs: Any, Wk: Any, offs: Any, Qp: int, role: str = "out") -> Any:
    """out (FN_pad*Qp,) float32, out[f*Qp + q] = sum_k Wk[f, k] * xs[q + offs[k]]: the tile
    products of filters Wk (FN, K) over a grid of Qp positions (a scratch buffer per ``role``,
    valid until the next call with that role on this thread)."""
    from . import conv_tiles  # noqa: PLC0415  (compiles on first use)

    wt, nob = _tile_weights(np.asarray(Wk, np.float32), conv_tiles.OB)
    out = _buffer(role, nob * conv_tiles.OB * Qp)
    conv_tiles.tile_products(xs, wt, offs, out, nob, Qp)
    return out


def grid_weight_grad(xs: Any, offs: Any, dyt: Any, FNp: int, W_shape: tuple[int, ...]) -> Any:
    """dW (W_shape) float32 from xs and dy transposed on the same grid (``dyt``, FNp filters
    per position, 0 at junk): per block of QB positions the tiles' partial sums, the blocks
    then added in order (free of the thread count)."""
    from .conv_tiles import TT, tile_weight_grad  # noqa: PLC0415  (compiles on first use)

    FN = W_shape[0]
    K = offs.shape[0]
    Kp = -(-K // TT) * TT  # taps in whole tiles: the extra ones read offset 0, dropped
    offs_p = np.zeros(Kp, np.uint64)
    offs_p[:K] = offs
    Qp = dyt.shape[0] // FNp
    nblocks = -(-Qp // QB)
    part = np.empty(nblocks * Kp * FNp, np.float32)
    tile_weight_grad(xs, dyt, offs_p, part, FNp, QB)
    dW_T = part.reshape(nblocks, Kp, FNp).sum(axis=0)  # blocks added in order
    return np.ascontiguousarray(dW_T[:K, :FN].T).reshape(W_shape)


def supported(
    x: Any, W: Any, stride: Pair, pads: Pads, dilation: Pair, groups: int, grad: bool = True
) -> bool:
    """Whether these kernels compute this convolution, and are measured to win.

    float32 NumPy arrays, stride 1, one group, padding no larger than d*(F - 1) (so that dx
    is the flipped convolution), and the measured rule: 3x3 kernels with one input channel
    or 16 to 64, and at most 64 filters. Measured (bench/conv3x3.py, 1 thread, batch 100, CPU
    time, forward / dx / dW in ms, this kernel vs the reference): 1->16 @28 1.1/-/1.7 vs
    1.7/-/1.7 (a first layer needs no dx); 16->16 @28 7.5/6.4/5.9 vs 11.3/10.3/10.4;
    32->32 @14 (P=2) 7.2/6.9/6.1 vs 11.3/8.3/10.3; 64->64 @8 8.2/8.2/7.7 vs 10.6/9.8/9.7.
    2 to 15 channels and more than 64 are not measured (past ~64 a tile's reads leave L1).

    Without gradients (``grad=False``: inference) on AVX-512 (16-float tiles) also up to 128
    channels and 128 filters: measured on AMD EPYC Zen 5, batch 8 (resnet18's layers), forward
    ms at 2 threads, this kernel vs the reference with OpenBLAS's Haswell / SkylakeX kernels:
    64->64 @56 5.1 vs 10.2 / 7.4; 128->128 @28 5.2 vs 9.3 / 6.6; 256->256 @14 5.9 vs 8.6 / 6.3
    and 512->512 @7 7.6 vs 8.8 / 7.8 (so not those: BLAS's AVX-512 kernels win there). With
    gradients the weight gradient's per-block partial sums (blocks x C*9 x FN floats) grow
    too large past 64 x 64.
    """
    if type(x) is not np.ndarray or x.dtype != np.float32 or W.dtype != np.float32:
        return False
    FN, Cg, FH, FW = W.shape
    DH, DW = dilation
    pt, pb, pl, pr = pads
    most = 64 if grad or _vector_width() < 16 else 128
    return (
        stride == (1, 1)
        and groups == 1
        and (FH, FW) == (3, 3)
        and max(pt, pb) <= DH * (FH - 1)
        and max(pl, pr) <= DW * (FW - 1)
        and (Cg == 1 or 16 <= Cg <= most)
        and FN <= most
    )


def conv_forward(x: Any, W: Any, b: Any, pads: Pads, dilation: Pair) -> tuple[Any, Any]:
    """y (N, FN, out_h, out_w) float32 C-contiguous = conv2d(x, W, b) at stride 1, and xs,
    x on the gap grid (what ``conv_weight_grad`` reads: keep it instead of x)."""
    y, xs, _ = _forward(x, W, b, pads, dilation)
    return y, xs


def conv_affine_forward(x: Any, W: Any, b: Any, pads: Pads, dilation: Pair, epilogue: Any) -> Any:
    """y = the stride-1 convolution with ``epilogue`` = (a, c, r, relu) applied as the outputs
    leave the grid (``unpack_epilogue``): an eval-mode Conv2d -> BatchNorm2d (-> + r) (->
    ReLU) in one pass (inference: nothing is kept for backward)."""
    g, _, out, bias = _grid_outputs(x, W, b, pads, dilation)
    y = np.empty((g.N, W.shape[0], g.out_h, g.out_w), np.float32)
    unpack_epilogue(out, g.Qp, bias, y, g.Hs, g.Ws, epilogue)
    return y


def conv_relu_forward(
    x: Any, W: Any, b: Any, pads: Pads, dilation: Pair, keep_mask: bool
) -> tuple[Any, Any, Any]:
    """y = relu(conv2d(x, W, b)) at stride 1 (the ReLU applied as the outputs leave the
    grid: no pass of its own), xs as in ``conv_forward``, and the ReLU mask y > 0 as uint8
    of y's shape when ``keep_mask`` (what ``relu_grad`` takes), else None."""
    return _forward(x, W, b, pads, dilation, relu=True, keep_mask=keep_mask)


def relu_grad(dy: Any, mask: Any) -> tuple[Any, Any]:
    """(g, db): g = dy where mask (the uint8 of ``conv_relu_forward``), else 0, float32
    C-contiguous; db (FN,) float32 = the sum of g over (N, H, W) (``bias_grad``'s sums)."""
    N, FN = mask.shape[:2]
    g = np.empty(mask.shape, np.float32)
    sums = np.empty(N * FN, np.float64)
    dyc = np.ascontiguousarray(dy, np.float32)
    _mask_grad(dyc.reshape(N * FN, -1), mask.reshape(N * FN, -1), g.reshape(N * FN, -1), sums)
    return g, sums.reshape(N, FN).sum(axis=0).astype(np.float32)


def bias_grad(dy: Any) -> Any:
    """db (FN,) float32 = sum of dy (N, FN, H, W) over (N, H, W): each (n, f) plane summed in
    float64 on all threads, then the planes in image order (free of the thread count)."""
    N, FN = dy.shape[:2]
    sums = np.empty(N * FN, np.float64)
    _plane_sums(np.ascontiguousarray(dy, np.float32).reshape(N * FN, -1), sums)
    return sums.reshape(N, FN).sum(axis=0).astype(np.float32)


# reassociation lets the plane sums vectorise (a fixed order per compiled kernel: results
# still free of the thread count); strict order, a chain of dependent adds, cost ~1.4 ms
SUMS = {"reassoc"}


@njit(parallel=True, fastmath=SUMS)
def _mask_grad(dy: Any, mask: Any, g: Any, sums: Any) -> None:
    """Per plane p: g[p] = dy[p] * mask[p], sums[p] = the sum of g[p] (float64)."""
    P, n = g.shape
    for p in prange(P):
        acc = 0.0
        for i in range(n):
            v = dy[p, i] if mask[p, i] else np.float32(0)
            g[p, i] = v
            acc += v
        sums[p] = acc


@njit(parallel=True, fastmath=SUMS)
def _plane_sums(dy: Any, sums: Any) -> None:
    """sums[p] = the sum of plane dy[p] in float64."""
    P, n = dy.shape
    for p in prange(P):
        acc = 0.0
        for i in range(n):
            acc += dy[p, i]
        sums[p] = acc


def conv_relu_pool_forward(
    x: Any, W: Any, b: Any, pads: Pads, dilation: Pair, keep_arg: bool
) -> tuple[Any, Any, Any]:
    """y = max_pool2d(relu(conv2d(x, W, b)), 2) at stride 1: the ReLU and the 2x2 pool applied
    as the outputs leave the grid (the convolution's output is never stored), xs as in
    ``conv_forward``, and when ``keep_arg`` the int8 code of each window for backward: its
    argmax k = 2a + b (first maximum, as the pool), plus 4 when that element passed the
    ReLU (y > 0 there)."""
    g, xs, out, bias = _grid_outputs(x, W, b, pads, dilation)
    y = np.empty((g.N, W.shape[0], g.out_h // 2, g.out_w // 2), np.float32)
    arg = np.empty(y.shape if keep_arg else (1, 1, 1, 1), np.int8)
    _unpack_relu_pool2(out, g.Qp, bias, y, arg, keep_arg, g.Hs, g.Ws)
    return y, xs, arg if keep_arg else None


def pool_relu_grad(dy: Any, arg: Any, out_hw: Pair) -> tuple[Any, Any]:
    """(g, db) for ``conv_relu_pool_forward``: g (N, FN, out_h, out_w) float32 = the pooled
    gradient dy at each window's argmax where it passed the ReLU, 0 elsewhere (and in the
    rows and columns the pool's floor left out); db = the sums of g over (N, H, W)."""
    N, FN = arg.shape[:2]
    g = np.empty((N, FN, *out_hw), np.float32)
    sums = np.empty(N * FN, np.float64)
    _pool_relu_grad(np.ascontiguousarray(dy, np.float32), arg, g, sums)
    return g, sums.reshape(N, FN).sum(axis=0).astype(np.float32)


@njit(parallel=True)
def _unpack_relu_pool2(
    out: Any, Qp: int, b: Any, y: Any, arg: Any, keep: bool, Hs: int, Ws: int
) -> None:
    """y[n, f, i, j] = the 2x2 max of relu(out + b) on the grid; arg = k + 4*(relu kept it).

    The arithmetic of the layers: r = maximum(v + b, 0) (NaN stays NaN), then the pool's
    running pick over the taps in order, a tap winning only when strictly greater."""
    N, F, ph, pw = y.shape
    yf = y.reshape(-1)
    af = arg.reshape(-1)
    u = np.uint64
    zero = np.float32(0)
    for t in prange(N * F):
        n = t // F
        f = t - n * F
        bias = b[f]
        for i in range(ph):
            r0 = u(f * Qp + (n * Hs + 2 * i) * Ws)
            r1 = r0 + u(Ws)
            dst = u((t * ph + i) * pw)
            for j in range(pw):
                c = u(2 * j)
                v = out[r0 + c] + bias
                best = v if (v > zero or v != v) else zero
                k = 0
                v = out[r0 + c + u(1)] + bias
                r = v if (v > zero or v != v) else zero
                m = r > best
                k = 1 if m else k
                best = r if (m or r != r) else best
                v = out[r1 + c] + bias
                r = v if (v > zero or v != v) else zero
                m = r > best
                k = 2 if m else k
                best = r if (m or r != r) else best
                v = out[r1 + c + u(1)] + bias
                r = v if (v > zero or v != v) else zero
                m = r > best
                k = 3 if m else k
                best = r if (m or r != r) else best
                yf[dst + u(j)] = best
                if keep:
                    # the ReLU mask at the winner: its r > 0 (r = best unless NaN came later)
                    wv = out[(r0 if k < 2 else r1) + c + u(k & 1)] + bias
                    af[dst + u(j)] = k + (4 if wv > zero else 0)


@njit(parallel=True, fastmath=SUMS)
def _pool_relu_grad(dy: Any, arg: Any, g: Any, sums: Any) -> None:
    """g: dy at each window's argmax when the ReLU kept it, 0 elsewhere; sums per plane."""
    N, F, ph, pw = dy.shape
    oh, ow = g.shape[2], g.shape[3]
    zero = np.float32(0)
    for t in prange(N * F):
        n = t // F
        f = t - n * F
        acc = 0.0
        for h in range(2 * ph, oh):
            for w in range(ow):
                g[n, f, h, w] = zero
        for i in range(ph):
            for a in range(2):
                h = 2 * i + a
                for j in range(pw):
                    code = arg[n, f, i, j]
                    d = dy[n, f, i, j] if code >= 4 else zero
                    k = code & 3
                    v0 = d if k == 2 * a else zero
                    v1 = d if k == 2 * a + 1 else zero
                    g[n, f, h, 2 * j] = v0
                    g[n, f, h, 2 * j + 1] = v1
                    acc += v0 + v1
                for w in range(2 * pw, ow):
                    g[n, f, h, w] = zero
        sums[t] = acc


def _grid_outputs(x: Any, W: Any, b: Any, pads: Pads, dilation: Pair) -> tuple[Grid, Any, Any, Any]:
    """(grid, xs, out, bias): x packed on its grid and the tiles' raw outputs (no bias yet),
    what every forward here unpacks in its own way."""
    FN, C, FH, FW = W.shape
    g = Grid(x.shape, FH, FW, pads, dilation)
    xs = g.pack(x)
    out = grid_products(xs, np.asarray(W, np.float32).reshape(FN, -1), g.offs, g.Qp)
    bias = np.zeros(FN, np.float32) if b is None else np.asarray(b, np.float32)
    return g, xs, out, bias


def _forward(
    x: Any,
    W: Any,
    b: Any,
    pads: Pads,
    dilation: Pair,
    relu: bool = False,
    keep_mask: bool = False,
) -> tuple[Any, Any, Any]:
    """(y, xs, mask): conv_forward's body; ``relu``: y = max(y, 0), and with ``keep_mask``
    the uint8 mask y > 0 (else None)."""
    g, xs, out, bias = _grid_outputs(x, W, b, pads, dilation)
    y = np.empty((g.N, W.shape[0], g.out_h, g.out_w), np.float32)
    mask = None
    if relu:
        mask = np.empty(y.shape if keep_mask else (1, 1, 1, 1), np.uint8)
        _unpack_relu(out, g.Qp, bias, y, mask, keep_mask, g.Hs, g.Ws)
        mask = mask if keep_mask else None
    else:
        _unpack(out, g.Qp, bias, y, g.Hs, g.Ws)
    return y, xs, mask


def conv_data_grad(dy: Any, W: Any, pads: Pads, dilation: Pair) -> Any:
    """dx (N, C, H, W) of the stride-1 convolution: dy convolved with the flipped filters."""
    FN, C, FH, FW = W.shape
    DH, DW = dilation
    pt, pb, pl, pr = pads
    qh, qw = DH * (FH - 1), DW * (FW - 1)
    flip_pads = (qh - pt, qh - pb, qw - pl, qw - pr)
    W_flip = np.ascontiguousarray(W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))  # (C, FN, FH, FW)
    return conv_forward(dy, W_flip, None, flip_pads, dilation)[0]


def conv_grads(
    xs: Any,
    x_shape: tuple[int, ...],
    g: Any,
    W: Any,
    W_shape: tuple[int, ...],
    pads: Pads,
    dilation: Pair,
    want_dW: bool,
    want_dx: bool,
) -> tuple[Any, Any]:
    """(dx, dW) of the stride-1 convolution from its output's gradient g (either None when
    not wanted): what Conv2d and the fused Conv2d -> ReLU (-> pool) share after their own
    masking of dy."""
    dW = conv_weight_grad(xs, x_shape, g, W_shape, pads, dilation) if want_dW else None
    dx = conv_data_grad(g, W, pads, dilation) if want_dx else None
    return dx, dW


def conv_weight_grad(
    xs: Any,
    x_shape: tuple[int, ...],
    dy: Any,
    W_shape: tuple[int, ...],
    pads: Pads,
    dilation: Pair,
) -> Any:
    """dW (FN, C, FH, FW) float32 = sum over the batch of dy[n, f] ⋆ x_pad[n, c], from xs
    (x on the gap grid, as ``conv_forward`` returns it)."""
    from .conv_tiles import LT  # noqa: PLC0415  (compiles on first use)

    FN, C, FH, FW = W_shape
    g = Grid(x_shape, FH, FW, pads, dilation)
    FNp = -(-FN // LT) * LT
    dyt = _buffer("dyt", g.Qp * FNp)
    _pack_transposed(
        np.ascontiguousarray(dy), dyt, FNp, g.Hs, g.Ws
    )  # dyt[q*FNp + f] = dy on the grid, 0 at junk
    return grid_weight_grad(xs, g.offs, dyt, FNp, W_shape)


@njit(parallel=True)
def _pack_transposed(dy: Any, dyt: Any, FNp: int, Hs: int, Ws: int) -> None:
    """dyt[((n*Hs + h)*Ws + w)*FNp + f] = dy[n, f, h, w]; 0 at junk, padded filters, tail."""
    N, FN, oh, ow = dy.shape
    Qp = dyt.shape[0] // FNp
    df = dy.reshape(-1)
    u = np.uint64
    for n in prange(N):
        img = u(n * Hs * Ws * FNp)
        for p in range(Hs * Ws * FNp):
            dyt[img + u(p)] = 0
        for f in range(FN):
            for h in range(oh):
                src = u(((n * FN + f) * oh + h) * ow)
                dst = img + u(h * Ws * FNp + f)
                for w in range(ow):
                    dyt[dst + u(w * FNp)] = df[src + u(w)]
    for p in range(N * Hs * Ws * FNp, Qp * FNp):
        dyt[p] = 0
