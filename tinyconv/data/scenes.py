"""Scenes of real MNIST digits for segmentation and detection, generated from a seed.

Classification sees one centred digit; segmentation and detection need an image that holds
several objects somewhere. These functions paste real MNIST digits onto a black canvas::

    images, masks = segmentation_scenes(1000, "test", seed=0)
    # uint8 (1000, 1, 64, 64); int64 (1000, 64, 64): 0-9 ink of that digit, 10 background
    images, boxes, labels = detection_scenes(1000, "test", seed=0)
    # uint8 (1000, 1, 96, 96); per image float32 (k, 4) boxes (x0, y0, x1, y1), int64 (k,)

Rules, the same for every seed:

* Training scenes use only training digits and test scenes only test digits (``split``), so a
  test score never sees a digit the model trained on.
* A digit's **ink** is its pixels >= 128 (of 255). Segmentation labels each ink pixel with its
  digit's class and everything else (the canvas and the faint anti-aliased rims) with
  ``BACKGROUND`` = 10.
* Digits never share ink: a position whose ink would touch another digit's (segmentation) or
  whose box would come within ``GAP`` pixels of another box (detection) is drawn again; a
  digit that finds no place in 200 draws is left out, so a crowded scene can hold fewer digits
  than it drew (about 2 % of the detection digits at the defaults; segmentation
  digits almost never).
* Detection digits are cropped to their ink, resized (bilinear) to a height drawn uniformly in
  ``scale`` (20-40 px; the width keeps the digit's aspect ratio), and their box is the resized
  crop's extent on the canvas, in continuous pixel coordinates: a box (x0, y0, x1, y1) covers the
  pixels x0 <= x < x1, y0 <= y < y1.
* Everything is drawn from ``numpy.random.default_rng([seed, split])``: the same arguments give
  the same scenes on every machine.

The digits come from ``source``: a dataset name (default: full MNIST when it is in the data
directory, else the embedded ``mnist-sample``) or an ``(images, labels)`` pair.
"""

from __future__ import annotations

import os
from typing import Any

import numpy

from .datasets import default_dataset, load

BACKGROUND = 10  # segmentation label of every pixel that is not a digit's ink
INK = 128  # a pixel of value >= INK (of 255) is ink
GAP = 1  # detection: boxes stay at least this many pixels apart
TRIES = 200  # positions drawn for one digit before it is left out

_SPLITS = {"train": 0, "test": 1}


def _source(
    source: Any, split: str, data_dir: str | os.PathLike[str] | None
) -> tuple[numpy.ndarray, numpy.ndarray]:
    if split not in _SPLITS:
        raise ValueError(f"scenes: split must be 'train' or 'test', got {split!r}")
    if source is None:
        source = default_dataset(data_dir)
    if isinstance(source, str):
        images, labels = load(source, split, data_dir=data_dir)
    else:
        try:
            images, labels = source
        except (TypeError, ValueError):
            raise TypeError(
                "scenes: source must be a dataset name or an (images, labels) pair, got "
                f"{type(source).__name__}"
            ) from None
    images, labels = numpy.asarray(images), numpy.asarray(labels)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3 or images.dtype != numpy.uint8 or len(images) != len(labels):
        raise ValueError(
            "scenes: expected uint8 digit images (N, 1, H, W) or (N, H, W) and N labels, got "
            f"images {images.shape} {images.dtype} and labels {labels.shape}"
        )
    return images, labels.astype(numpy.int64)


