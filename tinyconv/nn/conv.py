"""Convolution layers: ``Conv1d``, ``Conv2d`` and ``ConvTranspose2d``, with PyTorch's names and
weight layouts.

The arithmetic lives in ``tinyconv/ops/conv.py`` (im2col, col2im and the two Functions);
these modules hold the weights, check the hyper-parameters once at construction, and compute
their output shape from the formula without data (``output_shape``, used by ``summary``).
"""

from __future__ import annotations

from typing import Any

import numpy

from ..backend import resolve_dtype
from ..ops.conv import (
    _same_pads,
    conv2d,
    conv_output_size,
    conv_transpose2d,
    conv_transpose_output_size,
)
from ..ops.conv1d import conv1d
from ..tensor import Tensor
from . import init
from .linear import check_positive_int
from .module import Module, Parameter

Pair = tuple[int, int]


def _is_int(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, numpy.integer))


def check_pair(layer: str, name: str, value: Any, minimum: int) -> Pair:
    """An int or a pair of ints, each >= minimum, as (h, w); Keras-style messages otherwise."""
    vals = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(vals) != 2 or not all(_is_int(v) for v in vals):
        raise TypeError(
            f"{layer}: invalid type for argument `{name}`. Expected an int or a pair of ints "
            f"(h, w). Received {name}={value!r}."
        )
    if min(vals) < minimum:
        expected = "a strictly positive value" if minimum == 1 else f"values >= {minimum}"
        raise ValueError(
            f"{layer}: invalid value for argument `{name}`. Expected {expected}. "
            f"Received {name}={value!r}."
        )
    return int(vals[0]), int(vals[1])


def _check_input_shape(layer: str, in_shape: tuple[int, ...], expected_c: int, msg: str) -> None:
    if len(in_shape) != 4:
        raise ValueError(
            f"{layer}: expected a 4-D input (N, C, H, W) or an unbatched 3-D input (C, H, W), "
            f"got a {len(in_shape)}-D input of shape {tuple(in_shape)}"
        )
    if in_shape[1] != expected_c:
        raise ValueError(f"{layer}: {msg}")


def _unbatched_shape(layer: Module, in_shape: tuple[int, ...], dims: int) -> tuple[int, ...] | None:
    """The output shape of an unbatched (C, *spatial) input: that of (1, C, *spatial) less N."""
    if len(in_shape) == dims + 1:
        return layer.output_shape((1, *in_shape))[1:]
    return None


