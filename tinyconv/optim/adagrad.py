"""Adagrad: per-coordinate learning rates from the sum of squared gradients."""

from __future__ import annotations

from typing import Any

from ..backend import get_array_module
from ..tensor import Tensor
from .optimizer import Optimizer, ParamsT, check_hyper


class Adagrad(Optimizer):
    r"""Adagrad (Duchi, Hazan and Singer, 2011), with the update rule of ``torch.optim.Adagrad``.

    For each parameter p with gradient g, at step t = 1, 2, ... (s starts at
    ``initial_accumulator_value``)::

        g   <- g + weight_decay * p                  (if weight_decay != 0)
        clr  = lr / (1 + (t - 1) * lr_decay)
        s   <- s + g * g
        p   <- p - clr * g / (sqrt(s) + eps)

    Args:
        params: parameters (or dicts of parameter groups) to optimize.
        lr (float): learning rate. Default: 1e-2.
        lr_decay (float): learning-rate decay. Default: 0.
        weight_decay (float): L2 penalty. Default: 0.
        initial_accumulator_value (float): starting value of s. Default: 0.
        eps (float): added to the denominator. Default: 1e-10.
        maximize (bool): ascend instead of descend. Default: False.

    Raises:
        ValueError: any of lr, lr_decay, weight_decay, initial_accumulator_value, eps below 0.

    Example:
        >>> import numpy, tinyconv
        >>> w = tinyconv.nn.Parameter(numpy.array([1.0], dtype=numpy.float64))
        >>> w.grad = tinyconv.tensor(numpy.array([2.0]))
        >>> Adagrad([w], lr=0.5).step()
        >>> round(float(w.numpy()[0]), 6)
        0.5
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        for name in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            check_hyper("Adagrad", name, group[name], group[name] >= 0, f"{name} >= 0")

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = get_array_module(p.data)
        c = p.data.dtype.type
        if not state:
            state["step"] = 0
            state["sum"] = xp.full_like(p.data, c(group["initial_accumulator_value"]))
        state["step"] += 1
        g = grad
        if group["weight_decay"] != 0:
            g = g + c(group["weight_decay"]) * p.data
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += g * g
        std = xp.sqrt(state["sum"]) + c(group["eps"])
        p.data -= c(clr) * (g / std)
