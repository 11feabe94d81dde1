"""Output sizes, and im2col / col2im: the unrolling that turns a convolution into one matmul.

im2col copies every receptive field of a batch into one row of a matrix ``col``
(N*out_h*out_w, C*FH*FW); col2im is its adjoint, adding every row back onto the pixels its
patch came from. These are the reference functions of the from-scratch book's method;
``conv_blocks.py`` runs the same unrolling block by block for speed, and
tests/test_fast_paths.py checks the two equal.

Output size of each spatial axis, with kernel F, padding P, stride S and dilation d:

    out = floor((in + 2P - d*(F - 1) - 1) / S + 1)   =   (in - F + 2P)/S + 1 when d = 1

Pooling's ``ceil_mode`` rounds the division up instead, dropping a last window that would
start past the input and its left padding (PyTorch's rule).
"""

from __future__ import annotations

from typing import Any

from ..backend import get_array_module

Pair = tuple[int, int]
Pads = tuple[int, int, int, int]  # (top, bottom, left, right)

_AXIS_NAMES = {
    "H": ("height", "top", "bottom"),
    "W": ("width", "left", "right"),
    "L": ("length", "left", "right"),
}


# ------------------------------------------------------------------ output sizes
def conv_output_size(
    size: int,
    k: int,
    s: int,
    p: int | Pair,
    d: int = 1,
    *,
    ceil_mode: bool = False,
    layer: str = "conv2d",
    dim: str = "W",
    in_shape: tuple[int, ...] | None = None,
) -> int:
    """Output length of one spatial axis of a convolution (or pooling) window.

    ``out = floor((size + 2P - d*(k - 1) - 1) / s) + 1``, floored like PyTorch. Only an
    output below 1 is an error. With ``ceil_mode`` (pooling) the division rounds up, but,
    as in PyTorch, the last window must start inside the input or its left padding:
    when ``(out - 1)*s >= size + P_left`` that window is dropped (out - 1).

    Args:
        size (int): input length along the axis (H_in, W_in or L_in).
        k (int): kernel length F.
        s (int): stride S.
        p (int or (int, int)): padding P on each side, or (before, after).
        d (int): dilation. Default: 1.
        ceil_mode (bool): round the division up (pooling's ``ceil_mode``). Default: False.
        layer (str): the layer named in error messages. Default: "conv2d".
        dim (str): "H", "W" or "L", the axis named in error messages. Default: "W".
        in_shape (tuple, optional): the whole input shape, quoted in error messages.

    Raises:
        ValueError: when the kernel does not fit in the padded input (output < 1) or s < 1.

    Example:
        >>> conv_output_size(28, 4, 2, 1)   # MNIST, F=4, S=2, P=1
        14
        >>> conv_output_size(112, 3, 2, 0, ceil_mode=True)   # GoogLeNet's stem pool
        56
    """
    before, after = (p, p) if isinstance(p, int) else p
    k_eff = d * (k - 1) + 1  # the span a dilated kernel covers
    D = dim.upper()
    name, side0, side1 = _AXIS_NAMES.get(D, ("size", "before", "after"))
    two_p = f"2*{before}" if before == after else f"{before} + {after}"
    big_p = "2P" if before == after else f"P_{side0} + P_{side1}"
    f_sym, f_num = ("F", k) if d == 1 else ("F_eff", k_eff)
    if ceil_mode:
        formula = (
            f"{D}_out = ceil(({D}_in - {f_sym} + {big_p})/S) + 1 = "
            f"ceil(({size} - {f_num} + {two_p})/{s}) + 1"
        )
    else:
        formula = (
            f"{D}_out = ({D}_in - {f_sym} + {big_p})/S + 1 = ({size} - {f_num} + {two_p})/{s} + 1"
        )
    if d != 1:
        formula += (
            f", where dilation {d} gives the effective kernel F_eff = d*(F-1) + 1 = "
            f"{d}*({k}-1) + 1 = {k_eff}"
        )
    where = f"; input {tuple(in_shape)}" if in_shape is not None else ""
    if s < 1:
        raise ValueError(f"{layer}: stride must be >= 1, got S = {s}: {formula}{where}")
    span = size + before + after - k_eff
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + before:
        out -= 1  # that last window would start past the input and its left padding
    if out < 1:
        raise ValueError(
            f"{layer}: output {name} {out} < 1: {formula}{where}; the kernel ({k_eff}) is larger "
            f"than the padded input {name} ({size} + {two_p} = {size + before + after})"
        )
    return out


