"""Pooling over 2-D windows: max, min, average, and adaptive average.

As in the from-scratch book, each pooling window is unrolled into one row and the row is
reduced. Max pooling keeps the position of each row's winner (the argmax), so backward
sends each window's gradient to that one element; with ties the first maximum in row-major
window order wins, as in PyTorch. Min pooling is the same with argmin (the max of -x).
Average pooling spreads each window's gradient evenly over the window.

Output size per axis, with kernel F, stride S and zero padding P (floored; no ceil mode):

    W_out = (W_in - F + 2P)/S + 1,   H_out = (H_in - F + 2P)/S + 1

Pooling has no parameters and keeps the channel count: (N, C, H, W) -> (N, C, H_out, W_out).

The unrolled matrix is never copied out: its column (i, j), element (i, j) of every window,
is the strided slice ``x_pad[:, :, i::S, j::S]`` (cut to out_h x out_w), so a row-wise max
is a running max over F_h*F_w slices, and backward adds the gradients back slice by slice
(the book's col2im loop). The same code serves overlapping windows and the usual 2x2/2.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from ..backend import get_array_module
from ..dtypes import as_bits, is_floating, is_low_precision, order_key
from ..tensor import Function, Tensor, is_grad_enabled
from .parallel import for_chunks

Pair = tuple[int, int]


# ------------------------------------------------------------------ arguments
def _pair(value: Any, name: str, layer: str) -> Pair:
    """An int or a pair of ints as (h, w); anything else is a TypeError naming the layer."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    ok = len(items) == 2 and all(_is_int(v) for v in items)
    if not ok:
        raise TypeError(
            f"{layer}: invalid type for argument `{name}`. Expected an int or a pair of ints "
            f"(h, w). Received {name}={value!r}."
        )
    return int(items[0]), int(items[1])


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def describe(name: str, kernel_size: Any, stride: Any = None, padding: Any = 0) -> str:
    """The layer text used in reprs and messages: ``MaxPool2d(kernel_size=2, stride=2)``.

    The stride is always shown (resolved from the kernel when None); padding when not 0.
    """
    stride = kernel_size if stride is None else stride
    text = f"kernel_size={kernel_size}, stride={stride}"
    if padding not in (0, (0, 0), [0, 0]):
        text += f", padding={padding}"
    return f"{name}({text})"


def check_pool_args(
    kernel_size: Any, stride: Any, padding: Any, layer: str, ceil_mode: bool = False
) -> tuple[Pair, Pair, Pair]:
    """Validate pooling hyper-parameters; return (kernel, stride, padding) as (h, w) pairs.

    Raises:
        TypeError: a non-integer kernel size, stride or padding.
        ValueError: kernel or stride below 1, negative padding, padding more than half the
            kernel (as PyTorch), or ``ceil_mode=True`` (not supported).
    """
    kernel = _pair(kernel_size, "kernel_size", layer)
    step = kernel if stride is None else _pair(stride, "stride", layer)
    pad = _pair(padding, "padding", layer)
    for name, value, given in (("kernel_size", kernel, kernel_size), ("stride", step, stride)):
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
    for p, f in zip(pad, kernel, strict=True):
        if 2 * p > f:
            raise ValueError(
                f"{layer}: padding should be at most half of the kernel size, got padding={p} "
                f"for kernel_size={f} (at most {f // 2})"
            )
    if ceil_mode:
        raise ValueError(
            f"{layer}: ceil_mode=True is not supported (sizes are floored); pad the input instead"
        )
    return kernel, step, pad


def pool_output_size(
    in_shape: tuple[int, ...], kernel: Pair, stride: Pair, padding: Pair, layer: str
) -> Pair:
    """(H_out, W_out) from ``(W_in - F + 2P)/S + 1`` floored; below 1 is a ValueError.

    The message writes the formula with the numbers filled in, width first:

    Example:
        >>> pool_output_size((1, 3, 28, 28), (2, 2), (2, 2), (0, 0), "MaxPool2d")
        (14, 14)
    """
    in_shape = tuple(int(s) for s in in_shape)
    sizes = {}
    for axis, label, sym in ((1, "width", "W"), (0, "height", "H")):
        size, F, S, P = in_shape[2 + axis], kernel[axis], stride[axis], padding[axis]
        out = (size - F + 2 * P) // S + 1
        if out < 1:
            raise ValueError(
                f"{layer}: output {label} {out} < 1: {sym}_out = ({sym}_in - F + 2P)/S + 1 = "
                f"({size} - {F} + 2*{P})/{S} + 1; input {in_shape}"
            )
        sizes[axis] = out
    return sizes[0], sizes[1]


