"""One rank fails while the others wait in a collective; the whole job must end at once.

    mpiexec -n K python [-m mpi4py] fail.py fit        # rank 1 raises inside fit, batch 3
    mpiexec -n K python [-m mpi4py] fail.py fail_fast  # rank 1 raises inside fail_fast()
    mpiexec -n K python fail.py fit_no_abort           # the control: the job hangs

"fit": the error escapes uncaught (``init()``'s excepthook, or ``-m mpi4py``, aborts).
"fail_fast": the error is raised inside ``fail_fast``, as ``tinyconv train`` does, which
prints it and aborts with status 2 (a ValueError is a user error).
Without the abort the other ranks would block forever: rank 0 waits in an allreduce (fit)
or a barrier (fail_fast) that rank 1 never reaches.
"""

from __future__ import annotations

import sys

import numpy

import tinyconv
from tinyconv import distributed as dist
from tinyconv.train import Callback, fit

mode = sys.argv[1]
dist.init(abort_on_exception=mode != "fit_no_abort")


class FailOnRank1(Callback):
    def on_batch_end(self, batch: int, logs: dict) -> None:
        if dist.rank() == 1 and batch == 2:
            raise RuntimeError("rank 1 fails on purpose at batch 3")


if mode in ("fit", "fit_no_abort"):
    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(400, 1, 28, 28)).astype(numpy.float32)
    y = rng.integers(0, 10, size=400)
    tinyconv.manual_seed(0)
    model = tinyconv.models.simple_convnet()
    fit(
        model,
        (x, y),
        epochs=50,
        batch_size=8,
        verbose=False,
        callbacks=[FailOnRank1()],
        distributed=True,
    )
elif mode == "fail_fast":
    with dist.fail_fast("fail.py"):
        if dist.rank() == 1:
            raise ValueError("bad value on rank 1")
        dist.barrier()
print(f"rank {dist.rank()} finished: the job was not aborted", flush=True)
