"""A conv layer's filters as a grid of small images, and how smooth they are.

SimpleConvNet's first layer has weights (30, 1, 5, 5): thirty 5x5 grey pictures. At
initialisation they are noise; after training on MNIST they look like strokes, edges and
blobs. ``plot_filters`` draws them; ``plot_filter_comparison`` puts two checkpoints side by
side; ``neighbour_correlation`` puts a number on "smooth".

Each filter is scaled to [0, 1] on its own (per-filter min-max), so a filter with small
weights is as visible as one with large weights: the picture shows each filter's pattern,
not its size.
"""

from __future__ import annotations

from typing import Any

import numpy

from .. import nn
from ..nn.module import Module
from ._figure import grid_shape, hide_ticks, layers_of, new_figure, pick_layer, to_numpy, unit_range

CONV_KINDS = (nn.Conv2d, nn.ConvTranspose2d)


def conv_layers(model: Module) -> list[tuple[str, Module]]:
    """``(dotted name, layer)`` of every Conv2d / ConvTranspose2d of ``model``, in order.

    Example:
        >>> from tinyconv import models
        >>> [name for name, _ in conv_layers(models.get("simple_convnet"))]
        ['conv1']
    """
    return layers_of(model, CONV_KINDS)


def filter_weights(
    source: Module | Any, layer: int | str | None = None
) -> tuple[numpy.ndarray, str]:
    """The weights (FN, C, FH, FW) of one conv layer of a model, and a label for titles.

    Args:
        source: a model (its conv layer ``layer`` is used), a conv layer, or a weight
            array / Tensor of shape (FN, C, FH, FW).
        layer: a conv layer's dotted name or its index among the conv layers.
            Default: the first conv layer.

    Raises:
        ValueError: no such conv layer, or an array that is not 4-D.
    """
    if isinstance(source, CONV_KINDS):
        name, conv = type(source).__name__, source
    elif isinstance(source, Module):
        name, conv = pick_layer(source, layer, conv_layers(source), "conv layer")
    else:
        w = to_numpy(source)
        if w.ndim != 4:
            raise ValueError(f"expected filters of shape (FN, C, FH, FW), got shape {w.shape}")
        return w, f"weights {tuple(w.shape)}"
    w = to_numpy(conv.weight)  # ConvTranspose2d: (C_in, C_out/groups, FH, FW), one per C_in
    return w, f"{name}: {type(conv).__name__} weights {tuple(w.shape)}"


def filter_tiles(weight: numpy.ndarray, channel: int = 0) -> tuple[numpy.ndarray, str]:
    """Filters as displayable tiles, each scaled to [0, 1] on its own.

    One input channel gives grey tiles (FN, FH, FW); three give RGB tiles (FN, FH, FW, 3)
    scaled over their three channels together (so the colours keep their balance); any other
    count shows input channel ``channel`` in grey.

    Returns:
        The tiles and a note on what they show ("grey", "RGB" or "input channel c of C").

    Example:
        >>> w = numpy.arange(2 * 1 * 2 * 2, dtype=numpy.float32).reshape(2, 1, 2, 2)
        >>> tiles, what = filter_tiles(w)
        >>> tiles.shape, what, tiles[1].tolist()
        ((2, 2, 2), 'grey', [[0.0, 0.3333333333333333], [0.6666666666666666, 1.0]])
    """
    w = numpy.asarray(weight, dtype=numpy.float64)
    C = w.shape[1]
    if C == 1:
        return unit_range(w[:, 0], axis=(1, 2)), "grey"
    if C == 3:
        return unit_range(w, axis=(1, 2, 3)).transpose(0, 2, 3, 1), "RGB"
    if not 0 <= channel < C:
        raise ValueError(
            f"channel must be in [0, {C - 1}] for filters with {C} input channels, got {channel}"
        )
    return unit_range(w[:, channel], axis=(1, 2)), f"input channel {channel} of {C}"


def neighbour_correlation(weight: Any, reduce: bool = True) -> float | numpy.ndarray:
    """How smooth filters are: the correlation of horizontally and vertically adjacent weights.

    For each 2-D kernel k = W[f, c] (FH, FW), the pairs of neighbours are
    (k[i, j], k[i, j+1]) and (k[i, j], k[i+1, j]); r is the Pearson correlation between the
    first and second members over all those pairs. Independent random weights give r near 0
    (slightly below, about -1/(number of weights)); smooth strokes and blobs give r > 0;
    a checkerboard gives r near -1. Constant kernels (r undefined) are left out.

    Args:
        weight: filters (FN, C, FH, FW) as an array or Tensor.
        reduce (bool): return the mean over kernels (True) or one r per kernel (FN, C).
            Default: True.

    Example:
        >>> ramp = numpy.arange(25.0).reshape(1, 1, 5, 5)      # a smooth gradient
        >>> round(neighbour_correlation(ramp), 3)
        0.954
        >>> checker = (-1.0) ** numpy.add.outer(numpy.arange(5), numpy.arange(5))[None, None]
        >>> round(neighbour_correlation(checker), 3)
        -1.0
    """
    w = to_numpy(weight).astype(numpy.float64)
    if w.ndim != 4 or w.shape[2] < 2 and w.shape[3] < 2:
        raise ValueError(f"expected filters (FN, C, FH, FW) larger than 1x1, got shape {w.shape}")
    k = w.reshape(-1, *w.shape[2:])  # (FN*C, FH, FW)
    first = numpy.concatenate(
        [k[:, :, :-1].reshape(len(k), -1), k[:, :-1, :].reshape(len(k), -1)], axis=1
    )  # (FN*C, pairs)
    second = numpy.concatenate(
        [k[:, :, 1:].reshape(len(k), -1), k[:, 1:, :].reshape(len(k), -1)], axis=1
    )
    a = first - first.mean(axis=1, keepdims=True)
    b = second - second.mean(axis=1, keepdims=True)
    denom = numpy.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with numpy.errstate(invalid="ignore", divide="ignore"):
        r = numpy.where(
            denom > 0, (a * b).sum(axis=1) / numpy.where(denom > 0, denom, 1), numpy.nan
        )
    if not reduce:
        return r.reshape(w.shape[:2])
    valid = r[~numpy.isnan(r)]
    return float(valid.mean()) if len(valid) else float("nan")


