"""PyTorch's shapes and arguments beyond the plain batch: Conv1d, unbatched convolutions,
empty batches (N = 0) through every layer, class-probability cross-entropy, softmax's
dtype, 1-D linear, cat's rules. Forward and gradients vs PyTorch in float32, finite
differences in float64."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import check_vs_torch, gradcheck

import tinyconv
import tinyconv.functional as F
from tinyconv import nn


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ------------------------------------------------------------------ conv1d
CONV1D = [  # (x shape, weight shape, stride, padding, dilation, groups)
    ((2, 3, 10), (4, 3, 3), 1, 0, 1, 1),
    ((2, 4, 11), (6, 2, 3), 2, 1, 2, 2),
    ((1, 4, 9), (4, 1, 4), 1, "same", 2, 4),
    ((2, 3, 8), (5, 3, 2), 3, "valid", 1, 1),
    ((3, 9), (2, 3, 3), 2, 2, 1, 1),  # unbatched (C, L)
]


@pytest.mark.parametrize("xs,ws,s,p,d,g", CONV1D)
def test_conv1d_vs_torch(xs, ws, s, p, d, g):
    x, w, b = rand(*xs), rand(*ws, seed=1), rand(ws[0], seed=2)
    check_vs_torch(
        lambda a, ww, bb: F.conv1d(a, ww, bb, s, p, d, g),
        lambda a, ww, bb: TF.conv1d(a, ww, bb, s, p, d, g),
        [x, w, b],
    )


@pytest.mark.parametrize("xs,ws,s,p,d,g", CONV1D[:3])
def test_conv1d_gradcheck_float64(xs, ws, s, p, d, g):
    x, w, b = rand(*xs), rand(*ws, seed=1), rand(ws[0], seed=2)
    gradcheck(lambda a, ww, bb: F.conv1d(a, ww, bb, s, p, d, g), [x[:1], w, b])


def test_conv1d_module_matches_torch_and_its_shape():
    torch.manual_seed(0)
    theirs = torch.nn.Conv1d(4, 6, 5, stride=2, padding=2, dilation=1, groups=2)
    ours = nn.Conv1d(4, 6, 5, stride=2, padding=2, groups=2)
    assert ours.weight.shape == tuple(theirs.weight.shape) == (6, 2, 5)
    ours.load_state_dict(
        {k: tinyconv.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()}
    )
    x = rand(3, 4, 17).astype(np.float32)
    y = ours(tinyconv.tensor(x))
    np.testing.assert_allclose(
        y.numpy(), theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-4, atol=1e-5
    )
    assert ours.output_shape((3, 4, 17)) == y.shape == (3, 6, 9)
    assert ours.output_shape((4, 17)) == (6, 9)
    assert repr(ours) == "Conv1d(4, 6, kernel_size=(5,), stride=(2,), padding=(2,), groups=2)"
    assert repr(nn.build_module(ours.config())) == repr(ours)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())


def test_conv1d_errors_speak_of_the_length():
    x = tinyconv.tensor(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "conv1d: output length -1 < 1: L_out = (L_in - F + 2P)/S + 1 = (4 - 6 + 2*0)/1 + 1; input (2, 3, 4)"
        ),
    ):
        F.conv1d(x, tinyconv.tensor(np.zeros((2, 3, 6), np.float32)))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "expected a 3-D weight (out_channels, in_channels/groups, K), got shape (2, 3)"
        ),
    ):
        F.conv1d(x, tinyconv.tensor(np.zeros((2, 3), np.float32)))
    with pytest.raises(
        ValueError,
        match=re.escape("expected input[2, 3, 4] to have 2 channels, but got 3 channels instead"),
    ):
        F.conv1d(x, tinyconv.tensor(np.zeros((2, 2, 1), np.float32)))
    with pytest.raises(ValueError, match=r"Conv1d: invalid value for argument `stride`"):
        nn.Conv1d(3, 4, 3, stride=0)


# ------------------------------------------------------------ unbatched convolutions
def test_unbatched_conv2d_and_transpose_vs_torch():
    x, w, b = rand(4, 7, 6), rand(6, 2, 3, 3, seed=1), rand(6, seed=2)
    check_vs_torch(
        lambda a, ww, bb: F.conv2d(a, ww, bb, 2, 1, 1, 2),
        lambda a, ww, bb: TF.conv2d(a, ww, bb, 2, 1, 1, 2),
        [x, w, b],
    )
    wt = rand(4, 3, 3, 3, seed=3)
    check_vs_torch(
        lambda a, ww: F.conv_transpose2d(a, ww, stride=2, padding=1, output_padding=1),
        lambda a, ww: TF.conv_transpose2d(a, ww, stride=2, padding=1, output_padding=1),
        [x, wt],
    )
    gradcheck(lambda a, ww: F.conv2d(a, ww, None, 2, 1, 1, 2), [x, w])


def test_unbatched_modules_and_their_output_shapes():
    conv, up = nn.Conv2d(3, 8, 3, padding=1), nn.ConvTranspose2d(3, 2, 4, stride=2, padding=1)
    x = tinyconv.tensor(np.zeros((3, 10, 12), np.float32))
    assert conv(x).shape == conv.output_shape((3, 10, 12)) == (8, 10, 12)
    assert up(x).shape == up.output_shape((3, 10, 12)) == (2, 20, 24)


# ------------------------------------------------------------ empty batches
def _copy_params(ours, theirs):
    ours.load_state_dict(
        {k: tinyconv.tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()}
    )


EMPTY_LAYERS = [
    (
        lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1),
        lambda: torch.nn.Conv2d(3, 4, 3, stride=2, padding=1),
        (0, 3, 8, 8),
    ),
    (
        lambda: nn.Conv2d(4, 4, 3, groups=4),
        lambda: torch.nn.Conv2d(4, 4, 3, groups=4),
        (0, 4, 8, 8),
    ),
    (
        lambda: nn.ConvTranspose2d(3, 4, 3, stride=2),
        lambda: torch.nn.ConvTranspose2d(3, 4, 3, stride=2),
        (0, 3, 5, 5),
    ),
    (lambda: nn.Conv1d(3, 4, 3), lambda: torch.nn.Conv1d(3, 4, 3), (0, 3, 8)),
    (lambda: nn.BatchNorm2d(3), lambda: torch.nn.BatchNorm2d(3), (0, 3, 4, 4)),
    (lambda: nn.BatchNorm2d(3).eval(), lambda: torch.nn.BatchNorm2d(3).eval(), (0, 3, 4, 4)),
    (lambda: nn.BatchNorm1d(3), lambda: torch.nn.BatchNorm1d(3), (0, 3)),
    (lambda: nn.Linear(3, 4), lambda: torch.nn.Linear(3, 4), (0, 3)),
    (lambda: nn.Softmax(1), lambda: torch.nn.Softmax(1), (0, 3)),
    (lambda: nn.LogSoftmax(1), lambda: torch.nn.LogSoftmax(1), (0, 3)),
    (lambda: nn.Flatten(), lambda: torch.nn.Flatten(), (0, 3, 2, 2)),
    (lambda: nn.LocalResponseNorm(2), lambda: torch.nn.LocalResponseNorm(2), (0, 3, 2, 2)),
    (lambda: nn.Dropout(), lambda: torch.nn.Dropout(), (0, 3)),
    (lambda: nn.MaxPool2d(2), lambda: torch.nn.MaxPool2d(2), (0, 3, 4, 4)),
    (lambda: nn.AvgPool1d(2), lambda: torch.nn.AvgPool1d(2), (0, 3, 4)),
    (
        lambda: nn.Sequential(
            nn.Conv2d(1, 2, 3),
            nn.BatchNorm2d(2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(18, 3),
        ),
        lambda: torch.nn.Sequential(
            torch.nn.Conv2d(1, 2, 3),
            torch.nn.BatchNorm2d(2),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Flatten(),
            torch.nn.Linear(18, 3),
        ),
        (0, 1, 8, 8),
    ),
]


@pytest.mark.parametrize("make_ours,make_theirs,shape", EMPTY_LAYERS)
def test_empty_batch_through_every_layer(make_ours, make_theirs, shape):
    torch.manual_seed(0)
    ours, theirs = make_ours(), make_theirs()
    _copy_params(ours, theirs)
    x = tinyconv.tensor(np.zeros(shape, np.float32), requires_grad=True)
    xt = torch.zeros(shape, requires_grad=True)
    y, yt = ours(x), theirs(xt)
    assert y.shape == tuple(yt.shape) and y.dtype == np.float32
    y.sum().backward()
    yt.sum().backward()
    assert x.grad.shape == shape
    grads = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():  # all zeros: no sample contributed
        got = grads[name].grad
        np.testing.assert_array_equal(
            np.zeros(p.shape) if got is None else got.numpy(), p.grad.numpy()
        )
    for name, buf in theirs.named_buffers():  # the running statistics stay as they were
        np.testing.assert_array_equal(ours.state_dict()[name].numpy(), buf.numpy())


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(
    "ours,theirs,target",
    [
        (F.cross_entropy, TF.cross_entropy, np.zeros(0, np.int64)),
        (F.cross_entropy, TF.cross_entropy, np.zeros((0, 3), np.float32)),
        (F.nll_loss, TF.nll_loss, np.zeros(0, np.int64)),
        (F.mse_loss, TF.mse_loss, np.zeros((0, 3), np.float32)),
        (F.l1_loss, TF.l1_loss, np.zeros((0, 3), np.float32)),
        (F.smooth_l1_loss, TF.smooth_l1_loss, np.zeros((0, 3), np.float32)),
        (F.binary_cross_entropy, TF.binary_cross_entropy, np.zeros((0, 3), np.float32)),
        (
            F.binary_cross_entropy_with_logits,
            TF.binary_cross_entropy_with_logits,
            np.zeros((0, 3), np.float32),
        ),
    ],
)
def test_losses_of_an_empty_batch_are_torchs(ours, theirs, target, reduction):
    # "mean" of nothing is NaN (0/0) in PyTorch, silently; "sum" is 0, "none" is empty
    x = tinyconv.tensor(np.zeros((0, 3), np.float32), requires_grad=True)
    with np.errstate(all="raise"):  # no NumPy warning on the way
        y = ours(x, tinyconv.tensor(target), reduction=reduction)
    yt = theirs(torch.zeros((0, 3)), torch.from_numpy(target), reduction=reduction)
    assert y.shape == tuple(yt.shape)
    np.testing.assert_array_equal(y.numpy(), yt.numpy())
    y.sum().backward()
    assert x.grad.shape == (0, 3)


def test_every_target_ignored_gives_nan_loss_and_zero_gradient():
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    t = tinyconv.tensor(x, requires_grad=True)
    loss = F.cross_entropy(t, np.array([-100, -100]), label_smoothing=0.1)
    assert np.isnan(loss.item())
    loss.backward()
    assert t.grad.tolist() == [[0.0] * 3] * 2  # as PyTorch


# --------------------------------------------- class-probability cross-entropy
SOFT = [  # (input shape, weight?, label_smoothing, reduction)
    ((4, 5), False, 0.0, "mean"),
    ((4, 5), True, 0.0, "mean"),
    ((4, 5), True, 0.2, "mean"),
    ((4, 5), True, 0.1, "sum"),
    ((4, 5), False, 0.3, "none"),
    ((2, 3, 2, 3), True, 0.1, "mean"),
    ((2, 3, 4), False, 0.0, "none"),
    ((5,), True, 0.1, "mean"),  # one unbatched sample
]


@pytest.mark.parametrize("shape,weighted,eps,reduction", SOFT)
def test_soft_target_cross_entropy_vs_torch(shape, weighted, eps, reduction):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape)
    C = shape[1] if len(shape) > 1 else shape[0]
    t = rng.random(shape)
    t = t / t.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)  # probabilities per sample
    w = rng.random(C) + 0.5 if weighted else None
    wt = None if w is None else torch.tensor(w, dtype=torch.float32)

    def theirs(a, b):
        return TF.cross_entropy(
            a,
            b,
            weight=None if wt is None else wt.to(a.dtype),
            reduction=reduction,
            label_smoothing=eps,
        )

    check_vs_torch(  # the gradient reaches the logits and the target
        lambda a, b: F.cross_entropy(a, b, weight=w, reduction=reduction, label_smoothing=eps),
        theirs,
        [x, t],
    )
    gradcheck(
        lambda a, b: F.cross_entropy(a, b, weight=w, reduction=reduction, label_smoothing=eps),
        [x, t],
    )


def test_soft_targets_equal_one_hot_labels_without_weights():
    x = tinyconv.tensor(np.random.default_rng(4).standard_normal((6, 4)).astype(np.float32))
    labels = np.array([0, 3, 1, 1, 2, 0])
    hard = F.cross_entropy(x, labels, label_smoothing=0.1)
    soft = F.cross_entropy(x, np.eye(4, dtype=np.float32)[labels], label_smoothing=0.1)
    np.testing.assert_allclose(soft.item(), hard.item(), rtol=1e-6)
    loss = nn.CrossEntropyLoss(label_smoothing=0.1)(
        x, tinyconv.tensor(np.eye(4, dtype=np.float32)[labels])
    )
    np.testing.assert_allclose(loss.item(), hard.item(), rtol=1e-6)


# ------------------------------------------------------------ softmax dtype=
@pytest.mark.parametrize("fn,tfn", [(F.softmax, TF.softmax), (F.log_softmax, TF.log_softmax)])
def test_softmax_dtype_casts_first_and_returns_the_gradient_in_the_input_dtype(fn, tfn):
    x = rand(3, 5).astype(np.float32)
    y = fn(t := tinyconv.tensor(x, requires_grad=True), 1, dtype=np.float64)
    yt = tfn(tt := torch.tensor(x, requires_grad=True), 1, dtype=torch.float64)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-12)
    R = rand(3, 5, seed=1)
    (y * tinyconv.tensor(R, dtype=np.float64)).sum().backward()
    (yt * torch.from_numpy(R)).sum().backward()
    assert t.grad.dtype == np.float32
    np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=1e-5, atol=1e-7)
    assert fn(tinyconv.tensor(x), 1, dtype="float64").dtype == np.float64
    with pytest.raises(TypeError, match="dtype must be a floating-point type, got int64"):
        fn(tinyconv.tensor(x), 1, dtype=np.int64)


@pytest.mark.parametrize("fn,tfn", [(F.softmax, TF.softmax), (F.log_softmax, TF.log_softmax)])
def test_softmax_over_an_empty_axis_and_a_scalar(fn, tfn):
    x = tinyconv.tensor(np.zeros((5, 0, 0), np.float32), requires_grad=True)
    y = fn(x, -1)
    assert y.shape == (5, 0, 0)
    y.sum().backward()
    assert x.grad.shape == (5, 0, 0)
    s = tinyconv.tensor(np.float32(3.0), requires_grad=True)
    assert fn(s, 0).item() == tfn(torch.tensor(3.0), 0).item()


# ------------------------------------------------------------ linear on one sample
def test_linear_on_a_1d_input_vs_torch():
    x, w, b = rand(5), rand(3, 5, seed=1), rand(3, seed=2)
    check_vs_torch(
        lambda a, ww, bb: F.linear(a, ww, bb), lambda a, ww, bb: TF.linear(a, ww, bb), [x, w, b]
    )
    check_vs_torch(lambda a, ww: F.linear(a, ww), lambda a, ww: TF.linear(a, ww), [x, w])
    gradcheck(lambda a, ww, bb: F.linear(a, ww, bb), [x, w, b])
    layer = nn.Linear(5, 3)
    assert layer(tinyconv.tensor(x.astype(np.float32))).shape == (3,)
    with pytest.raises(
        ValueError,
        match=re.escape("expected input (N, 5) with 5 features in the last dimension, got (4,)"),
    ):
        F.linear(tinyconv.tensor(rand(4)), tinyconv.tensor(w))


# ------------------------------------------------------------ cat
def test_cat_follows_torchs_rules():
    a = tinyconv.tensor(rand(5, 5), requires_grad=True)
    empty = tinyconv.tensor(np.zeros(0))
    assert tinyconv.cat([empty, a], dim=1).shape == (5, 5)  # (0,) tensors are skipped
    with pytest.raises(ValueError, match="zero-dimensional tensors cannot be concatenated"):
        tinyconv.cat([tinyconv.tensor(1.0), tinyconv.tensor(2.0)])
    with pytest.raises(TypeError, match="cat: expected tinyconv Tensors, got NoneType at 1"):
        tinyconv.cat([a, None])
    with pytest.raises(ValueError, match="cat: tensors must have the same number of dimensions"):
        tinyconv.cat([a, tinyconv.tensor(rand(5, 5, 1))])
