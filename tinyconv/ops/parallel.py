"""Blocks of independent work spread over a few threads: how tinyconv uses every core.

NumPy releases Python's global interpreter lock inside its copy loops, its ufuncs and its
BLAS calls, so plain Python threads that each take a share of independent blocks (the
image blocks of a convolution, say) run truly in parallel. Each block is a few large
NumPy calls, so the interpreter itself is rarely the bottleneck.

BLAS has threads of its own. Two levels of threads would fight over the cores (a 2-thread
BLAS called from 2 threads at once runs slower than one thread), so inside a parallel
region BLAS is limited to one thread through ``threadpoolctl`` (an optional dependency,
not needed for correctness). Without threadpoolctl the blocks run one after the other and
BLAS keeps its own threads: the same results, only slower.

The split never changes a result: the blocks are the same for any thread count, and every
reduction over blocks (a weight gradient, say) is summed in block order afterwards.

Example:
    >>> import numpy
    >>> out = numpy.zeros(6)
    >>> def fill(worker, k):
    ...     out[2 * k : 2 * k + 2] = k
    >>> run_blocks(fill, 3)
    >>> out.tolist()
    [0.0, 0.0, 1.0, 1.0, 2.0, 2.0]
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse instead of returning it to the OS.

    A training step allocates and frees the same few dozen large arrays every time. By
    default glibc hands large blocks back to the kernel when they are freed (munmap, or a
    trim of the heap top), so the next step takes a page fault on every 4 KiB page it
    touches again: 20-40% of a SimpleConvNet step here. With a fixed mmap threshold of
    32 MiB (glibc's maximum) and no trimming, freed arrays are reused directly, the way
    GPU frameworks keep a caching allocator. The price: the process keeps its peak memory
    mapped after use. Called when tinyconv is imported, unless the environment variable
    ``TINYCONV_KEEP_FREED_MEMORY=0`` is set; does nothing (returns False) outside glibc.
    """
    try:
        import ctypes  # noqa: PLC0415

        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl without mallopt)
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # from glibc's malloc.h
    ok = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1
    return mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1 and ok


if os.environ.get("TINYCONV_KEEP_FREED_MEMORY", "1") != "0":
    keep_freed_memory()

_num_threads: int | None = None  # None: every core this process may run on
_pool: ThreadPoolExecutor | None = None
_blas: Any = None  # a threadpoolctl ThreadpoolController, or False when not installed
_lock = threading.Lock()


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def get_num_threads() -> int:
    """The number of threads tinyconv's parallel blocks use (default: the available cores)."""
    return _cores() if _num_threads is None else _num_threads


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for blocks of work (1: everything on the calling thread).

    Like ``torch.set_num_threads``. BLAS calls outside the parallel regions keep whatever
    thread count BLAS itself is set to (use threadpoolctl to change that).

    Raises:
        ValueError: n < 1.
    """
    global _num_threads, _pool
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    with _lock:
        _num_threads = n
        if _pool is not None:
            _pool.shutdown(wait=True)
            _pool = None


def _blas_controller() -> Any:
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController  # noqa: PLC0415

            _blas = ThreadpoolController()
        except Exception:  # not installed (or no BLAS found): run serially
            _blas = False
    return _blas


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tinyconv")
        return _pool


def workers_for(n_blocks: int) -> int:
    """How many threads ``run_blocks`` uses for ``n_blocks`` blocks (1 without threadpoolctl)."""
    T = min(get_num_threads(), n_blocks)
    if T > 1 and not _blas_controller():
        return 1
    return max(T, 1)


def run_blocks(fn: Callable[[int, int], None], n_blocks: int) -> None:
    """Call ``fn(worker, k)`` once for every block k in range(n_blocks).

    Worker w (0 <= w < ``workers_for(n_blocks)``) runs on its own thread (worker 0 on the
    calling thread) and takes the next block not yet taken until none is left, so a slow
    core (or a big block) never holds the others up; ``worker`` can index per-thread
    scratch arrays. Blocks must write to disjoint memory. An exception is re-raised.
    """
    T = workers_for(n_blocks)
    if T == 1:
        for k in range(n_blocks):
            fn(0, k)
        return
    blocks = itertools.count()  # next() on it is atomic: each block goes to one worker

    def work(w: int) -> None:
        for k in blocks:
            if k >= n_blocks:
                return
            fn(w, k)

    with _blas_controller().limit(limits=1, user_api="blas"):
        pool = _executor(get_num_threads() - 1)
        futures: list[Future[None]] = [pool.submit(work, w) for w in range(1, T)]
        try:
            work(0)
        finally:
            for f in futures:
                f.result()


# Elementwise passes (ReLU, pooling, optimizer updates) are memory bound: split them into
# chunks of about CHUNK_ELEMENTS elements along the outermost axis in memory. Each chunk
# runs all of its passes while it is still in cache (L2 or the shared L3), and the chunks
# share the threads; few big chunks keep the time spent holding the GIL small.
CHUNK_ELEMENTS = 1 << 19  # 512 Ki elements (2 MiB of float32): few chunks, little GIL time


def for_chunks(fn: Callable[[tuple[slice, ...]], None], x: Any, axis: int | None = None) -> None:
    """Call ``fn(index)`` for chunks of x along one axis, spread over the threads.

    ``index`` is a tuple of slices that selects one chunk of x, and of any array of x's shape
    split the same way. The axis defaults to the outermost one in memory (the largest
    stride), so each chunk of a compact array is one contiguous piece. On a GPU, or for a
    small array, ``fn`` is called once with the whole array.

    Example:
        >>> import numpy
        >>> x = numpy.arange(6.0).reshape(2, 3); y = numpy.empty_like(x)
        >>> def double(i):
        ...     numpy.multiply(x[i], 2, out=y[i])
        >>> for_chunks(double, x); y.tolist()
        [[0.0, 2.0, 4.0], [6.0, 8.0, 10.0]]
    """
    if x.ndim == 0 or x.size <= CHUNK_ELEMENTS or type(x).__module__ != "numpy":
        fn((...,))  # x[...] is the whole array, a view even when 0-d
        return
    if axis is None:
        axis = max(range(x.ndim), key=lambda a: abs(x.strides[a]) if x.shape[a] > 1 else -1)
    n = x.shape[axis]
    step = max(1, CHUNK_ELEMENTS // max(1, x.size // n))
    starts = range(0, n, step)
    head = (slice(None),) * axis

    def chunk(worker: int, k: int) -> None:
        a = starts[k]
        fn((*head, slice(a, min(a + step, n))))

    run_blocks(chunk, len(starts))
