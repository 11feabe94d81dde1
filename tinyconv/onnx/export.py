"""``export(model, path, input_shape)``: a tinyconv model as an ONNX file (opset 17).

The model runs once, in eval mode, on a dummy batch while ``trace.tracing`` records every
``Function.apply``; each recorded call becomes one or a few ONNX nodes (``convert.py``).
Residual adds, concatenations and reshapes written in a ``forward`` arrive as the calls
they made, so any model built from tinyconv's operations exports, not only Sequentials.

The graph takes ``input`` (N, C, H, W) with a dynamic batch ``N`` and gives ``output``
(``output_0``, ``output_1``, ... for a model that returns several tensors). Every entry of
``model.state_dict()`` is an initializer under its own name (``layer1.0.conv1.weight``), so
``tinyconv.onnx.load`` gives back the same state dict. The file is checked with
``onnx.checker`` (full check, strict shape inference) and written to a temporary file that is
then renamed over ``path``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy

from ..backend import to_device
from ..nn.module import Module
from ..tensor import Tensor, no_grad
from . import convert_modern, convert_resize  # noqa: F401  (register the newer operations)
from ._require import require_onnx
from .convert import CONVERTERS, Graph
from .trace import tracing

OPSET = 17
TRACE_BATCH = 2  # the dummy batch; a Reshape to (2, ...) becomes (0, ...): "keep the batch"


def export(
    model: Module,
    path: str | os.PathLike[str],
    input_shape: Iterable[int] | None = None,
    *,
    metadata: Mapping[str, Any] | None = None,
    dynamic_size: bool = False,
) -> Path:
    """Write ``model`` as an ONNX graph (opset 17, dynamic batch, eval mode) to ``path``.

    Args:
        model: a tinyconv Module made of tinyconv operations.
        path: the ``.onnx`` file to write (atomically: temporary file, then rename).
        input_shape: one sample's shape, e.g. (3, 224, 224); default ``model.input_shape``.
        metadata: optional JSON-able dict stored as the ``tinyconv.metadata`` property
            (the CLI keeps a run's classes, mean and std there).
        dynamic_size: declare the spatial input sizes symbolic ("H", "W"; the output's
            non-batch sizes unknown) so that a fully convolutional model runs at other sizes
            (interpolate is a Resize, reflect/replicate pads a Pad). The graph is still the
            traced one: reshapes, crops and "area" resampling keep their traced sizes.

    Returns:
        The path written.

    Raises:
        ImportError: the onnx package is missing.
        ValueError: no input shape, or an operation without an ONNX form (the message names
            it and lists the supported ones), or the checker rejects the graph.
    """
    onnx = require_onnx("tinyconv.onnx.export")
    if not isinstance(model, Module):
        raise TypeError(f"tinyconv.onnx.export: expected a Module, got {type(model).__name__}")
    shape = input_shape if input_shape is not None else getattr(model, "input_shape", None)
    if shape is None:
        raise ValueError(
            f"tinyconv.onnx.export: {type(model).__name__} does not say its input shape; "
            "pass input_shape=(C, H, W)"
        )
    shape = tuple(int(s) for s in shape)
    if not shape or min(shape) <= 0:
        raise ValueError(f"tinyconv.onnx.export: input_shape must be positive sizes, got {shape}")
    proto = to_onnx(model, shape, metadata=metadata, dynamic_size=dynamic_size)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as e:  # the checker's own error types differ between onnx versions
        raise ValueError(f"tinyconv.onnx.export: onnx.checker rejects the graph: {e}") from e
    data = proto.SerializeToString()
    return _write_atomic(Path(path), data)


def to_onnx(
    model: Module,
    input_shape: tuple[int, ...],
    *,
    metadata: Mapping[str, Any] | None = None,
    dynamic_size: bool = False,
) -> Any:
    """The ``onnx.ModelProto`` of ``model`` for inputs (N, *input_shape); see ``export``."""
    require_onnx("tinyconv.onnx.export")
    from onnx import helper, numpy_helper  # noqa: PLC0415

    state = model.state_dict()
    params = [p for p in model.parameters()]
    dtype = params[0].dtype if params else numpy.dtype(numpy.float32)
    graph = Graph(TRACE_BATCH)
    for name, t in state.items():
        graph.bind(t, name)
    x = Tensor(numpy.zeros((TRACE_BATCH, *input_shape), dtype=dtype))
    graph.bind(x, "input")
    was_training = model.training
    model.eval()
    try:
        with no_grad(), tracing() as trace:
            out = model(x)
    finally:
        model.train(was_training)
    for call in trace.calls:
        convert = CONVERTERS.get(call.fn)
        if convert is None:
            supported = sorted({f.__name__ for f in CONVERTERS})
            raise ValueError(
                f"tinyconv.onnx.export: operation {call.fn.__module__}.{call.fn.__name__} of "
                f"{type(model).__name__} has no ONNX conversion; supported: " + ", ".join(supported)
            )
        graph.bind(call.output, convert(graph, call))
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    if not all(isinstance(o, Tensor) for o in outs):
        raise ValueError(
            f"tinyconv.onnx.export: {type(model).__name__} must return a Tensor or a tuple of "
            f"Tensors, got {type(out).__name__}"
        )
    out_names = ["output"] if len(outs) == 1 else [f"output_{i}" for i in range(len(outs))]
    outputs = []
    for o, name in zip(outs, out_names, strict=True):
        graph.nodes.append(helper.make_node("Identity", [graph.name(o)], [name], name=name))
        dims: list[Any] = list(o.shape)
        if dims and dims[0] == TRACE_BATCH:
            dims[0] = "N"
        if dynamic_size:
            dims = dims[:1] + [None] * (len(dims) - 1)
        outputs.append(helper.make_tensor_value_info(name, _elem(o.dtype), dims))
    initializers = [
        numpy_helper.from_array(numpy.asarray(_host(t.data), order="C"), name)
        for name, t in state.items()
    ]
    in_dims: list[Any] = list(input_shape)
    if (
        dynamic_size
    ):  # (C, H, W) -> (C, "H", "W"); (C, L) -> (C, "L"); (C, D, H, W) -> (C, "D", ...)
        names = {1: ["L"], 2: ["H", "W"], 3: ["D", "H", "W"]}.get(len(in_dims) - 1)
        in_dims[1:] = names or [f"S{i}" for i in range(1, len(in_dims))]
    g = helper.make_graph(
        graph.nodes,
        type(model).__name__,
        [helper.make_tensor_value_info("input", _elem(dtype), ["N", *in_dims])],
        outputs,
        initializer=initializers,
    )
    proto = helper.make_model(
        g,
        producer_name="tinyconv",
        opset_imports=[helper.make_opsetid("", OPSET)],
    )
    proto.ir_version = min(proto.ir_version, 8)  # what opset 17 runtimes read
    props = {"tinyconv.input_shape": json.dumps(list(input_shape))}
    if metadata:
        props["tinyconv.metadata"] = json.dumps(dict(metadata))
    helper.set_model_props(proto, props)
    return proto


def _elem(dtype: Any) -> int:
    from onnx import helper  # noqa: PLC0415

    return helper.np_dtype_to_tensor_dtype(numpy.dtype(dtype))


def _write_atomic(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _host(array: Any) -> numpy.ndarray:
    """A NumPy copy (CuPy arrays come to the CPU)."""
    return numpy.asarray(to_device(array, "cpu"))