def conv_transpose_output_size(
    size: int,
    k: int,
    s: int,
    p: int,
    d: int = 1,
    output_padding: int = 0,
    *,
    layer: str = "conv_transpose2d",
    dim: str = "W",
    in_shape: tuple[int, ...] | None = None,
) -> int:
    """Output length of one axis of a transposed convolution.

    ``out = (size - 1)*S - 2P + d*(F - 1) + output_padding + 1``.

    Raises:
        ValueError: when the result is below 1 (the padding crops everything away).

    Example:
        >>> conv_transpose_output_size(14, 4, 2, 1)   # undoes conv_output_size(28, 4, 2, 1)
        28
    """
    out = (size - 1) * s - 2 * p + d * (k - 1) + output_padding + 1
    if out < 1:
        D = dim.upper()
        where = f"; input {tuple(in_shape)}" if in_shape is not None else ""
        raise ValueError(
            f"{layer}: output {_AXIS_NAMES.get(D, ('size',))[0]} {out} < 1: "
            f"{D}_out = ({D}_in - 1)*S - 2P + d*(F-1) + output_padding + 1 = "
            f"({size} - 1)*{s} - 2*{p} + {d}*({k}-1) + {output_padding} + 1{where}"
        )
    return out


# ------------------------------------------------------------------ im2col / col2im
def _pair(v: int | Pair) -> Pair:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _pads(pad: int | Pair | Pads) -> Pads:
    """int -> all four sides; (ph, pw) -> (ph, ph, pw, pw); (top, bottom, left, right) as is."""
    if isinstance(pad, int):
        return (pad, pad, pad, pad)
    if len(pad) == 2:
        return (pad[0], pad[0], pad[1], pad[1])
    return tuple(pad)  # type: ignore[return-value]


def _windows(x_cm: Any, FH: int, FW: int, stride: Pair, dilation: Pair, out_hw: Pair) -> Any:
    """Every patch of a padded, channel-major batch as one strided view (no copy).

    x_cm (C, N, H_pad, W_pad) -> (C, FH, FW, N, out_h, out_w) with element [c, i, j, n, h, w]
    = x_cm[c, n, h*SH + i*DH, w*SW + j*DW]: output pixel (h, w) starts its patch at row h*SH
    and column w*SW, and tap (i, j) of the kernel lies i*DH rows and j*DW columns further.
    Copied into shape (C*FH*FW, N*out_h*out_w) it is col^T: that copy is im2col.
    """
    xp = get_array_module(x_cm)
    C, N = x_cm.shape[:2]
    (SH, SW), (DH, DW), (out_h, out_w) = stride, dilation, out_hw
    sC, sN, sH, sW = x_cm.strides  # bytes to step one channel, image, row, column
    return xp.lib.stride_tricks.as_strided(
        x_cm,
        shape=(C, FH, FW, N, out_h, out_w),
        strides=(sC, DH * sH, DW * sW, sN, SH * sH, SW * sW),
    )


def _col2im_add(
    col_T: Any, img: Any, FH: int, FW: int, stride: Pair, dilation: Pair, out_hw: Pair
) -> None:
    """img += col2im(col): add col^T (C*FH*FW, N*out_h*out_w) onto img (C, N, H_pad, W_pad).

    One strided add per kernel tap (i, j): tap (i, j) of the window at output pixel (h, w)
    sits on row i*DH + SH*h and column j*DW + SW*w, so ``_windows(img)[:, i, j]``, a view,
    receives it for every window at once. Pixels shared by overlapping windows (different
    taps) sum their values; within one tap no two windows share a pixel.
    """
    C, N = img.shape[:2]
    patches = col_T.reshape(C, FH, FW, N, *out_hw)  # a view when col_T is contiguous
    taps = _windows(img, FH, FW, stride, dilation, out_hw)  # (C, FH, FW, N, out_h, out_w)
    for i in range(FH):
        for j in range(FW):
            taps[:, i, j] += patches[:, i, j]  # (C, N, out_h, out_w)


