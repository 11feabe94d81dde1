"""im2col on the compiled tiles (tinyconv/kernels/conv_gemm.py) against the NumPy reference and
PyTorch, forward and backward, for strides, kernel sizes, paddings and dilations the zoo
uses and odd ones; and used only where its rule says."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import tinyconv
import tinyconv.functional as F
import tinyconv.kernels as K
from tinyconv.ops.conv import _use_gemm_kernel

numba = pytest.importorskip("numba")

# (N, C, H, W), (filters, kernel), stride, padding, dilation, bias
CASES = {
    "fast_mnist-conv1": ((3, 1, 28, 28), (32, 5), 2, 2, 1, True),
    "fast_mnist-conv2": ((4, 32, 14, 14), (64, 3), 2, 1, 1, True),
    "resnet-shortcut": ((2, 16, 12, 12), (24, 1), 2, 0, 1, False),
    "stem-7x7": ((2, 3, 23, 21), (8, 7), 2, 3, 1, True),
    "odd-stride3": ((2, 5, 13, 11), (7, 4), 3, (2, 1), 1, True),
    "stride-2x1-dilated": ((2, 4, 15, 12), (9, 3), (2, 1), 2, (2, 1), False),
    "no-padding": ((3, 6, 9, 10), (5, 3), 2, 0, 1, True),
    "output-1x1": ((2, 7, 5, 5), (17, 5), 2, 0, 1, True),
}


def _run(kernels: str, x, w, b, dy, stride, padding, dilation):
    with K.using(kernels):
        ts = [
            tinyconv.tensor(a, requires_grad=True) for a in (x, w) + ((b,) if b is not None else ())
        ]
        y = F.conv2d(ts[0], ts[1], ts[2] if b is not None else None, stride, padding, dilation)
        used = bool(getattr(y._ctx, "gemm", False))
        y.backward(tinyconv.tensor(dy))
        return [y.numpy(), *[t.grad.numpy() for t in ts]], used


def _data(case, seed=0):
    xs, (FN, k), stride, padding, dilation, bias = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal((FN, xs[1], k, k)).astype(np.float32)
    b = rng.standard_normal(FN).astype(np.float32) if bias else None
    with torch.no_grad():
        y = TF.conv2d(torch.from_numpy(x), torch.from_numpy(w), None, stride, padding, dilation)
    dy = rng.standard_normal(tuple(y.shape)).astype(np.float32)
    return x, w, b, dy


@pytest.mark.parametrize("name", sorted(CASES))
def test_gemm_kernel_equals_reference_and_torch(name):
    case = CASES[name]
    _, _, stride, padding, dilation, bias = case
    x, w, b, dy = _data(case)
    fast, used = _run("numba", x, w, b, dy, stride, padding, dilation)
    ref, used_ref = _run("numpy", x, w, b, dy, stride, padding, dilation)
    assert used and not used_ref
    for a, r in zip(fast, ref, strict=True):
        np.testing.assert_allclose(a, r, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(r).max())))
    tt = [torch.tensor(a, requires_grad=True) for a in (x, w) + ((b,) if bias else ())]
    yt = TF.conv2d(tt[0], tt[1], tt[2] if bias else None, stride, padding, dilation)
    yt.backward(torch.from_numpy(dy))
    for a, t in zip(fast, [yt, *[t.grad for t in tt]], strict=True):
        r = t.detach().numpy()
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(r).max())))


def test_gemm_takes_any_input_layout():
    """A batch norm's output is channel-major (C, N, H, W) memory; a slice is neither layout."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 3, 11, 11)).astype(np.float32)
    w = rng.standard_normal((10, 6, 3, 3)).astype(np.float32)
    with K.using("numpy"):
        ref = F.conv2d(
            tinyconv.tensor(x.transpose(1, 0, 2, 3).copy()), tinyconv.tensor(w), None, 2, 1
        )
    for xin in (
        x.transpose(1, 0, 2, 3),
        np.ascontiguousarray(x.transpose(1, 0, 2, 3)),
        np.pad(x.transpose(1, 0, 2, 3), ((0, 0), (0, 0), (0, 0), (1, 2)))[..., 1:12],
    ):
        with K.using("numba"):
            y = F.conv2d(tinyconv.tensor(xin), tinyconv.tensor(w, requires_grad=True), None, 2, 1)
            assert y._ctx.gemm
        np.testing.assert_allclose(y.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)


def test_gemm_dx_is_col2im_of_the_same_dcol_bit_for_bit():
    """The gathering col2im adds each pixel's taps in the reference's order, from 0."""
    from tinyconv.kernels import conv_gemm
    from tinyconv.ops.im2col import col2im

    rng = np.random.default_rng(4)
    N, C, H, W, FH, FW, S, P = 2, 3, 11, 9, 3, 4, (2, 3), (1, 2)
    out_h, out_w = (H + 2 * P[0] - FH) // S[0] + 1, (W + 2 * P[1] - FW) // S[1] + 1
    Q = N * out_h * out_w
    T = conv_gemm.row_stride(Q)
    dcol = np.zeros((C * FH * FW, T), np.float32)
    dcol[:, :Q] = rng.standard_normal((C * FH * FW, Q)).astype(np.float32)
    dx = np.empty((N, C, H, W), np.float32)
    conv_gemm._col2im_gather(dcol.ravel(), T, dx.reshape(-1), N, C, H, W, FH, FW, S[0], S[1],
                             1, 1, P[0], P[1], out_h, out_w)  # fmt: skip
    ref = col2im(np.ascontiguousarray(dcol[:, :Q].T), (N, C, H, W), FH, FW, S, P, (1, 1))
    np.testing.assert_array_equal(dx, ref)


