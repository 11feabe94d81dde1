"""The playground's HTTP server: the standard library's ThreadingHTTPServer, no framework.

Routes::

    GET  /                  the page (static/index.html, shipped as package data)
    GET  /static/<file>     its ES modules and CSS (.js as text/javascript)
    GET  /api/model         the served model: summary, layers, classes (api.Playground.describe)
    POST /api/predict       image -> class, probabilities, feature maps (api.Playground.predict)
    GET  /api/events        live training, as Server-Sent Events (events.EventHub)

It binds to 127.0.0.1 by default (this machine only). A request body over ``max_body`` bytes
(4 MiB) is refused with 413 before it is read; bad JSON, a bad image or a wrong size get a 4xx
with ``{"error": "..."}``; an unexpected error gets a 500 and the server goes on serving.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

from . import interrupt
from .api import ApiError, Playground
from .events import EventHub

MAX_BODY = 4 * 2**20
DRAIN_MAX = 64 * 2**20  # a refused body up to this size is read and dropped (see _discard)
KEEPALIVE_S = 15.0  # an SSE comment this often keeps proxies and browsers from timing out
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}
# The page loads nothing from elsewhere; data: URLs are its canvases' own images.
CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'"


def static_files() -> dict[str, bytes]:
    """Every file of the package's ``static`` folder, by its URL path (``/static/js/main.js``)."""
    root = resources.files(__package__).joinpath("static")
    found: dict[str, bytes] = {}
    stack = [(root, "/static")]
    while stack:
        folder, prefix = stack.pop()
        for entry in folder.iterdir():
            url = f"{prefix}/{entry.name}"
            if entry.is_dir():
                stack.append((entry, url))
            elif os.path.splitext(entry.name)[1] in CONTENT_TYPES:
                found[url] = entry.read_bytes()
    if "/static/index.html" not in found:
        raise FileNotFoundError(f"the playground's page is missing from {root} (broken install?)")
    return found


class PlaygroundServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer holding the served ``Playground``, the event hub and the page.

    Args:
        address: (host, port); port 0 picks a free port (see ``url``).
        playground (Playground): the model to serve.
        hub (EventHub | None): live training events. Default: a hub with no training.
        max_body (int): largest request body in bytes. Default: 4 MiB.
        quiet (bool): log nothing but internal errors. Default: True.
    """

    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        playground: Playground,
        hub: EventHub | None = None,
        max_body: int = MAX_BODY,
        quiet: bool = True,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.playground = playground
        self.hub = hub or EventHub()
        self.max_body = max_body
        self.quiet = quiet
        self.files = static_files()
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in str(host) else host
        return f"http://{host}:{port}/"

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def server_close(self) -> None:
        self.hub.close()
        super().server_close()


class Handler(BaseHTTPRequestHandler):
    """Answers one connection's requests (HTTP/1.1 keep-alive; SSE closes when it ends)."""

    server: PlaygroundServer
    protocol_version = "HTTP/1.1"
    server_version = "tinyconv-serve"
    timeout = 60  # seconds a connection may sit idle or half-sent
    disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        if not self.server.quiet:
            super().log_message(format, *args)

    # ----------------------------------------------------------------------- replies
    def _send(self, status: int, body: bytes, content_type: str, cache: str = "no-store") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.send_header("X-Content-Type-Options", "nosniff")
        if content_type.startswith("text/html"):
            self.send_header("Content-Security-Policy", CSP)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        body = json.dumps(data, separators=(",", ":"), allow_nan=False).encode()
        self._send(status, body, "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message, "status": status})

    # ------------------------------------------------------------------------ routes
    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        path = self.path.split("?", 1)[0]
        try:
            if path in ("/", "/index.html"):
                self._send(200, self.server.files["/static/index.html"], CONTENT_TYPES[".html"])
            elif path in self.server.files:
                kind = CONTENT_TYPES[os.path.splitext(path)[1]]
                self._send(200, self.server.files[path], kind, cache="no-cache")
            elif path == "/api/model":
                self._json(200, {**self.server.playground.describe(), "live": self.server.hub.live})
            elif path == "/api/events":
                self._events()
            elif path == "/favicon.ico":
                self._send(204, b"", "text/plain")
            else:
                self._error(404, f"no such page: {path}")
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as e:  # the server must survive anything a request triggers
            self._internal_error(e)

    def do_HEAD(self) -> None:  # noqa: N802
        if self.path.split("?", 1)[0] == "/api/events":
            self._error(405, "HEAD /api/events: the event stream has no headers-only form")
        else:
            self.do_GET()

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        try:
            if path != "/api/predict":
                self._drain_or_close()
                self._error(404 if not path.startswith("/api/") else 405, f"cannot POST {path}")
                return
            payload = self._read_json()
            self._json(200, self.server.playground.predict(payload))
        except ApiError as e:
            self._error(e.status, e.message)
            if e.status == 413:
                self.wfile.flush()
                self._discard(self._length())
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as e:
            self._internal_error(e)

    def _internal_error(self, e: BaseException) -> None:
        traceback.print_exc(file=sys.stderr)
        self.close_connection = True
        try:
            self._error(500, f"internal error: {type(e).__name__}: {e}")
        except Exception:
            pass

    # ----------------------------------------------------------------------- bodies
    def _length(self) -> int:
        if self.headers.get("Transfer-Encoding", "").lower() not in ("", "identity"):
            self.close_connection = True
            raise ApiError(411, "send the body with a Content-Length (chunked bodies are refused)")
        text = self.headers.get("Content-Length")
        if text is None:
            raise ApiError(411, "a Content-Length header is required")
        try:
            n = int(text)
        except ValueError:
            n = -1
        if n < 0:
            self.close_connection = True
            raise ApiError(400, f"bad Content-Length {text!r}")
        return n

    def _drain_or_close(self) -> None:
        try:
            n = self._length()
        except ApiError:
            return
        if n > self.server.max_body:
            self.close_connection = True
        else:
            self.rfile.read(n)

    def _too_large(self, n: int) -> ApiError:
        self.close_connection = True  # an unread body must never be taken for a request
        return ApiError(
            413, f"request body too large: {n:,} bytes, the limit is {self.server.max_body:,}"
        )

    def handle_expect_100(self) -> bool:
        """``Expect: 100-continue`` (curl, for big bodies): refuse a too-large one unsent."""
        try:
            n = self._length()
        except ApiError as e:
            self._error(e.status, e.message)
            return False
        if n > self.server.max_body:
            e = self._too_large(n)
            self._error(e.status, e.message)
            return False
        return super().handle_expect_100()

    def _discard(self, n: int) -> None:
        """Read and drop up to DRAIN_MAX bytes of a refused body, so that the client, still
        sending, gets to read the 413 instead of a connection reset."""
        left = min(n, DRAIN_MAX)
        try:
            while left > 0:
                chunk = self.rfile.read(min(left, 1 << 16))
                if not chunk:
                    break
                left -= len(chunk)
        except OSError:
            pass

    def _read_json(self) -> Any:
        n = self._length()
        if n > self.server.max_body:
            raise self._too_large(n)
        body = self.rfile.read(n)
        if len(body) != n:
            self.close_connection = True
            raise ApiError(400, f"the body ended after {len(body)} of {n} bytes")
        if not body.strip():
            raise ApiError(400, 'empty body: send JSON such as {"image": [[...]]}')
        try:
            return json.loads(body)
        except UnicodeDecodeError:
            raise ApiError(400, "bad JSON: the body is not UTF-8 text") from None
        except json.JSONDecodeError as e:
            raise ApiError(400, f"bad JSON: {e}") from None
        except RecursionError:
            raise ApiError(400, "bad JSON: nested too deeply") from None

    # ------------------------------------------------------------------------ events
    def _events(self) -> None:
        hub = self.server.hub
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        hello = json.dumps({"live": hub.live, "version": self.server.playground.version})
        self.wfile.write(f"retry: 3000\nevent: hello\ndata: {hello}\n\n".encode())
        self.wfile.flush()
        q = hub.subscribe()
        try:
            while True:
                try:
                    message = q.get(timeout=KEEPALIVE_S)
                except Exception:  # queue.Empty: nothing happened for a while
                    message = b": keep-alive\n\n"
                if message is None:
                    break
                self.wfile.write(message)
                self.wfile.flush()
        finally:
            hub.unsubscribe(q)


# -------------------------------------------------------------------------- starting
def make_server(
    playground: Playground,
    host: str = "127.0.0.1",
    port: int = 8000,
    hub: EventHub | None = None,
    quiet: bool = True,
) -> PlaygroundServer:
    """Bind a ``PlaygroundServer`` (port 0: a free port); call ``serve_forever`` to run it."""
    return PlaygroundServer((host, port), playground, hub=hub, quiet=quiet)


def start_in_thread(server: PlaygroundServer) -> threading.Thread:
    """Run ``server.serve_forever`` in a daemon thread; stop with ``server.shutdown()``."""
    thread = threading.Thread(target=server.serve_forever, name="tinyconv-serve", daemon=True)
    thread.start()
    return thread


def load_playground(path: str | os.PathLike[str]) -> Playground:
    """A ``Playground`` for a model file written by ``tinyconv train`` (or ``tinyconv.save``)."""
    from .. import io, models  # noqa: F401, PLC0415  (the zoo's classes register on import)

    if os.fspath(path).lower().endswith(".onnx"):
        from ..onnx.files import load_model_file  # noqa: PLC0415

        model, meta = load_model_file(path)
    else:
        model = io.load(path)
        if not hasattr(model, "forward"):
            raise ValueError(f"{path} holds weights only (a state dict), not a model to serve")
        meta = io.read_metadata(path)
    shape = meta.get("input_shape") or getattr(model, "input_shape", None)
    if shape is None:
        raise ValueError(f"{path} does not say the model's input shape (C, H, W)")
    return Playground(
        model,
        shape,
        classes=meta.get("classes"),
        mean=meta.get("mean", (0.0,)),
        std=meta.get("std", (1.0,)),
        source=os.fspath(path),
        metadata=meta,
    )


def newest_model(runs: str | os.PathLike[str] = "runs") -> Path | None:
    """The most recently written ``runs/*/model.safetensors`` (None when there is none)."""
    found = [p for p in Path(runs).glob("*/model.safetensors") if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def resolve_model(arg: str | None, runs: str | os.PathLike[str] = "runs") -> Path | None:
    """MODEL of ``tinyconv serve``: a file, a run folder, or (None) the newest under ``runs``."""
    if arg is None:
        return newest_model(runs)
    path = Path(arg)
    if path.is_dir():
        path = path / "model.safetensors"
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    return path


def parse_address(text: str) -> tuple[str, int]:
    """``"[HOST:]PORT"`` -> (host, port); the host defaults to 127.0.0.1.

    Example:
        >>> parse_address("8001"), parse_address("0.0.0.0:0")
        (('127.0.0.1', 8001), ('0.0.0.0', 0))
    """
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise ValueError(f"expected [HOST:]PORT with a port in 0..65535, got {text!r}")
    return host, number


def stop_on_ctrl_c() -> None:
    """Make SIGINT (Ctrl-C, ``kill -INT``) raise KeyboardInterrupt, even if it was ignored.

    A process started in the background by a non-interactive shell (``cmd &`` in a script, a
    test runner launched that way) inherits SIGINT set to "ignore", and Python then installs
    no handler: a server that says "Ctrl-C to stop" would never stop on it. The servers call
    this before they wait; it does nothing outside the main thread. The handler also remembers
    the interrupt (``interrupt.pending``), for one raised where Python drops it.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    current = signal.getsignal(signal.SIGINT)
    if current in (signal.SIG_IGN, signal.SIG_DFL, None, signal.default_int_handler):
        signal.signal(signal.SIGINT, interrupt.handle_sigint)  # raises and remembers
        interrupt.quiet_dropped_interrupts()
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def serve_until_interrupted(server: PlaygroundServer) -> None:
    """``serve_forever`` until Ctrl-C, then close the server."""
    stop_on_ctrl_c()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nstopped", file=sys.stderr)
    finally:
        server.server_close()


# ------------------------------------------------------------------------------ CLI
def _port(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port in 0..65535, got {text!r}")
    return number


def add_serve_parser(sub: Any, train_live: Callable[[str], int] | None = None) -> None:
    """Add ``tinyconv serve [MODEL] [--port 8000] [--host 127.0.0.1]`` to the CLI.

    Args:
        sub: the CLI's subparsers.
        train_live: ``train_live("HOST:PORT")`` trains the default model while the page shows
            it live, for ``tinyconv serve`` without a model; the CLI passes its own
            ``tinyconv train --serve`` (this package sits below the CLI and never imports it).
            Default: None (serving without a model is then an error).
    """
    s = sub.add_parser(
        "serve",
        help="the playground in the browser: draw a digit, see every layer answer",
        description="Serve a trained model with a page to draw digits on: the image the model "
        "sees, its prediction and probabilities, every conv/pool layer's feature maps and the "
        "model's summary. Without MODEL it serves the newest runs/*/model.safetensors; when "
        "there is none it first trains the default model (SimpleConvNet on full MNIST when it is "
        "in the data directory, else on the MNIST sample inside the package), shown live.",
    )
    s.add_argument(
        "model",
        nargs="?",
        metavar="MODEL",
        help="a .safetensors model file or a run folder (default: the newest under runs/)",
    )
    s.add_argument("--port", type=_port, default=8000, help="port (8000; 0 picks a free one)")
    s.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (127.0.0.1: this machine only)"
    )
    s.set_defaults(func=cmd_serve, train_live=train_live)


def _what_default_training_uses() -> str:
    """What ``tinyconv train`` with no options trains on, said truthfully."""
    from ..data import data_dir, default_dataset  # noqa: PLC0415

    if default_dataset() == "mnist":
        data = f"full MNIST (from {data_dir()}) for the default epochs"
    else:
        data = (
            "the MNIST sample inside the package, since full MNIST is not in "
            f"{data_dir()} (tinyconv train --data mnist downloads it)"
        )
    return (
        f"training the default model first: SimpleConvNet on {data}. The page shows the "
        "training live, then serves the model."
    )


def cmd_serve(args: argparse.Namespace) -> int:
    """``tinyconv serve``: serve MODEL, or train the default model first while showing it live."""
    path = resolve_model(args.model)
    train_live = getattr(args, "train_live", None)
    if path is None and train_live is None:
        raise FileNotFoundError("no model under runs/ to serve: pass MODEL (a .safetensors file)")
    if path is None:
        print(f"No model under runs/: {_what_default_training_uses()}", flush=True)
        return train_live(f"{args.host}:{args.port}")
    server = make_server(load_playground(path), args.host, args.port)
    print(f"Serving {path} at {server.url}  (Ctrl-C to stop)", flush=True)
    serve_until_interrupted(server)
    return 0
