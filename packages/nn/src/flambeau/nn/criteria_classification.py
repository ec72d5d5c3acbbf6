"""Classification criteria (Torch's criterion.md): negative log-likelihood, cross-entropy, binary
cross-entropy, the simplex and the margin losses. Class targets are 0-based (see ``flambeau.nn.criteria``).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, DomainError, IndexError, ShapeError, size_text

from ._criteria_utils import _like_input, _norm, _sizes, _tensor
from .criterion import Criterion


def _is_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _out_of_range(who: str, value: int, n_classes: int, ignore_index: int | None = None) -> IndexError:
    tail = "" if ignore_index is None else f", or ignore_index {ignore_index}"
    return IndexError(
        f"{who}: target {value} is out of range for {n_classes} classes (expected 0 to {n_classes - 1}{tail})"
    )


def _class_targets(
    who: str, target: Any, n: int, n_classes: int, ignore_index: int | None = None
) -> tuple[Tensor, Tensor | None]:
    """A batch of ``n`` class indices as a 1-D LongTensor, checked against ``n_classes``.

    Returns ``(t, keep)``: ``keep`` is None when every target counts, else a ByteTensor that is 0 at
    the targets equal to ``ignore_index`` (whose entry in ``t`` is replaced by 0, a safe index).
    """
    t = _tensor(who, target, "target")
    if t.dim() > 1 or t.nelement() != n:
        raise ShapeError(f"{who}: expected a target of {n} class indices (a 1-D tensor of size {n}), got {_sizes(t)}")
    if t.dtype != ft.int64:
        t = t.long()
    if t.dim() != 1:
        t = t.reshape(n)
    lo, hi = int(t.min()), int(t.max())
    ign = ignore_index
    if ign is None or not (lo <= ign <= hi or 0 <= ign < n_classes):
        if lo < 0 or hi >= n_classes:
            raise _out_of_range(who, lo if lo < 0 else hi, n_classes, ign)
        return t, None
    keep = t.ne(ign)
    bad = ft.logical_and(keep, ft.logical_or(t.lt(0), t.ge(n_classes)))
    if bool(bad.any()):
        raise _out_of_range(who, int(t.masked_select(bad)[0]), n_classes, ign)
    return t.masked_fill(keep.logical_not(), 0), keep


def _check_weights(who: str, weights: Tensor | None, n_classes: int) -> None:
    if weights is not None and (weights.dim() != 1 or weights.size(0) != n_classes):
        raise ShapeError(f"{who}: expected weights of size {n_classes} (one per class), got {_sizes(weights)}")


def _nll_terms(
    who: str, x: Tensor, target: Any, weights: Tensor | None, ignore_index: int | None
) -> tuple[Tensor, Tensor | None, float]:
    """The targets of a batch NLL over ``x`` (N x C): ``(t, w_t, total_weight)``.

    ``t`` holds the checked classes (ignored ones replaced by 0), ``w_t`` each sample's weight (0
    for an ignored target; None when every weight is 1) and ``total_weight`` the sum of ``w_t``.
    """
    n, c = x.size(0), x.size(1)
    _check_weights(who, weights, c)
    t, keep = _class_targets(who, target, n, c, ignore_index)
    if weights is not None:
        w_t = weights.index_select(0, t)
        if keep is not None:
            w_t = w_t * keep
        return t, w_t, float(w_t.sum())
    if keep is not None:
        w_t = keep.type(x.dtype)
        return t, w_t, float(w_t.sum())
    return t, None, float(n)


_ROWS: dict[tuple[int, Any], Tensor] = {}  # (n, device) -> arange(n): the row index of x[rows, t]


def _rows(x: Tensor) -> Tensor:
    key = (x.size(0), x.device)
    rows = _ROWS.get(key)
    if rows is None:
        rows = _ROWS[key] = ft.arange(x.size(0), device=x.device)
    return rows


def _nll_sum(x: Tensor, t: Tensor, w_t: Tensor | None) -> float:
    """``-sum_i w_t[i] x[i, t_i]`` as a Python float."""
    xa: Any = x  # Tensor.__getitem__ comes from the op table, out of mypy's sight
    picked = xa[_rows(x), t]  # advanced indexing: a third of gather's cost on small batches
    return -float(picked.sum() if w_t is None else (picked * w_t).sum())


def _nll_grad(x: Tensor, t: Tensor, w_t: Tensor | None, total: float, size_average: bool) -> Tensor:
    """dLoss/dx for the terms of :func:`_nll_terms`: ``-w[t_i] (/ total)`` at each ``(i, t_i)``."""
    grad = ft.zeros_like(x)
    if total <= 0:  # nothing counted (every target ignored, or zero weights): Torch's zero gradient
        return grad
    scale = -1.0 / total if size_average else -1.0
    ga: Any = grad
    ga[_rows(x), t] = scale if w_t is None else w_t * scale  # each (i, t_i) once: no accumulation needed
    return grad


def _log_softmax(x: Tensor) -> Tensor:
    return x - ft.logsumexp(x, x.dim() - 1, keepdim=True)


class ClassNLLCriterion(Criterion):
    """Negative log-likelihood of the target class, for log-probability inputs (after LogSoftMax).

    ``input`` is ``C`` (one sample; the target a Python int, or a 1-element tensor) or ``N x C``
    (the target a 1-D tensor of N classes). Classes are **0-based** (``0 .. C-1``). The loss is
    ``-w[t] * input[t]`` summed over the samples; with ``size_average`` it is divided by the sum of
    the selected weights (N without weights). Targets equal to ``ignore_index`` count for nothing.
    Torch's ``total_weight`` is kept in ``self.total_weight``.

    Parameters
    ----------
    weights : Tensor, optional
        One weight per class (a 1-D tensor of size C).
    size_average : bool
        Divide by the total weight of the batch (default) instead of summing.
    ignore_index : int
        A target value that contributes neither to the loss nor to the gradient.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> crit = nn.ClassNLLCriterion()
    >>> logp = ft.Tensor([[-1.0, -2.0, -3.0], [-0.5, -1.5, -4.0]])
    >>> crit.forward(logp, ft.LongTensor([0, 2]))
    2.5
    >>> crit.backward(logp, ft.LongTensor([0, 2])).tolist()
    [[-0.5, 0.0, 0.0], [0.0, 0.0, -0.5]]
    >>> crit.forward(ft.Tensor([-1.0, -2.0]), 1)
    2.0
    """

    def __init__(self, weights: Tensor | None = None, size_average: bool = True, ignore_index: int = -100) -> None:
        super().__init__()
        if weights is not None and _tensor("ClassNLLCriterion", weights, "weights").dim() != 1:
            raise ShapeError(f"ClassNLLCriterion: expected 1-D weights (one per class), got {_sizes(weights)}")
        self.weights = weights
        self.size_average = size_average
        self.ignore_index = ignore_index
        self.total_weight = 0.0

    def _who(self) -> str:
        return type(self).__name__

    def _check(self, input: Any) -> Tensor:
        x = _tensor(self._who(), input)
        if x.dim() not in (1, 2):
            raise ShapeError(
                f"{self._who()}: expected a 1-D input (C) or a 2-D batch (N x C) of log-probabilities, got {_sizes(x)}"
            )
        return x

    @staticmethod
    def _one(x: Tensor, target: Any) -> int | None:
        """The class of a single sample (a 1-D input or a batch of one) given as an int or a 1-element tensor."""
        if x.dim() == 1 and _is_int(target):
            return int(target)
        one_sample = x.dim() == 1 or x.size(0) == 1
        if one_sample and isinstance(target, Tensor) and target.dim() <= 1 and target.nelement() == 1:
            return int(target.item())
        return None

    def _single(self, x: Tensor, target: int) -> tuple[float, float, float]:
        """``(loss_sum, total_weight, w[target])`` of one sample ``x`` (size C): plain reads, no tensor op."""
        c = x.size(-1)
        _check_weights(self._who(), self.weights, c)
        if target == self.ignore_index:
            return 0.0, 0.0, 0.0
        if not 0 <= target < c:
            raise _out_of_range(self._who(), target, c, self.ignore_index)
        w = 1.0 if self.weights is None else float(self.weights.select(0, target))
        xa: Any = x  # Tensor.__getitem__ comes from the op table, out of mypy's sight
        return -w * float(xa[target] if x.dim() == 1 else xa[0, target]), w, w

    def update_output(self, input: Any, target: Any) -> float:
        x = self._check(input)
        cls = self._one(x, target)
        if cls is not None:
            loss, total, _ = self._single(x, cls)
        else:
            x2 = x if x.dim() == 2 else x.view(1, x.size(0))
            t, w_t, total = _nll_terms(self._who(), x2, target, self.weights, self.ignore_index)
            loss = _nll_sum(x2, t, w_t)
        self.total_weight = total
        self.output = loss / total if self.size_average and total != 0 else loss
        return self.output

    def update_grad_input(self, input: Any, target: Any) -> Any:
        x = self._check(input)
        cls = self._one(x, target)
        if cls is not None:
            _, total, w = self._single(x, cls)
            grad = ft.zeros_like(x)
            if total > 0:
                grad[(cls,) if x.dim() == 1 else (0, cls)] = -w / total if self.size_average else -w
            self.grad_input = grad
            return grad
        x2 = x if x.dim() == 2 else x.view(1, x.size(0))
        t, w_t, total = _nll_terms(self._who(), x2, target, self.weights, self.ignore_index)
        self.grad_input = _nll_grad(x2, t, w_t, total, self.size_average).view_as(x)
        return self.grad_input

    def extra_repr(self) -> str:
        return "" if self.weights is None else f"weights of size {self.weights.size(0)}"


class CrossEntropyCriterion(Criterion):
    """LogSoftMax followed by :class:`ClassNLLCriterion`, on raw scores: ``C`` or ``N x C``.

    Targets are 0-based classes, as for ClassNLLCriterion (a Python int for a 1-D input); weights
    and ``size_average`` are ClassNLL's. The inner criterion is ``self.nll``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> crit = nn.CrossEntropyCriterion()
    >>> round(crit.forward(ft.Tensor([[0.0, 0.0], [5.0, 5.0]]), ft.LongTensor([0, 1])), 6)
    0.693147
    >>> g = crit.backward(ft.Tensor([[0.0, 0.0], [5.0, 5.0]]), ft.LongTensor([0, 1]))
    >>> [[round(v, 6) for v in row] for row in g.tolist()]
    [[-0.25, 0.25], [0.25, -0.25]]
    """

    def __init__(self, weights: Tensor | None = None, size_average: bool = True, ignore_index: int = -100) -> None:
        super().__init__()
        self.nll = ClassNLLCriterion(weights, size_average, ignore_index)
        self.size_average = size_average

    def _check(self, input: Any) -> Tensor:
        x = _tensor("CrossEntropyCriterion", input)
        if x.dim() not in (1, 2):
            raise ShapeError(f"CrossEntropyCriterion: expected a 1-D input (C) or a 2-D batch (N x C), got {_sizes(x)}")
        self.nll.size_average = self.size_average
        return x

    def update_output(self, input: Any, target: Any) -> float:
        x = self._check(input)
        self.output = self.nll.update_output(_log_softmax(x), target)
        return self.output

    def update_grad_input(self, input: Any, target: Any) -> Any:
        x = self._check(input)
        lsm = _log_softmax(x)
        g = self.nll.update_grad_input(lsm, target)
        dim = x.dim() - 1
        self.grad_input = g - ft.exp(lsm) * g.sum(dim, keepdim=True)
        return self.grad_input


class SpatialClassNLLCriterion(Criterion):
    """ClassNLLCriterion at every pixel: log-probabilities ``N x C x H x W``, targets ``N x H x W``.

    A single image (``C x H x W`` with an ``H x W`` target) is taken as a batch of one. Classes are
    0-based; with ``size_average`` the sum is divided by the total weight of all pixels.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> logp = ft.Tensor([[[[-1.0, -2.0]], [[-3.0, -4.0]]]])  # 1 x 2 classes x 1 x 2
    >>> nn.SpatialClassNLLCriterion().forward(logp, ft.LongTensor([[[0, 1]]]))
    2.5
    """

    def __init__(self, weights: Tensor | None = None, size_average: bool = True, ignore_index: int = -100) -> None:
        super().__init__()
        self.weights = weights
        self.size_average = size_average
        self.ignore_index = ignore_index
        self.total_weight = 0.0

    def _flat(self, input: Any, target: Any) -> tuple[Tensor, Tensor, Any]:
        x = _tensor("SpatialClassNLLCriterion", input)
        t = _tensor("SpatialClassNLLCriterion", target, "target")
        if x.dim() == 3:
            x4 = x.view(1, *x.size())
        elif x.dim() == 4:
            x4 = x
        else:
            raise ShapeError(
                f"SpatialClassNLLCriterion: expected an input of size N x C x H x W (or C x H x W), got {_sizes(x)}"
            )
        n, c, h, w = x4.size()
        if t.nelement() != n * h * w or t.dim() not in (x.dim() - 1, x.dim()):
            raise ShapeError(
                f"SpatialClassNLLCriterion: expected a target of size {size_text((n, h, w) if x.dim() == 4 else (h, w))}"
                f" for an input of size {_sizes(x)}, got {_sizes(t)}"
            )
        return x4, x4.permute(0, 2, 3, 1).reshape(n * h * w, c), t.reshape(n * h * w)

    def update_output(self, input: Any, target: Any) -> float:
        _, x2, t = self._flat(input, target)
        tt, w_t, total = _nll_terms("SpatialClassNLLCriterion", x2, t, self.weights, self.ignore_index)
        self.total_weight = total
        loss = _nll_sum(x2, tt, w_t)
        self.output = loss / total if self.size_average and total != 0 else loss
        return self.output

    def update_grad_input(self, input: Any, target: Any) -> Any:
        x4, x2, target2 = self._flat(input, target)
        t, w_t, total = _nll_terms("SpatialClassNLLCriterion", x2, target2, self.weights, self.ignore_index)
        g = _nll_grad(x2, t, w_t, total, self.size_average)
        n, c, h, w = x4.size()
        self.grad_input = g.view(n, h, w, c).permute(0, 3, 1, 2).contiguous().view_as(input)
        return self.grad_input


class BCECriterion(Criterion):
    """Binary cross-entropy ``-w [t log(o + eps) + (1 - t) log(1 - o + eps)]``, ``eps = 1e-12``.

    ``input`` holds probabilities in [0, 1] (after a Sigmoid), ``target`` 0/1 values of the same
    size. ``weights`` has the input's size, or, for an ``N x D`` batch, size ``D``. Averaged over
    the elements with ``size_average``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> crit = nn.BCECriterion()
    >>> round(crit.forward(ft.Tensor([0.5, 0.5]), ft.Tensor([1.0, 0.0])), 6)
    0.693147
    >>> [round(v, 6) for v in crit.backward(ft.Tensor([0.5, 0.5]), ft.Tensor([1.0, 0.0])).tolist()]
    [-1.0, 1.0]
    """

    EPS = 1e-12

    def __init__(self, weights: Tensor | None = None, size_average: bool = True) -> None:
        super().__init__()
        self.weights = weights
        self.size_average = size_average

    def _args(self, input: Any, target: Any) -> tuple[Tensor, Tensor]:
        x, t = _like_input("BCECriterion", input, target)
        w = self.weights
        if w is not None and w.size() != x.size() and not (x.dim() == 2 and w.dim() == 1 and w.size(0) == x.size(1)):
            raise ShapeError(
                f"BCECriterion: expected weights of the input's size {_sizes(x)}"
                + (f" or of size {x.size(1)}" if x.dim() == 2 else "")
                + f", got {_sizes(w)}"
            )
        lo, hi = float(x.min()), float(x.max())
        if lo < 0 or hi > 1:
            raise DomainError(
                f"BCECriterion: expected probabilities in [0, 1] as input, got values from {lo:g} to {hi:g}"
            )
        return x, t

    def update_output(self, input: Any, target: Any) -> float:
        x, t = self._args(input, target)
        eps = self.EPS
        terms = t * ft.log(x + eps) + (1 - t) * ft.log(1 - x + eps)
        if self.weights is not None:
            terms = terms * self.weights
        self.output = -float(terms.sum()) * _norm(self, x.nelement())
        return self.output

    def update_grad_input(self, input: Any, target: Any) -> Any:
        x, t = self._args(input, target)
        eps = self.EPS
        g = (x - t) / ((1 - x + eps) * (x + eps))
        if self.weights is not None:
            g = g * self.weights
        self.grad_input = g.mul_(_norm(self, x.nelement()))
        return self.grad_input


def _regular_simplex(n: int) -> list[list[float]]:
    """The ``n + 1`` vertices of a regular simplex in ``n`` dims: unit norm, pairwise dot ``-1/n``.

    Built vertex by vertex as Torch's ``ClassSimplexCriterion:regsplex`` (after Jason Weston).
    """
    a = [[0.0] * n for _ in range(n + 1)]
    for k in range(n):
        if k == 0:
            a[k][k] = 1.0
        else:
            a[k][k] = math.sqrt(max(0.0, 1.0 - sum(v * v for v in a[k][:k])))
        c = (a[k][k] ** 2 - 1.0 - 1.0 / n) / a[k][k]
        for j in range(k + 1, n + 1):
            a[j][k] = c
    return a


class ClassSimplexCriterion(Criterion):
    """MSE between the input and the target class's vertex of a regular simplex (``n_classes`` dims).

    The embeddings are the rows of ``self.simplex`` (``n_classes x n_classes``): the ``n_classes``
    vertices of a regular simplex of dimension ``n_classes - 1`` (unit norm, equal pairwise
    distances), padded with a zero column. ``input`` is ``n_classes`` (target: an int) or
    ``N x n_classes`` (target: N classes, 0-based). Averaged over the elements with ``size_average``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> crit = nn.ClassSimplexCriterion(3)
    >>> crit.forward(crit.simplex[1].clone(), 1)
    0.0
    >>> crit.get_top_prediction(crit.simplex.clone()).tolist()
    [0, 1, 2]
    """

    def __init__(self, n_classes: int, size_average: bool = True) -> None:
        super().__init__()
        if not _is_int(n_classes) or n_classes < 2:
            raise ArgumentError(f"ClassSimplexCriterion: n_classes must be an integer >= 2, got {n_classes!r}")
        self.n_classes = int(n_classes)
        self.size_average = size_average
        rows = [r + [0.0] for r in _regular_simplex(self.n_classes - 1)]
        self.simplex = ft.tensor(rows, dtype=ft.float64)

    def _target(self, input: Any, target: Any) -> tuple[Tensor, Tensor]:
        x = _tensor("ClassSimplexCriterion", input)
        k = self.n_classes
        if _is_int(target):
            if not 0 <= target < k:
                raise _out_of_range("ClassSimplexCriterion", int(target), k)
            emb = self.simplex.select(0, int(target))
        else:
            t = _tensor("ClassSimplexCriterion", target, "target")
            if t.dim() != 1:
                raise ShapeError(f"ClassSimplexCriterion: expected a 1-D tensor of classes as target, got {_sizes(t)}")
            t, _ = _class_targets("ClassSimplexCriterion", t, t.nelement(), k)
            emb = self.simplex.index_select(0, t)
        if emb.nelement() != x.nelement():
            raise ShapeError(
                f"ClassSimplexCriterion: expected an input of {emb.nelement()} elements"
                f" ({_sizes(emb)}) for this target, got {_sizes(x)}"
            )
        return x, emb.reshape(tuple(x.size())).type(x.dtype)

    def update_output(self, input: Any, target: Any) -> float:
        x, emb = self._target(input, target)
        d = x - emb
        self.output = float((d * d).sum()) * _norm(self, x.nelement())
        return self.output

    def update_grad_input(self, input: Any, target: Any) -> Any:
        x, emb = self._target(input, target)
        self.grad_input = (x - emb).mul_(2 * _norm(self, x.nelement()))
        return self.grad_input

    def get_predictions(self, input: Tensor) -> Tensor:
        """The dot product of each sample with every class's vertex: ``N x n_classes``."""
        x = input.view(1, -1) if input.dim() == 1 else input
        return x @ self.simplex.t().type(x.dtype)

    def get_top_prediction(self, input: Tensor) -> Tensor:
        """The 0-based class whose vertex is closest in direction to each sample: a 1-D LongTensor."""
        return ft.argmax(self.get_predictions(input), 1).view(-1)

    def extra_repr(self) -> str:
        return str(self.n_classes)


