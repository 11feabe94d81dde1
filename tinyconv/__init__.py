"""tinyconv: a convolutional neural network framework written from scratch (NumPy, CuPy).

import tinyconv
import tinyconv.nn as nn
import tinyconv.functional as F
"""

from . import _openblas  # noqa: F401, I001  (first: before NumPy loads OpenBLAS)
from . import amp, cuda, data, functional, metrics, models, nn, optim, train  # noqa: E402  (they build on everything above)
from .backend import cuda_available, default_rng, get_array_module, manual_seed
from .io import load, save
from .ops.basic import cat, stack
from .tensor import (
    Function,
    Tensor,
    enable_grad,
    from_numpy,
    is_grad_enabled,
    no_grad,
    tensor,
)
from .version import __version__

__all__ = [
    "Function",
    "__version__",
    "Tensor",
    "amp",
    "cat",
    "cuda",
    "cuda_available",
    "data",
    "default_rng",
    "enable_grad",
    "from_numpy",
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
