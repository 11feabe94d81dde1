"""Semantic segmentation metrics: confusion matrix, per-class IoU, mean IoU, pixel accuracy.

Everything is computed from one confusion matrix C (K, K) of pixel counts, with one row per true
class and one column per predicted class: C[i, j] counts the pixels of true class i predicted as
j (the same orientation as ``tinyconv.train.evaluate``). With TP_k = C[k, k],
FP_k = sum_i C[i, k] - TP_k and FN_k = sum_j C[k, j] - TP_k:

    IoU_k          = TP_k / (TP_k + FP_k + FN_k)
    mean IoU       = (1 / |V|) * sum_{k in V} IoU_k,  V = classes with TP_k + FP_k + FN_k > 0
    pixel accuracy = trace(C) / sum(C)

These are the "mean IU" and "pixel accuracy" of Long, Shelhamer and Darrell, *Fully
Convolutional Networks for Semantic Segmentation* (CVPR 2015), and the PASCAL VOC segmentation
measure (Everingham et al., IJCV 2010). The counts are summed over the whole dataset before any
division (``SegmentationMeter`` does that batch by batch); averaging per-image IoUs gives a
different, usually lower, number.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy

from .. import backend
from ..backend import get_array_module
from ..tensor import Tensor


def _unwrap(x: Any) -> Any:
    """The array of a Tensor, or x turned into an array of its own module (lists -> NumPy)."""
    if isinstance(x, Tensor):
        x = x.data
    return get_array_module(x).asarray(x)


def _label_map(x: Any, name: str, where: str) -> Any:
    """An integer label array (bool counts as 0/1); a float array is a TypeError."""
    a = _unwrap(x)
    if a.dtype.kind not in "iub":
        raise TypeError(
            f"{where}: {name} must be an integer label map, got dtype {a.dtype} "
            "(for scores of shape (N, K, H, W), take argmax over the class axis first)"
        )
    return a


def _check_num_classes(num_classes: Any, where: str) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, Integral):
        raise TypeError(f"{where}: num_classes must be an int, got {num_classes!r}")
    if num_classes < 1:
        raise ValueError(f"{where}: num_classes must be >= 1, got num_classes={num_classes}")
    return int(num_classes)


def _valid_pairs(pred: Any, target: Any, ignore_index: int | None, where: str) -> tuple[Any, Any]:
    """Flattened (pred, target) over the pixels whose target is not ``ignore_index``."""
    p = _label_map(pred, "pred", where)
    t = _label_map(target, "target", where)
    if p.shape != t.shape:
        raise ValueError(
            f"{where}: pred and target must have the same shape, "
            f"got pred {tuple(p.shape)} and target {tuple(t.shape)}"
        )
    p, t = p.reshape(-1), t.reshape(-1)  # (P,) pixels
    if ignore_index is not None:
        keep = t != ignore_index
        p, t = p[keep], t[keep]  # (P_valid,)
    return p, t


def _confusion(
    pred: Any, target: Any, num_classes: int, ignore_index: int | None, where: str
) -> Any:
    """``confusion_matrix``, with errors naming the public function ``where``."""
    K = _check_num_classes(num_classes, where)
    p, t = _valid_pairs(pred, target, ignore_index, where)
    xp = get_array_module(p)
    for name, a in (("pred", p), ("target", t)):
        if a.size and (int(a.min()) < 0 or int(a.max()) >= K):
            bad = int(a.min()) if int(a.min()) < 0 else int(a.max())
            hint = "" if name == "pred" else " (set ignore_index to skip a void label such as 255)"
            raise ValueError(f"{where}: {name} has label {bad} outside [0, num_classes={K}){hint}")
    # one bin per (true, predicted) pair: index = K * t + p, counted in int64 (no uint8 overflow)
    flat = t.astype(xp.int64) * K + p.astype(xp.int64)  # (P_valid,)
    return xp.bincount(flat, minlength=K * K).astype(xp.int64).reshape(K, K)


def confusion_matrix(
    pred: Any, target: Any, num_classes: int, ignore_index: int | None = None
) -> Any:
    """Pixel confusion matrix of two integer label maps: C[i, j] = #{true i, predicted j}.

    Args:
        pred (array or Tensor): predicted class of each pixel, integer dtype, any shape
            (e.g. (N, H, W)).
        target (array or Tensor): true class of each pixel, same shape as ``pred``.
        num_classes (int): K; labels must lie in [0, K).
        ignore_index (int | None): target value to leave out (e.g. 255, VOC's "void" border);
            the prediction at those pixels is ignored too. Default: None.

    Returns:
        int64 array (K, K) of the inputs' array module: rows = true class, columns = predicted.

    Raises:
        TypeError: a non-integer label map, or a non-int ``num_classes``.
        ValueError: shapes differ, ``num_classes`` < 1, or a label (other than
            ``ignore_index`` in ``target``) outside [0, K).

    Example:
        >>> import numpy
        >>> target = numpy.array([[0, 0, 1], [1, 2, 2]])
        >>> pred = numpy.array([[0, 1, 1], [1, 2, 0]])
        >>> confusion_matrix(pred, target, num_classes=3).tolist()
        [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    """
    return _confusion(pred, target, num_classes, ignore_index, "confusion_matrix")


def iou_per_class(cm: Any) -> Any:
    """Intersection over union of each class from a confusion matrix.

    IoU_k = TP_k / (TP_k + FP_k + FN_k), with TP_k = C[k, k], FP_k = (column k sum) - TP_k and
    FN_k = (row k sum) - TP_k. A class absent from both the truth and the prediction has
    0 / 0: its IoU is NaN (not 0 and not 1), so that means can leave it out.

    Args:
        cm (array or Tensor): confusion matrix (K, K), rows = true class, columns = predicted
            (as from ``confusion_matrix``).

    Returns:
        float64 array (K,).

    Raises:
        ValueError: ``cm`` is not a square 2-D matrix.

    Example:
        >>> import numpy
        >>> cm = numpy.array([[1, 1, 0], [0, 2, 0], [0, 0, 0]])
        >>> iou_per_class(cm).round(4).tolist()  # 1/(1+0+1), 2/(2+1+0), 0/0
        [0.5, 0.6667, nan]
    """
    c = _unwrap(cm)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"iou_per_class: expected a square matrix (K, K), got {tuple(c.shape)}")
    xp = get_array_module(c)
    c = c.astype(xp.float64)
    tp = xp.diagonal(c)  # (K,)
    union = c.sum(axis=0) + c.sum(axis=1) - tp  # TP + FP + FN = column + row - diagonal
    return xp.where(union > 0, tp / xp.where(union > 0, union, 1.0), xp.nan)


def _nanmean(values: Any) -> float:
    """Mean of the non-NaN entries; NaN (without a warning) when there is none."""
    xp = get_array_module(values)
    present = ~xp.isnan(values)
    if not bool(present.any()):
        return float("nan")
    return float(values[present].mean())


def _accuracy(cm: Any) -> float:
    total = int(cm.sum())
    return float("nan") if total == 0 else float(cm.trace()) / total


def mean_iou(pred: Any, target: Any, num_classes: int, ignore_index: int | None = None) -> float:
    """Mean intersection over union (the FCN paper's "mean IU", the PASCAL VOC measure).

    mean IoU = (1 / |V|) * sum_{k in V} TP_k / (TP_k + FP_k + FN_k), from the confusion matrix
    of all the pixels given, where V holds the classes whose IoU is not NaN: a class that
    appears neither in ``target`` nor in ``pred`` is left out of the mean instead of counting
    as 0 or 1 (a class that is only predicted, or only true, counts with IoU 0). Pass the whole
    dataset at once, or use ``SegmentationMeter`` to accumulate the confusion matrix batch by
    batch: the counts are summed over the dataset before dividing, as in Long et al. (2015) and
    PASCAL VOC, which is not the mean of per-image IoUs.

    Args:
        pred (array or Tensor): predicted labels, integer dtype, any shape.
        target (array or Tensor): true labels, same shape.
        num_classes (int): K.
        ignore_index (int | None): target value to leave out. Default: None.

    Returns:
        float: NaN when no pixel is left to count.

    Raises:
        TypeError, ValueError: as ``confusion_matrix``.

    Example:
        >>> import numpy
        >>> target = numpy.array([[0, 0, 1], [1, 2, 2]])
        >>> pred = numpy.array([[0, 1, 1], [1, 2, 0]])
        >>> round(mean_iou(pred, target, num_classes=4), 4)  # (1/3 + 2/3 + 1/2) / 3; class 3 absent
        0.5
    """
    cm = _confusion(pred, target, num_classes, ignore_index, "mean_iou")
    return _nanmean(iou_per_class(cm))


def pixel_accuracy(pred: Any, target: Any, ignore_index: int | None = None) -> float:
    """Fraction of pixels whose predicted label equals the true one.

    pixel accuracy = sum_k TP_k / (number of pixels) = trace(C) / sum(C), over the pixels whose
    target is not ``ignore_index``.

    Args:
        pred (array or Tensor): predicted labels, integer dtype, any shape.
        target (array or Tensor): true labels, same shape.
        ignore_index (int | None): target value to leave out. Default: None.

    Returns:
        float: NaN when no pixel is left to count.

    Raises:
        TypeError: a non-integer label map.
        ValueError: shapes differ.

    Example:
        >>> import numpy
        >>> target = numpy.array([[0, 0, 1], [1, 2, 255]])
        >>> pred = numpy.array([[0, 1, 1], [1, 2, 0]])
        >>> pixel_accuracy(pred, target, ignore_index=255)  # 4 right of 5 counted
        0.8
    """
    p, t = _valid_pairs(pred, target, ignore_index, "pixel_accuracy")
    if p.size == 0:
        return float("nan")
    return int((p == t).sum()) / int(p.size)


class SegmentationMeter:
    """Accumulates a pixel confusion matrix over batches; reads mean IoU and pixel accuracy.

    The matrix is summed over every ``update`` (the whole dataset) before IoU is computed, as
    ``mean_iou`` describes. It lives on the host as int64 NumPy (K x K counts are tiny), so
    batches from the CPU and the GPU can be mixed.

    Args:
        num_classes (int): K.
        ignore_index (int | None): target value to leave out (e.g. 255). Default: None.

    Attributes:
        confusion_matrix (numpy.ndarray): int64 (K, K), rows = true class, columns = predicted.

    Example:
        >>> import numpy
        >>> meter = SegmentationMeter(num_classes=3)
        >>> meter.update(numpy.array([[0, 1, 1]]), numpy.array([[0, 0, 1]]))
        >>> meter.update(numpy.array([[1, 2, 0]]), numpy.array([[1, 2, 2]]))
        >>> meter.iou.round(4).tolist(), round(meter.mean_iou, 4), meter.pixel_accuracy
        ([0.3333, 0.6667, 0.5], 0.5, 0.6666666666666666)
    """

    def __init__(self, num_classes: int, ignore_index: int | None = None) -> None:
        self.num_classes = _check_num_classes(num_classes, "SegmentationMeter")
        self.ignore_index = ignore_index
        self.reset()

    def reset(self) -> None:
        """Forget every count."""
        K = self.num_classes
        self.confusion_matrix = numpy.zeros((K, K), dtype=numpy.int64)  # host-side state

    def update(self, pred: Any, target: Any) -> None:
        """Add the pixels of one batch (label maps of any equal shape, e.g. (N, H, W))."""
        cm = confusion_matrix(pred, target, self.num_classes, self.ignore_index)
        self.confusion_matrix += backend.to_device(cm, "cpu")

    @property
    def num_pixels(self) -> int:
        """How many pixels have been counted (``ignore_index`` ones excluded)."""
        return int(self.confusion_matrix.sum())

    @property
    def iou(self) -> numpy.ndarray:
        """Per-class IoU (K,), NaN for a class seen in neither truth nor prediction."""
        return iou_per_class(self.confusion_matrix)

    @property
    def mean_iou(self) -> float:
        """Mean of the non-NaN per-class IoUs (NaN before any pixel)."""
        return _nanmean(self.iou)

    @property
    def pixel_accuracy(self) -> float:
        """trace(C) / sum(C) (NaN before any pixel)."""
        return _accuracy(self.confusion_matrix)

    def __repr__(self) -> str:
        extra = "" if self.ignore_index is None else f", ignore_index={self.ignore_index}"
        return f"SegmentationMeter(num_classes={self.num_classes}{extra})"
