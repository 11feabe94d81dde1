"""Training-mode BatchNorm2d -> ReLU as one compiled operation (ops/fused.py: BatchNormRelu,
kernels/batch_norm_relu.py, chosen by nn/fusion.py: bn_relu): the layers' values (float32
rounding) and PyTorch's, forward, backward and running statistics; used only where the rule
says."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from helpers import gradcheck

import tinyconv
import tinyconv.kernels as K
from tinyconv import amp, nn, optim
from tinyconv.ops.fused import BatchNormRelu

numba = pytest.importorskip("numba")


def _pair(C: int, **bn_args: Any) -> nn.Sequential:
    tinyconv.manual_seed(0)
    model = nn.Sequential(nn.BatchNorm2d(C, **bn_args), nn.ReLU())
    model.bn_args = bn_args
    bn = model[0]
    if bn.affine:  # not 1 and 0, so that weight and bias matter
        rng = np.random.default_rng(5)
        bn.weight.data[...] = rng.uniform(0.5, 1.5, C)
        bn.bias.data[...] = rng.uniform(-0.5, 0.5, C)
    return model


def _copy(model: nn.Sequential) -> nn.Sequential:
    other = _pair(model[0].num_features, **model.bn_args)
    if model[0].weight is not None and model[0].weight.dtype == np.float64:
        other = other.double()
    other.load_state_dict(model.state_dict())
    return other


def _step(model: nn.Sequential, x: np.ndarray, dy: np.ndarray, fuse: bool) -> dict[str, Any]:
    """Forward and backward once; the fused path under K.using("numba") or the layers one by
    one under K.using("numpy")."""
    with K.using("numba" if fuse else "numpy"):
        xt = tinyconv.tensor(x, requires_grad=True)
        y = model(xt)
        (y * tinyconv.tensor(dy)).sum().backward()
    bn = model[0]
    out = {"y": y.numpy(), "dx": xt.grad.numpy(), "fused": isinstance(y._ctx, BatchNormRelu)}
    if bn.affine:
        out["dw"], out["db"] = bn.weight.grad.numpy().copy(), bn.bias.grad.numpy().copy()
        bn.weight.grad = bn.bias.grad = None
    if bn.track_running_stats:
        out["rm"], out["rv"] = bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()
        out["nb"] = int(bn.num_batches_tracked.numpy())
    return out


def _close(a: dict[str, Any], b: dict[str, Any], rtol: float = 1e-5, atol: float = 1e-5) -> None:
    assert set(a) == set(b)
    for k in a:
        if not isinstance(a[k], np.ndarray):
            continue
        scale = max(float(np.nanmax(np.abs(b[k]))), 1.0)
        np.testing.assert_allclose(a[k], b[k], rtol=rtol, atol=atol * scale, err_msg=k)


def _without_channel(out: dict[str, Any], c: int) -> dict[str, Any]:
    """The arrays of a ``_step`` result without channel c."""
    return {k: np.delete(v, c, axis=1 if v.ndim == 4 else 0)
            for k, v in out.items() if isinstance(v, np.ndarray)}  # fmt: skip


def _channel_major(x: np.ndarray) -> np.ndarray:
    """x's values in (C, N, H, W) memory, as a convolution's output."""
    return np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)


CASES = [
    ((3, 5, 7, 9), {}, False),
    ((3, 5, 7, 9), {}, True),
    ((100, 32, 14, 14), {}, True),  # fast_mnist's first pair
    ((4, 6, 5, 3), {"affine": False}, False),
    ((4, 6, 5, 3), {"track_running_stats": False}, True),
    ((2, 3, 1, 1), {"momentum": None}, False),  # M = 2, cumulative average
    ((2, 3, 17, 19), {"eps": 1e-3, "momentum": 0.3}, False),  # H*W > the kernel's 256 lanes
]


@pytest.mark.parametrize("case", CASES, ids=["odd", "odd-cmajor", "fast-mnist", "no-affine",
                                             "no-stats", "tiny-cumulative", "wide"])  # fmt: skip
def test_bn_relu_equals_the_layers_and_torch(case):
    shape, bn_args, cmajor = case
    rng = np.random.default_rng(1)
    C = shape[1]
    x = (rng.standard_normal(shape) * rng.uniform(0.5, 3, (1, C, 1, 1)) + 0.3).astype(np.float32)
    if cmajor:
        x = _channel_major(x)
    fused_model = _pair(C, **bn_args)
    ref_model = _copy(fused_model)
    tm = torch.nn.Sequential(torch.nn.BatchNorm2d(C, **bn_args), torch.nn.ReLU())
    if fused_model[0].affine:
        with torch.no_grad():
            tm[0].weight.copy_(torch.from_numpy(fused_model[0].weight.numpy()))
            tm[0].bias.copy_(torch.from_numpy(fused_model[0].bias.numpy()))
    for step in range(3):  # running statistics over several steps
        dy = rng.standard_normal(shape).astype(np.float32)
        f = _step(fused_model, x + np.float32(step), dy, fuse=True)
        r = _step(ref_model, x + np.float32(step), dy, fuse=False)
        assert f["fused"] and not r["fused"]
        assert (f["y"] == 0).any() and (f["y"] > 0).any()  # the ReLU cut some values
        assert f["y"].strides == x.strides  # x's memory layout
        _close(f, r)
        if "nb" in f:
            assert f["nb"] == r["nb"] == step + 1
        xt = torch.from_numpy(np.ascontiguousarray(x + np.float32(step))).requires_grad_(True)
        yt = tm(xt)
        yt.backward(torch.from_numpy(dy))
        t = {"y": yt.detach().numpy(), "dx": xt.grad.numpy(), "fused": True}
        if tm[0].affine:
            t["dw"], t["db"] = tm[0].weight.grad.numpy().copy(), tm[0].bias.grad.numpy().copy()
            tm[0].weight.grad = tm[0].bias.grad = None
        if tm[0].track_running_stats:
            t["rm"], t["rv"] = tm[0].running_mean.numpy(), tm[0].running_var.numpy()
            t["nb"] = int(tm[0].num_batches_tracked)
        _close(f, t, rtol=1e-4, atol=1e-4)


def test_bn_relu_results_do_not_depend_on_the_layout_and_keep_relu_rules():
    """NCHW and channel-major inputs give the same bits; a channel all below zero after the
    affine map passes no gradient to its bias; a NaN in a channel makes that channel NaN in y
    and dx (as the layers), the other channels untouched; ReLU's gradient is cut at NaN."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 5, 7, 9)).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    model = _pair(5)
    model[0].bias.data[1] = -100.0  # channel 1: y = 0 everywhere
    a = _step(_copy(model), x, dy, fuse=True)
    b = _step(_copy(model), _channel_major(x), dy, fuse=True)
    for k in ("y", "dx", "dw", "db", "rm", "rv"):
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert a["fused"] and b["fused"]
    assert (a["y"][:, 1] == 0).all() and (a["dx"][:, 1] == 0).all()
    assert a["db"][1] == 0.0 and a["dw"][1] == 0.0 and a["db"][0] != 0.0

    xn = x.copy()
    xn[1, 3, 2, 4] = np.nan
    f = _step(_copy(model), xn, dy, fuse=True)
    r = _step(_copy(model), xn, dy, fuse=False)
    assert f["fused"] and not r["fused"]
    for k in ("y", "dx", "dw", "db", "rm", "rv"):
        np.testing.assert_array_equal(np.isnan(f[k]), np.isnan(r[k]), err_msg=k)
    assert np.isnan(f["y"][:, 3]).all() and not np.isnan(np.delete(f["y"], 3, axis=1)).any()
    assert np.isnan(f["rm"][3]) and np.isnan(f["dw"][3]) and f["db"][3] == 0.0
    _close(_without_channel(f, 3), _without_channel(r, 3))

    dyn = dy.copy()
    dyn[0, 1, 0, 0] = np.nan  # a NaN gradient where ReLU cut: NaN * 0 is NaN, as the layers
    f = _step(_copy(model), x, dyn, fuse=True)
    r = _step(_copy(model), x, dyn, fuse=False)
    for k in ("dx", "dw", "db"):
        np.testing.assert_array_equal(np.isnan(f[k]), np.isnan(r[k]), err_msg=k)
    assert np.isnan(f["db"][1])


