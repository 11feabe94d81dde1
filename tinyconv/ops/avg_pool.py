"""Average pooling over 2-D windows: each output is the mean of its window.

The windows are unrolled as in max pooling (``pool.py``): column (i, j) of the unrolled
matrix is the strided slice ``x_pad[:, :, i::S, j::S]``, so the sum of every window is a sum
of F_h*F_w slices, and backward adds dout/divisor back slice by slice. Output sizes, the
arguments and ``ceil_mode`` are those of max pooling (``pool_size.py``).

The divisor follows PyTorch: the window's size inside the padded input (F_h*F_w, less
where a ceil_mode window reaches past the padding), only its real elements with
``count_include_pad=False``, or ``divisor_override``. With padding (top, bottom, left,
right) each side counts on its own (ONNX's asymmetric pads).
"""

from __future__ import annotations

from typing import Any

from ..backend import get_array_module
from ..tensor import Function, Tensor
from .pool import Pair, _column, _crop, _offsets
from .pool_size import PoolArgs, _is_int, check_pool_input, describe, pool_args
from .unbatched import add_batch, drop_batch


def _window_sizes(
    xp: Any, size: int, F: int, S: int, pads: Pair, n_out: int, count_pad: bool
) -> Any:
    """How many elements each window of one axis averages (n_out,), as PyTorch counts them.

    Window o covers [o*S - P_begin, o*S - P_begin + F), cut at the end of the padding (a
    ceil_mode window may reach past it); count_include_pad counts the padding in it,
    otherwise only the real elements count.
    """
    start = xp.arange(n_out) * S - pads[0]
    end = xp.minimum(start + F, size + pads[1])
    if count_pad:
        return end - start
    return xp.minimum(end, size) - xp.maximum(start, 0)


class AvgPool(Function):
    """y = sum of each window / divisor.  x (N, C, H, W) -> (N, C, out_h, out_w).

    The divisor is the window's size inside the padded input (F_h*F_w except where a
    ceil_mode window runs past the padding), or with ``count_include_pad=False`` the number
    of real (not padded) elements in it, or ``divisor_override``. ``padding`` is (top,
    left), ``pads_end`` (bottom, right), the same as ``padding`` when None. Backward spreads
    dout/divisor over the window.
    """

    def forward(
        self,
        x: Any,
        kernel: Pair,
        stride: Pair,
        padding: Pair,
        out_hw: Pair,
        count_include_pad: bool,
        pads_end: Pair | None = None,
        divisor_override: int | None = None,
    ) -> Any:
        xp = get_array_module(x)
        pads_end = padding if pads_end is None else pads_end
        in_hw = x.shape[2:]
        # zeros around x: the padding, and under ceil_mode whatever the last windows read past it
        axes = list(zip(in_hw, kernel, stride, padding, pads_end, out_hw, strict=True))
        reach = [max(e, (o - 1) * s + f - n - b) for n, f, s, b, e, o in axes]
        x_pad = x
        if any(padding) or any(reach):
            widths = ((0, 0), (0, 0), (padding[0], reach[0]), (padding[1], reach[1]))
            x_pad = xp.pad(x, widths, constant_values=x.dtype.type(0))
        if divisor_override is not None:
            div = x.dtype.type(divisor_override)
        else:
            counts = [
                _window_sizes(xp, n, f, s, (b, e), o, count_include_pad)
                for n, f, s, b, e, o in axes
            ]
            div = (counts[0][:, None] * counts[1][None, :]).astype(x.dtype)  # (out_h, out_w)
            if div.size and bool((div == div.flat[0]).all()):
                div = div.flat[0]  # every window is full: one number
        total = _column(x_pad, 0, 0, stride, out_hw).copy()  # (N, C, out_h, out_w)
        for _, i, j in _offsets(kernel)[1:]:
            total += _column(x_pad, i, j, stride, out_hw)
        self.save_for_backward(x_pad.shape, in_hw, kernel, stride, padding, out_hw, div)
        return total / div

    def backward(self, dout: Any) -> Any:
        padded_shape, in_hw, kernel, stride, padding, out_hw, div = self.saved
        xp = get_array_module(dout)
        g = dout / div  # (N, C, out_h, out_w): every element of a window gets the same share
        dx_pad = xp.zeros(padded_shape, dtype=dout.dtype)
        for _, i, j in _offsets(kernel):
            _column(dx_pad, i, j, stride, out_hw)[...] += g
        return _crop(dx_pad, padding, in_hw)


def check_divisor(divisor_override: Any, layer: str) -> int | None:
    """None, or a nonzero int (PyTorch divides by it instead of the window size)."""
    if divisor_override is None:
        return None
    if not _is_int(divisor_override):
        raise TypeError(
            f"{layer}: divisor_override must be an int or None, got {divisor_override!r}"
        )
    if int(divisor_override) == 0:
        raise ValueError(f"{layer}: divisor_override must not be zero (it divides every sum)")
    return int(divisor_override)


def avg_pool_nchw(
    x: Tensor, args: PoolArgs, out_hw: Pair, count_include_pad: bool, divisor: int | None
) -> Tensor:
    """Average pooling of a checked (N, C, H, W) input with checked 2-D ``args``."""
    return AvgPool.apply(
        x, kernel=args.kernel, stride=args.stride, padding=args.begin, out_hw=out_hw,
        count_include_pad=bool(count_include_pad), pads_end=args.pads[1::2],
        divisor_override=divisor,
    )  # fmt: skip


def avg_pool2d(
    x: Tensor,
    kernel_size: int | Pair,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    *,
    layer: str | None = None,
) -> Tensor:
    """Average pooling over 2-D windows (``torch.nn.functional.avg_pool2d``).

    Args:
        x (Tensor): (N, C, H, W) or unbatched (C, H, W), floating point.
        kernel_size (int or (int, int)): window size F.
        stride (int or (int, int), optional): step S. Default: kernel_size.
        padding (int or (int, int)): zero padding P, at most kernel_size/2;
            (top, bottom, left, right) gives each side its own (ONNX's pads). Default: 0.
        ceil_mode (bool): round the output size up (see ``max_pool2d``). Default: False.
        count_include_pad (bool): divide by the window's size including its padding;
            False divides by the number of real elements. Default: True.
        divisor_override (int, optional): divide every sum by this instead. Default: None.
        layer (str, optional): the name used in error messages.

    Shape:
        (N, C, H, W) -> (N, C, H_out, W_out), W_out = floor((W - F + 2P)/S) + 1
        (ceil with ceil_mode), H likewise.

    Example:
        >>> import tinyconv
        >>> x = tinyconv.tensor([[[[4.0, 2.0], [1.0, 3.0]]]])
        >>> avg_pool2d(x, 2).tolist()
        [[[[2.5]]]]
        >>> avg_pool2d(x, 2, divisor_override=2).tolist()
        [[[[5.0]]]]
    """
    layer = layer or describe("avg_pool2d", kernel_size, stride, padding, ceil_mode=ceil_mode)
    args = pool_args(kernel_size, stride, padding, layer, ceil_mode=ceil_mode)
    divisor = check_divisor(divisor_override, layer)
    check_pool_input(x, layer)
    out_hw = args.output_size(x.shape, layer)
    x, added = add_batch(x, dims=2)
    return drop_batch(avg_pool_nchw(x, args, out_hw, count_include_pad, divisor), added)
