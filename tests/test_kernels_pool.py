"""The compiled non-overlapping pooling (tinyconv/kernels/pool.py) against the NumPy reference
(bit for bit: values, ties, NaN, argmax, return_indices) and PyTorch, and used only where
its rule says."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinyconv
import tinyconv.functional as F
import tinyconv.kernels as K
from tinyconv.ops.pool import MaxPool

numba = pytest.importorskip("numba")

# (N, C, H, W), kernel: 2x2 (DeepConvNet's), odd maps the floor crops, 3x3, rectangular, 1x1
CASES = [((3, 4, 8, 8), 2), ((2, 3, 13, 11), 2), ((2, 2, 10, 9), 3), ((1, 3, 9, 8), (3, 2)),
         ((2, 2, 5, 5), 1)]  # fmt: skip


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    x.reshape(-1)[::7] = np.round(x.reshape(-1)[::7])  # ties inside windows
    x[0, 0, 0, :2] = 1.0  # an exact tie in the first window
    return x


def _run(kernels, x, dy, mode="max", indices=False):
    with K.using(kernels):
        xt = tinyconv.tensor(x, requires_grad=True)
        pool = F.max_pool2d if mode == "max" else F.min_pool2d
        out = pool(xt, *dy[1:], return_indices=True) if indices else pool(xt, *dy[1:])
        y, idx = out if indices else (out, None)
        compiled = getattr(y._ctx, "compiled", None)
        y.backward(tinyconv.tensor(dy[0]))
    extra = [] if idx is None else [idx.numpy()]
    return [y.numpy(), xt.grad.numpy(), *extra], compiled


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["max", "min"])
@pytest.mark.parametrize("case", CASES)
def test_compiled_pool_equals_the_reference_bit_for_bit(case, mode, dtype):
    shape, k = case
    x = _data(shape, dtype)
    kh, kw = (k, k) if isinstance(k, int) else k
    oh, ow = shape[2] // kh, shape[3] // kw
    dy = np.random.default_rng(1).standard_normal((*shape[:2], oh, ow)).astype(dtype)
    fast, c1 = _run("numba", x, (dy, k), mode)
    ref, c0 = _run("numpy", x, (dy, k), mode)
    assert c1 and not c0
    for a, b in zip(fast, ref, strict=True):
        np.testing.assert_array_equal(a, b)
    if mode == "max" and dtype == np.float32:
        xt = torch.from_numpy(x).requires_grad_(True)
        yt = torch.nn.functional.max_pool2d(xt, k)
        yt.backward(torch.from_numpy(dy))
        np.testing.assert_array_equal(fast[0], yt.detach().numpy())
        np.testing.assert_array_equal(fast[1], xt.grad.numpy())


def test_compiled_pool_nan_and_indices_as_the_reference():
    x = _data((2, 3, 6, 8), np.float32)
    x[0, 0, 0, 1] = np.nan  # second tap of the first window
    x[1, 2, 3, 3] = np.nan  # last tap of a window
    dy = np.ones((2, 3, 3, 4), np.float32)
    fast, _ = _run("numba", x, (dy, 2), indices=True)
    ref, _ = _run("numpy", x, (dy, 2), indices=True)
    for a, b in zip(fast, ref, strict=True):
        np.testing.assert_array_equal(a, b)  # NaN where the reference has NaN
    assert np.isnan(fast[0][0, 0, 0, 0]) and np.isnan(fast[0][1, 2, 1, 1])


def test_compiled_pool_is_used_only_where_the_rule_says():
    x = tinyconv.tensor(_data((2, 3, 8, 8), np.float32), requires_grad=True)
    with K.using("numba"):
        assert F.max_pool2d(x, 2)._ctx.compiled
        assert not F.max_pool2d(x, 3, stride=2)._ctx.compiled  # overlapping windows
        assert not F.max_pool2d(x, 2, padding=1)._ctx.compiled  # padded
        cm = x.numpy().transpose(1, 0, 2, 3).copy().transpose(1, 0, 2, 3)
        strided = tinyconv.tensor(cm, requires_grad=True)
        assert not F.max_pool2d(strided, 2)._ctx.compiled  # channel-major: the reference
        x16 = tinyconv.tensor(x.numpy().astype(np.float16), requires_grad=True)
        assert not F.max_pool2d(x16, 2)._ctx.compiled
        with tinyconv.no_grad():
            y = F.max_pool2d(x, 2)  # no argmax kept
        np.testing.assert_array_equal(y.numpy(), x.numpy().reshape(2, 3, 4, 2, 4, 2).max((3, 5)))
    with K.using("numpy"):
        assert not F.max_pool2d(x, 2)._ctx.compiled
        assert isinstance(F.max_pool2d(x, 2)._ctx, MaxPool)


# overlapping, padded, dilated and ceil-mode windows at inference: resnet's 3x3/2 pad 1 stem
# pool, odd sizes, a channel-major input (a convolution's output), min pooling
WINDOWS = [
    ((2, 3, 11, 12), 3, 2, 1, 1, False, False),
    ((2, 3, 11, 12), 3, 2, 1, 1, False, True),
    ((1, 2, 9, 10), 2, 1, 0, 2, False, False),
    ((2, 2, 8, 7), 3, 3, 1, 1, True, False),
    ((2, 2, 9, 9), (3, 2), (2, 1), (1, 0), 1, False, False),
]


@pytest.mark.parametrize("case", WINDOWS)
@pytest.mark.parametrize("mode", ["max", "min"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_window_pool_at_inference_equals_the_reference(case, mode, dtype):
    shape, k, s, p, d, ceil, channel_major = case
    x = _data(shape, dtype)
    x[0, 1, 3, 3] = np.nan
    if channel_major:
        x = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    pool = F.max_pool2d if mode == "max" else F.min_pool2d
    out = {}
    for path in ("numba", "numpy"):
        with K.using(path), tinyconv.no_grad():
            out[path] = pool(tinyconv.tensor(x), k, s, p, d, ceil_mode=ceil).numpy()
    np.testing.assert_array_equal(out["numba"], out["numpy"])
    if mode == "max":
        t = torch.nn.functional.max_pool2d(torch.from_numpy(np.ascontiguousarray(x)), k, s, p, d,
                                           ceil_mode=ceil)  # fmt: skip
        np.testing.assert_array_equal(out["numba"], t.numpy())


def test_compiled_window_pool_only_without_an_argmax(monkeypatch):
    from tinyconv.kernels import pool as kpool

    calls = []
    monkeypatch.setattr(kpool, "window_pool_forward", lambda *a: calls.append(a))
    x = tinyconv.tensor(_data((1, 2, 7, 7), np.float32), requires_grad=True)
    with K.using("numba"):
        F.max_pool2d(x, 3, 2, 1)  # a gradient wanted: the reference's loop keeps the argmax
        assert calls == []
        with tinyconv.no_grad():
            F.max_pool2d(x, 3, 2, 1)
        assert len(calls) == 1
