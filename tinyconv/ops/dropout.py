"""Dropout (Srivastava et al., 2014), the inverted form used by PyTorch.

While training, each element is zeroed with probability p and the survivors are scaled by
1/(1 - p), so the expected value is unchanged and evaluation is the identity. The mask
comes from a NumPy ``Generator`` (the one given, else tinyconv's global one, seeded by
``tinyconv.manual_seed``); for a CuPy array it is drawn on the device with ``cupy.random``.
"""

from __future__ import annotations

from typing import Any

from ..backend import default_rng, get_array_module, to_device
from ..dtypes import is_floating
from ..tensor import Function, Tensor


class Dropout(Function):
    """y = x * mask / (1 - p); dx = dout * mask / (1 - p). The scaled mask is saved.

    p = 1 drops every element: y = 0 and dx = 0 (PyTorch's result, no division by zero).
    """

    def forward(self, x: Any, p: float, generator: Any) -> Any:
        if p == 1.0:
            scaled = get_array_module(x).zeros_like(x)
        else:
            keep = _keep_mask(x, p, generator)  # True with probability 1 - p
            scaled = keep * x.dtype.type(1.0 / (1.0 - p))  # (same shape as x) 0 or 1/(1-p)
        self.save_for_backward(scaled)
        return x * scaled

    def backward(self, dout: Any) -> Any:
        (scaled,) = self.saved
        return dout * scaled


def _keep_mask(x: Any, p: float, generator: Any) -> Any:
    xp = get_array_module(x)
    draw_dtype = x.dtype if x.dtype.itemsize >= 4 else "float32"  # Generator.random: f32/f64
    if generator is None and xp.__name__ != "numpy":
        return xp.random.random(x.shape, dtype=draw_dtype) >= p  # on the device
    rng = default_rng() if generator is None else generator
    if xp.__name__ != "numpy" and type(rng).__module__.startswith("cupy"):
        return rng.random(x.shape, dtype=draw_dtype) >= p
    u = rng.random(x.shape, dtype=draw_dtype)
    return to_device(u >= p, "cuda" if xp.__name__ != "numpy" else "cpu")


def dropout(
    x: Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    generator: Any = None,
) -> Tensor:
    """Zero elements with probability p and scale the rest by 1/(1 - p) (inverted dropout).

    Args:
        x (Tensor): any shape, floating point.
        p (float): probability of dropping an element, in [0, 1] (1 zeroes everything).
            Default: 0.5.
        training (bool): apply dropout; False returns x unchanged. Default: True.
        inplace (bool): accepted for PyTorch code; tinyconv never works in place.
        generator (numpy.random.Generator, optional): the source of the mask, for
            reproducible masks. Default: tinyconv's global generator.

    Raises:
        ValueError: p outside [0, 1].
        TypeError: a non-float input.

    Example:
        >>> import numpy, tinyconv
        >>> x = tinyconv.tensor(numpy.ones(4))
        >>> dropout(x, 0.5, generator=numpy.random.default_rng(0)).tolist()
        [2.0, 0.0, 0.0, 0.0]
        >>> dropout(x, 0.5, training=False).tolist()
        [1.0, 1.0, 1.0, 1.0]
    """
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(
            f"dropout: p is the probability of dropping an element and must be in [0, 1], got "
            f"p={p!r}"
        )
    if not isinstance(x, Tensor):
        raise TypeError(f"dropout: expected a tinyconv Tensor, got {type(x).__name__}")
    if not is_floating(x.dtype):
        raise TypeError(f"dropout: expected a floating-point input, got dtype {x.dtype}")
    if not training or p == 0:
        return x
    return Dropout.apply(x, p=float(p), generator=generator)
