"""Ctrl-C that is never lost: SIGINT raises KeyboardInterrupt AND is remembered.

Python raises KeyboardInterrupt wherever the main thread is when the signal's handler runs. Inside
a C callback (Numba compiling a kernel calls back into Python through llvmlite's object-cache
hook, a ctypes callback) the exception is printed as "Exception ignored" and dropped: the run
goes on as if Ctrl-C had never been pressed. ``handle_sigint`` therefore also sets a flag, and
the long loops (``fit`` through ``LiveTraining.on_batch_end``, the live server's wait) call
``raise_if_pending`` at safe points, so a dropped interrupt still stops the run at the next
batch.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

_PENDING = threading.Event()


def handle_sigint(signum: int, frame: Any) -> None:
    """The SIGINT handler of ``server.stop_on_ctrl_c``: remember, then raise."""
    _PENDING.set()
    raise KeyboardInterrupt


def quiet_dropped_interrupts() -> None:
    """Print nothing for a KeyboardInterrupt Python drops (it is remembered, and raised again at
    the next safe point): Ctrl-C stays one line. Other unraisable errors print as before."""
    previous = sys.unraisablehook
    if getattr(previous, "_tinyconv", False):
        return

    def hook(unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            previous(unraisable)

    hook._tinyconv = True  # type: ignore[attr-defined]
    sys.unraisablehook = hook


def pending() -> bool:
    """Whether a Ctrl-C arrived since the last ``clear``."""
    return _PENDING.is_set()


def raise_if_pending() -> None:
    """Raise KeyboardInterrupt when a Ctrl-C arrived (and was perhaps dropped) before now."""
    if _PENDING.is_set():
        raise KeyboardInterrupt


def clear() -> None:
    _PENDING.clear()


def remember_ctrl_c() -> None:
    """Where Ctrl-C raises KeyboardInterrupt (Python's own handler), also remember it
    (``handle_sigint``); an ignored SIGINT stays ignored. Main thread only; else nothing."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, handle_sigint)
        quiet_dropped_interrupts()


class StopOnCtrlC:
    """A ``fit`` callback: a remembered Ctrl-C (perhaps dropped where it was raised) stops
    training at the end of the batch."""

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        raise_if_pending()
