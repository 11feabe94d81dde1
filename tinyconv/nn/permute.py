"""Permute: a layer that reorders the dimensions (torchvision's ``ops.misc.Permute``).

ConvNeXt's block runs its LayerNorm and pointwise Linear layers channels-last between two
of them: ``Permute([0, 2, 3, 1])`` ... ``Permute([0, 3, 1, 2])``; as a layer it keeps the
block's Sequential indices, and so the state-dict names, equal to torchvision's.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..tensor import Tensor
from .module import Module


class Permute(Module):
    """y = x.permute(*dims).

    Args:
        dims (sequence of int): a permutation of 0 .. ndim - 1.

    Shape:
        in_shape -> tuple(in_shape[d] for d in dims).

    Example:
        >>> import numpy, tinyconv
        >>> Permute([0, 2, 3, 1])(tinyconv.tensor(numpy.zeros((2, 3, 4, 5)))).shape
        (2, 4, 5, 3)
    """

    def __init__(self, dims: Sequence[int]) -> None:
        super().__init__()
        dims = list(dims)
        if sorted(dims) != list(range(len(dims))):
            raise ValueError(
                "Permute: invalid value for argument `dims`. Expected a permutation of "
                f"0 .. {len(dims) - 1}. Received dims={dims!r}."
            )
        self.dims = dims

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != len(self.dims):
            raise ValueError(
                f"{self!r}: expected a {len(self.dims)}-D input, got {x.ndim}-D of shape {x.shape}"
            )
        return x.permute(*self.dims)

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(in_shape[d] for d in self.dims)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"
