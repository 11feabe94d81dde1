"""Losses, one file per family, each ``Function`` with its forward and backward side by side:

- ``classification.py``: cross-entropy from logits (fused log-softmax, gradient
  softmax - target) and the negative log-likelihood, with class weights, ``ignore_index``
  and label smoothing;
- ``binary.py``: binary cross-entropy from logits or from probabilities;
- ``regression.py``: mean squared error, L1 and smooth L1;
- ``_common.py``: the reductions ("mean", "sum", "none") and the checks they share.
"""

from ._common import REDUCTIONS
from .binary import BCE, BCEWithLogits, binary_cross_entropy, binary_cross_entropy_with_logits
from .classification import NLL, CrossEntropy, cross_entropy, nll_loss
from .regression import L1, MSE, SmoothL1, l1_loss, mse_loss, smooth_l1_loss

__all__ = [
    "BCE",
    "L1",
    "MSE",
    "NLL",
    "REDUCTIONS",
    "BCEWithLogits",
    "CrossEntropy",
    "SmoothL1",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "l1_loss",
    "mse_loss",
    "nll_loss",
    "smooth_l1_loss",
]
