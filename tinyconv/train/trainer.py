"""``fit`` trains a model epoch by epoch; ``evaluate`` measures it.

One epoch of ``fit``::

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
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy

from .. import backend
from ..amp import GradScaler, autocast, training_precision
from ..tensor import Tensor
from .batches import as_batches, count_correct, model_placement, num_batches, to_tensors
from .callbacks import Callback, EarlyStopping, StopTraining, TrainingDiverged
from .checkpoint import (
    CheckpointManager,
    get_rng_state,
    load_checkpoint,
    loader_state,
    resolve_checkpoint,
    set_loader_state,
    set_rng_state,
)
from .evaluation import evaluate, resolve_loss
from .history import History
from .progress import ProgressBar

__all__ = ["Callback", "EarlyStopping", "StopTraining", "TrainingDiverged", "evaluate", "fit"]


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


def _snapshot(model: Any) -> dict[str, Any]:
    """A copy of the model's state dict (arrays), to restore later."""
    return {k: v.data.copy() for k, v in model.state_dict().items()}


def _all_finite(model: Any) -> bool:
    for p in model.state_dict().values():
        xp = backend.get_array_module(p.data)
        if p.data.dtype.kind == "f" and not bool(xp.isfinite(p.data).all()):
            return False
    return True


def _call(callbacks: list[Any], hook: str, *args: Any) -> None:
    for cb in callbacks:
        fn = getattr(cb, hook, None)
        if fn is not None:
            fn(*args)


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


MAX_SKIPPED_STEPS = 30  # fp16-mixed: this many overflowing steps in a row is divergence


