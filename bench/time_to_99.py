"""Time to 99.0 % MNIST test accuracy: one recipe in tinyconv and the same recipe in PyTorch.

    python bench/time_to_99.py                          # the fast recipe (see RECIPES below)
    python bench/time_to_99.py --model mnist_cnn --lr 1e-4 --batch-size 50 --max-epochs 12 \
        --schedule constant                             # the lecture's recipe
    python bench/time_to_99.py --threads 2

    # smoke test (seconds)
    python bench/time_to_99.py --limit 1000 --test-limit 500 --target 0.5 --eval-every 5

The same recipe means: the same network with the same initial weights (the PyTorch twin is a
copy of the tinyconv model), the same optimizer, learning-rate schedule and hyper-parameters,
the same normalised float32 data and the same batches in the same order (epoch e uses the
permutation of a NumPy generator seeded with (seed, e)), and the same thread count, in one
process. Both evaluate on the whole test set every ``--eval-every`` steps from step
``--eval-from`` on. The systems run in alternating rounds of ``--eval-every`` steps (tinyconv
numba, tinyconv numpy, PyTorch, again...), so that a change in the load of the shared
machine falls on all of them alike; each prints the load average at every evaluation.

Reported per system: the training time up to the first evaluation at or above the target,
the evaluation time spent until then, and the wall time to the target, which adds the data
loading (reading and normalising the IDX files, timed once, shared by both):
wall = loading + training + evaluations. The target of issue 5 is tinyconv's wall <= 30 s.

torch is imported by this script only; tinyconv never imports it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))

from common import (  # noqa: E402  (common sets the thread environment before NumPy loads)
    TORCH,
    kernel_paths,
    load_line,
    machine_line,
    set_threads,
    system_name,
    torch_twin,
)

# isort: split
import numpy as np  # noqa: E402

import tinyconv  # noqa: E402
import tinyconv.functional as F  # noqa: E402
import tinyconv.kernels as K  # noqa: E402
from tinyconv import data, models, optim  # noqa: E402


def fast_mnist() -> Any:
    """The recipe's network: two strided convolutions with batch norm, then two Linear layers.

    conv 32 5x5 stride 2 pad 2 (28 -> 14) - BN - ReLU - conv 64 3x3 stride 2 pad 1 (14 -> 7)
    - BN - ReLU - flatten (64*7*7 = 3136) - Linear 128 - ReLU - Linear 10: 422,346
    parameters, about 3 MFLOP per image forward. Strides instead of pooling keep every map
    small, so a step is mostly matrix products; batch norm lets Adam run at lr 3e-3. With a
    cosine decay over 2 epochs, PyTorch (1 thread, seed 0) crossed 99.0 % after 750 steps.
    """
    from tinyconv import nn

    return nn.Sequential(
        nn.Conv2d(1, 32, 5, stride=2, padding=2),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2, padding=1),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


RECIPES: dict[str, Callable[[], Any]] = {"fast_mnist": fast_mnist}


def race(
    name: str,
    step: Callable[[np.ndarray, np.ndarray], None],
    accuracy: Callable[[], float],
    x: np.ndarray,
    y: np.ndarray,
    args: argparse.Namespace,
    out: dict[str, Any],
) -> Iterator[None]:
    """Train until the test accuracy reaches the target, filling ``out`` (steps, seconds,
    the curve). A generator: it pauses (yields) after every evaluation, so that ``rounds``
    can advance every system in turn."""
    n, b = len(x), args.batch_size
    steps, seconds, eval_seconds, curve = 0, 0.0, 0.0, []
    reached = False
    for epoch in range(args.max_epochs):
        order = np.random.default_rng([args.seed, epoch]).permutation(n)
        for i in range(0, n - b + 1, b):  # full batches only, as drop_last
            idx = order[i : i + b]
            t0 = time.perf_counter()
            step(x[idx], y[idx])
            seconds += time.perf_counter() - t0
            steps += 1
            if steps >= args.eval_from and steps % args.eval_every == 0:
                t0 = time.perf_counter()
                acc = accuracy()
                eval_seconds += time.perf_counter() - t0
                curve.append((steps, round(seconds, 3), acc))
                print(
                    f"  {name:<16} step {steps:>6}  {seconds:8.1f} s  "
                    f"test accuracy {100 * acc:.2f} %  ({load_line()})",
                    flush=True,
                )
                reached = acc >= args.target
                out.update(reached=reached, steps=steps, seconds=seconds, curve=curve)
                out.update(eval_seconds=eval_seconds, epochs=steps * b / n)
                if reached:
                    return
                yield
            elif steps % args.eval_every == 0:
                yield  # a round ends every --eval-every steps, evaluated or not
        if reached:
            break
    out.update(reached=reached, steps=steps, seconds=seconds, eval_seconds=eval_seconds,
               epochs=steps * b / n, curve=curve)  # fmt: skip


def rounds(races: dict[str, Iterator[None]]) -> None:
    """Advance every race by one round (``--eval-every`` steps) in turn until all finish:
    the systems alternate, so a change of the machine's load falls on all of them."""
    live = dict(races)
    while live:
        for name, r in list(live.items()):
            time.sleep(0.05)  # let the other system's idle threads go to sleep
            if next(r, StopIteration) is StopIteration:
                del live[name]


