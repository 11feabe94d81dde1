"""The activations of MobileNet, EfficientNet and ConvNeXt: ReLU6, Hardtanh, Hardsigmoid,
Hardswish, SiLU, GELU, ELU, SELU, Mish and the learnable PReLU.

All keep the input's shape; the arithmetic is in ``tinyconv/ops/hard_activations.py``,
``smooth_activations.py`` and ``prelu.py``. Names and arguments are PyTorch's.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy

from .. import functional as F
from ..backend import resolve_dtype
from ..tensor import Tensor
from .activation import _Elementwise
from .linear import check_positive_int
from .module import Parameter


def _number(layer: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{layer}: invalid type for argument `{name}`. Expected a number. "
            f"Received {name}={value!r}."
        )
    return float(value)


class _Inplace(_Elementwise):
    """An elementwise layer whose only argument is PyTorch's (ignored) ``inplace``."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = bool(inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Hardtanh(_Elementwise):
    """clip(x, min_val, max_val) elementwise.

    Args:
        min_val, max_val (float): the range, min_val <= max_val. Default: -1, 1.
        inplace (bool): accepted for PyTorch code; ignored.

    Example:
        >>> import tinyconv
        >>> Hardtanh(-2.0, 2.0)(tinyconv.tensor([-3.0, 1.0, 3.0])).tolist()
        [-2.0, 1.0, 2.0]
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.min_val = _number("Hardtanh", "min_val", min_val)
        self.max_val = _number("Hardtanh", "max_val", max_val)
        if self.min_val > self.max_val:
            raise ValueError(
                "Hardtanh: invalid value for arguments `min_val`, `max_val`. Expected min_val <= "
                f"max_val. Received min_val={min_val!r}, max_val={max_val!r}."
            )
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


class ReLU6(_Inplace):
    """min(max(x, 0), 6) elementwise (MobileNetV2).

    Example:
        >>> import tinyconv
        >>> ReLU6()(tinyconv.tensor([-1.0, 7.0])).tolist()
        [0.0, 6.0]
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.relu6(x)


class Hardsigmoid(_Inplace):
    """relu6(x + 3) / 6 elementwise (MobileNetV3's squeeze-and-excitation gate).

    Example:
        >>> import tinyconv
        >>> Hardsigmoid()(tinyconv.tensor([0.0])).tolist()
        [0.5]
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.hardsigmoid(x)


class Hardswish(_Inplace):
    """x * relu6(x + 3) / 6 elementwise (MobileNetV3).

    Example:
        >>> import tinyconv
        >>> Hardswish()(tinyconv.tensor([4.0])).tolist()
        [4.0]
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.hardswish(x)


class SiLU(_Inplace):
    """x * sigmoid(x) elementwise (swish; EfficientNet).

    Example:
        >>> import tinyconv
        >>> SiLU()(tinyconv.tensor([0.0])).tolist()
        [0.0]
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.silu(x)


class GELU(_Elementwise):
    """x * Phi(x) elementwise (ConvNeXt); ``approximate="tanh"`` for the tanh formula.

    Example:
        >>> import tinyconv
        >>> GELU()(tinyconv.tensor([0.0])).tolist()
        [0.0]
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(
                "GELU: invalid value for argument `approximate`. Expected 'none' or 'tanh'. "
                f"Received approximate={approximate!r}."
            )
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class ELU(_Elementwise):
    """x for x > 0, alpha (e^x - 1) otherwise.

    Example:
        >>> import tinyconv
        >>> ELU(alpha=2.0)(tinyconv.tensor([1.0])).tolist()
        [1.0]
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = _number("ELU", "alpha", alpha)
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class SELU(_Inplace):
    """scale * elu(x, alpha) with the self-normalising constants (Klambauer et al., 2017).

    Example:
        >>> import tinyconv
        >>> SELU()(tinyconv.tensor([0.0])).tolist()
        [0.0]
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.selu(x)


class Mish(_Inplace):
    """x * tanh(softplus(x)) elementwise.

    Example:
        >>> import tinyconv
        >>> Mish()(tinyconv.tensor([0.0])).tolist()
        [0.0]
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.mish(x)


class PReLU(_Elementwise):
    """x for x > 0, a * x otherwise, with a learned: one slope, or one per channel (axis 1).

    Args:
        num_parameters (int): 1 (shared) or the number of channels C. Default: 1.
        init (float): the initial slope. Default: 0.25.

    Attributes:
        weight: (num_parameters,), initialised to ``init``.

    Example:
        >>> import tinyconv
        >>> PReLU()(tinyconv.tensor([-4.0, 2.0])).tolist()
        [-1.0, 2.0]
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype: Any = None) -> None:
        super().__init__()
        self.num_parameters = check_positive_int("PReLU", "num_parameters", num_parameters)
        self.init = _number("PReLU", "init", init)
        self.weight = Parameter(
            numpy.full(self.num_parameters, self.init, dtype=resolve_dtype(dtype))
        )

    def forward(self, x: Tensor) -> Tensor:
        return F.prelu(x, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"
