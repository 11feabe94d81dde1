"""``DistributedOptimizer``: average the gradients over ranks (bucketed allreduce), then step.

Data parallelism: every rank holds the same weights w and computes the gradient g_k of the
mean loss over its shard of the global batch. With shards of equal size n = N / K (K ranks)
the gradient of the mean loss over the whole batch is their average:

    g = (1/N) sum_i grad l_i = (1/K) sum_k (1/n) sum_{i in shard k} grad l_i = (1/K) sum_k g_k

so one allreduce (sum) and a division by K give every rank the gradient one process would
compute on the full batch, and the same optimizer step keeps the weights identical. Shards of
unequal size n_k are weighted: g = (1/K) sum_k (K n_k / N) g_k (``grad_weight``).

Fusion: one allreduce per parameter pays the message latency once per parameter (SimpleConvNet
has 6 tensors, resnet20 65). Gradients are copied into buckets of up to ``bucket_mb`` MiB and
each bucket is reduced by one call, as Horovod's tensor fusion and PyTorch DDP's buckets do.
``bench/scaling.py`` measures the effect of the bucket size.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy

from ..backend import get_array_module
from ..optim.optimizer import Optimizer
from ..tensor import Tensor, enable_grad
from .collectives import gather_equal, host
from .env import comm, mpi, size, world_size


@dataclass
class AllreduceStats:
    """What the allreduces of a ``DistributedOptimizer`` cost since the last ``reset()``.

    Attributes:
        steps (int): synchronizations (optimizer steps).
        calls (int): allreduce calls (buckets x steps).
        bytes (int): bytes reduced per rank (message sizes added up).
        seconds (float): wall time inside the allreduce calls.
        pack_seconds (float): wall time copying gradients into and out of the buckets.
    """

    steps: int = 0
    calls: int = 0
    bytes: int = 0
    seconds: float = 0.0
    pack_seconds: float = 0.0

    def reset(self) -> None:
        self.steps, self.calls, self.bytes, self.seconds, self.pack_seconds = 0, 0, 0, 0.0, 0.0

    def per_step(self) -> dict[str, float]:
        """Mean allreduce time, pack time (s), bytes and calls per step."""
        n = max(self.steps, 1)
        return {
            "allreduce_s": self.seconds / n,
            "pack_s": self.pack_seconds / n,
            "bytes": self.bytes / n,
            "calls": self.calls / n,
        }


class DistributedOptimizer(Optimizer):
    """Wrap an optimizer so that ``step()`` first averages the gradients over all ranks.

    The wrapper shares the wrapped optimizer's ``param_groups`` and ``state`` (a scheduler
    built on either sees the same learning rates) and saves and loads the same state dicts.
    Construction is collective: every rank must build it, over the same parameters.

    Args:
        optimizer (Optimizer): the optimizer to wrap (SGD, Adam, ...).
        named_parameters: ``model.named_parameters()`` (names appear in errors). Default: the
            optimizer's parameters, named ``param0``, ``param1``, ...
        bucket_mb (float): largest bucket, in MiB (2**20 bytes); 0 gives one allreduce per
            parameter, ``float("inf")`` one for all. Default: 25 (PyTorch DDP's default).
        average (bool): divide the sum by the number of ranks. Default: True.

    Attributes:
        grad_weight (float): this rank's weight K n_k / N for the next step (1 for equal
            shards; set by ``ShardedLoader``).
        stats (AllreduceStats): time and bytes of the allreduces.
        buckets (list[list[str]]): the parameter names of each bucket.

    Raises:
        ValueError: ``bucket_mb`` < 0.
        RuntimeError: the ranks' parameters differ in names, shapes or dtypes.

    Example (run under ``mpirun -n 2``; a doctest would start MPI)::

        model = tinyconv.models.simple_convnet()
        opt = DistributedOptimizer(tinyconv.optim.SGD(model.parameters(), lr=0.1),
                                   model.named_parameters(), bucket_mb=25)
        broadcast_parameters(model)          # the same start everywhere
        loss = F.cross_entropy(model(x_shard), y_shard)
        opt.zero_grad(); loss.backward(); opt.step()   # averaged gradients, same step
    """

    def __init__(
        self,
        optimizer: Optimizer,
        named_parameters: Iterable[tuple[str, Tensor]] | None = None,
        bucket_mb: float = 25.0,
        average: bool = True,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"DistributedOptimizer: expected an Optimizer, got {type(optimizer).__name__}"
            )
        if isinstance(optimizer, DistributedOptimizer):
            raise TypeError("DistributedOptimizer: the optimizer is already distributed")
        if not bucket_mb >= 0:
            raise ValueError(f"DistributedOptimizer: bucket_mb must be >= 0, got {bucket_mb!r}")
        world_size()  # starts MPI
        self.optimizer = optimizer
        self.bucket_mb = float(bucket_mb)
        self.average = bool(average)
        self.grad_weight = 1.0
        self.stats = AllreduceStats()
        params = [p for g in optimizer.param_groups for p in g["params"]]
        names = {id(p): n for n, p in named_parameters or ()}
        self._names = [names.get(id(p), f"param{i}") for i, p in enumerate(params)]
        self._params = params
        signature = [
            [n, list(p.data.shape), str(p.data.dtype)]
            for n, p in zip(self._names, params, strict=True)
        ]
        gather_equal(signature, "DistributedOptimizer: the parameters")
        self._buckets = self._make_buckets(params)

    def _make_buckets(self, params: list[Tensor]) -> list[list[int]]:
        limit = self.bucket_mb * 2**20
        buckets: list[list[int]] = []
        open_: dict[str, tuple[list[int], float]] = {}  # dtype -> (indices, bytes so far)
        for i, p in enumerate(params):
            key, nbytes = str(p.data.dtype), float(p.data.nbytes)
            current = open_.get(key)
            if current is not None and current[1] + nbytes <= limit:
                current[0].append(i)
                open_[key] = (current[0], current[1] + nbytes)
                continue
            new = [i]
            buckets.append(new)
            open_[key] = (new, nbytes)
        return buckets

    @property
    def buckets(self) -> list[list[str]]:
        return [[self._names[i] for i in b] for b in self._buckets]

    # Shared with the wrapped optimizer, so schedulers and checkpoints see one state.
    @property
    def param_groups(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return self.optimizer.param_groups

    @param_groups.setter
    def param_groups(self, value: list[dict[str, Any]]) -> None:
        self.optimizer.param_groups = value

    @property
    def state(self) -> dict[Tensor, dict[str, Any]]:  # type: ignore[override]
        return self.optimizer.state

    @state.setter
    def state(self, value: dict[Tensor, dict[str, Any]]) -> None:
        self.optimizer.state = value

    @property
    def defaults(self) -> dict[str, Any]:  # type: ignore[override]
        return self.optimizer.defaults

    @defaults.setter
    def defaults(self, value: dict[str, Any]) -> None:
        self.optimizer.defaults = value

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        raise RuntimeError(
            "DistributedOptimizer: add the param group to the wrapped optimizer before wrapping"
        )

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state_dict)

    # ---------------------------------------------------------------------- stepping
    def synchronize(self) -> None:
        """Replace every gradient by its (weighted) average over ranks, bucket by bucket.

        A parameter without a gradient counts as a zero gradient (another rank may have one).
        """
        K = size()
        if K == 1 and self.grad_weight == 1.0:
            return
        MPI, c = mpi(), comm()
        for bucket in self._buckets:
            t0 = time.perf_counter()
            group = [self._params[i] for i in bucket]
            dtype = group[0].data.dtype
            work = numpy.float32 if dtype == numpy.float16 else dtype  # MPI has no half type
            flat = numpy.empty(sum(int(p.data.size) for p in group), dtype=work)
            offset = 0
            for p in group:
                n = int(p.data.size)
                flat[offset : offset + n] = 0 if p.grad is None else host(p.grad.data).ravel()
                offset += n
            if self.grad_weight != 1.0:
                flat *= flat.dtype.type(self.grad_weight)
            t1 = time.perf_counter()
            if K > 1:
                c.Allreduce(MPI.IN_PLACE, flat, op=MPI.SUM)
            t2 = time.perf_counter()
            if self.average and K > 1:
                flat /= flat.dtype.type(K)
            offset = 0
            for p in group:
                n = int(p.data.size)
                xp = get_array_module(p.data)
                piece = flat[offset : offset + n].reshape(p.data.shape)  # a view: flat is new
                p.grad = Tensor(xp.asarray(piece, dtype=dtype))
                offset += n
            self.stats.calls += 1
            self.stats.bytes += int(flat.nbytes)
            self.stats.seconds += t2 - t1
            self.stats.pack_seconds += (t1 - t0) + (time.perf_counter() - t2)
        self.stats.steps += 1

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Average the gradients over ranks, then take the wrapped optimizer's step.

        Args:
            closure: optional callable that recomputes the loss and the gradients.

        Returns:
            The closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self.synchronize()
        self.optimizer.step()
        return loss

    def __repr__(self) -> str:
        return (
            f"DistributedOptimizer({type(self.optimizer).__name__}, ranks={size()}, "
            f"bucket_mb={self.bucket_mb:g}, buckets={len(self._buckets)})"
        )
