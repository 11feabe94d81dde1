"""The fast paths of issue 5 against the plain reference formulations they replace.

Each fast path (blocked im2col convolution, whole padded rows, the flipped-kernel dx, tiled
max pooling, pooling over valid rectangles, the one-pass batch norm, in-place Adam, threads,
chunks, channel-major layouts, the graph that frees intermediates) is checked equal to the
readable reference: im2col + one matmul + col2im, loops, or the textbook formula. PyTorch
parity of the same ops lives in test_conv.py, test_pool.py and friends.
"""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
import torch

import tinyconv
import tinyconv.functional as F
from tinyconv.ops import conv_blocks as conv_ops
from tinyconv.ops import parallel
from tinyconv.ops.conv import col2im, im2col
from tinyconv.ops.linear import _matmul
from tinyconv.ops.pool import MaxPool


@pytest.fixture
def threads():
    """Restore tinyconv's thread count and the block sizes after a test changes them."""
    saved = (
        parallel.get_num_threads(),
        conv_ops.BLOCK_BYTES,
        conv_ops.BLOCK_COLUMNS,
        conv_ops.ROWS_LIMIT,
        parallel.CHUNK_ELEMENTS,
    )
    yield parallel.set_num_threads
    parallel.set_num_threads(saved[0])
    conv_ops.BLOCK_BYTES, conv_ops.BLOCK_COLUMNS, conv_ops.ROWS_LIMIT = saved[1:4]
    parallel.CHUNK_ELEMENTS = saved[4]


# ------------------------------------------------------------------ the reference convolution
def reference_conv(x, W, b, stride, pad, dilation, groups, dout):
    """The book's way: col = im2col(x); y = col @ W^T + b; dW = dout^T col; dx = col2im(dout W)."""
    N, C, H, Wd = x.shape
    FN, Cg, FH, FW = W.shape
    col = im2col(x, FH, FW, stride, pad, dilation)  # (N*out_h*out_w, C*FH*FW)
    out_h = (H + 2 * pad - dilation * (FH - 1) - 1) // stride + 1
    out_w = (Wd + 2 * pad - dilation * (FW - 1) - 1) // stride + 1
    dy = dout.transpose(0, 2, 3, 1).reshape(-1, FN)  # (N*out_h*out_w, FN)
    K, FNg = Cg * FH * FW, FN // groups
    y = np.empty((col.shape[0], FN))
    dW = np.empty((FN, K))
    dcol = np.empty_like(col)
    for g in range(groups):
        cols, fs = slice(g * K, (g + 1) * K), slice(g * FNg, (g + 1) * FNg)
        Wg = W[fs].reshape(FNg, K)
        y[:, fs] = col[:, cols] @ Wg.T
        dW[fs] = dy[:, fs].T @ col[:, cols]
        dcol[:, cols] = dy[:, fs] @ Wg
    y = (y + b).reshape(N, out_h, out_w, FN).transpose(0, 3, 1, 2)
    dx = col2im(dcol, x.shape, FH, FW, stride, pad, dilation)
    return y, dx, dW.reshape(W.shape), dy.sum(axis=0)


def fast_conv(x, W, b, stride, pad, dilation, groups, dout, dtype=np.float64):
    xt, Wt, bt = (tinyconv.tensor(a, requires_grad=True, dtype=dtype) for a in (x, W, b))
    y = F.conv2d(xt, Wt, bt, stride=stride, padding=pad, dilation=dilation, groups=groups)
    y.backward(dout.astype(dtype))
    return y.numpy(), xt.grad.numpy(), Wt.grad.numpy(), bt.grad.numpy()


