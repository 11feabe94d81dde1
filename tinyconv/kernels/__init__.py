"""Compiled kernels: which implementation of the hot operations runs.

tinyconv has two implementations of its heavy operations:

* ``"numpy"``: the readable reference in ``tinyconv/ops/`` (im2col + one matrix product,
  NumPy passes). It always works and runs on CuPy arrays too.
* ``"numba"``: kernels in this package compiled by Numba (``pip install tinyconv[fast]``),
  used for NumPy (CPU) arrays when Numba is installed. They fuse passes that the
  reference makes one after the other and must give the reference's results to float
  precision.

The choice: ``$TINYCONV_KERNELS`` (``numpy``, ``numba`` or ``auto``, the default: Numba when it
imports) when tinyconv is imported, then ``tinyconv.kernels.use(name)`` or, for a block of code,
``with tinyconv.kernels.using(name): ...``. Operations ask ``enabled()`` (cheap: a global) and
fall back to the reference for anything a kernel does not cover (CuPy arrays, dtypes, shapes).

Layering: ``kernels`` sits below ``ops`` and above ``backend``: kernels take and return raw
arrays, never Tensors, and never import from ``tinyconv.ops``.

Example:
    >>> import tinyconv.kernels as K
    >>> with K.using("numpy"):
    ...     K.name()
    'numpy'
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

ENV_VAR = "TINYCONV_KERNELS"
NAMES = ("numpy", "numba")

_active = "numpy"  # set below from the environment
_numba_error: BaseException | None = None  # why Numba is not available, once tried
_numba_tried = False


def numba_available() -> bool:
    """True when Numba imports (and is configured for tinyconv, see ``_jit``)."""
    global _numba_error, _numba_tried
    if not _numba_tried:
        _numba_tried = True
        try:
            from . import _jit  # noqa: F401, PLC0415  (imports and configures numba)
        except Exception as e:  # ImportError, or a broken llvmlite
            _numba_error = e
    return _numba_error is None


def name() -> str:
    """The active implementation: ``"numba"`` or ``"numpy"``."""
    return _active


def enabled() -> bool:
    """True when the compiled kernels are active (operations then try them first)."""
    return _active == "numba"


def use(name: str) -> None:
    """Select the implementation: ``"numba"``, ``"numpy"`` or ``"auto"`` (Numba if it imports).

    Raises:
        ValueError: an unknown name.
        ImportError: ``"numba"`` asked for and Numba does not import (the reason is chained).
    """
    global _active
    if not isinstance(name, str) or name not in (*NAMES, "auto"):
        raise ValueError(f"tinyconv.kernels.use: expected one of numpy, numba, auto, got {name!r}")
    if name == "auto":
        _active = "numba" if numba_available() else "numpy"
        return
    if name == "numba" and not numba_available():
        raise ImportError(
            "tinyconv.kernels.use('numba'): Numba is not available (pip install 'tinyconv[fast]')"
        ) from _numba_error
    _active = name


@contextlib.contextmanager
def using(name: str) -> Iterator[None]:
    """``use(name)`` inside a ``with`` block, the previous choice restored after it."""
    prev = _active
    use(name)
    try:
        yield
    finally:
        globals()["_active"] = prev


def _from_environment() -> None:
    choice = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if choice not in (*NAMES, "auto"):
        raise ValueError(f"${ENV_VAR}: expected numpy, numba or auto, got {choice!r}")
    use(choice)


_from_environment()
