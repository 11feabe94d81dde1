"""conv2d and conv_transpose2d: against PyTorch, finite differences, naive loops and the seeds' numbers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import check_vs_torch, gradcheck

import tinyconv
import tinyconv.functional as F
from tinyconv import nn
from tinyconv.ops.conv import col2im, conv_output_size, im2col

# float32 sums of up to C*FH*FW (forward) or N*H_out*W_out (weight gradient) products of
# N(0, 1) numbers: rounding reaches a few 1e-6 in absolute terms, hence atol 5e-5.
F32 = {"atol": 5e-5, "rtol": 1e-4}


# ------------------------------------------------------------------ the full grid vs PyTorch
def _grid() -> list[tuple]:
    cases = []
    for S, P, d, g, (FH, FW), (H, W) in itertools.product(
        [1, 2, 3],
        [0, 1, 2, "same"],
        [1, 2],
        [1, 2, "depthwise"],
        [(1, 1), (3, 3), (5, 5), (7, 7), (1, 3), (3, 1)],
        [(9, 10), (10, 7)],  # odd and even heights and widths
    ):
        if P == "same" and S > 1:
            continue  # PyTorch refuses it too (tested in test_conv_errors.py)
        p = 0 if P == "same" else P
        if d * (FH - 1) + 1 > H + 2 * p or d * (FW - 1) + 1 > W + 2 * p:
            continue  # the kernel does not fit in the padded input
        cases.append((S, P, d, g, FH, FW, H, W))
    return cases


GRID = _grid()


def test_grid_is_the_full_product_minus_invalid_combinations():
    # 3 strides x 4 paddings x 2 dilations x 3 groups x 6 kernels x 2 sizes = 864, minus
    # "same" with stride > 1 (2*2*3*6*2 = 288) and kernels too large for their input
    assert len(GRID) > 450
    assert {c[1] for c in GRID} == {0, 1, 2, "same"}
    assert {(c[4], c[5]) for c in GRID} == {(1, 1), (3, 3), (5, 5), (7, 7), (1, 3), (3, 1)}


@pytest.mark.parametrize("S,P,d,g,FH,FW,H,W", GRID, ids=["-".join(map(str, c)) for c in GRID])
def test_conv2d_grid_matches_torch(S, P, d, g, FH, FW, H, W):
    N, C = 2, 4
    groups, FN = (4, 8) if g == "depthwise" else (g, 6)  # depthwise with channel multiplier 2
    rng = np.random.default_rng(hash((S, str(P), d, str(g), FH, FW, H)) % 2**32)
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((FN, C // groups, FH, FW))
    b = rng.standard_normal(FN)
    check_vs_torch(
        lambda x, w, b: F.conv2d(x, w, b, stride=S, padding=P, dilation=d, groups=groups),
        lambda x, w, b: TF.conv2d(x, w, b, stride=S, padding=P, dilation=d, groups=groups),
        [x, w, b],
        **F32,
    )


@pytest.mark.parametrize(
    "kw",
    [
        dict(stride=(1, 2), padding=(2, 0), dilation=(2, 1)),
        dict(stride=(3, 1), padding=(0, 3), dilation=(1, 3)),
        dict(padding="valid"),
        dict(padding="same", dilation=(2, 1)),
        dict(padding=(1, 2), groups=3),
    ],
)
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_conv2d_per_axis_hyperparameters_and_no_bias(kw):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 11, 8))
    w = rng.standard_normal((6, 3 // kw.get("groups", 1), 4, 3))  # even kernel height
    for dtype in (np.float32, np.float64):
        check_vs_torch(
            lambda x, w: F.conv2d(x, w, **kw),
            lambda x, w: TF.conv2d(x, w, **kw),
            [x, w],
            dtype=dtype,
            **(F32 if dtype == np.float32 else {}),
        )


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_conv2d_same_padding_with_even_kernel_pads_bottom_right_like_torch():
    x = np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5)
    w = np.ones((1, 1, 2, 2), dtype=np.float32)
    y = F.conv2d(tinyconv.tensor(x), tinyconv.tensor(w), padding="same").numpy()
    assert y.shape == (1, 1, 5, 5)
    # total padding 1: nothing above/left, one zero row/column below/right
    assert y[0, 0, 0, 0] == 0 + 1 + 5 + 6
    assert y[0, 0, 4, 4] == 24
    np.testing.assert_array_equal(
        y, TF.conv2d(torch.tensor(x), torch.tensor(w), padding="same").numpy()
    )


def test_conv2d_computes_only_the_gradients_asked_for():
    rng = np.random.default_rng(2)
    x_np = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    x = tinyconv.tensor(x_np)
    w = tinyconv.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    b = tinyconv.tensor(rng.standard_normal(4).astype(np.float32), requires_grad=False)
    F.conv2d(x, w, b, padding=1).sum().backward()
    assert x.grad is None and b.grad is None
    wt = torch.tensor(w.numpy(), requires_grad=True)
    TF.conv2d(torch.tensor(x_np), wt, torch.tensor(b.numpy()), padding=1).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy(), **F32)
    np.testing.assert_array_equal(x.numpy(), x_np)  # the input was not modified


@pytest.mark.parametrize("op", ["conv2d", "conv_transpose2d"])
def test_only_the_bias_needs_a_gradient(op):
    x = tinyconv.tensor(np.ones((2, 2, 4, 4), dtype=np.float32))
    w = tinyconv.tensor(np.ones((2, 2, 3, 3), dtype=np.float32))
    b = tinyconv.tensor(np.zeros(2, dtype=np.float32), requires_grad=True)
    y = getattr(F, op)(x, w, b)
    y.sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), [y.shape[0] * y.shape[2] * y.shape[3]] * 2)
    assert x.grad is None and w.grad is None


def test_conv2d_keeps_float32_and_the_graph():
    x = tinyconv.tensor(np.ones((1, 2, 5, 5), dtype=np.float32), requires_grad=True)
    w = tinyconv.tensor(np.ones((3, 2, 3, 3), dtype=np.float32), requires_grad=True)
    y = F.conv2d(x, w)
    assert y.dtype == np.float32 and y.requires_grad
    np.testing.assert_array_equal(y.numpy(), np.full((1, 3, 3, 3), 18.0, dtype=np.float32))
    with tinyconv.no_grad():
        assert not F.conv2d(x, w).requires_grad


# ------------------------------------------------------------------ conv_transpose2d vs PyTorch
def _transpose_grid() -> list[tuple]:
    cases = []
    for S, P, op, d, g, (FH, FW) in itertools.product(
        [1, 2, 3], [0, 1, 2], [0, 1, 2], [1, 2], [1, 2], [(3, 3), (2, 3), (1, 1)]
    ):
        if op >= S and op >= d:
            continue  # PyTorch's rule: output_padding < stride or < dilation
        if min((5 - 1) * S - 2 * P + d * (F - 1) + op + 1 for F in (FH, FW)) < 1:
            continue
        cases.append((S, P, op, d, g, FH, FW))
    return cases


TGRID = _transpose_grid()


@pytest.mark.parametrize("S,P,op,d,g,FH,FW", TGRID, ids=["-".join(map(str, c)) for c in TGRID])
def test_conv_transpose2d_grid_matches_torch(S, P, op, d, g, FH, FW):
    rng = np.random.default_rng(S * 1000 + P * 100 + op * 10 + d + g * 7 + FH * 3 + FW)
    x = rng.standard_normal((2, 4, 5, 6))
    w = rng.standard_normal((4, 6 // g, FH, FW))  # (C_in, C_out/groups, FH, FW)
    b = rng.standard_normal(6)
    check_vs_torch(
        lambda x, w, b: F.conv_transpose2d(x, w, b, S, P, op, g, d),
        lambda x, w, b: TF.conv_transpose2d(x, w, b, S, P, op, g, d),
        [x, w, b],
        **F32,
    )


def test_conv_transpose2d_per_axis_and_no_bias_float64():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 3, 4, 5))
    w = rng.standard_normal((3, 2, 3, 2))
    kw = dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), dilation=(1, 2))
    check_vs_torch(
        lambda x, w: F.conv_transpose2d(x, w, **kw),
        lambda x, w: TF.conv_transpose2d(x, w, **kw),
        [x, w],
        dtype=np.float64,
    )


def test_conv_transpose2d_is_the_adjoint_of_conv2d():
    # <conv2d(x, W), y> == <x, conv_transpose2d(y, W)> for the same W, S, P, d
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 9, 8))
    y = rng.standard_normal((2, 4, 5, 4))
    W = rng.standard_normal((4, 3, 3, 3))
    t = lambda a: tinyconv.tensor(a, dtype=np.float64)  # noqa: E731
    cx = F.conv2d(t(x), t(W), stride=2, padding=1, dilation=1).numpy()
    ty = F.conv_transpose2d(t(y), t(W), stride=2, padding=1, output_padding=(0, 1)).numpy()
    assert cx.shape == y.shape and ty.shape == x.shape
    np.testing.assert_allclose((cx * y).sum(), (x * ty).sum(), rtol=1e-12)


# ------------------------------------------------------------------ finite differences, float64
@pytest.mark.parametrize(
    "kw",
    [
        dict(stride=2, padding=1),
        dict(padding="same", dilation=2),
        dict(stride=(1, 2), padding=(0, 1), groups=2),
    ],
)
def test_conv2d_gradcheck_float64(kw):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 2, 5, 6))
    w = rng.standard_normal((4, 2 // kw.get("groups", 1), 3, 2))
    b = rng.standard_normal(4)
    gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kw), [x, w, b])


@pytest.mark.parametrize(
    "kw",
    [
        dict(stride=2, padding=1, output_padding=1),
        dict(stride=1, dilation=2, output_padding=1, groups=2),
    ],
)
def test_conv_transpose2d_gradcheck_float64(kw):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 2, 3, 4))
    w = rng.standard_normal((2, 4 // kw.get("groups", 1), 3, 2))
    b = rng.standard_normal(4)
    gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), [x, w, b])


# ------------------------------------------------------------------ im2col / col2im vs loops
def naive_im2col(x, FH, FW, S, pads, D):
    """Row (n, h, w), column (c, i, j) = padded x[n, c, h*SH + i*DH, w*SW + j*DW], by loops."""
    N, C, H, W = x.shape
    pt, pb, pl, pr = pads
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    out_h = (H + pt + pb - D[0] * (FH - 1) - 1) // S[0] + 1
    out_w = (W + pl + pr - D[1] * (FW - 1) - 1) // S[1] + 1
    col = np.zeros((N * out_h * out_w, C * FH * FW), dtype=x.dtype)
    for n in range(N):
        for h in range(out_h):
            for w in range(out_w):
                for c in range(C):
                    for i in range(FH):
                        for j in range(FW):
                            row = (n * out_h + h) * out_w + w
                            col[row, (c * FH + i) * FW + j] = xp[
                                n, c, h * S[0] + i * D[0], w * S[1] + j * D[1]
                            ]
    return col, out_h, out_w


def naive_col2im(col, x_shape, FH, FW, S, pads, D, out_h, out_w):
    N, C, H, W = x_shape
    pt, pb, pl, pr = pads
    img = np.zeros((N, C, H + pt + pb, W + pl + pr), dtype=col.dtype)
    for n in range(N):
        for h in range(out_h):
            for w in range(out_w):
                for c in range(C):
                    for i in range(FH):
                        for j in range(FW):
                            row = (n * out_h + h) * out_w + w
                            img[n, c, h * S[0] + i * D[0], w * S[1] + j * D[1]] += col[
                                row, (c * FH + i) * FW + j
                            ]
    return img[:, :, pt : pt + H, pl : pl + W]


@pytest.mark.parametrize(
    "FH,FW,S,pads,D",
    [
        (3, 3, (1, 1), (0, 0, 0, 0), (1, 1)),
        (3, 2, (2, 1), (1, 1, 2, 2), (1, 1)),
        (2, 3, (1, 3), (0, 1, 1, 0), (2, 1)),  # asymmetric padding, as "same" with even kernels
        (1, 1, (2, 2), (0, 0, 0, 0), (1, 1)),
        (3, 3, (3, 2), (2, 2, 1, 1), (2, 3)),
    ],
)
def test_im2col_and_col2im_match_nested_loops(FH, FW, S, pads, D):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 8, 9)).astype(np.float32)
    expected, out_h, out_w = naive_im2col(x, FH, FW, S, pads, D)
    col = im2col(x, FH, FW, S, pads, D)
    assert col.shape == (2 * out_h * out_w, 3 * FH * FW) and col.dtype == np.float32
    np.testing.assert_array_equal(col, expected)
    c = rng.standard_normal(col.shape).astype(np.float32)
    img = col2im(c, x.shape, FH, FW, S, pads, D)
    assert img.shape == x.shape and img.dtype == np.float32
    np.testing.assert_allclose(
        img, naive_col2im(c, x.shape, FH, FW, S, pads, D, out_h, out_w), atol=1e-5
    )


def test_im2col_uses_pad_value_and_the_book_layout():
    x = np.arange(16.0, dtype=np.float32).reshape(1, 1, 4, 4)
    col = im2col(x, 2, 2, stride=2, pad=1, pad_value=-np.inf)
    assert col.shape == (9, 4)
    np.testing.assert_array_equal(col[0], [-np.inf, -np.inf, -np.inf, 0.0])  # top-left window
    np.testing.assert_array_equal(col[4], [5.0, 6.0, 9.0, 10.0])  # the middle window
    # one strided view and one copy: the result owns its memory, x is untouched
    assert not np.shares_memory(im2col(x, 2, 2, stride=2), x)


@pytest.mark.parametrize(
    "size,k,s,p,d,expected",
    [
        (28, 4, 2, 1, 1, 14),
        (28, 5, 1, 0, 1, 24),
        (32, 5, 1, 2, 1, 32),
        (32, 3, 2, 0, 1, 15),
        (7, 3, 2, 0, 1, 3),
        (8, 3, 2, 0, 1, 3),
        (10, 3, 1, 0, 2, 6),
        (5, 3, 3, (1, 2), 1, 2),
    ],
)
def test_conv_output_size_floors_like_pytorch(size, k, s, p, d, expected):
    assert conv_output_size(size, k, s, p, d) == expected
    if isinstance(p, int):  # PyTorch agrees (it has no asymmetric padding to compare with)
        y = TF.conv2d(
            torch.zeros(1, 1, size, size), torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d
        )
        assert y.shape[-1] == expected


# ------------------------------------------------------------------ the seeds' examples
def test_mission_5x5_image_times_3x3_kernel():
    image = [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]]
    kernel = [[1, 0, 1], [0, 1, 0], [1, 0, 1]]
    x = tinyconv.tensor(np.array(image, dtype=np.float32).reshape(1, 1, 5, 5))
    w = tinyconv.tensor(np.array(kernel, dtype=np.float32).reshape(1, 1, 3, 3))
    y = F.conv2d(x, w, stride=1, padding=0)
    assert y.numpy()[0, 0].tolist() == [[4, 3, 4], [2, 4, 3], [2, 3, 4]]


def test_mnist_conv_f4_s2_p1_k64_gives_64x14x14():
    conv = nn.Conv2d(1, 64, kernel_size=4, stride=2, padding=1)
    y = conv(tinyconv.tensor(np.zeros((1, 1, 28, 28), dtype=np.float32)))
    assert y.shape == (1, 64, 14, 14) and y.shape[1:] == (64, 14, 14)
    assert conv.output_shape((1, 1, 28, 28)) == (1, 64, 14, 14)
    assert conv_output_size(28, 4, 2, 1) == 14  # W_out = (28 - 4 + 2*1)/2 + 1


def test_3x3_conv_from_3_to_128_channels_has_3456_weights():
    conv = nn.Conv2d(3, 128, kernel_size=3)
    assert conv.weight.shape == (128, 3, 3, 3)
    assert conv.weight.numel() == 3 * 3 * 3 * 128 == 3456
    assert conv.num_parameters() == 3456 + 128  # plus one bias per filter


def test_32x32x3_image_through_10_filters_has_depth_10():
    conv = nn.Conv2d(3, 10, kernel_size=5)
    assert conv(tinyconv.tensor(np.zeros((1, 3, 32, 32), dtype=np.float32))).shape == (
        1,
        10,
        28,
        28,
    )


@pytest.mark.parametrize("n,big", [(2, 5), (4, 9)])
def test_stacked_3x3_convs_see_as_far_as_one_big_kernel_with_fewer_weights(n, big):
    stack = nn.Sequential(*[nn.Conv2d(1, 1, 3, bias=False) for _ in range(n)])
    one = nn.Conv2d(1, 1, big, bias=False)
    assert (
        stack.num_parameters() == 9 * n and one.num_parameters() == big * big
    )  # 18 vs 25, 36 vs 81
    x = tinyconv.tensor(np.zeros((1, 1, big, big), dtype=np.float32))
    assert stack(x).shape == one(x).shape == (1, 1, 1, 1)  # the same big x big receptive field


def test_1xk_then_kx1_covers_kxk_with_fewer_weights():
    pair = nn.Sequential(nn.Conv2d(1, 1, (1, 3), bias=False), nn.Conv2d(1, 1, (3, 1), bias=False))
    x = tinyconv.tensor(np.zeros((1, 1, 3, 3), dtype=np.float32))
    assert pair(x).shape == (1, 1, 1, 1) and pair.num_parameters() == 6 < 9


def test_a_diagonal_filter_responds_most_on_a_diagonal_edge():
    img = np.zeros((1, 1, 6, 6), dtype=np.float32)
    img[0, 0, np.arange(6), np.arange(6)] = 1.0  # a diagonal line
    img[0, 0, 0, 5] = img[0, 0, 1, 4] = 1.0  # a bit of anti-diagonal
    diag = tinyconv.tensor(np.eye(3, dtype=np.float32).reshape(1, 1, 3, 3))
    y = F.conv2d(tinyconv.tensor(img), diag).numpy()[0, 0]
    assert y.max() == 3.0
    assert [tuple(p) for p in np.argwhere(y == 3.0)] == [(i, i) for i in range(4)]


def test_dense_layer_is_a_conv_covering_the_whole_input():
    # FCN idea: Linear(C*H*W, K) == Conv2d(C, K, kernel_size=(H, W)) with the same weights
    rng = np.random.default_rng(8)
    fc = nn.Linear(2 * 4 * 4, 5)
    conv = nn.Conv2d(2, 5, kernel_size=4)
    conv.load_state_dict({"weight": fc.weight.numpy().reshape(5, 2, 4, 4), "bias": fc.bias.numpy()})
    x = tinyconv.tensor(rng.standard_normal((3, 2, 4, 4)).astype(np.float32))
    np.testing.assert_allclose(conv(x).numpy().reshape(3, 5), fc(x.flatten(1)).numpy(), atol=1e-5)
    big = tinyconv.tensor(rng.standard_normal((1, 2, 7, 9)).astype(np.float32))
    assert conv(big).shape == (1, 5, 4, 6)  # a larger input gives a map of scores


# ------------------------------------------------------------------ the modules
CONFIGS = [
    dict(in_channels=1, out_channels=30, kernel_size=5),
    dict(in_channels=1, out_channels=64, kernel_size=4, stride=2, padding=1),
    dict(in_channels=3, out_channels=16, kernel_size=3, padding="same", dilation=2, bias=False),
    dict(in_channels=4, out_channels=8, kernel_size=(1, 3), stride=2, padding=(0, 1), groups=2),
    dict(in_channels=4, out_channels=4, kernel_size=3, groups=4, padding="valid"),
    dict(in_channels=2, out_channels=6, kernel_size=(4, 2), stride=(3, 1), dilation=(1, 2)),
    dict(in_channels=3, out_channels=5, kernel_size=2, padding="same"),
]


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("hw", [(13, 13), (16, 11)])
def test_conv2d_module_output_shape_equals_forward(cfg, hw):
    conv = nn.Conv2d(**cfg)
    shape = (2, cfg["in_channels"], *hw)
    y = conv(tinyconv.tensor(np.zeros(shape, dtype=np.float32)))
    assert conv.output_shape(shape) == y.shape
    assert y.shape == tuple(torch.nn.Conv2d(**cfg)(torch.zeros(shape)).shape)


@pytest.mark.parametrize("cfg", CONFIGS)
def test_conv2d_module_matches_torch_names_shapes_repr_and_values(cfg):
    ours, theirs = nn.Conv2d(**cfg), torch.nn.Conv2d(**cfg)
    assert repr(ours) == repr(theirs)
    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert list(sd) == list(tsd)
    assert {k: v.shape for k, v in sd.items()} == {k: tuple(v.shape) for k, v in tsd.items()}
    ours.load_state_dict({k: v.detach().numpy() for k, v in tsd.items()})
    x = np.random.default_rng(9).standard_normal((2, cfg["in_channels"], 9, 10)).astype(np.float32)
    np.testing.assert_allclose(
        ours(tinyconv.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), **F32
    )


TCONFIGS = [
    dict(in_channels=64, out_channels=1, kernel_size=4, stride=2, padding=1),
    dict(
        in_channels=4,
        out_channels=8,
        kernel_size=3,
        stride=2,
        padding=1,
        output_padding=1,
        groups=2,
    ),
    dict(
        in_channels=3, out_channels=2, kernel_size=(2, 3), dilation=2, output_padding=1, bias=False
    ),
]


@pytest.mark.parametrize("cfg", TCONFIGS)
def test_conv_transpose2d_module_matches_torch(cfg):
    ours, theirs = nn.ConvTranspose2d(**cfg), torch.nn.ConvTranspose2d(**cfg)
    assert repr(ours) == repr(theirs)
    tsd = theirs.state_dict()
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in tsd.items()
    }
    ours.load_state_dict({k: v.detach().numpy() for k, v in tsd.items()})
    shape = (2, cfg["in_channels"], 5, 7)
    x = np.random.default_rng(10).standard_normal(shape).astype(np.float32)
    y = ours(tinyconv.tensor(x))
    assert ours.output_shape(shape) == y.shape
    np.testing.assert_allclose(y.numpy(), theirs(torch.tensor(x)).detach().numpy(), **F32)


@pytest.mark.parametrize(
    "make,fan_in",
    [
        (lambda: nn.Conv2d(6, 8, (3, 5), groups=2), 3 * 3 * 5),
        (lambda: nn.ConvTranspose2d(6, 8, (3, 5), groups=2), 4 * 3 * 5),  # weight.shape[1]*FH*FW
    ],
)
def test_default_init_is_pytorchs(make, fan_in):
    tinyconv.manual_seed(0)
    layer = make()
    bound = 1 / np.sqrt(fan_in)  # kaiming_uniform(a=sqrt(5)): gain*sqrt(3/fan_in) = 1/sqrt(fan_in)
    w, b = layer.weight.numpy(), layer.bias.numpy()
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(b).max() <= bound
    tinyconv.manual_seed(0)
    np.testing.assert_array_equal(make().weight.numpy(), w)  # seeded


def test_conv_modules_train_in_float64_and_rebuild_from_config():
    conv = nn.Conv2d(2, 3, 3, stride=(1, 2), padding=1, dtype=np.float64)
    assert conv.weight.dtype == np.float64
    x = tinyconv.tensor(np.ones((1, 2, 5, 5)), dtype=np.float64, requires_grad=True)
    conv(x).sum().backward()
    assert x.grad.dtype == np.float64 and conv.weight.grad.shape == (3, 2, 3, 3)
    for layer in (conv, nn.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1, bias=False)):
        rebuilt = nn.build_module(layer.config())
        assert repr(rebuilt) == repr(layer)
        assert (
            rebuilt.weight.shape == layer.weight.shape
            and rebuilt.weight.dtype == layer.weight.dtype
        )


def test_conv_module_gradients_match_torch_through_a_small_net():
    rng = np.random.default_rng(11)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.Conv2d(4, 4, 3, stride=2, groups=2),
        nn.ConvTranspose2d(4, 2, 2, stride=2),
    )
    tnet = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1),
        torch.nn.Conv2d(4, 4, 3, stride=2, groups=2),
        torch.nn.ConvTranspose2d(4, 2, 2, stride=2),
    )
    net.load_state_dict({k: v.detach().numpy() for k, v in tnet.state_dict().items()})
    x = rng.standard_normal((2, 1, 9, 9)).astype(np.float32)
    y, yt = net(tinyconv.tensor(x)), tnet(torch.tensor(x))
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), **F32)
    (y * y).sum().backward()
    (yt * yt).sum().backward()
    tparams = dict(tnet.named_parameters())
    for name, p in net.named_parameters():
        np.testing.assert_allclose(
            p.grad.numpy(), tparams[name].grad.numpy(), atol=1e-4, rtol=1e-4, err_msg=name
        )


@pytest.mark.gpu
def test_conv2d_on_cupy_matches_numpy():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 4, 9, 10)).astype(np.float32)
    w = rng.standard_normal((6, 2, 3, 3)).astype(np.float32)
    results = []
    for device in ("cpu", "cuda"):
        xt = tinyconv.tensor(x, requires_grad=True, device=device)
        wt = tinyconv.tensor(w, requires_grad=True, device=device)
        y = F.conv2d(xt, wt, stride=2, padding=1, groups=2)
        z = F.conv_transpose2d(y, wt, stride=2, padding=1, output_padding=(0, 1), groups=2)
        (z * z).sum().backward()
        assert z.device == device
        results.append([t.numpy() for t in (y, z, xt.grad, wt.grad)])
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)
