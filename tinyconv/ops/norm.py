"""Batch normalisation and local response normalisation (AlexNet's LRN).

Batch norm normalises each channel with the batch's mean and variance while training and
with running estimates at evaluation (Ioffe & Szegedy, 2015). Its backward is the closed
form for dx rather than a chain of small ops. LRN divides each activation by a power of
the summed squares of its neighbouring channels (Krizhevsky et al., 2012), with PyTorch's
exact scaling (alpha / size) and window placement.
"""

from __future__ import annotations

from typing import Any

from ..backend import get_array_module
from ..cast_policy import FP32
from ..dtypes import is_floating
from ..tensor import Function, Tensor, is_grad_enabled
from .parallel import for_chunks


# ------------------------------------------------------------------ batch norm
def norm_affine(
    dtype: Any, weight: Any, bias: Any, mean: Any, var: Any, eps: float
) -> tuple[Any, Any]:
    """Batch norm with given statistics as y = x * a + c per channel: (a, c), (C,) in ``dtype``.

    a = weight / sqrt(var + eps), c = bias - mean * a (weight 1 and bias 0 when None).
    ``BatchNorm`` computes exactly this when no backward follows (inference: the running
    statistics), and the fused Conv2d -> BatchNorm2d of ``nn/fusion.py`` applies the same
    (a, c) to the convolution's output, so both give the same bits.
    """
    xp = get_array_module(var)
    dt = xp.dtype(dtype)
    mean = mean.astype(dt, copy=False)
    inv_std = 1 / xp.sqrt(var.astype(dt, copy=False) + dt.type(eps))  # (C,)
    a = inv_std if weight is None else inv_std * weight
    c = -mean * a if bias is None else bias - mean * a
    return a.astype(dt, copy=False), c.astype(dt, copy=False)


