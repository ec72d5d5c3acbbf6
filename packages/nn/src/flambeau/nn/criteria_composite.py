"""Composite criteria (Torch's criterion.md): weighted sums of criteria, on one input
(MultiCriterion) or on the entries of a table input (ParallelCriterion).
"""

from __future__ import annotations

from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError

from .criterion import Criterion


def _scaled(x: Any, w: float) -> Any:
    """A new tensor ``w * x`` (lists element by element)."""
    if isinstance(x, Tensor):
        return x * w
    return [_scaled(v, w) for v in x]


def _add_scaled(acc: Any, x: Any, w: float) -> Any:
    """``acc + w * x`` (in place on tensors; lists element by element); returns the sum."""
    if isinstance(acc, Tensor):
        return acc.add_(x, alpha=w)
    return [_add_scaled(a, v, w) for a, v in zip(acc, x, strict=True)]


def _zeros_like_tree(x: Any) -> Any:
    if isinstance(x, Tensor):
        return ft.zeros_like(x)
    return [_zeros_like_tree(v) for v in x]


class _Combination(Criterion):
    """Criteria with weights (``self.criterions``, ``self.weights``), added with :meth:`add`."""

    def __init__(self) -> None:
        super().__init__()
        self.criterions: list[Criterion] = []
        self.weights: list[float] = []

    def add(self, criterion: Criterion, weight: float = 1.0) -> Any:
        """Append ``criterion`` with ``weight``; returns self (so ``add`` chains)."""
        if not isinstance(criterion, Criterion):
            raise ArgumentError(f"{type(self).__name__}.add: expected a criterion, got {type(criterion).__name__}")
        self.criterions.append(criterion)
        self.weights.append(float(weight))
        return self

    def __repr__(self) -> str:
        name = f"nn.{type(self).__name__}"
        if not self.criterions:
            return name
        lines = [f"{name} {{"]
        for i, (c, w) in enumerate(zip(self.criterions, self.weights, strict=True)):
            lines.append(f"  ({i}): {w:g} * " + repr(c).replace("\n", "\n  "))
        lines.append("}")
        return "\n".join(lines)


class MultiCriterion(_Combination):
    """The weighted sum of criteria that all see the same input and target: ``sum_i w_i crit_i``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> crit = nn.MultiCriterion().add(nn.MSECriterion()).add(nn.AbsCriterion(), 0.5)
    >>> crit.forward(ft.Tensor([1.0, 2.0]), ft.Tensor([0.0, 4.0]))
    3.25
    >>> crit.backward(ft.Tensor([1.0, 2.0]), ft.Tensor([0.0, 4.0])).tolist()
    [1.25, -2.25]
    """

    def update_output(self, input: Any, target: Any) -> float:
        total = 0.0
        for c, w in zip(self.criterions, self.weights, strict=True):
            total += w * c.update_output(input, target)
        self.output = total
        return total

    def update_grad_input(self, input: Any, target: Any) -> Any:
        acc: Any = None
        for c, w in zip(self.criterions, self.weights, strict=True):
            g = c.update_grad_input(input, target)
            acc = _scaled(g, w) if acc is None else _add_scaled(acc, g, w)
        self.grad_input = _zeros_like_tree(input) if acc is None else acc
        return self.grad_input


class ParallelCriterion(_Combination):
    """Criterion ``i`` on ``input[i]`` and ``target[i]`` (or the one shared target with ``repeat_target``), weighted and summed.

    ``input`` is a list (a table in Torch); the gradient is a list of the same length (zeros for
    inputs past the last criterion).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> crit = nn.ParallelCriterion().add(nn.MSECriterion()).add(nn.ClassNLLCriterion(), 2)
    >>> x = [ft.Tensor([1.0, 2.0]), ft.Tensor([-1.0, -3.0])]
    >>> crit.forward(x, [ft.Tensor([1.0, 0.0]), 1])
    8.0
    >>> [g.tolist() for g in crit.backward(x, [ft.Tensor([1.0, 0.0]), 1])]
    [[0.0, 2.0], [0.0, -2.0]]
    """

    def __init__(self, repeat_target: bool = False) -> None:
        super().__init__()
        self.repeat_target = repeat_target

    def _check(self, input: Any, target: Any) -> None:
        if not isinstance(input, (list, tuple)):
            raise ArgumentError(f"ParallelCriterion: expected a list of inputs, got {type(input).__name__}")
        if len(input) < len(self.criterions):
            raise ArgumentError(f"ParallelCriterion: {len(self.criterions)} criteria but {len(input)} inputs")
        if not self.repeat_target and (not isinstance(target, (list, tuple)) or len(target) < len(self.criterions)):
            raise ArgumentError(
                f"ParallelCriterion: expected a list of {len(self.criterions)} targets (or repeat_target=True),"
                f" got {type(target).__name__}"
            )

    def update_output(self, input: Any, target: Any) -> float:
        self._check(input, target)
        total = 0.0
        for i, (c, w) in enumerate(zip(self.criterions, self.weights, strict=True)):
            total += w * c.update_output(input[i], target if self.repeat_target else target[i])
        self.output = total
        return total

    def update_grad_input(self, input: Any, target: Any) -> Any:
        self._check(input, target)
        grads = []
        for i, x in enumerate(input):
            if i < len(self.criterions):
                g = self.criterions[i].update_grad_input(x, target if self.repeat_target else target[i])
                grads.append(_scaled(g, self.weights[i]))
            else:
                grads.append(_zeros_like_tree(x))
        self.grad_input = grads
        return grads

    def extra_repr(self) -> str:
        return "repeat_target=True" if self.repeat_target else ""


__all__ = [
    "MultiCriterion",
    "ParallelCriterion",
]
