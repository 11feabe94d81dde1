"""The model zoo: the seeds' classic CNNs, one call each, with torchvision's parameter names.

    import tinyconv.models as models
    model = models.get("resnet18", num_classes=10)      # or models.resnet18(num_classes=10)
    models.list_models()                                # every name get() accepts

Every model takes ``num_classes`` and ``in_channels``. The ImageNet models (alexnet, vgg*,
googlenet, resnet18/34/50) use the same state-dict names as torchvision, so its weights load
with ``load_torch_state_dict`` (after ``tools/pth_to_safetensors.py`` turned the ``.pth`` into
safetensors). ``convolutionize`` turns a model's Flatten + Linear head into convolutions (FCN).
"""

from ._base import available, get, list_models, register_model
from .simple_convnet import DeepConvNet, SimpleConvNet, deep_convnet, simple_convnet

__all__ = [
    "DeepConvNet",
    "SimpleConvNet",
    "available",
    "deep_convnet",
    "get",
    "list_models",
    "register_model",
    "simple_convnet",
]
