"""Where ``fit`` and ``evaluate`` get their batches: a DataLoader, or a pair of arrays.

A pair ``(images, labels)`` is wrapped in ``ArrayBatches``, whose shuffled order for epoch
``e`` is a permutation drawn from a generator seeded with ``(seed, e)``. The order of any epoch
is therefore known without replaying the ones before it, which is what lets a resumed run
see exactly the batches an uninterrupted run sees.

Inputs reach the model as float tensors of the model's dtype on the model's device; uint8
images are scaled to [0, 1] (x / 255), labels become int64.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy

from ..backend import get_array_module, to_device
from ..dtypes import is_floating
from ..tensor import Tensor


class ArrayBatches:
    """Batches of a pair of arrays, reshuffled each epoch by a generator seeded with (seed, epoch).

    Args:
        images: array (N, ...), uint8 or float.
        labels: array (N,) of class indices (or any targets with N rows).
        batch_size (int): rows per batch. Default: 32.
        shuffle (bool): permute the rows each epoch. Default: False.
        seed (int): seed of the permutation. Default: 0.
        drop_last (bool): skip a last, smaller batch. Default: False.

    Example:
        >>> b = ArrayBatches(numpy.arange(10), numpy.arange(10), batch_size=4, shuffle=True, seed=1)
        >>> b.set_epoch(3)
        >>> [len(x) for x, _ in b], len(b)
        ([4, 4, 2], 3)
    """

    def __init__(
        self,
        images: Any,
        labels: Any,
        batch_size: int = 32,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        images = images.data if isinstance(images, Tensor) else images
        labels = labels.data if isinstance(labels, Tensor) else labels
        if len(images) != len(labels):
            raise ValueError(
                f"fit: images and labels differ in length: {len(images)} images, "
                f"{len(labels)} labels"
            )
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, numpy.integer))
            or batch_size < 1
        ):
            raise ValueError(f"fit: batch_size must be a positive integer, got {batch_size!r}")
        self.images, self.labels = images, labels
        self.batch_size, self.shuffle, self.seed, self.drop_last = (
            int(batch_size),
            shuffle,
            seed,
            drop_last,
        )
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation of ``epoch`` (0-based, as ``tinyconv.data.DataLoader``)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        n, b = len(self.images), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        n = len(self.images)
        if self.shuffle:
            order = numpy.random.default_rng([int(self.seed), self.epoch]).permutation(n)
        else:
            order = None
        for i in range(len(self)):
            if order is None:
                sl: Any = slice(i * self.batch_size, (i + 1) * self.batch_size)
            else:
                sl = order[i * self.batch_size : (i + 1) * self.batch_size]
            yield self.images[sl], self.labels[sl]


def as_batches(
    data: Any, batch_size: int, shuffle: bool, seed: int, where: str = "fit"
) -> Iterable[Any]:
    """A loader stays as it is; an ``(images, labels)`` pair becomes ``ArrayBatches``."""
    if isinstance(data, (tuple, list)) and len(data) == 2 and hasattr(data[0], "shape"):
        return ArrayBatches(data[0], data[1], batch_size=batch_size, shuffle=shuffle, seed=seed)
    if not hasattr(data, "__iter__"):
        raise TypeError(
            f"{where}: expected a DataLoader or an (images, labels) pair of arrays, "
            f"got {type(data).__name__}"
        )
    return data


def num_batches(data: Any) -> int | None:
    try:
        return len(data)
    except TypeError:
        return None


def model_placement(model: Any) -> tuple[Any, str]:
    """The dtype and device of the model's first floating-point parameter (float32, cpu if none)."""
    for p in model.parameters():
        if is_floating(p.data.dtype):
            return p.data.dtype, p.device
    return numpy.dtype(numpy.float32), "cpu"


def to_tensors(x: Any, y: Any, dtype: Any, device: str) -> tuple[Tensor, Tensor]:
    """One batch as tensors: x float (uint8 scaled by 1/255) of ``dtype``, y int64 labels."""
    x = x.data if isinstance(x, Tensor) else x
    y = y.data if isinstance(y, Tensor) else y
    if not hasattr(x, "dtype"):
        x = numpy.asarray(x)
    if not hasattr(y, "dtype"):
        y = numpy.asarray(y)
    x = to_device(x, device)
    y = to_device(y, device)
    if x.dtype == numpy.uint8:
        x = x.astype(dtype) * dtype.type(1.0 / 255.0)
    elif x.dtype != dtype:
        x = x.astype(dtype)
    if y.dtype.kind in "iub" and y.dtype != numpy.int64:
        y = y.astype(numpy.int64)
    elif y.dtype.kind == "f" and y.dtype != dtype:
        y = y.astype(dtype)
    return Tensor(x), Tensor(y)


def count_correct(logits: Any, labels: Any) -> int | None:
    """Number of rows whose arg-max equals the integer label; None when labels are not classes."""
    if logits.ndim != 2 or labels.ndim != 1 or labels.dtype.kind not in "iu":
        return None
    xp = get_array_module(logits)
    return int((xp.argmax(logits, axis=1) == labels).sum())
