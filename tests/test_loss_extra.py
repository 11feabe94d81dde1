"""Binary cross-entropy (logits and probabilities), L1, smooth L1, softplus and log-sigmoid.

Every op against PyTorch (forward, input gradient, target gradient), every reduction, weights,
spatial shapes and huge logits; finite differences in float64; dtypes; errors; modules.
"""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import check_vs_torch, gradcheck

import tinyconv
import tinyconv.functional as F
from tinyconv import amp, nn

REDUCTIONS = ["mean", "sum", "none"]
RNG = np.random.default_rng(0)
SHAPES = [(6, 5), (2, 3, 4, 5)]  # a batch of scores and a spatial map (N, C, H, W)
# weights that broadcast to each shape: per class (last axis) / per pixel, and per channel
WEIGHTS = {(6, 5): (5,), (2, 3, 4, 5): (4, 5)}
POS_WEIGHTS = {(6, 5): (5,), (2, 3, 4, 5): (3, 1, 1)}


def _logits(shape, seed=1, scale=3.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


def _unit(shape, seed=2, lo=0.0, hi=1.0):
    return np.random.default_rng(seed).uniform(lo, hi, shape)


def _t(a):
    return None if a is None else torch.tensor(np.asarray(a, dtype=np.float32))


# ------------------------------------------------------------ binary cross-entropy, logits
@pytest.mark.parametrize("use_pos_weight", [False, True])
@pytest.mark.parametrize("use_weight", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_bce_with_logits_vs_torch(shape, reduction, use_weight, use_pos_weight):
    w = _unit(WEIGHTS[shape], seed=3, lo=0.2, hi=2.0).astype(np.float32) if use_weight else None
    pw = _unit(POS_WEIGHTS[shape], 4, 0.5, 3.0).astype(np.float32) if use_pos_weight else None
    check_vs_torch(  # gradients of both the logits and the (soft) target
        lambda x, y: F.binary_cross_entropy_with_logits(x, y, w, reduction, pw),
        lambda x, y: TF.binary_cross_entropy_with_logits(
            x, y, _t(w), reduction=reduction, pos_weight=_t(pw)
        ),
        [_logits(shape), _unit(shape)],
    )


@pytest.mark.parametrize("use_pos_weight", [False, True])
def test_bce_with_logits_is_stable_for_huge_logits(use_pos_weight):
    x = np.array([[-50.0, 50.0, -100.0, 100.0, 0.0, 20.0, -20.0, 88.0, -88.0, 1e4]])
    y = np.array([[1.0, 0.0, 1.0, 0.0, 0.5, 0.3, 0.7, 1.0, 0.0, 0.25]])
    pw = np.linspace(0.5, 3.0, 10).astype(np.float32) if use_pos_weight else None
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        check_vs_torch(
            lambda a: F.binary_cross_entropy_with_logits(a, y, None, "none", pw),
            lambda a: TF.binary_cross_entropy_with_logits(
                a, torch.tensor(y, dtype=torch.float32), reduction="none", pos_weight=_t(pw)
            ),
            [x],
        )
        xt = tinyconv.tensor(x, requires_grad=True)
        yt = tinyconv.tensor(y, requires_grad=True)
        F.binary_cross_entropy_with_logits(xt, yt, None, "sum", pw).backward()
    # loss(x=-50, y=1) = 50 and loss(x=50, y=0) = 50 (times pos_weight for the positive one)
    loss = F.binary_cross_entropy_with_logits(tinyconv.tensor(x), y, None, "none", pw).numpy()
    p = np.ones(10) if pw is None else pw
    np.testing.assert_allclose(loss[0, :4], [50 * p[0], 50.0, 100 * p[2], 100.0], rtol=1e-6)
    # dy = (p - 1) softplus(-x) - x, finite where PyTorch's log(1 - sigmoid(x)) is -inf
    softplus_neg = np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x)))
    np.testing.assert_allclose(yt.grad.numpy(), (p - 1) * softplus_neg - x, rtol=1e-5)


