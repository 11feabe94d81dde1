"""The compiled path of ConvTranspose2d: its products and col2im/im2col block by block.

``ConvTranspose2d`` (conv.py) is, per batch, col^T = W_g^T @ x^T then col2im (forward), and
im2col of dy then dx^T = W_g @ col^T and dW = x^T @ col (backward). col holds C_out*FH*FW
values per input pixel (16 per output channel for a 4x4 kernel): for a whole batch it goes
to main memory and back between the product and col2im. Here the batch goes through in
blocks of a few images whose col fits in cache (``conv_blocks.BLOCK_BYTES``), each block's
product in BLAS (one thread) next to its compiled col2im or im2col
(``kernels/conv_transpose.py``), the blocks spread over the threads (``run_blocks``).

The blocks do not depend on the thread count and dW's per-block parts are added in block
order, so neither does any result. Called only for NumPy float32/float64 arrays with the
kernels on (``conv._use_transpose_kernel``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .conv_blocks import BLOCK_BYTES, BLOCK_COLUMNS, MIN_BLOCKS
from .im2col import Pair
from .parallel import run_blocks, workers_for

Conv = tuple[Pair, Pair, Pair, Pair, int]  # kernel, stride, padding, dilation, groups


def _blocks(N: int, K: int, HW: int, itemsize: int) -> list[tuple[int, int]]:
    """Image ranges [n0, n1) whose col (K, nb*H*W) stays near BLOCK_BYTES (at least one
    image and BLOCK_COLUMNS columns), at least MIN_BLOCKS of them when N allows."""
    nb = max(BLOCK_BYTES // (K * HW * itemsize), -(-BLOCK_COLUMNS // HW), 1)
    nb = max(1, min(N, nb, -(-N // MIN_BLOCKS)))
    return [(n0, min(n0 + nb, N)) for n0 in range(0, N, nb)]


def transpose_forward(x: Any, W: Any, b: Any, out_hw: Pair, conv: Conv) -> Any:
    """y (N, C_out, OH, OW), C-contiguous, of x (N, C_in, H, W), W (C_in, C_out/G, FH, FW)
    and b (C_out,) or None."""
    from ..kernels.conv_transpose import col2im_bias  # noqa: PLC0415  (numba)

    (FH, FW), stride, padding, dilation, G = conv
    N, C_in, H, W_in = x.shape
    Cg_out = W.shape[1]
    C_out, Kg, HW = Cg_out * G, Cg_out * FH * FW, H * W_in
    W_T = np.ascontiguousarray(W.reshape(G, C_in // G, Kg).transpose(0, 2, 1))  # (G, Kg, C_in/G)
    bias = np.zeros(C_out, x.dtype) if b is None else np.ascontiguousarray(b)
    y = np.empty((N, C_out, *out_hw), dtype=x.dtype)
    blocks = _blocks(N, G * Kg, HW, x.itemsize)
    nb = max(n1 - n0 for n0, n1 in blocks)
    scratch = [
        (np.empty(C_in * nb * HW, x.dtype), np.empty(G * Kg * nb * HW, x.dtype))
        for _ in range(workers_for(len(blocks)))
    ]

    def block(worker: int, k: int) -> None:
        n0, n1 = blocks[k]
        xs, cs = scratch[worker]
        x_T = xs[: C_in * (n1 - n0) * HW].reshape(C_in, n1 - n0, H, W_in)
        x_T[...] = x[n0:n1].transpose(1, 0, 2, 3)  # (C_in, nb, H, W)
        col_T = cs[: G * Kg * (n1 - n0) * HW].reshape(G, Kg, -1)  # (G, Kg, nb*H*W)
        np.matmul(W_T, x_T.reshape(G, C_in // G, -1), out=col_T)
        col2im_bias(col_T.reshape(G * Kg, -1), bias, y[n0:n1], (H, W_in), (FH, FW), stride,
                    padding, dilation)  # fmt: skip

    run_blocks(block, len(blocks))
    return y


def transpose_backward(
    dy: Any, x: Any, W: Any, x_shape: tuple[int, ...], conv: Conv, need_dx: bool, need_dW: bool
) -> tuple[Any, Any]:
    """dx (N, C_in, H, W) C-contiguous (or None) and dW (C_in, C_out/G, FH, FW) (or None)
    from dy (N, C_out, OH, OW); x is needed for dW, W for dx."""
    from ..kernels.conv_transpose import im2col_T  # noqa: PLC0415  (numba)

    (FH, FW), stride, padding, dilation, G = conv
    N, C_in, H, W_in = x_shape
    C_out = dy.shape[1]
    Cg_out, Kg, HW = C_out // G, C_out // G * FH * FW, H * W_in
    dy = np.ascontiguousarray(dy)
    dtype = dy.dtype
    W_g = None if W is None else np.ascontiguousarray(W.reshape(G, C_in // G, Kg))
    dx = np.empty(x_shape, dtype=dtype) if need_dx else None
    blocks = _blocks(N, G * Kg, HW, dy.itemsize)
    dW_parts = np.empty((len(blocks), G, C_in // G, Kg), dtype=dtype) if need_dW else None
    nb = max(n1 - n0 for n0, n1 in blocks)
    scratch = [
        (np.empty(C_in * nb * HW, dtype), np.empty(G * Kg * nb * HW, dtype))
        for _ in range(workers_for(len(blocks)))
    ]

    def block(worker: int, k: int) -> None:
        n0, n1 = blocks[k]
        xs, cs = scratch[worker]
        col_T = cs[: G * Kg * (n1 - n0) * HW].reshape(G * Kg, -1)  # (C_out*FH*FW, nb*H*W)
        im2col_T(dy[n0:n1], col_T, (H, W_in), (FH, FW), stride, padding, dilation)
        col_T = col_T.reshape(G, Kg, -1)
        x_T = xs[: C_in * (n1 - n0) * HW].reshape(C_in, n1 - n0, H, W_in)
        if need_dx:  # dx^T = W_g @ col^T, then back to (nb, C_in, H, W)
            np.matmul(W_g, col_T, out=x_T.reshape(G, C_in // G, -1))
            dx[n0:n1] = x_T.transpose(1, 0, 2, 3)
        if need_dW:  # dW_k = x^T @ col
            x_T[...] = x[n0:n1].transpose(1, 0, 2, 3)
            np.matmul(x_T.reshape(G, C_in // G, -1), col_T.transpose(0, 2, 1), out=dW_parts[k])

    run_blocks(block, len(blocks))
    dW = None if dW_parts is None else dW_parts.sum(axis=0).reshape(C_in, Cg_out, FH, FW)
    return dx, dW
