"""BatchNorm running statistics under data parallelism (resnet20 on 3x8x8 images, float64).

    mpiexec -n K python -m mpi4py bn_sync.py RESULT.json

1. One DistributedOptimizer step on equal slices: the ranks' running statistics differ (each
   saw its own slice), average_buffers makes them equal, and the averaged running mean of the
   first BatchNorm equals one process's after a step on the whole batch (the mean of equal
   slices' means is the batch mean; the first layer's input is the same on every rank).
2. fit(distributed=True) for one epoch with validation: every rank ends with the same weights
   and BatchNorm buffers, and the same history.
"""

from __future__ import annotations

import numpy
from mpi_common import flat_state, max_diff_from_root, write_result

import tinyconv
from tinyconv import distributed as dist
from tinyconv import functional as F
from tinyconv.optim import SGD
from tinyconv.train import fit

dist.init()
rank, K = dist.rank(), dist.size()
B = 4 * K  # equal slices of 4 rows
rng = numpy.random.default_rng(3)
x = rng.normal(size=(8 * K, 3, 8, 8))
y = rng.integers(0, 10, size=8 * K)


def build() -> tinyconv.nn.Module:
    tinyconv.manual_seed(11)
    return tinyconv.models.resnet20(in_channels=3).double()


def stats(model) -> numpy.ndarray:
    return numpy.concatenate(
        [b.data.ravel() for n, b in model.named_buffers() if b.data.dtype.kind == "f"]
    )


# 1. one step by hand
model = build()
opt = dist.DistributedOptimizer(SGD(model.parameters(), lr=0.1), model.named_parameters())
lo, hi = dist.shard_bounds(B, K, rank)
loss = F.cross_entropy(model(tinyconv.tensor(x[lo:hi])), tinyconv.tensor(y[lo:hi]))
opt.zero_grad()
loss.backward()
opt.step()
before = max_diff_from_root(stats(model))
count = dist.average_buffers(model)
after = max_diff_from_root(stats(model))
bn1_mean = model.bn1.running_mean.data.copy()
ref = build()
ref(tinyconv.tensor(x[:B]))  # train mode: one update of the running statistics
bn1_vs_single = float(numpy.abs(bn1_mean - ref.bn1.running_mean.data).max())

# 2. fit
model = build()
history = fit(
    model,
    (x, y),
    (x[: 3 * K + 1], y[: 3 * K + 1]),
    epochs=1,
    optimizer=SGD(model.parameters(), lr=0.05, momentum=0.9),
    batch_size=B,
    seed=2,
    verbose=False,
    distributed=True,
)
fit_state_diff = max_diff_from_root(flat_state(model))
h = history.history
fit_history_diff = max_diff_from_root(numpy.array(h["loss"] + h["val_loss"] + h["val_acc"]))

write_result(
    {
        "ranks": K,
        "buffers_averaged": count,
        "stats_diff_before_average": before,
        "stats_diff_after_average": after,
        "bn1_running_mean_vs_single": bn1_vs_single,
        "bn1_running_mean_moved": float(numpy.abs(bn1_mean).max()),
        "fit_state_diff_between_ranks": fit_state_diff,
        "fit_history_diff_between_ranks": fit_history_diff,
        "fit_val_loss": h["val_loss"][-1],
    }
)
