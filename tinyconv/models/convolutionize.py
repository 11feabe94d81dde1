"""Dense -> Conv: turn a classifier into a fully convolutional network (FCN).

A Linear layer that reads a flattened (C, H, W) feature map computes, for each output j,
sum_{c,y,x} W[j, c*H*W + y*W + x] * f[c, y, x] + b[j]. That is exactly a convolution with
out_channels = out_features and a C x H x W kernel ``W.reshape(out, C, H, W)`` applied where
the kernel covers the whole map. Later Linear layers read a vector, i.e. a 1x1 map: they become
1x1 convolutions. On the training-size input the converted model gives the same numbers (as an
(N, classes, 1, 1) map); on a larger input the kernels slide, and the output is a map of class
scores, one for every window of the training size (Long, Shelhamer and Darrell's FCN).

An adaptive average pool just before the flatten is rewritten too: when it does nothing at
the training size it becomes an Identity; when it averages k x k blocks (global pooling
included) it becomes a k x k average pool with stride 1 and the first converted convolution
gets dilation k, so each output position is still the original model on one window.
"""

from __future__ import annotations

import copy
from typing import Any

from .. import nn
from ..backend import get_array_module
from ..tensor import Tensor, no_grad

# Layers that act element by element (or are switched off in eval) and so work on (N, C, h, w).
_POINTWISE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.Dropout, nn.Identity)


def _trace(
    model: nn.Module, input_shape: tuple[int, ...]
) -> list[tuple[str, nn.Module, tuple, tuple]]:
    """Run one sample through ``model``; list the leaf modules called: (name, module, in, out)."""
    calls: list[tuple[str, nn.Module, tuple, tuple]] = []
    handles = []
    for name, mod in model.named_modules():
        if next(mod.children(), None) is None:

            def hook(m: nn.Module, inputs: tuple, out: Any, name: str = name) -> None:
                calls.append((name, m, tuple(inputs[0].shape), tuple(getattr(out, "shape", ()))))

            handles.append(mod.register_forward_hook(hook))
    first = next(model.parameters(), None)
    dtype = first.dtype if first is not None else "float32"
    xp = get_array_module(first.data) if first is not None else None
    x = Tensor(xp.zeros((1, *input_shape), dtype=dtype)) if xp is not None else None
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            model(x)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return calls


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model
    for part in parent_name.split(".") if parent_name else []:
        parent = parent._modules[part]
    parent._modules[child] = new  # keeps the child's place (Sequential order)


def _conv_from_linear(
    lin: nn.Linear,
    chw: tuple[int, int, int],
    dilation: tuple[int, int] = (1, 1),
    padding: tuple[int, int] | str = (0, 0),
) -> nn.Conv2d:
    c, h, w = chw
    conv = nn.Conv2d(
        c,
        lin.out_features,
        (h, w),
        padding=padding,
        dilation=dilation,
        bias=lin.bias is not None,
        dtype=lin.weight.dtype.name,
    )
    conv.weight.data = lin.weight.data.reshape(lin.out_features, c, h, w).copy()  # (out, C, H, W)
    if lin.bias is not None:
        conv.bias.data = lin.bias.data.copy()
    return conv


