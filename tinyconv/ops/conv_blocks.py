"""The fast path of Conv2d: im2col and the matrix product block by block, on all threads.

``Conv2d`` (conv.py) computes exactly ``im2col`` + one matmul (+ ``col2im`` backward), but
through the functions below, which apply the tricks described next. Nothing here changes
the arithmetic of a single output: tests/test_fast_paths.py checks every path against
im2col/col2im, and that the number of threads changes no bit.
"""

from __future__ import annotations

from typing import Any

from .. import kernels
from ..dtypes import compute_dtype
from .im2col import Pads, Pair, _col2im_add, _windows, conv_output_size
from .parallel import run_blocks, workers_for

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
        # 16-bit data: the scratch arrays (col, products) are float32, results stored as dtype
        self.xp, self.dtype, self.store = xp, compute_dtype(dtype), dtype
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
        row_bytes = self.K * self.grid_w * self.dtype.itemsize  # col of one output row
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
    y = xp.empty((FN, g.N, g.out_h, out_w), dtype=g.store)
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
        s, (_, _, h0, h1) = scratch[worker], g.blocks[k]
        dy = _grid_block(s["out"], dout, g, g.blocks[k])
        col_T = g.im2col_block(s["col"], g.padded_block(s, x, g.blocks[k]), h1 - h0)
        xp.matmul(col_T.reshape(g.G, g.Kg, -1), dy.transpose(0, 2, 1), out=dW_T[k])

    run_blocks(block, len(g.blocks))
    return dW_T.sum(axis=0)


def _data_grad_col2im(dout: Any, col_W: Any, g: _Geometry) -> Any:
    """dx (C, N, H, W) by dcol^T = col_W^T @ dy, then col2im, block by block (any stride).

    ``g`` must have whole-image blocks (``bands=False``): col2im adds into the padded rows
    around a band too, which belong to the neighbouring bands. With the kernels on, col2im
    is the compiled ``kernels/col2im.py`` (the same sums in the same order).
    """
    xp = g.xp
    pt, _, pl, _ = g.pads
    r0, Hp = g.in_rows(0, g.out_h)  # the padded rows that any window reaches
    dx = xp.empty((g.C, g.N, g.H, g.W), dtype=g.store)
    scratch = g.scratch(workers_for(len(g.blocks)), "x", "col", "out")
    compiled = None
    if kernels.enabled() and xp.__name__ == "numpy":
        from ..kernels import col2im as compiled  # noqa: PLC0415  (numba)

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
        grid = (g.out_h, g.grid_w)
        if compiled is not None and compiled.supported(dcol_T, img):  # the same sums, in order
            compiled.col2im_add(dcol_T.reshape(g.K, -1), img, g.FH, g.FW, g.stride,
                                g.dilation, grid, g.out_w)  # fmt: skip
        else:
            _col2im_add(dcol_T, img, g.FH, g.FW, g.stride, g.dilation, grid)
        # rows past the last window's reach (floored sizes) get no gradient
        rows = min(g.H, Hp - pt)
        dx[:, n0:n1, :rows] = img[:, :, pt : pt + rows, pl : pl + g.W]
        dx[:, n0:n1, rows:] = 0

    run_blocks(block, len(g.blocks))
    return dx
