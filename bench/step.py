"""One training step (forward, loss, backward, Adam) of SimpleConvNet and DeepConvNet:
tinyconv on its Numba kernels, tinyconv on the NumPy reference and PyTorch, side by side in
one process, plus conv2d layer timings.

    python bench/step.py --threads 2        # batch 100, 30 timed steps per system
    python bench/step.py --threads 1 --steps 50
    python bench/step.py --kernels numpy    # one kernel path only (numba, numpy, both)

``--threads`` sets PyTorch's threads, tinyconv's threads, Numba's threads and NumPy's BLAS
threads alike (threadpoolctl, or the environment before NumPy is imported). The systems run
in alternating rounds of 5 steps (``common.alternate``), medians reported, each on its own
copy of the model (same initial weights). The ratio is PyTorch's time / the system's time:
> 1 means faster than PyTorch. On a shared machine look at the load lines printed before
and after, and repeat the run. The last table gives the process's CPU time per step (all
threads; its ratio is PyTorch's CPU time / the system's): the cost in core time, which other
jobs on the machine move much less than the wall clock (a thread that spins waiting for a
descheduled peer shows up there too).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

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
    torch_twin,
    under_kernels,
)

# isort: split
import numpy as np  # noqa: E402


def training_step_bench(
    name: str, batch: int, paths: list[str], steps: int, warmup: int
) -> dict[str, object]:
    """Median ms of one step per system, and the first step's losses (they must agree)."""
    import torch

    import tinyconv
    import tinyconv.functional as F
    from tinyconv import models, optim

    rng = np.random.default_rng(0)
    x = rng.random((batch, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    xc, yc = tinyconv.tensor(x), tinyconv.tensor(y)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    fns, losses = {}, {}
    twin = None
    for path in paths:
        tinyconv.manual_seed(0)
        model = models.get(name)
        twin = twin or torch_twin(model)  # same initial weights as every tinyconv copy
        opt = optim.Adam(model.parameters(), lr=1e-3)

        def step_tc(model=model, opt=opt) -> float:  # noqa: ANN001  (bind this copy)
            opt.zero_grad()
            loss = F.cross_entropy(model(xc), yc)
            loss.backward()
            opt.step()
            return float(loss.item())

        fn = under_kernels(path, step_tc)
        losses[system_name(path)] = fn()
        fns[system_name(path)] = fn
    opt_t = torch.optim.Adam(twin.parameters(), lr=1e-3)

    def step_torch() -> float:
        opt_t.zero_grad()
        loss = torch.nn.functional.cross_entropy(twin(xt), yt)
        loss.backward()
        opt_t.step()
        return float(loss.item())

    losses[TORCH] = step_torch()
    fns[TORCH] = step_torch
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    t = alternate({k: with_cpu_time(f, cpu[k]) for k, f in fns.items()}, steps, warmup)
    from tinyconv import nn

    return {
        "dropout": any(isinstance(m, nn.Dropout) for _, m in model.named_modules()),
        "name": f"{name} train step",
        "batch": batch,
        **timings(t),
        # the process's CPU time per step (all threads), median of the timed steps: what a
        # step costs in core time, much less moved by other jobs than the wall clock
        "cpu_ms": {k: 1000 * float(np.median(v[warmup:])) for k, v in cpu.items()},
        "losses": losses,
    }


def with_cpu_time(fn: Callable[[], object], out: list[float]) -> Callable[[], object]:
    """``fn``, appending the process CPU time (all threads) of each call to ``out``."""

    def run() -> object:
        t0 = time.process_time()
        r = fn()
        out.append(time.process_time() - t0)
        return r

    return run


CONV_SHAPES = [
    # (N, C, H, W), (FN, C, FH, FW), stride, padding
    ((100, 1, 28, 28), (30, 1, 5, 5), 1, 0),
    ((100, 16, 28, 28), (16, 16, 3, 3), 1, 1),
    ((100, 32, 14, 14), (32, 32, 3, 3), 1, 2),
    ((8, 64, 56, 56), (64, 64, 3, 3), 1, 1),
    ((8, 3, 224, 224), (64, 3, 7, 7), 2, 3),
]


def conv_steps(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, s: int, p: int
) -> tuple[Callable[[], None], Callable[[], None]]:
    """conv2d forward + backward (sum as the loss) of one shape: tinyconv's and PyTorch's."""
    import torch

    import tinyconv
    import tinyconv.functional as F

    xc, wc, bc = (tinyconv.tensor(a, requires_grad=True) for a in (x, w, b))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))

    def tc() -> None:
        for a in (xc, wc, bc):
            a.grad = None
        F.conv2d(xc, wc, bc, stride=s, padding=p).sum().backward()

    def th() -> None:
        for a in (xt, wt, bt):
            a.grad = None
        torch.nn.functional.conv2d(xt, wt, bt, stride=s, padding=p).sum().backward()

    return tc, th


def conv_bench(paths: list[str], steps: int, warmup: int) -> list[dict[str, object]]:
    """conv2d forward + backward (sum as the loss) per shape and system."""
    rng = np.random.default_rng(0)
    rows = []
    for xs, ws, s, p in CONV_SHAPES:
        x = rng.standard_normal(xs, dtype=np.float32)
        w = rng.standard_normal(ws, dtype=np.float32) * 0.1
        b = np.zeros(ws[0], np.float32)
        tc, th = conv_steps(x, w, b, s, p)
        fns = {system_name(path): under_kernels(path, tc) for path in paths}
        fns[TORCH] = th
        t = alternate(fns, steps, warmup)
        rows.append(
            {
                "name": f"{xs[1]}x{xs[2]}x{xs[3]} * {ws[0]}x{ws[2]}x{ws[3]} s{s} p{p}",
                "batch": xs[0],
                **timings(t),
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--steps", type=int, default=30, help="timed steps per system (median)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--models", default="simple_convnet,deep_convnet")
    ap.add_argument("--kernels", choices=("both", "numba", "numpy"), default="both")
    ap.add_argument("--no-layers", action="store_true", help="skip the conv2d layer timings")
    args = ap.parse_args()
    set_threads(args.threads)
    paths = kernel_paths(args.kernels)
    systems = [system_name(p) for p in paths] + [TORCH]
    print(machine_line(args.threads))
    print(
        f"dtype: float32 | batch: {args.batch} | input 1x28x28 | median of {args.steps} steps "
        f"per system in alternating rounds of 5 ({', '.join(systems)}), after {args.warmup} "
        "warm-up steps | ratio = PyTorch time / system time"
    )
    rows = []
    for name in args.models.split(","):
        r = training_step_bench(name, args.batch, paths, args.steps, args.warmup)
        rows.append(r)
        first = ", ".join(f"{k} {v:.6f}" for k, v in r["losses"].items())
        note = " (train-mode dropout: each system draws its own masks)" if r["dropout"] else ""
        print(f"  {name}: first-step loss {first}{note}", flush=True)
    print_table("training step (fwd+loss+bwd+Adam)", rows, systems)
    print_table("the same, fastest step (min)", rows, systems, key="ms_min")
    print_table("the same, CPU time (median)", rows, systems, key="cpu_ms")
    if not args.no_layers:
        print_table("conv2d fwd+bwd", conv_bench(paths, max(5, args.steps // 3), 2), systems)
    print(f"\nafter: {load_line()}")


if __name__ == "__main__":
    main()
