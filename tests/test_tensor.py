"""Tensor, autograd and the basic ops: PyTorch parity (float32), finite differences (float64)."""

import numpy as np
import pytest
import torch

import tinyconv
from tests.helpers import check_vs_torch, gradcheck

rng = np.random.default_rng(0)


def r(*shape):
    return rng.standard_normal(shape)


BINARY = [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / (b * b + 1.0)),
    ("pow", lambda a, b: (a * a + 1.0) ** b),
]
SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((5,), ())]


@pytest.mark.parametrize("name,fn", BINARY, ids=[b[0] for b in BINARY])
@pytest.mark.parametrize("sa,sb", SHAPES)
def test_binary_broadcast_vs_torch(name, fn, sa, sb):
    check_vs_torch(fn, fn, [r(*sa), r(*sb)])


@pytest.mark.parametrize("name,fn", BINARY, ids=[b[0] for b in BINARY])
def test_binary_gradcheck(name, fn):
    gradcheck(fn, [r(2, 3), r(3)])


UNARY = [
    ("neg", lambda x: -x, lambda x: -x),
    ("exp", lambda x: x.exp(), lambda x: x.exp()),
    ("log", lambda x: (x * x + 1.0).log(), lambda x: (x * x + 1.0).log()),
    ("sqrt", lambda x: (x * x + 1.0).sqrt(), lambda x: (x * x + 1.0).sqrt()),
    ("abs", lambda x: x.abs(), lambda x: x.abs()),
    ("pow3", lambda x: x**3, lambda x: x**3),
    ("rsub", lambda x: 2.0 - x, lambda x: 2.0 - x),
    ("rdiv", lambda x: 1.0 / (x * x + 1.0), lambda x: 1.0 / (x * x + 1.0)),
    ("sum", lambda x: x.sum(), lambda x: x.sum()),
    ("sum_dim", lambda x: x.sum(1), lambda x: x.sum(1)),
    ("sum_keep", lambda x: x.sum((0, 2), keepdim=True), lambda x: x.sum((0, 2), keepdim=True)),
    ("mean", lambda x: x.mean(), lambda x: x.mean()),
    ("mean_dim", lambda x: x.mean(-1), lambda x: x.mean(-1)),
    ("max_dim", lambda x: x.max(1), lambda x: x.amax(1)),
    ("min_all", lambda x: x.min(), lambda x: x.amin()),
    ("reshape", lambda x: x.reshape(4, -1), lambda x: x.reshape(4, -1)),
    ("permute", lambda x: x.permute(2, 0, 1), lambda x: x.permute(2, 0, 1)),
    ("transpose", lambda x: x.transpose(0, 2), lambda x: x.transpose(0, 2)),
    ("getitem", lambda x: x[1:, ::2, 0], lambda x: x[1:, ::2, 0]),
    ("flatten", lambda x: x.flatten(1), lambda x: x.flatten(1)),
    ("unsqueeze", lambda x: x.unsqueeze(1), lambda x: x.unsqueeze(1)),
]


@pytest.mark.parametrize("name,f_tc,f_t", UNARY, ids=[u[0] for u in UNARY])
def test_unary_vs_torch(name, f_tc, f_t):
    check_vs_torch(f_tc, f_t, [r(2, 3, 4)])


@pytest.mark.parametrize("name,f_tc,f_t", UNARY, ids=[u[0] for u in UNARY])
def test_unary_gradcheck(name, f_tc, f_t):
    gradcheck(f_tc, [r(2, 3, 4)])


def test_advanced_indexing_accumulates_repeats():
    idx = np.array([0, 2, 0, 0])
    check_vs_torch(lambda x: x[idx], lambda x: x[torch.tensor(idx)], [r(3, 2)])


def test_matmul_shapes_vs_torch():
    for sa, sb in [
        ((3, 4), (4, 5)),
        ((2, 3, 4), (4, 5)),
        ((2, 3, 4), (2, 4, 5)),
        ((4,), (4, 5)),
        ((3, 4), (4,)),
    ]:
        check_vs_torch(lambda a, b: a @ b, lambda a, b: a @ b, [r(*sa), r(*sb)])
    gradcheck(lambda a, b: a @ b, [r(2, 3, 4), r(4, 2)])


def test_cat_and_stack_vs_torch():
    check_vs_torch(
        lambda a, b, c: tinyconv.cat([a, b, c], dim=1),
        lambda a, b, c: torch.cat([a, b, c], dim=1),
        [r(2, 1, 3), r(2, 4, 3), r(2, 2, 3)],
    )
    check_vs_torch(
        lambda a, b: tinyconv.stack([a, b], 1),
        lambda a, b: torch.stack([a, b], 1),
        [r(2, 3), r(2, 3)],
    )
    gradcheck(lambda a, b: tinyconv.cat([a, b], dim=0), [r(1, 3), r(2, 3)])


def test_tensor_used_twice_accumulates():
    """A skip connection y = f(x) + x must sum both paths' gradients."""
    x = tinyconv.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x + x).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 5.0, 7.0])


def test_deep_graph_does_not_recurse():
    x = tinyconv.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y + 1.0
    y.sum().backward()
    assert x.grad.numpy().tolist() == [1.0]


def test_leaf_grads_accumulate_across_backward_calls():
    x = tinyconv.tensor([2.0], requires_grad=True)
    (x * 3.0).sum().backward()
    (x * 3.0).sum().backward()
    assert x.grad.numpy().tolist() == [6.0]


def test_no_grad_and_detach():
    x = tinyconv.tensor([1.0, 2.0], requires_grad=True)
    with tinyconv.no_grad():
        y = x * 2
    assert not y.requires_grad and y.is_leaf
    z = (x * 2).detach()
    assert not z.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_backward_needs_scalar_or_gradient():
    x = tinyconv.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="one-element"):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, 10.0], dtype=np.float32))
    assert x.grad.numpy().tolist() == [2.0, 20.0]


def test_default_dtype_float32_and_no_upcast():
    x = tinyconv.tensor([1.0, 2.0])
    assert x.dtype == np.float32
    assert (x * 2.5 + 1).dtype == np.float32
    assert (x / 3).dtype == np.float32
    assert (x**2).dtype == np.float32
    assert (2.0 - x).dtype == np.float32
    d = tinyconv.tensor([1.0], dtype=np.float64)
    assert d.dtype == np.float64
    assert tinyconv.tensor(np.array([1, 2], dtype=np.uint8)).dtype == np.uint8


def test_dtype_cast_is_differentiable():
    x = tinyconv.tensor([1.5, -2.0], requires_grad=True)
    y = x.double() * 2
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.numpy().tolist() == [2.0, 2.0]


def test_numpy_item_repr():
    x = tinyconv.tensor([[1.0, 2.0]], requires_grad=True)
    assert x.numpy().shape == (1, 2) and x.shape == (1, 2) and x.ndim == 2
    assert x.sum().item() == 3.0
    assert "requires_grad=True" in repr(x)
    assert "grad_fn=Mul" in repr(x * 2)


def test_to_cuda_without_cupy_says_why():
    if tinyconv.cuda_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="CuPy"):
        tinyconv.tensor([1.0]).to("cuda")