def test_bce_with_logits_by_hand():
    x = tinyconv.tensor([0.0, 2.0, -1.0], requires_grad=True)
    y = [1.0, 0.0, 1.0]
    loss = F.binary_cross_entropy_with_logits(x, y, pos_weight=[2.0, 2.0, 2.0])
    sig = 1 / (1 + np.exp(-np.array([0.0, 2.0, -1.0])))
    expected = -(2 * np.log(sig[0]) + np.log(1 - sig[1]) + 2 * np.log(sig[2])) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()  # dx = (L sigma(x) - p y) / 3 with L = 1 + (p - 1) y
    L = np.array([2.0, 1.0, 2.0])
    np.testing.assert_allclose(x.grad.numpy(), (L * sig - 2 * np.array(y)) / 3, rtol=1e-6)


# --------------------------------------------------------- binary cross-entropy, probabilities
@pytest.mark.parametrize("use_weight", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_bce_vs_torch(shape, reduction, use_weight):
    w = _unit(WEIGHTS[shape], seed=5, lo=0.2, hi=2.0).astype(np.float32) if use_weight else None
    check_vs_torch(
        lambda p, y: F.binary_cross_entropy(p, y, w, reduction),
        lambda p, y: TF.binary_cross_entropy(p, y, _t(w), reduction=reduction),
        [_unit(shape, seed=6, lo=0.02, hi=0.98), _unit(shape, seed=7)],
    )


def test_bce_clamps_log_at_minus_100_like_torch():
    p = np.array([0.0, 1.0, 0.0, 1.0, 1e-50, 0.5])  # log 1e-50 = -115
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.5])
    with np.errstate(divide="raise", invalid="raise"):  # log 0 is never evaluated
        check_vs_torch(
            lambda a: F.binary_cross_entropy(a, y, reduction="none"),
            lambda a: TF.binary_cross_entropy(
                a, torch.tensor(y, dtype=torch.float32), reduction="none"
            ),
            [p],
        )
    loss = F.binary_cross_entropy(tinyconv.tensor(p), y, reduction="none").numpy()
    np.testing.assert_allclose(loss, [100.0, 100.0, 0.0, 0.0, 100.0, np.log(2)], rtol=1e-6)


# ------------------------------------------------------------------------ L1 and smooth L1
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_l1_loss_vs_torch(shape, reduction):
    check_vs_torch(
        lambda a, b: F.l1_loss(a, b, reduction),
        lambda a, b: TF.l1_loss(a, b, reduction=reduction),
        [_logits(shape, 8), _logits(shape, 9)],
    )


@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0, 0.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_smooth_l1_loss_vs_torch(shape, reduction, beta):
    check_vs_torch(
        lambda a, b: F.smooth_l1_loss(a, b, reduction, beta),
        lambda a, b: TF.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
        [_logits(shape, 10, 1.5), _logits(shape, 11, 1.5)],
    )


def test_l1_and_smooth_l1_by_hand_and_at_the_kinks():
    d = np.array([-3.0, -0.5, 0.0, 0.5, 3.0, 1.0])
    x = tinyconv.tensor(d, requires_grad=True)
    loss = F.smooth_l1_loss(x, np.zeros(6), "none")
    np.testing.assert_allclose(loss.numpy(), [2.5, 0.125, 0.0, 0.125, 2.5, 0.5])
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [-1.0, -0.5, 0.0, 0.5, 1.0, 1.0])
    for beta in (0.0, 1.0):  # at d = 0 PyTorch's gradient is 0, like sign(0)
        check_vs_torch(
            lambda a, b, beta=beta: F.smooth_l1_loss(a, b, "sum", beta),
            lambda a, b, beta=beta: TF.smooth_l1_loss(a, b, reduction="sum", beta=beta),
            [d, np.array([-3.0, 0.0, 0.0, 0.0, 4.0, 0.0])],
        )
    check_vs_torch(
        lambda a, b: F.l1_loss(a, b, "sum"),
        lambda a, b: TF.l1_loss(a, b, reduction="sum"),
        [d, np.array([-3.0, 0.0, 0.0, 0.0, 4.0, 0.0])],
    )
    assert F.l1_loss(tinyconv.tensor(d), np.zeros(6)).item() == pytest.approx(8.0 / 6)


