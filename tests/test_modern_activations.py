"""ReLU6, Hardtanh, Hardsigmoid, Hardswish, SiLU, GELU, ELU, SELU, Mish, PReLU and
stochastic depth: forward and gradients vs PyTorch (float32), finite differences (float64),
PyTorch's slopes at the corners, modules and errors."""

import math

import numpy as np
import pytest
import torch.nn.functional as TF
from helpers import check_vs_torch, gradcheck

import tinyconv
import tinyconv.functional as F
from tinyconv import nn

X = np.random.default_rng(1).standard_normal((3, 4, 5)) * 4  # reaches every piece

CASES = [
    ("relu6", F.relu6, TF.relu6),
    ("hardtanh", F.hardtanh, TF.hardtanh),
    ("hardtanh_-2_3", lambda a: F.hardtanh(a, -2.0, 3.0), lambda a: TF.hardtanh(a, -2.0, 3.0)),
    ("hardsigmoid", F.hardsigmoid, TF.hardsigmoid),
    ("hardswish", F.hardswish, TF.hardswish),
    ("silu", F.silu, TF.silu),
    ("gelu", F.gelu, TF.gelu),
    ("gelu_tanh", lambda a: F.gelu(a, "tanh"), lambda a: TF.gelu(a, approximate="tanh")),
    ("elu", F.elu, TF.elu),
    ("elu_0.5", lambda a: F.elu(a, 0.5), lambda a: TF.elu(a, 0.5)),
    ("selu", F.selu, TF.selu),
    ("mish", F.mish, TF.mish),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("name,fn,tfn", CASES, ids=IDS)
def test_vs_torch_float32(name, fn, tfn):
    check_vs_torch(fn, tfn, [X])


@pytest.mark.parametrize("name,fn,tfn", CASES, ids=IDS)
def test_gradcheck_float64(name, fn, tfn):
    x = X.copy()
    for corner in (-3.0, -2.0, -1.0, 0.0, 1.0, 3.0, 6.0):  # keep off the kinks
        x[np.abs(x - corner) < 1e-3] = corner + 0.25
    gradcheck(fn, [x])


@pytest.mark.parametrize("name,fn,tfn", CASES, ids=IDS)
def test_slopes_at_the_corners_are_torchs(name, fn, tfn):
    x = np.array([-6.0, -3.0, -2.0, -1.0, 0.0, 1.0, 3.0, 6.0, 40.0, -40.0], dtype=np.float32)
    check_vs_torch(fn, tfn, [x])


def test_gelu_is_exact_to_float32_also_in_the_lower_tail():
    # torch's float32 gelu flushes x Phi(x) to 0 below about -5.5; tinyconv keeps the digits
    x = np.array([-9.0, -7.0, -5.0, -1.0, 0.5, 5.0, 9.0])
    exact = np.array([v * math.erfc(-v / math.sqrt(2)) / 2 for v in x])
    y = F.gelu(tinyconv.tensor(x.astype(np.float32))).numpy()
    np.testing.assert_allclose(y, exact, rtol=5e-7, atol=0)


@pytest.mark.parametrize("shape,c", [((3, 4, 5), 4), ((2, 3, 4, 4), 3), ((5,), 1), ((2, 6), 1)])
def test_prelu_vs_torch_and_gradcheck(shape, c):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape)
    w = rng.uniform(0.05, 0.5, c)
    check_vs_torch(F.prelu, TF.prelu, [x, w])
    gradcheck(F.prelu, [x, w])


def test_prelu_module_learns_a_slope_per_channel():
    m = nn.PReLU(3, init=0.1)
    assert m.weight.shape == (3,) and m.weight.tolist() == pytest.approx([0.1] * 3)
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    x = tinyconv.tensor(-np.ones((2, 3, 2, 2), np.float32), requires_grad=True)
    m(x).sum().backward()
    assert m.weight.grad.tolist() == [-8.0, -8.0, -8.0]


@pytest.mark.parametrize(
    "module,fn",
    [
        (nn.ReLU6(), TF.relu6),
        (nn.Hardtanh(-0.5, 0.5), lambda a: TF.hardtanh(a, -0.5, 0.5)),
        (nn.Hardsigmoid(), TF.hardsigmoid),
        (nn.Hardswish(), TF.hardswish),
        (nn.SiLU(), TF.silu),
        (nn.GELU(approximate="tanh"), lambda a: TF.gelu(a, approximate="tanh")),
        (nn.ELU(0.3), lambda a: TF.elu(a, 0.3)),
        (nn.SELU(), TF.selu),
        (nn.Mish(), TF.mish),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, nn.Module) else "",
)
def test_modules(module, fn):
    check_vs_torch(module, fn, [X])
    assert module.output_shape((2, 3)) == (2, 3)
    rebuilt = nn.build_module(module.config())
    assert repr(rebuilt) == repr(module)


@pytest.mark.parametrize(
    "call,error,text",
    [
        (lambda x: F.gelu(x, "fast"), ValueError, "approximate must be 'none' or 'tanh'"),
        (lambda x: F.hardtanh(x, 2.0, 1.0), ValueError, "min_val must be at most max_val"),
        (lambda x: F.elu(x, "1"), TypeError, "expected a number for alpha"),
        (lambda x: F.silu(tinyconv.tensor([1, 2])), TypeError, "silu: expected a floating"),
        (lambda x: F.prelu(x, tinyconv.tensor(np.ones(3))), ValueError, "expected 1 or the input"),
        (lambda x: F.prelu(x, tinyconv.tensor(np.ones((1, 1)))), ValueError, "1-D weight"),
        (lambda x: nn.GELU("x"), ValueError, "GELU: invalid value for argument `approximate`"),
        (lambda x: nn.PReLU(0), ValueError, "PReLU"),
        (lambda x: nn.Hardtanh(1.0, -1.0), ValueError, "Hardtanh"),
    ],
)
def test_errors(call, error, text):
    with pytest.raises(error, match=text.replace("(", r"\(")):
        call(tinyconv.tensor(np.ones((2, 4), np.float32)))


def test_stochastic_depth_rows_and_batch():
    x = tinyconv.tensor(np.ones((1000, 2), np.float32), requires_grad=True)
    y = F.stochastic_depth(x, 0.25, "row", generator=np.random.default_rng(0))
    rows = y.numpy()[:, 0]
    assert set(np.unique(rows)) <= {0.0, np.float32(1 / 0.75)}
    assert np.all(y.numpy()[:, 0] == y.numpy()[:, 1])  # one draw per sample
    assert 0.2 < np.mean(rows == 0) < 0.3
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy())
    b = F.stochastic_depth(x, 0.5, "batch", generator=np.random.default_rng(1)).numpy()
    assert len(np.unique(b)) == 1
    assert F.stochastic_depth(x, 0.5, "row", training=False) is x
    with pytest.raises(ValueError, match="mode must be 'row' or 'batch'"):
        F.stochastic_depth(x, 0.5, "col")
    with pytest.raises(ValueError, match="StochasticDepth: invalid value for argument `p`"):
        nn.StochasticDepth(1.5, "row")
