"""Shared pieces of the benchmarks: machine facts, thread control, torch twins of tinyconv models.

Benchmarks run tinyconv and PyTorch in ONE process with the same thread count and report
ratios (the machines are noisy); torch is imported here only, never by the package.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def threads_from_argv(argv: list[str]) -> int | None:
    """The ``--threads N`` (or ``--threads=N``) of a command line, None when it has none."""
    for i, a in enumerate(argv):
        value = a.partition("=")[2] if a.startswith("--threads=") else None
        if a == "--threads" and i + 1 < len(argv):
            value = argv[i + 1]
        if value is not None:
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _thread_env_before_import() -> None:
    """Put ``--threads`` into the BLAS/OpenMP/Numba environment before NumPy loads its BLAS.

    A script imports this module before NumPy, so this works without threadpoolctl too
    (``set_threads`` then also limits the pools at run time). Values the user set win.
    """
    n = threads_from_argv(sys.argv[1:])
    if n is not None and n > 0 and "numpy" not in sys.modules:
        for var in THREAD_ENV:
            os.environ.setdefault(var, str(n))


_thread_env_before_import()

# tinyconv before NumPy: tinyconv._openblas may choose OpenBLAS's kernels (AMD AVX-512)
import tinyconv  # noqa: E402, F401, I001
import numpy as np  # noqa: E402


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cpu_flags() -> str:
    """The vector extensions that decide which kernels the libraries pick: AVX2, FMA, AVX-512."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
            else:
                return "flags unknown"
    except OSError:
        return "flags unknown"
    parts = [f"{'AVX2' if 'avx2' in flags else 'no AVX2'}", "FMA" if "fma" in flags else "no FMA"]
    avx512 = sorted(f for f in flags if f.startswith("avx512"))
    parts.append(f"AVX-512 ({', '.join(avx512)})" if avx512 else "no AVX-512")
    return ", ".join(parts)


def load_line() -> str:
    """The 1, 5 and 15 minute load averages (what ``uptime`` shows): other jobs on the cores."""
    try:
        a, b, c = os.getloadavg()
    except OSError:
        return "load: unknown"
    return f"load average {a:.2f}, {b:.2f}, {c:.2f} ({os.cpu_count()} logical cores)"


def kernel_paths(choice: str = "both") -> list[str]:
    """tinyconv's kernel paths to time: ``numba`` (when it imports) and ``numpy``.

    ``choice``: ``both`` (every available path), ``numba`` or ``numpy``.
    """
    import tinyconv.kernels as K

    if choice == "both":
        return ["numba", "numpy"] if K.numba_available() else ["numpy"]
    if choice == "numba" and not K.numba_available():
        raise SystemExit("--kernels numba: Numba does not import (pip install 'tinyconv[fast]')")
    return [choice]


def under_kernels(path: str, fn: Callable[[], Any]) -> Callable[[], Any]:
    """``fn`` run with tinyconv's kernel path ``path`` selected (``kernels.using``) per call."""
    import tinyconv.kernels as K

    def run() -> Any:
        with K.using(path):
            return fn()

    return run


def set_threads(n: int) -> None:
    """One thread count for PyTorch, tinyconv's blocks, Numba's kernels and NumPy's BLAS.

    onnxruntime gets it per session (``ort_session``).
    """
    import torch

    import tinyconv.kernels as K
    from tinyconv.ops.parallel import set_num_threads

    torch.set_num_threads(n)
    set_num_threads(n)
    if K.numba_available():
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:  # the environment set before NumPy's import holds BLAS to n
        pass


