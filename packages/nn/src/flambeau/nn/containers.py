"""The branching containers (Torch's containers.md and table.md): Parallel, Concat, DepthConcat,
ConcatTable, ParallelTable, MapTable, and Bottle.

Each container hands its children their part of the input and of the output gradient (see
``_Branching``), so ``update_grad_input``, ``acc_grad_parameters``, ``backward`` and
``acc_update_grad_parameters`` all run the children through :meth:`Container.run`, and an error
inside a child names the child's place. Tables (Torch's Lua tables) are Python lists; gradients
with respect to a table are lists of the same (possibly nested) structure.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, ShapeError, size_text

from .container import Container
from .module import Module

# --------------------------------------------------------------------------------------------------
# Nested tables of tensors (Torch's nn.utils.recursiveCopy / recursiveAdd / recursiveResizeAs).


def _is_table(x: Any) -> bool:
    return isinstance(x, (list, tuple))


def clone_nested(x: Any) -> Any:
    """A copy of a tensor or a (nested) list of tensors; other values are returned as they are."""
    if isinstance(x, Tensor):
        return x.clone()
    if _is_table(x):
        return [clone_nested(v) for v in x]
    return x


def zeros_like_nested(x: Any) -> Any:
    """Zeros with the structure of ``x``: a tensor, or a (nested) list of tensors."""
    if isinstance(x, Tensor):
        return ft.zeros_like(x)
    if _is_table(x):
        return [zeros_like_nested(v) for v in x]
    if isinstance(x, dict):
        return {k: zeros_like_nested(v) for k, v in x.items()}
    return 0.0 * x if isinstance(x, (int, float)) else None


def accumulate(acc: Any, g: Any) -> Any:
    """``acc + g`` for tensors or (nested) lists of tensors, in place into ``acc`` where it can.

    ``acc`` is None the first time (``g`` is copied, so ``acc`` never aliases a child's buffer);
    entries missing from either side count as zeros.
    """
    if g is None:
        return acc
    if acc is None:
        return clone_nested(g)
    if isinstance(acc, Tensor) and isinstance(g, Tensor):
        if not acc.is_same_size_as(g):
            raise ShapeError(
                f"gradients to add differ in size: {size_text(tuple(acc.size()))} and {size_text(tuple(g.size()))}"
            )
        return acc.add_(g)
    if _is_table(acc) and _is_table(g):
        out = list(acc)
        for k, v in enumerate(g):
            if k < len(out):
                out[k] = accumulate(out[k], v)
            else:
                out.append(clone_nested(v))
        return out
    if isinstance(acc, (int, float)) and isinstance(g, (int, float)):
        return acc + g
    raise ArgumentError(f"gradients to add have different structures: {type(acc).__name__} and {type(g).__name__}")


def _table(x: Any, who: str, n: int | None = None) -> list[Any]:
    """``x`` as a list (a table), with ``n`` entries when given; a clear error otherwise."""
    if not _is_table(x):
        raise ArgumentError(f"{who}: expected a table (a list) as input, got {type(x).__name__}")
    if n is not None and len(x) != n:
        raise ArgumentError(f"{who}: expected a table of {n} entries, got {len(x)}")
    return list(x)


def _tensor(x: Any, who: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise ArgumentError(f"{who}: expected a tensor as input, got {type(x).__name__}")
    return x


def _dim_in_range(dim: int, ndim: int, who: str, what: str = "input") -> int:
    d = dim + ndim if dim < 0 else dim
    if not 0 <= d < ndim:
        raise ShapeError(f"{who}: dimension {dim} is out of range for a {ndim}-D {what}")
    return d


# --------------------------------------------------------------------------------------------------


class _Branching(Container):
    """A container whose children each see a part of the input and of the output gradient.

    Subclasses define ``update_output``, ``_pieces(input, grad_output)`` (each child's
    ``(input, grad_output)``, for the children used by the last forward) and ``_combine(input,
    grad_inputs)`` (the container's ``grad_input`` from its children's); the backward methods
    below are shared.
    """

    # Each subclass defines both (see the class docstring).
    _pieces: Callable[[Any, Any], list[tuple[Any, Any]]]
    _combine: Callable[[Any, list[Any]], Any]

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        grads = [
            self.run(i, self.modules[i].update_grad_input, x, g)
            for i, (x, g) in enumerate(self._pieces(input, grad_output))
        ]
        self.grad_input = self._combine(input, grads)
        return self.grad_input

    def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
        for i, (x, g) in enumerate(self._pieces(input, grad_output)):
            self.run(i, self.modules[i].acc_grad_parameters, x, g, scale)

    def backward(self, input: Any, grad_output: Any, scale: float = 1.0) -> Any:
        grads = [
            self.run(i, self.modules[i].backward, x, g, scale)
            for i, (x, g) in enumerate(self._pieces(input, grad_output))
        ]
        self.grad_input = self._combine(input, grads)
        return self.grad_input

    def acc_update_grad_parameters(self, input: Any, grad_output: Any, lr: float) -> None:
        for i, (x, g) in enumerate(self._pieces(input, grad_output)):
            self.run(i, self.modules[i].acc_update_grad_parameters, x, g, lr)

    def __repr__(self) -> str:
        text = super().__repr__()
        extra = self.extra_repr()
        if not extra:
            return text
        head, sep, rest = text.partition(" {")
        return f"{head}({extra}){sep}{rest}"


def _narrow_offsets(outputs: list[Tensor], dim: int) -> list[tuple[int, int]]:
    """``(offset, size)`` of each output along ``dim`` in their concatenation."""
    spans = []
    offset = 0
    for out in outputs:
        n = out.size(dim) if out.nelement() else 0
        spans.append((offset, n))
        offset += n
    return spans


class Parallel(_Branching):
    """Child ``i`` gets ``input.select(input_dim, i)``; the outputs are concatenated along ``output_dim``.

    Torch's ``nn.Parallel(inputDimension, outputDimension)`` with 0-based dims: ``output_dim``
    is a dim of the children's outputs (and of the result). As in Torch, ``input.size(input_dim)``
    children are used (there may be more children than slices, not fewer).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.Parallel(1, 0).add(nn.Linear(10, 3)).add(nn.Linear(10, 2))
    >>> m.forward(ft.randn(10, 2)).size()
    Size([5])
    """

    def __init__(self, input_dim: int, output_dim: int) -> None:
        super().__init__()
        self.input_dim = input_dim
        self.output_dim = output_dim

    def _slices(self, input: Any) -> int:
        x = _tensor(input, "Parallel")
        d = _dim_in_range(self.input_dim, x.dim(), "Parallel: input_dim")
        n = x.size(d)
        if n > len(self.modules):
            raise ShapeError(
                f"Parallel: the input has {n} slices along dimension {self.input_dim}"
                f" (size {size_text(tuple(x.size()))}) but there are only {len(self.modules)} modules"
            )
        return n

    def update_output(self, input: Any) -> Any:
        n = self._slices(input)
        outs = [self.run(i, self.modules[i].update_output, input.select(self.input_dim, i)) for i in range(n)]
        self.output = ft.cat(outs, self.output_dim)
        return self.output

    def _pieces(self, input: Any, grad_output: Any) -> list[tuple[Any, Any]]:
        n = self._slices(input)
        spans = _narrow_offsets([m.output for m in self.modules[:n]], self.output_dim)
        return [
            (input.select(self.input_dim, i), grad_output.narrow(self.output_dim, off, size))
            for i, (off, size) in enumerate(spans)
        ]

    def _combine(self, input: Any, grad_inputs: list[Any]) -> Any:
        return ft.stack(grad_inputs, _dim_in_range(self.input_dim, input.dim(), "Parallel: input_dim"))

    def extra_repr(self) -> str:
        return f"{self.input_dim}, {self.output_dim}"


class Concat(_Branching):
    """Every child gets the same input; the outputs are concatenated along ``dim`` (0-based).

    ``dim`` counts the output's dims as they are (no shift for batches: use ``Concat(1)`` to join
    the features of ``N x D`` outputs). The input gradient is the sum of the children's.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.Concat(1).add(nn.Linear(5, 3)).add(nn.Linear(5, 7))
    >>> m.forward(ft.randn(4, 5)).size()
    Size([4, 10])
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def _outputs(self, input: Any) -> list[Tensor]:
        return [self.run(i, m.update_output, input) for i, m in enumerate(self.modules)]

    def update_output(self, input: Any) -> Any:
        self.output = ft.cat(self._outputs(input), self.dim)
        return self.output

    def _windows(self, t: Tensor) -> list[Tensor]:
        return [t.narrow(self.dim, off, n) for off, n in _narrow_offsets([m.output for m in self.modules], self.dim)]

    def _pieces(self, input: Any, grad_output: Any) -> list[tuple[Any, Any]]:
        return [(input, g) for g in self._windows(grad_output)]

    def _combine(self, input: Any, grad_inputs: list[Any]) -> Any:
        acc = None
        for g in grad_inputs:
            acc = accumulate(acc, g)
        return acc

    def extra_repr(self) -> str:
        return str(self.dim)


