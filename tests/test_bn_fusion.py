"""Conv2d -> BatchNorm2d (-> + shortcut) (-> ReLU) fused at evaluation (nn.fusion.conv_bn,
kernels/channel_affine.py): the same bits as the layers run one by one on the NumPy path,
PyTorch's values, no stale results after weights or statistics change, and every layer
still visible to hooks."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import tinyconv
import tinyconv.kernels as K
from tinyconv import models, nn
from tinyconv.nn import fusion
from tinyconv.nn.fusion import conv_bn

numba = pytest.importorskip("numba")
sys.path.insert(0, str(Path(__file__).parent))
import torch_reference_models as ref  # noqa: E402


def randomise_bn(model: nn.Module, seed: int = 1) -> None:
    """Running statistics and affine parameters away from 0/1, so that the fold is tested."""
    rng = np.random.default_rng(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            C = m.num_features
            m.running_mean.data[...] = rng.standard_normal(C) * 0.2
            m.running_var.data[...] = rng.uniform(0.3, 2.0, C)
            if m.weight is not None:
                m.weight.data[...] = rng.uniform(0.5, 1.5, C)
                m.bias.data[...] = rng.standard_normal(C) * 0.2


def forward(model: nn.Module, x: np.ndarray, path: str, grad: bool = False) -> np.ndarray:
    """One forward on a kernel path; ``path="layers"``: the compiled kernels (the same
    convolutions) with the conv-BN fusion off, every layer run on its own."""
    fold = fusion._foldable
    if path == "layers":
        fusion._foldable = lambda *args: False
    try:
        with K.using("numba" if path == "layers" else path):
            if grad:
                return model(tinyconv.tensor(x)).numpy().copy()
            with tinyconv.no_grad():
                return model(tinyconv.tensor(x)).numpy().copy()
    finally:
        fusion._foldable = fold


def close(a: np.ndarray, b: np.ndarray, tol: float = 1e-5) -> bool:
    """max |a - b| <= tol * max |b|: equal to float precision (the compiled convolutions sum
    in another order than the NumPy reference)."""
    return float(np.abs(a - b).max()) <= tol * max(float(np.abs(b).max()), 1e-30)


def count_batch_norms(model: nn.Module, x: np.ndarray, path: str) -> int:
    """How many BatchNorm Functions ran in one no-grad forward (0: all fused)."""
    from tinyconv.ops import norm

    calls = []
    original = norm.BatchNorm.forward

    def spy(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls.append(1)
        return original(self, *args, **kwargs)

    norm.BatchNorm.forward = spy
    try:
        forward(model, x, path)
    finally:
        norm.BatchNorm.forward = original
    return len(calls)


@pytest.fixture(scope="module")
def resnet20() -> nn.Module:
    tinyconv.manual_seed(0)
    m = models.get("resnet20").eval()
    randomise_bn(m)
    return m


def test_resnet_eval_fused_equals_the_layers_bit_for_bit(resnet20: nn.Module) -> None:
    x = np.random.default_rng(0).standard_normal((3, 3, 32, 32)).astype(np.float32)
    got = forward(resnet20, x, "numba")
    np.testing.assert_array_equal(got, forward(resnet20, x, "layers"))
    assert close(got, forward(resnet20, x, "numpy"))
    assert count_batch_norms(resnet20, x, "numba") == 0  # every conv - BN pair fused
    assert count_batch_norms(resnet20, x, "numpy") == 19


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_imagenet_resnets_fused_match_the_layers_and_pytorch(name: str) -> None:
    tinyconv.manual_seed(0)
    model = models.get(name, num_classes=10).eval()
    randomise_bn(model)
    x = np.random.default_rng(2).standard_normal((2, 3, 64, 64)).astype(np.float32)
    got = forward(model, x, "numba")
    np.testing.assert_array_equal(got, forward(model, x, "layers"))
    assert close(got, forward(model, x, "numpy"))
    twin = getattr(ref, name)(num_classes=10).eval()
    state = {k: torch.from_numpy(v) for k, v in models.torch_state_dict(model).items()}
    twin.load_state_dict(state, strict=True)
    with torch.no_grad():
        expect = twin(torch.from_numpy(x)).numpy()
    assert np.abs(got - expect).max() <= 1e-5 * np.abs(expect).max()


def test_no_stale_result_after_weights_or_statistics_change(resnet20: nn.Module) -> None:
    x = np.random.default_rng(3).standard_normal((2, 3, 32, 32)).astype(np.float32)
    before = forward(resnet20, x, "numba")
    conv, bn = resnet20.conv1, resnet20.bn1
    saved = [t.data.copy() for t in (conv.weight, bn.running_var, bn.weight)]
    try:
        conv.weight.data *= 1.5  # in place, as an optimizer step
        bn.running_var.data[...] = bn.running_var.data * 2
        bn.weight.data = bn.weight.data[::-1].copy()  # a new array
        got = forward(resnet20, x, "numba")
        np.testing.assert_array_equal(got, forward(resnet20, x, "layers"))
        assert close(got, forward(resnet20, x, "numpy"))
        assert not np.allclose(got, before)
    finally:
        conv.weight.data[...], bn.running_var.data[...], bn.weight.data = saved


def test_train_eval_switching_and_running_statistics() -> None:
    tinyconv.manual_seed(0)
    a, b = models.get("resnet20"), models.get("resnet20")
    b.load_state_dict(a.state_dict())
    rng = np.random.default_rng(4)
    for _ in range(3):
        x = rng.standard_normal((4, 3, 32, 32)).astype(np.float32)
        a.train(), b.train()
        got = forward(a, x, "numba", grad=True)
        np.testing.assert_array_equal(got, forward(b, x, "layers", grad=True))
        a.eval(), b.eval()
        np.testing.assert_array_equal(forward(a, x, "numba"), forward(b, x, "layers"))
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        np.testing.assert_array_equal(va.numpy(), vb.numpy(), err_msg=k)  # running stats
    c = models.get("resnet20")  # and the NumPy reference, to float precision
    c.load_state_dict(b.state_dict())
    c.eval()
    assert close(forward(a, x, "numba"), forward(c, x, "numpy"))


def test_eval_with_gradients_runs_the_layers(resnet20: nn.Module) -> None:
    """Eval mode but autograd on (Grad-CAM, fine-tuning with frozen statistics): no fusion,
    the gradients equal the reference's."""
    x = np.random.default_rng(5).standard_normal((2, 3, 32, 32)).astype(np.float32)
    grads = {}
    for path in ("numba", "numpy"):
        resnet20.zero_grad()
        with K.using(path):
            xt = tinyconv.tensor(x, requires_grad=True)
            resnet20(xt).sum().backward()
        grads[path] = [xt.grad.numpy().copy(), resnet20.conv1.weight.grad.numpy().copy()]
    for g, r in zip(grads["numba"], grads["numpy"], strict=True):
        assert close(g, r)


