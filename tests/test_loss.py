"""Losses: every loss, every reduction, label smoothing and class weights vs PyTorch."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import check_vs_torch, gradcheck

import tinyconv
import tinyconv.functional as F
from tinyconv import nn

REDUCTIONS = ["mean", "sum", "none"]
# (logits shape, target shape): batch, one unbatched sample, a spatial map (N, C, H, W)
LAYOUTS = [((6, 5), (6,)), ((5,), ()), ((3, 5, 2, 4), (3, 2, 4))]


def _target(shape, seed=0, ignore=False):
    t = np.random.default_rng(seed).integers(0, 5, shape)
    if ignore and t.ndim:
        t.reshape(-1)[1] = -100
    return t


WEIGHT = np.array([0.5, 1.0, 2.0, 1.5, 0.8], dtype=np.float32)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("xshape,tshape", LAYOUTS)
def test_cross_entropy_vs_torch(xshape, tshape, reduction, smoothing, weighted):
    x = np.random.default_rng(1).standard_normal(xshape) * 3
    t = _target(tshape, ignore=True)
    w = WEIGHT if weighted else None
    check_vs_torch(
        lambda a: F.cross_entropy(
            a, tinyconv.tensor(t), w, reduction=reduction, label_smoothing=smoothing
        ),
        lambda a: TF.cross_entropy(
            a,
            torch.tensor(t),
            None if w is None else torch.tensor(w),
            reduction=reduction,
            label_smoothing=smoothing,
        ),
        [x],
    )


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("xshape,tshape", LAYOUTS)
def test_nll_loss_vs_torch(xshape, tshape, reduction, weighted):
    x = np.random.default_rng(2).standard_normal(xshape)
    t = _target(tshape, seed=3, ignore=True)
    w = WEIGHT if weighted else None
    check_vs_torch(
        lambda a: F.nll_loss(a, t, w, reduction=reduction),
        lambda a: TF.nll_loss(
            a, torch.tensor(t), None if w is None else torch.tensor(w), reduction=reduction
        ),
        [x],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss_vs_torch(reduction):
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 4, 2))
    check_vs_torch(
        lambda p, q: F.mse_loss(p, q, reduction),
        lambda p, q: TF.mse_loss(p, q, reduction=reduction),
        [a, b],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck(reduction):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 3))
    t = np.array([0, 2, 1, 2])
    gradcheck(lambda a: F.cross_entropy(a, t, reduction=reduction, label_smoothing=0.2), [x])
    gradcheck(lambda a: F.cross_entropy(a, t, [0.3, 1.0, 2.0], reduction=reduction), [x])
    gradcheck(lambda a: F.nll_loss(a, t, reduction=reduction), [x])
    gradcheck(lambda a, b: F.mse_loss(a, b, reduction), [x, rng.standard_normal((4, 3))])
    gradcheck(
        lambda a: F.cross_entropy(a, t[:2].reshape(1, 2), reduction=reduction),
        [np.ascontiguousarray(x.T[None, :, :2])],
    )


def test_cross_entropy_by_hand_and_equals_log_softmax_plus_nll():
    logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]], dtype=np.float32)
    t = np.array([0, 1])
    expected = -np.mean(np.log(np.exp(logits[[0, 1], t]) / np.exp(logits).sum(1)))
    loss = F.cross_entropy(tinyconv.tensor(logits), t)
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-6)
    two_step = F.nll_loss(F.log_softmax(tinyconv.tensor(logits), dim=1), t)
    np.testing.assert_allclose(loss.item(), two_step.item(), rtol=1e-6)


def test_cross_entropy_gradient_is_softmax_minus_one_hot_over_n():
    logits = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]], dtype=np.float32)
    x = tinyconv.tensor(logits, requires_grad=True)
    F.cross_entropy(x, np.array([2, 0])).backward()
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(x.grad.numpy(), (p - np.eye(3)[[2, 0]]) / 2, rtol=1e-5, atol=1e-7)


def test_cross_entropy_is_stable_for_huge_logits():
    x = tinyconv.tensor([[1e4, 0.0, -1e4]], requires_grad=True)
    loss = F.cross_entropy(x, np.array([1]))
    loss.backward()
    assert loss.item() == pytest.approx(1e4)
    assert np.isfinite(x.grad.numpy()).all()


def test_scalar_results_keep_float64():
    x = tinyconv.tensor(np.zeros((2, 3)), dtype=np.float64)
    for red in ("mean", "sum"):
        assert F.cross_entropy(x, np.array([0, 1]), reduction=red).dtype == np.float64
        assert F.mse_loss(x, x, red).dtype == np.float64
    assert (
        F.cross_entropy(tinyconv.tensor(np.zeros((2, 3), dtype=np.float32)), np.array([0, 1])).dtype
        == np.float32
    )


def test_errors():
    x = tinyconv.tensor(np.zeros((4, 10), dtype=np.float32))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "cross_entropy: target 10 is out of range for 10 classes (expected 0 <= target < 10, or ignore_index=-100)"
        ),
    ):
        F.cross_entropy(x, np.array([0, 1, 10, 2]))
    with pytest.raises(
        ValueError, match=re.escape("nll_loss: target -1 is out of range for 10 classes")
    ):
        F.nll_loss(x, np.array([0, -1, 3, 2]))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "cross_entropy: expected target of shape (4,) for input of shape (4, 10) (one label per sample), got target of shape (5,)"
        ),
    ):
        F.cross_entropy(x, np.zeros(5, dtype=np.int64))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "cross_entropy: class-probability targets must have the input's shape (4, 10), got target of shape (4,)"
        ),
    ):
        F.cross_entropy(x, tinyconv.tensor([0.0, 1.0, 2.0, 3.0]))
    with pytest.raises(
        TypeError,
        match=re.escape(
            "nll_loss: expected integer class labels (int64) as target, got dtype float32; pass the label indices"
        ),
    ):
        F.nll_loss(x, tinyconv.tensor([0.0, 1.0, 2.0, 3.0]))
    with pytest.raises(
        ValueError,
        match=r"cross_entropy: reduction must be one of \('mean', 'sum', 'none'\), got 'avg'",
    ):
        F.cross_entropy(x, np.zeros(4, dtype=np.int64), reduction="avg")
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\], got 1.5"):
        F.cross_entropy(x, np.zeros(4, dtype=np.int64), label_smoothing=1.5)
    with pytest.raises(
        ValueError,
        match=re.escape("cross_entropy: expected a class weight of shape (10,), got (3,)"),
    ):
        F.cross_entropy(x, np.zeros(4, dtype=np.int64), [1.0, 2.0, 3.0])
    with pytest.raises(
        ValueError,
        match=re.escape("mse_loss: input and target shapes differ: input (4, 10), target (4, 1)"),
    ):
        F.mse_loss(x, tinyconv.tensor(np.zeros((4, 1), dtype=np.float32)))
    with pytest.raises(
        TypeError, match=r"CrossEntropyLoss\(\): expected a floating-point input, got dtype int64"
    ):
        nn.CrossEntropyLoss()(tinyconv.tensor(np.zeros((2, 3), dtype=np.int64)), np.array([0, 1]))
    with pytest.raises(
        ValueError, match=r"MSELoss: invalid value for argument `reduction`. Expected one of"
    ):
        nn.MSELoss(reduction="mea")
    with pytest.raises(
        ValueError, match=r"CrossEntropyLoss: invalid value for argument `label_smoothing`"
    ):
        nn.CrossEntropyLoss(label_smoothing=-0.1)


MODULES = [
    (nn.CrossEntropyLoss(), "CrossEntropyLoss()", lambda a, t: TF.cross_entropy(a, t)),
    (
        nn.CrossEntropyLoss(weight=WEIGHT.tolist(), reduction="sum", label_smoothing=0.1),
        "CrossEntropyLoss(weight=[0.5, 1.0, 2.0, 1.5, 0.800000011920929], reduction='sum', label_smoothing=0.1)",
        lambda a, t: TF.cross_entropy(
            a, t, torch.tensor(WEIGHT), reduction="sum", label_smoothing=0.1
        ),
    ),
    (
        nn.CrossEntropyLoss(ignore_index=3, reduction="none"),
        "CrossEntropyLoss(ignore_index=3, reduction='none')",
        lambda a, t: TF.cross_entropy(a, t, ignore_index=3, reduction="none"),
    ),
    (
        nn.NLLLoss(reduction="none"),
        "NLLLoss(reduction='none')",
        lambda a, t: TF.nll_loss(a, t, reduction="none"),
    ),
]


@pytest.mark.parametrize("module,text,tfn", MODULES, ids=[m[1][:40] for m in MODULES])
def test_classification_modules(module, text, tfn):
    x = np.random.default_rng(6).standard_normal((6, 5))
    t = np.array([0, 3, 4, 1, 3, 2])
    check_vs_torch(lambda a: module(a, t), lambda a: tfn(a, torch.tensor(t)), [x])
    assert repr(module) == text
    assert module.output_shape((6, 5)) == module(tinyconv.tensor(x), t).shape
    assert repr(nn.build_module(module.config())) == text


def test_mse_module_and_output_shape():
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    for red in REDUCTIONS:
        m = nn.MSELoss(reduction=red)
        check_vs_torch(m, lambda p, q, red=red: TF.mse_loss(p, q, reduction=red), [a, b])
        assert m.output_shape((3, 2)) == m(tinyconv.tensor(a), tinyconv.tensor(b)).shape
    assert repr(nn.MSELoss()) == "MSELoss()"


def test_weight_is_a_buffer_like_torch():
    m = nn.CrossEntropyLoss(weight=[1.0, 2.0])
    assert (
        list(m.state_dict())
        == list(torch.nn.CrossEntropyLoss(weight=torch.ones(2)).state_dict())
        == ["weight"]
    )
    assert nn.CrossEntropyLoss().state_dict() == {}
