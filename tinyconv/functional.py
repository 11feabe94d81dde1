"""Functional interface, shaped like ``torch.nn.functional``.

Every function here builds one or a few ``Function`` nodes from ``tinyconv/ops``; read the
op's file to see its forward and backward side by side.
"""

from .ops.activation import (
    leaky_relu,
    log_softmax,
    logsigmoid,
    relu,
    sigmoid,
    softmax,
    softplus,
    tanh,
)
from .ops.adaptive_pool import adaptive_avg_pool2d
from .ops.avg_pool import avg_pool2d
from .ops.conv import conv2d, conv_output_size, conv_transpose2d
from .ops.conv1d import conv1d
from .ops.dropout import dropout
from .ops.group_norm import group_norm, instance_norm
from .ops.hard_activations import hardsigmoid, hardswish, hardtanh, relu6
from .ops.interpolate import interpolate
from .ops.layer_norm import channel_layer_norm, layer_norm
from .ops.linear import flatten, linear
from .ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from .ops.norm import batch_norm, local_response_norm
from .ops.pad import pad
from .ops.pixel_shuffle import pixel_shuffle, pixel_unshuffle
from .ops.pool import max_pool2d, min_pool2d
from .ops.pool1d import avg_pool1d, max_pool1d
from .ops.prelu import prelu
from .ops.smooth_activations import elu, gelu, mish, selu, silu
from .ops.stochastic_depth import stochastic_depth
from .ops.unpool import max_unpool1d, max_unpool2d

__all__ = [
    "adaptive_avg_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "channel_layer_norm",
    "conv1d",
    "conv2d",
    "conv_output_size",
    "conv_transpose2d",
    "cross_entropy",
    "dropout",
    "elu",
    "flatten",
    "gelu",
    "group_norm",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "instance_norm",
    "interpolate",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "local_response_norm",
    "log_softmax",
    "logsigmoid",
    "max_pool1d",
    "max_pool2d",
    "max_unpool1d",
    "max_unpool2d",
    "min_pool2d",
    "mish",
    "mse_loss",
    "nll_loss",
    "pad",
    "pixel_shuffle",
    "pixel_unshuffle",
    "prelu",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softplus",
    "stochastic_depth",
    "tanh",
]