def _draw_grid(container: Any, tiles: numpy.ndarray, max_cols: int, top: float) -> list[Any]:
    """One axes per tile in a near-square grid on a Figure or SubFigure, below ``top``."""
    rows, cols = grid_shape(len(tiles), max_cols)
    gs = container.add_gridspec(
        rows, cols, wspace=0.08, hspace=0.08, left=0.04, right=0.96, bottom=0.03, top=top
    )
    axes = []
    for i, tile in enumerate(tiles):
        ax = container.add_subplot(gs[divmod(i, cols)])
        ax.imshow(
            tile,
            cmap="gray" if tile.ndim == 2 else None,
            vmin=0.0,
            vmax=1.0,
            interpolation="nearest",
        )
        hide_ticks(ax)
        axes.append(ax)
    return axes


def _tile_title(label: str, w: numpy.ndarray, shown: int, what: str) -> str:
    notes = [] if what in ("grey", "RGB") else [what]
    if shown < len(w):
        notes.append(f"first {shown} of {len(w)}")
    notes.append(f"mean neighbour correlation {neighbour_correlation(w[:shown]):.3f}")
    return f"{label}\n{'; '.join(notes)}"


def plot_filters(
    source: Module | Any,
    layer: int | str | None = None,
    max_filters: int = 64,
    channel: int = 0,
    title: str | None = None,
    max_cols: int = 10,
) -> Any:
    """A grid of one conv layer's filters: grey for one input channel, RGB for three.

    Args:
        source: a model, a conv layer, or weights (FN, C, FH, FW).
        layer: the conv layer's dotted name or index among the conv layers. Default: the first.
        max_filters (int): draw at most this many filters (the first ones). Default: 64.
        channel (int): the input channel drawn when C is neither 1 nor 3. Default: 0.
        title (str | None): figure title. Default: the layer, its shape and the mean
            neighbour correlation.
        max_cols (int): tiles per row at most. Default: 10.

    Returns:
        matplotlib.figure.Figure with one axes per filter drawn.

    Raises:
        ValueError: no such conv layer, or a bad ``channel`` / ``max_filters``.
        ImportError: matplotlib is not installed.

    Example:
        >>> from tinyconv import models
        >>> fig = plot_filters(models.get("simple_convnet"))
        >>> len(fig.axes)
        30
    """
    if max_filters < 1:
        raise ValueError(f"max_filters must be >= 1, got {max_filters}")
    w, label = filter_weights(source, layer)
    shown = min(len(w), max_filters)
    tiles, what = filter_tiles(w[:shown], channel)
    rows, cols = grid_shape(shown, max_cols)
    height = 0.6 * rows + 0.7
    fig = new_figure(max(4.0, 0.6 * cols + 0.3), height)
    _draw_grid(fig, tiles, max_cols, top=1 - 0.6 / height)
    fig.suptitle(title or _tile_title(label, w, shown, what), fontsize=9)
    return fig


def plot_filter_comparison(
    before: Module | Any,
    after: Module | Any,
    layer: int | str | None = None,
    labels: tuple[str, str] = ("before training", "after training"),
    max_filters: int = 64,
    channel: int = 0,
    max_cols: int = 10,
) -> Any:
    """The same conv layer of two models (or two weight arrays) side by side.

    Args:
        before, after: models, conv layers or weights (FN, C, FH, FW) of the same shape.
        layer: as in ``plot_filters``; the same layer is taken from both.
        labels: the two panel titles. Default: ("before training", "after training").
        max_filters, channel, max_cols: as in ``plot_filters``.

    Returns:
        matplotlib.figure.Figure with 2 * (filters drawn) axes; each panel's title gives its
        mean neighbour correlation.

    Raises:
        ValueError: the two layers have different shapes.
    """
    w0, label0 = filter_weights(before, layer)
    w1, label1 = filter_weights(after, layer)
    if w0.shape != w1.shape:
        raise ValueError(
            f"cannot compare filters of different shapes: {tuple(w0.shape)} ({label0}) and "
            f"{tuple(w1.shape)} ({label1})"
        )
    shown = min(len(w0), max_filters)
    rows, cols = grid_shape(shown, max_cols)
    height = 0.6 * rows + 0.7
    fig = new_figure(2 * max(3.2, 0.6 * cols + 0.3) + 0.3, height)
    panels = fig.subfigures(1, 2, wspace=0.05)
    for panel, w, text in zip(panels, (w0, w1), labels, strict=True):
        tiles, what = filter_tiles(w[:shown], channel)
        _draw_grid(panel, tiles, max_cols, top=1 - 0.6 / height)
        r = neighbour_correlation(w[:shown])
        panel.suptitle(f"{text}\nmean neighbour correlation {r:.3f}", fontsize=9)
    return fig
