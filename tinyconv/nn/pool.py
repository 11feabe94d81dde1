"""Pooling layers: MaxPool1d/2d, MinPool2d, AvgPool1d/2d, AdaptiveAvgPool2d, MaxUnpool1d/2d.

Pooling shrinks H and W (or L), has no learnable parameters, and keeps the channel count.
The arithmetic (forward and backward) is in ``tinyconv/ops/pool.py``, ``avg_pool.py``,
``pool1d.py``, ``adaptive_pool.py`` and ``unpool.py``; these modules check the
hyper-parameters once at construction and compute their output shape without data. Every
layer takes a batch (N, C, *spatial) or one unbatched sample (C, *spatial), as PyTorch's.
"""

from __future__ import annotations

from typing import Any

from ..ops.adaptive_pool import adaptive_avg_pool2d, adaptive_output_size
from ..ops.avg_pool import avg_pool2d, check_divisor
from ..ops.pool import max_pool2d, min_pool2d
from ..ops.pool1d import avg_pool1d, max_pool1d
from ..ops.pool_size import AXES, describe, pool_args
from ..ops.unpool import max_unpool1d, max_unpool2d, unpool_output_size
from ..tensor import Tensor
from .module import Module

Pair = tuple[int, int]


def _as_given(value: Any) -> Any:
    """Keep ints as ints and pairs as tuples (lists from JSON or users become tuples)."""
    return tuple(value) if isinstance(value, list) else value


def _check_rank(layer: str, in_shape: tuple[int, ...], dims: int) -> None:
    if len(in_shape) not in (dims + 1, dims + 2):
        names = ", ".join(AXES[dims])
        raise ValueError(
            f"{layer}: expected a {dims + 2}-D input (N, C, {names}) or an unbatched "
            f"{dims + 1}-D input (C, {names}), got a {len(in_shape)}-D input of shape "
            f"{tuple(in_shape)}"
        )


class _Pool(Module):
    """What the window poolings share: checked kernel/stride/padding/dilation, repr, shape."""

    dims = 2

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size = _as_given(kernel_size)
        self.stride = self.kernel_size if stride is None else _as_given(stride)
        self.padding = _as_given(padding)
        self.dilation = _as_given(dilation)
        self.ceil_mode = bool(ceil_mode)
        name = describe(type(self).__name__, kernel_size, stride, padding, dilation, ceil_mode)
        self._args = pool_args(
            kernel_size, stride, padding, name, dilation=dilation, ceil_mode=ceil_mode,
            dims=self.dims,
        )  # fmt: skip

    def extra_repr(self) -> str:
        text = describe("", self.kernel_size, self.stride, self.padding, self.dilation)
        return text[1:-1] + (", ceil_mode=True" if self.ceil_mode else "")

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        """(N, C, H_out, W_out), W_out = floor((W_in + 2P - d*(F - 1) - 1)/S) + 1; C unchanged."""
        layer = repr(self)
        _check_rank(layer, tuple(in_shape), self.dims)
        return tuple(in_shape[: -self.dims]) + self._args.output_size(tuple(in_shape), layer)


