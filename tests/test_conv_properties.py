"""Property-based: random conv2d / conv_transpose2d configurations against PyTorch (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
import torch.nn.functional as TF
from helpers import check_vs_torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tinyconv
import tinyconv.functional as F
from tinyconv.ops.conv import conv_output_size

F32 = {"atol": 5e-5, "rtol": 1e-4}


@st.composite
def conv_configs(draw: st.DrawFn) -> dict:
    """A valid conv2d configuration with tiny tensors: every hyper-parameter drawn per axis."""
    groups = draw(st.integers(1, 3))
    C = groups * draw(st.integers(1, 2))
    FN = groups * draw(st.integers(1, 2))
    F_ = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    d = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    S = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    same = S == (1, 1) and draw(st.booleans())
    if same:
        padding = draw(st.sampled_from(["same", "valid"]))
        P = (0, 0)
    else:
        P = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
        padding = P if P[0] != P[1] or draw(st.booleans()) else P[0]
    # the smallest input the (dilated) kernel fits in, plus 0..5
    H, W = (max(1, d[k] * (F_[k] - 1) + 1 - 2 * P[k]) + draw(st.integers(0, 5)) for k in (0, 1))
    return dict(
        shape=(draw(st.integers(1, 2)), C, H, W), weight=(FN, C // groups, *F_),
        bias=draw(st.booleans()), kw=dict(stride=S, padding=padding, dilation=d, groups=groups),
        seed=draw(st.integers(0, 2**16)),
    )  # fmt: skip


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@settings(max_examples=200, deadline=None)
@given(conv_configs())
def test_random_conv2d_matches_torch(cfg):
    rng = np.random.default_rng(cfg["seed"])
    arrays = [rng.standard_normal(cfg["shape"]), rng.standard_normal(cfg["weight"])]
    if cfg["bias"]:
        arrays.append(rng.standard_normal(cfg["weight"][0]))
    kw = cfg["kw"]
    check_vs_torch(lambda *t: F.conv2d(*t, **kw), lambda *t: TF.conv2d(*t, **kw), arrays, **F32)
    # and the size formula agrees with the shape both produced
    if not isinstance(kw["padding"], str):
        P = kw["padding"] if isinstance(kw["padding"], tuple) else (kw["padding"],) * 2
        H_out = conv_output_size(
            cfg["shape"][2], cfg["weight"][2], kw["stride"][0], P[0], kw["dilation"][0]
        )
        out = F.conv2d(*[tinyconv.tensor(a.astype(np.float32)) for a in arrays[:2]], **kw)
        assert out.shape[2] == H_out


@st.composite
def transpose_configs(draw: st.DrawFn) -> dict:
    groups = draw(st.integers(1, 2))
    C_in, C_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    F_ = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    S = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    op = tuple(draw(st.integers(0, max(S[k], d[k]) - 1)) for k in (0, 1))
    H, W = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    # padding may crop at most what leaves one output row/column
    P = tuple(
        draw(st.integers(0, max(0, ((size - 1) * S[k] + d[k] * (F_[k] - 1) + op[k]) // 2)))
        for k, size in enumerate((H, W))
    )
    return dict(
        shape=(draw(st.integers(1, 2)), C_in, H, W), weight=(C_in, C_out // groups, *F_),
        kw=dict(stride=S, padding=P, output_padding=op, groups=groups, dilation=d),
        seed=draw(st.integers(0, 2**16)),
    )  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(transpose_configs())
def test_random_conv_transpose2d_matches_torch(cfg):
    rng = np.random.default_rng(cfg["seed"])
    arrays = [
        rng.standard_normal(cfg["shape"]),
        rng.standard_normal(cfg["weight"]),
        rng.standard_normal(cfg["weight"][1] * cfg["kw"]["groups"]),
    ]
    kw = cfg["kw"]
    check_vs_torch(
        lambda *t: F.conv_transpose2d(*t, **kw),
        lambda *t: TF.conv_transpose2d(*t, **kw),
        arrays,
        **F32,
    )
