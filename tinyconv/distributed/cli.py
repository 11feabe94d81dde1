"""The distributed side of ``tinyconv train``: its flags and what changes on each rank.

``tinyconv train`` started by ``mpirun -n K`` (K > 1) trains data-parallel by itself
(``--distributed auto``): every rank loads the data and builds the model, rank 0 chooses the
output folder, ``fit(distributed=...)`` splits each batch over the ranks, and only rank 0
prints, writes checkpoints, the model and the history. A rank that fails aborts the job.
"""

from __future__ import annotations

import argparse
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from .env import fail_fast, launched_size, rank, world_size


def _bucket_mb(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def add_train_flags(parser: argparse.ArgumentParser) -> None:
    """Add ``--distributed``, ``--bucket-mb`` and ``--scale-lr`` to ``tinyconv train``."""
    g = parser.add_argument_group(
        "distributed training",
        "under mpirun -n K python -m mpi4py -m tinyconv train ..., or tinyconv launch -n K train",
    )
    g.add_argument(
        "--distributed",
        choices=("auto", "yes", "no"),
        default="auto",
        help="data-parallel over the MPI ranks; auto: when started by mpirun with 2 or more "
        "processes (default auto)",
    )
    g.add_argument(
        "--bucket-mb",
        type=_bucket_mb,
        default=25.0,
        metavar="MB",
        help="gradients are averaged in allreduce buckets of this many MiB (default 25)",
    )
    g.add_argument(
        "--scale-lr",
        action="store_true",
        help="--batch-size per rank (the global batch is K times larger) and the learning "
        "rate times K (the linear scaling rule); default: --batch-size is split over the ranks",
    )


class TrainRun:
    """Where this process stands in a ``tinyconv train`` run (a single process: rank 0 of 1)."""

    def __init__(self, args: argparse.Namespace) -> None:
        choice = getattr(args, "distributed", "no")
        self.enabled = choice == "yes" or (choice == "auto" and launched_size() > 1)
        self.size = world_size() if self.enabled else 1
        self.rank = rank() if self.enabled else 0
        self.is_root = self.rank == 0
        self.bucket_mb = float(getattr(args, "bucket_mb", 25.0))
        self.scale = bool(getattr(args, "scale_lr", False))
        if not self.is_root and getattr(args, "serve", None):
            args.serve = None  # one live page, served by rank 0

    @property
    def fit_arg(self) -> Any:
        """What to pass as ``fit(distributed=...)``."""
        if not self.enabled:
            return False
        from .data_parallel import DataParallel  # noqa: PLC0415

        return DataParallel(bucket_mb=self.bucket_mb)

    def adjust(self, settings: dict[str, Any]) -> None:
        """Record the ranks in a new run's settings; ``--scale-lr`` scales batch and lr by K."""
        if not self.enabled:
            return
        settings["ranks"] = self.size
        if self.scale:
            settings["batch_size"] = int(settings["batch_size"]) * self.size
            settings["lr"] = float(settings["lr"]) * self.size
            settings["scale_lr"] = True

    def agree_path(self, path: Path) -> Path:
        """Rank 0's output folder (its name holds a time stamp) on every rank."""
        if not self.enabled:
            return path
        from .collectives import broadcast_json  # noqa: PLC0415

        return Path(broadcast_json(str(path)))

    def guard(self) -> AbstractContextManager[None]:
        """Abort the whole job when this rank fails (others would wait in the allreduce)."""
        return fail_fast("tinyconv train") if self.enabled else nullcontext()
