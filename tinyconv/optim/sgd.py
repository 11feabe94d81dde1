"""Stochastic gradient descent with momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from . import _fused
from .optimizer import Optimizer, ParamsT, check_hyper


class SGD(Optimizer):
    r"""Stochastic gradient descent, with the update rule of ``torch.optim.SGD``.

    For each parameter p with gradient g, at step t (b is the momentum buffer, b_1 = g_1)::

        g   <- g + weight_decay * p                          (L2 penalty, if weight_decay != 0)
        b_t <- momentum * b_{t-1} + (1 - dampening) * g      (if momentum != 0)
        g   <- g + momentum * b_t   if nesterov   else   b_t
        p   <- p - lr * g

    Args:
        params: parameters (or dicts of parameter groups) to optimize.
        lr (float): learning rate. Default: 1e-3 (as torch.optim.SGD).
        momentum (float): momentum factor. Default: 0.
        dampening (float): dampening of the momentum. Default: 0.
        weight_decay (float): L2 penalty. Default: 0.
        nesterov (bool): Nesterov momentum (needs momentum > 0 and dampening 0). Default: False.
        maximize (bool): ascend instead of descend. Default: False.

    Raises:
        ValueError: lr < 0, momentum < 0, weight_decay < 0, or nesterov without momentum
            or with dampening.

    Example:
        >>> import numpy, tinyconv
        >>> w = tinyconv.nn.Parameter(numpy.array([1.0, 2.0], dtype=numpy.float32))
        >>> w.grad = tinyconv.tensor([0.5, -1.0])
        >>> SGD([w], lr=0.1).step()
        >>> w.numpy().tolist()
        [0.949999988079071, 2.0999999046325684]
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_hyper("SGD", "momentum", group["momentum"], group["momentum"] >= 0, "momentum >= 0")
        wd = group["weight_decay"]
        check_hyper("SGD", "weight_decay", wd, wd >= 0, "weight_decay >= 0")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                "SGD: nesterov=True requires momentum > 0 and dampening = 0, got "
                f"momentum={group['momentum']!r}, dampening={group['dampening']!r}"
            )

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        c = p.data.dtype.type  # constants in the parameter's dtype (no float64 upcast)
        momentum = group["momentum"]
        if _fused.active(p.data):  # the same formulas in one compiled pass (kernels/optim.py)
            buf = state.get("momentum_buffer")
            first = momentum != 0 and buf is None
            if first:
                buf = np.empty_like(p.data)  # the kernel sets it to g
            flat = _fused.flat_views(p.data, grad, buf if momentum != 0 else None)
            if flat is not None:
                if first:
                    state["momentum_buffer"] = buf
                _fused.kernel_module().sgd_kernel(
                    *flat, first, c(group["weight_decay"]), c(momentum),
                    c(1 - group["dampening"]), bool(group["nesterov"]), c(group["lr"]),
                )  # fmt: skip
                return
        g = grad
        if group["weight_decay"] != 0:
            g = g + c(group["weight_decay"]) * p.data  # a new array: grad itself is never modified
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()
            else:
                buf *= c(momentum)
                buf += c(1 - group["dampening"]) * g
            g = g + c(momentum) * buf if group["nesterov"] else buf
        p.data -= c(group["lr"]) * g