def _check_input(x: Tensor, layer: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer}: expected a tinyconv Tensor, got {type(x).__name__}")
    if x.ndim != 4:
        hint = "; add the batch dimension with x.unsqueeze(0)" if x.ndim == 3 else ""
        raise ValueError(
            f"{layer}: expected a 4-D input (N, C, H, W), got shape {x.shape} ({x.ndim}-D){hint}"
        )
    if not is_floating(x.dtype):
        raise TypeError(
            f"{layer}: expected a floating-point input, got dtype {x.dtype}; "
            "convert images with x.astype('float32') / 255 first"
        )


# ------------------------------------------------------------- window views
def _pad(x: Any, padding: Pair, value: float) -> Any:
    """Pad H and W of (N, C, H, W) with a constant (-inf for max pooling, 0 for average)."""
    if padding == (0, 0):
        return x
    xp = get_array_module(x)
    ph, pw = padding
    return xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=x.dtype.type(value))


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
    """Where tap (i, j) of the windows lands on real input, not on padding.

    Returns (out_index, in_index), slices of (H_out, W_out) and of (H, W): output pixel
    (h, w) reads input (h*S + i - P, w*S + j - P), so the tap is valid for the outputs
    with 0 <= h*S + i - P < H (and likewise for w); both index the same number of pixels.
    Max pooling runs over these rectangles instead of padding x with -inf (no padded copy).
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


def _crop(dx_pad: Any, padding: Pair) -> Any:
    ph, pw = padding
    H, W = dx_pad.shape[2] - 2 * ph, dx_pad.shape[3] - 2 * pw
    return dx_pad[:, :, ph : ph + H, pw : pw + W]


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
    replaces it). Backward routes each window's gradient to that element.

    Fast path, the usual 2x2 stride 2 (any stride == kernel without padding): the windows
    do not overlap, so the columns are strided views of x itself (``_tiles``), nothing is
    padded, and backward writes every element of dx exactly once, the window's gradient
    where the argmax points and zero elsewhere, with no zero-filling and no adding. It runs
    chunk by chunk (of images, or of channels when x is channel-major) on all threads.
    There, 16-bit inputs are compared as int16 keys that sort like the floats (``order_key``):
    NumPy's float16 comparisons are many times slower.
    """

    def forward(
        self, x: Any, kernel: Pair, stride: Pair, padding: Pair, out_hw: Pair, mode: str
    ) -> Any:
        xp = get_array_module(x)
        better, pick = (xp.greater, xp.maximum) if mode == "max" else (xp.less, xp.minimum)
        need_arg = self.needs_input_grad[0] and is_grad_enabled()
        index_dtype = xp.int8 if kernel[0] * kernel[1] <= 127 else xp.int32  # argmax in a window
        channel_major = x.strides[1] > x.strides[0]  # x is (C, N, H, W) in memory
        shape = (*x.shape[:2], *out_hw)  # (N, C, out_h, out_w), in the layout of x
        y = _empty(xp, shape, x.dtype, channel_major)
        arg = _empty(xp, shape, index_dtype, channel_major) if need_arg else None
        if need_arg:
            arg[...] = 0
        tiled = stride == kernel and padding == (0, 0)

        def running_max(columns: list[Any], y: Any, arg: Any) -> None:
            y[...] = columns[0]  # every col is (n, c, out_h, out_w), a strided view
            for k, col in enumerate(columns[1:], start=1):
                if arg is not None:
                    # arg = k where col is strictly better (the first winner stays). k grows,
                    # so that is max(arg, k * better): two fast passes, no masked copy
                    xp.maximum(arg, better(col, y) * index_dtype(k), out=arg)
                pick(y, col, out=y)

        if tiled:
            low = is_low_precision(x.dtype)

            def chunk(i: tuple[slice, ...]) -> None:
                xi, yi = (order_key(as_bits(x[i])), as_bits(y[i])) if low else (x[i], y[i])
                windows = _tiles(xi, kernel, out_hw)
                columns = [windows[:, :, :, a, :, b] for _, a, b in _offsets(kernel)]
                running_max(columns, yi, None if arg is None else arg[i])
                if low:
                    yi[...] = order_key(yi)  # the keys of the maxima back to their float bits

            for_chunks(chunk, x, axis=1 if channel_major else 0)
        else:  # overlapping or padded windows: a running max over the valid rectangles

            def chunk(i: tuple[slice, ...]) -> None:
                xi, yi, argi = x[i], y[i], None if arg is None else arg[i]
                yi[...] = -math.inf if mode == "max" else math.inf
                if argi is not None:  # start from each window's first tap inside the input
                    for k, a, b in reversed(_offsets(kernel)):
                        argi[_valid_tap(a, b, x.shape[2:], stride, padding, out_hw)[0]] = k
                for k, a, b in _offsets(kernel):
                    out_idx, in_idx = _valid_tap(a, b, x.shape[2:], stride, padding, out_hw)
                    col, yv = xi[in_idx], yi[out_idx]
                    if argi is not None:
                        # the first tap inside the input wins unless a later one is strictly
                        # better; k grows, so arg = max(arg, k * better) as above
                        argv = argi[out_idx]
                        xp.maximum(argv, better(col, yv) * index_dtype(k), out=argv)
                    pick(yv, col, out=yv)

            for_chunks(chunk, y, axis=1 if channel_major else 0)
        self.save_for_backward(arg, x.shape, kernel, stride, padding, out_hw, tiled, channel_major)
        return y

    def backward(self, dout: Any) -> Any:
        arg, x_shape, kernel, stride, padding, out_hw, tiled, channel_major = self.saved
        xp = get_array_module(dout)
        dout = _same_layout(xp, dout, channel_major)  # (a small copy after a flatten)
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

        def chunk_general(i: tuple[slice, ...]) -> None:
            dxi, douti, argi = dx[i], dout[i], arg[i]
            dxi[...] = 0
            for k, a, b in _offsets(kernel):  # col2im: windows that overlap add up
                out_idx, in_idx = _valid_tap(a, b, x_shape[2:], stride, padding, out_hw)
                dxi[in_idx] += douti[out_idx] * (argi[out_idx] == k)

        for_chunks(chunk_general, dx, axis=1 if channel_major else 0)
        return dx


