"""Batch norm and local response norm: forward, gradients and running statistics vs PyTorch."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import check_vs_torch, gradcheck

import tinyconv
import tinyconv.functional as F
from tinyconv import nn

SHAPES = [(6, 4), (5, 4, 3), (3, 4, 5, 6)]


def _stats(seed, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(4).astype(dtype), (rng.random(4) + 0.5).astype(dtype)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_vs_torch(shape, training, affine):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape) * 2 + 1
    w, b = rng.standard_normal(4), rng.standard_normal(4)
    rm, rv = _stats(2)
    ours = [tinyconv.tensor(rm.copy()), tinyconv.tensor(rv.copy())]
    theirs = [torch.tensor(rm.copy()), torch.tensor(rv.copy())]
    if affine:
        check_vs_torch(
            lambda a, g, h: F.batch_norm(a, *ours, g, h, training=training, momentum=0.2),
            lambda a, g, h: TF.batch_norm(a, *theirs, g, h, training=training, momentum=0.2),
            [x, w, b],
        )
    else:
        check_vs_torch(
            lambda a: F.batch_norm(a, *ours, training=training, momentum=0.2),
            lambda a: TF.batch_norm(a, *theirs, training=training, momentum=0.2),
            [x],
        )
    # running statistics: updated in place in training (unbiased variance), untouched in eval
    np.testing.assert_allclose(ours[0].numpy(), theirs[0].numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ours[1].numpy(), theirs[1].numpy(), rtol=1e-6, atol=1e-7)
    assert (ours[0].numpy() != rm).any() == training


def test_running_var_uses_the_unbiased_variance():
    x = np.array([[1.0], [2.0], [4.0]], dtype=np.float32)  # mean 7/3, biased var 14/9, unbiased 7/3
    rm, rv = tinyconv.tensor([0.0]), tinyconv.tensor([1.0])
    F.batch_norm(tinyconv.tensor(x), rm, rv, training=True, momentum=1.0)
    np.testing.assert_allclose(rm.numpy(), [7 / 3], rtol=1e-6)
    np.testing.assert_allclose(rv.numpy(), [7 / 3], rtol=1e-6)


@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_gradcheck_train(shape):
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal(shape), rng.standard_normal(4), rng.standard_normal(4)
    gradcheck(lambda a, g, h: F.batch_norm(a, None, None, g, h, training=True), [x, w, b])


def test_batch_norm_gradcheck_eval():
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((3, 4, 2, 3)), rng.standard_normal(4), rng.standard_normal(4)
    rm, rv = _stats(5, np.float64)
    stats = [tinyconv.tensor(rm, dtype=np.float64), tinyconv.tensor(rv, dtype=np.float64)]
    gradcheck(lambda a, g, h: F.batch_norm(a, *stats, g, h, training=False), [x, w, b])


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batchnorm2d_module_train_steps_then_eval_match_torch(momentum):
    rng = np.random.default_rng(6)
    ours = nn.BatchNorm2d(3, momentum=momentum)
    theirs = torch.nn.BatchNorm2d(3, momentum=momentum)
    w, b = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    ours.load_state_dict({"weight": w, "bias": b}, strict=False)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(w))
        theirs.bias.copy_(torch.tensor(b))
    for step in range(4):
        x = (rng.standard_normal((4, 3, 5, 5)) * (step + 1) + step).astype(np.float32)
        t = tinyconv.tensor(x, requires_grad=True)
        tt = torch.tensor(x, requires_grad=True)
        y, yt = ours(t), theirs(tt)
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
        R = rng.standard_normal(y.shape).astype(np.float32)
        (y * tinyconv.tensor(R)).sum().backward()
        (yt * torch.tensor(R)).sum().backward()
        np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(
        ours.bias.grad.numpy(), theirs.bias.grad.numpy(), rtol=1e-4, atol=1e-5
    )
    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert (
        list(sd)
        == list(tsd)
        == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    )
    for k in sd:
        np.testing.assert_allclose(sd[k].numpy(), tsd[k].numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    assert int(ours.num_batches_tracked.item()) == 4 and sd["num_batches_tracked"].dtype == np.int64
    ours.eval()
    theirs.eval()
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(
        ours(tinyconv.tensor(x)).numpy(),
        theirs(torch.tensor(x)).detach().numpy(),
        rtol=1e-4,
        atol=1e-5,
    )


@pytest.mark.parametrize("shape", [(8, 5), (4, 5, 6)])
def test_batchnorm1d_module_matches_torch(shape):
    rng = np.random.default_rng(7)
    ours, theirs = nn.BatchNorm1d(5), torch.nn.BatchNorm1d(5)
    for _ in range(3):
        x = rng.standard_normal(shape).astype(np.float32) * 3
        np.testing.assert_allclose(
            ours(tinyconv.tensor(x)).numpy(),
            theirs(torch.tensor(x)).detach().numpy(),
            rtol=1e-4,
            atol=1e-5,
        )
    np.testing.assert_allclose(
        ours.running_mean.numpy(), theirs.running_mean.numpy(), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        ours.running_var.numpy(), theirs.running_var.numpy(), rtol=1e-5, atol=1e-6
    )


def test_batchnorm_without_affine_or_running_stats():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
    ours = nn.BatchNorm2d(3, affine=False, track_running_stats=False).eval()
    theirs = torch.nn.BatchNorm2d(3, affine=False, track_running_stats=False).eval()
    assert (
        list(ours.parameters()) == [] and list(ours.state_dict()) == list(theirs.state_dict()) == []
    )
    # without running statistics, eval mode normalises with the batch's own statistics
    np.testing.assert_allclose(
        ours(tinyconv.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), rtol=1e-4, atol=1e-5
    )


def test_eval_does_not_touch_running_stats_and_torch_weights_load():
    theirs = torch.nn.BatchNorm2d(2)
    theirs(torch.randn(5, 2, 3, 3) * 4 + 1)  # one training step
    ours = nn.BatchNorm2d(2)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    ours.eval()
    theirs.eval()
    before = ours.running_mean.numpy().copy()
    x = np.random.default_rng(9).standard_normal((3, 2, 3, 3)).astype(np.float32)
    np.testing.assert_allclose(
        ours(tinyconv.tensor(x)).numpy(),
        theirs(torch.tensor(x)).detach().numpy(),
        rtol=1e-4,
        atol=1e-5,
    )
    np.testing.assert_array_equal(ours.running_mean.numpy(), before)


def test_batch_norm_errors():
    bn = nn.BatchNorm2d(16)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "BatchNorm2d(16): expected a 4-D (N, 16, H, W) input, got a 3-D input of shape (16, 28, 28)"
        ),
    ):
        bn(tinyconv.tensor(np.zeros((16, 28, 28), dtype=np.float32)))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "BatchNorm2d(16): expected input (N, 16, H, W) with 16 channels, got (8, 3, 28, 28) with 3 channels"
        ),
    ):
        bn(tinyconv.tensor(np.zeros((8, 3, 28, 28), dtype=np.float32)))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "BatchNorm1d(4): expected a 2-D (N, 4) or 3-D (N, 4, L) input, got a 4-D input"
        ),
    ):
        nn.BatchNorm1d(4).output_shape((1, 4, 2, 2))
    with pytest.raises(
        TypeError, match=r"BatchNorm2d\(16\): expected a floating-point input, got dtype int64"
    ):
        bn(tinyconv.tensor(np.zeros((2, 16, 2, 2), dtype=np.int64)))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "BatchNorm1d(3): expected more than 1 value per channel when training, got input (1, 3)"
        ),
    ):
        nn.BatchNorm1d(3)(tinyconv.tensor(np.zeros((1, 3), dtype=np.float32)))
    with pytest.raises(
        ValueError,
        match=r"BatchNorm2d: invalid value for argument `momentum`. Expected a number in \[0, 1\]",
    ):
        nn.BatchNorm2d(3, momentum=1.5)
    with pytest.raises(
        ValueError,
        match=r"BatchNorm2d: invalid value for argument `eps`. Expected a strictly positive number. Received eps=0",
    ):
        nn.BatchNorm2d(3, eps=0)
    with pytest.raises(ValueError, match=r"BatchNorm2d: invalid value for argument `num_features`"):
        nn.BatchNorm2d(0)
    with pytest.raises(
        ValueError,
        match=r"batch_norm: evaluation \(training=False\) needs running_mean and running_var",
    ):
        F.batch_norm(tinyconv.tensor(np.zeros((2, 3), dtype=np.float32)), None, None)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "batch_norm: weight has shape (4,) but the input (2, 3) has 3 channels (axis 1)"
        ),
    ):
        F.batch_norm(
            tinyconv.tensor(np.zeros((2, 3), dtype=np.float32)),
            None,
            None,
            tinyconv.tensor(np.ones(4)),
            training=True,
        )


def test_batch_norm_repr():
    assert repr(nn.BatchNorm2d(64)) == "BatchNorm2d(64)"
    assert repr(nn.BatchNorm2d(64, eps=0.001)) == "BatchNorm2d(64, eps=0.001)"
    text = "BatchNorm1d(8, momentum=None, affine=False, track_running_stats=False)"
    assert repr(nn.BatchNorm1d(8, momentum=None, affine=False, track_running_stats=False)) == text
    assert (
        repr(nn.build_module(nn.BatchNorm2d(64, eps=0.001).config()))
        == "BatchNorm2d(64, eps=0.001)"
    )


# ---------------------------------------------------------------------- LRN
@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 9])
def test_lrn_vs_torch(size):
    x = np.random.default_rng(10).standard_normal((2, 7, 3, 4)) * 2
    check_vs_torch(
        lambda a: F.local_response_norm(a, size, alpha=0.5, beta=0.75, k=2.0),
        lambda a: TF.local_response_norm(a, size, alpha=0.5, beta=0.75, k=2.0),
        [x],
    )


@pytest.mark.parametrize("shape", [(2, 6, 5), (1, 4, 2, 3, 2)])
def test_lrn_other_ranks_vs_torch(shape):
    x = np.random.default_rng(11).standard_normal(shape)
    check_vs_torch(
        lambda a: F.local_response_norm(a, 3), lambda a: TF.local_response_norm(a, 3), [x]
    )


def test_lrn_alexnet_module_vs_torch():
    x = np.random.default_rng(12).standard_normal((2, 96, 5, 5)) * 10
    ours = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)
    theirs = torch.nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)
    check_vs_torch(ours, theirs, [x])
    assert repr(ours) == "LocalResponseNorm(5, k=2.0)"
    assert (
        repr(nn.LocalResponseNorm(3, alpha=0.01, beta=0.5))
        == "LocalResponseNorm(3, alpha=0.01, beta=0.5)"
    )
    assert ours.output_shape((2, 96, 5, 5)) == (2, 96, 5, 5)


def test_lrn_by_hand():
    # size 3, alpha 3, beta 1, k 1: d_c = 1 + (3/3) * (sum of squares of c-1, c, c+1)
    x = tinyconv.tensor([[[1.0], [2.0], [3.0]]])
    y = F.local_response_norm(x, 3, alpha=3.0, beta=1.0, k=1.0).numpy().ravel()
    np.testing.assert_allclose(
        y, [1 / (1 + 1 + 4), 2 / (1 + 1 + 4 + 9), 3 / (1 + 4 + 9)], rtol=1e-6
    )


@pytest.mark.parametrize("size", [2, 3, 5])
def test_lrn_gradcheck(size):
    x = np.random.default_rng(13).standard_normal((2, 6, 2, 3))
    gradcheck(lambda a: F.local_response_norm(a, size, alpha=0.3, beta=0.75, k=1.5), [x])


def test_lrn_errors():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "LocalResponseNorm(5): expected an input (N, C, *) with 3 or more dimensions, got shape (4, 96)"
        ),
    ):
        nn.LocalResponseNorm(5)(tinyconv.tensor(np.zeros((4, 96), dtype=np.float32)))
    with pytest.raises(ValueError, match=r"LocalResponseNorm: invalid value for argument `size`"):
        nn.LocalResponseNorm(0)
    with pytest.raises(TypeError, match=r"expected a floating-point input, got dtype int64"):
        F.local_response_norm(tinyconv.tensor(np.zeros((1, 3, 2), dtype=np.int64)), 3)


@pytest.mark.parametrize(
    "layer,shape",
    [
        (nn.BatchNorm1d(5), (8, 5)),
        (nn.BatchNorm1d(5), (8, 5, 7)),
        (nn.BatchNorm2d(3), (2, 3, 4, 5)),
        (nn.LocalResponseNorm(5), (1, 8, 3, 3)),
    ],
)
def test_output_shape_matches_forward(layer, shape):
    x = tinyconv.tensor(np.random.default_rng(14).standard_normal(shape).astype(np.float32))
    assert layer.output_shape(shape) == layer(x).shape == shape
