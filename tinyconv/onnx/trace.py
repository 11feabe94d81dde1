"""Record the operations of one forward pass: every ``Function.apply`` with its inputs.

Tracing runs the model on a dummy batch with ``Function.apply`` wrapped, so whatever a
``forward`` does (residual adds, concatenations, reshapes written in Python) arrives as the
Functions it called, each with its Tensor inputs and keyword arguments. The exporter then
turns each recorded call into ONNX nodes. Only one trace runs at a time (a lock).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..tensor import Function, Tensor

_LOCK = threading.Lock()


@dataclass
class Call:
    """One ``Function.apply``: the class, positional inputs, keyword arguments and output."""

    fn: type[Function]
    inputs: tuple[Any, ...]
    kwargs: dict[str, Any]
    output: Tensor


@dataclass
class Trace:
    """The calls of one forward, in order (``keep`` holds every object so no id is reused)."""

    calls: list[Call] = field(default_factory=list)


@contextmanager
def tracing() -> Iterator[Trace]:
    """Within the block, every ``Function.apply`` is appended to the yielded Trace."""
    trace = Trace()
    original = Function.__dict__["apply"]

    def traced(cls: type[Function], *inputs: Any, **kwargs: Any) -> Tensor:
        out = original.__func__(cls, *inputs, **kwargs)
        trace.calls.append(Call(cls, inputs, dict(kwargs), out))
        return out

    with _LOCK:
        Function.apply = classmethod(traced)  # type: ignore[method-assign]
        try:
            yield trace
        finally:
            Function.apply = original  # type: ignore[method-assign]
