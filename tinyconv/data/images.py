"""One way from an image (a file, PNG/JPEG bytes or an array) to a model's input.

Every front-end (``tinyconv predict``, ``evaluate`` on a folder, ``viz``, the playground of
``serve`` and ``load_image``/``ImageFolder``) goes through ``decode`` then ``prepare``, with the
recipe the model file names in its metadata (``"preprocess"``, written by ``tinyconv train``
from the dataset; ``recipe_for``):

- ``"mnist"`` (digits like MNIST's): the ink is bright on dark (a light page is flipped), the
  paper's level and grain are taken away, then MNIST's own recipe (LeCun et al., 1998): crop to
  the ink, scale so that the longer side fits a 20x20 box keeping the aspect ratio (area
  averaging, hence grey levels), place in the 28x28 frame so that the centre of mass is at its
  centre. A model of input size S gets a box of round(S * 20/28).
- ``"resize"`` (anything else): the whole image resized to (H, W) by area averaging, the aspect
  ratio not kept; grey images with a light border are flipped when ``invert="auto"``.

The result is float32 ``(C, H, W)`` grey levels in 0..255 (what the model sees before the
dataset's normalisation ``(x/255 - mean) / std``, ``normalize``).

``decode`` keeps an image's full range and precision: 16-bit grey and colour (0..65535 -> 0..255
as float32, no clipping, no dropped low byte: 16-bit RGB/RGBA/grey+alpha PNGs are read with
pypng, since Pillow keeps 8 bits of them; without pypng they are read at 8 bits with a
warning), palette, alpha, CMYK and the EXIF orientation (Pillow decodes; it is needed for files
only, arrays work without it).
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy

RECIPES = ("mnist", "resize")
MNIST_LIKE = ("mnist", "mnist-sample", "emnist", "kmnist", "usps")
EMPTY_LEVEL = 16.0  # an image whose brightest ink (above the paper) is below this is blank
INK_FRACTION = 0.1  # pixels above this fraction of the brightest ink count for the crop
GRAIN_SIGMAS = 3.0  # paper grain: levels within this many noise sigmas of the paper are paper


# ----------------------------------------------------------------------------- recipes
def recipe_for(dataset: str | None) -> str:
    """The recipe of a dataset name: ``"mnist"`` for MNIST-like digits, else ``"resize"``.

    Example:
        >>> recipe_for("mnist"), recipe_for("cifar10"), recipe_for("/data/my_photos")
        ('mnist', 'resize', 'resize')
    """
    return "mnist" if str(dataset or "").strip().lower() in MNIST_LIKE else "resize"


def resolve_recipe(metadata: Mapping[str, Any] | None, override: str | None = "auto") -> str:
    """The recipe to use: ``override`` unless it is "auto"/None, else the model file's.

    A file written before recipes were recorded gets ``recipe_for`` of its dataset.

    Raises:
        ValueError: an unknown recipe name.
    """
    name = override if override not in (None, "auto") else None
    meta = dict(metadata or {})
    if name is None:
        name = meta.get("preprocess") or recipe_for(meta.get("dataset"))
    if name not in RECIPES:
        raise ValueError(f"preprocess must be one of auto, {', '.join(RECIPES)}; got {name!r}")
    return str(name)


# ----------------------------------------------------------------------------- decoding
class BlankImageWarning(UserWarning):
    """An image in which no ink was found: a model's answer for it means nothing."""


@dataclass
class Decoded:
    """A decoded image: ``pixels`` float32 (H, W, 1) grey or (H, W, 3) RGB in 0..255, and
    ``alpha`` float32 (H, W) in 0..255 when the image has transparent pixels, else None."""

    pixels: numpy.ndarray
    alpha: numpy.ndarray | None = None
    name: str = "image"


def _pil() -> Any:
    try:
        from PIL import Image, ImageOps  # noqa: PLC0415
    except ImportError as e:
        raise ImportError(
            "reading image files needs Pillow, which is not installed: pip install "
            "'tinyconv[data]' (or pass the image as a NumPy array)"
        ) from e
    return Image, ImageOps


