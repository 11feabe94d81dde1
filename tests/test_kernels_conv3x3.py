"""The compiled stride-1 convolution (tinyconv/kernels/conv3x3.py, gap grid + register tiles)
against the NumPy reference and PyTorch, forward and backward, independent of the thread
count, and used only where its rule says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import tinyconv
import tinyconv.functional as F
import tinyconv.kernels as K

numba = pytest.importorskip("numba")

ROOT = Path(__file__).resolve().parent.parent

# (N, C, H, W), filters, padding, dilation: all through F.conv2d's dispatch (C = 1, 16..64)
CASES = [
    ((2, 16, 9, 11), 17, 1, 1),  # odd sizes, a filter count that is no multiple of the tiles
    ((3, 19, 7, 6), 5, (2, 0), 1),  # padding 2 on H only (DeepConvNet's conv4 has 2)
    ((2, 16, 12, 10), 8, "same", (2, 1)),  # dilation, 'same' padding
    ((1, 24, 5, 13), 33, 0, 1),  # no padding
    ((2, 64, 8, 8), 64, 1, 1),  # DeepConvNet's last layer
    ((3, 1, 10, 9), 16, 1, 1),  # a one-channel first layer
]


def _data(xs, FN, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal((FN, xs[1], 3, 3)).astype(dtype)
    b = rng.standard_normal(FN).astype(dtype)
    return x, w, b


def _run(kernels, x, w, b, dy, kw):
    with K.using(kernels):
        xc, wc, bc = (tinyconv.tensor(a, requires_grad=True) for a in (x, w, b))
        y = F.conv2d(xc, wc, bc, **kw)
        y.backward(tinyconv.tensor(dy))
        return y.numpy(), xc.grad.numpy(), wc.grad.numpy(), bc.grad.numpy()


def _torch(x, w, b, dy, kw):
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = TF.conv2d(xt, wt, bt, **kw)
    yt.backward(torch.from_numpy(dy))
    return [t.detach().numpy() for t in (yt, xt.grad, wt.grad, bt.grad)]


@pytest.mark.parametrize("case", CASES)
def test_direct_kernel_equals_reference_and_torch(case):
    xs, FN, P, d = case
    x, w, b = _data(xs, FN)
    kw = dict(padding=P, dilation=d)
    yshape = TF.conv2d(torch.from_numpy(x), torch.from_numpy(w), **kw).shape
    dy = np.random.default_rng(1).standard_normal(tuple(yshape)).astype(np.float32)
    from tinyconv.ops.conv import Conv2d

    used = []
    forward = Conv2d._direct_forward

    def spy(self, *a):
        used.append(True)
        return forward(self, *a)

    Conv2d._direct_forward = spy
    try:
        got = _run("numba", x, w, b, dy, kw)
    finally:
        Conv2d._direct_forward = forward
    assert used, "the direct kernel was not used"
    ref = _run("numpy", x, w, b, dy, kw)
    for g, r, name in zip(got, ref, ("y", "dx", "dW", "db"), strict=True):
        assert g.dtype == np.float32 and g.shape == r.shape, name
        assert np.abs(g - r).max() <= 1e-5 * np.abs(r).max(), name  # float32 rel <= 1e-5
    for g, t in zip(got, _torch(x, w, b, dy, kw), strict=True):
        np.testing.assert_allclose(g, t, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    "xs, FN, pads, d",
    [
        ((2, 3, 7, 9), 6, (1, 1, 1, 1), (1, 1)),
        ((2, 3, 11, 6), 5, (0, 2, 1, 0), (1, 1)),  # asymmetric padding
        ((2, 4, 9, 10), 3, (2, 1, 0, 2), (2, 1)),  # dilation, asymmetric
        ((1, 1, 5, 5), 1, (0, 0, 0, 0), (1, 1)),  # one channel, one filter
    ],
)
def test_direct_kernel_functions_against_torch_at_odd_shapes(xs, FN, pads, d):
    """The kernels themselves, below the dispatch rule (any C), against PyTorch in float64."""
    from tinyconv.kernels.conv3x3 import conv_data_grad, conv_forward, conv_weight_grad

    x, w, b = _data(xs, FN, seed=2)
    pt, pb, pl, pr = pads
    x64, w64 = (torch.tensor(a.astype(np.float64), requires_grad=True) for a in (x, w))
    y64 = TF.conv2d(TF.pad(x64, (pl, pr, pt, pb)), w64, torch.from_numpy(b.astype(np.float64)),
                    dilation=d)  # fmt: skip
    dy = np.random.default_rng(3).standard_normal(tuple(y64.shape)).astype(np.float32)
    y64.backward(torch.from_numpy(dy.astype(np.float64)))
    y, xs_grid = conv_forward(x, w, b, pads, d)
    dx = conv_data_grad(dy, w, pads, d)
    dW = conv_weight_grad(xs_grid, x.shape, dy, w.shape, pads, d)
    for g, t, name in ((y, y64, "y"), (dx, x64.grad, "dx"), (dW, w64.grad, "dW")):
        t = t.detach().numpy()
        assert g.dtype == np.float32 and g.shape == t.shape, name
        assert np.abs(g - t).max() <= 1e-5 * np.abs(t).max(), name


def test_direct_kernel_does_not_depend_on_thread_count():
    x, w, b = _data((4, 16, 15, 13), 24)
    dy = np.random.default_rng(4).standard_normal((4, 24, 15, 13)).astype(np.float32)
    kw = dict(padding=1)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = _run("numba", x, w, b, dy, kw)
        numba.set_num_threads(max(2, numba.config.NUMBA_NUM_THREADS))
        many = _run("numba", x, w, b, dy, kw)
    finally:
        numba.set_num_threads(before)
    for a, c in zip(one, many, strict=True):
        np.testing.assert_array_equal(a, c)


def test_direct_kernel_takes_strided_views():
    x, w, b = _data((2, 16, 9, 7), 16)
    dy = np.random.default_rng(5).standard_normal((2, 16, 9, 7)).astype(np.float32)
    x_cm = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    dy_cm = np.ascontiguousarray(dy.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    got = _run("numba", x_cm, w, b, dy_cm, dict(padding=1))
    ref = _run("numba", x, w, b, dy, dict(padding=1))
    for g, r in zip(got[:3], ref[:3], strict=True):
        np.testing.assert_array_equal(g, r)


def test_direct_kernel_is_used_only_where_the_rule_says():
    from tinyconv.ops.conv import _use_direct_kernel

    x = np.zeros((1, 16, 6, 6), np.float32)
    w = np.zeros((32, 16, 3, 3), np.float32)
    one = (1, 1)
    with K.using("numba"):
        assert _use_direct_kernel(x, w, one, (1, 1, 1, 1), one, 1)
        assert _use_direct_kernel(x, w, one, (2, 2, 2, 2), one, 1)
        assert not _use_direct_kernel(x, w, (2, 2), (1, 1, 1, 1), one, 1)  # strided
        assert not _use_direct_kernel(x, w[:, :8], one, (1, 1, 1, 1), one, 2)  # grouped
        assert not _use_direct_kernel(x, w, one, (3, 3, 3, 3), one, 1)  # P > d*(F - 1)
        assert _use_direct_kernel(x[:, :1], w[:, :1], one, (1, 1, 1, 1), one, 1)  # C = 1
        assert not _use_direct_kernel(x[:, :8], w[:, :8], one, (1, 1, 1, 1), one, 1)  # C = 8
        w5 = np.zeros((32, 16, 5, 5), np.float32)
        assert not _use_direct_kernel(x, w5, one, (2, 2, 2, 2), one, 1)  # not 3x3
        x64, w64 = x.astype(np.float64), w.astype(np.float64)
        assert not _use_direct_kernel(x64, w64, one, (1, 1, 1, 1), one, 1)  # float64
        x16, w16 = x.astype(np.float16), w.astype(np.float16)
        assert not _use_direct_kernel(x16, w16, one, (1, 1, 1, 1), one, 1)  # 16-bit
        from tinyconv.kernels import conv_tiles

        x128 = np.zeros((1, 128, 6, 6), np.float32)
        w128 = np.zeros((128, 128, 3, 3), np.float32)
        assert not _use_direct_kernel(x128, w128, one, (1, 1, 1, 1), one, 1)  # training
        inference = _use_direct_kernel(x128, w128, one, (1, 1, 1, 1), one, 1, grad=False)
        assert inference == (conv_tiles.WIDTH == 16)  # AVX-512 tiles: up to 128 at inference
        w256 = np.zeros((256, 128, 3, 3), np.float32)
        assert not _use_direct_kernel(x128, w256, one, (1, 1, 1, 1), one, 1, grad=False)
    with K.using("numpy"):
        assert not _use_direct_kernel(x, w, one, (1, 1, 1, 1), one, 1)


def test_grid_tile_width_matches_the_generated_tiles():
    from tinyconv.kernels import conv3x3, conv_tiles

    assert conv3x3.L == conv_tiles.L


def test_generated_tiles_are_up_to_date():
    """tinyconv/kernels/conv_tiles.py is what tools/gen_conv_tiles.py writes."""
    r = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_conv_tiles.py"), "--check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_other_tile_variant_equals_the_reference():
    """Both generated tile shapes (8 floats per vector, AVX2; 16, AVX-512) are checked on any
    machine: the one this host does not choose runs in a subprocess, forced by
    TINYCONV_VECTOR_WIDTH, through the same comparisons with the reference and PyTorch."""
    import os

    from tinyconv.kernels import conv_tiles

    other = "8" if conv_tiles.WIDTH == 16 else "16"
    if other == "16":  # an AVX2 machine cannot run AVX-512 code: only 8 is checked there
        pytest.skip("the 16-float tiles need an AVX-512 CPU")
    env = dict(os.environ, TINYCONV_VECTOR_WIDTH=other)
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
         "-k", "direct_kernel or tile_width_matches"],
        capture_output=True, text=True, check=False, env=env, cwd=ROOT,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    passed = int(r.stdout.strip().splitlines()[-1].split(" passed")[0].split()[-1])
    assert passed >= len(CASES) + 4, r.stdout[-500:]


def test_tile_shapes_follow_the_vector_width(monkeypatch):
    from tinyconv.kernels import _jit, conv_tiles

    assert conv_tiles.WIDTH in (8, 16)
    assert conv_tiles.SHAPE == (conv_tiles.OB, conv_tiles.L, conv_tiles.TT, conv_tiles.LT)
    monkeypatch.setenv("TINYCONV_VECTOR_WIDTH", "8")
    assert _jit.vector_width() == 8
    monkeypatch.setenv("TINYCONV_VECTOR_WIDTH", "12")
    with pytest.raises(ValueError, match="TINYCONV_VECTOR_WIDTH must be 8 or 16"):
        _jit.vector_width()
