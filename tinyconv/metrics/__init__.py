"""Evaluation metrics for dense prediction: semantic segmentation and object detection.

Segmentation (integer label maps of any shape, e.g. (N, H, W)): ``confusion_matrix``,
``iou_per_class``, ``mean_iou`` (the FCN paper's / PASCAL VOC's mean IU, from the confusion
matrix of the whole dataset), ``pixel_accuracy``, and ``SegmentationMeter`` to accumulate batch
by batch. Detection (boxes (x0, y0, x1, y1) in pixels, area (x1 - x0) * (y1 - y0)):
``box_iou``, ``nms``, ``batched_nms``, ``average_precision`` (VOC all-point or 11-point) and
``mean_average_precision`` (VOC matching), which returns a ``DetectionResult``.

Inputs may be NumPy or CuPy arrays or tinyconv Tensors; array results keep the inputs' module.

import tinyconv.metrics as M
meter = M.SegmentationMeter(num_classes=21, ignore_index=255)
for images, masks in loader:
    meter.update(model(images).data.argmax(axis=1), masks)
meter.mean_iou
M.mean_average_precision(predictions, ground_truth, num_classes=20).map
"""

from .detection import (
    DetectionResult,
    average_precision,
    batched_nms,
    box_iou,
    mean_average_precision,
    nms,
)
from .segmentation import (
    SegmentationMeter,
    confusion_matrix,
    iou_per_class,
    mean_iou,
    pixel_accuracy,
)

__all__ = [
    "DetectionResult",
    "SegmentationMeter",
    "average_precision",
    "batched_nms",
    "box_iou",
    "confusion_matrix",
    "iou_per_class",
    "mean_average_precision",
    "mean_iou",
    "nms",
    "pixel_accuracy",
]
