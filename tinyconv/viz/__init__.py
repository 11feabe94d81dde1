"""Pictures of what a network learned: filters, feature maps, kernels, curves, mistakes.

    from tinyconv import viz
    fig = viz.plot_filters(model)                        # conv1's filters as a grid
    fig.savefig("filters.png")                           # or viz.save_png(fig, "filters.png")

Every ``plot_*`` function returns a ``matplotlib.figure.Figure`` drawn on an Agg canvas
(no pyplot, no display needed); the ``tinyconv viz <picture>`` commands write them as PNG.
matplotlib is optional (``pip install 'tinyconv[viz]'``) and imported only when drawing, so
the numbers (``neighbour_correlation``, ``feature_maps``, ``grad_cam``, ``apply_kernel``,
``find_mistakes``, ``arithmetic_text``) work without it.

==========================  ===============================================================
plot_filters                a conv layer's filters (grey or RGB), per-filter scaling
plot_filter_comparison      the same layer of two models side by side
plot_feature_maps           every conv/pool layer's maps for one image, drawn to scale
plot_kernels                edge/sharpen/blur/diagonal kernels: map, ReLU, max pooling
plot_curves                 loss and accuracy per epoch from a history
plot_confusion              confusion matrix (rows true, columns predicted)
plot_mistakes               misclassified images with labels and confidence
plot_grad_cam               Grad-CAM heat map of a class over the input
plot_conv_arithmetic        padded input, receptive field, output and the size formula
==========================  ===============================================================
"""

from ._figure import render, save_png
from .arithmetic import arithmetic_text, plot_conv_arithmetic
from .confusion import find_mistakes, plot_confusion, plot_mistakes, predict_proba
from .curves import load_history, plot_curves
from .features import FeatureMap, feature_maps, plot_feature_maps
from .filters import (
    conv_layers,
    filter_tiles,
    filter_weights,
    neighbour_correlation,
    plot_filter_comparison,
    plot_filters,
)
from .kernels import KERNELS, apply_kernel, plot_kernels, shapes_image
from .saliency import GradCam, grad_cam, plot_grad_cam, resize_bilinear

__all__ = [
    "KERNELS",
    "FeatureMap",
    "GradCam",
    "apply_kernel",
    "arithmetic_text",
    "conv_layers",
    "feature_maps",
    "filter_tiles",
    "filter_weights",
    "find_mistakes",
    "grad_cam",
    "load_history",
    "neighbour_correlation",
    "plot_confusion",
    "plot_conv_arithmetic",
    "plot_curves",
    "plot_feature_maps",
    "plot_filter_comparison",
    "plot_filters",
    "plot_grad_cam",
    "plot_kernels",
    "plot_mistakes",
    "predict_proba",
    "render",
    "resize_bilinear",
    "save_png",
    "shapes_image",
]
