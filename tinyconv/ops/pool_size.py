"""Pooling hyper-parameters and output sizes, shared by the 1-D and 2-D poolings and their modules.

A pooling window of F taps, d apart (dilation), steps S along an axis padded by P_begin and
P_end; each axis of the output has

    out = floor((in + P_begin + P_end - d*(F - 1) - 1)/S) + 1  =  (in - F + 2P)/S + 1

(the second form for d = 1 and equal padding). With ``ceil_mode`` the division rounds up,
and, as in PyTorch, a last window that would start past the input and its left padding is
dropped: ``if (out - 1)*S >= in + P_begin: out -= 1``. ``conv_output_size`` computes it and
writes the formula, numbers filled in, into its errors.

Arguments take PyTorch's forms (an int, or one int per axis; a one-element tuple is
repeated), plus one of tinyconv's own: ``padding`` may give both sides of every axis,
(top, bottom, left, right) in 2-D or (left, right) in 1-D, the asymmetric padding of ONNX
models (each side then at most the effective kernel d*(F - 1) + 1 minus 1, so that no
window lies wholly in the padding).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

from ..dtypes import is_floating
from ..tensor import Tensor
from .im2col import conv_output_size

Sizes = tuple[int, ...]
AXES = {1: ("L",), 2: ("H", "W")}  # the spatial axes named in messages


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, numbers.Integral):
        return True
    return (
        getattr(value, "ndim", None) == 0
        and getattr(value, "dtype", None) is not None
        and (value.dtype.kind in "iu")
    )


def _ints(value: Any, name: str, layer: str, lengths: tuple[int, ...]) -> Sizes:
    """An int or a sequence of ints whose length is one of ``lengths``; a TypeError otherwise.

    A single int, or a sequence of one, is repeated to ``lengths[0]`` entries.
    """
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(items) == 1:
        items = items * lengths[0]
    if len(items) not in lengths or not all(_is_int(v) for v in items):
        forms = " or ".join(str(n) for n in (1, *lengths) if n)
        raise TypeError(
            f"{layer}: invalid type for argument `{name}`. Expected an int or a tuple of "
            f"{forms} ints. Received {name}={value!r}."
        )
    return tuple(int(v) for v in items)


def describe(
    name: str,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
) -> str:
    """The layer text used in reprs and messages: ``MaxPool2d(kernel_size=2, stride=2)``.

    The stride is always shown (resolved from the kernel when None or empty); padding,
    dilation and ceil_mode when not their defaults.

    Example:
        >>> describe("MaxPool2d", 3, 2, 1, ceil_mode=True)
        'MaxPool2d(kernel_size=3, stride=2, padding=1, ceil_mode=True)'
    """
    stride = kernel_size if stride is None or stride == () else stride
    text = f"kernel_size={kernel_size}, stride={stride}"
    if padding not in (0, (0,), (0, 0), [0], [0, 0]):
        text += f", padding={padding}"
    if dilation not in (1, (1,), (1, 1), [1], [1, 1]):
        text += f", dilation={dilation}"
    if ceil_mode:
        text += ", ceil_mode=True"
    return f"{name}({text})"


@dataclass(frozen=True)
class PoolArgs:
    """Checked pooling hyper-parameters, one entry per spatial axis.

    ``pads`` holds (begin, end) for each axis in turn: (top, bottom, left, right) in 2-D.
    """

    kernel: Sizes
    stride: Sizes
    pads: Sizes
    dilation: Sizes
    ceil_mode: bool

    @property
    def begin(self) -> Sizes:
        """The padding before each axis (top, left): the only padding the windows read."""
        return self.pads[0::2]

    def output_size(self, in_shape: tuple[int, ...], layer: str) -> Sizes:
        """The output's spatial sizes for an input (..., *spatial); ValueError below 1."""
        return pool_output_size(
            in_shape, self.kernel, self.stride, self.pads, layer,
            dilation=self.dilation, ceil_mode=self.ceil_mode,
        )  # fmt: skip


