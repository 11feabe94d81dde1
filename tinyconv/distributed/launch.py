"""``tinyconv launch -n K COMMAND ...``: a thin wrapper over ``mpiexec``.

    tinyconv launch -n 4 train --epochs 2
    # runs: mpiexec -n 4 <python> -m mpi4py -m tinyconv train --epochs 2
    tinyconv launch -n 2 my_script.py --lr 0.1
    # runs: mpiexec -n 2 <python> -m mpi4py my_script.py --lr 0.1

Why ``python -m mpi4py``: when one rank fails, the others are blocked in an allreduce. A rank
that merely exits leaves them waiting forever (its ``MPI_Finalize`` cannot complete the
collective they are in). ``-m mpi4py`` runs the program and, on an uncaught exception or
``sys.exit`` with a non-zero status, calls ``MPI_Abort``, which makes mpiexec kill every rank:
the job ends with the failing rank's error within a second instead of hanging.

Which ``mpiexec``: ``--mpiexec``, else ``$TINYCONV_MPIEXEC``, else the one installed next to
this Python (``pip install mpich`` puts it there), else the first on ``PATH``. Open MPI's
``mpiexec`` refuses to run as root and to start more processes than cores unless told:
``launch`` adds ``--allow-run-as-root`` when run as root and ``--oversubscribe`` when K is
larger than the number of cores (MPICH needs neither).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path


def find_mpiexec(given: str | None = None) -> str:
    """The mpiexec to use (see the module docstring).

    Raises:
        FileNotFoundError: none was found.
    """
    for choice, what in ((given, "--mpiexec"), (os.environ.get("TINYCONV_MPIEXEC"), "")):
        if choice:
            found = choice if os.path.isfile(choice) else shutil.which(choice)
            if not found:
                where = what or "$TINYCONV_MPIEXEC"
                raise FileNotFoundError(f"{where} {choice}: no such program")
            return found
    here = Path(sys.executable).parent
    for name in ("mpiexec", "mpirun"):
        beside = here / name
        if beside.is_file() and os.access(beside, os.X_OK):
            return str(beside)
    for name in ("mpiexec", "mpirun"):
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError(
        "no mpiexec found: pip install 'tinyconv[mpi]' (mpi4py and MPICH), install Open MPI or "
        "MPICH from your system, or pass --mpiexec PATH"
    )


def mpi_flavour(mpiexec: str) -> str:
    """'openmpi', 'mpich' (MPICH, Intel MPI, MVAPICH: hydra) or 'unknown', from ``--version``."""
    try:
        text = subprocess.run(
            [mpiexec, "--version"], capture_output=True, text=True, timeout=20
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if "Open MPI" in text or "OpenRTE" in text or "open-mpi" in text:
        return "openmpi"
    if "HYDRA" in text or "MPICH" in text or "Intel" in text:
        return "mpich"
    return "unknown"


def build_command(
    nprocs: int,
    command: list[str],
    mpiexec: str,
    flavour: str,
    hosts: str | None = None,
    hostfile: str | None = None,
    mpi_args: list[str] | None = None,
    oversubscribe: bool | None = None,
    python: str | None = None,
) -> list[str]:
    """The full ``mpiexec`` command line of ``tinyconv launch``.

    Example:
        >>> build_command(4, ["train", "--epochs", "1"], "mpiexec", "mpich", python="python")
        ['mpiexec', '-n', '4', 'python', '-m', 'mpi4py', '-m', 'tinyconv', 'train', '--epochs', '1']
        >>> cmd = build_command(2, ["run.py"], "mpirun", "openmpi", hosts="a,b", python="py",
        ...                     oversubscribe=True)  # Open MPI: --allow-run-as-root when root
        >>> "--oversubscribe" in cmd, cmd[cmd.index("--host") :]
        (True, ['--host', 'a,b', 'py', '-m', 'mpi4py', 'run.py'])
    """
    cmd = [mpiexec, "-n", str(nprocs)]
    if flavour == "openmpi":
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-run-as-root")
        if oversubscribe is None:
            oversubscribe = nprocs > (os.cpu_count() or 1)
        if oversubscribe:
            cmd.append("--oversubscribe")
        if hosts:
            cmd += ["--host", hosts]
        if hostfile:
            cmd += ["--hostfile", hostfile]
    else:
        if hosts:
            cmd += ["-hosts", hosts]
        if hostfile:
            cmd += ["-f", hostfile]
    cmd += list(mpi_args or [])
    program = [python or sys.executable, "-m", "mpi4py"]
    if command and command[0].endswith(".py"):
        return cmd + program + command
    return cmd + program + ["-m", "tinyconv"] + command


def add_launch_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``tinyconv launch`` to the ``tinyconv`` command."""
    p = sub.add_parser(
        "launch",
        help="run a tinyconv command (or a script) on K MPI processes",
        description="Run `tinyconv COMMAND ...` (or `SCRIPT.py ...`) on K processes with "
        "mpiexec, through `python -m mpi4py` so that a failing rank aborts the whole job. "
        "Example: tinyconv launch -n 4 train --epochs 2",
    )
    p.add_argument("-n", "--nprocs", type=int, required=True, metavar="K", help="processes")
    p.add_argument("--hosts", metavar="H1,H2", help="machines to run on (mpiexec's host list)")
    p.add_argument("--hostfile", metavar="FILE", help="mpiexec host file")
    p.add_argument("--mpiexec", metavar="PATH", help="the mpiexec to use")
    p.add_argument(
        "--oversubscribe",
        action="store_true",
        default=None,
        help="Open MPI: allow more processes than cores (added by itself when K > cores)",
    )
    p.add_argument(
        "--mpi-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for mpiexec (repeatable), e.g. --mpi-arg=-bind-to --mpi-arg=none",
    )
    p.add_argument("--dry-run", action="store_true", help="print the command, do not run it")
    p.add_argument(
        "launched",  # not "command": that is the name of the tinyconv subcommand ("launch")
        nargs=argparse.REMAINDER,
        metavar="COMMAND ...",
        help="train ... or SCRIPT.py",
    )
    p.set_defaults(func=cmd_launch)


def cmd_launch(args: argparse.Namespace) -> int:
    """Run the command under mpiexec and return its exit status."""
    command = list(args.launched)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise ValueError("launch: give the command to run, e.g. tinyconv launch -n 2 train")
    if args.nprocs < 1:
        raise ValueError(f"launch: -n must be a positive integer, got {args.nprocs}")
    mpiexec = find_mpiexec(args.mpiexec)
    cmd = build_command(
        args.nprocs,
        command,
        mpiexec,
        mpi_flavour(mpiexec),
        hosts=args.hosts,
        hostfile=args.hostfile,
        mpi_args=args.mpi_arg,
        oversubscribe=args.oversubscribe,
    )
    if args.dry_run:
        print(" ".join(cmd))
        return 0
    sys.stdout.flush()
    return subprocess.call(cmd)
