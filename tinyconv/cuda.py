"""The GPU: is one usable, and how many (``torch.cuda``-shaped).

tinyconv runs on an NVIDIA GPU through CuPy, the optional extra ``tinyconv[cuda]``: every
operation takes its array module from its inputs (``get_array_module``), so
``model.to("cuda")`` and ``tensor.to("cuda")`` move the arrays and the same code runs there.
Without CuPy, or without a CUDA device, these functions say so and everything else keeps
working on the CPU; asking for "cuda" then raises a RuntimeError that names the extra.

Example:
    >>> import tinyconv
    >>> isinstance(tinyconv.cuda.is_available(), bool)
    True
"""

from __future__ import annotations

import types

from .backend import _try_cupy, check_cuda_available, cuda_available

__all__ = ["check_available", "device_count", "is_available"]


def is_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    return cuda_available()


def device_count() -> int:
    """The number of CUDA devices CuPy sees (0 without CuPy or a driver)."""
    cp = _try_cupy()
    if cp is None:
        return 0
    try:
        return int(cp.cuda.runtime.getDeviceCount())
    except Exception:  # no driver, no device
        return 0


def check_available() -> types.ModuleType:
    """The cupy module, or a RuntimeError saying why the GPU cannot be used and what to install.

    Raises:
        RuntimeError: CuPy is missing (install ``tinyconv[cuda]``) or sees no CUDA device.
    """
    cp = check_cuda_available()
    if device_count() == 0:
        raise RuntimeError(
            "tinyconv: CuPy is installed but sees no CUDA device (no NVIDIA GPU or driver); "
            "tinyconv runs on the CPU without one"
        )
    return cp
