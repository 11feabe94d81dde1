"""What every picture shares: a headless Figure, PNG writing, layer lookup, array helpers.

Figures are made with ``matplotlib.figure.Figure`` and an Agg canvas, never through
``pyplot``: nothing here opens a window, needs a display, or changes the backend of a
notebook that imports tinyconv. matplotlib is imported only when a picture is drawn.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy

from ..backend import to_device
from ..nn.module import Module
from ..tensor import Tensor

INSTALL_HINT = "matplotlib is not installed: pip install 'tinyconv[viz]'"


def require_matplotlib() -> None:
    """Raise ImportError with the install command when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401, PLC0415
    except ImportError:
        raise ImportError(INSTALL_HINT) from None


def new_figure(width: float, height: float, dpi: int = 100) -> Any:
    """A ``matplotlib.figure.Figure`` of ``width`` x ``height`` inches on an Agg canvas."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415

    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Any, path: str | os.PathLike[str], dpi: int | None = None) -> Path:
    """Write ``fig`` as a PNG (parent folders are created) and return the path."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"output file must end in .png, got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=dpi or fig.dpi)
    return path


def render(fig: Any) -> numpy.ndarray:
    """The figure drawn to an RGBA uint8 array (H, W, 4), as the PNG would show it."""
    fig.canvas.draw()
    return numpy.asarray(fig.canvas.buffer_rgba()).copy()


def to_numpy(x: Any) -> numpy.ndarray:
    """A Tensor, NumPy or CuPy array as a NumPy array on the CPU."""
    data = x.data if isinstance(x, Tensor) else x
    return numpy.asarray(to_device(data, "cpu"))


def unit_range(a: numpy.ndarray, axis: tuple[int, ...] | None = None) -> numpy.ndarray:
    """Min-max scale ``a`` to [0, 1] (over ``axis``); a constant array becomes 0.5.

    Example:
        >>> unit_range(numpy.array([2.0, 4.0, 6.0])).tolist()
        [0.0, 0.5, 1.0]
    """
    a = numpy.asarray(a, dtype=numpy.float64)
    lo = a.min(axis=axis, keepdims=axis is not None)
    hi = a.max(axis=axis, keepdims=axis is not None)
    span = hi - lo
    safe = numpy.where(span > 0, span, 1.0)
    return numpy.where(span > 0, (a - lo) / safe, 0.5)


def grid_shape(n: int, max_cols: int = 10) -> tuple[int, int]:
    """(rows, cols) of a near-square grid holding ``n`` tiles, at most ``max_cols`` wide.

    Example:
        >>> grid_shape(30), grid_shape(7), grid_shape(64, max_cols=6)
        ((5, 6), (3, 3), (11, 6))
    """
    cols = max(1, min(max_cols, int(numpy.ceil(numpy.sqrt(n)))))
    return int(numpy.ceil(n / cols)), cols


def image_for_display(img: numpy.ndarray) -> tuple[numpy.ndarray, str | None]:
    """A (C, H, W) image as what ``imshow`` takes: (H, W) grey or (H, W, 3) RGB in [0, 1].

    uint8 pixels are divided by 255; floating images are min-max scaled. Returns the array
    and the colour map to use (``"gray"`` for one channel, None for RGB).
    """
    img = numpy.asarray(img)
    if img.ndim == 2:
        img = img[None]
    if img.ndim != 3 or img.shape[0] not in (1, 3):
        raise ValueError(f"expected an image (1, H, W) or (3, H, W), got shape {img.shape}")
    x = img / 255.0 if img.dtype == numpy.uint8 else unit_range(img)
    if img.shape[0] == 1:
        return x[0], "gray"
    return x.transpose(1, 2, 0), None


def hide_ticks(ax: Any) -> None:
    """No ticks and no tick labels; the frame stays so a blank tile is still visible."""
    ax.set_xticks([])
    ax.set_yticks([])


def layers_of(model: Module, kinds: Iterable[type] | None = None, pool: bool = False) -> list:
    """``(name, module)`` of every layer of the given classes (and pooling layers if ``pool``).

    Pooling layers are recognised by "Pool" in their class name, so a model's own pooling
    class (GoogLeNet's ``MaxPool2dCeil``) counts too.
    """
    kinds = tuple(kinds or ())
    found = []
    for name, m in model.named_modules():
        if not name:
            continue
        if (kinds and isinstance(m, kinds)) or (pool and "Pool" in type(m).__name__):
            found.append((name, m))
    return found


def pick_layer(
    model: Module, layer: int | str | None, candidates: list, what: str, default: int = 0
) -> tuple[str, Module]:
    """Choose one of ``candidates`` (``(name, module)`` pairs) by dotted name or index.

    Args:
        model: the model (its class name goes into error messages).
        layer: a dotted name ("conv1", "features.0"), an index into ``candidates`` (negative
            counts from the end; a string of digits that names none of them is an index),
            or None for ``candidates[default]``.
        candidates: the layers that qualify.
        what: what they are, for messages ("conv layer").
        default: the index used when ``layer`` is None.

    Raises:
        ValueError: no layer qualifies, or ``layer`` names none of them (the message lists
            the names that would work).
    """
    model_name = type(model).__name__
    if not candidates:
        raise ValueError(f"{model_name} has no {what}")
    names = [n for n, _ in candidates]
    listing = ", ".join(f"{i}={n}" for i, n in enumerate(names))
    if layer is None:
        return candidates[default]
    for name, m in candidates:  # a name first: Sequential's children are named "0", "1", ...
        if name == layer:
            return name, m
    if isinstance(layer, str) and layer.lstrip("-").isdigit():
        layer = int(layer)
    if isinstance(layer, int) and not isinstance(layer, bool):
        if -len(candidates) <= layer < len(candidates):
            return candidates[layer]
        raise ValueError(
            f"{model_name} has {len(candidates)} {what}s, no index {layer}; choose one of: "
            f"{listing}"
        )
    all_names = {n for n, _ in model.named_modules() if n}
    if layer in all_names:
        raise ValueError(f"{model_name}: {layer!r} is not a {what}; {what}s: {listing}")
    raise ValueError(f"{model_name} has no layer named {layer!r}; {what}s: {listing}")
