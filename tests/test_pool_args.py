"""Pooling arguments beyond kernel/stride/padding: dilation, ceil_mode, divisor_override,
asymmetric padding, return_indices + max_unpool, 1-D pooling, unbatched inputs and empty
batches. Forward and gradients vs PyTorch in float32, finite differences in float64."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import check_vs_torch, gradcheck

import tinyconv
import tinyconv.functional as F
from tinyconv import nn
from tinyconv.ops.im2col import conv_output_size


def distinct(shape, seed=0, dtype=np.float64):
    """Values without ties, so that max pooling is differentiable at the sample."""
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n).reshape(shape) / 7.0 - 3).astype(dtype)


# (kernel, stride, padding, dilation, ceil_mode): dilated, rounded up, both, rectangular
MAX_CONFIGS = [
    (3, 1, 1, 2, False),
    (2, 2, 0, 1, True),
    (3, 2, 1, 1, True),
    (3, 2, 0, 2, True),
    ((3, 2), (2, 1), (1, 1), (1, 2), True),
    ((2, 3), (3, 2), (1, 0), (2, 1), False),
    (2, 3, 1, 3, True),
]


@pytest.mark.parametrize("shape", [(2, 3, 7, 8), (1, 2, 6, 5)])
@pytest.mark.parametrize("k,s,p,d,ceil", MAX_CONFIGS)
def test_max_pool_dilation_and_ceil_mode_vs_torch(shape, k, s, p, d, ceil):
    x = np.random.default_rng(1).standard_normal(shape)
    check_vs_torch(
        lambda a: F.max_pool2d(a, k, s, p, d, ceil),
        lambda a: TF.max_pool2d(a, k, s, p, d, ceil),
        [x],
    )
    check_vs_torch(
        lambda a: F.min_pool2d(a, k, s, p, d, ceil),
        lambda a: -TF.max_pool2d(-a, k, s, p, d, ceil),
        [x],
    )


@pytest.mark.parametrize("k,s,p,d,ceil", MAX_CONFIGS)
def test_max_pool_indices_are_torchs(k, s, p, d, ceil):
    x = np.random.default_rng(2).standard_normal((2, 3, 7, 8)).astype(np.float32)
    y, idx = F.max_pool2d(tinyconv.tensor(x), k, s, p, d, ceil, return_indices=True)
    yt, it = TF.max_pool2d(torch.from_numpy(x), k, s, p, d, ceil, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), yt.numpy())
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx.numpy(), it.numpy())


@pytest.mark.parametrize("k,s,p,d,ceil", MAX_CONFIGS[:5])
def test_max_pool_gradcheck_float64(k, s, p, d, ceil):
    x = distinct((1, 2, 7, 6))
    gradcheck(lambda a: F.max_pool2d(a, k, s, p, d, ceil), [x])
    gradcheck(lambda a: F.max_pool2d(a, k, s, p, d, ceil, return_indices=True)[0], [x])


AVG_CONFIGS = [  # (kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
    (3, 2, 1, True, True, None),
    (3, 2, 1, True, False, None),
    ((4, 3), (2, 3), (2, 1), True, True, None),
    ((4, 3), (2, 3), (2, 1), True, False, None),
    (2, 3, 1, True, True, None),
    (3, 2, 1, False, True, 5),
    (3, 2, 1, True, False, -2),
    ((2, 3), None, 0, True, True, 4),
]


@pytest.mark.parametrize("shape", [(2, 3, 7, 8), (1, 2, 6, 6)])
@pytest.mark.parametrize("k,s,p,ceil,cip,div", AVG_CONFIGS)
def test_avg_pool_ceil_mode_and_divisor_vs_torch(shape, k, s, p, ceil, cip, div):
    x = np.random.default_rng(3).standard_normal(shape)
    check_vs_torch(
        lambda a: F.avg_pool2d(a, k, s, p, ceil, cip, div),
        lambda a: TF.avg_pool2d(a, k, s, p, ceil, cip, div),
        [x],
    )


@pytest.mark.parametrize("k,s,p,ceil,cip,div", AVG_CONFIGS)
def test_avg_pool_gradcheck_float64(k, s, p, ceil, cip, div):
    x = np.random.default_rng(4).standard_normal((1, 2, 7, 6))
    gradcheck(lambda a: F.avg_pool2d(a, k, s, p, ceil, cip, div), [x])


# ------------------------------------------------------------ asymmetric padding (ONNX)
ASYMMETRIC = [  # (kernel, stride, (top, bottom, left, right), ceil_mode)
    (3, 2, (0, 1, 1, 0), False),
    (3, 2, (2, 0, 0, 2), True),
    ((2, 3), (1, 2), (1, 0, 2, 1), False),
    (3, 1, (0, 2, 2, 0), True),
]


def naive_pool(x, k, s, pads, ceil, mode, count_include_pad=True):
    """Pooling by loops over windows, written from the rules (the reference for asymmetric pads).

    Window o of an axis covers [o*S - P_begin, o*S - P_begin + F); ceil_mode rounds the count
    up but drops a window that would start past the input and its left padding.
    """
    k = (k, k) if isinstance(k, int) else k
    s = (s, s) if isinstance(s, int) else s
    N, C, H, W = x.shape
    sizes, starts = [], []
    for n, f, st, (b, e) in zip((H, W), k, s, (pads[:2], pads[2:]), strict=True):
        span = n + b + e - f
        out = (-(-span // st) if ceil else span // st) + 1
        if ceil and (out - 1) * st >= n + b:
            out -= 1
        sizes.append(out)
        starts.append([o * st - b for o in range(out)])
    y = np.zeros((N, C, *sizes))
    for i, h0 in enumerate(starts[0]):
        for j, w0 in enumerate(starts[1]):
            h1, w1 = min(h0 + k[0], H + pads[1]), min(w0 + k[1], W + pads[3])  # cut at the padding
            win = x[:, :, max(h0, 0) : min(h1, H), max(w0, 0) : min(w1, W)]
            if mode == "max":
                y[:, :, i, j] = win.max(axis=(2, 3))
            else:
                count = (h1 - h0) * (w1 - w0) if count_include_pad else win.shape[2] * win.shape[3]
                y[:, :, i, j] = win.sum(axis=(2, 3)) / count
    return y


@pytest.mark.parametrize(
    "k,s,p,ceil",
    [(3, 2, 1, True), (3, 2, 1, False), ((2, 3), (1, 2), (1, 1), True), (2, 3, 1, True)],
)
@pytest.mark.parametrize("cip", [True, False])
def test_naive_reference_is_torch_on_symmetric_padding(k, s, p, ceil, cip):
    x = np.random.default_rng(14).standard_normal((1, 2, 7, 6))
    pp = (p, p) if isinstance(p, int) else p
    pads = (pp[0], pp[0], pp[1], pp[1])
    want = TF.avg_pool2d(torch.from_numpy(x), k, s, p, ceil, cip).numpy()
    np.testing.assert_allclose(naive_pool(x, k, s, pads, ceil, "avg", cip), want, rtol=1e-12)
    want = TF.max_pool2d(torch.from_numpy(x), k, s, p, ceil_mode=ceil).numpy()
    np.testing.assert_array_equal(naive_pool(x, k, s, pads, ceil, "max"), want)


@pytest.mark.parametrize("k,s,pads,ceil", ASYMMETRIC)
@pytest.mark.parametrize("cip", [True, False])
def test_avg_pool_asymmetric_padding_counts_each_side(k, s, pads, ceil, cip):
    # count_include_pad: the window's size inside the padded input; otherwise its real elements
    x = np.random.default_rng(5).standard_normal((2, 3, 7, 6))
    y = F.avg_pool2d(tinyconv.tensor(x, dtype=np.float64), k, s, pads, ceil, count_include_pad=cip)
    np.testing.assert_allclose(y.numpy(), naive_pool(x, k, s, pads, ceil, "avg", cip), rtol=1e-12)
    gradcheck(lambda a: F.avg_pool2d(a, k, s, pads, ceil, count_include_pad=cip), [x[:1]])


@pytest.mark.parametrize("k,s,pads,ceil", ASYMMETRIC)
def test_max_pool_asymmetric_padding_is_minus_infinity_on_each_side(k, s, pads, ceil):
    x = distinct((2, 3, 7, 6))
    y = F.max_pool2d(tinyconv.tensor(x, dtype=np.float64), k, s, pads, ceil_mode=ceil)
    np.testing.assert_array_equal(y.numpy(), naive_pool(x, k, s, pads, ceil, "max"))
    gradcheck(lambda a: F.max_pool2d(a, k, s, pads, ceil_mode=ceil), [x[:1]])


def test_asymmetric_padding_limits_and_shapes():
    pool = nn.AvgPool2d(3, 2, padding=(0, 2, 2, 0), count_include_pad=False)
    assert pool.output_shape((1, 1, 5, 5)) == (1, 1, 3, 3)  # (5 + 0 + 2 - 3)/2 + 1 = 3
    with pytest.raises(
        ValueError,
        match=re.escape("each side must be smaller than the effective kernel d*(F-1) + 1 = 3"),
    ):
        nn.MaxPool2d(3, padding=(3, 0, 0, 0))
    with pytest.raises(
        TypeError,
        match=re.escape(
            "Expected an int or a tuple of 1 or 2 or 4 ints. Received padding=(1, 1, 1)"
        ),
    ):
        F.max_pool2d(tinyconv.tensor(np.zeros((1, 1, 4, 4), np.float32)), 2, padding=(1, 1, 1))


# ------------------------------------------------------------------ output sizes
def test_ceil_mode_drops_a_window_that_would_start_in_the_right_padding():
    # PyTorch's rule: ceil((5 + 2 - 2)/2) + 1 = 4 windows, but the 4th would start at 6 - 1 = 5,
    # past the input (0..4) and its left padding, so there are 3
    assert conv_output_size(5, 2, 2, 1, ceil_mode=True) == 3
    assert TF.max_pool1d(torch.zeros(1, 1, 5), 2, 2, 1, ceil_mode=True).shape[-1] == 3
    assert conv_output_size(6, 3, 2, 0, ceil_mode=True) == 3  # ceil((6 - 3)/2) + 1
    assert conv_output_size(6, 3, 2, 0) == 2
    for size in range(3, 12):
        for k, s, p, d in [(2, 2, 1, 1), (3, 2, 1, 1), (3, 3, 1, 2), (2, 3, 0, 1)]:
            want = TF.max_pool1d(torch.zeros(1, 1, size), k, s, p, d, ceil_mode=True).shape[-1]
            assert conv_output_size(size, k, s, p, d, ceil_mode=True) == want, (size, k, s, p, d)


def test_googlenet_stem_pool_with_ceil_mode():
    assert nn.MaxPool2d(3, 2, ceil_mode=True).output_shape((1, 64, 112, 112)) == (1, 64, 56, 56)
    assert nn.MaxPool2d(3, 2).output_shape((1, 64, 112, 112)) == (1, 64, 55, 55)


def test_too_small_output_shows_the_dilated_and_rounded_formula():
    x = tinyconv.tensor(np.zeros((1, 1, 4, 4), np.float32))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "W_out = ceil((W_in - F_eff + 2P)/S) + 1 = ceil((4 - 5 + 2*0)/1) + 1, where dilation 2 "
            "gives the effective kernel F_eff = d*(F-1) + 1 = 2*(3-1) + 1 = 5; input (1, 1, 4, 4)"
        ),
    ):
        F.max_pool2d(x, 3, 1, 0, 2, True)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "max_pool1d(kernel_size=5, stride=1): output length -2 < 1: L_out = (L_in - F + 2P)/S + 1 "
            "= (2 - 5 + 2*0)/1 + 1; input (2, 2, 2)"
        ),
    ):
        F.max_pool1d(tinyconv.tensor(np.zeros((2, 2, 2), np.float32)), 5, 1)


def test_module_reprs_show_the_new_arguments():
    assert repr(nn.MaxPool2d(3, 2, 1, dilation=2, ceil_mode=True)) == (
        "MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True)"
    )
    assert repr(nn.MaxPool2d(2, return_indices=True)) == (
        "MaxPool2d(kernel_size=2, stride=2, return_indices=True)"
    )
    assert repr(nn.AvgPool2d(2, divisor_override=3)) == (
        "AvgPool2d(kernel_size=2, stride=2, divisor_override=3)"
    )
    rebuilt = nn.build_module(nn.MaxPool2d(3, 2, dilation=2, ceil_mode=True).config())
    assert repr(rebuilt) == "MaxPool2d(kernel_size=3, stride=2, dilation=2, ceil_mode=True)"
    assert repr(nn.MaxPool1d(3, 2)) == "MaxPool1d(kernel_size=3, stride=2)"


# --------------------------------------------------------- max_pool + max_unpool
@pytest.mark.parametrize("k,s,p", [(2, None, 0), (3, 2, 1), ((3, 2), (2, 1), (1, 1))])
def test_max_unpool_vs_torch(k, s, p):
    x = np.random.default_rng(7).standard_normal((2, 3, 7, 6)).astype(np.float32)
    _, idx = F.max_pool2d(tinyconv.tensor(x), k, s, p, return_indices=True)
    _, it = TF.max_pool2d(torch.from_numpy(x), k, s, p, return_indices=True)
    pooled = TF.max_pool2d(torch.from_numpy(x), k, s, p).numpy()
    for size in ((7, 6), (2, 3, 7, 6)):  # the pooling input's size (the default is smaller here)
        check_vs_torch(
            lambda a, size=size: F.max_unpool2d(a, idx, k, s, p, output_size=size),
            lambda a, size=size: TF.max_unpool2d(a, it, k, s, p, output_size=size),
            [pooled],
        )
    x = x[:, :, :6, :6]  # (6 - 2)/2 + 1 = 3 undoes to (3 - 1)*2 + 2 = 6: the default size
    y, idx = F.max_pool2d(tinyconv.tensor(x), 2, return_indices=True)
    yt, it = TF.max_pool2d(torch.from_numpy(x), 2, return_indices=True)
    np.testing.assert_array_equal(
        F.max_unpool2d(y, idx, 2).numpy(), TF.max_unpool2d(yt, it, 2).numpy()
    )


def test_max_unpool_gradcheck_float64():
    x = distinct((1, 2, 6, 6))
    _, idx = F.max_pool2d(tinyconv.tensor(x, dtype=np.float64), 2, return_indices=True)
    y = np.random.default_rng(8).standard_normal((1, 2, 3, 3))
    gradcheck(lambda a: F.max_unpool2d(a, idx, 2), [y])


def test_pool_then_unpool_round_trip_with_modules():
    x = tinyconv.tensor(distinct((1, 2, 5, 5), dtype=np.float32), requires_grad=True)
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    y, idx = pool(x)
    z = unpool(y, idx, output_size=x.shape)
    assert z.shape == (1, 2, 5, 5)
    kept = z.numpy() != 0
    np.testing.assert_array_equal(z.numpy()[kept], x.numpy()[kept])  # the maxima, in place
    assert kept.sum() == 2 * 4
    z.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), kept.astype(np.float32))
    assert unpool.output_shape((1, 2, 2, 2)) == (1, 2, 4, 4)
    assert repr(unpool) == "MaxUnpool2d(kernel_size=2, stride=2)"


def test_max_unpool_errors():
    y = tinyconv.tensor(np.ones((1, 1, 2, 2), np.float32))
    idx = tinyconv.tensor(np.zeros((1, 1, 2, 2), np.int64))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "max_unpool2d: expected indices of the input's shape (1, 1, 2, 2), got (1, 1, 2, 1)"
        ),
    ):
        F.max_unpool2d(y, idx.numpy()[..., :1], 2)
    with pytest.raises(
        ValueError, match=re.escape("index 16 is outside the output plane of (4, 4) (16 positions)")
    ):
        F.max_unpool2d(y, np.full((1, 1, 2, 2), 16), 2)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "invalid output_size (6, 4): size 0 must lie between 2 and 6 (exclusive), around (in - 1)*S - 2P + F = (2 - 1)*2 - 2*0 + 2 = 4"
        ),
    ):
        F.max_unpool2d(y, idx, 2, output_size=(6, 4))
    with pytest.raises(TypeError, match="expected integer indices"):
        F.max_unpool2d(y, y, 2)


# ------------------------------------------------------------------ 1-D pooling
@pytest.mark.parametrize(
    "k,s,p,d,ceil",
    [(3, 2, 1, 1, True), (2, None, 0, 1, False), (3, 1, 1, 2, False), (3, 3, 1, 2, True)],
)
def test_max_pool1d_vs_torch(k, s, p, d, ceil):
    x = np.random.default_rng(9).standard_normal((2, 3, 11))
    check_vs_torch(
        lambda a: F.max_pool1d(a, k, s, p, d, ceil),
        lambda a: TF.max_pool1d(a, k, s, p, d, ceil),
        [x],
    )
    xs = np.random.default_rng(9).standard_normal((2, 3, 11)).astype(np.float32)
    y, idx = F.max_pool1d(tinyconv.tensor(xs), k, s, p, d, ceil, return_indices=True)
    yt, it = TF.max_pool1d(torch.from_numpy(xs), k, s, p, d, ceil, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), it.numpy())
    if d == 1:  # (unpooling knows no dilation, in PyTorch either)
        check_vs_torch(
            lambda a: F.max_unpool1d(a, idx, k, s, p, output_size=(11,)),
            lambda a: TF.max_unpool1d(a, it, k, s, p, output_size=(11,)),
            [yt.numpy()],
        )
    gradcheck(lambda a: F.max_pool1d(a, k, s, p, d, ceil), [distinct((1, 2, 11))])


@pytest.mark.parametrize(
    "k,s,p,ceil,cip", [(3, 2, 1, True, False), (3, 2, 1, True, True), (4, None, 2, False, False)]
)
def test_avg_pool1d_vs_torch(k, s, p, ceil, cip):
    x = np.random.default_rng(10).standard_normal((2, 3, 11))
    check_vs_torch(
        lambda a: F.avg_pool1d(a, k, s, p, ceil, cip),
        lambda a: TF.avg_pool1d(a, k, s, p, ceil, cip),
        [x],
    )
    gradcheck(lambda a: F.avg_pool1d(a, k, s, p, ceil, cip), [x[:1]])


def test_pool1d_modules():
    x = np.random.default_rng(11).standard_normal((2, 4, 9)).astype(np.float32)
    for ours, theirs in [
        (nn.MaxPool1d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool1d(3, 2, 1, ceil_mode=True)),
        (
            nn.AvgPool1d(3, 2, 1, count_include_pad=False),
            torch.nn.AvgPool1d(3, 2, 1, count_include_pad=False),
        ),
    ]:
        y = ours(tinyconv.tensor(x))
        np.testing.assert_allclose(y.numpy(), theirs(torch.from_numpy(x)).numpy(), rtol=1e-6)
        assert ours.output_shape(x.shape) == y.shape
        assert ours.output_shape(x.shape[1:]) == y.shape[1:]


# ------------------------------------------------------------ unbatched and N = 0
UNBATCHED = [
    (lambda a: F.max_pool2d(a, 3, 2, 1, 1, True), lambda a: TF.max_pool2d(a, 3, 2, 1, 1, True)),
    (
        lambda a: F.max_pool2d(a, 2, return_indices=True)[0],
        lambda a: TF.max_pool2d(a, 2, return_indices=True)[0],
    ),
    (
        lambda a: F.avg_pool2d(a, 3, 2, 1, True, False),
        lambda a: TF.avg_pool2d(a, 3, 2, 1, True, False),
    ),
    (lambda a: F.adaptive_avg_pool2d(a, (2, 3)), lambda a: TF.adaptive_avg_pool2d(a, (2, 3))),
    (lambda a: nn.MaxPool2d(2)(a), lambda a: torch.nn.MaxPool2d(2)(a)),
    (lambda a: nn.AdaptiveAvgPool2d(1)(a), lambda a: torch.nn.AdaptiveAvgPool2d(1)(a)),
    (lambda a: F.max_pool1d(a.reshape(3, -1), 3), lambda a: TF.max_pool1d(a.reshape(3, -1), 3)),
    (lambda a: F.avg_pool1d(a.reshape(3, -1), 3), lambda a: TF.avg_pool1d(a.reshape(3, -1), 3)),
]


@pytest.mark.parametrize("ours,theirs", UNBATCHED)
def test_unbatched_input_is_one_sample(ours, theirs):
    x = np.random.default_rng(12).standard_normal((3, 7, 6))
    check_vs_torch(ours, theirs, [x])
    assert ours(tinyconv.tensor(x)).ndim == theirs(torch.from_numpy(x)).ndim


def test_adaptive_pool_to_an_empty_map_like_torch():
    x = tinyconv.tensor(np.ones((1, 2, 3, 3), np.float32), requires_grad=True)
    y = F.adaptive_avg_pool2d(x, (0, 2))
    assert (
        y.shape
        == (1, 2, 0, 2)
        == tuple(TF.adaptive_avg_pool2d(torch.ones(1, 2, 3, 3), (0, 2)).shape)
    )
    y.sum().backward()
    assert x.grad.numpy().sum() == 0


def test_unbatched_indices_and_shapes():
    x = np.random.default_rng(13).standard_normal((3, 7, 6)).astype(np.float32)
    y, idx = F.max_pool2d(tinyconv.tensor(x), 2, return_indices=True)
    yt, it = TF.max_pool2d(torch.from_numpy(x), 2, return_indices=True)
    assert y.shape == idx.shape == (3, 3, 3)
    np.testing.assert_array_equal(idx.numpy(), it.numpy())
    np.testing.assert_array_equal(
        F.max_unpool2d(y, idx, 2).numpy(), TF.max_unpool2d(yt, it, 2).numpy()
    )
    assert nn.MaxPool2d(2).output_shape((3, 7, 6)) == (3, 3, 3)
    assert nn.AdaptiveAvgPool2d(1).output_shape((3, 7, 6)) == (3, 1, 1)


@pytest.mark.parametrize(
    "layer",
    [
        nn.MaxPool2d(3, 2, 1, ceil_mode=True),
        nn.AvgPool2d(2, count_include_pad=False),
        nn.AdaptiveAvgPool2d(2),
        nn.MaxPool2d(2, return_indices=True),
        nn.MinPool2d(2),
    ],
)
def test_empty_batch(layer):
    x = tinyconv.tensor(np.zeros((0, 3, 8, 8), np.float32), requires_grad=True)
    y = layer(x)
    y = y[0] if isinstance(y, tuple) else y
    assert y.shape == (0, *layer.output_shape((1, 3, 8, 8))[1:])
    y.sum().backward()
    assert x.grad.shape == (0, 3, 8, 8)
