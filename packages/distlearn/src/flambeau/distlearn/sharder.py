"""Each rank's disjoint part of a dataset, reshuffled every epoch from a seed the ranks share."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np


class Sharder:
    """Split ``n`` examples over the ranks, batch by global batch.

    Every epoch draws one permutation of ``range(n)`` from ``(seed, epoch)``, the same on every
    rank; each global batch of ``batch_size * size`` examples of it is cut into ``size`` parts, and
    rank ``r`` takes part ``r``. The ranks' parts are disjoint, and one process stepping on the
    whole global batches sees exactly the examples that the ranks see together. The last examples
    that do not fill a global batch are left out of that epoch (another permutation next epoch).

    Parameters
    ----------
    n : int
        Number of examples.
    batch_size : int
        Examples per rank per step (the global batch is ``batch_size * size``).
    rank, size : int, optional
        This rank and the number of ranks; or pass ``comm`` (a :class:`~flambeau.distlearn.Comm`).
    seed : int
        The shared seed.
    shuffle : bool
        False keeps the examples in order (every epoch alike).

    Examples
    --------
    >>> s0 = Sharder(10, batch_size=2, rank=0, size=2, shuffle=False)
    >>> s1 = Sharder(10, batch_size=2, rank=1, size=2, shuffle=False)
    >>> [b.tolist() for b in s0.batches(0)], [b.tolist() for b in s1.batches(0)]
    ([[0, 1], [4, 5]], [[2, 3], [6, 7]])
    >>> len(s0), sorted(set(Sharder(10, 2, rank=0, size=2, seed=3).indices(0)) & set(Sharder(10, 2, rank=1, size=2, seed=3).indices(0)))
    (2, [])
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        rank: int | None = None,
        size: int | None = None,
        comm: Any = None,
        seed: int = 0,
        shuffle: bool = True,
    ):
        if comm is not None:
            rank, size = comm.rank, comm.size
        if rank is None or size is None:
            raise ValueError("distlearn.Sharder: give rank and size, or comm")
        if not (0 <= rank < size):
            raise ValueError(f"distlearn.Sharder: rank {rank} is not in [0, {size})")
        if batch_size < 1 or n < batch_size * size:
            raise ValueError(
                f"distlearn.Sharder: {n} examples do not fill one global batch of {size} ranks x {batch_size}"
            )
        self.n, self.batch_size, self.rank, self.size = n, batch_size, rank, size
        self.seed, self.shuffle = seed, shuffle

    def __len__(self) -> int:
        """Steps per epoch."""
        return self.n // (self.batch_size * self.size)

    def order(self, epoch: int) -> np.ndarray:
        """The epoch's permutation of every example (the same on every rank)."""
        if not self.shuffle:
            return np.arange(self.n, dtype=np.int64)
        return np.random.default_rng([self.seed, epoch]).permutation(self.n).astype(np.int64)

    def global_batches(self, epoch: int) -> Iterator[np.ndarray]:
        """The epoch's global batches: what one process on the whole batch would take."""
        g = self.batch_size * self.size
        perm = self.order(epoch)
        for s in range(len(self)):
            yield perm[s * g : (s + 1) * g]

    def batches(self, epoch: int) -> Iterator[np.ndarray]:
        """This rank's part of each global batch of the epoch."""
        lo = self.rank * self.batch_size
        for b in self.global_batches(epoch):
            yield b[lo : lo + self.batch_size]

    def indices(self, epoch: int) -> np.ndarray:
        """Every example this rank sees in the epoch, in order."""
        parts = list(self.batches(epoch))
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)