def test_bn_relu_float64_gradients_by_finite_differences():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 3, 4)) + 0.2
    w = rng.uniform(0.5, 1.5, 3)
    b = rng.uniform(-0.3, 0.3, 3)

    def fn(xt: tinyconv.Tensor, wt: tinyconv.Tensor, bt: tinyconv.Tensor) -> tinyconv.Tensor:
        return BatchNormRelu.apply(xt, wt, bt, running_mean=None, running_var=None,
                                   momentum=0.1, eps=1e-5)  # fmt: skip

    with K.using("numba"):
        gradcheck(fn, [x, w, b], atol=1e-6, rtol=1e-5)
        model = _pair(3).double()
        ref_model = _copy(model)
        f = _step(model, _channel_major(x), np.ones_like(x), fuse=True)
    assert f["fused"] and f["y"].dtype == np.float64
    ref = _step(ref_model, x, np.ones_like(x), fuse=False)
    _close(f, ref, rtol=1e-12, atol=1e-12)


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = BatchNormRelu.apply.__func__

    def apply(cls: type, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(BatchNormRelu, "apply", classmethod(apply))
    return calls


def test_bn_relu_is_fused_only_where_the_rule_says(monkeypatch):
    calls = _spy(monkeypatch)
    rng = np.random.default_rng(4)
    x = tinyconv.tensor(rng.standard_normal((4, 6, 5, 5)).astype(np.float32))

    def fused(model: nn.Module, inp: tinyconv.Tensor = x, kernels: str = "numba") -> bool:
        calls.clear()
        with K.using(kernels):
            y = model(inp)
        assert y.shape[0] == inp.shape[0] and float(y.numpy().min()) == 0.0
        return bool(calls)

    assert fused(_pair(6))
    assert fused(nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU()),
                 tinyconv.tensor(rng.standard_normal((4, 3, 5, 5)).astype(np.float32)))  # fmt: skip
    assert fused(nn.Sequential(nn.BatchNorm2d(6), nn.ReLU(inplace=True)))
    with tinyconv.no_grad():  # training mode without autograd fuses too (nothing saved)
        assert fused(_pair(6))
    assert not fused(_pair(6), kernels="numpy")
    assert not fused(_pair(6).eval())  # eval: conv_bn's case, or layer by layer
    hooked = _pair(6)
    hooked[1].register_forward_hook(lambda m, i, o: None)
    assert not fused(hooked)
    hooked = _pair(6)
    hooked[0].register_forward_hook(lambda m, i, o: None)
    assert not fused(hooked)

    class MyBN(nn.BatchNorm2d):
        pass

    class MyReLU(nn.ReLU):
        pass

    assert not fused(nn.Sequential(MyBN(6), nn.ReLU()))
    assert not fused(nn.Sequential(nn.BatchNorm2d(6), MyReLU()))
    assert not fused(nn.Sequential(nn.BatchNorm2d(6), nn.Identity(), nn.ReLU()))
    with amp.autocast("float16"):
        calls.clear()
        with K.using("numba"):
            _pair(6)(x)
        assert not calls
    strided = tinyconv.tensor(rng.standard_normal((4, 6, 5, 10)).astype(np.float32)[..., ::2])
    assert not fused(_pair(6), strided)  # not a plane layout
    with K.using("numba"):
        with pytest.raises(ValueError, match="more than 1 value per channel"):
            _pair(6)(tinyconv.tensor(np.ones((1, 6, 1, 1), np.float32)))  # layer's own error
        with pytest.raises(ValueError, match="channels"):
            _pair(5)(x)
    assert not calls


