"""Every compiled kernel (each module of tinyconv/kernels) gives the same bits at 1 thread and
at every core, Numba's threads and tinyconv's block threads alike.

A kernel module added to tinyconv/kernels must add a case here (the first test fails until
it does)."""

from __future__ import annotations

import pkgutil
from collections.abc import Callable

import numpy as np
import pytest

import tinyconv
import tinyconv.functional as F
import tinyconv.kernels as K
from tinyconv import nn, optim
from tinyconv.ops.parallel import get_num_threads, set_num_threads

numba = pytest.importorskip("numba")

Arrays = list[np.ndarray]


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _grads(*ts: tinyconv.Tensor) -> Arrays:
    return [t.grad.numpy().copy() for t in ts]


def case_conv_depthwise() -> Arrays:
    r = _rng(0)
    x = tinyconv.tensor(r.standard_normal((4, 6, 15, 13)).astype(np.float32), requires_grad=True)
    w = tinyconv.tensor(r.standard_normal((12, 1, 3, 3)).astype(np.float32), requires_grad=True)
    y = F.conv2d(x, w, None, 2, 1, groups=6)
    y.backward(tinyconv.tensor(r.standard_normal(y.shape).astype(np.float32)))
    return [y.numpy().copy(), *_grads(x, w)]


def case_fused_conv() -> Arrays:
    from tinyconv.ops.fused import conv2d_relu_max_pool2d

    r = _rng(1)
    x = tinyconv.tensor(r.standard_normal((6, 1, 28, 28)).astype(np.float32), requires_grad=True)
    w = tinyconv.tensor(r.standard_normal((8, 1, 5, 5)).astype(np.float32), requires_grad=True)
    b = tinyconv.tensor(r.standard_normal(8).astype(np.float32), requires_grad=True)
    y = conv2d_relu_max_pool2d(x, w, b, padding=(0, 0), pool=2)
    y.backward(tinyconv.tensor(r.standard_normal(y.shape).astype(np.float32)))
    return [y.numpy().copy(), *_grads(x, w, b)]


def case_loss() -> Arrays:
    r = _rng(2)
    z = tinyconv.tensor(r.standard_normal((300, 17)).astype(np.float32), requires_grad=True)
    t = r.integers(0, 17, 300)
    t[::7] = -100  # ignored rows
    weight = tinyconv.tensor(r.uniform(0.5, 2.0, 17).astype(np.float32))
    loss = F.cross_entropy(z, tinyconv.tensor(t), weight, label_smoothing=0.1)
    loss.backward()
    return [loss.numpy().copy(), *_grads(z)]


def case_optim() -> Arrays:
    out = []
    makers: list[Callable[[list], optim.Optimizer]] = [
        lambda p: optim.Adam(p, lr=1e-2, weight_decay=1e-3),
        lambda p: optim.AdamW(p, lr=1e-2, amsgrad=True),
        lambda p: optim.SGD(p, lr=1e-2, momentum=0.9, nesterov=True, weight_decay=1e-4),
        lambda p: optim.RMSprop(p, lr=1e-3, momentum=0.5, centered=True),
    ]
    for k, make in enumerate(makers):
        r = _rng(10 + k)
        params = [
            nn.Parameter(r.standard_normal(s).astype(np.float32)) for s in ((5000,), (64, 33))
        ]
        opt = make(params)
        for _ in range(3):
            for p in params:
                p.grad = tinyconv.tensor(r.standard_normal(p.shape).astype(np.float32))
            opt.step()
        out += [p.numpy().copy() for p in params]
    return out


def case_channel_affine() -> Arrays:
    from tinyconv.nn.fusion import conv_bn

    r = _rng(3)
    tinyconv.manual_seed(3)
    conv, bn = nn.Conv2d(5, 7, 3, padding=1), nn.BatchNorm2d(7).eval()
    bn.running_mean.data[...] = r.standard_normal(7)
    bn.running_var.data[...] = r.uniform(0.5, 2.0, 7)
    x = tinyconv.tensor(r.standard_normal((6, 5, 11, 9)).astype(np.float32))
    res = tinyconv.tensor(r.standard_normal((6, 7, 11, 9)).astype(np.float32))
    with tinyconv.no_grad():
        a = conv_bn(conv, bn, x, relu=nn.ReLU())
        b = conv_bn(conv, bn, x, residual=res, relu=nn.ReLU())
    return [a.numpy().copy(), b.numpy().copy()]


def case_batch_norm_relu() -> Arrays:
    """Training-mode BatchNorm2d -> ReLU (fused by Sequential), NCHW and channel-major."""
    r = _rng(9)
    out = []
    for cmajor in (False, True):
        x = r.standard_normal((7, 6, 9, 11)).astype(np.float32)
        if cmajor:
            x = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
        tinyconv.manual_seed(9)
        model = nn.Sequential(nn.BatchNorm2d(6), nn.ReLU())
        model[0].bias.data[...] = r.uniform(-0.5, 0.5, 6)
        xt = tinyconv.tensor(x, requires_grad=True)
        y = model(xt)
        y.backward(tinyconv.tensor(r.standard_normal(y.shape).astype(np.float32)))
        bn = model[0]
        out += [y.numpy().copy(), *_grads(xt, bn.weight, bn.bias)]
        out += [bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()]
    return out


