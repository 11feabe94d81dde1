"""Convolution by im2col: ``conv2d`` and its transpose ``conv_transpose2d``.

A convolution layer slides FN filters of shape (C, FH, FW) over a batch x (N, C, H, W).
Each output value is the sum of filter * patch plus a bias (cross-correlation: the filter is
not flipped). im2col turns every patch into one row of a matrix ``col``, so the whole layer
becomes one matrix product (the from-scratch book's method)::

    col   = im2col(x)                   # (N*out_h*out_w, C*FH*FW)   one patch per row
    col_W = W.reshape(FN, -1).T         # (C*FH*FW, FN)              one filter per column
    y     = col @ col_W + b             # (N*out_h*out_w, FN)
    y     -> (N, FN, out_h, out_w)      # a reshape and a transposed view

The backward pass reverses it: dW = col^T @ dout, dcol = dout @ col_W^T and col2im adds every
row of dcol back onto the pixels its patch came from. The code below computes these same
products transposed (y^T = col_W^T @ col^T, ...): im2col stores col channel-major, so col^T
is free, each filter's output comes out as one contiguous row, and groups need no copies.
The output size of each spatial axis is

    out = floor((in + 2P - d*(F - 1) - 1) / S + 1)   =   (in - F + 2P)/S + 1 when d = 1

with F the kernel size, P the padding, S the stride and d the dilation (atrous convolution:
a kernel with d - 1 holes between its taps covers d*(F - 1) + 1 pixels).

A transposed convolution ("deconvolution") is the backward-data pass of a convolution used
as a forward pass: it maps (N, C_in, H, W) up to (N, C_out, H_out, W_out) with
H_out = (H - 1)*S - 2P + d*(F - 1) + output_padding + 1.

References: Chellapilla, Puri and Simard, "High Performance Convolutional Neural Networks for
Document Processing" (2006) for im2col; Yu and Koltun, "Multi-Scale Context Aggregation by
Dilated Convolutions" (2016); Dumoulin and Visin, "A guide to convolution arithmetic for deep
learning" (2016) for the transposed convolution.
"""

from __future__ import annotations

from typing import Any

from ..backend import get_array_module
from ..tensor import Function, Tensor
from .parallel import run_blocks, workers_for

Pair = tuple[int, int]
Pads = tuple[int, int, int, int]  # (top, bottom, left, right)

_AXIS_NAMES = {"H": ("height", "top", "bottom"), "W": ("width", "left", "right")}


# ------------------------------------------------------------------ output sizes
def conv_output_size(
    size: int,
    k: int,
    s: int,
    p: int | Pair,
    d: int = 1,
    *,
    layer: str = "conv2d",
    dim: str = "W",
    in_shape: tuple[int, ...] | None = None,
) -> int:
    """Output length of one spatial axis of a convolution (or pooling) window.

    ``out = floor((size + 2P - d*(k - 1) - 1) / s) + 1``, floored like PyTorch. Only an
    output below 1 is an error.

    Args:
        size (int): input length along the axis (H_in or W_in).
        k (int): kernel length F.
        s (int): stride S.
        p (int or (int, int)): padding P on each side, or (before, after).
        d (int): dilation. Default: 1.
        layer (str): the layer named in error messages. Default: "conv2d".
        dim (str): "H" or "W", the axis named in error messages. Default: "W".
        in_shape (tuple, optional): the whole input shape, quoted in error messages.

    Raises:
        ValueError: when the kernel does not fit in the padded input (output < 1) or s < 1.

    Example:
        >>> conv_output_size(28, 4, 2, 1)   # MNIST, F=4, S=2, P=1
        14
    """
    before, after = (p, p) if isinstance(p, int) else p
    k_eff = d * (k - 1) + 1  # the span a dilated kernel covers
    D = dim.upper()
    name, side0, side1 = _AXIS_NAMES.get(D, ("size", "before", "after"))
    two_p = f"2*{before}" if before == after else f"{before} + {after}"
    big_p = "2P" if before == after else f"P_{side0} + P_{side1}"
    if d == 1:
        formula = f"{D}_out = ({D}_in - F + {big_p})/S + 1 = ({size} - {k} + {two_p})/{s} + 1"
    else:
        formula = (
            f"{D}_out = ({D}_in - F_eff + {big_p})/S + 1 = ({size} - {k_eff} + {two_p})/{s} + 1, "
            f"where dilation {d} gives the effective kernel F_eff = d*(F-1) + 1 = {d}*({k}-1) + 1 "
            f"= {k_eff}"
        )
    where = f"; input {tuple(in_shape)}" if in_shape is not None else ""
    if s < 1:
        raise ValueError(f"{layer}: stride must be >= 1, got S = {s}: {formula}{where}")
    out = (size + before + after - k_eff) // s + 1
    if out < 1:
        raise ValueError(
            f"{layer}: output {name} {out} < 1: {formula}{where}; the kernel ({k_eff}) is larger "
            f"than the padded input {name} ({size} + {two_p} = {size + before + after})"
        )
    return out


def conv_transpose_output_size(
    size: int,
    k: int,
    s: int,
    p: int,
    d: int = 1,
    output_padding: int = 0,
    *,
    layer: str = "conv_transpose2d",
    dim: str = "W",
    in_shape: tuple[int, ...] | None = None,
) -> int:
    """Output length of one axis of a transposed convolution.

    ``out = (size - 1)*S - 2P + d*(F - 1) + output_padding + 1``.

    Raises:
        ValueError: when the result is below 1 (the padding crops everything away).

    Example:
        >>> conv_transpose_output_size(14, 4, 2, 1)   # undoes conv_output_size(28, 4, 2, 1)
        28
    """
    out = (size - 1) * s - 2 * p + d * (k - 1) + output_padding + 1
    if out < 1:
        D = dim.upper()
        where = f"; input {tuple(in_shape)}" if in_shape is not None else ""
        raise ValueError(
            f"{layer}: output {_AXIS_NAMES.get(D, ('size',))[0]} {out} < 1: "
            f"{D}_out = ({D}_in - 1)*S - 2P + d*(F-1) + output_padding + 1 = "
            f"({size} - 1)*{s} - 2*{p} + {d}*({k}-1) + {output_padding} + 1{where}"
        )
    return out


