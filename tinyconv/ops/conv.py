"""Convolution by im2col: ``conv2d`` and its transpose ``conv_transpose2d``.

A convolution layer slides FN filters of shape (C, FH, FW) over a batch x (N, C, H, W).
Each output value is the sum of filter * patch plus a bias (cross-correlation: the filter is
not flipped). im2col turns every patch into one row of a matrix ``col``, so the whole layer
becomes one matrix product (the from-scratch book's method)::

    col   = im2col(x)                   # (N*out_h*out_w, C*FH*FW)   one patch per row
    col_W = W.reshape(FN, -1).T         # (C*FH*FW, FN)              one filter per column
    y     = col @ col_W + b             # (N*out_h*out_w, FN)
    y     -> (N, FN, out_h, out_w)      # a reshape and a transposed view

The backward pass reverses it: dW = col^T @ dout, dcol = dout @ col_W^T and col2im adds every
row of dcol back onto the pixels its patch came from. The code below computes these same
products transposed (y^T = col_W^T @ col^T, ...): im2col stores col channel-major, so col^T
is free, each filter's output comes out as one contiguous row, and groups need no copies.
The output size of each spatial axis is

    out = floor((in + 2P - d*(F - 1) - 1) / S + 1)   =   (in - F + 2P)/S + 1 when d = 1

with F the kernel size, P the padding, S the stride and d the dilation (atrous convolution:
a kernel with d - 1 holes between its taps covers d*(F - 1) + 1 pixels).

A transposed convolution ("deconvolution") is the backward-data pass of a convolution used
as a forward pass: it maps (N, C_in, H, W) up to (N, C_out, H_out, W_out) with
H_out = (H - 1)*S - 2P + d*(F - 1) + output_padding + 1.

References: Chellapilla, Puri and Simard, "High Performance Convolutional Neural Networks for
Document Processing" (2006) for im2col; Yu and Koltun, "Multi-Scale Context Aggregation by
Dilated Convolutions" (2016); Dumoulin and Visin, "A guide to convolution arithmetic for deep
learning" (2016) for the transposed convolution.
"""

from __future__ import annotations

from typing import Any

from ..backend import get_array_module
from ..tensor import Function, Tensor

Pair = tuple[int, int]
Pads = tuple[int, int, int, int]  # (top, bottom, left, right)

_AXIS_NAMES = {"H": ("height", "top", "bottom"), "W": ("width", "left", "right")}


