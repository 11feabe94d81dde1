"""``fit`` trains a model epoch by epoch; ``evaluate`` measures it.

``fit`` reads top to bottom as its named steps; each behaviour lives in the part that owns it::

    precision   = TrainingPrecision(...)      precision.py   fp32 / fp16-mixed / bf16-mixed
    ranks       = ranks_for(distributed)      ranks.py       one process, or the MPI ranks
    checkpoints = Checkpoints(...)            checkpoint.py  resume, one checkpoint per epoch
    restore_streams(start, train)             this file      the resumed random streams
    for epoch in ...:
        one_epoch(run, epoch)                 this file      the batches: forward, loss, step
        one_evaluation(run)                   this file      the validation data (evaluation.py)
        record(run, epoch, ...)               this file      history, scheduler, the epoch line
        early.after_epoch(...)                callbacks.py   early stopping
        checkpoints.save(epoch, run)          checkpoint.py
        callbacks.on_epoch_end(...)           callbacks.py   the user's callbacks (the live view)
    Diverged -> last_good.stop(...)           divergence.py  the NaN stop

One epoch::

    for x, y in train:                       # x (N, C, H, W), y (N,)
        loss = loss_fn(model(x), y)          # mean over the batch
        optimizer.zero_grad(); loss.backward(); optimizer.step()
    evaluate(model, val)                     # eval mode, no graph
    scheduler.step(); history.append(...); checkpoint

A checkpoint (see ``checkpoint.py``) holds everything the next epoch depends on: weights,
optimizer state, the global random generator (dropout), the loader's random state, the
epoch and the history. Shuffling of an ``(images, labels)`` pair is drawn from ``(seed,
epoch)``. So ``fit(..., resume=True)`` after an interruption reaches exactly the weights of
an uninterrupted run.

A NaN or infinite loss stops training at once: ``TrainingDiverged`` is raised, the model gets
back the weights of the last completed epoch, and no checkpoint is written from the bad state.

Mixed precision (``precision="fp16-mixed"`` or ``"bf16-mixed"``, see ``tinyconv.amp``): the
forward pass and the loss run under ``autocast`` while the model keeps float32 master weights;
with float16 the loss is scaled by a ``GradScaler`` before backward, and a batch whose
gradients (or loss) overflow skips its optimizer step instead of stopping the run.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy

from ..tensor import Tensor
from .batches import as_batches, count_correct, model_placement, num_batches, to_tensors
from .callbacks import CallbackList, EarlyStop, EarlyStopping, StopTraining
from .checkpoint import Checkpoints, StartPoint, set_loader_state, set_rng_state
from .divergence import Diverged, LastGood
from .evaluation import evaluate, resolve_loss
from .history import History
from .precision import MAX_SKIPPED_STEPS, TrainingPrecision
from .progress import ProgressBar
from .ranks import ranks_for

__all__ = ["MAX_SKIPPED_STEPS", "evaluate", "fit", "make_optimizer", "optimizer_names"]


def optimizer_names() -> list[str]:
    """Names accepted for ``optimizer=`` (and by ``tinyconv train --optimizer``)."""
    return sorted(_optimizer_table())


def _optimizer_table() -> dict[str, type]:
    from .. import optim  # noqa: PLC0415
    from ..optim.optimizer import Optimizer  # noqa: PLC0415

    return {
        name.lower(): cls
        for name, cls in vars(optim).items()
        if isinstance(cls, type) and issubclass(cls, Optimizer) and cls is not Optimizer
    }


def make_optimizer(name: str, model: Any, lr: float | None = None) -> Any:
    """Build optimizer ``name`` ("adam", "sgd", "rmsprop", ...) over the model's parameters."""
    table = _optimizer_table()
    cls = table.get(str(name).lower())
    if cls is None:
        raise ValueError(f"unknown optimizer {name!r}: expected one of {', '.join(sorted(table))}")
    kwargs = {} if lr is None else {"lr": lr}
    return cls(model.parameters(), **kwargs)


