"""Array backend: one code path for NumPy (CPU) and CuPy (GPU).

Operations never import NumPy directly; they ask ``get_array_module(x)`` for the module
that owns their input arrays, so CuPy arrays flow through the same code. Only this file
imports CuPy, lazily, and keeps the import error to re-raise it with the reason when a
user asks for the GPU.
"""

from __future__ import annotations

import types
from typing import Any

import numpy

_cupy: types.ModuleType | None = None
_cupy_error: BaseException | None = None
_cupy_tried = False

DEFAULT_DTYPE = numpy.float32


def _try_cupy() -> types.ModuleType | None:
    global _cupy, _cupy_error, _cupy_tried
    if not _cupy_tried:
        _cupy_tried = True
        try:
            import cupy  # noqa: PLC0415

            _cupy = cupy
        except Exception as e:  # ImportError, or a CUDA runtime error on import
            _cupy_error = e
    return _cupy


def get_array_module(*arrays: Any) -> types.ModuleType:
    """Return ``cupy`` if any argument is a CuPy array, else ``numpy``.

    Tensors are unwrapped, so ``get_array_module(tensor)`` works too.
    """
    for a in arrays:
        if isinstance(a, (numpy.ndarray, numpy.generic)):  # (a bfloat16 scalar's .data raises)
            continue
        a = getattr(a, "data", a)
        if type(a).__module__.startswith("cupy"):
            return _try_cupy()  # type: ignore[return-value]
    return numpy


def cuda_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    cp = _try_cupy()
    if cp is None:
        return False
    try:
        return cp.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def check_cuda_available() -> types.ModuleType:
    """Return the cupy module, or raise RuntimeError saying why the GPU cannot be used."""
    cp = _try_cupy()
    if cp is None:
        raise RuntimeError(
            "tinyconv: the GPU backend needs CuPy, which failed to import "
            f"({type(_cupy_error).__name__}: {_cupy_error}). "
            "Install it with `pip install tinyconv[cuda]` "
            "(or a cupy-cudaXXx wheel matching your CUDA)."
        ) from _cupy_error
    return cp


def device_of(array: Any) -> str:
    """'cuda' for a CuPy array, 'cpu' otherwise."""
    return "cuda" if type(array).__module__.startswith("cupy") else "cpu"


def to_device(array: Any, device: str) -> Any:
    """Move an array to 'cpu' (NumPy) or 'cuda' (CuPy); a no-op when it is already there."""
    device = str(device)
    if device.startswith("cuda"):
        cp = check_cuda_available()
        return array if device_of(array) == "cuda" else cp.asarray(array)
    if device == "cpu":
        return array.get() if device_of(array) == "cuda" else array
    raise ValueError(f"unknown device {device!r}: expected 'cpu' or 'cuda'")


def resolve_dtype(dtype: Any) -> numpy.dtype:
    """Turn 'float32', numpy.float32, or a tinyconv dtype alias into a numpy dtype."""
    if dtype is None:
        return numpy.dtype(DEFAULT_DTYPE)
    if isinstance(dtype, str) and dtype in ("bfloat16", "bf16"):
        from .dtypes import bfloat16  # noqa: PLC0415  (ml_dtypes, with a clear error without it)

        return bfloat16()
    return numpy.dtype(dtype)


# ---------------------------------------------------------------- random numbers
_rng = numpy.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed tinyconv's global generator (weight init, dropout, shuffling defaults)."""
    global _rng
    _rng = numpy.random.default_rng(seed)
    cp = _cupy if _cupy_tried else None
    if cp is not None:
        cp.random.seed(seed)


def default_rng() -> numpy.random.Generator:
    """tinyconv's global NumPy generator, seeded by ``manual_seed``."""
    return _rng