# ------------------------------------------------------------------ output sizes
def conv_output_size(
    size: int,
    k: int,
    s: int,
    p: int | Pair,
    d: int = 1,
    *,
    layer: str = "conv2d",
    dim: str = "W",
    in_shape: tuple[int, ...] | None = None,
) -> int:
    """Output length of one spatial axis of a convolution (or pooling) window.

    ``out = floor((size + 2P - d*(k - 1) - 1) / s) + 1``, floored like PyTorch. Only an
    output below 1 is an error.

    Args:
        size (int): input length along the axis (H_in or W_in).
        k (int): kernel length F.
        s (int): stride S.
        p (int or (int, int)): padding P on each side, or (before, after).
        d (int): dilation. Default: 1.
        layer (str): the layer named in error messages. Default: "conv2d".
        dim (str): "H" or "W", the axis named in error messages. Default: "W".
        in_shape (tuple, optional): the whole input shape, quoted in error messages.

    Raises:
        ValueError: when the kernel does not fit in the padded input (output < 1) or s < 1.

    Example:
        >>> conv_output_size(28, 4, 2, 1)   # MNIST, F=4, S=2, P=1
        14
    """
    before, after = (p, p) if isinstance(p, int) else p
    k_eff = d * (k - 1) + 1  # the span a dilated kernel covers
    D = dim.upper()
    name, side0, side1 = _AXIS_NAMES.get(D, ("size", "before", "after"))
    two_p = f"2*{before}" if before == after else f"{before} + {after}"
    big_p = "2P" if before == after else f"P_{side0} + P_{side1}"
    if d == 1:
        formula = f"{D}_out = ({D}_in - F + {big_p})/S + 1 = ({size} - {k} + {two_p})/{s} + 1"
    else:
        formula = (
            f"{D}_out = ({D}_in - F_eff + {big_p})/S + 1 = ({size} - {k_eff} + {two_p})/{s} + 1, "
            f"where dilation {d} gives the effective kernel F_eff = d*(F-1) + 1 = {d}*({k}-1) + 1 "
            f"= {k_eff}"
        )
    where = f"; input {tuple(in_shape)}" if in_shape is not None else ""
    if s < 1:
        raise ValueError(f"{layer}: stride must be >= 1, got S = {s}: {formula}{where}")
    out = (size + before + after - k_eff) // s + 1
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
    SH, SW = _pair(stride)
    DH, DW = _pair(dilation)
    pt, pb, pl, pr = _pads(pad)
    if out_size is None:
        out_h = conv_output_size(H, FH, SH, (pt, pb), DH, layer="im2col", dim="H")
        out_w = conv_output_size(W, FW, SW, (pl, pr), DW, layer="im2col", dim="W")
    else:
        out_h, out_w = out_size
    if pt or pb or pl or pr:
        pads = ((0, 0), (0, 0), (pt, pb), (pl, pr))
        x = xp.pad(x, pads, mode="constant", constant_values=pad_value)  # (N, C, H+pt+pb, W+pl+pr)
    sN, sC, sH, sW = x.strides  # bytes to step one image, channel, row, column
    # Output pixel (h, w) starts its patch at row h*SH, column w*SW; tap (i, j) of the
    # kernel is i*DH rows and j*DW columns further. as_strided makes that a view: no copy.
    patches = xp.lib.stride_tricks.as_strided(
        x,
        shape=(C, FH, FW, N, out_h, out_w),
        strides=(sC, DH * sH, DW * sW, sN, SH * sH, SW * sW),
    )
    col_T = patches.reshape(C * FH * FW, N * out_h * out_w)  # the one copy
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
    SH, SW = _pair(stride)
    DH, DW = _pair(dilation)
    pt, pb, pl, pr = _pads(pad)
    if out_size is None:
        out_h = conv_output_size(H, FH, SH, (pt, pb), DH, layer="col2im", dim="H")
        out_w = conv_output_size(W, FW, SW, (pl, pr), DW, layer="col2im", dim="W")
    else:
        out_h, out_w = out_size
    patches = col.T.reshape(C, FH, FW, N, out_h, out_w)  # a view when col.T is contiguous
    img = xp.zeros((C, N, H + pt + pb, W + pl + pr), dtype=col.dtype)  # the padded input
    for i in range(FH):
        for j in range(FW):
            # tap (i, j) of the window at output pixel (h, w) sits on row i*DH + SH*h and
            # column j*DW + SW*w: one strided slice receives it for every (h, w) at once
            rows = slice(i * DH, i * DH + SH * out_h, SH)
            columns = slice(j * DW, j * DW + SW * out_w, SW)
            img[:, :, rows, columns] += patches[:, i, j]  # (C, N, out_h, out_w)
    return img[:, :, pt : pt + H, pl : pl + W].transpose(1, 0, 2, 3)  # (N, C, H, W), a view


