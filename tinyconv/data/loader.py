"""DataLoader: seeded shuffled batches of normalised float32 images and int64 labels."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy

from ..backend import default_rng, to_device
from .dataset import collate, is_dataset
from .transforms import Transform


def _per_channel(value: float | Sequence[float], C: int, what: str) -> numpy.ndarray:
    arr = numpy.atleast_1d(numpy.asarray(value, dtype=numpy.float64))
    if arr.ndim != 1 or len(arr) not in (1, C):
        raise ValueError(f"{what} must be one number or {C} (one per channel), got {value!r}")
    return numpy.broadcast_to(arr, (C,))


class DataLoader:
    """Iterate over ``(images, labels)`` in batches, optionally shuffled and augmented.

    Each batch is gathered from the uint8 images, augmented by ``transform`` (on the raw
    pixels), then normalised per channel c to float32:

        x = (pixel/255 - mean[c]) / std[c]

    computed in float32 as ``pixel * (1/(255 std)) + (-mean/std)``, within a few float32 ulps
    of the exact value. Floating-point images are taken as already in [0, 1]:
    ``x = (image - mean[c]) / std[c]``.

    Shuffling and augmentation draw from a Generator seeded with ``(seed, epoch)``: every epoch
    gets a new permutation, and the same ``(seed, epoch)`` always gives the same batches, so a
    run resumed at epoch e (``set_epoch(e)``) sees exactly the batches of an uninterrupted run.
    The epoch counter advances by one each time iteration starts.

    Args:
        images (ndarray or dataset): ``(N, C, H, W)``, uint8 (pixels 0-255) or floating
            point; or, as in PyTorch, a dataset alone: any object with ``__len__`` and
            ``__getitem__(i) -> (x, y)`` (x ``(C, H, W)``, y an int), read item by item.
        labels (ndarray): ``(N,)`` integer class labels (none with a dataset).
        batch_size (int): images per batch. Default: 64.
        shuffle (bool): a new random order each epoch. Default: False.
        drop_last (bool): skip the last batch when it is smaller than ``batch_size``.
            Default: False.
        seed (int, optional): seed of shuffling and augmentation; None draws one from
            tinyconv's global generator (``tinyconv.manual_seed``) when randomness is needed.
        transform (callable, optional): ``transform(x, rng) -> x`` on each raw batch, e.g.
            ``Compose([RandomCrop(32, padding=4), RandomHorizontalFlip()])``.
        mean, std (float or sequence): per-channel normalisation; defaults 0 and 1 give
            ``pixel/255``. See ``tinyconv.data.normalization(name)`` for the standard values.
        device (str): ``"cpu"`` (NumPy arrays) or ``"cuda"`` (CuPy arrays). Default: "cpu".

    Shape:
        Yields ``x`` float32 ``(B, C, h, w)`` and ``y`` int64 ``(B,)`` with ``B = batch_size``
        (the last batch may be smaller unless ``drop_last``). ``len(loader)`` is
        ``ceil(N / batch_size)``, or ``floor`` with ``drop_last``.

    Raises:
        ValueError: images not 4-D, labels not ``(N,)``, a bad batch size, mean or std.

    Example:
        >>> import numpy
        >>> images = numpy.zeros((10, 1, 28, 28), dtype=numpy.uint8)
        >>> labels = numpy.arange(10)
        >>> loader = DataLoader(images, labels, batch_size=4, shuffle=True, seed=0)
        >>> len(loader), [tuple(x.shape) for x, y in loader]
        (3, [(4, 1, 28, 28), (4, 1, 28, 28), (2, 1, 28, 28)])
    """

    def __init__(
        self,
        images: numpy.ndarray | Any,
        labels: numpy.ndarray | None = None,
        batch_size: int = 64,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        transform: Transform | None = None,
        mean: float | Sequence[float] = 0.0,
        std: float | Sequence[float] = 1.0,
        device: str = "cpu",
    ) -> None:
        self.dataset = None
        if labels is None:
            if not is_dataset(images):
                raise TypeError(
                    "DataLoader: expected images and labels arrays, or one dataset (an object "
                    "with __len__ and __getitem__(i) -> (x, y)), got only "
                    f"{type(images).__name__}"
                )
            self.dataset = images
            if len(images) == 0:
                raise ValueError("DataLoader: the dataset is empty")
            images, labels = collate([images[0]])  # one sample: its shape and dtype
        images = numpy.asarray(images)
        labels = numpy.asarray(labels)
        if images.ndim != 4:
            raise ValueError(
                f"DataLoader: expected images (N, C, H, W), got shape {images.shape}"
                + (" (add the channel axis: images[:, None])" if images.ndim == 3 else "")
            )
        if labels.shape != (len(images),):
            raise ValueError(
                f"DataLoader: expected labels ({len(images)},) for {len(images)} images, "
                f"got shape {labels.shape}"
            )
        if not numpy.issubdtype(labels.dtype, numpy.integer):
            raise TypeError(f"DataLoader: labels must be integers, got {labels.dtype}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | numpy.integer):
            raise TypeError(f"DataLoader: batch_size must be an int, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        if not (images.dtype == numpy.uint8 or numpy.issubdtype(images.dtype, numpy.floating)):
            raise TypeError(f"DataLoader: images must be uint8 or floating, got {images.dtype}")
        self.images = images
        self.labels = labels.astype(numpy.int64, copy=False)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.transform = transform
        self.device = device
        C = images.shape[1]
        self.mean = _per_channel(mean, C, "mean")
        self.std = _per_channel(std, C, "std")
        if not numpy.all(self.std > 0):
            raise ValueError(f"DataLoader: std must be > 0, got {std!r}")
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, int | numpy.integer) or seed < 0
        ):
            raise ValueError(f"DataLoader: seed must be an int >= 0 or None, got {seed!r}")
        needs_rng = self.shuffle or transform is not None
        if seed is None and needs_rng:
            seed = int(default_rng().integers(2**63))
        self.seed = seed
        self.epoch = 0
        # x*scale + shift == (x/255 - mean)/std, with float32 constants of shape (C, 1, 1).
        f32 = numpy.float32
        self._scale = {
            "uint8": (1.0 / (255.0 * self.std)).astype(f32)[:, None, None],
            "float": (1.0 / self.std).astype(f32)[:, None, None],
        }
        self._shift = (-self.mean / self.std).astype(f32)[:, None, None]

    def __len__(self) -> int:
        n, b = self._size(), self.batch_size
        return n // b if self.drop_last else math.ceil(n / b)

    def __repr__(self) -> str:
        extra = "".join(
            [
                ", shuffle=True" if self.shuffle else "",
                ", drop_last=True" if self.drop_last else "",
                f", seed={self.seed}" if self.seed is not None else "",
                f", transform={self.transform!r}" if self.transform is not None else "",
            ]
        )
        what = f"images={self.images.shape}" if self.dataset is None else f"{self.dataset!r}"
        return f"DataLoader({what}, batch_size={self.batch_size}{extra})"

    def _size(self) -> int:
        return len(self.images) if self.dataset is None else len(self.dataset)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration epoch ``epoch`` (0-based): its order and augmentation."""
        if epoch < 0:
            raise ValueError(f"DataLoader: epoch must be >= 0, got {epoch}")
        self.epoch = int(epoch)

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state, for checkpoints: ``{"seed": ..., "epoch": ...}``."""
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``seed`` and ``epoch`` saved by ``state_dict``."""
        self.seed = state["seed"]
        self.set_epoch(state["epoch"])

    def normalize(self, x: numpy.ndarray) -> numpy.ndarray:
        """Raw batch ``(B, C, H, W)`` -> float32 ``(x/255 - mean)/std`` (floats: no /255)."""
        out = x.astype(numpy.float32)  # a new array: the dataset is never changed
        out *= self._scale["uint8" if x.dtype == numpy.uint8 else "float"]
        out += self._shift
        return out

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        rng = numpy.random.default_rng([self.seed, epoch]) if self.seed is not None else None
        n, b = self._size(), self.batch_size
        order = rng.permutation(n) if self.shuffle and rng is not None else None
        for i in range(len(self)):
            if self.dataset is not None:
                idx = (
                    order[i * b : (i + 1) * b]
                    if order is not None
                    else range(i * b, min((i + 1) * b, n))
                )
                x, y = collate([self.dataset[int(k)] for k in idx])
            elif order is None:
                x = self.images[i * b : (i + 1) * b]  # a view
                y = self.labels[i * b : (i + 1) * b]
            else:
                idx = order[i * b : (i + 1) * b]
                x = self.images[idx]  # (B, C, H, W) gather
                y = self.labels[idx]
            if self.transform is not None:
                assert rng is not None
                x = self.transform(x, rng)
            x = self.normalize(x)
            if self.device != "cpu":
                x, y = to_device(x, self.device), to_device(y, self.device)
            yield x, y
