"""One training step (forward, loss, backward, Adam) of SimpleConvNet and DeepConvNet,
tinyconv and PyTorch side by side in one process, plus conv2d layer timings.

    python bench/step.py                   # batch 100, all cores, 30 timed steps each
    python bench/step.py --threads 1 --steps 50

Prints images/s for both and the ratio tinyconv / PyTorch (> 1 means tinyconv is faster).
``--threads`` sets PyTorch's threads, tinyconv's threads and NumPy's BLAS threads alike. The
steps run in alternating rounds of 5 per system (``common.alternate``), medians reported;
on a shared machine repeat the run and look at ``uptime``.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import alternate, machine_line, median_ms, set_threads, torch_twin  # noqa: E402


def training_step_bench(name: str, batch: int, steps: int, warmup: int) -> tuple[float, float]:
    import torch

    import tinyconv
    import tinyconv.functional as F
    from tinyconv import models, optim

    tinyconv.manual_seed(0)
    model = models.get(name)
    twin = torch_twin(model)
    rng = np.random.default_rng(0)
    x = rng.random((batch, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    xc, yc = tinyconv.tensor(x), tinyconv.tensor(y)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    opt_t = torch.optim.Adam(twin.parameters(), lr=1e-3)

    def step_tc() -> None:
        opt.zero_grad()
        F.cross_entropy(model(xc), yc).backward()
        opt.step()

    def step_torch() -> None:
        opt_t.zero_grad()
        torch.nn.functional.cross_entropy(twin(xt), yt).backward()
        opt_t.step()

    t = alternate({"tinyconv": step_tc, "torch": step_torch}, steps, warmup)
    return median_ms(t["tinyconv"]), median_ms(t["torch"])


CONV_SHAPES = [
    # (N, C, H, W), (FN, C, FH, FW), stride, padding
    ((100, 1, 28, 28), (30, 1, 5, 5), 1, 0),
    ((100, 16, 28, 28), (16, 16, 3, 3), 1, 1),
    ((100, 32, 14, 14), (32, 32, 3, 3), 1, 2),
    ((8, 64, 56, 56), (64, 64, 3, 3), 1, 1),
    ((8, 3, 224, 224), (64, 3, 7, 7), 2, 3),
]


def conv_bench(steps: int, warmup: int) -> None:
    import torch

    import tinyconv
    import tinyconv.functional as F

    rng = np.random.default_rng(0)
    head = f"{'conv2d fwd+bwd: input, weight, stride, pad':<58}{'tinyconv':>10}{'torch':>10}"
    print(f"\n{head}{'ratio':>8}  (ratio = torch time / tinyconv time)")
    for xs, ws, s, p in CONV_SHAPES:
        x = rng.standard_normal(xs, dtype=np.float32)
        w = rng.standard_normal(ws, dtype=np.float32) * 0.1
        b = np.zeros(ws[0], np.float32)
        xc, wc, bc = (tinyconv.tensor(a, requires_grad=True) for a in (x, w, b))
        xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))

        def tc(xc=xc, wc=wc, bc=bc, s=s, p=p) -> None:  # noqa: ANN001  (bind this shape)
            F.conv2d(xc, wc, bc, stride=s, padding=p).sum().backward()

        def th(xt=xt, wt=wt, bt=bt, s=s, p=p) -> None:  # noqa: ANN001
            torch.nn.functional.conv2d(xt, wt, bt, stride=s, padding=p).sum().backward()

        t = alternate({"tc": tc, "th": th}, steps, warmup)
        a, c = median_ms(t["tc"]), median_ms(t["th"])
        print(
            f"{str(xs) + ' ' + str(ws) + f' s={s} p={p}':<58}{a:>8.2f}ms{c:>8.2f}ms{c / a:>7.2f}x"
        )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument(
        "--steps", type=int, default=30, help="timed steps per system (median reported)"
    )
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--models", default="simple_convnet,deep_convnet")
    ap.add_argument("--no-layers", action="store_true", help="skip the conv2d layer timings")
    args = ap.parse_args()
    set_threads(args.threads)
    print(machine_line(args.threads))
    print(
        f"dtype: float32 | batch: {args.batch} | input 1x28x28 | median of {args.steps} steps, "
        f"alternating tinyconv/torch, after {args.warmup} warm-up steps"
    )
    print(
        f"\n{'training step (fwd+loss+bwd+Adam)':<36}{'tinyconv':>12}{'torch':>12}{'tc img/s':>10}"
        f"{'torch img/s':>12}{'ratio':>8}"
    )
    for name in args.models.split(","):
        a, b = training_step_bench(name, args.batch, args.steps, args.warmup)
        ia, ib = args.batch / a * 1000, args.batch / b * 1000
        print(f"{name:<36}{a:>10.2f}ms{b:>10.2f}ms{ia:>10.0f}{ib:>12.0f}{ia / ib:>7.2f}x")
    if not args.no_layers:
        conv_bench(max(5, args.steps // 3), 2)


if __name__ == "__main__":
    main()
