"""GradScaler against torch.amp.GradScaler step for step, autocast, and the GPU-less path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinyconv
from tinyconv import amp, nn, optim

# The scripted run: x_t scaled by these factors. 1e36 keeps the loss finite but makes the
# scaled gradient (about 1e36 * S / 15 > 3.4e38) overflow to inf; NaN poisons a step outright.
FACTORS = [1, 1, 1e36, 1, 1, 1, 1, 1, float("nan"), 1, 1, 1, 1, 1e36, 1, 1, 1, 1, 1, 1]


def _scripted(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for f in FACTORS:
        x = rng.standard_normal((5, 4)).astype(np.float32) * np.float32(f)
        y = rng.standard_normal((5, 3)).astype(np.float32)
        out.append((x, y))
    return out


@pytest.mark.parametrize("opt_name", ["Adam", "SGD"])
def test_grad_scaler_matches_torch_step_for_step(opt_name: str) -> None:
    rng = np.random.default_rng(0)
    W = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    batches = _scripted(rng)
    kwargs = {"lr": 0.05} if opt_name == "Adam" else {"lr": 0.05, "momentum": 0.9}
    # a short growth interval and a small initial scale exercise growth and back-off alike
    settings = {"init_scale": 2.0**16, "growth_interval": 3}

    lin = nn.Linear(4, 3)
    lin.weight.data[...] = W
    lin.bias.data[...] = b
    opt = getattr(optim, opt_name)(lin.parameters(), **kwargs)
    scaler = amp.GradScaler(**settings)

    tlin = torch.nn.Linear(4, 3)
    with torch.no_grad():
        tlin.weight.copy_(torch.from_numpy(W))
        tlin.bias.copy_(torch.from_numpy(b))
    topt = getattr(torch.optim, opt_name)(tlin.parameters(), **kwargs)
    tscaler = torch.amp.GradScaler("cpu", **settings)

    skipped, tskipped, scales = [], [], []
    with np.errstate(over="ignore", invalid="ignore"):
        for x, y in batches:
            before = lin.weight.numpy().copy()
            opt.zero_grad()
            loss = (lin(tinyconv.tensor(x)) * tinyconv.tensor(y)).mean()  # linear in W: finite
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            skipped.append(bool(np.array_equal(before, lin.weight.numpy())))

            tbefore = tlin.weight.detach().clone()
            topt.zero_grad()
            tloss = (tlin(torch.from_numpy(x)) * torch.from_numpy(y)).mean()
            tscaler.scale(tloss).backward()
            tscaler.step(topt)
            tscaler.update()
            tskipped.append(bool(torch.equal(tbefore, tlin.weight.detach())))

            assert scaler.get_scale() == tscaler.get_scale()
            scales.append(scaler.get_scale())
            assert scaler.state_dict() == tscaler.state_dict()
            np.testing.assert_allclose(lin.weight.numpy(), tlin.weight.detach().numpy(), atol=1e-6)
            np.testing.assert_allclose(lin.bias.numpy(), tlin.bias.detach().numpy(), atol=1e-6)
    assert skipped == tskipped
    # steps 3, 9 and 14 overflowed (inf, NaN, inf): skipped, everything else stepped
    assert [i for i, s in enumerate(skipped) if s] == [2, 8, 13]
    assert scaler.skipped_steps == 3
    # halved after each overflow, doubled after every 3 clean steps in a row
    k = 2.0**15
    assert scales == [2 * k, 2 * k, k, k, k, 2 * k, 2 * k, 2 * k, k, k, k, 2 * k, 2 * k, k,
                      k, k, 2 * k, 2 * k, 2 * k, 4 * k]  # fmt: skip
    assert np.isfinite(lin.weight.numpy()).all()


def test_grad_scaler_defaults_and_growth_like_torch() -> None:
    s, t = amp.GradScaler(), torch.amp.GradScaler("cpu")
    assert s.state_dict() == t.state_dict()
    assert s.get_scale() == 65536.0
    assert (s.get_growth_factor(), s.get_backoff_factor(), s.get_growth_interval()) == (
        2.0,
        0.5,
        2000,
    )
    # 2000 clean steps double the scale, an overflow halves it
    w = nn.Parameter(tinyconv.tensor([1.0]))
    opt = optim.SGD([w], lr=0.0)
    for _ in range(2000):
        w.grad = tinyconv.tensor([1.0])
        s.step(opt)
        s.update()
    assert s.get_scale() == 131072.0 and s.state_dict()["_growth_tracker"] == 0
    w.grad = tinyconv.tensor([np.inf])
    s.step(opt)
    s.update()
    assert s.get_scale() == 65536.0 and s.last_step_skipped


def test_grad_scaler_misuse_and_state_dict() -> None:
    w = nn.Parameter(tinyconv.tensor([1.0, 2.0]))
    opt = optim.SGD([w], lr=0.1)
    s = amp.GradScaler(init_scale=8.0)
    w.grad = tinyconv.tensor([8.0, 16.0])
    s.unscale_(opt)
    assert w.grad.tolist() == [1.0, 2.0]  # divided by the scale
    with pytest.raises(RuntimeError, match="already been called"):
        s.unscale_(opt)
    s.step(opt)  # does not unscale twice
    np.testing.assert_allclose(w.numpy(), [0.9, 1.8], rtol=1e-6)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        s.step(opt)
    s.update()
    with pytest.raises(RuntimeError, match="no inf checks"):
        s.update()
    s2 = amp.GradScaler()
    s2.load_state_dict(s.state_dict())
    assert (
        s2.state_dict()
        == s.state_dict()
        == {
            "scale": 8.0,
            "growth_factor": 2.0,
            "backoff_factor": 0.5,
            "growth_interval": 2000,
            "_growth_tracker": 1,
        }
    )
    off = amp.GradScaler(enabled=False)
    loss = tinyconv.tensor(3.0)
    assert off.scale(loss) is loss and off.get_scale() == 1.0 and off.state_dict() == {}
    w16 = nn.Parameter(tinyconv.tensor([1.0], dtype="float16"))
    w16.grad = tinyconv.tensor([1.0], dtype="float16")
    with pytest.raises(ValueError, match="float16 gradients"):
        amp.GradScaler().unscale_(optim.SGD([w16], lr=0.1))
    with pytest.raises(ValueError, match="growth_factor"):
        amp.GradScaler(growth_factor=1.0)


def test_float16_forward_overflow_skips_step_and_halves_scale() -> None:
    """A float16 activation above 65504 is inf: the step is skipped, the weights stay finite."""
    tinyconv.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    model[0].weight.data[:2] = 0.5  # two units sum 4 * 0.5 * 4e4 = 8e4 > 65504: inf in float16
    opt = optim.Adam(model.parameters(), lr=1e-3)
    scaler = amp.GradScaler()
    before = [p.numpy().copy() for p in model.parameters()]
    x = tinyconv.tensor(np.full((2, 4), 4e4, dtype=np.float32))  # 4e4 itself is a float16
    y = tinyconv.tensor(np.array([0, 2]))
    with np.errstate(over="ignore", invalid="ignore"):
        with amp.autocast("float16"):
            h = model[0](x)
            out = model[2](model[1](h))
            loss = tinyconv.functional.cross_entropy(out, y)
        assert h.dtype == np.float16 and not np.isfinite(h.numpy()).all()  # the overflow
        assert loss.dtype == np.float32
        opt.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    assert scaler.get_scale() == 32768.0 and scaler.last_step_skipped
    for p, b in zip(model.parameters(), before, strict=True):
        assert p.dtype == np.float32
        np.testing.assert_array_equal(p.numpy(), b)  # skipped entirely: not even Adam's state
    assert not opt.state or all(not s for s in opt.state.values())
    # the next, ordinary batch steps again
    with amp.autocast("float16"):
        loss = tinyconv.functional.cross_entropy(model(x * 1e-5), y)
    opt.zero_grad()
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    assert not scaler.last_step_skipped and scaler.get_scale() == 32768.0
    assert all(np.isfinite(p.numpy()).all() for p in model.parameters())
    assert not np.array_equal(model[0].weight.numpy(), before[0])


def test_autocast_dtypes_and_master_gradients() -> None:
    """Under autocast: linear/conv in 16 bits, loss in float32, float32 grads on the weights."""
    tinyconv.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    x = tinyconv.tensor(np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32))
    y = tinyconv.tensor(np.array([0, 1]))
    for dt in ("float16", "bfloat16"):
        seen = {}
        with amp.autocast(dt):
            assert amp.get_autocast_dtype().name == dt and amp.is_autocast_enabled()
            h = model[0](x)
            seen["conv"] = h.dtype.name
            logits = model[3](model[2](model[1](h)))
            seen["linear"] = logits.dtype.name
            logp = tinyconv.functional.log_softmax(logits, dim=1)
            loss = tinyconv.functional.cross_entropy(logits, y)
        assert seen == {"conv": dt, "linear": dt}
        assert logp.dtype == np.float32 and loss.dtype == np.float32
        assert amp.get_autocast_dtype() is None
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            assert p.grad.dtype == np.float32 and np.isfinite(p.grad.numpy()).all()
        assert float(np.abs(model[0].weight.grad.numpy()).sum()) > 0
    with pytest.raises(ValueError, match="16-bit"):
        with amp.autocast("float32"):
            pass


def test_cuda_is_not_available_here_and_to_cuda_says_what_to_install() -> None:
    try:
        import cupy  # noqa: F401

        pytest.skip("CuPy is installed: this checks the error without it")
    except ImportError:
        pass
    assert tinyconv.cuda.is_available() is False
    assert tinyconv.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match=r"tinyconv\[cuda\]"):
        tinyconv.tensor([1.0]).to("cuda")
    with pytest.raises(RuntimeError, match=r"tinyconv\[cuda\]"):
        nn.Linear(2, 2).to("cuda")
    with pytest.raises(RuntimeError, match=r"tinyconv\[cuda\]"):
        tinyconv.cuda.check_available()