CONFIGS = [
    # N, C, H, W, FN, F, stride, pad, dilation, groups
    (5, 3, 9, 11, 4, 3, 1, 1, 1, 1),  # 'same' 3x3: whole padded rows
    (4, 2, 10, 7, 6, 5, 1, 0, 1, 1),  # no padding: junk columns read the next row
    (3, 4, 8, 8, 4, 3, 1, 2, 2, 2),  # dilation, groups, padding = d*(F-1): dx by flipped conv
    (3, 2, 9, 9, 3, 3, 2, 1, 1, 1),  # stride 2: valid grid, col2im for dx
    (2, 2, 7, 6, 2, 3, 1, 3, 1, 1),  # padding > F-1: col2im for dx; bands of padding only
    (3, 4, 6, 9, 8, 1, 1, 0, 1, 4),  # 1x1 depthwise-like groups
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(map(str, c)))
@pytest.mark.parametrize(
    "blocks", [(1 << 20, 512), (1, 1), (2000, 1)], ids=["one-block", "bands", "images"]
)
def test_blocked_conv_equals_im2col_matmul_col2im(cfg, blocks, threads):
    N, C, H, Wd, FN, Fk, S, P, D, G = cfg
    conv_ops.BLOCK_BYTES, conv_ops.BLOCK_COLUMNS = blocks
    rng = np.random.default_rng(sum(cfg))
    x = rng.standard_normal((N, C, H, Wd))
    W = rng.standard_normal((FN, C // G, Fk, Fk))
    b = rng.standard_normal(FN)
    out_h = (H + 2 * P - D * (Fk - 1) - 1) // S + 1
    out_w = (Wd + 2 * P - D * (Fk - 1) - 1) // S + 1
    dout = rng.standard_normal((N, FN, out_h, out_w))
    expected = reference_conv(x, W, b, S, P, D, G, dout)
    for got, want, name in zip(
        fast_conv(x, W, b, S, P, D, G, dout), expected, "y dx dW db".split(), strict=False
    ):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("rows_limit", [0, 10**9], ids=["valid-grid", "whole-rows"])
def test_whole_padded_rows_and_the_valid_grid_agree(rows_limit, threads):
    conv_ops.ROWS_LIMIT = rows_limit
    rng = np.random.default_rng(1)
    x, W, b = (
        rng.standard_normal((3, 4, 8, 9)),
        rng.standard_normal((5, 4, 3, 3)),
        rng.standard_normal(5),
    )
    dout = rng.standard_normal((3, 5, 8, 9))
    expected = reference_conv(x, W, b, 1, 1, 1, 1, dout)
    for got, want in zip(fast_conv(x, W, b, 1, 1, 1, 1, dout), expected, strict=False):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_geometry_picks_whole_rows_only_where_the_junk_is_cheap():
    g = conv_ops._Geometry((100, 16, 28, 28), (16, 16, 3, 3), (1, 1), (1,) * 4, (1, 1), 1, np,
                           np.dtype(np.float32))  # fmt: skip
    assert g.grid_w == 30 and g.out_w == 28  # 16 filters * 2 junk columns < 20 * 28
    g = conv_ops._Geometry((8, 512, 7, 7), (512, 512, 3, 3), (1, 1), (1,) * 4, (1, 1), 1, np,
                           np.dtype(np.float32))  # fmt: skip
    assert g.grid_w == 7  # 512 * 2 > 20 * 7: 29% more products would cost more than they save
    g = conv_ops._Geometry((8, 64, 56, 56), (64, 64, 3, 3), (1, 1), (1,) * 4, (1, 1), 1, np,
                           np.dtype(np.float32))  # fmt: skip
    assert {b[0] + 1 == b[1] for b in g.blocks} == {True}  # one image's col > 1 MiB: bands
    heights = {b[3] - b[2] for b in g.blocks}
    assert len(heights) == 1 and sum(b[3] - b[2] for b in g.blocks) == 8 * 56  # equal bands


def test_threads_do_not_change_a_single_bit(threads):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 3, 12, 12)).astype(np.float32)
    W = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    dout = rng.standard_normal((6, 8, 12, 12)).astype(np.float32)
    conv_ops.BLOCK_BYTES, conv_ops.BLOCK_COLUMNS = 1, 1  # many blocks
    results = []
    for n in (1, 2, 3):
        threads(n)
        results.append(fast_conv(x, W, b, 1, 1, 1, 1, dout, dtype=np.float32))
    for other in results[1:]:
        for a, c in zip(results[0], other, strict=False):
            assert a.dtype == np.float32
            np.testing.assert_array_equal(a, c)


