"""Max unpooling: the partial inverse of max pooling, from the indices it returned.

``max_pool2d(x, ..., return_indices=True)`` gives, for every output, the flat index
h*W + w of its maximum in its (H, W) plane. ``max_unpool2d(y, indices, ...)`` puts every
value of y back at that index of a zero (H_out, W_out) plane; everything else stays 0
(SegNet's decoder upsamples this way). Backward gathers: dy = dout[indices].

The default output size undoes the pooling's floor:

    H_out = (H_in - 1)*S - 2P + F     (W_out likewise)

and ``output_size`` may pick any size within a stride of it (as PyTorch), e.g. the size of
the pooling's input.
"""

from __future__ import annotations

from typing import Any

from ..backend import get_array_module
from ..dtypes import is_floating
from ..tensor import Function, Tensor
from .pool_size import _ints, _is_int
from .unbatched import add_batch, drop_batch

Pair = tuple[int, int]


class MaxUnpool(Function):
    """y[n, c].flat[indices[n, c, h, w]] = x[n, c, h, w] on zeros.  (N, C, H, W) -> (N, C, *out_hw).

    Each (n, c) plane owns out_h*out_w consecutive slots of the flat output, so the plane's
    offset plus its indices address y as one flat array. Two windows that picked the same
    maximum write the same value; backward reads dout at every index (a gather), so such
    an element's gradient reaches both.
    """

    def forward(self, x: Any, indices: Any, out_hw: Pair) -> Any:
        xp = get_array_module(x)
        N, C, H, W = x.shape
        plane = out_hw[0] * out_hw[1]
        offsets = xp.arange(N * C, dtype=xp.int64)[:, None] * plane  # (N*C, 1): each plane's start
        flat = indices.reshape(N * C, H * W) + offsets
        y = xp.zeros(N * C * plane, dtype=x.dtype)
        y[flat.reshape(-1)] = x.reshape(-1)
        self.save_for_backward(flat, x.shape)
        return y.reshape(N, C, *out_hw)

    def backward(self, dout: Any) -> tuple[Any, None]:
        flat, x_shape = self.saved
        return dout.reshape(-1)[flat.reshape(-1)].reshape(x_shape), None


def unpool_output_size(
    in_size: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    padding: tuple[int, ...],
    output_size: Any,
    layer: str,
) -> tuple[int, ...]:
    """The spatial output sizes: (in - 1)*S - 2P + F, or ``output_size`` checked against them.

    ``output_size`` holds the spatial sizes or the whole shape (N, C, *spatial); each size
    must lie strictly within one stride of the default (PyTorch's rule).
    """
    dims = len(kernel)
    default = tuple(
        (n - 1) * s - 2 * p + f for n, f, s, p in zip(in_size, kernel, stride, padding, strict=True)
    )
    if output_size is None:
        sizes = default
    else:
        given = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,)
        if len(given) == dims + 2:
            given = given[2:]
        if len(given) != dims or not all(_is_int(v) for v in given):
            raise TypeError(
                f"{layer}: output_size must hold {dims} or {dims + 2} ints (the spatial sizes "
                f"or the whole shape), got output_size={output_size!r}"
            )
        sizes = tuple(int(v) for v in given)
        for d, (size, base, s) in enumerate(zip(sizes, default, stride, strict=True)):
            if not base - s < size < base + s:
                raise ValueError(
                    f"{layer}: invalid output_size {sizes}: size {d} must lie between "
                    f"{base - s} and {base + s} (exclusive), around (in - 1)*S - 2P + F = "
                    f"({in_size[d]} - 1)*{s} - 2*{padding[d]} + {kernel[d]} = {base}"
                )
    for d, size in enumerate(sizes):
        if size < 1:
            raise ValueError(
                f"{layer}: output size {sizes} has a size below 1 in dimension {d}: "
                f"(in - 1)*S - 2P + F = ({in_size[d]} - 1)*{stride[d]} - 2*{padding[d]} + "
                f"{kernel[d]} = {default[d]}"
            )
    return sizes


