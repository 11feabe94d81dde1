"""tinyconv.metrics: segmentation and detection metrics against hand-worked numbers.

Every expected value below is derived by hand in the comments, never by calling the function
under test; torchvision (when it imports) and a brute-force loop are independent cross-checks.
"""

import math

import numpy
import pytest

import tinyconv
from tinyconv.metrics import (
    DetectionResult,
    SegmentationMeter,
    average_precision,
    batched_nms,
    box_iou,
    confusion_matrix,
    iou_per_class,
    mean_average_precision,
    mean_iou,
    nms,
    pixel_accuracy,
)

# ------------------------------------------------------------------ segmentation
# K = 4 classes; class 3 appears in neither map.
TARGET = numpy.array(
    [
        [0, 0, 0, 0],
        [0, 0, 1, 1],
        [1, 1, 1, 1],
        [2, 2, 2, 2],
    ]
)
PRED = numpy.array(
    [
        [0, 0, 0, 1],  # one pixel of class 0 predicted as 1
        [0, 0, 1, 1],
        [1, 1, 1, 1],
        [1, 1, 2, 2],  # two pixels of class 2 predicted as 1
    ]
)
# true 0: 6 pixels, 5 -> 0, 1 -> 1      row 0 = [5, 1, 0, 0]
# true 1: 6 pixels, all -> 1           row 1 = [0, 6, 0, 0]
# true 2: 4 pixels, 2 -> 1, 2 -> 2     row 2 = [0, 2, 2, 0]
CM = [[5, 1, 0, 0], [0, 6, 0, 0], [0, 2, 2, 0], [0, 0, 0, 0]]
# IoU_0 = 5 / (5 + FP 0 + FN 1) = 5/6
# IoU_1 = 6 / (6 + FP (1 + 2) + FN 0) = 6/9 = 2/3
# IoU_2 = 2 / (2 + FP 0 + FN 2) = 1/2
# IoU_3 = 0 / 0 = NaN
# mean IoU = (5/6 + 4/6 + 3/6) / 3 = 2/3;  pixel accuracy = (5 + 6 + 2) / 16 = 13/16


def test_confusion_matrix_hand_worked():
    cm = confusion_matrix(PRED, TARGET, num_classes=4)
    assert cm.dtype == numpy.int64
    assert cm.tolist() == CM
    # rows are the true class: transposing the arguments transposes the matrix
    assert confusion_matrix(TARGET, PRED, num_classes=4).tolist() == numpy.array(CM).T.tolist()


def test_iou_per_class_hand_worked():
    iou = iou_per_class(numpy.array(CM))
    numpy.testing.assert_allclose(iou[:3], [5 / 6, 2 / 3, 1 / 2], rtol=0, atol=1e-15)
    assert math.isnan(iou[3])


def test_mean_iou_and_pixel_accuracy_hand_worked():
    assert mean_iou(PRED, TARGET, num_classes=4) == pytest.approx(2 / 3, abs=1e-15)
    # with K = 3 there is no NaN class, and the same three IoUs
    assert mean_iou(PRED, TARGET, num_classes=3) == pytest.approx(2 / 3, abs=1e-15)
    assert pixel_accuracy(PRED, TARGET) == 13 / 16


def test_ignore_index_drops_pixels_and_their_predictions():
    target = TARGET.copy()
    target[0, 3] = 255  # the one pixel of class 0 that was predicted as 1
    # row 0 = [5, 0, 0, 0]; IoU_0 = 5/5 = 1, IoU_1 = 6 / (6 + 2) = 3/4, IoU_2 = 1/2
    # mean = (1 + 3/4 + 1/2) / 3 = 3/4; pixel accuracy = 13 / 15
    cm = confusion_matrix(PRED, target, num_classes=4, ignore_index=255)
    assert cm.tolist() == [[5, 0, 0, 0], [0, 6, 0, 0], [0, 2, 2, 0], [0, 0, 0, 0]]
    assert mean_iou(PRED, target, 4, ignore_index=255) == pytest.approx(3 / 4, abs=1e-15)
    assert pixel_accuracy(PRED, target, ignore_index=255) == pytest.approx(13 / 15, abs=1e-15)


