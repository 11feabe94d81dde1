"""Exceptions shared by layers that do not import each other.

``TrainingDiverged`` is raised by ``fit`` (``tinyconv.train``) and recognised by the distributed
job's ``fail_fast`` (exit status 3) and by the CLI (exit status 3). It lives here, below both,
so that neither has to import the other to name it. ``tinyconv.train`` re-exports it.

``naming_file`` makes an OSError that names no file (a full disk: ENOSPC from ``write``) name
the file being written, for every writer (model files, checkpoints, histories, run.json).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def naming_file(path: str | os.PathLike[str]) -> Iterator[None]:
    """Inside the block, an OSError without a file name gets ``path`` as its file name.

    Example:
        >>> import errno
        >>> try:
        ...     with naming_file("runs/x/model.safetensors"):
        ...         raise OSError(errno.ENOSPC, "No space left on device")
        ... except OSError as e:
        ...     print(e)
        [Errno 28] No space left on device: 'runs/x/model.safetensors'
    """
    try:
        yield
    except OSError as e:
        if e.filename is not None or e.errno is None:
            raise
        raise type(e)(e.errno, e.strerror or os.strerror(e.errno), os.fspath(path)) from e


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
