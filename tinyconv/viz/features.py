"""Feature maps of every conv and pooling layer for one input image, laid out by depth.

A forward hook (``Module.register_forward_hook``) on each conv / pooling layer (and, on
request, each activation layer) keeps a copy of its output during one forward pass. The
picture has one row per layer, top to bottom in the order the layers ran; each map is drawn
at a size proportional to its height, so the rows show what the seeds describe: maps that
shrink (24x24 -> 12x12 -> ...) while their number grows (30 -> 64 -> ...).

Colours: a layer whose outputs have both signs (a conv before its ReLU) is drawn with a
diverging map centred on 0 (red positive, blue negative); a non-negative layer (after ReLU,
pooling of ReLU outputs) from black (0) to yellow (its maximum). All maps of a layer share
one scale, so a map that stays dark really responds less.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy

from .. import nn
from ..nn.module import Module
from ..tensor import Tensor, no_grad
from ._figure import hide_ticks, image_for_display, layers_of, new_figure, to_numpy

ACTIVATION_KINDS = (nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh)
CONV_KINDS = (nn.Conv2d, nn.ConvTranspose2d)


@dataclass
class FeatureMap:
    """One layer's output for one image.

    Attributes:
        name (str): the layer's dotted name ("conv1", "features.3"); a layer that ran twice
            gets " (call 2)" appended.
        layer (str): the layer's repr.
        maps (ndarray): float64 (C, H, W), the output of the first image of the batch.
    """

    name: str
    layer: str
    maps: numpy.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.maps.shape)  # type: ignore[return-value]


def feature_maps(
    model: Module, x: Any, activations: bool = False, layers: list[str] | None = None
) -> list[FeatureMap]:
    """Run ``model`` on ``x`` and collect the 4-D outputs of its conv and pooling layers.

    The model runs in eval mode under ``no_grad``; its previous mode is restored and the
    hooks are removed afterwards, even on error.

    Args:
        model: the network.
        x: one image (C, H, W) or a batch (N, C, H, W), as the model expects it (normalised
            float); only the first image's maps are kept.
        activations (bool): also collect activation layers (ReLU, ...), so the maps appear
            before and after the non-linearity. Default: False.
        layers (list[str] | None): keep only these layer names. Default: all.

    Returns:
        The ``FeatureMap`` of each layer, in the order the layers ran.

    Example:
        >>> import numpy
        >>> from tinyconv import models
        >>> maps = feature_maps(models.get("simple_convnet"), numpy.zeros((1, 28, 28), "float32"))
        >>> [(m.name, m.shape) for m in maps]
        [('conv1', (30, 24, 24)), ('pool1', (30, 12, 12))]
    """
    kinds = CONV_KINDS + (ACTIVATION_KINDS if activations else ())
    watched = layers_of(model, kinds, pool=True)
    if layers is not None:
        known = {n for n, _ in watched}
        unknown = [n for n in layers if n not in known]
        if unknown:
            raise ValueError(
                f"{type(model).__name__}: no conv/pool{'/activation' if activations else ''} "
                f"layer named {', '.join(map(repr, unknown))}; layers: {', '.join(sorted(known))}"
            )
        watched = [(n, m) for n, m in watched if n in layers]
    data = x.data if isinstance(x, Tensor) else numpy.asarray(to_numpy(x))
    if data.ndim == 3:
        data = data[None]
    if data.ndim != 4:
        raise ValueError(f"expected an image (C, H, W) or a batch (N, C, H, W), got {data.shape}")
    found: list[FeatureMap] = []
    calls: dict[str, int] = {}

    def keep(name: str) -> Any:
        def hook(module: Module, inputs: tuple, out: Any) -> None:
            if isinstance(out, Tensor) and out.ndim == 4:
                calls[name] = calls.get(name, 0) + 1
                label = name if calls[name] == 1 else f"{name} (call {calls[name]})"
                found.append(
                    FeatureMap(label, repr(module), to_numpy(out)[0].astype(numpy.float64))
                )

        return hook

    handles = [m.register_forward_hook(keep(n)) for n, m in watched]
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            model(Tensor(data))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return found


def _layer_style(maps: numpy.ndarray) -> dict[str, Any]:
    """imshow arguments: diverging around 0 for signed maps, black-to-yellow otherwise."""
    lo, hi = float(maps.min()), float(maps.max())
    if lo < 0:
        m = max(-lo, hi) or 1.0
        return {"cmap": "RdBu_r", "vmin": -m, "vmax": m}
    return {"cmap": "viridis", "vmin": 0.0, "vmax": hi if hi > 0 else 1.0}


def plot_feature_maps(
    model: Module,
    x: Any,
    activations: bool = False,
    layers: list[str] | None = None,
    max_maps: int = 32,
    width: float = 12.0,
    title: str | None = None,
    input_image: numpy.ndarray | None = None,
) -> Any:
    """One row per conv/pool layer of the feature maps of one image, drawn to scale.

    Args:
        model: the network.
        x: the model's input, one image (C, H, W) or (1, C, H, W), normalised as in training.
        activations (bool): also draw each activation layer's output (after ReLU). Default: False.
        layers (list[str] | None): draw only these layers. Default: all conv and pool layers.
        max_maps (int): at most this many maps per layer (the first ones). Default: 32.
        width (float): figure width in inches. Default: 12.
        title (str | None): figure title. Default: the model's class name.
        input_image (ndarray | None): what to show in the input row, (C, H, W) uint8 or float
            (e.g. the raw pixels). Default: ``x`` itself.

    Returns:
        matplotlib.figure.Figure: the first axes is the input, then one axes per map drawn;
        each row's label gives the layer name, its repr and its output shape (C, H, W).

    Raises:
        ValueError: the model has no conv or pooling layer, or ``max_maps`` < 1.

    Example:
        >>> import numpy
        >>> from tinyconv import models
        >>> fig = plot_feature_maps(models.get("simple_convnet"), numpy.ones((1, 28, 28), "f4"))
        >>> len(fig.axes)                    # input + 30 conv1 maps + 30 pool1 maps
        61
    """
    if max_maps < 1:
        raise ValueError(f"max_maps must be >= 1, got {max_maps}")
    found = feature_maps(model, x, activations, layers)
    if not found:
        raise ValueError(f"{type(model).__name__} has no conv or pooling layer to show")
    xin = to_numpy(x.data if isinstance(x, Tensor) else x).astype(numpy.float64)
    xin = xin[0] if xin.ndim == 4 else xin  # (C, H, W)
    shown_in = xin if input_image is None else numpy.asarray(input_image)
    H_in = xin.shape[1]

    margin, gap, label_h, base, smallest = 0.25, 0.05, 0.34, 0.9, 0.2
    rows = []  # (label, tiles (n, h, w) or input, tile inches, per line, lines, style)
    in_side = min(1.6, base * 1.6)
    rows.append(("input " + str(tuple(xin.shape)), None, in_side, 1, 1, None))
    for fm in found:
        C, h, w = fm.shape
        side = max(smallest, min(base, base * h / H_in))
        tile_w = side * w / h
        per_line = max(1, int((width - 2 * margin + gap) // (tile_w + gap)))
        n = min(C, max_maps)
        more = f", first {n} shown" if n < C else ""
        label = f"{fm.name}: {fm.layer}  ->  {fm.shape}  ({C} maps of {h}x{w}{more})"
        rows.append((label, fm.maps[:n], side, per_line, -(-n // per_line), _layer_style(fm.maps)))
    top_title = 0.45
    height = top_title + sum(label_h + lines * (side + gap) for _, _, side, _, lines, _ in rows)
    fig = new_figure(width, height)
    y = height - top_title  # inches from the bottom, moving down
    for label, tiles, side, per_line, lines, style in rows:
        y -= label_h
        fig.text(margin / width, (y + 0.08) / height, label, fontsize=8, ha="left", va="bottom")
        if tiles is None:
            img, cmap = image_for_display(shown_in)
            aspect = img.shape[1] / img.shape[0]
            ax = fig.add_axes(
                [margin / width, (y - side) / height, side * aspect / width, side / height]
            )
            ax.imshow(img, cmap=cmap, interpolation="nearest")
            hide_ticks(ax)
            y -= side + gap
            continue
        tile_w = side * tiles.shape[2] / tiles.shape[1]
        for i, tile in enumerate(tiles):
            r, c = divmod(i, per_line)
            left = margin + c * (tile_w + gap)
            bottom = y - (r + 1) * side - r * gap
            ax = fig.add_axes([left / width, bottom / height, tile_w / width, side / height])
            ax.imshow(tile, interpolation="nearest", **style)
            hide_ticks(ax)
        y -= lines * (side + gap)
    fig.suptitle(
        title or f"Feature maps of {type(model).__name__}, layer by layer",
        fontsize=10,
        y=1 - 0.08 / height,
        va="top",
    )
    return fig