def im2col(
    x: Any,
    FH: int,
    FW: int,
    stride: int | Pair = 1,
    pad: int | Pair | Pads = 0,
    dilation: int | Pair = 1,
    *,
    out_size: Pair | None = None,
    pad_value: float = 0.0,
) -> Any:
    """Unroll every FH x FW patch of x into one row: (N, C, H, W) -> (N*out_h*out_w, C*FH*FW).

    Row ``(n*out_h + h)*out_w + w`` holds the patch under output pixel (h, w) of image n;
    its columns run over (c, i, j), channel first, as in ``W.reshape(FN, -1)``. The patches
    are read through one strided view of the padded input and copied once.

    Memory layout: the copy is made in the order (C, FH, FW, N, out_h, out_w), so that its
    innermost loop runs along image rows (fast), and ``col`` is the transpose of that
    C-contiguous (C*FH*FW, N*out_h*out_w) array: ``col.T`` costs nothing, and the
    convolution multiplies with it directly.

    Args:
        x: array (N, C, H, W).
        FH, FW (int): kernel height and width.
        stride, dilation (int or (int, int)): S and d, per axis.
        pad (int, (ph, pw) or (top, bottom, left, right)): zero padding.
        out_size ((int, int), optional): use only the first out_h x out_w windows.
        pad_value (float): value of the padding (max pooling pads with -inf). Default: 0.

    Example:
        >>> import numpy
        >>> im2col(numpy.arange(16.0).reshape(1, 1, 4, 4), 2, 2, stride=2)
        array([[ 0.,  1.,  4.,  5.],
               [ 2.,  3.,  6.,  7.],
               [ 8.,  9., 12., 13.],
               [10., 11., 14., 15.]])
    """
    xp = get_array_module(x)
    N, C, H, W = x.shape
    S, D, P = _pair(stride), _pair(dilation), _pads(pad)
    if out_size is None:
        out_size = (
            conv_output_size(H, FH, S[0], P[:2], D[0], layer="im2col", dim="H"),
            conv_output_size(W, FW, S[1], P[2:], D[1], layer="im2col", dim="W"),
        )
    if any(P):
        pads = ((0, 0), (0, 0), P[:2], P[2:])
        x = xp.pad(x, pads, mode="constant", constant_values=pad_value)  # (N, C, H_pad, W_pad)
    patches = _windows(x.transpose(1, 0, 2, 3), FH, FW, S, D, out_size)
    col_T = patches.reshape(C * FH * FW, -1)  # the one copy: (C*FH*FW, N*out_h*out_w)
    return col_T.T  # (N*out_h*out_w, C*FH*FW)


def col2im(
    col: Any,
    x_shape: tuple[int, int, int, int],
    FH: int,
    FW: int,
    stride: int | Pair = 1,
    pad: int | Pair | Pads = 0,
    dilation: int | Pair = 1,
    *,
    out_size: Pair | None = None,
) -> Any:
    """The adjoint of ``im2col``: add every row of col back onto its patch of an image.

    (N*out_h*out_w, C*FH*FW) -> (N, C, H, W). A pixel shared by several patches receives
    the sum of their values, which is exactly the gradient of im2col. The loop runs over the
    FH*FW kernel taps; each adds one tap of every window at once, through a strided slice.
    The image is built channel-major, (C, N, H, W) in memory, and returned as an (N, C, H, W)
    view of it.

    Example:
        >>> import numpy
        >>> col2im(numpy.ones((4, 4)), (1, 1, 3, 3), 2, 2)   # 2x2 windows, stride 1
        array([[[[1., 2., 1.],
                 [2., 4., 2.],
                 [1., 2., 1.]]]])
    """
    xp = get_array_module(col)
    N, C, H, W = x_shape
    S, D, (pt, pb, pl, pr) = _pair(stride), _pair(dilation), _pads(pad)
    if out_size is None:
        out_size = (
            conv_output_size(H, FH, S[0], (pt, pb), D[0], layer="col2im", dim="H"),
            conv_output_size(W, FW, S[1], (pl, pr), D[1], layer="col2im", dim="W"),
        )
    img = xp.zeros((C, N, H + pt + pb, W + pl + pr), dtype=col.dtype)  # the padded input
    _col2im_add(xp.ascontiguousarray(col.T), img, FH, FW, S, D, out_size)
    return img[:, :, pt : pt + H, pl : pl + W].transpose(1, 0, 2, 3)  # (N, C, H, W), a view
