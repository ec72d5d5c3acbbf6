"""Regression criteria (Torch's criterion.md): MSE, weighted MSE, absolute, smooth L1 and KL-divergence
losses, and L1Cost.
"""

from __future__ import annotations

from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ShapeError

from ._criteria_utils import _like_input, _norm, _sizes, _tensor
from .criterion import Criterion


class MSECriterion(Criterion):
    """Mean squared error ``sum (x - y)^2 / n`` (summed without ``size_average``).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.MSECriterion(size_average=False).forward(ft.Tensor([1.0, 2.0]), ft.Tensor([0.0, 4.0]))
    5.0
    """

    def __init__(self, size_average: bool = True) -> None:
        super().__init__()
        self.size_average = size_average

    def update_output(self, input: Any, target: Any) -> float:
        x, t = _like_input(type(self).__name__, input, target)
        d = x - t
        self.output = float((d * d).sum()) * _norm(self, x.nelement())
        return self.output

    def update_grad_input(self, input: Any, target: Any) -> Any:
        x, t = _like_input(type(self).__name__, input, target)
        self.grad_input = (x - t).mul_(2 * _norm(self, x.nelement()))
        return self.grad_input


class WeightedMSECriterion(Criterion):
    """MSECriterion against the target scaled by ``w``: ``sum (x - w * y)^2 / n`` (Torch's meaning).

    ``w`` has the size of one sample (it is applied to every sample of a batch) or of the input.
    A copy is kept in ``self.weight``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> crit = nn.WeightedMSECriterion(ft.Tensor([1.0, 2.0]))
    >>> crit.forward(ft.Tensor([[1.0, 2.0], [0.0, 0.0]]), ft.Tensor([[1.0, 1.0], [1.0, 1.0]]))
    1.25
    """

    def __init__(self, w: Tensor, size_average: bool = True) -> None:
        super().__init__()
        self.weight = _tensor("WeightedMSECriterion", w, "weight").clone()
        self.size_average = size_average

    def _args(self, input: Any, target: Any) -> tuple[Tensor, Tensor]:
        x, t = _like_input("WeightedMSECriterion", input, target)
        w = self.weight
        if w.size() != x.size() and tuple(w.size()) != tuple(x.size())[1:]:
            raise ShapeError(
                f"WeightedMSECriterion: a weight of size {_sizes(w)} fits neither the input {_sizes(x)} nor one of"
                " its samples"
            )
        return x, t * w

    def update_output(self, input: Any, target: Any) -> float:
        x, t = self._args(input, target)
        d = x - t
        self.output = float((d * d).sum()) * _norm(self, x.nelement())
        return self.output

    def update_grad_input(self, input: Any, target: Any) -> Any:
        x, t = self._args(input, target)
        self.grad_input = (x - t).mul_(2 * _norm(self, x.nelement()))
        return self.grad_input


class AbsCriterion(Criterion):
    """Mean absolute error ``sum |x - y| / n``; its gradient is ``sign(x - y) / n``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.AbsCriterion().forward(ft.Tensor([1.0, 2.0]), ft.Tensor([0.0, 4.0]))
    1.5
    """

    def __init__(self, size_average: bool = True) -> None:
        super().__init__()
        self.size_average = size_average

    def update_output(self, input: Any, target: Any) -> float:
        x, t = _like_input("AbsCriterion", input, target)
        self.output = float((x - t).abs().sum()) * _norm(self, x.nelement())
        return self.output

    def update_grad_input(self, input: Any, target: Any) -> Any:
        x, t = _like_input("AbsCriterion", input, target)
        self.grad_input = ft.sign(x - t).mul_(_norm(self, x.nelement()))
        return self.grad_input


class SmoothL1Criterion(Criterion):
    """Huber loss with threshold 1: ``0.5 d^2`` where ``|d| < 1``, else ``|d| - 0.5`` (``d = x - y``).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.SmoothL1Criterion(size_average=False).forward(ft.Tensor([0.5, 3.0]), ft.Tensor([0.0, 0.0]))
    2.625
    """

    def __init__(self, size_average: bool = True) -> None:
        super().__init__()
        self.size_average = size_average

    def update_output(self, input: Any, target: Any) -> float:
        x, t = _like_input("SmoothL1Criterion", input, target)
        d = x - t
        a = d.abs()
        self.output = float(ft.where(a.lt(1), 0.5 * d * d, a - 0.5).sum()) * _norm(self, x.nelement())
        return self.output

    def update_grad_input(self, input: Any, target: Any) -> Any:
        x, t = _like_input("SmoothL1Criterion", input, target)
        self.grad_input = (x - t).clamp_(-1.0, 1.0).mul_(_norm(self, x.nelement()))
        return self.grad_input


class DistKLDivCriterion(Criterion):
    """Kullback-Leibler divergence ``sum t (log t - x) / n`` for log-probability inputs ``x``.

    Terms with ``t <= 0`` count as 0.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> crit = nn.DistKLDivCriterion(size_average=False)
    >>> crit.forward(ft.Tensor([-1.0, -2.0]), ft.Tensor([1.0, 0.0]))
    1.0
    """

    def __init__(self, size_average: bool = True) -> None:
        super().__init__()
        self.size_average = size_average

    def update_output(self, input: Any, target: Any) -> float:
        x, t = _like_input("DistKLDivCriterion", input, target)
        pos = t.gt(0)
        safe_t = ft.where(pos, t, 1.0)
        terms = ft.where(pos, t * (ft.log(safe_t) - x), 0.0)
        self.output = float(terms.sum()) * _norm(self, x.nelement())
        return self.output

    def update_grad_input(self, input: Any, target: Any) -> Any:
        x, t = _like_input("DistKLDivCriterion", input, target)
        self.grad_input = ft.where(t.gt(0), -t, 0.0).type(x.dtype).mul_(_norm(self, x.nelement()))
        return self.grad_input


class L1Cost(Criterion):
    """``sum |x|``, with no target (an L1 penalty on activations); its gradient is ``sign(x)``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.L1Cost().forward(ft.Tensor([1.0, -2.0]))
    3.0
    >>> nn.L1Cost().backward(ft.Tensor([1.0, -2.0])).tolist()
    [1.0, -1.0]
    """

    def update_output(self, input: Any, target: Any = None) -> float:
        self.output = float(_tensor("L1Cost", input).abs().sum())
        return self.output

    def update_grad_input(self, input: Any, target: Any = None) -> Any:
        self.grad_input = ft.sign(_tensor("L1Cost", input))
        return self.grad_input

    def forward(self, input: Any, target: Any = None) -> float:
        return self.update_output(input, target)

    def backward(self, input: Any, target: Any = None) -> Any:
        return self.update_grad_input(input, target)

    def __call__(self, input: Any, target: Any = None) -> tuple[float, Any]:
        return self.forward(input, target), self.backward(input, target)


__all__ = [
    "MSECriterion",
    "WeightedMSECriterion",
    "AbsCriterion",
    "SmoothL1Criterion",
    "DistKLDivCriterion",
    "L1Cost",
]