def decode(source: str | os.PathLike[str] | bytes | numpy.ndarray) -> Decoded:
    """Decode a file, PNG/JPEG bytes, or an array into float32 grey levels 0..255.

    Arrays: (H, W) grey, (H, W, 1|3|4) or (1|3|4, H, W); uint8 is 0..255, uint16 0..65535,
    floats are taken as 0..1 when their maximum is at most 1, else as 0..255.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a readable image (the message names the file).
        ImportError: Pillow is missing for a file or bytes.
    """
    if isinstance(source, numpy.ndarray):
        return _from_array(source)
    Image, ImageOps = _pil()
    if isinstance(source, (bytes, bytearray)):
        name, stream = "image", io.BytesIO(bytes(source))
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"image file not found: {path}")
        name, stream = str(path), path
    try:
        with Image.open(stream) as img:
            img.load()
            if img.format == "PNG" and img.mode in ("RGB", "RGBA", "LA"):
                deep = _png16(source if isinstance(source, (bytes, bytearray)) else path, img, name)
                if deep is not None:
                    return Decoded(*deep, name)
            return _from_pil(ImageOps.exif_transpose(img), name)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise ValueError(f"{name}: cannot read the image ({type(e).__name__}: {e})") from e


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _is_16bit_colour_png(head: bytes) -> bool:
    """The first 26 bytes are a PNG's IHDR with bit depth 16 and colour type RGB (2),
    grey+alpha (4) or RGBA (6): the files Pillow reads at 8 bits."""
    return (
        len(head) >= 26 and head.startswith(PNG_SIGNATURE) and head[12:16] == b"IHDR"
        and head[24] == 16 and head[25] in (2, 4, 6)
    )  # fmt: skip


def _png16(source: bytes | bytearray | Path, img: Any, name: str) -> tuple[Any, Any] | None:
    """(pixels, alpha) of a 16-bit colour PNG at full precision (pypng), else None: an 8-bit
    file, or pypng missing (then Pillow's 8 bits, with a warning)."""
    if isinstance(source, Path):
        with open(source, "rb") as f:
            if not _is_16bit_colour_png(f.read(26)):
                return None
            f.seek(0)
            blob = f.read()
    elif _is_16bit_colour_png(bytes(source[:26])):
        blob = bytes(source)
    else:
        return None
    try:
        import png  # noqa: PLC0415  (pypng)
    except ImportError:
        warnings.warn(
            f"{name}: a 16-bit colour PNG, read at 8 bits (Pillow's); pip install pypng "
            "(in tinyconv[data]) to read it in full",
            stacklevel=4,
        )
        return None
    try:
        width, height, rows, info = png.Reader(bytes=blob).asDirect()
        a = numpy.vstack([numpy.asarray(r, numpy.uint16) for r in rows])
    except png.Error as e:
        raise ValueError(f"pypng: {e}") from None
    a = a.reshape(height, width, int(info["planes"]))
    a = _orient(a, img.getexif().get(0x0112, 1))
    top = float(2 ** int(info["bitdepth"]) - 1)
    x = a.astype(numpy.float32) * numpy.float32(255.0 / top)
    C = x.shape[-1]
    alpha = x[..., C - 1] if info["alpha"] and float(a[..., C - 1].min()) < top else None
    return numpy.ascontiguousarray(x[..., : 3 if C >= 3 else 1]), alpha


def _orient(a: numpy.ndarray, orientation: int) -> numpy.ndarray:
    """(H, W, C) turned upright by its EXIF orientation 1..8, as ``ImageOps.exif_transpose``:
    2 mirror, 3 rotate 180, 4 flip, 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate
    90 counter-clockwise."""
    if orientation in (5, 6, 7, 8):
        a = numpy.swapaxes(a, 0, 1)  # transpose; then 6 mirrors it, 8 flips it, 7 both
        orientation = {5: 1, 6: 2, 7: 3, 8: 4}[orientation]
    if orientation in (2, 3):
        a = a[:, ::-1]
    if orientation in (3, 4):
        a = a[::-1]
    return numpy.ascontiguousarray(a)


def _from_pil(img: Any, name: str) -> Decoded:
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":  # 16-bit grey: 0..65535
        a = numpy.asarray(img, dtype=numpy.float64)
        top = 65535.0 if mode.startswith("I;16") or a.max() > 255 else 255.0
        return Decoded((numpy.clip(a, 0, top) * (255.0 / top)).astype(numpy.float32)[..., None],
                       None, name)  # fmt: skip
    if mode == "F":
        a = numpy.asarray(img, dtype=numpy.float32)
        return _from_array(a, name)
    alpha = None
    has_alpha = mode in ("RGBA", "LA", "La", "PA", "RGBa") or "transparency" in img.info
    if has_alpha:
        rgba = numpy.asarray(img.convert("RGBA"), dtype=numpy.float32)
        if rgba[..., 3].min() < 255:
            alpha = rgba[..., 3]
        grey_source = mode in ("LA", "La") or (mode == "P" and _palette_is_grey(img))
        pixels = rgba[..., :1] if grey_source else rgba[..., :3]
        return Decoded(numpy.ascontiguousarray(pixels), alpha, name)
    if mode in ("L", "1") or (mode == "P" and _palette_is_grey(img)):
        return Decoded(numpy.asarray(img.convert("L"), dtype=numpy.float32)[..., None], None, name)
    return Decoded(numpy.asarray(img.convert("RGB"), dtype=numpy.float32), None, name)  # CMYK, P...