def test_class_only_predicted_counts_as_zero():
    # target all 0, pred has one pixel of class 1: IoU_0 = 3/4, IoU_1 = 0 / (0 + 1 + 0) = 0
    target = numpy.zeros((2, 2), dtype=numpy.int64)
    pred = numpy.array([[0, 0], [0, 1]])
    numpy.testing.assert_array_equal(iou_per_class(confusion_matrix(pred, target, 2)), [0.75, 0.0])
    assert mean_iou(pred, target, 2) == 0.375  # (3/4 + 0) / 2


def test_no_valid_pixel_gives_nan():
    t = numpy.full((2, 2), 255)
    assert math.isnan(mean_iou(numpy.zeros((2, 2), dtype=int), t, 3, ignore_index=255))
    assert math.isnan(pixel_accuracy(numpy.zeros((2, 2), dtype=int), t, ignore_index=255))


def test_segmentation_meter_accumulates_the_dataset_confusion_matrix():
    meter = SegmentationMeter(num_classes=4)
    assert math.isnan(meter.mean_iou) and math.isnan(meter.pixel_accuracy)
    # two "batches" of (N=1, H=2, W=4) maps, rows 0-1 then rows 2-3
    meter.update(PRED[None, :2], TARGET[None, :2])
    meter.update(tinyconv.tensor(PRED[None, 2:]), tinyconv.tensor(TARGET[None, 2:]))
    assert meter.confusion_matrix.tolist() == CM
    assert meter.num_pixels == 16
    assert meter.mean_iou == pytest.approx(2 / 3, abs=1e-15)
    assert meter.pixel_accuracy == 13 / 16
    numpy.testing.assert_allclose(meter.iou[:3], [5 / 6, 2 / 3, 1 / 2], atol=1e-15)
    # each batch alone:
    # rows 0-1: true 0 -> [5, 1], true 1 -> [0, 2]: IoU_0 = 5/6, IoU_1 = 2/3 -> mean 3/4
    # rows 2-3: true 1 -> [4, 0], true 2 -> [2, 2] (classes 1, 2): IoU_1 = 4/6, IoU_2 = 2/4 -> 7/12
    assert mean_iou(PRED[:2], TARGET[:2], 4) == pytest.approx(3 / 4, abs=1e-15)
    assert mean_iou(PRED[2:], TARGET[2:], 4) == pytest.approx(7 / 12, abs=1e-15)
    meter.reset()
    assert meter.num_pixels == 0


def test_dataset_miou_differs_from_mean_of_image_mious():
    # image A: all class 0, predicted right (IoU_0 = 1, mean 1)
    # image B: 4 pixels of class 1, predicted [1, 0, 0, 0]
    #          alone: IoU_0 = 0/3 = 0, IoU_1 = 1/4 -> mean 1/8
    # together (K=2): rows [4, 0] / [3, 1]: IoU_0 = 4 / (4 + 3) = 4/7, IoU_1 = 1/4
    #          -> mean (4/7 + 1/4) / 2 = 23/56, while the per-image average is (1 + 1/8) / 2 = 9/16
    a_t, a_p = numpy.zeros((2, 2), int), numpy.zeros((2, 2), int)
    b_t, b_p = numpy.ones((2, 2), int), numpy.array([[1, 0], [0, 0]])
    assert mean_iou(a_p, a_t, 2) == 1.0  # class 1 absent: NaN, left out
    assert mean_iou(b_p, b_t, 2) == 1 / 8
    meter = SegmentationMeter(2)
    meter.update(a_p, a_t)
    meter.update(b_p, b_t)
    assert meter.mean_iou == pytest.approx(23 / 56, abs=1e-15)
    assert meter.mean_iou != pytest.approx(9 / 16)


