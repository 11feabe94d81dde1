"""Dropout: identity in eval, mask statistics, scaling, gradient, seeds."""

import re

import numpy as np
import pytest
import torch

import tinyconv
import tinyconv.functional as F
from tinyconv import nn


def _ones(shape=(200, 500), dtype=np.float32):
    return tinyconv.tensor(np.ones(shape, dtype=dtype), requires_grad=True)


def test_eval_is_the_identity():
    x = tinyconv.tensor(np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32))
    layer = nn.Dropout(0.5).eval()
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())
    np.testing.assert_array_equal(F.dropout(x, 0.5, training=False).numpy(), x.numpy())
    np.testing.assert_array_equal(F.dropout(x, 0.0).numpy(), x.numpy())


@pytest.mark.parametrize("p", [0.1, 0.2, 0.5, 0.8])
def test_drop_fraction_close_to_p_and_survivors_scaled(p):
    x = _ones()
    y = F.dropout(x, p, generator=np.random.default_rng(1)).numpy()
    dropped = (y == 0).mean()
    assert abs(dropped - p) < 0.01  # 100,000 draws: the standard error is below 0.0016
    survivors = y[y != 0]
    np.testing.assert_allclose(survivors, np.float32(1 / (1 - p)), rtol=1e-6)
    assert abs(y.mean() - 1.0) < 0.03  # inverted dropout keeps the expectation


def test_gradient_is_mask_times_scale():
    x = tinyconv.tensor(
        np.random.default_rng(2).standard_normal((50, 40)).astype(np.float32), requires_grad=True
    )
    y = F.dropout(x, 0.3, generator=np.random.default_rng(3))
    # the mask is "uniform draw >= p" from the given generator
    keep = np.random.default_rng(3).random((50, 40), dtype=np.float32) >= 0.3
    scale = np.float32(1 / 0.7)
    np.testing.assert_array_equal(y.numpy(), x.numpy() * (keep * scale))
    dout = np.random.default_rng(4).standard_normal(y.shape).astype(np.float32)
    y.backward(dout)
    np.testing.assert_array_equal(x.grad.numpy(), dout * (keep * scale))
    assert x.grad.dtype == np.float32
    assert 0.6 < keep.mean() < 0.8


def test_same_seed_same_mask():
    a = F.dropout(_ones((30, 30)), 0.5, generator=np.random.default_rng(7)).numpy()
    b = F.dropout(_ones((30, 30)), 0.5, generator=np.random.default_rng(7)).numpy()
    c = F.dropout(_ones((30, 30)), 0.5, generator=np.random.default_rng(8)).numpy()
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_manual_seed_drives_the_module():
    layer = nn.Dropout(0.5)
    tinyconv.manual_seed(123)
    a = layer(_ones((20, 20))).numpy()
    tinyconv.manual_seed(123)
    b = layer(_ones((20, 20))).numpy()
    np.testing.assert_array_equal(a, b)
    assert (a == 0).any() and (a == 2).any()


def test_dtypes_are_kept():
    for dt in (np.float32, np.float64):
        assert F.dropout(_ones((3, 3), dt), 0.5).dtype == dt


def test_errors_and_repr():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "dropout: p is the probability of dropping an element and must be in [0, 1], got p=1.5"
        ),
    ):
        F.dropout(_ones((2, 2)), 1.5)
    with pytest.raises(ValueError, match=re.escape("got p=-0.1")):
        F.dropout(_ones((2, 2)), -0.1)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Dropout: invalid value for argument `p`. Expected a drop probability in [0, 1]. Received p=1.5."
        ),
    ):
        nn.Dropout(1.5)
    with pytest.raises(
        TypeError, match="dropout: expected a floating-point input, got dtype int64"
    ):
        F.dropout(tinyconv.tensor(np.ones(3, dtype=np.int64)), 0.5)
    assert repr(nn.Dropout()) == "Dropout(p=0.5)"
    assert repr(nn.Dropout(0.2)) == "Dropout(p=0.2)"
    assert nn.Dropout(0.2).output_shape((100, 384)) == (100, 384)
    assert repr(nn.build_module(nn.Dropout(0.2).config())) == "Dropout(p=0.2)"


def test_p_one_drops_everything_like_torch():
    # PyTorch allows p = 1: the output and the gradient are all zeros
    t = tinyconv.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = F.dropout(t, 1.0)
    assert y.tolist() == [[0.0] * 3] * 2
    y.sum().backward()
    assert t.grad.tolist() == [[0.0] * 3] * 2
    assert nn.Dropout(1.0)(t).tolist() == [[0.0] * 3] * 2
    tt = torch.arange(6.0).reshape(2, 3)
    assert torch.nn.functional.dropout(tt, 1.0).tolist() == y.tolist()
