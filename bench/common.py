"""Shared pieces of the benchmarks: machine facts, thread control, torch twins of tinyconv models.

Benchmarks run tinyconv and PyTorch in ONE process with the same thread count and report
ratios (the machines are noisy); torch is imported here only, never by the package.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def set_threads(n: int) -> None:
    """The same thread count for PyTorch, for tinyconv's threads and for NumPy's BLAS."""
    import torch

    from tinyconv.ops.parallel import set_num_threads

    torch.set_num_threads(n)
    set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:
        pass


def machine_line(threads: int) -> str:
    import torch

    blas = "?"
    try:
        from threadpoolctl import threadpool_info

        infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if infos:
            info = infos[0]
            blas = f"{info.get('internal_api')} {info.get('version')} ({info.get('architecture')})"
    except ImportError:
        pass
    return (
        f"machine: {cpu_name()}, {os.cpu_count()} logical cores | threads: {threads} | "
        f"numpy {np.__version__} (BLAS {blas}) | torch {torch.__version__} | "
        f"python {platform.python_version()}"
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


def alternate(
    fns: dict[str, Callable[[], Any]], steps: int, warmup: int, round_steps: int = 5
) -> dict[str, list[float]]:
    """Time ``steps`` calls of each callable, in alternating rounds of ``round_steps`` calls.

    Each system first runs ``warmup`` untimed calls. The rounds alternate between the
    systems so that both see the same machine load, but a whole round runs at once, after a
    short pause and one untimed call: a BLAS or OpenMP thread pool keeps spinning for a
    while after its last call, and must not steal the cores from the other system's
    timed steps (interleaving single steps made PyTorch's steps up to 3x slower).
    """
    for f in fns.values():
        for _ in range(warmup):
            f()
    out: dict[str, list[float]] = {k: [] for k in fns}
    while min(len(v) for v in out.values()) < steps:
        for k, f in fns.items():
            time.sleep(0.05)  # let the other system's idle threads go to sleep
            f()
            for _ in range(min(round_steps, steps - len(out[k]))):
                t0 = time.perf_counter()
                f()
                out[k].append(time.perf_counter() - t0)
    return out
