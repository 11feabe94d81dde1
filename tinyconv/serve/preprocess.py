"""Turn what a user drew into what an MNIST model expects, in NumPy.

MNIST's own recipe (LeCun et al., "Gradient-based learning applied to document recognition",
1998): the digit is cropped to its ink, scaled so that its longer side fits a 20x20 box with its
aspect ratio kept (anti-aliased, hence grey levels), then placed in a 28x28 frame so that its
centre of mass sits at the frame's centre. ``mnist_preprocess`` does exactly that; a model of
another input size S gets a box of round(S * 20/28).

``decode_image`` reads the two forms ``POST /api/predict`` accepts: a 2-D array of grey levels
(nested lists, 0..255) or a ``data:image/png;base64,...`` URL (Pillow decodes it). Every
problem raises ``ImageError`` with a message meant for the person who sent the image.
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import Any

import numpy

MIN_SIDE = 8  # smallest image side accepted
MAX_SIDE = 2048  # largest image side accepted
EMPTY_LEVEL = 16.0  # an image whose brightest ink is below this (of 255) is empty
INK_FRACTION = 0.1  # pixels above this fraction of the brightest ink count for the crop


class ImageError(ValueError):
    """The request's image is unusable; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# ----------------------------------------------------------------------------- decoding
def decode_image(value: Any, invert: bool | str = "auto") -> numpy.ndarray:
    """The ink of an image as float32 (H, W) in [0, 255]: bright ink on a dark background.

    Args:
        value: nested lists (H rows of W numbers in 0..255), or a string holding a PNG/JPEG
            data URL (``data:image/png;base64,...``) or its bare base64 text.
        invert: True flips ``x -> 255 - x``; "auto" flips when the image's border is mostly
            bright (a dark digit on white paper). Default: "auto". An image with transparent
            pixels uses its alpha channel as the ink and is never flipped.

    Raises:
        ImageError: not an image, not 2-D, wrong size, values out of range (status 400), or
            Pillow missing for PNG input (status 501).
    """
    if isinstance(value, str):
        ink, from_alpha = _decode_data_url(value)
    elif isinstance(value, list):
        ink, from_alpha = _decode_array(value), False
    else:
        raise ImageError(
            f'"image" must be a 2-D array of grey levels or a PNG data URL, '
            f"got {type(value).__name__}"
        )
    _check_size(ink.shape)
    if invert not in (True, False, "auto"):
        raise ImageError(f'"invert" must be true, false or "auto", got {invert!r}')
    if not from_alpha and (invert is True or (invert == "auto" and _bright_border(ink))):
        ink = numpy.float32(255.0) - ink
    return ink


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


def _decode_data_url(text: str) -> tuple[numpy.ndarray, bool]:
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
        from PIL import Image  # noqa: PLC0415
    except ImportError:
        raise ImageError(
            "decoding PNG/JPEG needs Pillow (pip install pillow); or send the image as a 2-D "
            'array: {"image": [[0, 12, ...], ...]}',
            status=501,
        ) from None
    try:
        with Image.open(io.BytesIO(raw)) as img:
            _check_size((img.height, img.width))
            img.load()
            has_alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
            if has_alpha:
                alpha = numpy.asarray(img.convert("RGBA"), dtype=numpy.float32)[..., 3]
                if alpha.min() < 255:  # transparent paper: the alpha channel is the ink
                    return alpha, True
            grey = numpy.asarray(img.convert("L"), dtype=numpy.float32)
    except ImageError:
        raise
    except Exception as e:  # Pillow raises many kinds (UnidentifiedImageError, OSError, ...)
        raise ImageError(f'"image" is not a readable image ({type(e).__name__}: {e})') from None
    return grey, False


def _check_size(shape: tuple[int, ...]) -> None:
    h, w = shape
    if not (MIN_SIDE <= h <= MAX_SIDE and MIN_SIDE <= w <= MAX_SIDE):
        raise ImageError(
            f"wrong image size {h}x{w}: height and width must be within {MIN_SIDE}..{MAX_SIDE}"
        )


def _bright_border(x: numpy.ndarray) -> bool:
    border = numpy.concatenate([x[0], x[-1], x[:, 0], x[:, -1]])
    return float(border.mean()) > 127.0


# ------------------------------------------------------------------------- MNIST recipe
def area_resize(x: numpy.ndarray, out_h: int, out_w: int) -> numpy.ndarray:
    """Resize (H, W) to (out_h, out_w) by area averaging: each output pixel is the mean of the
    input area it covers (exact box filter; anti-aliases when shrinking).

    ``y = R_h @ x @ R_w.T`` where ``R[i, j]`` is the overlap of input pixel ``[j, j+1)`` with
    output pixel ``i``'s span ``[i*n/m, (i+1)*n/m)``, divided by the span's length n/m.

    Example:
        >>> area_resize(numpy.array([[0, 4], [8, 12]], numpy.float32), 1, 1)
        array([[6.]], dtype=float32)
    """
    return (_area_matrix(x.shape[0], out_h) @ x @ _area_matrix(x.shape[1], out_w).T).astype(
        numpy.float32
    )


def _area_matrix(n: int, m: int) -> numpy.ndarray:
    edges = numpy.arange(m + 1, dtype=numpy.float64) * (n / m)  # output spans in input units
    j = numpy.arange(n, dtype=numpy.float64)
    lo = numpy.maximum(edges[:-1, None], j[None, :])  # (m, n)
    hi = numpy.minimum(edges[1:, None], j[None, :] + 1.0)
    return numpy.clip(hi - lo, 0.0, None) / (n / m)


def mnist_preprocess(ink: numpy.ndarray, size: int = 28) -> numpy.ndarray | None:
    """Crop to the ink, scale into a box keeping the aspect ratio, centre by centre of mass.

    Args:
        ink: float (H, W), bright ink on a dark background, 0..255.
        size (int): side of the output frame. Default: 28 (MNIST's), with a 20x20 box.

    Returns:
        uint8 (size, size) with the brightest ink at 255, or None when the image is empty
        (its brightest pixel is below 16 of 255).

    Example:
        >>> pad = numpy.zeros((280, 280), numpy.float32)
        >>> pad[40:240, 130:150] = 255                # a vertical stroke: a "1"
        >>> img = mnist_preprocess(pad)
        >>> img.shape, int((img.max(axis=1) > 0).sum()), int((img.max(axis=0) > 0).sum())
        ((28, 28), 20, 2)
    """
    top = float(ink.max()) if ink.size else 0.0
    if top < EMPTY_LEVEL:
        return None
    rows = numpy.flatnonzero((ink > INK_FRACTION * top).any(axis=1))
    cols = numpy.flatnonzero((ink > INK_FRACTION * top).any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] * numpy.float32(255.0 / top)
    box = max(1, round(size * 20 / 28))
    h, w = crop.shape
    scale = box / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = area_resize(crop, nh, nw)  # (nh, nw), longer side = box
    mass = float(small.sum())
    cy = float((small.sum(axis=1) * numpy.arange(nh)).sum()) / mass
    cx = float((small.sum(axis=0) * numpy.arange(nw)).sum()) / mass
    centre = size / 2.0  # MNIST's digits have their centre of mass at pixel index (14, 14)
    y0 = min(max(round(centre - cy), 0), size - nh)  # keep the whole glyph inside the frame
    x0 = min(max(round(centre - cx), 0), size - nw)
    out = numpy.zeros((size, size), dtype=numpy.uint8)
    out[y0 : y0 + nh, x0 : x0 + nw] = numpy.clip(numpy.rint(small), 0, 255).astype(numpy.uint8)
    return out
