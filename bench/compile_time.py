"""What the compiled kernels cost before they pay: Numba's first compile, and its cached load.

    python bench/compile_time.py --threads 2            # cold, then cached, then NumPy
    python bench/compile_time.py --threads 2 --train    # also `tinyconv train` on the sample

Each measurement is a fresh Python process, so nothing is warm in memory:

* cold: ``$NUMBA_CACHE_DIR`` an empty temporary directory: every kernel is compiled;
* cached: a second process on that directory: every kernel is loaded from Numba's cache;
* numpy: ``TINYCONV_KERNELS=numpy``, the reference, nothing compiled (the baseline).

Per process: ``import tinyconv`` (with ``tinyconv.kernels``, which imports and configures
Numba on the numba path), then for each workload its first call (compile or cache load
included) and the median of the next calls; the difference is what the first call cost.
Counted from the Numba dispatchers of ``tinyconv.kernels``: the kernels compiled and the
kernels loaded from the cache. ``--train`` times ``tinyconv train --data mnist-sample``
(6 epochs on the embedded 5,000 images) cold and cached: the README promises it under two
minutes on 2 cores including the first compile.
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

WORKLOADS = ("simple_convnet train step b100", "deep_convnet train step b100", "resnet18 eval b2")


def child() -> None:
    """One process: import, then each workload's first call and steady calls, as JSON."""
    t0 = time.perf_counter()
    import numpy as np

    import tinyconv
    import tinyconv.functional as F
    import tinyconv.kernels as K
    from tinyconv import models, optim

    out: dict[str, object] = {"kernels": K.name(), "import_s": time.perf_counter() - t0}
    rng = np.random.default_rng(0)

    def train_step(name: str, batch: int):  # noqa: ANN202
        tinyconv.manual_seed(0)
        model = models.get(name)
        opt = optim.Adam(model.parameters(), lr=1e-3)
        x = tinyconv.tensor(rng.random((batch, *model.input_shape), dtype=np.float32))
        y = tinyconv.tensor(rng.integers(0, 10, batch))

        def step() -> None:
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()

        return step

    def eval_call(name: str, batch: int):  # noqa: ANN202
        tinyconv.manual_seed(0)
        model = models.get(name).eval()
        x = tinyconv.tensor(rng.standard_normal((batch, *model.input_shape), dtype=np.float32))

        def run() -> None:
            with tinyconv.no_grad():
                model(x)

        return run

    makers = {
        WORKLOADS[0]: lambda: train_step("simple_convnet", 100),
        WORKLOADS[1]: lambda: train_step("deep_convnet", 100),
        WORKLOADS[2]: lambda: eval_call("resnet18", 2),
    }
    for name, make in makers.items():
        fn = make()
        t = time.perf_counter()
        fn()
        first = time.perf_counter() - t
        steady = []
        for _ in range(3):
            t = time.perf_counter()
            fn()
            steady.append(time.perf_counter() - t)
        out[name] = {"first_s": first, "steady_s": sorted(steady)[1]}
    out["total_s"] = time.perf_counter() - t0
    out.update(dispatcher_counts())
    print("RESULT " + json.dumps(out))


def dispatcher_counts() -> dict[str, int]:
    """Kernels (Numba dispatchers in tinyconv.kernels.*) compiled, and loaded from the cache."""
    import pkgutil

    import tinyconv.kernels as K

    if not K.enabled():
        return {}
    import importlib

    from numba.core.registry import CPUDispatcher

    compiled = cached = dispatchers = 0
    for info in pkgutil.iter_modules(K.__path__, K.__name__ + "."):
        module = sys.modules.get(info.name) or importlib.import_module(info.name)
        for obj in vars(module).values():
            if isinstance(obj, CPUDispatcher) and obj.__module__ == module.__name__:
                dispatchers += 1
                compiled += sum(obj.stats.cache_misses.values())
                cached += sum(obj.stats.cache_hits.values())
    return {"dispatchers": dispatchers, "compiled": compiled, "from_cache": cached}


