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
from opinfo_runner import Op, backward, compare

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
    "nn.functional.linear": Op(F.linear),
    "flatten": Op(tinyconv.Tensor.flatten),  # torch.flatten: from dim 0 (F.flatten is nn.Flatten's)
    "nn.functional.pad.constant": Op(F.pad),
    "nn.functional.pad.reflect": Op(F.pad),
    "nn.functional.pad.replicate": Op(F.pad),
    "nn.functional.pad.replicate_negative": Op(F.pad),
    "nn.functional.pad.circular": Op(F.pad),
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
NOT_RUN: dict[str, str] = {}
