"""Pooling: forward and gradients vs PyTorch, finite differences, the seeds' examples, errors."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import check_vs_torch, gradcheck

import tinyconv
import tinyconv.functional as F
from tinyconv import nn

# (kernel_size, stride, padding): non-overlapping, overlapping (3/2), padded, rectangular
CONFIGS = [
    (2, None, 0),
    (2, 2, 1),
    (3, 2, 0),
    (3, 2, 1),
    (3, 1, 1),
    (3, 3, 0),
    (1, 2, 0),
    ((2, 3), (1, 2), (1, 1)),
    ((3, 1), (2, 1), (1, 0)),
    (4, 3, 2),
]
SHAPES = [(2, 3, 7, 8), (1, 2, 6, 6)]  # odd and even sizes


def torch_min_pool(x, k, s, p):
    return -TF.max_pool2d(-x, k, s, p)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("k,s,p", CONFIGS)
def test_max_pool_vs_torch(shape, k, s, p):
    x = np.random.default_rng(1).standard_normal(shape)
    check_vs_torch(lambda a: F.max_pool2d(a, k, s, p), lambda a: TF.max_pool2d(a, k, s, p), [x])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("k,s,p", CONFIGS)
def test_min_pool_vs_torch(shape, k, s, p):
    x = np.random.default_rng(2).standard_normal(shape)
    check_vs_torch(lambda a: F.min_pool2d(a, k, s, p), lambda a: torch_min_pool(a, k, s, p), [x])


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("k,s,p", CONFIGS)
def test_avg_pool_vs_torch(shape, k, s, p, count_include_pad):
    x = np.random.default_rng(3).standard_normal(shape)
    check_vs_torch(
        lambda a: F.avg_pool2d(a, k, s, p, count_include_pad=count_include_pad),
        lambda a: TF.avg_pool2d(a, k, s, p, count_include_pad=count_include_pad),
        [x],
    )


@pytest.mark.parametrize("out", [1, 2, 3, (2, 4), (5, 3), (7, 8), (None, 3), 9])
def test_adaptive_avg_pool_vs_torch(out):
    x = np.random.default_rng(4).standard_normal((2, 3, 7, 8))
    check_vs_torch(
        lambda a: F.adaptive_avg_pool2d(a, out), lambda a: TF.adaptive_avg_pool2d(a, out), [x]
    )


def test_adaptive_bins_are_pytorch_bins():
    from tinyconv.ops.adaptive_pool import adaptive_bins

    # start = floor(i*H/out), end = ceil((i+1)*H/out): overlapping bins when out does not divide H
    assert adaptive_bins(7, 3) == [(0, 3), (2, 5), (4, 7)]
    assert adaptive_bins(6, 3) == [(0, 2), (2, 4), (4, 6)]
    assert adaptive_bins(3, 5) == [(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)]


def test_global_average_pool_is_the_mean():
    x = np.random.default_rng(5).standard_normal((2, 4, 5, 3)).astype(np.float32)
    y = F.adaptive_avg_pool2d(tinyconv.tensor(x), 1)
    np.testing.assert_allclose(y.numpy(), x.mean(axis=(2, 3), keepdims=True), rtol=1e-6)


@pytest.mark.parametrize("k,s,p", [(2, None, 0), (3, 2, 1), ((2, 3), (1, 2), (1, 1))])
def test_gradcheck_float64(k, s, p):
    # distinct values: no ties, so max/min are differentiable at the sample point
    rng = np.random.default_rng(6)
    x = rng.permutation(2 * 2 * 5 * 6).reshape(2, 2, 5, 6) / 7.0
    gradcheck(lambda a: F.max_pool2d(a, k, s, p), [x])
    gradcheck(lambda a: F.min_pool2d(a, k, s, p), [x])
    gradcheck(lambda a: F.avg_pool2d(a, k, s, p), [x])
    gradcheck(lambda a: F.avg_pool2d(a, k, s, p, count_include_pad=False), [x])


@pytest.mark.parametrize("out", [1, (2, 4), 3])
def test_adaptive_gradcheck_float64(out):
    x = np.random.default_rng(7).standard_normal((2, 2, 5, 7))
    gradcheck(lambda a: F.adaptive_avg_pool2d(a, out), [x])


def test_float64_stays_float64():
    x = tinyconv.tensor(np.ones((1, 1, 4, 4)), dtype=np.float64)
    for fn in (F.max_pool2d, F.min_pool2d, F.avg_pool2d):
        assert fn(x, 2).dtype == np.float64
    assert F.adaptive_avg_pool2d(x, 3).dtype == np.float64


# ----------------------------------------------------------- the seeds' examples
def test_seed_window_max_min_average():
    window = tinyconv.tensor([[[[4.0, 2.0], [1.0, 3.0]]]])
    assert nn.MaxPool2d(2)(window).tolist() == [[[[4.0]]]]
    assert nn.MinPool2d(2)(window).tolist() == [[[[1.0]]]]
    assert nn.AvgPool2d(2)(window).tolist() == [[[[2.5]]]]


def test_two_by_two_stride_two_quarters_the_map_and_keeps_channels():
    x = tinyconv.tensor(np.random.default_rng(8).standard_normal((4, 30, 24, 24)))
    for pool in (nn.MaxPool2d(2, stride=2), nn.AvgPool2d(2, 2), nn.MinPool2d(2)):
        y = pool(x)
        assert y.shape == (4, 30, 12, 12)
        assert y.numel() * 4 == x.numel()
        assert list(pool.parameters()) == []  # pooling learns nothing


def test_max_pool_picks_each_window_maximum():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    y = F.max_pool2d(tinyconv.tensor(x), 2)
    assert y.tolist() == [[[[5.0, 7.0], [13.0, 15.0]]]]


def test_ties_send_the_gradient_to_the_first_maximum_like_torch():
    x = np.array([[[[1.0, 1.0, 0.0], [1.0, 1.0, 2.0], [0.0, 2.0, 2.0]]]], dtype=np.float32)
    for k, s in [(2, 2), (2, 1), (3, 1)]:
        t = tinyconv.tensor(x, requires_grad=True)
        F.max_pool2d(t, k, s).sum().backward()
        tt = torch.tensor(x, requires_grad=True)
        TF.max_pool2d(tt, k, s).sum().backward()
        np.testing.assert_array_equal(t.grad.numpy(), tt.grad.numpy())
    t = tinyconv.tensor(np.ones((1, 1, 2, 2), dtype=np.float32), requires_grad=True)
    F.max_pool2d(t, 2).sum().backward()
    assert t.grad.tolist() == [[[[1.0, 0.0], [0.0, 0.0]]]]  # one element per window


def test_overlapping_windows_accumulate_gradients():
    # the centre of a 3x3 map is the max of all four 2x2/1 windows: its gradient is 4
    x = np.zeros((1, 1, 3, 3), dtype=np.float32)
    x[0, 0, 1, 1] = 9.0
    t = tinyconv.tensor(x, requires_grad=True)
    F.max_pool2d(t, 2, 1).sum().backward()
    assert t.grad.numpy()[0, 0, 1, 1] == 4.0
    assert t.grad.numpy().sum() == 4.0


def test_padding_is_minus_infinity_for_max_and_zero_for_average():
    x = tinyconv.tensor(-np.ones((1, 1, 2, 2), dtype=np.float32))
    assert F.max_pool2d(x, 2, 2, 1).tolist() == [[[[-1.0, -1.0], [-1.0, -1.0]]]]
    assert F.avg_pool2d(x, 2, 2, 1).tolist() == [[[[-0.25, -0.25], [-0.25, -0.25]]]]
    assert F.avg_pool2d(x, 2, 2, 1, count_include_pad=False).tolist() == [
        [[[-1.0, -1.0], [-1.0, -1.0]]]
    ]


def test_no_grad_inference_matches():
    x = np.random.default_rng(9).standard_normal((2, 3, 9, 9)).astype(np.float32)
    with_graph = F.max_pool2d(tinyconv.tensor(x, requires_grad=True), 3, 2).numpy()
    with tinyconv.no_grad():
        without = F.max_pool2d(tinyconv.tensor(x, requires_grad=True), 3, 2).numpy()
    np.testing.assert_array_equal(with_graph, without)


# ------------------------------------------------------------------ errors
def test_output_too_small_shows_the_formula():
    pool = nn.MaxPool2d(kernel_size=2, stride=2)
    x = tinyconv.tensor(np.zeros((1, 3, 1, 1), dtype=np.float32))
    msg = (
        r"MaxPool2d(kernel_size=2, stride=2): output width 0 < 1: W_out = (W_in - F + 2P)/S + 1 "
        r"= (1 - 2 + 2*0)/2 + 1; input (1, 3, 1, 1)"
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        pool(x)
    with pytest.raises(ValueError, match=re.escape(msg)):
        pool.output_shape((1, 3, 1, 1))


def test_output_height_too_small():
    x = tinyconv.tensor(np.zeros((2, 1, 2, 9), dtype=np.float32))
    msg = "AvgPool2d(kernel_size=3, stride=1): output height 0 < 1: H_out = (H_in - F + 2P)/S + 1 = (2 - 3 + 2*0)/1 + 1; input (2, 1, 2, 9)"
    with pytest.raises(ValueError, match=re.escape(msg)):
        nn.AvgPool2d(3, stride=1)(x)


def test_input_of_the_wrong_rank():
    # (C, H, W) is one unbatched sample; 2-D and 5-D inputs are errors
    with pytest.raises(
        ValueError,
        match=re.escape(
            "MaxPool2d(kernel_size=2, stride=2): expected a 4-D input (N, C, H, W) or an unbatched 3-D input (C, H, W), got shape (28, 28) (2-D)"
        ),
    ):
        nn.MaxPool2d(2)(tinyconv.tensor(np.zeros((28, 28), dtype=np.float32)))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "or an unbatched 3-D input (C, H, W), got a 5-D input of shape (1, 1, 3, 28, 28)"
        ),
    ):
        nn.MaxPool2d(2).output_shape((1, 1, 3, 28, 28))
    with pytest.raises(
        ValueError, match=r"AdaptiveAvgPool2d\(output_size=1\): expected a 4-D input"
    ):
        nn.AdaptiveAvgPool2d(1)(tinyconv.tensor(np.zeros((4, 4), dtype=np.float32)))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "max_pool1d(kernel_size=2, stride=2): expected a 3-D input (N, C, L) or an unbatched 2-D input (C, L), got shape (4,)"
        ),
    ):
        F.max_pool1d(tinyconv.tensor(np.zeros(4, dtype=np.float32)), 2)
    # only the batch may be empty (PyTorch's rule)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "expected non-empty channel and spatial dimensions (only the batch may be 0), got input (2, 1, 10, 0)"
        ),
    ):
        F.max_pool2d(tinyconv.tensor(np.zeros((2, 1, 10, 0), dtype=np.float32)), 1)


def test_integer_input_is_a_type_error():
    x = tinyconv.tensor(np.zeros((1, 1, 4, 4), dtype=np.int64))
    with pytest.raises(
        TypeError,
        match=r"MaxPool2d\(kernel_size=2, stride=2\): expected a floating-point input, got dtype int64",
    ):
        nn.MaxPool2d(2)(x)
    with pytest.raises(
        TypeError, match=r"avg_pool2d\(kernel_size=2, stride=2\): expected a floating-point input"
    ):
        F.avg_pool2d(x, 2)


def test_bad_hyper_parameters_at_construction():
    with pytest.raises(
        ValueError,
        match=r"MaxPool2d\(kernel_size=2, stride=0\): invalid value for argument `stride`. Expected a strictly positive value. Received stride=0.",
    ):
        nn.MaxPool2d(2, stride=0)
    with pytest.raises(
        ValueError,
        match=r"invalid value for argument `kernel_size`. Expected a strictly positive value. Received kernel_size=\(0, 2\)",
    ):
        nn.AvgPool2d((0, 2))
    with pytest.raises(
        ValueError,
        match=r"MinPool2d\(kernel_size=3, stride=3, padding=-1\): invalid value for argument `padding`. Expected a non-negative value. Received padding=-1.",
    ):
        nn.MinPool2d(3, padding=-1)
    with pytest.raises(
        ValueError,
        match=r"MaxPool2d\(kernel_size=3, stride=2, padding=2\): padding should be at most half of the kernel size, got padding=2 for kernel_size=3 \(at most 1\)",
    ):
        nn.MaxPool2d(3, stride=2, padding=2)
    with pytest.raises(
        TypeError,
        match=r"invalid type for argument `kernel_size`. Expected an int or a tuple of 1 or 2 ints. Received kernel_size=2.5",
    ):
        nn.MaxPool2d(2.5)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "MaxPool2d(kernel_size=2, stride=2, dilation=0): invalid value for argument `dilation`. Expected a strictly positive value. Received dilation=0."
        ),
    ):
        nn.MaxPool2d(2, dilation=0)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "AvgPool2d(kernel_size=2, stride=2, divisor_override=0): divisor_override must not be zero"
        ),
    ):
        nn.AvgPool2d(2, divisor_override=0)
    with pytest.raises(ValueError, match=r"output_size.*non-negative.*Received output_size=-1"):
        nn.AdaptiveAvgPool2d(-1)
    with pytest.raises(
        ValueError,
        match=r"max_pool2d\(kernel_size=2, stride=0\): invalid value for argument `stride`",
    ):
        F.max_pool2d(tinyconv.tensor(np.zeros((1, 1, 4, 4), dtype=np.float32)), 2, 0)


# --------------------------------------------------------- modules: shape, repr
SHAPE_TABLE = [
    (nn.MaxPool2d(2, stride=2), (1, 30, 24, 24), (1, 30, 12, 12)),
    (nn.MaxPool2d(3, stride=2), (2, 64, 32, 32), (2, 64, 15, 15)),  # the lecture's CIFAR 32 -> 15
    (nn.MaxPool2d(3, stride=2), (2, 64, 15, 15), (2, 64, 7, 7)),  # ... and 15 -> 7
    (nn.MaxPool2d(2, 2), (1, 64, 14, 14), (1, 64, 7, 7)),  # MNIST CNN: 7x7x64 = 3136
    (nn.MaxPool2d(3, 2, 1), (2, 3, 9, 10), (2, 3, 5, 5)),
    (nn.MinPool2d((2, 3), (1, 2), (1, 1)), (1, 2, 7, 8), (1, 2, 8, 4)),
    (nn.AvgPool2d(2), (3, 6, 5, 5), (3, 6, 2, 2)),
    (nn.AvgPool2d(3, 1, 1, count_include_pad=False), (1, 1, 4, 4), (1, 1, 4, 4)),
    (nn.AdaptiveAvgPool2d(1), (2, 512, 7, 7), (2, 512, 1, 1)),
    (nn.AdaptiveAvgPool2d((6, 6)), (1, 256, 13, 13), (1, 256, 6, 6)),
    (nn.AdaptiveAvgPool2d((None, 2)), (1, 3, 5, 9), (1, 3, 5, 2)),
]


@pytest.mark.parametrize("layer,in_shape,out_shape", SHAPE_TABLE)
def test_output_shape_matches_forward(layer, in_shape, out_shape):
    x = tinyconv.tensor(np.zeros(in_shape, dtype=np.float32))
    assert layer.output_shape(in_shape) == out_shape
    assert layer(x).shape == out_shape


def test_repr_and_config():
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2)"
    assert (
        repr(nn.MaxPool2d(3, stride=2, padding=1))
        == "MaxPool2d(kernel_size=3, stride=2, padding=1)"
    )
    assert (
        repr(nn.AvgPool2d(2, count_include_pad=False))
        == "AvgPool2d(kernel_size=2, stride=2, count_include_pad=False)"
    )
    assert repr(nn.MinPool2d((2, 3))) == "MinPool2d(kernel_size=(2, 3), stride=(2, 3))"
    assert repr(nn.AdaptiveAvgPool2d((6, 6))) == "AdaptiveAvgPool2d(output_size=(6, 6))"
    rebuilt = nn.build_module(nn.MaxPool2d(3, stride=2, padding=1).config())
    assert repr(rebuilt) == "MaxPool2d(kernel_size=3, stride=2, padding=1)"
    assert nn.MaxPool2d(2).state_dict() == {}