def current_lr(optimizer: Any) -> float | None:
    groups = getattr(optimizer, "param_groups", None)
    if groups:
        return float(groups[0]["lr"])
    lr = getattr(optimizer, "lr", None)
    return None if lr is None else float(lr)


def _check_epochs(epochs: Any) -> int:
    if isinstance(epochs, bool) or not isinstance(epochs, (int, numpy.integer)) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive integer, got {epochs!r}")
    return int(epochs)


@dataclass
class Run:
    """What the steps of one ``fit`` call share (the batches as the ranks see them)."""

    model: Any
    train: Any
    val: Any
    optimizer: Any
    scheduler: Any
    loss_fn: Callable[..., Tensor]
    precision: TrainingPrecision
    ranks: Any
    history: History
    seed: int
    epochs: int
    verbose: bool


# ------------------------------------------------------------------------------- fit
def fit(
    model: Any,
    train: Any,
    val: Any = None,
    epochs: int = 1,
    optimizer: Any = None,
    loss: str | Callable[..., Tensor] = "cross_entropy",
    scheduler: Any = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool | str | os.PathLike[str] = False,
    early_stopping: EarlyStopping | int | None = None,
    callbacks: Iterable[Any] | None = None,
    verbose: bool = True,
    seed: int | None = None,
    batch_size: int = 32,
    lr: float | None = None,
    keep_checkpoints: int = 2,
    distributed: Any = False,
    precision: str = "fp32",
) -> History:
    """Train ``model`` for ``epochs`` epochs and return the per-epoch ``History``.

    Args:
        model (Module): the network; it must output (N, num_classes) logits for the default loss.
        train: a DataLoader, or an ``(images, labels)`` pair of arrays (uint8 images are scaled
            by 1/255; the pair is shuffled each epoch by ``(seed, epoch)``).
        val: validation data in the same forms, evaluated after each epoch. Default: None.
        epochs (int): the total number of epochs (a resumed run continues up to it). Default: 1.
        optimizer: an Optimizer, or a name ("adam", "sgd", "rmsprop", ...). Default: Adam.
        loss: "cross_entropy", "nll", "mse", or a callable ``loss(output, target) -> Tensor``.
        scheduler: an LR scheduler, stepped once after every epoch. Default: None.
        checkpoint_dir: where to write a checkpoint after every epoch. Default: None.
        resume: True continues from the latest checkpoint in ``checkpoint_dir`` (a fresh start
            when there is none); a path continues from that checkpoint. Default: False.
        early_stopping: an ``EarlyStopping``, or an int patience on the validation loss.
        callbacks: ``Callback`` objects (any object with some of its hook methods).
        verbose (bool): progress bar and one summary line per epoch. Default: True.
        seed (int | None): seeds the shuffling of array data and tinyconv's global generator
            (dropout). Default: None (drawn from the global generator).
        batch_size (int): batch size for array data. Default: 32.
        lr (float | None): learning rate when ``optimizer`` is a name or None.
        keep_checkpoints (int): how many epoch checkpoints to keep. Default: 2.
        distributed (bool | DataParallel): data-parallel training over the MPI ranks of
            ``mpirun -n K python -m mpi4py ...``: each global batch is split over the ranks,
            gradients are averaged, metrics combined, and only rank 0 prints and writes
            checkpoints (see ``tinyconv.distributed``). Default: False.
        precision (str): "fp32"; "fp16-mixed" (float16 forward and backward under
            ``autocast``, float32 master weights and optimizer state, dynamic loss scaling:
            a step whose gradients hold an inf or NaN is skipped); or "bf16-mixed" (bfloat16,
            no loss scaling needed). The model must be float32. Default: "fp32".

    Returns:
        History: ``history.history`` with ``epoch``, ``loss``, ``acc``, ``lr``, ``time`` and, with
        validation data, ``val_loss`` and ``val_acc``.

    Raises:
        TrainingDiverged: the loss became NaN or infinite (the model keeps its last good weights).
        ValueError: an unknown loss, optimizer or precision name, epochs < 1, a bad resume
            checkpoint, or a mixed precision for a model that is not float32.
        FileNotFoundError: ``resume`` names a checkpoint that does not exist.

    Example:
        >>> import numpy, tinyconv
        >>> tinyconv.manual_seed(0)
        >>> x = numpy.random.default_rng(0).normal(size=(64, 2)).astype(numpy.float32)
        >>> y = (x[:, 0] > 0).astype(numpy.int64)
        >>> h = fit(tinyconv.nn.Linear(2, 2), (x, y), epochs=3, lr=0.1, verbose=False, seed=0)
        >>> len(h.history["loss"]), h.history["loss"][-1] < h.history["loss"][0]
        (3, True)
    """
    epochs, loss_fn = _check_epochs(epochs), resolve_loss(loss)
    if optimizer is None or isinstance(optimizer, str):
        optimizer = make_optimizer(optimizer or "adam", model, lr)
    early = EarlyStop(early_stopping, has_val=val is not None)  # callbacks.py
    hooks = CallbackList(callbacks)  # callbacks.py: the user's (and the live view's)
    mixed = TrainingPrecision(precision, model, distributed)  # precision.py
    ranks = ranks_for(distributed)  # ranks.py: one process, or tinyconv.distributed
    verbose = verbose and ranks.is_root
    # resume: the checkpoint's weights, optimizer, scheduler, scaler, history and seed
    checkpoints = Checkpoints(checkpoint_dir, resume, keep_checkpoints, write=ranks.is_root)
    start = checkpoints.start(model, optimizer, scheduler, mixed, seed, verbose)
    seed = ranks.agree_seed(start.seed)
    train_src = as_batches(train, batch_size, shuffle=True, seed=seed)
    val_src = None
    if val is not None:
        val_src = as_batches(val, batch_size, shuffle=False, seed=seed, where="fit(val)")
    restore_streams(start, train_src)
    train_src, val_src, optimizer = ranks.prepare(model, optimizer, train_src, val_src, start.epoch)
    run = Run(model, train_src, val_src, optimizer, scheduler, loss_fn, mixed, ranks,
              start.history, seed, epochs, verbose)  # fmt: skip
    last_good = LastGood(model)  # divergence.py: the NaN stop
    if start.state is None:
        checkpoints.save(0, run)
    hooks.call("on_train_begin", {"epochs": epochs, "start_epoch": start.epoch})
    epoch = start.epoch
    try:
        for epoch in range(start.epoch, epochs + 1):
            started = time.perf_counter()
            hooks.call("on_epoch_begin", epoch, {})
            logs, rate = one_epoch(run, epoch, hooks)  # the training batches
            logs.update(one_evaluation(run))  # the validation batches
            last_good.check()
            record(run, epoch, logs, rate, started)  # history, scheduler, the epoch's line
            is_best = early.after_epoch(run.history, last_good.keep())
            checkpoints.save(epoch, run, best=is_best)
            stopped = hooks.on_epoch_end(epoch, logs, run.history)  # a StopTraining?
            if stopped or early.stop(model, checkpoints, verbose):
                break
    except Diverged as d:
        lr_now, good = current_lr(run.optimizer), checkpoints.latest()
        raise last_good.stop(d, epoch, run.history, lr_now, good) from None
    except StopTraining as e:
        run.history.stopped_reason = str(e) or f"stopped by a callback in epoch {epoch}"
    hooks.call("on_train_end", {"history": run.history})
    return run.history