def machine_line(threads: int) -> str:
    """CPU, its vector extensions, threads, library versions and the load, on three lines."""
    import torch

    import tinyconv.kernels as K

    blas = "?"
    try:
        from threadpoolctl import threadpool_info

        infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if infos:
            info = infos[0]
            blas = f"{info.get('internal_api')} {info.get('version')} ({info.get('architecture')})"
    except ImportError:
        pass
    if K.numba_available():
        import numba

        try:
            layer = numba.threading_layer()  # known once a parallel kernel has run
        except ValueError:
            layer = numba.config.THREADING_LAYER
        jit = f"numba {numba.__version__} ({layer} threading layer)"
    else:
        jit = "numba not available"
    return (
        f"machine: {cpu_name()}, {os.cpu_count()} logical cores, {cpu_flags()}\n"
        f"threads: {threads} (torch, onnxruntime, tinyconv, numba, BLAS) | numpy {np.__version__}"
        f" (BLAS {blas}) | {jit} | torch {torch.__version__} | "
        f"python {platform.python_version()}\n{load_line()}"
    )


def torch_twin(model: Any) -> Any:
    """Build the same network in PyTorch from a tinyconv Sequential-like model, weights copied.

    Layers are mapped by type in order of ``named_modules``; parameters and buffers are then
    copied by position, so the two networks compute the same function.
    """
    import torch

    from tinyconv import nn

    layers = []
    for _, m in model.named_modules():
        if m._modules:
            continue
        if isinstance(m, nn.Conv2d):
            layers.append(
                torch.nn.Conv2d(
                    m.in_channels,
                    m.out_channels,
                    m.kernel_size,
                    m.stride,
                    m.padding,
                    m.dilation,
                    m.groups,
                    bias=m.bias is not None,
                )
            )
        elif isinstance(m, nn.Linear):
            layers.append(torch.nn.Linear(m.in_features, m.out_features, bias=m.bias is not None))
        elif isinstance(m, nn.ReLU):
            layers.append(torch.nn.ReLU())
        elif isinstance(m, nn.MaxPool2d):
            layers.append(torch.nn.MaxPool2d(m.kernel_size, m.stride, m.padding))
        elif isinstance(m, nn.Flatten):
            layers.append(torch.nn.Flatten())
        elif isinstance(m, nn.Dropout):
            layers.append(torch.nn.Dropout(m.p))
        elif isinstance(m, nn.BatchNorm2d):
            layers.append(torch.nn.BatchNorm2d(m.num_features, m.eps, m.momentum))
        else:
            raise NotImplementedError(f"torch_twin: no mapping for {type(m).__name__}")
    twin = torch.nn.Sequential(*layers)
    src = [p for p in model.parameters()]
    dst = list(twin.parameters())
    assert [tuple(p.shape) for p in src] == [tuple(p.shape) for p in dst]
    with torch.no_grad():
        for s, d in zip(src, dst, strict=True):
            d.copy_(torch.from_numpy(s.numpy().copy()))
        bns = [m for _, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)]
        twin_bns = [m for m in twin if isinstance(m, torch.nn.BatchNorm2d)]
        for s, d in zip(bns, twin_bns, strict=True):  # running statistics too
            d.running_mean.copy_(torch.from_numpy(s.running_mean.numpy().copy()))
            d.running_var.copy_(torch.from_numpy(s.running_var.numpy().copy()))
    return twin


def median_ms(times: list[float]) -> float:
    return 1000 * statistics.median(times)


