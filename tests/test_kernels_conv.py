"""The compiled depthwise convolution (tinyconv/kernels/conv_depthwise.py) against the NumPy
reference and PyTorch, forward and backward, and independent of the thread count."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import gradcheck

import tinyconv
import tinyconv.functional as F
import tinyconv.kernels as K

numba = pytest.importorskip("numba")

# (N, C, H, W), filters per channel, (FH, FW), stride, padding, dilation
CASES = [
    ((2, 3, 9, 11), 1, (3, 3), 1, 1, 1),
    ((3, 4, 13, 10), 2, (3, 2), (2, 1), (1, 0), 1),
    ((2, 5, 12, 12), 1, (3, 3), 1, 2, 2),
    ((1, 6, 17, 15), 3, (5, 5), 3, 2, (1, 2)),
    ((2, 4, 7, 8), 1, (4, 3), 1, "same", 1),  # even kernel: the extra row at the bottom
    ((2, 3, 5, 6), 1, (3, 3), 2, 0, 1),
    ((1, 2, 4, 4), 1, (3, 3), 1, 3, 1),  # padding wider than the kernel reaches
]


def _run(kernels: str, x: np.ndarray, w: np.ndarray, b: np.ndarray, dy: np.ndarray, kw: dict):
    with K.using(kernels):
        xc, wc, bc = (tinyconv.tensor(a, requires_grad=True) for a in (x, w, b))
        y = F.conv2d(xc, wc, bc, groups=x.shape[1], **kw)
        y.backward(tinyconv.tensor(dy))
        return y.numpy(), xc.grad.numpy(), wc.grad.numpy(), bc.grad.numpy()


def _data(case, dtype, seed=0):
    xs, m, (FH, FW), S, P, d = case
    rng = np.random.default_rng(seed)
    C = xs[1]
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal((C * m, 1, FH, FW)).astype(dtype)
    b = rng.standard_normal(C * m).astype(dtype)
    kw = dict(stride=S, padding=P, dilation=d)
    out = TF.conv2d(torch.from_numpy(x), torch.from_numpy(w), groups=C, **kw).shape
    dy = rng.standard_normal(tuple(out)).astype(dtype)
    return x, w, b, dy, kw


@pytest.mark.parametrize("case", CASES)
def test_depthwise_kernel_equals_reference_and_torch(case):
    x, w, b, dy, kw = _data(case, np.float32)
    got = _run("numba", x, w, b, dy, kw)
    ref = _run("numpy", x, w, b, dy, kw)
    for g, r, name in zip(got, ref, ("y", "dx", "dW", "db"), strict=True):
        scale = np.abs(r).max()
        if name == "db":  # a sum of dy that may cancel: its float32 error scales with sum |dy|
            scale = max(scale, np.abs(dy).sum(axis=(0, 2, 3)).max())
        assert np.abs(g - r).max() <= 1e-5 * scale, name  # float32 rel <= 1e-5
        assert g.dtype == np.float32 and g.shape == r.shape, name
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = TF.conv2d(xt, wt, bt, groups=x.shape[1], **kw)
    yt.backward(torch.from_numpy(dy))
    for g, t in zip(got, (yt, xt.grad, wt.grad, bt.grad), strict=True):
        # float32 sums of N(0, 1) products in another order: test_conv.py's tolerances
        np.testing.assert_allclose(g, t.detach().numpy(), atol=5e-5, rtol=1e-4)


@pytest.mark.parametrize("case", CASES[:4])
def test_depthwise_kernel_float64_matches_torch_and_finite_differences(case):
    x, w, b, dy, kw = _data(case, np.float64, seed=1)
    got = _run("numba", x, w, b, dy, kw)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = TF.conv2d(xt, wt, bt, groups=x.shape[1], **kw)
    yt.backward(torch.from_numpy(dy))
    for g, t in zip(got, (yt, xt.grad, wt.grad, bt.grad), strict=True):
        np.testing.assert_allclose(g, t.detach().numpy(), rtol=1e-12, atol=1e-12)
    with K.using("numba"):
        gradcheck(lambda x, w, b: F.conv2d(x, w, b, groups=x.shape[1], **kw), [x, w, b])


def test_depthwise_kernel_takes_strided_views():
    """A channel-major input (the layout Conv2d's reference returns) needs no copy."""
    x, w, b, dy, kw = _data(CASES[1], np.float32)
    x_cm = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    dy_cm = np.ascontiguousarray(dy.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    assert not x_cm.flags.c_contiguous
    got = _run("numba", x_cm, w, b, dy_cm, kw)
    ref = _run("numba", x, w, b, dy, kw)
    for g, r in zip(got[:3], ref[:3], strict=True):  # y, dx, dW: the kernels, same order
        np.testing.assert_array_equal(g, r)
    np.testing.assert_allclose(got[3], ref[3], rtol=1e-6)  # db: NumPy's sum over a view


def test_depthwise_kernel_does_not_depend_on_thread_count():
    x, w, b, dy, kw = _data(((4, 8, 15, 13), 2, (3, 3), 1, 1, 1), np.float32)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = _run("numba", x, w, b, dy, kw)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = _run("numba", x, w, b, dy, kw)
    finally:
        numba.set_num_threads(before)
    for a, c in zip(one, many, strict=True):
        np.testing.assert_array_equal(a, c)


def test_depthwise_kernel_is_used_only_where_the_rule_says():
    from tinyconv.ops.conv import _use_depthwise_kernel

    x = np.zeros((1, 4, 5, 5), np.float32)
    with K.using("numba"):
        assert _use_depthwise_kernel(x, np.zeros((8, 1, 3, 3), np.float32), 4)
        assert not _use_depthwise_kernel(x, np.zeros((4, 2, 3, 3), np.float32), 2)  # grouped
        assert not _use_depthwise_kernel(x, np.zeros((4, 4, 3, 3), np.float32), 1)
        x16, w16 = x.astype(np.float16), np.zeros((4, 1, 3, 3), np.float16)
        assert not _use_depthwise_kernel(x16, w16, 4)  # 16-bit: the reference
    with K.using("numpy"):
        assert not _use_depthwise_kernel(x, np.zeros((4, 1, 3, 3), np.float32), 4)


def test_parallel_kernels_called_from_many_threads_at_once():
    """Numba's workqueue layer aborts the process when a ``parallel=True`` kernel is entered
    from two threads at once (``tinyconv serve`` answers on several threads): every such
    kernel is called behind one lock, so eight concurrent convolutions all finish, equal."""
    from concurrent.futures import ThreadPoolExecutor

    from tinyconv.kernels._jit import LockedKernel
    from tinyconv.kernels.conv_depthwise import _forward

    assert isinstance(_forward, LockedKernel)
    x, w, b, dy, kw = _data(((6, 8, 21, 19), 1, (3, 3), 1, 1, 1), np.float32)

    def one(_: int) -> tuple[np.ndarray, ...]:
        xc, wc, bc = (tinyconv.tensor(a, requires_grad=True) for a in (x, w, b))
        y = F.conv2d(xc, wc, bc, groups=x.shape[1], **kw)
        y.backward(tinyconv.tensor(dy))
        return y.numpy(), xc.grad.numpy(), wc.grad.numpy()

    with K.using("numba"):
        ref = one(0)
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(one, range(16)))
    for got in results:
        for g, r in zip(got, ref, strict=True):
            np.testing.assert_array_equal(g, r)
