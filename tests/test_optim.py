"""Optimizers and schedulers against torch.optim: same parameters, same gradients, same steps."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import tinyconv
from tinyconv import optim
from tinyconv.nn import Parameter

SHAPES = [(3, 4), (4,), (2, 3, 2)]
STEPS = 10

CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1, "maximize": True}),
    ("Adagrad", {}),
    (
        "Adagrad",
        {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.1},
    ),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 1e-3, "momentum": 0.9}),
    ("RMSprop", {"centered": True}),
    (
        "RMSprop",
        {"centered": True, "momentum": 0.5, "weight_decay": 0.1, "alpha": 0.9, "eps": 1e-6},
    ),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"betas": (0.8, 0.99), "eps": 1e-6, "amsgrad": True, "weight_decay": 0.05}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
]


def make_problem(seed: int, dtype: type) -> tuple[list[np.ndarray], list[list[np.ndarray | None]]]:
    """Initial parameters and ten steps of gradients; the grad of param 1 is None at step 4."""
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads: list[list[np.ndarray | None]] = []
    for k in range(STEPS):
        scale = 2.0 ** -(k % 4)  # shrinking gradients make amsgrad's maximum matter
        step = [(scale * rng.standard_normal(s)).astype(dtype) for s in SHAPES]
        if k == 4:
            step[1] = None
        grads.append(step)
    return init, grads


def run_tinyconv(name: str, kwargs: dict, init: list, grads: list) -> list[list[np.ndarray]]:
    params = [Parameter(a.copy()) for a in init]
    opt = getattr(optim, name)(params, **kwargs)
    history = []
    for step in grads:
        for p, g in zip(params, step, strict=True):
            p.grad = None if g is None else tinyconv.tensor(g.copy(), dtype=g.dtype)
        opt.step()
        history.append([p.numpy().copy() for p in params])
    return history


def run_torch(name: str, kwargs: dict, init: list, grads: list) -> list[list[np.ndarray]]:
    params = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in init]
    opt = getattr(torch.optim, name)(params, **kwargs)
    history = []
    for step in grads:
        for p, g in zip(params, step, strict=True):
            p.grad = None if g is None else torch.from_numpy(g.copy())
        opt.step()
        history.append([p.detach().numpy().copy() for p in params])
    return history


@pytest.mark.parametrize(
    ("name", "kwargs"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)]
)
def test_ten_steps_match_torch_float64(name: str, kwargs: dict) -> None:
    init, grads = make_problem(0, np.float64)
    ours, theirs = run_tinyconv(name, kwargs, init, grads), run_torch(name, kwargs, init, grads)
    for k, (a_step, b_step) in enumerate(zip(ours, theirs, strict=True)):
        for i, (a, b) in enumerate(zip(a_step, b_step, strict=True)):
            np.testing.assert_allclose(
                a, b, rtol=0, atol=1e-6, err_msg=f"{name} {kwargs} step {k} param {i}"
            )
    # Parameters really moved (a test that cannot fail would not catch a no-op step).
    assert not np.allclose(ours[-1][0], init[0])
    # float64 leaves no room for a different formula: agreement is near machine precision.
    np.testing.assert_allclose(ours[-1][0], theirs[-1][0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
        ("Adagrad", {"lr": 0.1}),
        ("RMSprop", {"centered": True, "momentum": 0.5}),
        ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.05}),
        ("AdamW", {"lr": 0.01}),
    ],
)
def test_ten_steps_match_torch_float32(name: str, kwargs: dict) -> None:
    init, grads = make_problem(1, np.float32)
    ours, theirs = run_tinyconv(name, kwargs, init, grads), run_torch(name, kwargs, init, grads)
    for a_step, b_step in zip(ours, theirs, strict=True):
        for a, b in zip(a_step, b_step, strict=True):
            assert a.dtype == np.float32
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_param_groups_with_their_own_lr_match_torch() -> None:
    init, grads = make_problem(2, np.float64)
    ours = [Parameter(a.copy()) for a in init]
    theirs = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in init]
    opt = optim.Adam([{"params": ours[:2]}, {"params": ours[2:], "lr": 0.1}], lr=0.01)
    topt = torch.optim.Adam([{"params": theirs[:2]}, {"params": theirs[2:], "lr": 0.1}], lr=0.01)
    assert opt.param_groups[1]["lr"] == 0.1 and opt.param_groups[0]["betas"] == (0.9, 0.999)
    for step in grads:
        for p, q, g in zip(ours, theirs, step, strict=True):
            p.grad = None if g is None else tinyconv.tensor(g, dtype=np.float64)
            q.grad = None if g is None else torch.from_numpy(g.copy())
        opt.step()
        topt.step()
    for p, q in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"])
def test_update_is_in_place_and_grad_untouched(name: str) -> None:
    kwargs = (
        {"momentum": 0.9, "weight_decay": 0.1}
        if name in ("SGD", "RMSprop")
        else {"weight_decay": 0.1}
    )
    p = Parameter(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3))
    data_before = p.data
    grad = np.full((2, 3), 0.5, dtype=np.float32)
    p.grad = tinyconv.tensor(grad)  # shares memory with `grad`
    opt = getattr(optim, name)([p], **kwargs)
    for _ in range(3):
        opt.step()
    assert p.data is data_before  # updated in place
    np.testing.assert_array_equal(grad, np.full((2, 3), 0.5, dtype=np.float32))
    assert not np.allclose(p.numpy(), np.linspace(-1, 1, 6).reshape(2, 3))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_state_keeps_the_parameter_dtype(dtype: type) -> None:
    p = Parameter(np.ones(4, dtype=dtype))
    opt = optim.Adam([p], lr=0.1, amsgrad=True)
    p.grad = tinyconv.tensor(np.full(4, 0.25, dtype=dtype), dtype=dtype)
    opt.step()
    assert p.dtype == dtype
    for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
        assert opt.state[p][key].dtype == dtype
    # first Adam step moves by lr (up to eps): 1 - 0.1
    np.testing.assert_allclose(p.numpy().astype(np.float64), 0.9, rtol=1e-3)


def test_zero_grad_sets_none_and_skipped_params_do_not_move() -> None:
    a, b = Parameter(np.ones(2)), Parameter(np.ones(2))
    opt = optim.SGD([a, b], lr=0.5)
    a.grad = tinyconv.tensor(np.array([1.0, 2.0]))
    opt.step()
    np.testing.assert_array_equal(a.numpy(), [0.5, 0.0])
    np.testing.assert_array_equal(b.numpy(), [1.0, 1.0])
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    a.grad = tinyconv.tensor(np.array([1.0, 2.0]))
    shared = a.grad.data
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(shared, [1.0, 2.0])  # the old array is not zeroed in place


def test_step_with_closure_returns_the_loss() -> None:
    w = Parameter(np.array([3.0]))
    opt = optim.SGD([w], lr=0.25)

    def closure() -> tinyconv.Tensor:
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss) == 9.0
    np.testing.assert_allclose(w.numpy(), [3.0 - 0.25 * 6.0])


@pytest.mark.parametrize(
    ("name", "kwargs"), [c for c in CASES if c[0] != "SGD" or c[1].get("momentum")]
)
def test_state_dict_round_trip_continues_identically(name: str, kwargs: dict) -> None:
    init, grads = make_problem(3, np.float64)
    ref = run_tinyconv(name, kwargs, init, grads)

    params = [Parameter(a.copy()) for a in init]
    opt = getattr(optim, name)(params, **kwargs)
    for step in grads[:5]:
        for p, g in zip(params, step, strict=True):
            p.grad = None if g is None else tinyconv.tensor(g, dtype=np.float64)
        opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0, 1, 2]
    # through flat arrays + JSON, the way a checkpoint file stores it
    arrays, meta = optim.flatten_state_dict(sd)
    meta = json.loads(json.dumps(meta))
    restored = optim.unflatten_state_dict({k: v.copy() for k, v in arrays.items()}, meta)

    params2 = [Parameter(p.numpy().copy()) for p in params]
    opt2 = getattr(optim, name)(params2, lr=123.0)  # hyper-parameters come from the state dict
    opt2.load_state_dict(restored)
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    if "betas" in kwargs:
        assert opt2.param_groups[0]["betas"] == tuple(kwargs["betas"])
    for step in grads[5:]:
        for p, g in zip(params2, step, strict=True):
            p.grad = None if g is None else tinyconv.tensor(g, dtype=np.float64)
        opt2.step()
    for a, b in zip(ref[-1], params2, strict=True):
        np.testing.assert_array_equal(a, b.numpy())


def test_state_dict_is_a_snapshot_and_cast_on_load() -> None:
    p = Parameter(np.ones(3, dtype=np.float64))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = tinyconv.tensor(np.ones(3), dtype=np.float64)
    opt.step()
    sd = opt.state_dict()
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["momentum_buffer"], [1.0, 1.0, 1.0])
    q = Parameter(np.ones(3, dtype=np.float32))
    opt2 = optim.SGD([q], lr=0.1, momentum=0.9)
    opt2.load_state_dict(sd)
    assert opt2.state[q]["momentum_buffer"].dtype == np.float32


def test_load_state_dict_refuses_a_different_layout() -> None:
    a, b = Parameter(np.ones(2)), Parameter(np.ones(3))
    sd = optim.Adam([a, b]).state_dict()
    with pytest.raises(
        ValueError,
        match=r"Adam.load_state_dict: param group 0 has 2 parameter\(s\) in the saved state but 1 here",
    ):
        optim.Adam([a]).load_state_dict(sd)
    with pytest.raises(
        ValueError, match=r"the saved state has 1 param group\(s\), this optimizer has 2"
    ):
        optim.Adam([{"params": [a]}, {"params": [b]}]).load_state_dict(sd)


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda p: optim.SGD(p, lr=-0.1), "SGD: invalid learning rate lr=-0.1: expected lr >= 0"),
        (
            lambda p: optim.SGD(p, momentum=-0.5),
            "SGD: invalid momentum=-0.5: expected momentum >= 0",
        ),
        (
            lambda p: optim.SGD(p, lr=0.1, nesterov=True),
            "SGD: nesterov=True requires momentum > 0 and dampening = 0, got momentum=0.0, dampening=0.0",
        ),
        (
            lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
            "SGD: nesterov=True requires momentum > 0 and dampening = 0, got momentum=0.9, dampening=0.1",
        ),
        (
            lambda p: optim.SGD(p, weight_decay=-1e-4),
            "SGD: invalid weight_decay=-0.0001: expected weight_decay >= 0",
        ),
        (
            lambda p: optim.Adam(p, betas=(1.0, 0.999)),
            r"Adam: invalid betas\[0\]=1.0: expected 0 <= betas\[0\] < 1",
        ),
        (
            lambda p: optim.Adam(p, betas=(0.9, -0.1)),
            r"Adam: invalid betas\[1\]=-0.1: expected 0 <= betas\[1\] < 1",
        ),
        (
            lambda p: optim.AdamW(p, lr=-1.0),
            "AdamW: invalid learning rate lr=-1.0: expected lr >= 0",
        ),
        (lambda p: optim.Adam(p, eps=-1e-8), "Adam: invalid eps=-1e-08: expected eps >= 0"),
        (
            lambda p: optim.Adagrad(p, lr_decay=-0.1),
            "Adagrad: invalid lr_decay=-0.1: expected lr_decay >= 0",
        ),
        (
            lambda p: optim.RMSprop(p, momentum=-0.9),
            "RMSprop: invalid momentum=-0.9: expected momentum >= 0",
        ),
        (
            lambda p: optim.RMSprop(p, alpha=-0.5),
            "RMSprop: invalid alpha=-0.5: expected alpha >= 0",
        ),
        (lambda p: optim.SGD([], lr=0.1), "SGD: got an empty parameter list"),
        (
            lambda p: optim.SGD([{"params": p}, {"params": p}]),
            "SGD: some parameters appear in more than one param group",
        ),
        (
            lambda p: optim.SGD([{"params": p, "lr": -2.0}], lr=0.1),
            "SGD: invalid learning rate lr=-2.0",
        ),
    ],
)
def test_bad_hyper_parameters_raise_clear_errors(factory, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        factory([Parameter(np.ones(2))])


def test_params_must_be_an_iterable_of_tensors() -> None:
    with pytest.raises(
        TypeError,
        match="SGD: params should be an iterable of Tensors or dicts, got a single Tensor",
    ):
        optim.SGD(Parameter(np.ones(2)), lr=0.1)
    with pytest.raises(
        TypeError, match=r"Adam: can only optimize Tensors, but params\[1\] is a ndarray"
    ):
        optim.Adam([Parameter(np.ones(2)), np.ones(2)])


# ----------------------------------------------------------------------------- schedulers
def _lr_sequences(make_ours, make_torch, lrs: list[float], epochs: int) -> tuple[list, list]:
    ours_opt = optim.SGD([{"params": [Parameter(np.zeros(1))], "lr": lr} for lr in lrs], lr=lrs[0])
    torch_opt = torch.optim.SGD(
        [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs], lr=lrs[0]
    )
    ours, theirs = make_ours(ours_opt), make_torch(torch_opt)
    a, b = [], []
    for _ in range(epochs):
        a.append(ours.get_last_lr())
        b.append(theirs.get_last_lr())
        ours_opt.step()
        torch_opt.step()
        ours.step()
        theirs.step()
    assert [g["lr"] for g in ours_opt.param_groups] == [g["lr"] for g in torch_opt.param_groups]
    return a, b


def test_steplr_equals_torch() -> None:
    a, b = _lr_sequences(
        lambda o: optim.StepLR(o, step_size=3, gamma=0.1),
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.1),
        [0.1, 0.03],
        20,
    )
    assert a == b  # exactly the same floats
    assert (
        a[0] == [0.1, 0.03] and a[3][0] == pytest.approx(0.01) and a[6][0] == pytest.approx(0.001)
    )


@pytest.mark.parametrize(("T_max", "eta_min"), [(7, 0.0), (5, 1e-3), (1, 0.0)])
def test_cosine_annealing_equals_torch(T_max: int, eta_min: float) -> None:
    a, b = _lr_sequences(
        lambda o: optim.CosineAnnealingLR(o, T_max=T_max, eta_min=eta_min),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=T_max, eta_min=eta_min),
        [0.1, 0.5],
        4 * T_max + 3,  # past T_max: the bottom branch and the way back up
    )
    assert a == b
    # closed form for the first half period
    for t in range(T_max + 1):
        expected = eta_min + (0.1 - eta_min) * (1 + math.cos(math.pi * t / T_max)) / 2
        assert a[t][0] == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_scheduler_state_dict_round_trip() -> None:
    p = Parameter(np.zeros(1))
    opt = optim.SGD([p], lr=1.0)
    sched = optim.CosineAnnealingLR(opt, T_max=10, eta_min=0.01)
    for _ in range(4):
        sched.step()
    sd_opt = json.loads(json.dumps(optim.flatten_state_dict(opt.state_dict())[1]))
    sd_sched = json.loads(json.dumps(sched.state_dict()))

    q = Parameter(np.zeros(1))
    opt2 = optim.SGD([q], lr=1.0)
    sched2 = optim.CosineAnnealingLR(opt2, T_max=10, eta_min=0.01)
    opt2.load_state_dict(optim.unflatten_state_dict({}, sd_opt))
    sched2.load_state_dict(sd_sched)
    assert sched2.last_epoch == 4 and sched2.get_last_lr() == sched.get_last_lr()
    for _ in range(8):
        sched.step()
        sched2.step()
        assert sched2.get_last_lr() == sched.get_last_lr()
        assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


def test_scheduler_bad_arguments() -> None:
    opt = optim.SGD([Parameter(np.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match=r"StepLR: invalid step_size=0: expected an int >= 1"):
        optim.StepLR(opt, step_size=0)
    with pytest.raises(
        ValueError, match=r"CosineAnnealingLR: invalid T_max=0: expected an int >= 1"
    ):
        optim.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(TypeError, match="StepLR: list is not an Optimizer"):
        optim.StepLR([], step_size=2)
