"""Embedding and ranking criteria (Torch's criterion.md): the hinge-embedding, cosine-embedding and
margin-ranking losses.
"""

from __future__ import annotations

import numbers
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, ShapeError

from ._criteria_utils import _like_input, _norm, _sizes, _tensor
from .criterion import Criterion


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _pair(who: str, input: Any) -> tuple[Tensor, Tensor]:
    if not isinstance(input, (list, tuple)) or len(input) != 2:
        raise ArgumentError(
            f"{who}: expected the input to be a list of two tensors [x1, x2], got {type(input).__name__}"
        )
    a, b = _tensor(who, input[0], "input[0]"), _tensor(who, input[1], "input[1]")
    if a.size() != b.size():
        raise ShapeError(f"{who}: the two inputs must have the same size, got {_sizes(a)} and {_sizes(b)}")
    return a, b


class HingeEmbeddingCriterion(Criterion):
    """``x`` where ``y = 1``, ``max(0, margin - x)`` where ``y = -1``; summed, averaged over the elements.

    ``x`` is typically a distance (e.g. from PairwiseDistance); ``y`` a tensor of labels of the
    input's size, or one number for every element.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> crit = nn.HingeEmbeddingCriterion(margin=1)
    >>> crit.forward(ft.Tensor([0.3, 0.2, 2.0]), ft.Tensor([1.0, -1.0, -1.0]))
    0.3666666666666667
    """

    def __init__(self, margin: float = 1.0, size_average: bool = True) -> None:
        super().__init__()
        self.margin = margin
        self.size_average = size_average

    def _args(self, input: Any, y: Any) -> tuple[Tensor, Any]:
        x = _tensor("HingeEmbeddingCriterion", input)
        if _is_number(y):
            return x, y
        return _like_input("HingeEmbeddingCriterion", x, y)

    def update_output(self, input: Any, target: Any) -> float:
        x, y = self._args(input, target)
        if isinstance(y, Tensor):
            loss = ft.where(y.eq(1), x, 0.0).sum() + ft.where(y.eq(-1), (self.margin - x).clamp(min=0), 0.0).sum()
            value = float(loss)
        elif y == 1:
            value = float(x.sum())
        elif y == -1:
            value = float((self.margin - x).clamp(min=0).sum())
        else:
            value = 0.0
        self.output = value * _norm(self, x.nelement())
        return self.output

    def update_grad_input(self, input: Any, target: Any) -> Any:
        x, y = self._args(input, target)
        norm = _norm(self, x.nelement())
        if isinstance(y, Tensor):
            g = ft.where(ft.logical_and(y.eq(-1), x.gt(self.margin)), 0.0, y).type(x.dtype)
        else:
            g = ft.full(tuple(x.size()), fill_value=float(y), dtype=x.dtype, device=x.device)
            if y == -1:
                g = g.masked_fill_(x.gt(self.margin), 0.0)
        self.grad_input = g.mul_(norm)
        return self.grad_input

    def extra_repr(self) -> str:
        return f"margin={self.margin:g}"


class L1HingeEmbeddingCriterion(Criterion):
    """Hinge on the L1 distance of a pair ``[x1, x2]``: ``d`` if ``y = 1``, ``max(0, margin - d)`` if ``y = -1``.

    ``d = ||x1 - x2||_1``; ``y`` is a number (or a 1-element tensor). The gradient is a list of two
    tensors.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> crit = nn.L1HingeEmbeddingCriterion(margin=2)
    >>> pair = [ft.Tensor([1.0, 2.0]), ft.Tensor([1.5, 1.0])]
    >>> crit.forward(pair, 1), crit.forward(pair, -1)
    (1.5, 0.5)
    >>> [g.tolist() for g in crit.backward(pair, -1)]
    [[1.0, -1.0], [-1.0, 1.0]]
    """

    def __init__(self, margin: float = 1.0) -> None:
        super().__init__()
        self.margin = margin

    def _args(self, input: Any, y: Any) -> tuple[Tensor, Tensor, float]:
        a, b = _pair("L1HingeEmbeddingCriterion", input)
        if isinstance(y, Tensor):
            if y.nelement() != 1:
                raise ShapeError(
                    f"L1HingeEmbeddingCriterion: expected one label (1 or -1), got a tensor of size {_sizes(y)}"
                )
            y = y.reshape(1)[0].item()
        if not _is_number(y):
            raise ArgumentError(f"L1HingeEmbeddingCriterion: expected the label 1 or -1, got {y!r}")
        return a, b, float(y)

    def update_output(self, input: Any, target: Any) -> float:
        a, b, y = self._args(input, target)
        d = float((a - b).abs().sum())
        self.output = float(max(0.0, self.margin - d)) if y == -1 else d
        return self.output

    def update_grad_input(self, input: Any, target: Any) -> Any:
        a, b, y = self._args(input, target)
        diff = a - b
        g = ft.sign(diff)
        if y == -1:
            g = g.zero_() if float(diff.abs().sum()) > self.margin else g.neg_()
        self.grad_input = [g, -g]
        return self.grad_input

    def extra_repr(self) -> str:
        return f"margin={self.margin:g}"


