"""Elastic averaging SGD (EASGD): ranks train apart and are pulled toward a shared center every tau steps.

torch-distlearn's ``AllReduceEA``, the synchronous form of Zhang, Choromanska and LeCun's elastic
averaging. Every rank keeps the same *center* variable. Every ``tau`` local steps, each rank
computes its elastic difference ``d_i = x_i - center``, moves ``x_i -= alpha * d_i``, and the
center moves by the sum of the differences, ``center += alpha * sum_i d_i`` (one all-reduce).
Between exchanges the ranks optimize alone, on their own shards, with any optimizer.
"""

from __future__ import annotations

from typing import Any

from flambeau.tensor import Tensor

from . import tree as _tree
from .comm import Comm


class AllReduceEA:
    """Elastic averaging over the ranks.

    Parameters
    ----------
    comm : Comm, optional
        The ranks (a new :class:`~flambeau.distlearn.Comm` over ``MPI.COMM_WORLD`` by default).
    tau : int
        Local steps between two elastic exchanges.
    alpha : float
        The elastic pull, in (0, 1): how far each exchange moves a rank toward the center. The
        center moves by ``alpha`` times the sum of the differences (the paper's ``beta = N * alpha``),
        which is stable for ``N * alpha < 1``... and beyond, as long as ``alpha < 1``, in practice.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau import distlearn
    >>> ea = distlearn.AllReduceEA(tau=2, alpha=0.5)
    >>> p = [ft.Tensor([0.0])]
    >>> p = ea.synchronize_parameters(p)
    >>> _ = p[0].fill_(4.0)            # a local step
    >>> ea.average_parameters(p), ea.average_parameters(p), p[0].tolist(), ea.center[0].tolist()
    (False, True, [2.0], [2.0])
    """

    def __init__(self, comm: Comm | None = None, tau: int = 10, alpha: float = 0.2):
        if not (isinstance(tau, int) and tau >= 1):
            raise ValueError(f"distlearn.AllReduceEA: tau must be an int >= 1, got {tau!r}")
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"distlearn.AllReduceEA: alpha must be in (0, 1), got {alpha!r}")
        self.comm = comm if comm is not None else Comm()
        self.tau = tau
        self.alpha = float(alpha)
        self.steps = 0
        self.center: list[Tensor] | None = None

    def synchronize_parameters(self, params: Any, state: dict[str, Any] | None = None) -> Any:
        """Give every rank rank 0's parameters (and optimizer state); the center starts there."""
        params = self.comm.synchronize(params, state)
        self.center = [leaf.clone() for _, leaf in _tree.leaves(params) if isinstance(leaf, Tensor)]
        return params

    def average_parameters(self, params: Any) -> bool:
        """Count a local step; on every ``tau``-th, do the elastic exchange (in place). Returns whether it did."""
        if self.center is None:
            raise RuntimeError("distlearn.AllReduceEA: call synchronize_parameters(params) before average_parameters")
        self.steps += 1
        if self.steps % self.tau:
            return False
        xs = [leaf for _, leaf in _tree.leaves(params) if isinstance(leaf, Tensor)]
        if len(xs) != len(self.center):
            raise ValueError(
                f"distlearn.AllReduceEA: params has {len(xs)} tensors, the center {len(self.center)}"
                " (the tree given to synchronize_parameters)"
            )
        diffs = [x - c for x, c in zip(xs, self.center, strict=True)]
        for x, d in zip(xs, diffs, strict=True):
            x.add_(d, alpha=-self.alpha)
        self.comm.all_reduce(diffs, op="sum", check=self.steps == self.tau)
        for c, d in zip(self.center, diffs, strict=True):
            c.add_(d, alpha=self.alpha)
        return True
