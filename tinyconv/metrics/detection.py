"""Object detection metrics: box IoU, non-maximum suppression, average precision, VOC mAP.

Boxes are (x0, y0, x1, y1) in pixels with continuous coordinates: x0 <= x1, y0 <= y1, and the
area is (x1 - x0) * (y1 - y0) (no "+1" as in the original PASCAL VOC devkit, whose integer pixel
boxes include both ends; torchvision's convention). For boxes a and b,

    IoU(a, b) = |a ∩ b| / |a ∪ b| = inter / (area(a) + area(b) - inter),
    inter     = max(0, min(a.x1, b.x1) - max(a.x0, b.x0))
              * max(0, min(a.y1, b.y1) - max(a.y0, b.y0)).

Average precision follows Everingham et al., *The PASCAL Visual Object Classes (VOC) Challenge*
(IJCV 2010) and the VOC devkit: detections ranked by score give recall r_n = TP_n / N_gt and
precision p_n = TP_n / n after the top n; AP summarises that curve.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any

from ..backend import get_array_module
from ..tensor import Tensor

AP_METHODS = ("all", "11point")


def _unwrap(x: Any) -> Any:
    """The array of a Tensor, or x turned into an array of its own module (lists -> NumPy)."""
    if isinstance(x, Tensor):
        x = x.data
    return get_array_module(x).asarray(x)


def _boxes(x: Any, name: str, where: str) -> Any:
    """A float (N, 4) box array, checked for x0 <= x1 and y0 <= y1 (an empty array is (0, 4))."""
    b = _unwrap(x)
    xp = get_array_module(b)
    if b.size == 0:
        b = b.reshape(0, 4)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(
            f"{where}: expected {name} of shape (N, 4) as (x0, y0, x1, y1), got {tuple(b.shape)}"
        )
    if b.dtype.kind != "f":
        b = b.astype(xp.float64)
    bad = (b[:, 2] < b[:, 0]) | (b[:, 3] < b[:, 1]) | ~xp.isfinite(b).all(axis=1)  # (N,)
    if b.shape[0] and bool(bad.any()):
        i = int(xp.argmax(bad))
        raise ValueError(
            f"{where}: {name}[{i}] = {b[i].tolist()} is not a box (x0, y0, x1, y1) "
            "with finite x0 <= x1 and y0 <= y1"
        )
    return b


def _vector(x: Any, n: int, name: str, where: str, integer: bool = False) -> Any:
    """A 1-D array of length n (scores as floats, labels as integers)."""
    v = _unwrap(x)
    xp = get_array_module(v)
    if v.size == 0:
        v = v.reshape(0)
    if v.ndim != 1 or v.shape[0] != n:
        raise ValueError(f"{where}: expected {name} of shape ({n},), got {tuple(v.shape)}")
    if integer:
        if v.dtype.kind not in "iu" and v.size:
            raise TypeError(f"{where}: {name} must be integer class labels, got dtype {v.dtype}")
        return v.astype(xp.int64)
    if v.dtype.kind not in "iuf":
        raise TypeError(f"{where}: {name} must be real numbers, got dtype {v.dtype}")
    v = v.astype(xp.float64)
    if v.size and bool(xp.isnan(v).any()):
        raise ValueError(f"{where}: {name} contains NaN")
    return v


def _check_threshold(iou_threshold: Any, where: str) -> float:
    t = float(iou_threshold)
    if not 0.0 <= t <= 1.0:  # (also False for NaN)
        raise ValueError(f"{where}: iou_threshold must be in [0, 1], got {iou_threshold!r}")
    return t


def _iou(a: Any, b: Any) -> Any:
    """IoU matrix of checked float boxes a (N, 4) and b (M, 4) -> (N, M)."""
    xp = get_array_module(a, b)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])  # (N,)
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # (M,)
    w = xp.minimum(a[:, None, 2], b[None, :, 2]) - xp.maximum(a[:, None, 0], b[None, :, 0])
    h = xp.minimum(a[:, None, 3], b[None, :, 3]) - xp.maximum(a[:, None, 1], b[None, :, 1])
    inter = xp.clip(w, 0, None) * xp.clip(h, 0, None)  # (N, M)
    union = area_a[:, None] + area_b[None, :] - inter  # (N, M)
    return xp.where(union > 0, inter / xp.where(union > 0, union, 1), 0).astype(inter.dtype)


def box_iou(a: Any, b: Any) -> Any:
    """Pairwise intersection over union of two sets of boxes.

    IoU[i, j] = inter(a_i, b_j) / (area(a_i) + area(b_j) - inter(a_i, b_j)), with areas
    (x1 - x0) * (y1 - y0). Two boxes whose union has zero area (degenerate boxes) have IoU 0.

    Args:
        a (array or Tensor): (N, 4) boxes (x0, y0, x1, y1).
        b (array or Tensor): (M, 4) boxes.

    Returns:
        array (N, M) of the boxes' float dtype (float64 for integer boxes).

    Raises:
        ValueError: a shape other than (N, 4), or a box with x1 < x0, y1 < y0 or a non-finite
            coordinate.

    Example:
        >>> import numpy
        >>> a = numpy.array([[0.0, 0.0, 2.0, 2.0]])
        >>> b = numpy.array([[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 1.0, 2.0], [2.0, 0.0, 4.0, 2.0]])
        >>> box_iou(a, b).round(4).tolist()  # 1/(4+4-1), 2/(4+2-2), touching edges
        [[0.1429, 0.5, 0.0]]
    """
    return _iou(_boxes(a, "boxes a", "box_iou"), _boxes(b, "boxes b", "box_iou"))


def _descending(scores: Any) -> Any:
    """Indices by decreasing score, ties by lower index first (a stable sort of -score)."""
    xp = get_array_module(scores)
    return xp.argsort(-scores, kind="stable")


def _nms(boxes: Any, scores: Any, iou_threshold: float) -> Any:
    """Greedy NMS on checked inputs: keep the best box, drop those overlapping it, repeat."""
    xp = get_array_module(boxes)
    order = _descending(scores)  # (N,) candidates, best first
    keep = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        overlap = _iou(boxes[i][None, :], boxes[rest])[0]  # (len(rest),)
        order = rest[overlap <= iou_threshold]
    return xp.asarray(keep, dtype=xp.int64)


def nms(boxes: Any, scores: Any, iou_threshold: float) -> Any:
    """Greedy non-maximum suppression.

    Visit the boxes by decreasing score (equal scores: lower index first); keep a box unless
    its IoU with a box already kept is greater than ``iou_threshold`` (IoU == threshold is
    kept, as in torchvision.ops.nms).

    Args:
        boxes (array or Tensor): (N, 4) boxes (x0, y0, x1, y1).
        scores (array or Tensor): (N,) scores.
        iou_threshold (float): in [0, 1].

    Returns:
        int64 array of the kept indices, by decreasing score.

    Raises:
        ValueError: bad shapes or boxes, NaN scores, a threshold outside [0, 1].

    Example:
        >>> import numpy
        >>> boxes = numpy.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30]], dtype=float)
        >>> scores = numpy.array([0.8, 0.9, 0.7])
        >>> nms(boxes, scores, iou_threshold=0.5).tolist()  # IoU(box 0, box 1) = 90/110
        [1, 2]
    """
    where = "nms"
    b = _boxes(boxes, "boxes", where)
    s = _vector(scores, b.shape[0], "scores", where)
    return _nms(b, s, _check_threshold(iou_threshold, where))


def batched_nms(boxes: Any, scores: Any, labels: Any, iou_threshold: float) -> Any:
    """Non-maximum suppression within each class: boxes of different labels never suppress.

    Args:
        boxes (array or Tensor): (N, 4) boxes (x0, y0, x1, y1).
        scores (array or Tensor): (N,) scores.
        labels (array or Tensor): (N,) integer class of each box.
        iou_threshold (float): in [0, 1].

    Returns:
        int64 array of the kept indices, by decreasing score (equal scores: lower index first).

    Raises:
        ValueError: bad shapes or boxes, NaN scores, a threshold outside [0, 1].
        TypeError: non-integer labels.

    Example:
        >>> import numpy
        >>> boxes = numpy.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30]], dtype=float)
        >>> scores, labels = numpy.array([0.8, 0.9, 0.7]), numpy.array([0, 1, 0])
        >>> batched_nms(boxes, scores, labels, iou_threshold=0.5).tolist()
        [1, 0, 2]
    """
    where = "batched_nms"
    b = _boxes(boxes, "boxes", where)
    s = _vector(scores, b.shape[0], "scores", where)
    lab = _vector(labels, b.shape[0], "labels", where, integer=True)
    t = _check_threshold(iou_threshold, where)
    xp = get_array_module(b)
    kept = [xp.zeros(0, dtype=xp.int64)]
    for c in xp.unique(lab).tolist():
        idx = xp.nonzero(lab == c)[0]  # (n_c,) boxes of class c
        kept.append(idx[_nms(b[idx], s[idx], t)])
    keep = xp.sort(xp.concatenate(kept))  # ascending index, so the stable sort breaks ties by it
    return keep[_descending(s[keep])]


def _running_max_from_right(x: Any) -> Any:
    """m[i] = max(x[i:]) by a log-step scan (xp-only: CuPy has no maximum.accumulate)."""
    xp = get_array_module(x)
    m = x.copy()
    shift = 1
    while shift < m.shape[0]:
        m[:-shift] = xp.maximum(m[:-shift], m[shift:])  # now m[i] = max(x[i : i + 2 * shift])
        shift *= 2
    return m


def average_precision(recall: Any, precision: Any, method: str = "all") -> float:
    """Area under a precision-recall curve, the PASCAL VOC way.

    The curve is the points (r_n, p_n) after each of the ranked detections, recall
    non-decreasing. Both methods use the interpolated precision
    p_interp(r) = max_{n: r_n >= r} p_n (0 if no point reaches r), which makes the curve
    monotone non-increasing:

    * ``"all"`` (VOC 2010 and later): AP = sum_n (r_n - r_{n-1}) * p_interp(r_n), r_0 = 0; the
      exact area under the step curve p_interp.
    * ``"11point"`` (VOC 2007): AP = (1/11) * sum_{t in {0, 0.1, ..., 1}} p_interp(t). The
      levels are t = k / 10 as floats, so a recall of exactly 0.3 reaches t = 0.3 (the devkit's
      ``numpy.arange(0, 1.1, 0.1)`` has 0.30000000000000004 there).

    Args:
        recall (array or Tensor): (n,) recall after each detection, non-decreasing, in [0, 1].
        precision (array or Tensor): (n,) precision after each detection, in [0, 1].
        method (str): "all" or "11point". Default: "all".

    Returns:
        float: AP in [0, 1]; 0 for an empty curve.

    Raises:
        ValueError: shapes differ or are not 1-D, recall decreases, a value outside [0, 1], or
            an unknown method.

    Example:
        >>> import numpy
        >>> # ranked TP, FP, TP, FP with 3 ground-truth boxes
        >>> recall = numpy.array([1, 1, 2, 2]) / 3
        >>> precision = numpy.array([1 / 1, 1 / 2, 2 / 3, 2 / 4])
        >>> round(average_precision(recall, precision), 4)  # 1/3 * 1 + 1/3 * 2/3 = 5/9
        0.5556
        >>> round(average_precision(recall, precision, method="11point"), 4)  # (4 + 3 * 2/3) / 11
        0.5455
    """
    where = "average_precision"
    if method not in AP_METHODS:
        raise ValueError(f"{where}: method must be one of {AP_METHODS}, got {method!r}")
    r, p = _unwrap(recall), _unwrap(precision)
    if r.ndim != 1 or r.shape != p.shape:
        raise ValueError(
            f"{where}: expected recall and precision of the same shape (n,), "
            f"got {tuple(r.shape)} and {tuple(p.shape)}"
        )
    xp = get_array_module(r, p)
    r, p = r.astype(xp.float64), p.astype(xp.float64)
    if r.size == 0:
        return 0.0
    for name, v in (("recall", r), ("precision", p)):
        if not bool(((v >= 0) & (v <= 1)).all()):  # (also catches NaN)
            raise ValueError(f"{where}: {name} values must be in [0, 1]")
    if bool((r[1:] < r[:-1]).any()):
        raise ValueError(f"{where}: recall must be non-decreasing (ranked by decreasing score)")
    if method == "11point":
        levels = xp.arange(11, dtype=xp.float64) / 10  # (11,) t = 0, 0.1, ..., 1
        reached = r[None, :] >= levels[:, None]  # (11, n)
        p_interp = xp.where(reached, p[None, :], 0.0).max(axis=1)  # (11,) 0 when none reaches t
        return float(p_interp.sum() / 11)
    zero = xp.zeros(1, dtype=xp.float64)
    p_interp = _running_max_from_right(p)  # (n,) max precision at this recall or beyond
    dr = r - xp.concatenate([zero, r[:-1]])  # (n,) recall gained by each detection
    return float((dr * p_interp).sum())


@dataclass
class DetectionResult:
    """What ``mean_average_precision`` measures.

    Attributes:
        map (float): mean of ``ap`` over the classes with ground truth (NaN if none has).
        ap (array): (K,) average precision per class, NaN for a class without ground truth.
        num_ground_truth (array): (K,) int64 ground-truth boxes per class.
        num_detections (array): (K,) int64 detections per class.
        true_positives (array): (K,) int64 detections matched to a ground-truth box; recall of
            class k is true_positives[k] / num_ground_truth[k].
        iou_threshold (float): the matching threshold.
        method (str): "all" or "11point".
    """

    map: float
    ap: Any
    num_ground_truth: Any
    num_detections: Any
    true_positives: Any
    iou_threshold: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values (lists, floats; NaN stays NaN), e.g. for JSON."""
        return {
            "map": self.map,
            "ap": self.ap.tolist(),
            "num_ground_truth": self.num_ground_truth.tolist(),
            "num_detections": self.num_detections.tolist(),
            "true_positives": self.true_positives.tolist(),
            "iou_threshold": self.iou_threshold,
            "method": self.method,
        }


