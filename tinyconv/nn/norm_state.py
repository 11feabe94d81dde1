"""What the normalisation layers share: the eps check, the affine parameters, the running
statistics and the channel check (BatchNorm in norm.py; LayerNorm, GroupNorm and
InstanceNorm in layer_norm.py).

Names are PyTorch's (``weight``, ``bias``, ``running_mean``, ``running_var``,
``num_batches_tracked``), registered as None when absent, so state dicts line up with
torchvision's.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy

from ..tensor import Tensor
from .module import Module, Parameter


def check_eps(layer: str, eps: Any) -> float:
    """eps as a float; anything but a positive real number is a ValueError naming the layer."""
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or eps <= 0:
        raise ValueError(
            f"{layer}: invalid value for argument `eps`. Expected a strictly positive number. "
            f"Received eps={eps!r}."
        )
    return float(eps)


def add_affine(
    module: Module, shape: tuple[int, ...], dtype: Any, affine: bool, bias: bool = True
) -> None:
    """``weight`` (ones) and ``bias`` (zeros) of ``shape`` (PyTorch's init), or None for
    each one the layer does not learn (no bias without affine)."""
    if affine:
        module.weight = Parameter(numpy.ones(shape, dtype=dtype))
    else:
        module.register_parameter("weight", None)
    if affine and bias:
        module.bias = Parameter(numpy.zeros(shape, dtype=dtype))
    else:
        module.register_parameter("bias", None)


def add_running_stats(module: Module, C: int, dtype: Any, track: bool) -> None:
    """The buffers ``running_mean`` (zeros (C,)), ``running_var`` (ones (C,)) and
    ``num_batches_tracked`` (int64 0) when tracking, else the three names as None."""
    if track:
        module.register_buffer("running_mean", Tensor(numpy.zeros(C, dtype=dtype)))
        module.register_buffer("running_var", Tensor(numpy.ones(C, dtype=dtype)))
        module.register_buffer("num_batches_tracked", Tensor(numpy.array(0, dtype=numpy.int64)))
    else:
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            module.register_buffer(name, None)


def check_channels(module: Module, x: Tensor, C: int) -> None:
    """A ValueError naming the layer unless x is (N, C, *)."""
    if x.ndim < 2 or x.shape[1] != C:
        raise ValueError(f"{module!r}: expected input (N, {C}, *) with {C} channels, got {x.shape}")