class _Diverged(Exception):  # noqa: N818 - internal signal
    def __init__(self, what: str, batch: int | None) -> None:
        self.what, self.batch = what, batch


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
    if isinstance(epochs, bool) or not isinstance(epochs, (int, numpy.integer)) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive integer, got {epochs!r}")
    epochs = int(epochs)
    loss_fn = resolve_loss(loss)
    if optimizer is None:
        optimizer = make_optimizer("adam", model, lr)
    elif isinstance(optimizer, str):
        optimizer = make_optimizer(optimizer, model, lr)
    if isinstance(early_stopping, int) and not isinstance(early_stopping, bool):
        early_stopping = EarlyStopping(patience=early_stopping)
    callbacks = list(callbacks or [])
    dtype, device = model_placement(model)
    amp_dtype, scaler = training_precision(precision)
    if amp_dtype is not None and dtype != numpy.float32:
        raise ValueError(
            f"fit: precision={precision!r} keeps float32 master weights, but the model is "
            f"{dtype}; call model.float() first (a half() model is for inference)"
        )
    if scaler is not None and distributed:
        raise ValueError(
            "fit: precision='fp16-mixed' is not supported with distributed training (a rank "
            "that skips an overflowing step would leave the others waiting); use 'bf16-mixed'"
        )
    out = sys.stdout
    dp = None
    if distributed:
        from ..distributed import FitHooks  # noqa: PLC0415  (mpi4py only when asked for)

        dp = FitHooks(distributed)
        verbose = verbose and dp.is_root

    # --------------------------------------------------------------- start or resume
    ckpt_path = resolve_checkpoint(resume, checkpoint_dir)
    if ckpt_path is not None and checkpoint_dir is None:
        checkpoint_dir = ckpt_path.parent
    writes = checkpoint_dir and (dp is None or dp.is_root)
    manager = CheckpointManager(checkpoint_dir, keep=keep_checkpoints) if writes else None
    history = History()
    start = 1
    meta: dict[str, Any] | None = None
    if ckpt_path is not None:
        meta = load_checkpoint(ckpt_path, model, optimizer, scheduler)
        history = History.from_dict(meta["history"])
        start = int(meta["epoch"]) + 1
        seed = int(meta["seed"])
        if scaler is not None and meta.get("scaler"):
            scaler.load_state_dict(meta["scaler"])
        if verbose:
            print(f"Resuming from {ckpt_path} (epoch {meta['epoch']} done)", file=out)
    elif seed is None:
        seed = int(backend.default_rng().integers(2**31 - 1))
    else:
        backend.manual_seed(int(numpy.random.SeedSequence([int(seed), 1]).generate_state(1)[0]))
    if dp is not None:
        seed = dp.agree_seed(seed)
    train_src = as_batches(train, batch_size, shuffle=True, seed=seed)
    val_src = (
        None
        if val is None
        else as_batches(val, batch_size, shuffle=False, seed=seed, where="fit(val)")
    )
    if meta is not None:
        set_rng_state(meta["rng"])
        set_loader_state(train_src, meta.get("loader"))
    if dp is not None:
        train_src, val_src, optimizer = dp.prepare(model, optimizer, train_src, val_src, start)
    es = early_stopping if isinstance(early_stopping, EarlyStopping) else None
    monitor = None
    if es is not None:
        monitor = es.monitor[4:] if es.monitor.startswith("val_") and val is None else es.monitor

    def save(epoch: int) -> None:
        if manager is None:
            return
        manager.save(
            epoch,
            model,
            optimizer,
            scheduler,
            {
                "epoch": epoch,
                "seed": seed,
                "history": history.to_dict(),
                "rng": get_rng_state(),
                "loader": loader_state(train_src),
                "scaler": scaler.state_dict() if scaler is not None else None,
            },
        )

    last_good = _snapshot(model)
    best_weights: dict[str, Any] | None = None
    if ckpt_path is None:
        save(0)
    _call(callbacks, "on_train_begin", {"epochs": epochs, "start_epoch": start})
    epoch = start
    try:
        for epoch in range(start, epochs + 1):
            t0 = time.perf_counter()
            _call(callbacks, "on_epoch_begin", epoch, {})
            logs, rate = _train_epoch(
                model,
                train_src,
                optimizer,
                loss_fn,
                epoch,
                epochs,
                dtype,
                device,
                callbacks,
                verbose,
                amp_dtype,
                scaler,
            )
            if dp is not None:
                logs, rate = dp.end_epoch(model, logs, rate)
            if val_src is not None:
                with numpy.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    res = (
                        dp.evaluate(evaluate, model, val_src, loss=loss_fn)
                        if dp
                        else evaluate(model, val_src, loss=loss_fn)
                    )
                if not math.isfinite(res["loss"]):
                    raise _Diverged(f"the validation loss became {res['loss']}", None)
                logs["val_loss"], logs["val_acc"] = res["loss"], res["accuracy"]
            if not _all_finite(model):
                raise _Diverged("the weights became NaN or infinite", None)
            logs["lr"] = current_lr(optimizer)
            logs["time"] = time.perf_counter() - t0
            history.append(epoch=epoch, **logs)
            if scheduler is not None:
                scheduler.step()
            if verbose:
                print(_fmt_epoch(epoch, epochs, logs, rate), file=out, flush=True)
            last_good = _snapshot(model)
            stop = None
            if es is not None and monitor is not None:
                best_i, wait = es.status(history.history.get(monitor, []))
                if best_i == history.epochs - 1:
                    best_weights = last_good
                if wait >= es.patience:
                    stop = (
                        f"early stopping: {monitor} did not improve for {wait} epoch(s); "
                        f"best {history.history[monitor][best_i]:.4f} at epoch {best_i + 1}"
                    )
                    history.stopped_reason = stop
            save(epoch)
            if manager is not None and best_weights is last_good:
                manager.save_best(model)
            try:
                _call(callbacks, "on_epoch_end", epoch, dict(logs))
            except StopTraining as e:
                history.stopped_reason = str(e) or f"stopped by a callback after epoch {epoch}"
                break
            if stop is not None:
                if es is not None and es.restore_best:
                    best = best_weights or (manager.load_best() if manager else None)
                    if best is not None:
                        model.load_state_dict(best)
                if verbose:
                    print(stop, file=out)
                break
    except _Diverged as d:
        model.load_state_dict(last_good)
        where = f"batch {d.batch + 1} of epoch {epoch}" if d.batch is not None else f"epoch {epoch}"
        good = manager.latest() if manager is not None else None
        keep = (
            f"; the last good checkpoint is {good}"
            if good is not None
            else "; the model keeps the weights of the last completed epoch"
        )
        msg = (
            f"training diverged: {d.what} at {where} (lr={current_lr(optimizer)}); "
            f"stopped{keep}. Try a smaller learning rate."
        )
        history.diverged, history.stopped_reason = True, msg
        raise TrainingDiverged(msg, history, epoch, d.batch, good) from None
    except StopTraining as e:
        history.stopped_reason = str(e) or f"stopped by a callback in epoch {epoch}"
    _call(callbacks, "on_train_end", {"history": history})
    return history


