"""The processes ``fit`` trains on: one, or the MPI ranks of ``fit(distributed=...)``.

``fit`` calls the same five hooks either way; ``SingleProcess`` answers them for one process
(nothing to agree on, nothing to combine), ``tinyconv.distributed.FitHooks`` for data-parallel
training (what each hook does there is told in ``tinyconv/distributed/data_parallel.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class SingleProcess:
    """``fit`` in one process: the hooks of ``FitHooks`` with nothing to share."""

    is_root = True  # this process prints and writes checkpoints

    def agree_seed(self, seed: int) -> int:
        return seed

    def prepare(
        self, model: Any, optimizer: Any, train: Any, val: Any, start: int
    ) -> tuple[Any, Any, Any]:
        return train, val, optimizer

    def end_epoch(
        self, model: Any, logs: dict[str, Any], rate: float
    ) -> tuple[dict[str, Any], float]:
        return logs, rate

    def evaluate(
        self, local_evaluate: Callable[..., dict[str, Any]], model: Any, data: Any, **kwargs: Any
    ) -> dict[str, Any]:
        return local_evaluate(model, data, **kwargs)


def ranks_for(distributed: Any) -> Any:
    """``FitHooks(distributed)`` when ``distributed`` is set (it starts MPI), else one process."""
    if not distributed:
        return SingleProcess()
    from ..distributed import FitHooks  # noqa: PLC0415  (mpi4py only when asked for)

    return FitHooks(distributed)
