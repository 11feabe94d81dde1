"""Stochastic depth (Huang et al., 2016): drop a residual branch for whole samples.

While training, each sample's branch (mode "row") or the whole batch's (mode "batch") is
kept with probability 1 - p and scaled by 1/(1 - p), so that its expected value is
unchanged; evaluation is the identity. torchvision's ``ops.stochastic_depth`` (EfficientNet,
ConvNeXt) has the same arguments.
"""

from __future__ import annotations

from typing import Any

from ..backend import get_array_module
from ..dtypes import is_floating
from ..tensor import Function, Tensor
from .dropout import _keep_mask


class StochasticDepth(Function):
    """y = x * m / (1 - p), m of shape (N, 1, ..., 1) ("row") or (1, ..., 1) ("batch").

    dx = dout * m / (1 - p). p = 1 drops everything (y = 0, dx = 0).
    """

    def forward(self, x: Any, p: float, mode: str, generator: Any) -> Any:
        xp = get_array_module(x)
        shape = (x.shape[0],) + (1,) * (x.ndim - 1) if mode == "row" else (1,) * x.ndim
        if p == 1.0:
            scaled = xp.zeros(shape, dtype=x.dtype)
        else:
            probe = xp.empty(shape, dtype=x.dtype)
            scaled = _keep_mask(probe, p, generator) * x.dtype.type(1.0 / (1.0 - p))
        self.save_for_backward(scaled)
        return x * scaled

    def backward(self, dout: Any) -> Any:
        (scaled,) = self.saved
        return dout * scaled


def stochastic_depth(
    x: Tensor, p: float, mode: str, training: bool = True, *, generator: Any = None
) -> Tensor:
    """Zero the input per sample ("row") or as a whole ("batch") with probability p.

    Args:
        x (Tensor): (N, ...) floating point, usually a residual branch's output.
        p (float): drop probability, in [0, 1].
        mode (str): "row" (one draw per sample) or "batch" (one draw for all).
        training (bool): False returns x unchanged. Default: True.
        generator (numpy.random.Generator, optional): source of the draws.

    Raises:
        ValueError: p outside [0, 1] or another mode.
        TypeError: a non-float input.

    Example:
        >>> import numpy, tinyconv
        >>> x = tinyconv.tensor(numpy.ones((2, 3)))
        >>> stochastic_depth(x, 0.5, "row", training=False).tolist()
        [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"stochastic_depth: p must be a probability in [0, 1], got p={p!r}")
    if mode not in ("row", "batch"):
        raise ValueError(f"stochastic_depth: mode must be 'row' or 'batch', got mode={mode!r}")
    if not isinstance(x, Tensor):
        raise TypeError(f"stochastic_depth: expected a tinyconv Tensor, got {type(x).__name__}")
    if not is_floating(x.dtype):
        raise TypeError(f"stochastic_depth: expected a floating-point input, got dtype {x.dtype}")
    if not training or p == 0:
        return x
    return StochasticDepth.apply(x, p=float(p), mode=mode, generator=generator)
