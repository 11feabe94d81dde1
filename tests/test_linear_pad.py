"""linear, flatten and pad: PyTorch parity (float32) and finite differences (float64)."""

import numpy as np
import pytest
import torch

import tinyconv
import tinyconv.functional as F
from tests.helpers import check_vs_torch, gradcheck

rng = np.random.default_rng(1)


@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 6)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_vs_torch(shape, bias):
    inputs = [rng.standard_normal(shape), rng.standard_normal((5, 6))]
    if bias:
        inputs.append(rng.standard_normal(5))
    check_vs_torch(F.linear, torch.nn.functional.linear, inputs)


def test_linear_on_a_permuted_4d_input_vs_torch():
    # ConvNeXt's blocks: (N, C, H, W) permuted to channels-last, then Linear over C.
    def tc(x, w, b):
        return F.linear(x.permute(0, 2, 3, 1), w, b)

    def pt(x, w, b):
        return torch.nn.functional.linear(x.permute(0, 2, 3, 1), w, b)

    inputs = [
        rng.standard_normal((2, 6, 5, 3)),
        rng.standard_normal((4, 6)),
        rng.standard_normal(4),
    ]
    check_vs_torch(tc, pt, inputs)
    gradcheck(tc, inputs)


def test_linear_gradcheck():
    gradcheck(
        F.linear, [rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal(2)]
    )


PADS = [(1, 1), (0, 2, 1, 0), (2, 1, 1, 3), (-1, 1, 0, -1)]


@pytest.mark.parametrize("pad", PADS)
def test_pad_vs_torch(pad):
    check_vs_torch(
        lambda x: F.pad(x, pad, value=0.5),
        lambda x: torch.nn.functional.pad(x, pad, value=0.5),
        [rng.standard_normal((2, 3, 4, 5))],
    )


@pytest.mark.parametrize("pad", PADS)
def test_pad_gradcheck(pad):
    gradcheck(lambda x: F.pad(x, pad), [rng.standard_normal((1, 2, 3, 4))])


def test_flatten_vs_torch_and_gradcheck():
    check_vs_torch(lambda x: F.flatten(x, 0), torch.flatten, [rng.standard_normal((2, 3, 4))])
    check_vs_torch(
        lambda x: F.flatten(x, 1), lambda x: torch.flatten(x, 1), [rng.standard_normal((2, 3, 4))]
    )
    gradcheck(lambda x: F.flatten(x, 1), [rng.standard_normal((2, 3, 2))])


def test_pad_errors():
    x = tinyconv.tensor(np.zeros((1, 1, 2, 2)))
    with pytest.raises(ValueError, match="pads the last 1, 2 or 3 dimensions"):
        F.pad(x, (1, 1), mode="reflect")
    with pytest.raises(ValueError, match="expected pairs"):
        F.pad(x, (1, 1, 1))
