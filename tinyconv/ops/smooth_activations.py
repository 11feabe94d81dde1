"""Smooth activations: SiLU (swish), GELU (exact and tanh), ELU, SELU and Mish.

Each ``Function`` keeps its input (or its output, where the derivative reads it) and applies
the closed-form derivative in backward:

    silu(x) = x s(x),                 silu' = s (1 + x (1 - s)),      s = sigmoid(x)
    gelu(x) = x Phi(x),               gelu' = Phi + x phi(x),         Phi the normal CDF
    gelu_tanh(x) = x (1 + t) / 2,     t = tanh(sqrt(2/pi) (x + 0.044715 x^3))
    elu(x) = x (x > 0), a (e^x - 1),  elu' = 1 (x > 0), a e^x (x <= 0, as PyTorch)
    selu(x) = scale * elu(x, alpha)   with PyTorch's alpha and scale
    mish(x) = x tanh(softplus(x)),    mish' = tn + x s (1 - tn^2),    tn = tanh(softplus(x))

NumPy has no erf, so Phi comes from ``erfc`` below (a Chebyshev-fitted rational formula,
fractional error under 1.2e-7 everywhere): float32-exact, a little short of float64.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from ..backend import get_array_module
from ..tensor import Function, Tensor
from .activation import _check_float, stable_sigmoid, stable_softplus

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_ERFC_COEFFS = (  # erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2), for z >= 0
    -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
    0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277,
)  # fmt: skip


def erfc(z: Any) -> Any:
    """The complementary error function 1 - erf(z), elementwise, in float64 arithmetic.

    For z >= 0, erfc(z) = t exp(-z^2 + P(t)) with t = 1 / (1 + z/2) and P a degree-9
    polynomial; erfc(-z) = 2 - erfc(z). Fractional error below 1.2e-7 for every z.
    """
    xp = get_array_module(z)
    a = abs(z.astype("float64"))
    t = 1 / (1 + a / 2)
    poly = xp.zeros_like(t)
    for c in reversed(_ERFC_COEFFS):
        poly = poly * t + c
    r = t * xp.exp(-a * a + poly)
    return xp.where(z >= 0, r, 2 - r)


def normal_cdf(x: Any) -> Any:
    """Phi(x) = erfc(-x / sqrt 2) / 2, in x's dtype (accurate in the lower tail too)."""
    return (erfc(x.astype("float64") / -math.sqrt(2)) / 2).astype(x.dtype)


class SiLU(Function):
    """y = x * sigmoid(x) (swish); dx = dout * s (1 + x (1 - s))."""

    def forward(self, x: Any) -> Any:
        s = stable_sigmoid(x)
        self.save_for_backward(x, s)
        return x * s

    def backward(self, dout: Any) -> Any:
        x, s = self.saved
        return dout * (s * (1 + x * (1 - s)))


class GELU(Function):
    """y = x Phi(x) (exact) or x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2 ("tanh").

    exact: dx = dout (Phi + x phi), phi(x) = e^(-x^2/2) / sqrt(2 pi).
    tanh:  dx = dout ((1 + t) / 2 + x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2) / 2).
    """

    def forward(self, x: Any, approximate: str) -> Any:
        xp = get_array_module(x)
        self.save_for_backward(x, approximate)
        if approximate == "tanh":
            k = x.dtype.type(math.sqrt(2 / math.pi))
            t = xp.tanh(k * (x + x.dtype.type(0.044715) * x * x * x))
            return x * (1 + t) / 2
        return x * normal_cdf(x)

    def backward(self, dout: Any) -> Any:
        x, approximate = self.saved
        xp = get_array_module(x)
        if approximate == "tanh":
            k = x.dtype.type(math.sqrt(2 / math.pi))
            c = x.dtype.type(0.044715)
            t = xp.tanh(k * (x + c * x * x * x))
            slope = (1 + t) / 2 + x * (1 - t * t) * k * (1 + 3 * c * x * x) / 2
        else:
            pdf = xp.exp(-x * x / 2) / x.dtype.type(math.sqrt(2 * math.pi))
            slope = normal_cdf(x) + x * pdf
        return dout * slope


