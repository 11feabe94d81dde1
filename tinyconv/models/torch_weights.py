"""PyTorch / torchvision weights in and out, through safetensors files (never pickle).

The zoo's ImageNet models use torchvision's state-dict names, and tinyconv's layers keep
PyTorch's weight layouts (conv ``(out, in/groups, kh, kw)``, linear ``(out, in)``), so weights
move by name without any transposition. The only differences handled here:

- ``num_batches_tracked`` (BatchNorm's step counter in PyTorch) is skipped when one side lacks
  it, and written as 0 on export so that ``torch.nn.Module.load_state_dict(strict=True)`` works;
- a ``module.`` prefix (``torch.nn.DataParallel`` checkpoints) is removed;
- values are cast to the model's dtype (a float16 checkpoint loads into a float32 model).

A ``.pth`` file is first converted with ``tinyconv convert model.pth model.safetensors``
(``models.pth``: no torch needed, nothing unpickled); ``models.get(name, pretrained=True)``
does that for torchvision's published weights.

Example::

    import tinyconv.models as models
    net = models.resnet18()
    models.load_torch_state_dict(net, "resnet18.safetensors")        # torchvision's weights
    models.export_torch_state_dict(net, "resnet18-tinyconv.safetensors")
    # in PyTorch: torchvision.models.resnet18().load_state_dict(
    #     safetensors.torch.load_file("resnet18-tinyconv.safetensors"))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from os import PathLike
from typing import Any

import numpy

from .. import io as tc_io
from ..backend import to_device
from ..nn.module import Module
from ..tensor import Tensor

_COUNTER = "num_batches_tracked"
Renamer = Mapping[str, str] | Callable[[str], str | None]


def _to_numpy(value: Any) -> numpy.ndarray:
    """A NumPy array from a NumPy/CuPy array, a tinyconv Tensor or a torch tensor."""
    if isinstance(value, Tensor):
        return value.numpy()
    if hasattr(value, "detach") and hasattr(
        value, "cpu"
    ):  # a torch.Tensor, without importing torch
        return value.detach().cpu().numpy()
    if hasattr(value, "get") and type(value).__module__.startswith("cupy"):
        return value.get()
    return numpy.asarray(value)


def _rename(key: str, rename: Renamer | None) -> str | None:
    key = key.removeprefix("module.")
    if rename is None:
        return key
    if callable(rename):
        return rename(key)
    return rename.get(key, key)


def _excluded(key: str, exclude: Iterable[str]) -> bool:
    return any(key == p or key.startswith(p if p.endswith(".") else p + ".") for p in exclude)


def load_torch_state_dict(
    model: Module,
    path_or_dict: str | PathLike[str] | Mapping[str, Any],
    strict: bool = True,
    exclude: Iterable[str] = (),
    rename: Renamer | None = None,
) -> tuple[list[str], list[str]]:
    """Copy a PyTorch state dict (a safetensors file or a name -> array mapping) into ``model``.

    Args:
        model (Module): the tinyconv model, built with the same architecture.
        path_or_dict: a ``.safetensors`` file path, or a dict of arrays / torch tensors.
        strict (bool): every key on both sides must match. Default: True.
        exclude (iterable of str): names or prefixes ignored on both sides, e.g. ``["fc"]`` to
            keep a freshly built head of another ``num_classes``. Default: none.
        rename (dict or callable): maps a file key to the model's key (None drops it), for
            models whose names differ from the file's. Default: names kept.

    Returns:
        (missing, unexpected): the model keys not in the file and the file keys not in the
        model (both empty when ``strict``).

    Raises:
        ValueError: one message listing every missing, unexpected and shape-mismatched key
            (shape mismatches are errors even when not ``strict``, as in PyTorch).
    """
    if isinstance(path_or_dict, Mapping):
        source = dict(path_or_dict)
        origin = "the state dict"
    else:
        source = dict(tc_io.load_state_dict(path_or_dict))
        origin = f"{str(path_or_dict)!r}"
    exclude = tuple(exclude)
    own = {k: v for k, v in model.state_dict().items() if not _excluded(k, exclude)}
    incoming: dict[str, numpy.ndarray] = {}
    for key, value in source.items():
        new_key = _rename(key, rename)
        if new_key is None or _excluded(new_key, exclude):
            continue
        incoming[new_key] = _to_numpy(value)
    # BatchNorm's step counter: skipped when only one side has it.
    missing = [k for k in own if k not in incoming and not k.endswith(_COUNTER)]
    unexpected = [k for k in incoming if k not in own and not k.endswith(_COUNTER)]
    mismatched = []
    for key, arr in incoming.items():
        if (
            key in own
            and tuple(arr.shape) != own[key].shape
            and not (arr.size == own[key].numel() == 1)
        ):
            mismatched.append(f"{key}: {origin} has {tuple(arr.shape)}, the model {own[key].shape}")
    problems = []
    if strict and missing:
        problems.append(f"missing (in the model, not in {origin}): " + ", ".join(missing))
    if strict and unexpected:
        problems.append(f"unexpected (in {origin}, not in the model): " + ", ".join(unexpected))
    if mismatched:
        problems.append("shape mismatch:\n    " + "\n    ".join(mismatched))
    if problems:
        hint = ""
        if mismatched and len(mismatched) <= 2:
            hint = (
                "\n  (a different number of classes? build the model with the file's num_classes, "
                "or pass exclude=[<the head's name>] to keep the model's own head)"
            )
        raise ValueError(
            f"load_torch_state_dict: {origin} does not fit {type(model).__name__}:\n  "
            + "\n  ".join(problems)
            + hint
        )
    for key, arr in incoming.items():
        if key not in own:
            continue
        dst = own[key]
        value = arr.reshape(dst.shape).astype(dst.dtype, copy=True)
        dst.data = to_device(value, dst.device)
    return missing, unexpected


def torch_state_dict(model: Module) -> dict[str, numpy.ndarray]:
    """``model``'s parameters and buffers as NumPy arrays under PyTorch's names.

    Every BatchNorm gets a ``num_batches_tracked`` (int64, shape ()) if it has none, so the
    dict loads into the torch model with ``strict=True``.
    """
    from ..nn.norm import BatchNorm1d, BatchNorm2d  # noqa: PLC0415

    out: dict[str, numpy.ndarray] = {}
    for key, value in model.state_dict().items():
        out[key] = numpy.ascontiguousarray(_to_numpy(value.data))
    for name, mod in model.named_modules():
        if isinstance(mod, (BatchNorm1d, BatchNorm2d)):
            key = f"{name}.{_COUNTER}" if name else _COUNTER
            out.setdefault(key, numpy.zeros((), dtype=numpy.int64))
    return out


def export_torch_state_dict(model: Module, path: str | PathLike[str]) -> dict[str, numpy.ndarray]:
    """Write ``model``'s weights as a safetensors file that PyTorch loads by name.

    In PyTorch: ``torch_model.load_state_dict(safetensors.torch.load_file(path))``.

    Returns:
        The name -> array dict that was written.
    """
    state = torch_state_dict(model)
    tc_io.write_safetensors(path, state, metadata={"format": "pt"})
    return state
