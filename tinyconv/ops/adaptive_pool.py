"""Adaptive average pooling: average to a fixed output size, whatever the input size.

Output cell i of an axis averages PyTorch's bin [floor(i*H/out), ceil((i+1)*H/out)) of the
input (``adaptive_bins``); bins overlap when out does not divide H. Averaging bins is a
linear map per plane, y = Ph x Pw^T with one averaging matrix per axis, so backward is
dx = Ph^T dout Pw. ``output_size=1`` is global average pooling (GoogLeNet, ResNet).
"""

from __future__ import annotations

from typing import Any

from ..backend import get_array_module
from ..tensor import Function, Tensor
from .pool_size import _is_int, check_pool_input
from .unbatched import add_batch, drop_batch

Pair = tuple[int, int]


def adaptive_bins(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's bins: output i averages input [floor(i*size/out), ceil((i+1)*size/out)).

    Example:
        >>> adaptive_bins(5, 3)
        [(0, 2), (1, 4), (3, 5)]
    """
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


def _bin_matrix(xp: Any, size: int, out: int, dtype: Any) -> Any:
    """(out, size) matrix whose row i averages the input positions of bin i."""
    P = xp.zeros((out, size), dtype=dtype)
    for i, (start, end) in enumerate(adaptive_bins(size, out)):
        P[i, start:end] = dtype.type(1.0 / (end - start))
    return P


def _bin_average(x: Any, Ph: Any, Pw: Any) -> Any:
    """Ph @ plane @ Pw^T for every (H, W) plane of x (N, C, H, W), as two 2-D products."""
    N, C, H, W = x.shape
    out_h, out_w = Ph.shape[0], Pw.shape[0]
    t = x.reshape(N * C * H, W) @ Pw.T  # (N*C*H, out_w)
    t = t.reshape(N * C, H, out_w).transpose(0, 2, 1).reshape(N * C * out_w, H)
    t = t @ Ph.T  # (N*C*out_w, out_h)
    return t.reshape(N, C, out_w, out_h).transpose(0, 1, 3, 2)  # (N, C, out_h, out_w)


class AdaptiveAvgPool(Function):
    """y = Ph x Pw^T per plane, Ph (out_h, H) and Pw (out_w, W) averaging each bin.

    The operation is linear, so backward is dx = Ph^T dout Pw.
    """

    def forward(self, x: Any, out_hw: Pair) -> Any:
        xp = get_array_module(x)
        Ph = _bin_matrix(xp, x.shape[2], out_hw[0], x.dtype)
        Pw = _bin_matrix(xp, x.shape[3], out_hw[1], x.dtype)
        self.save_for_backward(Ph, Pw)
        return xp.ascontiguousarray(_bin_average(x, Ph, Pw))

    def backward(self, dout: Any) -> Any:
        Ph, Pw = self.saved
        xp = get_array_module(dout)
        return xp.ascontiguousarray(_bin_average(dout, Ph.T, Pw.T))


def adaptive_output_size(in_shape: tuple[int, ...], output_size: Any, layer: str) -> Pair:
    """Resolve ``output_size`` (int, pair, None entries keep the input size) to (out_h, out_w)."""
    items = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    if len(items) != 2:
        raise TypeError(f"{layer}: output_size must be an int or a pair, got {output_size!r}")
    out = []
    for value, size in zip(items, in_shape[-2:], strict=True):
        if value is None:
            value = size
        if not _is_int(value):
            raise TypeError(
                f"{layer}: invalid type for argument `output_size`. Expected an int or a pair of "
                f"ints. Received output_size={output_size!r}."
            )
        if value < 0:  # (0 is an empty map, as in PyTorch)
            raise ValueError(
                f"{layer}: invalid value for argument `output_size`. Expected a non-negative "
                f"value. Received output_size={output_size!r}."
            )
        out.append(int(value))
    return out[0], out[1]


def adaptive_avg_pool2d(x: Tensor, output_size: int | Pair, *, layer: str | None = None) -> Tensor:
    """Average pooling to a fixed output size (``torch.nn.functional.adaptive_avg_pool2d``).

    Output cell i averages the input rows floor(i*H/out_h) .. ceil((i+1)*H/out_h) - 1 (and the
    same for columns), so bins may overlap when out does not divide H. ``output_size=1`` is
    global average pooling (GoogLeNet, ResNet).

    Args:
        x (Tensor): (N, C, H, W) or unbatched (C, H, W), floating point.
        output_size (int or (int, int)): (out_h, out_w); None in a pair keeps that input size.

    Shape:
        (N, C, H, W) -> (N, C, out_h, out_w); (C, H, W) -> (C, out_h, out_w).

    Example:
        >>> import tinyconv
        >>> x = tinyconv.tensor([[[[4.0, 2.0], [1.0, 3.0]]]])
        >>> adaptive_avg_pool2d(x, 1).tolist()
        [[[[2.5]]]]
    """
    layer = layer or f"adaptive_avg_pool2d(output_size={output_size})"
    check_pool_input(x, layer)
    out_hw = adaptive_output_size(x.shape, output_size, layer)
    x, added = add_batch(x, dims=2)
    return drop_batch(AdaptiveAvgPool.apply(x, out_hw=out_hw), added)
