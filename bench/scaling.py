"""Data-parallel scaling: images/s of DeepConvNet and resnet20 on 1, 2 and 4 MPI ranks, the
allreduce time per step, the effect of the bucket size, the measured allreduce bandwidth, and
what the same step would give on a real cluster.

    python bench/scaling.py                  # about 3 minutes on 2 cores
    python bench/scaling.py --quick          # fewer steps (a smoke run)
    python bench/scaling.py --netns          # also the TCP bandwidth between two namespaces
    python bench/scaling.py --json out.json

Weak scaling: each rank keeps its batch (--batch, default 32), so K ranks process K times the
images per step. One process per rank and one BLAS thread per process (OMP_NUM_THREADS=1):
2 ranks use the 2 cores of this machine, 4 ranks oversubscribe them (MPICH allows it), so the
4-rank numbers measure the cost of sharing cores, not a cluster. The projection does that:

    step(K) = compute + allreduce(K),   allreduce(K) = 2 (K-1) alpha + 2 (K-1)/K * S / B

for the ring allreduce (each rank sends and receives 2 (K-1)/K of the S gradient bytes;
Patarasuk & Yuan, 2009), with ``compute`` the one-rank step measured here, ``alpha`` and ``B``
the latency and bus bandwidth measured here (shared memory, and TCP over a veth link with
--netns), and the nominal bandwidths of 10 Gb/s Ethernet and 100 Gb/s InfiniBand. No overlap of
communication with the backward pass is assumed (tinyconv reduces after backward).

The worker side runs under mpiexec: ``python -m mpi4py bench/scaling.py --worker train ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"deep_convnet": (1, 28), "resnet20": (3, 32)}  # (channels, image side)


# ------------------------------------------------------------------------- worker side
def worker_train(model_name: str, batch: int, steps: int, warmup: int, bucket_mb: float) -> None:
    import tinyconv
    import tinyconv.functional as F
    from tinyconv import distributed as dist
    from tinyconv.distributed.collectives import allreduce_max, allreduce_sum
    from tinyconv.optim import SGD

    dist.init()
    K, rank = dist.size(), dist.rank()
    C, side = MODELS[model_name]
    tinyconv.manual_seed(0)
    model = tinyconv.models.get(model_name, **({"in_channels": C} if C == 3 else {}))
    rng = np.random.default_rng(rank)
    x = tinyconv.tensor(rng.random((batch, C, side, side), dtype=np.float32))
    y = tinyconv.tensor(rng.integers(0, 10, batch))
    dist.broadcast_parameters(model)
    opt = dist.DistributedOptimizer(
        SGD(model.parameters(), lr=0.01, momentum=0.9), model.named_parameters(), bucket_mb
    )
    step_times, compute_times, wait_times = [], [], []
    for i in range(warmup + steps):
        if i == warmup:
            opt.stats.reset()
        dist.barrier()
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        t1 = time.perf_counter()
        dist.barrier()  # waiting for the slowest rank is not allreduce time
        tb = time.perf_counter()
        opt.step()
        t2 = time.perf_counter()
        if i >= warmup:
            step_times.append(t2 - t0)
            compute_times.append(t1 - t0)
            wait_times.append(tb - t1)
    per = opt.stats.per_step()
    step = float(allreduce_max([np.median(step_times)])[0])  # the slowest rank sets the pace
    compute = float(allreduce_sum([np.median(compute_times)])[0]) / K
    allreduce = float(allreduce_sum([per["allreduce_s"]])[0]) / K
    wait = float(allreduce_sum([np.median(wait_times)])[0]) / K
    if rank == 0:
        grad_bytes = sum(p.data.nbytes for p in model.parameters())
        arrays = len(list(model.parameters()))
        print(
            json.dumps(
                {
                    "kind": "train",
                    "model": model_name,
                    "ranks": K,
                    "batch_per_rank": batch,
                    "bucket_mb": bucket_mb,
                    "buckets": len(opt.buckets),
                    "step_s": step,
                    "compute_s": compute,
                    "allreduce_s": allreduce,
                    "wait_s": wait,
                    "pack_s": per["pack_s"],
                    "grad_bytes": grad_bytes,
                    "arrays": arrays,
                    "images_per_s": K * batch / step,
                }
            ),
            flush=True,
        )


def worker_bandwidth(max_mb: float, repeats: int) -> None:
    from tinyconv import distributed as dist
    from tinyconv.distributed.collectives import allreduce_max
    from tinyconv.distributed.env import comm, mpi

    dist.init()
    K, MPI, c = dist.size(), mpi(), comm()
    rows = []
    nbytes = 1024
    while nbytes <= max_mb * 2**20:
        buf = np.ones(nbytes // 4, dtype=np.float32)
        c.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)  # warm-up
        times = []
        for _ in range(repeats):
            c.Barrier()
            t0 = time.perf_counter()
            c.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            times.append(time.perf_counter() - t0)
        t = float(allreduce_max([np.median(times)])[0])
        rows.append({"bytes": nbytes, "seconds": t})
        nbytes *= 4
    if dist.rank() == 0:
        print(json.dumps({"kind": "bandwidth", "ranks": K, "rows": rows}), flush=True)


# ------------------------------------------------------------------------- driver side
def mpiexec_cmd(k: int, args: list[str]) -> list[str]:
    from tinyconv.distributed.launch import build_command, find_mpiexec, mpi_flavour

    exe = find_mpiexec()
    return build_command(k, [str(Path(__file__).resolve()), "--worker", *args], exe,
                         mpi_flavour(exe))  # fmt: skip


def run_worker(cmd: list[str], timeout: float = 600) -> list[dict[str, Any]]:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def alpha_beta(rows: list[dict[str, Any]], K: int) -> tuple[float, float]:
    """Latency alpha (s) and bus bandwidth B (bytes/s) of the ring model, from two measurements.

    alpha from the smallest message (t = 2 (K-1) alpha when S/B is negligible), B from the
    largest (B = 2 (K-1)/K S / (t - 2 (K-1) alpha)).
    """
    small, big = rows[0], rows[-1]
    alpha = small["seconds"] / (2 * (K - 1))
    B = 2 * (K - 1) / K * big["bytes"] / max(big["seconds"] - 2 * (K - 1) * alpha, 1e-12)
    return alpha, B


def ring_time(S: float, K: int, alpha: float, B: float) -> float:
    return 0.0 if K == 1 else 2 * (K - 1) * alpha + 2 * (K - 1) / K * S / B


def netns_bandwidth(max_mb: float, repeats: int) -> dict[str, Any] | None:
    script = ROOT / "scripts" / "netns_two_hosts.sh"
    cmd = ["bash", str(script), "run", "2", sys.executable, "-m", "mpi4py",
           str(Path(__file__).resolve()), "--worker", "bandwidth", "--max-mb", str(max_mb),
           "--repeats", str(repeats)]  # fmt: skip
    try:
        out = run_worker(cmd)
    except (RuntimeError, subprocess.SubprocessError, OSError) as e:
        print(f"(no namespace measurement: {str(e).splitlines()[0]})")
        return None
    return out[0] if out else None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--worker", choices=("train", "bandwidth"), help=argparse.SUPPRESS)
    p.add_argument("--model", default="deep_convnet", help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=32, help="images per rank per step (32)")
    p.add_argument("--steps", type=int, default=10, help="timed steps per run (10)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--bucket-mb", type=float, default=25.0)
    p.add_argument("--ranks", default="1,2,4", help="rank counts (1,2,4)")
    p.add_argument("--max-mb", type=float, default=64.0, help="largest allreduce measured")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--quick", action="store_true", help="3 steps, 4 MiB at most")
    p.add_argument("--netns", action="store_true", help="measure TCP between two namespaces")
    p.add_argument("--json", help="write every measurement to this file")
    a = p.parse_args()
    if a.worker == "train":
        return worker_train(a.model, a.batch, a.steps, a.warmup, a.bucket_mb)
    if a.worker == "bandwidth":
        return worker_bandwidth(a.max_mb, a.repeats)
    if a.quick:
        a.steps, a.max_mb, a.repeats = 3, 4.0, 3
    ranks = [int(k) for k in a.ranks.split(",")]
    common = ["--batch", str(a.batch), "--steps", str(a.steps), "--warmup", str(a.warmup)]
    results: list[dict[str, Any]] = []
    print(f"machine: {os.cpu_count()} logical cores; one rank per process, OMP_NUM_THREADS=1")

    print(f"\n## Throughput (weak scaling, batch {a.batch} per rank, bucket {a.bucket_mb:g} MiB)")
    print("| model | ranks | images/s | speed-up | step ms | compute ms | wait ms | allreduce ms |")
    print("|---|---|---|---|---|---|---|---|")
    base: dict[str, float] = {}
    for model in MODELS:
        for k in ranks:
            cmd = mpiexec_cmd(k, ["train", "--model", model, "--bucket-mb", str(a.bucket_mb),
                                  *common])  # fmt: skip
            r = run_worker(cmd)[0]
            results.append(r)
            base.setdefault(model, r["images_per_s"])
            print(
                f"| {model} | {k} | {r['images_per_s']:.0f} | "
                f"{r['images_per_s'] / base[model]:.2f}x | {1e3 * r['step_s']:.1f} | "
                f"{1e3 * r['compute_s']:.1f} | {1e3 * r['wait_s']:.1f} | "
                f"{1e3 * r['allreduce_s']:.2f} |"
            )

    print("\n## Bucket size (resnet20, 2 ranks; 0 MiB = one allreduce per gradient array)")
    print("| bucket MiB | allreduce calls/step | allreduce ms/step | pack ms/step |")
    print("|---|---|---|---|")
    for mb in (0.0, 0.0625, 1.0, 25.0):
        cmd = mpiexec_cmd(2, ["train", "--model", "resnet20", "--bucket-mb", str(mb), *common])
        r = run_worker(cmd)[0]
        results.append(r)
        print(f"| {mb:g} | {r['buckets']} | {1e3 * r['allreduce_s']:.2f} | "
              f"{1e3 * r['pack_s']:.2f} |")  # fmt: skip

    print("\n## Allreduce bandwidth (float32 sum, median of repeats, slowest rank)")
    fits: dict[str, tuple[float, float, int]] = {}
    bw_runs = []
    for k in [k for k in ranks if k > 1]:
        cmd = mpiexec_cmd(k, ["bandwidth", "--max-mb", str(a.max_mb), "--repeats", str(a.repeats)])
        over = " (oversubscribed)" if k > (os.cpu_count() or 1) else ""
        bw_runs.append((f"shared memory, {k} ranks{over}", run_worker(cmd)[0]))
    if a.netns:
        r = netns_bandwidth(a.max_mb, a.repeats)
        if r is not None:
            bw_runs.append(("TCP over veth, 2 namespaces", r))
    for label, r in bw_runs:
        results.append(dict(r, label=label))
        K = r["ranks"]
        alpha, B = alpha_beta(r["rows"], K)
        fits[label] = (alpha, B, K)
        big = r["rows"][-1]
        algbw = big["bytes"] / big["seconds"]
        print(
            f"- {label}: {big['bytes'] / 2**20:.0f} MiB in {1e3 * big['seconds']:.2f} ms "
            f"(algorithm bandwidth {algbw / 1e9:.2f} GB/s, bus bandwidth "
            f"{algbw * 2 * (K - 1) / K / 1e9:.2f} GB/s); "
            f"1 KiB in {1e6 * r['rows'][0]['seconds']:.0f} us: ring latency {1e6 * alpha:.1f} us"
        )

    print("\n## On a cluster (one rank per node, this CPU's one-rank compute time)")
    networks = {f"measured: {k}": (v[0], v[1]) for k, v in fits.items()}
    networks["10 Gb/s Ethernet (alpha 20 us)"] = (20e-6, 1.25e9)
    networks["100 Gb/s InfiniBand (alpha 2 us)"] = (2e-6, 12.5e9)
    one = {r["model"]: r for r in results if r["kind"] == "train" and r["ranks"] == 1}
    print("| model | network | K=2 | K=8 | K=32 | K=128 | K=128 unfused |")
    print("|---|---|---|---|---|---|---|")
    for model, r in one.items():
        S, compute, n = r["grad_bytes"], r["step_s"], r["arrays"]
        for net, (alpha, B) in networks.items():
            cells = []
            for K in (2, 8, 32, 128):
                step = compute + ring_time(S, K, alpha, B)
                cells.append(f"{K * a.batch / step:,.0f} ({100 * compute / step:.0f} %)")
            # one allreduce per gradient array: n latencies instead of one
            step = compute + ring_time(S, 128, alpha, B) + (n - 1) * 2 * 127 * alpha
            cells.append(f"{128 * a.batch / step:,.0f} ({100 * compute / step:.0f} %)")
            print(
                f"| {model} ({S / 2**20:.2f} MiB, {n} arrays) | {net} | " + " | ".join(cells) + " |"
            )
    print("(images/s, and in brackets the efficiency: compute time / step time)")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
