"""Transposed and grouped convolutions on the shapes of the zoo and the examples: tinyconv
(numba), tinyconv (numpy) and PyTorch side by side in one process, forward and forward +
backward (dx, dW, db), per shape.

    python bench/conv_shapes.py --threads 2
    python bench/conv_shapes.py --threads 1 --steps 40
    python bench/conv_shapes.py --only transpose      # or: grouped
    python bench/conv_shapes.py --kernels numpy       # one kernel path only (numba, numpy, both)

The transposed shapes are the decoders' layers: ConvAutoencoder/ConvVAE (batch 128, the
examples' default), DCGANGenerator (batch 64), UNet's upsamplers (width 16, 64x64 scenes,
batch 16) and FCN's bilinear upsamplers (11 classes, batch 16). No zoo model has a grouped
convolution that is not depthwise (depthwise has its own kernels): the grouped shapes are
the textbook ones, ResNeXt's 32-group 3x3, AlexNet's two-group 5x5 and ShuffleNet v1's
grouped 1x1.

Every system computes the same thing (the loss is sum(y * dy) for a fixed random dy, so the
backward pass receives dy); results are checked to agree before timing. ``--threads`` sets
the threads of PyTorch, tinyconv, Numba and BLAS alike. Rounds alternate between the systems
(``common.alternate``); the ratio is PyTorch's median / the system's: > 1 means faster.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (  # noqa: E402  (common sets the thread environment before NumPy loads)
    TORCH,
    alternate,
    kernel_paths,
    load_line,
    machine_line,
    print_table,
    set_threads,
    system_name,
    timings,
    under_kernels,
)

# isort: split
import numpy as np  # noqa: E402

# name, x shape, weight shape, keyword arguments (stride, padding, ...), bias
TRANSPOSE_SHAPES: list[tuple[str, tuple[int, ...], tuple[int, ...], dict[str, Any], bool]] = [
    (
        "autoencoder deconv1 4x4/2 7->14",
        (128, 64, 7, 7),
        (64, 32, 4, 4),
        {"stride": 2, "padding": 1},
        True,
    ),
    (
        "autoencoder deconv2 4x4/2 14->28",
        (128, 32, 14, 14),
        (32, 1, 4, 4),
        {"stride": 2, "padding": 1},
        True,
    ),
    (
        "dcgan deconv1 4x4/2 7->14",
        (64, 128, 7, 7),
        (128, 64, 4, 4),
        {"stride": 2, "padding": 1},
        False,
    ),
    (
        "dcgan deconv2 4x4/2 14->28",
        (64, 64, 14, 14),
        (64, 1, 4, 4),
        {"stride": 2, "padding": 1},
        True,
    ),
    ("unet up2 2x2/2 8->16", (16, 128, 8, 8), (128, 64, 2, 2), {"stride": 2}, True),
    ("unet up1 2x2/2 16->32", (16, 64, 16, 16), (64, 32, 2, 2), {"stride": 2}, True),
    ("unet up0 2x2/2 32->64", (16, 32, 32, 32), (32, 16, 2, 2), {"stride": 2}, True),
    ("fcn up 4x4/2 16->32", (16, 11, 16, 16), (11, 11, 4, 4), {"stride": 2, "padding": 1}, False),
    ("fcn up 4x4/2 32->64", (16, 11, 32, 32), (11, 11, 4, 4), {"stride": 2, "padding": 1}, False),
]
GROUPED_SHAPES: list[tuple[str, tuple[int, ...], tuple[int, ...], dict[str, Any], bool]] = [
    (
        "resnext 3x3 g32 128ch @28",
        (8, 128, 28, 28),
        (128, 4, 3, 3),
        {"padding": 1, "groups": 32},
        False,
    ),
    (
        "resnext 3x3/2 g32 256ch @28",
        (8, 256, 28, 28),
        (256, 8, 3, 3),
        {"stride": 2, "padding": 1, "groups": 32},
        False,
    ),
    (
        "alexnet 5x5 g2 96->256 @27",
        (8, 96, 27, 27),
        (256, 48, 5, 5),
        {"padding": 2, "groups": 2},
        True,
    ),
    ("shufflenet-v1 1x1 g8 240->240 @28", (8, 240, 28, 28), (240, 30, 1, 1), {"groups": 8}, False),
    (
        "grouped 3x3 g4 64ch @32",
        (32, 64, 32, 32),
        (64, 16, 3, 3),
        {"padding": 1, "groups": 4},
        True,
    ),
]


def conv_fns(
    kind: str, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, kw: dict[str, Any],
    dy: np.ndarray, backward: bool,
) -> tuple[Callable[[], Any], Callable[[], Any]]:  # fmt: skip
    """One call of the convolution (forward, or forward + backward of sum(y * dy)): tinyconv's
    and PyTorch's. Each returns the arrays computed (y, or dx, dW, db) for the agreement check."""
    import torch

    import tinyconv
    import tinyconv.functional as F

    tc_op = F.conv_transpose2d if kind == "transpose" else F.conv2d
    th_op = (
        torch.nn.functional.conv_transpose2d if kind == "transpose" else torch.nn.functional.conv2d
    )
    leaves = [x, w] if b is None else [x, w, b]
    tc_in = [tinyconv.tensor(a, requires_grad=backward) for a in leaves]
    th_in = [torch.tensor(a, requires_grad=backward) for a in leaves]
    dyc, dyt = tinyconv.tensor(dy), torch.from_numpy(dy)

    def tc() -> Any:
        args = tc_in if b is not None else [*tc_in, None]
        if not backward:
            return [tc_op(*args, **kw).numpy()]
        for a in tc_in:
            a.grad = None
        tc_op(*args, **kw).backward(dyc)
        return [a.grad.numpy() for a in tc_in]

    def th() -> Any:
        args = th_in if b is not None else [*th_in, None]
        if not backward:
            with torch.no_grad():
                return [th_op(*args, **kw).numpy()]
        for a in th_in:
            a.grad = None
        th_op(*args, **kw).backward(dyt)
        return [a.grad.numpy() for a in th_in]

    return tc, th


