"""VGG (Simonyan and Zisserman, 2014): only 3x3 convolutions, stacked deep.

Two stacked 3x3 convolutions see a 5x5 patch with 2*9 = 18 weights per channel pair instead of
25; three see 7x7 with 27 instead of 49; four see 9x9 with 36 instead of 81. Every conv has
padding 1 (sizes kept), every 2x2/2 max pool ("M") halves them: 224 -> 112 -> 56 -> 28 -> 14 -> 7.

Configurations (the paper's table 1; the numbers are output channels)::

    A (vgg11): 64 M 128 M 256 256 M 512 512 M 512 512 M
    B (vgg13): 64 64 M 128 128 M 256 256 M 512 512 M 512 512 M
    D (vgg16): 64 64 M 128 128 M 256 256 256 M 512 512 512 M 512 512 512 M
    E (vgg19): 64 64 M 128 128 M 256 256 256 256 M 512 512 512 512 M 512 512 512 512 M

Layout and names are torchvision's: ``features`` (conv [+ BatchNorm] + ReLU, pools),
``avgpool`` (adaptive to 7x7), ``classifier`` (0 linear 25088->4096, 1 relu, 2 dropout,
3 linear 4096->4096, 4 relu, 5 dropout, 6 linear 4096->num_classes). Initialisation as
torchvision: convs He-normal (fan_out, relu) with zero bias, BatchNorm weight 1 and bias 0,
linear layers N(0, 0.01^2) with zero bias.
"""

from __future__ import annotations

from .. import nn
from ..nn import init
from ..nn.linear import check_positive_int
from ..tensor import Tensor
from ._base import normal_, register_model

CONFIGS: dict[str, list[int | str]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M"]
    + [512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


class VGG(nn.Module):
    """VGG network of configuration ``config`` ("A", "B", "D" or "E").

    Args:
        config (str): the paper's column: "A" (11 layers), "B" (13), "D" (16), "E" (19).
        batch_norm (bool): BatchNorm after every conv (the ``_bn`` models). Default: False.
        num_classes (int): outputs. Default: 1000.
        in_channels (int): input channels. Default: 3.
        dropout (float): drop probability in the classifier. Default: 0.5.

    Shape:
        Input (N, in_channels, 224, 224) -> features (N, 512, 7, 7) -> Output (N, num_classes).
        Any input of at least 32x32 works (the adaptive pool brings the map to 7x7).

    Raises:
        ValueError: for an unknown config.
    """

    def __init__(
        self,
        config: str = "D",
        batch_norm: bool = False,
        num_classes: int = 1000,
        in_channels: int = 3,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if config not in CONFIGS:
            raise ValueError(f"VGG: config must be one of {sorted(CONFIGS)}, got {config!r}")
        check_positive_int("VGG", "num_classes", num_classes)
        check_positive_int("VGG", "in_channels", in_channels)
        layers: list[nn.Module] = []
        c_in = in_channels
        for v in CONFIGS[config]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, stride=2))
                continue
            assert isinstance(v, int)
            layers.append(nn.Conv2d(c_in, v, 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU())
            c_in = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(4096, num_classes),
        )
        self.input_shape = (in_channels, 224, 224)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                normal_(m.weight, 0.01)
                init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = self.flatten(x)
        return self.classifier(x)


def _vgg(config: str, batch_norm: bool, num_classes: int, in_channels: int, dropout: float) -> VGG:
    return VGG(config, batch_norm, num_classes, in_channels, dropout)


@register_model
def vgg11(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG 11 (config A): 132,863,336 parameters at 1000 classes."""
    return _vgg("A", False, num_classes, in_channels, dropout)


@register_model
def vgg11_bn(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG 11 with BatchNorm: 132,868,840 parameters at 1000 classes."""
    return _vgg("A", True, num_classes, in_channels, dropout)


@register_model
def vgg13(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG 13 (config B): 133,047,848 parameters at 1000 classes."""
    return _vgg("B", False, num_classes, in_channels, dropout)


@register_model
def vgg13_bn(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG 13 with BatchNorm: 133,053,736 parameters at 1000 classes."""
    return _vgg("B", True, num_classes, in_channels, dropout)


@register_model
def vgg16(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG 16 (config D, 13 convs + 3 dense layers): 138,357,544 parameters at 1000 classes."""
    return _vgg("D", False, num_classes, in_channels, dropout)


@register_model
def vgg16_bn(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG 16 with BatchNorm: 138,365,992 parameters at 1000 classes."""
    return _vgg("D", True, num_classes, in_channels, dropout)


@register_model
def vgg19(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG 19 (config E): 143,667,240 parameters at 1000 classes."""
    return _vgg("E", False, num_classes, in_channels, dropout)


@register_model
def vgg19_bn(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG 19 with BatchNorm: 143,678,248 parameters at 1000 classes."""
    return _vgg("E", True, num_classes, in_channels, dropout)