def _max_or_min(
    x: Tensor, kernel_size: Any, stride: Any, padding: Any, ceil_mode: bool, layer: str, mode: str
) -> Tensor:
    kernel, step, pad = check_pool_args(kernel_size, stride, padding, layer, ceil_mode)
    _check_input(x, layer)
    out_hw = pool_output_size(x.shape, kernel, step, pad, layer)
    return MaxPool.apply(x, kernel=kernel, stride=step, padding=pad, out_hw=out_hw, mode=mode)


def max_pool2d(
    x: Tensor,
    kernel_size: int | Pair,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    *,
    ceil_mode: bool = False,
    layer: str | None = None,
) -> Tensor:
    """Max pooling over 2-D windows (``torch.nn.functional.max_pool2d``).

    Args:
        x (Tensor): (N, C, H, W), floating point.
        kernel_size (int or (int, int)): window size F.
        stride (int or (int, int), optional): step S. Default: kernel_size.
        padding (int or (int, int)): P, implicit -inf on both sides, at most kernel_size/2.
            Default: 0.
        ceil_mode (bool): only False (floor) is supported. Default: False.
        layer (str, optional): the name used in error messages.

    Shape:
        (N, C, H, W) -> (N, C, H_out, W_out), W_out = floor((W - F + 2P)/S) + 1.

    Raises:
        ValueError: bad hyper-parameters, a non 4-D input or an output size below 1.
        TypeError: a non-float input.

    Example:
        >>> import tinyconv
        >>> x = tinyconv.tensor([[[[4.0, 2.0], [1.0, 3.0]]]])
        >>> max_pool2d(x, 2).tolist()
        [[[[4.0]]]]
    """
    layer = layer or describe("max_pool2d", kernel_size, stride, padding)
    return _max_or_min(x, kernel_size, stride, padding, ceil_mode, layer, "max")