# ------------------------------------------------------------------ im2col / col2im
def _pair(v: int | Pair) -> Pair:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _pads(pad: int | Pair | Pads) -> Pads:
    """int -> all four sides; (ph, pw) -> (ph, ph, pw, pw); (top, bottom, left, right) as is."""
    if isinstance(pad, int):
        return (pad, pad, pad, pad)
    if len(pad) == 2:
        return (pad[0], pad[0], pad[1], pad[1])
    return tuple(pad)  # type: ignore[return-value]


def _windows(x_cm: Any, FH: int, FW: int, stride: Pair, dilation: Pair, out_hw: Pair) -> Any:
    """Every patch of a padded, channel-major batch as one strided view (no copy).

    x_cm (C, N, H_pad, W_pad) -> (C, FH, FW, N, out_h, out_w) with element [c, i, j, n, h, w]
    = x_cm[c, n, h*SH + i*DH, w*SW + j*DW]: output pixel (h, w) starts its patch at row h*SH
    and column w*SW, and tap (i, j) of the kernel lies i*DH rows and j*DW columns further.
    Copied into shape (C*FH*FW, N*out_h*out_w) it is col^T: that copy is im2col.
    """
    xp = get_array_module(x_cm)
    C, N = x_cm.shape[:2]
    (SH, SW), (DH, DW), (out_h, out_w) = stride, dilation, out_hw
    sC, sN, sH, sW = x_cm.strides  # bytes to step one channel, image, row, column
    return xp.lib.stride_tricks.as_strided(
        x_cm,
        shape=(C, FH, FW, N, out_h, out_w),
        strides=(sC, DH * sH, DW * sW, sN, SH * sH, SW * sW),
    )


def _col2im_add(
    col_T: Any, img: Any, FH: int, FW: int, stride: Pair, dilation: Pair, out_hw: Pair
) -> None:
    """img += col2im(col): add col^T (C*FH*FW, N*out_h*out_w) onto img (C, N, H_pad, W_pad).

    One strided add per kernel tap (i, j): tap (i, j) of the window at output pixel (h, w)
    sits on row i*DH + SH*h and column j*DW + SW*w, so ``_windows(img)[:, i, j]``, a view,
    receives it for every window at once. Pixels shared by overlapping windows (different
    taps) sum their values; within one tap no two windows share a pixel.
    """
    C, N = img.shape[:2]
    patches = col_T.reshape(C, FH, FW, N, *out_hw)  # a view when col_T is contiguous
    taps = _windows(img, FH, FW, stride, dilation, out_hw)  # (C, FH, FW, N, out_h, out_w)
    for i in range(FH):
        for j in range(FW):
            taps[:, i, j] += patches[:, i, j]  # (C, N, out_h, out_w)


def im2col(
    x: Any,
    FH: int,
    FW: int,
    stride: int | Pair = 1,
    pad: int | Pair | Pads = 0,
    dilation: int | Pair = 1,
    *,
    out_size: Pair | None = None,
    pad_value: float = 0.0,
) -> Any:
    """Unroll every FH x FW patch of x into one row: (N, C, H, W) -> (N*out_h*out_w, C*FH*FW).

    Row ``(n*out_h + h)*out_w + w`` holds the patch under output pixel (h, w) of image n;
    its columns run over (c, i, j), channel first, as in ``W.reshape(FN, -1)``. The patches
    are read through one strided view of the padded input and copied once.

    Memory layout: the copy is made in the order (C, FH, FW, N, out_h, out_w), so that its
    innermost loop runs along image rows (fast), and ``col`` is the transpose of that
    C-contiguous (C*FH*FW, N*out_h*out_w) array: ``col.T`` costs nothing, and the
    convolution multiplies with it directly.

    Args:
        x: array (N, C, H, W).
        FH, FW (int): kernel height and width.
        stride, dilation (int or (int, int)): S and d, per axis.
        pad (int, (ph, pw) or (top, bottom, left, right)): zero padding.
        out_size ((int, int), optional): use only the first out_h x out_w windows.
        pad_value (float): value of the padding (max pooling pads with -inf). Default: 0.

    Example:
        >>> import numpy
        >>> im2col(numpy.arange(16.0).reshape(1, 1, 4, 4), 2, 2, stride=2)
        array([[ 0.,  1.,  4.,  5.],
               [ 2.,  3.,  6.,  7.],
               [ 8.,  9., 12., 13.],
               [10., 11., 14., 15.]])
    """
    xp = get_array_module(x)
    N, C, H, W = x.shape
    S, D, P = _pair(stride), _pair(dilation), _pads(pad)
    if out_size is None:
        out_size = (
            conv_output_size(H, FH, S[0], P[:2], D[0], layer="im2col", dim="H"),
            conv_output_size(W, FW, S[1], P[2:], D[1], layer="im2col", dim="W"),
        )
    if any(P):
        pads = ((0, 0), (0, 0), P[:2], P[2:])
        x = xp.pad(x, pads, mode="constant", constant_values=pad_value)  # (N, C, H_pad, W_pad)
    patches = _windows(x.transpose(1, 0, 2, 3), FH, FW, S, D, out_size)
    col_T = patches.reshape(C * FH * FW, -1)  # the one copy: (C*FH*FW, N*out_h*out_w)
    return col_T.T  # (N*out_h*out_w, C*FH*FW)


