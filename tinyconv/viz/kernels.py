"""Hand-made kernels applied to an image: what a filter does, before anything is learned.

The seeds' first pictures: an edge kernel, a sharpen kernel and a blur kernel give three
different activation maps of one photo, and the diagonal filter [[1,0,1],[0,1,0],[1,0,1]]
lights up where the image has diagonal strokes. ReLU then keeps the positive responses and
2x2 max pooling shrinks each map to a quarter. Every map here is computed by
``tinyconv.functional.conv2d`` (cross-correlation: the kernel is not flipped),
``tinyconv.functional.relu`` and ``tinyconv.functional.max_pool2d``.
"""

from __future__ import annotations

from typing import Any

import numpy

from .. import functional as F
from ..tensor import Tensor
from ._figure import hide_ticks, new_figure

KERNELS: dict[str, numpy.ndarray] = {
    # Laplacian: 8x the centre minus its 8 neighbours; 0 on flat regions, large on edges.
    "edge": numpy.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=numpy.float32),
    # Sobel, vertical edges: positive where the image is brighter on the left.
    "vertical edge": numpy.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=numpy.float32),
    # Identity plus a Laplacian: edges are exaggerated, flat regions unchanged.
    "sharpen": numpy.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=numpy.float32),
    # Box blur: the mean of the 3x3 neighbourhood.
    "blur": numpy.full((3, 3), 1.0 / 9.0, dtype=numpy.float32),
    # The seeds' diagonal filter: both diagonals, answers to X-like diagonal strokes.
    "diagonal": numpy.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=numpy.float32),
    # The same minus its mean (5/9): flat regions give 0, so ReLU keeps only the diagonals.
    "diagonal zero-mean": numpy.array([[4, -5, 4], [-5, 4, -5], [4, -5, 4]], dtype=numpy.float32)
    / numpy.float32(9),
}


def parse_kernel(text: str) -> numpy.ndarray:
    """A kernel written as rows separated by ";" or "/" and numbers by "," or spaces.

    Example:
        >>> parse_kernel("1,0,1; 0,1,0; 1,0,1").tolist()
        [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 1.0]]
    """
    rows = [r for r in text.replace("/", ";").split(";") if r.strip()]
    try:
        values = [[float(v) for v in r.replace(",", " ").split()] for r in rows]
    except ValueError:
        raise ValueError(
            f"cannot read kernel {text!r}: expected numbers such as '1,0,1; 0,1,0; 1,0,1'"
        ) from None
    if not values or len({len(r) for r in values}) != 1 or not values[0]:
        raise ValueError(f"kernel {text!r} is not a rectangle of numbers (rows split by ';')")
    return numpy.array(values, dtype=numpy.float32)


def shapes_image(size: int = 64) -> numpy.ndarray:
    """A synthetic grey picture (1, size, size) uint8: square, disc, diagonal bar, thin X.

    Straight vertical and horizontal edges (the square), curved edges (the disc), a thick
    diagonal bar and a one-pixel X (what the diagonal filter answers to), on a soft gradient.

    Example:
        >>> img = shapes_image()
        >>> img.shape, img.dtype, int(img.min()) < 40 < 200 < int(img.max())
        ((1, 64, 64), dtype('uint8'), True)
    """
    if size < 16:
        raise ValueError(f"shapes_image needs size >= 16, got {size}")
    yy, xx = numpy.mgrid[0:size, 0:size] / size  # (size, size) in [0, 1)
    img = 0.1 + 0.15 * xx  # soft left-to-right gradient
    img = numpy.where((xx > 0.08) & (xx < 0.40) & (yy > 0.08) & (yy < 0.40), 0.85, img)
    img = numpy.where((xx - 0.72) ** 2 + (yy - 0.25) ** 2 < 0.16**2, 0.7, img)
    img = numpy.where((numpy.abs((xx - 0.05) - (yy - 0.50)) < 0.05) & (yy > 0.5), 0.95, img)
    i, j = numpy.mgrid[0:size, 0:size]
    lo, hi = int(0.56 * size), int(0.92 * size)
    box = (i >= lo) & (i <= hi) & (j >= lo) & (j <= hi)
    x_mark = box & ((i == j) | (i + j == lo + hi))  # a one-pixel X
    img = numpy.where(x_mark, 1.0, img)
    return (numpy.clip(img, 0, 1) * 255).round().astype(numpy.uint8)[None]


def apply_kernel(
    image: Any, kernel: Any, padding: int = 1, pool: int = 2
) -> tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """Convolve a grey image with one kernel, then ReLU, then max pooling.

    Args:
        image: (H, W) or (1, H, W), uint8 (scaled by 1/255) or float.
        kernel: (FH, FW).
        padding (int): zeros around the image. Default: 1 (keeps the size of a 3x3 kernel).
        pool (int): max-pooling window and stride. Default: 2.

    Returns:
        ``(conv, relu, pooled)`` float32 arrays (H_out, W_out), same, and
        (H_out // pool, W_out // pool), with H_out = (H - FH + 2P)/1 + 1.

    Example:
        >>> img = numpy.array([[1,1,1,0,0],[0,1,1,1,0],[0,0,1,1,1],[0,0,1,1,0],[0,1,1,0,0]],
        ...                   dtype=numpy.float32)
        >>> conv, _, _ = apply_kernel(img, KERNELS["diagonal"], padding=0, pool=1)
        >>> conv.tolist()
        [[4.0, 3.0, 4.0], [2.0, 4.0, 3.0], [2.0, 3.0, 4.0]]
    """
    x = numpy.asarray(image)
    x = x.astype(numpy.float32) / numpy.float32(255) if x.dtype == numpy.uint8 else x
    x = x.astype(numpy.float32, copy=False).reshape(1, 1, *x.shape[-2:])  # (1, 1, H, W)
    w = numpy.asarray(kernel, dtype=numpy.float32)
    if w.ndim != 2:
        raise ValueError(f"a kernel must be 2-D (FH, FW), got shape {w.shape}")
    conv = F.conv2d(Tensor(x), Tensor(w[None, None]), padding=padding, layer="kernel")
    relu = F.relu(conv)
    pooled = F.max_pool2d(relu, pool, stride=pool) if pool > 1 else relu
    return conv.numpy()[0, 0], relu.numpy()[0, 0], pooled.numpy()[0, 0]


