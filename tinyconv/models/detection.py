"""Object detection: the sliding-window classifier, and a one-stage centre-point detector.

**Sliding windows** (the seeds' idea, and OverFeat's): a classifier trained on 28x28 windows,
with a background class for windows that are not centred on a digit, is turned into a fully
convolutional network by ``convolutionize``; on a whole scene it returns one score vector per
window position (stride 4 for ``mnist_cnn``) in a single pass. Running it on the scene resized
by a few factors covers digits of several sizes; every window whose best digit score passes a
threshold becomes a box (the window's central 20x20, where MNIST puts the digit), and
non-maximum suppression keeps the best of the overlapping ones (``sliding_window_detect``).

**CenterNet** (Zhou, Wang and Krähenbühl, "Objects as Points", 2019), small: a backbone of 3x3
convolutions with BatchNorm reaches stride R = 4, dilated convolutions (atrous, rates 2 and 4)
widen the receptive field to 69 pixels without more pooling, and three heads on the stride-4
map predict, per cell,

* a heatmap per class (K channels, sigmoid): 1 at the cell holding a box's centre, falling off
  as a Gaussian around it;
* the box size (w, h) in cells, and the sub-cell offset of the centre (dx, dy).

The model returns them stacked as one map (N, K + 4, H/R, W/R). Training minimises
``centernet_loss``: the penalty-reduced focal loss on the heatmap plus L1 on size (x 0.1) and
offset at the centre cells; ``decode`` reads boxes from the local maxima of the heatmap (a 3x3
max pooling stands in for NMS, as in the paper).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

import numpy

from .. import functional as F
from .. import nn
from ..backend import get_array_module
from ..nn import init
from ..nn.linear import check_positive_int
from ..tensor import Tensor, no_grad
from ._base import register_model
from .convolutionize import convolutionize

Detections = list[
    tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]
]  # per image: boxes, scores, labels


def _conv_bn(
    c_in: int, c_out: int, stride: int = 1, dilation: int = 1
) -> list[tuple[str, nn.Module]]:
    return [
        (
            "conv",
            nn.Conv2d(
                c_in, c_out, 3, stride=stride, padding=dilation, dilation=dilation, bias=False
            ),
        ),
        ("bn", nn.BatchNorm2d(c_out)),
        ("relu", nn.ReLU()),
    ]


class CenterNet(nn.Module):
    """A small one-stage detector: stride-4 backbone with dilated convs, heatmap/size/offset heads.

    Layers (96x96 input, width w = 32)::

        stem   3x3 conv 16          96x96
        down1  3x3/2 conv w         48x48,  3x3 conv w
        down2  3x3/2 conv 2w        24x24,  3x3 conv 2w, dilation 2, dilation 4
        heads  3x3 conv 2w - ReLU - 1x1 conv:  K heatmap logits | 2 size | 2 offset

    Args:
        in_channels (int): input channels. Default: 1.
        num_classes (int): object classes K (no background class). Default: 10.
        width (int): channels w. Default: 32.
        stride (int): output stride R, fixed by the architecture; stored for decoding. (4)

    Shape:
        (N, in_channels, H, W), H and W multiples of 4 -> (N, K + 4, H/4, W/4): channels
        0..K-1 heatmap logits, K..K+1 box size (w, h) in cells, K+2..K+3 centre offset (dx, dy).

    Example:
        >>> import numpy, tinyconv
        >>> CenterNet(width=8)(tinyconv.tensor(numpy.zeros((2, 1, 96, 96), numpy.float32))).shape
        (2, 14, 24, 24)
    """

    stride = 4

    def __init__(self, in_channels: int = 1, num_classes: int = 10, width: int = 32) -> None:
        super().__init__()
        check_positive_int("CenterNet", "in_channels", in_channels)
        check_positive_int("CenterNet", "num_classes", num_classes)
        check_positive_int("CenterNet", "width", width)
        self.in_channels, self.num_classes = in_channels, num_classes
        w = width
        layers: list[tuple[str, nn.Module]] = []
        for i, (a, b, s, d) in enumerate(
            [
                (in_channels, 16, 1, 1),
                (16, w, 2, 1),
                (w, w, 1, 1),
                (w, 2 * w, 2, 1),
                (2 * w, 2 * w, 1, 1),
                (2 * w, 2 * w, 1, 2),
                (2 * w, 2 * w, 1, 4),
            ]
        ):
            layers += [(f"{n}{i}", m) for n, m in _conv_bn(a, b, s, d)]
        self.backbone = nn.Sequential(OrderedDict(layers))

        def head(c_out: int) -> nn.Sequential:
            return nn.Sequential(
                OrderedDict(
                    conv=nn.Conv2d(2 * w, 2 * w, 3, padding=1),
                    relu=nn.ReLU(),
                    out=nn.Conv2d(2 * w, c_out, 1),
                )
            )

        self.heatmap = head(num_classes)
        self.size = head(2)
        self.offset = head(2)
        # the focal-loss prior: every cell starts at p = 0.1 of holding a centre
        init.constant_(self.heatmap.out.bias, -math.log((1 - 0.1) / 0.1))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"CenterNet: expected input (N, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        if x.shape[2] % self.stride or x.shape[3] % self.stride:
            raise ValueError(
                f"CenterNet: H and W must be multiples of the stride {self.stride}, "
                f"got {tuple(x.shape[2:])}"
            )
        f = self.backbone(x)
        from ..ops.basic import cat  # noqa: PLC0415

        return cat([self.heatmap(f), self.size(f), self.offset(f)], dim=1)

    def decode(self, out: Tensor | Any, k: int = 50, threshold: float = 0.01) -> Detections:
        """Boxes from the output map: see ``centernet_decode``."""
        return centernet_decode(out, self.num_classes, self.stride, k, threshold)


def gaussian_radius(h: float, w: float, min_overlap: float = 0.7) -> float:
    """CornerNet's radius: how far a corner may move with the box still at IoU >= min_overlap.

    The smallest root of the three cases (both corners inside, both outside, one each) of the
    quadratic in r that puts a box shifted by r at IoU = min_overlap with the true one.
    """
    b1 = h + w
    c1 = w * h * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1**2 - 4 * c1)) / 2
    b2 = 2 * (h + w)
    c2 = (1 - min_overlap) * w * h
    r2 = (b2 + math.sqrt(b2**2 - 16 * c2)) / 2
    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (h + w)
    c3 = (min_overlap - 1) * w * h
    r3 = (b3 + math.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def centernet_targets(
    boxes: list[numpy.ndarray],
    labels: list[numpy.ndarray],
    num_classes: int,
    out_size: tuple[int, int],
    stride: int = 4,
) -> numpy.ndarray:
    """Training targets (N, K + 5, h, w) float32 for ``centernet_loss``.

    Channels: 0..K-1 the Gaussian heatmaps (exactly 1 at each centre cell), K..K+1 size (w, h)
    in cells, K+2..K+3 the centre's offset within its cell, K+4 a mask that is 1 at centre cells.
    A box (x0, y0, x1, y1) in input pixels has its centre at ((x0+x1)/2, (y0+y1)/2) / stride;
    the Gaussian's sigma is (2r + 1) / 6 with r = ``gaussian_radius`` of the box in cells.
    """
    oh, ow = out_size
    K = num_classes
    t = numpy.zeros((len(boxes), K + 5, oh, ow), numpy.float32)
    ys, xs = numpy.mgrid[0:oh, 0:ow].astype(numpy.float32)
    for n, (bs, ls) in enumerate(zip(boxes, labels, strict=True)):
        for (x0, y0, x1, y1), c in zip(numpy.asarray(bs, numpy.float32), ls, strict=True):
            w, h = (x1 - x0) / stride, (y1 - y0) / stride
            cx, cy = (x0 + x1) / 2 / stride, (y0 + y1) / 2 / stride
            qx, qy = min(int(cx), ow - 1), min(int(cy), oh - 1)
            r = max(0, int(gaussian_radius(h, w)))
            sigma = (2 * r + 1) / 6
            g = numpy.exp(-((xs - qx) ** 2 + (ys - qy) ** 2) / (2 * sigma**2))
            g[numpy.abs(xs - qx) > r] = 0
            g[numpy.abs(ys - qy) > r] = 0
            numpy.maximum(t[n, c], g, out=t[n, c])
            t[n, c, qy, qx] = 1.0
            t[n, K : K + 5, qy, qx] = (w, h, cx - qx, cy - qy, 1.0)
    return t


def centernet_loss(
    out: Tensor,
    targets: Any,
    num_classes: int,
    size_weight: float = 0.1,
    offset_weight: float = 1.0,
) -> tuple[Tensor, dict[str, float]]:
    """CenterNet's loss: focal loss on the heatmap + L1 on size and offset at the centres.

    With p = sigmoid(logit) and Gaussian target y at each heatmap cell, and M centre cells::

        L_heat = -1/M * sum( (1-p)^2 log p            where y = 1
                             (1-y)^4 p^2 log(1-p)     elsewhere )
        L = L_heat + 0.1 * 1/M sum |size - size*| + 1/M sum |offset - offset*|   (centre cells)

    log p and log(1 - p) are ``logsigmoid(x)`` and ``logsigmoid(-x)`` (stable for any logit).

    Returns:
        ``(loss, parts)``: the scalar loss Tensor and a dict of the three terms as floats.
    """
    K = num_classes
    xp = get_array_module(out.data)
    t = xp.asarray(targets.data if isinstance(targets, Tensor) else targets, dtype=out.dtype)
    heat_t, reg_t, mask = t[:, :K], t[:, K : K + 4], t[:, K + 4 : K + 5]
    pos = (heat_t == 1).astype(out.dtype)
    m = max(float(mask.sum()), 1.0)
    logits = out[:, :K]
    p = F.sigmoid(logits)
    pos_term = (1 - p) ** 2 * F.logsigmoid(logits) * Tensor(pos)
    neg_w = Tensor((1 - heat_t) ** 4 * (1 - pos))
    neg_term = p**2 * F.logsigmoid(-logits) * neg_w
    heat = -(pos_term.sum() + neg_term.sum()) / m
    diff = (out[:, K:] - Tensor(reg_t)).abs() * Tensor(mask)
    size = diff[:, :2].sum() / m
    offset = diff[:, 2:].sum() / m
    loss = heat + size_weight * size + offset_weight * offset
    return loss, {
        "heat": float(heat.item()),
        "size": float(size.item()),
        "offset": float(offset.item()),
    }


def centernet_decode(
    out: Tensor | Any, num_classes: int, stride: int = 4, k: int = 50, threshold: float = 0.01
) -> Detections:
    """Boxes, scores and labels per image from a CenterNet output map (N, K + 4, h, w).

    A cell is a peak when its heatmap score equals the maximum of its 3x3 neighbourhood (the
    paper's replacement for NMS); the ``k`` best peaks over all classes with a score above
    ``threshold`` become boxes centred at (cell + offset) * stride of size size * stride.
    """
    data = out.data if isinstance(out, Tensor) else out
    xp = get_array_module(data)
    K = num_classes
    with no_grad():
        heat = F.sigmoid(Tensor(data[:, :K]))
        peaks = F.max_pool2d(heat, 3, stride=1, padding=1)
    heat_a, peak_a = heat.data, peaks.data
    heat_a = heat_a * (heat_a == peak_a)
    N, _, h, w = heat_a.shape
    results: Detections = []
    for n in range(N):
        flat = heat_a[n].reshape(-1)
        top = xp.argsort(-flat)[:k]
        top = top[flat[top] > threshold]
        c, rem = top // (h * w), top % (h * w)
        y, x = rem // w, rem % w
        # an untrained head can predict a negative size: such a box has no area
        bw, bh = xp.maximum(data[n, K, y, x], 0), xp.maximum(data[n, K + 1, y, x], 0)
        cx, cy = x + data[n, K + 2, y, x], y + data[n, K + 3, y, x]
        boxes = xp.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1) * stride
        results.append(
            (
                numpy.asarray(boxes, numpy.float32).reshape(-1, 4),
                numpy.asarray(flat[top], numpy.float32),
                numpy.asarray(c, numpy.int64),
            )
        )
    return results


def sliding_window_detect(
    classifier: nn.Module,
    images: Any,
    scales: tuple[float, ...] = (1.0, 0.8, 0.64, 0.5),
    threshold: float = 0.5,
    iou_threshold: float = 0.3,
    background: int = 10,
    mean: float = 0.0,
    std: float = 1.0,
    digit_box: tuple[int, int, int, int] = (4, 4, 24, 24),
) -> Detections:
    """Detect digits with a window classifier turned into an FCN, at several scales, then NMS.

    Args:
        classifier (Module): a zoo classifier trained on ``input_shape`` windows whose class
            ``background`` means "no digit centred here" (other classes are digits).
        images: uint8 scenes (N, 1, H, W).
        scales (tuple): the scene is resized by each factor (a digit of height h looks like the
            classifier's ~20-pixel digits at a factor of 20 / h). Default: (1, 0.8, 0.64, 0.5).
        threshold (float): smallest digit probability kept. Default: 0.5.
        iou_threshold (float): NMS overlap (over all classes: digits do not overlap). Default: 0.3.
        background (int): the background class. Default: 10.
        mean, std (float): normalisation the classifier was trained with (on x/255).
        digit_box (tuple): (x0, y0, x1, y1) of the digit inside a window. Default: MNIST's 20x20
            centre of 28x28.

    Returns:
        Per image ``(boxes (k, 4), scores (k,), labels (k,))`` in scene pixels.
    """
    from ..data.scenes import resize  # noqa: PLC0415
    from ..metrics.detection import nms  # noqa: PLC0415

    fcn = convolutionize(classifier)
    fcn.eval()
    c_in, wh, ww = classifier.input_shape
    with no_grad():  # the network's stride s, from (H' - H)/s + 1 on a probe twice the window
        probe = fcn(Tensor(numpy.zeros((1, c_in, 2 * wh, 2 * ww), numpy.float32)))
    sy, sx = wh // (probe.shape[2] - 1), ww // (probe.shape[3] - 1)
    images = numpy.asarray(images)
    N, _, H, W = images.shape
    per_image: list[list[tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]]] = [
        [] for _ in range(N)
    ]
    for s in scales:
        # sizes that are the window plus whole strides, so window i starts at i * stride
        h = wh + sy * max(0, round((H * s - wh) / sy))
        w = ww + sx * max(0, round((W * s - ww) / sx))
        scaled = numpy.stack([resize(img[0], h, w) for img in images])[:, None]
        x = (scaled.astype(numpy.float32) / 255 - mean) / std
        with no_grad():
            scores = F.softmax(fcn(Tensor(x)), dim=1).numpy()  # (N, classes, oh, ow)
        digit = numpy.delete(scores, background, axis=1)
        labels = numpy.delete(numpy.arange(scores.shape[1]), background)
        best = digit.argmax(axis=1)  # (N, oh, ow)
        prob = digit.max(axis=1)
        fy, fx = h / H, w / W
        for n in range(N):
            yy, xx = numpy.nonzero(prob[n] > threshold)
            box = numpy.stack(
                [
                    (xx * sx + digit_box[0]) / fx,
                    (yy * sy + digit_box[1]) / fy,
                    (xx * sx + digit_box[2]) / fx,
                    (yy * sy + digit_box[3]) / fy,
                ],
                axis=1,
            )
            per_image[n].append(
                (
                    box.astype(numpy.float32).reshape(-1, 4),
                    prob[n, yy, xx].astype(numpy.float32),
                    labels[best[n, yy, xx]],
                )
            )
    results: Detections = []
    for parts in per_image:
        boxes = numpy.concatenate([p[0] for p in parts]).reshape(-1, 4)
        scores = numpy.concatenate([p[1] for p in parts])
        labels = numpy.concatenate([p[2] for p in parts]).astype(numpy.int64)
        keep = numpy.asarray(nms(boxes, scores, iou_threshold), numpy.int64)
        results.append((boxes[keep], scores[keep], labels[keep]))
    return results


@register_model
def centernet(in_channels: int = 1, num_classes: int = 10, width: int = 32) -> CenterNet:
    """The small CenterNet detector (see ``CenterNet``)."""
    return CenterNet(in_channels, num_classes, width)