def _check_count(what: str, n: int, low: int, high: int) -> None:
    if not isinstance(n, (int, numpy.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"{what}: n must be an integer >= 0, got {n!r}")
    if not (1 <= low <= high):
        raise ValueError(
            f"{what}: digits must be (low, high) with 1 <= low <= high, got {(low, high)}"
        )


def ink_box(digit: numpy.ndarray) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) of the pixels >= INK of a 2-D digit (half-open); the whole image if none."""
    rows = numpy.flatnonzero((digit >= INK).any(axis=1))
    cols = numpy.flatnonzero((digit >= INK).any(axis=0))
    if len(rows) == 0:
        return 0, digit.shape[0], 0, digit.shape[1]
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def resize(image: numpy.ndarray, out_h: int, out_w: int) -> numpy.ndarray:
    """Bilinear resize of a 2-D uint8 image (pixel centres aligned, as PIL and OpenCV).

    Output pixel (i, j) samples the input at ((i + 0.5) * h / out_h - 0.5, ...), clamped to the
    image, and mixes the four nearest pixels by their distances.

    Example:
        >>> resize(numpy.array([[0, 200]], numpy.uint8), 1, 4).tolist()
        [[0, 50, 150, 200]]
    """
    h, w = image.shape
    img = image.astype(numpy.float32)

    def axis(n_out: int, n_in: int) -> tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
        pos = (numpy.arange(n_out, dtype=numpy.float32) + 0.5) * (n_in / n_out) - 0.5
        pos = numpy.clip(pos, 0, n_in - 1)
        lo = numpy.floor(pos).astype(numpy.int64)
        hi = numpy.minimum(lo + 1, n_in - 1)
        return lo, hi, (pos - lo).astype(numpy.float32)

    y0, y1, fy = axis(out_h, h)
    x0, x1, fx = axis(out_w, w)
    rows = img[y0] * (1 - fy)[:, None] + img[y1] * fy[:, None]  # (out_h, w)
    out = rows[:, x0] * (1 - fx)[None, :] + rows[:, x1] * fx[None, :]  # (out_h, out_w)
    return numpy.clip(numpy.rint(out), 0, 255).astype(numpy.uint8)


def segmentation_scenes(
    n: int,
    split: str = "train",
    seed: int = 0,
    size: int = 64,
    digits: tuple[int, int] = (1, 3),
    source: Any = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> tuple[numpy.ndarray, numpy.ndarray]:
    """``n`` canvases of ``size`` x ``size`` with 1-3 MNIST digits and their per-pixel labels.

    Each scene draws a digit count uniformly in ``digits`` and pastes that many 28x28 digits of
    ``split`` at random integer positions (composited by maximum), their ink never touching.

    Args:
        n (int): number of scenes.
        split (str): ``"train"`` or ``"test"``: which MNIST digits to use. Default: "train".
        seed (int): the scenes are a function of (seed, split). Default: 0.
        size (int): canvas height and width, >= 28. Default: 64.
        digits (tuple): (fewest, most) digits per scene. Default: (1, 3).
        source: dataset name or ``(images, labels)``. Default: full MNIST, else mnist-sample.
        data_dir: where the dataset files are (default ``$TINYCONV_DATA``).

    Returns:
        ``(images, masks)``: uint8 ``(n, 1, size, size)`` and int64 ``(n, size, size)`` with
        values 0-9 (ink of that digit) and ``BACKGROUND`` = 10.

    Example:
        >>> x, m = segmentation_scenes(2, "test", seed=0, source="mnist-sample")
        >>> x.shape, m.shape, int(m.max())
        ((2, 1, 64, 64), (2, 64, 64), 10)
    """
    _check_count("segmentation_scenes", n, *digits)
    if size < 28:
        raise ValueError(f"segmentation_scenes: size must be >= 28 (a digit is 28x28), got {size}")
    pool, pool_labels = _source(source, split, data_dir)
    dh, dw = pool.shape[1:]
    rng = numpy.random.default_rng([seed, _SPLITS[split]])
    images = numpy.zeros((n, 1, size, size), numpy.uint8)
    masks = numpy.full((n, size, size), BACKGROUND, numpy.int64)
    for i in range(n):
        canvas, mask = images[i, 0], masks[i]
        for _ in range(int(rng.integers(digits[0], digits[1] + 1))):
            k = int(rng.integers(len(pool)))
            ink = pool[k] >= INK
            taken = _dilate(mask != BACKGROUND)  # others' ink and a 1-pixel rim around it
            for _ in range(TRIES):
                y, x = (int(v) for v in rng.integers(0, size - dh + 1, 2))
                if not (ink & taken[y : y + dh, x : x + dw]).any():
                    break
            else:
                continue  # no room for this digit
            numpy.maximum(
                canvas[y : y + dh, x : x + dw], pool[k], out=canvas[y : y + dh, x : x + dw]
            )
            mask[y : y + dh, x : x + dw][ink] = pool_labels[k]
    return images, masks


def _dilate(a: numpy.ndarray) -> numpy.ndarray:
    """3x3 binary dilation of a 2-D bool array."""
    out = a.copy()
    out[1:] |= a[:-1]
    out[:-1] |= a[1:]
    grown = out.copy()
    grown[:, 1:] |= out[:, :-1]
    grown[:, :-1] |= out[:, 1:]
    return grown


def detection_scenes(
    n: int,
    split: str = "train",
    seed: int = 0,
    size: int = 96,
    digits: tuple[int, int] = (1, 5),
    scale: tuple[int, int] = (20, 40),
    source: Any = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> tuple[numpy.ndarray, list[numpy.ndarray], list[numpy.ndarray]]:
    """``n`` canvases of ``size`` x ``size`` with 1-5 MNIST digits of random size, and their boxes.

    Each digit is cropped to its ink, resized to a height drawn uniformly in ``scale`` (width in
    proportion), and pasted where its box keeps ``GAP`` pixels from every other box. A digit
    that finds no such place in ``TRIES`` random positions is left out, so a crowded scene can
    hold fewer digits than were drawn for it (never fewer than one): with the defaults, 2.3 %
    of the digits drawn for 1,000 training scenes and 1.8 % for 1,000 test scenes (seed 0).

    Args:
        n (int): number of scenes.
        split (str): ``"train"`` or ``"test"``. Default: "train".
        seed (int): the scenes are a function of (seed, split). Default: 0.
        size (int): canvas height and width. Default: 96.
        digits (tuple): (fewest, most) digits per scene. Default: (1, 5).
        scale (tuple): (smallest, largest) digit height in pixels. Default: (20, 40).
        source: dataset name or ``(images, labels)``. Default: full MNIST, else mnist-sample.
        data_dir: where the dataset files are.

    Returns:
        ``(images, boxes, labels)``: uint8 ``(n, 1, size, size)``; per scene a float32 ``(k, 4)``
        array of boxes ``(x0, y0, x1, y1)`` and an int64 ``(k,)`` array of classes.

    Example:
        >>> x, boxes, labels = detection_scenes(3, "test", seed=1, source="mnist-sample")
        >>> x.shape, [len(b) == len(c) for b, c in zip(boxes, labels)]
        ((3, 1, 96, 96), [True, True, True])
    """
    _check_count("detection_scenes", n, *digits)
    lo, hi = scale
    if not (1 <= lo <= hi <= size):
        raise ValueError(
            f"detection_scenes: scale must satisfy 1 <= low <= high <= size, got {scale}"
        )
    pool, pool_labels = _source(source, split, data_dir)
    rng = numpy.random.default_rng([seed, _SPLITS[split]])
    images = numpy.zeros((n, 1, size, size), numpy.uint8)
    all_boxes: list[numpy.ndarray] = []
    all_labels: list[numpy.ndarray] = []
    for i in range(n):
        canvas = images[i, 0]
        boxes: list[tuple[int, int, int, int]] = []
        labels: list[int] = []
        for _ in range(int(rng.integers(digits[0], digits[1] + 1))):
            k = int(rng.integers(len(pool)))
            y0, y1, x0, x1 = ink_box(pool[k])
            crop = pool[k, y0:y1, x0:x1]
            h = int(rng.integers(lo, hi + 1))
            w = max(1, min(size, round(crop.shape[1] * h / crop.shape[0])))
            digit = resize(crop, h, w)
            for _ in range(TRIES):
                y = int(rng.integers(0, size - h + 1))
                x = int(rng.integers(0, size - w + 1))
                if all(
                    x + w + GAP <= bx0 or bx1 + GAP <= x or y + h + GAP <= by0 or by1 + GAP <= y
                    for bx0, by0, bx1, by1 in boxes
                ):
                    break
            else:
                continue
            numpy.maximum(canvas[y : y + h, x : x + w], digit, out=canvas[y : y + h, x : x + w])
            boxes.append((x, y, x + w, y + h))
            labels.append(int(pool_labels[k]))
        all_boxes.append(numpy.array(boxes, numpy.float32).reshape(-1, 4))
        all_labels.append(numpy.array(labels, numpy.int64))
    return images, all_boxes, all_labels


def window_samples(
    n: int,
    split: str = "train",
    seed: int = 0,
    background: float = 0.5,
    height: tuple[int, int] = (17, 23),
    source: Any = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> tuple[numpy.ndarray, numpy.ndarray]:
    """28x28 windows for a sliding-window classifier: centred digits, or class 10 (no digit).

    A digit window holds one digit cropped to its ink, resized to a height drawn in ``height``
    (MNIST's digits are about 20 pixels tall) and centred within 2 pixels. A background window
    (probability ``background``) is what a window slid over a scene sees when it is *not* on a
    digit of its size: nothing (1 in 10), a digit off-centre by 8-16 pixels, a digit so large
    that only a fragment shows (height 34-48), or one too small (height 7-11).

    Returns:
        ``(images, labels)``: uint8 ``(n, 1, 28, 28)`` and int64 ``(n,)``, 0-9 or ``BACKGROUND``.

    Example:
        >>> x, y = window_samples(4, "test", seed=0, source="mnist-sample")
        >>> x.shape, y.tolist()
        ((4, 1, 28, 28), [6, 10, 1, 10])
    """
    _check_count("window_samples", n, 1, 1)
    pool, pool_labels = _source(source, split, data_dir)
    rng = numpy.random.default_rng([seed, _SPLITS[split], 2])
    images = numpy.zeros((n, 1, 28, 28), numpy.uint8)
    labels = numpy.empty(n, numpy.int64)
    for i in range(n):
        k = int(rng.integers(len(pool)))
        y0, y1, x0, x1 = ink_box(pool[k])
        crop = pool[k, y0:y1, x0:x1]
        shift = rng.integers(-2, 3, 2)
        if rng.random() >= background:
            labels[i] = pool_labels[k]
            h = int(rng.integers(height[0], height[1] + 1))
        else:
            labels[i] = BACKGROUND
            kind = rng.random()
            if kind < 0.1:
                continue  # an empty window
            if kind < 0.55:  # off-centre
                h = int(rng.integers(height[0], height[1] + 1))
                angle = rng.uniform(0, 2 * numpy.pi)
                dist = rng.uniform(8, 16)
                shift = numpy.rint([dist * numpy.sin(angle), dist * numpy.cos(angle)]).astype(int)
            elif kind < 0.8:
                h = int(rng.integers(34, 49))  # too large: a fragment
            else:
                h = int(rng.integers(7, 12))  # too small
        w = max(1, round(crop.shape[1] * h / crop.shape[0]))
        digit = resize(crop, h, w)
        top = 14 - h // 2 + int(shift[0])
        left = 14 - w // 2 + int(shift[1])
        # paste the part of the digit that falls inside the window
        ty0, tx0 = max(top, 0), max(left, 0)
        ty1, tx1 = min(top + h, 28), min(left + w, 28)
        if ty1 > ty0 and tx1 > tx0:
            images[i, 0, ty0:ty1, tx0:tx1] = digit[ty0 - top : ty1 - top, tx0 - left : tx1 - left]
    return images, labels
