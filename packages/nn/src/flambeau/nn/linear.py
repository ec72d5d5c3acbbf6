"""Linear layers (Torch's simple.md): Linear and its relatives, the learnable element-wise layers
(Add, Mul, CMul) and the distances to learned templates (Euclidean, WeightedEuclidean, Cosine).
"""

from __future__ import annotations

import math
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import IndexError, ShapeError, size_text

from ._layer_utils import _pair, _safe, _sizes, _sz
from .module import Module, fan_in_uniform


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


def _uniform(stdv: float | None, fan_in: int, *tensors: Tensor | None) -> None:
    fan_in_uniform(*tensors, fan_in=fan_in, stdv=stdv)


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
]
