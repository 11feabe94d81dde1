"""Map-style datasets, as in ``torch.utils.data``: anything with ``__len__`` and
``__getitem__(i) -> (x, y)``, and ``collate``, which stacks a list of such samples into a batch.

    class Squares(Dataset):
        def __len__(self): return 100
        def __getitem__(self, i): return numpy.full((1, 4, 4), i, numpy.float32), i % 10

    for x, y in DataLoader(Squares(), batch_size=32, shuffle=True):   # x (32, 1, 4, 4)
        ...
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy


class Dataset:
    """Base class of map-style datasets: define ``__len__`` and ``__getitem__(i) -> (x, y)``.

    Subclassing it is optional: ``DataLoader`` takes any object with those two methods.
    """

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


class TensorDataset(Dataset):
    """Samples ``i`` of several arrays of the same length: ``(images[i], labels[i])``.

    Example:
        >>> ds = TensorDataset(numpy.zeros((3, 1, 2, 2)), numpy.arange(3))
        >>> len(ds), int(ds[2][1])
        (3, 2)
    """

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset: expected at least one array")
        self.arrays = [_numpy(a) for a in arrays]
        n = len(self.arrays[0])
        if any(len(a) != n for a in self.arrays):
            sizes = ", ".join(str(len(a)) for a in self.arrays)
            raise ValueError(f"TensorDataset: the arrays differ in length ({sizes})")

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        return tuple(a[index] for a in self.arrays)


def is_dataset(obj: Any) -> bool:
    """A map-style dataset: ``__len__`` and ``__getitem__``, and not an array or a list."""
    if isinstance(obj, (numpy.ndarray, list, tuple, str, bytes)) or hasattr(obj, "__array__"):
        return False
    return hasattr(obj, "__len__") and hasattr(obj, "__getitem__")


def _numpy(value: Any) -> numpy.ndarray:
    """A NumPy array from an array, a tinyconv Tensor (``.numpy()``) or a number."""
    if hasattr(value, "numpy") and not isinstance(value, numpy.ndarray):
        value = value.numpy()
    return numpy.asarray(value)


def collate(
    samples: Sequence[Any], where: str = "DataLoader"
) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Stack ``[(x_0, y_0), (x_1, y_1), ...]`` into ``x (B, *x_0.shape)`` and ``y (B,)`` int64.

    Raises:
        TypeError: a sample is not an (x, y) pair, or a label is not an integer.
        ValueError: the samples' shapes differ.
    """
    xs, ys = [], []
    for k, sample in enumerate(samples):
        if not isinstance(sample, (tuple, list)) or len(sample) != 2:
            raise TypeError(
                f"{where}: a dataset item must be a pair (x, y), got {type(sample).__name__}"
                f" for sample {k}"
            )
        xs.append(_numpy(sample[0]))
        ys.append(_numpy(sample[1]))
    shapes = {x.shape for x in xs}
    if len(shapes) > 1:
        raise ValueError(f"{where}: the samples of one batch differ in shape: {sorted(shapes)}")
    y = numpy.stack(ys)
    if not numpy.issubdtype(y.dtype, numpy.integer):
        raise TypeError(f"{where}: labels must be integers, got {y.dtype}")
    return numpy.stack(xs), y.astype(numpy.int64, copy=False)
