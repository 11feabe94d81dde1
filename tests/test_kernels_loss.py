"""The fused cross-entropy kernel (kernels/loss.py) against the NumPy lines and PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import gradcheck

import tinyconv
import tinyconv.functional as F
import tinyconv.kernels as K

pytest.importorskip("numba")

CASES = [
    ((100, 10), {}),
    ((7, 5), {"reduction": "sum"}),
    ((7, 5), {"reduction": "none", "label_smoothing": 0.2}),
    ((9, 4), {"weight": [0.5, 2.0, 1.0, 0.1], "ignore_index": 2}),
    ((9, 4), {"weight": [0.5, 2.0, 1.0, 0.1], "label_smoothing": 0.1, "ignore_index": 1}),
    ((3, 6, 4, 5), {"label_smoothing": 0.3, "ignore_index": 0}),  # (N, C, H, W) maps
    ((1, 3), {"reduction": "sum", "label_smoothing": 1.0}),
]


def run(kernels: str, shape: tuple, kw: dict, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(sum(shape))
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    target = rng.integers(0, shape[1], (shape[0], *shape[2:]))
    kw = dict(kw)
    if "weight" in kw:
        kw["weight"] = tinyconv.tensor(np.array(kw["weight"], dtype))
    with K.using(kernels):
        xt = tinyconv.tensor(x, requires_grad=True)
        loss = F.cross_entropy(xt, target, **kw)
        assert (loss._ctx.saved[0] is None) == (kernels == "numba")  # logp not kept: fused
        dy = rng.standard_normal(loss.shape).astype(dtype)
        (loss * tinyconv.tensor(dy)).sum().backward()
    return loss.numpy(), xt.grad.numpy(), x, target, dy


@pytest.mark.parametrize(("shape", "kw"), CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_cross_entropy_equals_numpy_and_torch(shape: tuple, kw: dict, dtype: type) -> None:
    loss, dx, x, target, dy = run("numba", shape, kw, dtype)
    ref_loss, ref_dx, *_ = run("numpy", shape, kw, dtype)
    tkw = dict(kw)
    if "weight" in tkw:
        tkw["weight"] = torch.tensor(
            tkw["weight"], dtype=torch.float64 if dtype == np.float64 else torch.float32
        )
    xt = torch.tensor(x, requires_grad=True)
    lt = TF.cross_entropy(xt, torch.from_numpy(target), **tkw)
    (lt * torch.from_numpy(dy)).sum().backward()
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, r, t in [(loss, ref_loss, lt.detach().numpy()), (dx, ref_dx, xt.grad.numpy())]:
        assert a.dtype == dtype and a.shape == r.shape
        scale = max(np.abs(r).max(), 1e-30)
        assert np.abs(a - r).max() / scale <= tol
        assert np.abs(a - t).max() / scale <= tol
    assert np.abs(dx).max() > 0


def test_fused_cross_entropy_every_target_ignored_is_nan_like_torch() -> None:
    x = np.zeros((3, 4), np.float32)
    with K.using("numba"):
        xt = tinyconv.tensor(x, requires_grad=True)
        loss = F.cross_entropy(xt, np.full(3, -100))
        loss.backward()
    assert np.isnan(loss.item()) and np.all(xt.grad.numpy() == 0)
    assert np.isnan(TF.cross_entropy(torch.zeros(3, 4), torch.full((3,), -100)).item())


def test_fused_cross_entropy_gradcheck() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4))
    target = np.array([0, 3, 1, 1, 2])
    w = tinyconv.tensor(np.array([1.0, 0.5, 2.0, 1.5]))
    with K.using("numba"):
        gradcheck(lambda a: F.cross_entropy(a, target, weight=w, label_smoothing=0.2), [x])
