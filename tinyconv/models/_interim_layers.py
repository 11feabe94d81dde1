"""Interim layers the new zoo models need until the ops engineer's versions land in ``nn``.

Each one is composed from existing Tensor operations (relu, sigmoid, mean, ...), so autograd
gives the backward pass with no new Function; they go away, one by one, as ``nn.ReLU6``,
``nn.Hardswish``, ``nn.Hardsigmoid``, ``nn.SiLU`` and ``nn.StochasticDepth`` land (issue 20).
"""

from __future__ import annotations

from ..backend import default_rng, get_array_module, to_device
from ..nn.module import Module
from ..tensor import Tensor


class _Shapeless(Module):
    """Shape-preserving, parameter-free layer."""

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(in_shape)


def _relu6(x: Tensor) -> Tensor:
    """min(max(x, 0), 6) = relu(x) - relu(x - 6)."""
    return x.relu() - (x - 6.0).relu()


class ReLU6(_Shapeless):
    """min(max(x, 0), 6) elementwise (MobileNetV2's activation)."""

    def forward(self, x: Tensor) -> Tensor:
        return _relu6(x)


class Hardsigmoid(_Shapeless):
    """relu6(x + 3) / 6: a piecewise-linear sigmoid (MobileNetV3's SE gate)."""

    def forward(self, x: Tensor) -> Tensor:
        return _relu6(x + 3.0) * (1.0 / 6.0)


class Hardswish(_Shapeless):
    """x * relu6(x + 3) / 6 (MobileNetV3)."""

    def forward(self, x: Tensor) -> Tensor:
        return x * (_relu6(x + 3.0) * (1.0 / 6.0))


class SiLU(_Shapeless):
    """x * sigmoid(x), also called swish (EfficientNet)."""

    def forward(self, x: Tensor) -> Tensor:
        return x * x.sigmoid()


class StochasticDepth(Module):
    """Drop a residual branch for whole samples ("row") or the whole batch, in training only.

    y = x * m / (1 - p) with m ~ Bernoulli(1 - p) per sample (mode "row") or once per batch
    (mode "batch"); identity in eval mode or when p = 0 (Huang et al., "Deep Networks with
    Stochastic Depth", ECCV 2016).
    """

    def __init__(self, p: float, mode: str = "row") -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"StochasticDepth: p must be in [0, 1], got {p}")
        if mode not in ("row", "batch"):
            raise ValueError(f"StochasticDepth: mode must be 'row' or 'batch', got {mode!r}")
        self.p, self.mode = float(p), mode

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        shape = (x.shape[0],) + (1,) * (x.ndim - 1) if self.mode == "row" else (1,) * x.ndim
        mask = (default_rng().random(shape) < keep).astype(x.dtype)  # (N, 1, 1, 1) or (1, ...)
        if keep > 0.0:
            mask /= x.dtype.type(keep)
        xp = get_array_module(x.data)
        return x * Tensor(xp.asarray(to_device(mask, x.device)))

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(in_shape)

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"
