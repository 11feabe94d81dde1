"""Before NumPy loads OpenBLAS: its AVX-512 kernels on AMD CPUs that have them, and a short spin.

OpenBLAS (NumPy's bundled build, 0.3.31) picks its kernels from the CPU it detects when it
loads, and takes AMD Zen 4 / Zen 5 CPUs for "Haswell": AVX2 kernels on a CPU with AVX-512.
Measured on an AMD EPYC Zen 5 (1 thread, float32 GEMM of the zoo's im2col shapes): 96-116
GFLOP/s with the Haswell kernels, 157-218 with ``OPENBLAS_CORETYPE=SkylakeX``. This module sets
``OPENBLAS_CORETYPE=SkylakeX`` when all of these hold, and does nothing otherwise:

* NumPy is not imported yet (afterwards the kernels are chosen; import tinyconv first, or set
  the variable yourself before starting Python);
* ``$OPENBLAS_CORETYPE`` is not set (a value you set always wins, e.g. ``Haswell`` to undo this);
* Linux on an AMD CPU whose flags (``/proc/cpuinfo``) include AVX-512 F, CD, BW, DQ and VL, the
  instructions OpenBLAS's SkylakeX kernels use. Intel CPUs are left alone: OpenBLAS
  already detects theirs.

Second, ``OPENBLAS_THREAD_TIMEOUT=20`` (unless set): after each call OpenBLAS's worker threads
busy-wait 2^28 cycles (~0.1 s) by default before they sleep, and take a core from tinyconv's
own threads and Numba's OpenMP workers meanwhile; 2^20 cycles is ~0.3 ms. Measured (Zen 5, 2
threads, resnet18 inference, batch 1, medians): 44 -> 35 ms on the compiled kernels, 37 -> 29 ms
on the NumPy reference; batch 8 and the training steps unchanged.

It imports nothing but the standard library (NumPy must not be loaded by it).
"""

from __future__ import annotations

import os
import sys

AVX512 = {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}


def _amd_avx512(cpuinfo: str) -> bool:
    """Whether /proc/cpuinfo's text describes an AMD CPU with the AVX-512 subsets above."""
    vendor = flags = None
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "vendor_id" and vendor is None:
            vendor = value.strip()
        elif key == "flags" and flags is None:
            flags = set(value.split())
        if vendor is not None and flags is not None:
            break
    return vendor == "AuthenticAMD" and flags is not None and AVX512 <= flags


def prefer_avx512_kernels() -> str | None:
    """Set ``OPENBLAS_CORETYPE=SkylakeX`` where the module docstring says; return the value set."""
    if "numpy" in sys.modules or os.environ.get("OPENBLAS_CORETYPE"):
        return None
    if not sys.platform.startswith("linux"):
        return None
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            text = f.read(65536)
    except OSError:
        return None
    if not _amd_avx512(text):
        return None
    os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
    return "SkylakeX"


def short_thread_spin() -> str | None:
    """Set ``OPENBLAS_THREAD_TIMEOUT=20`` before NumPy loads, unless set; return the value set."""
    if "numpy" in sys.modules or os.environ.get("OPENBLAS_THREAD_TIMEOUT"):
        return None
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = "20"
    return "20"


prefer_avx512_kernels()
short_thread_spin()
