"""16-bit precision on full MNIST: mixed-precision training and half-size models.

    python bench/precision.py --threads 1                      # SimpleConvNet and DeepConvNet
    python bench/precision.py --models simple_convnet --threads 1
    python bench/precision.py --models simple_convnet --limit 2000 --epochs 1   # smoke test

Part 1, mixed-precision training. Each model is trained 3 epochs (Adam lr 1e-3, batch 100,
the book's recipe) three times from the same seed, so the same initial weights and the same
batches: in fp32, in fp16-mixed (float16 forward and backward under ``autocast``, float32
master weights, dynamic loss scaling) and in bf16-mixed (bfloat16, no scaling). The test
accuracies must lie within 0.15 percentage point of the fp32 run.

Part 2, half-size models. The fp32-trained model is converted with ``half()`` (float16) and
``to("bfloat16")``: weights AND activations in 16 bits (convolutions and matrix products
accumulate in float32 and round their results to 16 bits). The test accuracy must stay within
0.1 point of fp32, and the float16 file written by ``tinyconv.save`` must be at most 52 % of
the float32 file.

``--convert FILE[,FILE]`` runs part 2 alone on saved fp32 models, for instance the 20-epoch
models that ``bench/accuracy.py`` writes to ``runs/accuracy/``:

    python bench/precision.py --convert runs/accuracy/simple_convnet_mnist.safetensors

Every run prints the machine and the settings, one line per run, and the two tables of the
README; ``--json FILE`` also writes the numbers. MNIST comes from ``$TINYCONV_DATA``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tinyconv  # noqa: E402
from tinyconv import data, models, optim  # noqa: E402
from tinyconv.train import evaluate, fit  # noqa: E402

MODELS = {"simple_convnet": {"weight_init_std": 0.01}, "deep_convnet": {}}
PRECISIONS = ("fp32", "fp16-mixed", "bf16-mixed")
TRAIN_TOLERANCE = 0.15  # percentage points, mixed precision vs fp32
CONVERT_TOLERANCE = 0.10  # percentage points, half()/bf16 conversion vs fp32
MAX_SIZE_RATIO = 0.52


def set_threads(n: int | None) -> None:
    if n is None:
        return
    tinyconv.ops.parallel.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:
        print("note: threadpoolctl is not installed; set OMP_NUM_THREADS=1 instead")


def machine(threads: int | None) -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"machine: {cpu}, {os.cpu_count()} logical cores | threads: {threads or 'default'} | "
        f"numpy {np.__version__} | python {platform.python_version()}"
    )


def train_one(name: str, precision: str, sets: dict, epochs: int, seed: int) -> dict:
    """Train ``name`` in ``precision`` from ``seed``; its test accuracy and time."""
    tinyconv.manual_seed(seed)
    model = models.get(name, num_classes=10, **MODELS[name])
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    train = data.DataLoader(*sets["train"], batch_size=100, shuffle=True, seed=seed, **sets["norm"])
    t0 = time.perf_counter()
    history = fit(
        model, train, epochs=epochs, optimizer=optimizer, seed=seed, verbose=False,
        precision=precision,
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    res = evaluate(model, data.DataLoader(*sets["test"], batch_size=500, **sets["norm"]))
    return {
        "model": name,
        "precision": precision,
        "test_accuracy": res["accuracy"],
        "final_train_loss": history.last("loss"),
        "seconds": seconds,
        "trained": model,
    }


def convert(name: str, trained: tinyconv.nn.Module | str, sets: dict) -> dict:
    """Accuracy of the fp32 model and of its float16 and bfloat16 copies; file sizes.

    ``trained``: a model of ``MODELS[name]``, or the path of a saved fp32 model file.
    """
    test = data.DataLoader(*sets["test"], batch_size=500, **sets["norm"])
    out: dict = {"model": name}
    with tempfile.TemporaryDirectory() as tmp:
        for label, dtype in (("fp32", "float32"), ("fp16", "float16"), ("bf16", "bfloat16")):
            if isinstance(trained, str):
                copy = tinyconv.load(trained)
            else:
                copy = models.get(name, num_classes=10, **MODELS[name])
                copy.load_state_dict(trained.state_dict())
            copy.to(dtype)  # half() for float16
            assert copy.parameters().__next__().dtype.name == dtype
            out[f"{label}_accuracy"] = evaluate(copy, test)["accuracy"]
            path = os.path.join(tmp, f"{label}.safetensors")
            tinyconv.save(copy, path)
            out[f"{label}_bytes"] = os.path.getsize(path)
    out["fp16_size_ratio"] = out["fp16_bytes"] / out["fp32_bytes"]
    return out


def print_training(training: list, names: list, epochs: int) -> None:
    """The mixed-precision training table."""
    print(
        f"\nMixed-precision training, {epochs} epochs, same seed "
        f"(tolerance {TRAIN_TOLERANCE} point)"
    )
    print("| model | fp32 | fp16-mixed | bf16-mixed | time fp32 / fp16-mixed / bf16-mixed |")
    print("|---|---|---|---|---|")
    for name in names:
        rs = {r["precision"]: r for r in training if r["model"] == name}
        cells = [f"{100 * rs['fp32']['test_accuracy']:.2f} %"] + [
            f"{100 * rs[k]['test_accuracy']:.2f} % ({rs[k]['diff_points']:+.2f}"
            f"{'' if rs[k]['ok'] else ' FAIL'})"
            for k in PRECISIONS[1:]
        ]
        times = " / ".join(f"{rs[k]['seconds'] / 60:.1f}" for k in PRECISIONS)
        print(f"| {name} | " + " | ".join(cells) + f" | {times} min |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--models", default="simple_convnet,deep_convnet", help="comma-separated")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="threads for tinyconv and BLAS (default: all)")
    p.add_argument("--limit", type=int, help="first N train and test images (smoke test)")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--convert", help="comma-separated saved fp32 models: part 2 only")
    args = p.parse_args(argv)
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        p.error(f"unknown model(s) {unknown}: choose from {sorted(MODELS)}")
    set_threads(args.threads)
    x_train, y_train = data.load("mnist", "train")
    x_test, y_test = data.load("mnist", "test")
    if args.limit:
        x_train, y_train, x_test, y_test = (
            x_train[: args.limit], y_train[: args.limit], x_test[: args.limit], y_test[: args.limit]
        )  # fmt: skip
    mean, std = data.normalization("mnist")
    norm = {"mean": mean, "std": std}
    sets = {"train": (x_train, y_train), "test": (x_test, y_test), "norm": norm}
    print(machine(args.threads))
    print(
        f"data: MNIST {len(x_train)} train / {len(x_test)} test | Adam lr 1e-3, batch 100 | "
        f"epochs {args.epochs} | seed {args.seed}"
    )
    given = " ".join(argv if argv is not None else sys.argv[1:])
    print(f"command: python bench/precision.py {given}")

    training, conversions = [], []
    files = [f.strip() for f in (args.convert or "").split(",") if f.strip()]
    for path in files:
        conversions.append(convert(os.path.basename(path), path, sets))
    for name in [] if files else names:
        runs = {}
        for precision in PRECISIONS:
            r = train_one(name, precision, sets, args.epochs, args.seed)
            runs[precision] = r
            print(
                f"{name:<15} {precision:<11} test accuracy {100 * r['test_accuracy']:.2f} %  "
                f"train loss {r['final_train_loss']:.4f}  {r['seconds'] / 60:.1f} min",
                flush=True,
            )
        base = runs["fp32"]["test_accuracy"]
        for r in runs.values():
            r["diff_points"] = 100 * (r["test_accuracy"] - base)
            r["ok"] = abs(r["diff_points"]) <= TRAIN_TOLERANCE + 1e-9
        conversions.append(convert(name, runs["fp32"].pop("trained"), sets))
        for r in runs.values():
            r.pop("trained", None)
            training.append(r)
    for c in conversions:
        for label in ("fp16", "bf16"):
            c[f"{label}_diff_points"] = 100 * (c[f"{label}_accuracy"] - c["fp32_accuracy"])
        c["ok"] = (
            abs(c["fp16_diff_points"]) <= CONVERT_TOLERANCE + 1e-9
            and abs(c["bf16_diff_points"]) <= CONVERT_TOLERANCE + 1e-9
            and c["fp16_size_ratio"] <= MAX_SIZE_RATIO
        )

    if training:
        print_training(training, names, args.epochs)
    print(f"\nThe fp32 model converted (tolerance {CONVERT_TOLERANCE} point; fp16 file <= 52 %)")
    print("| model | fp32 | half() float16 | bfloat16 | file fp32 -> fp16 |")
    print("|---|---|---|---|---|")
    for c in conversions:
        print(
            f"| {c['model']} | {100 * c['fp32_accuracy']:.2f} % | "
            f"{100 * c['fp16_accuracy']:.2f} % ({c['fp16_diff_points']:+.2f}) | "
            f"{100 * c['bf16_accuracy']:.2f} % ({c['bf16_diff_points']:+.2f}) | "
            f"{c['fp32_bytes']:,} -> {c['fp16_bytes']:,} B ({100 * c['fp16_size_ratio']:.1f} %) |"
        )
    ok = all(r["ok"] for r in training) and all(c["ok"] for c in conversions)
    print(f"\nRESULT: {'all within tolerance' if ok else 'SOME OUTSIDE TOLERANCE'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"training": training, "conversions": conversions, "epochs": args.epochs,
                 "seed": args.seed, "threads": args.threads, "limit": args.limit, "ok": ok},
                f, indent=2,
            )  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
