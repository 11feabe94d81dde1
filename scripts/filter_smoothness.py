"""Measure the seeds' claim: SimpleConvNet's first-layer filters become smoother with training.

The from-scratch book shows SimpleConvNet's 30 first-layer 5x5 filters as grey pictures:
noise before training, edges and blobs after. This script puts a number on it, the mean
neighbour correlation (``tinyconv.viz.neighbour_correlation``): the correlation between
horizontally and vertically adjacent weights of each filter, averaged over the 30 filters.
Independent random weights give about 0; smooth strokes and blobs give a clearly positive r.

Recipe (the book's): SimpleConvNet (conv 30 5x5, ReLU, max pool 2, affine 100, ReLU, affine 10),
weights N(0, 0.01^2), Adam lr 0.001, batch 100, one epoch of MNIST, pixels scaled to [0, 1].
MNIST is read from $TINYCONV_DATA when it is there, else the embedded 5,000-image sample.

    TINYCONV_DATA=/work/shared/data python scripts/filter_smoothness.py
    python scripts/filter_smoothness.py --steps 50          # a quick look
    python scripts/filter_smoothness.py --save-dir runs/smooth   # also keep both models

With ``--save-dir`` the initial and trained models are written as ``before.safetensors`` and
``after.safetensors``, for ``tinyconv viz filters --compare before.safetensors after.safetensors``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy

import tinyconv
from tinyconv import data, models
from tinyconv import functional as F
from tinyconv.optim import Adam
from tinyconv.viz.filters import neighbour_correlation


def random_baseline(
    draws: int = 200, shape: tuple[int, ...] = (30, 1, 5, 5), seed: int = 1
) -> tuple[float, float]:
    """Mean and standard deviation of the layer-mean r over ``draws`` random Gaussian inits."""
    rng = numpy.random.default_rng(seed)
    values = [neighbour_correlation(rng.normal(0.0, 0.01, shape)) for _ in range(draws)]
    return float(numpy.mean(values)), float(numpy.std(values))


def accuracy(model: Any, x: numpy.ndarray, y: numpy.ndarray, batch: int = 500) -> float:
    """Fraction of ``x`` (uint8 images) classified as ``y``."""
    model.eval()
    correct = 0
    with tinyconv.no_grad():
        for i in range(0, len(x), batch):
            xb = tinyconv.tensor(x[i : i + batch].astype(numpy.float32) / numpy.float32(255))
            correct += int((model(xb).numpy().argmax(axis=1) == y[i : i + batch]).sum())
    model.train()
    return correct / len(x)


def train_and_measure(
    dataset: str | None = None,
    epochs: int = 1,
    steps: int | None = None,
    batch_size: int = 100,
    lr: float = 0.001,
    init_std: float = 0.01,
    seed: int = 0,
    test_images: int | None = None,
    save_dir: str | None = None,
    log: Any = None,
) -> dict[str, Any]:
    """Train SimpleConvNet and return the first layer's neighbour correlation before and after.

    Args:
        dataset: a dataset name; default ``tinyconv.data.default_dataset()`` (full MNIST when
            present, else the embedded sample).
        epochs (int): passes over the training set. Default: 1.
        steps (int | None): stop after this many optimizer steps (a quick run). Default: None.
        batch_size, lr, init_std, seed: the recipe. Defaults: 100, 0.001, 0.01, 0.
        test_images (int | None): measure test accuracy on this many images (None: all; 0: skip).
        save_dir (str | None): write before.safetensors and after.safetensors there.
        log: a file to print progress to (None: quiet).

    Returns:
        dict with ``before``, ``after`` (mean r), ``before_per_filter``/``after_per_filter``
        (lists), ``positive_before``/``positive_after`` (filters with r > 0), ``steps``,
        ``dataset``, ``train_images``, ``test_accuracy`` and ``seconds``.
    """
    name = dataset or data.default_dataset()
    x, y = data.load(name, "train")
    tinyconv.manual_seed(seed)
    model = models.get("simple_convnet", weight_init_std=init_std)
    w0 = model.conv1.weight.numpy().copy()  # (30, 1, 5, 5)
    if save_dir:
        Path(save_dir).mkdir(parents=True, exist_ok=True)
        tinyconv.save(
            model,
            Path(save_dir) / "before.safetensors",
            metadata={
                "model": "simple_convnet",
                "dataset": name,
                "steps": 0,
                "input_shape": [1, 28, 28],
                "classes": data.classes(name),
            },
        )
    loader = data.DataLoader(x, y, batch_size=batch_size, shuffle=True, seed=seed)
    optimizer = Adam(model.parameters(), lr=lr)
    done, start = 0, time.perf_counter()
    for _ in range(epochs):
        for xb, yb in loader:
            loss = F.cross_entropy(model(tinyconv.tensor(xb)), tinyconv.tensor(yb))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            done += 1
            if log is not None and done % 50 == 0:
                print(
                    f"  step {done}: loss {loss.item():.4f}, r(conv1) "
                    f"{neighbour_correlation(model.conv1.weight):.3f}",
                    file=log,
                    flush=True,
                )
            if steps is not None and done >= steps:
                break
        if steps is not None and done >= steps:
            break
    seconds = time.perf_counter() - start
    w1 = model.conv1.weight.numpy()
    acc = None
    if test_images != 0:
        xt, yt = data.load(name, "test")
        n = len(xt) if test_images is None else test_images
        acc = accuracy(model, xt[:n], yt[:n])
    if save_dir:
        tinyconv.save(
            model,
            Path(save_dir) / "after.safetensors",
            metadata={
                "model": "simple_convnet",
                "dataset": name,
                "steps": done,
                "input_shape": [1, 28, 28],
                "classes": data.classes(name),
                "test_accuracy": acc,
            },
        )
    r0 = neighbour_correlation(w0, reduce=False).ravel()
    r1 = neighbour_correlation(w1, reduce=False).ravel()
    return {
        "dataset": name,
        "train_images": int(len(x)),
        "steps": done,
        "before": float(numpy.nanmean(r0)),
        "after": float(numpy.nanmean(r1)),
        "before_per_filter": [round(float(v), 4) for v in r0],
        "after_per_filter": [round(float(v), 4) for v in r1],
        "positive_before": int((r0 > 0).sum()),
        "positive_after": int((r1 > 0).sum()),
        "test_accuracy": acc,
        "seconds": round(seconds, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="dataset (default: mnist if present, else mnist-sample)")
    p.add_argument("--epochs", type=int, default=1, help="epochs (1)")
    p.add_argument("--steps", type=int, help="stop after N steps")
    p.add_argument("--seed", type=int, default=0, help="seed (0)")
    p.add_argument("--save-dir", help="write before.safetensors and after.safetensors here")
    p.add_argument("--json", help="also write the numbers to this JSON file")
    args = p.parse_args(argv)
    base_mean, base_std = random_baseline()
    res = train_and_measure(
        args.data,
        epochs=args.epochs,
        steps=args.steps,
        seed=args.seed,
        save_dir=args.save_dir,
        log=sys.stdout,
    )
    res["random_baseline"] = {"mean": base_mean, "std": base_std, "draws": 200}
    acc = "n/a" if res["test_accuracy"] is None else f"{100 * res['test_accuracy']:.2f}%"
    print(
        f"SimpleConvNet on {res['dataset']} ({res['train_images']} training images), "
        f"{res['steps']} Adam steps of batch 100 in {res['seconds']} s; test accuracy {acc}"
    )
    print("mean neighbour correlation of the 30 conv1 filters (5x5):")
    print(f"  random N(0, 0.01^2) filters: {base_mean:+.3f} +- {base_std:.3f} (200 draws)")
    print(
        f"  before training:             {res['before']:+.3f} "
        f"({res['positive_before']}/30 filters with r > 0)"
    )
    print(
        f"  after training:              {res['after']:+.3f} "
        f"({res['positive_after']}/30 filters with r > 0)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    return 0 if res["after"] > res["before"] else 1


if __name__ == "__main__":
    sys.exit(main())
