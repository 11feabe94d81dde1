"""Data-parallel training over MPI processes and machines (mpi4py, imported only when used).

Each of K processes (ranks) holds the whole model, computes the gradient on its share of the
batch, and the gradients are averaged with an allreduce before every optimizer step, so all
ranks take the same step and keep identical weights. This is how ChainerMN and Horovod train
on many GPUs and machines; MPI carries the messages (shared memory on one machine, TCP or
InfiniBand between machines).

    mpirun -n 4 python -m mpi4py -m tinyconv train      # or: tinyconv launch -n 4 train
    mpirun -n 4 python -m mpi4py my_script.py           # my_script: fit(..., distributed=True)

By hand::

    from tinyconv import distributed as dist
    dist.init()
    dist.broadcast_parameters(model)                    # rank 0's initial weights everywhere
    opt = dist.DistributedOptimizer(SGD(model.parameters(), lr=0.1), model.named_parameters())
    for x, y in dist.ShardedLoader(loader, opt):         # this rank's slice of every batch
        loss = F.cross_entropy(model(tensor(x)), tensor(y))
        opt.zero_grad(); loss.backward(); opt.step()     # allreduce, then the same step
    dist.average_buffers(model)                         # BatchNorm running statistics
    if dist.rank() == 0: tinyconv.save(model, "model.safetensors")

Importing this package does not start MPI: ``init()`` (or the first collective) does.
Without mpi4py, and not started by mpirun, everything runs as a single process (size 1).
"""

from .collectives import (
    allreduce_sum,
    average_buffers,
    broadcast_json,
    broadcast_optimizer_state,
    broadcast_parameters,
)
from .data_parallel import DataParallel, FitHooks, scale_lr
from .env import (
    abort,
    barrier,
    fail_fast,
    init,
    is_initialized,
    is_root,
    launched_rank,
    launched_size,
    rank,
    size,
)
from .optimizer import AllreduceStats, DistributedOptimizer
from .sampler import DistributedSampler, ShardedLoader, shard_bounds

__all__ = [
    "AllreduceStats",
    "DataParallel",
    "DistributedOptimizer",
    "DistributedSampler",
    "FitHooks",
    "ShardedLoader",
    "abort",
    "allreduce_sum",
    "average_buffers",
    "barrier",
    "broadcast_json",
    "broadcast_optimizer_state",
    "broadcast_parameters",
    "fail_fast",
    "init",
    "is_initialized",
    "is_root",
    "launched_rank",
    "launched_size",
    "rank",
    "size",
    "scale_lr",
    "shard_bounds",
]
