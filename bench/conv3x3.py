"""DeepConvNet's 3x3 convolutions one by one: the compiled direct kernels, the NumPy reference
and PyTorch, forward, dx and dW, side by side in one process.

    python bench/conv3x3.py --threads 1
    python bench/conv3x3.py --threads 2 --clock wall

Each (layer, system) is timed in alternating rounds (every round runs every system once), and
the table gives the minimum over the rounds. ``--clock cpu`` (the default) reads the process's
CPU time: on a machine shared with other jobs a preempted run is then not charged for the
time others ran, which wall-clock minima still are when the machine is busy. At one thread
the two clocks agree on a quiet machine; at more threads CPU time adds the threads up.
Batch 100, float32, the layers' shapes as in DeepConvNet on 28x28 MNIST.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))

from common import load_line, machine_line, set_threads, threads_from_argv  # noqa: E402

# (C, FN, H, padding): the six convolutions of DeepConvNet
LAYERS = [(1, 16, 28, 1), (16, 16, 28, 1), (16, 32, 14, 1), (32, 32, 14, 2), (32, 64, 8, 1),
          (64, 64, 8, 1)]  # fmt: skip


def _systems(x: Any, W: Any, b: Any, dy: Any, P: int, clock: Any) -> dict[str, Any]:
    """The three systems for one layer, each a function returning (forward, dx, dW) seconds."""
    import torch  # noqa: PLC0415

    import tinyconv.kernels as K  # noqa: PLC0415
    from tinyconv.kernels import conv3x3  # noqa: PLC0415
    from tinyconv.ops.conv import Conv2d  # noqa: PLC0415

    pads = (P,) * 4
    xt, Wt, bt, dyt = (torch.from_numpy(a) for a in (x, W, b, dy))

    def direct() -> tuple[float, ...]:
        t0 = clock()
        _, xs = conv3x3.conv_forward(x, W, b, pads, (1, 1))
        t1 = clock()
        conv3x3.conv_data_grad(dy, W, pads, (1, 1))
        t2 = clock()
        conv3x3.conv_weight_grad(xs, x.shape, dy, W.shape, pads, (1, 1))
        return t1 - t0, t2 - t1, clock() - t2

    def reference() -> tuple[float, ...]:
        with K.using("numpy"):
            f = Conv2d()
            f.needs_input_grad = (True, True, True)
            t0 = clock()
            f.forward(x, W, b, stride=(1, 1), pads=pads, dilation=(1, 1), groups=1)
            t1 = clock()
            f.needs_input_grad = (True, False, False)
            f.backward(dy)
            t2 = clock()
            f.needs_input_grad = (False, True, False)
            f.backward(dy)
            return t1 - t0, t2 - t1, clock() - t2

    def pytorch() -> tuple[float, ...]:
        grads = torch.ops.aten.convolution_backward
        args_ = ((1, 1), (P, P), (1, 1), False, (0, 0), 1)
        t0 = clock()
        torch.nn.functional.conv2d(xt, Wt, bt, padding=P)
        t1 = clock()
        grads(dyt, xt, Wt, None, *args_, (True, False, False))
        t2 = clock()
        grads(dyt, xt, Wt, None, *args_, (False, True, False))
        return t1 - t0, t2 - t1, clock() - t2

    return {"direct (numba)": direct, "reference (numpy)": reference, "PyTorch": pytorch}


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--threads", type=int, default=threads_from_argv(sys.argv) or 1)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    args = ap.parse_args()
    set_threads(args.threads)
    import numpy as np  # noqa: PLC0415

    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    print(machine_line(args.threads))
    print(load_line())
    rng = np.random.default_rng(0)
    N = args.batch
    totals: dict[str, np.ndarray] = {}
    print(f"{'layer':<22} {'system':<18} {'forward':>9} {'dx':>9} {'dW':>9}   (ms, min)")
    for C, FN, H, P in LAYERS:
        x = rng.standard_normal((N, C, H, H)).astype(np.float32)
        W = rng.standard_normal((FN, C, 3, 3)).astype(np.float32)
        b = rng.standard_normal(FN).astype(np.float32)
        oh = H + 2 * P - 2
        dy = rng.standard_normal((N, FN, oh, oh)).astype(np.float32)
        systems = _systems(x, W, b, dy, P, clock)
        runs: dict[str, list] = {k: [] for k in systems}
        for _ in range(args.rounds + 1):  # the first round warms up (and compiles)
            for k, fn in systems.items():
                runs[k].append(fn())
        for k in systems:
            best = 1000 * np.min(np.array(runs[k][1:]), axis=0)
            totals[k] = totals.get(k, 0) + best
            layer = f"{C}->{FN} @{H} P={P}"
            print(f"{layer:<22} {k:<18} {best[0]:9.2f} {best[1]:9.2f} {best[2]:9.2f}")
    print(f"{'all six':<22} {'':<18} {'forward':>9} {'dx':>9} {'dW':>9} {'sum':>9}")
    for k, v in totals.items():
        print(f"{'':<22} {k:<18} {v[0]:9.2f} {v[1]:9.2f} {v[2]:9.2f} {v.sum():9.2f}")
    print(f"batch {N}, float32, {args.threads} thread(s), {args.clock} clock")
    print("after: " + load_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
