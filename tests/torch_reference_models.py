"""The zoo's architectures written again in plain PyTorch, with torchvision's state-dict names.

torchvision is not installed on the test machine, so these are written out here, layer by
layer, from the papers and torchvision's published layouts. The tests copy tinyconv's random
weights into them by name and compare outputs and gradients.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn


def simple_convnet(num_classes: int = 10, in_channels: int = 1, input_size: int = 28) -> nn.Module:
    s = (input_size - 5 + 1) // 2
    return nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(in_channels, 30, 5),
            relu1=nn.ReLU(),
            pool1=nn.MaxPool2d(2, 2),
            flatten=nn.Flatten(),
            affine1=nn.Linear(30 * s * s, 100),
            relu2=nn.ReLU(),
            affine2=nn.Linear(100, num_classes),
        )
    )


def deep_convnet() -> nn.Module:
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    c_in = 1
    for i, (c, p) in enumerate(zip((16, 16, 32, 32, 64, 64), (1, 1, 1, 2, 1, 1), strict=True)):
        layers[f"conv{i + 1}"] = nn.Conv2d(c_in, c, 3, padding=p)
        layers[f"relu{i + 1}"] = nn.ReLU()
        if i % 2:
            layers[f"pool{i // 2 + 1}"] = nn.MaxPool2d(2, 2)
        c_in = c
    layers["flatten"] = nn.Flatten()
    layers["affine1"] = nn.Linear(64 * 4 * 4, 50)
    layers["relu7"] = nn.ReLU()
    layers["dropout1"] = nn.Dropout(0.5)
    layers["affine2"] = nn.Linear(50, 10)
    layers["dropout2"] = nn.Dropout(0.5)
    return nn.Sequential(layers)


def lenet5(activation: str = "tanh", pool: str = "avg", input_size: int = 32) -> nn.Module:
    act = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "relu": nn.ReLU}[activation]
    sub = {"avg": nn.AvgPool2d, "max": nn.MaxPool2d}[pool]
    return nn.Sequential(
        OrderedDict(
            c1=nn.Conv2d(1, 6, 5, padding=(32 - input_size) // 2),
            act1=act(),
            s2=sub(2, 2),
            c3=nn.Conv2d(6, 16, 5),
            act3=act(),
            s4=sub(2, 2),
            c5=nn.Conv2d(16, 120, 5),
            act5=act(),
            flatten=nn.Flatten(),
            f6=nn.Linear(120, 84),
            act6=act(),
            output=nn.Linear(84, 10),
        )
    )


def mnist_cnn() -> nn.Module:
    return nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(1, 32, 5, padding="same"),
            relu1=nn.ReLU(),
            pool1=nn.MaxPool2d(2, 2),
            conv2=nn.Conv2d(32, 64, 5, padding="same"),
            relu2=nn.ReLU(),
            pool2=nn.MaxPool2d(2, 2),
            flatten=nn.Flatten(),
            fc1=nn.Linear(7 * 7 * 64, 1024),
            relu3=nn.ReLU(),
            fc2=nn.Linear(1024, 10),
        )
    )


def cifar10_cnn() -> nn.Module:
    return nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(3, 64, 5, padding="same"),
            relu1=nn.ReLU(),
            pool1=nn.MaxPool2d(3, 2),
            conv2=nn.Conv2d(64, 64, 5, padding="same"),
            relu2=nn.ReLU(),
            pool2=nn.MaxPool2d(3, 2),
            conv3=nn.Conv2d(64, 128, 3, padding="same"),
            relu3=nn.ReLU(),
            conv4=nn.Conv2d(128, 128, 3, padding="same"),
            relu4=nn.ReLU(),
            conv5=nn.Conv2d(128, 128, 3, padding="same"),
            relu5=nn.ReLU(),
            flatten=nn.Flatten(),
            fc1=nn.Linear(7 * 7 * 128, 384),
            relu6=nn.ReLU(),
            dropout=nn.Dropout(0.2),
            fc2=nn.Linear(384, 10),
        )
    )


class AlexNet(nn.Module):
    """torchvision's layout; ``lrn=True`` the 2012 single tower with LocalResponseNorm."""

    def __init__(self, num_classes: int = 1000, lrn: bool = False) -> None:
        super().__init__()
        if lrn:
            self.features = nn.Sequential(
                nn.Conv2d(3, 96, 11, 4, 2),
                nn.ReLU(),
                nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0),
                nn.MaxPool2d(3, 2),
                nn.Conv2d(96, 256, 5, padding=2),
                nn.ReLU(),
                nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0),
                nn.MaxPool2d(3, 2),
                nn.Conv2d(256, 384, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(384, 384, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(384, 256, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(3, 2),
            )
        else:
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, 11, 4, 2),
                nn.ReLU(),
                nn.MaxPool2d(3, 2),
                nn.Conv2d(64, 192, 5, padding=2),
                nn.ReLU(),
                nn.MaxPool2d(3, 2),
                nn.Conv2d(192, 384, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(384, 256, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(256, 256, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(3, 2),
            )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(0.5),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


VGG_CFG = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        512,
        "M",
    ],
}


class VGG(nn.Module):
    def __init__(self, cfg: str = "A", batch_norm: bool = False, num_classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for v in VGG_CFG[cfg]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers.append(nn.Conv2d(c, v, 3, padding=1))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(v))
                layers.append(nn.ReLU())
                c = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(),
            nn.Dropout(),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Dropout(),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class BasicConv2d(nn.Module):
    def __init__(self, c_in: int, c_out: int, **kw: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, bias=False, **kw)
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    def __init__(self, c_in: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, pp: int) -> None:
        super().__init__()
        self.branch1 = BasicConv2d(c_in, c1, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(c_in, c3r, kernel_size=1), BasicConv2d(c3r, c3, kernel_size=3, padding=1)
        )
        self.branch3 = nn.Sequential(
            BasicConv2d(c_in, c5r, kernel_size=1), BasicConv2d(c5r, c5, kernel_size=3, padding=1)
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(c_in, pp, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    def __init__(self, c_in: int, num_classes: int) -> None:
        super().__init__()
        self.conv = BasicConv2d(c_in, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(0.7)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.conv(F.adaptive_avg_pool2d(x, (4, 4))), 1)
        return self.fc2(self.dropout(F.relu(self.fc1(x))))


class GoogLeNet(nn.Module):
    def __init__(self, num_classes: int = 1000, aux_logits: bool = False) -> None:
        super().__init__()
        self.aux_logits = aux_logits
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes)
            self.aux2 = InceptionAux(528, num_classes)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor):
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux_logits and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux_logits and self.training else None
        x = self.inception5b(self.inception5a(self.maxpool4(self.inception4e(x))))
        x = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        return (x, aux2, aux1) if aux1 is not None else x


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, shortcut: str = "B") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = shortcut
        self.downsample = _downsample(inplanes, planes, stride, shortcut)
        self.stride, self.extra = stride, planes - inplanes

    def _identity(self, x: torch.Tensor) -> torch.Tensor:
        if self.downsample is not None:
            return self.downsample(x)
        if self.shortcut == "A" and (self.stride != 1 or self.extra):
            x = x[:, :, :: self.stride, :: self.stride]
            return F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + self._identity(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, shortcut: str = "B") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU()
        self.downsample = _downsample(inplanes, planes * 4, stride, shortcut)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


