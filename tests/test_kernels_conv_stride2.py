"""The compiled stride-2 convolution (tinyconv/kernels/conv_stride2.py: the stride phases on one
grid, the stride-1 register tiles) against the NumPy reference and PyTorch, forward and
backward, and used only where its rule says."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import tinyconv
import tinyconv.functional as F
import tinyconv.kernels as K
from tinyconv.ops.conv import _use_stride2_kernel

numba = pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def _no_gemm(monkeypatch):
    """These layers now go to im2col on the tiles (kernels/conv_gemm.py) when their col is
    small; the phase grid is tested here on its own (it serves the larger ones)."""
    monkeypatch.setattr("tinyconv.ops.conv._use_gemm_kernel", lambda *a, **k: False)


# (N, C, H, W), filters, padding, bias: fast_mnist's conv2, odd sizes (the floor drops a row
# and a column), no padding, uneven padding, no bias
CASES = [
    ((4, 32, 14, 14), 64, 1, True),
    ((2, 19, 9, 12), 7, 1, True),
    ((2, 16, 10, 11), 5, 0, True),
    ((1, 24, 8, 7), 33, (2, 1), False),
]


def _run(kernels, x, w, b, dy, P):
    with K.using(kernels):
        ts = [
            tinyconv.tensor(a, requires_grad=True) for a in (x, w) + ((b,) if b is not None else ())
        ]
        y = F.conv2d(ts[0], ts[1], ts[2] if b is not None else None, stride=2, padding=P)
        used = bool(getattr(y._ctx, "stride2", False))
        y.backward(tinyconv.tensor(dy))
        return [y.numpy(), *[t.grad.numpy() for t in ts]], used


@pytest.mark.parametrize("case", CASES, ids=["fast_mnist", "odd", "nopad", "pad21-nobias"])
def test_stride2_kernel_equals_reference_and_torch(case):
    xs, FN, P, bias = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal((FN, xs[1], 3, 3)).astype(np.float32)
    b = rng.standard_normal(FN).astype(np.float32) if bias else None
    Pp = (P, P) if isinstance(P, int) else P
    oh = (xs[2] + 2 * Pp[0] - 3) // 2 + 1
    ow = (xs[3] + 2 * Pp[1] - 3) // 2 + 1
    dy = rng.standard_normal((xs[0], FN, oh, ow)).astype(np.float32)
    fast, used = _run("numba", x, w, b, dy, P)
    ref, used_ref = _run("numpy", x, w, b, dy, P)
    assert used and not used_ref
    for a, r in zip(fast, ref, strict=True):
        np.testing.assert_allclose(a, r, rtol=1e-5, atol=1e-4 * max(1.0, float(np.abs(r).max())))
    tt = [torch.tensor(a, requires_grad=True) for a in (x, w) + ((b,) if bias else ())]
    yt = TF.conv2d(tt[0], tt[1], tt[2] if bias else None, stride=2, padding=Pp)
    yt.backward(torch.from_numpy(dy))
    for a, t in zip(fast, [yt, *[t.grad for t in tt]], strict=True):
        r = t.detach().numpy()
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(r).max())))


def test_stride2_kernel_does_not_depend_on_thread_count():
    from tinyconv.ops.parallel import get_num_threads, set_num_threads

    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 16, 13, 12)).astype(np.float32)
    w = rng.standard_normal((24, 16, 3, 3)).astype(np.float32)
    dy = rng.standard_normal((5, 24, 7, 6)).astype(np.float32)
    before, nb = get_num_threads(), numba.get_num_threads()
    out = []
    try:
        for n in (1, max(2, nb)):
            set_num_threads(n)
            numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
            out.append(_run("numba", x, w, None, dy, 1)[0])
    finally:
        set_num_threads(before)
        numba.set_num_threads(nb)
    for a, b in zip(*out, strict=True):
        np.testing.assert_array_equal(a, b)


def test_stride2_kernel_is_used_only_where_the_rule_says():
    x = np.zeros((1, 16, 8, 8), np.float32)
    w = np.zeros((32, 16, 3, 3), np.float32)
    one, two = (1, 1), (2, 2)
    with K.using("numba"):
        assert _use_stride2_kernel(x, w, two, (1, 1, 1, 1), one, 1, True)
        assert not _use_stride2_kernel(x, w, one, (1, 1, 1, 1), one, 1, True)  # stride 1
        assert not _use_stride2_kernel(x, w, (2, 1), (1, 1, 1, 1), one, 1, True)
        assert not _use_stride2_kernel(x, w, two, (1, 1, 1, 1), two, 1, True)  # dilated
        assert not _use_stride2_kernel(x[:, :8], w[:, :8], two, (1, 1, 1, 1), one, 1, True)
        w5 = np.zeros((32, 16, 5, 5), np.float32)
        assert not _use_stride2_kernel(x, w5, two, (2, 2, 2, 2), one, 1, True)  # not 3x3
        x128, w128 = np.zeros((1, 128, 8, 8), np.float32), np.zeros((128, 128, 3, 3), np.float32)
        assert not _use_stride2_kernel(x128, w128, two, (1, 1, 1, 1), one, 1, True)  # training
        assert _use_stride2_kernel(x128, w128, two, (1, 1, 1, 1), one, 1, False)  # inference
        x64, w64 = x.astype(np.float64), w.astype(np.float64)
        assert not _use_stride2_kernel(x64, w64, two, (1, 1, 1, 1), one, 1, True)
    with K.using("numpy"):
        assert not _use_stride2_kernel(x, w, two, (1, 1, 1, 1), one, 1, True)
