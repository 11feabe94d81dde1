"""Shared test helpers: finite-difference gradient checks and comparisons with PyTorch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import tinyconv


def gradcheck(
    fn: Callable[..., tinyconv.Tensor],
    inputs: Sequence[np.ndarray],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    seed: int = 0,
    wrt: Sequence[int] | None = None,
) -> None:
    """Central differences in float64 against tinyconv's backward.

    ``fn`` takes tinyconv Tensors and returns a Tensor. The scalar checked is
    sum(fn(*inputs) * R) for a fixed random R, so every output element is exercised.
    For each input (or those listed in ``wrt``) every element is perturbed by +-eps.
    """
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(a, dtype=np.float64) for a in inputs]
    wrt = range(len(arrays)) if wrt is None else wrt
    ts = [
        tinyconv.tensor(a.copy(), requires_grad=(i in wrt), dtype=np.float64)
        for i, a in enumerate(arrays)
    ]
    out = fn(*ts)
    assert out.dtype == np.float64, (
        f"fn returned {out.dtype}, expected float64 (no silent downcast)"
    )
    R = rng.standard_normal(out.shape)
    (out * tinyconv.tensor(R, dtype=np.float64)).sum().backward()

    def scalar(vals: list[np.ndarray]) -> float:
        with tinyconv.no_grad():
            y = fn(*[tinyconv.tensor(v, dtype=np.float64) for v in vals])
        return float((y.numpy() * R).sum())

    for i in wrt:
        analytic = ts[i].grad.numpy() if ts[i].grad is not None else np.zeros_like(arrays[i])
        numeric = np.zeros_like(arrays[i])
        flat = arrays[i].reshape(-1)
        nflat = numeric.reshape(-1)
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + eps
            plus = scalar(arrays)
            flat[j] = old - eps
            minus = scalar(arrays)
            flat[j] = old
            nflat[j] = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(
            analytic, numeric, atol=atol, rtol=rtol, err_msg=f"gradient of input {i}"
        )


def check_vs_torch(
    tc_fn: Callable[..., tinyconv.Tensor],
    torch_fn: Callable[..., Any],
    inputs: Sequence[np.ndarray],
    dtype: Any = np.float32,
    atol: float | None = None,
    rtol: float | None = None,
    seed: int = 0,
    grad_inputs: Sequence[int] | None = None,
) -> None:
    """Run the same computation in tinyconv and PyTorch; compare output and every input gradient.

    Default tolerances: float64 atol=rtol=1e-10; float32 atol=1e-5, rtol=1e-4.
    """
    import torch

    if atol is None:
        atol = 1e-10 if dtype == np.float64 else 1e-5
    if rtol is None:
        rtol = 1e-10 if dtype == np.float64 else 1e-4
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(a, dtype=dtype) for a in inputs]
    grad_inputs = range(len(arrays)) if grad_inputs is None else grad_inputs
    ts = [
        tinyconv.tensor(a, requires_grad=i in grad_inputs, dtype=dtype)
        for i, a in enumerate(arrays)
    ]
    tt = [torch.tensor(a, requires_grad=i in grad_inputs) for i, a in enumerate(arrays)]
    y = tc_fn(*ts)
    yt = torch_fn(*tt)
    assert y.shape == tuple(yt.shape), f"shape {y.shape} vs torch {tuple(yt.shape)}"
    assert y.dtype == np.dtype(dtype), f"output dtype {y.dtype}, expected {np.dtype(dtype)}"
    np.testing.assert_allclose(
        y.numpy(), yt.detach().numpy(), atol=atol, rtol=rtol, err_msg="forward"
    )
    R = rng.standard_normal(y.shape).astype(dtype)
    (y * tinyconv.tensor(R, dtype=dtype)).sum().backward()
    (yt * torch.tensor(R)).sum().backward()
    for i in grad_inputs:
        g = ts[i].grad
        gt = tt[i].grad
        if gt is None:
            assert g is None or np.all(g.numpy() == 0), f"input {i}: torch has no grad"
            continue
        assert g is not None, f"input {i}: tinyconv has no grad"
        assert g.dtype == np.dtype(dtype), f"grad {i} dtype {g.dtype}"
        np.testing.assert_allclose(
            g.numpy(), gt.numpy(), atol=atol, rtol=rtol, err_msg=f"grad of input {i}"
        )
