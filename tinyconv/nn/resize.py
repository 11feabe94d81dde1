"""Upsample (and its fixed-mode forms) and PixelShuffle/PixelUnshuffle.

No parameters; the arithmetic is in ``tinyconv/ops/interpolate.py`` and ``pixel_shuffle.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import functional as F
from ..tensor import Tensor
from .linear import check_positive_int
from .module import Module


class Upsample(Module):
    """Resize the spatial dimensions (``F.interpolate``), e.g. the decoder of a U-Net.

    Args:
        size (int or tuple): output spatial size; or
        scale_factor (float or tuple): multiplier of each spatial size (one of the two).
        mode (str): "nearest" (default), "nearest-exact", "linear", "bilinear",
            "trilinear" or "area".
        align_corners (bool): linear modes only. Default: None (False).
        recompute_scale_factor (bool): as ``F.interpolate``. Default: None.

    Shape:
        (N, C, *in) -> (N, C, *out).

    Example:
        >>> import numpy, tinyconv
        >>> Upsample(scale_factor=2)(tinyconv.tensor(numpy.ones((1, 3, 4, 4)))).shape
        (1, 3, 8, 8)
    """

    def __init__(
        self,
        size: int | Sequence[int] | None = None,
        scale_factor: float | Sequence[float] | None = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if (size is None) == (scale_factor is None):
            raise ValueError(
                f"{name}: expected exactly one of `size` and `scale_factor`. Received "
                f"size={size!r}, scale_factor={scale_factor!r}."
            )
        self.size = tuple(size) if isinstance(size, (list, tuple)) else size
        self.scale_factor = (
            tuple(float(f) for f in scale_factor)
            if isinstance(scale_factor, (list, tuple))
            else None
            if scale_factor is None
            else float(scale_factor)
        )
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(
            x, self.size, self.scale_factor, self.mode, self.align_corners,
            self.recompute_scale_factor,
        )  # fmt: skip

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        dims = len(in_shape) - 2
        if self.size is not None:
            out = self.size if isinstance(self.size, tuple) else (self.size,) * dims
        else:
            f = self.scale_factor
            fs = f if isinstance(f, tuple) else (f,) * dims
            out = tuple(int(n * s) for n, s in zip(in_shape[2:], fs, strict=True))
        return tuple(in_shape[:2]) + tuple(out)

    def extra_repr(self) -> str:
        what = (
            f"scale_factor={self.scale_factor}"
            if self.scale_factor is not None
            else f"size={self.size}"
        )
        return f"{what}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode="nearest")`` for (N, C, H, W)."""

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode="bilinear", align_corners=True)`` for (N, C, H, W)."""

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(Module):
    """(*, C r^2, H, W) -> (*, C, H r, W r) (sub-pixel convolution's rearrangement).

    Args:
        upscale_factor (int): r.

    Example:
        >>> import numpy, tinyconv
        >>> PixelShuffle(2)(tinyconv.tensor(numpy.ones((1, 8, 3, 3)))).shape
        (1, 2, 6, 6)
    """

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = check_positive_int("PixelShuffle", "upscale_factor", upscale_factor)

    def forward(self, x: Tensor) -> Tensor:
        return F.pixel_shuffle(x, self.upscale_factor)

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        r = self.upscale_factor
        *lead, c, h, w = in_shape
        return (*lead, c // (r * r), h * r, w * r)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H r, W r) -> (*, C r^2, H, W), the inverse of PixelShuffle.

    Args:
        downscale_factor (int): r.

    Example:
        >>> import numpy, tinyconv
        >>> PixelUnshuffle(2)(tinyconv.tensor(numpy.ones((1, 2, 6, 6)))).shape
        (1, 8, 3, 3)
    """

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = check_positive_int(
            "PixelUnshuffle", "downscale_factor", downscale_factor
        )

    def forward(self, x: Tensor) -> Tensor:
        return F.pixel_unshuffle(x, self.downscale_factor)

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        r = self.downscale_factor
        *lead, c, h, w = in_shape
        return (*lead, c * r * r, h // r, w // r)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
