"""Every bad input to the convolutions raises ValueError/TypeError with a message a user can act on."""

from __future__ import annotations

import re

import numpy as np
import pytest

import tinyconv
import tinyconv.functional as F
from tinyconv import nn
from tinyconv.ops.conv import conv_output_size


def t(*shape: int, dtype=np.float32) -> tinyconv.Tensor:
    return tinyconv.tensor(np.zeros(shape, dtype=dtype))


def esc(text: str) -> str:
    return re.escape(text)


# ------------------------------------------------------------------ the size formula
def test_kernel_larger_than_input_shows_the_formula_with_numbers():
    conv = nn.Conv2d(3, 16, kernel_size=5)
    msg = (
        "Conv2d(3, 16, kernel_size=(5, 5), stride=(1, 1)): output height -1 < 1: "
        "H_out = (H_in - F + 2P)/S + 1 = (3 - 5 + 2*0)/1 + 1; input (8, 3, 3, 32); "
        "the kernel (5) is larger than the padded input height (3 + 2*0 = 3)"
    )
    with pytest.raises(ValueError, match=esc(msg)):
        conv(t(8, 3, 3, 32))
    with pytest.raises(ValueError, match=esc(msg)):  # the same check without data
        conv.output_shape((8, 3, 3, 32))


def test_kernel_larger_than_padded_width_in_the_functional():
    with pytest.raises(
        ValueError,
        match=esc(
            "conv2d: output width 0 < 1: W_out = (W_in - F + 2P)/S + 1 = (4 - 7 + 2*1)/2 + 1"
        ),
    ):
        F.conv2d(t(1, 3, 9, 4), t(2, 3, 1, 7), stride=2, padding=1)


def test_dilated_kernel_reports_its_effective_size():
    msg = (
        "output height -1 < 1: H_out = (H_in - F_eff + 2P)/S + 1 = (7 - 9 + 2*0)/1 + 1, "
        "where dilation 2 gives the effective kernel F_eff = d*(F-1) + 1 = 2*(5-1) + 1 = 9; "
        "input (8, 3, 7, 32)"
    )
    with pytest.raises(ValueError, match=esc(msg)):
        nn.Conv2d(3, 16, 5, dilation=2)(t(8, 3, 7, 32))


def test_conv_output_size_alone():
    with pytest.raises(
        ValueError,
        match=esc("pool: output width 0 < 1: W_out = (W_in - F + 2P)/S + 1 = (2 - 3 + 2*0)/2 + 1"),
    ):
        conv_output_size(2, 3, 2, 0, layer="pool", dim="W")
    with pytest.raises(ValueError, match=esc("stride must be >= 1, got S = 0")):
        conv_output_size(8, 3, 0, 0)


def test_transposed_output_below_one():
    msg = (
        "conv_transpose2d: output height -1 < 1: H_out = (H_in - 1)*S - 2P + d*(F-1) + "
        "output_padding + 1 = (1 - 1)*1 - 2*2 + 1*(3-1) + 0 + 1; input (1, 4, 1, 1)"
    )
    with pytest.raises(ValueError, match=esc(msg)):
        F.conv_transpose2d(t(1, 4, 1, 1), t(4, 2, 3, 3), padding=2)


# ------------------------------------------------------------------ shapes and channels
def test_input_of_the_wrong_rank():
    # (C, H, W) is one unbatched sample (as PyTorch); 2-D and 5-D inputs are errors
    with pytest.raises(
        ValueError,
        match=esc(
            "Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1)): expected a 4-D input (N, C, H, W) "
            "or an unbatched 3-D input (C, H, W), got a 5-D input of shape (1, 1, 3, 32, 32)"
        ),
    ):
        nn.Conv2d(3, 16, 3)(t(1, 1, 3, 32, 32))
    with pytest.raises(
        ValueError,
        match=esc(
            "conv_transpose2d: expected a 4-D input (N, C, H, W) or an unbatched 3-D input (C, H, W), got a 2-D"
        ),
    ):
        F.conv_transpose2d(t(4, 5), t(4, 2, 3, 3))
    with pytest.raises(
        ValueError,
        match=esc("or an unbatched 3-D input (C, H, W), got a 2-D input of shape (32, 32)"),
    ):
        nn.Conv2d(3, 16, 3).output_shape((32, 32))
    # the unbatched sample's channel count is checked like a batch's (PyTorch quotes [1, C, H, W])
    with pytest.raises(
        ValueError, match=esc("expected input[1, 4, 32, 32] to have 3 channels, but got 4")
    ):
        nn.Conv2d(3, 16, 3)(t(4, 32, 32))


