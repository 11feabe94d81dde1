"""Stride-2 convolution (groups = 1, no dilation), compiled: the stride-1 register tiles on a
grid of the input's four stride phases. No im2col.

The reference is ``Conv2d`` in ``tinyconv/ops/conv.py`` (im2col + one matrix product); the
stride-1 kernels and their "gap grid" are in ``conv3x3.py``. At stride 2, output (h, w) reads
tap (i, j) at x_pad[2h + i, 2w + j]. Split the padded input into its four stride phases::

    X_ab[r, s] = x_pad[2r + a, 2s + b]        a, b in {0, 1}

then tap (i, j) = (2u + a, 2v + b) reads X_ab[h + u, w + v]: a stride-1 read of one phase.
So every phase of every channel is laid out on one grid of the *output's* geometry, image
after image, Hs = out_h + (FH - 1)//2 rows of Ws = out_w + (FW - 1)//2 columns each::

    xs[(4c + 2a + b)*T + (n*Hs + r)*Ws + s] = X_ab[n, c, r, s]   (0 outside x and past the grid)

and output q = (n*Hs + h)*Ws + w reads tap (c, i, j) at xs[q + offs[c, i, j]] with
offs = (4c + 2(i % 2) + (j % 2))*T + (i // 2)*Ws + (j // 2): the same contiguous run per tap
as at stride 1, so ``conv_tiles.tile_products`` computes the forward and
``conv_tiles.tile_weight_grad`` the weight gradient with exactly C*FH*FW taps. Grid outputs
with h >= out_h or w >= out_w are junk (computed, never read; zero gradient in dW): for 7x7
outputs of a 3x3 kernel 23 % of the grid. Unlike the stride-1 grid, images do not share
their borders (each phase row/column past the output belongs to its own image).

dx (a transposed convolution): each stride phase of x_pad is a stride-1 correlation of dy with
one sub-kernel of W (``conv_data_grad``), so the same tiles compute it too, on a grid of dy.

Every output is one fixed sum, so results do not depend on the thread count; products
contract to FMAs (results equal the reference to float32 rounding). Measured: see
``supported``. float32 only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._jit import njit, prange
from .conv3x3 import _buffer, grid_products, grid_weight_grad

L = 16  # = conv_tiles.L (both tile variants)

Pads = tuple[int, int, int, int]


class PhaseGrid:
    """The phase grid of one stride-2 convolution: sizes and tap offsets (module docstring)."""

    def __init__(self, x_shape: tuple[int, ...], FH: int, FW: int, pads: Pads) -> None:
        N, C, H, W = x_shape
        pt, pb, pl, pr = pads
        self.N, self.C, self.H, self.W, self.pt, self.pl = N, C, H, W, pt, pl
        self.out_h = (H + pt + pb - FH) // 2 + 1
        self.out_w = (W + pl + pr - FW) // 2 + 1
        self.Hs = self.out_h + (FH - 1) // 2
        self.Ws = self.out_w + (FW - 1) // 2
        self.Q = N * self.Hs * self.Ws
        self.Qp = -(-self.Q // L) * L
        reach = ((FH - 1) // 2) * self.Ws + (FW - 1) // 2
        # per phase plane; 5 cache lines off a multiple of 4 KiB (see conv3x3.Grid)
        self.T = -(-(self.Qp + reach) // 1024) * 1024 + 80
        i = np.arange(FH)[:, None]
        j = np.arange(FW)[None, :]
        taps = ((i % 2) * 2 + (j % 2)) * self.T + (i // 2) * self.Ws + (j // 2)  # (FH, FW)
        offs = (np.arange(C) * 4 * self.T)[:, None] + taps.ravel()[None, :]
        self.offs = offs.ravel().astype(np.uint64)  # (C*FH*FW,), k = (c, i, j)

    def pack(self, x: Any) -> Any:
        """x (N, C, H, W) -> xs (4*C*T,) float32 on the phase grid. x NCHW-contiguous or
        channel-major ((C, N, H, W) memory, what a batch norm or ReLU after a convolution
        leaves), read in place; anything else is copied first."""
        xs = np.empty(4 * self.C * self.T, np.float32)
        cm = x.transpose(1, 0, 2, 3)
        if x.dtype == np.float32 and cm.flags.c_contiguous and not x.flags.c_contiguous:
            src, channel_major = cm, True
        else:
            src, channel_major = np.ascontiguousarray(x, np.float32), False
        _pack_phases(src.reshape(-1), xs, self.N, self.C, self.H, self.W, channel_major,
                     self.T, self.Hs, self.Ws, self.pt, self.pl)  # fmt: skip
        return xs


@njit(parallel=True)
def _pack_phases(xf: Any, xs: Any, N: int, C: int, H: int, W: int, channel_major: bool,
                 T: int, Hs: int, Ws: int, pt: int, pl: int) -> None:  # fmt: skip
    """xs[(4c + 2a + b)*T + (n*Hs + r)*Ws + s] = x[n, c, 2r + a - pt, 2s + b - pl] (0 outside).

    xf: x's memory flat, (N, C, H, W) order or, ``channel_major``, (C, N, H, W). Per phase
    row, the columns inside x are one stride-2 run; the rest zeros."""
    zero = np.float32(0)
    for t in prange(4 * C):
        c = t // 4
        a = (t // 2) % 2
        b = t % 2
        base = t * T
        s_lo = min(max(0, (pl - b + 1) // 2), Ws)  # first s with 2s + b - pl >= 0
        s_hi = max(min(Ws, (W - 1 - b + pl) // 2 + 1), s_lo)  # past the last inside x
        for n in range(N):
            plane = (c * N + n) if channel_major else (n * C + c)
            for r in range(Hs):
                row = base + (n * Hs + r) * Ws
                ih = 2 * r + a - pt
                if ih < 0 or ih >= H:
                    for s in range(Ws):
                        xs[row + s] = zero
                    continue
                src = (plane * H + ih) * W + b - pl
                for s in range(s_lo):
                    xs[row + s] = zero
                for s in range(s_lo, s_hi):
                    xs[row + s] = xf[src + 2 * s]
                for s in range(s_hi, Ws):
                    xs[row + s] = zero
        for p in range(N * Hs * Ws, T):
            xs[base + p] = zero


@njit(parallel=True)
def _pack_dy(dy: Any, dyt: Any, FNp: int, Hs: int, Ws: int) -> None:
    """dyt[((n*Hs + h)*Ws + w)*FNp + f] = dy[n, f, h, w], 0 at junk, padded filters and the
    tail; dy (N, FN, oh, ow) in any memory layout (indexed, not flattened)."""
    N, FN, oh, ow = dy.shape
    Qp = dyt.shape[0] // FNp
    zero = np.float32(0)
    for n in prange(N):
        img = n * Hs * Ws * FNp
        for p in range(Hs * Ws * FNp):
            dyt[img + p] = zero
        for h in range(oh):
            for w in range(ow):
                dst = img + (h * Ws + w) * FNp
                for f in range(FN):
                    dyt[dst + f] = dy[n, f, h, w]
    for p in range(N * Hs * Ws * FNp, Qp * FNp):
        dyt[p] = zero


def supported(x: Any, W: Any, stride: tuple[int, int], pads: Pads, dilation: tuple[int, int],
              groups: int, grad: bool = True) -> bool:  # fmt: skip
    """Whether these kernels compute this convolution, and are measured to win.

    float32 NumPy arrays, stride 2, no dilation, one group, 3x3 filters, padding below the
    kernel, 16-128 input channels and at most 128 filters (64 with gradients, where the
    weight gradient's per-block partial sums grow with C*9 x FN). Measured on AMD EPYC
    Zen 5 (2 threads, OpenBLAS Haswell kernels): see PERFORMANCE.md.
    """
    if type(x) is not np.ndarray or x.dtype != np.float32 or W.dtype != np.float32:
        return False
    FN, Cg, FH, FW = W.shape
    most = 64 if grad else 128
    return (
        stride == (2, 2)
        and dilation == (1, 1)
        and groups == 1
        and (FH, FW) == (3, 3)
        and max(pads) < 3
        and 16 <= Cg <= most
        and FN <= most
    )


def conv_forward(x: Any, W: Any, b: Any, pads: Pads) -> tuple[Any, Any]:
    """y (N, FN, out_h, out_w) float32 = conv2d(x, W, b, stride=2) (a view of channel-major
    memory), and xs (x on the phase grid: what ``conv_weight_grad`` reads; keep it instead of
    x)."""
    FN = W.shape[0]
    g = PhaseGrid(x.shape, W.shape[2], W.shape[3], pads)
    xs = g.pack(x)
    out = grid_products(xs, np.asarray(W, np.float32).reshape(FN, -1), g.offs, g.Qp)
    y_cm = np.empty((FN, g.N, g.out_h, g.out_w), np.float32)  # channel-major, as the reference
    bias = np.zeros(FN, np.float32) if b is None else np.asarray(b, np.float32)
    _unpack_channel_major(out, g.Qp, bias, y_cm, g.Hs, g.Ws)
    return y_cm.transpose(1, 0, 2, 3), xs


@njit(parallel=True)
def _unpack_channel_major(out: Any, Qp: int, b: Any, y: Any, Hs: int, Ws: int) -> None:
    """y[f, n, h, w] = out[f*Qp + (n*Hs + h)*Ws + w] + b[f]: the valid grid outputs, stored
    channel-major ((FN, N, H, W) memory, as the reference's im2col product leaves them: the
    training batch norm that usually follows reads channel rows)."""
    F, N, oh, ow = y.shape
    yf = y.reshape(-1)
    for t in prange(F * N):
        f = t // N
        n = t - f * N
        bias = b[f]
        for h in range(oh):
            src = f * Qp + (n * Hs + h) * Ws
            dst = (t * oh + h) * ow
            for w in range(ow):
                yf[dst + w] = out[src + w] + bias


def conv_weight_grad(xs: Any, x_shape: tuple[int, ...], dy: Any, W_shape: tuple[int, ...],
                     pads: Pads) -> Any:  # fmt: skip
    """dW (FN, C, FH, FW) float32 of the stride-2 convolution, from xs (``conv_forward``'s)."""
    from .conv_tiles import LT  # noqa: PLC0415  (compiles on first use)

    FN, C, FH, FW = W_shape
    g = PhaseGrid(x_shape, FH, FW, pads)
    FNp = -(-FN // LT) * LT
    dyt = _buffer("dyt", g.Qp * FNp)
    _pack_dy(np.asarray(dy, np.float32), dyt, FNp, g.Hs, g.Ws)
    return grid_weight_grad(xs, g.offs, dyt, FNp, W_shape)


def conv_data_grad(dy: Any, W: Any, x_shape: tuple[int, ...], pads: Pads) -> Any:
    """dx (N, C, H, W) float32 of the stride-2 convolution, on the tiles.

    Each stride phase of x_pad is a stride-1 correlation of dy with one sub-kernel::

        dx_pad[c, 2r + a, 2s + b] = sum_f sum_{u, v} W[f, c, 2u + a, 2v + b] * dy[f, r - u, s - v]

    so dy goes on a grid once (U = (FH - 1)//2 zero rows and V zero columns before each image,
    rows and columns past it zero too), and each phase is one ``tile_products`` call with its
    own taps (FN * (U_a + 1) * (V_b + 1); 9*FN over the four phases of a 3x3 kernel) and the
    C input channels as filters; every dx element is one phase output, written once.
    """
    N, C, H, Wd_in = x_shape
    FN, _, FH, FW = W.shape
    pt, _, pl, _ = pads
    _, _, oh, ow = dy.shape
    U, V = (FH - 1) // 2, (FW - 1) // 2
    R, S = -(-(H + pt) // 2), -(-(Wd_in + pl) // 2)  # phase rows / columns that reach x
    Hd, Wd = max(R, oh) + U, max(S, ow) + V
    Q = N * Hd * Wd
    Qp = -(-Q // L) * L
    T = -(-(Qp + U * Wd + V) // 1024) * 1024 + 80
    dys = np.empty(FN * T, np.float32)
    _pack_dy_grid(np.asarray(dy, np.float32), dys, T, Hd, Wd, U, V)
    dx = np.empty(x_shape, np.float32)
    Wf = np.asarray(W, np.float32)
    for a in range(2):
        for b in range(2):
            us, vs = np.arange(U + 1), np.arange(V + 1)
            us, vs = us[2 * us + a < FH], vs[2 * vs + b < FW]  # taps i = 2u + a < FH
            sub = Wf[:, :, (2 * us + a)[:, None], (2 * vs + b)[None, :]]  # (FN, C, nu, nv)
            Wk = np.ascontiguousarray(sub.transpose(1, 0, 2, 3)).reshape(C, -1)  # (C, K)
            offs = (np.arange(FN)[:, None, None] * T + (U - us)[None, :, None] * Wd
                    + (V - vs)[None, None, :]).ravel().astype(np.uint64)  # fmt: skip
            out = grid_products(dys, Wk, offs, Qp, role="dx_out")
            _unpack_phase(out, Qp, dx, a, b, pt, pl, Hd, Wd)
    return dx


@njit(parallel=True)
def _pack_dy_grid(dy: Any, dys: Any, T: int, Hd: int, Wd: int, U: int, V: int) -> None:
    """dys[f*T + (n*Hd + U + h)*Wd + V + w] = dy[n, f, h, w], zero everywhere else; dy in any
    memory layout (indexed)."""
    N, FN, oh, ow = dy.shape
    zero = np.float32(0)
    for f in prange(FN):
        base = f * T
        for p in range(T):
            dys[base + p] = zero
        for n in range(N):
            for h in range(oh):
                row = base + (n * Hd + U + h) * Wd + V
                for w in range(ow):
                    dys[row + w] = dy[n, f, h, w]


@njit(parallel=True)
def _unpack_phase(out: Any, Qp: int, dx: Any, a: int, b: int, pt: int, pl: int, Hd: int,
                  Wd: int) -> None:  # fmt: skip
    """dx[n, c, 2r + a - pt, 2s + b - pl] = out[c*Qp + (n*Hd + r)*Wd + s], where inside x."""
    N, C, H, W = dx.shape
    r_lo = max(0, (pt - a + 1) // 2)
    s_lo = max(0, (pl - b + 1) // 2)
    for t in prange(N * C):
        n = t // C
        c = t - n * C
        for r in range(r_lo, Hd):
            ih = 2 * r + a - pt
            if ih >= H:
                break
            src = c * Qp + (n * Hd + r) * Wd
            for s in range(s_lo, Wd):
                iw = 2 * s + b - pl
                if iw >= W:
                    break
                dx[n, c, ih, iw] = out[src + s]
