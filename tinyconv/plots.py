"""Training curves as a PNG: loss and accuracy per epoch, training and validation.

matplotlib is optional (``pip install tinyconv[viz]``). The figure is drawn with the Agg
canvas directly, never through ``pyplot``, so it works on a machine with no display and
does not change the backend of a notebook that imports tinyconv.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def plot_history(
    history: Any, path: str | os.PathLike[str], title: str | None = None
) -> Path | None:
    """Write the loss and accuracy curves of a ``History`` (or its dict) to a PNG file.

    Args:
        history: a ``tinyconv.train.History`` or its ``history`` dict of lists.
        path: the PNG file to write (parent folders are created).
        title (str | None): a title over both panels. Default: None.

    Returns:
        The path written, or None when matplotlib is not installed.
    """
    if not matplotlib_available():
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    h = getattr(history, "history", history)
    epochs = h.get("epoch") or list(range(1, len(h.get("loss", [])) + 1))
    fig = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(fig)
    panels = (("loss", "loss", "Loss"), ("acc", "accuracy (%)", "Accuracy"))
    for i, (key, ylabel, name) in enumerate(panels):
        ax = fig.add_subplot(1, 2, i + 1)
        scale = 100.0 if key == "acc" else 1.0
        for prefix, label, style in (("", "train", "o-"), ("val_", "validation", "s--")):
            values = h.get(prefix + key)
            if not values:
                continue
            pts = [(e, v * scale) for e, v in zip(epochs, values, strict=False) if v is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=label)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(ylabel)
        ax.set_title(name)
        ax.grid(True, alpha=0.3)
        if ax.lines:
            ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