def test_fast_mnist_like_training_is_the_same_fused_or_layer_by_layer(monkeypatch):
    """Three Adam steps of fast_mnist's network (two fused pairs on channel-major convolution
    outputs) give the layers' losses within 1e-5, the first step's gradients within float32
    rounding. The layer-by-layer run has the kernels on too (a no-op hook on each batch norm
    switches only this fusion off), so the convolutions are the same code."""
    calls = _spy(monkeypatch)
    rng = np.random.default_rng(0)
    x = tinyconv.tensor(rng.random((16, 1, 28, 28), dtype=np.float32))
    labels = tinyconv.tensor(rng.integers(0, 10, 16))
    runs = []
    for hooked in (False, True):
        tinyconv.manual_seed(0)
        model = nn.Sequential(
            nn.Conv2d(1, 32, 5, stride=2, padding=2), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10),
        )  # fmt: skip
        if hooked:
            for i in (1, 4):
                model[i].register_forward_hook(lambda m, i, o: None)
        opt = optim.Adam(model.parameters(), lr=3e-3)
        losses, grads = [], []
        with K.using("numba"):
            for _ in range(3):
                opt.zero_grad()
                loss = tinyconv.functional.cross_entropy(model(x), labels)
                loss.backward()
                if not grads:
                    grads = [p.grad.numpy().copy() for p in model.parameters()]
                opt.step()
                losses.append(loss.item())
        stats = [model[i].running_var.numpy().copy() for i in (1, 4)]
        runs.append((losses, grads, stats))
        if not hooked:
            assert len(calls) == 6  # two pairs, three steps
            calls.clear()
    assert not calls  # the hooks switched the fusion off
    (lf, gf, sf), (lr, gr, sr) = runs
    assert lf[2] < lf[0]  # it learns
    np.testing.assert_allclose(lf, lr, rtol=1e-5)
    # (the convolutions' bias gradients are 0 up to rounding, the batch norm removes any
    # shift: compare every gradient against the largest one's scale)
    scale = max(float(np.abs(b).max()) for b in gr)
    for a, b in zip(gf, gr, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * scale)
    for a, b in zip(sf, sr, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4)