class ELU(Function):
    """y = scale * (x for x > 0, alpha (e^x - 1) otherwise).

    dx = dout * scale * (1 for x > 0, alpha e^x for x <= 0). ELU has scale 1, SELU
    (Klambauer et al., 2017) its fixed alpha and scale.
    """

    def forward(self, x: Any, alpha: float, scale: float) -> Any:
        xp = get_array_module(x)
        a, s = x.dtype.type(alpha), x.dtype.type(scale)
        positive = x > 0
        ex = xp.exp(xp.minimum(x, x.dtype.type(0)))  # e^x where used; never overflows
        self.save_for_backward(positive, ex, a, s)
        return s * xp.where(positive, x, a * xp.expm1(xp.minimum(x, x.dtype.type(0))))

    def backward(self, dout: Any) -> Any:
        positive, ex, a, s = self.saved
        xp = get_array_module(dout)
        return dout * (s * xp.where(positive, 1, a * ex)).astype(dout.dtype, copy=False)


class Mish(Function):
    """y = x tanh(softplus(x)) (Misra, 2019); dx = dout (tn + x sigmoid(x) (1 - tn^2))."""

    def forward(self, x: Any) -> Any:
        xp = get_array_module(x)
        tn = xp.tanh(stable_softplus(x))
        self.save_for_backward(x, tn)
        return x * tn

    def backward(self, dout: Any) -> Any:
        x, tn = self.saved
        return dout * (tn + x * stable_sigmoid(x) * (1 - tn * tn))


# ------------------------------------------------------------------ functional
def silu(x: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) elementwise (swish; EfficientNet's activation).

    Example:
        >>> import tinyconv
        >>> silu(tinyconv.tensor([0.0, 10.0])).tolist()[0]
        0.0
    """
    _check_float(x, "silu")
    return SiLU.apply(x)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) elementwise, Phi the standard normal CDF (ConvNeXt's activation).

    Args:
        x (Tensor): floating point, any shape.
        approximate (str): "none" for the exact x Phi(x), "tanh" for
            x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2. Default: "none".

    Raises:
        ValueError: another ``approximate``.

    Example:
        >>> import tinyconv
        >>> [round(v, 4) for v in gelu(tinyconv.tensor([-1.0, 1.0])).tolist()]
        [-0.1587, 0.8413]
    """
    _check_float(x, "gelu")
    if approximate not in ("none", "tanh"):
        raise ValueError(
            f"gelu: approximate must be 'none' or 'tanh', got approximate={approximate!r}"
        )
    return GELU.apply(x, approximate=approximate)


def elu(x: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, alpha (e^x - 1) otherwise.

    Example:
        >>> import tinyconv
        >>> [round(v, 4) for v in elu(tinyconv.tensor([-1.0, 2.0])).tolist()]
        [-0.6321, 2.0]
    """
    _check_float(x, "elu")
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"elu: expected a number for alpha, got {alpha!r}")
    return ELU.apply(x, alpha=float(alpha), scale=1.0)


def selu(x: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha), alpha = 1.6732632..., scale = 1.0507009... (self-normalising).

    Example:
        >>> import tinyconv
        >>> round(selu(tinyconv.tensor([1.0])).item(), 4)
        1.0507
    """
    _check_float(x, "selu")
    return ELU.apply(x, alpha=SELU_ALPHA, scale=SELU_SCALE)


def mish(x: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x)) elementwise.

    Example:
        >>> import tinyconv
        >>> round(mish(tinyconv.tensor([1.0])).item(), 4)
        0.8651
    """
    _check_float(x, "mish")
    return Mish.apply(x)
