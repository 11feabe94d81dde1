"""``History``: what ``fit`` measured, one value per epoch, saved as JSON or CSV.

``history.history`` is a dict of equal-length lists, as in Keras::

    {"epoch": [1, 2], "loss": [0.41, 0.12], "acc": [0.88, 0.96],
     "val_loss": [0.15, 0.09], "val_acc": [0.95, 0.97], "lr": [0.001, 0.001], "time": [8.1, 7.9]}

``val_loss`` and ``val_acc`` are present only when ``fit`` was given validation data. The
file formats are plain: JSON (``to_json``/``from_json``) keeps everything, including why
training stopped; CSV (``to_csv``/``from_csv``) is one row per epoch for spreadsheets.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any

from ..errors import naming_file

METRICS = ("loss", "acc", "val_loss", "val_acc", "lr", "time")


class History:
    """Per-epoch training record.

    Attributes:
        history (dict[str, list]): ``epoch`` (1-based), ``loss``, ``acc``, ``lr``, ``time``
            (seconds), and ``val_loss``/``val_acc`` when validation data was given.
        stopped_reason (str | None): why training ended early ("early stopping ...",
            "diverged ..."), or None when it ran every epoch.
        diverged (bool): True when a NaN or infinite loss stopped training.

    Example:
        >>> h = History()
        >>> h.append(epoch=1, loss=0.5, acc=0.8, lr=0.001, time=1.0)
        >>> h.history["loss"], h.epochs
        ([0.5], 1)
    """

    def __init__(self, history: dict[str, list[Any]] | None = None) -> None:
        self.history: dict[str, list[Any]] = {k: list(v) for k, v in (history or {}).items()}
        self.stopped_reason: str | None = None
        self.diverged = False

    # ------------------------------------------------------------------ records
    def append(self, **values: Any) -> None:
        """Add one epoch's values; a key new to the history is padded with None for past epochs."""
        n = self.epochs
        for key, value in values.items():
            column = self.history.setdefault(key, [None] * n)
            column.append(_plain(value))
        for key, column in self.history.items():
            if key not in values:
                column.append(None)

    @property
    def epochs(self) -> int:
        """Number of epochs recorded."""
        return max((len(v) for v in self.history.values()), default=0)

    def last(self, key: str) -> Any:
        """The latest value of ``key`` (None if absent)."""
        column = self.history.get(key) or [None]
        return column[-1]

    def __getitem__(self, key: str) -> list[Any]:
        return self.history[key]

    def __contains__(self, key: object) -> bool:
        return key in self.history

    def __repr__(self) -> str:
        keys = ", ".join(self.history)
        return f"History(epochs={self.epochs}, keys=[{keys}])"

    # ----------------------------------------------------------------- to/from
    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict: the lists plus ``stopped_reason`` and ``diverged``."""
        return {
            "history": {k: list(v) for k, v in self.history.items()},
            "stopped_reason": self.stopped_reason,
            "diverged": self.diverged,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        h = cls(data.get("history", {}))
        h.stopped_reason = data.get("stopped_reason")
        h.diverged = bool(data.get("diverged", False))
        return h

    def to_json(self, path: str | os.PathLike[str]) -> Path:
        """Write the history as JSON (atomically: a temporary file, then a rename)."""
        path = Path(path)
        _atomic_write_text(path, json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")
        return path

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> History:
        """Read a history written by ``to_json``."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write a header of metric names, then one row per epoch; None is an empty cell."""
        path = Path(path)
        keys = list(self.history)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(keys)
            for i in range(self.epochs):
                row = [self.history[k][i] if i < len(self.history[k]) else None for k in keys]
                writer.writerow(
                    ["" if v is None else repr(v) if isinstance(v, float) else v for v in row]
                )
        os.replace(tmp, path)
        return path

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str]) -> History:
        """Read a history written by ``to_csv`` (numbers come back as int or float)."""
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        if not rows:
            return cls()
        keys, body = rows[0], rows[1:]
        return cls({k: [_parse(r[i]) for r in body] for i, k in enumerate(keys)})


def _plain(value: Any) -> Any:
    """A NumPy scalar becomes a Python number; NaN and inf become None (JSON has neither)."""
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _parse(cell: str) -> Any:
    if cell == "":
        return None
    for kind in (int, float):
        try:
            return kind(cell)
        except ValueError:
            pass
    return cell


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with naming_file(path):
        tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
