"""The fused optimizer kernels (tinyconv/kernels/optim.py) against the NumPy updates and torch.optim."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinyconv
import tinyconv.kernels as K
from tinyconv import optim
from tinyconv.nn import Parameter

pytest.importorskip("numba")

from test_optim import run_torch  # noqa: E402

SHAPES = [(30, 1, 5, 5), (30,), (4320, 7), (7,), (3, 1, 1, 1)]  # odd sizes, a 1-element tail
STEPS = 6

CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1, "maximize": True}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 1e-3, "momentum": 0.9}),
    ("RMSprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.1, "alpha": 0.9}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"betas": (0.8, 0.99), "eps": 1e-6, "amsgrad": True, "weight_decay": 0.05}),
    ("Adam", {"lr": 0.01, "maximize": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(CASES)]


def problem(dtype: type, seed: int = 0) -> tuple[list[np.ndarray], list[list[np.ndarray | None]]]:
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads: list[list[np.ndarray | None]] = []
    for k in range(STEPS):
        scale = 2.0 ** -(k % 3)  # shrinking gradients: amsgrad's maximum matters
        step = [(scale * rng.standard_normal(s)).astype(dtype) for s in SHAPES]
        if k == 2:
            step[1] = None  # a skipped parameter keeps its state and step count
        grads.append(step)
    return init, grads


def run(kernels: str, name: str, kwargs: dict, init: list, grads: list) -> list[list[np.ndarray]]:
    with K.using(kernels):
        params = [Parameter(a.copy()) for a in init]
        opt = getattr(optim, name)(params, **kwargs)
        history = []
        for step in grads:
            for p, g in zip(params, step, strict=True):
                p.grad = None if g is None else tinyconv.tensor(g.copy(), dtype=g.dtype)
            opt.step()
            history.append([p.numpy().copy() for p in params])
    return history


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_update_equals_numpy_and_torch(name: str, kwargs: dict, dtype: type) -> None:
    init, grads = problem(dtype)
    fused = run("numba", name, kwargs, init, grads)
    ref = run("numpy", name, kwargs, init, grads)
    theirs = run_torch(name, kwargs, init, grads)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for k, (a_step, b_step, t_step) in enumerate(zip(fused, ref, theirs, strict=True)):
        for i, (a, b, t) in enumerate(zip(a_step, b_step, t_step, strict=True)):
            assert a.dtype == dtype
            np.testing.assert_allclose(a, b, rtol=rtol, atol=0, err_msg=f"numpy, step {k} p{i}")
            atol = 1e-6 if dtype == np.float32 else 1e-12
            np.testing.assert_allclose(a, t, rtol=rtol, atol=atol, err_msg=f"torch, step {k} p{i}")
    assert not np.allclose(fused[-1][0], init[0])  # the parameters moved


@pytest.mark.parametrize(("name", "kwargs"), [CASES[3], CASES[7], CASES[10], CASES[13]])
def test_fused_state_round_trips_through_the_numpy_path(name: str, kwargs: dict) -> None:
    """State written by the kernel continues on the NumPy path (and back) as if never switched."""
    init, grads = problem(np.float32, seed=1)
    ref = run("numpy", name, kwargs, init, grads)[-1]
    params = [Parameter(a.copy()) for a in init]
    opt = getattr(optim, name)(params, **kwargs)
    for k, step in enumerate(grads):
        for p, g in zip(params, step, strict=True):
            p.grad = None if g is None else tinyconv.tensor(g.copy())
        with K.using("numba" if k % 2 == 0 else "numpy"):
            opt.step()
    for a, b in zip(params, ref, strict=True):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-5, atol=0)


def test_non_contiguous_parameter_takes_the_numpy_path() -> None:
    """A strided parameter cannot be viewed flat: the update must still land in it."""
    base = np.ones((4, 6), np.float32)
    p = Parameter(base[:, ::2])
    p.grad = tinyconv.tensor(np.full((4, 3), 0.5, np.float32))
    with K.using("numba"):
        optim.SGD([p], lr=0.1, momentum=0.9).step()
    np.testing.assert_allclose(p.numpy(), np.full((4, 3), 0.95, np.float32))


def test_kernel_matches_torch_fused_adam_on_a_model_size_problem() -> None:
    """434 K parameters (SimpleConvNet's), 3 steps: the fused pass vs torch.optim.Adam(fused=True)."""
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal(434_000).astype(np.float32)
    gs = [rng.standard_normal(434_000).astype(np.float32) for _ in range(3)]
    p = Parameter(w0.copy())
    pt = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    with K.using("numba"):
        opt = optim.Adam([p], lr=1e-3)
        opt_t = torch.optim.Adam([pt], lr=1e-3, fused=True)
        for g in gs:
            p.grad = tinyconv.tensor(g)
            pt.grad = torch.from_numpy(g.copy())
            opt.step()
            opt_t.step()
    np.testing.assert_allclose(p.numpy(), pt.detach().numpy(), rtol=1e-5, atol=1e-7)