def to_grey(image: Any) -> numpy.ndarray:
    """(1, H, W) or (3, H, W) or (H, W) -> (H, W) float in [0, 1] (ITU-R 601 luma for RGB)."""
    x = numpy.asarray(image)
    x = x / 255.0 if x.dtype == numpy.uint8 else x.astype(numpy.float64)
    if x.ndim == 3 and x.shape[0] == 3:
        return 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]
    if x.ndim == 3 and x.shape[0] == 1:
        return x[0]
    if x.ndim == 2:
        return x
    raise ValueError(f"expected a grey or RGB image (1 or 3, H, W), got shape {x.shape}")


def _show_kernel(ax: Any, w: numpy.ndarray) -> None:
    m = float(numpy.abs(w).max()) or 1.0
    ax.imshow(w, cmap="RdBu_r", vmin=-m, vmax=m, interpolation="nearest")
    if w.size <= 49:
        for (i, j), v in numpy.ndenumerate(w):
            text = f"{v:.0f}" if float(v).is_integer() else f"{v:.2f}".replace("0.", ".")
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=7,
                color="white" if abs(v) > 0.6 * m else "black",
            )
    hide_ticks(ax)


def plot_kernels(
    image: Any | None = None,
    kernels: dict[str, Any] | list[str] | None = None,
    padding: int = 1,
    pool: int = 2,
) -> Any:
    """Input, then per kernel: the kernel, its activation map, after ReLU, after max pooling.

    Args:
        image: a grey or RGB image (C, H, W) or (H, W); RGB is turned to grey. Default:
            ``shapes_image()``.
        kernels: names from ``KERNELS``, or ``{name: (FH, FW) array}``. Default: all of
            ``KERNELS``.
        padding (int): zero padding of the convolution. Default: 1.
        pool (int): max-pooling window and stride. Default: 2.

    Returns:
        matplotlib.figure.Figure with 1 + 4 * len(kernels) axes: the input (left, spanning
        every row), then for each kernel (one row each) the kernel with its numbers, the
        activation map (red positive, blue negative), the map after ReLU, and after pooling;
        each title gives the map's shape.

    Raises:
        ValueError: an unknown kernel name, or a kernel larger than the padded image.

    Example:
        >>> fig = plot_kernels(kernels=["edge", "diagonal"])
        >>> len(fig.axes)
        9
    """
    grey = to_grey(shapes_image() if image is None else image)
    if kernels is None:
        kernels = dict(KERNELS)
    elif not isinstance(kernels, dict):
        unknown = [k for k in kernels if k not in KERNELS]
        if unknown:
            raise ValueError(f"unknown kernel {unknown[0]!r}; known kernels: {', '.join(KERNELS)}")
        kernels = {k: KERNELS[k] for k in kernels}
    if not kernels:
        raise ValueError("no kernel to apply")
    k = len(kernels)
    height = 1.9 * k + 0.6
    fig = new_figure(2.2 + 4 * 1.9, height)
    gs = fig.add_gridspec(
        k,
        5,
        width_ratios=[1.15, 0.75, 1, 1, 1],
        wspace=0.3,
        hspace=0.45,
        left=0.02,
        right=0.98,
        top=1 - 0.75 / height,
        bottom=0.02,
    )
    ax = fig.add_subplot(gs[0, 0])
    ax.imshow(grey, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(f"input {grey.shape[0]}x{grey.shape[1]}", fontsize=9)
    hide_ticks(ax)
    for row, (name, kernel) in enumerate(kernels.items()):
        w = numpy.asarray(kernel, dtype=numpy.float32)
        conv, relu, pooled = apply_kernel(grey, w, padding, pool)
        ax = fig.add_subplot(gs[row, 1])
        _show_kernel(ax, w)
        ax.set_title(f"{name} {w.shape[0]}x{w.shape[1]}", fontsize=9)
        m = float(numpy.abs(conv).max()) or 1.0
        panels = (
            (conv, {"cmap": "RdBu_r", "vmin": -m, "vmax": m}, "conv"),
            (relu, {"cmap": "gray", "vmin": 0, "vmax": m}, "ReLU"),
            (pooled, {"cmap": "gray", "vmin": 0, "vmax": m}, f"ReLU + max pool {pool}x{pool}"),
        )
        for col, (arr, style, what) in enumerate(panels):
            ax = fig.add_subplot(gs[row, 2 + col])
            ax.imshow(arr, interpolation="nearest", **style)
            ax.set_title(f"{what} {arr.shape[0]}x{arr.shape[1]}", fontsize=9)
            hide_ticks(ax)
    fig.suptitle(
        f"Hand-made kernels (stride 1, padding {padding}): activation map, ReLU, pooling",
        fontsize=10,
    )
    return fig