def _check_unpool(x: Any, indices: Any, layer: str, dims: int) -> Any:
    """x (N, C, *spatial) or (C, *spatial), floating, and integer indices of its shape.

    Returns the indices as an array.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer}: expected a tinyconv Tensor, got {type(x).__name__}")
    if x.ndim not in (dims + 1, dims + 2):
        raise ValueError(
            f"{layer}: expected a {dims + 2}-D input (N, C, *spatial) or an unbatched "
            f"{dims + 1}-D one, got shape {x.shape}"
        )
    if not is_floating(x.dtype):
        raise TypeError(f"{layer}: expected a floating-point input, got dtype {x.dtype}")
    idx = indices.data if isinstance(indices, Tensor) else get_array_module(x.data).asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(
            f"{layer}: expected integer indices (from max_pool(..., return_indices=True)), "
            f"got dtype {idx.dtype}"
        )
    if tuple(idx.shape) != x.shape:
        raise ValueError(
            f"{layer}: expected indices of the input's shape {x.shape}, got {tuple(idx.shape)}"
        )
    return idx


def max_unpool_nd(
    x: Tensor,
    indices: Any,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    output_size: Any,
    layer: str,
    dims: int,
) -> Tensor:
    """max_unpool1d and max_unpool2d: check, then unpool a (N, C, 1, L) or (N, C, H, W) view."""
    kernel = _ints(kernel_size, "kernel_size", layer, (dims,))
    step = kernel if stride is None else _ints(stride, "stride", layer, (dims,))
    pad = _ints(padding, "padding", layer, (dims,))
    for name, value in (("kernel_size", kernel), ("stride", step)):
        if min(value) < 1:
            raise ValueError(f"{layer}: {name} must be >= 1, got {name}={value}")
    if min(pad) < 0:
        raise ValueError(f"{layer}: padding must be >= 0, got padding={pad}")
    idx = _check_unpool(x, indices, layer, dims)
    sizes = unpool_output_size(x.shape[-dims:], kernel, step, pad, output_size, layer)
    plane = 1
    for s in sizes:
        plane *= s
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= plane):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise ValueError(
            f"{layer}: index {bad} is outside the output plane of {sizes} ({plane} positions); "
            "were the indices made by a pooling with these kernel_size, stride and padding?"
        )
    x, added = add_batch(x, dims)
    idx = idx.reshape(x.shape)
    if dims == 1:  # (N, C, L) as (N, C, 1, L)
        y = MaxUnpool.apply(x.unsqueeze(2), idx[:, :, None], out_hw=(1, sizes[0])).squeeze(2)
    else:
        y = MaxUnpool.apply(x, idx, out_hw=sizes)
    return drop_batch(y, added)


def max_unpool2d(
    x: Tensor,
    indices: Any,
    kernel_size: int | Pair,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    output_size: Any = None,
    *,
    layer: str = "max_unpool2d",
) -> Tensor:
    """Partial inverse of ``max_pool2d`` (``torch.nn.functional.max_unpool2d``).

    Args:
        x (Tensor): pooled values (N, C, H, W) or (C, H, W).
        indices (Tensor or array): the flat indices ``max_pool2d(..., return_indices=True)``
            returned, of x's shape.
        kernel_size, stride, padding: those of the pooling (stride defaults to kernel_size).
        output_size (tuple, optional): (H_out, W_out) or (N, C, H_out, W_out), e.g. the
            pooling input's size, within a stride of the default. Default: None.

    Shape:
        (N, C, H, W) -> (N, C, H_out, W_out), H_out = (H - 1)*S - 2P + F (W_out likewise).

    Raises:
        ValueError: indices of another shape or outside the output, a bad output_size.
        TypeError: a non-float input or non-integer indices.

    Example:
        >>> import tinyconv
        >>> from tinyconv.ops.pool import max_pool2d
        >>> x = tinyconv.tensor([[[[1.0, 2.0], [4.0, 3.0]]]])
        >>> y, idx = max_pool2d(x, 2, return_indices=True)
        >>> max_unpool2d(y, idx, 2).tolist()
        [[[[0.0, 0.0], [4.0, 0.0]]]]
    """
    return max_unpool_nd(x, indices, kernel_size, stride, padding, output_size, layer, dims=2)


def max_unpool1d(
    x: Tensor,
    indices: Any,
    kernel_size: int | tuple[int],
    stride: int | tuple[int] | None = None,
    padding: int | tuple[int] = 0,
    output_size: Any = None,
    *,
    layer: str = "max_unpool1d",
) -> Tensor:
    """Partial inverse of ``max_pool1d``: (N, C, L) -> (N, C, (L - 1)*S - 2P + F).

    Arguments as ``max_unpool2d``, one size per argument.

    Example:
        >>> import tinyconv
        >>> max_unpool1d(tinyconv.tensor([[[5.0]]]), tinyconv.tensor([[[1]]]), 2).tolist()
        [[[0.0, 5.0]]]
    """
    return max_unpool_nd(x, indices, kernel_size, stride, padding, output_size, layer, dims=1)
