"""Latency of the playground's POST /api/predict: a drawing in, class + every feature map out.

    python bench/serve_latency.py                          # SimpleConvNet, 2 threads, 200 requests
    python bench/serve_latency.py runs/<run>/model.safetensors --requests 500 --threads 1

The server runs in this process on 127.0.0.1 (port chosen by the OS); a client sends what the
page sends while drawing: a 140x140 grey array (an MNIST test digit scaled up 5x, as JSON) with
all feature maps requested, on one keep-alive connection. Reported: the round-trip time
(JSON encoding, HTTP, decoding, MNIST preprocessing, forward with hooks, 8-bit maps, base64,
JSON answer) as median / 95th percentile / max, the server's own share (``time_ms``), and the
bytes each way. The goal is a median under 50 ms on 2 cores; the exit status is 1 when the
median is above ``--limit-ms``. Only loopback traffic; the request count is bounded.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import time

import numpy as np


def limit_threads(n: int) -> str:
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
        return f"{n} (threadpoolctl)"
    except ImportError:
        return f"{n} (OMP/OPENBLAS_NUM_THREADS; threadpoolctl not installed)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("model", nargs="?", help="a .safetensors model (default: SimpleConvNet)")
    ap.add_argument("--requests", type=int, default=200, help="timed requests (200, max 5000)")
    ap.add_argument("--threads", type=int, default=2, help="BLAS threads (2)")
    ap.add_argument("--limit-ms", type=float, default=50.0, help="goal for the median (50)")
    args = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(args.threads))
    threads = limit_threads(args.threads)

    import tinyconv
    from tinyconv import data, models
    from tinyconv.serve import Playground, load_playground, make_server, start_in_thread

    if args.model:
        playground = load_playground(args.model)
    else:
        tinyconv.manual_seed(0)
        playground = Playground(models.get("simple_convnet"), (1, 28, 28), mean=(0.1307,),
                                std=(0.3081,), source="SimpleConvNet (random weights)")  # fmt: skip
    x, _ = data.load("mnist-sample", "test")
    digit = np.kron(x[0, 0], np.ones((5, 5), np.uint8))  # (140, 140), like the page's pad
    body = json.dumps({"image": digit.tolist(), "invert": False}).encode()

    server = make_server(playground, "127.0.0.1", 0)
    start_in_thread(server)
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
    headers = {"Content-Type": "application/json"}

    def once() -> tuple[float, dict, int]:
        t0 = time.perf_counter()
        conn.request("POST", "/api/predict", body=body, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        answer = json.loads(raw)
        elapsed = 1000 * (time.perf_counter() - t0)
        if resp.status != 200:
            raise SystemExit(f"HTTP {resp.status}: {answer}")
        return elapsed, answer, len(raw)

    try:
        for _ in range(10):  # warm-up
            once()
        rtt, server_ms = [], []
        n = max(1, min(args.requests, 5000))
        for _ in range(n):
            ms, answer, size = once()
            rtt.append(ms)
            server_ms.append(answer["time_ms"])
    finally:
        conn.close()
        server.shutdown()
        server.server_close()

    maps = ", ".join(f"{m['name']} {'x'.join(map(str, m['shape']))}" for m in answer["maps"])
    median = statistics.median(rtt)
    p95 = float(np.percentile(rtt, 95))
    print(f"machine: {os.cpu_count()} logical cores | BLAS threads: {threads} | "
          f"numpy {np.__version__} | python {sys.version.split()[0]}")  # fmt: skip
    print(f"model: {playground.source} | maps: {maps}")
    print(f"request {len(body):,} B (140x140 JSON array) | answer {size:,} B | {n} requests")
    print(f"round trip: median {median:.2f} ms | p95 {p95:.2f} ms | max {max(rtt):.2f} ms")
    inside = statistics.median(server_ms)
    print(f"server side (preprocess + forward + maps): median {inside:.2f} ms")
    ok = median <= args.limit_ms
    print(f"goal: median < {args.limit_ms:g} ms -> {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