# ------------------------------------------------------------------------- the steps
def restore_streams(start: StartPoint, train: Any) -> None:
    """Resume: the global generator (dropout) and the loader where the checkpoint left them."""
    if start.state is not None:
        set_rng_state(start.state["rng"])
        set_loader_state(train, start.state.get("loader"))


def one_epoch(run: Run, epoch: int, hooks: CallbackList) -> tuple[dict[str, Any], float]:
    """One pass over the training batches; the epoch's mean loss and accuracy, and images/s
    (both combined over the ranks).

    With fp16-mixed a non-finite loss is not divergence by itself (see ``precision.py``): its
    step is skipped; skipped batches count in the accuracy but not in the mean loss.
    """
    if hasattr(run.train, "set_epoch"):
        run.train.set_epoch(epoch - 1)  # loaders count epochs from 0
    run.model.train()
    dtype, device = model_placement(run.model)
    bar = ProgressBar(num_batches(run.train), f"Epoch {epoch}/{run.epochs}", enabled=run.verbose)
    loss_sum, seen, correct, counted, total = 0.0, 0, 0, 0, 0
    # Overflow on the way to a NaN is reported once, by the NaN check, not as NumPy warnings.
    with numpy.errstate(over="ignore", invalid="ignore", divide="ignore"):
        try:
            for b, (x, y) in enumerate(run.train):
                xt, yt = to_tensors(x, y, dtype, device)
                with run.precision.autocast():
                    output = run.model(xt)
                    loss = run.loss_fn(output, yt)
                value = float(loss.item())
                run.precision.step(loss, value, run.optimizer, b)
                n = len(xt)
                if math.isfinite(value):
                    loss_sum, seen = loss_sum + value * n, seen + n
                total += n
                c = count_correct(output.data, yt.data)
                if c is not None:
                    correct, counted = correct + c, counted + n
                bar.update(n, loss_sum / max(seen, 1), correct / counted if counted else None)
                hooks.call("on_batch_end", b, {"loss": value, "batch_size": n, "epoch": epoch})
        finally:
            bar.close()
    if total == 0:
        raise ValueError("fit: the training data gave no batches")
    if seen == 0:
        raise Diverged("every batch of the epoch had a non-finite loss", None)
    logs = {"loss": loss_sum / seen, "acc": correct / counted if counted else None}
    return run.ranks.end_epoch(run.model, logs, bar.rate)


