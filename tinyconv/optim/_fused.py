"""When an optimizer's update runs as one compiled pass (``tinyconv.kernels.optim``).

The NumPy update in each optimizer is the definition; the fused kernel computes the same
formulas element by element in one pass. It is used when the kernels are enabled
(``tinyconv.kernels.enabled()``) and the parameter, its gradient and its state are NumPy
arrays of one floating dtype (float32 or float64) that can be viewed flat without a copy
(C-contiguous). Anything else (CuPy arrays, 16-bit floats, strided views) takes the NumPy
path.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from .. import kernels

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def active(p: Any) -> bool:
    """True when a fused kernel may update parameter array ``p`` (see the module docstring)."""
    return (
        kernels.enabled() and type(p) is np.ndarray and p.dtype in _FLOATS and p.flags.c_contiguous
    )


def flat_views(p: Any, grad: Any, *state: Any) -> tuple[Any, ...] | None:
    """``(p, grad, *state)`` as flat 1-D arrays for a fused kernel, or None: use NumPy.

    ``p`` and the state arrays must be flat *views* (the kernel writes into them); the
    gradient, only read, may be a contiguous copy. A ``None`` state entry becomes an empty
    array of the parameter's dtype (a kernel argument that is not used).
    """
    if not active(p) or type(grad) is not np.ndarray or grad.dtype != p.dtype:
        return None
    out = [p.reshape(-1), np.ascontiguousarray(grad).reshape(-1)]
    for s in state:
        if s is None:
            out.append(np.empty(0, dtype=p.dtype))
        elif type(s) is np.ndarray and s.dtype == p.dtype and s.flags.c_contiguous:
            out.append(s.reshape(-1))
        else:
            return None
    return tuple(out)


def kernel_module() -> ModuleType:
    """``tinyconv.kernels.optim``, imported (and Numba with it) on first use."""
    from ..kernels import optim as fused  # noqa: PLC0415

    return fused
