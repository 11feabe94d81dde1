"""Which tinyconv function answers each PyTorch OpInfo: one line per operation.

The keys are OpInfo names of ``op_db`` ("name" or "name.variant"); the runner
(``opinfo_runner.py``) feeds each one's sample and error inputs to the function.
A new tinyconv function gets one line here; ``test_opinfo_parity.py`` fails when a
``tinyconv.functional`` function has an OpInfo (of the same name, any variant) without a
line here or in NOT_RUN.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from opinfo_runner import Op, backward, compare, to_tinyconv

import tinyconv
import tinyconv.functional as F


def _dropout(want: Any, got: Any, sample: Any, leaves: list, standard: Any) -> str | None:
    """Dropout's mask is random: check that y is 0 or x/(1-p) and the gradient uses y's mask."""
    p = sample.kwargs.get("p", 0.5)
    if not sample.kwargs.get("training", True) or p in (0.0, 1.0):
        return standard()
    x = sample.input.detach().numpy()
    y = got.numpy()
    kept = y != 0
    problem = compare("output", y, np.where(kept, x / np.float32(1 - p), 0).astype(x.dtype))
    if problem or not leaves:
        return problem
    upstream = np.random.default_rng(0).standard_normal(y.shape).astype(y.dtype)
    problem = backward([got], [upstream])
    want_grad = np.where(kept, upstream / np.float32(1 - p), 0).astype(y.dtype)
    return problem or compare("gradient", leaves[0][1].grad.numpy(), want_grad)


def _exact_reference(fn: Any, torch_fn: Any) -> Any:
    """A check for ops where torch's float32 rounding is the larger error: when the usual
    comparison fails, compare tinyconv (float32) with torch run in float64 on the same inputs
    (the exact answer), forward and gradients, at the same tolerances.

    (layer_norm over a single element: x - mean is exactly 0 and so are the gradients of x
    and weight; torch's float32 kernel leaves ~1e-5 of rounding in the weight's.)
    """

    def check(want: Any, got: Any, sample: Any, leaves: list, standard: Any) -> str | None:
        problem = standard()
        if problem is None:
            return None
        import torch

        def double(v: Any) -> Any:
            if isinstance(v, torch.Tensor) and v.dtype == torch.float32:
                return v.detach().double().requires_grad_(v.requires_grad)
            return v

        inputs = [double(sample.input)] + [double(a) for a in sample.args]
        kwargs = {k: double(v) for k, v in sample.kwargs.items()}
        want64 = torch_fn(*inputs, **kwargs)
        ours_leaves: list = []
        ours = fn(*to_tinyconv([sample.input, *sample.args], ours_leaves),
                  **to_tinyconv(sample.kwargs, ours_leaves))  # fmt: skip
        problem64 = compare("output (vs float64)", ours, want64.detach().float())
        if problem64:
            return f"{problem}; and vs torch in float64: {problem64}"
        upstream = np.random.default_rng(1).standard_normal(ours.shape).astype(np.float32)
        torch_leaves = [v for v in inputs + list(kwargs.values())
                        if isinstance(v, torch.Tensor) and v.requires_grad]  # fmt: skip
        grads = torch.autograd.grad(want64, torch_leaves, torch.from_numpy(upstream).double())
        failed = backward([ours], [upstream])
        if failed:
            return failed
        for k, ((_, leaf), g64) in enumerate(zip(ours_leaves, grads, strict=True)):
            problem64 = compare(f"gradient {k} (vs float64)", leaf.grad, g64.float())
            if problem64:
                return f"{problem}; and vs torch in float64: {problem64}"
        return None

    return check


def _torch_functional(name: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        import torch.nn.functional as TF

        return getattr(TF, name)(*args, **kwargs)

    return call


OPS: dict[str, Op] = {
    "nn.functional.conv1d": Op(F.conv1d),
    "nn.functional.conv2d": Op(F.conv2d),
    "nn.functional.conv_transpose2d": Op(F.conv_transpose2d),
    "nn.functional.max_pool1d": Op(F.max_pool1d),
    "nn.functional.max_pool2d": Op(F.max_pool2d),
    "nn.functional.max_unpool1d": Op(F.max_unpool1d),
    "nn.functional.max_unpool1d.grad": Op(F.max_unpool1d),
    "nn.functional.max_unpool2d": Op(F.max_unpool2d),
    "nn.functional.max_unpool2d.grad": Op(F.max_unpool2d),
    "nn.functional.avg_pool1d": Op(F.avg_pool1d),
    "nn.functional.avg_pool2d": Op(F.avg_pool2d),
    "nn.functional.adaptive_avg_pool2d": Op(F.adaptive_avg_pool2d),
    "nn.functional.relu": Op(F.relu),
    "nn.functional.leaky_relu": Op(F.leaky_relu),
    "nn.functional.relu6": Op(F.relu6),
    "nn.functional.hardtanh": Op(F.hardtanh),
    "nn.functional.hardsigmoid": Op(F.hardsigmoid),
    "nn.functional.hardswish": Op(F.hardswish),
    "nn.functional.silu": Op(F.silu),
    "nn.functional.gelu": Op(F.gelu),
    "nn.functional.elu": Op(F.elu),
    "nn.functional.selu": Op(F.selu),
    "nn.functional.mish": Op(F.mish),
    "nn.functional.prelu": Op(F.prelu),
    "sigmoid": Op(F.sigmoid),
    "tanh": Op(F.tanh),
    "nn.functional.softplus": Op(F.softplus),
    "nn.functional.logsigmoid": Op(F.logsigmoid),
    "softmax": Op(F.softmax),
    "softmax.with_dtype": Op(F.softmax),
    "log_softmax": Op(F.log_softmax),
    "log_softmax.with_dtype": Op(F.log_softmax),
    "nn.functional.dropout": Op(F.dropout, check=_dropout),
    "nn.functional.batch_norm": Op(F.batch_norm),
    "nn.functional.batch_norm.without_cudnn": Op(F.batch_norm),
    "nn.functional.local_response_norm": Op(F.local_response_norm),
    "nn.functional.layer_norm": Op(
        F.layer_norm, check=_exact_reference(F.layer_norm, _torch_functional("layer_norm"))
    ),
    "nn.functional.group_norm": Op(F.group_norm),
    "nn.functional.instance_norm": Op(F.instance_norm),
    "nn.functional.linear": Op(F.linear),
    "flatten": Op(tinyconv.Tensor.flatten),  # torch.flatten: from dim 0 (F.flatten is nn.Flatten's)
    "nn.functional.pad.constant": Op(F.pad),
    "nn.functional.pad.reflect": Op(F.pad),
    "nn.functional.pad.replicate": Op(F.pad),
    "nn.functional.pad.replicate_negative": Op(F.pad),
    "nn.functional.pad.circular": Op(F.pad),
    "nn.functional.interpolate.nearest": Op(F.interpolate),
    "nn.functional.interpolate.nearest-exact": Op(F.interpolate),
    "nn.functional.interpolate.linear": Op(F.interpolate),
    "nn.functional.interpolate.bilinear": Op(F.interpolate),
    "nn.functional.interpolate.trilinear": Op(F.interpolate),
    "nn.functional.interpolate.area": Op(F.interpolate),
    "nn.functional.interpolate.bicubic": Op(F.interpolate),
    "nn.functional.pixel_shuffle": Op(F.pixel_shuffle),
    "nn.functional.pixel_unshuffle": Op(F.pixel_unshuffle),
    "nn.functional.cross_entropy": Op(F.cross_entropy),
    "nn.functional.nll_loss": Op(F.nll_loss),
    "nn.functional.mse_loss": Op(F.mse_loss),
    "nn.functional.l1_loss": Op(F.l1_loss),
    "nn.functional.smooth_l1_loss": Op(F.smooth_l1_loss),
    "nn.functional.binary_cross_entropy": Op(F.binary_cross_entropy),
    "nn.functional.binary_cross_entropy_with_logits": Op(F.binary_cross_entropy_with_logits),
    "cat": Op(tinyconv.cat),
    "stack": Op(tinyconv.stack),
}

# Samples tinyconv refuses on purpose or for now: (OpInfo key, part of tinyconv's message, why).
# Each must refuse at least one sample (or it is stale) and be listed in the README's table of
# known differences; any other refusal fails test_opinfo_parity.
KNOWN_DIFFERENCES: list[tuple[str, str, str]] = []

# OpInfos named like a tinyconv.functional function that the table does not run, and why
NOT_RUN: dict[str, str] = {
    "nn.functional.silu.complex": "complex inputs: tinyconv computes in real floating point only",
}
