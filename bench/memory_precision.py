"""Peak memory of one DeepConvNet training step (batch 100) in fp32 and in fp16-mixed.

    python bench/memory_precision.py --threads 1
    python bench/memory_precision.py --model simple_convnet --batch 100

How it is measured. NumPy reports every array buffer it allocates to Python's
``tracemalloc``, so ``tracemalloc.get_traced_memory()`` counts the bytes of all live arrays
(and Python objects) of the process, including those allocated in tinyconv's worker threads.
Each precision runs in the same process, after two warm-up steps (so Adam's moment
estimates, the thread pool and the scratch buffers already exist), from a baseline taken
with the model, the optimizer, its state and the input batch alive and no graph:

* activations: the memory still held when the forward pass (and the loss) has finished, i.e.
  everything the graph keeps for backward (each convolution's input, ReLU masks, max-pool
  arg-max indices, dropout masks, the 16-bit weight copies) plus the logits and the loss;
* peak: the highest memory reached during forward, backward and the optimizer step, above
  the baseline (activations + gradients + the backward pass's temporaries).

The graph's own accounting is printed beside it: the bytes of the arrays saved by the
Functions of the graph, by dtype (the parameters and the input batch, which exist anyway,
left out). fp16-mixed keeps float32 master weights, gradients and
Adam state (in the baseline, identical in both runs); only the activations are 16-bit.
The activation ratio fp16-mixed / fp32 must be at most 60 % for DeepConvNet. (SimpleConvNet
is no test of it: its activations after the pool are small, and the float16 copy of its
432,000-weight Dense layer, which autocast makes for every forward, outweighs what the
16-bit activations save; its peak still drops to about 57 %.)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tracemalloc
from collections import defaultdict
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tinyconv  # noqa: E402
from tinyconv import amp, models, optim  # noqa: E402
from tinyconv import functional as F  # noqa: E402
from tinyconv.tensor import Function  # noqa: E402

MAX_RATIO = 0.60
MiB = 2**20


def saved_by_dtype(root: Any, params: set[int]) -> dict[str, int]:
    """Bytes of the arrays the graph below ``root`` keeps for backward, by dtype.

    The model's own parameter arrays (ids in ``params``) are left out: they exist anyway.
    """
    out: dict[str, int] = defaultdict(int)
    seen: set[int] = set()
    stack = [root._ctx]
    arrays: dict[int, Any] = {}
    while stack:
        fn = stack.pop()
        if not isinstance(fn, Function) or id(fn) in seen:
            continue
        seen.add(id(fn))
        values = list(getattr(fn, "saved", ()))
        while values:
            v = values.pop()
            if isinstance(v, (tuple, list)):  # e.g. a packed mask with its shape
                values.extend(v)
            elif hasattr(v, "nbytes") and hasattr(v, "dtype"):
                base = v.base if getattr(v, "base", None) is not None else v
                if id(base) not in params:
                    arrays[id(base)] = base  # views of one buffer count once
        stack.extend(getattr(fn, "parents", ()))
    for a in arrays.values():
        out[a.dtype.name] += int(a.nbytes)
    return dict(out)


def measure(name: str, precision: str, batch: int, seed: int) -> dict[str, Any]:
    tinyconv.manual_seed(seed)
    model = models.get(name, num_classes=10)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(seed)
    x = tinyconv.tensor(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32))
    y = tinyconv.tensor(rng.integers(0, 10, batch))
    amp_dtype, scaler = amp.training_precision(precision)

    def forward() -> Any:
        with amp.autocast(amp_dtype, enabled=amp_dtype is not None):
            return F.cross_entropy(model(x), y)

    def backward_and_step(loss: Any) -> None:
        opt.zero_grad()
        if scaler is None:
            loss.backward()
            opt.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()

    with np.errstate(over="ignore", invalid="ignore"):  # fp16: the first step overflows at
        for _ in range(2):  # 2^16 and is skipped. Warm-up: Adam state, threads, scratch
            backward_and_step(forward())
    opt.zero_grad()
    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    loss = forward()
    held, _ = tracemalloc.get_traced_memory()
    graph = saved_by_dtype(loss, {id(p.data) for p in model.parameters()} | {id(x.data)})
    with np.errstate(over="ignore", invalid="ignore"):
        backward_and_step(loss)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "model": name,
        "precision": precision,
        "batch": batch,
        "activation_bytes": held - base,
        "peak_bytes": peak - base,
        "graph_saved_bytes": graph,
        "summary_activation_bytes_per_sample": model.summary(
            (1, 28, 28), dtype=amp_dtype or "float32"
        ).activation_bytes,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--model", default="deep_convnet", choices=("deep_convnet", "simple_convnet"))
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="tinyconv threads (default: all cores)")
    p.add_argument("--json", help="also write the results to this JSON file")
    args = p.parse_args(argv)
    if args.threads:
        tinyconv.ops.parallel.set_num_threads(args.threads)
    given = " ".join(argv if argv is not None else sys.argv[1:])
    print(f"command: python bench/memory_precision.py {given}")
    rows = [measure(args.model, prec, args.batch, args.seed) for prec in ("fp32", "fp16-mixed")]
    print(f"{args.model}, one training step, batch {args.batch} (tracemalloc, above the baseline)")
    print("| precision | activations held after forward | peak during the step | graph saves |")
    print("|---|---|---|---|")
    for r in rows:
        saves = ", ".join(f"{k} {v / MiB:.2f}" for k, v in sorted(r["graph_saved_bytes"].items()))
        print(
            f"| {r['precision']} | {r['activation_bytes'] / MiB:.2f} MiB | "
            f"{r['peak_bytes'] / MiB:.2f} MiB | {saves} MiB |"
        )
    ratio = rows[1]["activation_bytes"] / rows[0]["activation_bytes"]
    peak_ratio = rows[1]["peak_bytes"] / rows[0]["peak_bytes"]
    per_sample = [r["summary_activation_bytes_per_sample"] / MiB for r in rows]
    print(
        f"fp16-mixed / fp32: activations {100 * ratio:.1f} % (at most {100 * MAX_RATIO:.0f} %), "
        f"peak {100 * peak_ratio:.1f} %; summary(): {per_sample[0]:.3f} -> {per_sample[1]:.3f} "
        "MiB of layer outputs per sample"
    )
    ok = ratio <= MAX_RATIO
    print(f"RESULT: {'OK' if ok else 'ABOVE THE LIMIT'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"rows": rows, "activation_ratio": ratio, "peak_ratio": peak_ratio}, f, indent=2
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