def _palette_is_grey(img: Any) -> bool:
    rgb = numpy.asarray(img.convert("RGB"), dtype=numpy.int16)
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())


def _from_array(a: numpy.ndarray, name: str = "array") -> Decoded:
    arr = numpy.asarray(a)
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
        arr = arr.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[-1] not in (1, 3, 4) or min(arr.shape[:2]) < 1:
        raise ValueError(
            f"{name}: an image array must be (H, W), (H, W, 1|3|4) or (1|3|4, H, W), "
            f"got shape {tuple(numpy.shape(a))}"
        )
    if arr.dtype == numpy.uint16:
        x = arr.astype(numpy.float32) * numpy.float32(255.0 / 65535.0)
    elif arr.dtype.kind in "ui" or arr.dtype == numpy.bool_:
        x = arr.astype(numpy.float32) * (255.0 if arr.dtype == numpy.bool_ else 1.0)
    elif arr.dtype.kind == "f":
        x = arr.astype(numpy.float32)
        if not numpy.isfinite(x).all():
            raise ValueError(f"{name}: the image holds a value that is not a finite number")
        if x.size and float(x.max()) <= 1.0:
            x = x * numpy.float32(255.0)
    else:
        raise ValueError(f"{name}: an image array must hold numbers, got dtype {arr.dtype}")
    x = numpy.clip(x, 0.0, 255.0)
    alpha = None
    if x.shape[-1] == 4:
        alpha = x[..., 3] if float(x[..., 3].min()) < 255.0 else None
        x = x[..., :3]
    return Decoded(numpy.ascontiguousarray(x, dtype=numpy.float32), alpha, name)