class MarginCriterion(Criterion):
    """Two-class hinge loss ``sum max(0, margin - y x) / n`` with labels ``y`` in {1, -1}.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> crit = nn.MarginCriterion()
    >>> x, y = ft.Tensor([0.5, 2.0, -0.5, 1.0]), ft.Tensor([1.0, 1.0, 1.0, 1.0])
    >>> crit.forward(x, y)
    0.5
    >>> crit.backward(x, y).tolist()
    [-0.25, 0.0, -0.25, 0.0]
    """

    def __init__(self, margin: float = 1.0, size_average: bool = True) -> None:
        super().__init__()
        self.margin = margin
        self.size_average = size_average

    def update_output(self, input: Any, target: Any) -> float:
        x, y = _like_input("MarginCriterion", input, target)
        self.output = float((self.margin - y * x).clamp(min=0).sum()) * _norm(self, x.nelement())
        return self.output

    def update_grad_input(self, input: Any, target: Any) -> Any:
        x, y = _like_input("MarginCriterion", input, target)
        g = ft.where((y * x).lt(self.margin), -y, 0.0).type(x.dtype)
        self.grad_input = g.mul_(_norm(self, x.nelement()))
        return self.grad_input

    def extra_repr(self) -> str:
        return f"margin={self.margin:g}"


