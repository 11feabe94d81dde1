"""Exceptions shared by layers that do not import each other.

``TrainingDiverged`` is raised by ``fit`` (``tinyconv.train``) and recognised by the distributed
job's ``fail_fast`` (exit status 3) and by the CLI (exit status 3). It lives here, below both,
so that neither has to import the other to name it. ``tinyconv.train`` re-exports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; training stopped.

    Attributes:
        history (History): the epochs completed before the divergence (``diverged`` is True).
        epoch (int): the epoch in which it happened (1-based).
        batch (int | None): the batch index within that epoch (None: during validation).
        checkpoint (Path | None): the last good checkpoint, when ``checkpoint_dir`` was given.
    """

    def __init__(
        self, message: str, history: Any, epoch: int, batch: int | None, checkpoint: Path | None
    ) -> None:
        super().__init__(message)
        self.history, self.epoch, self.batch, self.checkpoint = history, epoch, batch, checkpoint