# ------------------------------------------------------------------ softplus and log-sigmoid
X = np.random.default_rng(12).standard_normal((4, 5, 3)) * 3
BIG = np.array([-1000.0, -100.0, -50.0, -20.0, -1.0, 0.0, 1.0, 19.0, 21.0, 50.0, 100.0, 1000.0])
ACTIVATIONS = [
    ("softplus", lambda a: F.softplus(a), lambda a: TF.softplus(a)),
    ("softplus_beta2", lambda a: F.softplus(a, 2.0), lambda a: TF.softplus(a, 2.0)),
    ("softplus_beta0.5", lambda a: F.softplus(a, beta=0.5), lambda a: TF.softplus(a, beta=0.5)),
    ("softplus_beta-1", lambda a: F.softplus(a, -1.0), lambda a: TF.softplus(a, -1.0)),
    ("softplus_thr1", lambda a: F.softplus(a, 1.0, 1.0), lambda a: TF.softplus(a, 1.0, 1.0)),
    ("softplus_b3_thr5", lambda a: F.softplus(a, 3.0, 5.0), lambda a: TF.softplus(a, 3.0, 5.0)),
    ("logsigmoid", lambda a: F.logsigmoid(a), lambda a: TF.logsigmoid(a)),
]


@pytest.mark.parametrize("name,fn,tfn", ACTIVATIONS, ids=[c[0] for c in ACTIVATIONS])
@pytest.mark.parametrize("x", [X, X * 20, BIG], ids=["normal", "wide", "huge"])
def test_activations_vs_torch_float32(name, fn, tfn, x):
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        check_vs_torch(fn, tfn, [x])


@pytest.mark.parametrize("name,fn,tfn", ACTIVATIONS, ids=[c[0] for c in ACTIVATIONS])
def test_activations_vs_torch_float64(name, fn, tfn):
    check_vs_torch(fn, tfn, [X], dtype=np.float64)


def test_softplus_and_logsigmoid_by_hand():
    y = F.softplus(tinyconv.tensor([0.0, 30.0, -30.0, 1.0])).numpy()
    np.testing.assert_allclose(y, [np.log(2), 30.0, np.exp(-30.0), np.log1p(np.e)], rtol=1e-6)
    y = F.logsigmoid(tinyconv.tensor([-1000.0, 0.0, 1000.0, 2.0])).numpy()
    np.testing.assert_allclose(y, [-1000.0, -np.log(2), 0.0, -np.log1p(np.exp(-2.0))], rtol=1e-6)
    x = tinyconv.tensor([-1000.0, 0.0, 1000.0], requires_grad=True)
    F.logsigmoid(x).sum().backward()  # d log sigma(x) = sigma(-x)
    assert x.grad.tolist() == [1.0, 0.5, 0.0]


