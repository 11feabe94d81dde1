"""Pixel shuffle (Shi et al., 2016; ONNX DepthToSpace in CRD order) and its inverse.

pixel_shuffle moves blocks of r^2 channels into r x r patches of pixels:

    (*, C r^2, H, W) -> (*, C, H r, W r),   y[c, h r + i, w r + j] = x[c r^2 + i r + j, h, w]

pixel_unshuffle does the opposite. Both are a reshape, a transpose and a reshape, so each
one's backward is the other one applied to dout.
"""

from __future__ import annotations

from typing import Any

from ..tensor import Function, Tensor


def _shuffle(x: Any, r: int) -> Any:
    *lead, c, h, w = x.shape
    y = x.reshape(*lead, c // (r * r), r, r, h, w)
    k = len(lead)
    y = y.transpose(*range(k), k, k + 3, k + 1, k + 4, k + 2)  # (*, C, H, r, W, r)
    return y.reshape(*lead, c // (r * r), h * r, w * r)


def _unshuffle(x: Any, r: int) -> Any:
    *lead, c, h, w = x.shape
    y = x.reshape(*lead, c, h // r, r, w // r, r)
    k = len(lead)
    y = y.transpose(*range(k), k, k + 2, k + 4, k + 1, k + 3)  # (*, C, r, r, H, W)
    return y.reshape(*lead, c * r * r, h // r, w // r)


class PixelShuffle(Function):
    """y = _shuffle(x, r); dx = _unshuffle(dout, r)."""

    def forward(self, x: Any, r: int) -> Any:
        self.save_for_backward(r)
        return _shuffle(x, r)

    def backward(self, dout: Any) -> Any:
        (r,) = self.saved
        return _unshuffle(dout, r)


class PixelUnshuffle(Function):
    """y = _unshuffle(x, r); dx = _shuffle(dout, r)."""

    def forward(self, x: Any, r: int) -> Any:
        self.save_for_backward(r)
        return _unshuffle(x, r)

    def backward(self, dout: Any) -> Any:
        (r,) = self.saved
        return _shuffle(dout, r)


def _check(x: Any, factor: Any, name: str, layer: str) -> int:
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer}: expected a tinyconv Tensor, got {type(x).__name__}")
    if isinstance(factor, bool) or not isinstance(factor, int):
        raise TypeError(f"{layer}: {name} must be an int, got {factor!r}")
    if factor < 1:
        raise ValueError(f"{layer}: {name} must be positive, got {factor}")
    if x.ndim < 3:
        raise ValueError(
            f"{layer}: expected an input (*, C, H, W) of 3 or more dimensions, got {x.shape}"
        )
    return factor


def pixel_shuffle(x: Tensor, upscale_factor: int) -> Tensor:
    """(*, C r^2, H, W) -> (*, C, H r, W r): channels rearranged into r x r pixel blocks.

    Raises:
        ValueError: a channel count not divisible by r^2, fewer than 3 dimensions.

    Example:
        >>> import numpy, tinyconv
        >>> pixel_shuffle(tinyconv.tensor(numpy.arange(4.0).reshape(1, 4, 1, 1)), 2).tolist()
        [[[[0.0, 1.0], [2.0, 3.0]]]]
    """
    r = _check(x, upscale_factor, "upscale_factor", "pixel_shuffle")
    c = x.shape[-3]
    if c % (r * r):
        raise ValueError(
            f"pixel_shuffle: the {c} channels of {x.shape} must be divisible by "
            f"upscale_factor^2 = {r * r}"
        )
    return PixelShuffle.apply(x, r=r)


def pixel_unshuffle(x: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H r, W r) -> (*, C r^2, H, W), the inverse of ``pixel_shuffle``.

    Raises:
        ValueError: H or W not divisible by r, fewer than 3 dimensions.

    Example:
        >>> import numpy, tinyconv
        >>> pixel_unshuffle(tinyconv.tensor(numpy.arange(4.0).reshape(1, 1, 2, 2)), 2).shape
        (1, 4, 1, 1)
    """
    r = _check(x, downscale_factor, "downscale_factor", "pixel_unshuffle")
    h, w = x.shape[-2:]
    if h % r or w % r:
        raise ValueError(
            f"pixel_unshuffle: height {h} and width {w} of {x.shape} must be divisible by "
            f"downscale_factor = {r}"
        )
    return PixelUnshuffle.apply(x, r=r)
