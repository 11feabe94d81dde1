"""Pooling layers: MaxPool2d, MinPool2d, AvgPool2d and AdaptiveAvgPool2d.

Pooling shrinks H and W, has no learnable parameters, and keeps the channel count. The
arithmetic (forward and backward) is in ``tinyconv/ops/pool.py``; these modules check the
hyper-parameters once at construction and compute their output shape without data.
"""

from __future__ import annotations

from typing import Any

from ..ops.pool import (
    Pair,
    adaptive_avg_pool2d,
    adaptive_output_size,
    avg_pool2d,
    check_pool_args,
    describe,
    max_pool2d,
    min_pool2d,
    pool_output_size,
)
from ..tensor import Tensor
from .module import Module


def _as_given(value: Any) -> Any:
    """Keep ints as ints and pairs as tuples (lists from JSON or users become tuples)."""
    return tuple(value) if isinstance(value, list) else value


def _check_4d(layer: str, in_shape: tuple[int, ...]) -> None:
    if len(in_shape) != 4:
        hint = f"; add the batch dimension: {(1, *in_shape)}" if len(in_shape) == 3 else ""
        raise ValueError(
            f"{layer}: expected a 4-D input (N, C, H, W), got a {len(in_shape)}-D input of "
            f"shape {tuple(in_shape)}{hint}"
        )


class _Pool2d(Module):
    """What the window poolings share: checked kernel/stride/padding, repr, output shape."""

    def __init__(
        self,
        kernel_size: int | Pair,
        stride: int | Pair | None = None,
        padding: int | Pair = 0,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size = _as_given(kernel_size)
        self.stride = self.kernel_size if stride is None else _as_given(stride)
        self.padding = _as_given(padding)
        self.ceil_mode = ceil_mode
        name = describe(type(self).__name__, kernel_size, stride, padding)
        self._pairs = check_pool_args(kernel_size, stride, padding, name, ceil_mode)

    def extra_repr(self) -> str:
        return describe("", self.kernel_size, self.stride, self.padding)[1:-1]

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        """(N, C, H_out, W_out) with W_out = (W_in - F + 2P)/S + 1 floored; C unchanged."""
        layer = repr(self)
        _check_4d(layer, tuple(in_shape))
        out_h, out_w = pool_output_size(tuple(in_shape), *self._pairs, layer)
        return (in_shape[0], in_shape[1], out_h, out_w)


class MaxPool2d(_Pool2d):
    """Max pooling: the largest value of each F_h x F_w window (``torch.nn.MaxPool2d``).

    Args:
        kernel_size (int or (int, int)): window size F.
        stride (int or (int, int), optional): step S. Default: kernel_size (no overlap).
        padding (int or (int, int)): implicit -inf padding P, at most kernel_size/2. Default: 0.
        ceil_mode (bool): only False is supported (sizes are floored). Default: False.

    Shape:
        Input (N, C, H_in, W_in) -> Output (N, C, H_out, W_out), with

        H_out = floor((H_in - F + 2P)/S) + 1,  W_out = floor((W_in - F + 2P)/S) + 1.

        No parameters; the channel count C is kept. 2x2 with stride 2 quarters the map.

    Raises:
        ValueError: at construction for a stride or kernel below 1, negative padding or
            padding over half the kernel; at forward for a non 4-D input or an output size
            below 1 (the message shows the formula with the numbers).
        TypeError: a non-float input.

    Example:
        >>> import numpy, tinyconv
        >>> pool = MaxPool2d(2, stride=2)
        >>> pool(tinyconv.tensor(numpy.zeros((1, 30, 24, 24)))).shape
        (1, 30, 12, 12)
    """

    def forward(self, x: Tensor) -> Tensor:
        k, s, p = self._pairs
        return max_pool2d(x, k, s, p, layer=repr(self))


class MinPool2d(_Pool2d):
    """Min pooling: the smallest value of each window (the seeds' third pooling; -max(-x)).

    Arguments, shape and errors as ``MaxPool2d``; the padding is +inf.

    Example:
        >>> import tinyconv
        >>> MinPool2d(2)(tinyconv.tensor([[[[4.0, 2.0], [1.0, 3.0]]]])).tolist()
        [[[[1.0]]]]
    """

    def forward(self, x: Tensor) -> Tensor:
        k, s, p = self._pairs
        return min_pool2d(x, k, s, p, layer=repr(self))


class AvgPool2d(_Pool2d):
    """Average pooling: the mean of each window (``torch.nn.AvgPool2d``; LeNet's subsampling).

    Args:
        kernel_size (int or (int, int)): window size F.
        stride (int or (int, int), optional): step S. Default: kernel_size.
        padding (int or (int, int)): zero padding P, at most kernel_size/2. Default: 0.
        ceil_mode (bool): only False is supported. Default: False.
        count_include_pad (bool): padded zeros count in the divisor. Default: True.

    Shape:
        Input (N, C, H_in, W_in) -> Output (N, C, H_out, W_out),
        W_out = floor((W_in - F + 2P)/S) + 1 (H likewise). No parameters; C is kept.

    Example:
        >>> import tinyconv
        >>> AvgPool2d(2)(tinyconv.tensor([[[[4.0, 2.0], [1.0, 3.0]]]])).tolist()
        [[[[2.5]]]]
    """

    def __init__(
        self,
        kernel_size: int | Pair,
        stride: int | Pair | None = None,
        padding: int | Pair = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = bool(count_include_pad)

    def forward(self, x: Tensor) -> Tensor:
        k, s, p = self._pairs
        return avg_pool2d(x, k, s, p, count_include_pad=self.count_include_pad, layer=repr(self))

    def extra_repr(self) -> str:
        extra = "" if self.count_include_pad else ", count_include_pad=False"
        return super().extra_repr() + extra


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size, whatever the input size (``torch.nn``'s).

    Output cell i averages input rows floor(i*H/out_h) .. ceil((i+1)*H/out_h) - 1 (columns
    likewise). ``AdaptiveAvgPool2d(1)`` is global average pooling.

    Args:
        output_size (int or (int, int)): (out_h, out_w); None in a pair keeps that input size.

    Shape:
        Input (N, C, H, W) -> Output (N, C, out_h, out_w). No parameters; C is kept.

    Example:
        >>> import numpy, tinyconv
        >>> AdaptiveAvgPool2d(1)(tinyconv.tensor(numpy.ones((2, 512, 7, 7)))).shape
        (2, 512, 1, 1)
    """

    def __init__(self, output_size: int | tuple[int | None, int | None]) -> None:
        super().__init__()
        self.output_size = _as_given(output_size)
        adaptive_output_size((1, 1, 1, 1), self.output_size, f"AdaptiveAvgPool2d({output_size})")

    def forward(self, x: Tensor) -> Tensor:
        return adaptive_avg_pool2d(x, self.output_size, layer=repr(self))

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        layer = repr(self)
        _check_4d(layer, tuple(in_shape))
        return tuple(in_shape[:2]) + adaptive_output_size(tuple(in_shape), self.output_size, layer)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