class SoftMarginCriterion(Criterion):
    """Two-class logistic loss ``sum log(1 + exp(-y x)) / n``, labels ``y`` in {1, -1}.

    Computed stably (``softplus``) for large ``|x|``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> crit = nn.SoftMarginCriterion()
    >>> round(crit.forward(ft.Tensor([0.0, 0.0]), ft.Tensor([1.0, -1.0])), 6)
    0.693147
    >>> crit.backward(ft.Tensor([0.0, 0.0]), ft.Tensor([1.0, -1.0])).tolist()
    [-0.25, 0.25]
    """

    def __init__(self, size_average: bool = True) -> None:
        super().__init__()
        self.size_average = size_average

    def update_output(self, input: Any, target: Any) -> float:
        x, y = _like_input("SoftMarginCriterion", input, target)
        a = -y * x
        softplus = a.clamp(min=0) + ft.log1p(ft.exp(-a.abs()))
        self.output = float(softplus.sum()) * _norm(self, x.nelement())
        return self.output

    def update_grad_input(self, input: Any, target: Any) -> Any:
        x, y = _like_input("SoftMarginCriterion", input, target)
        self.grad_input = (-y * ft.sigmoid(-y * x)).type(x.dtype).mul_(_norm(self, x.nelement()))
        return self.grad_input


