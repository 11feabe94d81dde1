"""1-D convolution: ``conv1d`` over the last axis of (N, C, L), as ``torch.nn.functional.conv1d``.

A 1-D convolution is a 2-D one whose images are one row high: x (N, C, L) becomes
(N, C, 1, L), the filters (FN, C/G, K) become (FN, C/G, 1, K), and ``conv2d`` (im2col and
one matrix product, ``conv.py``) does the arithmetic, forward and backward. This file only
checks the 1-D arguments, so that errors speak of L:

    L_out = floor((L_in + 2P - d*(K - 1) - 1)/S) + 1  =  (L_in - K + 2P)/S + 1 for d = 1
"""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from .conv import _check_groups, _is_int, _same_pads, conv2d
from .im2col import conv_output_size
from .unbatched import add_batch, drop_batch


def _one(value: Any, name: str, layer: str) -> int:
    """An int or a one-element tuple/list of an int (PyTorch's forms for 1-D arguments)."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(items) != 1 or not _is_int(items[0]):
        raise TypeError(f"{layer}: {name} must be an int or a tuple of one int, got {value!r}")
    return int(items[0])


def conv1d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int] = 1,
    padding: int | tuple[int] | str = 0,
    dilation: int | tuple[int] = 1,
    groups: int = 1,
    *,
    layer: str = "conv1d",
) -> Tensor:
    """1-D convolution (cross-correlation), as ``torch.nn.functional.conv1d``.

    y[n, f, l] = b[f] + sum_{c,k} W[f, c, k] * x_pad[n, g*C/G + c, l*S + k*d]

    Args:
        x: input (N, C, L) or unbatched (C, L), floating point.
        weight: filters (FN, C/groups, K).
        bias: (FN,) or None. Default: None.
        stride (int or (int,)): S. Default: 1.
        padding (int, (int,), "valid" or "same"): zeros on each side. Default: 0.
        dilation (int or (int,)): spacing d between taps. Default: 1.
        groups (int): independent channel groups. Default: 1.
        layer (str): the layer named in error messages (``nn.Conv1d`` passes its repr).

    Shape:
        (N, C, L_in) -> (N, FN, L_out), L_out = floor((L_in + 2P - d*(K - 1) - 1)/S) + 1.

    Raises:
        ValueError: wrong ranks or channels, bad hyper-parameters, an output below 1.
        TypeError: non-Tensors, non-float inputs, mismatched dtypes.

    Example:
        >>> import numpy, tinyconv
        >>> x = tinyconv.tensor(numpy.ones((2, 3, 10), dtype=numpy.float32))
        >>> w = tinyconv.tensor(numpy.ones((4, 3, 3), dtype=numpy.float32))
        >>> conv1d(x, w, stride=2, padding=1).shape
        (2, 4, 5)
    """
    for name, t in (("input", x), ("weight", weight), ("bias", bias)):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"{layer}: {name} must be a tinyconv Tensor, got {type(t).__name__}")
    if x.ndim not in (2, 3):
        raise ValueError(
            f"{layer}: expected a 3-D input (N, C, L) or an unbatched 2-D input (C, L), "
            f"got shape {x.shape}"
        )
    if weight.ndim != 3:
        raise ValueError(
            f"{layer}: expected a 3-D weight (out_channels, in_channels/groups, K), got shape "
            f"{weight.shape}"
        )
    x, added = add_batch(x, dims=1)
    C, (_, Cg, K) = x.shape[1], weight.shape
    G = _check_groups(groups, C, x.shape, layer)
    if C != Cg * G:
        raise ValueError(
            f"{layer}: Given groups={G}, weight of size {list(weight.shape)}, expected "
            f"input{list(x.shape)} to have {Cg * G} channels, but got {C} channels instead"
        )
    S, d = _one(stride, "stride", layer), _one(dilation, "dilation", layer)
    L = x.shape[2]
    if S < 1 or d < 1:
        raise ValueError(f"{layer}: stride and dilation must be >= 1, got {stride=}, {dilation=}")
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(f"{layer}: padding must be an int, 'valid' or 'same', got {padding!r}")
        if padding == "same" and S != 1:
            raise ValueError(f"{layer}: padding='same' needs stride 1, got stride={stride!r}")
        pads = _same_pads(1, K, (1, d))[2:] if padding == "same" else (0, 0)
        padding2: Any = padding
    else:
        P = _one(padding, "padding", layer)
        if P < 0:
            raise ValueError(f"{layer}: padding must be >= 0, got padding={padding!r}")
        pads, padding2 = (P, P), (0, P)
    conv_output_size(L, K, S, pads, d, layer=layer, dim="L", in_shape=x.shape)
    y = conv2d(
        x.unsqueeze(2), weight.unsqueeze(2), bias, (1, S), padding2, (1, d), groups, layer=layer
    )  # (N, FN, 1, L_out)
    return drop_batch(y.squeeze(2), added)