def to_channels(pixels: numpy.ndarray, channels: int) -> numpy.ndarray:
    """(H, W, 1|3) -> (H, W, channels): grey = 0.299 R + 0.587 G + 0.114 B (ITU-R 601-2, as
    Pillow's "L"); grey to RGB repeats it."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    if pixels.shape[-1] == channels:
        return pixels
    if channels == 3:
        return numpy.repeat(pixels, 3, axis=-1)
    w = numpy.asarray([0.299, 0.587, 0.114], dtype=numpy.float32)
    return (pixels @ w)[..., None].astype(numpy.float32)


# ------------------------------------------------------------------------ the recipes
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


def bright_border(x: numpy.ndarray) -> bool:
    """True when the border of (H, W) is mostly bright (mean above 127): a light page."""
    border = numpy.concatenate([x[0], x[-1], x[:, 0], x[:, -1]])
    return float(border.mean()) > 127.0


def remove_paper(ink: numpy.ndarray) -> numpy.ndarray:
    """Take the paper away from bright-on-dark ink (H, W): subtract the border's median level
    plus ``GRAIN_SIGMAS`` times its grain (1.4826 * median absolute deviation), clip at 0.

    A clean image (black border) is returned unchanged.
    """
    border = numpy.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]])
    level = float(numpy.median(border))
    grain = 1.4826 * float(numpy.median(numpy.abs(border - level)))
    floor = level + GRAIN_SIGMAS * grain
    if floor <= 0.0:
        return ink
    return numpy.clip(ink - numpy.float32(floor), 0.0, None).astype(numpy.float32)


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


def _check_invert(invert: bool | str) -> None:
    if invert != "auto" and not isinstance(invert, bool):
        raise ValueError(f"invert must be True, False or 'auto', got {invert!r}")


def prepare(
    image: Decoded | numpy.ndarray,
    shape: Sequence[int],
    recipe: str = "resize",
    invert: bool | str = "auto",
) -> tuple[numpy.ndarray, bool]:
    """What the model sees: float32 ``(C, H, W)`` in 0..255, and whether the image is blank.

    Args:
        image: a ``Decoded`` image, or an array as ``decode`` takes it.
        shape: the model's ``(C, H, W)``.
        recipe (str): "mnist" or "resize" (see the module docstring). Default: "resize".
        invert (bool or "auto"): flip ``x -> 255 - x``; "auto" flips a grey image whose border
            is light. The "mnist" recipe with transparent pixels takes the alpha channel as the
            ink and never flips. Default: "auto".

    Returns:
        ``(x, blank)``: blank is True when no ink was found (mnist: nothing above the paper;
        resize: a flat image); x is then all zeros for "mnist".

    Raises:
        ValueError: a bad recipe, invert or shape; "mnist" for a non-square or colour model.
    """
    _check_invert(invert)
    if recipe not in RECIPES:
        raise ValueError(f"preprocess must be one of {', '.join(RECIPES)}; got {recipe!r}")
    C, H, W = (int(s) for s in shape)
    img = image if isinstance(image, Decoded) else decode(image)
    if recipe == "mnist":
        if H != W:
            raise ValueError(f"the mnist recipe needs a square input, the model's is {H}x{W}")
        if img.alpha is not None:  # transparent paper: the alpha channel is the ink
            ink = img.alpha
        else:
            ink = to_channels(img.pixels, 1)[..., 0]
            if invert is True or (invert == "auto" and bright_border(ink)):
                ink = numpy.float32(255.0) - ink
            ink = remove_paper(ink)
        digit = mnist_preprocess(ink, H)
        if digit is None:
            return numpy.zeros((C, H, W), numpy.float32), True
        return numpy.repeat(digit.astype(numpy.float32)[None], C, axis=0), False
    pixels = img.pixels
    if img.alpha is not None:  # put transparent pixels on white paper
        a = img.alpha[..., None] / numpy.float32(255.0)
        pixels = pixels * a + numpy.float32(255.0) * (1 - a)
    pixels = to_channels(pixels, C)
    if C == 1 and (invert is True or (invert == "auto" and bright_border(pixels[..., 0]))):
        pixels = numpy.float32(255.0) - pixels
    elif C != 1 and invert is True:
        pixels = numpy.float32(255.0) - pixels
    x = numpy.stack([area_resize(pixels[..., c], H, W) for c in range(C)])
    x = numpy.clip(x, 0.0, 255.0).astype(numpy.float32)
    return x, bool(float(x.max()) - float(x.min()) < 1.0)


def normalize(
    x: numpy.ndarray, mean: Sequence[float] = (0.0,), std: Sequence[float] = (1.0,)
) -> numpy.ndarray:
    """``(x / 255 - mean) / std`` per channel of float (..., C, H, W) grey levels; float32."""
    C = x.shape[-3]
    m = numpy.resize(numpy.asarray(mean, numpy.float32), C).reshape(C, 1, 1)
    s = numpy.resize(numpy.asarray(std, numpy.float32), C).reshape(C, 1, 1)
    return ((x.astype(numpy.float32) / numpy.float32(255.0) - m) / s).astype(numpy.float32)


def prepare_for_model(
    source: str | os.PathLike[str] | bytes | numpy.ndarray | Decoded,
    metadata: Mapping[str, Any],
    shape: Sequence[int] | None = None,
    preprocess: str | None = "auto",
    invert: bool | str = "auto",
) -> tuple[numpy.ndarray, numpy.ndarray, bool]:
    """An image as a saved model wants it, from its metadata (recipe, mean, std, input shape).

    Returns:
        ``(x, seen, blank)``: x float32 (C, H, W) normalised for the model, seen float32
        (C, H, W) 0..255 (what the model saw, before normalisation), blank as ``prepare``; a
        blank image also warns (``BlankImageWarning``).

    Example:
        >>> meta = {"dataset": "mnist", "input_shape": [1, 28, 28], "mean": [0.1307],
        ...         "std": [0.3081]}
        >>> page = numpy.full((100, 80), 240, numpy.uint8); page[20:80, 35:45] = 30
        >>> x, seen, blank = prepare_for_model(page, meta)
        >>> x.shape, blank, int((seen[0].max(axis=1) > 0).sum())
        ((1, 28, 28), False, 20)
    """
    meta = dict(metadata)
    shape = tuple(shape or meta.get("input_shape") or ())
    if len(shape) != 3:
        raise ValueError("the model's input shape (C, H, W) is not known: pass shape")
    recipe = resolve_recipe(meta, preprocess)
    img = source if isinstance(source, Decoded) else decode(source)
    seen, blank = prepare(img, shape, recipe, invert)
    if blank:
        warnings.warn(
            f"{img.name}: no ink found (a blank image); the model's answer for it means nothing",
            BlankImageWarning,
            stacklevel=2,
        )
    x = normalize(seen, meta.get("mean", (0.0,)), meta.get("std", (1.0,)))
    return x, seen, blank