def test_mean_iou_matches_brute_force_loop():
    rng = numpy.random.default_rng(0)
    K = 5
    target = rng.integers(0, K, size=(3, 17, 19))
    pred = numpy.where(rng.random(target.shape) < 0.6, target, rng.integers(0, K, target.shape))
    target[rng.random(target.shape) < 0.1] = 255
    target[target == 4] = 3  # class 4 only ever predicted: IoU 0, counted
    valid = target != 255
    ious = []
    for k in range(K + 1):  # class K (=5) never appears: NaN, left out
        tp = numpy.sum((pred == k) & (target == k) & valid)
        fp = numpy.sum((pred == k) & (target != k) & valid)
        fn = numpy.sum((pred != k) & (target == k) & valid)
        if tp + fp + fn:
            ious.append(tp / (tp + fp + fn))
    expected = sum(ious) / len(ious)
    assert len(ious) == 5
    assert mean_iou(pred, target, K + 1, ignore_index=255) == pytest.approx(expected, abs=1e-12)
    acc = numpy.sum((pred == target) & valid) / numpy.sum(valid)
    assert pixel_accuracy(pred, target, ignore_index=255) == pytest.approx(acc, abs=1e-12)


def test_uint8_label_maps_do_not_overflow():
    # K * t + p would wrap in uint8 for K = 200: 199 * 200 + 199 = 39999
    t = numpy.array([199, 0], dtype=numpy.uint8)
    p = numpy.array([199, 1], dtype=numpy.uint8)
    cm = confusion_matrix(p, t, num_classes=200)
    assert cm[199, 199] == 1 and cm[0, 1] == 1 and cm.sum() == 2


def test_segmentation_errors():
    with pytest.raises(
        ValueError,
        match=r"confusion_matrix: pred and target must have the same shape, "
        r"got pred \(4, 4\) and target \(1, 4, 4\)",
    ):
        confusion_matrix(PRED, TARGET[None], 4)
    with pytest.raises(
        TypeError, match=r"mean_iou: pred must be an integer label map, got dtype float32"
    ):
        mean_iou(PRED.astype(numpy.float32), TARGET, 4)
    with pytest.raises(ValueError, match=r"target has label 255 outside \[0, num_classes=4\)"):
        confusion_matrix(PRED, numpy.where(TARGET == 2, 255, TARGET), 4)
    with pytest.raises(ValueError, match=r"pred has label 3 outside \[0, num_classes=3\)"):
        confusion_matrix(PRED + 1, TARGET, 3)
    with pytest.raises(ValueError, match=r"num_classes must be >= 1, got num_classes=0"):
        confusion_matrix(PRED, TARGET, 0)
    with pytest.raises(TypeError, match=r"SegmentationMeter: num_classes must be an int"):
        SegmentationMeter(2.0)
    with pytest.raises(
        ValueError, match=r"iou_per_class: expected a square matrix \(K, K\), got \(2, 3\)"
    ):
        iou_per_class(numpy.zeros((2, 3)))


# ------------------------------------------------------------------ box IoU
def test_box_iou_hand_worked():
    a = numpy.array([[0.0, 0.0, 2.0, 2.0]])
    b = numpy.array(
        [
            [1.0, 1.0, 3.0, 3.0],  # unit-offset square: inter 1, union 4 + 4 - 1 = 7 -> 1/7
            [0.0, 0.0, 1.0, 2.0],  # left half: inter 2, union 4 -> 1/2
            [0.5, 0.5, 1.5, 1.5],  # inside: inter 1, union 4 -> 1/4
            [2.0, 0.0, 4.0, 2.0],  # shares an edge: inter 0 -> 0
            [0.0, 0.0, 2.0, 2.0],  # itself -> 1
        ]
    )
    iou = box_iou(a, b)
    assert iou.shape == (1, 5)
    numpy.testing.assert_allclose(iou[0], [1 / 7, 1 / 2, 1 / 4, 0, 1], rtol=0, atol=1e-15)
    numpy.testing.assert_allclose(box_iou(b, a)[:, 0], iou[0], atol=0)  # symmetric
    # integer boxes and Tensors work; a degenerate (zero-area) pair has IoU 0, not NaN
    t = tinyconv.tensor(numpy.array([[0, 0, 2, 2], [1, 1, 1, 1]]))
    numpy.testing.assert_allclose(box_iou(t, t), [[1, 0], [0, 0]], atol=0)
    assert box_iou(numpy.zeros((0, 4)), b).shape == (0, 5)


