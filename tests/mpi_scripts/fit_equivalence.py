"""fit(distributed=True) on K ranks against fit alone: same weights, same history.

    mpiexec -n K python -m mpi4py fit_equivalence.py RESULT.json

SimpleConvNet in float64, SGD with momentum, 2 epochs of 60 samples in batches of 14 (so the
slices are uneven, and the last batch of 4 rows leaves one row per rank with 4 ranks), with
validation. Rank 0 then runs the same fit alone and compares.
"""

from __future__ import annotations

import numpy
from mpi_common import flat_state, max_diff_from_root, write_result

import tinyconv
from tinyconv import distributed as dist
from tinyconv.optim import SGD
from tinyconv.train import fit

dist.init()
rng = numpy.random.default_rng(0)
x = rng.normal(size=(60, 1, 28, 28))
y = rng.integers(0, 10, size=60)


def run(distributed: bool):
    tinyconv.manual_seed(3)
    model = tinyconv.models.simple_convnet().double()
    opt = SGD(model.parameters(), lr=0.05, momentum=0.9)
    h = fit(
        model,
        (x, y),
        (x[:21], y[:21]),
        epochs=2,
        optimizer=opt,
        batch_size=14,
        seed=1,
        verbose=False,
        distributed=distributed,
    )
    return model, h.history


model, history = run(True)
between = max_diff_from_root(flat_state(model))
if dist.rank() == 0:
    ref, ref_history = run(False)
    keys = ("loss", "acc", "val_loss", "val_acc")
    write_result(
        {
            "ranks": dist.size(),
            "max_diff_vs_single": float(numpy.abs(flat_state(model) - flat_state(ref)).max()),
            "max_diff_between_ranks": between,
            "history_diff": max(
                abs(a - b) for k in keys for a, b in zip(history[k], ref_history[k], strict=True)
            ),
            "loss": history["loss"],
        }
    )
