"""Sharding the data over ranks: ``DistributedSampler`` (indices) and ``ShardedLoader`` (batches).

Two ways to give each of K ranks its part of the data:

- ``ShardedLoader(loader)``: every rank iterates the same loader (same seed, so the same
  shuffled batches) and keeps a contiguous slice of each global batch of N rows:
  rows ``[k N // K, (k+1) N // K)`` on rank k. The K slices together are exactly the batch one
  process would see, so with gradient averaging the training is the one-process training on
  the full batch (``fit(distributed=True)`` works this way). Each rank loads the whole batch
  and keeps its slice: cheap for in-memory arrays.
- ``DistributedSampler(n)``: PyTorch's sampler. Each epoch it permutes 0..n-1 with a generator
  seeded by ``(seed, epoch)``, pads the permutation by repeating its start to a multiple of K
  (or drops the tail with ``drop_last``), and gives rank k every K-th index from k. Each rank
  then batches its own indices (the global batch is K times the per-rank batch).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import numpy

from .env import rank as _rank
from .env import world_size


def _check_world(num_replicas: int | None, rank: int | None, where: str) -> tuple[int, int]:
    K = world_size() if num_replicas is None else int(num_replicas)
    r = _rank() if rank is None else int(rank)
    if K < 1:
        raise ValueError(f"{where}: num_replicas must be >= 1, got {K}")
    if not 0 <= r < K:
        raise ValueError(f"{where}: rank must be in [0, {K - 1}], got {r}")
    return K, r


def shard_bounds(n: int, num_replicas: int, rank: int) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of rank ``rank`` in a batch of ``n`` rows split into ``num_replicas``.

    Example:
        >>> [shard_bounds(10, 4, k) for k in range(4)]
        [(0, 2), (2, 5), (5, 7), (7, 10)]
    """
    return rank * n // num_replicas, (rank + 1) * n // num_replicas


class DistributedSampler:
    """The indices of one rank's share of a dataset of ``num_samples`` rows, per epoch.

    Args:
        num_samples (int or sized): dataset length (or anything with ``len``).
        num_replicas (int, optional): number of ranks. Default: ``size()``.
        rank (int, optional): this rank. Default: ``rank()``.
        shuffle (bool): a new permutation each epoch. Default: True.
        seed (int): seed of the permutations; must be the same on every rank. Default: 0.
        drop_last (bool): drop the tail instead of padding with repeated indices. Default: False.

    Shape:
        ``len(sampler)`` is ``ceil(n / K)`` (``floor(n / K)`` with ``drop_last``), the same
        on every rank.

    Raises:
        ValueError: num_replicas < 1 or a rank outside [0, num_replicas).

    Example:
        >>> s = DistributedSampler(10, num_replicas=4, rank=1, shuffle=False)
        >>> list(s), len(s)
        ([1, 5, 9], 3)
        >>> s = DistributedSampler(10, num_replicas=4, rank=3, shuffle=False, drop_last=True)
        >>> list(s)
        [3, 7]
    """

    def __init__(
        self,
        num_samples: Any,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        n = num_samples if isinstance(num_samples, (int, numpy.integer)) else len(num_samples)
        if n < 0:
            raise ValueError(f"DistributedSampler: num_samples must be >= 0, got {n}")
        self.n = int(n)
        self.num_replicas, self.rank = _check_world(num_replicas, rank, "DistributedSampler")
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        K = self.num_replicas
        self.num_per_rank = self.n // K if self.drop_last else math.ceil(self.n / K)
        self.total = self.num_per_rank * K

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation of ``epoch`` (call it with the same value on every rank)."""
        self.epoch = int(epoch)

    def indices(self) -> numpy.ndarray:
        """This rank's indices for the current epoch, int64 ``(len(self),)``."""
        if self.shuffle:
            order = numpy.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        else:
            order = numpy.arange(self.n)
        if self.total > self.n and self.n > 0:  # pad by repeating the start (as PyTorch)
            order = numpy.resize(order, self.total)
        order = order[: self.total]
        return order[self.rank : self.total : self.num_replicas].astype(numpy.int64)

    def take(self, *arrays: Any) -> tuple[Any, ...]:
        """The rows of ``arrays`` (each of length n) for this rank and epoch, in sampler order."""
        idx = self.indices()
        return tuple(a[idx] for a in arrays)

    def __iter__(self) -> Iterator[int]:
        return iter(int(i) for i in self.indices())

    def __len__(self) -> int:
        return self.num_per_rank

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.seed, self.epoch = int(state["seed"]), int(state["epoch"])


class ShardedLoader:
    """Each rank's contiguous slice of every batch of ``loader`` (a DataLoader, ArrayBatches...).

    Every rank must iterate an identical loader (same data, batch size and seed). A global
    batch of N rows gives rank k the rows ``shard_bounds(N, K, k)``.

    Args:
        loader: an iterable of ``(x, y)`` batches; ``set_epoch``, ``state_dict`` and
            ``load_state_dict`` are passed on to it.
        optimizer (DistributedOptimizer, optional): gets ``grad_weight = K n_k / N`` before
            each batch is yielded, so uneven slices still average to the full-batch gradient.
        num_replicas, rank (int, optional): Default: ``size()``, ``rank()``.
        drop_small (bool): skip (on every rank) a batch with fewer rows than ranks, which would
            leave a rank without rows for a training step. With False, such a rank just gets
            no batch (fine for evaluation, which has no collective per batch). Default: True.

    Attributes:
        seen (int): rows this rank got in the current (or last) epoch.
        started (float): ``time.perf_counter()`` when the epoch's iteration began.

    Example:
        >>> batches = [(numpy.arange(10), numpy.arange(10)), (numpy.arange(3), numpy.arange(3))]
        >>> [x.tolist() for x, _ in ShardedLoader(batches, num_replicas=4, rank=1)]
        [[2, 3, 4]]
    """

    def __init__(
        self,
        loader: Any,
        optimizer: Any = None,
        num_replicas: int | None = None,
        rank: int | None = None,
        drop_small: bool = True,
    ) -> None:
        self.loader = loader
        self.optimizer = optimizer
        self.num_replicas, self.rank = _check_world(num_replicas, rank, "ShardedLoader")
        self.drop_small = bool(drop_small)
        self.seen = 0
        self.started = time.perf_counter()

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        K, k = self.num_replicas, self.rank
        self.seen, self.started = 0, time.perf_counter()
        for x, y in self.loader:
            n = len(x)
            if n < K and self.drop_small:
                continue
            lo, hi = shard_bounds(n, K, k)
            if hi == lo:
                continue
            if self.optimizer is not None:
                self.optimizer.grad_weight = (hi - lo) * K / n
            self.seen += hi - lo
            yield x[lo:hi], y[lo:hi]
        if self.optimizer is not None:
            self.optimizer.grad_weight = 1.0

    def __len__(self) -> int:
        return len(self.loader)

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.loader, "set_epoch"):
            self.loader.set_epoch(epoch)

    def state_dict(self) -> dict[str, Any] | None:
        fn = getattr(self.loader, "state_dict", None)
        return fn() if callable(fn) else None

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        fn = getattr(self.loader, "load_state_dict", None)
        if state is not None and callable(fn):
            fn(state)

    def __repr__(self) -> str:
        return f"ShardedLoader({self.loader!r}, rank={self.rank}, num_replicas={self.num_replicas})"
