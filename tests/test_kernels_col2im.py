"""The compiled col2im (tinyconv/kernels/col2im.py, a strided convolution's dx): the same bits
as the NumPy reference's strided adds, and PyTorch's gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import tinyconv
import tinyconv.functional as F
import tinyconv.kernels as K

numba = pytest.importorskip("numba")

# (N, C, H, W), (FN, FH, FW), stride, padding, dilation, groups
CASES = [
    ((5, 32, 14, 14), (64, 3, 3), 2, 1, 1, 1),  # fast_mnist's second conv
    ((3, 3, 23, 21), (8, 7, 7), 2, 3, 1, 1),  # a ResNet stem, odd sizes
    ((2, 4, 13, 11), (6, 3, 2), (2, 3), (1, 2), (2, 1), 2),  # rectangles, dilation, groups
    ((2, 3, 9, 9), (20, 3, 3), 1, 1, 1, 1),  # stride 1 with FN > 2C: col2im as well
    ((2, 4, 10, 10), (8, 5, 5), 3, 2, 1, 1),
]


def run(path: str, case: tuple, dtype: type) -> list[np.ndarray]:
    xs, (FN, FH, FW), S, P, d, G = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal((FN, xs[1] // G, FH, FW)).astype(dtype)
    with K.using(path):
        xt, wt = tinyconv.tensor(x, requires_grad=True), tinyconv.tensor(w, requires_grad=True)
        y = F.conv2d(xt, wt, None, S, P, d, G)
        dy = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
        y.backward(tinyconv.tensor(dy))
    return [x, w, dy, xt.grad.numpy(), wt.grad.numpy()]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_col2im_equals_the_reference_and_torch(case: tuple, dtype: type) -> None:
    x, w, dy, dx, dw = run("numba", case, dtype)
    ref = run("numpy", case, dtype)
    _, _, S, P, d, G = case
    if dtype == np.float32 and S != 1 and G == 1:
        # im2col on the tiles (kernels/conv_gemm.py) takes these: its own col2im, and products
        # by the tiles (fused multiply-adds), so another rounding
        for a, r in ((dx, ref[3]), (dw, ref[4])):
            np.testing.assert_allclose(a, r, rtol=1e-5, atol=1e-5 * np.abs(r).max())
    else:
        np.testing.assert_array_equal(dx, ref[3])
        np.testing.assert_array_equal(dw, ref[4])
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    TF.conv2d(xt, wt, None, S, P, d, G).backward(torch.from_numpy(dy))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert np.abs(dx - xt.grad.numpy()).max() <= tol * np.abs(xt.grad.numpy()).max()