def test_weight_must_be_4d():
    with pytest.raises(ValueError, match=esc("conv2d: expected a 4-D weight, got shape (4, 3, 3)")):
        F.conv2d(t(1, 3, 8, 8), t(4, 3, 3))


def test_channel_mismatch_reads_like_pytorch():
    msg = (
        "Given groups=1, weight of size [64, 3, 3, 3], expected input[1, 4, 32, 32] "
        "to have 3 channels, but got 4 channels instead"
    )
    with pytest.raises(ValueError, match="^" + esc("conv2d: " + msg)):
        F.conv2d(t(1, 4, 32, 32), t(64, 3, 3, 3))
    conv = nn.Conv2d(3, 64, 3)
    with pytest.raises(ValueError, match="^" + esc(f"{conv!r}: {msg}")):
        conv(t(1, 4, 32, 32))
    with pytest.raises(ValueError, match=esc(f"{conv!r}: {msg}")):
        conv.output_shape((1, 4, 32, 32))


def test_channel_mismatch_with_groups_and_transposed():
    with pytest.raises(
        ValueError,
        match=esc(
            "Given groups=2, weight of size [4, 3, 3, 3], expected input[1, 4, 8, 8] to have 6 channels, but got 4 channels instead"
        ),
    ):
        F.conv2d(t(1, 4, 8, 8), t(4, 3, 3, 3), groups=2)
    with pytest.raises(
        ValueError,
        match=esc(
            "conv_transpose2d: Given transposed=1, weight of size [3, 2, 3, 3], expected input[1, 4, 5, 5] to have 3 channels, but got 4 channels instead"
        ),
    ):
        F.conv_transpose2d(t(1, 4, 5, 5), t(3, 2, 3, 3))


def test_channels_not_divisible_by_groups():
    with pytest.raises(
        ValueError,
        match=esc("conv2d: input channels 6 are not divisible by groups=4; input (1, 6, 8, 8)"),
    ):
        F.conv2d(t(1, 6, 8, 8), t(4, 2, 3, 3), groups=4)
    with pytest.raises(
        ValueError,
        match=esc("conv2d: weight of size [5, 2, 3, 3] has 5 filters, not divisible by groups=3"),
    ):
        F.conv2d(t(1, 6, 8, 8), t(5, 2, 3, 3), groups=3)
    with pytest.raises(
        ValueError, match=esc("conv_transpose2d: input channels 4 are not divisible by groups=3")
    ):
        F.conv_transpose2d(t(1, 4, 5, 5), t(4, 2, 3, 3), groups=3)
    with pytest.raises(
        ValueError, match=esc("conv2d: groups must be a positive int, got groups=0")
    ):
        F.conv2d(t(1, 6, 8, 8), t(4, 2, 3, 3), groups=0)
    with pytest.raises(
        ValueError,
        match=esc(
            "Conv2d: in_channels must be divisible by groups. Received in_channels=3, groups=2."
        ),
    ):
        nn.Conv2d(3, 16, 3, groups=2)
    with pytest.raises(
        ValueError,
        match=esc(
            "Conv2d: out_channels must be divisible by groups. Received out_channels=6, groups=4."
        ),
    ):
        nn.Conv2d(4, 6, 3, groups=4)
    with pytest.raises(
        ValueError, match=esc("ConvTranspose2d: in_channels must be divisible by groups")
    ):
        nn.ConvTranspose2d(3, 4, 3, groups=2)


def test_bias_shape():
    with pytest.raises(ValueError, match=esc("conv2d: expected a bias of shape (4,), got (5,)")):
        F.conv2d(t(1, 3, 8, 8), t(4, 3, 3, 3), t(5))
    with pytest.raises(
        ValueError, match=esc("conv_transpose2d: expected a bias of shape (4,), got (2,)")
    ):
        F.conv_transpose2d(t(1, 4, 5, 5), t(4, 2, 3, 3), t(2), groups=2)