class MultiMarginCriterion(Criterion):
    """Multi-class hinge loss: ``sum_{i != y} w[y] max(0, margin - x[y] + x[i])^p / C`` per sample.

    ``input`` is ``C`` (target an int) or ``N x C`` (target N classes, 0-based); ``p`` is 1 or 2.
    With ``size_average`` the sum over samples is divided by N (the ``/ C`` is always there).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> crit = nn.MultiMarginCriterion()
    >>> round(crit.forward(ft.Tensor([0.1, 0.2, 0.4, 0.8]), 3), 6)
    0.325
    >>> [round(v, 6) for v in crit.backward(ft.Tensor([0.1, 0.2, 0.4, 0.8]), 3).tolist()]
    [0.25, 0.25, 0.25, -0.75]
    """

    def __init__(
        self, p: int = 1, weights: Tensor | None = None, margin: float = 1.0, size_average: bool = True
    ) -> None:
        super().__init__()
        if p not in (1, 2):
            raise ArgumentError(f"MultiMarginCriterion: p must be 1 or 2, got {p!r}")
        self.p = p
        self.weights = weights
        self.margin = margin
        self.size_average = size_average

    def _terms(self, input: Any, target: Any) -> tuple[Tensor, Tensor, Tensor, Tensor | None, float]:
        """``(x2, t, z, w_t, norm)``: ``z[i, d] = max(0, margin - x[i, t_i] + x[i, d])``, 0 at ``d = t_i``."""
        x = _tensor("MultiMarginCriterion", input)
        if x.dim() == 1:
            x2 = x.view(1, x.size(0))
            if _is_int(target):
                target = ft.tensor([int(target)], dtype=ft.int64, device=x.device)
        elif x.dim() == 2:
            x2 = x
        else:
            raise ShapeError(f"MultiMarginCriterion: expected a 1-D input (C) or a 2-D batch (N x C), got {_sizes(x)}")
        n, c = x2.size(0), x2.size(1)
        _check_weights("MultiMarginCriterion", self.weights, c)
        t, _ = _class_targets("MultiMarginCriterion", target, n, c)
        ti = t.view(n, 1)
        z = (x2 - x2.gather(1, ti) + self.margin).clamp_(min=0).scatter_(1, ti, 0.0)
        w_t = None if self.weights is None else self.weights.index_select(0, t).view(n, 1)
        return x2, ti, z, w_t, 1.0 / c * _norm(self, n)

    def update_output(self, input: Any, target: Any) -> float:
        _, _, z, w_t, norm = self._terms(input, target)
        h = z if self.p == 1 else z * z
        if w_t is not None:
            h = h * w_t
        self.output = float(h.sum()) * norm
        return self.output

    def update_grad_input(self, input: Any, target: Any) -> Any:
        x2, ti, z, w_t, norm = self._terms(input, target)
        g = z.gt(0).type(x2.dtype) if self.p == 1 else z * 2
        if w_t is not None:
            g = g * w_t
        g.mul_(norm)
        g.scatter_(1, ti, -g.sum(1, keepdim=True))
        self.grad_input = g.view_as(input)
        return self.grad_input

    def extra_repr(self) -> str:
        return f"p={self.p}, margin={self.margin:g}"