def one_evaluation(run: Run) -> dict[str, Any]:
    """``val_loss`` and ``val_acc`` on the validation batches (none without them)."""
    if run.val is None:
        return {}
    with numpy.errstate(over="ignore", invalid="ignore", divide="ignore"):
        res = run.ranks.evaluate(evaluate, run.model, run.val, loss=run.loss_fn)
    if not math.isfinite(res["loss"]):
        raise Diverged(f"the validation loss became {res['loss']}", None)
    return {"val_loss": res["loss"], "val_acc": res["accuracy"]}


def record(run: Run, epoch: int, logs: dict[str, Any], rate: float, started: float) -> None:
    """Append the epoch to the history, step the scheduler, print the epoch's line."""
    logs["lr"] = current_lr(run.optimizer)
    logs["time"] = time.perf_counter() - started
    run.history.append(epoch=epoch, **logs)
    if run.scheduler is not None:
        run.scheduler.step()
    if run.verbose:
        print(_fmt_epoch(epoch, run.epochs, logs, rate), flush=True)


def _fmt_epoch(epoch: int, epochs: int, logs: dict[str, Any], rate: float) -> str:
    parts = [f"Epoch {epoch}/{epochs}", f"loss {logs['loss']:.4f}"]
    if logs.get("acc") is not None:
        parts.append(f"acc {100 * logs['acc']:.2f}%")
    if "val_loss" in logs:
        parts.append(f"val_loss {logs['val_loss']:.4f}")
        if logs.get("val_acc") is not None:
            parts.append(f"val_acc {100 * logs['val_acc']:.2f}%")
    parts.append(f"{rate:,.0f} img/s")
    parts.append(f"{logs['time']:.1f}s")
    return " - ".join(parts)