class DepthConcat(Concat):
    """Concat, where outputs smaller in the other dims are zero-padded and centred (Inception).

    The output has, in every dim but ``dim``, the largest size of the children's outputs; an output
    ``k`` smaller in a dim starts at ``k // 2`` there (Torch's ``floor((max - size) / 2)``).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> a, b = nn.Linear(2, 3), nn.Linear(2, 1)
    >>> for m in (a, b):
    ...     _ = m.weight.fill_(1.0); _ = m.bias.zero_()
    >>> nn.DepthConcat(0).add(a).add(b).forward(ft.ones(1, 2)).tolist()
    [[2.0, 2.0, 2.0], [0.0, 2.0, 0.0]]
    """

    def _size(self, outputs: list[Tensor]) -> list[int]:
        dims = {o.dim() for o in outputs}
        if len(dims) != 1:
            raise ShapeError(
                "DepthConcat: the outputs must have the same number of dimensions, got sizes "
                + ", ".join(size_text(tuple(o.size())) for o in outputs)
            )
        nd = dims.pop()
        d = _dim_in_range(self.dim, nd, "DepthConcat", "output")
        size = [max(o.size(k) for o in outputs) for k in range(nd)]
        size[d] = sum(o.size(d) for o in outputs)
        return size

    def _window(self, t: Tensor, out: Tensor, offset: int) -> Tensor:
        d = _dim_in_range(self.dim, t.dim(), "DepthConcat", "output")
        w = t.narrow(d, offset, out.size(d))
        for k in range(t.dim()):
            if k != d and t.size(k) != out.size(k):
                w = w.narrow(k, (t.size(k) - out.size(k)) // 2, out.size(k))
        return w

    def _place(self, outputs: list[Tensor]) -> Tensor:
        if not outputs:
            return ft.Tensor()
        result = ft.zeros(*self._size(outputs), dtype=outputs[0].dtype, device=outputs[0].device)
        offset = 0
        d = _dim_in_range(self.dim, result.dim(), "DepthConcat", "output")
        for o in outputs:
            self._window(result, o, offset).copy_(o)
            offset += o.size(d)
        return result

    def update_output(self, input: Any) -> Any:
        self.output = self._place(self._outputs(input))
        return self.output

    def _windows(self, t: Tensor) -> list[Tensor]:
        d = _dim_in_range(self.dim, t.dim(), "DepthConcat", "output")
        wins = []
        offset = 0
        for m in self.modules:
            wins.append(self._window(t, m.output, offset))
            offset += m.output.size(d)
        return wins


class ConcatTable(_Branching):
    """Every child gets the same input; the output is the list of their outputs.

    The input gradient is the sum of the children's (tensors, or nested lists of tensors added
    entry by entry when the input is a table).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.ConcatTable().add(nn.Linear(5, 2)).add(nn.Linear(5, 3))
    >>> [o.size() for o in m.forward(ft.randn(5))]
    [Size([2]), Size([3])]
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__(*modules)
        self.output: Any = []

    def update_output(self, input: Any) -> Any:
        self.output = [self.run(i, m.update_output, input) for i, m in enumerate(self.modules)]
        return self.output

    def _pieces(self, input: Any, grad_output: Any) -> list[tuple[Any, Any]]:
        g = _table(grad_output, "ConcatTable: grad_output", len(self.modules))
        return [(input, x) for x in g]

    def _combine(self, input: Any, grad_inputs: list[Any]) -> Any:
        acc = None
        for g in grad_inputs:
            acc = accumulate(acc, g)
        return acc


class ParallelTable(_Branching):
    """Child ``i`` gets ``input[i]``; the output is the list of their outputs.

    The input must have one entry per child (Torch ignored extra entries; here they are an error).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.ParallelTable().add(nn.Linear(3, 2)).add(nn.Tanh())
    >>> [o.size() for o in m.forward([ft.randn(3), ft.randn(4)])]
    [Size([2]), Size([4])]
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__(*modules)
        self.output: Any = []
        self.grad_input: Any = []

    def update_output(self, input: Any) -> Any:
        x = _table(input, "ParallelTable", len(self.modules))
        self.output = [self.run(i, m.update_output, x[i]) for i, m in enumerate(self.modules)]
        return self.output

    def _pieces(self, input: Any, grad_output: Any) -> list[tuple[Any, Any]]:
        x = _table(input, "ParallelTable", len(self.modules))
        g = _table(grad_output, "ParallelTable: grad_output", len(self.modules))
        return list(zip(x, g, strict=True))

    def _combine(self, input: Any, grad_inputs: list[Any]) -> Any:
        return list(grad_inputs)


SHARED = ("weight", "bias", "grad_weight", "grad_bias")


class MapTable(_Branching):
    """Clones of one module applied to each entry of the input table; the output is a list.

    With ``share=True`` (the default) the clones share ``weight``, ``bias`` and their gradients
    with ``module`` (``module.clone('weight', 'bias', 'grad_weight', 'grad_bias')``), so the
    gradients of every entry add up in one place, and :meth:`parameters` gives ``module``'s
    parameters once (Torch listed each clone's; here ``update_parameters`` and optimisers see each
    shared parameter once). Clones are made as longer tables come, and are re-pointed at
    ``module``'s tensors on every forward, so they follow ``get_parameters`` and ``type``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.MapTable(nn.Linear(3, 2))
    >>> [o.size() for o in m.forward([ft.randn(3), ft.randn(5, 3), ft.randn(3)])]
    [Size([2]), Size([5, 2]), Size([2])]
    >>> m.get(2).weight.data_ptr() == m.get(0).weight.data_ptr(), len(m.parameters()[0])
    (True, 2)
    """

    def __init__(self, module: Module | None = None, share: bool = True) -> None:
        super().__init__()
        self.shared = share
        self.output: Any = []
        self.grad_input: Any = []
        if module is not None:
            self.add(module)

    @property
    def module(self) -> Module | None:
        """The module mapped over the table (the first child; the others are its clones)."""
        return self.modules[0] if self.modules else None

    def add(self, module: Module) -> MapTable:
        if self.modules:
            raise ArgumentError("MapTable.add: MapTable holds a single module, and it already has one")
        super().add(module)
        return self

    def _extend(self, n: int) -> None:
        if not self.modules:
            raise ArgumentError("MapTable: no module to apply (pass one, or call add)")
        first = self.modules[0]
        for _ in range(len(self.modules), n):
            self.modules.append(first.clone(*SHARED) if self.shared else first.clone())
        if self.shared:
            for m in self.modules[1:n]:
                m.share(first, *SHARED)

    def update_output(self, input: Any) -> Any:
        x = _table(input, "MapTable")
        self._extend(len(x))
        self.output = [self.run(i, self.modules[i].update_output, v) for i, v in enumerate(x)]
        return self.output

    def _pieces(self, input: Any, grad_output: Any) -> list[tuple[Any, Any]]:
        x = _table(input, "MapTable")
        g = _table(grad_output, "MapTable: grad_output", len(x))
        return list(zip(x, g, strict=True))

    def _combine(self, input: Any, grad_inputs: list[Any]) -> Any:
        return list(grad_inputs)

    def parameters(self) -> tuple[list[Tensor], list[Tensor]]:
        if self.shared and self.modules:
            return self.modules[0].parameters()
        return super().parameters()

    def __repr__(self) -> str:
        if not self.modules:
            return "nn.MapTable"
        child = repr(self.modules[0]).replace("\n", "\n  ")
        return f"nn.MapTable {{\n  {child}\n}}"


class Bottle(_Branching):
    """Runs ``module`` on inputs with more dims than it takes by folding the leading dims into one.

    ``module`` takes ``n_input_dim``-D inputs (its first dim a batch) and gives
    ``n_output_dim``-D outputs (``n_input_dim`` by default). An input with more dims has its
    leading ``input.dim() - n_input_dim + 1`` dims merged into the module's batch dim, and the
    output gets them back: ``nn.Bottle(nn.Linear(4, 2))`` maps ``A x B x 4`` to ``A x B x 2``.
    Inputs with ``n_input_dim`` dims or fewer go to ``module`` unchanged.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Bottle(nn.Linear(4, 2)).forward(ft.randn(5, 3, 4)).size()
    Size([5, 3, 2])
    """

    def __init__(self, module: Module, n_input_dim: int = 2, n_output_dim: int | None = None) -> None:
        super().__init__(module)
        self.n_input_dim = n_input_dim
        self.n_output_dim = n_input_dim if n_output_dim is None else n_output_dim

    def _folded(self, input: Any) -> tuple[Any, int]:
        """The input the module sees, and the product of the leading dims folded into its batch."""
        x = _tensor(input, "Bottle")
        lead = x.dim() - self.n_input_dim
        if lead <= 0:
            return x, 0
        shape = tuple(x.size())
        return x.reshape(math.prod(shape[: lead + 1]), *shape[lead + 1 :]), math.prod(shape[:lead])

    def update_output(self, input: Any) -> Any:
        x, outer = self._folded(input)
        out = self.run(0, self.modules[0].update_output, x)
        if not outer:
            self.output = out
            return out
        if out.dim() != self.n_output_dim:
            raise ShapeError(
                f"Bottle: expected the module to give a {self.n_output_dim}-D output, got {size_text(tuple(out.size()))}"
            )
        shape = tuple(input.size())[: input.dim() - self.n_input_dim]
        self.output = out.reshape(*shape, out.size(0) // outer, *tuple(out.size())[1:])
        return self.output

    def _pieces(self, input: Any, grad_output: Any) -> list[tuple[Any, Any]]:
        x, outer = self._folded(input)
        if not outer:
            return [(x, grad_output)]
        return [(x, grad_output.reshape(*tuple(self.modules[0].output.size())))]

    def _combine(self, input: Any, grad_inputs: list[Any]) -> Any:
        g = grad_inputs[0]
        return g if g.size() == input.size() else g.reshape(*tuple(input.size()))

    def extra_repr(self) -> str:
        return f"{self.n_input_dim} -> {self.n_output_dim}"


__all__ = ["Bottle", "Concat", "ConcatTable", "DepthConcat", "MapTable", "Parallel", "ParallelTable"]
