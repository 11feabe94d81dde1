"""The MPI world: ``init``, ``rank``, ``size``, and making one failing rank end the whole job.

mpi4py is imported on the first call of ``init()`` (or of anything that communicates), never
when ``tinyconv`` or ``tinyconv.distributed`` is imported: a single-process program does not
start MPI. Without ``init()``, ``rank()`` is 0 and ``size()`` is 1, so the same script runs
alone or under ``mpirun``.

Why a failing rank must abort the job: data-parallel ranks meet in a collective (the
gradient allreduce) at every step. When one rank dies of an exception and exits normally,
Python calls ``MPI_Finalize`` on the way out while the others wait forever in the allreduce
for a message that never comes: the job hangs instead of failing. ``MPI_Abort`` instead tells
the launcher (mpiexec) to kill every process of the job. ``python -m mpi4py script.py`` does
this for an uncaught exception and for ``sys.exit(code)`` with a non-zero code; ``init()``
installs the same behaviour for uncaught exceptions of a plain ``python script.py``, and
``fail_fast()`` for code that catches its errors to turn them into an exit status (the
``tinyconv`` command).
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType, TracebackType
from typing import Any

from ..errors import TrainingDiverged

_MPI: ModuleType | None = None

# Environment variables by which launchers tell a process its world size (read without MPI).
_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_SIZE")
_RANK_VARIABLES = ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "MV2_COMM_WORLD_RANK", "PMIX_RANK")
# Seconds between printing a failing rank's error and MPI_Abort. The launcher forwards each
# rank's stderr asynchronously, and the abort kills the job, so output written just before it
# can be lost (seen with MPICH's hydra: a traceback cut off mid-way); the pause lets it through.
_FORWARD_DELAY_S = 1.0


def _import_mpi() -> ModuleType:
    try:
        from mpi4py import MPI  # noqa: PLC0415  (lazy: importing it starts MPI)
    except ImportError as e:
        raise ImportError(
            "tinyconv.distributed needs mpi4py and an MPI library: pip install 'tinyconv[mpi]' "
            f"(mpi4py and MPICH from PyPI) ({e})"
        ) from None
    return MPI


def init(abort_on_exception: bool = True) -> Any:
    """Start MPI (once) and return ``MPI.COMM_WORLD``; None when running alone without mpi4py.

    When mpi4py is not installed and no launcher started this process with more ranks
    (``launched_size() == 1``), there is nothing to communicate with: ``init()`` returns None,
    ``size()`` stays 1 and every collective of this package is a no-op, so a distributed
    script still runs as a single process.

    Args:
        abort_on_exception (bool): make an uncaught exception in this process print its
            traceback and call ``MPI_Abort``, so that the other ranks do not hang in a
            collective. Default: True.

    Returns:
        mpi4py's ``MPI.COMM_WORLD`` communicator, or None (single process, no mpi4py).

    Raises:
        ImportError: mpi4py (or the MPI library it loads) is missing in a process that a
            launcher started with several ranks.
    """
    global _MPI
    if _MPI is None:
        try:
            _MPI = _import_mpi()
        except ImportError:
            if launched_size() > 1:
                raise
            return None
        if abort_on_exception and _MPI.COMM_WORLD.Get_size() > 1:
            _install_excepthook()
    return _MPI.COMM_WORLD


def world_size() -> int:
    """``init()``, then the number of ranks (1 without MPI): the start of every collective."""
    init()
    return size()


def is_initialized() -> bool:
    """True once ``init()`` has run in this process (mpi4py imported, MPI started)."""
    return _MPI is not None


def mpi() -> ModuleType:
    """The ``mpi4py.MPI`` module, starting MPI if needed.

    Raises:
        ImportError: mpi4py is not installed.
    """
    if init() is None:
        _import_mpi()  # raises the ImportError with the installation hint
    assert _MPI is not None
    return _MPI


def comm() -> Any:
    """``MPI.COMM_WORLD`` (starts MPI if needed; ImportError without mpi4py)."""
    return mpi().COMM_WORLD


def rank() -> int:
    """This process's rank: 0 ... size()-1; 0 when MPI was not started."""
    return 0 if _MPI is None else int(_MPI.COMM_WORLD.Get_rank())


