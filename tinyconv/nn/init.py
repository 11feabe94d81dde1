"""Weight initialisation, in place, with PyTorch's names and formulas.

fan_in = C_in * FH * FW for a conv weight (FN, C_in, FH, FW), in_features for a Linear weight.
Every function takes an optional ``generator`` (a NumPy Generator); without one it uses
tinyconv's global generator (``tinyconv.manual_seed``), so every random thing has a seed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from ..backend import default_rng, get_array_module, to_device
from ..tensor import Tensor


def _fans(t: Tensor) -> tuple[int, int]:
    if t.ndim < 2:
        raise ValueError(
            f"fan in/out need a tensor with at least 2 dimensions, got shape {t.shape}"
        )
    receptive = 1
    for s in t.shape[2:]:
        receptive *= s
    return t.shape[1] * receptive, t.shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for an activation (as ``torch.nn.init.calculate_gain``)."""
    if nonlinearity in ("linear", "conv2d", "sigmoid", "conv_transpose2d"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _fill(t: Tensor, values: numpy.ndarray) -> Tensor:
    xp = get_array_module(t.data)
    t.data = xp.asarray(to_device(values.astype(t.dtype, copy=False), t.device))
    return t


def _rng(generator: numpy.random.Generator | None) -> numpy.random.Generator:
    return generator if generator is not None else default_rng()


def _draw_dtype(t: Tensor) -> Any:
    # Draw float32 tensors in float32 (half the memory and time of a float64 draw for VGG's
    # 100M-weight layers); float64 tensors get full-precision draws.
    return numpy.float64 if t.dtype == numpy.float64 else numpy.float32


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
    """Fill with U(a, b)."""
    dt = _draw_dtype(t)
    u = _rng(generator).random(size=t.shape, dtype=dt)
    u *= dt(b - a)
    u += dt(a)
    return _fill(t, u)


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
    """Fill with N(mean, std^2): the from-scratch book's ``weight_init_std * randn``."""
    dt = _draw_dtype(t)
    z = _rng(generator).standard_normal(size=t.shape, dtype=dt)
    z *= dt(std)
    z += dt(mean)
    return _fill(t, z)


def zeros_(t: Tensor) -> Tensor:
    return _fill(t, numpy.zeros(t.shape))


def ones_(t: Tensor) -> Tensor:
    return _fill(t, numpy.ones(t.shape))


def constant_(t: Tensor, val: float) -> Tensor:
    return _fill(t, numpy.full(t.shape, val))


def xavier_uniform_(t: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Glorot: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(t)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -a, a, generator)


def xavier_normal_(t: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Glorot: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def kaiming_uniform_(
    t: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Any = None,
) -> Tensor:
    """He: U(-bound, bound), bound = gain * sqrt(3 / fan).

    PyTorch's default layer init uses a=sqrt(5).
    """
    fan = _fans(t)[0 if mode == "fan_in" else 1]
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(t, -bound, bound, generator)


def kaiming_normal_(
    t: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Any = None,
) -> Tensor:
    """He: N(0, std^2), std = gain / sqrt(fan) (VGG and ResNet use mode="fan_out", relu)."""
    fan = _fans(t)[0 if mode == "fan_in" else 1]
    return normal_(t, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), generator)


he_normal_ = kaiming_normal_
he_uniform_ = kaiming_uniform_


def default_init_(weight: Tensor, bias: Tensor | None, generator: Any = None) -> None:
    """PyTorch's default for Linear and Conv.

    Weight: kaiming_uniform(a=sqrt(5)); bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    """
    kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    if bias is not None:
        fan_in = _fans(weight)[0]
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(bias, -bound, bound, generator)
