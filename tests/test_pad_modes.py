"""pad in every mode (constant, reflect, replicate, circular): forward and gradient vs PyTorch
(float32), finite differences (float64), negative pads, and PyTorch's limits as errors."""

import numpy as np
import pytest
import torch.nn.functional as TF
from helpers import check_vs_torch, gradcheck

import tinyconv
import tinyconv.functional as F

RNG = np.random.default_rng(3)
CASES = [
    ((2, 3, 5), (2, 1)),
    ((3, 5), (1, 3)),
    ((2, 3, 4, 5), (1, 2, 3, 0)),
    ((3, 4, 5), (2, 2, 1, 3)),
    ((1, 2, 3, 4, 5), (1, 1, 2, 0, 1, 2)),
    ((2, 3, 4, 5), (-1, 2, 1, -2)),
]


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular", "constant"])
@pytest.mark.parametrize("shape,pads", CASES)
def test_vs_torch_and_gradcheck(mode, shape, pads):
    x = RNG.standard_normal(shape)
    check_vs_torch(lambda a: F.pad(a, pads, mode), lambda a: TF.pad(a, pads, mode), [x])
    if x.size <= 60:
        gradcheck(lambda a: F.pad(a, pads, mode), [x])


def test_reflect_values():
    x = tinyconv.tensor([[[0.0, 1.0, 2.0, 3.0]]])
    assert F.pad(x, (3, 3), "reflect").tolist() == [[[3, 2, 1, 0, 1, 2, 3, 2, 1, 0]]]
    assert F.pad(x, (2, 2), "replicate").tolist() == [[[0, 0, 0, 1, 2, 3, 3, 3]]]
    assert F.pad(x, (4, 4), "circular").tolist() == [[[0, 1, 2, 3] * 3]]
    assert F.pad(x, (1, -1), "circular").tolist() == [[[2, 0, 1, 2]]]  # crop, then wrap


@pytest.mark.parametrize(
    "shape,pads,mode,text",
    [
        ((1, 2, 4), (4, 0), "reflect", "each pad less than the padded dimension"),
        ((1, 2, 4), (5, 0), "circular", "each pad at most the padded dimension"),
        ((1, 2, 4), (-2, -2), "replicate", "it must stay at least 1"),
        ((4,), (1, 1), "reflect", "pads the last 1, 2 or 3 dimensions"),
        ((1, 2, 3, 4), (1, 1), "replicate", "got pad=(1, 1) (1 dimensions) for a 4-D input"),
        ((1, 2, 4), (1,), "constant", "expected pairs"),
        ((1, 2, 4), (1, 1), "mirror", "mode must be one of"),
    ],
)
def test_errors(shape, pads, mode, text):
    with pytest.raises(ValueError, match=text.replace("(", r"\(").replace(")", r"\)")):
        F.pad(tinyconv.tensor(np.zeros(shape, np.float32)), pads, mode)


def test_value_only_with_constant_and_int_sizes():
    x = tinyconv.tensor(np.zeros((1, 2, 4), np.float32))
    with pytest.raises(ValueError, match="mode='reflect' takes no value"):
        F.pad(x, (1, 1), "reflect", value=2.0)
    with pytest.raises(TypeError, match="expected int pad sizes"):
        F.pad(x, (1.5, 1))
    assert F.pad(x, (1, 1), value=2.0).numpy()[0, 0].tolist() == [2, 0, 0, 0, 0, 2]
