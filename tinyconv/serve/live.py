"""``tinyconv train --serve``: serve the playground while a model trains, then serve the result.

    live = start_live_training("127.0.0.1:8000", model, (1, 28, 28), classes, mean, std)
    history = fit(model, train, val, **live.fit_kwargs)      # streams every step to the page
    tinyconv.save(model, path, metadata=...)
    live.finish(path)                                          # serves the saved model until Ctrl-C

The page's training tab draws the curves from the ``/api/events`` stream; its playground reads
the drawing with a copy of the model whose weights follow the training every couple of seconds.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Sequence
from typing import Any

from ..backend import default_rng
from ..nn import Module, build_module
from . import interrupt
from .api import Playground
from .events import EventHub, LiveTraining
from .server import (
    PlaygroundServer,
    load_playground,
    make_server,
    parse_address,
    start_in_thread,
    stop_on_ctrl_c,
)


def serving_copy(model: Module) -> Module:
    """A CPU copy of ``model`` (same architecture and weights) that shares no memory with it.

    Building the copy draws initial weights from tinyconv's global generator; its state is
    restored afterwards, so a training run is not changed by being watched.
    """
    rng = default_rng()
    state = rng.bit_generator.state
    try:
        copy = build_module(model.config())
    finally:
        rng.bit_generator.state = state
    copy.load_state_dict(model.state_dict())  # copies every array (to the CPU)
    return copy


class LiveSession:
    """A server running in a thread while ``fit`` trains (see ``start_live_training``)."""

    def __init__(
        self, server: PlaygroundServer, thread: threading.Thread, callback: LiveTraining
    ) -> None:
        self.server, self.thread, self.callback = server, thread, callback

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def fit_kwargs(self) -> dict[str, Any]:
        """``callbacks`` and ``loss`` to pass to ``fit`` (the loss is fit's own cross-entropy)."""
        return {"callbacks": [self.callback], "loss": self.callback.loss_fn}

    def finish(self, model_path: str | os.PathLike[str] | None = None, wait: bool = True) -> None:
        """Serve the saved model (when given); with ``wait``, until Ctrl-C, then stop."""
        if model_path is not None:
            self.server.playground = load_playground(model_path)
            self.server.playground.version = self.callback.step + 1
            self.server.hub.publish(
                "model", {"version": self.server.playground.version, "source": str(model_path)}
            )
        if not wait:
            return
        stop_on_ctrl_c()
        print(f"Training done; serving the model at {self.url}  (Ctrl-C to stop)", flush=True)
        try:
            while self.thread.is_alive():
                interrupt.raise_if_pending()
                self.thread.join(0.5)
        except KeyboardInterrupt:
            print("\nstopped", file=sys.stderr)
        finally:
            self.close()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_live_training(
    address: str,
    model: Module,
    input_shape: Sequence[int],
    classes: Sequence[str] | None = None,
    mean: Sequence[float] = (0.0,),
    std: Sequence[float] = (1.0,),
    refresh_s: float = 2.0,
    preprocess: str = "auto",
) -> LiveSession:
    """Start the playground server for a training run of ``model`` at ``"[HOST:]PORT"``.

    Args:
        address: where to listen, e.g. "8000" or "127.0.0.1:0" (port 0: a free port).
        model: the model about to be trained.
        input_shape: (C, H, W) of one input.
        classes, mean, std: the dataset's class names and normalisation.
        refresh_s: seconds between copies of the weights into the served model. Default: 2.
        preprocess (str): the image recipe, "mnist" or "resize" (``data.images``). Default:
            "auto" (MNIST's, a drawing pad).

    Returns:
        LiveSession: pass ``session.fit_kwargs`` to ``fit``; call ``finish`` after saving.
    """
    host, port = parse_address(address)
    hub = EventHub()
    playground = Playground(
        serving_copy(model),
        input_shape,
        classes,
        mean,
        std,
        source="live training",
        preprocess=preprocess,
    )
    callback = LiveTraining(hub, model=model, playground=playground, refresh_s=refresh_s)
    server = make_server(playground, host, port, hub=hub)
    thread = start_in_thread(server)
    print(f"Live training view: {server.url}", flush=True)
    return LiveSession(server, thread, callback)