def convolutionize(
    model: nn.Module,
    input_shape: tuple[int, int, int] | None = None,
    inplace: bool = False,
    padding: str = "valid",
) -> nn.Module:
    """Replace the Flatten + Linear head of ``model`` with equivalent convolutions.

    Args:
        model (Module): a classifier whose forward calls a ``Flatten`` module and then only
            Linear layers and pointwise layers (ReLU, Tanh, Sigmoid, Dropout, ...).
        input_shape (tuple): (C, H, W) the model was trained on. Default: ``model.input_shape``
            (every zoo model has one).
        inplace (bool): change ``model`` itself instead of a copy. Default: False.
        padding (str): ``"valid"`` (the first converted convolution sees only whole windows:
            exactly the original model on each one) or ``"same"`` (zero padding of d(k - 1) in
            all, (k - 1)//2 of it before, as ``Conv2d(padding="same")``, so the score map keeps
            the size of the feature map it reads: one score per feature position, for the
            window centred there, as a segmentation network wants; windows at the border see
            zeros beyond the input).
            Default: "valid".

    Returns:
        The converted model. For an input (N, C, H', W') it returns (N, classes, h, w) with
        h = (H' - H) / s + 1 where s is the product of the strides before the head (the
        original model's output at the training size is the 1x1 map); with ``padding="same"``
        h is the height of the feature map the head reads.

    Raises:
        ValueError: when the model has no Flatten module, or the head holds another layer.

    Example:
        >>> import numpy, tinyconv
        >>> from tinyconv.models import simple_convnet
        >>> fcn = convolutionize(simple_convnet())
        >>> fcn(tinyconv.tensor(numpy.zeros((1, 1, 36, 36), numpy.float32))).shape
        (1, 10, 5, 5)
    """
    if input_shape is None:
        input_shape = getattr(model, "input_shape", None)
        if input_shape is None:
            raise ValueError(
                f"convolutionize: {type(model).__name__} has no input_shape attribute; "
                "pass input_shape=(C, H, W), the size it was trained on"
            )
    if padding not in ("valid", "same"):
        raise ValueError(f"convolutionize: padding must be 'valid' or 'same', got {padding!r}")
    input_shape = tuple(int(s) for s in input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"convolutionize: input_shape must be (C, H, W), got {input_shape}")
    if not inplace:
        model = copy.deepcopy(model)
    calls = _trace(model, input_shape)
    flat_at = [i for i, (_, m, _, _) in enumerate(calls) if isinstance(m, nn.Flatten)]
    if not flat_at:
        raise ValueError(
            f"convolutionize: {type(model).__name__} calls no nn.Flatten module, so its head "
            "cannot be found (flatten with an nn.Flatten module in forward)"
        )
    i_flat = flat_at[-1]
    flat_name, flat, flat_in, _ = calls[i_flat]
    if len(flat_in) != 4 or (flat.start_dim, flat.end_dim) not in ((1, -1), (1, 3)):
        raise ValueError(
            f"convolutionize: expected Flatten() of an (N, C, H, W) map, got {flat!r} on {flat_in}"
        )
    chw = flat_in[1:]
    dilation = (1, 1)
    if i_flat > 0 and isinstance(calls[i_flat - 1][1], nn.AdaptiveAvgPool2d):
        pool_name, _, pin, pout = calls[i_flat - 1]
        (h, w), (oh, ow) = pin[2:], pout[2:]
        if (h, w) == (oh, ow):
            _replace(model, pool_name, nn.Identity())
        elif h % oh == 0 and w % ow == 0:
            dilation = (h // oh, w // ow)
            _replace(model, pool_name, nn.AvgPool2d(dilation, stride=1))
        else:
            raise ValueError(
                f"convolutionize: the adaptive pool maps {h}x{w} to {oh}x{ow}, which is not a "
                "whole number of blocks; it has no sliding-window equivalent"
            )
    _replace(model, flat_name, nn.Identity())
    seen: set[int] = set()
    first = True
    for name, mod, _, _ in calls[i_flat + 1 :]:
        if id(mod) in seen and isinstance(mod, nn.Linear):
            raise ValueError(f"convolutionize: Linear layer {name} is called twice")
        seen.add(id(mod))
        if isinstance(mod, nn.Linear):
            if first:
                conv = _conv_from_linear(mod, chw, dilation, "same" if padding == "same" else 0)
            else:
                conv = _conv_from_linear(mod, (mod.in_features, 1, 1))
            _replace(model, name, conv)
            first = False
        elif not isinstance(mod, _POINTWISE):
            raise ValueError(
                f"convolutionize: cannot convert {name} = {mod!r} after the Flatten; "
                "the head may hold only Linear and pointwise layers"
            )
    if first:
        raise ValueError(f"convolutionize: no Linear layer follows the Flatten {flat_name}")
    return model
