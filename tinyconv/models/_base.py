"""The model registry behind ``tinyconv.models.get`` and the base class of the Sequential models.

Every model function registers itself under its own name with ``@register_model``; ``get``
looks the name up and calls it with the keyword arguments given, so a command line or a
config file can name a model as a string.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from ..backend import default_rng, get_array_module, to_device
from ..nn.module import Module, Sequential
from ..tensor import Tensor

ModelFn = TypeVar("ModelFn", bound=Callable[..., Module])

_MODELS: dict[str, Callable[..., Module]] = {}


def register_model(fn: ModelFn) -> ModelFn:
    """Decorator: make ``fn`` buildable as ``tinyconv.models.get(fn.__name__)``."""
    _MODELS[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    """The names ``get`` accepts, sorted.

    Example:
        >>> "resnet18" in list_models()
        True
    """
    return sorted(_MODELS)


available = list_models


def get(name: str, pretrained: bool = False, **kwargs: Any) -> Module:
    """Build the model called ``name`` with ``kwargs`` (e.g. ``num_classes=10``).

    With ``pretrained=True`` (an ImageNet model: resnet18/34/50, vgg*, alexnet,
    mobilenet_v2, mobilenet_v3_small/large, efficientnet_b0, shufflenet_v2_x1_0, convnext_tiny)
    it gets torchvision's published weights, converted once into the user cache
    (``models.pretrained``), and is returned in eval() mode; it keeps 1000 classes and
    3 channels (replace the head afterwards for another task).

    Raises:
        ValueError: for an unknown name (the message lists the known ones), or
            ``pretrained`` with other classes or channels, or for a model without weights.
        TypeError: for a keyword the model does not take (the message lists those it takes).
        OSError: ``pretrained`` weights that are not here and cannot be downloaded.

    Example:
        >>> get("simple_convnet").affine2.out_features
        10
    """
    if not isinstance(name, str):
        raise TypeError(f"models.get: expected a model name (str), got {type(name).__name__}")
    # Case, "-" and "_" do not matter: "ResNet-18", "resnet_18" and "resnet18" are one model.
    canonical = {k.replace("_", ""): k for k in _MODELS}
    key = canonical.get(name.strip().lower().replace("-", "").replace("_", ""), name)
    if key not in _MODELS:
        close = difflib.get_close_matches(key, list(_MODELS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown model {name!r}.{hint} Available: {', '.join(list_models())}")
    fn = _MODELS[key]
    params = inspect.signature(fn).parameters
    bad = [k for k in kwargs if k not in params]
    if bad:
        raise TypeError(
            f"model {key!r} takes no argument(s) {', '.join(bad)}; it takes: "
            + ", ".join(f"{p.name}={p.default!r}" for p in params.values())
        )
    if not pretrained:
        return fn(**kwargs)
    from .pretrained import load_pretrained, pretrained_file  # noqa: PLC0415

    odd = {k: v for k, v in (("num_classes", 1000), ("in_channels", 3)) if kwargs.get(k, v) != v}
    if odd:
        shown = ", ".join(f"{k}={kwargs[k]}" for k in odd)
        raise ValueError(
            f"models.get({key!r}, pretrained=True): the weights are for 1000 classes and 3 "
            f"channels, not {shown}; load them, then replace the last layer"
        )
    path = pretrained_file(key)  # before building: a missing file costs no time
    return load_pretrained(fn(**kwargs), key, path)


class ZooSequential(Sequential):
    """A Sequential with named stages whose architecture is stored as its constructor arguments.

    ``Sequential.config`` keeps only the children; the zoo's Sequential models instead record
    their own arguments (``num_classes``, ``input_size``, ...) so that ``tinyconv.load``
    rebuilds them by calling the constructor again. ``input_shape`` (C, H, W) is the size the
    model was built for (``convolutionize`` and ``summary`` use it).
    """

    input_shape: tuple[int, int, int]

    def config(self) -> dict[str, Any]:
        return Module.config(self)


def normal_(t: Tensor, std: float) -> Tensor:
    """Fill ``t`` with N(0, std^2) drawn directly in its dtype (from tinyconv's seeded generator).

    Same distribution as ``nn.init.normal_``, but a float32 tensor is drawn in float32: VGG's
    first dense layer alone has 102.8M weights, and float64 draws then a cast would take twice
    the time and 0.8 GB of temporary memory.
    """
    dtype = t.dtype if t.dtype.kind == "f" and t.dtype.itemsize >= 4 else "float32"
    values = default_rng().standard_normal(t.shape, dtype=dtype)
    values *= values.dtype.type(std)
    xp = get_array_module(t.data)
    t.data = xp.asarray(to_device(values.astype(t.dtype, copy=False), t.device))
    return t
