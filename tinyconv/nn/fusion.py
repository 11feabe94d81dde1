"""Which runs of layers ``Sequential`` computes as one fused operation (kernels enabled).

Conv2d -> ReLU -> MaxPool2d becomes ``ops.fused.conv2d_relu_max_pool2d`` when:

* none of the three layers has a forward hook (``summary``, ``viz.feature_maps``, the
  playground's per-layer maps and Grad-CAM register hooks, so they always see every layer's
  output: fusion never hides a layer from them);
* the layers are exactly these classes (a subclass may have its own forward);
* the convolution has stride 1, no dilation, one group, zero padding given as numbers; the
  pool is K x K with stride K, no padding or dilation, floor mode and no indices;
* ``ops.fused.fusable`` accepts the arrays (NumPy float32/float64, few input channels);
* no tracer has wrapped ``Function.apply`` (the ONNX exporter records every op of a forward,
  and must see the three layers' own ops).

Anything else runs layer by layer, as without the kernels. Training and eval fuse alike
(none of the three layers behaves differently in eval).

Conv2d -> ReLU (when no pool follows that the rule above fuses) becomes ``ops.fused.ConvRelu``
when the convolution runs on the compiled 3x3 kernels (``ops.conv._use_direct_kernel``: float32
NumPy, stride 1, one group, 3x3, 1 or 16-64 channels), under the same hook, class and tracer
conditions: the ReLU is applied as the outputs leave the kernels' grid, and its backward is
one masking pass before the convolution's (DeepConvNet has six such pairs). The values are
the layers' own, bit for bit (the same products, then max(y, 0)).

Conv2d -> BatchNorm2d (-> ReLU) in evaluation mode (``conv_bn``): a batch norm that uses its
running statistics is a per-channel affine map y * a + c of the convolution's output
(``ops.norm.norm_affine``). The convolution runs as always, then one compiled pass
(``kernels/channel_affine.py``) overwrites its fresh output with relu(y * a + c (+ a
residual)): the same operations in the same order as the layers, so the same bits, without
the batch norm's, the add's and the ReLU's passes and arrays. Nothing is folded into the
weights, so nothing is cached: a changed weight or running statistic is simply used by
the next forward. It applies when, besides the conditions above (hooks, classes, tracer),
the batch norm is in eval mode with running statistics, no gradient is recorded (inside
``no_grad``, or no input or parameter requires one), autocast is off and the arrays are
NumPy float32/float64. ``Sequential`` tries it after Conv2d -> ReLU -> MaxPool2d; models
whose forward is written out (ResNet's blocks) call ``conv_bn`` directly.

BatchNorm2d -> ReLU in training mode (``bn_relu``, fast_mnist's two pairs) becomes
``ops.fused.BatchNormRelu``: one compiled pass pair computes the batch statistics, the
normalisation and the ReLU (``kernels/batch_norm_relu.py``), and one pass pair the backward,
keeping only the batch norm's input (xhat and the ReLU's mask are recomputed). The running
statistics (when tracked) and ``num_batches_tracked`` are updated as the layer does
(``_BatchNorm._step_stats``, ``ops.norm.update_running_stats``). The values equal the layers'
to float rounding (the sums run in float64 in another order than NumPy's, so not bit for
bit). Besides the hook, class and tracer conditions it applies when the kernels are on,
autocast is off, the batch norm is in training mode, the input is a 4-D NumPy float32/float64
array with more than one value per channel, in NCHW or channel-major memory, and the
parameters and running statistics have its dtype. Evaluation mode is ``conv_bn``'s case (after
a convolution); a batch norm in eval runs layer by layer here.
"""

from __future__ import annotations

from typing import Any

import numpy

from .. import kernels
from ..cast_policy import is_autocast_enabled
from ..ops.conv import _use_direct_kernel, conv2d, conv2d_affine_kernel
from ..ops.fused import BatchNormRelu, ConvRelu, ConvReluMaxPool, fusable
from ..ops.norm import norm_affine
from ..tensor import Function, Tensor, is_grad_enabled
from .activation import ReLU
from .conv import Conv2d
from .module import SEQUENTIAL_FUSIONS, Module
from .norm import BatchNorm2d
from .pool import MaxPool2d

_APPLY = Function.__dict__["apply"]  # replaced while a tracer records the ops


def _square_pool(pool: MaxPool2d) -> int | None:
    """K for a K x K pool with stride K, no padding or dilation, floor mode; else None."""
    a = pool._args
    if pool.return_indices or a.ceil_mode or any(a.pads) or a.dilation != (1, 1):
        return None
    K = a.kernel[0]
    return K if tuple(a.kernel) == (K, K) and tuple(a.stride) == (K, K) else None


