"""Normalisation layers: BatchNorm1d, BatchNorm2d and LocalResponseNorm (AlexNet).

BatchNorm keeps PyTorch's parameter and buffer names (``weight``, ``bias``,
``running_mean``, ``running_var``, ``num_batches_tracked``), so state dicts line up with
torchvision's. The arithmetic is in ``tinyconv/ops/norm.py``.
"""

from __future__ import annotations

import numbers
from typing import Any

from .. import functional as F
from ..backend import resolve_dtype
from ..tensor import Tensor
from .linear import check_positive_int
from .module import Module
from .norm_state import add_affine, add_running_stats, check_eps


class _BatchNorm(Module):
    """Shared by BatchNorm1d and BatchNorm2d: parameters, buffers, mode handling, checks."""

    _layouts: dict[int, str] = {}  # accepted input ndim -> layout text for messages

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.num_features = check_positive_int(name, "num_features", num_features)
        self.eps = check_eps(name, eps)
        if momentum is not None and (
            isinstance(momentum, bool)
            or not isinstance(momentum, numbers.Real)
            or not 0 <= momentum <= 1
        ):
            raise ValueError(
                f"{name}: invalid value for argument `momentum`. Expected a number in [0, 1] "
                f"(or None for a cumulative average). Received momentum={momentum!r}."
            )
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        dt = resolve_dtype(dtype)
        add_affine(self, (self.num_features,), dt, self.affine)  # gamma = 1, beta = 0
        add_running_stats(self, self.num_features, dt, self.track_running_stats)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def _check(self, in_shape: tuple[int, ...]) -> None:
        layer = repr(self)
        layout = self._layouts.get(len(in_shape))
        if layout is None:
            wanted = " or ".join(
                f"{n}-D {t.format(C=self.num_features)}" for n, t in self._layouts.items()
            )
            raise ValueError(
                f"{layer}: expected a {wanted} input, got a {len(in_shape)}-D input of shape "
                f"{tuple(in_shape)}"
            )
        if in_shape[1] != self.num_features:
            raise ValueError(
                f"{layer}: expected input {layout.format(C=self.num_features)} with "
                f"{self.num_features} channels, got {tuple(in_shape)} with {in_shape[1]} channels"
            )

    def _step_stats(self) -> tuple[Tensor | None, Tensor | None, bool, float]:
        """(running_mean, running_var, use batch statistics, momentum) for this forward.

        Counts the batch (``num_batches_tracked`` += 1) when training with running
        statistics; momentum None gives the cumulative average 1 / num_batches_tracked.
        The running statistics are None when they are not to be used or updated. Shared
        with the fused BatchNorm2d -> ReLU of ``nn/fusion.py``.
        """
        factor = self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.data)
        use_batch_stats = self.training or not self.track_running_stats
        track = not self.training or self.track_running_stats
        return (
            self.running_mean if track else None,
            self.running_var if track else None,
            use_batch_stats,
            0.0 if factor is None else factor,
        )

    def forward(self, x: Tensor) -> Tensor:
        self._check(x.shape)
        running_mean, running_var, use_batch_stats, momentum = self._step_stats()
        return F.batch_norm(
            x,
            running_mean,
            running_var,
            self.weight,
            self.bias,
            training=use_batch_stats,
            momentum=momentum,
            eps=self.eps,
            layer=repr(self),
        )

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        self._check(tuple(in_shape))
        return tuple(in_shape)

    def extra_repr(self) -> str:
        s = f"{self.num_features}"
        if self.eps != 1e-5:
            s += f", eps={self.eps}"
        if self.momentum != 0.1:
            s += f", momentum={self.momentum}"
        if not self.affine:
            s += ", affine=False"
        if not self.track_running_stats:
            s += ", track_running_stats=False"
        return s


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) (Ioffe & Szegedy, 2015).

    y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta, per feature C. Training uses the
    batch statistics and updates running_mean/running_var with
    r = (1 - momentum) r + momentum * batch_stat (unbiased variance); eval uses them.

    Args:
        num_features (int): C.
        eps (float): added to the variance. Default: 1e-5.
        momentum (float or None): weight of each new batch; None averages all batches
            equally. Default: 0.1.
        affine (bool): learn gamma (``weight``) and beta (``bias``). Default: True.
        track_running_stats (bool): keep running statistics (else batch statistics are
            used in eval too). Default: True.

    Shape:
        (N, C) or (N, C, L) -> same shape.

    Attributes:
        weight, bias: (C,), initialised to 1 and 0.
        running_mean, running_var: (C,) buffers, 0 and 1; num_batches_tracked: int64 buffer.

    Example:
        >>> import numpy, tinyconv
        >>> bn = BatchNorm1d(3)
        >>> y = bn(tinyconv.tensor(numpy.arange(6.0).reshape(2, 3)))
        >>> y.shape, [round(m, 4) for m in bn.running_mean.tolist()]  # 0.9*0 + 0.1*mean
        ((2, 3), [0.15, 0.25, 0.35])
    """

    _layouts = {2: "(N, {C})", 3: "(N, {C}, L)"}


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W), per channel (statistics over N, H and W).

    Same arguments, attributes and formulas as ``BatchNorm1d``.

    Shape:
        (N, C, H, W) -> same shape.

    Example:
        >>> import numpy, tinyconv
        >>> BatchNorm2d(16)
        BatchNorm2d(16)
        >>> BatchNorm2d(16)(tinyconv.tensor(numpy.ones((2, 16, 4, 4)))).shape
        (2, 16, 4, 4)
    """

    _layouts = {4: "(N, {C}, H, W)"}


class LocalResponseNorm(Module):
    """Local response normalisation across channels (Krizhevsky et al., 2012; AlexNet).

    b_c = a_c / (k + alpha/size * sum_{c'} a_{c'}^2)^beta, the sum over the ``size``
    channels c - size//2 .. c + (size-1)//2 (PyTorch's scaling and window).

    Args:
        size (int): channels in the window (AlexNet: 5).
        alpha (float): scale. Default: 1e-4.
        beta (float): exponent. Default: 0.75.
        k (float): additive constant (AlexNet: 2). Default: 1.

    Shape:
        (N, C, *) with 3 or more dimensions -> same shape. No parameters.

    Example:
        >>> LocalResponseNorm(5, k=2.0)
        LocalResponseNorm(5, k=2.0)
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        self.size = check_positive_int("LocalResponseNorm", "size", size)
        for name, value in (("alpha", alpha), ("beta", beta), ("k", k)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(
                    f"LocalResponseNorm: invalid type for argument `{name}`. Expected a number. "
                    f"Received {name}={value!r}."
                )
        self.alpha, self.beta, self.k = float(alpha), float(beta), float(k)

    def forward(self, x: Tensor) -> Tensor:
        return F.local_response_norm(x, self.size, self.alpha, self.beta, self.k, layer=repr(self))

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(in_shape) < 3:
            raise ValueError(
                f"{self!r}: expected an input (N, C, *) with 3 or more dimensions, "
                f"got shape {tuple(in_shape)}"
            )
        return tuple(in_shape)

    def extra_repr(self) -> str:
        s = f"{self.size}"
        for name, default in (("alpha", 1e-4), ("beta", 0.75), ("k", 1.0)):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        return s
