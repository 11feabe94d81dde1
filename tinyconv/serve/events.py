"""Live training over Server-Sent Events: a hub that fans events out, and the fit callback.

``EventHub.publish(event, data)`` sends ``data`` (JSON) to every page listening on
``GET /api/events``, and keeps it so that a page opened later first receives everything so far.
The wire format is the SSE one::

    id: 12
    event: step
    data: {"step": 12, "epoch": 1, "loss": 0.3412, "acc": 0.91}

``LiveTraining`` is a ``tinyconv.train.Callback``: it publishes ``begin``, one ``step`` per batch
(loss and accuracy of that batch), ``epoch`` (the epoch's history values) and ``end``; and every
few seconds it copies the weights being trained into the served ``Playground`` and publishes
``model``, so that the page's drawing is re-read by the model as it learns. ``fit`` gives its
callbacks each batch's loss but not its accuracy, so the accuracy comes from ``loss_fn``: the
cross-entropy ``fit`` uses anyway, which also counts the batch's correct predictions.
"""

from __future__ import annotations

import json
import math
import queue
import threading
import time
from collections import deque
from typing import Any

from ..ops.loss import cross_entropy
from ..tensor import Tensor
from ..train import Callback
from . import interrupt

KEEP_EVENTS = 50_000  # events replayed to a page that connects late
QUEUE_SIZE = 10_000  # events a slow page may lag behind before it is dropped


def format_event(event: str, data: Any, event_id: int) -> bytes:
    """One SSE message: ``id``, ``event`` and a one-line JSON ``data`` field.

    Example:
        >>> format_event("step", {"loss": 0.5}, 3)
        b'id: 3\\nevent: step\\ndata: {"loss": 0.5}\\n\\n'
    """
    text = json.dumps(data, separators=(", ", ": "), allow_nan=False)
    return f"id: {event_id}\nevent: {event}\ndata: {text}\n\n".encode()


class EventHub:
    """Fan-out of events to subscribers, with a replay of everything published so far.

    Example:
        >>> hub = EventHub()
        >>> hub.publish("step", {"step": 1})
        >>> q = hub.subscribe()
        >>> q.get_nowait()
        b'id: 1\\nevent: step\\ndata: {"step": 1}\\n\\n'
    """

    def __init__(self, keep: int = KEEP_EVENTS) -> None:
        self._lock = threading.Lock()
        self._history: deque[bytes] = deque(maxlen=keep)
        self._subscribers: list[queue.Queue[bytes | None]] = []
        self._next_id = 1
        self.closed = False
        self.live = False  # True once a training run publishes here

    def publish(self, event: str, data: Any) -> None:
        """Send ``event`` with JSON ``data`` (NaN/inf become null) to every subscriber."""
        with self._lock:
            message = format_event(event, _finite(data), self._next_id)
            self._next_id += 1
            self._history.append(message)
            for q in list(self._subscribers):
                try:
                    q.put_nowait(message)
                except queue.Full:  # a page that stopped reading: let it go
                    self._subscribers.remove(q)
                    _put_end(q)

    def subscribe(self) -> queue.Queue[bytes | None]:
        """A queue holding every past event, then each new one; ``None`` means the hub closed."""
        q: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_SIZE + len(self._history))
        with self._lock:
            for message in self._history:
                q.put_nowait(message)
            if self.closed:
                q.put_nowait(None)
            else:
                self._subscribers.append(q)
        return q

    def unsubscribe(self, q: queue.Queue[bytes | None]) -> None:
        with self._lock:
            if q in self._subscribers:
                self._subscribers.remove(q)

    def close(self) -> None:
        """End every subscription (the server is stopping)."""
        with self._lock:
            self.closed = True
            for q in self._subscribers:
                _put_end(q)
            self._subscribers.clear()


def _put_end(q: queue.Queue[bytes | None]) -> None:
    try:
        q.put_nowait(None)
    except queue.Full:
        pass


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


class LiveTraining(Callback):
    """A ``fit`` callback that streams training to an ``EventHub`` (and refreshes a Playground).

    Args:
        hub (EventHub): where the events go.
        model (Module | None): the model being trained, whose weights are copied into
            ``playground`` every ``refresh_s`` seconds and at each epoch's end. Default: None.
        playground (Playground | None): the served copy. Default: None.
        refresh_s (float): seconds between weight copies. Default: 2.0.

    Pass ``loss=live.loss_fn`` to ``fit`` to get each batch's accuracy in the ``step`` events.
    """

    def __init__(
        self,
        hub: EventHub,
        model: Any = None,
        playground: Any = None,
        refresh_s: float = 2.0,
    ) -> None:
        self.hub, self.model, self.playground, self.refresh_s = hub, model, playground, refresh_s
        self.step = 0
        self._batch_acc: float | None = None
        self._last_refresh = time.monotonic()
        hub.live = True

    def loss_fn(self, output: Tensor, target: Tensor) -> Tensor:
        """Mean cross-entropy, as ``fit``'s default; also notes the batch's accuracy."""
        logits, labels = output.data, target.data
        if logits.ndim == 2 and labels.ndim == 1 and len(labels):
            self._batch_acc = float((logits.argmax(axis=1) == labels).mean())
        return cross_entropy(output, target)

    def _refresh(self) -> None:
        if self.model is None or self.playground is None:
            return
        self.playground.update_weights(self.model.state_dict())
        self._last_refresh = time.monotonic()
        self.hub.publish("model", {"version": self.playground.version, "step": self.step})

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self.hub.publish("begin", {"epochs": logs.get("epochs"), "start": logs.get("start_epoch")})

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        interrupt.raise_if_pending()  # a Ctrl-C dropped inside a C callback stops here
        self.step += 1
        acc, self._batch_acc = self._batch_acc, None
        self.hub.publish(
            "step",
            {
                "step": self.step,
                "epoch": logs.get("epoch"),
                "batch": batch + 1,
                "loss": float(logs["loss"]),
                "acc": acc,
            },
        )
        if time.monotonic() - self._last_refresh >= self.refresh_s:
            self._refresh()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        keys = ("loss", "acc", "val_loss", "val_acc", "lr", "time")
        data = {k: float(logs[k]) for k in keys if logs.get(k) is not None}
        self.hub.publish("epoch", {"epoch": epoch, "step": self.step, **data})
        self._refresh()

    def on_train_end(self, logs: dict[str, Any]) -> None:
        history = logs.get("history")
        reason = getattr(history, "stopped_reason", None)
        self.hub.publish("end", {"step": self.step, "stopped_reason": reason})
