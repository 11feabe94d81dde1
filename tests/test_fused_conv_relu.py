"""Conv2d -> ReLU on the compiled 3x3 kernels as one operation (ops/fused.py: ConvRelu, chosen
by nn/fusion.py: conv_relu): the same values as the two layers run one by one (bit for bit),
as the NumPy reference and PyTorch, forward and backward; used only where the rule says."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinyconv
import tinyconv.kernels as K
from tinyconv import models, nn
from tinyconv.ops.fused import ConvRelu

numba = pytest.importorskip("numba")

# (N, C, H, W), filters, padding, dilation: DeepConvNet's shapes, odd sizes, a first layer,
# padding 2 on one axis, dilation, no bias
CASES = [
    ((3, 16, 28, 28), 16, (1, 1), (1, 1), True),
    ((2, 1, 11, 9), 16, (1, 1), (1, 1), True),
    ((2, 19, 7, 10), 21, (2, 0), (1, 1), True),
    ((2, 32, 8, 8), 64, (1, 1), (2, 1), False),
]


def _layers(C: int, FN: int, P: tuple, d: tuple, bias: bool, seed: int = 0) -> nn.Sequential:
    tinyconv.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(C, FN, 3, padding=P, dilation=d, bias=bias), nn.ReLU())


def _run(model: nn.Sequential, x: np.ndarray, dy: np.ndarray, hook: bool = False) -> tuple:
    """y, dx and the parameter gradients; ``hook``: a forward hook (no fusion)."""
    handle = model[0].register_forward_hook(lambda m, i, o: None) if hook else None
    xt = tinyconv.tensor(x, requires_grad=True)
    y = model(xt)
    fused = isinstance(y._ctx, ConvRelu)
    (y * tinyconv.tensor(dy)).sum().backward()
    grads = [p.grad.numpy().copy() for p in model.parameters()]
    for p in model.parameters():
        p.grad = None
    if handle is not None:
        handle.remove()
    return y.numpy(), xt.grad.numpy(), grads, fused


@pytest.mark.parametrize("case", CASES, ids=["deep", "first", "odd-pad2", "dilated-nobias"])
def test_conv_relu_equals_the_layers_the_reference_and_torch(case):
    xs, FN, P, d, bias = case
    rng = np.random.default_rng(1)
    x = rng.standard_normal(xs).astype(np.float32)
    model = _layers(xs[1], FN, P, d, bias)
    with K.using("numba"):
        y, dx, grads, fused = _run(model, x, np.ones((1,), np.float32))
        out_shape = y.shape
        dy = rng.standard_normal(out_shape).astype(np.float32)
        y, dx, grads, fused = _run(model, x, dy)
        y1, dx1, grads1, fused1 = _run(model, x, dy, hook=True)  # layer by layer
    assert fused and not fused1
    assert (y > 0).any() and (y == 0).any()  # the ReLU cut some outputs
    np.testing.assert_array_equal(y, y1)
    np.testing.assert_array_equal(dx, dx1)
    for g, g1 in zip(grads, grads1, strict=True):
        np.testing.assert_array_equal(g, g1)
    with K.using("numpy"):
        yr, dxr, gradsr, fusedr = _run(model, x, dy)
    assert not fusedr
    np.testing.assert_allclose(y, yr, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, dxr, rtol=1e-5, atol=1e-4)
    for g, gr in zip(grads, gradsr, strict=True):
        np.testing.assert_allclose(g, gr, rtol=1e-5, atol=1e-3)
    conv = torch.nn.Conv2d(xs[1], FN, 3, padding=P, dilation=d, bias=bias)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(model[0].weight.numpy()))
        if bias:
            conv.bias.copy_(torch.from_numpy(model[0].bias.numpy()))
    xt = torch.from_numpy(x).requires_grad_(True)
    yt = torch.relu(conv(xt))
    yt.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(grads[0], conv.weight.grad.numpy(), rtol=1e-4, atol=1e-2)


def test_conv_relu_is_fused_only_where_the_rule_says():
    rng = np.random.default_rng(0)
    x = tinyconv.tensor(rng.standard_normal((2, 16, 8, 8)).astype(np.float32))
    with K.using("numba"):
        assert isinstance(_layers(16, 16, (1, 1), (1, 1), True)(x)._ctx, ConvRelu)
        tinyconv.manual_seed(0)
        strided = nn.Sequential(nn.Conv2d(16, 16, 3, stride=2, padding=1), nn.ReLU())
        assert not isinstance(strided(x)._ctx, ConvRelu)  # not a direct-kernel convolution
        x64 = tinyconv.tensor(x.numpy().astype(np.float64))
        m64 = _layers(16, 16, (1, 1), (1, 1), True).double()
        assert not isinstance(m64(x64)._ctx, ConvRelu)
        with tinyconv.no_grad():  # inference fuses too, keeping no mask
            y = _layers(16, 16, (1, 1), (1, 1), True)(x)
        assert y.shape == (2, 16, 8, 8) and float(y.numpy().min()) == 0.0
    with K.using("numpy"):
        assert not isinstance(_layers(16, 16, (1, 1), (1, 1), True)(x)._ctx, ConvRelu)


def test_deep_convnet_step_is_the_same_fused_or_layer_by_layer():
    """DeepConvNet's six Conv2d -> ReLU pairs run fused; its loss and gradients equal the
    layer-by-layer run (hooks on every layer switch the fusion off)."""
    rng = np.random.default_rng(0)
    x = tinyconv.tensor(rng.random((4, 1, 28, 28), dtype=np.float32))
    y = tinyconv.tensor(rng.integers(0, 10, 4))
    out = []
    for hooked in (False, True):
        tinyconv.manual_seed(0)
        model = models.get("deep_convnet").eval()  # eval: no dropout masks to differ
        if hooked:
            for m in model.modules():
                m.register_forward_hook(lambda m, i, o: None)
        with K.using("numba"):
            loss = tinyconv.functional.cross_entropy(model(x), y)
            loss.backward()
        out.append((loss.item(), [p.grad.numpy().copy() for p in model.parameters()]))
    assert out[0][0] == out[1][0]
    for a, b in zip(out[0][1], out[1][1], strict=True):
        np.testing.assert_array_equal(a, b)


POOL_CASES = [
    ((3, 16, 28, 28), 16, (1, 1), True),  # DeepConvNet's conv2
    ((2, 19, 9, 11), 21, (2, 0), True),  # odd maps: the pool's floor drops a row / column
    ((2, 32, 8, 8), 64, (1, 1), False),  # no bias
]


@pytest.mark.parametrize("case", POOL_CASES, ids=["deep", "odd", "nobias"])
def test_conv_relu_pool_on_the_direct_kernels_equals_the_layers(case):
    """Conv2d -> ReLU -> MaxPool2d(2) with many channels: ConvReluMaxPool on the 3x3 kernels,
    the same bits as the three layers one by one (hooks), near the reference and PyTorch;
    NaN and ties included."""
    from tinyconv.ops.fused import ConvReluMaxPool

    xs, FN, P, bias = case
    rng = np.random.default_rng(2)
    x = rng.standard_normal(xs).astype(np.float32)
    x[0, :, :2, :2] = 0.0  # windows of equal (zero) outputs: ties
    x[-1, 0, 3, 3] = np.nan  # a NaN spreads through the 3x3 taps
    tinyconv.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(xs[1], FN, 3, padding=P, bias=bias), nn.ReLU(),
                          nn.MaxPool2d(2))  # fmt: skip
    with K.using("numba"):
        xt = tinyconv.tensor(x, requires_grad=True)
        assert isinstance(model(xt)._ctx, ConvReluMaxPool)
        assert model(xt)._ctx.direct
        shape = model(xt).shape
        dy = rng.standard_normal(shape).astype(np.float32)
        y, dx, grads, _ = _run(model, x, dy)
        y1, dx1, grads1, _ = _run(model, x, dy, hook=True)
    assert np.isnan(y).any() and (y == 0).any() and (y > 0).any()
    np.testing.assert_array_equal(y, y1)
    np.testing.assert_array_equal(dx, dx1)
    for g, g1 in zip(grads, grads1, strict=True):
        np.testing.assert_array_equal(g, g1)
    ok = ~np.isnan(x).any(axis=(1, 2, 3))  # images without the NaN: against the reference
    with K.using("numpy"):
        yr, dxr, gradsr, _ = _run(model, x[ok], dy[ok])
    with K.using("numba"):
        yk, dxk, gradsk, _ = _run(model, x[ok], dy[ok])
    np.testing.assert_allclose(yk, yr, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dxk, dxr, rtol=1e-5, atol=1e-4)
    for g, gr in zip(gradsk, gradsr, strict=True):
        np.testing.assert_allclose(g, gr, rtol=1e-5, atol=1e-3)
    conv = torch.nn.Conv2d(xs[1], FN, 3, padding=P, bias=bias)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(model[0].weight.numpy()))
        if bias:
            conv.bias.copy_(torch.from_numpy(model[0].bias.numpy()))
    xt = torch.from_numpy(x[ok]).requires_grad_(True)
    yt = torch.nn.functional.max_pool2d(torch.relu(conv(xt)), 2)
    yt.backward(torch.from_numpy(dy[ok]))
    np.testing.assert_allclose(yk, yt.detach().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dxk, xt.grad.numpy(), rtol=1e-4, atol=1e-3)