def test_box_iou_errors():
    with pytest.raises(
        ValueError, match=r"box_iou: expected boxes a of shape \(N, 4\).*got \(2, 3\)"
    ):
        box_iou(numpy.zeros((2, 3)), numpy.zeros((1, 4)))
    with pytest.raises(
        ValueError, match=r"box_iou: boxes b\[1\] = \[2.0, 0.0, 1.0, 1.0\] is not a box"
    ):
        box_iou(numpy.zeros((1, 4)), numpy.array([[0, 0, 1, 1], [2, 0, 1, 1.0]]))


# ------------------------------------------------------------------ NMS
# box 0 [0,0,10,10] s=.90 | box 1 [1,0,11,10] s=.80 | box 2 [20,20,30,30] s=.70 | box 3 [5,0,15,10] s=.85
# IoU(0,1) = 9*10 / (100 + 100 - 90) = 90/110 = 0.818;  IoU(0,3) = 50 / 150 = 1/3
# IoU(1,3) = 60 / 140 = 3/7 = 0.43;  box 2 overlaps nothing.
NMS_BOXES = numpy.array(
    [[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [5, 0, 15, 10]], dtype=numpy.float64
)
NMS_SCORES = numpy.array([0.90, 0.80, 0.70, 0.85])


def test_nms_hand_worked():
    # visit order by score: 0, 3, 1, 2. Keep 0; 3 (IoU 1/3 <= .5) survives, 1 (0.818) goes;
    # keep 3; keep 2.  -> [0, 3, 2]
    assert nms(NMS_BOXES, NMS_SCORES, 0.5).tolist() == [0, 3, 2]
    # at 0.3 box 3 (1/3 > 0.3) is suppressed by box 0 -> [0, 2]
    assert nms(NMS_BOXES, NMS_SCORES, 0.3).tolist() == [0, 2]
    # IoU equal to the threshold is kept (strict ">"): 50/150 and 1/3 are the same double
    assert nms(NMS_BOXES, NMS_SCORES, 1 / 3).tolist() == [0, 3, 2]
    # threshold 0 suppresses any overlap: 0 removes 1 and 3 -> [0, 2]
    assert nms(NMS_BOXES, NMS_SCORES, 0.0).tolist() == [0, 2]
    # after dropping box 0: order 3, 1, 2; IoU(3,1) = 3/7 <= .5 keeps 1 -> [3, 1, 2] in old indices
    assert nms(NMS_BOXES[1:], NMS_SCORES[1:], 0.5).tolist() == [2, 0, 1]
    assert nms(numpy.zeros((0, 4)), numpy.zeros(0), 0.5).tolist() == []


def test_nms_ties_lower_index_first():
    same = numpy.array([[0, 0, 1, 1], [0, 0, 1, 1], [5, 5, 6, 6]], dtype=float)
    # boxes 0 and 1 coincide with equal scores: 0 is visited first and suppresses 1
    assert nms(same, numpy.array([0.5, 0.5, 0.5]), 0.5).tolist() == [0, 2]
    assert nms(same, numpy.array([0.5, 0.6, 0.5]), 0.5).tolist() == [1, 2]


def test_nms_ties_on_many_boxes_are_stable():
    # 60 disjoint unit boxes with only 3 distinct scores: nothing is suppressed, and the
    # output is by decreasing score with equal scores in increasing index (an unstable sort,
    # like numpy's default for more than 16 elements, would mix them)
    scores = numpy.random.default_rng(0).integers(0, 3, 60) / 2.0
    boxes = numpy.stack(
        [numpy.arange(60) * 2.0, numpy.zeros(60), numpy.arange(60) * 2.0 + 1, numpy.ones(60)],
        axis=1,
    )
    expected = [i for s in (1.0, 0.5, 0.0) for i in range(60) if scores[i] == s]
    assert nms(boxes, scores, 0.5).tolist() == expected
    assert batched_nms(boxes, scores, numpy.arange(60) % 4, 0.5).tolist() == expected


def test_batched_nms_per_class():
    labels = numpy.array([0, 1, 0, 0])
    # class 0: boxes 0, 2, 3 -> keeps 0, 3, 2 (as above); class 1: box 1 alone -> kept
    # merged by score: 0 (.90), 3 (.85), 1 (.80), 2 (.70)
    assert batched_nms(NMS_BOXES, NMS_SCORES, labels, 0.5).tolist() == [0, 3, 1, 2]
    # one class for all: same as nms
    assert batched_nms(NMS_BOXES, NMS_SCORES, numpy.zeros(4, int), 0.5).tolist() == [0, 3, 2]
    # merged ties: equal scores in different classes come out by index
    assert batched_nms(NMS_BOXES, numpy.ones(4), numpy.arange(4), 0.5).tolist() == [0, 1, 2, 3]


def test_nms_errors():
    with pytest.raises(ValueError, match=r"nms: expected scores of shape \(4,\), got \(3,\)"):
        nms(NMS_BOXES, NMS_SCORES[:3], 0.5)
    with pytest.raises(ValueError, match=r"nms: iou_threshold must be in \[0, 1\], got 1.5"):
        nms(NMS_BOXES, NMS_SCORES, 1.5)
    with pytest.raises(TypeError, match=r"batched_nms: labels must be integer class labels"):
        batched_nms(NMS_BOXES, NMS_SCORES, numpy.zeros(4), 0.5)


def test_box_iou_and_nms_match_torchvision():
    torch = pytest.importorskip("torch")
    tv_ops = pytest.importorskip("torchvision.ops")
    rng = numpy.random.default_rng(1)
    xy = rng.uniform(0, 50, size=(60, 2))
    wh = rng.uniform(1, 30, size=(60, 2))
    boxes = numpy.concatenate([xy, xy + wh], axis=1)  # (60, 4)
    scores = rng.random(60)
    labels = rng.integers(0, 3, 60)
    tb, ts = torch.from_numpy(boxes), torch.from_numpy(scores)
    numpy.testing.assert_allclose(
        box_iou(boxes[:20], boxes), tv_ops.box_iou(tb[:20], tb).numpy(), rtol=1e-12, atol=1e-12
    )
    for thr in (0.3, 0.5, 0.7):
        assert nms(boxes, scores, thr).tolist() == tv_ops.nms(tb, ts, thr).tolist()
        expected = tv_ops.batched_nms(tb, ts, torch.from_numpy(labels), thr).tolist()
        assert batched_nms(boxes, scores, labels, thr).tolist() == expected


# ------------------------------------------------------------------ average precision
# Ranked TP, FP, TP, FP with 3 ground-truth boxes:
#   TP_n = 1, 1, 2, 2        recall    = 1/3, 1/3, 2/3, 2/3
#   n    = 1, 2, 3, 4        precision = 1,   1/2, 2/3, 1/2
# interpolated (max to the right) = 1, 2/3, 2/3, 1/2
# all-point: recall rises 0 -> 1/3 at p_interp 1, 1/3 -> 2/3 at p_interp 2/3, then never reaches 1:
#   AP = 1/3 * 1 + 1/3 * 2/3 = 3/9 + 2/9 = 5/9 = 0.5556
# 11-point: t = 0, .1, .2, .3 (<= 1/3): max precision 1            -> 4 * 1
#           t = .4, .5, .6 (<= 2/3):     max(2/3, 1/2) = 2/3       -> 3 * 2/3 = 2
#           t = .7, .8, .9, 1:           no recall reaches t       -> 0
#   AP = (4 + 2) / 11 = 6/11 = 0.5455
RECALL = numpy.array([1, 1, 2, 2]) / 3
PRECISION = numpy.array([1 / 1, 1 / 2, 2 / 3, 2 / 4])


def test_average_precision_hand_worked():
    assert average_precision(RECALL, PRECISION) == pytest.approx(5 / 9, abs=1e-15)
    assert average_precision(RECALL, PRECISION, method="11point") == pytest.approx(
        6 / 11, abs=1e-15
    )
    # TP, FP, FP, TP with 2 ground truths
    #   recall 1/2, 1/2, 1/2, 1; precision 1, 1/2, 1/3, 1/2
    #   all-point: 1/2 * 1 + 1/2 * 1/2 = 3/4
    #   11-point: t <= .5 (6 levels): 1; t = .6 ... 1 (5 levels): 1/2 -> (6 + 2.5) / 11 = 17/22
    r = numpy.array([0.5, 0.5, 0.5, 1.0])
    p = numpy.array([1, 1 / 2, 1 / 3, 1 / 2])
    assert average_precision(r, p) == 0.75
    assert average_precision(r, p, "11point") == pytest.approx(17 / 22, abs=1e-15)
    # a precision dip followed by a rise: TP, FP, TP, TP with 3 GT
    #   recall 1/3, 1/3, 2/3, 1; precision 1, 1/2, 2/3, 3/4 -> envelope 1, 3/4, 3/4, 3/4
    #   all-point: 1/3 * 1 + 1/3 * 3/4 + 1/3 * 3/4 = 1/3 + 1/2 = 5/6
    #   (the raw, non-interpolated area 1/3 * 1 + 1/3 * 2/3 + 1/3 * 3/4 = 29/36 would differ;
    #   in the two curves above the envelope does not change the all-point value)
    r = numpy.array([1, 1, 2, 3]) / 3
    p = numpy.array([1, 1 / 2, 2 / 3, 3 / 4])
    assert average_precision(r, p) == pytest.approx(5 / 6, abs=1e-15)


def test_average_precision_edge_cases():
    # a perfect ranking: AP 1 both ways
    assert average_precision(numpy.array([0.5, 1.0]), numpy.array([1.0, 1.0])) == 1.0
    assert average_precision(numpy.array([0.5, 1.0]), numpy.ones(2), "11point") == 1.0
    assert average_precision(numpy.zeros(0), numpy.zeros(0)) == 0.0
    # recall exactly 3/10 reaches the level t = 0.3: t = 0, .1, .2, .3 -> 4/11
    assert average_precision(numpy.array([0.3]), numpy.array([1.0]), "11point") == 4 / 11
    # long curve (the log-step running max): constant precision 1/2 up to recall 1 -> 1/2
    n = 1000
    assert average_precision(numpy.arange(1, n + 1) / n, numpy.full(n, 0.5)) == pytest.approx(0.5)


def test_average_precision_errors():
    with pytest.raises(ValueError, match=r"average_precision: recall must be non-decreasing"):
        average_precision(numpy.array([0.5, 0.2]), numpy.array([1.0, 1.0]))
    with pytest.raises(ValueError, match=r"same shape \(n,\), got \(2,\) and \(3,\)"):
        average_precision(numpy.array([0.5, 1.0]), numpy.ones(3))
    with pytest.raises(ValueError, match=r"method must be one of \('all', '11point'\), got 'voc'"):
        average_precision(RECALL, PRECISION, method="voc")
    with pytest.raises(ValueError, match=r"precision values must be in \[0, 1\]"):
        average_precision(RECALL, PRECISION * 2)


# ------------------------------------------------------------------ mean average precision
def _map_example():
    """2 images, 3 classes; class 2 has no ground truth.

    image 0, ground truth: A [0,0,10,10] class 0, B [20,20,30,30] class 1
      d0 [0,0,10,10]   .90 class 0 -> IoU(A) 1: TP (A matched)
      d1 [1,0,11,10]   .80 class 0 -> IoU(A) 90/110 = .82 but A matched: FP (duplicate)
      d2 [20,20,30,30] .70 class 0 -> wrong class: no class-0 box overlaps it: FP (B stays missed)
      d3 [50,50,60,60] .60 class 2 -> class 2 has no ground truth: ignored
    image 1, ground truth: C [0,0,10,10] class 0 (missed), D [40,40,50,50] class 1,
                           E [0,20,10,30] class 1
      e0 [40,40,50,50] .95 class 1 -> IoU(D) 1: TP
      e1 [5,20,15,30]  .60 class 1 -> best is E with 50/150 = 1/3 < .5: FP
      e2 [0,21,10,31]  .50 class 1 -> IoU(E) = 90/110 = .82: TP

    class 0: N_gt = 2 (A, C); ranking d0 TP, d1 FP, d2 FP
      recall 1/2, 1/2, 1/2; precision 1, 1/2, 1/3
      all-point AP = 1/2 * 1 = 1/2;  11-point: t <= .5 (6 levels) -> 1: 6/11
    class 1: N_gt = 3 (B, D, E); ranking e0 TP, e1 FP, e2 TP
      recall 1/3, 1/3, 2/3; precision 1, 1/2, 2/3 (the TP, FP, TP curve above)
      all-point AP = 1/3 + 2/9 = 5/9;  11-point: (4 * 1 + 3 * 2/3) / 11 = 6/11
    class 2: no ground truth -> NaN, out of the mean
    mAP (all) = (1/2 + 5/9) / 2 = (9/18 + 10/18) / 2 = 19/36;  mAP (11-point) = 6/11
    """
    f = numpy.float64
    preds = [
        (
            numpy.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [50, 50, 60, 60]], f),
            numpy.array([0.90, 0.80, 0.70, 0.60]),
            numpy.array([0, 0, 0, 2]),
        ),
        (
            numpy.array([[5, 20, 15, 30], [40, 40, 50, 50], [0, 21, 10, 31]], f),  # unsorted
            numpy.array([0.60, 0.95, 0.50]),
            numpy.array([1, 1, 1]),
        ),
    ]
    gts = [
        (numpy.array([[0, 0, 10, 10], [20, 20, 30, 30]], f), numpy.array([0, 1])),
        (
            numpy.array([[0, 0, 10, 10], [40, 40, 50, 50], [0, 20, 10, 30]], f),
            numpy.array([0, 1, 1]),
        ),
    ]
    return preds, gts


