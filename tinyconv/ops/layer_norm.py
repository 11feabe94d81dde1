"""Layer normalisation (Ba et al., 2016) and the standardisation the other norms share.

``Standardize`` turns x into xhat = (x - mean) / sqrt(var + eps), the mean and the biased
variance taken over ``axes`` for every position of the other axes. Layer norm standardises
the last len(normalized_shape) axes, group norm (``group_norm.py``) each group of channels,
instance norm each channel of each sample, and ConvNeXt's channels LayerNorm the C axis of
(N, C, H, W). The learned scale and shift are ordinary broadcast products and sums, so
their gradients (sums of dout * xhat and dout) come from autograd.

With M values per standardised group and g = dout:

    dx = (g - mean(g) - xhat * mean(g * xhat)) / sqrt(var + eps)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backend import get_array_module
from ..cast_policy import FP32
from ..dtypes import is_floating
from ..tensor import Function, Tensor


class Standardize(Function):
    """xhat = (x - mean) / sqrt(var + eps) over ``axes``; backward as the module doc.

    Under autocast it runs in float32 (statistics of 16-bit numbers lose digits).
    """

    autocast_policy = FP32

    def forward(self, x: Any, axes: tuple[int, ...], eps: float) -> Any:
        xp = get_array_module(x)
        if x.size == 0:
            self.save_for_backward(None, None, axes)
            return x.copy()
        mean = x.mean(axis=axes, keepdims=True)
        centred = x - mean
        var = (centred * centred).mean(axis=axes, keepdims=True)
        inv_std = 1 / xp.sqrt(var + x.dtype.type(eps))
        xhat = centred * inv_std
        self.save_for_backward(xhat, inv_std, axes)
        return xhat

    def backward(self, dout: Any) -> Any:
        xhat, inv_std, axes = self.saved
        if xhat is None:
            return dout.copy()
        mean_g = dout.mean(axis=axes, keepdims=True)
        mean_gx = (dout * xhat).mean(axis=axes, keepdims=True)
        return (dout - mean_g - xhat * mean_gx) * inv_std


def check_input(x: Any, layer: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer}: expected a tinyconv Tensor, got {type(x).__name__}")
    if not is_floating(x.dtype):
        raise TypeError(f"{layer}: expected a floating-point input, got dtype {x.dtype}")


def check_eps(eps: Any, layer: str) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float)):
        raise TypeError(f"{layer}: eps must be a number, got {eps!r}")
    return float(eps)


def affine(y: Tensor, weight: Tensor | None, bias: Tensor | None, shape: tuple[int, ...]) -> Tensor:
    """y * weight + bias with both reshaped to ``shape`` (broadcast over y)."""
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def _check_param(p: Any, name: str, want: tuple[int, ...], layer: str) -> None:
    if p is None:
        return
    if not isinstance(p, Tensor):
        raise TypeError(
            f"{layer}: {name} must be a tinyconv Tensor or None, got {type(p).__name__}"
        )
    if tuple(p.shape) != want:
        raise ValueError(f"{layer}: expected {name} of shape {want}, got {tuple(p.shape)}")


def layer_norm(
    x: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Standardise the last dimensions of x, then scale by ``weight`` and shift by ``bias``.

    y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias, the mean and (biased) variance
    over the last len(normalized_shape) dimensions, separately for every leading index.

    Args:
        x (Tensor): (*, *normalized_shape), floating point.
        normalized_shape (int or sequence of int): the trailing shape normalised over.
        weight, bias (Tensor, optional): of shape ``normalized_shape``.
        eps (float): added to the variance. Default: 1e-5.

    Raises:
        TypeError: a non-float input or non-int shape.
        ValueError: x's trailing shape or the parameters' shapes differ from
            ``normalized_shape``.

    Example:
        >>> import tinyconv
        >>> y = layer_norm(tinyconv.tensor([[1.0, 3.0], [2.0, 2.0]]), (2,))
        >>> [[round(v, 3) for v in row] for row in y.tolist()]
        [[-1.0, 1.0], [0.0, 0.0]]
    """
    check_input(x, "layer_norm")
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in shape):
        raise TypeError(f"layer_norm: normalized_shape must be ints, got {normalized_shape!r}")
    k = len(shape)
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k :]) != shape:
        raise ValueError(
            f"layer_norm: expected an input of shape (*, {', '.join(map(str, shape))}) "
            f"(normalized_shape={shape} as its last dimensions), got {x.shape}"
        )
    _check_param(weight, "weight", shape, "layer_norm")
    _check_param(bias, "bias", shape, "layer_norm")
    axes = tuple(range(x.ndim - k, x.ndim))
    y = Standardize.apply(x, axes=axes, eps=check_eps(eps, "layer_norm"))
    return affine(y, weight, bias, shape)


def channel_layer_norm(
    x: Tensor, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-6
) -> Tensor:
    """Layer norm over the channels of (N, C, *): each pixel standardised across its C values.

    The same numbers as ``layer_norm`` on x permuted to channels-last with
    normalized_shape=(C,) (ConvNeXt's LayerNorm2d), without the permutes.

    Args:
        x (Tensor): (N, C, *) floating point.
        weight, bias (Tensor, optional): (C,).
        eps (float): added to the variance. Default: 1e-6 (ConvNeXt's).

    Example:
        >>> import numpy, tinyconv
        >>> y = channel_layer_norm(tinyconv.tensor(numpy.arange(8.0).reshape(1, 2, 2, 2)))
        >>> [round(v, 3) for v in y.numpy()[0, :, 0, 0].tolist()]
        [-1.0, 1.0]
    """
    check_input(x, "channel_layer_norm")
    if x.ndim < 2:
        raise ValueError(
            f"channel_layer_norm: expected an input (N, C, *) with a channel axis, got {x.shape}"
        )
    C = x.shape[1]
    _check_param(weight, "weight", (C,), "channel_layer_norm")
    _check_param(bias, "bias", (C,), "channel_layer_norm")
    y = Standardize.apply(x, axes=(1,), eps=check_eps(eps, "channel_layer_norm"))
    return affine(y, weight, bias, (1, C) + (1,) * (x.ndim - 2))
