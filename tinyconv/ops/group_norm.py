"""Group normalisation (Wu & He, 2018) and instance normalisation (Ulyanov et al., 2016).

Group norm splits the C channels of (N, C, *) into G groups of C/G and standardises each
group of each sample over its channels and positions; instance norm is the case G = C
(each channel of each sample on its own), optionally with running statistics as batch
norm keeps them. Both reshape to (N, G, C/G * positions) and call ``Standardize``
(``layer_norm.py``), whose backward is the closed form; the per-channel scale and shift
follow as broadcast products.
"""

from __future__ import annotations

import math

from ..tensor import Tensor, no_grad
from .layer_norm import Standardize, _check_param, affine, check_eps, check_input
from .norm import batch_norm


def group_norm(
    x: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Standardise each group of C/num_groups channels of each sample, then scale and shift.

    y[n, c] = (x[n, c] - mean_{n,g}) / sqrt(var_{n,g} + eps) * weight[c] + bias[c], g the
    group of channel c; mean and (biased) variance over the group's channels and positions.

    Args:
        x (Tensor): (N, C, *) floating point, C divisible by num_groups.
        num_groups (int): G.
        weight, bias (Tensor, optional): (C,).
        eps (float): added to the variance. Default: 1e-5.

    Raises:
        ValueError: C not divisible by num_groups, fewer than 2 dimensions, or
            parameters that are not (C,).

    Example:
        >>> import numpy, tinyconv
        >>> group_norm(tinyconv.tensor(numpy.ones((2, 4, 3, 3))), 2).shape
        (2, 4, 3, 3)
    """
    check_input(x, "group_norm")
    if isinstance(num_groups, bool) or not isinstance(num_groups, int) or num_groups < 1:
        raise ValueError(f"group_norm: num_groups must be a positive int, got {num_groups!r}")
    if x.ndim < 2:
        raise ValueError(f"group_norm: expected an input (N, C, *), got shape {x.shape}")
    N, C = x.shape[0], x.shape[1]
    if C % num_groups:
        raise ValueError(
            f"group_norm: the {C} channels of {x.shape} do not split into num_groups="
            f"{num_groups} equal groups (C % num_groups = {C % num_groups})"
        )
    _check_param(weight, "weight", (C,), "group_norm")
    _check_param(bias, "bias", (C,), "group_norm")
    eps = check_eps(eps, "group_norm")
    grouped = x.reshape(N, num_groups, math.prod(x.shape[1:]) // num_groups)
    y = Standardize.apply(grouped, axes=(2,), eps=eps).reshape(*x.shape)
    return affine(y, weight, bias, (1, C) + (1,) * (x.ndim - 2))


def instance_norm(
    x: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Standardise each channel of each sample over its positions, then scale and shift.

    With ``use_input_stats`` (training) the statistics are the sample's own, and running
    statistics, when given, move towards their mean over the batch:
    r = (1 - momentum) r + momentum * mean_n(stat), the variance unbiased (PyTorch's rule).
    Without it, the running statistics normalise (as batch norm in eval).

    Args:
        x (Tensor): (N, C, *) floating point, at least one position axis.
        running_mean, running_var (Tensor, optional): (C,), updated in place.
        weight, bias (Tensor, optional): (C,).
        use_input_stats (bool): use each instance's statistics. Default: True.
        momentum (float): weight of the new statistics. Default: 0.1.
        eps (float): added to the variance. Default: 1e-5.

    Raises:
        ValueError: fewer than 3 dimensions, a single position while using input
            statistics, missing running statistics with use_input_stats=False, or (C,)
            parameters of another shape.

    Example:
        >>> import numpy, tinyconv
        >>> y = instance_norm(tinyconv.tensor(numpy.arange(8.0).reshape(1, 2, 4)))
        >>> [round(v, 3) for v in y.numpy()[0, 0].tolist()]
        [-1.342, -0.447, 0.447, 1.342]
    """
    check_input(x, "instance_norm")
    if x.ndim < 3:
        raise ValueError(
            f"instance_norm: expected an input (N, C, *spatial) with at least one spatial "
            f"dimension, got shape {x.shape}"
        )
    C = x.shape[1]
    for name, p in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):  # fmt: skip
        _check_param(p, name, (C,), "instance_norm")
    eps = check_eps(eps, "instance_norm")
    per_channel = (1, C) + (1,) * (x.ndim - 2)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError(
                "instance_norm: use_input_stats=False normalises with the running statistics; "
                "expected running_mean and running_var, got None"
            )
        return batch_norm(x, running_mean, running_var, weight, bias, training=False, eps=eps)
    positions = math.prod(x.shape[2:])
    if positions <= 1 and x.numel():
        raise ValueError(
            f"instance_norm: expected more than 1 position per channel to compute statistics, "
            f"got input of shape {x.shape}"
        )
    axes = tuple(range(2, x.ndim))
    if (running_mean is not None or running_var is not None) and x.numel():
        with no_grad():
            data = x.data
            mean = data.mean(axis=axes)  # (N, C)
            var = data.var(axis=axes) * data.dtype.type(positions / (positions - 1))
            m = float(momentum)
            if running_mean is not None:
                running_mean.data[...] = (1 - m) * running_mean.data + m * mean.mean(axis=0)
            if running_var is not None:
                running_var.data[...] = (1 - m) * running_var.data + m * var.mean(axis=0)
    y = Standardize.apply(x, axes=axes, eps=eps)
    return affine(y, weight, bias, per_channel)
