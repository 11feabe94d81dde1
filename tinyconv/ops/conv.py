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
``Conv2d`` runs these products block by block on all cores (``conv_blocks.py``, with the
tricks that make it fast); ``im2col`` and ``col2im`` themselves live in ``im2col.py``.
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

from .. import kernels
from ..backend import get_array_module
from ..cast_policy import LOW, is_autocast_enabled
from ..dtypes import is_floating, matmul32, sum32, to_compute
from ..tensor import Function, Tensor, is_grad_enabled
from .conv_blocks import (
    _conv_blocks,
    _data_grad_col2im,
    _Geometry,
    _weight_grad_blocks,
)
from .conv_transpose_blocks import transpose_backward, transpose_forward
from .im2col import (  # noqa: F401  (re-exported: the reference functions live there)
    Pads,
    Pair,
    _pads,
    _pair,
    col2im,
    conv_output_size,
    conv_transpose_output_size,
    im2col,
)
from .unbatched import EmptyBatch, add_batch, drop_batch


# ------------------------------------------------------------------ the operations
class Conv2d(Function):
    """y = x ⋆ W + b by im2col.

    x (N, C, H, W), W (FN, C/G, FH, FW), b (FN,) or None -> y (N, FN, out_h, out_w).
    With G groups, input channels [g*C/G, (g+1)*C/G) meet only filters [g*FN/G, (g+1)*FN/G):
    the product becomes G independent products, one batched matmul.
    Hyper-parameters arrive checked and as pairs (``conv2d`` does that); ``pads`` is
    (top, bottom, left, right).

    The products are written transposed, ``y^T = col_W^T @ col^T``: every filter's output
    is then one contiguous row, and y (N, FN, out_h, out_w) is a view of the channel-major
    (FN, N, out_h, out_w) result instead of a copy. The batch goes through in cache-sized
    blocks of images on all cores and, at stride 1, over whole padded rows (see "the fast
    path" above). Only the input is saved for backward.

    Backward: dW^T = col^T @ dy^T. At stride 1, dx is itself a convolution: the gradient,
    padded by d*(F - 1) - P, convolved with the filters flipped in H and W and with their
    in/out channels swapped, dx[c] = sum_f dy_pad[f] ⋆ flip(W[f, c]) (every output that
    input pixel (y, x) fed, y - i*d + P for tap i, found by sliding the flipped kernel).
    That reuses the forward's blocks and avoids col2im's adds (faster while FN <= 2C);
    other strides, and layers with many more filters than input channels, use col2im.

    16-bit x and W (float16, bfloat16) are converted to float32 block by block, as im2col
    copies them (NumPy has no fast 16-bit matrix product); the products accumulate in
    float32 and each result (with its bias) is rounded to 16 bits once. Under autocast the
    inputs become 16-bit first.
    """

    autocast_policy = LOW

    def forward(
        self, x: Any, W: Any, b: Any, *, stride: Pair, pads: Pads, dilation: Pair, groups: int
    ) -> Any:
        if _use_depthwise_kernel(x, W, groups):
            return self._depthwise_forward(x, W, b, stride, pads, dilation)
        self.depthwise = False
        grad = is_grad_enabled() and any(self.needs_input_grad)
        self.direct = _use_direct_kernel(x, W, stride, pads, dilation, groups, grad)
        if self.direct:
            return self._direct_forward(x, W, b, pads, dilation)
        self.gemm = _use_gemm_kernel(x, W, stride, pads, dilation, groups, grad)
        if self.gemm:
            return self._gemm_forward(x, W, b, stride, pads, dilation)
        xp = get_array_module(x)
        g = _Geometry(x.shape, W.shape, stride, pads, dilation, groups, xp, x.dtype)
        col_W = to_compute(W).reshape(g.G, g.FN // g.G, g.Kg)  # (G, FN/G, Cg*FH*FW): filter rows
        y = _conv_blocks(x, col_W, b, g)  # (FN, N, out_h, out_w)
        self.save_for_backward(
            x if self.needs_input_grad[1] else None, W if self.needs_input_grad[0] else None, g
        )
        return y.transpose(1, 0, 2, 3)  # (N, FN, out_h, out_w), a view

    def backward(self, dout: Any) -> tuple[Any, Any, Any]:
        if self.depthwise:
            return self._depthwise_backward(dout)
        if self.direct:
            return self._direct_backward(dout)
        if self.gemm:
            return self._gemm_backward(dout)
        x, W, g = self.saved
        xp = get_array_module(dout)
        G, FN, FH, FW, (DH, DW) = g.G, g.FN, g.FH, g.FW, g.dilation
        dx = dW = db = None
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            db = _bias_grad(dout)  # (FN,)
        if self.needs_input_grad[1]:
            dW_T = _weight_grad_blocks(x, dout, g)  # (G, Cg*FH*FW, FN/G)
            dW = dW_T.transpose(0, 2, 1).astype(g.store, order="C").reshape(FN, -1, FH, FW)
        if self.needs_input_grad[0]:
            pt, pb, pl, pr = g.pads
            qh, qw = DH * (FH - 1), DW * (FW - 1)
            flip_pads = (qh - pt, qh - pb, qw - pl, qw - pr)  # d*(F - 1) - P per side
            # the flipped convolution copies FN*FH*FW values per pixel into its col where
            # col2im adds C*FH*FW: it wins (measured) while FN <= 2C, not for a first layer
            if g.stride == (1, 1) and min(flip_pads) >= 0 and FN <= 2 * g.C:
                # the flipped, channel-swapped filters: (G, Cg, FN/G, FH, FW) -> (C, FN/G, FH, FW)
                Cg = g.C // G
                W_flip = to_compute(W).reshape(G, FN // G, Cg, FH, FW)[:, :, :, ::-1, ::-1]
                W_flip = xp.ascontiguousarray(W_flip.transpose(0, 2, 1, 3, 4))
                g_dx = _Geometry(dout.shape, (g.C, FN // G, FH, FW), (1, 1), flip_pads,
                                 g.dilation, G, xp, dout.dtype)  # fmt: skip
                col_W_flip = W_flip.reshape(G, Cg, (FN // G) * FH * FW)
                dx = _conv_blocks(dout, col_W_flip, None, g_dx)  # (C, N, H, W)
            else:
                g_img = _Geometry((g.N, g.C, g.H, g.W), W.shape, g.stride, g.pads,
                                  g.dilation, G, xp, dout.dtype, bands=False)  # fmt: skip
                dx = _data_grad_col2im(dout, to_compute(W).reshape(G, FN // G, g.Kg), g_img)
            dx = dx.transpose(1, 0, 2, 3)  # (N, C, H, W), a view
        return dx, dW, db

    # the compiled depthwise kernels (groups = C, one input channel per filter)
    def _depthwise_forward(
        self, x: Any, W: Any, b: Any, stride: Pair, pads: Pads, dilation: Pair
    ) -> Any:
        from ..kernels.conv_depthwise import depthwise_forward  # noqa: PLC0415  (numba)

        self.depthwise = True
        N, C, H, W_in = x.shape
        FN, _, FH, FW = W.shape
        out_h = conv_output_size(H, FH, stride[0], pads[:2], dilation[0], dim="H")
        out_w = conv_output_size(W_in, FW, stride[1], pads[2:], dilation[1], dim="W")
        y = depthwise_forward(x, W, b, stride, pads, dilation, (out_h, out_w))
        self.save_for_backward(
            x if self.needs_input_grad[1] else None,
            W if self.needs_input_grad[0] else None,
            (x.shape, W.shape, stride, pads, dilation),
        )
        return y

    def _depthwise_backward(self, dout: Any) -> tuple[Any, Any, Any]:
        from ..kernels.conv_depthwise import (  # noqa: PLC0415  (numba)
            depthwise_data_grad,
            depthwise_weight_grad,
        )

        x, W, (x_shape, W_shape, stride, pads, dilation) = self.saved
        dx = dW = db = None
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            db = _bias_grad(dout)  # (FN,)
        if self.needs_input_grad[1]:
            dW = depthwise_weight_grad(x, dout, W_shape, stride, pads, dilation)
        if self.needs_input_grad[0]:
            dx = depthwise_data_grad(dout, W, x_shape, stride, pads, dilation)
        return dx, dW, db

    # the compiled stride-1 kernels (kernels/conv3x3.py: direct products, no im2col)
    def _direct_forward(self, x: Any, W: Any, b: Any, pads: Pads, dilation: Pair) -> Any:
        from ..kernels.conv3x3 import conv_forward  # noqa: PLC0415  (numba)

        y, xs = conv_forward(x, W, b, pads, dilation)  # xs: x on the kernels' grid
        self.save_for_backward(
            xs if self.needs_input_grad[1] else None,
            W if self.needs_input_grad[0] else None,
            (x.shape, W.shape, pads, dilation),
        )
        return y

    def _direct_backward(self, dout: Any) -> tuple[Any, Any, Any]:
        from ..kernels.conv3x3 import bias_grad, conv_grads  # noqa: PLC0415  (numba)

        xs, W, (x_shape, W_shape, pads, dilation) = self.saved
        db = None
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            db = bias_grad(dout)  # (FN,): plane sums in float64, as ConvRelu's
        need = self.needs_input_grad
        dx, dW = conv_grads(xs, x_shape, dout, W, W_shape, pads, dilation, need[1], need[0])
        return dx, dW, db

    # im2col and one product on the compiled tiles (kernels/conv_gemm.py): strided layers, and
    # wide 3x3 layers at inference
    def _gemm_forward(
        self, x: Any, W: Any, b: Any, stride: Pair, pads: Pads, dilation: Pair
    ) -> Any:
        from ..kernels.conv_gemm import conv_forward  # noqa: PLC0415  (numba)

        # dW reads the forward's col when conv_forward keeps it (not too large), else x
        cols: list | None = [] if self.needs_input_grad[1] and is_grad_enabled() else None
        y = conv_forward(x, W, b, stride, pads, dilation, cols=cols)
        self.save_for_backward(
            x if self.needs_input_grad[1] and not cols else None,
            cols or None,
            W if self.needs_input_grad[0] else None,
            (x.shape, W.shape, stride, pads, dilation),
        )
        return y

    def _gemm_backward(self, dout: Any) -> tuple[Any, Any, Any]:
        from ..kernels.conv_gemm import (  # noqa: PLC0415  (numba)
            conv_data_grad,
            conv_weight_grad,
        )

        x, cols, W, (x_shape, W_shape, stride, pads, dilation) = self.saved
        dx = dW = db = None
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            db = _bias_grad(dout)  # (FN,)
        if self.needs_input_grad[1]:
            dW = conv_weight_grad(x, dout, W_shape, stride, pads, dilation, cols)
        if self.needs_input_grad[0]:
            dx = conv_data_grad(dout, W, x_shape, stride, pads, dilation)
        return dx, dW, db


def _bias_grad(dout: Any) -> Any:
    """db = the sum of dout (N, FN, H, W) over (N, H, W): with the kernels on and float32 NumPy,
    compiled float64 plane sums (``kernels.conv3x3.bias_grad``, free of the thread count;
    measured 0.35 ms a step less than NumPy's strided sum in fast_mnist), else ``sum32``."""
    numpy_f32 = type(dout).__module__ == "numpy" and dout.dtype.name == "float32"
    if kernels.enabled() and numpy_f32 and dout.size:
        from ..kernels.conv3x3 import bias_grad  # noqa: PLC0415  (numba)

        return bias_grad(dout)
    return sum32(dout, axis=(0, 2, 3))


def conv2d_affine_kernel(
    x: Any, W: Any, b: Any, stride: Pair, pads: Pads, dilation: Pair, epilogue: Any
) -> Any:
    """y = the convolution with ``epilogue`` = (a, c, r, relu), y * a[f] + c[f] (+ r) (ReLU),
    applied as the compiled kernels unpack their outputs, or None where neither the direct
    3x3 kernels nor conv_gemm take this convolution (inference only: nothing is kept for a
    backward pass; ``nn.fusion.conv_bn`` calls it for eval-mode Conv2d -> BatchNorm2d)."""
    if _use_direct_kernel(x, W, stride, pads, dilation, 1, grad=False):
        from ..kernels.conv3x3 import conv_affine_forward  # noqa: PLC0415  (numba)

        return conv_affine_forward(x, W, b, pads, dilation, epilogue)
    if _use_gemm_kernel(x, W, stride, pads, dilation, 1, grad=False):
        from ..kernels.conv_gemm import conv_forward  # noqa: PLC0415  (numba)

        return conv_forward(x, W, b, stride, pads, dilation, epilogue)
    return None


def _use_gemm_kernel(
    x: Any, W: Any, stride: Pair, pads: Pads, dilation: Pair, groups: int, grad: bool
) -> bool:
    """The dispatch rule for im2col on the compiled tiles (``kernels/conv_gemm.supported``)."""
    if not kernels.enabled() or groups != 1:
        return False
    from ..kernels.conv_gemm import supported  # noqa: PLC0415  (numba)

    return supported(x, W, stride, pads, dilation, groups, grad)


def _use_direct_kernel(
    x: Any, W: Any, stride: Pair, pads: Pads, dilation: Pair, groups: int, grad: bool = True
) -> bool:
    """The dispatch rule for the compiled stride-1 kernels (``kernels/conv3x3.supported``:
    float32 NumPy, 3x3, 1 or 16-64 channels, measured faster than the reference there)."""
    if not kernels.enabled() or groups != 1 or stride != (1, 1):
        return False
    from ..kernels.conv3x3 import supported  # noqa: PLC0415  (numba)

    return supported(x, W, stride, pads, dilation, groups, grad)


def _use_depthwise_kernel(x: Any, W: Any, groups: int) -> bool:
    """The dispatch rule for the compiled depthwise kernels (kernels on, NumPy float32/64).

    Measured faster than the reference (im2col + C one-row products) for every depthwise
    layer tried (groups = C > 1); a one-channel first layer (C = 1) keeps the reference.
    """
    if not kernels.enabled() or groups < 2:
        return False
    from ..kernels.conv_depthwise import supported  # noqa: PLC0415  (numba)

    return supported(x, W, groups)


class ConvTranspose2d(Function):
    """The transposed convolution: conv2d's backward-data pass run forwards.

    x (N, C_in, H, W), W (C_in, C_out/G, FH, FW), b (C_out,) -> (N, C_out, H_out, W_out).
    Every input pixel scatters its C_in values times the kernel onto an FH x FW patch of
    the output (col2im); backward gathers those patches again (im2col). 16-bit inputs are
    computed in float32 (converted per call) and the results rounded back once.

    With the kernels on (NumPy float32/64), the same products and col2im/im2col run block
    by block on all threads, col2im and im2col compiled (``conv_transpose_blocks.py``).
    """

    autocast_policy = LOW

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
        self.compiled = _use_transpose_kernel(x, W)
        if self.compiled:  # the same products and col2im, block by block, compiled
            conv = ((FH, FW), stride, padding, dilation, G)
            y = transpose_forward(x, W, b, (out_h, out_w), conv)
            self.save_for_backward(
                x if self.needs_input_grad[1] else None,
                W if self.needs_input_grad[0] else None,
                x.shape, conv,
            )  # fmt: skip
            return y
        x_T = x.transpose(1, 0, 2, 3).reshape(G, C_in // G, N * H * W_in)  # (G, C_in/G, N*H*W)
        W_g = W.reshape(G, C_in // G, Cg_out * FH * FW)  # (G, C_in/G, Cg_out*FH*FW)
        col_T = to_compute(W_g).transpose(0, 2, 1) @ to_compute(x_T)  # (G, Cg_out*FH*FW, N*H*W)
        col = col_T.reshape(C_out * FH * FW, -1).T  # (N*H*W, C_out*FH*FW)
        y = col2im(
            col, (N, C_out, out_h, out_w), FH, FW, stride, padding, dilation, out_size=(H, W_in)
        )  # (N, C_out, out_h, out_w)
        if b is not None:
            y += b.reshape(1, C_out, 1, 1)  # y is col2im's fresh buffer
        y = y.astype(x.dtype, copy=False)  # 16-bit inputs: rounded once, here
        self.save_for_backward(
            x_T if self.needs_input_grad[1] else None,
            W_g if self.needs_input_grad[0] else None,
            x.shape, W.shape, stride, padding, dilation, G,
        )  # fmt: skip
        return y

    def backward(self, dout: Any) -> tuple[Any, Any, Any]:
        if self.compiled:
            return self._compiled_backward(dout)
        x_T, W_g, x_shape, W_shape, stride, padding, dilation, G = self.saved
        N, C_in, H, W_in = x_shape
        _, Cg_out, FH, FW = W_shape
        dx = dW = db = None
        if self.needs_input_grad[0] or self.needs_input_grad[1]:
            # the patches of dout that each input pixel was spread onto
            col = im2col(dout, FH, FW, stride, padding, dilation, out_size=(H, W_in))
            col_T = col.T.reshape(G, Cg_out * FH * FW, -1)  # (G, Cg_out*FH*FW, N*H*W)
        if self.needs_input_grad[0]:
            dx_T = matmul32(W_g, col_T)  # (G, C_in/G, N*H*W)
            dx = dx_T.reshape(C_in, N, H, W_in).transpose(1, 0, 2, 3)  # (N, C_in, H, W)
        if self.needs_input_grad[1]:
            dW = matmul32(x_T, col_T.transpose(0, 2, 1))  # (G, C_in/G, Cg_out*FH*FW)
            dW = dW.reshape(W_shape)  # (C_in, Cg_out, FH, FW)
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            db = _bias_grad(dout)  # (C_out,)
        return dx, dW, db

    def _compiled_backward(self, dout: Any) -> tuple[Any, Any, Any]:
        x, W, x_shape, conv = self.saved
        need = self.needs_input_grad
        dx = dW = None
        if need[0] or need[1]:
            dx, dW = transpose_backward(dout, x, W, x_shape, conv, need[0], need[1])
        db = _bias_grad(dout) if len(need) > 2 and need[2] else None  # (C_out,)
        return dx, dW, db


def _use_transpose_kernel(x: Any, W: Any) -> bool:
    """The dispatch rule for ConvTranspose2d's compiled col2im/im2col (kernels on, NumPy
    float32/64): measured faster than the reference on every decoder shape of the zoo
    (bench/conv_shapes.py)."""
    if not kernels.enabled():
        return False
    from ..kernels.conv_transpose import supported  # noqa: PLC0415  (numba)

    return supported(x, W)


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
    if x.ndim != 4:  # an unbatched (C, H, W) input arrives here with its batch axis added
        raise ValueError(
            f"{layer}: expected a 4-D input (N, C, H, W) or an unbatched 3-D input (C, H, W), "
            f"got a {x.ndim}-D input of shape {x.shape}"
        )
    if weight.ndim != 4:
        raise ValueError(f"{layer}: expected a 4-D weight, got shape {weight.shape}")
    if not is_floating(x.dtype):
        raise TypeError(
            f"{layer}: expected a floating-point input, got dtype {x.dtype}; "
            "convert images with x.astype('float32') / 255 first"
        )
    if is_autocast_enabled():
        return  # autocast casts input, weight and bias to one dtype
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
        x: input (N, C, H, W), or an unbatched (C, H, W) giving (FN, H_out, W_out); floating.
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
    x, added = add_batch(x, dims=2)
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
    out_h = conv_output_size(H, FH, S[0], pads[:2], d[0], layer=layer, dim="H", in_shape=x.shape)
    out_w = conv_output_size(W, FW, S[1], pads[2:], d[1], layer=layer, dim="W", in_shape=x.shape)
    if N == 0:  # an empty batch: nothing to compute, an empty result
        return EmptyBatch.apply(x, weight, bias, out_shape=(0, FN, out_h, out_w))
    y = Conv2d.apply(x, weight, bias, stride=S, pads=pads, dilation=d, groups=G)
    return drop_batch(y, added)


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
        x: input (N, C_in, H, W), or an unbatched (C_in, H, W); floating point.
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
    x, added = add_batch(x, dims=2)
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
    y = ConvTranspose2d.apply(
        x, weight, bias, stride=S, padding=P, output_padding=op, dilation=d, groups=G
    )
    return drop_batch(y, added)
