"""The playground's JSON API: one model, its description, and predictions with feature maps.

``Playground`` holds the served model and answers the two endpoints:

- ``GET /api/model`` -> ``describe()``: name, input shape, classes, the summary table and the
  layer list (which layers have feature maps), the file's metadata.
- ``POST /api/predict`` -> ``predict(payload)``. Request::

      {"image": [[0, 0, 255, ...], ...] | "data:image/png;base64,...",
       "invert": "auto" | true | false,    # optional, default "auto" (see decode_image)
       "preprocess": true,                  # the model's recipe (data.images: "mnist" crops,
                                            # fits 20x20 and centres; "resize"), or the name of
                                            # one; false: send HxW as is
       "maps": true,                        # include feature maps (default true)
       "max_channels": 64}                  # at most this many maps per layer

  Response::

      {"empty": false, "class": 1, "label": "1", "probabilities": [...],
       "input": {"shape": [28, 28], "data": "<base64 uint8>"},   # what the model saw (grey)
       "maps": [{"name": "conv1", "type": "Conv2d", "shape": [30, 24, 24], "channels": 30,
                 "scale": s, "offset": o, "data": "<base64 uint8, C*H*W>"}, ...],
       "version": 3, "time_ms": 4.1}

  A map value is ``offset + scale * byte`` (one scale/offset per layer, from its min and max).
  An empty image answers ``{"empty": true, "class": null, "message": ...}`` instead.

The model is used for inference only: its parameters get ``requires_grad=False`` so that a
forward builds no graph without touching the global ``no_grad`` switch (a training loop may be
running in another thread of the same process). Forwards are serialised by a lock.
"""

from __future__ import annotations

import base64
import math
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy

from .. import io, nn
from ..data import images
from ..tensor import Tensor
from .preprocess import ImageError, decode_payload

MAP_LAYERS = (
    nn.Conv2d,
    nn.ConvTranspose2d,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.MinPool2d,
    nn.AdaptiveAvgPool2d,
)
MAX_MAP_VALUES = 4_000_000  # feature-map bytes per response, beyond which layers are omitted


class ApiError(Exception):
    """A request the API refuses: answered with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _b64(arr: numpy.ndarray) -> str:
    return base64.b64encode(numpy.ascontiguousarray(arr, dtype=numpy.uint8).tobytes()).decode()


def quantize(x: numpy.ndarray) -> tuple[numpy.ndarray, float, float]:
    """uint8 codes, scale and offset with ``x ~ offset + scale * codes`` (min/max of ``x``).

    Example:
        >>> q, scale, offset = quantize(numpy.array([-1.0, 0.0, 4.0], numpy.float32))
        >>> q.tolist(), round(scale * 255, 6), offset
        ([0, 51, 255], 5.0, -1.0)
    """
    lo, hi = float(x.min()), float(x.max())
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return numpy.zeros(x.shape, dtype=numpy.uint8), 0.0, lo if math.isfinite(lo) else 0.0
    scale = (hi - lo) / 255.0
    codes = numpy.rint((x.astype(numpy.float32) - numpy.float32(lo)) / numpy.float32(scale))
    return numpy.clip(codes, 0, 255).astype(numpy.uint8), scale, lo


def _json_safe(value: Any) -> Any:
    """Metadata made JSON-safe (NaN/inf become None)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


