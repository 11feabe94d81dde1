"""Helpers shared by the MPI test scripts (run under mpiexec by tests/test_distributed.py)."""

from __future__ import annotations

import json
import socket
import sys
from typing import Any

import numpy

from tinyconv import distributed as dist


def flat_state(model: Any) -> numpy.ndarray:
    """All parameters and floating-point buffers of ``model`` as one float64 vector."""
    parts = [p.data.ravel() for p in model.parameters()]
    parts += [b.data.ravel() for _, b in model.named_buffers() if b.data.dtype.kind == "f"]
    return numpy.concatenate(parts).astype(numpy.float64)


def max_diff_from_root(vector: numpy.ndarray) -> float:
    """max |vector - rank 0's vector| over all ranks (0.0 when every rank holds the same)."""
    root = vector.copy()
    dist.env.comm().Bcast(root, root=0)
    return float(dist.collectives.allreduce_max([numpy.abs(vector - root).max()])[0])


def hostnames() -> list[str]:
    """The host name of every rank, in rank order (fixed-width bytes, no pickle)."""
    mine = numpy.zeros(64, dtype=numpy.uint8)
    name = socket.gethostname().encode()[:64]
    mine[: len(name)] = numpy.frombuffer(name, dtype=numpy.uint8)
    every = numpy.zeros(64 * dist.size(), dtype=numpy.uint8)
    dist.env.comm().Allgather(mine, every)
    return [bytes(row).rstrip(b"\0").decode() for row in every.reshape(dist.size(), 64)]


def write_result(result: dict[str, Any]) -> None:
    """Rank 0 writes ``result`` as JSON to the path given as the script's last argument."""
    if dist.rank() == 0:
        with open(sys.argv[-1], "w", encoding="utf-8") as f:
            json.dump(result, f)