def test_gemm_propagates_nan():
    x = np.ones((2, 4, 9, 9), np.float32)
    x[1, 2, 4, 4] = np.nan
    w = np.ones((6, 4, 3, 3), np.float32)
    with K.using("numba"):
        y = F.conv2d(tinyconv.tensor(x), tinyconv.tensor(w, requires_grad=True), None, 2, 1)
        assert y._ctx.gemm
    nan = np.isnan(y.numpy())  # pixel (4, 4) is in the window of output (2, 2) only
    expected = np.zeros_like(nan)
    expected[1, :, 2, 2] = True
    np.testing.assert_array_equal(nan, expected)


def test_gemm_is_used_only_where_the_rule_says():
    one, two = (1, 1), (2, 2)
    x = np.zeros((4, 32, 14, 14), np.float32)
    w = np.zeros((64, 32, 3, 3), np.float32)
    p1 = (1, 1, 1, 1)
    with K.using("numba"):
        assert _use_gemm_kernel(x, w, two, p1, one, 1, True)
        assert not _use_gemm_kernel(x, w, one, p1, one, 1, False)  # stride 1, few channels
        assert not _use_gemm_kernel(
            x.astype(np.float64), w.astype(np.float64), two, p1, one, 1, True
        )
        assert not _use_gemm_kernel(x, w[:, :16], two, p1, one, 2, True)  # groups
        x256, w256 = np.zeros((2, 256, 14, 14), np.float32), np.zeros((256, 256, 3, 3), np.float32)
        assert _use_gemm_kernel(x256, w256, one, p1, one, 1, False)  # wide 3x3 at inference
        assert not _use_gemm_kernel(x256, w256, one, p1, one, 1, True)  # ... not in training
        big = np.zeros((8, 3, 224, 224), np.float32)  # resnet18's stem: chunks of images
        assert _use_gemm_kernel(big, np.zeros((64, 3, 7, 7), np.float32), two, (3, 3, 3, 3), one,
                                1, False)  # fmt: skip
        w7 = np.zeros((8, 32, 7, 7), np.float32)
        assert not _use_gemm_kernel(
            x[:, :, :5, :5], w7, two, (0, 0, 0, 0), one, 1, True
        )  # no output
    with K.using("numpy"):
        assert not _use_gemm_kernel(x, w, two, p1, one, 1, True)


def test_gemm_chunks_of_images_change_no_output_bit(monkeypatch):
    """Forward and dx are per-output sums: the same bits in chunks; dW adds the chunks' sums."""
    from tinyconv.kernels import conv_gemm

    case = CASES["fast_mnist-conv2"]
    x, w, b, dy = _data(case, seed=6)
    whole, _ = _run("numba", x, w, b, dy, *case[2:5])
    monkeypatch.setattr(conv_gemm, "CHUNK_BYTES", 1)  # one image per chunk
    chunked, used = _run("numba", x, w, b, dy, *case[2:5])
    assert used
    np.testing.assert_array_equal(chunked[0], whole[0])  # y
    np.testing.assert_array_equal(chunked[1], whole[1])  # dx
    np.testing.assert_allclose(chunked[2], whole[2], rtol=1e-5, atol=1e-5 * np.abs(whole[2]).max())


def test_gemm_does_not_depend_on_thread_count():
    case = CASES["odd-stride3"]
    x, w, b, dy = _data(case, seed=5)
    before = numba.get_num_threads()
    out = []
    try:
        for n in (1, max(2, before)):
            numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
            out.append(_run("numba", x, w, b, dy, *case[2:5])[0])
    finally:
        numba.set_num_threads(before)
    for a, c in zip(*out, strict=True):
        np.testing.assert_array_equal(a, c)


def test_gemm_dw_from_the_kept_col_equals_the_rebuilt_one(monkeypatch):
    """Conv2d keeps the forward's col for dW (instead of x) up to KEEP_BYTES: the same bits."""
    from tinyconv.kernels import conv_gemm

    case = CASES["stem-7x7"]
    x, w, b, dy = _data(case, seed=7)
    monkeypatch.setattr(conv_gemm, "CHUNK_BYTES", 20000)  # several chunks
    kept, _ = _run("numba", x, w, b, dy, *case[2:5])
    with K.using("numba"):
        y = F.conv2d(tinyconv.tensor(x), tinyconv.tensor(w, requires_grad=True), None, 2, 3)
        assert y._ctx.saved[0] is None and len(y._ctx.saved[1]) > 1  # cols, not x
    monkeypatch.setattr(conv_gemm, "KEEP_BYTES", 0)
    rebuilt, _ = _run("numba", x, w, b, dy, *case[2:5])
    for a, c in zip(kept, rebuilt, strict=True):
        np.testing.assert_array_equal(a, c)
