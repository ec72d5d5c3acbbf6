"""Table layers (Torch's table.md): modules whose input or output is a table (a Python list).

Dims and indices are 0-based. ``SplitTable`` and ``JoinTable`` take Torch's ``n_input_dims``:
``dim`` counts the dims of one sample, and is shifted by one when the input has
``n_input_dims + 1`` dims (a batch); a negative ``dim`` counts from the end and is never shifted.
"""

from __future__ import annotations

from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, IndexError, ShapeError, size_text

from .containers import clone_nested, zeros_like_nested
from .criterion import Criterion
from .module import Module


def _table(x: Any, who: str, n: int | None = None, at_least: int = 0) -> list[Any]:
    if not isinstance(x, (list, tuple)):
        raise ArgumentError(f"{who}: expected a table (a list) as input, got {type(x).__name__}")
    if n is not None and len(x) != n:
        raise ArgumentError(f"{who}: expected a table of {n} entries, got {len(x)}")
    if len(x) < at_least:
        raise ArgumentError(f"{who}: expected a table of at least {at_least} entries, got {len(x)}")
    return list(x)


def _tensors(x: list[Any], who: str) -> list[Tensor]:
    for i, t in enumerate(x):
        if not isinstance(t, Tensor):
            raise ArgumentError(f"{who}: entry {i} of the input table is a {type(t).__name__}, expected a tensor")
    return x


def _same_size(x: list[Tensor], who: str) -> None:
    first = x[0].size()
    for i, t in enumerate(x[1:], 1):
        if t.size() != first:
            raise ShapeError(
                f"{who}: the entries must have one size, got {size_text(tuple(first))} (entry 0)"
                f" and {size_text(tuple(t.size()))} (entry {i})"
            )


def _sample_dim(dim: int, n_input_dims: int | None, ndim: int, who: str) -> int:
    """Torch's dim rule: negative from the end; shifted by one for a batch of ``n_input_dims``-D samples."""
    if dim < 0:
        d = dim + ndim
    elif n_input_dims is not None and ndim == n_input_dims + 1:
        d = dim + 1
    else:
        d = dim
    if not 0 <= d < ndim:
        raise ShapeError(f"{who}: dimension {dim} is out of range for a {ndim}-D input")
    return d


# --------------------------------------------------------------------------------------------------
# Splitting, joining and picking.


class SplitTable(Module):
    """A tensor to the list of its slices along ``dim`` (views: ``input.select(dim, i)``).

    With ``n_input_dims``, ``dim`` is a dim of one sample and moves by one for a batch.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> [t.tolist() for t in nn.SplitTable(0).forward(ft.Tensor([[1.0, 2.0], [3.0, 4.0]]))]
    [[1.0, 2.0], [3.0, 4.0]]
    >>> len(nn.SplitTable(0, 1).forward(ft.ones(5, 3)))  # a batch of five 3-vectors: split along 1
    3
    """

    def __init__(self, dim: int, n_input_dims: int | None = None) -> None:
        super().__init__()
        self.dim = dim
        self.n_input_dims = n_input_dims
        self.output: Any = []

    def _dim(self, input: Any) -> int:
        if not isinstance(input, Tensor):
            raise ArgumentError(f"SplitTable: expected a tensor as input, got {type(input).__name__}")
        return _sample_dim(self.dim, self.n_input_dims, input.dim(), "SplitTable")

    def update_output(self, input: Any) -> Any:
        d = self._dim(input)
        self.output = [input.select(d, i) for i in range(input.size(d))]
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        d = self._dim(input)
        g = _table(grad_output, "SplitTable: grad_output")
        if len(g) == input.size(d):
            self.grad_input = ft.stack(g, d)
        else:  # fewer gradients than slices: the others are zero (as Torch)
            self.grad_input = ft.zeros_like(input)
            for i, gi in enumerate(g):
                self.grad_input.select(d, i).copy_(gi)
        return self.grad_input

    def extra_repr(self) -> str:
        return str(self.dim) if self.n_input_dims is None else f"{self.dim}, {self.n_input_dims}"