def min_pool2d(
    x: Tensor,
    kernel_size: int | Pair,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    *,
    ceil_mode: bool = False,
    layer: str | None = None,
) -> Tensor:
    """Min pooling: the smallest value of each window (equals ``-max_pool2d(-x)``).

    Arguments and shapes as ``max_pool2d``; the padding is +inf.

    Example:
        >>> import tinyconv
        >>> x = tinyconv.tensor([[[[4.0, 2.0], [1.0, 3.0]]]])
        >>> min_pool2d(x, 2).tolist()
        [[[[1.0]]]]
    """
    layer = layer or describe("min_pool2d", kernel_size, stride, padding)
    return _max_or_min(x, kernel_size, stride, padding, ceil_mode, layer, "min")


# ------------------------------------------------------------------ average
class AvgPool(Function):
    """y = sum of each window / divisor.  x (N, C, H, W) -> (N, C, out_h, out_w).

    The divisor is F_h*F_w, or with ``count_include_pad=False`` the number of real (not
    padded) elements in the window. Backward spreads dout/divisor over the window.
    """

    def forward(
        self,
        x: Any,
        kernel: Pair,
        stride: Pair,
        padding: Pair,
        out_hw: Pair,
        count_include_pad: bool,
    ) -> Any:
        xp = get_array_module(x)
        x_pad = _pad(x, padding, 0.0)
        if count_include_pad or padding == (0, 0):
            div = x.dtype.type(kernel[0] * kernel[1])
        else:  # count the real elements: sum-pool a padded map of ones
            ones = _pad(xp.ones((1, 1) + x.shape[2:], dtype=x.dtype), padding, 0.0)
            div = sum(_column(ones, i, j, stride, out_hw) for _, i, j in _offsets(kernel))
        total = _column(x_pad, 0, 0, stride, out_hw).copy()  # (N, C, out_h, out_w)
        for _, i, j in _offsets(kernel)[1:]:
            total += _column(x_pad, i, j, stride, out_hw)
        self.save_for_backward(x_pad.shape, kernel, stride, padding, out_hw, div)
        return total / div

    def backward(self, dout: Any) -> Any:
        padded_shape, kernel, stride, padding, out_hw, div = self.saved
        xp = get_array_module(dout)
        g = dout / div  # (N, C, out_h, out_w): every element of a window gets the same share
        dx_pad = xp.zeros(padded_shape, dtype=dout.dtype)
        for _, i, j in _offsets(kernel):
            _column(dx_pad, i, j, stride, out_hw)[...] += g
        return _crop(dx_pad, padding)


def avg_pool2d(
    x: Tensor,
    kernel_size: int | Pair,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    *,
    layer: str | None = None,
) -> Tensor:
    """Average pooling over 2-D windows (``torch.nn.functional.avg_pool2d``).

    Args:
        x (Tensor): (N, C, H, W), floating point.
        kernel_size (int or (int, int)): window size F.
        stride (int or (int, int), optional): step S. Default: kernel_size.
        padding (int or (int, int)): zero padding P, at most kernel_size/2. Default: 0.
        ceil_mode (bool): only False (floor) is supported. Default: False.
        count_include_pad (bool): divide by F_h*F_w even where the window covers padding;
            False divides by the number of real elements. Default: True.
        layer (str, optional): the name used in error messages.

    Shape:
        (N, C, H, W) -> (N, C, H_out, W_out), W_out = floor((W - F + 2P)/S) + 1.

    Example:
        >>> import tinyconv
        >>> x = tinyconv.tensor([[[[4.0, 2.0], [1.0, 3.0]]]])
        >>> avg_pool2d(x, 2).tolist()
        [[[[2.5]]]]
    """
    layer = layer or describe("avg_pool2d", kernel_size, stride, padding)
    kernel, step, pad = check_pool_args(kernel_size, stride, padding, layer, ceil_mode)
    _check_input(x, layer)
    out_hw = pool_output_size(x.shape, kernel, step, pad, layer)
    return AvgPool.apply(
        x,
        kernel=kernel,
        stride=step,
        padding=pad,
        out_hw=out_hw,
        count_include_pad=bool(count_include_pad),
    )


