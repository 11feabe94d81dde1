"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012): five convolutions, three dense layers.

``alexnet`` is torchvision's layout (the "one weird trick" single-tower variant: 64, 192,
384, 256, 256 filters, no LRN), with its state-dict names, so torchvision's weights load::

    features: 0 conv 64@11x11/4 pad 2, 1 relu, 2 maxpool 3/2,
              3 conv 192@5x5 pad 2, 4 relu, 5 maxpool 3/2,
              6 conv 384@3x3, 7 relu, 8 conv 256@3x3, 9 relu, 10 conv 256@3x3, 11 relu,
              12 maxpool 3/2                                     (224 -> 55 -> 27 -> 13 -> 6)
    avgpool: adaptive average pool to 6x6
    classifier: 0 dropout, 1 linear 9216->4096, 2 relu, 3 dropout, 4 linear 4096->4096,
                5 relu, 6 linear 4096->num_classes

``alexnet_lrn`` is the 2012 paper's network as one tower (96, 256, 384, 384, 256 filters) with
local response normalisation after the first two ReLUs (size 5, alpha 1e-4, beta 0.75, k 2)
and the paper's initialisation: weights N(0, 0.01^2), biases 1 in conv2, conv4, conv5 and the
hidden dense layers, 0 elsewhere. Note that ``LocalResponseNorm`` divides alpha by ``size``
as PyTorch does (the paper does not), so alpha=5e-4 would give the paper's exact formula.
"""

from __future__ import annotations

from .. import nn
from ..nn import init
from ..nn.linear import check_positive_int
from ..tensor import Tensor
from ._base import normal_, register_model


class AlexNet(nn.Module):
    """AlexNet: torchvision's layout, or the 2012 paper's single tower with ``lrn=True``.

    Args:
        num_classes (int): outputs. Default: 1000.
        in_channels (int): input channels. Default: 3.
        dropout (float): drop probability in the classifier. Default: 0.5.
        lrn (bool): the 2012 layout with LocalResponseNorm. Default: False.

    Shape:
        Input (N, in_channels, 224, 224) -> features (N, 256, 6, 6) -> Output (N, num_classes).

    Example:
        >>> AlexNet().num_parameters()
        61100840
    """

    def __init__(
        self, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5, lrn: bool = False
    ) -> None:
        super().__init__()
        check_positive_int("AlexNet", "num_classes", num_classes)
        check_positive_int("AlexNet", "in_channels", in_channels)
        if lrn:
            c = (96, 256, 384, 384, 256)
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, c[0], 11, stride=4, padding=2),
                nn.ReLU(),
                nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0),
                nn.MaxPool2d(3, stride=2),
                nn.Conv2d(c[0], c[1], 5, padding=2),
                nn.ReLU(),
                nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0),
                nn.MaxPool2d(3, stride=2),
                nn.Conv2d(c[1], c[2], 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(c[2], c[3], 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(c[3], c[4], 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(3, stride=2),
            )
        else:
            c = (64, 192, 384, 256, 256)
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, c[0], 11, stride=4, padding=2),
                nn.ReLU(),
                nn.MaxPool2d(3, stride=2),
                nn.Conv2d(c[0], c[1], 5, padding=2),
                nn.ReLU(),
                nn.MaxPool2d(3, stride=2),
                nn.Conv2d(c[1], c[2], 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(c[2], c[3], 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(c[3], c[4], 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(3, stride=2),
            )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(c[4] * 6 * 6, 4096),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Linear(4096, num_classes),
        )
        self.input_shape = (in_channels, 224, 224)
        if lrn:
            self._paper_init()

    def _paper_init(self) -> None:
        convs = [m for m in self.features if isinstance(m, nn.Conv2d)]
        dense = [m for m in self.classifier if isinstance(m, nn.Linear)]
        for m in convs + dense:
            normal_(m.weight, 0.01)
            init.zeros_(m.bias)
        for m in (convs[1], convs[3], convs[4], dense[0], dense[1]):
            init.ones_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = self.flatten(x)
        return self.classifier(x)


@register_model
def alexnet(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> AlexNet:
    """torchvision's AlexNet (61,100,840 parameters at 1000 classes); see ``AlexNet``."""
    return AlexNet(num_classes, in_channels, dropout)


@register_model
def alexnet_lrn(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> AlexNet:
    """The 2012 paper's AlexNet as one tower, with LocalResponseNorm; see ``AlexNet``."""
    return AlexNet(num_classes, in_channels, dropout, lrn=True)
