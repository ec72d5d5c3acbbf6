"""All-reduce SGD: every rank computes gradients on its shard, the ranks average them, every rank steps.

torch-distlearn's ``AllReduceSGD`` for flambeau. With the same initial parameters (broadcast from
rank 0) and the same averaged gradients, every rank's optimizer makes the same step: the ranks stay
equal without ever sending parameters again, and N ranks on shards of b examples follow the
trajectory of one process on the global batch of N*b (up to the rounding of the sums). Any
optimizer works on top, flambeau.optim's (through :meth:`AllReduceSGD.opfunc`), autograd.optim's
(through :meth:`AllReduceSGD.wrap`) or a hand-written update after
:meth:`AllReduceSGD.all_reduce_gradients`: lbfgs and cg too, since the loss is averaged with the
gradients and every rank's line search sees the same values.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .comm import Comm


class AllReduceSGD:
    """Average gradients over the ranks, in one fused all-reduce per step.

    Parameters
    ----------
    comm : Comm, optional
        The ranks (a new :class:`~flambeau.distlearn.Comm` over ``MPI.COMM_WORLD`` by default).
    check : {"first", "always"}
        When to check that every rank's tree fits rank 0's: at the first all-reduce (and at
        :meth:`synchronize_parameters`), or at every step (one more small collective per step).

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau import distlearn
    >>> sgd = distlearn.AllReduceSGD()
    >>> params = {"w": ft.Tensor([1.0, 2.0])}
    >>> params = sgd.synchronize_parameters(params)
    >>> sgd.all_reduce_gradients({"w": ft.Tensor([0.5, 0.5])})["w"].tolist()
    [0.5, 0.5]
    """

    def __init__(self, comm: Comm | None = None, check: str = "first"):
        if check not in ("first", "always"):
            raise ValueError(f"distlearn.AllReduceSGD: check must be 'first' or 'always', got {check!r}")
        self.comm = comm if comm is not None else Comm()
        self.check = check
        self.steps = 0

    def synchronize_parameters(self, params: Any, state: dict[str, Any] | None = None) -> Any:
        """Give every rank rank 0's parameters (in place) and optimizer state: :meth:`Comm.synchronize`."""
        return self.comm.synchronize(params, state)

    def all_reduce_gradients(self, grads: Any, mean: bool = True) -> Any:
        """Sum (or average, by default) a tree of gradients over the ranks, in place; returns it."""
        self.steps += 1
        check = self.check == "always" or self.steps == 1
        return self.comm.all_reduce(grads, op="mean" if mean else "sum", check=check)

    def wrap(self, df: Callable[..., Any]) -> Callable[..., Any]:
        """A gradient function as ``autograd.grad`` makes, whose gradients and loss are averaged.

        ``df(params, *args)`` returns ``(grads, loss, *more)``; the wrapped one returns the same
        with ``grads`` and ``loss`` averaged over the ranks (in one all-reduce), so that it can
        drive ``autograd.optim``'s optimizers on every rank alike.
        """

        @functools.wraps(df)
        def averaged(params: Any, *args: Any, **kwargs: Any) -> Any:
            grads, loss, *more = df(params, *args, **kwargs)
            grads, loss = self.all_reduce_gradients((grads, loss))
            return (grads, loss, *more)

        return averaged

    def opfunc(self, opfunc: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """A Torch-style ``opfunc(x) -> (f, df_dx)`` whose ``f`` and ``df_dx`` are averaged over the ranks.

        For flambeau.optim's optimizers: ``optim.adam(sgd.opfunc(feval), x, config, state)``.
        """

        @functools.wraps(opfunc)
        def averaged(x: Any) -> Any:
            f, dfdx = opfunc(x)
            f, dfdx = self.all_reduce_gradients((f, dfdx))
            return f, dfdx

        return averaged
