"""A @ B on the compiled register tiles, for a row-major B whose rows hold whole tiles.

The tiles of ``conv_tiles.tile_products`` compute out[f, q] = sum_k wt[k, f] * xs[q + offs[k]].
With xs = B (R, P) flat and offs[r] = r*P that is exactly C = A @ B: the positions q are
B's columns (P a multiple of the tile width, 16), the "filters" f are A's rows, and the
reduction runs over r. ``Linear`` uses it for its two backward products, whose right-hand
side is row-major as it stands (no copy):

* dx = dy @ W: A = dy (N, out), B = W (out, in);
* dW = dy^T @ x: A = dy^T (out, N), a view, B = x (N, in).

Measured (AMD EPYC Zen 5, 2 threads, OpenBLAS's Haswell kernels; fast_mnist's Linear
3136 -> 128 at batch 128, fastest of 15): dx 0.32 vs 0.49 ms, dW 0.32 vs 0.48 ms. The
forward product x @ W^T has a transposed right-hand side and stays with BLAS.

Every output is one fixed sum over r in order (fused multiply-adds), so results do not
depend on the thread count; they equal BLAS's to float32 rounding.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .conv3x3 import _tile_weights

L = 16  # positions per tile (conv_tiles.L)
MIN_FLOPS = 1 << 24  # below this BLAS's own small-matrix path is as fast (not measured to win)


def supported(a: Any, b: Any) -> bool:
    """float32 NumPy 2-D operands, B C-contiguous with a multiple of 16 columns, and a product
    of at least MIN_FLOPS."""
    return (
        type(a) is np.ndarray
        and type(b) is np.ndarray
        and a.dtype == np.float32
        and b.dtype == np.float32
        and a.ndim == 2
        and b.ndim == 2
        and b.flags.c_contiguous
        and b.shape[1] % L == 0
        and a.shape[1] == b.shape[0]
        and 2 * a.shape[0] * a.shape[1] * b.shape[1] >= MIN_FLOPS
    )


def matmul(a: Any, b: Any) -> Any:
    """C = a @ b (M, P) float32 for a (M, R) of any strides and b (R, P) as ``supported``."""
    from . import conv_tiles  # noqa: PLC0415  (compiles on first use)

    M, R = a.shape
    P = b.shape[1]
    wt, nob = _tile_weights(a, conv_tiles.OB)
    out = np.empty(nob * conv_tiles.OB * P, np.float32)
    offs = np.arange(R, dtype=np.uint64) * np.uint64(P)
    conv_tiles.tile_products(b.reshape(-1), wt, offs, out, nob, P)
    return out[: M * P].reshape(M, P)
