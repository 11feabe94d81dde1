"""tinyconv: a convolutional neural network framework written from scratch (NumPy, CuPy).

import tinyconv
import tinyconv.nn as nn
import tinyconv.functional as F
"""

from . import amp, cuda, data, functional, metrics, models, nn, optim, train  # noqa: E402  (they build on everything above)
from .backend import cuda_available, default_rng, get_array_module, manual_seed
from .io import load, save
from .tensor import Function, Tensor, cat, enable_grad, is_grad_enabled, no_grad, stack, tensor

__version__ = "0.1.0"

__all__ = [
    "Function",
    "Tensor",
    "amp",
    "cat",
    "cuda",
    "cuda_available",
    "data",
    "default_rng",
    "enable_grad",
    "functional",
    "get_array_module",
    "is_grad_enabled",
    "load",
    "manual_seed",
    "metrics",
    "models",
    "nn",
    "no_grad",
    "optim",
    "save",
    "stack",
    "tensor",
    "train",
]
