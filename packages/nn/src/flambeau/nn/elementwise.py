"""Element-wise and reduction layers (Torch's simple.md): reductions over a dim (Sum, Mean, Max, Min),
element-wise maths, Normalize, the matrix products MM and MV, and TemporalDynamicKMaxPooling.
"""

from __future__ import annotations

import math
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, ShapeError

from ._layer_utils import _pair, _safe, _sz, _tensor
from .module import Module

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
    "TemporalDynamicKMaxPooling",
]
