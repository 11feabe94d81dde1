"""``load(path)``: read an ONNX file defensively and build an ``OnnxModel`` from it.

Nothing in the file runs: the onnx package parses the protobuf, tinyconv reads tensors with
``numpy_helper`` only after checking them, and every op is one of ``run_ops.SUPPORTED``.
Checks, each an error naming the file:

- the protobuf parses (a truncated or foreign file does not), ``onnx.checker`` accepts it;
- every tensor's dims are non-negative, at most ``MAX_ELEMENTS`` elements in all, and its
  data holds exactly that many values (no huge dims, no short data);
- external data lies inside the file's folder (no absolute path, no ``..``, no symlink out),
  in a file that exists and is long enough for its offset and length;
- every node's op is supported (the message names the op, the node, and lists the ops);
- when the input shape is known, one zero sample runs through the graph (wrong shapes fail).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy

from ..tensor import Tensor, no_grad
from ._require import require_onnx
from .graph import OnnxModel
from .runner import SUPPORTED

MAX_ELEMENTS = 2**31  # per tensor: 8 GiB of float32, far beyond any CNN's largest layer
MAX_TOTAL = 2**32  # all initializers together


class OnnxFileError(ValueError):
    """A file that is not a loadable ONNX model; the message starts with the path."""


def load(path: str | os.PathLike[str], *, check_run: bool = True) -> OnnxModel:
    """A tinyconv Module that runs the ONNX graph in ``path``.

    Its parameters are the graph's float initializers that feed trainable slots (weights,
    biases, norm scales) under their ONNX names; running statistics and integer tensors are
    buffers; ``state_dict()`` holds every initializer. It evaluates, trains (gradients flow
    through every node), summarises and saves with ``tinyconv.save``.

    Args:
        path: an ``.onnx`` file (external data, if any, next to it).
        check_run: run one zero sample when the graph's input shape is fully known.

    Raises:
        FileNotFoundError: no such file.
        ImportError: the onnx package is missing.
        OnnxFileError (a ValueError): the file is damaged, hostile or uses an unsupported op.
    """
    onnx = require_onnx("tinyconv.onnx.load")
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"tinyconv.onnx.load: no such file: {p}")
    where = str(p)
    try:
        proto = onnx.load_model(str(p), load_external_data=False)
    except Exception as e:  # DecodeError and friends: a truncated or foreign file
        raise OnnxFileError(f"{where}: not a readable ONNX model ({type(e).__name__}: {e})") from e
    if not proto.HasField("graph") or not proto.graph.node:
        raise OnnxFileError(f"{where}: not an ONNX model (no graph nodes)")
    tensors = list(proto.graph.initializer)
    for node in proto.graph.node:
        for a in node.attribute:
            if a.HasField("t"):
                tensors.append(a.t)
            tensors.extend(a.tensors)
    total = 0
    for t in tensors:
        total += _check_tensor(t, where, p.parent)
    if total > MAX_TOTAL:
        raise OnnxFileError(
            f"{where}: the tensors hold {total:,} values in all (limit {MAX_TOTAL:,})"
        )
    for t in tensors:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            from onnx.external_data_helper import load_external_data_for_tensor  # noqa: PLC0415

            load_external_data_for_tensor(t, str(p.parent))
            t.data_location = onnx.TensorProto.DEFAULT
            del t.external_data[:]
    model = from_proto(proto, where)
    graph = model.graph
    shape = graph["inputs"][0]["shape"] if len(graph["inputs"]) == 1 else None
    if check_run and shape and all(isinstance(d, int) and d > 0 for d in shape[1:]):
        if math.prod(shape[1:]) <= 2**26:
            x = Tensor(numpy.zeros((1, *shape[1:]), dtype=graph["inputs"][0]["dtype"]))
            was = model.training
            model.eval()
            try:
                with no_grad():
                    model(x)
            except (ValueError, TypeError, IndexError, KeyError) as e:
                raise OnnxFileError(
                    f"{where}: the graph does not run on {tuple(x.shape)}: {e}"
                ) from e
            finally:
                model.train(was)
    return model


def from_proto(proto: Any, where: str = "<ModelProto>") -> OnnxModel:
    """The ``OnnxModel`` of a parsed ``onnx.ModelProto`` whose tensors are in memory.

    Raises:
        OnnxFileError: the checker rejects it, or an op is not supported.
    """
    onnx = require_onnx("tinyconv.onnx.load")
    from onnx import numpy_helper  # noqa: PLC0415

    try:
        onnx.checker.check_model(proto)
    except Exception as e:
        raise OnnxFileError(f"{where}: onnx.checker rejects the model: {e}") from e
    model = OnnxModel(describe(proto, where))
    own = model.state_dict()
    for t in proto.graph.initializer:
        own[t.name].data = numpy.array(numpy_helper.to_array(t), copy=True)
    return model


def _check_tensor(t: Any, where: str, folder: Path) -> int:
    """Dims and data of one TensorProto are sane; returns its number of elements."""
    from onnx import TensorProto, helper  # noqa: PLC0415

    dims = list(t.dims)
    if any(d < 0 for d in dims):
        raise OnnxFileError(f"{where}: tensor {t.name!r} has negative dims {dims}")
    n = math.prod(dims)
    if n > MAX_ELEMENTS:
        raise OnnxFileError(
            f"{where}: tensor {t.name!r} has dims {dims} ({n:,} elements, limit {MAX_ELEMENTS:,})"
        )
    if t.data_type in (TensorProto.UNDEFINED, TensorProto.STRING):
        raise OnnxFileError(f"{where}: tensor {t.name!r} has no numeric type")
    try:
        np_dtype = numpy.dtype(helper.tensor_dtype_to_np_dtype(t.data_type))
    except (KeyError, TypeError, ValueError):
        raise OnnxFileError(f"{where}: tensor {t.name!r} has unknown type {t.data_type}") from None
    if t.data_location == TensorProto.EXTERNAL:
        info = {e.key: e.value for e in t.external_data}
        _check_external(info, n * np_dtype.itemsize, t.name, where, folder)
        return n
    if t.HasField("raw_data"):
        got = len(t.raw_data)
        want = n * np_dtype.itemsize
        if t.data_type in (TensorProto.INT4, TensorProto.UINT4):
            want = (n + 1) // 2
        if got != want:
            raise OnnxFileError(
                f"{where}: tensor {t.name!r} of dims {dims} needs {want} bytes of data, has {got}"
            )
        return n
    fields = ("float_data", "int32_data", "int64_data", "double_data", "uint64_data")
    got = max(len(getattr(t, f)) for f in fields)
    if t.data_type in (TensorProto.COMPLEX64, TensorProto.COMPLEX128):
        got //= 2
    if got != n:
        raise OnnxFileError(
            f"{where}: tensor {t.name!r} of dims {dims} holds {got} values, not {n}"
        )
    return n


def _check_external(info: dict[str, str], nbytes: int, name: str, where: str, folder: Path) -> None:
    location = info.get("location", "")
    if not location or os.path.isabs(location) or Path(location).drive:
        raise OnnxFileError(
            f"{where}: tensor {name!r} has external data at {location!r}; only paths relative to "
            "the model's folder are read"
        )
    base = folder.resolve()
    target = (base / location).resolve()
    if os.path.commonpath([base, target]) != str(base):
        raise OnnxFileError(
            f"{where}: tensor {name!r} has external data at {location!r}, outside the model's "
            f"folder {base}"
        )
    if not target.is_file():
        raise OnnxFileError(f"{where}: tensor {name!r}: external data file {location!r} is missing")
    try:
        offset = int(info.get("offset", "0"))
        length = int(info["length"]) if "length" in info else nbytes
    except ValueError:
        raise OnnxFileError(f"{where}: tensor {name!r}: bad external data offset/length") from None
    if offset < 0 or length != nbytes or offset + length > target.stat().st_size:
        raise OnnxFileError(
            f"{where}: tensor {name!r}: external data ({location!r}, offset {offset}, length "
            f"{length}) does not hold its {nbytes} bytes"
        )


def describe(proto: Any, where: str) -> dict[str, Any]:
    """The JSON-able description of the graph that ``OnnxModel`` is built from."""
    from onnx import helper, numpy_helper  # noqa: PLC0415

    g = proto.graph
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
    inits = {t.name: t for t in g.initializer}
    nodes = []
    for i, node in enumerate(g.node):
        label = node.name or f"#{i}"
        if node.domain not in ("", "ai.onnx") or node.op_type not in SUPPORTED:
            op = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
            raise OnnxFileError(
                f"{where}: unsupported op {op} (node {label!r}); tinyconv runs: "
                + ", ".join(sorted(SUPPORTED))
            )
        attrs: dict[str, Any] = {}
        for a in node.attribute:
            if a.type in (a.GRAPH, a.GRAPHS, a.SPARSE_TENSOR, a.SPARSE_TENSORS):
                raise OnnxFileError(
                    f"{where}: node {label!r} has a {a.name} attribute of an unsupported kind"
                )
            value = helper.get_attribute_value(a)
            if a.type == a.TENSOR:
                arr = numpy_helper.to_array(value)
                value = {
                    "__array__": arr.tolist(),
                    "dtype": str(arr.dtype),
                    "shape": list(arr.shape),
                }
            elif isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            elif isinstance(value, list):
                value = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value]
            attrs[a.name] = value
        nodes.append(
            {"op": node.op_type, "name": label, "inputs": list(node.input),
             "outputs": list(node.output), "attrs": attrs}
        )  # fmt: skip
    frozen = _non_trainable(nodes)
    tensors = {}
    for name, t in inits.items():
        dtype = str(numpy.dtype(helper.tensor_dtype_to_np_dtype(t.data_type)))
        trainable = numpy.dtype(dtype).kind == "f" and name not in frozen
        tensors[name] = {"shape": list(t.dims), "dtype": dtype, "trainable": trainable}
    inputs = []
    for v in g.input:
        if v.name in inits:
            continue  # old exporters list initializers as inputs too
        if not v.type.HasField("tensor_type"):
            raise OnnxFileError(
                f"{where}: input {v.name!r} is not a tensor (sequence, map and optional inputs "
                "are not supported)"
            )
        tt = v.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        dtype = helper.tensor_dtype_to_np_dtype(tt.elem_type) if tt.elem_type else numpy.float32
        inputs.append({"name": v.name, "shape": shape, "dtype": str(numpy.dtype(dtype))})
    props = {p.key: p.value for p in proto.metadata_props}
    return {
        "opset": int(opset),
        "inputs": inputs,
        "outputs": [v.name for v in g.output],
        "nodes": nodes,
        "tensors": tensors,
        "properties": props,
    }


# (op, input position) pairs whose initializers are not learned: statistics, shapes, sizes
_FROZEN_SLOTS = {
    "BatchNormalization": (3, 4),
    "Reshape": (1,),
    "Resize": (1, 2, 3),
    "Upsample": (1,),
    "Pad": (1, 2, 3),
    "Clip": (1, 2),
    "Slice": (1, 2, 3, 4),
    "Squeeze": (1,),
    "Unsqueeze": (1,),
    "ReduceSum": (1,),
    "ReduceMean": (1,),
    "ReduceMax": (1,),
    "ReduceMin": (1,),
    "Gather": (1,),
    "Pow": (1,),
    "Dropout": (1, 2),
    "Expand": (1,),
    "Tile": (1,),
}


def _non_trainable(nodes: list[dict[str, Any]]) -> set[str]:
    out = set()
    for n in nodes:
        for i in _FROZEN_SLOTS.get(n["op"], ()):
            if i < len(n["inputs"]) and n["inputs"][i]:
                out.add(n["inputs"][i])
    return out