# ----------------------------------------------------------------- finite differences, float64
def _away_from(d, points, gap=0.1):
    """Move each |d| at least ``gap`` away from every kink in ``points``."""
    d = d.copy()
    for p in points:
        near = np.abs(np.abs(d) - p) < gap
        d[near] = np.sign(d[near] + 1e-12) * (p + 2 * gap)
    return d


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_losses(reduction):
    rng = np.random.default_rng(13)
    x, y = rng.standard_normal((3, 4)) * 2, rng.uniform(0, 1, (3, 4))
    w, pw = rng.uniform(0.5, 2, (4,)), rng.uniform(0.5, 3, (3, 1))
    gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction), [x, y])
    gradcheck(
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, w, reduction, pos_weight=pw),
        [x, y],
    )
    p = rng.uniform(0.05, 0.95, (3, 4))
    gradcheck(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction), [p, y])
    gradcheck(lambda a, b: F.binary_cross_entropy(a, b, w, reduction), [p, y])
    t = rng.standard_normal((3, 4))
    gradcheck(lambda a, b: F.l1_loss(a, b, reduction), [t + _away_from(x, [0.0]), t])
    for beta in (1.0, 0.5, 0.0):
        d = _away_from(x, [0.0, beta])
        gradcheck(lambda a, b, beta=beta: F.smooth_l1_loss(a, b, reduction, beta), [t + d, t])
    spatial, spatial_y = rng.standard_normal((2, 3, 2, 2)), rng.uniform(0, 1, (2, 3, 2, 2))
    pw_c = np.array([2.0, 0.5, 1.5]).reshape(3, 1, 1)  # one positive weight per channel
    gradcheck(
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction, pos_weight=pw_c),
        [spatial, spatial_y],
    )


def test_gradcheck_activations():
    x = np.random.default_rng(14).standard_normal((3, 4)) * 4
    gradcheck(F.logsigmoid, [x])
    gradcheck(F.softplus, [x])
    gradcheck(lambda a: F.softplus(a, beta=-1.5), [x])
    gradcheck(lambda a: F.softplus(a, 2.0, 3.0), [_away_from(x, [1.5], gap=0.2)])


# ------------------------------------------------------------------------------ dtypes
LOSSES = {
    "bce_with_logits": lambda a, b, r: F.binary_cross_entropy_with_logits(
        a, b, [1.0, 2.0, 0.5], r, pos_weight=[2.0, 1.0, 3.0]
    ),
    "bce": lambda a, b, r: F.binary_cross_entropy(F.sigmoid(a), b, [1.0, 2.0, 0.5], r),
    "l1": lambda a, b, r: F.l1_loss(a, b, r),
    "smooth_l1": lambda a, b, r: F.smooth_l1_loss(a, b, r, 0.5),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(LOSSES))
def test_losses_keep_the_dtype(name, reduction, dtype):
    x = tinyconv.tensor(_logits((4, 3)), requires_grad=True, dtype=dtype)
    y = tinyconv.tensor(_unit((4, 3)), requires_grad=True, dtype=dtype)
    out = LOSSES[name](x, y, reduction)
    assert out.dtype == dtype
    assert out.shape == ((4, 3) if reduction == "none" else ())
    out.sum().backward()
    assert x.grad.dtype == dtype and y.grad.dtype == dtype
    assert np.isfinite(x.grad.numpy()).all() and np.abs(x.grad.numpy()).sum() > 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_keep_the_dtype(dtype):
    x = tinyconv.tensor(X, requires_grad=True, dtype=dtype)
    for fn in (F.softplus, F.logsigmoid, lambda a: F.softplus(a, 2.0, 1.0)):
        y = fn(x)
        assert y.dtype == dtype
        y.sum().backward()
        assert x.grad.dtype == dtype
        x.grad = None


def test_float32_input_with_float64_target():
    """The loss computes in the input's dtype; each gradient comes back in its tensor's dtype."""
    x = tinyconv.tensor(_logits((3, 2)), requires_grad=True, dtype=np.float32)
    y = tinyconv.tensor(_unit((3, 2)), requires_grad=True, dtype=np.float64)
    for fn in (F.binary_cross_entropy_with_logits, F.l1_loss, F.smooth_l1_loss):
        loss = fn(x, y)
        assert loss.dtype == np.float32
        loss.backward()
        assert x.grad.dtype == np.float32 and y.grad.dtype == np.float64
        x.grad = y.grad = None
    # a target given as a plain array (or list) takes the input's dtype
    assert F.l1_loss(x, np.zeros((3, 2))).dtype == np.float32