class _ConvNd(Module):
    """What Conv2d and ConvTranspose2d share: checked hyper-parameters, weights, repr."""

    def _setup(
        self,
        name: str,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Pair,
        stride: int | Pair,
        dilation: int | Pair,
        groups: int,
    ) -> None:
        self.in_channels = check_positive_int(name, "in_channels", in_channels)
        self.out_channels = check_positive_int(name, "out_channels", out_channels)
        self.kernel_size = check_pair(name, "kernel_size", kernel_size, 1)
        self.stride = check_pair(name, "stride", stride, 1)
        self.dilation = check_pair(name, "dilation", dilation, 1)
        self.groups = check_positive_int(name, "groups", groups)
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if value % groups:
                raise ValueError(
                    f"{name}: {arg} must be divisible by groups. "
                    f"Received {arg}={value}, groups={groups}."
                )

    def _make_params(self, shape: tuple[int, ...], n_bias: int, bias: bool, dtype: Any) -> None:
        dt = resolve_dtype(dtype)
        self.weight = Parameter(numpy.empty(shape, dtype=dt))
        if bias:
            self.bias = Parameter(numpy.empty((n_bias,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        # kaiming_uniform(a=sqrt(5)) with fan_in = weight.shape[1]*FH*FW, as PyTorch
        init.default_init_(self.weight, self.bias)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        s += f", stride={self.stride}"
        if self.padding not in ((0, 0), (0,)):
            s += f", padding={self.padding}"
        if self.dilation not in ((1, 1), (1,)):
            s += f", dilation={self.dilation}"
        if getattr(self, "output_padding", (0, 0)) != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if getattr(self, "padding_mode", "zeros") != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    r"""2-D convolution layer: FN learned filters slid over a batch of images.

    Each output map is one filter's cross-correlation with the input plus a bias:

        out[n, f, h, w] = b[f] + sum_{c,i,j} W[f, c, i, j] * x_pad[n, gC' + c, hS + id, wS + jd]

    with C' = C/groups the channels per group and g the group of filter f. The same weights
    serve every position (spatial invariance) and each output sees only an FH x FW patch
    (local connectivity). Computed by im2col and one matrix product (``tinyconv.ops.conv``).

    Args:
        in_channels (int): C, channels of the input.
        out_channels (int): FN, number of filters = channels of the output (the depth K).
        kernel_size (int or (int, int)): (FH, FW), e.g. 3, 5 or (1, 3).
        stride (int or (int, int)): S, the step of the window. Default: 1.
        padding (int, (int, int), "valid" or "same"): zeros added on each side; "same" keeps
            H and W (stride 1 only; an odd total goes to the bottom/right). Default: 0.
        dilation (int or (int, int)): spacing between kernel taps (atrous conv). Default: 1.
        groups (int): independent channel groups; groups = in_channels is depthwise. Default: 1.
        bias (bool): learn a bias per filter. Default: True.
        padding_mode (str): only "zeros" is supported. Default: "zeros".
        dtype: parameter dtype. Default: float32.

    Shape:
        Input (N, C, H_in, W_in) -> Output (N, FN, H_out, W_out) (an unbatched (C, H_in, W_in)
        gives (FN, H_out, W_out)) with

            H_out = floor((H_in + 2P - d*(FH - 1) - 1)/S + 1)  =  (H_in - F + 2P)/S + 1 for d = 1

        and W_out likewise.

    Attributes:
        weight: (out_channels, in_channels/groups, FH, FW), init U(-1/sqrt(k), 1/sqrt(k)) with
            k = in_channels/groups * FH * FW (PyTorch's kaiming_uniform with a=sqrt(5)).
        bias: (out_channels,), same init.

    Raises:
        ValueError, TypeError: at construction for bad hyper-parameters; at forward for an
            input of the wrong rank, channels or dtype, or too small for the kernel.

    References:
        LeCun, Bottou, Bengio and Haffner, "Gradient-Based Learning Applied to Document
        Recognition", Proc. IEEE 86(11), 1998. Yu and Koltun, "Multi-Scale Context Aggregation
        by Dilated Convolutions", ICLR 2016 (dilation).

    Example:
        >>> import numpy, tinyconv
        >>> conv = Conv2d(1, 64, kernel_size=4, stride=2, padding=1)   # MNIST, F=4, S=2, P=1, K=64
        >>> conv
        Conv2d(1, 64, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1))
        >>> conv(tinyconv.tensor(numpy.zeros((1, 1, 28, 28), dtype=numpy.float32))).shape
        (1, 64, 14, 14)
        >>> conv.output_shape((1, 1, 28, 28))
        (1, 64, 14, 14)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Pair,
        stride: int | Pair = 1,
        padding: int | Pair | str = 0,
        dilation: int | Pair = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = "Conv2d"
        self._setup(name, in_channels, out_channels, kernel_size, stride, dilation, groups)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(
                    f"{name}: invalid value for argument `padding`. Expected an int, a pair of "
                    f"ints, 'valid' or 'same'. Received padding={padding!r}."
                )
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(
                    f"{name}: padding='same' is not supported for strided convolutions "
                    f"(the output cannot keep H and W). Received stride={stride!r}."
                )
            self.padding: Pair | str = padding
        else:
            self.padding = check_pair(name, "padding", padding, 0)
        if padding_mode != "zeros":
            raise ValueError(
                f"{name}: invalid value for argument `padding_mode`. Expected 'zeros' "
                f"(the only mode tinyconv implements). Received padding_mode={padding_mode!r}."
            )
        self.padding_mode = padding_mode
        FH, FW = self.kernel_size
        shape = (self.out_channels, self.in_channels // self.groups, FH, FW)
        self._make_params(shape, self.out_channels, bias, dtype)

    def forward(self, x: Tensor) -> Tensor:
        return conv2d(
            x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups,
            layer=repr(self),
        )  # fmt: skip

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        """(N, C, H, W) -> (N, FN, H_out, W_out) by the size formula, without any data."""
        unbatched = _unbatched_shape(self, tuple(in_shape), 2)
        if unbatched is not None:
            return unbatched
        layer = repr(self)
        C = self.in_channels
        _check_input_shape(
            layer, in_shape, C,
            f"Given groups={self.groups}, weight of size {list(self.weight.shape)}, expected "
            f"input{list(in_shape)} to have {C} channels, but got "
            f"{in_shape[1] if len(in_shape) > 1 else '?'} channels instead",
        )  # fmt: skip
        N, _, H, W = in_shape
        if self.padding == "same":
            pads = _same_pads(*self.kernel_size, self.dilation)
        elif self.padding == "valid":
            pads = (0, 0, 0, 0)
        else:
            pads = (self.padding[0],) * 2 + (self.padding[1],) * 2  # type: ignore[index]
        (FH, FW), (SH, SW), (DH, DW) = self.kernel_size, self.stride, self.dilation
        out_h = conv_output_size(H, FH, SH, pads[:2], DH, layer=layer, dim="H", in_shape=in_shape)
        out_w = conv_output_size(W, FW, SW, pads[2:], DW, layer=layer, dim="W", in_shape=in_shape)
        return (N, self.out_channels, out_h, out_w)


class ConvTranspose2d(_ConvNd):
    r"""Transposed convolution ("deconvolution"): maps feature maps back toward image size.

    It computes the gradient of a Conv2d with respect to its input: each input pixel spreads
    its values, times the kernel, over an FH x FW patch of the output, S pixels apart.
    ``ConvTranspose2d(C_out, C_in, F, S, P)`` turns an (N, C_out, H', W') map into the shape
    that ``Conv2d(C_in, C_out, F, S, P)`` would have mapped to it.

    Args:
        in_channels (int): C_in, channels of the input.
        out_channels (int): C_out, channels of the output.
        kernel_size (int or (int, int)): (FH, FW).
        stride (int or (int, int)): S. Default: 1.
        padding (int or (int, int)): P, rows/columns cropped from each side. Default: 0.
        output_padding (int or (int, int)): extra rows/columns at the bottom/right; must be
            smaller than the stride or the dilation. Default: 0.
        groups (int): independent channel groups. Default: 1.
        bias (bool): learn a bias per output channel. Default: True.
        dilation (int or (int, int)): spacing between kernel taps. Default: 1.
        dtype: parameter dtype. Default: float32.

    Shape:
        Input (N, C_in, H_in, W_in) or (C_in, H_in, W_in) -> Output (N, C_out, H_out, W_out) with

            H_out = (H_in - 1)*S - 2P + d*(FH - 1) + output_padding + 1

        and W_out likewise.

    Attributes:
        weight: (in_channels, out_channels/groups, FH, FW), init U(-1/sqrt(k), 1/sqrt(k)) with
            k = out_channels/groups * FH * FW (PyTorch computes fan_in from weight.shape[1]).
        bias: (out_channels,), same init.

    References:
        Zeiler, Krishnan, Taylor and Fergus, "Deconvolutional Networks", CVPR 2010. Dumoulin
        and Visin, "A guide to convolution arithmetic for deep learning", arXiv:1603.07285.

    Example:
        >>> import numpy, tinyconv
        >>> up = ConvTranspose2d(64, 1, kernel_size=4, stride=2, padding=1)
        >>> up(tinyconv.tensor(numpy.zeros((1, 64, 14, 14), dtype=numpy.float32))).shape
        (1, 1, 28, 28)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Pair,
        stride: int | Pair = 1,
        padding: int | Pair = 0,
        output_padding: int | Pair = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | Pair = 1,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = "ConvTranspose2d"
        self._setup(name, in_channels, out_channels, kernel_size, stride, dilation, groups)
        if isinstance(padding, str):
            raise ValueError(
                f"{name}: invalid value for argument `padding`. Expected an int or a pair of ints. "
                f"Received padding={padding!r}."
            )
        self.padding = check_pair(name, "padding", padding, 0)
        self.output_padding = check_pair(name, "output_padding", output_padding, 0)
        for op, s, d in zip(self.output_padding, self.stride, self.dilation, strict=True):
            if op >= s and op >= d:
                raise ValueError(
                    f"{name}: invalid value for argument `output_padding`. Expected a value "
                    f"smaller than either stride or dilation. Received "
                    f"output_padding={output_padding!r}, stride={stride!r}, dilation={dilation!r}."
                )
        FH, FW = self.kernel_size
        shape = (self.in_channels, self.out_channels // self.groups, FH, FW)
        self._make_params(shape, self.out_channels, bias, dtype)

    def forward(self, x: Tensor) -> Tensor:
        return conv_transpose2d(
            x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
            self.groups, self.dilation, layer=repr(self),
        )  # fmt: skip

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        """(N, C_in, H, W) -> (N, C_out, H_out, W_out) by the size formula, without any data."""
        unbatched = _unbatched_shape(self, tuple(in_shape), 2)
        if unbatched is not None:
            return unbatched
        layer = repr(self)
        C = self.in_channels
        _check_input_shape(
            layer, in_shape, C,
            f"Given transposed=1, weight of size {list(self.weight.shape)}, expected "
            f"input{list(in_shape)} to have {C} channels, but got "
            f"{in_shape[1] if len(in_shape) > 1 else '?'} channels instead",
        )  # fmt: skip
        N, _, H, W = in_shape
        F, S, P = self.kernel_size, self.stride, self.padding
        d, op = self.dilation, self.output_padding
        out_h = conv_transpose_output_size(
            H, F[0], S[0], P[0], d[0], op[0], layer=layer, dim="H", in_shape=in_shape
        )
        out_w = conv_transpose_output_size(
            W, F[1], S[1], P[1], d[1], op[1], layer=layer, dim="W", in_shape=in_shape
        )
        return (N, self.out_channels, out_h, out_w)


def _single(layer: str, name: str, value: Any, minimum: int) -> tuple[int]:
    """An int or a one-element tuple of an int, each >= minimum, as a 1-tuple (PyTorch's form)."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(items) != 1:
        raise TypeError(
            f"{layer}: invalid type for argument `{name}`. Expected an int or a tuple of one int. "
            f"Received {name}={value!r}."
        )
    return (check_pair(layer, name, items[0], minimum)[0],)


class Conv1d(_ConvNd):
    r"""1-D convolution layer: FN learned filters slid along sequences (N, C, L).

        out[n, f, l] = b[f] + sum_{c,k} W[f, c, k] * x_pad[n, gC' + c, lS + kd]

    The arithmetic is ``Conv2d``'s on a (N, C, 1, L) view (``tinyconv.ops.conv1d``).

    Args:
        in_channels (int): C.
        out_channels (int): FN, the number of filters.
        kernel_size (int or (int,)): K.
        stride (int or (int,)): S. Default: 1.
        padding (int, (int,), "valid" or "same"): zeros on each side. Default: 0.
        dilation (int or (int,)): spacing d between taps. Default: 1.
        groups (int): independent channel groups. Default: 1.
        bias (bool): learn a bias per filter. Default: True.
        padding_mode (str): only "zeros". Default: "zeros".
        dtype: parameter dtype. Default: float32.

    Shape:
        Input (N, C, L_in) or (C, L_in) -> Output (N, FN, L_out) with
        L_out = floor((L_in + 2P - d*(K - 1) - 1)/S + 1).

    Attributes:
        weight: (out_channels, in_channels/groups, K), PyTorch's default init (as Conv2d).
        bias: (out_channels,).

    Example:
        >>> import numpy, tinyconv
        >>> conv = Conv1d(3, 8, kernel_size=5, padding=2)
        >>> conv
        Conv1d(3, 8, kernel_size=(5,), stride=(1,), padding=(2,))
        >>> conv(tinyconv.tensor(numpy.zeros((2, 3, 20), dtype=numpy.float32))).shape
        (2, 8, 20)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int],
        stride: int | tuple[int] = 1,
        padding: int | tuple[int] | str = 0,
        dilation: int | tuple[int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = "Conv1d"
        k = _single(name, "kernel_size", kernel_size, 1)
        s = _single(name, "stride", stride, 1)
        d = _single(name, "dilation", dilation, 1)
        self._setup(name, in_channels, out_channels, k[0], s[0], d[0], groups)
        self.kernel_size, self.stride, self.dilation = k, s, d
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(
                    f"{name}: invalid value for argument `padding`. Expected an int, 'valid' or "
                    f"'same'. Received padding={padding!r}."
                )
            if padding == "same" and s != (1,):
                raise ValueError(
                    f"{name}: padding='same' is not supported for strided convolutions. "
                    f"Received stride={stride!r}."
                )
            self.padding: tuple[int] | str = padding
        else:
            self.padding = _single(name, "padding", padding, 0)
        if padding_mode != "zeros":
            raise ValueError(
                f"{name}: invalid value for argument `padding_mode`. Expected 'zeros'. "
                f"Received padding_mode={padding_mode!r}."
            )
        self.padding_mode = padding_mode
        shape = (self.out_channels, self.in_channels // self.groups, k[0])
        self._make_params(shape, self.out_channels, bias, dtype)

    def forward(self, x: Tensor) -> Tensor:
        padding = self.padding if isinstance(self.padding, str) else self.padding[0]
        return conv1d(
            x, self.weight, self.bias, self.stride[0], padding, self.dilation[0], self.groups,
            layer=repr(self),
        )  # fmt: skip

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        """(N, C, L) -> (N, FN, L_out) by the size formula, without any data."""
        in_shape = tuple(in_shape)
        if len(in_shape) == 2:
            return self.output_shape((1, *in_shape))[1:]
        layer = repr(self)
        if len(in_shape) != 3 or in_shape[1] != self.in_channels:
            raise ValueError(
                f"{layer}: expected an input (N, {self.in_channels}, L) or "
                f"({self.in_channels}, L), got {in_shape}"
            )
        (K,), (S,), (d,) = self.kernel_size, self.stride, self.dilation
        if self.padding == "same":
            pads = _same_pads(1, K, (1, d))[2:]
        else:
            pads = (0, 0) if self.padding == "valid" else (self.padding[0],) * 2
        L = conv_output_size(in_shape[2], K, S, pads, d, layer=layer, dim="L", in_shape=in_shape)
        return (in_shape[0], self.out_channels, L)