def test_conv_output_is_a_channel_major_view_and_dx_too():
    x = tinyconv.tensor(np.ones((2, 3, 5, 5), np.float32), requires_grad=True)
    w = tinyconv.tensor(np.ones((4, 3, 3, 3), np.float32), requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    assert y.shape == (2, 4, 5, 5) and y.data.strides[1] > y.data.strides[0]  # (C, N, H, W)
    y.sum().backward()
    assert x.grad.data.strides[1] > x.grad.data.strides[0]
    assert x.grad.numpy()[0, 0, 2, 2] == 4 * 9  # every filter, every tap


# ------------------------------------------------------------------ pooling
def naive_max_pool(x, k, s, p):
    """Loops, with PyTorch's rule: the first maximum in row-major window order wins."""
    N, C, H, W = x.shape
    oh, ow = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    y = np.empty((N, C, oh, ow))
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(oh):
                for j in range(ow):
                    best, where = -np.inf, None
                    for a in range(k):
                        for b in range(k):
                            r, q = i * s + a - p, j * s + b - p
                            if (
                                0 <= r < H
                                and 0 <= q < W
                                and (where is None or x[n, c, r, q] > best)
                            ):
                                best, where = x[n, c, r, q], (r, q)
                    y[n, c, i, j] = best
                    dx[n, c, where[0], where[1]] += 1.0
    return y, dx


@pytest.mark.parametrize("k,s,p", [(2, 2, 0), (3, 3, 0), (3, 2, 1), (2, 1, 0), (2, 2, 1)])
@pytest.mark.parametrize("layout", ["nchw", "channel-major"])
def test_max_pool_paths_equal_loops_with_ties(k, s, p, layout, threads):
    parallel.CHUNK_ELEMENTS = 16  # several chunks on two threads
    threads(2)
    rng = np.random.default_rng(k * 10 + s)
    x = rng.integers(0, 3, (3, 4, 7, 8)).astype(np.float64)  # many ties
    if layout == "channel-major":
        x = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    y_ref, dx_ref = naive_max_pool(x, k, s, p)
    t = tinyconv.tensor(x, requires_grad=True, dtype=np.float64)
    y = F.max_pool2d(t, k, s, p)
    y.backward(np.ones(y.shape))
    np.testing.assert_array_equal(y.numpy(), y_ref)
    np.testing.assert_array_equal(t.grad.numpy(), dx_ref)
    cm = layout == "channel-major"
    assert (y.data.strides[1] > y.data.strides[0]) == cm  # the output keeps x's layout
    assert (t.grad.data.strides[1] > t.grad.data.strides[0]) == cm


def test_tiled_path_covers_stride_equal_kernel_without_padding():
    x = np.arange(2 * 2 * 5 * 5, dtype=np.float32).reshape(2, 2, 5, 5)  # odd: a row left over
    t = tinyconv.tensor(x, requires_grad=True)
    y = MaxPool.apply(t, kernel=(2, 2), stride=(2, 2), padding=(0, 0), out_hw=(2, 2), mode="max")
    assert y._ctx.saved[6] is True  # the tiled flag
    y.sum().backward()
    assert t.grad.numpy()[:, :, 4, :].sum() == 0 and t.grad.numpy()[:, :, :, 4].sum() == 0
    assert t.grad.numpy().sum() == 2 * 2 * 4


def test_max_pool_ignores_padding_even_when_every_value_is_minus_infinity():
    x = np.full((1, 1, 4, 4), -np.inf, np.float32)
    t = tinyconv.tensor(x, requires_grad=True)
    F.max_pool2d(t, 3, 2, 1).sum().backward()
    tt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(tt, 3, 2, 1).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), tt.grad.numpy())