class JoinTable(Module):
    """A list of tensors concatenated along ``dim``.

    With ``n_input_dims``, ``dim`` is a dim of one sample and moves by one for a batch (entries of
    ``n_input_dims + 1`` dims).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.JoinTable(0).forward([ft.Tensor([1.0, 2.0]), ft.Tensor([3.0])]).tolist()
    [1.0, 2.0, 3.0]
    >>> nn.JoinTable(0, 1).forward([ft.ones(4, 2), ft.ones(4, 3)]).size()
    Size([4, 5])
    """

    def __init__(self, dim: int, n_input_dims: int | None = None) -> None:
        super().__init__()
        self.dim = dim
        self.n_input_dims = n_input_dims
        self.grad_input: Any = []

    def _dim(self, x: list[Tensor]) -> int:
        return _sample_dim(self.dim, self.n_input_dims, x[0].dim(), "JoinTable")

    def update_output(self, input: Any) -> Any:
        x = _tensors(_table(input, "JoinTable", at_least=1), "JoinTable")
        self.output = ft.cat(x, self._dim(x))
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        x = _tensors(_table(input, "JoinTable", at_least=1), "JoinTable")
        d = self._dim(x)
        grads = []
        offset = 0
        for t in x:
            if t.nelement() == 0:
                grads.append(ft.zeros_like(t))
                continue
            grads.append(grad_output.narrow(d, offset, t.size(d)).clone())
            offset += t.size(d)
        self.grad_input = grads
        return grads

    def extra_repr(self) -> str:
        return str(self.dim) if self.n_input_dims is None else f"{self.dim}, {self.n_input_dims}"


class SelectTable(Module):
    """The entry ``index`` of the input table (0-based; negative counts from the end; a key for a dict).

    The input gradient has the input's structure: ``grad_output`` (copied) at ``index``, zeros
    everywhere else.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> x = [ft.Tensor([1.0]), [ft.Tensor([2.0]), ft.Tensor([3.0])]]
    >>> [t.tolist() for t in nn.SelectTable(-1).forward(x)]
    [[2.0], [3.0]]
    >>> g = nn.SelectTable(0).backward(x, ft.Tensor([5.0]))
    >>> g[0].tolist(), [t.tolist() for t in g[1]]
    ([5.0], [[0.0], [0.0]])
    """

    def __init__(self, index: Any) -> None:
        super().__init__()
        self.index = index

    def _key(self, input: Any) -> Any:
        if isinstance(input, dict):
            if self.index not in input:
                raise IndexError(f"SelectTable: key {self.index!r} is not in the input table")
            return self.index
        x = _table(input, "SelectTable")
        if not -len(x) <= self.index < len(x):
            raise IndexError(f"SelectTable: index {self.index} is out of range for a table of {len(x)} entries")
        return self.index % len(x)

    def update_output(self, input: Any) -> Any:
        self.output = input[self._key(input)]
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        k = self._key(input)
        grad = zeros_like_nested(input if isinstance(input, dict) else list(input))
        grad[k] = clone_nested(grad_output)
        self.grad_input = grad
        return grad

    def extra_repr(self) -> str:
        return repr(self.index)


class NarrowTable(Module):
    """The entries ``offset .. offset + length - 1`` of the input table (0-based), as a list.

    A negative ``length`` counts from the end as Torch's: ``-1`` takes every entry from ``offset``
    on. The input gradient has the input's structure, zeros outside the range.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> x = [ft.Tensor([float(i)]) for i in range(4)]
    >>> [t.tolist() for t in nn.NarrowTable(1, 2).forward(x)]
    [[1.0], [2.0]]
    >>> [t.tolist() for t in nn.NarrowTable(2, -1).forward(x)]
    [[2.0], [3.0]]
    """

    def __init__(self, offset: int, length: int = 1) -> None:
        super().__init__()
        self.offset = offset
        self.length = length
        self.output: Any = []

    def _range(self, x: list[Any]) -> range:
        n = self.length if self.length >= 0 else len(x) - self.offset + 1 + self.length
        if self.offset < 0 or n < 0 or self.offset + n > len(x):
            raise IndexError(
                f"NarrowTable: entries {self.offset} .. {self.offset + n - 1} are out of range"
                f" for a table of {len(x)} entries"
            )
        return range(self.offset, self.offset + n)

    def update_output(self, input: Any) -> Any:
        x = _table(input, "NarrowTable")
        self.output = [x[i] for i in self._range(x)]
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        x = _table(input, "NarrowTable")
        r = self._range(x)
        g = _table(grad_output, "NarrowTable: grad_output", len(r))
        grad = zeros_like_nested(x)
        for i, gi in zip(r, g, strict=True):
            grad[i] = clone_nested(gi)
        self.grad_input = grad
        return grad

    def extra_repr(self) -> str:
        return f"{self.offset}, {self.length}"