def conv_relu_pool(layers: list[Module], i: int, x: Any) -> tuple[Any, int] | None:
    """(pooled output, i + 3) for a fusable Conv2d, ReLU, MaxPool2d at ``layers[i:]``; or None."""
    if i + 3 > len(layers):
        return None
    conv, act, pool = layers[i : i + 3]
    if type(conv) is not Conv2d or type(act) is not ReLU or type(pool) is not MaxPool2d:
        return None
    if conv._forward_hooks or act._forward_hooks or pool._forward_hooks:
        return None
    if Function.__dict__["apply"] is not _APPLY:  # a trace (ONNX export) is being recorded
        return None
    if conv.stride != (1, 1) or conv.dilation != (1, 1) or conv.groups != 1:
        return None
    if isinstance(conv.padding, str):
        return None
    K = _square_pool(pool)
    if K is None or not fusable(x, conv.weight, conv.bias, conv.padding, K):
        return None
    y = ConvReluMaxPool.apply(x, conv.weight, conv.bias, padding=tuple(conv.padding), pool=K)
    return y, i + 3


def _plain_pair(layers: list[Module], i: int, first: type, second: type) -> tuple[Any, Any] | None:
    """``layers[i], layers[i + 1]`` when they are exactly ``first`` and ``second`` (not
    subclasses), neither has a forward hook, no trace is recorded, the kernels are on and
    autocast is off: what every pair rule here needs first; else None."""
    if i + 2 > len(layers):
        return None
    a, b = layers[i : i + 2]
    if type(a) is not first or type(b) is not second:
        return None
    if a._forward_hooks or b._forward_hooks or _tracing():
        return None
    if not kernels.enabled() or is_autocast_enabled():
        return None
    return a, b


def _pads(conv: Conv2d) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
    """(P, pads): a numeric padding as a pair (h, w) and as (top, bottom, left, right)."""
    P = (conv.padding,) * 2 if isinstance(conv.padding, int) else tuple(conv.padding)
    return P, (P[0], P[0], P[1], P[1])


def conv_relu(layers: list[Module], i: int, x: Any) -> tuple[Any, int] | None:
    """(relu(conv(x)), i + 2) for a Conv2d, ReLU at ``layers[i:]`` on the compiled 3x3
    kernels; or None."""
    pair = _plain_pair(layers, i, Conv2d, ReLU)
    if pair is None or not isinstance(x, Tensor):
        return None
    conv = pair[0]
    if x.ndim != 4 or x.shape[0] == 0 or isinstance(conv.padding, str):
        return None
    P, pads = _pads(conv)
    w, b = conv.weight, conv.bias
    if x.shape[1] != w.shape[1] * conv.groups or (b is not None and b.dtype != w.dtype):
        return None  # conv2d's own checks give the error
    if x.shape[2] + 2 * P[0] < w.shape[2] or x.shape[3] + 2 * P[1] < w.shape[3]:
        return None
    if not _use_direct_kernel(x.data, w.data, tuple(conv.stride), pads, tuple(conv.dilation),
                              conv.groups):  # fmt: skip
        return None
    y = ConvRelu.apply(x, w, b, pads=pads, dilation=tuple(conv.dilation))
    return y, i + 2


def _tracing() -> bool:
    return Function.__dict__["apply"] is not _APPLY


def _foldable(conv: Any, bn: Any, relu: Any, x: Any, residual: Any) -> bool:
    """Whether ``conv_bn`` may compute these layers as one convolution and one pass."""
    if not kernels.enabled() or _tracing() or is_autocast_enabled():
        return False
    if type(conv) is not Conv2d or type(bn) is not BatchNorm2d:
        return False
    if relu is not None and type(relu) is not ReLU:
        return False
    if any(m is not None and m._forward_hooks for m in (conv, bn, relu)):
        return False
    if bn.training or not bn.track_running_stats or bn.num_features != conv.out_channels:
        return False
    tensors = [x, conv.weight, conv.bias, bn.weight, bn.bias, residual]
    if is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors):
        return False
    if not isinstance(x, Tensor) or x.ndim != 4 or x.shape[0] == 0:
        return False
    return isinstance(x.data, numpy.ndarray) and x.dtype in (numpy.float32, numpy.float64)


def conv_bn(
    conv: Conv2d,
    bn: BatchNorm2d,
    x: Tensor,
    *,
    residual: Tensor | None = None,
    relu: ReLU | None = None,
) -> Tensor:
    """``relu(bn(conv(x)) + residual)``, the residual and the ReLU optional.

    With the kernels on and an eval-mode batch norm (see the module docstring for every
    condition) the batch norm, the add and the ReLU run as one in-place pass over the
    convolution's output, giving the same values; otherwise the layers run one by one,
    exactly as the expression above (hooks, training and autograd then see every layer).

    Args:
        conv: a ``Conv2d``; bn: the ``BatchNorm2d`` on its output; x: the input (N, C, H, W).
        residual: a tensor of the output's shape added after the batch norm (a shortcut).
        relu: the ``ReLU`` applied last, or None.
    """
    if _foldable(conv, bn, relu, x, residual):
        from ..kernels import channel_affine  # noqa: PLC0415  (numba)

        fused = _conv_affine(conv, bn, x, residual, relu)
        if fused is not None:
            return fused

        y = conv2d(
            x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups,
            layer=repr(conv),
        )  # fmt: skip
        r = None if residual is None else residual.data
        if channel_affine.supported(y.data, r):
            w, b = (None if t is None else t.data for t in (bn.weight, bn.bias))
            mean, var = bn.running_mean.data, bn.running_var.data
            a, c = norm_affine(y.dtype, w, b, mean, var, bn.eps)
            channel_affine.affine_add_relu(y.data, a, c, r, relu is not None)
            return y
        out = bn(y)  # a layout the pass does not take: the rest layer by layer
    else:
        out = bn(conv(x))
    if residual is not None:
        out = out + residual
    return relu(out) if relu is not None else out


