"""Softmax cross-entropy against labels, forward and backward in one pass over the logits.

The reference is ``tinyconv.ops.loss.classification.CrossEntropy``: log-softmax, the
coefficient matrix q (class weight at the true class times 1 - eps, plus eps/C times each
class weight for label smoothing eps, zero rows for ignored targets), loss_i =
-sum_c q_ic logp_ic, and the gradient sum(q_i) softmax(x_i) - q_i. Here each row is read
once: its maximum, the sum of exponentials, then loss_i and that gradient row together,
without storing logp or q. Backward only scales the stored gradient by d total / d loss_i.

Layout: rows (M, C) float32 or float64, C-contiguous; target (M,) int64, already checked
to lie in [0, C) or equal ignore_index; weight (C,) in the rows' dtype.
"""

from __future__ import annotations

import numpy as np

from ._jit import njit


@njit
def cross_entropy_kernel(rows, target, weight, ignore_index, smoothing, per_sample, grad):
    """per_sample (M,) <- loss_i; grad (M, C) <- d loss_i / d rows_i; returns sum_i w[y_i]."""
    M, C = rows.shape
    zero = 0.0  # sums in float64 (rounded once to the rows' dtype when stored)
    eps_c = smoothing / C
    keep = 1.0 - smoothing
    denom = zero
    for i in range(M):
        t = target[i]
        valid = t != ignore_index
        mx = rows[i, 0]  # subtracted first: exp never overflows
        for c in range(1, C):
            mx = max(mx, rows[i, c])
        s = zero
        for c in range(C):
            s += np.exp(rows[i, c] - mx)
        log_s = np.log(s)
        w_y = weight[t] if valid else zero
        denom += w_y
        loss = zero
        q_sum = zero
        for c in range(C):
            q = eps_c * weight[c] if valid else zero
            if c == t:
                q += keep * w_y
            logp = (rows[i, c] - mx) - log_s
            loss -= q * logp
            q_sum += q
            grad[i, c] = -q
        for c in range(C):
            grad[i, c] += q_sum * np.exp((rows[i, c] - mx) - log_s)  # sum(q) softmax - q
        per_sample[i] = loss
    return denom


def cross_entropy(
    rows: np.ndarray, target: np.ndarray, weight: np.ndarray | None, ignore_index: int,
    smoothing: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(loss per row (M,), gradient (M, C) of each row's loss, sum_i w[y_i] as a 0-d array)."""
    rows = np.ascontiguousarray(rows)
    M, C = rows.shape
    w = np.ones(C, rows.dtype) if weight is None else np.ascontiguousarray(weight, rows.dtype)
    per_sample = np.empty(M, rows.dtype)
    grad = np.empty((M, C), rows.dtype)
    t = np.ascontiguousarray(target, dtype=np.int64)
    denom = cross_entropy_kernel(rows, t, w, int(ignore_index), float(smoothing), per_sample, grad)
    return per_sample, grad, np.asarray(denom, dtype=rows.dtype)
