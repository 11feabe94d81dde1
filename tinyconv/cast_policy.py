"""The autocast policy: which dtype each operation runs in inside ``tinyconv.amp.autocast``.

Every ``Function`` class may name its policy in ``autocast_policy``:

* ``LOW`` ("16-bit": convolutions, linear layers, matrix products): floating-point inputs
  become the autocast dtype (float16 or bfloat16);
* ``FP32`` ("float32": softmax, log_softmax, the losses, batch normalisation): 16-bit inputs
  become float32;
* None (everything else): the inputs keep their dtype.

This module holds only the two names and the dtype of the innermost active ``autocast`` block.
It sits below ``tensor.py`` and ``ops/``, which both read it (``Function.apply`` casts the
inputs, the convolutions look up whether autocast is on); ``amp.autocast`` sets it, and
``amp.GradScaler`` lives in ``amp.py`` above them.

Example:
    >>> active_dtype() is None
    True
"""

from __future__ import annotations

from typing import Any

#: ``Function.autocast_policy`` values.
LOW = "16-bit"
FP32 = "float32"

_autocast_dtype: Any = None  # a numpy dtype inside an autocast block, else None


def active_dtype() -> Any:
    """The dtype of the innermost active ``autocast`` block, or None outside one."""
    return _autocast_dtype


def is_autocast_enabled() -> bool:
    """True inside an enabled ``autocast`` block."""
    return _autocast_dtype is not None


def set_active_dtype(dtype: Any) -> Any:
    """Make ``dtype`` (a 16-bit numpy dtype, or None for off) the active one; returns the previous.

    Called by ``amp.autocast`` on entry and, with the returned value, on exit.
    """
    global _autocast_dtype
    prev, _autocast_dtype = _autocast_dtype, dtype
    return prev
