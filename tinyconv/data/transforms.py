"""Batch augmentations, vectorised: one call transforms a whole (N, C, H, W) batch.

A transform is called as ``t(x, rng)``: ``x`` a batch (any dtype; the loader passes the raw uint8
pixels, before normalisation, so padding is black as in torchvision), ``rng`` a NumPy Generator
(the loader's, seeded from ``(seed, epoch)``, so augmentation is reproducible). It returns a new
array and never changes ``x``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy
from numpy.lib.stride_tricks import sliding_window_view

Transform = Callable[[numpy.ndarray, numpy.random.Generator], numpy.ndarray]


def _pair(value: int | Sequence[int], what: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int | numpy.integer) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int | numpy.integer) for v in pair):
        raise TypeError(f"{what} must be an int or a pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def _check_batch(x: numpy.ndarray, who: object) -> None:
    if not isinstance(x, numpy.ndarray) or x.ndim != 4:
        shape = getattr(x, "shape", type(x).__name__)
        raise ValueError(f"{who}: expected a batch (N, C, H, W), got {shape}")


class RandomCrop:
    """Pad each image by ``padding`` zeros on every side, then cut a random ``size`` window.

    ``RandomCrop(32, padding=4)`` is the usual CIFAR-10 augmentation: each image moves by up to
    4 pixels in each direction. The whole batch is padded once and the N windows are gathered
    with one fancy index into a strided view (``sliding_window_view``) of the padded batch.

    Args:
        size (int or (int, int)): output ``(h, w)``.
        padding (int): zeros added on each side. Default: 0.

    Shape:
        ``(N, C, H, W) -> (N, C, h, w)``; requires ``h <= H + 2*padding`` and likewise ``w``.

    Example:
        >>> x = numpy.arange(2 * 3 * 32 * 32, dtype=numpy.uint8).reshape(2, 3, 32, 32)
        >>> RandomCrop(32, padding=4)(x, numpy.random.default_rng(0)).shape
        (2, 3, 32, 32)
    """

    def __init__(self, size: int | Sequence[int], padding: int = 0) -> None:
        self.size = _pair(size, "RandomCrop size")
        if min(self.size) < 1:
            raise ValueError(f"RandomCrop size must be >= 1, got {size!r}")
        if not isinstance(padding, int | numpy.integer) or padding < 0:
            raise ValueError(f"RandomCrop padding must be an int >= 0, got {padding!r}")
        self.padding = int(padding)

    def __repr__(self) -> str:
        size = self.size[0] if self.size[0] == self.size[1] else self.size
        return f"RandomCrop({size}, padding={self.padding})"

    def __call__(self, x: numpy.ndarray, rng: numpy.random.Generator) -> numpy.ndarray:
        _check_batch(x, self)
        N, C, H, W = x.shape
        p = self.padding
        h, w = self.size
        if h > H + 2 * p or w > W + 2 * p:
            raise ValueError(
                f"{self!r}: crop {h}x{w} is larger than the padded image "
                f"{H + 2 * p}x{W + 2 * p} (input {x.shape})"
            )
        padded = numpy.zeros((N, C, H + 2 * p, W + 2 * p), dtype=x.dtype)
        padded[:, :, p : p + H, p : p + W] = x
        top = rng.integers(0, H + 2 * p - h + 1, size=N)  # (N,)
        left = rng.integers(0, W + 2 * p - w + 1, size=N)  # (N,)
        windows = sliding_window_view(padded, (h, w), axis=(2, 3))  # (N, C, oy, ox, h, w) view
        # Advanced indices on axes 0, 2, 3 around the slice: the result is (N, C, h, w).
        return windows[numpy.arange(N), :, top, left]


class RandomHorizontalFlip:
    """Mirror each image left-right with probability ``p``.

    Args:
        p (float): probability of flipping one image. Default: 0.5.

    Shape:
        ``(N, C, H, W) -> (N, C, H, W)``.

    Example:
        >>> x = numpy.arange(4, dtype=numpy.uint8).reshape(1, 1, 1, 4)
        >>> RandomHorizontalFlip(p=1.0)(x, numpy.random.default_rng(0)).ravel().tolist()
        [3, 2, 1, 0]
    """

    def __init__(self, p: float = 0.5) -> None:
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"RandomHorizontalFlip p must be in [0, 1], got {p!r}")
        self.p = float(p)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"

    def __call__(self, x: numpy.ndarray, rng: numpy.random.Generator) -> numpy.ndarray:
        _check_batch(x, self)
        flip = rng.random(len(x)) < self.p  # (N,) bool
        out = x.copy()
        out[flip] = x[flip, :, :, ::-1]
        return out


class Compose:
    """Apply transforms in order, e.g. ``Compose([RandomCrop(32, 4), RandomHorizontalFlip()])``."""

    def __init__(self, transforms: Sequence[Transform]) -> None:
        self.transforms = list(transforms)

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"

    def __call__(self, x: numpy.ndarray, rng: numpy.random.Generator) -> numpy.ndarray:
        for t in self.transforms:
            x = t(x, rng)
        return x


def cifar_augment() -> Compose:
    """The usual CIFAR-10 training augmentation: ``RandomCrop(32, padding=4)`` then a flip."""
    return Compose([RandomCrop(32, padding=4), RandomHorizontalFlip()])
