"""Training control: callbacks, early stopping, and the two ways training ends early.

``Callback`` hooks are called by ``fit`` at the start and end of training, of each epoch and
after each batch. Raising ``StopTraining`` from a hook ends training gracefully;
``TrainingDiverged`` (defined in ``tinyconv.errors``) is what ``fit`` raises when the loss
becomes NaN or infinite.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import TrainingDiverged

__all__ = [
    "Callback",
    "CallbackList",
    "EarlyStop",
    "EarlyStopping",
    "StopTraining",
    "TrainingDiverged",
]


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


# ----------------------------------------------------------------- inside one fit call
class CallbackList:
    """The user's callbacks of one ``fit`` call; each hook is called on those that have it."""

    def __init__(self, callbacks: Iterable[Any] | None) -> None:
        self.callbacks = list(callbacks or [])

    def call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            fn = getattr(cb, hook, None)
            if fn is not None:
                fn(*args)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any], history: Any) -> bool:
        """Call ``on_epoch_end``; True when a callback raised ``StopTraining`` (recorded)."""
        try:
            self.call("on_epoch_end", epoch, dict(logs))
        except StopTraining as e:
            history.stopped_reason = str(e) or f"stopped by a callback after epoch {epoch}"
            return True
        return False


class EarlyStop:
    """``EarlyStopping`` applied in one ``fit`` call: keeps the best epoch's weights, says when
    to stop, and gives the model the best weights back (from memory or ``best.safetensors``).

    Args:
        early_stopping: fit's argument: an ``EarlyStopping``, an int patience, or None (off).
        has_val (bool): fit has validation data ("val_loss" falls back to "loss" without it).
    """

    def __init__(self, early_stopping: EarlyStopping | int | None, has_val: bool) -> None:
        if isinstance(early_stopping, int) and not isinstance(early_stopping, bool):
            early_stopping = EarlyStopping(patience=early_stopping)
        self.es = early_stopping if isinstance(early_stopping, EarlyStopping) else None
        monitor = self.es.monitor if self.es is not None else None
        if monitor is not None and monitor.startswith("val_") and not has_val:
            monitor = monitor[4:]
        self.monitor = monitor
        self.best_weights: dict[str, Any] | None = None
        self.reason: str | None = None

    def after_epoch(self, history: Any, weights: dict[str, Any]) -> bool:
        """Look at the history after an epoch whose weights are ``weights``.

        Returns True when this epoch is the best so far; sets ``reason`` (and the history's
        ``stopped_reason``) when the monitored value has not improved for ``patience`` epochs.
        """
        if self.es is None or self.monitor is None:
            return False
        values = history.history.get(self.monitor, [])
        best_i, wait = self.es.status(values)
        is_best = best_i == history.epochs - 1
        if is_best:
            self.best_weights = weights
        if wait >= self.es.patience:
            self.reason = (
                f"early stopping: {self.monitor} did not improve for {wait} epoch(s); "
                f"best {values[best_i]:.4f} at epoch {best_i + 1}"
            )
            history.stopped_reason = self.reason
        return is_best

    def stop(self, model: Any, checkpoints: Any, verbose: bool) -> bool:
        """True when it is time to stop; then restores the best weights (``restore_best``)."""
        if self.reason is None:
            return False
        if self.es is not None and self.es.restore_best:
            best = self.best_weights or checkpoints.load_best()
            if best is not None:
                model.load_state_dict(best)
        if verbose:
            print(self.reason)
        return True
