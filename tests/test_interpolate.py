"""interpolate (nearest, nearest-exact, linear/bilinear/bicubic/trilinear with align_corners
both ways, area), Upsample, pixel_shuffle/unshuffle: forward and gradients vs PyTorch (float32),
finite differences (float64), modules and errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import check_vs_torch, gradcheck

import tinyconv
import tinyconv.functional as F
from tinyconv import nn

RNG = np.random.default_rng(7)

CASES = [
    ((2, 3, 5), dict(size=9, mode="nearest")),
    ((2, 3, 5), dict(scale_factor=0.6, mode="nearest")),
    ((1, 2, 4, 5), dict(scale_factor=2, mode="nearest")),
    ((1, 2, 4, 5), dict(scale_factor=(1.7, 2.3), mode="nearest")),
    ((1, 2, 4, 5), dict(size=(7, 3), mode="nearest-exact")),
    ((1, 1, 2, 3, 4), dict(scale_factor=1.5, mode="nearest")),
    ((2, 3, 5), dict(size=8, mode="linear", align_corners=True)),
    ((2, 3, 5), dict(size=8, mode="linear", align_corners=False)),
    ((1, 2, 4, 5), dict(scale_factor=2, mode="bilinear", align_corners=False)),
    ((1, 2, 4, 5), dict(scale_factor=2, mode="bilinear", align_corners=True)),
    ((1, 2, 6, 5), dict(size=(4, 3), mode="bilinear", align_corners=False)),
    ((1, 2, 4, 5), dict(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True)),
    ((1, 2, 4, 5), dict(size=(1, 1), mode="bilinear", align_corners=True)),
    ((1, 1, 2, 3, 4), dict(scale_factor=(2, 1.5, 0.8), mode="trilinear", align_corners=False)),
    ((1, 2, 4, 5), dict(scale_factor=2, mode="bicubic", align_corners=False)),
    ((1, 2, 4, 5), dict(size=(7, 3), mode="bicubic", align_corners=True)),
    ((1, 2, 6, 5), dict(scale_factor=0.6, mode="bicubic")),
    ((1, 2, 6, 5), dict(size=(4, 3), mode="area")),
    ((1, 2, 3, 5, 4), dict(size=(2, 3, 3), mode="area")),
    ((2, 3, 7), dict(size=3, mode="area")),
]


@pytest.mark.parametrize("shape,kw", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_vs_torch_and_gradcheck(shape, kw):
    x = RNG.standard_normal(shape)
    check_vs_torch(lambda a: F.interpolate(a, **kw), lambda a: TF.interpolate(a, **kw), [x])
    gradcheck(lambda a: F.interpolate(a, **kw), [x])


def test_upsample_modules_match_torch():
    x = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
    for args in (
        dict(scale_factor=2),
        dict(size=(7, 9), mode="bilinear"),
        dict(scale_factor=3, mode="bilinear", align_corners=True),
    ):
        ours, theirs = nn.Upsample(**args), torch.nn.Upsample(**args)
        y = ours(tinyconv.tensor(x))
        np.testing.assert_allclose(y.numpy(), theirs(torch.tensor(x)).numpy(), rtol=1e-5, atol=1e-6)
        assert ours.output_shape(x.shape) == y.shape
        assert repr(ours) == repr(theirs)
        assert repr(nn.build_module(ours.config())) == repr(ours)
    for ours, theirs in (
        (nn.UpsamplingNearest2d(scale_factor=2), torch.nn.UpsamplingNearest2d(scale_factor=2)),
        (nn.UpsamplingBilinear2d(size=(5, 6)), torch.nn.UpsamplingBilinear2d(size=(5, 6))),
    ):
        check_vs_torch(ours, theirs, [x])


@pytest.mark.parametrize("shape,r", [((2, 8, 3, 4), 2), ((9, 2, 2), 3), ((2, 1, 4, 1, 1), 2)])
def test_pixel_shuffle_and_unshuffle(shape, r):
    x = RNG.standard_normal(shape)
    check_vs_torch(lambda a: F.pixel_shuffle(a, r), lambda a: TF.pixel_shuffle(a, r), [x])
    gradcheck(lambda a: F.pixel_shuffle(a, r), [x])
    y = TF.pixel_shuffle(torch.tensor(x), r).numpy()
    check_vs_torch(lambda a: F.pixel_unshuffle(a, r), lambda a: TF.pixel_unshuffle(a, r), [y])
    gradcheck(lambda a: F.pixel_unshuffle(a, r), [y])
    m = nn.PixelShuffle(r)
    assert m.output_shape(x.shape) == y.shape == m(tinyconv.tensor(x)).shape
    assert nn.PixelUnshuffle(r).output_shape(y.shape) == x.shape
    assert repr(m) == repr(torch.nn.PixelShuffle(r))


@pytest.mark.parametrize(
    "call,error,text",
    [
        (lambda x: F.interpolate(x), ValueError, "exactly one of size and scale_factor"),
        (lambda x: F.interpolate(x, 3, 2.0), ValueError, "exactly one of size and scale_factor"),
        (lambda x: F.interpolate(x, 3, mode="linear"), ValueError, "needs a 3-D input"),
        (lambda x: F.interpolate(x, 3, mode="cubic"), ValueError, "mode must be one of"),
        (lambda x: F.interpolate(x, 3, align_corners=True), ValueError, "align_corners can only"),
        (lambda x: F.interpolate(x, (3, 4, 5)), ValueError, "size must have 2 values"),
        (lambda x: F.interpolate(x, scale_factor=0.1), ValueError, "must be at least 1"),
        (lambda x: F.interpolate(x[0, 0]), ValueError, "expected a 3-D, 4-D or 5-D input"),
        (lambda x: F.interpolate(x, 3, mode="bilinear", antialias=True), ValueError, "antialias"),
        (lambda x: F.pixel_shuffle(x, 2), ValueError, "must be divisible by upscale_factor"),
        (lambda x: F.pixel_unshuffle(x, 3), ValueError, "must be divisible by downscale_factor"),
        (lambda x: F.pixel_shuffle(x[0, 0], 1), ValueError, "3 or more dimensions"),
        (lambda x: F.pixel_shuffle(x, 1.5), TypeError, "upscale_factor must be an int"),
        (lambda x: nn.Upsample(), ValueError, "Upsample: expected exactly one of"),
    ],
)
def test_errors(call, error, text):
    with pytest.raises(error, match=text):
        call(tinyconv.tensor(np.ones((1, 3, 4, 4), np.float32)))


def test_permute_layer_as_convnext_uses_it():
    x = RNG.standard_normal((2, 3, 4, 5))
    check_vs_torch(nn.Permute([0, 2, 3, 1]), lambda a: a.permute(0, 2, 3, 1), [x])
    block = nn.Sequential(
        nn.Permute([0, 2, 3, 1]), nn.LayerNorm(3, eps=1e-6), nn.Permute([0, 3, 1, 2])
    )
    assert block[0].output_shape((2, 3, 4, 5)) == (2, 4, 5, 3)
    y = block(tinyconv.tensor(x.astype(np.float32)))
    np.testing.assert_allclose(
        y.numpy(), nn.LayerNorm2d(3)(tinyconv.tensor(x.astype(np.float32))).numpy(), atol=1e-5
    )
    assert repr(nn.build_module(nn.Permute([1, 0]).config())) == "Permute(dims=[1, 0])"
    with pytest.raises(ValueError, match="Expected a permutation"):
        nn.Permute([0, 0])
    with pytest.raises(ValueError, match="expected a 2-D input"):
        nn.Permute([1, 0])(tinyconv.tensor(x))