# ------------------------------------------------------------------ hyper-parameters at call time
@pytest.mark.parametrize(
    "kw,msg",
    [
        (
            dict(stride=0),
            "conv2d: stride must be >= 1, got stride=0: H_out = (H_in - F + 2P)/S + 1 = (32 - 3 + 2*0)/0 + 1 divides by 0",
        ),
        (
            dict(stride=(1, -2)),
            "conv2d: stride must be >= 1, got stride=(1, -2): W_out = (W_in - F + 2P)/S + 1 = (30 - 3 + 2*0)/(-2) + 1 divides by -2",
        ),
        (
            dict(padding=-1),
            "conv2d: padding must be >= 0, got padding=-1: H_out = (H_in - F + 2P)/S + 1 = (32 - 3 + 2*(-1))/1 + 1 would crop the input",
        ),
        (
            dict(padding=(0, -3), stride=2),
            "padding must be >= 0, got padding=(0, -3): W_out = (W_in - F + 2P)/S + 1 = (30 - 3 + 2*(-3))/2 + 1",
        ),
        (dict(dilation=0), "conv2d: dilation must be >= 1, got dilation=0"),
        (
            dict(padding="full"),
            "conv2d: padding must be an int, a pair, 'valid' or 'same', got 'full'",
        ),
        (
            dict(padding="same", stride=2),
            "conv2d: padding='same' needs stride 1 (a strided output cannot keep H and W), got stride=2",
        ),
    ],
)
def test_conv2d_bad_hyperparameters_raise_value_error(kw, msg):
    with pytest.raises(ValueError, match=esc(msg)):
        F.conv2d(t(1, 3, 32, 30), t(4, 3, 3, 3), **kw)


@pytest.mark.parametrize(
    "kw,msg",
    [
        (
            dict(stride=1.5),
            "conv2d: stride must be an int or a pair of ints (h, w), got stride=1.5",
        ),
        (
            dict(padding=(1, 1, 1)),
            "conv2d: padding must be an int or a pair of ints (h, w), got padding=(1, 1, 1)",
        ),
        (
            dict(dilation=True),
            "conv2d: dilation must be an int or a pair of ints (h, w), got dilation=True",
        ),
    ],
)
def test_conv2d_hyperparameters_of_the_wrong_type_raise_type_error(kw, msg):
    with pytest.raises(TypeError, match=esc(msg)):
        F.conv2d(t(1, 3, 32, 30), t(4, 3, 3, 3), **kw)


def test_conv_transpose2d_bad_hyperparameters():
    x, w = t(1, 4, 5, 5), t(4, 2, 3, 3)
    with pytest.raises(
        ValueError,
        match=esc(
            "conv_transpose2d: output_padding must be >= 0 and smaller than either stride or dilation, "
            "got output_padding=(2, 2), stride=(2, 2), dilation=(1, 1)"
        ),
    ):
        F.conv_transpose2d(x, w, stride=2, output_padding=2)
    with pytest.raises(
        ValueError, match=esc("conv_transpose2d: stride must be >= 1, got stride=0")
    ):
        F.conv_transpose2d(x, w, stride=0)
    with pytest.raises(
        ValueError, match=esc("conv_transpose2d: padding must be >= 0, got padding=-1")
    ):
        F.conv_transpose2d(x, w, padding=-1)
    with pytest.raises(
        ValueError,
        match=esc("conv_transpose2d: padding must be an int or a pair of ints, got 'same'"),
    ):
        F.conv_transpose2d(x, w, padding="same")


# ------------------------------------------------------------------ dtypes and types
def test_integer_input_is_a_type_error():
    with pytest.raises(
        TypeError,
        match=esc(
            "conv2d: expected a floating-point input, got dtype uint8; convert images with x.astype('float32') / 255 first"
        ),
    ):
        F.conv2d(t(1, 3, 8, 8, dtype=np.uint8), t(4, 3, 3, 3))
    conv = nn.Conv2d(1, 2, 3)
    with pytest.raises(
        TypeError, match=esc(f"{conv!r}: expected a floating-point input, got dtype int64")
    ):
        conv(tinyconv.tensor(np.zeros((1, 1, 5, 5), dtype=np.int64)))
    with pytest.raises(
        TypeError, match="conv_transpose2d: expected a floating-point input, got dtype int32"
    ):
        F.conv_transpose2d(t(1, 4, 5, 5, dtype=np.int32), t(4, 2, 3, 3))


def test_weight_and_input_dtype_mismatch():
    with pytest.raises(
        TypeError,
        match=esc(
            "conv2d: input dtype float64 does not match weight dtype float32; "
            "cast the input (x.to('float32')) or the layer (layer.to('float64'))"
        ),
    ):
        F.conv2d(t(1, 3, 8, 8, dtype=np.float64), t(4, 3, 3, 3))
    with pytest.raises(
        TypeError, match=esc("conv2d: bias dtype float64 does not match input dtype float32")
    ):
        F.conv2d(t(1, 3, 8, 8), t(4, 3, 3, 3), t(4, dtype=np.float64))
    conv = nn.ConvTranspose2d(2, 2, 3)
    with pytest.raises(
        TypeError, match=esc(f"{conv!r}: input dtype float16 does not match weight dtype float32")
    ):
        conv(t(1, 2, 4, 4, dtype=np.float16))