def _flatten(x: Any, out: list[Any]) -> None:
    if isinstance(x, (list, tuple)):
        for v in x:
            _flatten(v, out)
    else:
        out.append(x)


def _unflatten(structure: Any, flat: list[Any], pos: list[int]) -> Any:
    if isinstance(structure, (list, tuple)):
        return [_unflatten(v, flat, pos) for v in structure]
    pos[0] += 1
    return flat[pos[0] - 1]


class FlattenTable(Module):
    """A nested table flattened to one list of its entries, depth first.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> a, b, c = ft.Tensor([1.0]), ft.Tensor([2.0]), ft.Tensor([3.0])
    >>> [t.tolist() for t in nn.FlattenTable().forward([a, [b, [c]]])]
    [[1.0], [2.0], [3.0]]
    """

    def __init__(self) -> None:
        super().__init__()
        self.output: Any = []
        self.grad_input: Any = []

    def update_output(self, input: Any) -> Any:
        out: list[Any] = []
        _flatten(_table(input, "FlattenTable"), out)
        self.output = out
        return out

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        n: list[Any] = []
        _flatten(input, n)
        g = _table(grad_output, "FlattenTable: grad_output", len(n))
        self.grad_input = _unflatten(list(input), g, [0])
        return self.grad_input


# --------------------------------------------------------------------------------------------------
# Pairs of vectors.


def _pair(input: Any, who: str) -> tuple[Tensor, Tensor]:
    x, y = _tensors(_table(input, who, 2), who)
    if x.size() != y.size() or x.dim() not in (1, 2):
        raise ShapeError(
            f"{who}: expected two vectors of one size or two N x D batches, got"
            f" {size_text(tuple(x.size()))} and {size_text(tuple(y.size()))}"
        )
    return x, y


def _per_row(g: Any, x: Tensor) -> Any:
    """The output gradient (size 1, or N for a batch) shaped to multiply rows of ``x``."""
    return g.reshape(-1, 1) if x.dim() == 2 else g.reshape(1)


class PairwiseDistance(Module):
    """``{x, y}`` to ``||x - y||_p``: size 1 for two vectors, ``N`` for two ``N x D`` batches.

    The gradient is exact: ``sign(d) |d|^(p-1) / ||d||_p^(p-1)`` with ``d = x - y`` (Torch added
    1e-6 to the norm, drew a random sign where ``d = 0`` for ``p = 1``, and left out the
    ``|d|^(p-2)`` factor for ``1 < p < 2``); it is zero where ``x = y``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.PairwiseDistance(2).forward([ft.Tensor([1.0, 1.0]), ft.Tensor([4.0, 5.0])]).tolist()
    [5.0]
    >>> nn.PairwiseDistance(1).forward([ft.ones(3, 2), ft.zeros(3, 2)]).tolist()
    [2.0, 2.0, 2.0]
    """

    def __init__(self, p: float = 2) -> None:
        super().__init__()
        if p <= 0:
            raise ArgumentError(f"PairwiseDistance: p must be positive, got {p}")
        self.norm = p

    def update_output(self, input: Any) -> Any:
        x, y = _pair(input, "PairwiseDistance")
        d = x - y
        self.output = d.norm(self.norm).reshape(1) if x.dim() == 1 else d.norm(self.norm, dim=1)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        x, y = _pair(input, "PairwiseDistance")
        d = x - y
        p = self.norm
        if p == 1:
            gx = d.sign()
        else:
            a = d.abs()
            mag = a.pow(p - 1) if p >= 1 else ft.where(a > 0, a, ft.ones_like(a)).pow(p - 1)
            norm = d.norm(p).reshape(1) if x.dim() == 1 else d.norm(p, dim=1)
            denom = _per_row(norm, x).pow(p - 1).clamp(min=1e-300)
            gx = d.sign() * mag / denom
        gx = gx * _per_row(grad_output, x)
        self.grad_input = [gx, -gx]
        return self.grad_input

    def extra_repr(self) -> str:
        return f"{self.norm:g}"


class DotProduct(Module):
    """``{x, y}`` to ``x . y``: size 1 for two vectors, ``N`` (one per row) for two ``N x D`` batches.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.DotProduct().forward([ft.Tensor([1.0, 2.0]), ft.Tensor([3.0, 4.0])]).tolist()
    [11.0]
    """

    def __init__(self) -> None:
        super().__init__()
        self.grad_input: Any = []

    def update_output(self, input: Any) -> Any:
        x, y = _pair(input, "DotProduct")
        self.output = (x * y).sum(-1).reshape(-1)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        x, y = _pair(input, "DotProduct")
        g = _per_row(grad_output, x)
        self.grad_input = [y * g, x * g]
        return self.grad_input