class CosineEmbeddingCriterion(Criterion):
    """On a pair ``[x1, x2]``: ``1 - cos(x1, x2)`` if ``y = 1``, ``max(0, cos(x1, x2) - margin)`` if ``y = -1``.

    ``x1``, ``x2`` are ``D`` (``y`` a number or a 1-element tensor) or ``N x D`` (``y`` N labels);
    ``cos = x1.x2 / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12))``. With ``size_average`` the sum over
    samples is divided by N. As in Torch, a sample whose loss is 0 gets no gradient.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> crit = nn.CosineEmbeddingCriterion()
    >>> pair = [ft.Tensor([[1.0, 0.0], [1.0, 1.0]]), ft.Tensor([[0.0, 1.0], [1.0, 1.0]])]
    >>> round(crit.forward(pair, ft.Tensor([1.0, -1.0])), 6)
    1.0
    """

    EPS = 1e-12

    def __init__(self, margin: float = 0.0, size_average: bool = True) -> None:
        super().__init__()
        self.margin = margin
        self.size_average = size_average

    def _terms(self, input: Any, y: Any) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        a, b = _pair("CosineEmbeddingCriterion", input)
        if a.dim() not in (1, 2):
            raise ShapeError(f"CosineEmbeddingCriterion: expected inputs of size D or N x D, got {_sizes(a)}")
        a2 = a.view(1, -1) if a.dim() == 1 else a
        b2 = b.view(1, -1) if b.dim() == 1 else b
        n = a2.size(0)
        if _is_number(y):
            yt = ft.full((n,), fill_value=float(y), dtype=a.dtype, device=a.device)
        else:
            yt = _tensor("CosineEmbeddingCriterion", y, "target")
            if yt.nelement() != n:
                raise ShapeError(f"CosineEmbeddingCriterion: expected {n} labels (one per pair), got {_sizes(yt)}")
            yt = yt.reshape(n).type(a.dtype)
        w1 = (a2 * b2).sum(1)
        w22 = ((a2 * a2).sum(1) + self.EPS).cinv_()
        w32 = ((b2 * b2).sum(1) + self.EPS).cinv_()
        w = (w22 * w32).sqrt_()
        cos = w1 * w
        out = ft.where(yt.eq(-1), (cos - self.margin).clamp(min=0), ft.where(yt.eq(1), 1 - cos, cos))
        return a2, b2, yt, w1, w22, w32, w, out

    def update_output(self, input: Any, target: Any) -> float:
        *_, out = self._terms(input, target)
        self.output = float(out.sum()) * _norm(self, out.size(0))
        return self.output

    def update_grad_input(self, input: Any, target: Any) -> Any:
        a, b, y, w1, w22, w32, w, out = self._terms(input, target)
        n = a.size(0)
        scale = ft.where(out.le(0), 0.0, ft.where(y.eq(1), -1.0, 1.0)).type(a.dtype) * w * _norm(self, n)
        scale = scale.view(n, 1)
        g1 = (b - (w1 * w22).view(n, 1) * a) * scale
        g2 = (a - (w1 * w32).view(n, 1) * b) * scale
        self.grad_input = [g1.view_as(input[0]), g2.view_as(input[1])]
        return self.grad_input

    def extra_repr(self) -> str:
        return f"margin={self.margin:g}"


class MarginRankingCriterion(Criterion):
    """Ranking hinge on a pair ``[x1, x2]``: ``max(0, -y (x1 - x2) + margin)``.

    With a number ``y`` the inputs are 1-element tensors (one pair, never averaged); with a tensor
    ``y`` they are batches of N scores, and ``size_average`` divides the sum by N. The gradient is a
    list of two tensors.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> crit = nn.MarginRankingCriterion(margin=0.5)
    >>> crit.forward([ft.Tensor([1.0, 2.0]), ft.Tensor([2.0, 1.0])], ft.Tensor([1.0, 1.0]))
    0.75
    >>> [g.tolist() for g in crit.backward([ft.Tensor([1.0]), ft.Tensor([2.0])], 1)]
    [[-1.0], [1.0]]
    """

    def __init__(self, margin: float = 1.0, size_average: bool = True) -> None:
        super().__init__()
        self.margin = margin
        self.size_average = size_average

    def _dist(self, input: Any, y: Any) -> tuple[Tensor, Any, float]:
        a, b = _pair("MarginRankingCriterion", input)
        if _is_number(y):
            if a.nelement() != 1:
                raise ShapeError(
                    f"MarginRankingCriterion: a number as target takes 1-element inputs, got {_sizes(a)};"
                    " give a tensor of labels for a batch"
                )
            return -y * (a - b) + self.margin, y, 1.0
        yt = _tensor("MarginRankingCriterion", y, "target")
        if yt.nelement() != a.nelement():
            raise ShapeError(f"MarginRankingCriterion: expected {a.nelement()} labels (one per pair), got {_sizes(yt)}")
        yt = yt.reshape(tuple(a.size())).type(a.dtype)
        return -yt * (a - b) + self.margin, yt, _norm(self, yt.nelement())

    def update_output(self, input: Any, target: Any) -> float:
        d, _, norm = self._dist(input, target)
        self.output = float(d.clamp(min=0).sum()) * norm
        return self.output

    def update_grad_input(self, input: Any, target: Any) -> Any:
        d, y, norm = self._dist(input, target)
        g = (d.ge(0).type(d.dtype) * y).mul_(norm)
        self.grad_input = [-g, g]
        return self.grad_input

    def extra_repr(self) -> str:
        return f"margin={self.margin:g}"


__all__ = [
    "HingeEmbeddingCriterion",
    "L1HingeEmbeddingCriterion",
    "CosineEmbeddingCriterion",
    "MarginRankingCriterion",
]