def test_hooks_see_every_layer_and_disable_the_fusion(resnet20: nn.Module) -> None:
    x = np.random.default_rng(6).standard_normal((2, 3, 32, 32)).astype(np.float32)
    seen = {}
    block = resnet20.layer1[0]

    def keep(name: str):  # noqa: ANN202
        def hook(mod, inp, out) -> None:  # noqa: ANN001
            seen.setdefault(name, out.numpy().copy())

        return hook

    handles = [
        m.register_forward_hook(keep(n)) for n, m in (("bn1", block.bn1), ("conv2", block.conv2))
    ]
    try:
        got = forward(resnet20, x, "numba")
    finally:
        for h in handles:
            h.remove()
    np.testing.assert_array_equal(got, forward(resnet20, x, "layers"))
    with K.using("numba"), tinyconv.no_grad():
        stem = resnet20.relu(resnet20.bn1(resnet20.conv1(tinyconv.tensor(x))))
        inner = block.bn1(block.conv1(stem))
    np.testing.assert_array_equal(seen["bn1"], inner.numpy())  # the BN's own output, pre-ReLU
    assert seen["conv2"].shape == (2, 16, 32, 32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("residual", [None, "nchw", "channel-major"])
def test_conv_bn_function(dtype: type, relu: bool, residual: str | None) -> None:
    """Odd sizes, a conv bias, stride, padding, dilation and groups; residuals of either
    memory layout; against the layers on the NumPy path (bits) and PyTorch."""
    rng = np.random.default_rng(7)
    conv = nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)
    bn = nn.BatchNorm2d(6).eval()
    conv.to(dtype), bn.to(dtype)
    randomise_bn(bn)
    x = tinyconv.tensor(rng.standard_normal((3, 4, 9, 7)).astype(dtype))
    shape = (3, 6, 5, 9)
    r = rng.standard_normal(shape).astype(dtype)
    if residual == "channel-major":
        r = np.ascontiguousarray(r.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    r_t = None if residual is None else tinyconv.tensor(r)
    act = nn.ReLU() if relu else None
    out = {}
    for path in ("numba", "numpy"):
        with K.using(path), tinyconv.no_grad():
            out[path] = conv_bn(conv, bn, x, residual=r_t, relu=act).numpy()
    np.testing.assert_array_equal(out["numba"], out["numpy"])
    tc = torch.nn.Conv2d(4, 6, (3, 2), (2, 1), (1, 2), (1, 2), groups=2).to(torch.float64)
    tb = torch.nn.BatchNorm2d(6).to(torch.float64).eval()
    with torch.no_grad():
        tc.weight.copy_(torch.from_numpy(conv.weight.numpy().astype(np.float64)))
        tc.bias.copy_(torch.from_numpy(conv.bias.numpy().astype(np.float64)))
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(tb, name).copy_(torch.from_numpy(getattr(bn, name).numpy().astype(np.float64)))
        e = tb(tc(torch.from_numpy(x.numpy().astype(np.float64))))
        if residual is not None:
            e = e + torch.from_numpy(r.astype(np.float64))
        e = torch.relu(e) if relu else e
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert np.abs(out["numba"] - e.numpy()).max() <= tol * np.abs(e.numpy()).max()


def test_sequential_conv_bn_relu_fuses_and_keeps_the_conv_relu_pool_fusion() -> None:
    tinyconv.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 5, 3), nn.ReLU(), nn.MaxPool2d(2),  # simple2x's fused run
        nn.Conv2d(5, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(3, 2, 1),
        nn.Conv2d(8, 8, 1, stride=2), nn.BatchNorm2d(8),  # a projection shortcut: no ReLU
        nn.Flatten(), nn.Linear(8 * 2 * 2, 3),
    ).eval()  # fmt: skip
    randomise_bn(model)
    x = np.random.default_rng(8).standard_normal((4, 1, 14, 14)).astype(np.float32)
    got, want = forward(model, x, "numba"), forward(model, x, "numpy")
    # the fused conv - ReLU - pool kernel contracts into FMAs: equal to float precision
    assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()
    assert count_batch_norms(model, x, "numba") == 0
    # training: batch statistics; the BatchNorm2d -> ReLU pair runs as one BatchNormRelu
    # (bn_relu), the projection's batch norm (no ReLU after it) as the layer
    model.train()
    assert count_batch_norms(model, x, "numba") == 1


