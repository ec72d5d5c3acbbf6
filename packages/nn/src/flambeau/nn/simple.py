"""Simple layers (Torch's simple.md): Linear and the shape, arithmetic and reduction layers."""

from __future__ import annotations

import math
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, IndexError, ShapeError, size_text

from .module import Module, dtype_of, fan_in_uniform


class Linear(Module):
    """``y = x W^T + b``: W is ``out x in``; input 1-D (``in``) or a batch (``N x in``).

    Initialisation as Torch's: U(-1/sqrt(in), 1/sqrt(in)) for W and b. ``bias=False`` (or
    :meth:`no_bias`) leaves the bias out.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.Linear(3, 2)
    >>> _ = m.weight.fill_(1.0); _ = m.bias.fill_(0.5)
    >>> m.forward(ft.Tensor([1.0, 2.0, 3.0])).tolist()
    [6.5, 6.5]
    """

    def __init__(self, input_size: int, output_size: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = ft.Tensor(output_size, input_size)
        self.grad_weight = ft.zeros(output_size, input_size)
        if bias:
            self.bias = ft.Tensor(output_size)
            self.grad_bias = ft.zeros(output_size)
        self.reset()

    def no_bias(self) -> Linear:
        """Drop the bias (and its gradient); returns self."""
        self.__dict__.pop("bias", None)
        self.__dict__.pop("grad_bias", None)
        return self

    def reset(self, stdv: float | None = None) -> Linear:
        fan_in_uniform(self.weight, self.__dict__.get("bias"), fan_in=self.weight.size(1), stdv=stdv)
        return self

    def _check(self, input: Any) -> None:
        n = self.weight.size(1)
        if input.dim() not in (1, 2) or input.size(-1) != n:
            raise ShapeError(
                f"size mismatch: expected an input of size {n} or a batch N x {n}, got {size_text(tuple(input.size()))}"
            )

    def update_output(self, input: Any) -> Any:
        self._check(input)
        bias = self.__dict__.get("bias")
        out = input @ self.weight.t()
        self.output = out if bias is None else out.add_(bias)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        if self.grad_input is None:  # Torch's idiom for a first layer: its input needs no gradient
            return None
        self.grad_input = grad_output @ self.weight
        return self.grad_input

    def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
        if input.dim() == 1:
            self.grad_weight.add_(ft.ger(grad_output, input), alpha=scale)
            if "bias" in self.__dict__:
                self.grad_bias.add_(grad_output, alpha=scale)
        else:
            # mm then add_ in place (addmm_ would make two temporaries). For large batches BLAS runs
            # x^T g (then viewed transposed) faster than g^T x; for small ones the strided add loses.
            dw = ft.mm(input.t(), grad_output).t() if input.size(0) >= 32 else ft.mm(grad_output.t(), input)
            self.grad_weight.add_(dw if scale == 1 else dw * scale)
            if "bias" in self.__dict__:
                self.grad_bias.add_(grad_output.sum(0), alpha=scale)

    def extra_repr(self) -> str:
        text = f"{self.weight.size(1)} -> {self.weight.size(0)}"
        return text if "bias" in self.__dict__ else text + ", without bias"


# --------------------------------------------------------------------------------------------------
# Helpers shared by the layers below.


def _sz(t: Any) -> str:
    return size_text(tuple(t.size()))


def _tensor(name: str, input: Any) -> Tensor:
    if not isinstance(input, Tensor):
        raise ArgumentError(f"{name}: expected a tensor input, got {type(input).__name__}")
    return input


def _pair(name: str, input: Any) -> tuple[Tensor, Tensor]:
    """The two tensors of a table input ``[a, b]``."""
    if not isinstance(input, (list, tuple)) or len(input) != 2 or not all(isinstance(t, Tensor) for t in input):
        got = f"a table of {len(input)} entries" if isinstance(input, (list, tuple)) else f"a {type(input).__name__}"
        raise ArgumentError(f"{name}: expected a table (list) of two tensors, got {got}")
    return input[0], input[1]


def _sizes(args: tuple[Any, ...]) -> tuple[int, ...]:
    """``f(3, 4)`` or ``f((3, 4))`` / ``f(ft.Size([3, 4]))``: the sizes as a tuple of ints."""
    if len(args) == 1 and not isinstance(args[0], int):
        args = tuple(args[0])
    return tuple(int(a) for a in args)


def _uniform(stdv: float | None, fan_in: int, *tensors: Tensor | None) -> None:
    fan_in_uniform(*tensors, fan_in=fan_in, stdv=stdv)


def _neg_dim(name: str, dim: int, ndim: int) -> int:
    d = dim + ndim if dim < 0 else dim
    if not 0 <= d < ndim:
        raise ShapeError(f"{name}: dimension {dim} is out of range for an input of {ndim} dims")
    return d


# --------------------------------------------------------------------------------------------------
# Linear relatives.


class SparseLinear(Module):
    """A Linear layer on sparse input: ``y = W x + b`` where ``x`` is given by its non-zeros.

    The input of one sample is an ``nnz x 2`` tensor of ``(index, value)`` rows, indices 0-based
    (Torch's are 1-based); a batch is a list of such tensors (of any nnz each) and gives an
    ``N x out`` output. W is ``out x in``. Initialisation as Torch's: W ~ U(-s, s) with
    ``s = 1/sqrt(out)`` (Torch uses the output size here), and the bias the same times 1e-6.

    ``grad_input`` has the input's shape: column 1 holds dL/dvalue, column 0 (the indices) zeros
    (Torch copied the indices there; they have no gradient).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.SparseLinear(5, 2)
    >>> _ = m.weight.copy_(ft.Tensor([[1.0, 2.0, 3.0, 4.0, 5.0], [0.0, 0.0, 0.0, 0.0, 1.0]]))
    >>> _ = m.bias.zero_()
    >>> m.forward(ft.Tensor([[1, 10.0], [4, 2.0]])).tolist()
    [30.0, 2.0]
    >>> m.forward([ft.Tensor([[0, 1.0]]), ft.Tensor([[4, 1.0], [2, 1.0]])]).tolist()
    [[1.0, 0.0], [8.0, 1.0]]
    """

    def __init__(self, input_size: int, output_size: int) -> None:
        super().__init__()
        self.weight = ft.Tensor(output_size, input_size)
        self.bias = ft.Tensor(output_size)
        self.grad_weight = ft.zeros(output_size, input_size)
        self.grad_bias = ft.zeros(output_size)
        self.reset()

    def reset(self, stdv: float | None = None) -> SparseLinear:
        s = stdv * math.sqrt(3) if stdv is not None else 1.0 / math.sqrt(self.weight.size(0))
        self.weight.uniform_(-s, s)
        self.bias.uniform_(-s, s).mul_(1e-6)
        return self

    def _entries(self, input: Any) -> tuple[list[Tensor], Tensor, Tensor, Tensor]:
        """The samples, and over all of them: their row in the batch, indices and values."""
        items = list(input) if isinstance(input, (list, tuple)) else [input]
        n_in = self.weight.size(1)
        for t in items:
            if not isinstance(t, Tensor) or t.dim() != 2 or t.size(1) != 2:
                got = _sz(t) if isinstance(t, Tensor) else type(t).__name__
                raise ShapeError(f"SparseLinear: expected nnz x 2 tensors of (index, value) rows, got {got}")
        ref = self.weight
        rows = ft.cat(
            [
                ft.full(t.size(0), fill_value=i, dtype=ft.LongTensor().dtype, device=ref.device)
                for i, t in enumerate(items)
            ]
            + [ft.zeros(0, dtype=ft.LongTensor().dtype, device=ref.device)]
        )
        idx = ft.cat([t.select(1, 0).round().long() for t in items] + [rows.narrow(0, 0, 0)])
        vals = ft.cat([t.select(1, 1) for t in items] + [ft.zeros(0, dtype=ref.dtype, device=ref.device)])
        if idx.nelement() and (int(idx.min()) < 0 or int(idx.max()) >= n_in):
            raise IndexError(
                f"SparseLinear: indices must lie in 0..{n_in - 1} (0-based), got {int(idx.min())}..{int(idx.max())}"
            )
        return items, rows, idx, vals

    def update_output(self, input: Any) -> Any:
        items, rows, idx, vals = self._entries(input)
        out = self.bias.unsqueeze(0).expand(len(items), self.bias.size(0)).contiguous().clone()
        if idx.nelement():
            contrib = self.weight.index_select(1, idx) * vals.unsqueeze(0)  # out x nnz
            out.index_add_(0, rows, contrib.t())
        self.output = out if isinstance(input, (list, tuple)) else out.select(0, 0)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        items, rows, idx, vals = self._entries(input)
        g = grad_output if isinstance(input, (list, tuple)) else grad_output.view(1, -1)
        gvals = (self.weight.index_select(1, idx) * g.index_select(0, rows).t()).sum(0)
        grads = ft.stack([ft.zeros_like(gvals), gvals], 1)
        out: list[Tensor] = []
        start = 0
        for t in items:
            out.append(grads.narrow(0, start, t.size(0)).contiguous())
            start += t.size(0)
        self.grad_input = out if isinstance(input, (list, tuple)) else out[0]
        return self.grad_input

    def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
        _, rows, idx, vals = self._entries(input)
        g = grad_output if isinstance(input, (list, tuple)) else grad_output.view(1, -1)
        if idx.nelement():
            src = (g.index_select(0, rows) * vals.unsqueeze(1)).t() * scale  # out x nnz
            self.grad_weight.index_add_(1, idx, src)
        self.grad_bias.add_(g.sum(0), alpha=scale)

    def extra_repr(self) -> str:
        return f"{self.weight.size(1)} -> {self.weight.size(0)}"


class Bilinear(Module):
    """``y_k = x1ᵀ A_k x2 + b_k`` on a table input ``[x1, x2]`` of batches ``N x in1`` and ``N x in2``.

    ``weight`` is ``out x in1 x in2``, ``bias`` ``out``; both U(-1/sqrt(in1), 1/sqrt(in1)) as Torch's.
    The output is ``N x out``; ``grad_input`` is a list ``[dL/dx1, dL/dx2]``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.Bilinear(2, 3, 1)
    >>> _ = m.weight.fill_(1.0); _ = m.bias.fill_(0.5)
    >>> m.forward([ft.Tensor([[1.0, 2.0]]), ft.Tensor([[1.0, 1.0, 1.0]])]).tolist()
    [[9.5]]
    """

    def __init__(self, input_size1: int, input_size2: int, output_size: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = ft.Tensor(output_size, input_size1, input_size2)
        self.grad_weight = ft.zeros(output_size, input_size1, input_size2)
        if bias:
            self.bias = ft.Tensor(output_size)
            self.grad_bias = ft.zeros(output_size)
        self.grad_input = []
        self.reset()

    def reset(self, stdv: float | None = None) -> Bilinear:
        _uniform(stdv, self.weight.size(1), self.weight, self.__dict__.get("bias"))
        return self

    def _inputs(self, input: Any) -> tuple[Tensor, Tensor]:
        x1, x2 = _pair("Bilinear", input)
        k, n1, n2 = self.weight.size()
        if x1.dim() != 2 or x2.dim() != 2 or x1.size(1) != n1 or x2.size(1) != n2 or x1.size(0) != x2.size(0):
            raise ShapeError(f"Bilinear: expected inputs of size N x {n1} and N x {n2}, got {_sz(x1)} and {_sz(x2)}")
        return x1, x2

    def _t(self, x1: Tensor) -> Tensor:
        """``t[n, k, j] = sum_i x1[n, i] A[k, i, j]``."""
        k, n1, n2 = self.weight.size()
        return (x1 @ self.weight.permute(1, 0, 2).reshape(n1, k * n2)).view(x1.size(0), k, n2)

    def update_output(self, input: Any) -> Any:
        x1, x2 = self._inputs(input)
        out = (self._t(x1) * x2.unsqueeze(1)).sum(2)
        bias = self.__dict__.get("bias")
        self.output = out if bias is None else out.add_(bias)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        x1, x2 = self._inputs(input)
        k, n1, n2 = self.weight.size()
        u = (x2 @ self.weight.permute(2, 0, 1).reshape(n2, k * n1)).view(x2.size(0), k, n1)
        g = grad_output.unsqueeze(1)  # N x 1 x out
        self.grad_input = [(g @ u).squeeze(1), (g @ self._t(x1)).squeeze(1)]
        return self.grad_input

    def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
        x1, x2 = self._inputs(input)
        outer = (x1.unsqueeze(2) * x2.unsqueeze(1)).view(x1.size(0), -1)
        self.grad_weight.add_((grad_output.t() @ outer).view(self.weight.size()), alpha=scale)
        if "bias" in self.__dict__:
            self.grad_bias.add_(grad_output.sum(0), alpha=scale)

    def extra_repr(self) -> str:
        k, n1, n2 = self.weight.size()
        text = f"({n1}x{n2}) -> {k}"
        return text if "bias" in self.__dict__ else text + ", without bias"


class PartialLinear(Module):
    """A Linear layer whose output is restricted to the rows set by :meth:`set_partition`.

    ``weight`` (``out x in``) and ``bias`` (``out``) hold every row; the output has one column per
    partition index (0-based; all rows by default, :meth:`reset_partition` restores that), and
    only those rows receive gradients. Input ``in`` or ``N x in``. Initialisation as Torch's (whose
    weight lives in a LookupTable): W ~ N(0, 1) (N(0, stdv) with ``reset(stdv)``), bias zero.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.PartialLinear(2, 3)
    >>> _ = m.weight.copy_(ft.Tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    >>> m.set_partition(ft.LongTensor([2, 0])).forward(ft.Tensor([[3.0, 4.0]])).tolist()
    [[7.0, 3.0]]
    """

    STATE = ("partition",)

    def __init__(self, input_size: int, output_size: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = ft.Tensor(output_size, input_size)
        self.grad_weight = ft.zeros(output_size, input_size)
        if bias:
            self.bias = ft.zeros(output_size)
            self.grad_bias = ft.zeros(output_size)
        self.reset_partition()
        self.reset()

    def reset(self, stdv: float | None = None) -> PartialLinear:
        self.weight.normal_(0.0, 1.0 if stdv is None else stdv)
        if "bias" in self.__dict__:
            self.bias.zero_()
        return self

    def set_partition(self, indices: Any) -> PartialLinear:
        """Restrict the output to the rows ``indices`` (a 1-D LongTensor, 0-based); returns self."""
        idx = ft.LongTensor(list(indices)) if not isinstance(indices, Tensor) else indices.long()
        n = self.weight.size(0)
        if idx.dim() != 1 or (idx.nelement() and (int(idx.min()) < 0 or int(idx.max()) >= n)):
            raise IndexError(f"PartialLinear.set_partition: expected 1-D indices in 0..{n - 1}, got {_sz(idx)}")
        self.partition = idx.to(self.weight.device)
        return self

    def reset_partition(self) -> PartialLinear:
        """Use every output row again; returns self."""
        self.partition = ft.arange(self.weight.size(0)).long().to(self.weight.device)
        return self

    def update_output(self, input: Any) -> Any:
        n = self.weight.size(1)
        if input.dim() not in (1, 2) or input.size(-1) != n:
            raise ShapeError(f"size mismatch: expected an input of size {n} or a batch N x {n}, got {_sz(input)}")
        out = input @ self.weight.index_select(0, self.partition).t()
        if "bias" in self.__dict__:
            out = out.add_(self.bias.index_select(0, self.partition))
        self.output = out
        return out

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = grad_output @ self.weight.index_select(0, self.partition)
        return self.grad_input

    def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
        g = grad_output if input.dim() == 2 else grad_output.view(1, -1)
        x = input if input.dim() == 2 else input.view(1, -1)
        self.grad_weight.index_add_(0, self.partition, (g.t() @ x) * scale)
        if "bias" in self.__dict__:
            self.grad_bias.index_add_(0, self.partition, g.sum(0) * scale)

    def extra_repr(self) -> str:
        text = f"{self.weight.size(1)} -> {self.weight.size(0)}"
        return text if "bias" in self.__dict__ else text + ", without bias"


# --------------------------------------------------------------------------------------------------
# Learnable element-wise layers.


class Add(Module):
    """``y = x + b``: a learnable bias of ``input_size`` (an int or sizes), or one scalar.

    An input with more elements than the bias is a batch: the bias is added to each sample
    (``x.view(N, -1)``). Initialisation U(-1/sqrt(n), 1/sqrt(n)), n the bias's first size, as Torch's.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.Add(2)
    >>> _ = m.bias.copy_(ft.Tensor([1.0, -1.0]))
    >>> m.forward(ft.Tensor([[0.0, 0.0], [5.0, 5.0]])).tolist()
    [[1.0, -1.0], [6.0, 4.0]]
    """

    def __init__(self, input_size: Any, scalar: bool = False) -> None:
        super().__init__()
        size = (1,) if scalar else _sizes((input_size,))
        self.scalar = scalar
        self.bias = ft.Tensor(*size)
        self.grad_bias = ft.zeros(*size)
        self.reset()

    def reset(self, stdv: float | None = None) -> Add:
        _uniform(stdv, self.bias.size(0), self.bias)
        return self

    def _batch(self, input: Tensor) -> int:
        nb = self.bias.nelement()
        if input.dim() == 0 or input.nelement() != input.size(0) * nb:
            raise ShapeError(f"Add: expected an input of {nb} elements or a batch of N x {nb}, got {_sz(input)}")
        return input.size(0)

    def update_output(self, input: Any) -> Any:
        if self.scalar:
            self.output = input + self.bias.view(())
        elif input.nelement() == self.bias.nelement():
            self.output = input + self.bias.view(input.size())
        else:
            n = self._batch(input)
            self.output = (input.contiguous().view(n, -1) + self.bias.view(1, -1)).view(input.size())
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = grad_output
        return grad_output

    def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
        if self.scalar:
            self.grad_bias.add_(grad_output.sum().view(1), alpha=scale)
        elif input.nelement() == self.bias.nelement():
            self.grad_bias.add_(grad_output.contiguous().view(self.bias.size()), alpha=scale)
        else:
            n = self._batch(input)
            self.grad_bias.add_(grad_output.contiguous().view(n, -1).sum(0).view(self.bias.size()), alpha=scale)

    def extra_repr(self) -> str:
        return "scalar" if self.scalar else size_text(tuple(self.bias.size()))


class Mul(Module):
    """``y = w x`` with one learnable scalar ``w`` (``weight``, size 1), U(-1, 1) as Torch's.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.Mul()
    >>> _ = m.weight.fill_(3.0)
    >>> m.forward(ft.Tensor([1.0, 2.0])).tolist()
    [3.0, 6.0]
    """

    def __init__(self) -> None:
        super().__init__()
        self.weight = ft.Tensor(1)
        self.grad_weight = ft.zeros(1)
        self.reset()

    def reset(self, stdv: float | None = None) -> Mul:
        _uniform(stdv, self.weight.size(0), self.weight)
        return self

    def update_output(self, input: Any) -> Any:
        self.output = input * self.weight.view(())
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = grad_output * self.weight.view(())
        return self.grad_input

    def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
        self.grad_weight.add_((input * grad_output).sum().view(1), alpha=scale)


class CMul(Module):
    """``y = x * w`` element-wise, with a learnable ``weight`` of the given size.

    The weight matches the input by element count; or, with the input's number of dims (or one
    less: a batch), size-1 dims of the weight broadcast (``CMul(1, C, 1, 1)`` scales feature maps);
    or the input is a batch ``N x (weight's elements)``. Initialisation U(-1/sqrt(n), 1/sqrt(n)),
    n the weight's element count, as Torch's.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.CMul(1, 2)
    >>> _ = m.weight.copy_(ft.Tensor([[2.0, 3.0]]))
    >>> m.forward(ft.Tensor([[1.0, 1.0], [2.0, 2.0]])).tolist()
    [[2.0, 3.0], [4.0, 6.0]]
    """

    def __init__(self, *size: Any) -> None:
        super().__init__()
        dims = _sizes(size)
        self.weight = ft.Tensor(*dims)
        self.grad_weight = ft.zeros(*dims)
        self.reset()

    def reset(self, stdv: float | None = None) -> CMul:
        _uniform(stdv, self.weight.nelement(), self.weight)
        return self

    def _align(self, input: Tensor) -> tuple[Tensor, Tensor]:
        """``(x, w)``: the input and the weight as views that broadcast together."""
        w = self.weight
        if w.nelement() == input.nelement():
            return input, w.view(input.size())
        for wv in (w, w.unsqueeze(0)):
            if wv.dim() == input.dim() and all(a in (b, 1) for a, b in zip(wv.size(), input.size(), strict=True)):
                return input, wv
        if input.dim() >= 1 and input.nelement() == input.size(0) * w.nelement():
            return input.contiguous().view(input.size(0), -1), w.view(1, -1)
        raise ShapeError(
            f"CMul: the weight of size {_sz(w)} does not fit an input of size {_sz(input)}"
            " (same element count, size-1 dims broadcast, or a batch N x the weight)"
        )

    def update_output(self, input: Any) -> Any:
        x, w = self._align(input)
        self.output = (x * w).view(input.size())
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        x, w = self._align(input)
        self.grad_input = (grad_output.contiguous().view(x.size()) * w).view(input.size())
        return self.grad_input

    def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
        x, w = self._align(input)
        p = grad_output.contiguous().view(x.size()) * x
        for d in range(p.dim()):
            if w.size(d) == 1 and p.size(d) != 1:
                p = p.sum(d, keepdim=True)
        self.grad_weight.add_(p.contiguous().view(self.weight.size()), alpha=scale)

    def extra_repr(self) -> str:
        return size_text(tuple(self.weight.size()))


# --------------------------------------------------------------------------------------------------
# Distances to learned templates.


def _rows(name: str, input: Any, n: int) -> Tensor:
    """A 1-D input ``n`` or a batch ``N x n`` as ``N x n``."""
    if not isinstance(input, Tensor) or input.dim() not in (1, 2) or input.size(-1) != n:
        got = _sz(input) if isinstance(input, Tensor) else type(input).__name__
        raise ShapeError(f"{name}: expected an input of size {n} or a batch N x {n}, got {got}")
    return input if input.dim() == 2 else input.view(1, n)


def _safe(y: Tensor) -> Tensor:
    """``y`` with zeros replaced by ones (to divide by a norm that may vanish)."""
    return y.masked_fill(y.eq(0), 1.0)


class Euclidean(Module):
    """``y_j = ||w_j - x||``: distances to ``out`` learned templates, the columns of ``weight``.

    Torch's trap kept: ``weight`` is ``in x out`` (not ``out x in`` as in Linear), U(-1/sqrt(in),
    1/sqrt(in)). Input ``in`` or ``N x in``. Where a distance is 0 its gradient is taken as 0
    (Torch added 1e-7 to every distance instead).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.Euclidean(2, 2)
    >>> _ = m.weight.copy_(ft.Tensor([[0.0, 3.0], [0.0, 4.0]]))
    >>> m.forward(ft.Tensor([0.0, 0.0])).tolist()
    [0.0, 5.0]
    """

    def __init__(self, input_size: int, output_size: int) -> None:
        super().__init__()
        self.weight = ft.Tensor(input_size, output_size)
        self.grad_weight = ft.zeros(input_size, output_size)
        self.reset()

    def reset(self, stdv: float | None = None) -> Euclidean:
        _uniform(stdv, self.weight.size(0), self.weight)
        return self

    def _diff(self, input: Any) -> Tensor:
        x = _rows(type(self).__name__, input, self.weight.size(0))
        return x.unsqueeze(2) - self.weight.unsqueeze(0)  # N x in x out: x - w_j

    def update_output(self, input: Any) -> Any:
        y = self._diff(input).norm(2, 1)
        self.output = y if input.dim() == 2 else y.view(-1)
        return self.output

    def _parts(self, input: Any, grad_output: Any) -> tuple[Tensor, Tensor]:
        """``(x - w, g / y)`` shaped ``N x in x out`` and ``N x 1 x out``."""
        diff = self._diff(input)
        y = diff.norm(2, 1)
        return diff, (grad_output.view(y.size()) / _safe(y)).unsqueeze(1)

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        diff, q = self._parts(input, grad_output)
        self.grad_input = (diff * q).sum(2).view(input.size())
        return self.grad_input

    def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
        diff, q = self._parts(input, grad_output)
        self.grad_weight.add_((diff * q).sum(0), alpha=-scale)

    def extra_repr(self) -> str:
        return f"{self.weight.size(0)} -> {self.weight.size(1)}"


class WeightedEuclidean(Module):
    """``y_j = ||c_j * (w_j - x)||``: Euclidean with a learned diagonal scale per template.

    ``weight`` (templates) and ``diag_cov`` (scales) are both ``in x out``; their gradients
    ``grad_weight``, ``grad_diag_cov``. Initialisation as Torch's: weight U(-1/sqrt(in), 1/sqrt(in)),
    diag_cov ones.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.WeightedEuclidean(2, 1)
    >>> _ = m.weight.zero_(); _ = m.diag_cov.copy_(ft.Tensor([[3.0], [1.0]]))
    >>> m.forward(ft.Tensor([[1.0, 4.0]])).tolist()
    [[5.0]]
    """

    STATE = ("diag_cov", "grad_diag_cov")

    def __init__(self, input_size: int, output_size: int) -> None:
        super().__init__()
        self.weight = ft.Tensor(input_size, output_size)
        self.grad_weight = ft.zeros(input_size, output_size)
        self.diag_cov = ft.ones(input_size, output_size)
        self.grad_diag_cov = ft.zeros(input_size, output_size)
        self.reset()

    def reset(self, stdv: float | None = None) -> WeightedEuclidean:
        _uniform(stdv, self.weight.size(0), self.weight)
        self.diag_cov.fill_(1.0)
        return self

    def _parameter_fields(self) -> list[tuple[str, str]]:
        return [("weight", "grad_weight"), ("diag_cov", "grad_diag_cov")]

    def parameters(self) -> tuple[list[Tensor], list[Tensor]]:
        return [self.weight, self.diag_cov], [self.grad_weight, self.grad_diag_cov]

    def _parts(self, input: Any, grad_output: Any = None) -> tuple[Tensor, Tensor, Tensor]:
        x = _rows("WeightedEuclidean", input, self.weight.size(0))
        diff = x.unsqueeze(2) - self.weight.unsqueeze(0)  # N x in x out: x - w_j
        d = diff * self.diag_cov.unsqueeze(0)
        if grad_output is None:
            return diff, d, d
        y = d.norm(2, 1)
        q = (grad_output.view(y.size()) / _safe(y)).unsqueeze(1)
        return diff, d, q

    def update_output(self, input: Any) -> Any:
        _, d, _ = self._parts(input)
        y = d.norm(2, 1)
        self.output = y if input.dim() == 2 else y.view(-1)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        _, d, q = self._parts(input, grad_output)
        self.grad_input = (d * self.diag_cov.unsqueeze(0) * q).sum(2).view(input.size())
        return self.grad_input

    def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
        diff, d, q = self._parts(input, grad_output)
        self.grad_weight.add_((d * self.diag_cov.unsqueeze(0) * q).sum(0), alpha=-scale)
        self.grad_diag_cov.add_((diff * d * q).sum(0), alpha=scale)

    def extra_repr(self) -> str:
        return f"{self.weight.size(0)} -> {self.weight.size(1)}"


class Cosine(Module):
    """``y_j = w_j . x / (||w_j|| ||x||)``: cosine similarity to ``out`` learned rows of ``weight``.

    ``weight`` is ``out x in``; as Torch's, 1e-12 is added to both norms and the initialisation is
    U(-1/sqrt(out), 1/sqrt(out)) (Torch divides by the *output* size here). Input ``in`` or ``N x in``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.Cosine(2, 2)
    >>> _ = m.weight.copy_(ft.Tensor([[1.0, 0.0], [-2.0, 0.0]]))
    >>> [round(v, 6) for v in m.forward(ft.Tensor([3.0, 0.0])).tolist()]
    [1.0, -1.0]
    """

    EPS = 1e-12

    def __init__(self, input_size: int, output_size: int) -> None:
        super().__init__()
        self.weight = ft.Tensor(output_size, input_size)
        self.grad_weight = ft.zeros(output_size, input_size)
        self.reset()

    def reset(self, stdv: float | None = None) -> Cosine:
        _uniform(stdv, self.weight.size(0), self.weight)
        return self

    def _parts(self, input: Any) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        x = _rows("Cosine", input, self.weight.size(1))
        wn_raw = self.weight.norm(2, 1)
        xn_raw = x.norm(2, 1, keepdim=True)
        wn, xn = wn_raw + self.EPS, xn_raw + self.EPS
        y = (x @ self.weight.t()) / wn.unsqueeze(0) / xn
        return x, y, wn_raw, wn, xn_raw, xn

    def update_output(self, input: Any) -> Any:
        _, y, *_ = self._parts(input)
        self.output = y if input.dim() == 2 else y.view(-1)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        x, y, _, wn, xn_raw, xn = self._parts(input)
        g = grad_output.view(y.size())
        gi = ((g / wn.unsqueeze(0)) @ self.weight) / xn
        gi = gi - (g * y).sum(1, keepdim=True) * x / (_safe(xn_raw) * xn)
        self.grad_input = gi.view(input.size())
        return self.grad_input

    def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
        x, y, wn_raw, wn, _, xn = self._parts(input)
        g = grad_output.view(y.size())
        gw = ((g / xn).t() @ x) / wn.unsqueeze(1)
        gw = gw - (g * y).sum(0).unsqueeze(1) * self.weight / (_safe(wn_raw) * wn).unsqueeze(1)
        self.grad_weight.add_(gw, alpha=scale)

    def extra_repr(self) -> str:
        return f"{self.weight.size(1)} -> {self.weight.size(0)}"


# --------------------------------------------------------------------------------------------------
# Shape and selection layers.


class Identity(Module):
    """``y = x`` (any input, tables too); the gradient passes unchanged.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Identity().forward(ft.Tensor([1.0, 2.0])).tolist()
    [1.0, 2.0]
    """

    def update_output(self, input: Any) -> Any:
        self.output = input
        return input

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = grad_output
        return grad_output


def _type_name(t: Any) -> str:
    """``'flambeau.FloatTensor'`` from a type name (``'torch.FloatTensor'``), a dtype or None (the default)."""
    if t is None:
        return str(ft.Tensor().type())
    return str(ft.zeros(0, dtype=dtype_of(t)).type())


class Copy(Module):
    """Converts the input to ``out_type`` and the gradient back to ``in_type`` (type names or dtypes).

    With equal types the tensors pass through uncopied unless ``force_copy``. ``type(...)`` makes
    both types the new one, unless ``dont_cast`` (then the module keeps its types), as Torch's.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.Copy("torch.DoubleTensor", "torch.FloatTensor")
    >>> m.forward(ft.Tensor([1.5])).type(), m.backward(ft.Tensor([1.5]), ft.FloatTensor([2.0])).type()
    ('flambeau.FloatTensor', 'flambeau.DoubleTensor')
    """

    def __init__(self, in_type: Any = None, out_type: Any = None, force_copy: bool = False, dont_cast: bool = False):
        super().__init__()
        self.in_type = _type_name(in_type)
        self.out_type = _type_name(out_type)
        self.force_copy = force_copy
        self.dont_cast = dont_cast

    @staticmethod
    def _convert(x: Tensor, name: str, force: bool) -> Tensor:
        out = x.type(name)
        return out.clone() if force and out is x else out

    def update_output(self, input: Any) -> Any:
        self.output = self._convert(_tensor("Copy", input), self.out_type, self.force_copy)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = self._convert(grad_output, self.in_type, self.force_copy)
        return self.grad_input

    def type(self, dtype: Any = None, device: Any = None) -> Any:
        if dtype is None and device is None:
            return super().type()
        if self.dont_cast:
            return self
        super().type(dtype, device)
        if dtype is not None:
            self.in_type = self.out_type = _type_name(dtype)
        return self

    def extra_repr(self) -> str:
        return f"{self.in_type} -> {self.out_type}"


class Narrow(Module):
    """``length`` entries from ``offset`` along ``dim`` (a copy), all 0-based.

    A negative ``dim`` or ``offset`` counts from the end (-1 is the last); a negative ``length``
    reaches that far from the end (``-1``: to the end), as Torch's.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> x = ft.Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> nn.Narrow(1, 1, 2).forward(x).tolist(), nn.Narrow(1, -1).forward(x).tolist()
    ([[2.0, 3.0], [5.0, 6.0]], [[3.0], [6.0]])
    >>> nn.Narrow(0, 0, -1).forward(x).size()
    Size([2, 3])
    """

    def __init__(self, dim: int, offset: int, length: int = 1) -> None:
        super().__init__()
        self.dim = dim
        self.offset = offset
        self.length = length

    def _range(self, input: Any) -> tuple[int, int, int]:
        d = _neg_dim("Narrow", self.dim, _tensor("Narrow", input).dim())
        n = input.size(d)
        offset = self.offset + n if self.offset < 0 else self.offset
        length = n - offset + self.length + 1 if self.length < 0 else self.length
        if offset < 0 or length < 0 or offset + length > n:
            raise IndexError(
                f"Narrow: offset {self.offset} and length {self.length} do not fit dimension {d} of size {n}"
                f" (input {_sz(input)})"
            )
        return d, offset, length

    def update_output(self, input: Any) -> Any:
        self.output = input.narrow(*self._range(input)).clone()
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        gi = ft.zeros_like(input)
        gi.narrow(*self._range(input)).copy_(grad_output)
        self.grad_input = gi
        return gi

    def extra_repr(self) -> str:
        return f"dim {self.dim}, offset {self.offset}, length {self.length}"


class Replicate(Module):
    """Inserts a dim of size ``n_features`` at ``dim`` (0-based) that repeats the input (stride 0, no copy).

    With ``ndim`` (dims of one sample), an input with more dims is a batch and the new dim goes
    one further. The output is a read-only expanded view; the gradient sums over the new dim.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Replicate(3, 1).forward(ft.Tensor([1.0, 2.0])).tolist()
    [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
    """

    def __init__(self, n_features: int, dim: int = 0, ndim: int | None = None) -> None:
        super().__init__()
        if dim < 0:
            raise ArgumentError(f"Replicate: can only replicate across non-negative dims, got {dim}")
        self.n_features = n_features
        self.dim = dim
        self.ndim = ndim

    def _dim(self, input: Any) -> int:
        d = self.dim + (1 if self.ndim is not None and _tensor("Replicate", input).dim() > self.ndim else 0)
        if d > input.dim():
            raise ShapeError(f"Replicate: not enough input dims to replicate along dim {d}, got {_sz(input)}")
        return d

    def update_output(self, input: Any) -> Any:
        d = self._dim(input)
        sizes = list(input.size())
        sizes.insert(d, self.n_features)
        self.output = input.unsqueeze(d).expand(*sizes)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = grad_output.sum(self._dim(input))
        return self.grad_input

    def extra_repr(self) -> str:
        return f"{self.n_features}, dim {self.dim}"


class Reshape(Module):
    """Reshape to the given sizes (a view; non-contiguous input is copied first).

    An input with more elements than the sizes, or whose first dim is 1, is a batch: the first
    dim is kept (``N x sizes``). ``batch_mode=True`` always keeps the first dim, ``False`` never
    (Torch's trailing boolean argument is accepted too).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Reshape(2, 3).forward(ft.zeros(6)).size(), nn.Reshape(2, 3).forward(ft.zeros(4, 6)).size()
    (Size([2, 3]), Size([4, 2, 3]))
    >>> print(nn.Reshape(2, 3))
    nn.Reshape(2x3)
    """

    def __init__(self, *size: Any, batch_mode: bool | None = None) -> None:
        super().__init__()
        args = list(size)
        if args and isinstance(args[-1], bool):
            batch_mode = args.pop()
        self.size = _sizes(tuple(args))
        self.batch_mode = batch_mode
        self.nelement = math.prod(self.size)

    def update_output(self, input: Any) -> Any:
        x = _tensor("Reshape", input).contiguous()
        single = self.batch_mode is False or (
            self.batch_mode is None and x.nelement() == self.nelement and (x.dim() == 0 or x.size(0) != 1)
        )
        target = self.size if single else (x.size(0) if x.dim() else 1, *self.size)
        if math.prod(target) != x.nelement():
            want = size_text(self.size)
            raise ShapeError(f"Reshape: an input of size {_sz(x)} cannot be viewed as {want} or N x {want}")
        self.output = x.view(*target)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = grad_output.contiguous().view(input.size())
        return self.grad_input

    def extra_repr(self) -> str:
        return size_text(self.size)


class View(Module):
    """A view of the input with the given sizes (one may be -1); the input must be contiguous.

    Extra leading elements make a batch: with ``set_num_input_dims(n)`` the last n dims are one
    sample and the dims before them a batch; without it, a batch is inferred when the input has a
    multiple of the sizes' elements (and no -1). ``reset_size(*sizes)`` changes the sizes.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.View(6).forward(ft.zeros(2, 3)).size(), nn.View(6).forward(ft.zeros(4, 2, 3)).size()
    (Size([6]), Size([4, 6]))
    >>> nn.View(-1, 2).set_num_input_dims(2).forward(ft.zeros(5, 2, 3)).size()
    Size([5, 3, 2])
    """

    def __init__(self, *size: Any) -> None:
        super().__init__()
        self.num_input_dims: int | None = None
        self.reset_size(*size)

    def reset_size(self, *size: Any) -> View:
        """New target sizes (at most one -1); returns self."""
        sizes = _sizes(size)
        if sum(1 for s in sizes if s == -1) > 1 or any(s < -1 for s in sizes):
            raise ArgumentError(f"View: sizes must be non-negative with at most one -1, got {sizes}")
        self.size = sizes
        self.num_elements = math.prod(s for s in sizes if s != -1)
        return self

    def set_num_input_dims(self, num_input_dims: int | None) -> View:
        """The number of dims of one sample (the rest are a batch); returns self."""
        self.num_input_dims = num_input_dims
        return self

    def _batch_size(self, input: Tensor) -> int | None:
        ind = input.dim()
        isz = list(input.size())
        maxdim = self.num_input_dims if self.num_input_dims is not None else ind
        ine = math.prod(isz[ind - maxdim :])
        if self.num_elements == 0 or ine % self.num_elements != 0:
            raise ShapeError(f"View: input view ({_sz(input)}) and desired view ({size_text(self.size)}) do not match")
        bsz = 1 if -1 in self.size else ine // self.num_elements
        bsz *= math.prod(isz[: ind - maxdim])
        if bsz == 1 and (self.num_input_dims is None or ind <= self.num_input_dims):
            return None
        return bsz

    def update_output(self, input: Any) -> Any:
        bsz = self._batch_size(_tensor("View", input))
        self.output = input.view(*self.size) if bsz is None else input.view(bsz, *self.size)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = grad_output.contiguous().view(input.size())
        return self.grad_input

    def extra_repr(self) -> str:
        return size_text(self.size)


class Contiguous(Module):
    """The input itself when contiguous, else a contiguous copy (likewise for the gradient).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Contiguous().forward(ft.zeros(2, 3).t()).is_contiguous()
    True
    """

    def update_output(self, input: Any) -> Any:
        self.output = _tensor("Contiguous", input).contiguous()
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = grad_output.contiguous()
        return self.grad_input


class Select(Module):
    """The slice at ``index`` along ``dim`` (a copy; the dim is removed). Both 0-based; negative counts from the end.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> x = ft.Tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> nn.Select(1, -1).forward(x).tolist(), nn.Select(0, 0).forward(x).tolist()
    ([2.0, 4.0], [1.0, 2.0])
    """

    def __init__(self, dim: int, index: int) -> None:
        super().__init__()
        self.dim = dim
        self.index = index

    def _where(self, input: Any) -> tuple[int, int]:
        d = _neg_dim("Select", self.dim, _tensor("Select", input).dim())
        n = input.size(d)
        i = self.index + n if self.index < 0 else self.index
        if not 0 <= i < n:
            raise IndexError(f"Select: index {self.index} is out of range for dimension {d} of size {n}")
        return d, i

    def update_output(self, input: Any) -> Any:
        self.output = input.select(*self._where(input)).clone()
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        gi = ft.zeros_like(input)
        gi.select(*self._where(input)).copy_(grad_output)
        self.grad_input = gi
        return gi

    def extra_repr(self) -> str:
        return f"{self.dim}, {self.index}"


class MaskedSelect(Module):
    """``[t, mask]`` → the 1-D tensor of ``t``'s elements where ``mask`` (a ByteTensor) is 1.

    ``grad_input`` is ``[dL/dt, zeros like mask]``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> x = ft.Tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> nn.MaskedSelect().forward([x, x.gt(2)]).tolist()
    [3.0, 4.0]
    """

    def __init__(self) -> None:
        super().__init__()
        self.grad_input = []

    def update_output(self, input: Any) -> Any:
        t, mask = _pair("MaskedSelect", input)
        if tuple(mask.size()) != tuple(t.size()):
            raise ShapeError(f"MaskedSelect: the mask ({_sz(mask)}) must have the input's size ({_sz(t)})")
        self.output = t.masked_select(mask)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        t, mask = _pair("MaskedSelect", input)
        self.grad_input = [ft.zeros_like(t).masked_copy_(mask, grad_output), ft.zeros_like(mask)]
        return self.grad_input


class Index(Module):
    """``[t, indices]`` → ``t.index_select(dim, indices)`` (indices a 1-D LongTensor, 0-based).

    ``grad_input`` is ``[dL/dt, zeros like indices]``; repeated indices accumulate.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> x = ft.Tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> nn.Index(0).forward([x, ft.LongTensor([1, 1, 0])]).tolist()
    [[3.0, 4.0], [3.0, 4.0], [1.0, 2.0]]
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.grad_input = []

    def update_output(self, input: Any) -> Any:
        t, idx = _pair("Index", input)
        self.output = t.index_select(self.dim, idx)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        t, idx = _pair("Index", input)
        self.grad_input = [ft.zeros_like(t).index_add_(self.dim, idx, grad_output), ft.zeros_like(idx)]
        return self.grad_input

    def extra_repr(self) -> str:
        return str(self.dim)


class Squeeze(Module):
    """Removes size-1 dims: all of them, or only ``dim`` (0-based).

    With ``num_input_dims`` (dims of one sample), an input with one more dim is a batch: ``dim``
    shifts by one, and a batch of one keeps its batch dim.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Squeeze().forward(ft.zeros(2, 1, 3, 1)).size(), nn.Squeeze(1).forward(ft.zeros(2, 1, 1)).size()
    (Size([2, 3]), Size([2, 1]))
    >>> nn.Squeeze(None, 2).forward(ft.zeros(1, 4, 1)).size()
    Size([1, 4])
    """

    def __init__(self, dim: int | None = None, num_input_dims: int | None = None) -> None:
        super().__init__()
        self.dim = dim
        self.num_input_dims = num_input_dims

    def update_output(self, input: Any) -> Any:
        dim = self.dim
        add_one = False
        if self.num_input_dims is not None and _tensor("Squeeze", input).dim() == self.num_input_dims + 1:
            if dim is not None:
                dim += 1
            elif input.size(0) == 1:
                add_one = True
        if dim is not None:
            dim = _neg_dim("Squeeze", dim, input.dim())
        out = input.squeeze() if dim is None else input.squeeze(dim)
        self.output = out.unsqueeze(0) if add_one else out
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = grad_output.contiguous().view(input.size())
        return self.grad_input

    def extra_repr(self) -> str:
        return "" if self.dim is None else f"dim {self.dim}"


class Unsqueeze(Module):
    """Inserts a size-1 dim at ``pos`` (0-based) of each sample.

    With ``num_input_dims`` (dims of one sample), leading extra dims are a batch and ``pos``
    counts after them.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Unsqueeze(1).forward(ft.zeros(2, 3)).size(), nn.Unsqueeze(0, 1).forward(ft.zeros(5, 3)).size()
    (Size([2, 1, 3]), Size([5, 1, 3]))
    """

    def __init__(self, pos: int, num_input_dims: int | None = None) -> None:
        super().__init__()
        if pos < 0:
            raise ArgumentError(f"Unsqueeze: the position must be >= 0, got {pos}")
        self.pos = pos
        self.num_input_dims = num_input_dims

    def set_num_input_dims(self, num_input_dims: int | None) -> Unsqueeze:
        """The number of dims of one sample; returns self."""
        self.num_input_dims = num_input_dims
        return self

    def _pos(self, input: Any) -> int:
        n = _tensor("Unsqueeze", input).dim()
        nid = self.num_input_dims if self.num_input_dims is not None else n
        offset = n - nid
        if offset < 0 or offset + self.pos > n:
            raise ShapeError(
                f"Unsqueeze: cannot insert a dim at {self.pos} (num_input_dims {nid}) into an input of size {_sz(input)}"
            )
        return offset + self.pos

    def update_output(self, input: Any) -> Any:
        self.output = input.unsqueeze(self._pos(input))
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = grad_output.squeeze(self._pos(input))
        return self.grad_input

    def extra_repr(self) -> str:
        return f"dim {self.pos}"


class Transpose(Module):
    """A series of transposes, each a pair of 0-based dims: ``Transpose((0, 3), (0, 2))``; the output is contiguous.

    With :meth:`set_num_input_dims`, leading extra dims are a batch and the pairs count after them.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Transpose((0, 1)).forward(ft.Tensor([[1.0, 2.0]])).tolist()
    [[1.0], [2.0]]
    >>> nn.Transpose((0, 2), (0, 1)).forward(ft.zeros(2, 3, 4)).size()
    Size([3, 4, 2])
    """

    def __init__(self, *permutations: tuple[int, int]) -> None:
        super().__init__()
        self.permutations = [(int(a), int(b)) for a, b in permutations]
        self.num_input_dims: int | None = None

    def set_num_input_dims(self, num_input_dims: int | None) -> Transpose:
        """The number of dims of one sample; returns self."""
        self.num_input_dims = num_input_dims
        return self

    def _offset(self, x: Tensor) -> int:
        nid = self.num_input_dims
        return x.dim() - nid if nid is not None and x.dim() > nid else 0

    def update_output(self, input: Any) -> Any:
        x = _tensor("Transpose", input)
        k = self._offset(x)
        for a, b in self.permutations:
            x = x.transpose(a + k, b + k)
        self.output = x.contiguous()
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        g = grad_output
        k = self._offset(input)
        for a, b in reversed(self.permutations):
            g = g.transpose(a + k, b + k)
        self.grad_input = g.contiguous()
        return self.grad_input

    def extra_repr(self) -> str:
        return ", ".join(f"{{{a}, {b}}}" for a, b in self.permutations)


# --------------------------------------------------------------------------------------------------
# Reductions: the reduced dim is squeezed.


def _reduce_dim(name: str, dim: int, n_input_dims: int | None, input: Any) -> int:
    """Torch's rule, 0-based: a negative dim counts from the end; with ``n_input_dims``, an input
    with one more dim is a batch and the dim shifts by one."""
    n = _tensor(name, input).dim()
    d = dim + n if dim < 0 else dim + (1 if n_input_dims is not None and n == n_input_dims + 1 else 0)
    if not 0 <= d < n:
        raise ShapeError(f"{name}: dimension {dim} exceeds the dims of an input of size {_sz(input)}")
    return d


class Sum(Module):
    """Sum over ``dim`` (0-based), which is removed (a 1-D input gives a 1-element output).

    ``n_input_dims``: dims of one sample (a batch input shifts ``dim`` by one); ``size_average``
    divides by the dim's size (a mean); ``squeeze=False`` keeps the dim with size 1.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> x = ft.Tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> nn.Sum(0).forward(x).tolist(), nn.Sum(0, 1).forward(x).tolist(), nn.Sum(1, squeeze=False).forward(x).tolist()
    ([4.0, 6.0], [3.0, 7.0], [[3.0], [7.0]])
    """

    def __init__(
        self, dim: int = 0, n_input_dims: int | None = None, size_average: bool = False, squeeze: bool = True
    ) -> None:
        super().__init__()
        self.dim = dim
        self.n_input_dims = n_input_dims
        self.size_average = size_average
        self.squeeze = squeeze

    def update_output(self, input: Any) -> Any:
        d = _reduce_dim(type(self).__name__, self.dim, self.n_input_dims, input)
        out = input.sum(d, keepdim=True)
        if self.size_average:
            out = out / input.size(d)
        self.output = out.squeeze(d) if self.squeeze and out.dim() > 1 else out
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        d = _reduce_dim(type(self).__name__, self.dim, self.n_input_dims, input)
        size = list(input.size())
        size[d] = 1
        g = grad_output.contiguous().view(*size).expand_as(input)
        self.grad_input = g / input.size(d) if self.size_average else g.contiguous().clone()
        return self.grad_input

    def extra_repr(self) -> str:
        return f"dim {self.dim}"


class Mean(Sum):
    """Mean over ``dim`` (0-based), which is removed: ``Sum`` with ``size_average``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Mean(1).forward(ft.Tensor([[1.0, 2.0], [3.0, 5.0]])).tolist()
    [1.5, 4.0]
    """

    def __init__(self, dim: int = 0, n_input_dims: int | None = None) -> None:
        super().__init__(dim, n_input_dims, size_average=True)


class Max(Module):
    """The maximum over ``dim`` (0-based), which is removed (unlike ``ft.max(.., keepdim=True)``).

    ``n_input_dims``: dims of one sample (a batch input shifts ``dim`` by one). The gradient goes
    to the (first) arg-max, kept in ``indices``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Max(1).forward(ft.Tensor([[1.0, 5.0], [7.0, 2.0]])).tolist()
    [5.0, 7.0]
    """

    _fn = "max"

    def __init__(self, dim: int = 0, n_input_dims: int | None = None) -> None:
        super().__init__()
        self.dim = dim
        self.n_input_dims = n_input_dims
        self.indices = ft.LongTensor()

    def update_output(self, input: Any) -> Any:
        d = _reduce_dim(type(self).__name__, self.dim, self.n_input_dims, input)
        values, self.indices = getattr(input, self._fn)(d, keepdim=True)
        self.output = values.squeeze(d) if input.dim() > 1 else values
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        d = _reduce_dim(type(self).__name__, self.dim, self.n_input_dims, input)
        size = list(input.size())
        size[d] = 1
        g = grad_output.contiguous().view(*size)
        self.grad_input = ft.zeros_like(input).scatter_(d, self.indices, g)
        return self.grad_input

    def extra_repr(self) -> str:
        return f"dim {self.dim}"


class Min(Max):
    """The minimum over ``dim`` (0-based), which is removed; see :class:`Max`.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Min(0).forward(ft.Tensor([[1.0, 5.0], [7.0, 2.0]])).tolist()
    [1.0, 2.0]
    """

    _fn = "min"


# --------------------------------------------------------------------------------------------------
# Element-wise maths.


class Exp(Module):
    """``exp(x)``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Exp().forward(ft.Tensor([0.0])).tolist()
    [1.0]
    """

    def update_output(self, input: Any) -> Any:
        self.output = ft.exp(input)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = grad_output * self.output
        return self.grad_input


class Log(Module):
    """``log(x)``; gradient ``g / x``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Log().forward(ft.Tensor([1.0])).tolist()
    [0.0]
    """

    def update_output(self, input: Any) -> Any:
        self.output = ft.log(input)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = grad_output / input
        return self.grad_input


class Abs(Module):
    """``|x|``; gradient ``sign(x) g`` (0 at 0).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Abs().forward(ft.Tensor([-2.0, 3.0])).tolist()
    [2.0, 3.0]
    """

    def update_output(self, input: Any) -> Any:
        self.output = ft.abs(input)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = grad_output * ft.sign(input)
        return self.grad_input


class Square(Module):
    """``x^2``; gradient ``2 x g``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Square().forward(ft.Tensor([-2.0, 3.0])).tolist()
    [4.0, 9.0]
    """

    def update_output(self, input: Any) -> Any:
        self.output = input * input
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = grad_output * input * 2
        return self.grad_input


class Sqrt(Module):
    """``sqrt(x + eps)``; gradient ``g / (2 y)``, 0 where ``y`` is 0 (as Torch's).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Sqrt().forward(ft.Tensor([4.0, 9.0])).tolist()
    [2.0, 3.0]
    """

    def __init__(self, eps: float = 0.0) -> None:
        super().__init__()
        self.eps = eps

    def update_output(self, input: Any) -> Any:
        self.output = ft.sqrt(input + self.eps if self.eps else input)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        y = self.output
        self.grad_input = (grad_output * 0.5 / _safe(y)).masked_fill(y.eq(0), 0.0)
        return self.grad_input


class Power(Module):
    """``x^p``; gradient ``p x^(p-1) g``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Power(3).forward(ft.Tensor([2.0, -1.0])).tolist()
    [8.0, -1.0]
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.pow = p

    def update_output(self, input: Any) -> Any:
        self.output = ft.pow(input, self.pow)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = grad_output * ft.pow(input, self.pow - 1) * self.pow
        return self.grad_input

    def extra_repr(self) -> str:
        return f"{self.pow:g}"


class Clamp(Module):
    """Clip to ``[min_value, max_value]``; the gradient passes strictly inside the range only (Torch's HardTanh rule).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Clamp(-1, 1).forward(ft.Tensor([-3.0, 0.5, 2.0])).tolist()
    [-1.0, 0.5, 1.0]
    """

    def __init__(self, min_value: float, max_value: float) -> None:
        super().__init__()
        if max_value < min_value:
            raise ArgumentError(f"Clamp: max_value ({max_value}) must be >= min_value ({min_value})")
        self.min_value = min_value
        self.max_value = max_value

    def update_output(self, input: Any) -> Any:
        self.output = ft.clamp(input, self.min_value, self.max_value)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        inside = ft.logical_and(input.gt(self.min_value), input.lt(self.max_value))
        self.grad_input = grad_output.masked_fill(ft.logical_not(inside), 0.0)
        return self.grad_input

    def extra_repr(self) -> str:
        return f"{self.min_value:g}, {self.max_value:g}"


class Normalize(Module):
    """Each sample divided by its L_p norm: ``y = x / (sum |x|^p + eps)^(1/p)``; 1-D or 2-D (``N x d``) input.

    ``p`` may be ``math.inf`` (then ``y = x / (max |x| + eps)``), as Torch's.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Normalize(2, 0.0).forward(ft.Tensor([[3.0, 4.0]])).tolist()
    [[0.6, 0.8]]
    >>> nn.Normalize(1, 0.0).forward(ft.Tensor([1.0, -3.0])).tolist()
    [0.25, -0.75]
    """

    def __init__(self, p: float, eps: float = 1e-10) -> None:
        super().__init__()
        if not p > 0:
            raise ArgumentError(f"Normalize: the norm's p must be > 0, got {p}")
        self.p = p
        self.eps = eps

    def _rows(self, input: Any) -> Tensor:
        if _tensor("Normalize", input).dim() not in (1, 2):
            raise ShapeError(f"Normalize: expected a 1-D input or a batch N x d, got {_sz(input)}")
        return input if input.dim() == 2 else input.view(1, -1)

    def _norms(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(normp, norm)``, each ``N x 1``; for p = inf both are ``max |x| + eps``."""
        if math.isinf(self.p):
            norm = x.abs().max(1, keepdim=True).values + self.eps
            return norm, norm
        normp = x.abs().pow(self.p).sum(1, keepdim=True) + self.eps
        return normp, normp.pow(1.0 / self.p)

    def update_output(self, input: Any) -> Any:
        x = self._rows(input)
        self.output = (x / self._norms(x)[1]).view(input.size())
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        x = self._rows(input)
        g = grad_output.contiguous().view(x.size())
        normp, norm = self._norms(x)
        cross = (x * g).sum(1, keepdim=True)
        if math.isinf(self.p):
            idx = x.abs().max(1, keepdim=True).indices
            dnorm = ft.zeros_like(x).scatter_(1, idx, ft.sign(x).gather(1, idx))  # d norm / dx
            gi = g / norm - cross * dnorm / (norm * norm)
        else:
            # d norm / dx = norm / normp * |x|^(p-1) sign(x)
            ax = x.abs()
            dpow = (ax.pow(self.p - 1) * ft.sign(x)).masked_fill(ax.eq(0), 0.0)
            gi = g / norm - cross * dpow / (normp * norm)
        self.grad_input = gi.view(input.size())
        return self.grad_input

    def extra_repr(self) -> str:
        return f"{self.p:g}"


class MM(Module):
    """``[A, B]`` → ``A @ B`` (``trans_a``/``trans_b`` transpose them first); 2-D matrices or batches ``b x n x m``.

    ``grad_input`` is ``[dL/dA, dL/dB]``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> a, b = ft.Tensor([[1.0, 2.0]]), ft.Tensor([[3.0], [4.0]])
    >>> nn.MM().forward([a, b]).tolist(), nn.MM(True, True).forward([a, b]).tolist()
    ([[11.0]], [[3.0, 4.0], [6.0, 8.0]])
    """

    def __init__(self, trans_a: bool = False, trans_b: bool = False) -> None:
        super().__init__()
        self.trans_a = trans_a
        self.trans_b = trans_b
        self.grad_input = []

    def _ops(self, input: Any) -> tuple[Tensor, Tensor]:
        a, b = _pair("MM", input)
        if a.dim() not in (2, 3) or b.dim() != a.dim():
            raise ShapeError(f"MM: expected two matrices or two batches of matrices, got {_sz(a)} and {_sz(b)}")
        if self.trans_a:
            a = a.transpose(-1, -2)
        if self.trans_b:
            b = b.transpose(-1, -2)
        if a.size(-1) != b.size(-2) or (a.dim() == 3 and a.size(0) != b.size(0)):
            raise ShapeError(f"MM: matrix sizes do not match: {_sz(a)} @ {_sz(b)} (after transposes)")
        return a, b

    def update_output(self, input: Any) -> Any:
        a, b = self._ops(input)
        self.output = a @ b
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        a, b = self._ops(input)
        g = grad_output
        ga = g @ b.transpose(-1, -2)  # dL/d op(A)
        gb = a.transpose(-1, -2) @ g  # dL/d op(B)
        self.grad_input = [
            ga.transpose(-1, -2).contiguous() if self.trans_a else ga,
            gb.transpose(-1, -2).contiguous() if self.trans_b else gb,
        ]
        return self.grad_input

    def extra_repr(self) -> str:
        return f"{'A^T' if self.trans_a else 'A'} x {'B^T' if self.trans_b else 'B'}"


class MV(Module):
    """``[M, v]`` → ``M @ v`` (``trans`` transposes M first); ``M`` 2-D with ``v`` 1-D, or batches ``b x m x n`` and ``b x n``.

    ``grad_input`` is ``[dL/dM, dL/dv]``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = ft.Tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> nn.MV().forward([m, ft.Tensor([1.0, 1.0])]).tolist(), nn.MV(True).forward([m, ft.Tensor([1.0, 0.0])]).tolist()
    ([3.0, 7.0], [1.0, 2.0])
    """

    def __init__(self, trans: bool = False) -> None:
        super().__init__()
        self.trans = trans
        self.grad_input = []

    def _ops(self, input: Any) -> tuple[Tensor, Tensor]:
        m, v = _pair("MV", input)
        if m.dim() not in (2, 3) or v.dim() != m.dim() - 1:
            raise ShapeError(
                f"MV: expected a matrix and a vector, or batches b x m x n and b x n, got {_sz(m)} and {_sz(v)}"
            )
        if self.trans:
            m = m.transpose(-1, -2)
        if m.size(-1) != v.size(-1) or (m.dim() == 3 and m.size(0) != v.size(0)):
            raise ShapeError(f"MV: sizes do not match: {_sz(m)} @ {_sz(v)} (after the transpose)")
        return m, v

    def update_output(self, input: Any) -> Any:
        m, v = self._ops(input)
        self.output = (m @ v.unsqueeze(-1)).squeeze(-1)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        m, v = self._ops(input)
        g = grad_output
        gm = g.unsqueeze(-1) * v.unsqueeze(-2)  # dL/d op(M)
        gv = (m.transpose(-1, -2) @ g.unsqueeze(-1)).squeeze(-1)
        self.grad_input = [gm.transpose(-1, -2).contiguous() if self.trans else gm, gv]
        return self.grad_input

    def extra_repr(self) -> str:
        return "M^T x v" if self.trans else "M x v"


class Padding(Module):
    """Pads ``|pad|`` entries of ``value`` along ``dim`` (0-based): before the data if ``pad < 0``, after if ``pad > 0``.

    ``index`` (0-based) moves the padding inside: it goes ``index`` entries from the start (pad < 0)
    or from the end (pad > 0). With ``n_input_dim`` (dims of one sample), a batch input shifts
    ``dim`` by one.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> x = ft.Tensor([1.0, 2.0, 3.0])
    >>> nn.Padding(0, 2).forward(x).tolist(), nn.Padding(0, -1, value=9).forward(x).tolist()
    ([1.0, 2.0, 3.0, 0.0, 0.0], [9.0, 1.0, 2.0, 3.0])
    >>> nn.Padding(0, -1, index=1).forward(x).tolist()
    [1.0, 0.0, 2.0, 3.0]
    """

    def __init__(self, dim: int, pad: int, n_input_dim: int | None = None, value: float = 0.0, index: int = 0):
        super().__init__()
        self.dim = dim
        self.pad = pad
        self.n_input_dim = n_input_dim
        self.value = value
        self.index = index

    def _where(self, input: Any) -> tuple[int, int]:
        """The dim and the position at which the padding goes."""
        n = _tensor("Padding", input).dim()
        d = self.dim + (1 if self.n_input_dim is not None and n != self.n_input_dim else 0)
        d = _neg_dim("Padding", d, n)
        size = input.size(d)
        pos = size - self.index if self.pad > 0 else self.index
        if not 0 <= pos <= size:
            raise IndexError(f"Padding: index {self.index} is out of range for dimension {d} of size {size}")
        return d, pos

    def update_output(self, input: Any) -> Any:
        d, pos = self._where(input)
        size = list(input.size())
        size[d] = abs(self.pad)
        fill = ft.full(*size, fill_value=self.value, dtype=input.dtype, device=input.device)
        n = input.size(d)
        self.output = ft.cat([input.narrow(d, 0, pos), fill, input.narrow(d, pos, n - pos)], d)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        d, pos = self._where(input)
        n = input.size(d)
        rest = grad_output.narrow(d, pos + abs(self.pad), n - pos)
        self.grad_input = ft.cat([grad_output.narrow(d, 0, pos), rest], d)
        return self.grad_input

    def extra_repr(self) -> str:
        return f"dim {self.dim}, pad {self.pad}"


# --------------------------------------------------------------------------------------------------
# Dropout and friends.


class Dropout(Module):
    """Zeroes each element with probability ``p`` while training and scales the rest by ``1/(1-p)``.

    The identity in evaluation mode. ``v1=True`` is Torch's old behaviour: no scaling while
    training, ``(1-p) x`` at evaluation. ``inplace`` writes into the input (and the gradient into
    ``grad_output``). ``stochastic_inference`` keeps dropping at evaluation. The mask (``noise``) is
    drawn with ``bernoulli_`` from flambeau's generator, so ``ft.manual_seed`` makes it
    reproducible. ``setp(p)`` changes ``p``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.Dropout(0.5)
    >>> y = m.forward(ft.ones(1000))
    >>> sorted(set(y.tolist())), m.evaluate().forward(ft.ones(3)).tolist()
    ([0.0, 2.0], [1.0, 1.0, 1.0])
    >>> print(m)
    nn.Dropout(0.5)
    """

    def __init__(self, p: float = 0.5, v1: bool = False, inplace: bool = False, stochastic_inference: bool = False):
        super().__init__()
        self.setp(p)
        self.v2 = not v1
        self.inplace = inplace
        self.stochastic_inference = stochastic_inference
        self.noise = ft.Tensor()

    def setp(self, p: float) -> Dropout:
        """Set the drop probability (``0 <= p < 1``); returns self."""
        if not 0 <= p < 1:
            raise ArgumentError(f"Dropout: the probability p must satisfy 0 <= p < 1, got {p}")
        self.p = p
        return self

    def _drops(self) -> bool:
        return self.p > 0 and (self.train or self.stochastic_inference)

    def update_output(self, input: Any) -> Any:
        x = _tensor("Dropout", input)
        if self._drops():
            noise = ft.zeros_like(x).bernoulli_(1 - self.p)
            if self.v2:
                noise.div_(1 - self.p)
            self.noise = noise
            self.output = x.mul_(noise) if self.inplace else x * noise
        elif not self.v2 and self.p > 0:
            self.output = x.mul_(1 - self.p) if self.inplace else x * (1 - self.p)
        else:
            self.output = x if self.inplace else x.clone()
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        g = grad_output
        if self._drops():
            self.grad_input = g.mul_(self.noise) if self.inplace else g * self.noise
        elif not self.v2 and self.p > 0:
            self.grad_input = g.mul_(1 - self.p) if self.inplace else g * (1 - self.p)
        else:
            self.grad_input = g if self.inplace else g.clone()
        return self.grad_input

    def extra_repr(self) -> str:
        return f"{self.p:g}" + (", v1" if not self.v2 else "")


class _FeatureDropout(Module):
    """Drops whole feature maps (the dims after the channel dim share one draw), Torch's v1 way:
    no scaling while training, ``(1-p) x`` at evaluation."""

    NDIM = 3  # dims of one sample (C x H x W)
    SHAPE = "C x H x W"

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.setp(p)
        self.noise = ft.Tensor()

    def setp(self, p: float) -> _FeatureDropout:
        """Set the drop probability (``0 <= p < 1``); returns self."""
        if not 0 <= p < 1:
            raise ArgumentError(f"{type(self).__name__}: the probability p must satisfy 0 <= p < 1, got {p}")
        self.p = p
        return self

    def update_output(self, input: Any) -> Any:
        x = _tensor(type(self).__name__, input)
        if x.dim() not in (self.NDIM, self.NDIM + 1):
            raise ShapeError(
                f"{type(self).__name__}: expected an input of {self.SHAPE} or N x {self.SHAPE}, got {_sz(x)}"
            )
        if self.train:
            lead = x.dim() - self.NDIM + 1  # (N x) C
            size = list(x.size())[:lead] + [1] * (self.NDIM - 1)
            self.noise = ft.zeros(*size, dtype=x.dtype, device=x.device).bernoulli_(1 - self.p)
            self.output = x * self.noise
        else:
            self.output = x * (1 - self.p)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        # Torch raised outside training; the evaluation-mode gradient is given here instead.
        self.grad_input = grad_output * self.noise if self.train else grad_output * (1 - self.p)
        return self.grad_input

    def extra_repr(self) -> str:
        return f"{self.p:g}"


class SpatialDropout(_FeatureDropout):
    """Drops whole feature maps of a ``C x H x W`` or ``N x C x H x W`` input with probability ``p``.

    As Torch's (its trap kept): no scaling while training, the output is ``(1-p) x`` at evaluation.
    Backward at evaluation gives ``(1-p) g`` (Torch raised an error).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> ft.manual_seed(0)
    >>> y = nn.SpatialDropout(0.5).forward(ft.ones(1, 50, 2, 2))
    >>> sorted(set(y.sum(3).sum(2).view(-1).tolist()))
    [0.0, 4.0]
    """


class VolumetricDropout(_FeatureDropout):
    """Drops whole feature volumes of a ``C x T x H x W`` or ``N x C x T x H x W`` input; see :class:`SpatialDropout`.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.VolumetricDropout(0.2).evaluate().forward(ft.ones(1, 1, 1, 1)).tolist()
    [[[[0.8]]]]
    """

    NDIM = 4
    SHAPE = "C x T x H x W"


class L1Penalty(Module):
    """The identity forward that adds an L1 penalty's gradient ``w sign(x)`` to the gradient.

    ``loss`` keeps ``w ||x||_1`` of the last forward (divided by the element count with
    ``size_average``). ``provide_output=False`` drops ``grad_output`` from the gradient (Torch's
    ``provideOutput or true`` could never be false).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.L1Penalty(0.5)
    >>> x = ft.Tensor([-2.0, 3.0])
    >>> m.forward(x).tolist(), m.loss, m.backward(x, ft.Tensor([1.0, 1.0])).tolist()
    ([-2.0, 3.0], 2.5, [0.5, 1.5])
    """

    def __init__(self, l1weight: float, size_average: bool = False, provide_output: bool = True) -> None:
        super().__init__()
        self.l1weight = l1weight
        self.size_average = size_average
        self.provide_output = provide_output
        self.loss = 0.0

    def _m(self, input: Tensor) -> float:
        return self.l1weight / input.nelement() if self.size_average else self.l1weight

    def update_output(self, input: Any) -> Any:
        x = _tensor("L1Penalty", input)
        self.loss = self._m(x) * float(x.abs().sum())
        self.output = x
        return x

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        gi = ft.sign(input) * self._m(input)
        self.grad_input = gi + grad_output if self.provide_output else gi
        return self.grad_input

    def extra_repr(self) -> str:
        return f"{self.l1weight:g}"


class GradientReversal(Module):
    """The identity forward; the gradient is multiplied by ``-lambda_`` (``set_lambda`` changes it).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.GradientReversal(2.0)
    >>> m.forward(ft.Tensor([1.0])).tolist(), m.backward(ft.Tensor([1.0]), ft.Tensor([3.0])).tolist()
    ([1.0], [-6.0])
    """

    def __init__(self, lambda_: float = 1.0) -> None:
        super().__init__()
        self.lambda_ = lambda_

    def set_lambda(self, lambda_: float) -> GradientReversal:
        """Set the gradient's factor ``-lambda_``; returns self."""
        self.lambda_ = lambda_
        return self

    def update_output(self, input: Any) -> Any:
        self.output = input
        return input

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = grad_output * -self.lambda_
        return self.grad_input

    def extra_repr(self) -> str:
        return f"{self.lambda_:g}"


class TemporalDynamicKMaxPooling(Module):
    """Keeps the ``k`` largest values of each feature along time, in their original order.

    Input ``T x F`` or ``N x T x F``; ``k = max(min_k, ceil(factor * T))``; ``T`` must be at least
    ``min_k``. The gradient goes back to the kept positions (``indices``).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.TemporalDynamicKMaxPooling(2).forward(ft.Tensor([[1.0], [5.0], [2.0], [4.0]])).tolist()
    [[5.0], [4.0]]
    """

    def __init__(self, min_k: int, factor: float = 0.0) -> None:
        super().__init__()
        self.min_k = min_k
        self.factor = factor
        self.indices = ft.LongTensor()

    def _k(self, input: Any) -> tuple[int, int]:
        x = _tensor("TemporalDynamicKMaxPooling", input)
        if x.dim() not in (2, 3):
            raise ShapeError(f"TemporalDynamicKMaxPooling: expected an input T x F or N x T x F, got {_sz(x)}")
        d = x.dim() - 2
        t = x.size(d)
        k = max(self.min_k, math.ceil(self.factor * t))
        if t < k:
            raise ShapeError(f"TemporalDynamicKMaxPooling: the sequence length ({t}) is too small for k = {k}")
        return d, k

    def update_output(self, input: Any) -> Any:
        d, k = self._k(input)
        order = input.sort(d, descending=True).indices
        self.indices = order.narrow(d, 0, k).sort(d).values
        self.output = input.gather(d, self.indices)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        d, _ = self._k(input)
        self.grad_input = ft.zeros_like(input).scatter_(d, self.indices, grad_output)
        return self.grad_input

    def extra_repr(self) -> str:
        return f"{self.min_k}" + (f", {self.factor:g}" if self.factor else "")


__all__ = [
    "Linear",
    "SparseLinear",
    "Bilinear",
    "PartialLinear",
    "Add",
    "Mul",
    "CMul",
    "Euclidean",
    "WeightedEuclidean",
    "Cosine",
    "Identity",
    "Copy",
    "Narrow",
    "Replicate",
    "Reshape",
    "View",
    "Contiguous",
    "Select",
    "MaskedSelect",
    "Index",
    "Squeeze",
    "Unsqueeze",
    "Transpose",
    "Sum",
    "Mean",
    "Max",
    "Min",
    "Exp",
    "Log",
    "Abs",
    "Square",
    "Sqrt",
    "Power",
    "Clamp",
    "Normalize",
    "MM",
    "MV",
    "Padding",
    "Dropout",
    "SpatialDropout",
    "VolumetricDropout",
    "L1Penalty",
    "GradientReversal",
    "TemporalDynamicKMaxPooling",
]