def size() -> int:
    """Number of processes in the job; 1 when MPI was not started."""
    return 1 if _MPI is None else int(_MPI.COMM_WORLD.Get_size())


def is_root(root: int = 0) -> bool:
    """True on the rank that writes files and prints (rank 0 by default)."""
    return rank() == root


def barrier() -> None:
    """Wait until every rank gets here (nothing when MPI was not started)."""
    if _MPI is not None:
        _MPI.COMM_WORLD.Barrier()


def launched_size() -> int:
    """The world size announced by the launcher's environment, read without starting MPI.

    ``mpiexec``/``mpirun`` of MPICH, Intel MPI, Open MPI and MVAPICH set one of
    ``PMI_SIZE``, ``OMPI_COMM_WORLD_SIZE``, ``MV2_COMM_WORLD_SIZE``; 1 when none is set.
    """
    for name in _SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 1


def launched_rank() -> int:
    """This process's rank as the launcher's environment gives it (0 when not launched)."""
    for name in _RANK_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 0


def abort(code: int = 1, message: str | None = None) -> None:
    """Print ``message`` (prefixed with the rank) on stderr, then end every rank of the job.

    Without MPI (or with a single process) this is ``sys.exit(code)``.
    """
    if message:
        who = f"[rank {rank()}/{size()}] " if size() > 1 else ""
        print(f"{who}{message}", file=sys.stderr, flush=True)
    if _MPI is not None and size() > 1:
        _abort_job(code)
    sys.stdout.flush()
    sys.exit(code)


def _abort_job(code: int) -> None:
    """Flush, give the launcher time to forward what this rank printed, then MPI_Abort."""
    sys.stdout.flush()
    sys.stderr.flush()
    time.sleep(_FORWARD_DELAY_S)
    _MPI.COMM_WORLD.Abort(int(code) or 1)


def _summary(e: BaseException) -> str:
    """``"Kind: message"`` on one line."""
    return f"{type(e).__name__}: {' '.join((str(e) or type(e).__name__).split())}"


@contextmanager
def fail_fast(what: str = "tinyconv") -> Iterator[None]:
    """Abort the whole job when the block raises on this rank (Ctrl-C excepted).

    Exit status: 3 for ``TrainingDiverged``, 2 for a user error (``ValueError``, ``OSError``,
    ...), 1 otherwise (the status mpiexec reports may be the abort's or its own).

    Example:
        >>> with fail_fast():      # with one process, an error just propagates
        ...     x = 1 + 1
    """
    try:
        yield
    except KeyboardInterrupt:
        raise
    except BaseException as e:
        if size() <= 1:
            raise
        if isinstance(e, TrainingDiverged):
            code = 3
        elif isinstance(e, (OSError, ValueError, TypeError, KeyError, ImportError)):
            code = 2
        elif isinstance(e, SystemExit):
            code = e.code if isinstance(e.code, int) else 1
            if code == 0:
                raise
        else:
            code = 1
        if os.environ.get("TINYCONV_DEBUG"):
            traceback.print_exc()
        abort(code, f"{what}: {_summary(e)}; aborting all ranks")


def _install_excepthook() -> None:
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        aborting = _MPI is not None and not issubclass(kind, KeyboardInterrupt)
        if aborting:
            # the one line that matters first, in case the launcher drops the end of the output
            print(f"[rank {rank()}/{size()}] {_summary(value)}", file=sys.stderr, flush=True)
        previous(kind, value, tb)
        if aborting:
            _abort_job(1)

    sys.excepthook = hook