def test_fusion_needs_the_kernels_and_plain_classes() -> None:
    class MyBN(nn.BatchNorm2d):
        pass

    tinyconv.manual_seed(0)
    conv, bn, mine = nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3).eval(), MyBN(3).eval()
    x = np.random.default_rng(9).standard_normal((2, 2, 6, 6)).astype(np.float32)
    model = nn.Sequential(conv, mine)
    assert count_batch_norms(model, x, "numba") == 1  # a subclass may differ: not fused
    model = nn.Sequential(conv, bn)
    assert count_batch_norms(model, x, "numpy") == 1
    assert count_batch_norms(model, x, "numba") == 0


def test_onnx_export_still_sees_the_batch_norms(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    import onnx

    from tinyconv import onnx as tonnx

    tinyconv.manual_seed(0)
    model = models.get("resnet20").eval()
    path = tmp_path / "r.onnx"
    with K.using("numba"):
        tonnx.export(model, str(path), (3, 32, 32))
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops.count("BatchNormalization") == 19 and ops.count("Relu") == 19


@pytest.mark.parametrize("layer", ["direct-3x3", "gemm-strided", "gemm-wide"])
@pytest.mark.parametrize("residual", [None, "nchw", "channel-major"])
def test_conv_bn_in_the_kernels_output_pass(layer: str, residual: str | None) -> None:
    """A float32 convolution on the compiled kernels (conv3x3's direct tiles, conv_gemm) gets the
    batch norm, the residual and the ReLU as its outputs are unpacked: the same bits as that
    convolution followed by the separate channel_affine pass, and PyTorch's values."""
    import contextlib
    from unittest import mock

    from tinyconv.kernels import conv3x3

    C, FN, stride, H = {"direct-3x3": (16, 24, 1, 9), "gemm-strided": (5, 7, 2, 11),
                        "gemm-wide": (136, 130, 1, 5)}[layer]  # fmt: skip
    rng = np.random.default_rng(11)
    tinyconv.manual_seed(3)
    conv = nn.Conv2d(C, FN, 3, stride=stride, padding=1)
    bn = nn.BatchNorm2d(FN).eval()
    randomise_bn(bn)
    x = tinyconv.tensor(rng.standard_normal((3, C, H, H + 1)).astype(np.float32))
    out_h, out_w = (H - 1) // stride + 1, H // stride + 1
    r = rng.standard_normal((3, FN, out_h, out_w)).astype(np.float32)
    if residual == "channel-major":
        r = np.ascontiguousarray(r.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    r_t = None if residual is None else tinyconv.tensor(r)
    calls = []
    real = conv3x3.unpack_epilogue

    def spy(*a):
        calls.append(a[-1] is not None)
        return real(*a)

    with K.using("numba"), tinyconv.no_grad():
        with mock.patch.object(conv3x3, "unpack_epilogue", spy):
            if layer != "direct-3x3":
                from tinyconv.kernels import conv_gemm

                ctx = mock.patch.object(conv_gemm, "unpack_epilogue", spy)
            else:
                ctx = contextlib.nullcontext()
            with ctx:
                fused = conv_bn(conv, bn, x, residual=r_t, relu=nn.ReLU()).numpy()
        assert calls and all(calls)  # the epilogue ran in the kernels' output pass
        y = conv(x).numpy().copy()  # the same convolution on the kernels, then the pass
    from tinyconv.kernels import channel_affine
    from tinyconv.ops.norm import norm_affine

    a, c = norm_affine(np.float32, bn.weight.numpy(), bn.bias.numpy(), bn.running_mean.numpy(),
                       bn.running_var.numpy(), bn.eps)  # fmt: skip
    want = channel_affine.affine_add_relu(y, a, c, None if residual is None else r, True)
    np.testing.assert_array_equal(fused, want)
    with K.using("numpy"), tinyconv.no_grad():
        ref = conv_bn(conv, bn, x, residual=r_t, relu=nn.ReLU()).numpy()
    assert np.abs(fused - ref).max() <= 1e-5 * np.abs(ref).max()
