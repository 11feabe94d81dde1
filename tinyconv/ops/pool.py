"""Max and min pooling over 2-D windows (average pooling is in ``avg_pool.py``).

As in the from-scratch book, each pooling window is unrolled into one row and the row is
reduced. Max pooling keeps the position of each row's winner (the argmax), so backward
sends each window's gradient to that one element; with ties the first maximum in row-major
window order wins, as in PyTorch. Min pooling is the same with argmin (the max of -x).

Output size per axis, with kernel F, stride S, padding P and dilation d (``pool_size.py``):

    W_out = floor((W_in + 2P - d*(F - 1) - 1)/S) + 1  =  (W_in - F + 2P)/S + 1 for d = 1

rounded up instead with ``ceil_mode=True``, where a last window must still start inside the
input or its left padding (PyTorch's rule). Pooling has no parameters and keeps the channel
count: (N, C, H, W) -> (N, C, H_out, W_out); an unbatched (C, H, W) input gives (C, H_out, W_out).

The unrolled matrix is never copied out: its column (i, j), element (i, j) of every window,
is the strided slice ``x_pad[:, :, i*d::S, j*d::S]`` (cut to out_h x out_w), so a row-wise
max is a running max over F_h*F_w slices, and backward adds the gradients back slice by
slice (the book's col2im loop). The same code serves overlapping, dilated and padded
windows and the usual 2x2/2.

``max_pool2d(return_indices=True)`` also returns where each maximum came from, as PyTorch
does: the flat index h*W + w in its (H, W) plane, which ``max_unpool2d`` (``unpool.py``)
takes back.
"""

from __future__ import annotations

import math
from typing import Any

from .. import kernels
from ..backend import get_array_module
from ..dtypes import as_bits, is_low_precision, order_key
from ..tensor import Function, Tensor, is_grad_enabled
from .parallel import for_chunks
from .pool_size import PoolArgs, check_pool_input, describe, pool_args
from .unbatched import add_batch, drop_batch

Pair = tuple[int, int]


# ------------------------------------------------------------- window views
def _column(x_pad: Any, i: int, j: int, stride: Pair, out_hw: Pair) -> Any:
    """Column (i, j) of the unrolled windows: element (i, j) of every window, (N, C, out_h, out_w).

    Unrolling x_pad into rows of F_h*F_w (one row per window) and taking column i*F_w + j
    picks the rows i, i+S, ... and columns j, j+S, ...: a strided slice, no copy.
    """
    (SH, SW), (out_h, out_w) = stride, out_hw
    return x_pad[:, :, i : i + SH * out_h : SH, j : j + SW * out_w : SW]


def _offsets(kernel: Pair) -> list[tuple[int, int, int]]:
    """(k, i, j) for every position of the window, k = i*F_w + j (row-major, as argmax counts)."""
    return [(i * kernel[1] + j, i, j) for i in range(kernel[0]) for j in range(kernel[1])]


