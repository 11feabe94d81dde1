"""Semantic segmentation: an FCN made from a trained classifier, and a small U-Net.

Both map an image (N, C, H, W) to per-pixel class scores (N, K, H, W); train them with
``F.cross_entropy(scores, masks)`` on masks (N, H, W) and measure them with
``tinyconv.metrics.mean_iou``.

**FCN** (Long, Shelhamer and Darrell, "Fully Convolutional Networks for Semantic
Segmentation", CVPR 2015). A classifier's Dense layers become convolutions
(``convolutionize(..., padding="same")``), so on a larger image it gives a coarse map of class
scores, one per window of its training size. The map is upsampled by transposed convolutions
initialised to bilinear interpolation, and each *skip* adds scores read by a 1x1 convolution
from a finer, earlier layer: one skip is the FCN-16s arrangement, two FCN-8s (the paper's 16
and 8 are VGG's strides at its skips; ``mnist_cnn``'s are 2 and 1)::

    image (1, 64, 64), skip=("relu1", "pool1")
      stages[0]: conv1 5x5, relu1                      -> f0 (32, 64, 64)    stride 1
      stages[1]: pool1                                 -> f1 (32, 32, 32)    stride 2
      head: conv2, relu2, pool2; fc1 as a 7x7 conv ("same"); relu3; fc2 as 1x1
                                                       -> s  (K, 16, 16)     stride 4
      ups[1]: 4x4 transposed conv, stride 2            -> (K, 32, 32) + score_skips[1](f1)
      ups[0]: 4x4 transposed conv, stride 2            -> (K, 64, 64) + score_skips[0](f0)
      up_final: nothing here (f0 is at full size); with skip="pool1" alone (FCN-16s), a
                4x4 stride-2 transposed conv after the one skip

The skips' 1x1 scores start at zero (as in the paper), so the untrained FCN is exactly the
classifier's coarse map, bilinearly upsampled.

**U-Net** (Ronneberger, Fischer and Brox, MICCAI 2015), at MNIST scale: an encoder of
(3x3 conv - BN - ReLU) x 2 blocks with 2x2 max pooling, a mirror decoder whose 2x2 stride-2
transposed convolutions upsample and whose blocks read the upsampled map concatenated with the
encoder's map of the same size ("same" padding throughout, so nothing is cropped), and a 1x1
convolution to the classes.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy

from .. import nn
from ..nn import init
from ..nn.linear import check_positive_int
from ..ops.basic import cat
from ..tensor import Tensor, no_grad
from ._base import register_model
from .convolutionize import convolutionize


def bilinear_kernel(channels: int, factor: int) -> numpy.ndarray:
    """Weights (C, C, 2f, 2f) of a transposed convolution that upsamples by ``factor`` bilinearly.

    The FCN paper's initialisation: each channel maps to itself with the kernel
    k(i, j) = (1 - |i - c| / f)(1 - |j - c| / f), c = (2f - 1) / 2, and 0 between channels.
    With stride f and padding f / 2 it is bilinear interpolation.

    Example:
        >>> bilinear_kernel(1, 2)[0, 0].tolist()[0]
        [0.0625, 0.1875, 0.1875, 0.0625]
    """
    size = 2 * factor
    centre = (size - 1) / 2
    og = numpy.arange(size, dtype=numpy.float32)
    k1 = 1 - numpy.abs(og - centre) / factor
    kernel = numpy.outer(k1, k1).astype(numpy.float32)
    w = numpy.zeros((channels, channels, size, size), numpy.float32)
    w[numpy.arange(channels), numpy.arange(channels)] = kernel
    return w


def _upsampler(channels: int, factor: int, learnable_bias: bool) -> nn.Module:
    """A transposed convolution that scales H and W by ``factor`` (even, or 1), bilinear at start.

    H_out = (H - 1)*S - 2P + K = (H - 1)*f - f + 2f = H*f for K = 2f, S = f, P = f/2.
    """
    if factor == 1:
        return nn.Identity()
    up = nn.ConvTranspose2d(
        channels, channels, 2 * factor, stride=factor, padding=factor // 2, bias=learnable_bias
    )
    up.weight.data = bilinear_kernel(channels, factor)
    if up.bias is not None:
        init.zeros_(up.bias)
    return up


class FCN(nn.Module):
    """A fully convolutional network made from a trained classifier, with skips (FCN-16s/8s).

    Args:
        classifier (Module): a zoo ``Sequential`` classifier (e.g. ``mnist_cnn``) with an
            ``input_shape``; its weights are copied, the classifier itself is left unchanged.
        num_classes (int): output classes K. When it differs from the classifier's outputs the
            last converted layer is replaced by a new 1x1 convolution (zero-initialised).
            Default: 11 (ten digits and background).
        skip (str or tuple of str): the classifier layer(s) whose outputs feed a skip, from the
            input side. One skip is the FCN-16s arrangement, two FCN-8s. Default: "pool1".

    Shape:
        Input (N, C, H, W) with H and W multiples of the network's stride s (4 for
        ``mnist_cnn``) -> output (N, K, H, W). For ``mnist_cnn`` the coarse scores are
        (N, K, H/4, W/4) and the pool1 skip's map is (N, 32, H/2, W/2).

    Raises:
        ValueError: when a skip is not a layer of the classifier, or a stride between two
            maps is not an even number that a transposed convolution can undo.

    Example:
        >>> import numpy, tinyconv
        >>> from tinyconv.models import mnist_cnn
        >>> fcn = FCN(mnist_cnn(num_classes=11, hidden=32))
        >>> fcn(tinyconv.tensor(numpy.zeros((2, 1, 64, 64), numpy.float32))).shape
        (2, 11, 64, 64)
    """

    def __init__(
        self, classifier: nn.Module, num_classes: int = 11, skip: str | tuple[str, ...] = "pool1"
    ) -> None:
        super().__init__()
        check_positive_int("FCN", "num_classes", num_classes)
        skips = (skip,) if isinstance(skip, str) else tuple(skip)
        layers = list(getattr(classifier, "_modules", {}))
        for name in skips:
            if name not in layers:
                raise ValueError(
                    f"FCN: skip={name!r} is not a layer of {type(classifier).__name__}; "
                    f"its layers are {', '.join(layers)}"
                )
        cuts = sorted(layers.index(name) + 1 for name in skips)
        if not skips or len(set(cuts)) != len(cuts):
            raise ValueError(f"FCN: skip must name one or more different layers, got {skip!r}")
        fully_conv = convolutionize(classifier, padding="same")
        mods = fully_conv._modules
        names = list(mods)
        self.stages = nn.ModuleList(
            [nn.Sequential(OrderedDict((n, mods[n]) for n in names[a:b]))
             for a, b in zip([0, *cuts[:-1]], cuts, strict=True)]
        )  # fmt: skip
        head = OrderedDict((n, mods[n]) for n in names[cuts[-1] :])
        last = next(reversed(head))
        old = head[last]
        if not isinstance(old, nn.Conv2d):
            raise ValueError(f"FCN: the classifier should end in a Linear layer, got {old!r}")
        if old.out_channels != num_classes:
            new = nn.Conv2d(old.in_channels, num_classes, 1)
            init.zeros_(new.weight)
            init.zeros_(new.bias)
            head[last] = new
        self.head = nn.Sequential(head)
        c_in, h, w = classifier.input_shape
        probe = max(h, w) * 2
        with no_grad():
            was = self.training
            self.eval()
            f = Tensor(numpy.zeros((1, c_in, probe, probe), numpy.float32))
            sizes, channels = [probe], []
            for stage in self.stages:
                f = stage(f)
                sizes.append(f.shape[2])
                channels.append(f.shape[1])
            sizes.append(self.head(f).shape[2])
            self.train(was)
        factors = [a // b for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
        for factor in factors:
            if factor != 1 and (factor % 2 or probe % factor):
                raise ValueError(f"FCN: a map's stride {factor} is not an even number")
        self.num_classes = num_classes
        self.stride = probe // sizes[-1]
        self.input_channels = c_in
        self.score_skips = nn.ModuleList([nn.Conv2d(c, num_classes, 1) for c in channels])
        for conv in self.score_skips:  # the skips start silent, as in the paper
            init.zeros_(conv.weight)
            init.zeros_(conv.bias)
        # ups[i] brings the scores from the map after stage i + 1 (or the head) to stage i's
        self.ups = nn.ModuleList(
            [_upsampler(num_classes, f, learnable_bias=False) for f in factors[1:]]
        )
        self.up_final = _upsampler(num_classes, factors[0], learnable_bias=True)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.input_channels:
            raise ValueError(
                f"FCN: expected input (N, {self.input_channels}, H, W), got {tuple(x.shape)}"
            )
        if x.shape[2] % self.stride or x.shape[3] % self.stride:
            raise ValueError(
                f"FCN: H and W must be multiples of the network's stride {self.stride}, "
                f"got {tuple(x.shape[2:])}"
            )
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        scores = self.head(x)  # (N, K, H/s, W/s), the convolutionized classifier
        for i in reversed(range(len(feats))):
            scores = self.ups[i](scores) + self.score_skips[i](feats[i])
        return self.up_final(scores)  # (N, K, H, W)


def _block(c_in: int, c_out: int, batch_norm: bool) -> nn.Sequential:
    """(3x3 conv "same" - BN - ReLU) x 2."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for i, (a, b) in enumerate(((c_in, c_out), (c_out, c_out)), start=1):
        layers[f"conv{i}"] = nn.Conv2d(a, b, 3, padding=1, bias=not batch_norm)
        if batch_norm:
            layers[f"bn{i}"] = nn.BatchNorm2d(b)
        layers[f"relu{i}"] = nn.ReLU()
    return nn.Sequential(layers)