class BatchNorm(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, per channel (axis 1).

    x is (N, C) or (N, C, *); statistics run over every axis but 1, M values per channel.
    Training uses the batch mean and biased variance and, when running statistics are
    given, updates them in place: r = (1 - momentum) r + momentum s, with the unbiased
    variance (times M / (M - 1)) as PyTorch. Evaluation uses the running statistics.

    Backward with xhat = (x - mean) / std and g = dout * weight:
        train: dx = (M g - sum(g) - xhat sum(g xhat)) / (M std)
        eval:  dx = g / std
        dweight = sum(dout * xhat), dbias = sum(dout)

    Under autocast it runs in float32: batch statistics of 16-bit numbers would lose digits.
    """

    autocast_policy = FP32

    def forward(
        self,
        x: Any,
        weight: Any,
        bias: Any,
        running_mean: Any,
        running_var: Any,
        training: bool,
        momentum: float,
        eps: float,
    ) -> Any:
        xp = get_array_module(x)
        if x.size == 0:  # an empty batch: an empty result, running statistics untouched
            self.save_for_backward(weight, bias)
            self.empty = True
            return x.copy()
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)  # per-channel values broadcast over x
        if training and _channel_major(x):
            # after a convolution: every channel is one contiguous row, so one pass over a
            # chunk of channels does the statistics and the normalisation while in cache
            y, xhat, mean, var, inv_std = _train_forward_rows(x, weight, bias, eps)
            self.save_for_backward(xhat, inv_std, weight, training, axes, shape)
            self.rows = True
        elif training:
            mean = x.mean(axis=axes)  # (C,)
            var = x.var(axis=axes)  # (C,) biased: this is what normalises the batch
        if training:
            if running_mean is not None:
                update_running_stats(running_mean, running_var, mean, var, x, momentum)
            if getattr(self, "rows", False):
                return y
        else:
            mean = running_mean.astype(x.dtype, copy=False)
            var = running_var.astype(x.dtype, copy=False)
        inv_std = 1 / xp.sqrt(var + x.dtype.type(eps))  # (C,)

        def per_channel(v: Any) -> Any:  # (C,) -> broadcast to x's shape, a view
            return xp.broadcast_to(v.reshape(shape), x.shape)

        # y in x's memory layout, chunk by chunk on all threads (for_chunks); the (C,)
        # vectors are broadcast views, so any chunk of x indexes them too
        y = xp.empty_like(x)
        if not (is_grad_enabled() and any(self.needs_input_grad)):
            # no backward: y = x * a + c with a = weight/std, c = bias - mean * a (as PyTorch
            # does at inference), two passes instead of four and no xhat array
            a, c = norm_affine(x.dtype, weight, bias, mean, var, eps)
            a_x, c_x = per_channel(a), per_channel(c)

            def affine(i: tuple[slice, ...]) -> None:
                xp.multiply(x[i], a_x[i], out=y[i])
                y[i] += c_x[i]

            for_chunks(affine, y)
            return y
        xhat = xp.empty_like(y)
        mean_x, inv_x = per_channel(mean), per_channel(inv_std)
        w_x = None if weight is None else per_channel(weight)
        b_x = None if bias is None else per_channel(bias)

        def normalise(i: tuple[slice, ...]) -> None:
            xp.subtract(x[i], mean_x[i], out=xhat[i])
            xhat[i] *= inv_x[i]  # xhat = (x - mean) / std, kept for backward
            if w_x is None:
                y[i] = xhat[i]
            else:
                xp.multiply(xhat[i], w_x[i], out=y[i])
            if b_x is not None:
                y[i] += b_x[i]

        for_chunks(normalise, y)
        self.save_for_backward(xhat, inv_std, weight, training, axes, shape)
        return y

    def backward(self, dout: Any) -> tuple[Any, Any, Any]:
        if getattr(self, "empty", False):  # no values: every gradient is zero
            xp = get_array_module(dout)
            zeros = [None if t is None else xp.zeros_like(t) for t in self.saved]
            return dout.copy(), zeros[0], zeros[1]
        xhat, inv_std, weight, training, axes, shape = self.saved
        if getattr(self, "rows", False):
            return _train_backward_rows(dout, xhat, inv_std, weight, self.needs_input_grad)
        dx = dw = db = None
        if self.needs_input_grad[0]:
            g = dout if weight is None else dout * weight.reshape(shape)  # dL/dxhat
            if training:
                M = dout.dtype.type(dout.size // dout.shape[1])
                sum_g = g.sum(axis=axes).reshape(shape)
                sum_gx = (g * xhat).sum(axis=axes).reshape(shape)
                dx = (M * g - sum_g - xhat * sum_gx) * (inv_std.reshape(shape) / M)
            else:
                dx = g * inv_std.reshape(shape)
        if len(self.needs_input_grad) > 1 and self.needs_input_grad[1]:
            dw = (dout * xhat).sum(axis=axes)
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            db = dout.sum(axis=axes)
        return dx, dw, db


def update_running_stats(
    running_mean: Any, running_var: Any, mean: Any, var: Any, x: Any, momentum: float
) -> None:
    """r = (1 - momentum) r + momentum s in place, for the (C,) batch mean and biased
    variance of x (N, C, *); the variance enters unbiased, times M / (M - 1) with M values
    per channel (as PyTorch). Shared by ``BatchNorm`` and the fused ``BatchNormRelu``."""
    M = x.size // x.shape[1]
    unbiased = var * x.dtype.type(M / (M - 1))
    m = running_mean.dtype.type(momentum)
    running_mean[...] = (1 - m) * running_mean + m * mean
    running_var[...] = (1 - m) * running_var + m * unbiased


def _channel_major(x: Any) -> bool:
    """x (N, C, H, W) stored as compact (C, N, H, W): each channel one contiguous row."""
    return x.ndim == 4 and x.shape[0] > 1 and x.transpose(1, 0, 2, 3).flags.c_contiguous


def _train_forward_rows(x: Any, weight: Any, bias: Any, eps: float) -> tuple[Any, ...]:
    """Training batch norm of a channel-major x, a chunk of channels (rows) at a time.

    Per row: mean, d = x - mean, var = mean(d^2) (two passes, as x.var), xhat = d / std,
    y = xhat * weight + bias. Returns y and xhat as (N, C, H, W) views of (C, N, H, W)
    arrays, and the (C,) mean, biased variance and 1/std.
    """
    xp = get_array_module(x)
    C = x.shape[1]
    rows = x.transpose(1, 0, 2, 3).reshape(C, -1)  # (C, M), a view
    M = rows.shape[1]
    y, xhat = xp.empty_like(rows), xp.empty_like(rows)
    mean, var, inv_std = (xp.empty(C, dtype=x.dtype) for _ in range(3))
    one = x.dtype.type(1)

    def chunk(i: tuple[slice, ...]) -> None:
        r, d, out = rows[i], xhat[i], y[i]
        mean[i] = r.mean(axis=1)
        xp.subtract(r, mean[i][:, None], out=d)
        xp.square(d, out=out)  # scratch
        var[i] = out.mean(axis=1)
        inv_std[i] = one / xp.sqrt(var[i] + x.dtype.type(eps))
        d *= inv_std[i][:, None]  # xhat
        if weight is None:
            out[...] = d
        else:
            xp.multiply(d, weight[i][:, None], out=out)
        if bias is not None:
            out += bias[i][:, None]

    for_chunks(chunk, rows, axis=0)
    N, _, H, W = x.shape
    as_nchw = lambda a: a.reshape(C, N, H, W).transpose(1, 0, 2, 3)  # noqa: E731
    assert M == N * H * W
    return as_nchw(y), as_nchw(xhat), mean, var, inv_std


def _train_backward_rows(
    dout: Any, xhat: Any, inv_std: Any, weight: Any, needs: tuple[bool, ...]
) -> tuple[Any, Any, Any]:
    """Backward of ``_train_forward_rows``, a chunk of channels at a time.

    Per channel, with S = sum(dout) and Sx = sum(dout * xhat) over its M values:
    dbias = S, dweight = Sx, dx = weight / (M std) * (M dout - S - xhat Sx), which is the
    closed form of the BatchNorm docstring with g = dout * weight taken out.
    """
    xp = get_array_module(dout)
    N, C, H, W = dout.shape
    xh = xhat.transpose(1, 0, 2, 3).reshape(C, -1)  # (C, M), a view
    M = xh.shape[1]
    d = xp.ascontiguousarray(dout.transpose(1, 0, 2, 3)).reshape(C, M)  # free if channel-major
    need_dx = needs[0]
    dx = xp.empty_like(d) if need_dx else None
    S, Sx = xp.empty(C, dtype=dout.dtype), xp.empty(C, dtype=dout.dtype)
    coef = inv_std / dout.dtype.type(M) if weight is None else weight * inv_std / dout.dtype.type(M)

    def chunk(i: tuple[slice, ...]) -> None:
        di, xi = d[i], xh[i]
        tmp = di * xi
        S[i] = di.sum(axis=1)
        Sx[i] = tmp.sum(axis=1)
        if need_dx:
            out = dx[i]
            xp.multiply(di, dout.dtype.type(M), out=out)
            out -= S[i][:, None]
            xp.multiply(xi, Sx[i][:, None], out=tmp)
            out -= tmp
            out *= coef[i][:, None]

    for_chunks(chunk, d, axis=0)
    if need_dx:
        dx = dx.reshape(C, N, H, W).transpose(1, 0, 2, 3)
    dw = Sx if len(needs) > 1 and needs[1] else None
    db = S if len(needs) > 2 and needs[2] else None
    return dx, dw, db


def _data(t: Any) -> Any:
    return t.data if isinstance(t, Tensor) else t


def batch_norm(
    x: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
    *,
    layer: str = "batch_norm",
) -> Tensor:
    """Batch normalisation over axis 1 (``torch.nn.functional.batch_norm``).

    Args:
        x (Tensor): (N, C) or (N, C, *), floating point.
        running_mean (Tensor or None): (C,) estimates, updated in place when training.
        running_var (Tensor or None): (C,) estimates, updated with the unbiased batch variance.
        weight (Tensor, optional): gamma, (C,). Default: None (1).
        bias (Tensor, optional): beta, (C,). Default: None (0).
        training (bool): use batch statistics (and update the running ones). Default: False.
        momentum (float): weight of the new batch in the running average. Default: 0.1.
        eps (float): added to the variance. Default: 1e-5.

    Shape:
        Output has the input's shape. An empty batch (N = 0) gives an empty output and
        leaves the running statistics as they are (as PyTorch).

    Raises:
        ValueError: fewer than 2 dimensions, a channel count that does not match the
            statistics or parameters, one value per channel in training, or evaluation
            without running statistics.
        TypeError: a non-float input.

    Example:
        >>> import tinyconv
        >>> x = tinyconv.tensor([[1.0], [3.0]])
        >>> batch_norm(x, None, None, training=True).tolist()  # (x - 2) / sqrt(1 + 1e-5)
        [[-0.9999949932098389], [0.9999949932098389]]
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer}: expected a tinyconv Tensor, got {type(x).__name__}")
    if not is_floating(x.dtype):
        raise TypeError(f"{layer}: expected a floating-point input, got dtype {x.dtype}")
    if x.ndim < 2 and x.numel():  # (PyTorch takes an empty 1-D input: an empty result)
        raise ValueError(f"{layer}: expected an input (N, C) or (N, C, *), got shape {x.shape}")
    C = x.shape[1] if x.ndim >= 2 else 0
    for name, t in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        if t is not None and tuple(_data(t).shape) != (C,):
            raise ValueError(
                f"{layer}: {name} has shape {tuple(_data(t).shape)} but the input {x.shape} "
                f"has {C} channels (axis 1)"
            )
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{layer}: give both running_mean and running_var, or neither")
    if training and x.numel() and x.numel() == C:  # one value per channel (N = 0 is fine)
        raise ValueError(
            f"{layer}: expected more than 1 value per channel when training, got input {x.shape}"
        )
    if not training and running_mean is None:
        raise ValueError(f"{layer}: evaluation (training=False) needs running_mean and running_var")
    return BatchNorm.apply(
        x,
        weight,
        bias,
        running_mean=_data(running_mean),
        running_var=_data(running_var),
        training=bool(training),
        momentum=float(momentum),
        eps=float(eps),
    )