def _train_epoch(
    model: Any,
    train: Any,
    optimizer: Any,
    loss_fn: Callable[..., Tensor],
    epoch: int,
    epochs: int,
    dtype: Any,
    device: str,
    callbacks: list[Any],
    verbose: bool,
    amp_dtype: Any = None,
    scaler: GradScaler | None = None,
) -> tuple[dict[str, Any], float]:
    """One pass over ``train``; returns the epoch's mean loss and accuracy, and images/s.

    With a ``scaler`` (fp16-mixed) a non-finite loss is not divergence by itself: its step is
    skipped and the scale halved; only ``MAX_SKIPPED_STEPS`` skipped steps in a row stop the
    run. Skipped batches count in the accuracy but not in the mean loss.
    """
    if hasattr(train, "set_epoch"):
        train.set_epoch(epoch - 1)  # loaders count epochs from 0
    model.train()
    bar = ProgressBar(num_batches(train), f"Epoch {epoch}/{epochs}", enabled=verbose)
    loss_sum, seen, correct, counted = 0.0, 0, 0, 0
    total, skipped_in_a_row = 0, 0
    # Overflow on the way to a NaN is reported once, by the NaN check, not as NumPy warnings.
    with numpy.errstate(over="ignore", invalid="ignore", divide="ignore"):
        try:
            for b, (x, y) in enumerate(train):
                xt, yt = to_tensors(x, y, dtype, device)
                with autocast(amp_dtype, enabled=amp_dtype is not None):
                    output = model(xt)
                    loss = loss_fn(output, yt)
                value = float(loss.item())
                if not math.isfinite(value) and scaler is None:
                    raise _Diverged(f"the loss became {value}", b)
                optimizer.zero_grad()
                if scaler is None:
                    loss.backward()
                    optimizer.step()
                else:
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                    skipped_in_a_row = skipped_in_a_row + 1 if scaler.last_step_skipped else 0
                    if skipped_in_a_row >= MAX_SKIPPED_STEPS:
                        raise _Diverged(
                            f"{skipped_in_a_row} steps in a row had inf/NaN gradients (loss "
                            f"{value}, loss scale now {scaler.get_scale():g})",
                            b,
                        )
                n = len(xt)
                if math.isfinite(value):
                    loss_sum += value * n
                    seen += n
                total += n
                c = count_correct(output.data, yt.data)
                if c is not None:
                    correct, counted = correct + c, counted + n
                acc = correct / counted if counted else None
                bar.update(n, loss_sum / max(seen, 1), acc)
                info = {"loss": value, "batch_size": n, "epoch": epoch}
                _call(callbacks, "on_batch_end", b, info)
        finally:
            bar.close()
    if total == 0:
        raise ValueError("fit: the training data gave no batches")
    if seen == 0:
        raise _Diverged("every batch of the epoch had a non-finite loss", None)
    return {"loss": loss_sum / seen, "acc": correct / counted if counted else None}, bar.rate
