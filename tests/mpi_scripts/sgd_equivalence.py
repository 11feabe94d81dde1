"""K ranks of data-parallel SGD on SimpleConvNet against one process on the full batches.

    mpiexec -n K python -m mpi4py sgd_equivalence.py STEPS BATCH BUCKET_MB RESULT.json

Every rank starts from different random weights (broadcast_parameters must fix that), trains
STEPS steps of SGD with momentum in float64 on its ShardedLoader slice of each global batch of
BATCH rows (uneven slices when K does not divide BATCH), then rank 0 trains a fresh copy of its
initial model alone on the same full batches and writes both comparisons.
"""

from __future__ import annotations

import sys

import numpy
from mpi_common import flat_state, hostnames, max_diff_from_root, write_result

import tinyconv
from tinyconv import distributed as dist
from tinyconv import functional as F
from tinyconv.optim import SGD
from tinyconv.train import ArrayBatches

steps, batch, bucket_mb = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
dist.init()
rank, K = dist.rank(), dist.size()


def build(seed: int) -> tinyconv.nn.Module:
    tinyconv.manual_seed(seed)
    return tinyconv.models.simple_convnet().double()


def step(model, opt, x, y) -> None:
    loss = F.cross_entropy(model(tinyconv.tensor(x)), tinyconv.tensor(y))
    opt.zero_grad()
    loss.backward()
    opt.step()


rng = numpy.random.default_rng(7)
x = rng.normal(size=(steps * batch, 1, 28, 28))
y = rng.integers(0, 10, size=steps * batch)
batches = ArrayBatches(x, y, batch_size=batch, shuffle=True, seed=5)

model = build(100 + rank)  # a different start on every rank
dist.broadcast_parameters(model)
start = flat_state(model)
opt = dist.DistributedOptimizer(
    SGD(model.parameters(), lr=0.05, momentum=0.9), model.named_parameters(), bucket_mb=bucket_mb
)
for xb, yb in dist.ShardedLoader(batches, opt):
    step(model, opt, xb, yb)
final = flat_state(model)
between_ranks = max_diff_from_root(final)
hosts = hostnames()

if rank == 0:
    ref = build(100)
    ref_opt = SGD(ref.parameters(), lr=0.05, momentum=0.9)
    for xb, yb in batches:
        step(ref, ref_opt, xb, yb)
    write_result(
        {
            "ranks": K,
            "steps": opt.stats.steps,
            "buckets": len(opt.buckets),
            "allreduce_calls": opt.stats.calls,
            "max_diff_vs_single": float(numpy.abs(final - flat_state(ref)).max()),
            "max_diff_between_ranks": between_ranks,
            "moved": float(numpy.abs(final - start).max()),
            "hosts": hosts,
        }
    )
