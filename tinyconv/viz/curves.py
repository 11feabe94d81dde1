"""Loss and accuracy per epoch, training and validation, from a run's history.

``tinyconv train`` already writes ``curves.png`` beside ``history.json`` (with
``tinyconv/plots.py``); this module gives the same two panels as a Figure you can keep
drawing on, reads a history from a run folder, a JSON or a CSV file, and marks the epoch
with the best validation accuracy.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..train.history import History
from ._figure import new_figure


def load_history(source: Any) -> History:
    """A ``History`` from a History, its dict, a run folder, a ``history.json`` or ``.csv``.

    Raises:
        FileNotFoundError: the folder has no history.json / history.csv, or no such file.
        ValueError: a file that is neither .json nor .csv, or holds no epochs.
    """
    if isinstance(source, History):
        return source
    if isinstance(source, dict):
        return History.from_dict(source) if "history" in source else History(source)
    path = Path(os.fspath(source))
    if path.is_dir():
        for name in ("history.json", "history.csv"):
            if (path / name).is_file():
                path = path / name
                break
        else:
            raise FileNotFoundError(f"no history.json or history.csv in {path}")
    if not path.is_file():
        raise FileNotFoundError(f"history file not found: {path}")
    if path.suffix.lower() == ".json":
        try:
            h = History.from_json(path)
        except ValueError as e:
            raise ValueError(f"{path}: not a tinyconv history JSON ({e})") from None
    elif path.suffix.lower() == ".csv":
        h = History.from_csv(path)
    else:
        raise ValueError(f"{path}: expected a history.json or history.csv file")
    if h.epochs == 0 or not h.history.get("loss"):
        raise ValueError(f"{path}: the history has no epochs (no 'loss' values)")
    return h


def plot_curves(history: Any, title: str | None = None) -> Any:
    """Two panels: loss per epoch and accuracy (%) per epoch, training and validation.

    Args:
        history: a ``History``, its dict, a run folder, or a history.json / history.csv path.
        title (str | None): figure title. Default: the epoch count and the best validation
            accuracy.

    Returns:
        matplotlib.figure.Figure with two axes (loss, accuracy). Missing values (a metric
        not measured in some epoch) are skipped. The best validation epoch is marked.

    Example:
        >>> fig = plot_curves({"epoch": [1, 2], "loss": [0.5, 0.3], "acc": [0.8, 0.9],
        ...                    "val_loss": [0.4, 0.35], "val_acc": [0.85, 0.88]})
        >>> [ax.get_title() for ax in fig.axes]
        ['Loss', 'Accuracy']
    """
    h = load_history(history).history
    epochs = h.get("epoch") or list(range(1, len(h.get("loss", [])) + 1))
    fig = new_figure(10, 4)
    best = None
    val_acc = h.get("val_acc") or []
    scored = [(v, e) for e, v in zip(epochs, val_acc, strict=False) if v is not None]
    if scored:
        best = max(scored)  # (accuracy, epoch)
    for i, (key, ylabel, name, scale) in enumerate(
        (
            ("loss", "loss (mean cross-entropy)", "Loss", 1.0),
            ("acc", "accuracy (%)", "Accuracy", 100.0),
        )
    ):
        ax = fig.add_subplot(1, 2, i + 1)
        for prefix, label, style in (("", "train", "o-"), ("val_", "validation", "s--")):
            pts = [
                (e, v * scale)
                for e, v in zip(epochs, h.get(prefix + key) or [], strict=False)
                if v is not None
            ]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=label)
        if best is not None:
            ax.axvline(
                best[1],
                color="grey",
                linestyle=":",
                linewidth=1,
                label=f"best validation epoch ({best[1]})",
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.set_title(name)
        ax.grid(True, alpha=0.3)
        if len(epochs) <= 12:
            ax.set_xticks(list(epochs))
        if ax.lines:
            ax.legend(fontsize=8)
    if title is None:
        title = f"{len(epochs)} epoch(s)"
        if best is not None:
            title += f"; best validation accuracy {100 * best[0]:.2f}% (epoch {best[1]})"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
