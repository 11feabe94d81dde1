"""Loss layers: CrossEntropyLoss, NLLLoss and MSELoss (``reduction`` mean/sum/none).

The arithmetic is in ``tinyconv/ops/loss.py``. A class weight given as a list (or tuple) of
floats keeps the loss saveable with the model's architecture JSON.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy

from .. import functional as F
from ..ops.loss import REDUCTIONS
from ..tensor import Tensor
from .module import Module


class _Loss(Module):
    """Checked ``reduction`` and the output shape: () for mean/sum, per sample for none."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"{type(self).__name__}: invalid value for argument `reduction`. Expected one of "
                f"{REDUCTIONS}. Received reduction={reduction!r}."
            )
        self.reduction = reduction

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return () if self.reduction != "none" else self._per_sample_shape(tuple(in_shape))

    def _per_sample_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return in_shape

    def _extra(self) -> list[str]:
        return [] if self.reduction == "mean" else [f"reduction={self.reduction!r}"]

    def extra_repr(self) -> str:
        return ", ".join(self._extra())


class _ClassificationLoss(_Loss):
    """Shared by CrossEntropyLoss and NLLLoss: the class weight buffer and ignore_index."""

    def __init__(
        self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean"
    ) -> None:
        super().__init__(reduction)
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
            raise TypeError(
                f"{type(self).__name__}: invalid type for argument `ignore_index`. Expected an "
                f"int. Received ignore_index={ignore_index!r}."
            )
        self.ignore_index = int(ignore_index)
        if weight is not None:
            w = (
                weight.data
                if isinstance(weight, Tensor)
                else numpy.asarray(weight, dtype=numpy.float32)
            )
            if w.ndim != 1:
                raise ValueError(
                    f"{type(self).__name__}: expected a class weight of shape (C,), "
                    f"got {tuple(w.shape)}"
                )
            weight = Tensor(w)
        self.register_buffer("weight", weight)

    def _per_sample_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return in_shape[:1] + in_shape[2:] if len(in_shape) > 1 else ()

    def _extra(self) -> list[str]:
        extra = [] if self.weight is None else [f"weight={self.weight.tolist()}"]
        if self.ignore_index != -100:
            extra.append(f"ignore_index={self.ignore_index}")
        return extra + super()._extra()


class CrossEntropyLoss(_ClassificationLoss):
    """Softmax cross-entropy from logits and integer labels (the book's SoftmaxWithLoss).

    loss_i = -(1 - eps) w[y_i] log softmax(x_i)[y_i] - eps/C sum_c w[c] log softmax(x_i)[c]

    Args:
        weight (list of float or Tensor, optional): per-class weight (C,). Default: None.
        ignore_index (int): label that contributes nothing. Default: -100.
        reduction (str): "mean", "sum" or "none". Default: "mean".
        label_smoothing (float): eps in [0, 1]. Default: 0.

    Shape:
        input (N, C) logits, target (N,) int labels -> () (or (N,) with reduction="none");
        (N, C, d1, ...) with (N, d1, ...) works too.

    Example:
        >>> import tinyconv
        >>> loss = CrossEntropyLoss()
        >>> round(loss(tinyconv.tensor([[2.0, 0.0]]), tinyconv.tensor([0])).item(), 4)
        0.1269
    """

    def __init__(
        self,
        weight: Any = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, ignore_index, reduction)
        if (
            isinstance(label_smoothing, bool)
            or not isinstance(label_smoothing, numbers.Real)
            or not (0.0 <= label_smoothing <= 1.0)
        ):
            raise ValueError(
                "CrossEntropyLoss: invalid value for argument `label_smoothing`. Expected a "
                f"number in [0, 1]. Received label_smoothing={label_smoothing!r}."
            )
        self.label_smoothing = float(label_smoothing)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.cross_entropy(
            input,
            target,
            self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
            layer=repr(self),
        )

    def _extra(self) -> list[str]:
        extra = super()._extra()
        return extra + ([f"label_smoothing={self.label_smoothing}"] if self.label_smoothing else [])


class NLLLoss(_ClassificationLoss):
    """Negative log-likelihood of integer labels under log-probabilities (after LogSoftmax).

    loss_i = -w[y_i] * input[i, y_i].

    Args:
        weight (list of float or Tensor, optional): per-class weight (C,). Default: None.
        ignore_index (int): label that contributes nothing. Default: -100.
        reduction (str): "mean", "sum" or "none". Default: "mean".

    Shape:
        input (N, C) log-probabilities, target (N,) -> () (or (N,) with reduction="none").

    Example:
        >>> import tinyconv
        >>> NLLLoss()(tinyconv.tensor([[-0.5, -1.5]]), tinyconv.tensor([1])).item()
        1.5
    """

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.nll_loss(
            input,
            target,
            self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            layer=repr(self),
        )


class MSELoss(_Loss):
    """Mean squared error between input and target, the same shape.

    Args:
        reduction (str): "mean", "sum" or "none". Default: "mean".

    Shape:
        input and target of one shape -> () (or that shape with reduction="none").

    Example:
        >>> import tinyconv
        >>> loss = MSELoss(reduction="sum")
        >>> loss(tinyconv.tensor([1.0, 2.0]), tinyconv.tensor([0.0, 0.0])).item()
        5.0
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, self.reduction, layer=repr(self))