def col2im(
    col: Any,
    x_shape: tuple[int, int, int, int],
    FH: int,
    FW: int,
    stride: int | Pair = 1,
    pad: int | Pair | Pads = 0,
    dilation: int | Pair = 1,
    *,
    out_size: Pair | None = None,
) -> Any:
    """The adjoint of ``im2col``: add every row of col back onto its patch of an image.

    (N*out_h*out_w, C*FH*FW) -> (N, C, H, W). A pixel shared by several patches receives
    the sum of their values, which is exactly the gradient of im2col. The loop runs over the
    FH*FW kernel taps; each adds one tap of every window at once, through a strided slice.
    The image is built channel-major, (C, N, H, W) in memory, and returned as an (N, C, H, W)
    view of it.

    Example:
        >>> import numpy
        >>> col2im(numpy.ones((4, 4)), (1, 1, 3, 3), 2, 2)   # 2x2 windows, stride 1
        array([[[[1., 2., 1.],
                 [2., 4., 2.],
                 [1., 2., 1.]]]])
    """
    xp = get_array_module(col)
    N, C, H, W = x_shape
    S, D, (pt, pb, pl, pr) = _pair(stride), _pair(dilation), _pads(pad)
    if out_size is None:
        out_size = (
            conv_output_size(H, FH, S[0], (pt, pb), D[0], layer="col2im", dim="H"),
            conv_output_size(W, FW, S[1], (pl, pr), D[1], layer="col2im", dim="W"),
        )
    img = xp.zeros((C, N, H + pt + pb, W + pl + pr), dtype=col.dtype)  # the padded input
    _col2im_add(xp.ascontiguousarray(col.T), img, FH, FW, S, D, out_size)
    return img[:, :, pt : pt + H, pl : pl + W].transpose(1, 0, 2, 3)  # (N, C, H, W), a view


# ------------------------------------------------------------------ the fast path
# Three tricks make Conv2d below several times faster than im2col of the whole batch, with
# the same arithmetic (tests/test_fast_paths.py checks it against im2col/col2im):
#
# 1. Blocks of images. On the CPU the batch goes through in blocks of a few images, so that
#    a block's col (the im2col copy) stays in the core's cache (1-2 MiB of L2 here) while
#    the matrix product reads it: col never travels to main memory. Nor is it kept for
#    backward: backward rebuilds each block's col from the saved input (a cheap copy in
#    cache) instead of holding C*FH*FW floats per output pixel.
# 2. Threads. The blocks are independent, so ``run_blocks`` spreads them over the cores
#    (NumPy and BLAS release the GIL); each thread has its own scratch arrays.
# 3. Whole padded rows (stride 1). Output pixel (h, w) reads x_pad[h + i*DH, w + j*DW] for
#    tap (i, j). Letting w run over the whole padded width W_pad instead of out_w makes
#    (h, w) one contiguous run of out_h*W_pad floats in x_pad, so im2col copies long runs
#    instead of rows of out_w floats (3-4x faster in NumPy), and col2im adds long runs.
#    The last W_pad - out_w outputs of each row are junk (their windows wrap around into
#    the next row); they are computed, then dropped by a view, and backward gives them a
#    zero gradient so that they add nothing to dW or dx.
BLOCK_BYTES = 1 << 20
BLOCK_COLUMNS = 512  # ... but at least this many columns, or BLAS runs below speed
ROWS_LIMIT = 20  # see _Geometry
MIN_BLOCKS = 4  # so that small batches of small maps still give every thread work

Block = tuple[int, int, int, int]  # images n0:n1, output rows h0:h1