class MultiLabelMarginCriterion(Criterion):
    """Multi-label hinge loss: ``sum_{j in targets} sum_{i not in targets} max(0, 1 - (x[j] - x[i])) / C``.

    ``target`` has the input's size (``C`` or ``N x C``); each row lists the sample's classes
    (0-based) and ends at the first ``-1`` (the rest is ignored). **Torch ended the list at the
    first 0**, which is a class here. With ``size_average`` the sum over samples is divided by N.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> crit = nn.MultiLabelMarginCriterion()
    >>> x = ft.Tensor([0.1, 0.2, 0.4, 0.8])
    >>> round(crit.forward(x, ft.LongTensor([3, 0, -1, 1])), 6)  # classes 3 and 0
    0.85
    """

    def __init__(self, size_average: bool = True) -> None:
        super().__init__()
        self.size_average = size_average

    def _terms(self, input: Any, target: Any) -> tuple[Tensor, Tensor | None, Tensor, Tensor, float]:
        """``(x2, safe, z, m, norm)``: hinge terms ``z`` (N x K x C), their mask ``m``, the targets ``safe``."""
        x = _tensor("MultiLabelMarginCriterion", input)
        t = _tensor("MultiLabelMarginCriterion", target, "target")
        if x.dim() not in (1, 2):
            raise ShapeError(
                f"MultiLabelMarginCriterion: expected a 1-D input (C) or a 2-D batch (N x C), got {_sizes(x)}"
            )
        if t.size() != x.size():
            raise ShapeError(
                f"MultiLabelMarginCriterion: expected a target of the input's size {_sizes(x)}, got {_sizes(t)}"
            )
        x2 = x.view(1, -1) if x.dim() == 1 else x
        n, c = x2.size(0), x2.size(1)
        t2 = t.reshape(n, c)
        if t2.dtype != ft.int64:
            t2 = t2.long()
        listed = t2.eq(-1).cumsum(1).eq(0)  # before the first -1
        k = int(listed.sum(1).max())
        norm = 1.0 / c * _norm(self, n)
        if k == 0:
            return x2, None, x2.new(), x2.new(), norm
        t2, listed = t2.narrow(1, 0, k), listed.narrow(1, 0, k)
        bad = ft.logical_and(listed, ft.logical_or(t2.lt(0), t2.ge(c)))
        if bool(bad.any()):
            raise IndexError(
                f"MultiLabelMarginCriterion: target {int(t2.masked_select(bad)[0])} is out of range for {c} classes"
                f" (expected 0 to {c - 1}, and -1 to end a list)"
            )
        safe = t2.masked_fill(listed.logical_not(), 0)
        is_target = ft.zeros(n, c + 1, dtype=x2.dtype, device=x2.device)
        is_target.scatter_(1, ft.where(listed, t2, c), 1.0)
        other = 1 - is_target.narrow(1, 0, c)  # N x C: 1 for the classes not listed
        z = (1 - x2.gather(1, safe).unsqueeze(2) + x2.unsqueeze(1)).clamp_(min=0)  # N x K x C
        m = listed.type(x2.dtype).unsqueeze(2) * other.unsqueeze(1)
        return x2, safe, z, m, norm

    def update_output(self, input: Any, target: Any) -> float:
        _, safe, z, m, norm = self._terms(input, target)
        self.output = 0.0 if safe is None else float((z * m).sum()) * norm
        return self.output

    def update_grad_input(self, input: Any, target: Any) -> Any:
        x2, safe, z, m, norm = self._terms(input, target)
        if safe is None:
            self.grad_input = ft.zeros_like(input)
            return self.grad_input
        c = x2.size(1)
        gz = z.gt(0).type(x2.dtype) * m  # N x K x C: d z / d x[i] = 1, d z / d x[t_k] = -1
        one_hot = safe.unsqueeze(2).eq(ft.arange(c, device=x2.device)).type(x2.dtype)
        g = gz.sum(1) - (one_hot * gz.sum(2, keepdim=True)).sum(1)
        self.grad_input = g.mul_(norm).view_as(input)
        return self.grad_input


