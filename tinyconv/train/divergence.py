"""The NaN stop: a NaN or infinite loss (or weight) ends ``fit`` at once.

The step that finds it raises ``Diverged`` (an internal signal: what became non-finite, and
in which batch). ``fit`` catches it and asks ``LastGood.stop`` for the user's
``TrainingDiverged``: the model gets back the weights of the last completed epoch, the history
says why it stopped, and no checkpoint is ever written from the bad state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..backend import get_array_module
from ..errors import TrainingDiverged


class Diverged(Exception):  # noqa: N818 - internal signal, turned into TrainingDiverged by fit
    """Something became NaN or infinite: ``what`` (a phrase), in ``batch`` (None: not a batch)."""

    def __init__(self, what: str, batch: int | None) -> None:
        super().__init__(what)
        self.what, self.batch = what, batch


def snapshot(model: Any) -> dict[str, Any]:
    """A copy of the model's state dict (arrays), to restore later."""
    return {k: v.data.copy() for k, v in model.state_dict().items()}


def all_finite(model: Any) -> bool:
    """True when no floating-point weight or buffer of ``model`` is NaN or infinite."""
    for p in model.state_dict().values():
        xp = get_array_module(p.data)
        if p.data.dtype.kind == "f" and not bool(xp.isfinite(p.data).all()):
            return False
    return True


class LastGood:
    """The weights of the last completed epoch, given back to the model when training diverges."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.weights = snapshot(model)

    def check(self) -> None:
        """Raise ``Diverged`` when the weights became NaN or infinite during the epoch."""
        if not all_finite(self.model):
            raise Diverged("the weights became NaN or infinite", None)

    def keep(self) -> dict[str, Any]:
        """Remember the model's current weights as the last good ones; returns them."""
        self.weights = snapshot(self.model)
        return self.weights

    def stop(
        self, d: Diverged, epoch: int, history: Any, lr: float | None, checkpoint: Path | None
    ) -> TrainingDiverged:
        """Give the model its last good weights and describe the stop (``history`` records it)."""
        self.model.load_state_dict(self.weights)
        where = f"batch {d.batch + 1} of epoch {epoch}" if d.batch is not None else f"epoch {epoch}"
        keep = (
            f"; the last good checkpoint is {checkpoint}"
            if checkpoint is not None
            else "; the model keeps the weights of the last completed epoch"
        )
        msg = (
            f"training diverged: {d.what} at {where} (lr={lr}); stopped{keep}. "
            "Try a smaller learning rate."
        )
        history.diverged, history.stopped_reason = True, msg
        return TrainingDiverged(msg, history, epoch, d.batch, checkpoint)
