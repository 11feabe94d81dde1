"""`tinyconv train` alone and on K MPI ranks (`tinyconv launch -n K train`): the same accuracy.

    python bench/distributed_accuracy.py                       # MNIST (or the sample), 1 epoch
    python bench/distributed_accuracy.py --data mnist-sample --epochs 6 --ranks 2,4

Both runs use the same settings and seed; on K ranks each global batch of 100 is split over
the ranks and the gradients averaged, so the training is the same up to float32 rounding
(the order of the sums differs). Prints the test accuracy of each run, the difference and the
wall time. One BLAS thread per process (OMP_NUM_THREADS=1) in both runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def train(out: Path, args: list[str], ranks: int) -> tuple[float, float]:
    launch = ["launch", "-n", str(ranks)] if ranks > 1 else []
    cmd = [sys.executable, "-m", "tinyconv", *launch, "train", *args, "--out", str(out), "--quiet"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    history = json.loads((out / "history.json").read_text())["history"]
    return 100 * history["val_acc"][-1], elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="dataset (default: mnist when present, else mnist-sample)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--ranks", default="2", help="rank counts to compare with one process (2)")
    p.add_argument("--limit", type=int, help="at most N train and test images")
    a = p.parse_args()
    from tinyconv import data

    name = a.data or data.default_dataset()
    args = ["--data", name, "--epochs", str(a.epochs)]
    if a.limit:
        args += ["--limit", str(a.limit)]
    with tempfile.TemporaryDirectory() as tmp:
        ref, t_ref = train(Path(tmp) / "one", args, 1)
        print(f"{name}, {a.epochs} epoch(s), SimpleConvNet, Adam lr 0.001, global batch 100")
        print("| ranks | test accuracy | difference | wall time |")
        print("|---|---|---|---|")
        print(f"| 1 | {ref:.2f} % | | {t_ref:.0f} s |")
        for k in (int(r) for r in a.ranks.split(",")):
            acc, t = train(Path(tmp) / f"k{k}", args, k)
            print(f"| {k} | {acc:.2f} % | {acc - ref:+.2f} point | {t:.0f} s |")


if __name__ == "__main__":
    main()
