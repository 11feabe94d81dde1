"""Checkpoints: one folder per epoch, written atomically, safetensors and JSON only (no pickle).

Layout of ``checkpoint_dir``::

    epoch-0002/
        model.safetensors       the model (weights, buffers, architecture): tinyconv.load() reads it
        optimizer.safetensors   the optimizer's state arrays (Adam's moments, momentum buffers)
        state.json              epoch, seed, history, optimizer hyper-parameters and counters,
                                scheduler state, random generator state, loader state
    best.safetensors            the model of the best epoch (written when early stopping watches)

A checkpoint folder is first written as ``epoch-0002.tmp``, then renamed into place with
``os.replace``. A folder named ``epoch-NNNN`` is therefore always complete; the latest
checkpoint is the one with the highest epoch number. A run killed while writing leaves only a
``.tmp`` folder, which is ignored and cleaned up by the next save.

The random state saved is tinyconv's global NumPy generator (``tinyconv.backend.default_rng``,
used by dropout and weight initialisation) as ``bit_generator.state`` (plain integers, JSON-able),
and the loader's ``state_dict()`` when it has one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy

from .. import backend
from ..errors import naming_file
from ..io import load_state_dict as read_arrays
from ..io import save as save_module
from ..io import save_state_dict as write_arrays
from ..optim.optimizer import flatten_state_dict, unflatten_state_dict
from .history import History

FORMAT = 1
_EPOCH_DIR = re.compile(r"^epoch-(\d+)$")


def get_rng_state() -> dict[str, Any]:
    """The state of tinyconv's global generator, as JSON-able data."""
    return backend.default_rng().bit_generator.state


def set_rng_state(state: dict[str, Any]) -> None:
    """Put tinyconv's global generator back in a state from ``get_rng_state``."""
    backend.default_rng().bit_generator.state = state


def loader_state(loader: Any) -> dict[str, Any] | None:
    fn = getattr(loader, "state_dict", None)
    return fn() if callable(fn) else None


def set_loader_state(loader: Any, state: dict[str, Any] | None) -> None:
    fn = getattr(loader, "load_state_dict", None)
    if state is not None and callable(fn):
        fn(state)


def _epoch_dirs(root: Path) -> list[tuple[int, Path]]:
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        m = _EPOCH_DIR.match(p.name)
        if m and p.is_dir() and (p / "state.json").is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(root: str | os.PathLike[str]) -> Path | None:
    """The complete checkpoint folder with the highest epoch under ``root`` (None if none)."""
    found = _epoch_dirs(Path(root))
    return found[-1][1] if found else None


def resolve_checkpoint(resume: Any, checkpoint_dir: Any) -> Path | None:
    """Which checkpoint ``fit(resume=...)`` continues from.

    ``False``: none. ``True``: the latest in ``checkpoint_dir`` (None when there is none yet).
    A path: that checkpoint folder, or the latest checkpoint in that directory.

    Raises:
        ValueError: ``resume=True`` without ``checkpoint_dir``.
        FileNotFoundError: a path that holds no checkpoint.
    """
    if resume is False or resume is None:
        return None
    if resume is True:
        if checkpoint_dir is None:
            raise ValueError(
                "fit: resume=True needs checkpoint_dir (or pass the checkpoint path as resume=)"
            )
        return latest_checkpoint(checkpoint_dir)
    path = Path(resume)
    if (path / "state.json").is_file():
        return path
    found = latest_checkpoint(path)
    if found is None:
        raise FileNotFoundError(
            f"no checkpoint to resume from in {path} (expected a folder epoch-NNNN with "
            "state.json, written by fit(checkpoint_dir=...))"
        )
    return found


class CheckpointManager:
    """Writes ``epoch-NNNN`` folders under ``root`` and keeps the newest ``keep`` of them."""

    def __init__(self, root: str | os.PathLike[str], keep: int = 2) -> None:
        if keep < 1:
            raise ValueError(f"keep_checkpoints must be >= 1, got {keep}")
        self.root = Path(root)
        self.keep = keep

    def latest(self) -> Path | None:
        return latest_checkpoint(self.root)

    def save(
        self, epoch: int, model: Any, optimizer: Any, scheduler: Any, state: dict[str, Any]
    ) -> Path:
        """Write the checkpoint of ``epoch`` atomically; returns its folder."""
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.root / f"epoch-{epoch:04d}"
        tmp = self.root / f"epoch-{epoch:04d}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        save_module(model, tmp / "model.safetensors", metadata={"epoch": epoch})
        state = dict(state)
        if optimizer is not None and hasattr(optimizer, "state_dict"):
            arrays, meta = flatten_state_dict(optimizer.state_dict())
            write_arrays(arrays, tmp / "optimizer.safetensors")
            state["optimizer"] = meta
        if scheduler is not None and hasattr(scheduler, "state_dict"):
            state["scheduler"] = scheduler.state_dict()
        state["format"] = FORMAT
        with (
            naming_file(final / "state.json"),
            open(tmp / "state.json", "w", encoding="utf-8") as f,
        ):
            json.dump(state, f, allow_nan=False)
            f.flush()
            os.fsync(f.fileno())
        if final.exists():  # the same epoch again (a resumed run): swap it out, then delete it
            old = self.root / f"epoch-{epoch:04d}.old"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
        self._prune(final)
        return final

    def _prune(self, newest: Path) -> None:
        found = [p for _, p in _epoch_dirs(self.root) if p != newest]
        for p in found[: max(0, len(found) - (self.keep - 1))]:
            shutil.rmtree(p, ignore_errors=True)
        for p in self.root.glob("epoch-*.tmp"):
            shutil.rmtree(p, ignore_errors=True)

    def save_best(self, model: Any) -> Path:
        path = self.root / "best.safetensors"
        save_module(model, path)
        return path

    def load_best(self) -> dict[str, Any] | None:
        path = self.root / "best.safetensors"
        return dict(read_arrays(path)) if path.is_file() else None