def pool_args(
    kernel_size: Any,
    stride: Any,
    padding: Any,
    layer: str,
    *,
    dilation: Any = 1,
    ceil_mode: bool = False,
    dims: int = 2,
) -> PoolArgs:
    """Validate pooling hyper-parameters of a ``dims``-D pooling (PyTorch's rules).

    Raises:
        TypeError: a kernel size, stride, padding or dilation that is not ints of the right
            count.
        ValueError: kernel, stride or dilation below 1, negative padding, or padding more
            than half the kernel (PyTorch's limit; each side of an explicit (begin, end)
            padding may reach the effective kernel minus 1).
    """
    kernel = _ints(kernel_size, "kernel_size", layer, (dims,))
    empty = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
    step = kernel if empty else _ints(stride, "stride", layer, (dims,))
    dil = _ints(dilation, "dilation", layer, (dims,))
    pad = _ints(padding, "padding", layer, (dims, 2 * dims))
    for name, value, given in (
        ("kernel_size", kernel, kernel_size),
        ("stride", step, stride),
        ("dilation", dil, dilation),
    ):
        if min(value) < 1:
            raise ValueError(
                f"{layer}: invalid value for argument `{name}`. Expected a strictly positive "
                f"value. Received {name}={given}."
            )
    if min(pad) < 0:
        raise ValueError(
            f"{layer}: invalid value for argument `padding`. Expected a non-negative value. "
            f"Received padding={padding}."
        )
    if len(pad) == dims:  # PyTorch's symmetric padding: at most half the kernel
        for p, f in zip(pad, kernel, strict=True):
            if 2 * p > f:
                raise ValueError(
                    f"{layer}: padding should be at most half of the kernel size, got "
                    f"padding={p} for kernel_size={f} (at most {f // 2})"
                )
        pads = tuple(v for p in pad for v in (p, p))
    else:
        pads = pad
        for axis in range(dims):
            span = dil[axis] * (kernel[axis] - 1) + 1
            if max(pads[2 * axis : 2 * axis + 2]) >= span:
                raise ValueError(
                    f"{layer}: padding {pads} puts whole windows into the padding: each side "
                    f"must be smaller than the effective kernel d*(F-1) + 1 = {span}"
                )
    return PoolArgs(kernel, step, pads, dil, bool(ceil_mode))


def pool_output_size(
    in_shape: tuple[int, ...],
    kernel: Sizes,
    stride: Sizes,
    padding: Sizes,
    layer: str,
    *,
    dilation: Sizes | None = None,
    ceil_mode: bool = False,
) -> Sizes:
    """Spatial output sizes of a pooling (see the module docstring); below 1 is a ValueError.

    ``padding`` holds one value per axis or (begin, end) per axis. The message writes the
    formula with the numbers filled in, width first.

    Example:
        >>> pool_output_size((1, 3, 28, 28), (2, 2), (2, 2), (0, 0), "MaxPool2d")
        (14, 14)
        >>> pool_output_size((1, 3, 6, 6), (3, 3), (2, 2), (0, 0), "MaxPool2d", ceil_mode=True)
        (3, 3)
    """
    dims = len(kernel)
    in_shape = tuple(int(s) for s in in_shape)
    pads = padding if len(padding) == 2 * dims else tuple(v for p in padding for v in (p, p))
    dilation = dilation or (1,) * dims
    spatial = in_shape[len(in_shape) - dims :]
    out = [0] * dims
    for axis in reversed(range(dims)):  # width first, as the messages always were
        out[axis] = conv_output_size(
            spatial[axis], kernel[axis], stride[axis], pads[2 * axis : 2 * axis + 2],
            dilation[axis], ceil_mode=ceil_mode, layer=layer, dim=AXES[dims][axis],
            in_shape=in_shape,
        )  # fmt: skip
    return tuple(out)


def check_pool_input(x: Any, layer: str, dims: int = 2) -> None:
    """A floating Tensor (N, C, *spatial) or unbatched (C, *spatial), only N may be 0."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer}: expected a tinyconv Tensor, got {type(x).__name__}")
    names = ", ".join(AXES[dims])
    if x.ndim not in (dims + 1, dims + 2):
        raise ValueError(
            f"{layer}: expected a {dims + 2}-D input (N, C, {names}) or an unbatched "
            f"{dims + 1}-D input (C, {names}), got shape {x.shape} ({x.ndim}-D)"
        )
    if 0 in x.shape[x.ndim - dims - 1 :]:
        raise ValueError(
            f"{layer}: expected non-empty channel and spatial dimensions (only the batch "
            f"may be 0), got input {x.shape}"
        )
    if not is_floating(x.dtype):
        raise TypeError(
            f"{layer}: expected a floating-point input, got dtype {x.dtype}; "
            "convert images with x.astype('float32') / 255 first"
        )