def case_conv3x3() -> Arrays:
    """Stride-1 3x3 convolutions (deep3x3's kernels once they are on main), forward and back."""
    r = _rng(5)
    x = tinyconv.tensor(r.standard_normal((6, 16, 12, 11)).astype(np.float32), requires_grad=True)
    w = tinyconv.tensor(r.standard_normal((16, 16, 3, 3)).astype(np.float32), requires_grad=True)
    y = F.conv2d(x, w, None, 1, 1)
    y.backward(tinyconv.tensor(r.standard_normal(y.shape).astype(np.float32)))
    out = [y.numpy().copy(), *_grads(x, w)]
    from tinyconv.ops.fused import ConvRelu  # the fused Conv2d -> ReLU on the same kernels

    x.grad = w.grad = None
    y = ConvRelu.apply(x, w, None, pads=(1, 1, 1, 1), dilation=(1, 1))
    y.backward(tinyconv.tensor(r.standard_normal(y.shape).astype(np.float32)))
    return [*out, y.numpy().copy(), *_grads(x, w)]


def case_conv_transpose() -> Arrays:
    r = _rng(6)
    x = tinyconv.tensor(r.standard_normal((5, 6, 9, 8)).astype(np.float32), requires_grad=True)
    w = tinyconv.tensor(r.standard_normal((6, 4, 3, 3)).astype(np.float32), requires_grad=True)
    b = tinyconv.tensor(r.standard_normal(4).astype(np.float32), requires_grad=True)
    y = F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1)
    y.backward(tinyconv.tensor(r.standard_normal(y.shape).astype(np.float32)))
    return [y.numpy().copy(), *_grads(x, w, b)]


def case_col2im() -> Arrays:
    r = _rng(4)
    # float64 (strided float32 layers go to conv_gemm): dx through the reference's col2im
    x = tinyconv.tensor(r.standard_normal((9, 6, 14, 13)), requires_grad=True)
    w = tinyconv.tensor(r.standard_normal((10, 6, 3, 3)), requires_grad=True)
    y = F.conv2d(x, w, None, 2, 1)
    y.backward(tinyconv.tensor(r.standard_normal(y.shape).astype(np.float32)))
    return [y.numpy().copy(), *_grads(x, w)]


def case_conv_gemm() -> Arrays:
    r = _rng(9)
    x = tinyconv.tensor(r.standard_normal((7, 5, 17, 15)).astype(np.float32), requires_grad=True)
    w = tinyconv.tensor(r.standard_normal((20, 5, 5, 5)).astype(np.float32), requires_grad=True)
    b = tinyconv.tensor(r.standard_normal(20).astype(np.float32), requires_grad=True)
    y = F.conv2d(x, w, b, 2, 2)  # im2col on the tiles, dx by the gathering col2im
    assert y._ctx.gemm == K.enabled()
    y.backward(tinyconv.tensor(r.standard_normal(y.shape).astype(np.float32)))
    return [y.numpy().copy(), *_grads(x, w, b)]


def case_matmul() -> Arrays:
    r = _rng(10)
    x = tinyconv.tensor(r.standard_normal((37, 480)).astype(np.float32), requires_grad=True)
    w = tinyconv.tensor(r.standard_normal((50, 480)).astype(np.float32), requires_grad=True)
    y = F.linear(x, w)  # backward: dx = dy @ W and dW = dy^T @ x on the tiles
    y.backward(tinyconv.tensor(r.standard_normal(y.shape).astype(np.float32)))
    return [y.numpy().copy(), *_grads(x, w)]


def case_pool() -> Arrays:
    r = _rng(7)
    x = tinyconv.tensor(r.standard_normal((5, 7, 13, 12)).astype(np.float32), requires_grad=True)
    y = F.max_pool2d(x, 2)
    y.backward(tinyconv.tensor(r.standard_normal(y.shape).astype(np.float32)))
    return [y.numpy().copy(), *_grads(x)]


CASES: dict[str, Callable[[], Arrays]] = {
    "batch_norm_relu": case_batch_norm_relu,
    "channel_affine": case_channel_affine,
    "col2im": case_col2im,
    "conv3x3": case_conv3x3,
    "conv_tiles": case_conv3x3,  # conv3x3's generated tiles
    "conv_depthwise": case_conv_depthwise,
    "conv_gemm": case_conv_gemm,
    "conv_transpose": case_conv_transpose,
    "fused_conv": case_fused_conv,
    "loss": case_loss,
    "matmul": case_matmul,
    "optim": case_optim,
    "pool": case_pool,
}


def test_every_kernel_module_has_a_thread_count_case() -> None:
    modules = {m.name for m in pkgutil.iter_modules(K.__path__) if not m.name.startswith("_")}
    missing = modules - set(CASES)
    assert not missing, f"add a thread-count case for tinyconv/kernels/{sorted(missing)}"


def _at(threads: int, fn: Callable[[], Arrays]) -> Arrays:
    before_numba, before_blocks = numba.get_num_threads(), get_num_threads()
    try:
        numba.set_num_threads(threads)
        set_num_threads(threads)
        with K.using("numba"):
            return fn()
    finally:
        numba.set_num_threads(before_numba)
        set_num_threads(before_blocks)


@pytest.mark.parametrize("name", sorted(CASES))
def test_kernel_results_do_not_depend_on_the_thread_count(name: str) -> None:
    many = max(2, numba.config.NUMBA_NUM_THREADS)
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one core: Numba cannot run two threads")
    one, all_ = _at(1, CASES[name]), _at(many, CASES[name])
    assert len(one) == len(all_) > 0
    for a, b in zip(one, all_, strict=True):
        np.testing.assert_array_equal(a, b)
    with K.using("numpy"):
        ref = CASES[name]()
    for a, b in zip(one, ref, strict=True):  # and the kernels agree with the reference
        scale = max(float(np.abs(b).max()), 1e-30)
        assert float(np.abs(a - b).max()) <= 1e-5 * scale
