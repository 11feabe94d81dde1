"""Unbatched inputs: PyTorch's convolutions and poolings take (C, *spatial) as one sample.

The operations themselves see (N, C, *spatial) only; their functional wrappers add the
batch axis with ``add_batch`` and take it off the result with ``drop_batch``. Both are
reshapes, so gradients flow through unchanged.
"""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor


def add_batch(x: Tensor, dims: int) -> tuple[Tensor, bool]:
    """(C, *spatial) -> (1, C, *spatial) for a ``dims``-D operation; and whether it was added.

    Example:
        >>> import numpy, tinyconv
        >>> x, added = add_batch(tinyconv.tensor(numpy.zeros((3, 4, 5))), dims=2)
        >>> x.shape, added
        ((1, 3, 4, 5), True)
    """
    if isinstance(x, Tensor) and x.ndim == dims + 1:
        return x.unsqueeze(0), True
    return x, False


def drop_batch(y: Any, added: bool) -> Any:
    """Undo ``add_batch`` on a result: a Tensor, or a tuple of them (values, indices)."""
    if not added:
        return y
    if isinstance(y, tuple):
        return tuple(t.squeeze(0) for t in y)
    return y.squeeze(0)