def test_losses_run_in_float32_under_autocast():
    x = tinyconv.tensor(_logits((4, 3)).astype(np.float16), requires_grad=True)
    y = tinyconv.tensor(_unit((4, 3)).astype(np.float16))
    with amp.autocast("float16"):
        losses = [
            F.binary_cross_entropy_with_logits(x, y, pos_weight=[2.0, 1.0, 3.0]),
            F.binary_cross_entropy(F.sigmoid(x), y),
            F.l1_loss(x, y),
            F.smooth_l1_loss(x, y),
        ]
    assert [loss.dtype for loss in losses] == [np.float32] * 4
    expected = TF.binary_cross_entropy_with_logits(
        torch.tensor(x.numpy(), dtype=torch.float32),
        torch.tensor(y.numpy(), dtype=torch.float32),
        pos_weight=torch.tensor([2.0, 1.0, 3.0]),
    )
    assert losses[0].item() == pytest.approx(expected.item(), rel=1e-6)
    sum(losses[1:], losses[0]).backward()
    assert x.grad.dtype == np.float16 and np.isfinite(x.grad.numpy()).all()


# ------------------------------------------------------------------------------ errors
def test_errors():
    x = tinyconv.tensor(np.zeros((4, 3), dtype=np.float32))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "binary_cross_entropy_with_logits: input and target shapes differ: input (4, 3), "
            "target (4, 1) (expected the same shape; broadcasting is not supported)"
        ),
    ):
        F.binary_cross_entropy_with_logits(x, tinyconv.tensor(np.zeros((4, 1), np.float32)))
    with pytest.raises(
        TypeError,
        match=re.escape(
            "binary_cross_entropy_with_logits: expected a floating-point target "
            "(the input's dtype float32), got dtype int64"
        ),
    ):
        F.binary_cross_entropy_with_logits(x, tinyconv.tensor(np.zeros((4, 3), np.int64)))
    with pytest.raises(
        TypeError, match=re.escape("l1_loss: expected a floating-point input, got dtype int64")
    ):
        F.l1_loss(tinyconv.tensor(np.zeros((4, 3), np.int64)), x)
    with pytest.raises(
        TypeError, match="smooth_l1_loss: expected a tinyconv Tensor as input, got ndarray"
    ):
        F.smooth_l1_loss(np.zeros((4, 3)), x)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "binary_cross_entropy: reduction must be one of ('mean', 'sum', 'none'), got 'avg'"
        ),
    ):
        F.binary_cross_entropy(x, x, reduction="avg")
    with pytest.raises(
        ValueError,
        match=re.escape(
            "binary_cross_entropy_with_logits: expected pos_weight broadcastable to the input's "
            "shape (4, 3) (each trailing dimension 1 or equal), got pos_weight of shape (4,)"
        ),
    ):
        F.binary_cross_entropy_with_logits(x, x, pos_weight=[1.0, 2.0, 3.0, 4.0])
    with pytest.raises(
        ValueError, match=re.escape("expected weight broadcastable to the input's shape (4, 3)")
    ):
        F.binary_cross_entropy(x, x, weight=np.ones((2, 4, 3)))
    with pytest.raises(
        TypeError, match="binary_cross_entropy_with_logits: expected a numeric weight, got dtype"
    ):
        F.binary_cross_entropy_with_logits(x, x, weight=["a", "b", "c"])
    with pytest.raises(
        ValueError,
        match=re.escape(
            "binary_cross_entropy: expected input values in [0, 1] (probabilities; use "
            "binary_cross_entropy_with_logits for logits), got values from -0.5 to 0.75"
        ),
    ):
        F.binary_cross_entropy(tinyconv.tensor([-0.5, 0.75]), [0.0, 1.0])
    with pytest.raises(
        ValueError,
        match=re.escape(
            "binary_cross_entropy: expected target values in [0, 1], got values from 0.0 to 2.0"
        ),
    ):
        F.binary_cross_entropy(tinyconv.tensor([0.5, 0.5]), [0.0, 2.0])
    with pytest.raises(
        ValueError, match=r"binary_cross_entropy: expected input values in \[0, 1\]"
    ):
        F.binary_cross_entropy(tinyconv.tensor([0.5, np.nan]), [0.0, 1.0])
    with pytest.raises(
        ValueError,
        match=re.escape(
            "smooth_l1_loss: beta must be >= 0 (the width of the quadratic zone |x - y| < beta), "
            "got beta=-1.0"
        ),
    ):
        F.smooth_l1_loss(x, x, beta=-1.0)
    with pytest.raises(TypeError, match="smooth_l1_loss: expected a number for beta, got '1'"):
        F.smooth_l1_loss(x, x, beta="1")
    with pytest.raises(
        ValueError,
        match=re.escape(
            "softplus: beta must be nonzero (y = log(1 + exp(beta * x)) / beta), got beta=0.0"
        ),
    ):
        F.softplus(x, beta=0)
    with pytest.raises(TypeError, match="softplus: expected a number for threshold, got None"):
        F.softplus(x, threshold=None)
    with pytest.raises(
        TypeError, match="logsigmoid: expected a floating-point input, got dtype int64"
    ):
        F.logsigmoid(tinyconv.tensor(np.arange(3)))