def timings(times: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """``alternate``'s seconds as ``ms`` (medians) and ``ms_min`` (fastest call) per system."""
    return {
        "ms": {k: median_ms(v) for k, v in times.items()},
        "ms_min": {k: 1000 * min(v) for k, v in times.items()},
    }


def alternate(
    fns: dict[str, Callable[[], Any]],
    steps: int,
    warmup: int,
    round_steps: int = 5,
    settle_s: float = 0.03,
) -> dict[str, list[float]]:
    """Time ``steps`` calls of each callable, in alternating rounds of ``round_steps`` calls.

    Each system first runs ``warmup`` untimed calls. The rounds alternate between the
    systems so that both see the same machine load, but a whole round runs at once, after a
    short pause and ``settle_s`` seconds of untimed calls (at least one): a BLAS or OpenMP
    thread pool keeps spinning for a while after its last call, and must not steal the cores
    from the other system's timed steps (interleaving single steps made PyTorch's steps up to
    3x slower). The untimed calls let the cores the pause left idle come back: on the
    project's virtual machines a vCPU that idled 50 ms runs the next ~20-30 ms of work at
    about half speed (measured: a 1 ms two-thread kernel took 2 ms for its first 5-7 calls
    after a pause, and not with an idle-priority spinner keeping the vCPU busy), which a
    round of 5 short steps would otherwise measure instead of the system. Every system gets
    the same treatment; ``settle_s=0`` gives the old single untimed call.
    """
    for f in fns.values():
        for _ in range(warmup):
            f()
    out: dict[str, list[float]] = {k: [] for k in fns}
    while min(len(v) for v in out.values()) < steps:
        for k, f in fns.items():
            time.sleep(0.05)  # let the other system's idle threads go to sleep
            t_end = time.perf_counter() + settle_s
            f()
            while time.perf_counter() < t_end:
                f()
            for _ in range(min(round_steps, steps - len(out[k]))):
                t0 = time.perf_counter()
                f()
                out[k].append(time.perf_counter() - t0)
    return out


TORCH = "PyTorch"


def system_name(path: str) -> str:
    """The column name of tinyconv on one kernel path: ``tinyconv (numba)``."""
    return f"tinyconv ({path})"


def print_table(
    title: str, rows: list[dict[str, Any]], systems: list[str], key: str = "ms"
) -> None:
    """One line per benchmark: ms (images/s) per system, then speed ratios vs PyTorch.

    ``rows``: dicts with ``name``, ``batch`` and ``key`` (system -> ms: ``ms`` the medians,
    ``ms_min`` the fastest calls); a ratio is PyTorch's time / the system's time, so > 1
    means faster than PyTorch.
    """
    others = [s for s in systems if s != TORCH]
    width = 22
    labels = [short_name(s) + "/PyTorch" for s in others]
    head = f"{title:<34}{'batch':>6}" + "".join(f"{s:>{width}}" for s in systems)
    head += "".join(f"{label:>{len(label) + 2}}" for label in labels)
    print("\n" + head)
    for r in rows:
        line = f"{r['name']:<34}{r['batch']:>6}"
        for s in systems:
            ms = r[key][s]
            cell = f"{ms:.2f} ms ({r['batch'] / ms * 1000:,.0f}/s)"
            line += f"{cell:>{width}}"
        for s, label in zip(others, labels, strict=True):
            cell = f"{r[key][TORCH] / r[key][s]:.2f}x"
            line += f"{cell:>{len(label) + 2}}"
        print(line)


def short_name(system: str) -> str:
    """``tinyconv (numba)`` -> ``numba``, ``onnxruntime`` -> ``ort``: ratio column labels."""
    if system.startswith("tinyconv ("):
        return system[len("tinyconv (") : -1]
    return {"onnxruntime": "ort"}.get(system, system)


def ort_session(torch_model: Any, example: np.ndarray, threads: int, workdir: str) -> Any:
    """onnxruntime running ``torch_model``, exported by ``torch.onnx.export`` into ``workdir``.

    TorchScript exporter (``dynamo=False``), opset 17, the example's fixed shape; the CPU
    provider with ``intra_op_num_threads=threads`` and one inter-op thread, all graph
    optimisations on (onnxruntime's default).
    """
    import onnxruntime as ort
    import torch

    path = os.path.join(workdir, f"model{len(os.listdir(workdir))}.onnx")
    torch_model.eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "legacy TorchScript-based export"
        torch.onnx.export(
            torch_model,
            (torch.from_numpy(example),),
            path,
            dynamo=False,
            opset_version=17,
            input_names=["x"],
            output_names=["y"],
        )
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
