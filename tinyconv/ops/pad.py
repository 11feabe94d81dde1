"""Padding: ``pad`` with mode "constant", "reflect", "replicate" or "circular".

Constant padding writes x into a larger array filled with the value; its backward is the
slice of dout where x went. The other modes read every output position j of a padded axis
from one input position src(j), with p = j - before and n the axis length:

    reflect:   src = |p| mirrored at both ends without repeating the edge (pad < n)
    replicate: src = clip(p, 0, n - 1)
    circular:  src = p mod n (pad <= n); negative pads crop first, then the rest wraps

so the forward is a gather along each padded axis, and the backward sums dout back onto
the input positions it was read from (a product with the one-hot matrix of src, which
works on any array module). Negative pads crop, as in PyTorch.
"""

from __future__ import annotations

import numbers
from typing import Any

from ..backend import get_array_module
from ..tensor import Function, Tensor

MODES = ("constant", "reflect", "replicate", "circular")


class Pad(Function):
    """Constant padding; ``pads`` is per-axis (before, after). dx is the un-padded slice of dout."""

    def forward(self, x: Any, pads: tuple[tuple[int, int], ...], value: float) -> Any:
        xp = get_array_module(x)
        self.save_for_backward(x.shape, pads)
        return xp.pad(x, pads, mode="constant", constant_values=value)

    def backward(self, dout: Any) -> Any:
        shape, pads = self.saved
        index = tuple(slice(b, b + s) for (b, _), s in zip(pads, shape, strict=True))
        return dout[index]


def source_index(xp: Any, n: int, before: int, after: int, mode: str) -> Any:
    """src(j) for the n + before + after output positions of one axis (see the module doc)."""
    p = xp.arange(-before, n + after)
    if mode == "replicate":
        return xp.clip(p, 0, n - 1)
    if mode == "circular":  # crop first, then wrap around what is left (as PyTorch)
        start, kept = max(-before, 0), n + min(before, 0) + min(after, 0)
        return start + (xp.arange(-max(before, 0), kept + max(after, 0)) % kept)
    if n == 1:
        return xp.zeros_like(p)
    period = 2 * (n - 1)  # reflect: ... 2 1 [0 1 2 ... n-1] n-2 ...
    q = p % period
    return xp.where(q < n, q, period - q)


class IndexPad(Function):
    """y = x gathered along each axis a by src_a (reflect, replicate, circular).

    ``pads`` holds (axis, before, after) per padded axis. Backward: for each axis in
    reverse, dx = dout summed onto the input positions, dout . onehot(src) (out -> in).
    """

    def forward(self, x: Any, pads: tuple[tuple[int, int, int], ...], mode: str) -> Any:
        xp = get_array_module(x)
        indices = []
        y = x
        for axis, before, after in pads:
            src = source_index(xp, y.shape[axis], before, after, mode)
            indices.append((axis, src, y.shape[axis]))
            y = xp.take(y, src, axis=axis)
        self.save_for_backward(indices)
        return y

    def backward(self, dout: Any) -> Any:
        (indices,) = self.saved
        xp = get_array_module(dout)
        dx = dout
        for axis, src, n in reversed(indices):
            onehot = (src[:, None] == xp.arange(n)[None, :]).astype(dout.dtype)  # (out, in)
            dx = xp.moveaxis(xp.tensordot(dx, onehot, axes=([axis], [0])), -1, axis)
        return xp.ascontiguousarray(dx)