def test_mean_average_precision_hand_worked():
    preds, gts = _map_example()
    res = mean_average_precision(preds, gts, num_classes=3)
    assert isinstance(res, DetectionResult)
    assert res.map == pytest.approx(19 / 36, abs=1e-15)
    numpy.testing.assert_allclose(res.ap[:2], [1 / 2, 5 / 9], atol=1e-15)
    assert math.isnan(res.ap[2])
    assert res.num_ground_truth.tolist() == [2, 3, 0]
    assert res.num_detections.tolist() == [3, 3, 1]
    assert res.true_positives.tolist() == [1, 2, 0]
    d = res.to_dict()
    assert d["num_ground_truth"] == [2, 3, 0] and d["method"] == "all"

    res11 = mean_average_precision(preds, gts, num_classes=3, method="11point")
    numpy.testing.assert_allclose(res11.ap[:2], [6 / 11, 6 / 11], atol=1e-15)
    assert res11.map == pytest.approx(6 / 11, abs=1e-15)


def test_mean_average_precision_threshold():
    preds, gts = _map_example()
    # at IoU 0.9 the .82 match e2 -> E fails: class 1 ranking TP, FP, FP
    #   recall 1/3 (x3), precision 1, 1/2, 1/3 -> AP 1/3; class 0 unchanged (IoU 1) -> 1/2
    #   mAP = (1/2 + 1/3) / 2 = 5/12
    res = mean_average_precision(preds, gts, num_classes=3, iou_threshold=0.9)
    numpy.testing.assert_allclose(res.ap[:2], [1 / 2, 1 / 3], atol=1e-15)
    assert res.map == pytest.approx(5 / 12, abs=1e-15)
    # at IoU 1/3, e1 -> E (IoU exactly 1/3, ">=" counts) is now a TP, and E is matched when
    # e2 (score .5) comes: class 1 ranking TP, TP, FP -> recall 1/3, 2/3, 2/3, precision 1, 1, 2/3
    #   AP = 2/3 * 1 = 2/3; class 0: d1 is still a duplicate -> 1/2;  mAP = (1/2 + 2/3) / 2 = 7/12
    res = mean_average_precision(preds, gts, num_classes=3, iou_threshold=1 / 3)
    numpy.testing.assert_allclose(res.ap[:2], [1 / 2, 2 / 3], atol=1e-15)
    assert res.map == pytest.approx(7 / 12, abs=1e-15)
    assert res.true_positives.tolist() == [1, 2, 0]