def test_module_errors():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "BCEWithLogitsLoss: invalid value for argument `reduction`. Expected one of "
            "('mean', 'sum', 'none'). Received reduction='avg'."
        ),
    ):
        nn.BCEWithLogitsLoss(reduction="avg")
    with pytest.raises(
        ValueError,
        match=re.escape(
            "SmoothL1Loss: invalid value for argument `beta`. Expected a number >= 0. "
            "Received beta=-0.5."
        ),
    ):
        nn.SmoothL1Loss(beta=-0.5)
    with pytest.raises(
        TypeError, match=re.escape("BCELoss: invalid type for argument `weight`. Expected numbers")
    ):
        nn.BCELoss(weight="heavy")
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Softplus: invalid value for argument `beta`. Expected a nonzero number. "
            "Received beta=0."
        ),
    ):
        nn.Softplus(beta=0)
    with pytest.raises(
        TypeError,
        match=re.escape(
            "Softplus: invalid type for argument `threshold`. Expected a number. "
            "Received threshold='20'."
        ),
    ):
        nn.Softplus(threshold="20")
    x = tinyconv.tensor(np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(
        ValueError,
        match=re.escape("L1Loss(): input and target shapes differ: input (2, 3), target (3, 2)"),
    ):
        nn.L1Loss()(x, np.zeros((3, 2)))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "BCEWithLogitsLoss(pos_weight=[1.0, 2.0]): expected pos_weight broadcastable"
        ),
    ):
        nn.BCEWithLogitsLoss(pos_weight=[1.0, 2.0])(x, x)