def _downsample(inplanes: int, outplanes: int, stride: int, shortcut: str) -> nn.Module | None:
    if shortcut == "A" or (stride == 1 and inplanes == outplanes):
        return None
    return nn.Sequential(
        nn.Conv2d(inplanes, outplanes, 1, stride, bias=False), nn.BatchNorm2d(outplanes)
    )


class ResNet(nn.Module):
    def __init__(
        self, block: type, layers: list[int], num_classes: int = 1000, cifar: bool = False
    ) -> None:
        super().__init__()
        if cifar:
            widths, shortcut, self.inplanes = (16, 32, 64), "A", 16
            self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        else:
            widths, shortcut, self.inplanes = (64, 128, 256, 512), "B", 64
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU()
        self.maxpool = None if cifar else nn.MaxPool2d(3, 2, 1)
        self.stages = len(widths)
        for i, (w, n) in enumerate(zip(widths, layers, strict=True)):
            blocks = []
            for j in range(n):
                blocks.append(block(self.inplanes, w, (2 if i and not j else 1), shortcut))
                self.inplanes = w * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(self.inplanes, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        if self.maxpool is not None:
            x = self.maxpool(x)
        for i in range(self.stages):
            x = getattr(self, f"layer{i + 1}")(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(num_classes: int = 1000) -> ResNet:
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes)


def resnet50(num_classes: int = 1000) -> ResNet:
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes)


def resnet20(num_classes: int = 10) -> ResNet:
    return ResNet(BasicBlock, [3, 3, 3], num_classes, cifar=True)