def test_voc_rule_best_box_already_matched_is_false_positive():
    # ground truth of class 0: A [0,0,10,10], B [2,0,12,10]
    # p1 [0,0,10,10]   .9: IoU(A) = 1 -> TP, A matched
    # p2 [.5,0,10.5,10] .8: IoU(A) = 95/105 = .905, IoU(B) = 85/115 = .739 >= .5, but the best
    #    box A is taken -> FP under VOC (a best-unmatched rule would give B and a TP)
    # ranking TP, FP with N_gt 2: recall 1/2, 1/2; precision 1, 1/2 -> AP = 1/2
    gts = [(numpy.array([[0, 0, 10, 10], [2, 0, 12, 10]], float), numpy.array([0, 0]))]
    preds = [
        (
            numpy.array([[0, 0, 10, 10], [0.5, 0, 10.5, 10]]),
            numpy.array([0.9, 0.8]),
            numpy.array([0, 0]),
        )
    ]
    res = mean_average_precision(preds, gts, num_classes=1)
    assert res.ap.tolist() == [0.5] and res.map == 0.5
    assert res.true_positives.tolist() == [1]


def test_score_ranking_across_images():
    # one class, image 0: GT G0, detection a (.6) on it; image 1: GT G1, detection b (.9) on it
    # and a false positive c (.8) elsewhere. Global ranking b TP, c FP, a TP; N_gt 2
    #   recall 1/2, 1/2, 1; precision 1, 1/2, 2/3 -> AP = 1/2 * 1 + 1/2 * 2/3 = 5/6
    box = numpy.array([[0, 0, 10, 10]], float)
    far = numpy.array([[50, 50, 60, 60]], float)
    gts = [(box, numpy.array([0])), (box, numpy.array([0]))]
    preds = [
        (box, numpy.array([0.6]), numpy.array([0])),
        (numpy.concatenate([box, far]), numpy.array([0.9, 0.8]), numpy.array([0, 0])),
    ]
    assert mean_average_precision(preds, gts, 1).map == pytest.approx(5 / 6, abs=1e-15)


