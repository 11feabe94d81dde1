"""The fused Conv2d -> ReLU -> MaxPool2d (ops/fused.py, kernels/fused_conv.py) and its hook in
nn.Sequential: the kernel equals the composition of the NumPy ops and PyTorch, forward and
backward, and the layers stay visible to hooks, summaries and feature maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import gradcheck

import tinyconv
import tinyconv.kernels as K
from tinyconv import models, nn
from tinyconv.ops.fused import ConvReluMaxPool, conv2d_relu_max_pool2d, fusable

numba = pytest.importorskip("numba")

# (N, C, H, W), (FN, FH, FW), padding, pool: SimpleConvNet's layer, odd sizes, rectangular
# kernels, padding, odd maps that the pool's floor crops, pools of 1 and 3
CASES = [
    ((4, 1, 28, 28), (30, 5, 5), (0, 0), 2),
    ((3, 2, 13, 11), (5, 3, 5), (1, 2), 2),
    ((2, 3, 9, 10), (4, 3, 3), (0, 0), 3),
    ((1, 1, 7, 6), (3, 2, 2), (1, 1), 1),
    ((5, 1, 12, 12), (7, 5, 5), (2, 2), 2),
]
IDS = ["simple", "rect-pad", "pool3", "pool1", "pad2"]


def arrays(case: tuple, dtype: type, seed: int = 0) -> list[np.ndarray]:
    (N, C, H, W), (FN, FH, FW), _, pool = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = (rng.standard_normal((FN, C, FH, FW)) * 0.3).astype(dtype)
    # a negative bias offset for larger pools, so that some windows' maxima are cut by the ReLU
    b = (rng.standard_normal(FN) * 0.3 - 0.8 * (pool - 1)).astype(dtype)
    return [x, w, b]


def run(kernels: str, case: tuple, data: list[np.ndarray], dy: np.ndarray) -> list[np.ndarray]:
    """Output and the gradients of x, W, b for one kernel path."""
    with K.using(kernels):
        out, fused = run_active(case, data, dy)
    assert fused == (kernels == "numba")  # the fused op ran exactly when asked for
    return out


def run_active(case: tuple, data: list[np.ndarray], dy: np.ndarray) -> tuple[list, bool]:
    """``run`` on the kernel path already active; and whether the fused op ran."""
    _, _, padding, pool = case
    x, w, b = (tinyconv.tensor(a.copy(), requires_grad=True) for a in data)
    y = conv2d_relu_max_pool2d(x, w, b, padding=padding, pool=pool)
    fused = isinstance(y._ctx, ConvReluMaxPool)
    (y * tinyconv.tensor(dy)).sum().backward()
    return [y.numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()], fused


def rel(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max |b|: the error relative to the array's scale."""
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_equals_the_composition_and_torch(case: tuple, dtype: type) -> None:
    data = arrays(case, dtype)
    with K.using("numpy"):
        shape = conv2d_relu_max_pool2d(*(tinyconv.tensor(a) for a in data), case[2], case[3]).shape
    dy = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    fused, ref = run("numba", case, data, dy), run("numpy", case, data, dy)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in data)
    yt = TF.max_pool2d(TF.relu(TF.conv2d(xt, wt, bt, padding=case[2])), case[3])
    yt.backward(torch.from_numpy(dy))
    theirs = [yt.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()]
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for name, a, r, t in zip(["y", "dx", "dW", "db"], fused, ref, theirs, strict=True):
        assert a.dtype == dtype and a.shape == r.shape
        assert rel(a, r) <= tol, f"{name}: {rel(a, r)} vs the NumPy composition"
        assert rel(a, t) <= tol, f"{name}: {rel(a, t)} vs torch"
    assert (fused[0] > 0).mean() > 0.2 and (fused[0] == 0).any()  # both sides of the ReLU


def test_fused_gradients_by_finite_differences() -> None:
    data = arrays(CASES[1], np.float64, seed=2)
    with K.using("numba"):
        gradcheck(lambda x, w, b: conv2d_relu_max_pool2d(x, w, b, padding=(1, 2)), data)


@pytest.mark.parametrize("case", [CASES[0], CASES[1]], ids=["simple", "rect-pad"])
def test_fused_result_does_not_depend_on_the_thread_count(case: tuple) -> None:
    """The kernels run as image blocks on tinyconv's threads (ops.parallel): 1 or 2 threads,
    and Numba's own thread count, leave every output bit equal."""
    from tinyconv.ops.parallel import get_num_threads, set_num_threads

    data = arrays(case, np.float32, seed=3)
    with K.using("numpy"):
        shape = conv2d_relu_max_pool2d(*(tinyconv.tensor(a) for a in data), case[2], case[3]).shape
    dy = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    before, before_numba = get_num_threads(), numba.get_num_threads()
    results = []
    try:
        for threads, numba_threads in [(1, 1), (2, numba.config.NUMBA_NUM_THREADS), (3, 1)]:
            set_num_threads(threads)
            numba.set_num_threads(numba_threads)
            results.append(run("numba", case, data, dy))
    finally:
        set_num_threads(before)
        numba.set_num_threads(before_numba)
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            np.testing.assert_array_equal(a, b)


