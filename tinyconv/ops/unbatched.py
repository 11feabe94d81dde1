"""Unbatched inputs and empty batches: the batch shapes PyTorch accepts besides (N, ...).

An unbatched (C, *spatial) input is one sample. The operations themselves see
(N, C, *spatial) only; their functional wrappers add the batch axis with ``add_batch`` and
take it off the result with ``drop_batch``. Both are reshapes, so gradients flow through
unchanged.

An empty batch (N = 0, as a filtered batch or an idle data-parallel rank produces) gives
an empty result of the right shape; ``EmptyBatch`` makes it for a layer whose arithmetic
would have nothing to do, and its backward gives the parameters zero gradients.
"""

from __future__ import annotations

from typing import Any

from ..backend import get_array_module
from ..tensor import Function, Tensor


class EmptyBatch(Function):
    """y = zeros of ``out_shape`` (its N is 0) from x (0, ...) and parameters; all gradients 0."""

    def forward(self, x: Any, *params: Any, out_shape: tuple[int, ...]) -> Any:
        self.save_for_backward(x.shape, [None if p is None else p.shape for p in params])
        return get_array_module(x).zeros(out_shape, dtype=x.dtype)

    def backward(self, dout: Any) -> tuple[Any, ...]:
        x_shape, shapes = self.saved
        xp = get_array_module(dout)
        zeros = [None if s is None else xp.zeros(s, dtype=dout.dtype) for s in shapes]
        return (xp.zeros(x_shape, dtype=dout.dtype), *zeros)


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
