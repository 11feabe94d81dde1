"""The conftest fixtures that run a test on each kernel path select what they say."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinyconv
import tinyconv.functional as F
import tinyconv.kernels as K


def test_kernel_path_is_active_inside_the_test(kernel_path: str) -> None:
    assert kernel_path in ("numpy", "numba")
    assert K.name() == kernel_path
    assert K.enabled() == (kernel_path == "numba")


@pytest.mark.usefixtures("kernel_path")
def test_a_conv_step_matches_pytorch_on_each_path() -> None:
    """Forward and backward of conv + ReLU + max pool, float32, on whichever path is active."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 9, 9), dtype=np.float32)
    w = rng.standard_normal((4, 2, 3, 3), dtype=np.float32)
    b = rng.standard_normal(4, dtype=np.float32)
    xc, wc, bc = (tinyconv.tensor(a, requires_grad=True) for a in (x, w, b))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yc = F.max_pool2d(F.relu(F.conv2d(xc, wc, bc, padding=1)), 2)
    yt = torch.nn.functional.max_pool2d(
        torch.relu(torch.nn.functional.conv2d(xt, wt, bt, padding=1)), 2
    )
    np.testing.assert_allclose(yc.numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    g = rng.standard_normal(yt.shape, dtype=np.float32)
    yc.backward(tinyconv.tensor(g))
    yt.backward(torch.from_numpy(g))
    for a, t in ((xc, xt), (wc, wt), (bc, bt)):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_numpy_kernels_fixture_overrides_the_environment(numpy_kernels: None) -> None:
    assert K.name() == "numpy"


def test_numba_kernels_fixture(numba_kernels: None) -> None:
    assert K.name() == "numba" and K.numba_available()


def test_the_choice_is_restored_after_a_kernel_test() -> None:
    """Runs after the tests above: none of them leaked its path past its end."""
    import os

    env = os.environ.get(K.ENV_VAR, "auto").strip().lower() or "auto"
    expected = "numba" if env == "numba" or (env == "auto" and K.numba_available()) else "numpy"
    assert K.name() == expected
