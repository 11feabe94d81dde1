"""Model files for the commands: ``.onnx`` beside ``.safetensors``, and ``tinyconv export``.

``load_model_file(path)`` gives (model, metadata) for either kind of file, the metadata of an
ONNX file being what ``export(..., metadata=...)`` stored (a run's classes, mean, std and
input shape) or, for a foreign file, the input shape its graph declares.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from typing import Any


def is_onnx(path: str | os.PathLike[str]) -> bool:
    return os.fspath(path).lower().endswith(".onnx")


def load_model_file(path: str | os.PathLike[str]) -> tuple[Any, dict[str, Any]]:
    """(model, metadata) of a ``.onnx`` file (for ``.safetensors`` use ``tinyconv.io``)."""
    from .read import load  # noqa: PLC0415

    model = load(path)
    meta: dict[str, Any] = {}
    text = model.metadata.get("tinyconv.metadata")
    if text:
        try:
            meta = dict(json.loads(text))
        except (ValueError, TypeError):
            meta = {}
    if "input_shape" not in meta and getattr(model, "input_shape", None):
        meta["input_shape"] = list(model.input_shape)
    return model, meta


def add_export_parser(sub: Any, load_model: Callable[[str], tuple[Any, dict[str, Any]]]) -> None:
    """``tinyconv export MODEL -o OUT.onnx``; ``load_model`` is the CLI's model-file reader."""
    e = sub.add_parser(
        "export",
        help="write a saved model as an ONNX file (opset 17, dynamic batch)",
        description="Export a .safetensors model (a run's model.safetensors) to ONNX for "
        "onnxruntime and other runtimes. The run's classes, mean and std travel in the file.",
    )
    e.add_argument("model_file", metavar="MODEL_FILE", help="a .safetensors model file")
    e.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    e.add_argument("--input-shape", type=_shape, help="C,H,W when the model file does not say")
    e.add_argument(
        "--dynamic-size",
        action="store_true",
        help="symbolic H and W, for a fully convolutional model run at other sizes",
    )

    def run(args: argparse.Namespace) -> int:
        from .export import export  # noqa: PLC0415

        model, meta = load_model(args.model_file)
        shape = args.input_shape or meta.get("input_shape") or getattr(model, "input_shape", None)
        if shape is None:
            raise ValueError(
                "the model file does not say its input shape: pass --input-shape C,H,W"
            )
        path = export(model, args.output, tuple(int(s) for s in shape), metadata=_jsonable(meta),
                      dynamic_size=args.dynamic_size)  # fmt: skip
        n = model.num_parameters()
        print(f"wrote {path} ({os.path.getsize(path) / 2**20:.1f} MiB, {n:,} parameters, "
              f"input (N, {', '.join(str(int(s)) for s in shape)})"
              f"{', H and W symbolic' if args.dynamic_size else ''})")  # fmt: skip
        return 0

    e.set_defaults(func=run)


def _shape(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(s) for s in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected C,H,W, got {text!r}") from None
    if not dims or min(dims) <= 0:
        raise argparse.ArgumentTypeError(f"expected positive C,H,W, got {text!r}")
    return dims


def _jsonable(meta: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in meta.items():
        try:
            json.dumps(v)
        except (TypeError, ValueError):
            continue
        out[k] = v
    return out