def _valid_tap(i: int, j: int, in_hw: Pair, stride: Pair, padding: Pair, out_hw: Pair) -> Any:
    """Where the tap i rows and j columns into the windows lands on real input, not padding.

    Returns (out_index, in_index), slices of (H_out, W_out) and of (H, W): output pixel
    (h, w) reads input (h*S + i - P, w*S + j - P), so the tap is valid for the outputs
    with 0 <= h*S + i - P < H (and likewise for w); both index the same number of pixels.
    ``padding`` is the padding before each axis (top, left); with dilation d, tap (a, b) of
    the kernel lies i = a*d rows and j = b*d columns into its window. Max pooling runs over
    these rectangles instead of padding x with -inf (no padded copy), and the last windows
    of ``ceil_mode`` may reach past the input.
    """
    out_idx, in_idx = [], []
    for t, size, S, P, n_out in zip((i, j), in_hw, stride, padding, out_hw, strict=True):
        lo = max(0, -(-(P - t) // S))  # first output whose tap is inside: ceil((P - t)/S)
        hi = min(n_out, (size - 1 + P - t) // S + 1)  # one past the last
        hi = max(hi, lo)
        start = lo * S + t - P
        out_idx.append(slice(lo, hi))
        in_idx.append(slice(start, start + (hi - lo - 1) * S + 1, S) if hi > lo else slice(0, 0))
    return (slice(None), slice(None), *out_idx), (slice(None), slice(None), *in_idx)


def _crop(dx_pad: Any, padding: Pair, in_hw: Pair) -> Any:
    """The (H, W) input part of a padded array; ``padding`` is (top, left)."""
    (pt, pl), (H, W) = padding, in_hw
    return dx_pad[:, :, pt : pt + H, pl : pl + W]


# ---------------------------------------------------------------- max / min
def _tiles(x: Any, kernel: Pair, out_hw: Pair) -> Any:
    """Non-overlapping windows as a view: (N, C, out_h, F_h, out_w, F_w), no copy.

    When the stride equals the kernel and there is no padding, window (h, w) is the block
    x[h*F_h : (h+1)*F_h, w*F_w : (w+1)*F_w], so splitting H into (out_h, F_h) and W into
    (out_w, F_w) turns the unrolled windows into a strided view of x itself (rows and
    columns left over by the floor are simply not in it).
    """
    xp = get_array_module(x)
    (FH, FW), (out_h, out_w) = kernel, out_hw
    sN, sC, sH, sW = x.strides
    return xp.lib.stride_tricks.as_strided(
        x,
        shape=(x.shape[0], x.shape[1], out_h, FH, out_w, FW),
        strides=(sN, sC, FH * sH, sH, FW * sW, sW),
    )


def _empty(xp: Any, shape: tuple[int, ...], dtype: Any, channel_major: bool) -> Any:
    """An empty (N, C, H, W) array, stored (C, N, H, W) when ``channel_major``.

    Pooling keeps the layout of its input (channel-major after a convolution), so that
    the chunks ``for_chunks`` cuts along the outer axis are contiguous in every array.
    """
    if not channel_major:
        return xp.empty(shape, dtype=dtype)
    N, C, *rest = shape
    return xp.empty((C, N, *rest), dtype=dtype).transpose(1, 0, 2, 3)


def _same_layout(xp: Any, a: Any, channel_major: bool) -> Any:
    """a, copied into the (N, C, H, W) or (C, N, H, W) memory layout unless already in it."""
    if (a.strides[1] > a.strides[0]) == channel_major:
        return a
    out = _empty(xp, a.shape, a.dtype, channel_major)
    out[...] = a
    return out


class MaxPool(Function):
    """y = max (or min) of each window.  x (N, C, H, W) -> (N, C, out_h, out_w).

    The max of each unrolled row is a running max over the row's F_h*F_w columns; the
    argmax remembers which column won (the first one on ties: only a strictly larger value
    replaces it). Backward routes each window's gradient to that element. ``padding`` is
    the padding before each axis (top, left); the output size ``out_hw`` (which ceil_mode
    and the padding after each axis decided) fixes the rest. Tap (a, b) of a window lies
    a*d rows and b*d columns into it (dilation d). With ``indices`` (a list) the forward
    appends the flat input index h*W + w of every maximum to it, an int64 array.

    Fast path, the usual 2x2 stride 2 (any stride == kernel without padding or dilation):
    the windows do not overlap, so the columns are strided views of x itself (``_tiles``),
    nothing is padded, and backward writes every element of dx exactly once, the window's
    gradient where the argmax points and zero elsewhere, with no zero-filling and no adding.
    It runs chunk by chunk (of images, or of channels when x is channel-major) on all
    threads. There, 16-bit inputs are compared as int16 keys that sort like the floats
    (``order_key``): NumPy's float16 comparisons are many times slower. With the compiled
    kernels on, that case runs in ``kernels/pool.py`` for C-contiguous float32/float64
    arrays (each window read once, the same values and argmax).
    """

    def forward(
        self,
        x: Any,
        kernel: Pair,
        stride: Pair,
        padding: Pair,
        out_hw: Pair,
        mode: str,
        dilation: Pair = (1, 1),
        indices: list | None = None,
    ) -> Any:
        xp = get_array_module(x)
        better, pick = (xp.greater, xp.maximum) if mode == "max" else (xp.less, xp.minimum)
        need_arg = (self.needs_input_grad[0] and is_grad_enabled()) or indices is not None
        index_dtype = xp.int8 if kernel[0] * kernel[1] <= 127 else xp.int32  # argmax in a window
        channel_major = x.strides[1] > x.strides[0]  # x is (C, N, H, W) in memory
        shape = (*x.shape[:2], *out_hw)  # (N, C, out_h, out_w), in the layout of x
        y = _empty(xp, shape, x.dtype, channel_major)
        arg = _empty(xp, shape, index_dtype, channel_major) if need_arg else None
        taps = [(k, a * dilation[0], b * dilation[1]) for k, a, b in _offsets(kernel)]
        tiled = (
            stride == kernel
            and padding == (0, 0)
            and dilation == (1, 1)
            and all(o * f <= n for o, f, n in zip(out_hw, kernel, x.shape[2:], strict=True))
        )

        def running_max(columns: list[Any], y: Any, arg: Any) -> None:
            y[...] = columns[0]  # every col is (n, c, out_h, out_w), a strided view
            for k, col in enumerate(columns[1:], start=1):
                if arg is not None:
                    # arg = k where col is strictly better (the first winner stays). k grows,
                    # so that is max(arg, k * better): two fast passes, no masked copy
                    xp.maximum(arg, better(col, y) * index_dtype(k), out=arg)
                pick(y, col, out=y)

        self.compiled = tiled and _compiled_pool(x, index_dtype)
        if arg is not None and not self.compiled:
            arg[...] = 0
        if self.compiled:  # kernels/pool.py: each window read once
            from ..kernels.pool import pool_forward  # noqa: PLC0415  (numba)

            keep = arg is not None
            a = arg if keep else xp.empty((1, 1, 1, 1), xp.int8)
            pool_forward(x, y, a, kernel[0], kernel[1], mode == "min", keep)
        elif tiled:
            low = is_low_precision(x.dtype)

            def chunk(i: tuple[slice, ...]) -> None:
                xi, yi = (order_key(as_bits(x[i])), as_bits(y[i])) if low else (x[i], y[i])
                windows = _tiles(xi, kernel, out_hw)
                columns = [windows[:, :, :, a, :, b] for _, a, b in _offsets(kernel)]
                running_max(columns, yi, None if arg is None else arg[i])
                if low:
                    yi[...] = order_key(yi)  # the keys of the maxima back to their float bits

            for_chunks(chunk, x, axis=1 if channel_major else 0)
        elif arg is None and _compiled_window_pool(x):  # no argmax wanted: each window once
            from ..kernels.pool import window_pool_forward  # noqa: PLC0415  (numba)

            window_pool_forward(x, y, kernel, stride, padding, dilation, mode == "min")
        else:  # overlapping, padded or dilated windows: a running max over the valid rectangles

            def chunk(i: tuple[slice, ...]) -> None:
                xi, yi, argi = x[i], y[i], None if arg is None else arg[i]
                yi[...] = -math.inf if mode == "max" else math.inf
                if argi is not None:  # start from each window's first tap inside the input
                    for k, a, b in reversed(taps):
                        argi[_valid_tap(a, b, x.shape[2:], stride, padding, out_hw)[0]] = k
                for k, a, b in taps:
                    out_idx, in_idx = _valid_tap(a, b, x.shape[2:], stride, padding, out_hw)
                    col, yv = xi[in_idx], yi[out_idx]
                    if argi is not None:
                        # the first tap inside the input wins unless a later one is strictly
                        # better; k grows, so arg = max(arg, k * better) as above
                        argv = argi[out_idx]
                        xp.maximum(argv, better(col, yv) * index_dtype(k), out=argv)
                    pick(yv, col, out=yv)

            for_chunks(chunk, y, axis=1 if channel_major else 0)
        if indices is not None:
            indices.append(_flat_indices(arg, kernel, stride, padding, dilation, x.shape[3]))
        self.save_for_backward(
            arg, x.shape, kernel, stride, padding, out_hw, tiled, channel_major, dilation
        )
        return y

    def backward(self, dout: Any) -> Any:
        arg, x_shape, kernel, stride, padding, out_hw, tiled, channel_major, dilation = self.saved
        xp = get_array_module(dout)
        dout = _same_layout(xp, dout, channel_major)  # (a small copy after a flatten)
        if self.compiled:
            from ..kernels.pool import pool_backward  # noqa: PLC0415  (numba)

            dx = xp.empty(x_shape, dout.dtype)
            pool_backward(xp.ascontiguousarray(dout), arg, dx, kernel[0], kernel[1])
            return dx
        if tiled:
            H, W = x_shape[2:]
            dx = _empty(xp, x_shape, dout.dtype, channel_major)  # dx in the layout of x

            db, dxb = as_bits(dout), as_bits(dx)  # 16 bits: select the gradient's bits (fast)

            def chunk(i: tuple[slice, ...]) -> None:
                if H % kernel[0] or W % kernel[1]:
                    dx[i] = 0  # rows/columns left over by the floor get no gradient
                windows = _tiles(dxb[i], kernel, out_hw)
                for k, a, b in _offsets(kernel):  # every element of dx written once
                    xp.multiply(db[i], arg[i] == k, out=windows[:, :, :, a, :, b])

            for_chunks(chunk, dx, axis=1 if channel_major else 0)
            return dx
        dx = _empty(xp, x_shape, dout.dtype, channel_major)
        taps = [(k, a * dilation[0], b * dilation[1]) for k, a, b in _offsets(kernel)]

        def chunk_general(i: tuple[slice, ...]) -> None:
            dxi, douti, argi = dx[i], dout[i], arg[i]
            dxi[...] = 0
            for k, a, b in taps:  # col2im: windows that overlap add up
                out_idx, in_idx = _valid_tap(a, b, x_shape[2:], stride, padding, out_hw)
                dxi[in_idx] += douti[out_idx] * (argi[out_idx] == k)

        for_chunks(chunk_general, dx, axis=1 if channel_major else 0)
        return dx


def _compiled_pool(x: Any, index_dtype: Any) -> bool:
    """Whether ``kernels/pool.py`` pools x (the kernels on, and its ``supported``)."""
    if not kernels.enabled():
        return False
    from ..kernels.pool import supported  # noqa: PLC0415  (numba)

    return supported(x, index_dtype)


def _compiled_window_pool(x: Any) -> bool:
    """Whether ``kernels/pool.window_pool_forward`` pools x without an argmax (the kernels on,
    a NumPy float32/float64 (N, C, H, W) array, any layout)."""
    if not kernels.enabled() or type(x).__module__ != "numpy" or x.ndim != 4:
        return False
    return x.dtype.name in ("float32", "float64")


def _flat_indices(
    arg: Any, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair, W: int
) -> Any:
    """The argmax k of each window (its tap (k // F_w, k % F_w)) as the flat index h*W + w.

    Output pixel (oh, ow) puts tap (a, b) on input row oh*S - P + a*d and column
    ow*S - P + b*d: (N, C, out_h, out_w) int64, PyTorch's ``return_indices``.
    """
    xp = get_array_module(arg)
    out_h, out_w = arg.shape[2:]
    k = arg.astype(xp.int64)
    rows = xp.arange(out_h, dtype=xp.int64)[:, None] * stride[0] - padding[0]  # (out_h, 1)
    cols = xp.arange(out_w, dtype=xp.int64)[None, :] * stride[1] - padding[1]  # (1, out_w)
    rows = rows + (k // kernel[1]) * dilation[0]
    cols = cols + (k % kernel[1]) * dilation[1]
    return xp.ascontiguousarray(rows * W + cols)


def max_pool_nchw(
    x: Tensor, args: PoolArgs, out_hw: Pair, mode: str, return_indices: bool
) -> Tensor | tuple[Tensor, Tensor]:
    """Max (or min) pooling of a checked (N, C, H, W) input with checked 2-D ``args``."""
    sink: list | None = [] if return_indices else None
    y = MaxPool.apply(
        x, kernel=args.kernel, stride=args.stride, padding=args.begin, out_hw=out_hw,
        mode=mode, dilation=args.dilation, indices=sink,
    )  # fmt: skip
    return (y, Tensor(sink[0])) if sink is not None else y


def _max_or_min(
    x: Tensor,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
    return_indices: bool,
    layer: str,
    mode: str,
) -> Any:
    args = pool_args(kernel_size, stride, padding, layer, dilation=dilation, ceil_mode=ceil_mode)
    check_pool_input(x, layer)
    out_hw = args.output_size(x.shape, layer)
    x, added = add_batch(x, dims=2)
    return drop_batch(max_pool_nchw(x, args, out_hw, mode, bool(return_indices)), added)


def max_pool2d(
    x: Tensor,
    kernel_size: int | Pair,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    dilation: int | Pair = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
    *,
    layer: str | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """Max pooling over 2-D windows (``torch.nn.functional.max_pool2d``).

    Args:
        x (Tensor): (N, C, H, W) or unbatched (C, H, W), floating point.
        kernel_size (int or (int, int)): window size F.
        stride (int or (int, int), optional): step S. Default: kernel_size.
        padding (int or (int, int)): P, implicit -inf on both sides, at most kernel_size/2.
            (top, bottom, left, right) gives each side its own (ONNX's pads). Default: 0.
        dilation (int or (int, int)): d, spacing between the window's taps. Default: 1.
        ceil_mode (bool): round the output size up; the last window must start inside the
            input or its left padding. Default: False (floor).
        return_indices (bool): also return the flat index h*W + w of each maximum in its
            (H, W) plane (int64), for ``max_unpool2d``. Default: False.
        layer (str, optional): the name used in error messages.

    Shape:
        (N, C, H, W) -> (N, C, H_out, W_out),
        W_out = floor((W + 2P - d*(F - 1) - 1)/S) + 1 (ceil with ceil_mode), H likewise.

    Raises:
        ValueError: bad hyper-parameters, an input that is not 3-D or 4-D, or an output
            size below 1 (the message shows the formula with the numbers).
        TypeError: a non-float input or non-integer hyper-parameters.

    Example:
        >>> import tinyconv
        >>> x = tinyconv.tensor([[[[4.0, 2.0], [1.0, 3.0]]]])
        >>> max_pool2d(x, 2).tolist()
        [[[[4.0]]]]
        >>> max_pool2d(x, 2, return_indices=True)[1].tolist()
        [[[[0]]]]
    """
    layer = layer or describe("max_pool2d", kernel_size, stride, padding, dilation, ceil_mode)
    return _max_or_min(
        x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, layer, "max"
    )


def min_pool2d(
    x: Tensor,
    kernel_size: int | Pair,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    dilation: int | Pair = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
    *,
    layer: str | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """Min pooling: the smallest value of each window (equals ``-max_pool2d(-x)``).

    Arguments and shapes as ``max_pool2d``; the padding is +inf.

    Example:
        >>> import tinyconv
        >>> x = tinyconv.tensor([[[[4.0, 2.0], [1.0, 3.0]]]])
        >>> min_pool2d(x, 2).tolist()
        [[[[1.0]]]]
    """
    layer = layer or describe("min_pool2d", kernel_size, stride, padding, dilation, ceil_mode)
    return _max_or_min(
        x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, layer, "min"
    )
