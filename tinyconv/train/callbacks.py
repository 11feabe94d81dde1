"""Training control: callbacks, early stopping, and the two ways training ends early.

``Callback`` hooks are called by ``fit`` at the start and end of training, of each epoch and
after each batch. Raising ``StopTraining`` from a hook ends training gracefully;
``TrainingDiverged`` (defined in ``tinyconv.errors``) is what ``fit`` raises when the loss
becomes NaN or infinite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import TrainingDiverged

__all__ = ["Callback", "EarlyStopping", "StopTraining", "TrainingDiverged"]


class StopTraining(Exception):  # noqa: N818 - a control signal, like StopIteration
    """Raise from a callback to end ``fit`` gracefully; the message becomes ``stopped_reason``."""


class Callback:
    """Hooks called by ``fit``; override the ones you need. ``logs`` is a dict of numbers.

    ``on_batch_end`` logs: ``loss`` (this batch), ``batch_size``. ``on_epoch_end`` logs: the
    epoch's history values. Raise ``StopTraining`` to end training after the current point.
    """

    def on_train_begin(self, logs: dict[str, Any]) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None: ...

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None: ...

    def on_train_end(self, logs: dict[str, Any]) -> None: ...


@dataclass
class EarlyStopping:
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    Args:
        patience (int): epochs without improvement before stopping. Default: 3.
        min_delta (float): the least decrease that counts as an improvement. Default: 0.0.
        monitor (str): a history key to minimise; "val_loss" falls back to "loss" when ``fit``
            has no validation data. Default: "val_loss".
        restore_best (bool): give the model the weights of the best epoch when stopping.
            Default: True.
    """

    patience: int = 3
    min_delta: float = 0.0
    monitor: str = "val_loss"
    restore_best: bool = True

    def __post_init__(self) -> None:
        if (
            isinstance(self.patience, bool)
            or not isinstance(self.patience, int)
            or self.patience < 1
        ):
            raise ValueError(
                f"EarlyStopping: patience must be a positive integer, got {self.patience!r}"
            )
        if not self.min_delta >= 0:
            raise ValueError(f"EarlyStopping: min_delta must be >= 0, got {self.min_delta!r}")

    def status(self, values: list[Any]) -> tuple[int, int]:
        """(best epoch index, epochs since it) from the monitored values so far."""
        best, best_i, wait = math.inf, -1, 0
        for i, v in enumerate(values):
            if v is not None and v < best - self.min_delta:
                best, best_i, wait = v, i, 0
            else:
                wait += 1
        return best_i, wait
