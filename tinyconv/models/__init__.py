"""The model zoo: the seeds' classic CNNs, one call each, with torchvision's parameter names.

    import tinyconv.models as models
    model = models.get("resnet18", num_classes=10)      # or models.resnet18(num_classes=10)
    models.list_models()                                # every name get() accepts

Every model takes ``num_classes`` and ``in_channels``. The ImageNet models (alexnet, vgg*,
googlenet, resnet18/34/50) use the same state-dict names as torchvision, so its weights load
with ``load_torch_state_dict`` (after ``tools/pth_to_safetensors.py`` turned the ``.pth`` into
safetensors). ``convolutionize`` turns a model's Flatten + Linear head into convolutions (FCN).

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
=================  ==========================================================
"""

from ._base import available, get, list_models, register_model
from .alexnet import AlexNet, alexnet, alexnet_lrn
from .convolutionize import convolutionize
from .googlenet import BasicConv2d, GoogLeNet, Inception, InceptionAux, MaxPool2dCeil, googlenet
from .keras_cnn import Cifar10CNN, MnistCNN, cifar10_cnn, mnist_cnn
from .lenet import LeNet5, lenet5, lenet5_modern
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
    "VGG",
    "AlexNet",
    "BasicBlock",
    "BasicConv2d",
    "Bottleneck",
    "Cifar10CNN",
    "DeepConvNet",
    "GoogLeNet",
    "Inception",
    "InceptionAux",
    "LeNet5",
    "MaxPool2dCeil",
    "MnistCNN",
    "ResNet",
    "ShortcutA",
    "SimpleConvNet",
    "alexnet",
    "alexnet_lrn",
    "available",
    "cifar10_cnn",
    "convolutionize",
    "export_torch_state_dict",
    "deep_convnet",
    "get",
    "googlenet",
    "lenet5",
    "lenet5_modern",
    "list_models",
    "load_torch_state_dict",
    "mnist_cnn",
    "register_model",
    "resnet18",
    "resnet20",
    "resnet32",
    "resnet34",
    "resnet50",
    "resnet56",
    "simple_convnet",
    "torch_state_dict",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
]
