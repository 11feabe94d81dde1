"""Which outputs of a sliding window read inside the input, for one tap (compiled helper).

Output o of a window with stride S reads input position o*S + off for a tap at offset off (the
tap's i*d minus the padding before the axis). The outputs whose read lands in [0, n) form one
range [lo, hi) of [0, n_out): the loops of im2col, col2im and pooling run over it and leave the
rest to the padding.
"""

from __future__ import annotations

from ._jit import njit


@njit(inline="always")
def tap_range(off: int, S: int, n: int, n_out: int) -> tuple[int, int]:
    """(lo, hi): the outputs o in [0, n_out) with 0 <= o*S + off < n (lo = ceil(-off / S))."""
    lo = min(max(-(off // S), 0), n_out)
    hi = min(max((n - 1 - off) // S + 1, lo), n_out)
    return lo, hi
