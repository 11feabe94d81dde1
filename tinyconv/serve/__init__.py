"""``tinyconv serve``: a playground in the browser — draw a digit, watch every layer answer.

    tinyconv serve                          # the newest runs/*/model.safetensors (or train one)
    tinyconv serve runs/<run>/ --port 8001
    tinyconv train --serve                  # watch the loss and accuracy live while it trains

In Python::

    from tinyconv.serve import load_playground, make_server
    server = make_server(load_playground("runs/<run>/model.safetensors"), port=0)
    print(server.url); server.serve_forever()

The server is the standard library's ThreadingHTTPServer; the page (static HTML, plain ES
modules and CSS, shipped as package data) loads nothing from the network. ``api`` answers
``/api/model`` and ``/api/predict``, ``preprocess`` turns a drawing into MNIST's 28x28 form in
NumPy, ``events`` streams live training over Server-Sent Events, ``live`` ties it to ``fit``.
"""

from .api import ApiError, Playground, quantize
from .events import EventHub, LiveTraining
from .live import LiveSession, serving_copy, start_live_training
from .preprocess import ImageError, area_resize, decode_image, mnist_preprocess
from .server import (
    PlaygroundServer,
    load_playground,
    make_server,
    newest_model,
    resolve_model,
    serve_until_interrupted,
    start_in_thread,
)

__all__ = [
    "ApiError",
    "EventHub",
    "ImageError",
    "LiveSession",
    "LiveTraining",
    "Playground",
    "PlaygroundServer",
    "area_resize",
    "decode_image",
    "load_playground",
    "make_server",
    "mnist_preprocess",
    "newest_model",
    "quantize",
    "resolve_model",
    "serve_until_interrupted",
    "serving_copy",
    "start_in_thread",
    "start_live_training",
]
