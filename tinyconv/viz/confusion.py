"""Where a classifier goes wrong: the confusion matrix and a grid of misclassified images.

The confusion matrix counts, for every true class (row), how often each class was predicted
(column); the diagonal holds the correct answers. The mistakes grid shows the test images the
model got wrong, most confident mistakes first, each with its true label, the predicted label
and the probability the model gave to its (wrong) answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy

from ..data.loader import DataLoader
from ..nn.module import Module
from ..tensor import Tensor, no_grad
from ._figure import grid_shape, hide_ticks, image_for_display, new_figure, to_numpy


def predict_proba(
    model: Module,
    images: numpy.ndarray,
    mean: float | Sequence[float] = 0.0,
    std: float | Sequence[float] = 1.0,
    batch_size: int = 256,
) -> numpy.ndarray:
    """Softmax probabilities (N, K) of ``model`` for uint8 (or [0, 1] float) images (N, C, H, W).

    Images are normalised as ``DataLoader`` does: ``(pixel/255 - mean[c]) / std[c]``. The model
    runs in eval mode under ``no_grad``; its previous mode is restored.
    """
    images = numpy.asarray(images)
    loader = DataLoader(
        images,
        numpy.zeros(len(images), dtype=numpy.int64),
        batch_size=batch_size,
        mean=mean,
        std=std,
    )
    out = []
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            for xb, _ in loader:
                logits = to_numpy(model(Tensor(xb))).astype(numpy.float64)  # (B, K)
                logits -= logits.max(axis=1, keepdims=True)
                p = numpy.exp(logits)
                out.append(p / p.sum(axis=1, keepdims=True))
    finally:
        model.train(was_training)
    return numpy.concatenate(out)


def find_mistakes(
    model: Module,
    images: numpy.ndarray,
    labels: numpy.ndarray,
    mean: float | Sequence[float] = 0.0,
    std: float | Sequence[float] = 1.0,
    batch_size: int = 256,
) -> dict[str, numpy.ndarray]:
    """The misclassified images, most confident mistakes first.

    Returns:
        dict of arrays: ``index`` (positions in ``images``), ``true``, ``pred``,
        ``confidence`` (the probability given to ``pred``) and ``true_prob`` (the probability
        given to the true class); plus ``num_images`` (0-d) for the total looked at.
    """
    labels = numpy.asarray(labels).astype(numpy.int64)
    probs = predict_proba(model, images, mean, std, batch_size)
    pred = probs.argmax(axis=1)
    wrong = numpy.flatnonzero(pred != labels)
    conf = probs[wrong, pred[wrong]]
    order = wrong[numpy.argsort(-conf, kind="stable")]
    return {
        "index": order,
        "true": labels[order],
        "pred": pred[order],
        "confidence": probs[order, pred[order]],
        "true_prob": probs[order, labels[order]],
        "num_images": numpy.array(len(images)),
    }


def _names(classes: Sequence[str] | None, k: int) -> list[str]:
    return [str(c) for c in classes] if classes is not None else [str(i) for i in range(k)]


def plot_confusion(
    confusion: Any, classes: Sequence[str] | None = None, title: str | None = None
) -> Any:
    """The confusion matrix: rows true class, columns predicted class.

    Cell colour is the row fraction (the share of class i predicted as j, so the diagonal is
    each class's recall); the number written in a cell is the count. Counts are written
    only up to 30 classes.

    Args:
        confusion: int array (K, K), e.g. ``tinyconv.train.evaluate(...)["confusion_matrix"]``.
        classes: K class names. Default: "0" ... "K-1".
        title (str | None): default: the accuracy and the number of images.

    Returns:
        matplotlib.figure.Figure: a matrix axes (its image holds the row fractions) and a
        colour bar.

    Raises:
        ValueError: not a square 2-D matrix, or ``classes`` of the wrong length.

    Example:
        >>> fig = plot_confusion(numpy.array([[5, 1], [2, 7]]), ["cat", "dog"])
        >>> fig.axes[0].get_title()
        'accuracy 80.00% (12 of 15 images)'
    """
    cm = numpy.asarray(to_numpy(confusion))
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] == 0:
        raise ValueError(f"a confusion matrix must be square (K, K), got shape {cm.shape}")
    k = cm.shape[0]
    names = _names(classes, k)
    if len(names) != k:
        raise ValueError(f"{len(names)} class names for a {k}x{k} confusion matrix")
    rows = cm.sum(axis=1, keepdims=True)
    frac = numpy.where(rows > 0, cm / numpy.maximum(rows, 1), 0.0)
    side = min(12.0, max(4.5, 0.55 * k + 2.0))
    fig = new_figure(side + 1.0, side)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(frac, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    if k <= 30:
        for (i, j), n in numpy.ndenumerate(cm):
            if n:
                ax.text(
                    j,
                    i,
                    str(int(n)),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if frac[i, j] > 0.5 else "black",
                )
    ticks = list(range(k)) if k <= 50 else []
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    if ticks:
        ax.set_xticklabels(
            [names[t] for t in ticks],
            rotation=45 if max(map(len, names)) > 2 else 0,
            ha="right" if max(map(len, names)) > 2 else "center",
            fontsize=8,
        )
        ax.set_yticklabels([names[t] for t in ticks], fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    total, correct = int(cm.sum()), int(numpy.trace(cm))
    acc = correct / total if total else float("nan")
    ax.set_title(title or f"accuracy {100 * acc:.2f}% ({correct} of {total} images)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_mistakes(
    images: numpy.ndarray,
    mistakes: dict[str, numpy.ndarray],
    classes: Sequence[str] | None = None,
    max_images: int = 25,
    title: str | None = None,
) -> Any:
    """A grid of misclassified images with ``true -> predicted (confidence)`` above each.

    Args:
        images: all the images looked at, (N, C, H, W) uint8 (or float); the tiles are
            ``images[mistakes["index"]]``.
        mistakes: what ``find_mistakes`` returns.
        classes: class names. Default: the class numbers.
        max_images (int): at most this many tiles (the most confident mistakes). Default: 25.
        title (str | None): default: how many mistakes among how many images.

    Returns:
        matplotlib.figure.Figure with one axes per mistake drawn (one axes with a note when
        there is no mistake).
    """
    if max_images < 1:
        raise ValueError(f"max_images must be >= 1, got {max_images}")
    idx = numpy.asarray(mistakes["index"])
    total = int(mistakes.get("num_images", len(images)))
    k = int(max(numpy.max(mistakes["true"], initial=0), numpy.max(mistakes["pred"], initial=0))) + 1
    names = _names(classes, k)
    heading = title or f"{len(idx)} mistakes among {total} images" + (
        f" (the {min(len(idx), max_images)} most confident shown)" if len(idx) > max_images else ""
    )
    if len(idx) == 0:
        fig = new_figure(5, 2)
        ax = fig.add_subplot(1, 1, 1)
        ax.text(0.5, 0.5, f"no mistakes among {total} images", ha="center", va="center")
        ax.axis("off")
        return fig
    n = min(len(idx), max_images)
    rows, cols = grid_shape(n, 8)
    fig = new_figure(1.45 * cols + 0.2, 1.6 * rows + 0.5)
    for t in range(n):
        ax = fig.add_subplot(rows, cols, t + 1)
        img, cmap = image_for_display(numpy.asarray(images[idx[t]]))
        ax.imshow(img, cmap=cmap, interpolation="nearest")
        true, pred = int(mistakes["true"][t]), int(mistakes["pred"][t])
        ax.set_title(
            f"true {names[true]}\npred {names[pred]} ({100 * mistakes['confidence'][t]:.0f}%)",
            fontsize=8,
            color="firebrick",
        )
        hide_ticks(ax)
    fig.suptitle(heading, fontsize=10)
    fig.tight_layout()
    return fig