# ------------------------------------------------------------------ ReLU, batch norm, Linear
def test_relu_in_chunks_equals_the_formula(threads):
    parallel.CHUNK_ELEMENTS = 7
    threads(2)
    x = np.random.default_rng(3).standard_normal((5, 3, 4, 4))
    x[0, 0, 0, :2] = 0.0  # relu'(0) = 0, as PyTorch
    t = tinyconv.tensor(x, requires_grad=True, dtype=np.float64)
    y = F.relu(t)
    g = np.random.default_rng(4).standard_normal(x.shape)
    y.backward(g)
    np.testing.assert_array_equal(y.numpy(), np.maximum(x, 0))
    np.testing.assert_array_equal(t.grad.numpy(), g * (x > 0))
    assert not np.signbit(y.numpy()).any()  # no -0.0


@pytest.mark.parametrize("slope", [0.2, -0.5, 1.5])
def test_leaky_relu_in_chunks_on_a_channel_major_input_equals_the_formula(threads, slope):
    parallel.CHUNK_ELEMENTS = 7
    threads(2)
    x = np.random.default_rng(3).standard_normal((3, 5, 4, 4))
    x[0, 0, 0, :2] = 0.0  # leaky'(0) = slope, as PyTorch
    cm = x.transpose(1, 0, 2, 3)  # (N, C, H, W) view of channel-major memory, as after a conv
    t = tinyconv.tensor(cm, requires_grad=True, dtype=np.float64)
    y = F.leaky_relu(t, slope)
    g = np.random.default_rng(4).standard_normal(cm.shape)
    y.backward(g)
    np.testing.assert_array_equal(y.numpy(), np.where(cm > 0, cm, cm * slope))
    np.testing.assert_array_equal(t.grad.numpy(), np.where(cm > 0, g, g * slope))
    tt = torch.tensor(cm, requires_grad=True)
    torch.nn.functional.leaky_relu(tt, slope).backward(torch.from_numpy(g))
    np.testing.assert_array_equal(t.grad.numpy(), tt.grad.numpy())