# ------------------------------------------------------------------------------ modules
W5 = [0.5, 1.0, 2.0, 1.5, 0.75]
PW5 = [2.0, 1.0, 0.5, 3.0, 1.25]
LOSS_MODULES = [
    (nn.BCEWithLogitsLoss(), "BCEWithLogitsLoss()", torch.nn.BCEWithLogitsLoss(), "logits"),
    (
        nn.BCEWithLogitsLoss(weight=W5, reduction="sum", pos_weight=PW5),
        "BCEWithLogitsLoss(weight=[0.5, 1.0, 2.0, 1.5, 0.75], reduction='sum', "
        "pos_weight=[2.0, 1.0, 0.5, 3.0, 1.25])",
        torch.nn.BCEWithLogitsLoss(weight=_t(W5), reduction="sum", pos_weight=_t(PW5)),
        "logits",
    ),
    (nn.BCELoss(), "BCELoss()", torch.nn.BCELoss(), "probabilities"),
    (
        nn.BCELoss(weight=W5, reduction="none"),
        "BCELoss(weight=[0.5, 1.0, 2.0, 1.5, 0.75], reduction='none')",
        torch.nn.BCELoss(weight=_t(W5), reduction="none"),
        "probabilities",
    ),
    (nn.L1Loss(), "L1Loss()", torch.nn.L1Loss(), "logits"),
    (
        nn.L1Loss(reduction="sum"),
        "L1Loss(reduction='sum')",
        torch.nn.L1Loss(reduction="sum"),
        "logits",
    ),
    (nn.SmoothL1Loss(), "SmoothL1Loss()", torch.nn.SmoothL1Loss(), "logits"),
    (
        nn.SmoothL1Loss(reduction="none", beta=0.5),
        "SmoothL1Loss(reduction='none', beta=0.5)",
        torch.nn.SmoothL1Loss(reduction="none", beta=0.5),
        "logits",
    ),
]


@pytest.mark.parametrize(
    "module,text,tmodule,kind", LOSS_MODULES, ids=[m[1][:40] for m in LOSS_MODULES]
)
def test_loss_modules(module, text, tmodule, kind):
    x = _unit((6, 5), 15, 0.05, 0.95) if kind == "probabilities" else _logits((6, 5), 15)
    y = _unit((6, 5), 16)
    check_vs_torch(module, tmodule, [x, y])
    assert repr(module) == text
    assert module.output_shape((6, 5)) == module(tinyconv.tensor(x), y).shape
    rebuilt = nn.build_module(module.config())
    assert repr(rebuilt) == text
    assert list(module.state_dict()) == list(tmodule.state_dict())  # weight, pos_weight buffers
    np.testing.assert_array_equal(
        rebuilt(tinyconv.tensor(x), y).numpy(), module(tinyconv.tensor(x), y).numpy()
    )


ACTIVATION_MODULES = [
    (nn.Softplus(), "Softplus(beta=1.0, threshold=20.0)", torch.nn.Softplus()),
    (nn.Softplus(2, 5), "Softplus(beta=2.0, threshold=5.0)", torch.nn.Softplus(2.0, 5.0)),
    (nn.LogSigmoid(), "LogSigmoid()", torch.nn.LogSigmoid()),
]


@pytest.mark.parametrize(
    "module,text,tmodule", ACTIVATION_MODULES, ids=[m[1] for m in ACTIVATION_MODULES]
)
def test_activation_modules(module, text, tmodule):
    assert repr(module) == text == repr(tmodule)
    assert module.output_shape((4, 5, 3)) == (4, 5, 3)
    assert list(module.parameters()) == []
    check_vs_torch(module, tmodule, [X])
    assert repr(nn.build_module(module.config())) == text


def test_save_and_load_round_trip(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2), nn.Softplus(beta=2.0, threshold=4.0), nn.LogSigmoid())
    path = tmp_path / "softplus.safetensors"
    tinyconv.save(model, path)
    loaded = tinyconv.load(path)
    assert repr(loaded) == repr(model)
    assert isinstance(loaded[1], nn.Softplus) and loaded[1].beta == 2.0
    assert loaded[1].threshold == 4.0
    x = tinyconv.tensor(_logits((5, 3), 17))
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())

    loss = nn.BCEWithLogitsLoss(weight=[1.0, 2.0], reduction="sum", pos_weight=[3.0, 0.5])
    tinyconv.save(loss, tmp_path / "loss.safetensors")
    loaded_loss = tinyconv.load(tmp_path / "loss.safetensors")
    assert repr(loaded_loss) == repr(loss)
    np.testing.assert_array_equal(loaded_loss.pos_weight.numpy(), [3.0, 0.5])
    a, b = tinyconv.tensor(_logits((4, 2), 18)), _unit((4, 2), 19)
    assert loaded_loss(a, b).item() == loss(a, b).item()
