"""Read the image of a ``POST /api/predict`` request; the recipes live in ``data.images``.

``decode_payload`` reads the two forms the endpoint accepts: a 2-D array of grey levels (nested
lists, 0..255) or a ``data:image/png;base64,...`` URL (decoded by ``tinyconv.data.images.decode``,
the same decoder as ``tinyconv predict``, so a file gives the same input either way). Every
problem raises ``ImageError`` with a message meant for the person who sent the image.
``mnist_preprocess`` and ``area_resize`` are ``tinyconv.data.images``'s, kept here by name.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy

from ..data.images import Decoded, area_resize, bright_border, decode, mnist_preprocess

__all__ = ["ImageError", "area_resize", "decode_image", "decode_payload", "mnist_preprocess"]

MIN_SIDE = 8  # smallest image side accepted
MAX_SIDE = 2048  # largest image side accepted


class ImageError(ValueError):
    """The request's image is unusable; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# ----------------------------------------------------------------------------- decoding
def decode_payload(value: Any) -> Decoded:
    """The request's ``"image"`` decoded (grey levels 0..255, alpha if transparent).

    Args:
        value: nested lists (H rows of W numbers in 0..255), or a string holding a PNG/JPEG
            data URL (``data:image/png;base64,...``) or its bare base64 text.

    Raises:
        ImageError: not an image, not 2-D, wrong size, values out of range (status 400), or
            Pillow missing for PNG input (status 501).
    """
    if isinstance(value, str):
        img = _decode_data_url(value)
    elif isinstance(value, list):
        img = Decoded(_decode_array(value)[..., None])
    else:
        raise ImageError(
            f'"image" must be a 2-D array of grey levels or a PNG data URL, '
            f"got {type(value).__name__}"
        )
    _check_size(img.pixels.shape[:2])
    return img


def decode_image(value: Any, invert: bool | str = "auto") -> numpy.ndarray:
    """The ink of an image as float32 (H, W) in [0, 255]: bright ink on a dark background.

    ``decode_payload``, then grey; ``invert``: True flips ``x -> 255 - x``; "auto" flips when
    the image's border is mostly bright. An image with transparent pixels uses its alpha
    channel as the ink and is never flipped.
    """
    img = decode_payload(value)
    if invert not in (True, False, "auto"):
        raise ImageError(f'"invert" must be true, false or "auto", got {invert!r}')
    if img.alpha is not None:
        return img.alpha
    p = img.pixels
    ink = p[..., 0] if p.shape[-1] == 1 else p @ numpy.asarray([0.299, 0.587, 0.114], "f4")
    if invert is True or (invert == "auto" and bright_border(ink)):
        ink = numpy.float32(255.0) - ink
    return ink.astype(numpy.float32)


def _decode_array(rows: list[Any]) -> numpy.ndarray:
    try:
        arr = numpy.asarray(rows, dtype=numpy.float32)
    except (ValueError, TypeError):
        raise ImageError(
            '"image" must be a rectangular 2-D array of numbers (H rows of W grey levels 0..255)'
        ) from None
    if arr.ndim != 2:
        raise ImageError(
            f'"image" must be a 2-D array (H rows of W grey levels), got {arr.ndim} dimension(s) '
            f"of shape {arr.shape}"
        )
    if arr.size and not numpy.isfinite(arr).all():
        raise ImageError('"image" holds a value that is not a finite number')
    if arr.size and (arr.min() < 0 or arr.max() > 255):
        raise ImageError(
            f'"image" values must be grey levels in 0..255, got {float(arr.min()):g}..'
            f"{float(arr.max()):g}"
        )
    return arr


def _decode_data_url(text: str) -> Decoded:
    head, sep, payload = text.partition(",")
    if sep:
        if not head.startswith("data:image/") or not head.endswith(";base64"):
            raise ImageError(
                f'"image" string must be a base64 image data URL such as '
                f'"data:image/png;base64,...", got one starting {head[:40]!r}'
            )
    else:
        payload = text
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ImageError('"image" string is not valid base64') from None
    try:
        return decode(raw)
    except ImportError:
        raise ImageError(
            "decoding PNG/JPEG needs Pillow (pip install pillow); or send the image as a 2-D "
            'array: {"image": [[0, 12, ...], ...]}',
            status=501,
        ) from None
    except ValueError as e:
        raise ImageError(f'"image" is not a readable image ({e})') from None


def _check_size(shape: tuple[int, ...]) -> None:
    h, w = shape
    if not (MIN_SIDE <= h <= MAX_SIDE and MIN_SIDE <= w <= MAX_SIDE):
        raise ImageError(
            f"wrong image size {h}x{w}: height and width must be within {MIN_SIDE}..{MAX_SIDE}"
        )
