"""Collectives on tinyconv objects: broadcast weights and optimizer state, average buffers, sums.

Only mpi4py's buffer methods (``Bcast``, ``Allreduce``: upper case) are used; they send the
bytes of NumPy arrays. The lower-case methods would pickle Python objects, and tinyconv uses
no pickle: structured data (names, shapes, optimizer hyper-parameters) travels as JSON text in
a uint8 array. CuPy arrays are copied to the host for the call and back (the MPI from PyPI is
not CUDA-aware).

Every function here is collective: all ranks must call it, in the same order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy

from ..backend import get_array_module, to_device
from ..tensor import Tensor
from .env import comm, mpi, rank, size, world_size


# ------------------------------------------------------------------------ host arrays
def host(array: Any) -> numpy.ndarray:
    """A C-contiguous NumPy array with the values of ``array`` (a copy from the GPU)."""
    return numpy.ascontiguousarray(to_device(array, "cpu"))


def put(t: Tensor, values: numpy.ndarray) -> None:
    """Write host ``values`` into tensor ``t`` in place (on its device, in its dtype)."""
    xp = get_array_module(t.data)
    t.data[...] = xp.asarray(values.reshape(t.data.shape), dtype=t.data.dtype)


def pack(arrays: list[Any], dtype: Any) -> numpy.ndarray:
    """Concatenate the raveled ``arrays`` into one new host vector of ``dtype``."""
    total = sum(int(a.size) for a in arrays)
    flat = numpy.empty(total, dtype=dtype)
    offset = 0
    for a in arrays:
        n = int(a.size)
        flat[offset : offset + n] = host(a).reshape(-1)
        offset += n
    return flat


def unpack(flat: numpy.ndarray, tensors: list[Tensor]) -> None:
    """Inverse of ``pack``: write consecutive pieces of ``flat`` into ``tensors``."""
    offset = 0
    for t in tensors:
        n = int(t.data.size)
        put(t, flat[offset : offset + n])
        offset += n


# ------------------------------------------------------------------------------ JSON
def broadcast_json(value: Any, root: int = 0) -> Any:
    """Send a JSON-able value from ``root`` to every rank; returns it on all of them."""
    if world_size() == 1:
        return json.loads(json.dumps(value))
    c = comm()
    length = numpy.zeros(1, dtype=numpy.int64)
    payload = b""
    if rank() == root:
        payload = json.dumps(value, allow_nan=False).encode("utf-8")
        length[0] = len(payload)
    c.Bcast(length, root=root)
    buf = numpy.frombuffer(payload, dtype=numpy.uint8).copy() if rank() == root else None
    if buf is None:
        buf = numpy.empty(int(length[0]), dtype=numpy.uint8)
    c.Bcast(buf, root=root)
    return json.loads(buf.tobytes().decode("utf-8"))


def allreduce_sum(values: Any) -> numpy.ndarray:
    """Element-wise sum over ranks of a float64 vector (a list of numbers or an array)."""
    buf = numpy.array(values, dtype=numpy.float64).reshape(-1)
    if world_size() > 1:
        comm().Allreduce(mpi().IN_PLACE, buf, op=mpi().SUM)
    return buf


def allreduce_max(values: Any) -> numpy.ndarray:
    """Element-wise maximum over ranks of a float64 vector."""
    buf = numpy.array(values, dtype=numpy.float64).reshape(-1)
    if world_size() > 1:
        comm().Allreduce(mpi().IN_PLACE, buf, op=mpi().MAX)
    return buf


def gather_equal(value: Any, what: str) -> None:
    """Raise ``RuntimeError`` on every rank unless all ranks pass the same JSON-able ``value``."""
    if world_size() == 1:
        return
    text = json.dumps(value, sort_keys=True)
    root_text = broadcast_json(text)
    ok = allreduce_sum([0.0 if text == root_text else 1.0])[0] == 0
    if not ok:
        mine = "" if text == root_text else f"; rank {rank()} has {text[:300]}"
        raise RuntimeError(f"{what} differs between ranks: rank 0 has {root_text[:300]}{mine}")


# ------------------------------------------------------------------- model and state
def _named_tensors(model: Any) -> list[tuple[str, Tensor]]:
    if hasattr(model, "named_parameters") and hasattr(model, "named_buffers"):
        return list(model.named_parameters()) + list(model.named_buffers())
    if isinstance(model, Mapping):
        return list(model.items())
    return list(model)


def broadcast_parameters(model: Any, root: int = 0) -> None:
    """Give every rank the parameters and buffers of ``root``'s model, in place.

    Call it once after building the model (each rank may have drawn different initial
    weights) and after loading a checkpoint on ``root`` only.

    Args:
        model: a ``Module`` (its parameters and buffers), a dict ``{name: Tensor}``, or an
            iterable of ``(name, Tensor)`` pairs.
        root (int): the rank whose values are kept. Default: 0.

    Raises:
        RuntimeError: on every rank, when the ranks' models differ in names, shapes or dtypes.
    """
    if world_size() == 1:
        return
    named = _named_tensors(model)
    signature = [[n, list(t.data.shape), str(t.data.dtype)] for n, t in named]
    gather_equal(signature, "the model (parameter names, shapes, dtypes)")
    c = comm()
    for dtype in sorted({str(t.data.dtype) for _, t in named}):
        group = [t for _, t in named if str(t.data.dtype) == dtype]
        flat = pack([t.data for t in group], numpy.dtype(dtype))
        c.Bcast(flat, root=root)
        if rank() != root:
            unpack(flat, group)


def broadcast_optimizer_state(optimizer: Any, root: int = 0) -> None:
    """Give every rank ``root``'s optimizer state (moments, momentum buffers, step counts, lr).

    The state dict is split into arrays and JSON-able data (``flatten_state_dict``, as a
    checkpoint stores it); the JSON part and the list of arrays go first, then the arrays.
    Other ranks load the result with ``load_state_dict``.
    """
    from ..optim.optimizer import flatten_state_dict, unflatten_state_dict  # noqa: PLC0415

    if world_size() == 1:
        return
    arrays: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    if rank() == root:
        arrays, meta = flatten_state_dict(optimizer.state_dict())
    layout = [[k, list(a.shape), str(a.dtype)] for k, a in sorted(arrays.items())]
    header = broadcast_json({"meta": meta, "layout": layout}, root=root)
    c = comm()
    received = {}
    for key, shape, dtype in header["layout"]:
        buf = host(arrays[key]) if rank() == root else numpy.empty(shape, dtype=dtype)
        c.Bcast(buf, root=root)
        received[key] = buf
    if rank() != root:
        optimizer.load_state_dict(unflatten_state_dict(received, header["meta"]))


def average_buffers(model: Any, names: Iterable[str] | None = None) -> int:
    """Replace each floating-point buffer by its mean over ranks (BatchNorm running stats).

    With BatchNorm each rank normalises its shard with its own batch statistics, so the
    running mean and variance drift apart across ranks; averaging them (every epoch, before
    evaluation and checkpoints) gives every rank the same statistics. Integer buffers (the
    batch counters) are equal on all ranks and are left alone.

    Returns:
        The number of buffers averaged.
    """
    wanted = None if names is None else set(names)
    tensors = [
        b
        for n, b in model.named_buffers()
        if b.data.dtype.kind == "f" and (wanted is None or n in wanted)
    ]
    if world_size() == 1:
        return len(tensors)
    for dtype in sorted({str(t.data.dtype) for t in tensors}):
        group = [t for t in tensors if str(t.data.dtype) == dtype]
        work = numpy.float64 if dtype == "float16" else numpy.dtype(dtype)
        flat = pack([t.data for t in group], work)
        comm().Allreduce(mpi().IN_PLACE, flat, op=mpi().SUM)
        flat /= flat.dtype.type(size())
        unpack(flat, group)
    return len(tensors)