class _Geometry:
    """The sizes of one convolution, its blocks, and each thread's scratch arrays for a block.

    A block is a few whole images, or, when one image's col would not fit in BLOCK_BYTES
    (large maps), a band of output rows of one image.
    """

    def __init__(self, x_shape: tuple[int, ...], W_shape: tuple[int, ...], stride: Pair,
                 pads: Pads, dilation: Pair, groups: int, xp: Any, dtype: Any,
                 bands: bool = True) -> None:  # fmt: skip
        N, C, H, W = x_shape
        FN, Cg, FH, FW = W_shape
        self.xp, self.dtype = xp, dtype
        self.N, self.C, self.H, self.W, self.FN, self.FH, self.FW = N, C, H, W, FN, FH, FW
        self.G, self.K, self.Kg = groups, C * FH * FW, Cg * FH * FW
        self.stride, self.pads, self.dilation = stride, pads, dilation
        pt, pb, pl, pr = pads
        self.Wp = W + pl + pr
        self.out_h = conv_output_size(H, FH, stride[0], pads[:2], dilation[0], dim="H")
        self.out_w = conv_output_size(W, FW, stride[1], pads[2:], dilation[1], dim="W")
        # trick 3, whole padded rows, when the junk outputs cost less than the slow copy
        # they save: about when FN*(W_pad - out_w)/out_w < ROWS_LIMIT (a 7x7 map padded to
        # 9x9 under 512 filters computes 29% more products, and is better without)
        rows = stride == (1, 1) and FN * (self.Wp - self.out_w) < ROWS_LIMIT * self.out_w
        self.grid_w = self.Wp if rows else self.out_w  # outputs computed per row
        row_bytes = self.K * self.grid_w * dtype.itemsize  # col of one output row
        if xp.__name__ != "numpy":  # a GPU: one block
            self.blocks: list[Block] = [(0, N, 0, self.out_h)]
        elif bands and row_bytes * self.out_h > BLOCK_BYTES:  # bands of rows of one image
            hb = max(BLOCK_BYTES // row_bytes, -(-BLOCK_COLUMNS // self.grid_w), 1)
            hb = -(-self.out_h // -(-self.out_h // hb))  # bands of equal height
            self.blocks = [
                (n, n + 1, h0, min(h0 + hb, self.out_h))
                for n in range(N)
                for h0 in range(0, self.out_h, hb)
            ]
        else:  # whole images, and at least MIN_BLOCKS blocks to share among the threads
            nb = max(BLOCK_BYTES // (row_bytes * self.out_h), -(-BLOCK_COLUMNS // self.P_image))
            nb = max(1, min(N, nb, -(-N // MIN_BLOCKS)))
            self.blocks = [(n0, min(n0 + nb, N), 0, self.out_h) for n0 in range(0, N, nb)]
        self.max_images = max(b[1] - b[0] for b in self.blocks)
        self.max_rows = max(b[3] - b[2] for b in self.blocks)
        self.slack = (FW - 1) * dilation[1]  # junk windows of the last row read this far on

    @property
    def P_image(self) -> int:
        return self.out_h * self.grid_w

    def in_rows(self, h0: int, h1: int) -> tuple[int, int]:
        """The padded input rows [r0, r1) that output rows [h0, h1) read."""
        SH, DH = self.stride[0], self.dilation[0]
        return h0 * SH, (h1 - 1) * SH + DH * (self.FH - 1) + 1

    def scratch(self, workers: int, *names: str) -> list[dict[str, Any]]:
        """Per thread: "x" a zero-padded input block (nb, C, rows, W_pad); "col" col^T;
        "out" a block of outputs, or of output gradients, on the grid (FN, nb, rows, grid_w)."""
        nb, rows = self.max_images, self.max_rows
        r0, r1 = self.in_rows(0, rows)
        sizes = {
            "x": nb * self.C * (r1 - r0) * self.Wp + self.slack,
            "col": self.K * nb * rows * self.grid_w,
            "out": self.FN * nb * rows * self.grid_w,
        }
        xp = self.xp
        return [{k: xp.empty(sizes[k], dtype=self.dtype) for k in names} for _ in range(workers)]

    def padded_block(self, scratch: dict[str, Any], x: Any, block: Block) -> Any:
        """Copy the input rows of a block into a zero-padded scratch: (C, nb, rows, W_pad).

        Only the interior is copied: the zero border stays from the thread's previous block
        unless the block's layout changed (the first block, a shorter last block, the top
        and bottom bands), and only then is the scratch zeroed.
        """
        n0, n1, h0, h1 = block
        pt, _, pl, _ = self.pads
        r0, r1 = self.in_rows(h0, h1)  # padded rows; input row = padded row - pt
        nb, rows = n1 - n0, r1 - r0
        top = min(max(pt - r0, 0), rows)  # the band's rows of top padding
        a = r0 + top - pt  # its first input row ...
        n_in = max(0, min(r1 - pt, self.H) - a)  # ... and how many input rows it has
        flat = scratch["x"]
        xb = flat[: nb * self.C * rows * self.Wp].reshape(nb, self.C, rows, self.Wp)
        if scratch.get("layout") != (nb, rows, top, n_in):
            flat[: xb.size + self.slack] = 0  # the border, and what the last junk windows read
            scratch["layout"] = (nb, rows, top, n_in)
        xb[:, :, top : top + n_in, pl : pl + self.W] = x[n0:n1, :, a : a + n_in]
        return xb.transpose(1, 0, 2, 3)  # (C, nb, rows, W_pad), a view

    def im2col_block(self, flat: Any, xb: Any, rows: int) -> Any:
        """col^T of a padded block: (C*FH*FW, nb*rows*grid_w), one copy into ``flat``."""
        nb = xb.shape[1]
        col_T = flat[: self.K * nb * rows * self.grid_w]
        col_T = col_T.reshape(self.C, self.FH, self.FW, nb, rows, self.grid_w)
        grid = (rows, self.grid_w)
        col_T[...] = _windows(xb, self.FH, self.FW, self.stride, self.dilation, grid)
        return col_T.reshape(self.K, -1)


def _conv_blocks(x: Any, col_W: Any, b: Any, g: _Geometry) -> Any:
    """The convolution of x (N, C, H, W) with col_W (G, FN/G, Cg*FH*FW), plus b (FN,) or None.

    Returns y channel-major and compact: (FN, N, out_h, out_w). Per block: pad, im2col,
    one product y^T = col_W @ col^T on the grid, then drop the junk columns while adding
    the bias (one pass, in cache).
    """
    xp = g.xp
    G, FN, out_w = g.G, g.FN, g.out_w
    y = xp.empty((FN, g.N, g.out_h, out_w), dtype=g.dtype)
    scratch = g.scratch(workers_for(len(g.blocks)), "x", "col", "out")
    bias = None if b is None else b.reshape(FN, 1, 1, 1)

    def block(worker: int, k: int) -> None:
        n0, n1, h0, h1 = g.blocks[k]
        s = scratch[worker]
        col_T = g.im2col_block(s["col"], g.padded_block(s, x, g.blocks[k]), h1 - h0)
        out = s["out"][: FN * col_T.shape[1]]
        xp.matmul(col_W, col_T.reshape(G, g.Kg, -1), out=out.reshape(G, FN // G, -1))
        out = out.reshape(FN, n1 - n0, h1 - h0, g.grid_w)[:, :, :, :out_w]
        if bias is None:
            y[:, n0:n1, h0:h1] = out
        else:
            xp.add(out, bias, out=y[:, n0:n1, h0:h1])

    run_blocks(block, len(g.blocks))
    return y


def _grid_block(flat: Any, dout: Any, g: _Geometry, block: Block) -> Any:
    """dout's block on the grid of computed outputs, (FN, nb, rows, grid_w), with zeros for
    the junk outputs so that they send nothing back."""
    n0, n1, h0, h1 = block
    dy = flat[: g.FN * (n1 - n0) * (h1 - h0) * g.grid_w].reshape(g.FN, n1 - n0, h1 - h0, g.grid_w)
    dy[:, :, :, : g.out_w] = dout[n0:n1, :, h0:h1].transpose(1, 0, 2, 3)
    dy[:, :, :, g.out_w :] = 0
    return dy.reshape(g.G, g.FN // g.G, -1)


def _weight_grad_blocks(x: Any, dout: Any, g: _Geometry) -> Any:
    """dW^T = sum over blocks of col^T @ dy^T: (G, Cg*FH*FW, FN/G).

    col^T is rebuilt from x block by block; one partial sum per block, added up in block
    order (the same result for any number of threads).
    """
    xp = g.xp
    dW_T = xp.empty((len(g.blocks), g.G, g.Kg, g.FN // g.G), dtype=g.dtype)
    scratch = g.scratch(workers_for(len(g.blocks)), "x", "col", "out")

    def block(worker: int, k: int) -> None:
        s, (n0, n1, h0, h1) = scratch[worker], g.blocks[k]
        dy = _grid_block(s["out"], dout, g, g.blocks[k])
        col_T = g.im2col_block(s["col"], g.padded_block(s, x, g.blocks[k]), h1 - h0)
        xp.matmul(col_T.reshape(g.G, g.Kg, -1), dy.transpose(0, 2, 1), out=dW_T[k])

    run_blocks(block, len(g.blocks))
    return dW_T.sum(axis=0)


def _data_grad_col2im(dout: Any, col_W: Any, g: _Geometry) -> Any:
    """dx (C, N, H, W) by dcol^T = col_W^T @ dy, then col2im, block by block (any stride).

    ``g`` must have whole-image blocks (``bands=False``): col2im adds into the padded rows
    around a band too, which belong to the neighbouring bands.
    """
    xp = g.xp
    pt, _, pl, _ = g.pads
    r0, Hp = g.in_rows(0, g.out_h)  # the padded rows that any window reaches
    dx = xp.empty((g.C, g.N, g.H, g.W), dtype=g.dtype)
    scratch = g.scratch(workers_for(len(g.blocks)), "x", "col", "out")

    def block(worker: int, k: int) -> None:
        s, (n0, n1, _, _) = scratch[worker], g.blocks[k]
        nb = n1 - n0
        dy = _grid_block(s["out"], dout, g, g.blocks[k])
        dcol_T = s["col"][: g.K * dy.shape[2]].reshape(g.G, g.Kg, -1)
        xp.matmul(col_W.transpose(0, 2, 1), dy, out=dcol_T)
        img = s["x"][: nb * g.C * Hp * g.Wp + g.slack]
        img[...] = 0
        s["layout"] = None  # the scratch no longer holds a padded input block
        img = img[: nb * g.C * Hp * g.Wp].reshape(nb, g.C, Hp, g.Wp).transpose(1, 0, 2, 3)
        _col2im_add(dcol_T, img, g.FH, g.FW, g.stride, g.dilation, (g.out_h, g.grid_w))
        # rows past the last window's reach (floored sizes) get no gradient
        rows = min(g.H, Hp - pt)
        dx[:, n0:n1, :rows] = img[:, :, pt : pt + rows, pl : pl + g.W]
        dx[:, n0:n1, rows:] = 0

    run_blocks(block, len(g.blocks))
    return dx


# ------------------------------------------------------------------ the operations
class Conv2d(Function):
    """y = x ⋆ W + b by im2col.

    x (N, C, H, W), W (FN, C/G, FH, FW), b (FN,) or None -> y (N, FN, out_h, out_w).
    With G groups, input channels [g*C/G, (g+1)*C/G) meet only filters [g*FN/G, (g+1)*FN/G):
    the product becomes G independent products, one batched matmul.
    Hyper-parameters arrive checked and as pairs (``conv2d`` does that); ``pads`` is
    (top, bottom, left, right).

    The products are written transposed, ``y^T = col_W^T @ col^T``: every filter's output
    is then one contiguous row, and y (N, FN, out_h, out_w) is a view of the channel-major
    (FN, N, out_h, out_w) result instead of a copy. The batch goes through in cache-sized
    blocks of images on all cores and, at stride 1, over whole padded rows (see "the fast
    path" above). Only the input is saved for backward.

    Backward: dW^T = col^T @ dy^T. At stride 1, dx is itself a convolution: the gradient,
    padded by d*(F - 1) - P, convolved with the filters flipped in H and W and with their
    in/out channels swapped, dx[c] = sum_f dy_pad[f] ⋆ flip(W[f, c]) (every output that
    input pixel (y, x) fed, y - i*d + P for tap i, found by sliding the flipped kernel).
    That reuses the forward's blocks and avoids col2im's adds; other strides use col2im.
    """

    def forward(
        self, x: Any, W: Any, b: Any, *, stride: Pair, pads: Pads, dilation: Pair, groups: int
    ) -> Any:
        xp = get_array_module(x)
        g = _Geometry(x.shape, W.shape, stride, pads, dilation, groups, xp, x.dtype)
        col_W = W.reshape(g.G, g.FN // g.G, g.Kg)  # (G, FN/G, Cg*FH*FW): a filter per row
        y = _conv_blocks(x, col_W, b, g)  # (FN, N, out_h, out_w)
        self.save_for_backward(
            x if self.needs_input_grad[1] else None, W if self.needs_input_grad[0] else None, g
        )
        return y.transpose(1, 0, 2, 3)  # (N, FN, out_h, out_w), a view

    def backward(self, dout: Any) -> tuple[Any, Any, Any]:
        x, W, g = self.saved
        xp = get_array_module(dout)
        G, FN, FH, FW, (DH, DW) = g.G, g.FN, g.FH, g.FW, g.dilation
        dx = dW = db = None
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            db = dout.sum(axis=(0, 2, 3))  # (FN,)
        if self.needs_input_grad[1]:
            dW_T = _weight_grad_blocks(x, dout, g)  # (G, Cg*FH*FW, FN/G)
            dW = xp.ascontiguousarray(dW_T.transpose(0, 2, 1)).reshape(FN, -1, FH, FW)
        if self.needs_input_grad[0]:
            pt, pb, pl, pr = g.pads
            flip_pads = (DH * (FH - 1) - pt, DH * (FH - 1) - pb, DW * (FW - 1) - pl, DW * (FW - 1) - pr)
            if g.stride == (1, 1) and min(flip_pads) >= 0:
                # the flipped, channel-swapped filters: (G, Cg, FN/G, FH, FW) -> (C, FN/G, FH, FW)
                Cg = g.C // G
                W_flip = W.reshape(G, FN // G, Cg, FH, FW)[:, :, :, ::-1, ::-1]
                W_flip = xp.ascontiguousarray(W_flip.transpose(0, 2, 1, 3, 4))
                g_dx = _Geometry(dout.shape, (g.C, FN // G, FH, FW), (1, 1), flip_pads,
                                 g.dilation, G, xp, dout.dtype)  # fmt: skip
                col_W_flip = W_flip.reshape(G, Cg, (FN // G) * FH * FW)
                dx = _conv_blocks(dout, col_W_flip, None, g_dx)  # (C, N, H, W)
            else:
                g_img = _Geometry((g.N, g.C, g.H, g.W), W.shape, g.stride, g.pads,
                                  g.dilation, G, xp, dout.dtype, bands=False)  # fmt: skip
                dx = _data_grad_col2im(dout, W.reshape(G, FN // G, g.Kg), g_img)
            dx = dx.transpose(1, 0, 2, 3)  # (N, C, H, W), a view
        return dx, dW, db


class ConvTranspose2d(Function):
    """The transposed convolution: conv2d's backward-data pass run forwards.

    x (N, C_in, H, W), W (C_in, C_out/G, FH, FW), b (C_out,) -> (N, C_out, H_out, W_out).
    Every input pixel scatters its C_in values times the kernel onto an FH x FW patch of
    the output (col2im); backward gathers those patches again (im2col).
    """

    def forward(
        self,
        x: Any,
        W: Any,
        b: Any,
        *,
        stride: Pair,
        padding: Pair,
        output_padding: Pair,
        dilation: Pair,
        groups: int,
    ) -> Any:
        N, C_in, H, W_in = x.shape
        _, Cg_out, FH, FW = W.shape
        G = groups
        C_out = Cg_out * G
        out_h = conv_transpose_output_size(
            H, FH, stride[0], padding[0], dilation[0], output_padding[0], dim="H"
        )
        out_w = conv_transpose_output_size(
            W_in, FW, stride[1], padding[1], dilation[1], output_padding[1], dim="W"
        )
        x_T = x.transpose(1, 0, 2, 3).reshape(G, C_in // G, N * H * W_in)  # (G, C_in/G, N*H*W)
        W_g = W.reshape(G, C_in // G, Cg_out * FH * FW)  # (G, C_in/G, Cg_out*FH*FW)
        col_T = W_g.transpose(0, 2, 1) @ x_T  # (G, Cg_out*FH*FW, N*H*W)
        col = col_T.reshape(C_out * FH * FW, -1).T  # (N*H*W, C_out*FH*FW)
        y = col2im(
            col, (N, C_out, out_h, out_w), FH, FW, stride, padding, dilation, out_size=(H, W_in)
        )  # (N, C_out, out_h, out_w)
        if b is not None:
            y += b.reshape(1, C_out, 1, 1)  # y is col2im's fresh buffer
        self.save_for_backward(
            x_T if self.needs_input_grad[1] else None,
            W_g if self.needs_input_grad[0] else None,
            x.shape, W.shape, stride, padding, dilation, G,
        )  # fmt: skip
        return y

    def backward(self, dout: Any) -> tuple[Any, Any, Any]:
        x_T, W_g, x_shape, W_shape, stride, padding, dilation, G = self.saved
        N, C_in, H, W_in = x_shape
        _, Cg_out, FH, FW = W_shape
        dx = dW = db = None
        if self.needs_input_grad[0] or self.needs_input_grad[1]:
            # the patches of dout that each input pixel was spread onto
            col = im2col(dout, FH, FW, stride, padding, dilation, out_size=(H, W_in))
            col_T = col.T.reshape(G, Cg_out * FH * FW, -1)  # (G, Cg_out*FH*FW, N*H*W)
        if self.needs_input_grad[0]:
            dx_T = W_g @ col_T  # (G, C_in/G, N*H*W)
            dx = dx_T.reshape(C_in, N, H, W_in).transpose(1, 0, 2, 3)  # (N, C_in, H, W)
        if self.needs_input_grad[1]:
            dW = x_T @ col_T.transpose(0, 2, 1)  # (G, C_in/G, Cg_out*FH*FW)
            dW = dW.reshape(W_shape)  # (C_in, Cg_out, FH, FW)
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            db = dout.sum(axis=(0, 2, 3))  # (C_out,)
        return dx, dW, db


# ------------------------------------------------------------------ validation
def _is_int(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (getattr(v, "ndim", None) == 0 and v.dtype.kind in "iu")


def _int_pair(value: Any, name: str, layer: str) -> Pair:
    """An int or a pair of ints, as (h, w); anything else is a TypeError."""
    vals = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(vals) != 2 or not all(_is_int(v) for v in vals):
        raise TypeError(
            f"{layer}: {name} must be an int or a pair of ints (h, w), got {name}={value!r}"
        )
    return int(vals[0]), int(vals[1])


def _check_tensors(x: Any, weight: Any, bias: Any, layer: str) -> None:
    """Types, ranks and dtypes, shared by conv2d and conv_transpose2d."""
    for name, t in (("input", x), ("weight", weight), ("bias", bias)):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(
                f"{layer}: {name} must be a tinyconv Tensor, got {type(t).__name__}; "
                "wrap arrays with tinyconv.tensor(...)"
            )
    if x.ndim != 4:
        hint = ""
        if x.ndim == 3:
            hint = f"; add the batch dimension with x.unsqueeze(0) -> {(1, *x.shape)}"
        raise ValueError(
            f"{layer}: expected a 4-D input (N, C, H, W), "
            f"got a {x.ndim}-D input of shape {x.shape}{hint}"
        )
    if weight.ndim != 4:
        raise ValueError(f"{layer}: expected a 4-D weight, got shape {weight.shape}")
    if x.dtype.kind != "f":
        raise TypeError(
            f"{layer}: expected a floating-point input, got dtype {x.dtype}; "
            "convert images with x.astype('float32') / 255 first"
        )
    if weight.dtype != x.dtype:
        raise TypeError(
            f"{layer}: input dtype {x.dtype} does not match weight dtype {weight.dtype}; "
            f"cast the input (x.to('{weight.dtype}')) or the layer (layer.to('{x.dtype}'))"
        )
    if bias is not None and bias.dtype != x.dtype:
        raise TypeError(f"{layer}: bias dtype {bias.dtype} does not match input dtype {x.dtype}")


def _check_groups(groups: Any, C: int, x_shape: tuple[int, ...], layer: str) -> int:
    if not _is_int(groups) or groups < 1:
        raise ValueError(f"{layer}: groups must be a positive int, got groups={groups!r}")
    if C % groups:
        raise ValueError(
            f"{layer}: input channels {C} are not divisible by groups={groups}; input {x_shape}"
        )
    return int(groups)


def _check_ranges(
    layer: str, x_shape: tuple[int, ...], F: Pair, S: Pair, P: Pair, d: Pair, given: dict[str, Any]
) -> None:
    """stride >= 1, padding >= 0 and dilation >= 1, refused with the size formula filled in."""
    for k, D in enumerate("HW"):
        p = f"({P[k]})" if P[k] < 0 else P[k]
        s = f"({S[k]})" if S[k] < 0 else S[k]
        nums = f"{D}_out = ({D}_in - F + 2P)/S + 1 = ({x_shape[2 + k]} - {F[k]} + 2*{p})/{s} + 1"
        if S[k] < 1:
            raise ValueError(
                f"{layer}: stride must be >= 1, got stride={given['stride']!r}: {nums} "
                f"divides by {S[k]}"
            )
        if P[k] < 0:
            raise ValueError(
                f"{layer}: padding must be >= 0, got padding={given['padding']!r}: {nums} "
                "would crop the input (slice it instead: x[:, :, a:b, c:d])"
            )
        if d[k] < 1:
            raise ValueError(
                f"{layer}: dilation must be >= 1, got dilation={given['dilation']!r} "
                "(1 is an ordinary convolution)"
            )


def _same_pads(FH: int, FW: int, dilation: Pair) -> Pads:
    """'same' padding at stride 1: d*(F-1) in all, the odd one at the bottom/right (as PyTorch)."""
    th, tw = dilation[0] * (FH - 1), dilation[1] * (FW - 1)
    return (th // 2, th - th // 2, tw // 2, tw - tw // 2)


# ------------------------------------------------------------------ functional API
def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | Pair = 1,
    padding: int | Pair | str = 0,
    dilation: int | Pair = 1,
    groups: int = 1,
    *,
    layer: str = "conv2d",
) -> Tensor:
    """2-D convolution (cross-correlation) of a batch, as ``torch.nn.functional.conv2d``.

    y[n, f, h, w] = b[f] + sum_{c,i,j} W[f, c, i, j] * x_pad[n, g*C/G + c, h*S + i*d, w*S + j*d]
    where g = f // (FN/G) is the group of filter f.

    Args:
        x: input (N, C, H, W), floating point.
        weight: filters (FN, C/groups, FH, FW).
        bias: (FN,) or None. Default: None.
        stride (int or (int, int)): S. Default: 1.
        padding (int, (int, int), "valid" or "same"): zeros added on each side. "same" keeps
            H and W (stride 1 only); when d*(F-1) is odd the extra row/column goes to the
            bottom/right, as in PyTorch. Default: 0.
        dilation (int or (int, int)): spacing d between kernel taps. Default: 1.
        groups (int): split channels into independent groups; groups = C is depthwise. Default: 1.
        layer (str): the layer named in error messages (``nn.Conv2d`` passes its repr).

    Shape:
        Input (N, C, H_in, W_in) -> Output (N, FN, H_out, W_out) with
        H_out = floor((H_in + 2P - d*(FH - 1) - 1)/S + 1), W_out likewise.

    Raises:
        ValueError: a wrong rank, channel count or hyper-parameter, or a kernel larger
            than the padded input (the message shows the formula with the numbers).
        TypeError: a non-Tensor or non-float input, or input and weight of different dtypes.

    Example:
        >>> import numpy, tinyconv
        >>> x = tinyconv.tensor(numpy.zeros((1, 1, 28, 28), dtype=numpy.float32))
        >>> w = tinyconv.tensor(numpy.zeros((64, 1, 4, 4), dtype=numpy.float32))
        >>> conv2d(x, w, stride=2, padding=1).shape
        (1, 64, 14, 14)
    """
    _check_tensors(x, weight, bias, layer)
    N, C, H, W = x.shape
    FN, Cg, FH, FW = weight.shape
    G = _check_groups(groups, C, x.shape, layer)
    if C != Cg * G:
        raise ValueError(
            f"{layer}: Given groups={G}, weight of size {list(weight.shape)}, expected "
            f"input{list(x.shape)} to have {Cg * G} channels, but got {C} channels instead"
        )
    if FN % G:
        raise ValueError(
            f"{layer}: weight of size {list(weight.shape)} has {FN} filters, "
            f"not divisible by groups={G}"
        )
    if bias is not None and bias.shape != (FN,):
        raise ValueError(f"{layer}: expected a bias of shape ({FN},), got {bias.shape}")
    S = _int_pair(stride, "stride", layer)
    d = _int_pair(dilation, "dilation", layer)
    given = {"stride": stride, "padding": padding, "dilation": dilation}
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(
                f"{layer}: padding must be an int, a pair, 'valid' or 'same', got {padding!r}"
            )
        _check_ranges(layer, x.shape, (FH, FW), S, (0, 0), d, given)
        if padding == "same" and S != (1, 1):
            raise ValueError(
                f"{layer}: padding='same' needs stride 1 (a strided output cannot keep H and W), "
                f"got stride={stride!r}"
            )
        pads = _same_pads(FH, FW, d) if padding == "same" else (0, 0, 0, 0)
    else:
        P = _int_pair(padding, "padding", layer)
        _check_ranges(layer, x.shape, (FH, FW), S, P, d, given)
        pads = (P[0], P[0], P[1], P[1])
    conv_output_size(H, FH, S[0], pads[:2], d[0], layer=layer, dim="H", in_shape=x.shape)
    conv_output_size(W, FW, S[1], pads[2:], d[1], layer=layer, dim="W", in_shape=x.shape)
    return Conv2d.apply(x, weight, bias, stride=S, pads=pads, dilation=d, groups=G)


def conv_transpose2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | Pair = 1,
    padding: int | Pair = 0,
    output_padding: int | Pair = 0,
    groups: int = 1,
    dilation: int | Pair = 1,
    *,
    layer: str = "conv_transpose2d",
) -> Tensor:
    """Transposed convolution ("deconvolution"), as ``torch.nn.functional.conv_transpose2d``.

    It is the gradient of ``conv2d`` with respect to its input, used as a forward pass:
    ``conv_transpose2d(y, W)`` has the shape of an x for which ``conv2d(x, W)`` has y's shape.

    Args:
        x: input (N, C_in, H, W), floating point.
        weight: (C_in, C_out/groups, FH, FW) (C_in first, unlike conv2d).
        bias: (C_out,) or None. Default: None.
        stride, padding, dilation (int or (int, int)): those of the convolution it transposes.
        output_padding (int or (int, int)): extra rows/columns at the bottom/right, choosing
            one of the input sizes that a strided convolution maps to the same output; must
            be smaller than the stride or the dilation. Default: 0.
        groups (int): as in conv2d. Default: 1.
        layer (str): the layer named in error messages.

    Shape:
        Input (N, C_in, H_in, W_in) -> Output (N, C_out, H_out, W_out) with
        H_out = (H_in - 1)*S - 2P + d*(FH - 1) + output_padding + 1.

    Raises:
        ValueError, TypeError: as conv2d.

    Example:
        >>> import numpy, tinyconv
        >>> y = tinyconv.tensor(numpy.zeros((1, 64, 14, 14), dtype=numpy.float32))
        >>> w = tinyconv.tensor(numpy.zeros((64, 1, 4, 4), dtype=numpy.float32))
        >>> conv_transpose2d(y, w, stride=2, padding=1).shape
        (1, 1, 28, 28)
    """
    _check_tensors(x, weight, bias, layer)
    N, C, H, W = x.shape
    C_in, Cg_out, FH, FW = weight.shape
    G = _check_groups(groups, C, x.shape, layer)
    if C != C_in:
        raise ValueError(
            f"{layer}: Given transposed=1, weight of size {list(weight.shape)}, expected "
            f"input{list(x.shape)} to have {C_in} channels, but got {C} channels instead"
        )
    if bias is not None and bias.shape != (Cg_out * G,):
        raise ValueError(f"{layer}: expected a bias of shape ({Cg_out * G},), got {bias.shape}")
    if isinstance(padding, str):
        raise ValueError(f"{layer}: padding must be an int or a pair of ints, got {padding!r}")
    S = _int_pair(stride, "stride", layer)
    P = _int_pair(padding, "padding", layer)
    d = _int_pair(dilation, "dilation", layer)
    op = _int_pair(output_padding, "output_padding", layer)
    given = {"stride": stride, "padding": padding, "dilation": dilation}
    _check_ranges(layer, x.shape, (FH, FW), S, P, d, given)
    for k in (0, 1):
        if op[k] < 0 or (op[k] >= S[k] and op[k] >= d[k]):
            raise ValueError(
                f"{layer}: output_padding must be >= 0 and smaller than either stride or dilation, "
                f"got output_padding={op}, stride={S}, dilation={d}"
            )
    for k, (size, F) in enumerate(((H, FH), (W, FW))):
        conv_transpose_output_size(
            size, F, S[k], P[k], d[k], op[k], layer=layer, dim="HW"[k], in_shape=x.shape
        )
    return ConvTranspose2d.apply(
        x, weight, bias, stride=S, padding=P, output_padding=op, dilation=d, groups=G
    )