class Playground:
    """A model served for drawing: preprocessing, prediction and feature maps.

    Args:
        model (Module): a classifier, (N, C, H, W) -> (N, K) logits.
        input_shape (tuple): (C, H, W) of one input.
        classes (list[str] | None): class names. Default: "0".."K-1".
        mean, std (sequence of float): per-channel normalisation of x/255. Default: 0 and 1.
        source (str): where the model came from, shown by the page. Default: "".
        metadata (dict | None): the model file's metadata, shown by ``describe``; its
            ``"preprocess"`` (or dataset) chooses the image recipe.
        preprocess (str): "mnist", "resize", or "auto" (default): the metadata's recipe, and
            MNIST's when the metadata names neither a recipe nor a dataset (a drawing pad).

    Raises:
        ValueError: the model is not a classifier of ``input_shape`` images, or ``classes``
            does not name each of its outputs (``io.class_names``: as ``tinyconv predict``).
        TypeError: ``classes`` is not a list of strings.
    """

    def __init__(
        self,
        model: nn.Module,
        input_shape: Sequence[int],
        classes: Sequence[str] | None = None,
        mean: Sequence[float] = (0.0,),
        std: Sequence[float] = (1.0,),
        source: str = "",
        metadata: Mapping[str, Any] | None = None,
        preprocess: str = "auto",
    ) -> None:
        self.input_shape = tuple(int(s) for s in input_shape)
        if len(self.input_shape) != 3:
            raise ValueError(f"input_shape must be (C, H, W), got {self.input_shape}")
        C = self.input_shape[0]
        self.mean = numpy.resize(numpy.asarray(mean, numpy.float32), C).reshape(C, 1, 1)
        self.std = numpy.resize(numpy.asarray(std, numpy.float32), C).reshape(C, 1, 1)
        self.source = source
        self.metadata = dict(metadata or {})
        known = self.metadata.get("preprocess") or self.metadata.get("dataset")
        self.recipe = images.resolve_recipe(
            self.metadata if known else {"preprocess": "mnist"}, preprocess
        )
        self.version = 0
        self.lock = threading.Lock()
        self._captured: list[tuple[str, nn.Module, Any]] | None = None
        self.model = model
        model.eval()
        summary = model.summary(self.input_shape)  # before freezing: it counts trainable params
        model.requires_grad_(False)
        out = summary.rows[-1].output_shape if summary.rows else ()
        if len(out) != 1:
            raise ValueError(
                f"the playground needs a classifier with (N, classes) outputs; "
                f"{type(model).__name__} gives {out} per input"
            )
        self.num_classes = int(out[0])
        where = f"Playground({source})" if source else "Playground"
        self.classes = io.class_names(classes, self.num_classes, where)
        self.summary = summary
        self.map_layers = [
            (name, m) for name, m in model.named_modules() if isinstance(m, MAP_LAYERS)
        ]
        for name, m in self.map_layers:
            m.register_forward_hook(self._hook(name))

    # ------------------------------------------------------------------------ model
    def _hook(self, name: str) -> Any:
        def hook(module: nn.Module, inputs: tuple, output: Any) -> None:
            if self._captured is not None and isinstance(output, Tensor):
                self._captured.append((name, module, output.data))

        return hook

    def update_weights(self, state: Mapping[str, Any]) -> None:
        """Copy new weights in (a live training run's latest), then bump ``version``.

        ``state`` maps names to Tensors or arrays; ``load_state_dict`` copies them (to the CPU),
        so the training may go on changing its own.
        """
        with self.lock:
            self.model.load_state_dict(dict(state))
            self.model.requires_grad_(False)
            self.version += 1

    def describe(self) -> dict[str, Any]:
        """The answer of ``GET /api/model``."""
        s = self.summary
        mapped = {name for name, _ in self.map_layers}
        return {
            "name": type(self.model).__name__,
            "source": self.source,
            "input_shape": list(self.input_shape),
            "classes": self.classes,
            "summary": str(s),
            "total_params": s.total_params,
            "layers": [
                {
                    "name": r.name,
                    "type": r.layer,
                    "description": r.description,
                    "output_shape": list(r.output_shape),
                    "params": r.params,
                    "maps": r.name in mapped,
                }
                for r in s.rows
            ],
            "metadata": _json_safe(self.metadata),
            "version": self.version,
        }

    # ---------------------------------------------------------------------- predict
    def prepare(self, payload: Any) -> numpy.ndarray | None:
        """The request's image as the model sees it: float32 (H, W) grey (a grey model) or
        (C, H, W) in 0..255, before normalisation; None when it is empty."""
        if not isinstance(payload, dict):
            raise ApiError(400, 'the body must be a JSON object such as {"image": [[...]]}')
        if "image" not in payload:
            raise ApiError(400, 'missing "image": send {"image": [[...]]} or a PNG data URL')
        invert = payload.get("invert", "auto")
        if invert not in (True, False, "auto"):
            raise ApiError(400, f'"invert" must be true, false or "auto", got {invert!r}')
        try:
            img = decode_payload(payload["image"])
        except ImageError as e:
            raise ApiError(e.status, str(e)) from None
        C, H, W = self.input_shape
        wanted = payload.get("preprocess", True)
        if wanted is False:
            ink = img.pixels[..., 0] if img.alpha is None else img.alpha
            if img.alpha is None and img.pixels.shape[-1] != 1:
                ink = images.to_channels(img.pixels, 1)[..., 0]
            if img.alpha is None and (
                invert is True or (invert == "auto" and images.bright_border(ink))
            ):
                ink = numpy.float32(255.0) - ink
            if ink.shape != (H, W):
                raise ApiError(
                    400,
                    f'wrong image size {ink.shape[0]}x{ink.shape[1]}: with "preprocess": false '
                    f"the image must be the model's input size {H}x{W}",
                )
            if float(ink.max()) < 1.0:
                return None
            return numpy.clip(numpy.rint(ink), 0, 255).astype(numpy.float32)
        recipe = self.recipe if wanted is True else wanted
        if recipe not in images.RECIPES:
            raise ApiError(
                400, f'"preprocess" must be true, false, "mnist" or "resize", got {wanted!r}'
            )
        if recipe == "mnist" and H != W:
            raise ApiError(400, f"preprocessing needs a square input, the model's is {H}x{W}")
        seen, blank = images.prepare(img, self.input_shape, recipe, invert)
        if blank:
            return None
        return seen[0] if C == 1 else seen

    def predict(self, payload: Any) -> dict[str, Any]:
        """The answer of ``POST /api/predict`` (see the module docstring)."""
        t0 = time.perf_counter()
        image = self.prepare(payload)
        want_maps = bool(payload.get("maps", True))
        max_channels = payload.get("max_channels", 64)
        if isinstance(max_channels, bool) or not isinstance(max_channels, int) or max_channels < 1:
            raise ApiError(400, f'"max_channels" must be a positive integer, got {max_channels!r}')
        if image is None:
            return {
                "empty": True,
                "message": "the image is empty: draw a digit",
                "class": None,
                "label": None,
                "probabilities": None,
                "maps": [],
                "version": self.version,
            }
        logits, maps = self.forward(image, want_maps)
        shown = image if image.ndim == 2 else image.mean(axis=0)  # the page draws (H, W) grey
        z = logits.astype(numpy.float64) - float(logits.max())
        probs = numpy.exp(z) / numpy.exp(z).sum()
        k = int(numpy.argmax(probs))
        return {
            "empty": False,
            "class": k,
            "label": self.classes[k],
            "probabilities": [round(float(p), 6) for p in probs],
            "input": {"shape": list(shown.shape), "data": _b64(numpy.rint(shown))},
            "maps": self._encode_maps(maps, max_channels) if want_maps else [],
            "version": self.version,
            "time_ms": round(1000 * (time.perf_counter() - t0), 2),
        }

    def forward(
        self, image: numpy.ndarray, maps: bool = True
    ) -> tuple[numpy.ndarray, list[tuple[str, nn.Module, Any]]]:
        """Logits (K,) of one (H, W) or (C, H, W) image of grey levels 0..255, and the map
        layers' (name, layer, output)."""
        x = image.astype(numpy.float32)
        x = x[None] if x.ndim == 2 else x  # (1, H, W): grey copied to C by broadcasting
        x = images.normalize(numpy.broadcast_to(x, self.input_shape), self.mean, self.std)[None]
        dtype = next((p.data.dtype for p in self.model.parameters()), numpy.dtype(numpy.float32))
        with self.lock:
            self._captured = [] if maps else None
            try:
                out = self.model(Tensor(x.astype(dtype)))
                captured = self._captured or []
            finally:
                self._captured = None
        return numpy.asarray(out.data, dtype=numpy.float32).reshape(-1), captured

    @staticmethod
    def _encode_maps(
        captured: list[tuple[str, nn.Module, Any]], max_channels: int
    ) -> list[dict[str, Any]]:
        result, budget = [], MAX_MAP_VALUES
        for name, module, data in captured:
            fmap = numpy.asarray(data[0], dtype=numpy.float32)  # (C, H, W)
            C = fmap.shape[0]
            shown = fmap[:max_channels]
            entry: dict[str, Any] = {
                "name": name,
                "type": type(module).__name__,
                "shape": list(fmap.shape),
                "channels": int(shown.shape[0]),
            }
            if shown.size > budget:
                entry.update(omitted=True, channels=0)
                result.append(entry)
                continue
            budget -= shown.size
            codes, scale, offset = quantize(shown)
            entry.update(scale=scale, offset=offset, data=_b64(codes), total_channels=C)
            result.append(entry)
        return result
