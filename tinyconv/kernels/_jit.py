"""Numba, configured once for tinyconv: where its cache lives, its threads, ``njit``.

Imported only through ``tinyconv.kernels.numba_available()`` (or by a kernel module), never
when the kernels are off, so ``import tinyconv`` does not pay Numba's import time.

* Cache: compiled machine code goes to the user cache directory
  (``platformdirs.user_cache_dir("tinyconv")/numba``, ``~/.cache/tinyconv/numba`` on Linux),
  never beside the installed package, unless ``$NUMBA_CACHE_DIR`` says otherwise. That cache
  is Numba's own (an index it writes and reads itself, like a ``.pyc``); no model or data
  file is ever read through it.
* Threads: Numba's OpenMP layer where it loads, else TBB, else ``workqueue``
  (``$NUMBA_THREADING_LAYER_PRIORITY`` = ``omp tbb workqueue``), unless
  ``$NUMBA_THREADING_LAYER`` or that priority is set. The workqueue layer wakes sleeping
  workers for every parallel region and the main thread does not take part: 73 us per empty
  region at 2 threads (2 us with OpenMP), and its two workers often land on one core for
  several steps after an idle moment (AMD EPYC Zen 5, 2 cores: DeepConvNet step median 44 ms
  on workqueue, 33 ms on OpenMP, 31 ms on TBB; minima 30-34 ms). An earlier prototype saw
  OpenMP's spinning threads fight OpenBLAS's pool; the kernels now hold BLAS to one thread
  where both run, and the side-by-side benchmarks pause between systems. GNU OpenMP's idle
  workers spin 300,000 times before sleeping (tens of ms here), taking a core from tinyconv's own
  threads: Numba's pool is started when this module loads with ``GOMP_SPINCOUNT=10000``
  (``$TINYCONV_OMP_SPINCOUNT``; an empty value keeps libgomp's default), set only for that
  moment and never over a ``GOMP_SPINCOUNT`` or ``OMP_WAIT_POLICY`` of the user's. Measured
  (Zen 5, 2 threads): fast_mnist step with the stride-2 kernels 18.2 -> 12.9 ms; the
  DeepConvNet and SimpleConvNet steps unchanged.
* ``njit``: ``numba.njit`` with ``cache=True`` and ``error_model="numpy"`` (the default
  "python" model keeps every loop with a division from being vectorised).
* One parallel kernel at a time: the workqueue layer (the fallback) is not thread-safe; a
  ``parallel=True`` kernel entered from two Python threads at once aborts the process
  ("Concurrent access has been detected"), and ``tinyconv serve`` answers requests on several
  threads; two OpenMP teams at once would also oversubscribe the cores. ``njit`` with
  ``parallel=True`` returns the kernel behind one process-wide lock (each call uses every
  Numba thread anyway, so callers only queue).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any


def cache_dir() -> Path:
    """Where Numba keeps the kernels it compiled: ``$NUMBA_CACHE_DIR`` or the user cache."""
    env = os.environ.get("NUMBA_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    try:
        import platformdirs  # noqa: PLC0415

        base = Path(platformdirs.user_cache_dir("tinyconv", appauthor=False))
    except ImportError:
        base = Path.home() / ".cache" / "tinyconv"
    return base / "numba"


# Numba reads these when it is imported: set them first, keeping what the user chose.
os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir()))
if "NUMBA_THREADING_LAYER" not in os.environ:
    os.environ["NUMBA_THREADING_LAYER"] = "default"  # the first of the priority list that loads
    os.environ.setdefault("NUMBA_THREADING_LAYER_PRIORITY", "omp tbb workqueue")

import numba  # noqa: E402

numba.config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]  # in case Numba was imported before us
prange = numba.prange

# GNU OpenMP's idle workers spin GOMP_SPINCOUNT times (300,000 by default: milliseconds) before
# they sleep, and hold a core the whole time: against tinyconv's own threads (fused conv blocks,
# Linear, batch norm and ReLU chunks), which then wait for it. The count is read once, when
# Numba's OpenMP layer loads libgomp: set it only for that moment (PyTorch's own libgomp, loaded
# with torch, keeps whatever the environment says), unless the user set it or a wait policy.
SPINCOUNT = os.environ.get("TINYCONV_OMP_SPINCOUNT", "10000")


def _launch_threads() -> None:
    """Start Numba's thread pool now, with GNU OpenMP's short spin (see above)."""
    from numba.np.ufunc import parallel  # noqa: PLC0415

    mine = not any(v in os.environ for v in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY"))
    if mine and SPINCOUNT:
        os.environ["GOMP_SPINCOUNT"] = SPINCOUNT
    try:
        parallel._launch_threads()
    finally:
        if mine and SPINCOUNT:
            del os.environ["GOMP_SPINCOUNT"]


_launch_threads()


_PARALLEL_LOCK = threading.Lock()


class LockedKernel:
    """A ``parallel=True`` Numba kernel called under ``_PARALLEL_LOCK`` (see the module notes).

    Call it from Python only (nopython code cannot call through the lock); the compiled
    dispatcher stays reachable as ``.dispatcher`` and its attributes through this object.
    """

    def __init__(self, dispatcher: Any) -> None:
        self.dispatcher = dispatcher
        self.__doc__ = dispatcher.__doc__
        self.__name__ = getattr(dispatcher, "__name__", "kernel")

    def __call__(self, *args: Any) -> Any:
        with _PARALLEL_LOCK:
            return self.dispatcher(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.dispatcher, name)


def njit(*args: Any, **kwargs: Any) -> Callable[..., Any]:
    """``numba.njit`` with tinyconv's defaults (``cache=True``, ``error_model="numpy"``).

    Use as ``@njit`` or ``@njit(parallel=True, fastmath=...)``; keyword arguments override
    the defaults. A ``parallel=True`` kernel comes back as a ``LockedKernel``.
    """
    options = {"cache": True, "error_model": "numpy", "nogil": True}
    if args and callable(args[0]) and len(args) == 1 and not kwargs:
        return numba.njit(**options)(args[0])
    options.update(kwargs)
    compiled = numba.njit(*args, **options)
    if not kwargs.get("parallel"):
        return compiled
    if args and callable(args[0]):  # njit(fn, parallel=True)
        return LockedKernel(compiled)
    return lambda fn: LockedKernel(compiled(fn))


def vector_width() -> int:
    """Floats per SIMD register in the code Numba compiles here: 16 with AVX-512, else 8.

    Read from the CPU LLVM compiles for (the host, or ``$NUMBA_CPU_NAME`` when set, e.g.
    ``generic`` for a portable cache: then 8). ``$TINYCONV_VECTOR_WIDTH=8`` forces the
    8-float tile shapes (tests use it to check both variants on one machine); the generated
    tiles in ``conv_tiles.py`` are chosen by it.
    """
    forced = os.environ.get("TINYCONV_VECTOR_WIDTH", "").strip()
    if forced:
        if forced not in ("8", "16"):
            raise ValueError(f"TINYCONV_VECTOR_WIDTH must be 8 or 16, got {forced!r}")
        return int(forced)
    return _target_vector_width()


@functools.cache
def _target_vector_width() -> int:
    """``vector_width`` of the CPU Numba compiles for, asked once (LLVM's query costs ~0.2 ms)."""
    if numba.config.CPU_NAME and numba.config.CPU_NAME != "host":
        features = numba.config.CPU_FEATURES or ""
        return 16 if "+avx512f" in features else 8
    import llvmlite.binding as ll  # noqa: PLC0415

    return 16 if ll.get_host_cpu_features().get("avx512f", False) else 8


def slp_njit(signatures: Any, **kwargs: Any) -> Callable[..., Any]:
    """``njit`` compiled at once for ``signatures`` with LLVM's SLP vectoriser switched on.

    Numba runs LLVM without the SLP (straight-line code) vectoriser by default
    (``NUMBA_SLP_VECTORIZE=0``); register-tiled kernels written lane by lane need it to
    become AVX code (measured: 1-2 GFLOP/s scalar, 50-70 vectorised). Only the kernels
    decorated here are compiled with it; the setting is restored afterwards.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        before = numba.config.SLP_VECTORIZE
        numba.config.SLP_VECTORIZE = 1
        try:
            return njit(signatures, **kwargs)(fn)
        finally:
            numba.config.SLP_VECTORIZE = before

    return decorate
