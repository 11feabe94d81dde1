"""RMSprop: divide the gradient by a running root mean square of recent gradients."""

from __future__ import annotations

from typing import Any

from ..backend import get_array_module
from ..tensor import Tensor
from . import _fused
from .optimizer import Optimizer, ParamsT, check_hyper


class RMSprop(Optimizer):
    r"""RMSprop (Hinton's lecture 6e), with the update rule of ``torch.optim.RMSprop``.

    For each parameter p with gradient g (v, m, b start at zero)::

        g <- g + weight_decay * p                     (if weight_decay != 0)
        v <- alpha * v + (1 - alpha) * g * g
        if centered:  m <- m + (1 - alpha) * (g - m);  d = sqrt(v - m * m) + eps
        else:         d = sqrt(v) + eps
        if momentum > 0:  b <- momentum * b + g / d;  p <- p - lr * b
        else:             p <- p - lr * g / d

    Note that eps is added outside the square root (as PyTorch does; Keras adds it inside).

    Args:
        params: parameters (or dicts of parameter groups) to optimize.
        lr (float): learning rate. Default: 1e-2.
        alpha (float): smoothing constant of the running average. Default: 0.99.
        eps (float): added to the denominator. Default: 1e-8.
        weight_decay (float): L2 penalty. Default: 0.
        momentum (float): momentum factor. Default: 0.
        centered (bool): normalise by the variance estimate instead of the raw second moment.
            Default: False.
        maximize (bool): ascend instead of descend. Default: False.

    Raises:
        ValueError: lr, eps, momentum, weight_decay or alpha below 0.

    Example:
        >>> import numpy, tinyconv
        >>> w = tinyconv.nn.Parameter(numpy.zeros(1))
        >>> w.grad = tinyconv.tensor(numpy.array([1.0]))
        >>> RMSprop([w], lr=0.01).step()
        >>> round(float(w.numpy()[0]), 6)  # -0.01 / sqrt(0.01)
        -0.1
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        for name in ("eps", "momentum", "weight_decay", "alpha"):
            check_hyper("RMSprop", name, group[name], group[name] >= 0, f"{name} >= 0")

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = get_array_module(p.data)
        c = p.data.dtype.type
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(p.data)
            if momentum > 0:
                state["momentum_buffer"] = xp.zeros_like(p.data)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(p.data)
        state["step"] += 1
        flat = _fused.flat_views(p.data, grad, state["square_avg"], state.get("grad_avg"),
                                 state.get("momentum_buffer"))  # fmt: skip
        if flat is not None:  # the same formulas in one compiled pass (kernels/optim.py)
            _fused.kernel_module().rmsprop_kernel(
                *flat, c(group["weight_decay"]), c(alpha), c(1 - alpha), c(group["eps"]),
                c(momentum), c(group["lr"]), bool(group["centered"]),
            )  # fmt: skip
            return
        g = grad
        if group["weight_decay"] != 0:
            g = g + c(group["weight_decay"]) * p.data
        v = state["square_avg"]
        v *= c(alpha)
        v += c(1 - alpha) * (g * g)
        if group["centered"]:
            m = state["grad_avg"]
            m += c(1 - alpha) * (g - m)  # lerp towards g
            avg = xp.sqrt(v - m * m)
        else:
            avg = xp.sqrt(v)
        avg += c(group["eps"])
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= c(momentum)
            buf += g / avg
            p.data -= c(group["lr"]) * buf
        else:
            p.data -= c(group["lr"]) * (g / avg)