def load_checkpoint(
    path: str | os.PathLike[str], model: Any, optimizer: Any = None, scheduler: Any = None
) -> dict[str, Any]:
    """Load a checkpoint folder into ``model`` (and ``optimizer``/``scheduler``); return its state.

    Returns:
        The ``state.json`` dict: ``epoch``, ``seed``, ``history``, ``rng``, ``loader``, ...

    Raises:
        FileNotFoundError: the folder or one of its files is missing.
        ValueError: the weights do not fit the model, or the file is damaged.
    """
    path = Path(path)
    state_file = path / "state.json"
    if not state_file.is_file():
        raise FileNotFoundError(f"{path} is not a checkpoint folder (no state.json)")
    with open(state_file, encoding="utf-8") as f:
        state = json.load(f)
    weights = read_arrays(path / "model.safetensors")
    try:
        model.load_state_dict(weights)
    except ValueError as e:
        raise ValueError(f"{path}: the checkpoint does not fit this model: {e}") from None
    if optimizer is not None and "optimizer" in state:
        arrays = read_arrays(path / "optimizer.safetensors")
        optimizer.load_state_dict(unflatten_state_dict(dict(arrays), state["optimizer"]))
    if scheduler is not None and "scheduler" in state:
        scheduler.load_state_dict(state["scheduler"])
    return state


# ------------------------------------------------------------------ fit's checkpoints
@dataclass
class StartPoint:
    """Where one ``fit`` call starts: a fresh run, or the checkpoint it resumes from."""

    epoch: int  # the first epoch to train (1-based)
    seed: int
    history: History
    state: dict[str, Any] | None = None  # the resumed checkpoint's state.json; None: fresh


class Checkpoints:
    """Resume and checkpoints of one ``fit`` call.

    ``start`` resumes from the checkpoint ``resume`` names (weights, optimizer, scheduler,
    GradScaler, history, seed) or seeds a fresh run; its state also holds the global generator
    and the loader's position, which ``fit`` restores once the loaders exist
    (``set_rng_state``, ``set_loader_state``); ``save`` writes one epoch.
    Only a process with ``write`` (rank 0) writes files.

    Args:
        checkpoint_dir: where to write (None: nowhere, unless ``resume`` names a checkpoint,
            whose directory is then used).
        resume: as ``fit``'s (False, True, or a path).
        keep (int): epoch checkpoints to keep.
        write (bool): write checkpoints (False on the ranks other than 0). Default: True.
    """

    def __init__(self, checkpoint_dir: Any, resume: Any, keep: int = 2, write: bool = True) -> None:
        self.resume_from = resolve_checkpoint(resume, checkpoint_dir)
        if self.resume_from is not None and checkpoint_dir is None:
            checkpoint_dir = self.resume_from.parent
        writes = bool(checkpoint_dir) and write
        self.manager = CheckpointManager(checkpoint_dir, keep=keep) if writes else None

    def start(
        self, model: Any, optimizer: Any, scheduler: Any, precision: Any, seed: int | None,
        verbose: bool = False,
    ) -> StartPoint:  # fmt: skip
        """Resume into model, optimizer, scheduler and ``precision`` (its GradScaler), or start
        afresh: a given ``seed`` seeds the global generator, None draws one from it."""
        if self.resume_from is None:
            if seed is None:
                seed = int(backend.default_rng().integers(2**31 - 1))
            else:
                mixed = numpy.random.SeedSequence([int(seed), 1]).generate_state(1)[0]
                backend.manual_seed(int(mixed))
            return StartPoint(1, int(seed), History())
        state = load_checkpoint(self.resume_from, model, optimizer, scheduler)
        precision.load_state_dict(state.get("scaler"))
        if verbose:
            print(f"Resuming from {self.resume_from} (epoch {state['epoch']} done)")
        history = History.from_dict(state["history"])
        return StartPoint(int(state["epoch"]) + 1, int(state["seed"]), history, state)

    def save(self, epoch: int, run: Any, best: bool = False) -> None:
        """Write the checkpoint of ``epoch`` from a ``fit`` run and, when ``best``, the model as
        ``best.safetensors`` (nothing when not writing)."""
        if self.manager is None:
            return
        state = {
            "epoch": epoch,
            "seed": run.seed,
            "history": run.history.to_dict(),
            "rng": get_rng_state(),
            "loader": loader_state(run.train),
            "scaler": run.precision.state_dict(),
        }
        self.manager.save(epoch, run.model, run.optimizer, run.scheduler, state)
        if best:
            self.manager.save_best(run.model)

    def load_best(self) -> dict[str, Any] | None:
        return self.manager.load_best() if self.manager is not None else None

    def latest(self) -> Path | None:
        return self.manager.latest() if self.manager is not None else None
