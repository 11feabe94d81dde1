"""Activations: forward and gradients vs PyTorch, finite differences, stability, modules."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import check_vs_torch, gradcheck

import tinyconv
import tinyconv.functional as F
from tinyconv import nn

X = np.random.default_rng(0).standard_normal((4, 5, 3)) * 3

CASES = [
    ("relu", lambda a: F.relu(a), lambda a: TF.relu(a)),
    ("leaky_relu", lambda a: F.leaky_relu(a), lambda a: TF.leaky_relu(a)),
    ("leaky_relu_0.2", lambda a: F.leaky_relu(a, 0.2), lambda a: TF.leaky_relu(a, 0.2)),
    ("sigmoid", lambda a: F.sigmoid(a), lambda a: torch.sigmoid(a)),
    ("tanh", lambda a: F.tanh(a), lambda a: torch.tanh(a)),
    ("softmax_1", lambda a: F.softmax(a, dim=1), lambda a: TF.softmax(a, dim=1)),
    ("softmax_-1", lambda a: F.softmax(a, dim=-1), lambda a: TF.softmax(a, dim=-1)),
    ("log_softmax_1", lambda a: F.log_softmax(a, dim=1), lambda a: TF.log_softmax(a, dim=1)),
    ("log_softmax_0", lambda a: F.log_softmax(a, dim=0), lambda a: TF.log_softmax(a, dim=0)),
    ("tensor.relu", lambda a: a.relu(), lambda a: a.relu()),
    ("tensor.sigmoid", lambda a: a.sigmoid(), lambda a: a.sigmoid()),
    ("tensor.tanh", lambda a: a.tanh(), lambda a: a.tanh()),
]


@pytest.mark.parametrize("name,fn,tfn", CASES, ids=[c[0] for c in CASES])
def test_vs_torch_float32(name, fn, tfn):
    check_vs_torch(fn, tfn, [X])


@pytest.mark.parametrize("name,fn,tfn", CASES, ids=[c[0] for c in CASES])
def test_vs_torch_float64(name, fn, tfn):
    check_vs_torch(fn, tfn, [X], dtype=np.float64)


@pytest.mark.parametrize("name,fn,tfn", CASES, ids=[c[0] for c in CASES])
def test_gradcheck(name, fn, tfn):
    x = X.copy()
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the kink of (leaky) ReLU
    gradcheck(fn, [x])


def test_relu_gradient_at_zero_is_zero_like_torch():
    t = tinyconv.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    F.relu(t).sum().backward()
    assert t.grad.tolist() == [0.0, 0.0, 1.0]
    t = tinyconv.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    F.leaky_relu(t, 0.5).sum().backward()
    assert t.grad.tolist() == [0.5, 0.5, 1.0]


def test_backward_does_not_modify_dout():
    t = tinyconv.tensor([-1.0, 2.0], requires_grad=True)
    dout = np.array([3.0, 4.0], dtype=np.float32)
    F.relu(t).backward(dout)
    assert dout.tolist() == [3.0, 4.0]


def test_stable_for_large_inputs():
    big = tinyconv.tensor([[1000.0, 0.0, -1000.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        s = F.softmax(big, dim=1).numpy()
        ls = F.log_softmax(big, dim=1).numpy()
        sig = F.sigmoid(tinyconv.tensor([-1000.0, 1000.0])).numpy()
    np.testing.assert_allclose(s, [[1.0, 0.0, 0.0]])
    np.testing.assert_allclose(ls, [[0.0, -1000.0, -2000.0]])
    np.testing.assert_allclose(sig, [0.0, 1.0])


def test_softmax_rows_sum_to_one():
    y = F.softmax(tinyconv.tensor(X.astype(np.float32)), dim=1).numpy()
    np.testing.assert_allclose(y.sum(axis=1), np.ones((4, 3)), rtol=1e-6)


def test_no_float64_upcast():
    x = tinyconv.tensor(X.astype(np.float32), requires_grad=True)
    for fn, *_ in [(F.relu,), (F.leaky_relu,), (F.sigmoid,), (F.tanh,)]:
        assert fn(x).dtype == np.float32


def test_errors():
    with pytest.raises(
        ValueError,
        match=r"softmax: dim 3 is out of range for a 3-D input of shape \(4, 5, 3\) \(expected -3 <= dim < 3\)",
    ):
        F.softmax(tinyconv.tensor(X), dim=3)
    with pytest.raises(
        TypeError, match=r"sigmoid: expected a floating-point input, got dtype int64"
    ):
        F.sigmoid(tinyconv.tensor(np.arange(3)))
    with pytest.raises(
        TypeError, match=r"Softmax: invalid type for argument `dim`. Expected an int"
    ):
        nn.Softmax(dim="1")
    with pytest.raises(TypeError, match=r"LeakyReLU: invalid type for argument `negative_slope`"):
        nn.LeakyReLU("0.1")


MODULES = [
    (nn.ReLU(), "ReLU()", lambda a: TF.relu(a)),
    (nn.ReLU(inplace=True), "ReLU(inplace=True)", lambda a: TF.relu(a)),
    (nn.LeakyReLU(), "LeakyReLU(negative_slope=0.01)", lambda a: TF.leaky_relu(a)),
    (nn.LeakyReLU(0.2), "LeakyReLU(negative_slope=0.2)", lambda a: TF.leaky_relu(a, 0.2)),
    (nn.Sigmoid(), "Sigmoid()", torch.sigmoid),
    (nn.Tanh(), "Tanh()", torch.tanh),
    (nn.Softmax(dim=1), "Softmax(dim=1)", lambda a: TF.softmax(a, 1)),
    (nn.LogSoftmax(dim=-1), "LogSoftmax(dim=-1)", lambda a: TF.log_softmax(a, -1)),
]


@pytest.mark.parametrize("module,text,tfn", MODULES, ids=[m[1] for m in MODULES])
def test_modules(module, text, tfn):
    assert repr(module) == text
    assert module.output_shape((4, 5, 3)) == (4, 5, 3)
    assert list(module.parameters()) == []
    check_vs_torch(module, tfn, [X])
    assert repr(nn.build_module(module.config())) == text
