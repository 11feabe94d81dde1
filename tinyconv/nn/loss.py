"""Loss layers: CrossEntropyLoss, NLLLoss, MSELoss, BCEWithLogitsLoss, BCELoss, L1Loss and
SmoothL1Loss (``reduction`` mean/sum/none).

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


def _weight_buffer(layer: str, name: str, value: Any) -> Tensor | None:
    """A weight (list, array or Tensor) as a Tensor buffer; lists become float32."""
    if value is None:
        return None
    if isinstance(value, Tensor):
        return value
    w = numpy.asarray(value)
    if w.dtype.kind not in "iuf":
        raise TypeError(
            f"{layer}: invalid type for argument `{name}`. Expected numbers (a list of floats "
            f"or a Tensor). Received {name}={value!r}."
        )
    return Tensor(w.astype(numpy.float32, copy=False))


class _WeightedElementwiseLoss(_Loss):
    """The BCE losses: an optional ``weight`` buffer, broadcast to the input's shape."""

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", _weight_buffer(type(self).__name__, "weight", weight))

    def _extra(self) -> list[str]:
        extra = [] if self.weight is None else [f"weight={self.weight.tolist()}"]
        return extra + super()._extra()


class BCEWithLogitsLoss(_WeightedElementwiseLoss):
    """Sigmoid + binary cross-entropy in one stable step, from logits and targets in [0, 1].

    loss = -w [p y log sigma(x) + (1 - y) log(1 - sigma(x))], computed as
    w [(1 - y) x + (1 + (p - 1) y) (max(-x, 0) + log1p(e^-|x|))].

    Args:
        weight (list of float or Tensor, optional): w, broadcast to the input's shape.
            Default: None.
        reduction (str): "mean", "sum" or "none". Default: "mean".
        pos_weight (list of float or Tensor, optional): p, the weight of the positive
            term, broadcast to the input's shape ((C,) for (N, C)). Default: None.

    Shape:
        input (*) logits, target (*) -> () (or (*) with reduction="none").

    Example:
        >>> import tinyconv
        >>> loss = BCEWithLogitsLoss()
        >>> round(loss(tinyconv.tensor([0.0]), tinyconv.tensor([1.0])).item(), 4)
        0.6931
    """

    def __init__(self, weight: Any = None, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__(weight, reduction)
        self.register_buffer(
            "pos_weight", _weight_buffer("BCEWithLogitsLoss", "pos_weight", pos_weight)
        )

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, self.reduction, self.pos_weight, layer=repr(self)
        )

    def _extra(self) -> list[str]:
        extra = super()._extra()
        return extra + (
            [] if self.pos_weight is None else [f"pos_weight={self.pos_weight.tolist()}"]
        )


class BCELoss(_WeightedElementwiseLoss):
    """Binary cross-entropy of probabilities (after Sigmoid); logs clamped at -100 as PyTorch.

    loss = -w [y log x + (1 - y) log(1 - x)]. ``BCEWithLogitsLoss`` on the logits is stabler.

    Args:
        weight (list of float or Tensor, optional): w, broadcast to the input's shape.
            Default: None.
        reduction (str): "mean", "sum" or "none". Default: "mean".

    Shape:
        input (*) in [0, 1], target (*) in [0, 1] -> () (or (*) with reduction="none").

    Example:
        >>> import tinyconv
        >>> round(BCELoss()(tinyconv.tensor([0.5]), tinyconv.tensor([1.0])).item(), 4)
        0.6931
    """

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, self.reduction, layer=repr(self))


class L1Loss(_Loss):
    """Mean absolute error |x - y| between input and target, the same shape.

    Args:
        reduction (str): "mean", "sum" or "none". Default: "mean".

    Example:
        >>> import tinyconv
        >>> L1Loss()(tinyconv.tensor([1.0, -3.0]), tinyconv.tensor([0.0, 0.0])).item()
        2.0
    """

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.l1_loss(input, target, self.reduction, layer=repr(self))


class SmoothL1Loss(_Loss):
    """0.5 (x - y)^2 / beta where |x - y| < beta, |x - y| - 0.5 beta beyond (Fast R-CNN's loss).

    Args:
        reduction (str): "mean", "sum" or "none". Default: "mean".
        beta (float): where the loss turns linear, >= 0 (0 gives L1Loss). Default: 1.

    Example:
        >>> import tinyconv
        >>> SmoothL1Loss(beta=2.0)(tinyconv.tensor([1.0]), tinyconv.tensor([0.0])).item()
        0.25
    """

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not beta >= 0:
            raise ValueError(
                "SmoothL1Loss: invalid value for argument `beta`. Expected a number >= 0. "
                f"Received beta={beta!r}."
            )
        self.beta = float(beta)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.smooth_l1_loss(input, target, self.reduction, self.beta, layer=repr(self))

    def _extra(self) -> list[str]:
        return super()._extra() + ([] if self.beta == 1.0 else [f"beta={self.beta}"])
