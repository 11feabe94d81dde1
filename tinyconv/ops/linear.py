"""Affine layer and flatten (padding moved to ``pad.py``; ``pad`` is re-exported here).

``linear`` is the from-scratch book's Affine layer with PyTorch's weight layout:
y = x W^T + b with W of shape (out_features, in_features).
"""

from __future__ import annotations

from typing import Any

from .. import kernels
from ..backend import get_array_module
from ..cast_policy import LOW
from ..dtypes import is_floating, sum32, to_compute
from ..tensor import Function, Tensor
from .pad import Pad, pad  # noqa: F401  (models import pad from here)
from .parallel import get_num_threads, run_blocks


class Linear(Function):
    """y = x @ W^T + b.  x (N, *, in), W (out, in), b (out,) -> (N, *, out).

    Large products are split into one slice per thread (``_matmul``): rows of y and dx,
    rows of dW, so no slice needs another's result. 16-bit inputs (float16, bfloat16) are
    multiplied in float32 and the results (with the bias added) rounded back to 16 bits once;
    under autocast the inputs become 16-bit first.
    """

    autocast_policy = LOW

    def forward(self, x: Any, W: Any, b: Any = None) -> Any:
        self.save_for_backward(x, W, b is not None)
        # One 2-D product over all leading axes: NumPy's stacked N-D matmul of a permuted
        # (non-contiguous) x, as in ConvNeXt's channels-last blocks, is ~50x slower than BLAS.
        x2 = x.reshape(-1, x.shape[-1])  # (N*, in)
        y = _matmul(x2, W.T).reshape(*x.shape[:-1], W.shape[0])  # (N, *, out), f32 for 16-bit
        if b is not None:
            y += b
        return y.astype(x.dtype, copy=False)

    def backward(self, dout: Any) -> tuple[Any, Any, Any]:
        x, W, has_b = self.saved
        dx = dW = db = None
        if self.needs_input_grad[0]:
            dx = _product(dout.reshape(-1, dout.shape[-1]), W).reshape(x.shape)  # (N, *, in)
            dx = dx.astype(x.dtype, copy=False)
        if self.needs_input_grad[1]:
            x2 = x.reshape(-1, x.shape[-1])  # (N*, in)
            dW = _product(dout.reshape(-1, dout.shape[-1]).T, x2)  # (out, in)
            dW = dW.astype(W.dtype, copy=False)
        if has_b and self.needs_input_grad[2]:
            db = sum32(dout.reshape(-1, dout.shape[-1]), axis=0)
        return dx, dW, db


def _product(a: Any, b: Any) -> Any:
    """a @ b: on the compiled tiles (``kernels/matmul.py``) when the kernels are on and take
    these operands (float32, b row-major with whole tiles), else ``_matmul``."""
    if kernels.enabled():
        from ..kernels import matmul  # noqa: PLC0415  (numba)

        if matmul.supported(a, b):
            return matmul.matmul(a, b)
    return _matmul(a, b)


PARALLEL_FLOPS = 1 << 22  # below this a product is not worth splitting across threads


def _matmul(a: Any, b: Any) -> Any:
    """a @ b, with the rows of the result split among the threads when the product is large.

    a (M, K) @ b (K, P) -> (M, P): thread t multiplies rows [t*M/T, (t+1)*M/T) of a (each
    row of the result is computed exactly as in one big product). Other shapes, and small
    products, go to ``@`` directly. 16-bit operands are converted to float32 first (NumPy has
    no fast 16-bit product), and the result stays float32: the caller rounds it.
    """
    xp = get_array_module(a)
    a, b = to_compute(a), to_compute(b)
    M, K = a.shape[-2:]
    P = b.shape[-1]
    T = get_num_threads()
    small = 2 * M * K * P < PARALLEL_FLOPS or M < 2 * T
    if xp.__name__ != "numpy" or a.ndim != 2 or b.ndim != 2 or T == 1 or small:
        return a @ b
    out = xp.empty((M, P), dtype=xp.result_type(a, b))
    step = -(-M // T)  # ceil(M / T) rows per thread

    def rows(worker: int, k: int) -> None:
        xp.matmul(a[k * step : (k + 1) * step], b, out=out[k * step : (k + 1) * step])

    run_blocks(rows, -(-M // step))
    return out


def linear(
    x: Tensor, weight: Tensor, bias: Tensor | None = None, *, layer: str = "linear"
) -> Tensor:
    """Affine map ``y = x W^T + b`` (``torch.nn.functional.linear``).

    Args:
        x: (N, *, in_features), or one sample (in_features,) giving (out_features,).
        weight: (out_features, in_features).
        bias: (out_features,) or None.

    Raises:
        ValueError: when x's last dimension is not ``in_features``.

    Example:
        >>> import numpy, tinyconv
        >>> w = tinyconv.tensor(numpy.ones((2, 3)))
        >>> linear(tinyconv.tensor([1.0, 2.0, 3.0]), w).tolist()
        [6.0, 6.0]
    """
    if not isinstance(x, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"{layer}: expected tinyconv Tensors as input and weight")
    if weight.ndim != 2:
        raise ValueError(f"{layer}: expected a 2-D weight (out, in), got shape {weight.shape}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(
            f"{layer}: expected a bias of shape ({weight.shape[0]},), got {tuple(bias.shape)}"
        )
    if x.ndim == 1 and x.shape[0] == weight.shape[1]:  # one sample: (in,) -> (out,)
        _check_float(x, layer)
        return Linear.apply(x.unsqueeze(0), weight, bias).squeeze(0)
    if x.ndim < 1 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"{layer}: expected input (N, {weight.shape[1]}) with {weight.shape[1]} features "
            f"in the last dimension, got {x.shape}"
            + ("; flatten the feature maps first (nn.Flatten)" if x.ndim > 2 else "")
        )
    _check_float(x, layer)
    return Linear.apply(x, weight, bias)


def flatten(x: Tensor, start_dim: int = 1, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim..end_dim`` into one: (N, C, H, W) -> (N, C*H*W)."""
    return x.flatten(start_dim, end_dim)


def _check_float(x: Tensor, layer: str) -> None:
    if not is_floating(x.dtype):
        raise TypeError(
            f"{layer}: expected a floating-point input, got dtype {x.dtype}; "
            "convert images with x.astype('float32') / 255 first"
        )
