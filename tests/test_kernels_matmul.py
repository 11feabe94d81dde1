"""A @ B on the compiled tiles (tinyconv/kernels/matmul.py), as Linear's backward products,
against NumPy and PyTorch, and used only where its rule says."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinyconv
import tinyconv.functional as F
import tinyconv.kernels as K

numba = pytest.importorskip("numba")


@pytest.mark.parametrize("shape", [(128, 3136, 128), (7, 48, 33), (100, 160, 10), (1, 2000, 5)])
def test_linear_backward_on_the_tiles_equals_numpy_and_torch(shape):
    N, D_in, D_out = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, D_in)).astype(np.float32)
    w = rng.standard_normal((D_out, D_in)).astype(np.float32)
    b = rng.standard_normal(D_out).astype(np.float32)
    dy = rng.standard_normal((N, D_out)).astype(np.float32)
    grads = {}
    for path in ("numba", "numpy"):
        with K.using(path):
            ts = [tinyconv.tensor(a, requires_grad=True) for a in (x, w, b)]
            F.linear(*ts).backward(tinyconv.tensor(dy))
            grads[path] = [t.grad.numpy() for t in ts]
    tt = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    torch.nn.functional.linear(*tt).backward(torch.from_numpy(dy))
    for a, r, t in zip(grads["numba"], grads["numpy"], tt, strict=True):
        scale = max(1.0, float(np.abs(r).max()))
        np.testing.assert_allclose(a, r, rtol=1e-5, atol=1e-5 * scale)
        np.testing.assert_allclose(a, t.grad.numpy(), rtol=1e-4, atol=1e-5 * scale)


def test_tile_matmul_equals_numpy_for_any_left_operand_strides():
    from tinyconv.kernels import matmul

    rng = np.random.default_rng(1)
    a = rng.standard_normal((70, 40)).astype(np.float32)
    b = rng.standard_normal((70, 8192)).astype(np.float32)
    for left in (a.T, np.ascontiguousarray(a.T), a.T[::2]):  # a transposed view, a copy, a slice
        assert matmul.supported(left, b[: left.shape[1]])
        got = matmul.matmul(left, b[: left.shape[1]])
        want = left.astype(np.float64) @ b[: left.shape[1]].astype(np.float64)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_tile_matmul_is_used_only_where_the_rule_says():
    from tinyconv.kernels import matmul

    a = np.zeros((128, 128), np.float32)
    b = np.zeros((128, 3136), np.float32)
    assert matmul.supported(a, b)
    assert not matmul.supported(a, b[:, :3130])  # columns not whole tiles
    assert not matmul.supported(a, np.asfortranarray(b))  # b not row-major
    assert not matmul.supported(a.astype(np.float64), b.astype(np.float64))
    assert not matmul.supported(a[:4, :4], b[:4, :16])  # too small to win