def test_fused_kernels_run_from_several_python_threads_at_once() -> None:
    """Two threads (an HTTP server's, say) calling the fused op together: each gets its own
    result. (A Numba ``parallel=True`` kernel on the workqueue layer aborts the process
    when entered from two threads at once; these kernels are serial blocks.)"""
    from concurrent.futures import ThreadPoolExecutor

    data = arrays(CASES[0], np.float32, seed=8)
    dy = np.random.default_rng(9).standard_normal((4, 30, 12, 12)).astype(np.float32)
    alone = run("numba", CASES[0], data, dy)
    with K.using("numba"), ThreadPoolExecutor(4) as pool:  # switched here, not per thread
        together = list(pool.map(lambda _: run_active(CASES[0], data, dy), range(8)))
    for r, fused in together:
        assert fused
        for a, b in zip(alone, r, strict=True):
            np.testing.assert_array_equal(a, b)


def test_no_dx_when_the_input_needs_none() -> None:
    data = arrays(CASES[0], np.float32)
    with K.using("numba"):
        x = tinyconv.tensor(data[0])
        w, b = (tinyconv.tensor(a, requires_grad=True) for a in data[1:])
        conv2d_relu_max_pool2d(x, w, b).sum().backward()
    assert x.grad is None and w.grad is not None and b.grad is not None


def test_cases_the_kernel_does_not_cover_run_the_composition() -> None:
    x = tinyconv.tensor(np.ones((2, 8, 10, 10), np.float32))  # 8*5*5 taps: BLAS is faster
    w = tinyconv.tensor(np.ones((4, 8, 5, 5), np.float32))
    with K.using("numba"):
        assert not fusable(x, w, None, (0, 0), 2)
        assert conv2d_relu_max_pool2d(x, w).shape == (2, 4, 3, 3)
        x16 = tinyconv.tensor(np.ones((2, 1, 10, 10), np.float16))
        assert not fusable(x16, tinyconv.tensor(np.ones((4, 1, 5, 5), np.float16)), None, (0, 0), 2)
    with pytest.raises(
        ValueError, match=r"H_out = \(H_in - F \+ 2P\)/S \+ 1 = \(3 - 5 \+ 2\*0\)/1 \+ 1"
    ):  # the reference's error
        with K.using("numba"):
            conv2d_relu_max_pool2d(tinyconv.tensor(np.ones((1, 1, 3, 3), np.float32)), w[:, :1])


# ---------------------------------------------------------------- the Sequential hook
def fused_ops(model: nn.Module, x: np.ndarray) -> list[str]:
    """Names of the Functions of the graph behind model(x), output first."""
    y = model(tinyconv.tensor(x))
    names, ctx = [], y._ctx
    while ctx is not None:
        names.append(ctx.name)
        parents = [p for p in ctx.parents if p is not None and not isinstance(p, tinyconv.Tensor)]
        ctx = parents[0] if parents else None
    return names


def test_simple_convnet_fuses_its_first_layers_and_keeps_them() -> None:
    model = models.get("simple_convnet")
    x = np.random.default_rng(5).random((3, 1, 28, 28), dtype=np.float32)
    with K.using("numba"):
        ops = fused_ops(model, x)
        assert "ConvReluMaxPool" in ops and "Conv2d" not in ops and "MaxPool" not in ops
        assert [n for n, _ in model.named_children()][:3] == ["conv1", "relu1", "pool1"]
        # a hook on any of the three layers turns the fusion off: the hook sees that layer
        seen = []
        handle = model.relu1.register_forward_hook(lambda m, i, o: seen.append(o.shape))
        ops = fused_ops(model, x)
        handle.remove()
        assert seen == [(3, 30, 24, 24)] and "ConvReluMaxPool" not in ops and "Conv2d" in ops
        assert "ConvReluMaxPool" in fused_ops(model, x)  # and back once the hook is gone
        s = model.summary((1, 28, 28))
        assert "conv1" in str(s) and "pool1" in str(s)
    with K.using("numpy"):
        assert "ConvReluMaxPool" not in fused_ops(model, x)


def test_feature_maps_see_every_layer_with_the_kernels_on() -> None:
    from tinyconv.viz import feature_maps

    model = models.get("simple_convnet")
    x = np.random.default_rng(6).random((1, 28, 28), dtype=np.float32)
    with K.using("numpy"):
        ref = feature_maps(model, x)
    with K.using("numba"):
        got = feature_maps(model, x)
    assert [m.name for m in got] == [m.name for m in ref] and len(got) >= 2
    for a, b in zip(got, ref, strict=True):
        np.testing.assert_allclose(a.maps, b.maps, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("train", [True, False])
def test_simple_convnet_step_equals_the_numpy_path(train: bool) -> None:
    """Three Adam steps of SimpleConvNet (fused layer, loss, optimizer) vs the NumPy path."""
    rng = np.random.default_rng(7)
    x = rng.random((8, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 8)
    results = []
    for kernels in ("numba", "numpy"):
        tinyconv.manual_seed(0)
        model = models.get("simple_convnet", weight_init_std=0.1)
        model.train(train)
        opt = tinyconv.optim.Adam(model.parameters(), lr=1e-3)
        with K.using(kernels):
            for _ in range(3):
                opt.zero_grad()
                loss = tinyconv.functional.cross_entropy(model(tinyconv.tensor(x)), y)
                loss.backward()
                opt.step()
        results.append([p.numpy().copy() for p in model.parameters()] + [loss.numpy()])
    for a, b in zip(*results, strict=True):
        assert rel(a, b) <= 1e-5
