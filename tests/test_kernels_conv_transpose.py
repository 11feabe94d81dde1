"""The compiled path of conv_transpose2d (kernels/conv_transpose.py run block by block by
ops/conv_transpose_blocks.py) against the NumPy reference and PyTorch, forward and
backward, in float64 by finite differences, and independent of the thread count."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import gradcheck

import tinyconv
import tinyconv.functional as F
import tinyconv.kernels as K
from tinyconv.ops import parallel

pytest.importorskip("numba")

# (N, C_in, H, W), C_out, (FH, FW), keyword arguments of conv_transpose2d
CASES = [
    ((2, 3, 5, 7), 4, (4, 4), dict(stride=2, padding=1)),  # the decoders' 4x4/2/1
    ((3, 4, 6, 5), 2, (2, 2), dict(stride=2)),  # U-Net's 2x2/2: no overlap
    ((2, 5, 7, 6), 3, (3, 3), dict(stride=1, padding=1)),
    ((1, 4, 5, 4), 6, (3, 5), dict(stride=(2, 3), padding=(1, 2), output_padding=(1, 2))),
    ((2, 6, 4, 5), 4, (3, 3), dict(stride=2, padding=2, dilation=2, groups=2)),
    ((2, 6, 5, 5), 9, (2, 3), dict(stride=3, padding=(0, 1), groups=3, output_padding=1)),
    ((1, 4, 6, 7), 1, (4, 4), dict(stride=2, padding=1)),  # one output channel
    ((2, 2, 3, 4), 2, (3, 3), dict(stride=1, dilation=2, output_padding=1)),  # op >= stride
    ((1, 3, 4, 4), 2, (5, 5), dict(stride=2, padding=4)),  # padding crops whole taps away
    ((2, 2, 1, 1), 3, (5, 5), dict(padding=2)),  # a 1x1 input: most taps land outside
    ((1, 2, 2, 3), 2, (5, 4), dict(stride=3, padding=(3, 2), dilation=2)),
]


def _data(case, dtype, seed=0, bias=True):
    xs, C_out, (FH, FW), kw = case
    rng = np.random.default_rng(seed)
    G = kw.get("groups", 1)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal((xs[1], C_out // G, FH, FW)).astype(dtype)
    b = rng.standard_normal(C_out).astype(dtype) if bias else None
    out = TF.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), **kw).shape
    dy = rng.standard_normal(tuple(out)).astype(dtype)
    return x, w, b, dy, kw


def _run(kernels, x, w, b, dy, kw):
    with K.using(kernels):
        leaves = [tinyconv.tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]
        y = F.conv_transpose2d(*leaves[:2], leaves[2] if b is not None else None, **kw)
        y.backward(tinyconv.tensor(dy))
        return [y.numpy()] + [t.grad.numpy() for t in leaves]


def _torch(x, w, b, dy, kw):
    leaves = [torch.tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]
    y = TF.conv_transpose2d(*leaves[:2], leaves[2] if b is not None else None, **kw)
    y.backward(torch.from_numpy(dy))
    return [y.detach().numpy()] + [t.grad.numpy() for t in leaves]


@pytest.mark.parametrize("case", CASES)
def test_compiled_conv_transpose_equals_reference_and_torch(case):
    x, w, b, dy, kw = _data(case, np.float32)
    got = _run("numba", x, w, b, dy, kw)
    ref = _run("numpy", x, w, b, dy, kw)
    for g, r, name in zip(got, ref, ("y", "dx", "dW", "db"), strict=True):
        assert g.dtype == np.float32 and g.shape == r.shape, name
        assert np.abs(g - r).max() <= 1e-5 * np.abs(r).max(), name  # float32 rel <= 1e-5
    for g, t in zip(got, _torch(x, w, b, dy, kw), strict=True):
        np.testing.assert_allclose(g, t, atol=5e-5, rtol=1e-4)  # test_conv.py's tolerances


@pytest.mark.parametrize("case", CASES[:6:2] + CASES[7:8])
def test_compiled_conv_transpose_float64_torch_and_finite_differences(case):
    x, w, b, dy, kw = _data(case, np.float64, seed=1)
    for g, t in zip(_run("numba", x, w, b, dy, kw), _torch(x, w, b, dy, kw), strict=True):
        np.testing.assert_allclose(g, t, rtol=1e-12, atol=1e-12)
    with K.using("numba"):
        gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), [x, w, b])


def test_compiled_conv_transpose_without_bias_and_with_a_strided_gradient():
    x, w, _, dy, kw = _data(CASES[0], np.float32, bias=False)
    dy_cm = np.ascontiguousarray(dy.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    got = _run("numba", x, w, None, dy_cm, kw)
    for g, t in zip(got, _torch(x, w, None, dy, kw), strict=True):
        np.testing.assert_allclose(g, t, atol=5e-5, rtol=1e-4)


@pytest.mark.parametrize("threads", [2, 3])
def test_compiled_conv_transpose_does_not_depend_on_thread_count(threads):
    # 9 images: several blocks, so that the threads do share them
    x, w, b, dy, kw = _data(((9, 16, 7, 7), 8, (4, 4), dict(stride=2, padding=1)), np.float32)
    before = parallel.get_num_threads()
    try:
        parallel.set_num_threads(1)
        one = _run("numba", x, w, b, dy, kw)
        parallel.set_num_threads(threads)
        many = _run("numba", x, w, b, dy, kw)
    finally:
        parallel.set_num_threads(before)
    for a, c in zip(one, many, strict=True):
        np.testing.assert_array_equal(a, c)


def test_compiled_conv_transpose_is_used_only_where_the_rule_says():
    from tinyconv.ops.conv import _use_transpose_kernel

    x, w = np.zeros((1, 4, 5, 5), np.float32), np.zeros((4, 2, 3, 3), np.float32)
    with K.using("numba"):
        assert _use_transpose_kernel(x, w)
        assert _use_transpose_kernel(x.astype(np.float64), w.astype(np.float64))
        assert not _use_transpose_kernel(x.astype(np.float16), w.astype(np.float16))
        assert not _use_transpose_kernel(x, w.astype(np.float64))
    with K.using("numpy"):
        assert not _use_transpose_kernel(x, w)
