"""Adam and AdamW: adaptive moment estimation, with coupled or decoupled weight decay."""

from __future__ import annotations

import math
from typing import Any

from ..backend import get_array_module
from ..ops.parallel import for_chunks
from ..tensor import Tensor
from . import _fused
from .optimizer import Optimizer, ParamsT, check_hyper


class Adam(Optimizer):
    r"""Adam (Kingma and Ba, 2015), with the update rule of ``torch.optim.Adam``.

    For each parameter p with gradient g, at step t = 1, 2, ... (m, v start at zero)::

        g     <- g + weight_decay * p               (L2 penalty, if weight_decay != 0)
        m     <- m + (1 - beta1) * (g - m)          (= beta1 * m + (1 - beta1) * g)
        v     <- beta2 * v + (1 - beta2) * g * g
        v_max <- max(v_max, v)                      (amsgrad only; then v_max replaces v below)
        p     <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    eps is added after the bias correction of v, as in PyTorch (the from-scratch book adds it
    to the uncorrected sqrt(v), a different update).

    Args:
        params: parameters (or dicts of parameter groups) to optimize.
        lr (float): learning rate. Default: 1e-3.
        betas (tuple[float, float]): decay rates of m and v. Default: (0.9, 0.999).
        eps (float): added to the denominator. Default: 1e-8.
        weight_decay (float): L2 penalty added to the gradient. Default: 0.
        amsgrad (bool): use the running maximum of v (Reddi et al., 2018). Default: False.
        maximize (bool): ascend instead of descend. Default: False.

    Raises:
        ValueError: lr < 0, eps < 0, weight_decay < 0, or a beta outside [0, 1).

    Example:
        >>> import numpy, tinyconv
        >>> w = tinyconv.nn.Parameter(numpy.zeros(2))
        >>> w.grad = tinyconv.tensor(numpy.array([3.0, -0.5]))
        >>> Adam([w], lr=0.1).step()  # the first step moves every coordinate by about lr
        >>> numpy.round(w.numpy(), 6).tolist()
        [-0.1, 0.1]
    """

    _decoupled = False

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        name = type(self).__name__
        check_hyper(name, "eps", group["eps"], group["eps"] >= 0, "eps >= 0")
        betas = group["betas"]
        if len(betas) != 2:
            raise ValueError(f"{name}: invalid betas={betas!r}: expected two values (beta1, beta2)")
        for i, b in enumerate(betas):
            check_hyper(name, f"betas[{i}]", b, 0 <= b < 1, f"0 <= betas[{i}] < 1")
        wd = group["weight_decay"]
        check_hyper(name, "weight_decay", wd, wd >= 0, "weight_decay >= 0")

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = get_array_module(p.data)
        c = p.data.dtype.type
        beta1, beta2 = group["betas"]
        lr, wd = group["lr"], group["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p.data)
            state["exp_avg_sq"] = xp.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(p.data)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        v_max = state.get("max_exp_avg_sq")
        flat = _fused.flat_views(p.data, grad, m, v, v_max)
        if flat is not None:  # the same formulas in one compiled pass (kernels/optim.py)
            decoupled = wd != 0 and self._decoupled
            _fused.kernel_module().adam_kernel(
                *flat, c(lr / (1 - beta1**t)), c(math.sqrt(1 - beta2**t)), c(1 - beta1),
                c(beta2), c(1 - beta2), c(group["eps"]), c(0 if decoupled else wd),
                c(1 - lr * wd) if decoupled else c(1), bool(group["amsgrad"]),
            )  # fmt: skip
            return
        if wd != 0 and self._decoupled:
            p.data *= c(1 - lr * wd)  # AdamW: shrink the weights, not the gradient
        l2 = c(wd) if wd != 0 and not self._decoupled else None
        step_size = c(lr / (1 - beta1**t))
        bias_correction2_sqrt = c(math.sqrt(1 - beta2**t))
        b1, b2, eps = c(1 - beta1), c(beta2), c(group["eps"])
        one_minus_b2 = c(1 - beta2)
        w = p.data

        # In place, with one scratch array per chunk: the same arithmetic as the formulas
        # in the docstring, without a fresh array for every intermediate result.
        def chunk(i: tuple[slice, ...]) -> None:
            g = grad[i] if l2 is None else grad[i] + l2 * w[i]  # L2 penalty: g + wd * p
            tmp = xp.subtract(g, m[i])  # m <- m + (1 - beta1)(g - m)
            tmp *= b1
            m[i] += tmp
            xp.multiply(g, g, out=tmp)  # v <- beta2 v + (1 - beta2) g^2
            tmp *= one_minus_b2
            v[i] *= b2
            v[i] += tmp
            vi = v[i]
            if v_max is not None:  # amsgrad: the running max of v replaces v
                xp.maximum(v_max[i], vi, out=v_max[i])
                vi = v_max[i]
            xp.sqrt(vi, out=tmp)  # denominator sqrt(v) / sqrt(1 - beta2^t) + eps
            tmp /= bias_correction2_sqrt
            tmp += eps
            xp.divide(m[i], tmp, out=tmp)  # p <- p - lr/(1 - beta1^t) m / denominator
            tmp *= step_size
            w[i] -= tmp

        for_chunks(chunk, w)


class AdamW(Adam):
    r"""AdamW (Loshchilov and Hutter, 2019): Adam with decoupled weight decay, as torch.optim.AdamW.

    Each step first shrinks the weights, then applies Adam's update with the raw gradient::

        p <- p * (1 - lr * weight_decay)
        (then Adam's update of m, v and p, with no L2 term in g)

    Args:
        params: parameters (or dicts of parameter groups) to optimize.
        lr (float): learning rate. Default: 1e-3.
        betas (tuple[float, float]): decay rates of m and v. Default: (0.9, 0.999).
        eps (float): added to the denominator. Default: 1e-8.
        weight_decay (float): decoupled weight-decay factor. Default: 1e-2.
        amsgrad (bool): use the running maximum of v. Default: False.
        maximize (bool): ascend instead of descend. Default: False.

    Raises:
        ValueError: lr < 0, eps < 0, weight_decay < 0, or a beta outside [0, 1).

    Example:
        >>> import numpy, tinyconv
        >>> w = tinyconv.nn.Parameter(numpy.ones(1))
        >>> w.grad = tinyconv.tensor(numpy.zeros(1))
        >>> AdamW([w], lr=0.1, weight_decay=0.5).step()  # zero gradient: only the decay acts
        >>> float(w.numpy()[0])
        0.95
    """

    _decoupled = True

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
