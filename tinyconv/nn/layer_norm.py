"""LayerNorm, LayerNorm2d (ConvNeXt's channels LayerNorm), GroupNorm and InstanceNorm1d/2d.

Parameter and buffer names are PyTorch's (``weight``, ``bias``; InstanceNorm's
``running_mean``, ``running_var``, ``num_batches_tracked`` when tracking), so state dicts
line up with torchvision's; ``norm_state.py`` creates them, as for BatchNorm. The arithmetic
is in ``tinyconv/ops/layer_norm.py`` and ``group_norm.py``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from .. import functional as F
from ..backend import resolve_dtype
from ..tensor import Tensor
from .linear import check_positive_int
from .module import Module
from .norm_state import add_affine, add_running_stats, check_channels, check_eps


class _SameShape(Module):
    """A layer whose output has its input's shape (for ``summary``)."""

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(in_shape)


class LayerNorm(_SameShape):
    """Layer normalisation over the last dimensions (Ba et al., 2016).

    y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias over the trailing
    ``normalized_shape``, for every leading index.

    Args:
        normalized_shape (int or sequence of int): the trailing shape.
        eps (float): added to the variance. Default: 1e-5.
        elementwise_affine (bool): learn ``weight`` (ones) and ``bias``. Default: True.
        bias (bool): learn ``bias`` too (with elementwise_affine). Default: True.

    Shape:
        (*, *normalized_shape) -> the same shape.

    Example:
        >>> import numpy, tinyconv
        >>> LayerNorm(4)(tinyconv.tensor(numpy.arange(8.0).reshape(2, 4))).shape
        (2, 4)
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        self.normalized_shape = tuple(
            check_positive_int(name, "normalized_shape", s) for s in shape
        )
        self.eps = check_eps(name, eps)
        self.elementwise_affine = bool(elementwise_affine)
        add_affine(self, self.normalized_shape, resolve_dtype(dtype), self.elementwise_affine, bias)

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )


class LayerNorm2d(LayerNorm):
    """Layer norm over the channels of (N, C, H, W), each pixel on its own (ConvNeXt).

    The numbers of torchvision's ``convnext.LayerNorm2d``: x permuted to (N, H, W, C),
    ``layer_norm`` over C, permuted back; computed on the channel axis directly.

    Args:
        num_channels (int): C (``normalized_shape`` is (C,)).
        eps (float): added to the variance. Default: 1e-6 (ConvNeXt's).
        elementwise_affine, bias (bool): as LayerNorm. Default: True.

    Shape:
        (N, C, *) -> the same shape.

    Example:
        >>> import numpy, tinyconv
        >>> LayerNorm2d(3)(tinyconv.tensor(numpy.ones((2, 3, 4, 4)))).shape
        (2, 3, 4, 4)
    """

    def __init__(
        self,
        num_channels: int,
        eps: float = 1e-6,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__(num_channels, eps, elementwise_affine, bias, dtype)

    def forward(self, x: Tensor) -> Tensor:
        check_channels(self, x, self.normalized_shape[0])
        return F.channel_layer_norm(x, self.weight, self.bias, self.eps)


class GroupNorm(_SameShape):
    """Group normalisation (Wu & He, 2018): C channels in num_groups groups, per sample.

    Args:
        num_groups (int): G, dividing num_channels.
        num_channels (int): C.
        eps (float): added to the variance. Default: 1e-5.
        affine (bool): learn ``weight`` (ones) and ``bias`` (zeros), (C,). Default: True.
        bias (bool): learn ``bias`` too (with affine). Default: True.

    Shape:
        (N, C, *) -> the same shape.

    Example:
        >>> GroupNorm(2, 6)
        GroupNorm(2, 6, eps=1e-05, affine=True, bias=True)
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.num_groups = check_positive_int("GroupNorm", "num_groups", num_groups)
        self.num_channels = check_positive_int("GroupNorm", "num_channels", num_channels)
        if self.num_channels % self.num_groups:
            raise ValueError(
                "GroupNorm: invalid value for argument `num_groups`. Expected a divisor of "
                f"num_channels={num_channels}. Received num_groups={num_groups!r}."
            )
        self.eps = check_eps("GroupNorm", eps)
        self.affine = bool(affine)
        add_affine(self, (self.num_channels,), resolve_dtype(dtype), self.affine, bias)

    def forward(self, x: Tensor) -> Tensor:
        check_channels(self, x, self.num_channels)
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


class _InstanceNorm(_SameShape):
    """InstanceNorm1d/2d: PyTorch's defaults (no affine, no running statistics)."""

    _dims = 2

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.num_features = check_positive_int(name, "num_features", num_features)
        self.eps = check_eps(name, eps)
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real):
            raise ValueError(
                f"{name}: invalid value for argument `momentum`. Expected a number in [0, 1]. "
                f"Received momentum={momentum!r}."
            )
        self.momentum = float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        dt = resolve_dtype(dtype)
        add_affine(self, (self.num_features,), dt, self.affine)
        add_running_stats(self, self.num_features, dt, self.track_running_stats)

    def forward(self, x: Tensor) -> Tensor:
        d, C = self._dims, self.num_features
        unbatched = x.ndim == d + 1
        if x.ndim not in (d + 1, d + 2) or x.shape[-d - 1] != C:
            spatial = ", ".join("HW"[:d] if d == 2 else "L")
            raise ValueError(
                f"{self!r}: expected input (N, {C}, {spatial}) or ({C}, {spatial}), got {x.shape}"
            )
        if unbatched:
            x = x.unsqueeze(0)
        use_input_stats = self.training or not self.track_running_stats
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
        y = F.instance_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias,
            use_input_stats, self.momentum, self.eps,
        )  # fmt: skip
        return y.squeeze(0) if unbatched else y

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        )


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or (C, L): each channel of each sample on its own.

    Args: as InstanceNorm2d.

    Example:
        >>> InstanceNorm1d(3)
        InstanceNorm1d(3, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)
    """

    _dims = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or (C, H, W) (Ulyanov et al., 2016).

    Args:
        num_features (int): C.
        eps (float): added to the variance. Default: 1e-5.
        momentum (float): weight of new statistics in the running ones. Default: 0.1.
        affine (bool): learn ``weight`` and ``bias`` (C,). Default: False.
        track_running_stats (bool): keep running statistics and use them in eval.
            Default: False.

    Example:
        >>> import numpy, tinyconv
        >>> InstanceNorm2d(3)(tinyconv.tensor(numpy.ones((2, 3, 4, 4)))).shape
        (2, 3, 4, 4)
    """

    _dims = 2