# ------------------------------------------------------------------ the operations
class Conv2d(Function):
    """y = x ⋆ W + b by im2col.

    x (N, C, H, W), W (FN, C/G, FH, FW), b (FN,) or None -> y (N, FN, out_h, out_w).
    With G groups, input channels [g*C/G, (g+1)*C/G) meet only filters [g*FN/G, (g+1)*FN/G):
    the product becomes G independent products, one batched matmul.
    Hyper-parameters arrive checked and as pairs (``conv2d`` does that); ``pads`` is
    (top, bottom, left, right).

    The products are written transposed, ``y^T = col_W^T @ col^T``: every filter's output
    is then one contiguous row, and y (N, FN, out_h, out_w) is a view of the (FN, N, out_h,
    out_w) result instead of a copy.
    """

    def forward(
        self, x: Any, W: Any, b: Any, *, stride: Pair, pads: Pads, dilation: Pair, groups: int
    ) -> Any:
        N, C, H, W_in = x.shape
        FN, Cg, FH, FW = W.shape
        G = groups
        out_h = conv_output_size(H, FH, stride[0], pads[:2], dilation[0], dim="H")
        out_w = conv_output_size(W_in, FW, stride[1], pads[2:], dilation[1], dim="W")
        M = N * out_h * out_w

        col = im2col(x, FH, FW, stride, pads, dilation)  # (N*out_h*out_w, C*FH*FW)
        col_T = col.T.reshape(G, Cg * FH * FW, M)  # (G, Cg*FH*FW, N*out_h*out_w), a view
        col_W = W.reshape(G, FN // G, Cg * FH * FW)  # (G, FN/G, Cg*FH*FW): a filter per row
        y = (col_W @ col_T).reshape(FN, M)  # (FN, N*out_h*out_w) = (col @ col_W^T)^T
        if b is not None:
            y += b[:, None]  # in place on the fresh product
        # keep col only if dW is wanted, W only if dx is wanted
        self.save_for_backward(
            col_T if self.needs_input_grad[1] else None,
            col_W if self.needs_input_grad[0] else None,
            x.shape, W.shape, stride, pads, dilation, G, (out_h, out_w),
        )  # fmt: skip
        return y.reshape(FN, N, out_h, out_w).transpose(1, 0, 2, 3)  # (N, FN, out_h, out_w)

    def backward(self, dout: Any) -> tuple[Any, Any, Any]:
        col_T, col_W, x_shape, W_shape, stride, pads, dilation, G, out_hw = self.saved
        FN, Cg, FH, FW = W_shape
        dx = dW = db = None
        if self.needs_input_grad[0] or self.needs_input_grad[1]:
            # (N, FN, out_h, out_w) -> (G, FN/G, N*out_h*out_w): free when dout is channel-major
            dout_T = dout.transpose(1, 0, 2, 3).reshape(G, FN // G, -1)
        if self.needs_input_grad[0]:
            dcol_T = col_W.transpose(0, 2, 1) @ dout_T  # (G, Cg*FH*FW, N*out_h*out_w)
            dcol = dcol_T.reshape(G * Cg * FH * FW, -1).T  # (N*out_h*out_w, C*FH*FW)
            dx = col2im(dcol, x_shape, FH, FW, stride, pads, dilation, out_size=out_hw)
        if self.needs_input_grad[1]:
            dW = dout_T @ col_T.transpose(0, 2, 1)  # (G, FN/G, Cg*FH*FW) = (col^T @ dout)^T
            dW = dW.reshape(W_shape)  # (FN, Cg, FH, FW)
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            db = dout.sum(axis=(0, 2, 3))  # (FN,)
        return dx, dW, db


class ConvTranspose2d(Function):
    """The transposed convolution: conv2d's backward-data pass run forwards.

    x (N, C_in, H, W), W (C_in, C_out/G, FH, FW), b (C_out,) -> (N, C_out, H_out, W_out).
    Every input pixel scatters its C_in values times the kernel onto an FH x FW patch of
    the output (col2im); backward gathers those patches again (im2col).
    """

    def forward(
        self,
        x: Any,
        W: Any,
        b: Any,
        *,
        stride: Pair,
        padding: Pair,
        output_padding: Pair,
        dilation: Pair,
        groups: int,
    ) -> Any:
        N, C_in, H, W_in = x.shape
        _, Cg_out, FH, FW = W.shape
        G = groups
        C_out = Cg_out * G
        out_h = conv_transpose_output_size(
            H, FH, stride[0], padding[0], dilation[0], output_padding[0], dim="H"
        )
        out_w = conv_transpose_output_size(
            W_in, FW, stride[1], padding[1], dilation[1], output_padding[1], dim="W"
        )
        x_T = x.transpose(1, 0, 2, 3).reshape(G, C_in // G, N * H * W_in)  # (G, C_in/G, N*H*W)
        W_g = W.reshape(G, C_in // G, Cg_out * FH * FW)  # (G, C_in/G, Cg_out*FH*FW)
        col_T = W_g.transpose(0, 2, 1) @ x_T  # (G, Cg_out*FH*FW, N*H*W)
        col = col_T.reshape(C_out * FH * FW, -1).T  # (N*H*W, C_out*FH*FW)
        y = col2im(
            col, (N, C_out, out_h, out_w), FH, FW, stride, padding, dilation, out_size=(H, W_in)
        )  # (N, C_out, out_h, out_w)
        if b is not None:
            y += b.reshape(1, C_out, 1, 1)  # y is col2im's fresh buffer
        self.save_for_backward(
            x_T if self.needs_input_grad[1] else None,
            W_g if self.needs_input_grad[0] else None,
            x.shape, W.shape, stride, padding, dilation, G,
        )  # fmt: skip
        return y

    def backward(self, dout: Any) -> tuple[Any, Any, Any]:
        x_T, W_g, x_shape, W_shape, stride, padding, dilation, G = self.saved
        N, C_in, H, W_in = x_shape
        _, Cg_out, FH, FW = W_shape
        dx = dW = db = None
        if self.needs_input_grad[0] or self.needs_input_grad[1]:
            # the patches of dout that each input pixel was spread onto
            col = im2col(dout, FH, FW, stride, padding, dilation, out_size=(H, W_in))
            col_T = col.T.reshape(G, Cg_out * FH * FW, -1)  # (G, Cg_out*FH*FW, N*H*W)
        if self.needs_input_grad[0]:
            dx_T = W_g @ col_T  # (G, C_in/G, N*H*W)
            dx = dx_T.reshape(C_in, N, H, W_in).transpose(1, 0, 2, 3)  # (N, C_in, H, W)
        if self.needs_input_grad[1]:
            dW = x_T @ col_T.transpose(0, 2, 1)  # (G, C_in/G, Cg_out*FH*FW)
            dW = dW.reshape(W_shape)  # (C_in, Cg_out, FH, FW)
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            db = dout.sum(axis=(0, 2, 3))  # (C_out,)
        return dx, dW, db


# ------------------------------------------------------------------ validation
def _is_int(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (getattr(v, "ndim", None) == 0 and v.dtype.kind in "iu")


def _int_pair(value: Any, name: str, layer: str) -> Pair:
    """An int or a pair of ints, as (h, w); anything else is a TypeError."""
    vals = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(vals) != 2 or not all(_is_int(v) for v in vals):
        raise TypeError(
            f"{layer}: {name} must be an int or a pair of ints (h, w), got {name}={value!r}"
        )
    return int(vals[0]), int(vals[1])


def _check_tensors(x: Any, weight: Any, bias: Any, layer: str) -> None:
    """Types, ranks and dtypes, shared by conv2d and conv_transpose2d."""
    for name, t in (("input", x), ("weight", weight), ("bias", bias)):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(
                f"{layer}: {name} must be a tinyconv Tensor, got {type(t).__name__}; "
                "wrap arrays with tinyconv.tensor(...)"
            )
    if x.ndim != 4:
        hint = ""
        if x.ndim == 3:
            hint = f"; add the batch dimension with x.unsqueeze(0) -> {(1, *x.shape)}"
        raise ValueError(
            f"{layer}: expected a 4-D input (N, C, H, W), "
            f"got a {x.ndim}-D input of shape {x.shape}{hint}"
        )
    if weight.ndim != 4:
        raise ValueError(f"{layer}: expected a 4-D weight, got shape {weight.shape}")
    if x.dtype.kind != "f":
        raise TypeError(
            f"{layer}: expected a floating-point input, got dtype {x.dtype}; "
            "convert images with x.astype('float32') / 255 first"
        )
    if weight.dtype != x.dtype:
        raise TypeError(
            f"{layer}: input dtype {x.dtype} does not match weight dtype {weight.dtype}; "
            f"cast the input (x.to('{weight.dtype}')) or the layer (layer.to('{x.dtype}'))"
        )
    if bias is not None and bias.dtype != x.dtype:
        raise TypeError(f"{layer}: bias dtype {bias.dtype} does not match input dtype {x.dtype}")


def _check_groups(groups: Any, C: int, x_shape: tuple[int, ...], layer: str) -> int:
    if not _is_int(groups) or groups < 1:
        raise ValueError(f"{layer}: groups must be a positive int, got groups={groups!r}")
    if C % groups:
        raise ValueError(
            f"{layer}: input channels {C} are not divisible by groups={groups}; input {x_shape}"
        )
    return int(groups)


def _check_ranges(
    layer: str, x_shape: tuple[int, ...], F: Pair, S: Pair, P: Pair, d: Pair, given: dict[str, Any]
) -> None:
    """stride >= 1, padding >= 0 and dilation >= 1, refused with the size formula filled in."""
    for k, D in enumerate("HW"):
        p = f"({P[k]})" if P[k] < 0 else P[k]
        s = f"({S[k]})" if S[k] < 0 else S[k]
        nums = f"{D}_out = ({D}_in - F + 2P)/S + 1 = ({x_shape[2 + k]} - {F[k]} + 2*{p})/{s} + 1"
        if S[k] < 1:
            raise ValueError(
                f"{layer}: stride must be >= 1, got stride={given['stride']!r}: {nums} "
                f"divides by {S[k]}"
            )
        if P[k] < 0:
            raise ValueError(
                f"{layer}: padding must be >= 0, got padding={given['padding']!r}: {nums} "
                "would crop the input (slice it instead: x[:, :, a:b, c:d])"
            )
        if d[k] < 1:
            raise ValueError(
                f"{layer}: dilation must be >= 1, got dilation={given['dilation']!r} "
                "(1 is an ordinary convolution)"
            )


def _same_pads(FH: int, FW: int, dilation: Pair) -> Pads:
    """'same' padding at stride 1: d*(F-1) in all, the odd one at the bottom/right (as PyTorch)."""
    th, tw = dilation[0] * (FH - 1), dilation[1] * (FW - 1)
    return (th // 2, th - th // 2, tw // 2, tw - tw // 2)


# ------------------------------------------------------------------ functional API
def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | Pair = 1,
    padding: int | Pair | str = 0,
    dilation: int | Pair = 1,
    groups: int = 1,
    *,
    layer: str = "conv2d",
) -> Tensor:
    """2-D convolution (cross-correlation) of a batch, as ``torch.nn.functional.conv2d``.

    y[n, f, h, w] = b[f] + sum_{c,i,j} W[f, c, i, j] * x_pad[n, g*C/G + c, h*S + i*d, w*S + j*d]
    where g = f // (FN/G) is the group of filter f.

    Args:
        x: input (N, C, H, W), floating point.
        weight: filters (FN, C/groups, FH, FW).
        bias: (FN,) or None. Default: None.
        stride (int or (int, int)): S. Default: 1.
        padding (int, (int, int), "valid" or "same"): zeros added on each side. "same" keeps
            H and W (stride 1 only); when d*(F-1) is odd the extra row/column goes to the
            bottom/right, as in PyTorch. Default: 0.
        dilation (int or (int, int)): spacing d between kernel taps. Default: 1.
        groups (int): split channels into independent groups; groups = C is depthwise. Default: 1.
        layer (str): the layer named in error messages (``nn.Conv2d`` passes its repr).

    Shape:
        Input (N, C, H_in, W_in) -> Output (N, FN, H_out, W_out) with
        H_out = floor((H_in + 2P - d*(FH - 1) - 1)/S + 1), W_out likewise.

    Raises:
        ValueError: a wrong rank, channel count or hyper-parameter, or a kernel larger
            than the padded input (the message shows the formula with the numbers).
        TypeError: a non-Tensor or non-float input, or input and weight of different dtypes.

    Example:
        >>> import numpy, tinyconv
        >>> x = tinyconv.tensor(numpy.zeros((1, 1, 28, 28), dtype=numpy.float32))
        >>> w = tinyconv.tensor(numpy.zeros((64, 1, 4, 4), dtype=numpy.float32))
        >>> conv2d(x, w, stride=2, padding=1).shape
        (1, 64, 14, 14)
    """
    _check_tensors(x, weight, bias, layer)
    N, C, H, W = x.shape
    FN, Cg, FH, FW = weight.shape
    G = _check_groups(groups, C, x.shape, layer)
    if C != Cg * G:
        raise ValueError(
            f"{layer}: Given groups={G}, weight of size {list(weight.shape)}, expected "
            f"input{list(x.shape)} to have {Cg * G} channels, but got {C} channels instead"
        )
    if FN % G:
        raise ValueError(
            f"{layer}: weight of size {list(weight.shape)} has {FN} filters, "
            f"not divisible by groups={G}"
        )
    if bias is not None and bias.shape != (FN,):
        raise ValueError(f"{layer}: expected a bias of shape ({FN},), got {bias.shape}")
    S = _int_pair(stride, "stride", layer)
    d = _int_pair(dilation, "dilation", layer)
    given = {"stride": stride, "padding": padding, "dilation": dilation}
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(
                f"{layer}: padding must be an int, a pair, 'valid' or 'same', got {padding!r}"
            )
        _check_ranges(layer, x.shape, (FH, FW), S, (0, 0), d, given)
        if padding == "same" and S != (1, 1):
            raise ValueError(
                f"{layer}: padding='same' needs stride 1 (a strided output cannot keep H and W), "
                f"got stride={stride!r}"
            )
        pads = _same_pads(FH, FW, d) if padding == "same" else (0, 0, 0, 0)
    else:
        P = _int_pair(padding, "padding", layer)
        _check_ranges(layer, x.shape, (FH, FW), S, P, d, given)
        pads = (P[0], P[0], P[1], P[1])
    conv_output_size(H, FH, S[0], pads[:2], d[0], layer=layer, dim="H", in_shape=x.shape)
    conv_output_size(W, FW, S[1], pads[2:], d[1], layer=layer, dim="W", in_shape=x.shape)
    return Conv2d.apply(x, weight, bias, stride=S, pads=pads, dilation=d, groups=G)


def conv_transpose2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | Pair = 1,
    padding: int | Pair = 0,
    output_padding: int | Pair = 0,
    groups: int = 1,
    dilation: int | Pair = 1,
    *,
    layer: str = "conv_transpose2d",
) -> Tensor:
    """Transposed convolution ("deconvolution"), as ``torch.nn.functional.conv_transpose2d``.

    It is the gradient of ``conv2d`` with respect to its input, used as a forward pass:
    ``conv_transpose2d(y, W)`` has the shape of an x for which ``conv2d(x, W)`` has y's shape.

    Args:
        x: input (N, C_in, H, W), floating point.
        weight: (C_in, C_out/groups, FH, FW) (C_in first, unlike conv2d).
        bias: (C_out,) or None. Default: None.
        stride, padding, dilation (int or (int, int)): those of the convolution it transposes.
        output_padding (int or (int, int)): extra rows/columns at the bottom/right, choosing
            one of the input sizes that a strided convolution maps to the same output; must
            be smaller than the stride or the dilation. Default: 0.
        groups (int): as in conv2d. Default: 1.
        layer (str): the layer named in error messages.

    Shape:
        Input (N, C_in, H_in, W_in) -> Output (N, C_out, H_out, W_out) with
        H_out = (H_in - 1)*S - 2P + d*(FH - 1) + output_padding + 1.

    Raises:
        ValueError, TypeError: as conv2d.

    Example:
        >>> import numpy, tinyconv
        >>> y = tinyconv.tensor(numpy.zeros((1, 64, 14, 14), dtype=numpy.float32))
        >>> w = tinyconv.tensor(numpy.zeros((64, 1, 4, 4), dtype=numpy.float32))
        >>> conv_transpose2d(y, w, stride=2, padding=1).shape
        (1, 1, 28, 28)
    """
    _check_tensors(x, weight, bias, layer)
    N, C, H, W = x.shape
    C_in, Cg_out, FH, FW = weight.shape
    G = _check_groups(groups, C, x.shape, layer)
    if C != C_in:
        raise ValueError(
            f"{layer}: Given transposed=1, weight of size {list(weight.shape)}, expected "
            f"input{list(x.shape)} to have {C_in} channels, but got {C} channels instead"
        )
    if bias is not None and bias.shape != (Cg_out * G,):
        raise ValueError(f"{layer}: expected a bias of shape ({Cg_out * G},), got {bias.shape}")
    if isinstance(padding, str):
        raise ValueError(f"{layer}: padding must be an int or a pair of ints, got {padding!r}")
    S = _int_pair(stride, "stride", layer)
    P = _int_pair(padding, "padding", layer)
    d = _int_pair(dilation, "dilation", layer)
    op = _int_pair(output_padding, "output_padding", layer)
    given = {"stride": stride, "padding": padding, "dilation": dilation}
    _check_ranges(layer, x.shape, (FH, FW), S, P, d, given)
    for k in (0, 1):
        if op[k] < 0 or (op[k] >= S[k] and op[k] >= d[k]):
            raise ValueError(
                f"{layer}: output_padding must be >= 0 and smaller than either stride or dilation, "
                f"got output_padding={op}, stride={S}, dilation={d}"
            )
    for k, (size, F) in enumerate(((H, FH), (W, FW))):
        conv_transpose_output_size(
            size, F, S[k], P[k], d[k], op[k], layer=layer, dim="HW"[k], in_shape=x.shape
        )
    return ConvTranspose2d.apply(
        x, weight, bias, stride=S, padding=P, output_padding=op, dilation=d, groups=G
    )