class CosineDistance(Module):
    """``{x, y}`` to their cosine similarity ``x . y / (|x| |y|)``: size 1 for vectors, ``N`` for batches.

    As Torch's, each squared norm gets 1e-12 (so a zero vector gives 0, not NaN); the gradient is
    the exact one of that expression.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> out = nn.CosineDistance().forward([ft.Tensor([[1.0, 0.0], [1.0, 1.0]]), ft.Tensor([[0.0, 2.0], [3.0, 3.0]])])
    >>> [round(v, 6) for v in out.tolist()]
    [0.0, 1.0]
    """

    EPS = 1e-12

    def __init__(self) -> None:
        super().__init__()
        self.grad_input: Any = []

    def _parts(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        x2, y2 = x.reshape(-1, x.size(-1)), y.reshape(-1, y.size(-1))
        w1 = (x2 * y2).sum(1, keepdim=True)
        w22 = 1.0 / ((x2 * x2).sum(1, keepdim=True) + self.EPS)
        w32 = 1.0 / ((y2 * y2).sum(1, keepdim=True) + self.EPS)
        return x2, y2, w1, w22, w32, (w22 * w32).sqrt()

    def update_output(self, input: Any) -> Any:
        x, y = _pair(input, "CosineDistance")
        _, _, w1, _, _, w = self._parts(x, y)
        self.output = (w1 * w).reshape(-1)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        x, y = _pair(input, "CosineDistance")
        x2, y2, w1, w22, w32, w = self._parts(x, y)
        g = grad_output.reshape(-1, 1) * w
        gx = (y2 - w1 * w22 * x2) * g
        gy = (x2 - w1 * w32 * y2) * g
        self.grad_input = [gx.reshape(*tuple(x.size())), gy.reshape(*tuple(y.size()))]
        return self.grad_input


# --------------------------------------------------------------------------------------------------
# Element-wise over the entries.


def _entries(input: Any, who: str, n: int | None = None) -> list[Tensor]:
    x = _tensors(_table(input, who, n, at_least=1), who)
    _same_size(x, who)
    return x


class CAddTable(Module):
    """The element-wise sum of the entries (all of one size).

    With ``inplace=True`` the sum is written into the first entry, which becomes the output, and
    every entry's gradient is ``grad_output`` itself (not a copy).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.CAddTable().forward([ft.Tensor([1.0, 2.0]), ft.Tensor([3.0, 4.0]), ft.Tensor([5.0, 6.0])]).tolist()
    [9.0, 12.0]
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace
        self.grad_input: Any = []

    def update_output(self, input: Any) -> Any:
        x = _entries(input, "CAddTable")
        out = x[0] if self.inplace else x[0].clone()
        for t in x[1:]:
            out.add_(t)
        self.output = out
        return out

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        x = _entries(input, "CAddTable")
        self.grad_input = [grad_output if self.inplace else grad_output.clone() for _ in x]
        return self.grad_input


class CSubTable(Module):
    """``input[0] - input[1]``, element-wise.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.CSubTable().forward([ft.Tensor([5.0, 6.0]), ft.Tensor([1.0, 4.0])]).tolist()
    [4.0, 2.0]
    """

    def __init__(self) -> None:
        super().__init__()
        self.grad_input: Any = []

    def update_output(self, input: Any) -> Any:
        x = _entries(input, "CSubTable", 2)
        self.output = x[0] - x[1]
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        _entries(input, "CSubTable", 2)
        self.grad_input = [grad_output.clone(), -grad_output]
        return self.grad_input


class CMulTable(Module):
    """The element-wise product of the entries (all of one size).

    Each entry's gradient is ``grad_output`` times the product of the other entries (no division,
    so zeros in the input are fine).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.CMulTable().forward([ft.Tensor([1.0, 2.0]), ft.Tensor([3.0, 4.0]), ft.Tensor([0.5, 0.0])]).tolist()
    [1.5, 0.0]
    """

    def __init__(self) -> None:
        super().__init__()
        self.grad_input: Any = []

    def update_output(self, input: Any) -> Any:
        x = _entries(input, "CMulTable")
        out = x[0].clone()
        for t in x[1:]:
            out.mul_(t)
        self.output = out
        return out

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        x = _entries(input, "CMulTable")
        n = len(x)
        # before[i] = g * x[0] * .. * x[i-1]; the product of the entries after i is built from the end
        before = [grad_output]
        for t in x[:-1]:
            before.append(before[-1] * t)
        grads: list[Any] = [None] * n
        after: Tensor | None = None
        for i in range(n - 1, -1, -1):
            grads[i] = before[i].clone() if after is None else before[i] * after
            after = x[i].clone() if after is None else after * x[i]
        self.grad_input = grads
        return grads


class CDivTable(Module):
    """``input[0] / input[1]``, element-wise.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.CDivTable().forward([ft.Tensor([6.0, 1.0]), ft.Tensor([3.0, 4.0])]).tolist()
    [2.0, 0.25]
    """

    def __init__(self) -> None:
        super().__init__()
        self.grad_input: Any = []

    def update_output(self, input: Any) -> Any:
        x = _entries(input, "CDivTable", 2)
        self.output = x[0] / x[1]
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        a, b = _entries(input, "CDivTable", 2)
        ga = grad_output / b
        self.grad_input = [ga, -ga * a / b]
        return self.grad_input


class CMaxTable(Module):
    """The element-wise maximum over the entries; the gradient goes to the entry that gave it.

    Ties go to the first such entry, as Torch's. ``max_idx`` keeps, for each element, the entry
    chosen by the last forward.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.CMaxTable()
    >>> m.forward([ft.Tensor([1.0, 5.0, 2.0]), ft.Tensor([3.0, 4.0, 2.0])]).tolist(), m.max_idx.tolist()
    ([3.0, 5.0, 2.0], [1, 0, 0])
    """

    _pick = "max"

    def __init__(self) -> None:
        super().__init__()
        self.grad_input: Any = []
        self.max_idx = ft.LongTensor()

    def _idx_field(self) -> str:
        return f"{self._pick}_idx"

    def update_output(self, input: Any) -> Any:
        x = _entries(input, type(self).__name__)
        stacked = ft.stack(x)
        values, idx = stacked.max(0) if self._pick == "max" else stacked.min(0)
        setattr(self, self._idx_field(), idx)
        self.output = values
        return values

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        x = _entries(input, type(self).__name__)
        idx = getattr(self, self._idx_field())
        zero = ft.zeros_like(grad_output)
        self.grad_input = [ft.where(idx == i, grad_output, zero) for i in range(len(x))]
        return self.grad_input


class CMinTable(CMaxTable):
    """The element-wise minimum over the entries; the gradient goes to the entry that gave it.

    Ties go to the first such entry; ``min_idx`` keeps the entry chosen for each element.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.CMinTable().forward([ft.Tensor([1.0, 5.0]), ft.Tensor([3.0, 4.0])]).tolist()
    [1.0, 4.0]
    """

    _pick = "min"

    def __init__(self) -> None:
        Module.__init__(self)
        self.grad_input: Any = []
        self.min_idx = ft.LongTensor()


# --------------------------------------------------------------------------------------------------


class MixtureTable(Module):
    """A mixture of experts: ``{gater, experts}`` to ``sum_i gater[i] * expert_i``.

    ``gater`` is ``E`` (one sample) or ``N x E`` (a batch): the weight of each of the ``E``
    experts. ``experts`` is a list of ``E`` tensors of one size (each ``...`` or ``N x ...``), or
    one tensor holding the experts along ``dim`` (0-based; by default 1 for a batch and 0 for one
    sample, i.e. right after the batch dim). The output has an expert's size.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> gater = ft.Tensor([0.25, 0.75])
    >>> nn.MixtureTable().forward([gater, [ft.Tensor([4.0, 8.0]), ft.Tensor([0.0, 4.0])]]).tolist()
    [1.0, 5.0]
    >>> nn.MixtureTable().forward([ft.ones(3, 2), ft.ones(3, 2, 5)]).size()
    Size([3, 5])
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim
        self.grad_input: Any = []

    def _setup(self, input: Any) -> tuple[Tensor, Tensor, int, bool, Tensor]:
        """``(gater, experts as one tensor, dim of the experts, whether they came as a table, gater view)``."""
        gater, experts = _table(input, "MixtureTable", 2)
        if not isinstance(gater, Tensor) or gater.dim() not in (1, 2):
            got = size_text(tuple(gater.size())) if isinstance(gater, Tensor) else type(gater).__name__
            raise ShapeError(f"MixtureTable: expected a gater of size E or N x E, got {got}")
        batch = gater.dim() == 2
        n_exp = gater.size(-1)
        is_table = isinstance(experts, (list, tuple))
        if is_table:
            ex = _entries(experts, "MixtureTable: experts")
            if len(ex) != n_exp:
                raise ShapeError(f"MixtureTable: the gater weighs {n_exp} experts, but {len(ex)} came")
            d = 1 if batch else 0
            stacked = ft.stack(ex, d)
        else:
            if not isinstance(experts, Tensor):
                raise ArgumentError(f"MixtureTable: experts must be a table or a tensor, got {type(experts).__name__}")
            stacked = experts
            d = self.dim if self.dim is not None else (1 if batch else 0)
            d = d + stacked.dim() if d < 0 else d
            if not (1 if batch else 0) <= d < stacked.dim() or stacked.size(d) != n_exp:
                raise ShapeError(
                    f"MixtureTable: expected experts with {n_exp} entries along dimension {d}"
                    f"{' (after the batch dimension)' if batch else ''}, got {size_text(tuple(stacked.size()))}"
                )
        if batch and stacked.size(0) != gater.size(0):
            raise ShapeError(
                f"MixtureTable: the gater has {gater.size(0)} samples, the experts {size_text(tuple(stacked.size()))}"
            )
        shape = [1] * stacked.dim()
        shape[d] = n_exp
        if batch:
            shape[0] = gater.size(0)
        return gater, stacked, d, is_table, gater.reshape(*shape)

    def update_output(self, input: Any) -> Any:
        _, experts, d, _, gate = self._setup(input)
        self.output = (gate * experts).sum(d)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        gater, experts, d, is_table, gate = self._setup(input)
        g = grad_output.unsqueeze(d)
        g_experts = gate * g
        if g_experts.size() != experts.size():
            g_experts = g_experts.expand_as(experts).clone()
        prod = g * experts
        keep = {0, d} if gater.dim() == 2 else {d}
        others = tuple(k for k in range(experts.dim()) if k not in keep)
        g_gater = (prod.sum(others) if others else prod).reshape(*tuple(gater.size()))
        if is_table:
            self.grad_input = [g_gater, [g_experts.select(d, i) for i in range(experts.size(d))]]
        else:
            self.grad_input = [g_gater, g_experts]
        return self.grad_input

    def extra_repr(self) -> str:
        return "" if self.dim is None else str(self.dim)