@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_inference_pass_equals_the_normalising_formula(affine):
    rng = np.random.default_rng(5)
    bn = tinyconv.nn.BatchNorm2d(3, affine=affine).eval()
    bn.running_mean.data[...] = rng.standard_normal(3).astype(np.float32)
    bn.running_var.data[...] = rng.random(3).astype(np.float32) + 0.5
    if affine:
        bn.weight.data[...] = rng.standard_normal(3).astype(np.float32)
        bn.bias.data[...] = rng.standard_normal(3).astype(np.float32)
    x = rng.standard_normal((4, 3, 5, 5)).astype(np.float32)
    with tinyconv.no_grad():
        fast = bn(tinyconv.tensor(x)).numpy()
    slow = bn(tinyconv.tensor(x, requires_grad=True)).numpy()  # keeps xhat for backward
    mean, var = bn.running_mean.numpy()[:, None, None], bn.running_var.numpy()[:, None, None]
    ref = (x - mean) / np.sqrt(var + 1e-5)
    if affine:
        ref = ref * bn.weight.numpy()[:, None, None] + bn.bias.numpy()[:, None, None]
    assert fast.dtype == slow.dtype == np.float32
    np.testing.assert_allclose(fast, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(slow, ref, rtol=1e-5, atol=1e-5)


def test_threaded_matmul_rows_equal_one_product(threads):
    threads(2)
    rng = np.random.default_rng(6)
    a = rng.standard_normal((64, 700)).astype(np.float32)
    b = rng.standard_normal((700, 90)).astype(np.float32)
    np.testing.assert_allclose(_matmul(a, b), a @ b, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(_matmul(a.T.copy().T, b), a @ b, rtol=1e-5, atol=1e-4)


# ------------------------------------------------------------------ Adam in place
def reference_adam(p, grads, lr, betas, eps, wd, amsgrad, decoupled):
    m, v, vmax = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p * (1 - lr * wd)
        elif wd:
            g = g + wd * p
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        vmax = np.maximum(vmax, v)
        vv = vmax if amsgrad else v
        p = p - lr / (1 - betas[0] ** t) * m / (np.sqrt(vv) / np.sqrt(1 - betas[1] ** t) + eps)
    return p


@pytest.mark.parametrize(
    "wd,amsgrad,cls", [(0.0, False, "Adam"), (0.1, True, "Adam"), (0.1, False, "AdamW")]
)
def test_in_place_chunked_adam_equals_the_formula(wd, amsgrad, cls, threads):
    parallel.CHUNK_ELEMENTS = 50  # the 30x40 weight goes in chunks over two threads
    threads(2)
    rng = np.random.default_rng(7)
    p0 = rng.standard_normal((30, 40))
    grads = [rng.standard_normal((30, 40)) for _ in range(4)]
    w = tinyconv.nn.Parameter(p0.copy())
    opt = getattr(tinyconv.optim, cls)([w], lr=0.01, weight_decay=wd, amsgrad=amsgrad)
    for g in grads:
        w.grad = tinyconv.tensor(g, dtype=np.float64)
        opt.step()
    ref = reference_adam(p0, grads, 0.01, (0.9, 0.999), 1e-8, wd, amsgrad, cls == "AdamW")
    np.testing.assert_allclose(w.numpy(), ref, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ float32 end to end
def test_every_op_of_a_training_step_stays_float32():
    rng = np.random.default_rng(8)
    x = tinyconv.tensor(rng.standard_normal((4, 3, 12, 12)).astype(np.float32), requires_grad=True)
    net = tinyconv.nn.Sequential(
        tinyconv.nn.Conv2d(3, 4, 3, padding=1),
        tinyconv.nn.BatchNorm2d(4),
        tinyconv.nn.ReLU(),
        tinyconv.nn.MaxPool2d(2),
        tinyconv.nn.Conv2d(4, 4, 3, stride=2, padding=1),
        tinyconv.nn.ReLU(),
        tinyconv.nn.MaxPool2d(3, 1, 1),
        tinyconv.nn.AvgPool2d(2),
        tinyconv.nn.Flatten(),
        tinyconv.nn.Dropout(0.5),
        tinyconv.nn.Linear(4 * 1 * 1, 5),
    )
    h, seen = x, []
    for layer in net:
        h = layer(h)
        seen.append((type(layer).__name__, h.dtype))
    y = F.conv_transpose2d(x, tinyconv.tensor(np.ones((3, 2, 3, 3), np.float32)), stride=2)
    seen.append(("ConvTranspose2d", y.dtype))
    loss = F.cross_entropy(h, tinyconv.tensor(np.array([0, 1, 2, 3]))) + y.mean()
    seen.append(("cross_entropy", loss.dtype))
    assert all(dt == np.float32 for _, dt in seen), seen
    opt = tinyconv.optim.Adam(net.parameters())
    loss.backward()
    opt.step()
    assert x.grad.dtype == np.float32
    for name, p in net.named_parameters():
        assert p.dtype == np.float32 and p.grad.dtype == np.float32, name
        assert all(s.dtype == np.float32 for s in opt.state[p].values() if hasattr(s, "dtype"))


# ------------------------------------------------------------------ the graph frees what it can
def test_an_intermediate_array_dies_once_no_backward_needs_it():
    x = tinyconv.tensor(np.ones((2, 1, 6, 6), np.float32))
    w = tinyconv.tensor(np.full((3, 1, 3, 3), 0.1, np.float32), requires_grad=True)
    h = F.conv2d(x, w, padding=1)  # ReLU saves only its mask, not h
    alive = weakref.ref(h.data.base if h.data.base is not None else h.data)
    y = F.relu(h)
    del h
    gc.collect()
    assert alive() is None
    y.sum().backward()
    # every output is positive; summed over a filter's taps, dW counts the taps inside the
    # 6x6 image: 16 interior pixels x 9, 16 edge pixels x 6, 4 corners x 4, for 2 images
    np.testing.assert_allclose(
        w.grad.numpy().sum(axis=(1, 2, 3)), [2 * (16 * 9 + 16 * 6 + 4 * 4)] * 3
    )


def test_a_second_backward_through_freed_arrays_is_an_error():
    w = tinyconv.tensor(np.ones(3, np.float32), requires_grad=True)
    loss = (w * w).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="a second time"):
        loss.backward()
    loss2 = (w * w).sum()
    loss2.backward(retain_graph=True)
    loss2.backward()  # kept: fine, and the gradients add up
    np.testing.assert_array_equal(w.grad.numpy(), [6.0, 6.0, 6.0])


# ------------------------------------------------------------------ the thread helpers
def test_run_blocks_runs_every_block_once_and_reraises(threads):
    threads(3)
    hits = np.zeros(10, int)

    def fn(worker, k):
        assert 0 <= worker < 3
        hits[k] += 1

    parallel.run_blocks(fn, 10)
    assert hits.tolist() == [1] * 10

    def bad(worker, k):
        if k == 7:
            raise ValueError("block 7")

    with pytest.raises(ValueError, match="block 7"):
        parallel.run_blocks(bad, 10)


def test_for_chunks_covers_the_outer_axis_in_memory(threads):
    parallel.CHUNK_ELEMENTS = 8
    threads(2)
    x = np.ascontiguousarray(np.arange(60.0).reshape(3, 4, 5).transpose(1, 0, 2)).transpose(1, 0, 2)
    y = np.zeros_like(x)
    axes = []

    def fn(i):
        axes.append(next(a for a, s in enumerate(i) if s != slice(None)))
        y[i] = x[i] * 2

    parallel.for_chunks(fn, x)
    np.testing.assert_array_equal(y, x * 2)
    assert set(axes) == {1}  # x is (1, 0, 2) in memory: axis 1 is outermost


def test_set_num_threads_checks_its_argument(threads):
    with pytest.raises(ValueError, match="positive int"):
        parallel.set_num_threads(0)
    threads(1)
    assert parallel.get_num_threads() == 1 and parallel.workers_for(10) == 1


def test_keep_freed_memory_reports_whether_it_applied():
    assert parallel.keep_freed_memory() in (True, False)


@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training_on_channel_major_rows_equals_the_general_path(affine, threads):
    parallel.CHUNK_ELEMENTS = 40  # a few channels per chunk, on two threads
    threads(2)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 5, 3, 6)) * 3 + 1
    g = rng.standard_normal(x.shape)
    results = []
    for layout in ("nchw", "channel-major"):
        xa = (
            x
            if layout == "nchw"
            else np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
        )
        bn = tinyconv.nn.BatchNorm2d(5, affine=affine).to(np.float64)
        if affine:
            bn.weight.data[...] = np.linspace(0.5, 2, 5)
            bn.bias.data[...] = np.linspace(-1, 1, 5)
        t = tinyconv.tensor(xa, requires_grad=True, dtype=np.float64)
        y = bn(t)
        assert (y.data.strides[1] > y.data.strides[0]) == (layout == "channel-major")
        y.backward(g)
        results.append(
            [y.numpy(), t.grad.numpy(), bn.running_mean.numpy(), bn.running_var.numpy()]
            + ([bn.weight.grad.numpy(), bn.bias.grad.numpy()] if affine else [])
        )
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
    tt = torch.tensor(x, requires_grad=True)
    ref = torch.nn.BatchNorm2d(5, affine=affine).double()
    if affine:
        with torch.no_grad():
            ref.weight.copy_(torch.linspace(0.5, 2, 5, dtype=torch.float64))
            ref.bias.copy_(torch.linspace(-1, 1, 5, dtype=torch.float64))
    ref(tt).backward(torch.tensor(g))
    np.testing.assert_allclose(results[1][1], tt.grad.numpy(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(results[1][3], ref.running_var.numpy(), rtol=1e-9, atol=1e-9)
