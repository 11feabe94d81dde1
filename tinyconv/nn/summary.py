"""``model.summary(input_shape)``: a Keras-like table of layers, output shapes and parameters.

``summary`` is a function over any module: it uses only the Module interface (``named_modules``,
``parameters``, ``register_forward_hook``, ``train``/``eval``, ``num_parameters``), so it does
not import ``module.py``; ``Module.summary`` calls it.

Each layer's output shape is computed twice: by the layer's own formula (``output_shape``,
e.g. ``(W_in - F + 2P)/S + 1`` for a convolution) and by a real forward pass of one zero
sample through the model with forward hooks. The two must agree; a disagreement is a bug
in tinyconv and raises. The table shows the shapes without the batch dimension.

The activation memory is the sum of the layers' output sizes times the bytes of one number in
the chosen precision: ``dtype=float16`` (or bfloat16, or mixed-precision training, whose
activations are 16-bit) reports half of float32's figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy

from ..backend import resolve_dtype
from ..dtypes import is_floating
from ..tensor import Tensor, no_grad


@dataclass
class SummaryRow:
    """One leaf layer: dotted name, class, repr, output shape (no batch), parameter count."""

    name: str
    layer: str
    description: str
    output_shape: tuple[int, ...]
    params: int
    trainable: int
    formula_shape: tuple[int, ...] | None = None


@dataclass
class Summary:
    """The result of ``summary``: ``str()`` is the table; ``rows`` and totals are attributes."""

    model_name: str
    input_shape: tuple[int, ...]
    dtype: str
    rows: list[SummaryRow] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    activation_bytes: int = 0

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    def __str__(self) -> str:
        heads = ("Layer (type)", "Output Shape", "Param #")
        cells = [(f"{r.name} ({r.layer})", str(r.output_shape), f"{r.params:,}") for r in self.rows]
        w = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(heads)]
        width = sum(w) + 6
        lines = [
            f'Model: "{self.model_name}"  input {self.input_shape} ({self.dtype})',
            "=" * width,
        ]
        lines.append(f"{heads[0]:<{w[0]}}   {heads[1]:<{w[1]}}   {heads[2]:>{w[2]}}")
        lines.append("-" * width)
        for c in cells:
            lines.append(f"{c[0]:<{w[0]}}   {c[1]:<{w[1]}}   {c[2]:>{w[2]}}")
        lines.append("=" * width)
        lines.append(f"Total params: {self.total_params:,}")
        lines.append(f"Trainable params: {self.trainable_params:,}")
        lines.append(f"Non-trainable params: {self.non_trainable_params:,}")
        mb = self.activation_bytes / 2**20
        lines.append(f"Activation memory per sample (forward outputs, {self.dtype}): {mb:.2f} MiB")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


def summary(model: Any, input_shape: tuple[int, ...], dtype: Any = None) -> Summary:
    """Describe ``model`` for one input of ``input_shape`` (C, H, W) — no batch dimension.

    Args:
        model: any Module.
        input_shape: shape of one sample, e.g. (1, 28, 28).
        dtype: the precision whose activation memory is reported ("float16", "bfloat16",
            numpy.float32, ...). Default: None, the model's own dtype (float32 if it has no
            floating-point parameter). The probe itself runs in the model's dtype.

    Returns:
        A ``Summary`` whose ``str()`` is the table.

    Raises:
        ValueError: when the input does not fit the model (the layer's own message).

    Example:
        >>> from tinyconv import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
        >>> s = model.summary((1, 2, 2))
        >>> s.rows[-1].output_shape, s.total_params
        ((2,), 10)
        >>> s.activation_bytes, model.summary((1, 2, 2), dtype="float16").activation_bytes
        (24, 12)
    """
    params = [p for p in model.parameters() if is_floating(p.dtype)]
    probe = params[0].dtype if params else numpy.dtype(numpy.float32)
    dt = probe if dtype is None else resolve_dtype(dtype)
    leaves = [(n, m) for n, m in model.named_modules() if not m._modules]
    rows: list[SummaryRow] = []
    handles = []
    seen: set[int] = set()

    def make_hook(name: str):
        def hook(mod: Any, inputs: tuple, output: Any) -> None:
            if not isinstance(output, Tensor):
                return
            formula = None
            if hasattr(mod, "output_shape") and inputs and isinstance(inputs[0], Tensor):
                formula = tuple(mod.output_shape(inputs[0].shape))
                if formula != output.shape:
                    raise RuntimeError(
                        f"internal error in {mod!r}: formula output shape {formula} != "
                        f"forward output shape {output.shape}"
                    )
            first = id(mod) not in seen  # a layer reused twice counts its parameters once
            seen.add(id(mod))
            own = list(mod.parameters(recurse=False)) if first else []
            rows.append(
                SummaryRow(
                    name=name or type(mod).__name__,
                    layer=type(mod).__name__,
                    description=repr(mod),
                    output_shape=tuple(output.shape[1:]),
                    params=sum(p.numel() for p in own),
                    trainable=sum(p.numel() for p in own if p.requires_grad),
                    formula_shape=None if formula is None else formula[1:],
                )
            )

        return hook

    for name, m in leaves:
        handles.append(m.register_forward_hook(make_hook(name)))
    was_training = model.training
    model.eval()
    xp_params = next(iter(model.parameters()), None)
    try:
        x = Tensor(numpy.zeros((1, *input_shape), dtype=probe))
        if xp_params is not None and xp_params.device != "cpu":
            x = x.to(xp_params.device)
        with no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    out = Summary(
        model_name=type(model).__name__, input_shape=tuple(input_shape), dtype=str(dt), rows=rows
    )
    out.total_params = model.num_parameters()
    out.trainable_params = model.num_parameters(trainable_only=True)
    out.activation_bytes = sum(int(numpy.prod(r.output_shape)) * dt.itemsize for r in rows)
    return out
