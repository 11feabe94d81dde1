"""PReLU: a leaky ReLU whose negative slope is learned, one per channel or one shared.

    y = x for x > 0, w_c x otherwise            (w broadcast along the channel axis 1)
    dx = dout (1 for x > 0, w_c otherwise),     dw_c = sum of dout x over x <= 0 in channel c

x is (N, C, *) or, without a channel axis, 0-D/1-D (then w has one element). w has C
elements or one (shared by every channel), as PyTorch (He et al., 2015).
"""

from __future__ import annotations

from typing import Any

from ..backend import get_array_module
from ..tensor import Function, Tensor
from .activation import _check_float


class PReLU(Function):
    """y = where(x > 0, x, w * x) with w (C,) or (1,) on axis 1; gradients for x and w."""

    def forward(self, x: Any, weight: Any) -> Any:
        xp = get_array_module(x)
        w = _per_channel(weight.astype(x.dtype, copy=False), x)
        positive = x > 0
        self.save_for_backward(x, weight, positive)
        return xp.where(positive, x, w * x)

    def backward(self, dout: Any) -> tuple[Any, Any]:
        x, weight, positive = self.saved
        xp = get_array_module(dout)
        dx = dw = None
        if self.needs_input_grad[0]:
            w = _per_channel(weight.astype(dout.dtype, copy=False), x)
            dx = xp.where(positive, dout, w * dout)
        if self.needs_input_grad[1]:
            neg = xp.where(positive, 0, dout * x)
            if weight.size == 1:
                dw = neg.sum().reshape(weight.shape)
            else:
                dw = neg.sum(axis=tuple(a for a in range(x.ndim) if a != 1))
            dw = dw.astype(weight.dtype, copy=False)
        return dx, dw


def _per_channel(w: Any, x: Any) -> Any:
    """w (C,) or (1,) shaped to broadcast against x along axis 1."""
    if w.size == 1 or x.ndim < 2:
        return w.reshape(())
    return w.reshape((1, -1) + (1,) * (x.ndim - 2))


def prelu(x: Tensor, weight: Tensor) -> Tensor:
    """x for x > 0, weight * x otherwise, weight per channel (axis 1) or one for all.

    Args:
        x (Tensor): floating point, (N, C, *) or 0-D/1-D (one channel).
        weight (Tensor): the slopes, C elements or 1.

    Raises:
        TypeError: a non-float input or weight.
        ValueError: a weight that is not 1-D (or 0-D) or whose size is neither 1 nor C.

    Example:
        >>> import tinyconv
        >>> prelu(tinyconv.tensor([[-2.0, 2.0]]), tinyconv.tensor([0.25])).tolist()
        [[-0.5, 2.0]]
    """
    _check_float(x, "prelu")
    if not isinstance(weight, Tensor):
        raise TypeError(f"prelu: expected a tinyconv Tensor weight, got {type(weight).__name__}")
    _check_float(weight, "prelu")
    if weight.ndim > 1:
        raise ValueError(
            f"prelu: expected a 1-D weight (one slope per channel, or one), got shape "
            f"{weight.shape}"
        )
    channels = x.shape[1] if x.ndim >= 2 else 1
    if weight.numel() not in (1, channels):
        raise ValueError(
            f"prelu: weight has {weight.numel()} slopes, expected 1 or the input's {channels} "
            f"channels (axis 1 of {x.shape})"
        )
    return PReLU.apply(x, weight)