class MaxPool2d(_Pool):
    """Max pooling: the largest value of each F_h x F_w window (``torch.nn.MaxPool2d``).

    Args:
        kernel_size (int or (int, int)): window size F.
        stride (int or (int, int), optional): step S. Default: kernel_size (no overlap).
        padding (int or (int, int)): implicit -inf padding P, at most kernel_size/2;
            (top, bottom, left, right) pads each side on its own. Default: 0.
        dilation (int or (int, int)): spacing d between the window's taps. Default: 1.
        return_indices (bool): forward also returns the flat index h*W + w of every
            maximum (for ``MaxUnpool2d``). Default: False.
        ceil_mode (bool): round the output size up; the last window must start inside the
            input or its left padding (PyTorch's rule). Default: False.

    Shape:
        Input (N, C, H_in, W_in) or (C, H_in, W_in) -> Output (N, C, H_out, W_out), with

        H_out = floor((H_in + 2P - d*(F - 1) - 1)/S) + 1  (= (H_in - F + 2P)/S + 1 for d = 1),

        ceil instead of floor with ceil_mode; W_out likewise. No parameters; the channel
        count C is kept. 2x2 with stride 2 quarters the map.

    Raises:
        ValueError: at construction for a stride, kernel or dilation below 1, negative
            padding or padding over half the kernel; at forward for an input that is not
            3-D or 4-D or an output size below 1 (the message shows the formula with the
            numbers).
        TypeError: a non-float input.

    Example:
        >>> import numpy, tinyconv
        >>> pool = MaxPool2d(2, stride=2)
        >>> pool(tinyconv.tensor(numpy.zeros((1, 30, 24, 24)))).shape
        (1, 30, 12, 12)
        >>> MaxPool2d(3, stride=2, ceil_mode=True).output_shape((1, 64, 112, 112))
        (1, 64, 56, 56)
    """

    def __init__(
        self,
        kernel_size: int | Pair,
        stride: int | Pair | None = None,
        padding: int | Pair = 0,
        dilation: int | Pair = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__(kernel_size, stride, padding, dilation, ceil_mode)
        self.return_indices = bool(return_indices)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return max_pool2d(
            x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
            self.return_indices, layer=repr(self),
        )  # fmt: skip

    def extra_repr(self) -> str:
        return super().extra_repr() + (", return_indices=True" if self.return_indices else "")


class MinPool2d(MaxPool2d):
    """Min pooling: the smallest value of each window (the seeds' third pooling; -max(-x)).

    Arguments, shape and errors as ``MaxPool2d``; the padding is +inf.

    Example:
        >>> import tinyconv
        >>> MinPool2d(2)(tinyconv.tensor([[[[4.0, 2.0], [1.0, 3.0]]]])).tolist()
        [[[[1.0]]]]
    """

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return min_pool2d(
            x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
            self.return_indices, layer=repr(self),
        )  # fmt: skip


class MaxPool1d(MaxPool2d):
    """Max pooling over 1-D windows of (N, C, L) (``torch.nn.MaxPool1d``).

    Arguments as ``MaxPool2d``, one int each; (left, right) padding pads each side.

    Shape:
        (N, C, L_in) or (C, L_in) -> (N, C, L_out),
        L_out = floor((L_in + 2P - d*(F - 1) - 1)/S) + 1.

    Example:
        >>> import numpy, tinyconv
        >>> MaxPool1d(3, stride=2)(tinyconv.tensor(numpy.zeros((2, 4, 9)))).shape
        (2, 4, 4)
    """

    dims = 1

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return max_pool1d(
            x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
            self.return_indices, layer=repr(self),
        )  # fmt: skip


class AvgPool2d(_Pool):
    """Average pooling: the mean of each window (``torch.nn.AvgPool2d``; LeNet's subsampling).

    Args:
        kernel_size (int or (int, int)): window size F.
        stride (int or (int, int), optional): step S. Default: kernel_size.
        padding (int or (int, int)): zero padding P, at most kernel_size/2;
            (top, bottom, left, right) pads each side on its own. Default: 0.
        ceil_mode (bool): round the output size up (see ``MaxPool2d``). Default: False.
        count_include_pad (bool): padded zeros count in the divisor. Default: True.
        divisor_override (int, optional): divide every sum by this instead. Default: None.

    Shape:
        Input (N, C, H_in, W_in) or (C, H_in, W_in) -> Output (N, C, H_out, W_out),
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
        divisor_override: int | None = None,
    ) -> None:
        super().__init__(kernel_size, stride, padding, 1, ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override = divisor_override
        check_divisor(divisor_override, repr(self))

    def forward(self, x: Tensor) -> Tensor:
        return avg_pool2d(
            x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
            self.count_include_pad, self.divisor_override, layer=repr(self),
        )  # fmt: skip

    def extra_repr(self) -> str:
        extra = "" if self.count_include_pad else ", count_include_pad=False"
        if self.divisor_override is not None:
            extra += f", divisor_override={self.divisor_override}"
        return super().extra_repr() + extra


class AvgPool1d(AvgPool2d):
    """Average pooling over 1-D windows of (N, C, L) (``torch.nn.AvgPool1d``).

    Arguments as ``AvgPool2d``, one int each, without divisor_override (as PyTorch).

    Shape:
        (N, C, L_in) or (C, L_in) -> (N, C, L_out), L_out = floor((L_in - F + 2P)/S) + 1.

    Example:
        >>> import numpy, tinyconv
        >>> AvgPool1d(2)(tinyconv.tensor(numpy.ones((1, 2, 5)))).tolist()
        [[[1.0, 1.0], [1.0, 1.0]]]
    """

    dims = 1

    def __init__(
        self,
        kernel_size: int | tuple[int],
        stride: int | tuple[int] | None = None,
        padding: int | tuple[int] = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)

    def forward(self, x: Tensor) -> Tensor:
        return avg_pool1d(
            x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
            self.count_include_pad, layer=repr(self),
        )  # fmt: skip


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size, whatever the input size (``torch.nn``'s).

    Output cell i averages input rows floor(i*H/out_h) .. ceil((i+1)*H/out_h) - 1 (columns
    likewise). ``AdaptiveAvgPool2d(1)`` is global average pooling.

    Args:
        output_size (int or (int, int)): (out_h, out_w); None in a pair keeps that input size.

    Shape:
        Input (N, C, H, W) or (C, H, W) -> Output (N, C, out_h, out_w). No parameters.

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
        _check_rank(layer, tuple(in_shape), 2)
        return tuple(in_shape[:-2]) + adaptive_output_size(tuple(in_shape), self.output_size, layer)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class MaxUnpool2d(Module):
    """The partial inverse of ``MaxPool2d``: values back where its indices say, zeros elsewhere.

    Args:
        kernel_size (int or (int, int)): the pooling's F.
        stride (int or (int, int), optional): the pooling's S. Default: kernel_size.
        padding (int or (int, int)): the pooling's P. Default: 0.

    Shape:
        forward(x, indices, output_size=None): (N, C, H, W) -> (N, C, H_out, W_out) with
        H_out = (H - 1)*S - 2P + F, or ``output_size`` (e.g. the pooling input's size).

    Example:
        >>> import numpy, tinyconv
        >>> pool, unpool = MaxPool2d(2, return_indices=True), MaxUnpool2d(2)
        >>> y, idx = pool(tinyconv.tensor(numpy.ones((1, 3, 5, 5))))
        >>> unpool(y, idx, output_size=(5, 5)).shape
        (1, 3, 5, 5)
    """

    dims = 2

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        self.kernel_size = _as_given(kernel_size)
        self.stride = self.kernel_size if stride is None else _as_given(stride)
        self.padding = _as_given(padding)
        self._args = pool_args(kernel_size, stride, padding, repr(self), dims=self.dims)

    def forward(self, x: Tensor, indices: Any, output_size: Any = None) -> Tensor:
        unpool = max_unpool2d if self.dims == 2 else max_unpool1d
        return unpool(
            x, indices, self.kernel_size, self.stride, self.padding, output_size, layer=repr(self)
        )

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The default output shape, (N, C, (H - 1)*S - 2P + F, (W - 1)*S - 2P + F)."""
        layer = repr(self)
        _check_rank(layer, tuple(in_shape), self.dims)
        a = self._args
        spatial = unpool_output_size(
            tuple(in_shape[-self.dims :]), a.kernel, a.stride, a.begin, None, layer
        )
        return tuple(in_shape[: -self.dims]) + spatial

    def extra_repr(self) -> str:
        return describe("", self.kernel_size, self.stride, self.padding)[1:-1]


class MaxUnpool1d(MaxUnpool2d):
    """The partial inverse of ``MaxPool1d``: (N, C, L) -> (N, C, (L - 1)*S - 2P + F).

    Example:
        >>> import tinyconv
        >>> MaxUnpool1d(2)(tinyconv.tensor([[[5.0]]]), tinyconv.tensor([[[1]]])).tolist()
        [[[0.0, 5.0]]]
    """

    dims = 1
