"""Accuracy runs: the seeds' networks trained with their recipes, test accuracy against a target.

    python bench/accuracy.py simple_convnet   # MNIST: Adam lr 0.001, batch 100, init std 0.01
    python bench/accuracy.py deep_convnet     # MNIST: Adam lr 0.001, batch 100
    python bench/accuracy.py cifar10_cnn      # CIFAR-10: RMSprop lr 1e-3, batch 128, 10,000 steps
    # the same network on Fashion-MNIST, the learning rate annealed (92.4 % in 26 minutes)
    python bench/accuracy.py cifar10_cnn --data fashion-mnist --val 5000 --epochs 6 --cosine

    # smoke test (seconds): a few hundred images, one epoch
    python bench/accuracy.py simple_convnet --limit 500 --epochs 1

Every run prints the machine, thread count, dtype and batch size, one line per epoch (test
accuracy after each), and a final result line in the shape of the README's results table.
``--json FILE`` also writes the result. Datasets come from ``$TINYCONV_DATA`` (see
``tinyconv.data``); full MNIST, Fashion-MNIST and CIFAR-10 are needed for the real runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tinyconv  # noqa: E402
from tinyconv import data, models, optim  # noqa: E402
from tinyconv.train import Callback, StopTraining, evaluate, fit  # noqa: E402


@dataclass
class Recipe:
    model: str
    data: str
    optimizer: str
    lr: float
    batch_size: int
    target: float  # test accuracy to reach (fraction)
    epochs: int | None = None  # None: derived from steps
    steps: int | None = None
    time_limit_min: float | None = None
    augment: bool = False
    # hold out the last `val` training images; the epoch with the best accuracy on them is
    # the model that is tested (the test set is then read once, at the end)
    val: int = 0
    model_kwargs: dict = field(default_factory=dict)
    optimizer_kwargs: dict = field(default_factory=dict)


RECIPES = {
    # The from-scratch book, ch. 7: SimpleConvNet, Adam lr 0.001, batch 100, std 0.01, 20 epochs.
    "simple_convnet": Recipe(
        "simple_convnet",
        "mnist",
        "adam",
        lr=1e-3,
        batch_size=100,
        target=0.988,
        epochs=20,
        val=5000,
        model_kwargs={"weight_init_std": 0.01},
    ),
    # The book, chapter 8: DeepConvNet, Adam lr 0.001, batch 100, 20 epochs.
    "deep_convnet": Recipe(
        "deep_convnet", "mnist", "adam", lr=1e-3, batch_size=100, target=0.993, epochs=20, val=5000
    ),
    # The TensorFlow lecture: RMSprop lr 1e-3, batch 128, 10,000 steps; >= 75 % on CIFAR-10 in
    # 30 minutes (random crop + flip). On Fashion-MNIST (--data fashion-mnist) the target is 92 %.
    # alpha 0.9 is the decay of TensorFlow's RMSPropOptimizer, which the lecture used.
    "cifar10_cnn": Recipe(
        "cifar10_cnn",
        "cifar10",
        "rmsprop",
        lr=1e-3,
        batch_size=128,
        target=0.75,
        steps=10_000,
        time_limit_min=30.0,
        augment=True,
        optimizer_kwargs={"alpha": 0.9},
    ),
}
TARGETS = {("cifar10_cnn", "fashion-mnist"): 0.92}


def machine(threads: int | None) -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    blas = "?"
    try:
        from threadpoolctl import threadpool_info

        info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if info:
            i = info[0]
            blas = f"{i.get('internal_api')} {i.get('version')}, {i.get('num_threads')} threads"
    except ImportError:
        pass
    return (
        f"machine: {cpu}, {os.cpu_count()} logical cores | threads: {threads or 'BLAS default'} | "
        f"BLAS: {blas} | numpy {np.__version__} | python {platform.python_version()} | "
        f"tinyconv {tinyconv.__version__}"
    )


def set_threads(n: int | None) -> None:
    if n is None:
        return
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:
        print("note: threadpoolctl is not installed; set OMP_NUM_THREADS before running instead")


class TimeLimit(Callback):
    """Stop training (after the current batch) when the wall-clock budget is spent."""

    def __init__(self, minutes: float | None) -> None:
        self.deadline = None if minutes is None else time.perf_counter() + 60 * minutes

    def on_batch_end(self, batch: int, logs: dict) -> None:
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise StopTraining("time limit reached")


class EpochLines(Callback):
    """One line per epoch when the progress bar is off (--quiet)."""

    def __init__(self, what: str = "test") -> None:
        self.what = what

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        acc = logs.get("val_acc")
        test = f"{self.what} accuracy {100 * acc:.2f} %" if acc is not None else ""
        print(f"epoch {epoch}: loss {logs['loss']:.4f}  {test}  {logs['time']:.1f} s", flush=True)


class KeepBest(Callback):
    """Remember the weights of the epoch with the best validation accuracy; ``restore`` them."""

    def __init__(self, model: object) -> None:
        self.model, self.best, self.epoch, self.state = model, -1.0, 0, None

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        acc = logs.get("val_acc")
        if acc is not None and acc > self.best:
            self.best, self.epoch = acc, epoch
            self.state = {k: v.data.copy() for k, v in self.model.state_dict().items()}

    def restore(self) -> None:
        if self.state is not None:
            for k, v in self.model.state_dict().items():
                v.data[...] = self.state[k]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("run", choices=sorted(RECIPES))
    p.add_argument("--data", help="dataset (default: the recipe's)")
    p.add_argument("--epochs", type=int, help="override the recipe's epochs")
    p.add_argument("--steps", type=int, help="override the recipe's optimizer steps")
    p.add_argument(
        "--limit", type=int, help="use only the first N training and test images (smoke test)"
    )
    p.add_argument("--threads", type=int, help="BLAS threads (default: the library's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--val",
        type=int,
        help="hold out the last N training images and test the epoch best on them "
        "(default: the recipe's; 0: test the last epoch)",
    )
    p.add_argument("--time-limit", type=float, help="minutes (default: the recipe's)")
    p.add_argument("--no-augment", action="store_true", help="no random crop / flip for CIFAR-10")
    p.add_argument(
        "--cosine",
        action="store_true",
        help="anneal the learning rate to 0 over the epochs (cosine, stepped per epoch)",
    )
    p.add_argument("--out", help="checkpoint folder (default: none)")
    p.add_argument(
        "--save",
        help="write the tested model (architecture and weights) here (default: "
        "runs/accuracy/RUN_DATA.safetensors; '' for none)",
    )
    p.add_argument("--json", help="also write the result to this JSON file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)

    r = RECIPES[args.run]
    name = args.data or r.data
    target = TARGETS.get((r.model, name), r.target)
    set_threads(args.threads)
    x_train, y_train = data.load(name, "train")
    x_test, y_test = data.load(name, "test")
    if args.limit:
        x_train, y_train = x_train[: args.limit], y_train[: args.limit]
        x_test, y_test = x_test[: args.limit], y_test[: args.limit]
    n_val = r.val if args.val is None else args.val
    if n_val and args.limit:
        n_val = min(n_val, len(x_train) // 10)
    if n_val:
        x_train, x_val = x_train[:-n_val], x_train[-n_val:]
        y_train, y_val = y_train[:-n_val], y_train[-n_val:]
    C, H, _ = x_train.shape[1:]
    steps_per_epoch = math.ceil(len(x_train) / r.batch_size)
    steps = args.steps or r.steps
    if args.epochs:
        epochs = args.epochs
    elif r.epochs and not args.steps:
        epochs = r.epochs
    else:
        epochs = math.ceil(steps / steps_per_epoch)
    # The recipe's time limit is for its own dataset (CIFAR-10: 30 minutes), not a substitute.
    default_limit = r.time_limit_min if name == r.data else None
    time_limit = args.time_limit if args.time_limit is not None else default_limit
    augment = r.augment and name == "cifar10" and not args.no_augment

    tinyconv.manual_seed(args.seed)
    model = models.get(
        r.model, num_classes=10, in_channels=int(C), input_size=int(H), **r.model_kwargs
    )
    opt_cls = {"adam": optim.Adam, "rmsprop": optim.RMSprop, "sgd": optim.SGD}[r.optimizer]
    optimizer = opt_cls(model.parameters(), lr=r.lr, **r.optimizer_kwargs)
    mean, std = data.normalization(name)
    transform = None
    if augment:
        from tinyconv.data.transforms import Compose, RandomCrop, RandomHorizontalFlip

        transform = Compose([RandomCrop(int(H), padding=4), RandomHorizontalFlip()])
    train = data.DataLoader(
        x_train,
        y_train,
        batch_size=r.batch_size,
        shuffle=True,
        seed=args.seed,
        transform=transform,
        mean=mean,
        std=std,
    )
    test = data.DataLoader(x_test, y_test, batch_size=500, mean=mean, std=std)
    monitor = data.DataLoader(x_val, y_val, batch_size=500, mean=mean, std=std) if n_val else test

    print(machine(args.threads))
    print(
        f"run: {r.model} on {name} ({len(x_train)} train / "
        f"{f'{n_val} validation / ' if n_val else ''}{len(x_test)} test) | dtype: float32 | "
        f"batch: {r.batch_size} | {r.optimizer} lr {r.lr} {r.optimizer_kwargs or ''}"
        f"{', cosine to 0' if args.cosine else ''} | "
        f"epochs: {epochs} "
        f"({epochs * steps_per_epoch} steps) | augment: {augment} | seed: {args.seed} | "
        f"time limit: {f'{time_limit} min' if time_limit else 'none'} | "
        f"target: {100 * target:.1f} %"
    )
    print(
        f"command: python bench/accuracy.py {' '.join(argv if argv is not None else sys.argv[1:])}"
    )
    keep = KeepBest(model)
    lines = [EpochLines("validation" if n_val else "test")] if args.quiet else []
    t0 = time.perf_counter()
    history = fit(
        model,
        train,
        monitor,
        epochs=epochs,
        optimizer=optimizer,
        scheduler=optim.CosineAnnealingLR(optimizer, T_max=epochs) if args.cosine else None,
        seed=args.seed,
        callbacks=[TimeLimit(time_limit), *lines] + ([keep] if n_val else []),
        checkpoint_dir=args.out,
        verbose=not args.quiet,
    )
    seconds = time.perf_counter() - t0
    if n_val:
        keep.restore()
        print(f"validation: best epoch {keep.epoch} ({100 * keep.best:.2f} %), tested below")
    res = evaluate(model, test)
    best = max(a for a in history.history.get("val_acc", [0.0]) if a is not None)
    ok = res["accuracy"] >= target and (time_limit is None or seconds <= 60 * time_limit + 60)
    result = {
        "run": args.run,
        "model": r.model,
        "data": name,
        "epochs_done": history.epochs,
        "test_accuracy": res["accuracy"],
        "best_epoch_accuracy": None if n_val else best,
        "validation": {"images": n_val, "best_epoch": keep.epoch, "accuracy": keep.best}
        if n_val
        else None,
        "target": target,
        "reached": bool(ok),
        "seconds": seconds,
        "threads": args.threads,
        "stopped_reason": history.stopped_reason,
        "recipe": asdict(r),
        "limit": args.limit,
        "cosine": args.cosine,
    }
    print(
        f"RESULT | {r.model} | {name} | {r.optimizer} lr {r.lr}{' cosine' if args.cosine else ''}, "
        f"batch {r.batch_size} | "
        f"{history.epochs} epochs | {seconds / 60:.1f} min | "
        f"test accuracy {100 * res['accuracy']:.2f} % "
        + (
            f"(epoch {keep.epoch}, best on {n_val} validation images) "
            if n_val
            else f"(best epoch {100 * best:.2f} %) "
        )
        + f"| target {100 * target:.1f} % | "
        f"{'REACHED' if ok else 'NOT reached'}"
    )
    save = f"runs/accuracy/{args.run}_{name}.safetensors" if args.save is None else args.save
    if save:
        os.makedirs(os.path.dirname(os.path.abspath(save)), exist_ok=True)
        tinyconv.save(model, save)  # the model just tested (the best epoch with --val)
        result["saved"] = save
        print(f"saved the tested model to {save} (bench/precision.py --convert {save})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
