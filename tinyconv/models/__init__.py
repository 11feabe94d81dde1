"""The model zoo: the seeds' classic CNNs, one call each, with torchvision's parameter names.

    import tinyconv.models as models
    model = models.get("resnet18", num_classes=10)      # or models.resnet18(num_classes=10)
    models.list_models()                                # every name get() accepts

Every model takes ``num_classes`` and ``in_channels``. The ImageNet models (alexnet, vgg*,
googlenet, resnet18/34/50 and the 2018-2022 ones from mobilenet_v2 on) use the same state-dict
names as torchvision, so its weights load with ``load_torch_state_dict`` (after
``tinyconv convert`` turned the ``.pth`` into safetensors). ``convolutionize``
turns a model's Flatten + Linear head into convolutions (FCN).

=================  ==========================================================
simple_convnet     the from-scratch book's SimpleConvNet (MNIST)
deep_convnet       the from-scratch book's DeepConvNet (six 3x3 convs)
lenet5             LeNet-5 (1998): tanh or sigmoid, average subsampling
lenet5_modern      LeNet-5 with ReLU and max pooling
mnist_cnn          the TensorFlow lecture's MNIST CNN
cifar10_cnn        the TensorFlow lecture's CIFAR-10 CNN
alexnet            torchvision's AlexNet
alexnet_lrn        the 2012 paper's AlexNet (one tower, LocalResponseNorm)
vgg11 ... vgg19    VGG 11/13/16/19, and ``_bn`` variants with BatchNorm
googlenet          torchvision's GoogLeNet (Inception v1), ``aux_logits`` flag
resnet18/34/50     torchvision's ResNets (v1.5 bottleneck)
resnet20/32/56     He et al.'s CIFAR ResNets (option-A shortcuts)
mobilenet_v2       torchvision's MobileNetV2 (inverted residuals, ReLU6)
mobilenet_v3_*     torchvision's MobileNetV3 large / small (SE, hardswish)
efficientnet_b0    torchvision's EfficientNet-B0 (MBConv, SiLU, stochastic depth)
shufflenet_v2_x1_0 torchvision's ShuffleNetV2 x1.0 (channel split and shuffle)
fcn                FCN-16s-style segmentation from a trained classifier
unet               a small U-Net (segmentation)
centernet          a small CenterNet (one-stage detection, "objects as points")
conv_autoencoder   convolutional autoencoder (MNIST)
conv_vae           convolutional variational autoencoder (MNIST)
dcgan_generator    DCGAN generator and discriminator (MNIST)
dcgan_discriminator
=================  ==========================================================

``sliding_window_detect`` runs a window classifier, convolutionized, over whole scenes.
"""

from ._base import available, get, list_models, register_model
from .alexnet import AlexNet, alexnet, alexnet_lrn
from .convolutionize import convolutionize
from .detection import (
    CenterNet,
    centernet,
    centernet_decode,
    centernet_loss,
    centernet_targets,
    sliding_window_detect,
)
from .efficientnet import EfficientNet, MBConv, efficientnet_b0
from .generative import (
    ConvAutoencoder,
    ConvVAE,
    DCGANDiscriminator,
    DCGANGenerator,
    conv_autoencoder,
    conv_vae,
    dcgan_discriminator,
    dcgan_generator,
    vae_loss,
)
from .googlenet import BasicConv2d, GoogLeNet, Inception, InceptionAux, MaxPool2dCeil, googlenet
from .keras_cnn import Cifar10CNN, MnistCNN, cifar10_cnn, mnist_cnn
from .lenet import LeNet5, lenet5, lenet5_modern
from .mobile_blocks import Conv2dNormActivation, SqueezeExcitation
from .mobilenet_v2 import InvertedResidual, MobileNetV2, mobilenet_v2
from .mobilenet_v3 import InvertedResidualV3, MobileNetV3, mobilenet_v3_large, mobilenet_v3_small
from .resnet import (
    BasicBlock,
    Bottleneck,
    ResNet,
    ShortcutA,
    resnet18,
    resnet20,
    resnet32,
    resnet34,
    resnet50,
    resnet56,
)
from .segmentation import FCN, UNet, bilinear_kernel, fcn, unet
from .shufflenet import ShuffleNetV2, ShuffleUnit, channel_shuffle, shufflenet_v2_x1_0
from .simple_convnet import DeepConvNet, SimpleConvNet, deep_convnet, simple_convnet
from .torch_weights import export_torch_state_dict, load_torch_state_dict, torch_state_dict
from .vgg import (
    VGG,
    vgg11,
    vgg11_bn,
    vgg13,
    vgg13_bn,
    vgg16,
    vgg16_bn,
    vgg19,
    vgg19_bn,
)

__all__ = [
    "AlexNet",
    "BasicBlock",
    "BasicConv2d",
    "Bottleneck",
    "CenterNet",
    "Cifar10CNN",
    "Conv2dNormActivation",
    "ConvAutoencoder",
    "ConvVAE",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "DeepConvNet",
    "EfficientNet",
    "FCN",
    "GoogLeNet",
    "Inception",
    "InceptionAux",
    "InvertedResidual",
    "InvertedResidualV3",
    "LeNet5",
    "MBConv",
    "MaxPool2dCeil",
    "MnistCNN",
    "MobileNetV2",
    "MobileNetV3",
    "ResNet",
    "ShortcutA",
    "ShuffleNetV2",
    "ShuffleUnit",
    "SimpleConvNet",
    "SqueezeExcitation",
    "UNet",
    "VGG",
    "alexnet",
    "alexnet_lrn",
    "available",
    "bilinear_kernel",
    "centernet",
    "centernet_decode",
    "centernet_loss",
    "centernet_targets",
    "channel_shuffle",
    "cifar10_cnn",
    "conv_autoencoder",
    "conv_vae",
    "convolutionize",
    "dcgan_discriminator",
    "dcgan_generator",
    "deep_convnet",
    "efficientnet_b0",
    "export_torch_state_dict",
    "fcn",
    "get",
    "googlenet",
    "lenet5",
    "lenet5_modern",
    "list_models",
    "load_torch_state_dict",
    "mnist_cnn",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
    "register_model",
    "resnet18",
    "resnet20",
    "resnet32",
    "resnet34",
    "resnet50",
    "resnet56",
    "shufflenet_v2_x1_0",
    "simple_convnet",
    "sliding_window_detect",
    "torch_state_dict",
    "unet",
    "vae_loss",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
]
