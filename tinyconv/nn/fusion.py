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
"""

from __future__ import annotations

from typing import Any

from ..ops.fused import ConvReluMaxPool, fusable
from ..tensor import Function
from .activation import ReLU
from .conv import Conv2d
from .module import SEQUENTIAL_FUSIONS, Module
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


SEQUENTIAL_FUSIONS[Conv2d] = conv_relu_pool
