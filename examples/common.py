"""What the examples share: arguments, timing, the machine line, classifiers trained once, figures.

Every example runs with one command from the repository root, prints its progress, and writes
its figures (PNG) and numbers (``results.json``) under ``runs/examples/<name>/``::

    python examples/segmentation.py          # FCN and U-Net on digit scenes, mean IoU
    python examples/detection.py             # sliding windows and CenterNet, mAP@0.5
    python examples/autoencoder.py           # reconstructions, softmax regression on the codes
    python examples/vae.py                   # negative ELBO, samples, interpolation
    python examples/gan.py                   # DCGAN samples judged by an MNIST classifier

``--smoke`` runs each on a few hundred images in seconds (CI does). Digits come from full MNIST
in ``$TINYCONV_DATA`` when it is there, else from the embedded sample.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tinyconv  # noqa: E402
from tinyconv import data, models, optim  # noqa: E402
from tinyconv.data.scenes import window_samples  # noqa: E402
from tinyconv.train import evaluate, fit  # noqa: E402

_T0 = time.perf_counter()


def log(msg: str) -> None:
    """Print ``msg`` with the minutes and seconds since the example started."""
    t = time.perf_counter() - _T0
    print(f"[{int(t // 60):3d}:{t % 60:04.1f}] {msg}", flush=True)


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", help="output folder (default: runs/examples/<name>)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="threads for tinyconv and BLAS (default: all)")
    p.add_argument("--smoke", action="store_true", help="a few hundred images, seconds (CI)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def setup(args: argparse.Namespace, name: str) -> Path:
    """Seed, threads, output folder; print the machine line. Returns the output folder."""
    if args.threads:
        from tinyconv.ops.parallel import set_num_threads  # noqa: PLC0415

        set_num_threads(args.threads)
        try:
            from threadpoolctl import threadpool_limits  # noqa: PLC0415

            threadpool_limits(args.threads)
        except ImportError:
            pass
    tinyconv.manual_seed(args.seed)
    out = Path(args.out or Path("runs") / "examples" / name)
    out.mkdir(parents=True, exist_ok=True)
    log(machine(args.threads))
    log(f"source digits: {digits_source()} | output: {out}")
    return out


def machine(threads: int | None) -> str:
    cpu = platform.processor() or "CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    from tinyconv.ops.parallel import get_num_threads  # noqa: PLC0415

    return (
        f"machine: {cpu}, {os.cpu_count()} logical cores | threads: {threads or get_num_threads()}"
        f" | float32 | numpy {np.__version__} | python {platform.python_version()} | "
        f"tinyconv {tinyconv.__version__}"
    )


def digits_source() -> str:
    """Full MNIST when it is in the data directory, else the embedded sample."""
    return data.default_dataset()


def save_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=float))
    tmp.replace(path)
    log(f"wrote {path}")


def cached_model(path: Path, build: Any) -> tuple[Any, bool]:
    """Load ``path`` when it exists, else call ``build()`` and save its result there."""
    if path.exists():
        log(f"loading {path} (delete it to train again)")
        return tinyconv.load(path), False
    model = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    tinyconv.save(model, path)
    log(f"saved {path}")
    return model, True


def window_classifier(args: argparse.Namespace, folder: Path) -> Any:
    """mnist_cnn with 11 classes (digits + "no digit centred here") trained on 28x28 windows.

    The sliding-window detector runs it convolutionized over whole scenes, and the FCN is built
    from it. Trained once (2 epochs of 40,000 windows, Adam 1e-3, batch 64) and cached.
    """
    n, epochs = (600, 1) if args.smoke else (40_000, 2)
    path = folder / (
        "window_classifier_smoke.safetensors" if args.smoke else "window_classifier.safetensors"
    )

    def build() -> Any:
        log(f"window classifier: mnist_cnn(num_classes=11, hidden=64) on {n:,} windows")
        x, y = window_samples(n, "train", seed=args.seed)
        xt, yt = window_samples(max(n // 4, 200), "test", seed=args.seed)
        tinyconv.manual_seed(args.seed)
        model = models.mnist_cnn(num_classes=11, hidden=64)
        fit(
            model,
            (x, y),
            (xt, yt),
            epochs=epochs,
            optimizer=optim.Adam(model.parameters(), lr=1e-3),
            batch_size=64,
            seed=args.seed,
            verbose=not args.quiet,
        )
        acc = evaluate(model, (xt, yt))["accuracy"]
        log(f"window classifier: test windows accuracy {100 * acc:.2f} %")
        return model

    return cached_model(path, build)[0]


def mnist_classifier(args: argparse.Namespace, folder: Path) -> Any:
    """A 10-class MNIST classifier (mnist_cnn, hidden 128), trained once and cached.

    6 epochs of Adam (lr 1e-3, cosine decay to 0 over the epochs, batch 64): the judge of the
    GAN's samples should be sure of real digits (examples/gan.py first scores it on real
    test digits).
    """
    path = folder / (
        "mnist_classifier_smoke.safetensors" if args.smoke else "mnist_judge.safetensors"
    )

    def build() -> Any:
        x, y = data.load(digits_source(), "train")
        xt, yt = data.load(digits_source(), "test")
        epochs = 1 if args.smoke else 6
        if args.smoke:
            x, y, xt, yt = x[:500], y[:500], xt[:200], yt[:200]
        log(f"MNIST classifier: mnist_cnn(hidden=128) on {len(x):,} digits, {epochs} epochs")
        tinyconv.manual_seed(args.seed)
        model = models.mnist_cnn(hidden=128)
        opt = optim.Adam(model.parameters(), lr=1e-3)
        fit(
            model,
            (x, y),
            epochs=epochs,
            batch_size=64,
            seed=args.seed,
            optimizer=opt,
            scheduler=optim.CosineAnnealingLR(opt, T_max=epochs),
            verbose=not args.quiet,
        )
        log(f"MNIST classifier: test accuracy {100 * evaluate(model, (xt, yt))['accuracy']:.2f} %")
        return model

    return cached_model(path, build)[0]


def train_epoch(
    model: Any,
    optimizer: Any,
    x: np.ndarray,
    loss_fn: Any,
    batch_size: int,
    rng: np.random.Generator,
    desc: str,
    quiet: bool = False,
) -> float:
    """One epoch over uint8 images ``x`` (scaled to [0, 1]) in an order drawn from ``rng``.

    ``loss_fn(model, xb)`` returns the batch's mean loss per image. Returns the epoch's mean.
    """
    from tinyconv.train.progress import ProgressBar  # noqa: PLC0415

    model.train()
    order = rng.permutation(len(x))
    steps = range(0, len(x), batch_size)
    bar = ProgressBar(len(steps), desc, enabled=not quiet)
    total, seen = 0.0, 0
    for i in steps:
        xb = tinyconv.tensor(x[order[i : i + batch_size]].astype(np.float32) / 255)
        loss = loss_fn(model, xb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total, seen = total + loss.item() * len(xb), seen + len(xb)
        bar.update(len(xb), total / seen, None)
    bar.close()
    return total / seen


def image_grid(images: np.ndarray, nrow: int, pad: int = 2) -> np.ndarray:
    """(N, H, W) values in [0, 1] -> one (rows*(H+pad), nrow*(W+pad)) image."""
    n, h, w = images.shape
    rows = -(-n // nrow)
    grid = np.ones((rows * (h + pad) + pad, nrow * (w + pad) + pad), np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, nrow)
        grid[
            pad + r * (h + pad) : pad + r * (h + pad) + h,
            pad + c * (w + pad) : pad + c * (w + pad) + w,
        ] = img
    return grid


def figure(width: float, height: float) -> Any:
    from tinyconv.viz._figure import new_figure  # noqa: PLC0415

    return new_figure(width, height)


def save_figure(fig: Any, path: Path) -> None:
    from tinyconv.viz._figure import save_png  # noqa: PLC0415

    save_png(fig, path)
    log(f"wrote {path}")
