"""Conv2d -> ReLU -> max pool as one operation (``conv2d_relu_max_pool2d``).

The definition is the composition of the three reference ops::

    y = max_pool2d(relu(conv2d(x, W, b, padding=P)), kernel_size=K)      # stride K, floor

For a small first layer (SimpleConvNet's 1 -> 30 filters of 5x5, then a 2x2 pool) most of
that composition's time is memory passes: the im2col copy, the (N, FN, 24, 24) convolution
output, the ReLU output and its mask, the pool's four strided reads, and as many again in
backward. With the compiled kernels enabled, ``ConvReluMaxPool`` computes the same values
in one pass (image blocks on tinyconv's threads) that keeps only the pooled output and its
argmax (int8), and its backward in one pass that scatters each pooled gradient through the
argmax and the ReLU mask straight into dW, db and (when x needs it) dx
(``tinyconv/kernels/fused_conv.py``). With many input channels (DeepConvNet's 3x3 layers,
16-64 channels) and a 2x2 pool, the convolution runs on the register-tiled direct kernels
(``kernels/conv3x3.py``) and the bias, ReLU and pool are applied as their outputs leave the
kernels' grid (``conv_relu_pool_forward``), so the convolution's output is never stored; its
backward unpools the gradient through the argmax and the ReLU into the convolution output's
gradient and its bias sums in one pass (``pool_relu_grad``), then runs the kernels' dx and dW.
Every other case (the kernels off, CuPy, 16-bit floats, a stride, dilation, groups, an
overlapping or padded pool, other many-channel convolutions, autocast) runs the composition
itself.

``nn.Sequential`` calls this for a Conv2d, ReLU, MaxPool2d run of its layers that has no
forward hooks (``tinyconv/nn/fusion.py``): the layers stay in the model as they were.

Two more fused pairs live here: ``ConvRelu`` (Conv2d -> ReLU on the 3x3 direct kernels) and
``BatchNormRelu`` (training-mode BatchNorm2d -> ReLU, ``kernels/batch_norm_relu.py``), each
chosen by its rule in ``nn/fusion.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import kernels
from ..cast_policy import is_autocast_enabled
from ..tensor import Function, Tensor, is_grad_enabled
from .activation import relu
from .conv import conv2d
from .norm import update_running_stats
from .parallel import run_blocks
from .pool import max_pool2d

Pair = tuple[int, int]

# The direct convolution reads C*FH*FW taps per output; beyond ~3 channels of 5x5 (or 8 of
# 3x3) an im2col + BLAS product is faster than this kernel's vector loop, so fuse only below.
MAX_TAPS = 75
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class ConvReluMaxPool(Function):
    """y = max_pool2d(relu(conv2d(x, W, b, padding)), K): one compiled pass each way.

    x (N, C, H, W), W (FN, C, FH, FW), b (FN,) -> y (N, FN, PH, PW) with
    PH = floor((H + 2P - FH + 1) / K), PW likewise. Saved for backward: x (padded, when W
    needs a gradient), the pooled output (its sign is the ReLU mask), the argmax (int8); on
    the direct 3x3 kernels x on their grid, W, and the argmax with the ReLU bit (int8).
    """

    def forward(self, x: Any, W: Any, b: Any, *, padding: Pair, pool: int) -> Any:
        self.direct = _direct_case(x, W, padding, pool)
        if self.direct:
            return self._direct_forward(x, W, b, padding)
        from ..kernels import fused_conv  # noqa: PLC0415  (imports Numba)

        ph, pw = padding
        x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
        x_pad = np.ascontiguousarray(x_pad)
        W = np.ascontiguousarray(W)
        b = np.zeros(W.shape[0], W.dtype) if b is None else np.ascontiguousarray(b)
        y, arg = fused_conv.forward(x_pad, W, b, pool, run_blocks)
        self.save_for_backward(x_pad, W, y, arg, padding, pool)
        return y

    def backward(self, dout: Any) -> tuple[Any, Any, Any]:
        if self.direct:
            return self._direct_backward(dout)
        from ..kernels import fused_conv  # noqa: PLC0415

        x_pad, W, y, arg, (ph, pw), pool = self.saved
        want_dx = self.needs_input_grad[0]
        dx, dW, db = fused_conv.backward(x_pad, W, y, arg, dout, pool, want_dx, run_blocks)
        if dx is not None and (ph or pw):
            dx = dx[:, :, ph : dx.shape[2] - ph, pw : dx.shape[3] - pw]
        return (
            dx,
            dW if self.needs_input_grad[1] else None,
            db if len(self.needs_input_grad) > 2 and self.needs_input_grad[2] else None,
        )

    # many input channels, 3x3, pool 2: the direct kernels (kernels/conv3x3.py), the ReLU and
    # the pool applied as the outputs leave their grid; backward unpools into g, then dx, dW
    def _direct_forward(self, x: Any, W: Any, b: Any, padding: Pair) -> Any:
        from ..kernels.conv3x3 import conv_relu_pool_forward  # noqa: PLC0415  (numba)

        ph, pw = padding
        pads = (ph, ph, pw, pw)
        y, xs, arg = conv_relu_pool_forward(x, W, b, pads, (1, 1), any(self.needs_input_grad))
        out_hw = (x.shape[2] + 2 * ph - W.shape[2] + 1, x.shape[3] + 2 * pw - W.shape[3] + 1)
        self.save_for_backward(
            xs if self.needs_input_grad[1] else None,
            W if self.needs_input_grad[0] else None,
            arg,
            (x.shape, W.shape, pads, out_hw),
        )
        return y

    def _direct_backward(self, dout: Any) -> tuple[Any, Any, Any]:
        from ..kernels.conv3x3 import pool_relu_grad  # noqa: PLC0415  (numba)

        xs, W, arg, (x_shape, W_shape, pads, out_hw) = self.saved
        g, db = pool_relu_grad(dout, arg, out_hw)  # the conv output's gradient, and its sums
        return (*_direct_grads(self, xs, x_shape, g, W, W_shape, pads, (1, 1)), db)


def _direct_grads(
    fn: Function, xs: Any, x_shape: Any, g: Any, W: Any, W_shape: Any, pads: Any, dilation: Pair
) -> tuple[Any, Any]:
    """(dx, dW) of a fused direct convolution from its output's gradient g, each only when
    ``fn`` needs it (the bias gradient, when wanted, is the caller's)."""
    from ..kernels.conv3x3 import conv_grads  # noqa: PLC0415  (numba)

    need = fn.needs_input_grad
    return conv_grads(xs, x_shape, g, W, W_shape, pads, dilation, need[1], need[0])


def _direct_case(x: Any, W: Any, padding: Pair, pool: int) -> bool:
    """Whether ConvReluMaxPool runs on the 3x3 direct kernels: a 2x2 pool, more taps than the
    small-channel kernel takes, and a convolution ``ops.conv._use_direct_kernel`` accepts."""
    from .conv import _use_direct_kernel  # noqa: PLC0415

    FN, C, FH, FW = W.shape
    if pool != 2 or C * FH * FW <= MAX_TAPS:
        return False
    ph, pw = padding
    return _use_direct_kernel(x, W, (1, 1), (ph, ph, pw, pw), (1, 1), 1)


class ConvRelu(Function):
    """y = relu(conv2d(x, W, b, padding)) at stride 1 on the compiled 3x3 kernels.

    x (N, C, H, W), W (FN, C, FH, FW), b (FN,) or None -> y (N, FN, out_h, out_w) float32.
    The ReLU is applied as the outputs leave the kernels' grid (``kernels/conv3x3.py:
    conv_relu_forward``), so it costs no pass and no array of its own. Saved for backward:
    x on the kernels' grid (for dW), W (for dx) and the ReLU mask (uint8). Backward: g = dy
    where y > 0 and db = the sums of g (one pass), then the convolution's dx and dW on g.
    """

    def forward(self, x: Any, W: Any, b: Any, *, pads: tuple[int, int, int, int],
                dilation: Pair) -> Any:  # fmt: skip
        from ..kernels.conv3x3 import conv_relu_forward  # noqa: PLC0415  (numba)

        keep = any(self.needs_input_grad)
        y, xs, mask = conv_relu_forward(x, W, b, pads, dilation, keep)
        self.save_for_backward(
            xs if self.needs_input_grad[1] else None,
            W if self.needs_input_grad[0] else None,
            mask,
            (x.shape, W.shape, pads, dilation),
        )
        return y

    def backward(self, dout: Any) -> tuple[Any, Any, Any]:
        from ..kernels.conv3x3 import relu_grad  # noqa: PLC0415  (numba)

        xs, W, mask, (x_shape, W_shape, pads, dilation) = self.saved
        g, db = relu_grad(dout, mask)  # db: the sums of g, in the same pass
        return (*_direct_grads(self, xs, x_shape, g, W, W_shape, pads, dilation), db)


class BatchNormRelu(Function):
    """y = relu(batch_norm(x, training=True)): training-mode BatchNorm2d -> ReLU, one compiled
    pass pair each way (``kernels/batch_norm_relu.py``).

    x (N, C, H, W) NumPy float32/float64 in a plane layout (NCHW or a convolution's
    channel-major memory), weight and bias (C,) or None -> y (N, C, H, W) in x's layout.
    Per channel, over its M = N*H*W values::

        mean = sum(x) / M,  var = sum((x - mean)^2) / M  (biased),  inv = 1 / sqrt(var + eps)
        xhat = (x - mean) * inv,  y = max(xhat * weight + bias, 0)

    running_mean and running_var ((C,) arrays, or None) are updated in place exactly as
    ``BatchNorm.forward`` does (``update_running_stats``: momentum, the variance times
    M / (M - 1)). Saved for backward: x itself (the layers save xhat, an array of x's size,
    plus ReLU's mask), weight, bias and the (C,) mean and inv; xhat and the ReLU's mask are
    recomputed from them with the forward's operations. Backward, with g = dout * (y > 0)::

        dbias = S = sum(g),  dweight = Sx = sum(g * xhat)
        dx = (M g - S - xhat Sx) * (weight * inv / M)

    (``_train_backward_rows``'s formula and order).
    """

    def forward(self, x: Any, weight: Any, bias: Any, *, running_mean: Any, running_var: Any,
                momentum: float, eps: float) -> Any:  # fmt: skip
        from ..kernels import batch_norm_relu  # noqa: PLC0415  (imports Numba)

        y, mean, var, inv_std = batch_norm_relu.forward(x, weight, bias, eps)
        if running_mean is not None:
            update_running_stats(running_mean, running_var, mean, var, x, momentum)
        if is_grad_enabled() and any(self.needs_input_grad):
            self.save_for_backward(x, weight, bias, mean, inv_std)
        return y

    def backward(self, dout: Any) -> tuple[Any, Any, Any]:
        from ..kernels import batch_norm_relu  # noqa: PLC0415

        x, weight, bias, mean, inv_std = self.saved
        M = x.dtype.type(x.size // x.shape[1])
        coef = inv_std / M if weight is None else weight * inv_std / M
        need = self.needs_input_grad
        dx, S, Sx = batch_norm_relu.backward(x, dout, weight, bias, mean, inv_std, coef, need[0])
        return dx, (Sx if need[1] else None), (S if need[2] else None)


def fusable(x: Tensor, weight: Tensor, bias: Tensor | None, padding: Pair, pool: int) -> bool:
    """True when ``ConvReluMaxPool`` computes this case (see the module docstring)."""
    if not kernels.enabled() or is_autocast_enabled():
        return False
    if not isinstance(x, Tensor) or not isinstance(weight, Tensor):
        return False
    if bias is not None and not isinstance(bias, Tensor):
        return False
    arrays = [x.data, weight.data] + ([] if bias is None else [bias.data])
    if any(type(a) is not np.ndarray or a.dtype != x.data.dtype for a in arrays):
        return False
    if x.data.dtype not in _FLOATS or x.ndim != 4 or weight.ndim != 4 or x.shape[0] == 0:
        return False
    FN, C, FH, FW = weight.shape
    H, W = x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1]
    if x.shape[1] != C or not 1 <= pool <= 11:
        return False
    if C * FH * FW > MAX_TAPS and not _direct_case(x.data, weight.data, padding, pool):
        return False
    return (H - FH + 1) // pool >= 1 and (W - FW + 1) // pool >= 1


def conv2d_relu_max_pool2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    padding: int | Pair = 0,
    pool: int = 2,
    *,
    layer: str = "conv2d_relu_max_pool2d",
) -> Tensor:
    """``max_pool2d(relu(conv2d(x, weight, bias, padding=padding)), pool)``, fused when it can.

    The convolution has stride 1, no dilation and one group; the pool is ``pool`` x ``pool``
    with stride ``pool`` (no padding, floor). One compiled pass each way when the kernels
    are enabled and the case is covered (``fusable``); otherwise the three ops in turn.

    Args:
        x (Tensor): (N, C, H, W), floating point.
        weight (Tensor): (FN, C, FH, FW).
        bias (Tensor, optional): (FN,). Default: None.
        padding (int or (int, int)): zeros around the input. Default: 0.
        pool (int): the pool's window and stride. Default: 2.
        layer (str): the name in error messages (from the reference ops).

    Shape:
        (N, C, H, W) -> (N, FN, PH, PW), PH = floor(((H - FH + 2P)/1 + 1) / pool), PW likewise.

    Example:
        >>> import numpy, tinyconv
        >>> x = tinyconv.tensor(numpy.ones((2, 1, 28, 28), numpy.float32))
        >>> w = tinyconv.tensor(numpy.ones((30, 1, 5, 5), numpy.float32))
        >>> conv2d_relu_max_pool2d(x, w).shape
        (2, 30, 12, 12)
    """
    pad = (padding, padding) if isinstance(padding, int) else tuple(padding)
    if fusable(x, weight, bias, pad, pool):
        return ConvReluMaxPool.apply(x, weight, bias, padding=pad, pool=int(pool))
    y = relu(conv2d(x, weight, bias, padding=pad, layer=layer))
    return max_pool2d(y, pool, layer=layer)