def out_shape(kind: str, x_shape: tuple[int, ...], w_shape: tuple[int, ...], kw: dict) -> tuple:
    import tinyconv
    import tinyconv.functional as F

    x = tinyconv.tensor(np.zeros((1, *x_shape[1:]), np.float32))
    w = tinyconv.tensor(np.zeros(w_shape, np.float32))
    op = F.conv_transpose2d if kind == "transpose" else F.conv2d
    return (x_shape[0], *op(x, w, None, **kw).shape[1:])


def shape_bench(paths: list[str], only: str, steps: int, warmup: int) -> list[dict[str, object]]:
    rng = np.random.default_rng(0)
    table = []
    if only in ("all", "transpose"):
        table += [("transpose", *s) for s in TRANSPOSE_SHAPES]
    if only in ("all", "grouped"):
        table += [("grouped", *s) for s in GROUPED_SHAPES]
    rows = []
    for kind, name, xs, ws, kw, bias in table:
        x = rng.standard_normal(xs, dtype=np.float32)
        w = (rng.standard_normal(ws, dtype=np.float32) * 0.1).astype(np.float32)
        bc = ws[1] * kw.get("groups", 1) if kind == "transpose" else ws[0]
        b = rng.standard_normal(bc, dtype=np.float32) if bias else None
        dy = rng.standard_normal(out_shape(kind, xs, ws, kw), dtype=np.float32)
        for backward in (False, True):
            fns = {}
            results = {}
            for path in paths:
                tc, th = conv_fns(kind, x, w, b, kw, dy, backward)
                fns[system_name(path)] = under_kernels(path, tc)
            fns[TORCH] = th
            for k, f in fns.items():
                results[k] = f()
            for k, r in results.items():  # every system computes the same arrays
                for a, ref in zip(r, results[TORCH], strict=True):
                    err = np.abs(a - ref).max() / max(np.abs(ref).max(), 1e-30)
                    if err > 1e-4:
                        raise SystemExit(f"{name}: {k} differs from PyTorch (max rel {err:.1e})")
            t = alternate(fns, steps, warmup)
            label = f"{name} {'fwd+bwd' if backward else 'fwd'}"
            rows.append({"name": label, "batch": xs[0], **timings(t)})
            print(f"  {label}: done", file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=20, help="timed calls per system and shape")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--kernels", default="both", choices=("both", "numba", "numpy"))
    p.add_argument("--only", default="all", choices=("all", "transpose", "grouped"))
    args = p.parse_args(argv)
    set_threads(args.threads)
    paths = kernel_paths(args.kernels)
    systems = [*(system_name(q) for q in paths), TORCH]
    print(load_line(), "(before)")
    rows = shape_bench(paths, args.only, args.steps, args.warmup)
    print(machine_line(args.threads))
    print_table(f"conv shapes, float32, {args.threads} thr", rows, systems)
    print(load_line(), "(after)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