def test_numpy_array_instead_of_tensor():
    with pytest.raises(
        TypeError,
        match=esc(
            "conv2d: input must be a tinyconv Tensor, got ndarray; wrap arrays with tinyconv.tensor(...)"
        ),
    ):
        F.conv2d(np.zeros((1, 3, 8, 8), dtype=np.float32), t(4, 3, 3, 3))


# ------------------------------------------------------------------ module construction
@pytest.mark.parametrize(
    "args,kw,err,msg",
    [
        (
            (3, 0, 3),
            {},
            ValueError,
            "Conv2d: invalid value for argument `out_channels`. Expected a strictly positive value. Received out_channels=0.",
        ),
        (
            (0, 4, 3),
            {},
            ValueError,
            "Conv2d: invalid value for argument `in_channels`. Expected a strictly positive value. Received in_channels=0.",
        ),
        (
            (3.0, 4, 3),
            {},
            TypeError,
            "Conv2d: invalid type for argument `in_channels`. Expected an int. Received in_channels=3.0.",
        ),
        (
            (3, 4, 0),
            {},
            ValueError,
            "Conv2d: invalid value for argument `kernel_size`. Expected a strictly positive value. Received kernel_size=0.",
        ),
        (
            (3, 4, (3, 3, 3)),
            {},
            TypeError,
            "Conv2d: invalid type for argument `kernel_size`. Expected an int or a pair of ints (h, w). Received kernel_size=(3, 3, 3).",
        ),
        (
            (3, 4, 3),
            dict(stride=(1, 0)),
            ValueError,
            "Conv2d: invalid value for argument `stride`. Expected a strictly positive value. Received stride=(1, 0).",
        ),
        (
            (3, 4, 3),
            dict(padding=-1),
            ValueError,
            "Conv2d: invalid value for argument `padding`. Expected values >= 0. Received padding=-1.",
        ),
        (
            (3, 4, 3),
            dict(padding="full"),
            ValueError,
            "Conv2d: invalid value for argument `padding`. Expected an int, a pair of ints, 'valid' or 'same'. Received padding='full'.",
        ),
        (
            (3, 4, 3),
            dict(padding="same", stride=2),
            ValueError,
            "Conv2d: padding='same' is not supported for strided convolutions (the output cannot keep H and W). Received stride=2.",
        ),
        (
            (3, 4, 3),
            dict(dilation=0),
            ValueError,
            "Conv2d: invalid value for argument `dilation`. Expected a strictly positive value. Received dilation=0.",
        ),
        (
            (3, 4, 3),
            dict(groups=0),
            ValueError,
            "Conv2d: invalid value for argument `groups`. Expected a strictly positive value. Received groups=0.",
        ),
        (
            (3, 4, 3),
            dict(padding_mode="reflect"),
            ValueError,
            "Conv2d: invalid value for argument `padding_mode`. Expected 'zeros' (the only mode tinyconv implements). Received padding_mode='reflect'.",
        ),
    ],
)
def test_conv2d_module_checks_hyperparameters_at_construction(args, kw, err, msg):
    with pytest.raises(err, match=esc(msg)):
        nn.Conv2d(*args, **kw)


def test_conv_transpose2d_module_checks_hyperparameters_at_construction():
    with pytest.raises(
        ValueError,
        match=esc(
            "ConvTranspose2d: invalid value for argument `output_padding`. Expected a value smaller than "
            "either stride or dilation. Received output_padding=2, stride=2, dilation=1."
        ),
    ):
        nn.ConvTranspose2d(4, 2, 3, stride=2, output_padding=2)
    with pytest.raises(
        ValueError,
        match=esc(
            "ConvTranspose2d: invalid value for argument `padding`. Expected an int or a pair of ints. Received padding='same'."
        ),
    ):
        nn.ConvTranspose2d(4, 2, 3, padding="same")
    with pytest.raises(
        ValueError,
        match=esc(
            "ConvTranspose2d: invalid value for argument `out_channels`. Expected a strictly positive value. Received out_channels=-1."
        ),
    ):
        nn.ConvTranspose2d(4, -1, 3)
    nn.ConvTranspose2d(4, 2, 3, stride=1, dilation=2, output_padding=1)  # < dilation is allowed


def test_errors_come_before_any_numpy_work():
    # a wrong input to a layer fails in the check, not deep inside NumPy (no IndexError/broadcast error)
    conv = nn.Conv2d(3, 8, 3, padding=1)
    for bad in (t(2, 3, 8), t(2, 5, 8, 8), t(2, 3, 1, 1, dtype=np.int8)):
        with pytest.raises((ValueError, TypeError), match=esc(repr(conv))):
            conv(bad)