def _conv_affine(
    conv: Conv2d, bn: BatchNorm2d, x: Tensor, residual: Tensor | None, relu: ReLU | None
) -> Tensor | None:
    """``conv_bn``'s whole expression in the convolution kernel's own output pass (the batch
    norm's affine map, the residual and the ReLU applied as the outputs are unpacked: the same
    operations in the same order, so the same bits as the convolution then the pass), for a
    float32 convolution the compiled kernels take; None otherwise (then ``conv_bn`` goes on,
    and ``conv2d`` checks the shapes)."""
    xd, W = x.data, conv.weight.data
    if xd.dtype != numpy.float32 or W.dtype != numpy.float32 or conv.groups != 1:
        return None
    if isinstance(conv.padding, str) or xd.shape[1] != W.shape[1]:
        return None
    b = None if conv.bias is None else conv.bias.data
    P, pads = _pads(conv)
    S, d = tuple(conv.stride), tuple(conv.dilation)
    FH, FW = W.shape[2:]
    out_h = (xd.shape[2] + 2 * P[0] - d[0] * (FH - 1) - 1) // S[0] + 1
    out_w = (xd.shape[3] + 2 * P[1] - d[1] * (FW - 1) - 1) // S[1] + 1
    if out_h < 1 or out_w < 1:
        return None
    r = None if residual is None else residual.data
    if r is not None and (
        r.shape != (xd.shape[0], W.shape[0], out_h, out_w) or r.dtype != xd.dtype
    ):
        return None
    w, bb = (None if t is None else t.data for t in (bn.weight, bn.bias))
    a, c = norm_affine(xd.dtype, w, bb, bn.running_mean.data, bn.running_var.data, bn.eps)
    y = conv2d_affine_kernel(xd, W, b, S, pads, d, (a, c, r, relu is not None))
    return None if y is None else Tensor(y)


def conv_bn_relu(layers: list[Module], i: int, x: Any) -> tuple[Any, int] | None:
    """(output, next index) for Conv2d, BatchNorm2d and an optional ReLU at ``layers[i:]``
    when ``conv_bn`` folds them (eval mode); else None."""
    if i + 2 > len(layers):
        return None
    conv, bn = layers[i : i + 2]
    relu = layers[i + 2] if i + 2 < len(layers) and type(layers[i + 2]) is ReLU else None
    if not _foldable(conv, bn, relu, x, None):
        return None
    return conv_bn(conv, bn, x, relu=relu), i + (3 if relu is not None else 2)


def _conv_runs(layers: list[Module], i: int, x: Any) -> tuple[Any, int] | None:
    """The fused runs that start with a Conv2d, the first that applies."""
    for rule in (conv_relu_pool, conv_relu, conv_bn_relu):
        done = rule(layers, i, x)
        if done is not None:
            return done
    return None


def bn_relu(layers: list[Module], i: int, x: Any) -> tuple[Any, int] | None:
    """(relu(bn(x)), i + 2) for a training-mode BatchNorm2d, ReLU at ``layers[i:]`` as one
    ``ops.fused.BatchNormRelu``; or None (see the module docstring for the conditions)."""
    pair = _plain_pair(layers, i, BatchNorm2d, ReLU)
    if pair is None or not pair[0].training:
        return None
    bn = pair[0]
    if not isinstance(x, Tensor) or x.ndim != 4 or x.shape[1] != bn.num_features:
        return None  # BatchNorm2d's own checks give the error
    tensors = [bn.weight, bn.bias, bn.running_mean, bn.running_var]
    if any(t is not None and (type(t.data) is not numpy.ndarray or t.dtype != x.dtype)
           for t in tensors):  # fmt: skip
        return None
    from ..kernels import batch_norm_relu  # noqa: PLC0415  (numba)

    if not batch_norm_relu.supported(x.data):  # a float32/64 plane layout, M > 1
        return None
    running_mean, running_var, _, momentum = bn._step_stats()
    y = BatchNormRelu.apply(
        x, bn.weight, bn.bias,
        running_mean=None if running_mean is None else running_mean.data,
        running_var=None if running_var is None else running_var.data,
        momentum=momentum, eps=bn.eps,
    )  # fmt: skip
    return y, i + 2


SEQUENTIAL_FUSIONS[Conv2d] = _conv_runs
SEQUENTIAL_FUSIONS[BatchNorm2d] = bn_relu
