"""Grad-CAM: where in the image the network found evidence for a class.

Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
Localization", ICCV 2017. For a class c with score y_c (the logit) and the K feature maps
A_k (h, w) of a conv layer:

    alpha_k = mean over (i, j) of d y_c / d A_k[i, j]       (how much map k matters for c)
    CAM     = ReLU( sum_k alpha_k * A_k )                    (h, w), then resized to the input

A forward hook on the chosen layer replaces its output by a leaf Tensor holding the same
values, so that ``y_c.backward()`` leaves d y_c / d A in that leaf's ``.grad``. The model's
parameters are switched to ``requires_grad=False`` for the pass (their gradients are not
needed and the ones they hold are left untouched); everything is restored afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy

from ..nn.module import Module
from ..tensor import Tensor, enable_grad
from ._figure import hide_ticks, image_for_display, new_figure, pick_layer, to_numpy, unit_range
from .features import ACTIVATION_KINDS
from .filters import conv_layers


@dataclass
class GradCam:
    """A Grad-CAM result.

    Attributes:
        cam (ndarray): float64 (H, W) at the input's size, scaled to [0, 1] (all zeros when
            no location speaks for the class).
        raw (ndarray): float64 (h, w), ReLU(sum_k alpha_k A_k) at the layer's resolution,
            unscaled.
        weights (ndarray): alpha (K,), one per feature map.
        target (int): the class explained.
        probs (ndarray): the softmax probabilities (num_classes,) of the input.
        layer (str): the layer's dotted name; ``layer_shape`` its output shape (K, h, w).
    """

    cam: numpy.ndarray
    raw: numpy.ndarray
    weights: numpy.ndarray
    target: int
    probs: numpy.ndarray
    layer: str
    layer_shape: tuple[int, ...]


def resize_bilinear(a: numpy.ndarray, height: int, width: int) -> numpy.ndarray:
    """Resize a 2-D array by bilinear interpolation, pixel centres aligned (no corner pinning).

    Output pixel i samples the input at (i + 0.5) * h_in / height - 0.5, clamped to the edges.

    Example:
        >>> resize_bilinear(numpy.array([[0.0, 1.0]]), 1, 4).tolist()
        [[0.0, 0.25, 0.75, 1.0]]
    """
    a = numpy.asarray(a, dtype=numpy.float64)
    h, w = a.shape

    def coords(n_out: int, n_in: int) -> tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
        pos = numpy.clip((numpy.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        lo = numpy.floor(pos).astype(numpy.int64)
        hi = numpy.minimum(lo + 1, n_in - 1)
        return lo, hi, pos - lo

    y0, y1, fy = coords(height, h)
    x0, x1, fx = coords(width, w)
    top = a[y0][:, x0] * (1 - fx) + a[y0][:, x1] * fx  # (height, width)
    bottom = a[y1][:, x0] * (1 - fx) + a[y1][:, x1] * fx
    return top * (1 - fy)[:, None] + bottom * fy[:, None]


def _choose_layer(model: Module, layer: int | str | None) -> tuple[str, Module]:
    """The layer named ``layer``; an index among the conv layers; or, for None, the last conv
    layer, or the activation module right after it (its rectified maps, as in the paper)."""
    if isinstance(layer, str):
        for name, m in model.named_modules():
            if name == layer:
                return name, m
    name, conv = pick_layer(model, layer, conv_layers(model), "conv layer", default=-1)
    if layer is None:
        order = [(n, m) for n, m in model.named_modules() if n]
        i = next(i for i, (n, _) in enumerate(order) if n == name)
        if i + 1 < len(order) and isinstance(order[i + 1][1], ACTIVATION_KINDS):
            return order[i + 1]
    return name, conv


def grad_cam(
    model: Module, x: Any, target: int | None = None, layer: int | str | None = None
) -> GradCam:
    """Grad-CAM of class ``target`` for one input image.

    Args:
        model: a classifier returning logits (1, num_classes).
        x: the input, (C, H, W) or (1, C, H, W), normalised as in training.
        target (int | None): the class to explain. Default: the predicted class.
        layer: a layer's dotted name (any layer with a (1, K, h, w) output), or an index
            among the conv layers. Default: the last conv layer, or the activation layer
            (ReLU) that follows it directly, whose rectified maps the paper uses.

    Returns:
        GradCam.

    Raises:
        ValueError: a bad input shape, layer or class, or a layer whose output is not 4-D.

    Example:
        >>> import numpy, tinyconv
        >>> from tinyconv import models
        >>> tinyconv.manual_seed(0)
        >>> res = grad_cam(models.get("simple_convnet"), numpy.ones((1, 28, 28), "float32"))
        >>> res.cam.shape, res.raw.shape, res.layer
        ((28, 28), (24, 24), 'relu1')
    """
    data = x.data if isinstance(x, Tensor) else to_numpy(x)
    if data.ndim == 3:
        data = data[None]
    if data.ndim != 4 or data.shape[0] != 1:
        raise ValueError(
            f"grad_cam explains one image: expected (C, H, W) or (1, C, H, W), "
            f"got {tuple(data.shape)}"
        )
    name, module = _choose_layer(model, layer)
    kept: dict[str, Tensor] = {}

    def hook(m: Module, inputs: tuple, out: Any) -> Tensor:
        if not isinstance(out, Tensor) or out.ndim != 4:
            shape = getattr(out, "shape", type(out).__name__)
            raise ValueError(
                f"grad_cam: layer {name!r} ({m!r}) gives {shape}, not feature maps "
                "(1, K, h, w); choose a conv layer"
            )
        leaf = Tensor(out.data, requires_grad=True)  # a leaf: backward fills leaf.grad
        kept["A"] = leaf
        return leaf

    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    was_training = model.training
    handle = module.register_forward_hook(hook)
    model.eval()
    try:
        for p in params:
            p.requires_grad = False
        with enable_grad():
            logits = model(Tensor(data))
            if logits.ndim != 2 or logits.shape[0] != 1:
                raise ValueError(
                    f"grad_cam: the model must return logits (1, num_classes), got {logits.shape}"
                )
            k = logits.shape[1]
            z = to_numpy(logits)[0].astype(numpy.float64)
            if target is None:
                target = int(z.argmax())
            if not 0 <= int(target) < k:
                raise ValueError(
                    f"class {target} out of range: the model has {k} classes (0 to {k - 1})"
                )
            logits[0, int(target)].backward()
    finally:
        handle.remove()
        model.train(was_training)
        for p, f in zip(params, flags, strict=True):
            p.requires_grad = f
    A = to_numpy(kept["A"]).astype(numpy.float64)[0]  # (K, h, w)
    grad = kept["A"].grad
    G = numpy.zeros_like(A) if grad is None else to_numpy(grad).astype(numpy.float64)[0]
    alpha = G.mean(axis=(1, 2))  # (K,)
    raw = numpy.maximum((alpha[:, None, None] * A).sum(axis=0), 0.0)  # (h, w)
    cam = resize_bilinear(raw, data.shape[2], data.shape[3])
    cam = cam / cam.max() if cam.max() > 0 else cam
    p = numpy.exp(z - z.max())
    return GradCam(cam, raw, alpha, int(target), p / p.sum(), name, tuple(A.shape))


def plot_grad_cam(
    model: Module,
    x: Any,
    targets: int | Sequence[int] | None = None,
    layer: int | str | None = None,
    classes: Sequence[str] | None = None,
    image: numpy.ndarray | None = None,
) -> Any:
    """Per class explained, one row: the input, the Grad-CAM heat map, and both overlaid.

    Args:
        model, x, layer: as in ``grad_cam``.
        targets: a class, several classes, or None for the predicted class.
        classes: class names for the titles. Default: the class numbers.
        image: what to draw as the input, (C, H, W) uint8 or float (e.g. the raw pixels).
            Default: ``x``.

    Returns:
        matplotlib.figure.Figure with 3 axes per class: input, heat map (0 to 1), overlay.
    """
    if targets is None or isinstance(targets, (int, numpy.integer)):
        targets = [targets]  # type: ignore[list-item]
    results = [grad_cam(model, x, t, layer) for t in targets]
    shown = image if image is not None else to_numpy(x.data if isinstance(x, Tensor) else x)
    shown = numpy.asarray(shown)
    shown = shown[0] if shown.ndim == 4 else shown
    img, cmap = image_for_display(shown)
    grey = img if img.ndim == 2 else img.mean(axis=2)
    names = [str(c) for c in classes] if classes is not None else None
    n = len(results)
    fig = new_figure(7.8, 2.95 * n + 0.2)
    for row, res in enumerate(results):
        pred = int(res.probs.argmax())

        def label(c: int) -> str:
            return names[c] if names is not None and c < len(names) else str(c)

        ax = fig.add_subplot(n, 3, 3 * row + 1)
        ax.imshow(img, cmap=cmap, interpolation="nearest")
        ax.set_title(f"input, predicted {label(pred)} ({100 * res.probs[pred]:.1f}%)", fontsize=9)
        hide_ticks(ax)
        ax = fig.add_subplot(n, 3, 3 * row + 2)
        ax.imshow(res.cam, cmap="jet", vmin=0, vmax=1, interpolation="bilinear")
        ax.set_title(
            f"Grad-CAM of class {label(res.target)} ({100 * res.probs[res.target]:.1f}%)"
            f"\nat {res.layer} {res.layer_shape}",
            fontsize=9,
        )
        hide_ticks(ax)
        ax = fig.add_subplot(n, 3, 3 * row + 3)
        ax.imshow(unit_range(grey), cmap="gray", interpolation="nearest")
        ax.imshow(res.cam, cmap="jet", vmin=0, vmax=1, alpha=0.45, interpolation="bilinear")
        ax.set_title("overlay", fontsize=9)
        hide_ticks(ax)
    fig.tight_layout()
    return fig