class MultiLabelSoftMarginCriterion(Criterion):
    """One-vs-all logistic loss: BCECriterion on ``sigmoid(input)``, as Torch computes it.

    ``target`` holds 0/1 labels of the input's size; ``weights`` (size C) weighs the classes of a
    ``C`` or ``N x C`` input. Averaged over the elements with ``size_average``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> crit = nn.MultiLabelSoftMarginCriterion()
    >>> round(crit.forward(ft.Tensor([0.0, 0.0]), ft.Tensor([1.0, 0.0])), 6)
    0.693147
    >>> [round(v, 6) for v in crit.backward(ft.Tensor([0.0, 0.0]), ft.Tensor([1.0, 0.0])).tolist()]
    [-0.25, 0.25]
    """

    def __init__(self, weights: Tensor | None = None, size_average: bool = True) -> None:
        super().__init__()
        if weights is not None and _tensor("MultiLabelSoftMarginCriterion", weights, "weights").dim() != 1:
            raise ShapeError(
                f"MultiLabelSoftMarginCriterion: expected 1-D weights (one per class), got {_sizes(weights)}"
            )
        self.weights = weights
        self.size_average = size_average

    def _args(self, input: Any, target: Any) -> tuple[Tensor, Tensor, Tensor]:
        x, t = _like_input("MultiLabelSoftMarginCriterion", input, target)
        w = self.weights
        if w is not None and (x.dim() == 0 or w.size(0) != x.size(-1)):
            raise ShapeError(
                f"MultiLabelSoftMarginCriterion: weights of size {w.size(0)} for an input of size {_sizes(x)}"
                " (expected one weight per class, the input's last dimension)"
            )
        return x, t, ft.sigmoid(x)

    def update_output(self, input: Any, target: Any) -> float:
        x, t, s = self._args(input, target)
        eps = BCECriterion.EPS
        terms = t * ft.log(s + eps) + (1 - t) * ft.log(1 - s + eps)
        if self.weights is not None:
            terms = terms * self.weights
        self.output = -float(terms.sum()) * _norm(self, x.nelement())
        return self.output

    def update_grad_input(self, input: Any, target: Any) -> Any:
        x, t, s = self._args(input, target)
        eps = BCECriterion.EPS
        g = (s - t) / ((1 - s + eps) * (s + eps)) * (s * (1 - s))
        if self.weights is not None:
            g = g * self.weights
        self.grad_input = g.mul_(_norm(self, x.nelement()))
        return self.grad_input


__all__ = [
    "ClassNLLCriterion",
    "CrossEntropyCriterion",
    "SpatialClassNLLCriterion",
    "BCECriterion",
    "ClassSimplexCriterion",
    "MarginCriterion",
    "SoftMarginCriterion",
    "MultiMarginCriterion",
    "MultiLabelMarginCriterion",
    "MultiLabelSoftMarginCriterion",
]
