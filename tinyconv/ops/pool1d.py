"""1-D pooling: ``max_pool1d`` and ``avg_pool1d`` over the last axis of (N, C, L).

A 1-D window is a 2-D window one row high: (N, C, L) is pooled as (N, C, 1, L) with kernel
(1, F), stride (1, S), padding (0, P) and dilation (1, d), so the arithmetic, forward and
backward, is that of ``pool.py`` and ``avg_pool.py``. Only the checks and the messages are
1-D (``L_out = (L_in - F + 2P)/S + 1``).
"""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from .avg_pool import avg_pool_nchw
from .pool import max_pool_nchw
from .pool_size import PoolArgs, check_pool_input, describe, pool_args
from .unbatched import add_batch, drop_batch


def as_2d(args: PoolArgs) -> PoolArgs:
    """The 2-D arguments of a 1-D pooling: one row high, nothing padded above or below."""
    return PoolArgs(
        (1, *args.kernel), (1, *args.stride), (0, 0, *args.pads), (1, *args.dilation),
        args.ceil_mode,
    )  # fmt: skip


def _rows(x: Tensor, layer: str, args: PoolArgs) -> tuple[Tensor, tuple[int, int], bool]:
    """x (N, C, L) or (C, L) checked, as (N, C, 1, L); the 2-D output size; batch added?"""
    check_pool_input(x, layer, dims=1)
    (L_out,) = args.output_size(x.shape, layer)
    x, added = add_batch(x, dims=1)
    return x.unsqueeze(2), (1, L_out), added


def _drop_row(y: Any) -> Any:
    return tuple(t.squeeze(2) for t in y) if isinstance(y, tuple) else y.squeeze(2)


def max_pool1d(
    x: Tensor,
    kernel_size: int | tuple[int],
    stride: int | tuple[int] | None = None,
    padding: int | tuple[int] = 0,
    dilation: int | tuple[int] = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
    *,
    layer: str | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """Max pooling over 1-D windows (``torch.nn.functional.max_pool1d``).

    Args:
        x (Tensor): (N, C, L) or unbatched (C, L), floating point.
        kernel_size, stride, padding, dilation (int or (int,)): F, S (default F), P (-inf,
            at most F/2; (left, right) pads each side on its own) and d.
        ceil_mode (bool): round the output length up. Default: False.
        return_indices (bool): also return each maximum's index along L. Default: False.

    Shape:
        (N, C, L) -> (N, C, L_out), L_out = floor((L + 2P - d*(F - 1) - 1)/S) + 1.

    Example:
        >>> import tinyconv
        >>> max_pool1d(tinyconv.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
        [[[3.0, 2.0]]]
    """
    layer = layer or describe("max_pool1d", kernel_size, stride, padding, dilation, ceil_mode)
    args = pool_args(
        kernel_size, stride, padding, layer, dilation=dilation, ceil_mode=ceil_mode, dims=1
    )
    x4, out_hw, added = _rows(x, layer, args)
    y = max_pool_nchw(x4, as_2d(args), out_hw, "max", bool(return_indices))
    return drop_batch(_drop_row(y), added)


def avg_pool1d(
    x: Tensor,
    kernel_size: int | tuple[int],
    stride: int | tuple[int] | None = None,
    padding: int | tuple[int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    *,
    layer: str | None = None,
) -> Tensor:
    """Average pooling over 1-D windows (``torch.nn.functional.avg_pool1d``).

    Args:
        x (Tensor): (N, C, L) or unbatched (C, L), floating point.
        kernel_size, stride, padding (int or (int,)): F, S (default F) and zero padding P.
        ceil_mode (bool): round the output length up. Default: False.
        count_include_pad (bool): the padding counts in the divisor. Default: True.

    Shape:
        (N, C, L) -> (N, C, L_out), L_out = floor((L - F + 2P)/S) + 1.

    Example:
        >>> import tinyconv
        >>> avg_pool1d(tinyconv.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
        [[[2.0, 1.0]]]
    """
    layer = layer or describe("avg_pool1d", kernel_size, stride, padding, ceil_mode=ceil_mode)
    args = pool_args(kernel_size, stride, padding, layer, ceil_mode=ceil_mode, dims=1)
    x4, out_hw, added = _rows(x, layer, args)
    y = avg_pool_nchw(x4, as_2d(args), out_hw, count_include_pad, None)
    return drop_batch(_drop_row(y), added)
