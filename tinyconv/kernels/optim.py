"""Fused optimizer updates: Adam/AdamW, SGD and RMSprop, each one compiled pass per parameter.

The NumPy reference (``tinyconv/optim/adam.py``, ``sgd.py``, ``rmsprop.py``) updates a
parameter with a handful of whole-array passes (g - m, its scaling, g * g, the square root,
the division, ...), each reading and writing the full parameter. Here every element is
read once, updated through the same formulas in the same order, and written once.

Layout: every array is the flat 1-D view of one parameter and its state, all of one dtype
(float32 or float64), C-contiguous. Scalars arrive already in that dtype (``dtype.type(x)``),
so float32 arithmetic stays float32 exactly as in the reference; ``fastmath`` is off, so no
operation is reordered or contracted into an FMA and the results equal the reference's
(measured: bit for bit, tested at rel 1e-6). Serial loops: one parameter is too small for
threads to pay (a 434 K-parameter Adam step is ~0.2 ms on one core).

``update_adam(p, g, ...)`` etc. take the raw arrays; ``tinyconv.optim`` calls them when the
kernels are enabled and the arrays are NumPy float32/float64.
"""

from __future__ import annotations

import numpy as np

from ._jit import njit


@njit
def adam_kernel(p, g, m, v, v_max, step_size, bias2_sqrt, one_minus_b1, b2, one_minus_b2, eps,
                l2, decay, amsgrad):  # fmt: skip
    """One Adam/AdamW step in place; the reference is ``tinyconv.optim.Adam._update``.

    p, g, m, v (K,) one dtype; v_max (K,) or (0,) without amsgrad. decay = 1 - lr*wd for
    AdamW (1 otherwise), l2 = wd for Adam's L2 term (0 otherwise).
    """
    for k in range(p.shape[0]):
        w = p[k] * decay  # AdamW shrinks the weight first (decay = 1: unchanged)
        gk = g[k] + l2 * w  # L2 penalty (l2 = 0: unchanged)
        mk = m[k] + (gk - m[k]) * one_minus_b1  # m <- m + (1 - beta1)(g - m)
        vk = v[k] * b2 + (gk * gk) * one_minus_b2  # v <- beta2 v + (1 - beta2) g^2
        m[k] = mk
        v[k] = vk
        if amsgrad:
            vk = max(v_max[k], vk)
            v_max[k] = vk
        denom = np.sqrt(vk) / bias2_sqrt + eps
        p[k] = w - (mk / denom) * step_size


@njit
def sgd_kernel(p, g, buf, first, wd, momentum, one_minus_damp, nesterov, lr):
    """One SGD step in place; the reference is ``tinyconv.optim.SGD._update``.

    buf (K,) the momentum buffer, or (0,) without momentum; ``first``: the buffer is set
    to g (its first step) instead of updated.
    """
    has_buf = buf.shape[0] > 0
    for k in range(p.shape[0]):
        gk = g[k] + wd * p[k] if wd != 0 else g[k]
        if has_buf:
            b = gk if first else buf[k] * momentum + one_minus_damp * gk
            buf[k] = b
            gk = gk + momentum * b if nesterov else b
        p[k] = p[k] - lr * gk


@njit
def rmsprop_kernel(p, g, v, m, buf, wd, alpha, one_minus_alpha, eps, momentum, lr, centered):
    """One RMSprop step in place; the reference is ``tinyconv.optim.RMSprop._update``.

    v (K,) the square average; m (K,) the gradient average when centered, else (0,); buf
    (K,) the momentum buffer when momentum > 0, else (0,).
    """
    has_buf = buf.shape[0] > 0
    for k in range(p.shape[0]):
        gk = g[k] + wd * p[k] if wd != 0 else g[k]
        vk = v[k] * alpha + one_minus_alpha * (gk * gk)
        v[k] = vk
        if centered:
            mk = m[k] + one_minus_alpha * (gk - m[k])
            m[k] = mk
            avg = np.sqrt(vk - mk * mk) + eps
        else:
            avg = np.sqrt(vk) + eps
        if has_buf:
            b = buf[k] * momentum + gk / avg
            buf[k] = b
            p[k] = p[k] - lr * b
        else:
            p[k] = p[k] - lr * (gk / avg)