class UNet(nn.Module):
    """A small U-Net: ``depth`` poolings, channels width * 2^level, skips by concatenation.

    With the defaults (width 16, depth 3) on 64 x 64::

        enc0 16@64x64 -> pool -> enc1 32@32x32 -> pool -> enc2 64@16x16 -> pool
        bottom 128@8x8
        up2 (2x2/2) 64@16x16 ++ enc2 -> dec2 64@16x16
        up1         32@32x32 ++ enc1 -> dec1 32@32x32
        up0         16@64x64 ++ enc0 -> dec0 16@64x64 -> 1x1 conv -> K@64x64

    Args:
        in_channels (int): input channels. Default: 1.
        num_classes (int): output classes. Default: 11.
        width (int): channels of the first level. Default: 16.
        depth (int): number of 2x2 poolings (H and W must be multiples of 2^depth). Default: 3.
        batch_norm (bool): BatchNorm after every 3x3 conv. Default: True.

    Shape:
        (N, in_channels, H, W) -> (N, num_classes, H, W).

    Example:
        >>> import numpy, tinyconv
        >>> x = tinyconv.tensor(numpy.zeros((1, 1, 32, 32), numpy.float32))
        >>> UNet(width=4, depth=2)(x).shape
        (1, 11, 32, 32)
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 11,
        width: int = 16,
        depth: int = 3,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        for arg, value in (
            ("in_channels", in_channels),
            ("num_classes", num_classes),
            ("width", width),
            ("depth", depth),
        ):
            check_positive_int("UNet", arg, value)
        self.in_channels, self.depth = in_channels, depth
        chans = [width * 2**i for i in range(depth + 1)]
        self.encoders = nn.ModuleList(
            [
                _block(in_channels if i == 0 else chans[i - 1], chans[i], batch_norm)
                for i in range(depth)
            ]
        )
        self.pool = nn.MaxPool2d(2)
        self.bottom = _block(chans[depth - 1], chans[depth], batch_norm)
        self.ups = nn.ModuleList(
            [nn.ConvTranspose2d(chans[i + 1], chans[i], 2, stride=2) for i in range(depth)]
        )
        self.decoders = nn.ModuleList(
            [_block(2 * chans[i], chans[i], batch_norm) for i in range(depth)]
        )
        self.classifier = nn.Conv2d(chans[0], num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        m = 2**self.depth
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"UNet: expected input (N, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        if x.shape[2] % m or x.shape[3] % m:
            raise ValueError(
                f"UNet: H and W must be multiples of 2^depth = {m}, got {tuple(x.shape[2:])}"
            )
        skips = []
        for enc in self.encoders:
            x = enc(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottom(x)
        for i in reversed(range(self.depth)):
            x = self.decoders[i](cat([self.ups[i](x), skips[i]], dim=1))
        return self.classifier(x)


@register_model
def fcn(
    classifier: Any = None, num_classes: int = 11, skip: str | tuple[str, ...] = "pool1"
) -> FCN:
    """FCN-16s-style segmentation network from ``classifier`` (default: a fresh
    ``mnist_cnn(num_classes=11, hidden=128)``; pass your trained one)."""
    if classifier is None:
        from .keras_cnn import mnist_cnn  # noqa: PLC0415

        classifier = mnist_cnn(num_classes=11, hidden=128)
    return FCN(classifier, num_classes, skip)


@register_model
def unet(
    in_channels: int = 1,
    num_classes: int = 11,
    width: int = 16,
    depth: int = 3,
    batch_norm: bool = True,
) -> UNet:
    """The small U-Net (see ``UNet``): 482,619 parameters with the defaults."""
    return UNet(in_channels, num_classes, width, depth, batch_norm)