def test_class_with_ground_truth_but_no_detection_scores_zero():
    # class 0 found perfectly (AP 1), class 1 has a box and no detection (AP 0): mAP 1/2;
    # empty predictions for an image are fine, and Tensors are accepted
    box = numpy.array([[0, 0, 10, 10]], float)
    gts = [
        (numpy.array([[0, 0, 10, 10], [20, 20, 30, 30]], float), numpy.array([0, 1])),
        (numpy.zeros((0, 4)), numpy.zeros(0, int)),
    ]
    preds = [
        (
            tinyconv.tensor(box),
            tinyconv.tensor(numpy.array([0.9])),
            tinyconv.tensor(numpy.array([0])),
        ),
        (numpy.zeros((0, 4)), numpy.zeros(0), numpy.zeros(0, int)),
    ]
    res = mean_average_precision(preds, gts, num_classes=2)
    assert res.ap.tolist() == [1.0, 0.0] and res.map == 0.5
    # no ground truth anywhere: nothing to average
    assert math.isnan(mean_average_precision(preds[1:], gts[1:], 2).map)


def test_mean_average_precision_errors():
    preds, gts = _map_example()
    with pytest.raises(ValueError, match=r"got 2 predictions and 1 ground_truth"):
        mean_average_precision(preds, gts[:1], 3)
    with pytest.raises(
        ValueError, match=r"predictions\[0\] has label 2 outside \[0, num_classes=2\)"
    ):
        mean_average_precision(preds, gts, 2)
    with pytest.raises(
        TypeError, match=r"ground_truth\[0\] must be a tuple \(boxes \(m, 4\), labels \(m,\)\)"
    ):
        mean_average_precision(preds, [gts[0][0], gts[1]], 3)
    bad = [(preds[0][0], preds[0][1][:3], preds[0][2]), preds[1]]
    with pytest.raises(
        ValueError, match=r"expected predictions\[0\] scores of shape \(4,\), got \(3,\)"
    ):
        mean_average_precision(bad, gts, 3)
    with pytest.raises(ValueError, match=r"method must be one of"):
        mean_average_precision(preds, gts, 3, method="coco")