# ------------------------------------------------------------------ functional
def pad(x: Tensor, pad: Any, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last dimensions (``torch.nn.functional.pad``).

    ``pad`` lists (left, right) for the last dimension first, then (top, bottom), ...:
    ``pad(x, (1, 1, 2, 2))`` adds one column each side and two rows above and below.
    Negative values crop.

    Args:
        x (Tensor): any shape for "constant"; for the other modes, padding k = len(pad)/2
            dimensions (1, 2 or 3) needs a (k+1)-D or (k+2)-D input, (C, W) or (N, C, W) for k=1.
        pad (sequence of int): an even number of sizes, at most 2 per dimension of x.
        mode (str): "constant" (``value``), "reflect" (mirror, not repeating the edge;
            each pad < that dimension), "replicate" (repeat the edge) or "circular"
            (wrap around; each pad <= that dimension). Default: "constant".
        value (float): the fill of "constant"; None means 0. Default: None.

    Shape:
        each padded dimension D -> D + before + after (which must stay >= 1 for the
        non-constant modes).

    Raises:
        TypeError: pad sizes that are not ints.
        ValueError: an unknown mode, an odd or too long ``pad``, a value with a
            non-constant mode, an input of the wrong rank, or pads too large for the mode.

    Example:
        >>> import tinyconv
        >>> x = tinyconv.tensor([[[1.0, 2.0, 3.0]]])
        >>> pad(x, (2, 1), mode="reflect").tolist()
        [[[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]]
        >>> pad(x, (1, 1), mode="circular").tolist()
        [[[3.0, 1.0, 2.0, 3.0, 1.0]]]
    """
    if mode not in MODES:
        raise ValueError(f"pad: mode must be one of {', '.join(MODES)}, got mode={mode!r}")
    sizes = tuple(pad)
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise TypeError(f"pad: expected int pad sizes, got pad={sizes!r}")
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) % 2 or len(sizes) // 2 > x.ndim:
        raise ValueError(f"pad: expected pairs for at most {x.ndim} dimensions, got pad={sizes}")
    if mode != "constant":
        return _index_pad(x, sizes, mode, value)
    pads = [(0, 0)] * x.ndim
    for i in range(len(sizes) // 2):
        pads[x.ndim - 1 - i] = (sizes[2 * i], sizes[2 * i + 1])
    if any(b < 0 or a < 0 for b, a in pads):
        crop = tuple(
            slice(max(-b, 0), s - max(-a, 0)) for (b, a), s in zip(pads, x.shape, strict=True)
        )
        x = x[crop]
        pads = [(max(b, 0), max(a, 0)) for b, a in pads]
    return Pad.apply(x, pads=tuple(pads), value=0.0 if value is None else value)


def _index_pad(x: Tensor, sizes: tuple[int, ...], mode: str, value: float | None) -> Tensor:
    if value is not None and value != 0:
        raise ValueError(f"pad: mode={mode!r} takes no value (only 'constant' does), got {value}")
    k = len(sizes) // 2
    if k not in (1, 2, 3) or x.ndim not in (k + 1, k + 2):
        raise ValueError(
            f"pad: mode={mode!r} pads the last 1, 2 or 3 dimensions of a 2-D or 3-D, 3-D or 4-D, "
            f"4-D or 5-D input (pad of 2, 4 or 6 sizes); got pad={sizes} ({k} dimensions) for "
            f"a {x.ndim}-D input of shape {x.shape}"
        )
    pads = []
    for i in range(k):
        axis = x.ndim - 1 - i
        n, before, after = x.shape[axis], sizes[2 * i], sizes[2 * i + 1]
        if n + before + after < 1:
            raise ValueError(
                f"pad: dimension {axis} of size {n} padded by ({before}, {after}) would have "
                f"size {n} + {before} + {after} = {n + before + after}; it must stay at least 1"
            )
        limit = {"reflect": n - 1, "circular": n}.get(mode)
        if limit is not None and max(before, after) > limit:
            rule = "less than" if mode == "reflect" else "at most"
            raise ValueError(
                f"pad: mode={mode!r} needs each pad {rule} the padded dimension; got "
                f"({before}, {after}) for dimension {axis} of size {n} in {x.shape}"
            )
        if mode == "circular" and n + min(before, 0) + min(after, 0) < 1:
            raise ValueError(
                f"pad: mode='circular' must keep at least one element after cropping; got "
                f"({before}, {after}) for dimension {axis} of size {n}"
            )
        pads.append((axis, before, after))
    return IndexPad.apply(x, pads=tuple(pads), mode=mode)