def main(argv: list[str] | None = None) -> int:
    t_start = time.perf_counter()
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--model",
        default="fast_mnist",
        help="a recipe network of this script (fast_mnist) or a zoo model (mnist_cnn, ...)",
    )
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument(
        "--schedule",
        choices=("cosine", "constant"),
        default="cosine",
        help="cosine: the learning rate decays to 0 over --max-epochs, updated every step",
    )
    p.add_argument("--target", type=float, default=0.99)
    p.add_argument("--eval-every", type=int, default=50, help="steps between test evaluations")
    p.add_argument("--eval-from", type=int, default=600, help="first step that may evaluate")
    p.add_argument("--max-epochs", type=int, default=2)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, help="first N training images (smoke test)")
    p.add_argument("--test-limit", type=int, help="first N test images (smoke test)")
    p.add_argument("--only", choices=("tinyconv", "torch"), help="run one side only")
    p.add_argument(
        "--kernels",
        choices=("both", "numba", "numpy"),
        default="both",
        help="tinyconv's kernel paths to race (both: numba when it imports, then numpy)",
    )
    p.add_argument("--json", help="also write the results to this JSON file")
    args = p.parse_args(argv)

    import torch

    set_threads(args.threads)
    torch.manual_seed(args.seed)
    t_load = time.perf_counter()
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
    load_seconds = time.perf_counter() - t_load
    print(machine_line(args.threads))
    print(
        f"recipe: {args.model} | Adam lr {args.lr}, {args.schedule} schedule | batch "
        f"{args.batch_size} | float32 | {len(xs)} train / {len(xt)} test images | target "
        f"{100 * args.target:.1f} % | evaluation every {args.eval_every} steps from step "
        f"{args.eval_from} | seed {args.seed} | data loading {load_seconds:.1f} s"
    )
    print(
        "command: python bench/time_to_99.py "
        + " ".join(argv if argv is not None else sys.argv[1:])
    )

    tinyconv.manual_seed(args.seed)
    model = RECIPES[args.model]() if args.model in RECIPES else models.get(args.model)
    twin = torch_twin(model)  # the same initial weights as every tinyconv run (same seed)
    total_steps = args.max_epochs * (len(xs) // args.batch_size)
    results: dict[str, Any] = {}
    races: dict[str, Iterator[None]] = {}

    for path in kernel_paths(args.kernels) if args.only in (None, "tinyconv") else []:
        tinyconv.manual_seed(args.seed)
        model = RECIPES[args.model]() if args.model in RECIPES else models.get(args.model)
        opt = optim.Adam(model.parameters(), lr=args.lr)
        sched = optim.CosineAnnealingLR(opt, total_steps) if args.schedule == "cosine" else None

        def step_tc(xb: np.ndarray, yb: np.ndarray, model=model, opt=opt, sched=sched) -> None:  # noqa: ANN001
            model.train()
            opt.zero_grad()
            F.cross_entropy(model(tinyconv.tensor(xb)), tinyconv.tensor(yb)).backward()
            opt.step()
            if sched is not None:
                sched.step()

        def acc_tc(model=model) -> float:  # noqa: ANN001
            model.eval()
            with tinyconv.no_grad():
                pred = np.concatenate(
                    [model(tinyconv.tensor(xt[i : i + 1000])).numpy().argmax(1)
                     for i in range(0, len(xt), 1000)]
                )  # fmt: skip
            return float((pred == y_test).mean())

        def on_path(fn: Callable[..., Any], path: str = path) -> Callable[..., Any]:
            def run(*a: Any) -> Any:
                with K.using(path):  # the first steps include Numba's compile (or cache load)
                    return fn(*a)

            return run

        name = system_name(path)
        results[name] = {}
        races[name] = race(
            name, on_path(step_tc), on_path(acc_tc), xs, y_train, args, results[name]
        )

    if args.only in (None, "torch"):
        opt_t = torch.optim.Adam(twin.parameters(), lr=args.lr)
        sched_t = (
            torch.optim.lr_scheduler.CosineAnnealingLR(opt_t, total_steps)
            if args.schedule == "cosine"
            else None
        )
        xt_t, yt_t = torch.from_numpy(xt), torch.from_numpy(y_test)

        def step_torch(xb: np.ndarray, yb: np.ndarray) -> None:
            twin.train()
            opt_t.zero_grad()
            torch.nn.functional.cross_entropy(
                twin(torch.from_numpy(xb)), torch.from_numpy(yb)
            ).backward()
            opt_t.step()
            if sched_t is not None:
                sched_t.step()

        def acc_torch() -> float:
            twin.eval()
            with torch.no_grad():
                pred = torch.cat(
                    [twin(xt_t[i : i + 1000]).argmax(1) for i in range(0, len(xt_t), 1000)]
                )
            return float((pred == yt_t).float().mean())

        results[TORCH] = {}
        races[TORCH] = race(TORCH, step_torch, acc_torch, xs, y_train, args, results[TORCH])

    rounds(races)

    for name, r in results.items():
        state = "reached" if r["reached"] else "NOT reached"
        r["wall_seconds"] = load_seconds + r["seconds"] + r["eval_seconds"]
        print(
            f"RESULT | {name:<16} | {args.model} Adam lr {args.lr} {args.schedule} batch "
            f"{args.batch_size} | {100 * args.target:.1f} % {state} after {r['steps']} steps "
            f"({r['epochs']:.2f} epochs) | training {r['seconds']:.1f} s + evaluations "
            f"{r['eval_seconds']:.1f} s + data loading {load_seconds:.1f} s = wall "
            f"{r['wall_seconds']:.1f} s | threads {args.threads}"
        )
    if TORCH in results and results[TORCH]["reached"]:
        for name, r in results.items():
            if name != TORCH and r["reached"]:
                ratio = results[TORCH]["wall_seconds"] / r["wall_seconds"]
                train = results[TORCH]["seconds"] / r["seconds"]
                print(
                    f"RESULT | {name} speed / PyTorch's: wall {ratio:.2f}x, training time "
                    f"{train:.2f}x (> 1: faster)"
                )
    print(f"(this script ran {time.perf_counter() - t_start:.1f} s in all; after: {load_line()})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
