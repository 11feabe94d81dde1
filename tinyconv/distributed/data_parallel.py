"""What ``fit(..., distributed=True)`` does on each rank (the trainer calls these hooks).

    mpirun -n 4 python -m mpi4py train.py      # train.py calls fit(..., distributed=True)

1. ``agree_seed``: rank 0's seed is everyone's (same shuffling on every rank).
2. ``prepare``: every rank must start from the same epoch (a resumed run reads the checkpoint
   on each rank: ``checkpoint_dir`` must be on a filesystem they all see); rank 0's weights,
   buffers and optimizer state are broadcast; the optimizer is wrapped in
   ``DistributedOptimizer``; the training batches are sliced by ``ShardedLoader`` (each global
   batch split over the ranks), the validation batches too.
3. ``end_epoch``: BatchNorm running statistics are averaged over ranks (before validation and
   the checkpoint); the epoch's loss and accuracy are summed over ranks, so the history (and
   early stopping, which reads it) is the same everywhere; images/s counts all ranks.
4. ``evaluate``: each rank evaluates its slice (with the ``evaluate`` function ``fit`` passes:
   this package sits below ``tinyconv.train``); loss and accuracy are combined by sample count.
5. Only rank 0 prints and writes checkpoints (``fit`` asks ``is_root``).

The global batch is ``batch_size`` (or the loader's batch): the result is that of one process
training on the same batches, up to floating-point rounding and BatchNorm (each rank normalises
its slice with the slice's statistics).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .collectives import (
    allreduce_max,
    allreduce_sum,
    average_buffers,
    broadcast_json,
    broadcast_optimizer_state,
    broadcast_parameters,
    gather_equal,
)
from .env import rank, size, world_size
from .optimizer import DistributedOptimizer
from .sampler import ShardedLoader


@dataclass
class DataParallel:
    """Settings of ``fit(distributed=DataParallel(...))``; ``distributed=True`` uses the defaults.

    Args:
        bucket_mb (float): gradient bucket size of the ``DistributedOptimizer``. Default: 25.
        sync_buffers (bool): average BatchNorm running statistics at each epoch end.
            Default: True.
    """

    bucket_mb: float = 25.0
    sync_buffers: bool = True


class FitHooks:
    """The distributed side of one ``fit`` call (see the module docstring)."""

    def __init__(self, settings: DataParallel | bool = True) -> None:
        self.settings = settings if isinstance(settings, DataParallel) else DataParallel()
        self.size = world_size()  # starts MPI
        self.rank = rank()
        self.is_root = self.rank == 0
        self.train: ShardedLoader | None = None
        self.optimizer: DistributedOptimizer | None = None

    def agree_seed(self, seed: int) -> int:
        return int(broadcast_json(int(seed)))

    def prepare(
        self, model: Any, optimizer: Any, train: Any, val: Any, start: int
    ) -> tuple[Any, Any, Any]:
        gather_equal(
            int(start),
            "fit(distributed=True): the epoch to start from (resuming needs checkpoint_dir on "
            "a filesystem that every rank sees)",
        )
        broadcast_parameters(model)
        broadcast_optimizer_state(getattr(optimizer, "optimizer", optimizer))
        if not isinstance(optimizer, DistributedOptimizer):
            optimizer = DistributedOptimizer(
                optimizer, model.named_parameters(), bucket_mb=self.settings.bucket_mb
            )
        self.optimizer = optimizer
        self.train = ShardedLoader(train, optimizer)
        val = None if val is None else ShardedLoader(val, drop_small=False)
        return self.train, val, optimizer

    def end_epoch(
        self, model: Any, logs: dict[str, Any], rate: float
    ) -> tuple[dict[str, Any], float]:
        if self.settings.sync_buffers:
            average_buffers(model)
        assert self.train is not None
        seen = self.train.seen
        acc = logs.get("acc")
        loss_sum, acc_sum, total = allreduce_sum(
            [logs["loss"] * seen, 0.0 if acc is None else acc * seen, seen]
        )
        elapsed = allreduce_max([time.perf_counter() - self.train.started])[0]
        logs = dict(logs, loss=loss_sum / total, acc=None if acc is None else acc_sum / total)
        return logs, total / max(elapsed, 1e-12)

    def evaluate(
        self, local_evaluate: Callable[..., dict[str, Any]], model: Any, data: Any, **kwargs: Any
    ) -> dict[str, Any]:
        """``local_evaluate`` (``fit`` passes ``tinyconv.train.evaluate``) on this rank's slices,
        with loss and accuracy combined over ranks.

        Returns a dict with ``loss``, ``accuracy`` (None when not a classifier) and
        ``num_samples`` (over all ranks).
        """
        try:
            res = local_evaluate(model, data, **kwargs)
            n, loss, acc = res["num_samples"], res["loss"], res["accuracy"]
        except ValueError as e:  # a rank whose slices were all empty
            if "gave no batches" not in str(e):
                raise
            n, loss, acc = 0, 0.0, None
        classify = 1.0 if (acc is not None or n == 0) else 0.0
        loss_sum, correct, total, classifiers = allreduce_sum(
            [loss * n, (acc or 0.0) * n, n, classify]
        )
        if total == 0:
            raise ValueError("evaluate: the data gave no batches on any rank")
        return {
            "loss": loss_sum / total,
            "accuracy": correct / total if classifiers == size() else None,
            "num_samples": int(total),
        }


def scale_lr(optimizer: Any, factor: float | None = None) -> float:
    """Multiply every group's learning rate by ``factor`` (default: the number of ranks).

    The linear scaling rule (Goyal et al., 2017, "Accurate, Large Minibatch SGD"): when each
    of K ranks keeps its batch size, the global batch is K times larger and the learning rate
    grows with it. Call it before building a scheduler (``initial_lr`` is scaled too).

    Returns:
        The factor used.

    Example:
        >>> import tinyconv
        >>> opt = tinyconv.optim.SGD(tinyconv.nn.Linear(2, 2).parameters(), lr=0.1)
        >>> scale_lr(opt, 4), opt.param_groups[0]["lr"]
        (4, 0.4)
    """
    factor = world_size() if factor is None else factor
    for group in optimizer.param_groups:
        group["lr"] = group["lr"] * factor
        if "initial_lr" in group:
            group["initial_lr"] = group["initial_lr"] * factor
    return factor
