"""col2im compiled: add the unrolled patches col^T back onto a padded image, plane by plane

The reference (``ops/im2col.py`` ``_col2im_add``) makes one strided NumPy add per kernel
tap, each over the whole block: at stride 2 the runs are output rows of out_w floats,
often 7-28, so NumPy spends most of its time between runs. Here each (channel, image)
plane is one task that adds its taps in the same order (tap (i, j) after tap (i, j - 1),
every window of a tap before the next tap), so each pixel receives the same sum in the
same order as in the reference: the same bits::

    img[c, n, h*SH + i*DH, w*SW + j*DW] += col_T[(c*FH + i)*FW + j, (n*out_h + h)*grid_w + w]

Threads: serial, and without the GIL: ``conv_blocks`` calls it from its own block threads
(a parallel Numba kernel must not be entered from several threads at once with the
workqueue layer). Each block's planes are summed in one fixed order, so the result does not
depend on the thread count.

Arrays: col_T (C*FH*FW, nb*out_h*grid_w) C-contiguous and img (C, nb, H_pad, W_pad) with
contiguous rows (any plane order), one dtype (float32 or float64).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._jit import njit


@njit(fastmath=False)
def _col2im(
    col: Any, img: Any, FH: int, FW: int, SH: int, SW: int, DH: int, DW: int,
    out_h: int, out_w: int, grid_w: int,
) -> None:  # fmt: skip
    C, N, Hp, Wp = img.shape
    for task in range(C * N):
        c, n = task // N, task % N
        plane = img[c, n]
        for i in range(FH):
            for j in range(FW):
                row = col[(c * FH + i) * FW + j]
                base = n * out_h * grid_w
                for h in range(out_h):
                    r = h * SH + i * DH
                    src = base + h * grid_w
                    for w in range(out_w):
                        plane[r, w * SW + j * DW] += row[src + w]


def supported(col_T: Any, img: Any) -> bool:
    """True for NumPy float32/float64 arrays of one dtype, col_T C-contiguous, img's rows
    contiguous."""
    return (
        isinstance(col_T, np.ndarray)
        and isinstance(img, np.ndarray)
        and col_T.dtype == img.dtype
        and img.dtype in (np.float32, np.float64)
        and col_T.flags.c_contiguous
        and img.strides[3] == img.itemsize
    )


def col2im_add(
    col_T: Any,
    img: Any,
    FH: int,
    FW: int,
    stride: tuple[int, int],
    dilation: tuple[int, int],
    out_hw: tuple[int, int],
    out_w: int,
) -> None:
    """img += col2im(col_T), as ``ops.im2col._col2im_add``; ``out_hw`` = (out_h, grid_w)
    is the grid of windows in col_T, of which the first ``out_w`` per row are added
    (the rest, junk windows of the whole-row trick, carry zeros there)."""
    out_h, grid_w = out_hw
    _col2im(
        col_T, img, FH, FW, stride[0], stride[1], dilation[0], dilation[1], out_h, out_w, grid_w
    )