def _entry(item: Any, n: int, what: str, where: str, i: int) -> tuple[Any, ...]:
    if not isinstance(item, (tuple, list)) or len(item) != n:
        raise TypeError(f"{where}: {what}[{i}] must be a tuple {_LAYOUT[what]}, got {item!r:.80}")
    return tuple(item)


_LAYOUT = {
    "predictions": "(boxes (k, 4), scores (k,), labels (k,))",
    "ground_truth": "(boxes (m, 4), labels (m,))",
}


def mean_average_precision(
    predictions: Sequence[tuple[Any, Any, Any]],
    ground_truth: Sequence[tuple[Any, Any]],
    num_classes: int,
    iou_threshold: float = 0.5,
    method: str = "all",
) -> DetectionResult:
    """PASCAL VOC mean average precision over a dataset.

    For each class c: take its detections from all images, ranked by decreasing score (equal
    scores: earlier image, then lower index first). Each detection is compared with the
    ground-truth boxes of class c in its own image; let g be the one with the highest IoU (the
    lower index on a tie). It is a true positive if IoU(d, g) >= ``iou_threshold`` and g is not
    matched yet (g becomes matched), otherwise a false positive. So a duplicate detection of a
    found object is a false positive, and so is a detection whose best box is already matched
    even when another box of the class overlaps it enough: this is the VOC devkit's rule
    (``VOCevaldet.m``), not the COCO rule of taking the best unmatched box. A detection with the
    wrong class only ever meets the boxes of its own class. Then, over the ranking,

        recall_n = TP_n / N_gt(c),   precision_n = TP_n / n,   AP_c = average_precision(...)

    and mAP is the mean of AP_c over the classes with N_gt(c) > 0. A class with no ground-truth
    box has no recall; it is left out of the mean (its AP is NaN) whatever its detections. A
    class with ground truth but no detection has AP 0 and counts. VOC's "difficult" boxes are
    not modelled: drop them (and their matching detections) beforehand if needed.

    Args:
        predictions (list): one ``(boxes (k, 4), scores (k,), labels (k,))`` per image (arrays
            or Tensors; k may be 0).
        ground_truth (list): one ``(boxes (m, 4), labels (m,))`` per image, same length.
        num_classes (int): K; labels must lie in [0, K).
        iou_threshold (float): minimum IoU of a true positive. Default: 0.5.
        method (str): "all" (VOC 2010+) or "11point" (VOC 2007). Default: "all".

    Returns:
        DetectionResult: ``map``, per-class ``ap`` and counts.

    Raises:
        TypeError: malformed entries, non-integer labels.
        ValueError: lengths differ, bad shapes or boxes, a label outside [0, K), a bad
            threshold or method.

    Example:
        >>> import numpy
        >>> boxes = numpy.array([[0, 0, 10, 10], [1, 0, 11, 10]], dtype=float)
        >>> pred = [(boxes, numpy.array([0.9, 0.8]), numpy.array([0, 0]))]  # a duplicate
        >>> gt = [(boxes[:1], numpy.array([0]))]
        >>> res = mean_average_precision(pred, gt, num_classes=2)
        >>> res.map, res.ap.tolist(), res.true_positives.tolist()  # class 1 has no ground truth
        (1.0, [1.0, nan], [1, 0])
    """
    where = "mean_average_precision"
    if method not in AP_METHODS:
        raise ValueError(f"{where}: method must be one of {AP_METHODS}, got {method!r}")
    t = _check_threshold(iou_threshold, where)
    if isinstance(num_classes, bool) or not isinstance(num_classes, Integral) or num_classes < 1:
        raise ValueError(f"{where}: num_classes must be an int >= 1, got {num_classes!r}")
    K = int(num_classes)
    if len(predictions) != len(ground_truth):
        raise ValueError(
            f"{where}: expected one ground_truth entry per image of predictions, "
            f"got {len(predictions)} predictions and {len(ground_truth)} ground_truth"
        )
    # per class, over all images: the score and the TP flag of each detection (Python lists)
    scores_of: list[list[float]] = [[] for _ in range(K)]
    tp_of: list[list[int]] = [[] for _ in range(K)]
    n_gt = [0] * K
    xp = None
    for i, (pred, gt) in enumerate(zip(predictions, ground_truth, strict=True)):
        pb, ps, pl = _entry(pred, 3, "predictions", where, i)
        gb, gl = _entry(gt, 2, "ground_truth", where, i)
        pb = _boxes(pb, f"predictions[{i}] boxes", where)
        ps = _vector(ps, pb.shape[0], f"predictions[{i}] scores", where)
        pl = _vector(pl, pb.shape[0], f"predictions[{i}] labels", where, integer=True)
        gb = _boxes(gb, f"ground_truth[{i}] boxes", where)
        gl = _vector(gl, gb.shape[0], f"ground_truth[{i}] labels", where, integer=True)
        xp = xp or get_array_module(pb)
        for name, lab in (("predictions", pl), ("ground_truth", gl)):
            if lab.size and (int(lab.min()) < 0 or int(lab.max()) >= K):
                bad = int(lab.min()) if int(lab.min()) < 0 else int(lab.max())
                raise ValueError(
                    f"{where}: {name}[{i}] has label {bad} outside [0, num_classes={K})"
                )
        for c in set(gl.tolist()):
            n_gt[c] += int((gl == c).sum())
        for c in set(pl.tolist()):
            d = get_array_module(pl).nonzero(pl == c)[0]  # (k_c,) detections of class c
            g = get_array_module(gl).nonzero(gl == c)[0]  # (m_c,) boxes of class c
            tp = [0] * int(d.shape[0])
            if g.shape[0]:
                iou = _iou(pb[d], gb[g])  # (k_c, m_c)
                best = iou.argmax(axis=1).tolist()  # the first maximum: lower index on ties
                best_iou = iou.max(axis=1).tolist()
                matched = [False] * int(g.shape[0])
                for n in _descending(ps[d]).tolist():  # this image's share of the ranking
                    j = best[n]
                    if best_iou[n] >= t and not matched[j]:
                        matched[j] = True
                        tp[n] = 1
            scores_of[c].extend(ps[d].tolist())
            tp_of[c].extend(tp)
    if xp is None:
        xp = get_array_module()  # no image at all: NumPy
    ap = [float("nan")] * K
    for c in range(K):
        if n_gt[c] == 0:
            continue
        s = xp.asarray(scores_of[c], dtype=xp.float64)  # (n,) all detections of class c
        hit = xp.asarray(tp_of[c], dtype=xp.float64)[_descending(s)]  # (n,) ranked TP flags
        tp_cum = xp.cumsum(hit)  # (n,) TP_n
        rank = xp.arange(1, hit.shape[0] + 1, dtype=xp.float64)  # (n,) n
        ap[c] = average_precision(tp_cum / n_gt[c], tp_cum / rank, method)
    ap_arr = xp.asarray(ap, dtype=xp.float64)
    with_gt = [a for a, n in zip(ap, n_gt, strict=True) if n > 0]
    return DetectionResult(
        map=sum(with_gt) / len(with_gt) if with_gt else float("nan"),
        ap=ap_arr,
        num_ground_truth=xp.asarray(n_gt, dtype=xp.int64),
        num_detections=xp.asarray([len(s) for s in scores_of], dtype=xp.int64),
        true_positives=xp.asarray([sum(f) for f in tp_of], dtype=xp.int64),
        iou_threshold=t,
        method=method,
    )
