"""``evaluate``: loss, accuracy, per-class accuracy and confusion matrix of a classifier.

The confusion matrix C has one row per true class and one column per predicted class:
C[i, j] counts the samples of class i predicted as j. Accuracy is trace(C) / sum(C), and
the accuracy of class i is C[i, i] / sum_j C[i, j] (NaN when class i has no sample).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy

from .. import backend
from .. import functional as F
from ..tensor import Tensor, no_grad
from .batches import as_batches, count_correct, model_placement, to_tensors

LOSSES: dict[str, Callable[..., Tensor]] = {
    "cross_entropy": F.cross_entropy,
    "nll": F.nll_loss,
    "mse": F.mse_loss,
}


def resolve_loss(loss: str | Callable[..., Tensor]) -> Callable[..., Tensor]:
    if callable(loss):
        return loss
    key = str(loss).lower().replace("-", "_")
    if key in LOSSES:
        return LOSSES[key]
    raise ValueError(f"unknown loss {loss!r}: expected one of {', '.join(LOSSES)} or a callable")


def evaluate(
    model: Any,
    data: Any,
    loss: str | Callable[..., Tensor] = "cross_entropy",
    batch_size: int = 256,
    num_classes: int | None = None,
) -> dict[str, Any]:
    """Loss, accuracy, per-class accuracy and confusion matrix of ``model`` on ``data``.

    Runs in eval mode (dropout off, BatchNorm running statistics) under ``no_grad``, batch by
    batch; the model's previous mode is restored afterwards.

    Args:
        model (Module): outputs (N, num_classes) logits.
        data: a DataLoader or an ``(images, labels)`` pair of arrays.
        loss: as in ``fit``. Default: "cross_entropy".
        batch_size (int): batch size for array data. Default: 256.
        num_classes (int | None): size of the confusion matrix. Default: the model's output width.

    Returns:
        dict: ``loss`` (mean over samples), ``accuracy``, ``per_class_accuracy`` (array
        (num_classes,), correct / count of each true class, NaN for a class with no sample),
        ``confusion_matrix`` (int64 array (num_classes, num_classes); row = true class,
        column = predicted class) and ``num_samples``. For a model that is not a classifier
        (outputs not (N, K), or targets not integer labels) only ``loss`` is measured; the
        other entries are None.

    Example:
        >>> import tinyconv
        >>> logits = numpy.array([[2, 0], [0, 2], [2, 0]], dtype=numpy.float32)  # (N, K)
        >>> res = evaluate(tinyconv.nn.Identity(), (logits, numpy.array([0, 1, 1])))
        >>> res["confusion_matrix"].tolist(), round(res["accuracy"], 3)
        ([[1, 0], [1, 1]], 0.667)
    """
    loss_fn = resolve_loss(loss)
    src = as_batches(data, batch_size, shuffle=False, seed=0, where="evaluate")
    dtype, device = model_placement(model)
    was_training = model.training
    model.eval()
    loss_sum, seen = 0.0, 0
    preds: list[numpy.ndarray] = []
    trues: list[numpy.ndarray] = []
    width = num_classes
    classify = True  # outputs (N, K) and integer labels (N,); else only the loss is measured
    try:
        with no_grad():
            for x, y in src:
                xt, yt = to_tensors(x, y, dtype, device)
                output = model(xt)
                n = len(xt)
                loss_sum += float(loss_fn(output, yt).item()) * n
                seen += n
                classify = classify and count_correct(output.data, yt.data) is not None
                if classify:
                    logits = backend.to_device(output.data, "cpu")  # (N, K)
                    width = width or logits.shape[1]
                    preds.append(numpy.argmax(logits, axis=1))
                    trues.append(backend.to_device(yt.data, "cpu").astype(numpy.int64))
    finally:
        model.train(was_training)
    if seen == 0:
        raise ValueError("evaluate: the data gave no batches")
    if not classify:
        return {
            "loss": loss_sum / seen,
            "accuracy": None,
            "per_class_accuracy": None,
            "confusion_matrix": None,
            "num_samples": seen,
        }
    pred, true = numpy.concatenate(preds), numpy.concatenate(trues)
    width = int(max(width or 0, int(pred.max()) + 1, int(true.max()) + 1))
    confusion = numpy.zeros((width, width), dtype=numpy.int64)
    numpy.add.at(confusion, (true, pred), 1)
    counts = confusion.sum(axis=1)
    with numpy.errstate(invalid="ignore", divide="ignore"):
        per_class = numpy.where(
            counts > 0, numpy.diag(confusion) / numpy.maximum(counts, 1), numpy.nan
        )
    return {
        "loss": loss_sum / seen,
        "accuracy": float((pred == true).mean()),
        "per_class_accuracy": per_class,
        "confusion_matrix": confusion,
        "num_samples": seen,
    }