# ---------------------------------------------------------- adaptive average
def adaptive_bins(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's bins: output i averages input [floor(i*size/out), ceil((i+1)*size/out)).

    Example:
        >>> adaptive_bins(5, 3)
        [(0, 2), (1, 4), (3, 5)]
    """
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


def _bin_matrix(xp: Any, size: int, out: int, dtype: Any) -> Any:
    """(out, size) matrix whose row i averages the input positions of bin i."""
    P = xp.zeros((out, size), dtype=dtype)
    for i, (start, end) in enumerate(adaptive_bins(size, out)):
        P[i, start:end] = dtype.type(1.0 / (end - start))
    return P


def _bin_average(x: Any, Ph: Any, Pw: Any) -> Any:
    """Ph @ plane @ Pw^T for every (H, W) plane of x (N, C, H, W), as two 2-D products."""
    N, C, H, W = x.shape
    t = x.reshape(-1, W) @ Pw.T  # (N*C*H, out_w)
    t = t.reshape(N * C, H, -1).transpose(0, 2, 1).reshape(-1, H)  # (N*C*out_w, H)
    t = t @ Ph.T  # (N*C*out_w, out_h)
    return t.reshape(N, C, -1, Ph.shape[0]).transpose(0, 1, 3, 2)  # (N, C, out_h, out_w)


class AdaptiveAvgPool(Function):
    """y = Ph x Pw^T per plane, Ph (out_h, H) and Pw (out_w, W) averaging each bin.

    The operation is linear, so backward is dx = Ph^T dout Pw.
    """

    def forward(self, x: Any, out_hw: Pair) -> Any:
        xp = get_array_module(x)
        Ph = _bin_matrix(xp, x.shape[2], out_hw[0], x.dtype)
        Pw = _bin_matrix(xp, x.shape[3], out_hw[1], x.dtype)
        self.save_for_backward(Ph, Pw)
        return xp.ascontiguousarray(_bin_average(x, Ph, Pw))

    def backward(self, dout: Any) -> Any:
        Ph, Pw = self.saved
        xp = get_array_module(dout)
        return xp.ascontiguousarray(_bin_average(dout, Ph.T, Pw.T))


def adaptive_output_size(in_shape: tuple[int, ...], output_size: Any, layer: str) -> Pair:
    """Resolve ``output_size`` (int, pair, None entries keep the input size) to (out_h, out_w)."""
    items = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    if len(items) != 2:
        raise TypeError(f"{layer}: output_size must be an int or a pair, got {output_size!r}")
    out = []
    for value, size in zip(items, in_shape[-2:], strict=True):
        if value is None:
            value = size
        if not _is_int(value):
            raise TypeError(
                f"{layer}: invalid type for argument `output_size`. Expected an int or a pair of "
                f"ints. Received output_size={output_size!r}."
            )
        if value < 1:
            raise ValueError(
                f"{layer}: invalid value for argument `output_size`. Expected a strictly positive "
                f"value. Received output_size={output_size!r}."
            )
        out.append(int(value))
    return out[0], out[1]


def adaptive_avg_pool2d(x: Tensor, output_size: int | Pair, *, layer: str | None = None) -> Tensor:
    """Average pooling to a fixed output size (``torch.nn.functional.adaptive_avg_pool2d``).

    Output cell i averages the input rows floor(i*H/out_h) .. ceil((i+1)*H/out_h) - 1 (and the
    same for columns), so bins may overlap when out does not divide H. ``output_size=1`` is
    global average pooling (GoogLeNet, ResNet).

    Args:
        x (Tensor): (N, C, H, W), floating point.
        output_size (int or (int, int)): (out_h, out_w); None in a pair keeps that input size.

    Shape:
        (N, C, H, W) -> (N, C, out_h, out_w).

    Example:
        >>> import tinyconv
        >>> x = tinyconv.tensor([[[[4.0, 2.0], [1.0, 3.0]]]])
        >>> adaptive_avg_pool2d(x, 1).tolist()
        [[[[2.5]]]]
    """
    layer = layer or f"adaptive_avg_pool2d(output_size={output_size})"
    _check_input(x, layer)
    out_hw = adaptive_output_size(x.shape, output_size, layer)
    return AdaptiveAvgPool.apply(x, out_hw=out_hw)
