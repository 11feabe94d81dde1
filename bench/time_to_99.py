"""Time to 99.0 % MNIST test accuracy: one recipe in tinyconv and the same recipe in PyTorch.

    python bench/time_to_99.py                          # mnist_cnn, Adam lr 1e-3, batch 100
    python bench/time_to_99.py --lr 1e-4 --batch-size 50 --max-epochs 12   # the lecture's recipe
    python bench/time_to_99.py --threads 2

    # smoke test (seconds)
    python bench/time_to_99.py --limit 1000 --test-limit 500 --target 0.5 --eval-every 5

The same recipe means: the same network with the same initial weights (the PyTorch twin is a
copy of the tinyconv model), the same optimizer and hyper-parameters, the same normalised
float32 data and the same batches in the same order (epoch e uses the permutation of a NumPy
generator seeded with (seed, e)), and the same thread count, in one process. Both evaluate on
the test set every ``--eval-every`` steps; the clock stops during evaluation, so the times are
training time up to the first evaluation at or above the target.

torch is imported by this script only; tinyconv never imports it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))

from common import machine_line, set_threads, torch_twin  # noqa: E402

import tinyconv  # noqa: E402
import tinyconv.functional as F  # noqa: E402
from tinyconv import data, models, optim  # noqa: E402
from tinyconv.train import evaluate  # noqa: E402


def race(
    name: str,
    step: Callable[[np.ndarray, np.ndarray], None],
    accuracy: Callable[[], float],
    x: np.ndarray,
    y: np.ndarray,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Train until the test accuracy reaches the target; returns steps, seconds, the curve."""
    n, b = len(x), args.batch_size
    steps, seconds, curve = 0, 0.0, []
    for epoch in range(args.max_epochs):
        order = np.random.default_rng([args.seed, epoch]).permutation(n)
        for i in range(0, n - b + 1, b):  # full batches only, as drop_last
            idx = order[i : i + b]
            t0 = time.perf_counter()
            step(x[idx], y[idx])
            seconds += time.perf_counter() - t0
            steps += 1
            if steps % args.eval_every == 0:
                acc = accuracy()
                curve.append((steps, round(seconds, 3), acc))
                print(
                    f"  {name:<8} step {steps:>6}  {seconds:8.1f} s  "
                    f"test accuracy {100 * acc:.2f} %",
                    flush=True,
                )
                if acc >= args.target:
                    return {
                        "reached": True,
                        "steps": steps,
                        "seconds": seconds,
                        "epochs": steps * b / n,
                        "curve": curve,
                    }
    return {
        "reached": False,
        "steps": steps,
        "seconds": seconds,
        "epochs": steps * b / n,
        "curve": curve,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--model", default="mnist_cnn", help="a tinyconv Sequential model (default mnist_cnn)"
    )
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--target", type=float, default=0.99)
    p.add_argument("--eval-every", type=int, default=100, help="steps between test evaluations")
    p.add_argument("--max-epochs", type=int, default=5)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, help="first N training images (smoke test)")
    p.add_argument("--test-limit", type=int, help="first N test images (smoke test)")
    p.add_argument("--only", choices=("tinyconv", "torch"), help="run one side only")
    p.add_argument("--json", help="also write the results to this JSON file")
    args = p.parse_args(argv)

    import torch

    set_threads(args.threads)
    torch.manual_seed(args.seed)
    x_train, y_train = data.load("mnist", "train")
    x_test, y_test = data.load("mnist", "test")
    if args.limit:
        x_train, y_train = x_train[: args.limit], y_train[: args.limit]
    if args.test_limit:
        x_test, y_test = x_test[: args.test_limit], y_test[: args.test_limit]
    mean, std = data.normalization("mnist")

    def norm(x: np.ndarray) -> np.ndarray:  # (N, 1, 28, 28) uint8 -> float32 (x/255 - mean)/std
        return (
            (x.astype(np.float32) / np.float32(255) - np.float32(mean[0])) / np.float32(std[0])
        ).astype(np.float32)

    xs, xt = norm(x_train), norm(x_test)
    print(machine_line(args.threads))
    print(
        f"recipe: {args.model} | Adam lr {args.lr} | batch {args.batch_size} | float32 | "
        f"{len(xs)} train / {len(xt)} test images | target {100 * args.target:.1f} % | "
        f"evaluation every {args.eval_every} steps (not timed) | seed {args.seed}"
    )
    print(
        "command: python bench/time_to_99.py "
        + " ".join(argv if argv is not None else sys.argv[1:])
    )

    tinyconv.manual_seed(args.seed)
    model = models.get(args.model)
    twin = torch_twin(model)  # same weights
    results: dict[str, Any] = {}

    if args.only in (None, "tinyconv"):
        opt = optim.Adam(model.parameters(), lr=args.lr)

        def step_tc(xb: np.ndarray, yb: np.ndarray) -> None:
            model.train()
            opt.zero_grad()
            F.cross_entropy(model(tinyconv.tensor(xb)), tinyconv.tensor(yb)).backward()
            opt.step()

        def acc_tc() -> float:
            return evaluate(model, (xt, y_test), batch_size=1000)["accuracy"]

        results["tinyconv"] = race("tinyconv", step_tc, acc_tc, xs, y_train, args)

    if args.only in (None, "torch"):
        opt_t = torch.optim.Adam(twin.parameters(), lr=args.lr)
        xt_t, yt_t = torch.from_numpy(xt), torch.from_numpy(y_test)

        def step_torch(xb: np.ndarray, yb: np.ndarray) -> None:
            twin.train()
            opt_t.zero_grad()
            torch.nn.functional.cross_entropy(
                twin(torch.from_numpy(xb)), torch.from_numpy(yb)
            ).backward()
            opt_t.step()

        def acc_torch() -> float:
            twin.eval()
            with torch.no_grad():
                pred = torch.cat(
                    [twin(xt_t[i : i + 1000]).argmax(1) for i in range(0, len(xt_t), 1000)]
                )
            return float((pred == yt_t).float().mean())

        results["torch"] = race("torch", step_torch, acc_torch, xs, y_train, args)

    for name, r in results.items():
        state = "reached" if r["reached"] else "NOT reached"
        print(
            f"RESULT | {name:<8} | {args.model} Adam lr {args.lr} batch {args.batch_size} | "
            f"{100 * args.target:.1f} % {state} after {r['steps']} steps "
            f"({r['epochs']:.2f} epochs) | "
            f"{r['seconds']:.1f} s training time | threads {args.threads}"
        )
    if len(results) == 2 and all(r["reached"] for r in results.values()):
        ratio = results["tinyconv"]["seconds"] / results["torch"]["seconds"]
        print(f"RESULT | tinyconv / PyTorch time to target: {ratio:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
