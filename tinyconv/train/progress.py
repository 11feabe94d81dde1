"""A per-epoch progress bar: tqdm when it is installed, else one self-overwriting text line.

The bar shows the running mean loss, the running accuracy and the throughput in images per
second. Both variants write to stderr, so a redirected stdout holds only the epoch summaries.
When stderr is not a terminal (a log file, a pipe) nothing is redrawn: one plain line is
written every ``LOG_EVERY_S`` seconds instead, so a log holds no carriage returns.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

LOG_EVERY_S = 30.0


def is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed file
        return False


def _describe(loss: float, acc: float | None, rate: float) -> str:
    acc_text = "" if acc is None else f" acc {100 * acc:6.2f}%"
    return f"loss {loss:.4f}{acc_text} {rate:,.0f} img/s"


class ProgressBar:
    """Progress over one epoch of ``total`` batches, showing images per second.

    Args:
        total (int | None): batches in the epoch (None when the loader has no length).
        desc (str): text in front of the bar, e.g. "Epoch 2/3".
        enabled (bool): False makes every method a no-op. Default: True.
        stream: where to write. Default: sys.stderr.
        use_tqdm (bool | None): force tqdm on or off; None uses it when importable.
    """

    def __init__(
        self,
        total: int | None,
        desc: str,
        enabled: bool = True,
        stream: TextIO | None = None,
        use_tqdm: bool | None = None,
    ) -> None:
        self.total, self.desc, self.enabled = total, desc, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.seen = 0
        self.batches = 0
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._bar: Any = None
        self.terminal = is_terminal(self.stream)
        if not enabled:
            return
        if use_tqdm or (use_tqdm is None and self.terminal):
            try:
                from tqdm.auto import tqdm  # noqa: PLC0415
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(
                    total=total,
                    desc=desc,
                    unit="batch",
                    leave=False,
                    file=self.stream,
                    dynamic_ncols=True,
                    mininterval=0.2,
                )

    @property
    def rate(self) -> float:
        """Images per second since the bar started."""
        return self.seen / max(time.perf_counter() - self.start, 1e-9)

    def update(self, images: int, loss: float, acc: float | None) -> None:
        """Record one batch of ``images``; ``loss``/``acc`` are the running epoch means."""
        self.seen += images
        self.batches += 1
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(_describe(loss, acc, self.rate), refresh=False)
            self._bar.update(1)
            return
        now = time.perf_counter()
        done = f"{self.batches}/{self.total}" if self.total else str(self.batches)
        if not self.terminal:  # a log: a plain line now and then, never redrawn
            if now - max(self._last_draw, self.start) >= LOG_EVERY_S:
                self._last_draw = now
                self.stream.write(f"{self.desc} {done} {_describe(loss, acc, self.rate)}\n")
                self.stream.flush()
            return
        if now - self._last_draw < 0.2 and (self.total is None or self.batches < self.total):
            return
        self._last_draw = now
        self.stream.write(f"\r{self.desc} {done} {_describe(loss, acc, self.rate)}  ")
        self.stream.flush()

    def close(self) -> None:
        """Remove the bar (the caller prints the epoch summary)."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.terminal:
            self.stream.write("\r" + " " * 79 + "\r")
            self.stream.flush()