# ---------------------------------------------------------------------- LRN
def _channel_window_sum(a: Any, before: int, after: int) -> Any:
    """out[:, c] = sum of a[:, c - before .. c + after] (missing channels count as 0)."""
    xp = get_array_module(a)
    C = a.shape[1]
    pads = [(0, 0)] * a.ndim
    pads[1] = (before, after)
    a_pad = xp.pad(a, pads)  # (N, before + C + after, *)
    out = a_pad[:, 0:C].copy()
    for i in range(1, before + after + 1):
        out += a_pad[:, i : i + C]
    return out


class LocalResponseNorm(Function):
    """y_c = x_c / d_c^beta, d_c = k + alpha/size * sum_{c'} x_{c'}^2 over the window of c.

    The window of channel c is c - size//2 .. c + (size-1)//2 (PyTorch's placement).
    Backward: dx_j = dout_j d_j^-beta
                     - (2 alpha beta / size) x_j sum_{c: j in window(c)} dout_c x_c d_c^(-beta-1),
    and channel j lies in the windows of c = j - (size-1)//2 .. j + size//2.
    Under autocast it runs in float32 (a sum of squares).
    """

    autocast_policy = FP32

    def forward(self, x: Any, size: int, alpha: float, beta: float, k: float) -> Any:
        t = x.dtype.type
        d = t(k) + t(alpha / size) * _channel_window_sum(x * x, size // 2, (size - 1) // 2)
        y = x * d ** t(-beta)
        self.save_for_backward(x, d, y, size, alpha, beta)
        return y

    def backward(self, dout: Any) -> Any:
        x, d, y, size, alpha, beta = self.saved
        t = x.dtype.type
        s = _channel_window_sum(dout * y / d, (size - 1) // 2, size // 2)  # y/d = x d^(-beta-1)
        return dout * d ** t(-beta) - t(2 * alpha * beta / size) * x * s


def local_response_norm(
    x: Tensor,
    size: int,
    alpha: float = 1e-4,
    beta: float = 0.75,
    k: float = 1.0,
    *,
    layer: str | None = None,
) -> Tensor:
    """Local response normalisation across channels (``torch.nn.functional.local_response_norm``).

    b_c = a_c / (k + alpha/size * sum_{c'=c-size//2}^{c+(size-1)//2} a_{c'}^2)^beta

    Args:
        x (Tensor): (N, C, *) with at least 3 dimensions, floating point.
        size (int): number of neighbouring channels in the sum (AlexNet: 5).
        alpha (float): scale. Default: 1e-4.
        beta (float): exponent. Default: 0.75.
        k (float): additive constant (AlexNet: 2). Default: 1.

    Shape:
        Output has the input's shape.

    Example:
        >>> import tinyconv
        >>> x = tinyconv.tensor([[[2.0], [1.0]]])
        >>> local_response_norm(x, size=1, alpha=1.0, beta=1.0, k=0.0).tolist()  # x / x^2
        [[[0.5], [1.0]]]
    """
    layer = layer or f"local_response_norm(size={size})"
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"{layer}: size must be a positive int, got {size!r}")
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer}: expected a tinyconv Tensor, got {type(x).__name__}")
    if not is_floating(x.dtype):
        raise TypeError(f"{layer}: expected a floating-point input, got dtype {x.dtype}")
    if x.ndim < 3:
        raise ValueError(
            f"{layer}: expected an input (N, C, *) with 3 or more dimensions, got shape {x.shape}"
        )
    return LocalResponseNorm.apply(x, size=size, alpha=float(alpha), beta=float(beta), k=float(k))