def run_child(env: dict[str, str]) -> dict[str, object]:
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=1200,
    )
    wall = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(f"child failed:\n{out.stderr[-3000:]}")
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")][-1]
    result = json.loads(line[len("RESULT ") :])
    result["process_wall_s"] = wall
    return result


def time_train(env: dict[str, str], workdir: str, tag: str) -> float:
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "tinyconv", "train", "--data", "mnist-sample", "--quiet"]
        + ["--out", os.path.join(workdir, f"run-{tag}")],
        capture_output=True,
        text=True,
        env=env,
        cwd=workdir,
        timeout=1800,
    )
    if out.returncode != 0:
        raise SystemExit(f"tinyconv train failed:\n{out.stderr[-3000:]}")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--train", action="store_true", help="also time `tinyconv train` (sample)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child()
        return
    sys.path.insert(0, str(HERE))
    from common import cpu_flags, cpu_name, load_line

    base = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS"):
        base[var] = str(args.threads)
    print(f"machine: {cpu_name()}, {os.cpu_count()} logical cores, {cpu_flags()}")
    print(f"threads: {args.threads} (BLAS, OpenMP, Numba) | dtype float32 | {load_line()}")
    with tempfile.TemporaryDirectory(prefix="tinyconv-numba-cache-") as cache:
        numba_env = {**base, "TINYCONV_KERNELS": "numba", "NUMBA_CACHE_DIR": cache}
        runs = {
            "cold (empty cache)": run_child(numba_env),
            "cached": run_child(numba_env),
            "numpy (no kernels)": run_child({**base, "TINYCONV_KERNELS": "numpy"}),
        }
        files = list(Path(cache).rglob("*"))
        size = sum(f.stat().st_size for f in files if f.is_file())
        n_index = sum(1 for f in files if f.suffix == ".nbi")
        train = {}
        if args.train:
            with tempfile.TemporaryDirectory(prefix="tinyconv-train-") as work:
                with tempfile.TemporaryDirectory(prefix="tinyconv-numba-cache-") as cold:
                    train["numba, cold cache"] = time_train(
                        {**numba_env, "NUMBA_CACHE_DIR": cold}, work, "cold"
                    )
                    train["numba, cached"] = time_train(
                        {**numba_env, "NUMBA_CACHE_DIR": cold}, work, "cached"
                    )
                train["numpy"] = time_train({**base, "TINYCONV_KERNELS": "numpy"}, work, "np")
    head = f"{'process':<22}{'import':>9}" + "".join(f"{w:>34}" for w in WORKLOADS)
    print(f"\n{head}{'kernels compiled/cached':>26}{'process wall':>14}")
    for label, r in runs.items():
        cells = "".join(
            f"{r[w]['first_s']:>12.2f} s first, {1000 * r[w]['steady_s']:>7.1f} ms next"
            for w in WORKLOADS
        )
        counts = (
            f"{r.get('compiled', '-')}/{r.get('from_cache', '-')} of {r.get('dispatchers', '-')}"
        )
        print(
            f"{label:<22}{r['import_s']:>7.2f} s{cells}{counts:>26}{r['process_wall_s']:>12.1f} s"
        )
    print(f"\ncache: {n_index} index files, {size / 2**20:.1f} MiB, in $NUMBA_CACHE_DIR")
    cold, warm = runs["cold (empty cache)"], runs["cached"]
    print(
        f"first-call cost over the three workloads: cold "
        f"{sum(cold[w]['first_s'] - cold[w]['steady_s'] for w in WORKLOADS):.1f} s, cached "
        f"{sum(warm[w]['first_s'] - warm[w]['steady_s'] for w in WORKLOADS):.1f} s; "
        f"import: cold {cold['import_s']:.2f} s, cached {warm['import_s']:.2f} s, numpy "
        f"{runs['numpy (no kernels)']['import_s']:.2f} s"
    )
    for label, seconds in train.items():
        print(f"tinyconv train --data mnist-sample (6 epochs), {label}: {seconds:.1f} s wall")
    print(f"after: {load_line()}")


if __name__ == "__main__":
    main()