class CriterionTable(Module):
    """A criterion as a module: ``forward([input, target])`` is ``criterion.forward(input, target)``.

    The output is the loss (a float). The input gradient is ``[dL/dinput, zeros like the target]``
    (Torch's had only the first entry), times ``grad_output`` when one is given (Torch ignored it).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.CriterionTable(nn.MSECriterion())
    >>> m.forward([ft.Tensor([1.0, 2.0]), ft.Tensor([1.0, 4.0])])
    2.0
    >>> m.backward([ft.Tensor([1.0, 2.0]), ft.Tensor([1.0, 4.0])], 1.0)[0].tolist()
    [0.0, -2.0]
    """

    def __init__(self, criterion: Criterion) -> None:
        super().__init__()
        if not isinstance(criterion, Criterion):
            raise ArgumentError(f"CriterionTable: expected an nn criterion, got {type(criterion).__name__}")
        self.criterion = criterion
        self.output: Any = 0.0
        self.grad_input: Any = []

    def update_output(self, input: Any) -> Any:
        x, t = _table(input, "CriterionTable", 2)
        self.output = self.criterion.update_output(x, t)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any = None) -> Any:
        x, t = _table(input, "CriterionTable", 2)
        g = self.criterion.update_grad_input(x, t)
        if grad_output is not None:
            s = float(grad_output) if not isinstance(grad_output, Tensor) else float(grad_output.reshape(-1)[0])
            g = g * s
        else:
            g = g.clone()
        self.grad_input = [g, zeros_like_nested(t)]
        return self.grad_input

    def backward(self, input: Any, grad_output: Any = None, scale: float = 1.0) -> Any:
        return self.update_grad_input(input, grad_output)

    def __repr__(self) -> str:
        return f"nn.CriterionTable({self.criterion!r})"


__all__ = [
    "CAddTable",
    "CDivTable",
    "CMaxTable",
    "CMinTable",
    "CMulTable",
    "CSubTable",
    "CosineDistance",
    "CriterionTable",
    "DotProduct",
    "FlattenTable",
    "JoinTable",
    "MixtureTable",
    "NarrowTable",
    "PairwiseDistance",
    "SelectTable",
    "SplitTable",
]
