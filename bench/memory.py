"""Peak memory of one training step (forward, loss, backward, Adam): tinyconv and PyTorch.

    python bench/memory.py                                  # DeepConvNet, batch 100
    python bench/memory.py --model simple_convnet --batch 100 --threads 1

tinyconv is measured on each kernel path (``TINYCONV_KERNELS=numba`` when Numba imports, and
``numpy``), each in its own subprocess.

Each system runs in its own fresh subprocess (so neither sees the other's allocations),
builds the same network (the PyTorch twin gets tinyconv's initial weights), makes one batch
of float32 images and an Adam optimizer, and runs two untimed warm-up steps, so that the
optimizer state, the thread pools and the libraries' lazy allocations exist before the
measurement. Then, three times: garbage-collect, read the resident set size (VmRSS), reset
the kernel's high-water mark (``echo 5 > /proc/self/clear_refs``), run one step and read
the high-water mark again (VmHWM). The peak of a step is the largest VmHWM - VmRSS_before.

What that measures: the memory a step adds on top of the weights, gradients of the previous
step, optimizer state and the batch, i.e. activations saved for backward, gradients and
temporaries, at their simultaneous peak. Both children run with glibc's
``MALLOC_MMAP_THRESHOLD_=65536``, so every array of 64 KiB or more is its own mapping and is
returned to the kernel when freed: the resident size then follows the live arrays of both
libraries the same way (PyTorch's CPU allocator and NumPy both sit on malloc).
``TINYCONV_KEEP_FREED_MEMORY=0`` turns off tinyconv's malloc tuning, which keeps freed
memory mapped on purpose. For tinyconv the script also reports tracemalloc's peak (NumPy
registers its array buffers with tracemalloc), an independent check of the same quantity.

Linux only (it reads /proc/self/status).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _peak_of(step) -> int:  # noqa: ANN001
    """Bytes by which the resident set grows at its peak during one call of ``step``."""
    gc.collect()
    before = _status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current resident size
    step()
    return (_status_kib("VmHWM") - before) * 1024


def child(system: str, model_name: str, batch: int, threads: int) -> dict:
    import numpy as np

    import tinyconv
    import tinyconv.functional as F
    from tinyconv import models, optim
    from tinyconv.ops.parallel import set_num_threads

    tinyconv.manual_seed(0)
    model = models.get(model_name)
    rng = np.random.default_rng(0)
    x = rng.random((batch, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    out: dict = {"system": system}
    if system == "tinyconv":
        set_num_threads(threads)
        try:
            from threadpoolctl import threadpool_limits

            threadpool_limits(threads)
        except ImportError:
            pass
        xc, yc = tinyconv.tensor(x), tinyconv.tensor(y)
        opt = optim.Adam(model.parameters(), lr=1e-3)

        def step() -> None:
            opt.zero_grad()
            F.cross_entropy(model(xc), yc).backward()
            opt.step()

    else:
        import torch
        from common import torch_twin

        torch.set_num_threads(threads)
        twin = torch_twin(model)
        del model
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        opt_t = torch.optim.Adam(twin.parameters(), lr=1e-3)

        def step() -> None:
            opt_t.zero_grad()
            torch.nn.functional.cross_entropy(twin(xt), yt).backward()
            opt_t.step()

    for _ in range(2):
        step()
    out["rss_peak_bytes"] = max(_peak_of(step) for _ in range(3))
    if system == "tinyconv":
        import tracemalloc

        tracemalloc.start()
        peaks = []
        for _ in range(3):
            gc.collect()
            tracemalloc.reset_peak()
            start = tracemalloc.get_traced_memory()[0]
            step()
            peaks.append(tracemalloc.get_traced_memory()[1] - start)
        tracemalloc.stop()
        out["tracemalloc_peak_bytes"] = max(peaks)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", default="deep_convnet")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--child", choices=("tinyconv", "torch"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.model, args.batch, args.threads)))
        return 0

    from common import machine_line

    import tinyconv.kernels as K

    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", TINYCONV_KEEP_FREED_MEMORY="0")
    paths = ["numba", "numpy"] if K.numba_available() else ["numpy"]
    systems = [(f"tinyconv ({p})", "tinyconv", p) for p in paths] + [("PyTorch", "torch", "numpy")]
    results = {}
    for label, system, path in systems:
        cmd = [sys.executable, __file__, "--child", system, "--model", args.model,
               "--batch", str(args.batch), "--threads", str(args.threads)]  # fmt: skip
        proc = subprocess.run(
            cmd, env={**env, "TINYCONV_KERNELS": path}, capture_output=True, text=True, check=True
        )
        results[label] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(machine_line(args.threads))
    print(
        f"peak memory of one training step (fwd + loss + bwd + Adam) | {args.model} | "
        f"batch {args.batch} | float32 | threads {args.threads} | each system in a fresh "
        "subprocess, MALLOC_MMAP_THRESHOLD_=65536, peak VmHWM - VmRSS before the step, max of 3"
    )
    mib = 1 / 2**20
    th = results["PyTorch"]["rss_peak_bytes"]
    for label, r in results.items():
        extra = ""
        if "tracemalloc_peak_bytes" in r:
            extra = (
                f"   (tracemalloc, NumPy arrays only: {r['tracemalloc_peak_bytes'] * mib:.1f} MiB)"
            )
        print(f"  {label:<18}{r['rss_peak_bytes'] * mib:8.1f} MiB{extra}")
    for label, r in results.items():
        if label != "PyTorch":
            print(
                f"RESULT | peak step memory {label} / PyTorch = {r['rss_peak_bytes'] / th:.2f}x "
                f"({args.model}, batch {args.batch}, float32)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
