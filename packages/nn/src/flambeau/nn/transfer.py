"""Transfer functions (Torch's transfer.md): element-wise non-linearities and the softmax family.

Every module here takes an input of any shape (element-wise) unless its docstring says otherwise:
the softmax family works over the *feature dim*, which is dim 0 of a 1-D input (``C``) and dim 1
of a batch (``N x C``); 3-D and 4-D inputs are spatial, as Torch treats them: ``C x H x W`` and
``N x C x H x W``, normalised over the channel dim at each pixel (dim 0, resp. dim 1).

**In-place variants.** ``Threshold``, ``ReLU``, ``ReLU6``, ``HardTanh``, ``LeakyReLU``, ``RReLU``,
``ELU``, ``AddConstant`` and ``MulConstant`` take ``inplace=True`` as Torch's do: the forward pass
overwrites the *input* tensor and returns it as ``output`` (the same object), and the backward
pass writes the gradient into ``grad_output`` and returns it as ``grad_input`` (again the same
object), so neither pass allocates a tensor of the input's size. The backward pass reads the
overwritten input (the output), which is why each of them asks for parameters that keep the sign
of what it rewrites (Threshold: ``val <= threshold``; LeakyReLU: ``negval >= 0``; ELU:
``alpha >= 0``). ``AddConstant`` and ``MulConstant`` restore the input in their backward pass
(``x + k - k`` and ``x * k / k``, exact up to rounding), as Torch's do.
"""

from __future__ import annotations

import numbers
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, ShapeError, size_text

from .module import Module


def _num(x: float) -> str:
    return f"{x:g}"


def _with_inplace(text: str, inplace: bool) -> str:
    if not inplace:
        return text
    return f"{text}, inplace" if text else "inplace"


def _check_inplace_flag(name: str, inplace: Any) -> bool:
    if not isinstance(inplace, bool):
        raise ArgumentError(f"{name}: the in-place flag must be a bool, got {inplace!r}")
    return inplace


def feature_dim(input: Any, name: str) -> int:
    """The dim the softmax family normalises over: Torch's rule, 0-based.

    1-D ``C`` and 3-D ``C x H x W`` inputs: dim 0; 2-D ``N x C`` and 4-D ``N x C x H x W``: dim 1.

    >>> import flambeau.tensor as ft
    >>> from flambeau.nn.transfer import feature_dim
    >>> [feature_dim(ft.zeros(*([2] * n)), "SoftMax") for n in (1, 2, 3, 4)]
    [0, 1, 0, 1]
    """
    n = input.dim()
    if n < 1 or n > 4:
        raise ShapeError(
            f"{name}: expected an input of 1 to 4 dims (C, N x C, C x H x W or N x C x H x W),"
            f" got {size_text(tuple(input.size()))}"
        )
    return (n + 1) % 2


# --------------------------------------------------------------------------------------------------
# Smooth element-wise functions.


class Tanh(Module):
    """``tanh(x)``; its gradient ``(1 - y^2) g`` reuses the output.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Tanh().forward(ft.Tensor([0.0])).tolist()
    [0.0]
    """

    def update_output(self, input: Any) -> Any:
        self.output = ft.tanh(input)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        y = self.output
        self.grad_input = grad_output * (1 - y * y)
        return self.grad_input


class Sigmoid(Module):
    """``1 / (1 + exp(-x))`` (stable for large ``|x|``); its gradient ``y (1 - y) g`` reuses the output.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Sigmoid().forward(ft.Tensor([0.0])).tolist()
    [0.5]
    """

    def update_output(self, input: Any) -> Any:
        self.output = ft.sigmoid(input)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        y = self.output
        self.grad_input = grad_output * y * (1 - y)
        return self.grad_input


class TanhShrink(Module):
    """``x - tanh(x)``; gradient ``tanh(x)^2 g``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.TanhShrink().forward(ft.Tensor([0.0])).tolist()
    [0.0]
    """

    def update_output(self, input: Any) -> Any:
        self.output = input - ft.tanh(input)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        t = input - self.output  # tanh(x), without computing it again
        self.grad_input = grad_output * t * t
        return self.grad_input


class SoftSign(Module):
    """``x / (1 + |x|)``; gradient ``g / (1 + |x|)^2``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.SoftSign().forward(ft.Tensor([-3.0, 0.0, 1.0])).tolist()
    [-0.75, 0.0, 0.5]
    """

    def update_output(self, input: Any) -> Any:
        self.output = input / (input.abs() + 1)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        d = input.abs() + 1
        self.grad_input = grad_output / (d * d)
        return self.grad_input


class LogSigmoid(Module):
    """``log(1 / (1 + exp(-x)))``, computed as ``-(max(-x, 0) + log1p(exp(-|x|)))`` (no overflow);
    gradient ``sigmoid(-x) g``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.LogSigmoid().forward(ft.Tensor([-1000.0, 1000.0])).tolist()
    [-1000.0, -0.0]
    """

    def update_output(self, input: Any) -> Any:
        self.output = -(ft.cmax(-input, 0) + ft.log1p(ft.exp(-input.abs())))
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = grad_output * ft.sigmoid(-input)
        return self.grad_input


class SoftPlus(Module):
    """``log(1 + exp(beta x)) / beta``; linear (``x``) where ``beta x > threshold``, as Torch's.

    Computed as ``(max(bx, 0) + log1p(exp(-|bx|))) / beta`` so that no exponential overflows, even
    with a large ``threshold``. Gradient: ``sigmoid(beta x) g``, and ``g`` in the linear part.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.SoftPlus().forward(ft.Tensor([0.0, 30.0])).tolist()[1]
    30.0
    >>> nn.SoftPlus(beta=2)
    nn.SoftPlus(beta=2, threshold=20)
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        if beta == 0:
            raise ArgumentError("SoftPlus: beta must be non-zero, got 0")
        self.beta = beta
        self.threshold = threshold

    def update_output(self, input: Any) -> Any:
        bx = input * self.beta if self.beta != 1 else input
        soft = ft.cmax(bx, 0) + ft.log1p(ft.exp(-bx.abs()))
        if self.beta != 1:
            soft = soft / self.beta
        self.output = ft.where(bx > self.threshold, input, soft)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        bx = input * self.beta if self.beta != 1 else input
        self.grad_input = ft.where(bx > self.threshold, grad_output, grad_output * ft.sigmoid(bx))
        return self.grad_input

    def extra_repr(self) -> str:
        return f"beta={_num(self.beta)}, threshold={_num(self.threshold)}"


# --------------------------------------------------------------------------------------------------
# Piecewise-linear functions.


class HardShrink(Module):
    """``x`` where ``|x| > lambda_``, else 0; the gradient passes where ``|x| > lambda_``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.HardShrink(0.5).forward(ft.Tensor([-1.0, 0.25, 0.5, 2.0])).tolist()
    [-1.0, 0.0, 0.0, 2.0]
    """

    def __init__(self, lambda_: float = 0.5) -> None:
        super().__init__()
        self.lambda_ = lambda_

    def update_output(self, input: Any) -> Any:
        self.output = ft.where(input.abs() > self.lambda_, input, 0.0)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = ft.where(input.abs() > self.lambda_, grad_output, 0.0)
        return self.grad_input

    def extra_repr(self) -> str:
        return _num(self.lambda_)


class SoftShrink(Module):
    """``x - lambda_`` where ``x > lambda_``, ``x + lambda_`` where ``x < -lambda_``, else 0.

    Computed as ``x - clamp(x, -lambda_, lambda_)``; the gradient passes where ``|x| > lambda_``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.SoftShrink(0.5).forward(ft.Tensor([-1.0, 0.25, 2.0])).tolist()
    [-0.5, 0.0, 1.5]
    """

    def __init__(self, lambda_: float = 0.5) -> None:
        super().__init__()
        self.lambda_ = lambda_

    def update_output(self, input: Any) -> Any:
        self.output = input - input.clamp(-self.lambda_, self.lambda_)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = ft.where(input.abs() > self.lambda_, grad_output, 0.0)
        return self.grad_input

    def extra_repr(self) -> str:
        return _num(self.lambda_)


class Threshold(Module):
    """``x`` where ``x > threshold``, else ``val``; the gradient passes where ``x > threshold``.

    Torch's defaults: ``threshold=1e-6``, ``val=0``. With ``inplace=True`` the input is
    overwritten (it becomes the output) and the backward pass zeroes ``grad_output`` in place
    where the (overwritten) input is ``<= threshold``, which needs ``val <= threshold``.
    A NaN input stays NaN (Torch7 mapped it to ``val``).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.Threshold(1.0, -2.0).forward(ft.Tensor([0.5, 1.0, 3.0])).tolist()
    [-2.0, -2.0, 3.0]
    """

    def __init__(self, threshold: float = 1e-6, val: float = 0.0, inplace: bool = False) -> None:
        super().__init__()
        self.threshold = threshold
        self.val = val
        self.inplace = _check_inplace_flag(type(self).__name__, inplace)
        self._validate()

    def _validate(self) -> None:
        if self.inplace and self.val > self.threshold:
            raise ArgumentError(
                f"{type(self).__name__}: in-place processing requires the value ({_num(self.val)}) not to exceed"
                f" the threshold ({_num(self.threshold)})"
            )

    def update_output(self, input: Any) -> Any:
        th, v = self.threshold, self.val
        if self.inplace:
            self._validate()
            if v == th:
                input.cmax_(th)
            else:
                input.masked_fill_(input <= th, v)
            self.output = input
        elif v == th:  # ReLU's case: one op
            self.output = ft.cmax(input, th)
        else:
            self.output = ft.where(input <= th, v, input)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        if self.inplace:  # input now holds the output: replaced entries are val <= threshold
            self.grad_input = grad_output.masked_fill_(input <= self.threshold, 0)
        else:
            self.grad_input = ft.where(input > self.threshold, grad_output, 0.0)
        return self.grad_input

    def extra_repr(self) -> str:
        return _with_inplace(f"{_num(self.threshold)}, {_num(self.val)}", self.inplace)


class ReLU(Threshold):
    """``max(0, x)``: ``Threshold(0, 0, inplace)``, as in Torch.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.ReLU().forward(ft.Tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 0.0, inplace)

    def extra_repr(self) -> str:
        return _with_inplace("", self.inplace)


class HardTanh(Module):
    """``x`` clipped to ``[min_value, max_value]``; the gradient is ``g`` strictly inside, 0 elsewhere.

    With ``inplace=True`` the input is clipped in place (and becomes the output) and the backward
    pass zeroes ``grad_output`` in place where the clipped input is at a bound.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.HardTanh().forward(ft.Tensor([-3.0, 0.5, 3.0])).tolist()
    [-1.0, 0.5, 1.0]
    """

    def __init__(self, min_value: float = -1.0, max_value: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if not max_value > min_value:
            raise ArgumentError(
                f"{type(self).__name__}: max_value ({_num(max_value)}) must be larger than min_value ({_num(min_value)})"
            )
        self.min_val = min_value
        self.max_val = max_value
        self.inplace = _check_inplace_flag(type(self).__name__, inplace)

    def update_output(self, input: Any) -> Any:
        if self.inplace:
            self.output = input.clamp_(self.min_val, self.max_val)
        else:
            self.output = input.clamp(self.min_val, self.max_val)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        if self.inplace:  # input is clipped now: the bounds are where the gradient stops
            outside = ft.logical_or(input <= self.min_val, input >= self.max_val)
            self.grad_input = grad_output.masked_fill_(outside, 0)
        else:
            inside = ft.logical_and(input > self.min_val, input < self.max_val)
            self.grad_input = ft.where(inside, grad_output, 0.0)
        return self.grad_input

    def extra_repr(self) -> str:
        return _with_inplace(f"{_num(self.min_val)}, {_num(self.max_val)}", self.inplace)


class ReLU6(HardTanh):
    """``min(max(0, x), 6)``: ``HardTanh(0, 6, inplace)``, as Torch computes it.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.ReLU6().forward(ft.Tensor([-1.0, 3.0, 7.0])).tolist()
    [0.0, 3.0, 6.0]
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return _with_inplace("", self.inplace)


class LeakyReLU(Module):
    """``x`` where ``x > 0``, else ``negval * x``; gradient ``g``, resp. ``negval * g``.

    With ``inplace=True`` the input is overwritten (and becomes the output) and the backward pass
    scales ``grad_output`` in place where the overwritten input is ``<= 0``: that needs
    ``negval >= 0``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.LeakyReLU(0.5).forward(ft.Tensor([-2.0, 3.0])).tolist()
    [-1.0, 3.0]
    """

    def __init__(self, negval: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = _check_inplace_flag("LeakyReLU", inplace)
        if inplace and negval < 0:
            raise ArgumentError(f"LeakyReLU: in-place processing requires negval >= 0, got {_num(negval)}")
        self.negval = negval

    def update_output(self, input: Any) -> Any:
        if self.inplace:
            neg = input <= 0
            self.output = input.masked_scatter_(neg, input[neg] * self.negval)
        else:
            self.output = ft.where(input > 0, input, input * self.negval)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        if self.inplace:
            neg = input <= 0
            self.grad_input = grad_output.masked_scatter_(neg, grad_output[neg] * self.negval)
        else:
            self.grad_input = ft.where(input > 0, grad_output, grad_output * self.negval)
        return self.grad_input

    def extra_repr(self) -> str:
        return _with_inplace(_num(self.negval), self.inplace)


class PReLU(Module):
    """Leaky ReLU with a learnt negative slope: ``x`` where ``x > 0``, else ``w x``.

    ``n_output_plane=0`` learns one slope shared by every element (``weight`` of size 1);
    ``n_output_plane=C`` learns one per channel, the channel dim being dim 0 of a single input
    (``C`` or ``C x H x W``) and dim 1 of a batch (``N x C`` or ``N x C x H x W``). The slopes
    start at 0.25, as in Torch; :meth:`reset` sets them back to 0.25 (Torch's PReLU has no reset,
    so its ``reset`` left them alone).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.PReLU()
    >>> m.forward(ft.Tensor([-4.0, 2.0])).tolist()
    [-1.0, 2.0]
    >>> nn.PReLU(3).forward(ft.Tensor([[-4.0, -8.0, 1.0]])).tolist()
    [[-1.0, -2.0, 1.0]]
    """

    def __init__(self, n_output_plane: int = 0) -> None:
        super().__init__()
        if n_output_plane < 0:
            raise ArgumentError(f"PReLU: n_output_plane must be >= 0, got {n_output_plane}")
        self.n_output_plane = n_output_plane
        n = max(n_output_plane, 1)
        self.weight = ft.Tensor(n)
        self.grad_weight = ft.zeros(n)
        self.reset()

    def reset(self, stdv: float | None = None) -> PReLU:
        self.weight.fill_(0.25)
        return self

    def _slope(self, input: Any) -> tuple[Any, int]:
        """The weight shaped to broadcast against ``input``, and the channel dim (-1 if shared)."""
        n = self.n_output_plane
        if n == 0:
            return self.weight, -1
        nd = input.dim()
        c = (nd + 1) % 2
        if nd < 1 or nd > 4 or input.size(c) != n:
            raise ShapeError(
                f"PReLU: expected an input with {n} channels (size {n}, N x {n}, {n} x H x W or N x {n} x H x W),"
                f" got {size_text(tuple(input.size()))}"
            )
        return self.weight.view(n, *([1] * (nd - 1 - c))), c

    def update_output(self, input: Any) -> Any:
        w, _ = self._slope(input)
        self.output = ft.where(input > 0, input, input * w)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        w, _ = self._slope(input)
        self.grad_input = ft.where(input > 0, grad_output, grad_output * w)
        return self.grad_input

    def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
        _, c = self._slope(input)
        contrib = ft.where(input > 0, 0.0, input * grad_output)
        if c < 0:
            total = contrib.sum()
        else:
            others = tuple(d for d in range(input.dim()) if d != c)
            total = contrib.sum(others) if others else contrib
        self.grad_weight.add_(total, alpha=scale)

    def extra_repr(self) -> str:
        return str(self.n_output_plane) if self.n_output_plane else ""


class RReLU(Module):
    """Randomised leaky ReLU: ``x`` where ``x > 0``, else ``a x``.

    In training, each element's slope ``a`` is drawn from ``U(lower, upper)`` on every forward
    pass (with flambeau's generator: ``ft.manual_seed`` reproduces the draws) and kept in ``noise``
    (1 where ``x > 0``) for the backward pass; in evaluation (or when ``upper - lower <= 1e-6``)
    the slope is the fixed ``(lower + upper) / 2``. With ``inplace=True`` the input is overwritten
    (and becomes the output) and the backward pass scales ``grad_output`` in place.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.RReLU(0.25, 0.75).evaluate()
    >>> m.forward(ft.Tensor([-2.0, 3.0])).tolist()
    [-1.0, 3.0]
    >>> _ = m.training(); y = m.forward(ft.Tensor([-2.0]))
    >>> -1.5 <= y.item() <= -0.5
    True
    """

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False) -> None:
        super().__init__()
        if not 0 <= lower <= upper:
            raise ArgumentError(f"RReLU: expected 0 <= lower <= upper, got lower={lower:g}, upper={upper:g}")
        self.lower = lower
        self.upper = upper
        self.inplace = _check_inplace_flag("RReLU", inplace)
        self.noise = ft.Tensor()

    def _random(self) -> bool:
        return bool(self.train) and self.upper - self.lower > 1e-6

    def update_output(self, input: Any) -> Any:
        if self._random():
            noise = input.new().resize_as_(input).uniform_(self.lower, self.upper)
            self.noise = noise.masked_fill_(input > 0, 1)
            self.output = input.mul_(self.noise) if self.inplace else input * self.noise
            return self.output
        slope = (self.lower + self.upper) / 2
        if self.inplace:
            neg = input <= 0
            self.output = input.masked_scatter_(neg, input[neg] * slope)
        else:
            self.output = ft.where(input > 0, input, input * slope)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        if self._random():
            self.grad_input = grad_output.mul_(self.noise) if self.inplace else grad_output * self.noise
            return self.grad_input
        slope = (self.lower + self.upper) / 2
        if self.inplace:  # slopes are >= 0, so the overwritten input keeps the sign that matters
            neg = input <= 0
            self.grad_input = grad_output.masked_scatter_(neg, grad_output[neg] * slope)
        else:
            self.grad_input = ft.where(input > 0, grad_output, grad_output * slope)
        return self.grad_input

    def extra_repr(self) -> str:
        return _with_inplace(f"{self.lower:.4g}, {self.upper:.4g}", self.inplace)


class ELU(Module):
    """``x`` where ``x > 0``, else ``alpha (exp(x) - 1)``; gradient ``g``, resp. ``(y + alpha) g``.

    With ``inplace=True`` the input is overwritten (and becomes the output); the backward pass then
    reads the sign of the output, which needs ``alpha >= 0``, and scales ``grad_output`` in place.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.ELU().forward(ft.Tensor([0.0, 2.0])).tolist()
    [0.0, 2.0]
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = _check_inplace_flag("ELU", inplace)
        if inplace and alpha < 0:
            raise ArgumentError(f"ELU: in-place processing requires alpha >= 0, got {_num(alpha)}")
        self.alpha = alpha

    def update_output(self, input: Any) -> Any:
        if self.inplace:  # only the entries <= 0 are rewritten
            neg = input <= 0
            self.output = input.masked_scatter_(neg, ft.expm1(input[neg]) * self.alpha)
        else:  # the exponential of the negative part only: no overflow
            self.output = ft.where(input > 0, input, ft.expm1(ft.cmin(input, 0)) * self.alpha)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        y = self.output
        if self.inplace:  # input is the output now: y <= 0 exactly where x <= 0 (alpha >= 0)
            neg = y <= 0
            self.grad_input = grad_output.masked_scatter_(neg, grad_output[neg] * (y[neg] + self.alpha))
        else:
            self.grad_input = ft.where(input > 0, grad_output, grad_output * (y + self.alpha))
        return self.grad_input

    def extra_repr(self) -> str:
        return _with_inplace(f"alpha={_num(self.alpha)}", self.inplace)


# --------------------------------------------------------------------------------------------------
# The softmax family.


def _softmax(x: Any, d: int) -> Any:
    """``exp(x - max) / sum exp(x - max)`` along ``d`` (kept): stable, and exact for equal entries."""
    e = ft.exp(x - x.max(d, keepdim=True)[0])
    return e / e.sum(d, keepdim=True)


class SoftMax(Module):
    """``exp(x - max) / sum exp(x - max)`` over the feature dim: dim 0 of ``C`` or ``C x H x W``, dim 1 of a batch.

    See :func:`feature_dim`. Stable (the max is subtracted first, as Torch does). Gradient: ``y (g - sum(g y))``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.SoftMax().forward(ft.Tensor([[0.0, 0.0], [1000.0, 1000.0]])).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """

    def update_output(self, input: Any) -> Any:
        d = feature_dim(input, type(self).__name__)
        self.output = _softmax(input, d)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        d = feature_dim(input, type(self).__name__)
        y = self.output
        self.grad_input = y * (grad_output - (grad_output * y).sum(d, keepdim=True))
        return self.grad_input


class SpatialSoftMax(SoftMax):
    """A softmax over the channels at each pixel of a ``C x H x W`` or ``N x C x H x W`` input.

    The same computation as :class:`SoftMax` (Torch's runs the same kernel, and so takes 1-D and
    2-D inputs too).

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.SpatialSoftMax().forward(ft.zeros(1, 4, 2, 3)).sum(1).tolist()
    [[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]]
    """


class SoftMin(Module):
    """``softmax(-x)`` over the feature dim: dim 0 of ``C`` or ``C x H x W``, dim 1 of a batch.

    See :func:`feature_dim`. Gradient: ``y (sum(g y) - g)``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.SoftMin().forward(ft.Tensor([3.0, 3.0])).tolist()
    [0.5, 0.5]
    """

    def update_output(self, input: Any) -> Any:
        d = feature_dim(input, "SoftMin")
        self.output = _softmax(-input, d)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        d = feature_dim(input, "SoftMin")
        y = self.output
        self.grad_input = y * ((grad_output * y).sum(d, keepdim=True) - grad_output)
        return self.grad_input


class LogSoftMax(Module):
    """``x - max - log sum exp(x - max)`` over the feature dim: dim 0 of ``C`` or ``C x H x W``, dim 1 of a batch.

    See :func:`feature_dim`. Two ops forward (``x - logsumexp(x)``, stable) and four backward:
    ``g - exp(y) sum(g)``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> y = nn.LogSoftMax().forward(ft.Tensor([[1000.0, 1000.0]]))
    >>> [round(v, 6) for v in y.tolist()[0]]
    [-0.693147, -0.693147]
    """

    def update_output(self, input: Any) -> Any:
        d = feature_dim(input, "LogSoftMax")
        self.output = input - input.logsumexp(d, keepdim=True)
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        d = feature_dim(input, "LogSoftMax")
        self.grad_input = grad_output - ft.exp(self.output) * grad_output.sum(d, keepdim=True)
        return self.grad_input


# --------------------------------------------------------------------------------------------------
# Constants.


def _check_constant(name: str, k: Any, tensor_ok: bool) -> None:
    if isinstance(k, bool) or not (isinstance(k, numbers.Real) or (tensor_ok and isinstance(k, Tensor))):
        what = "a number or a tensor" if tensor_ok else "a number"
        raise ArgumentError(f"{name}: the constant must be {what}, got {type(k).__name__}")


class AddConstant(Module):
    """``x + k`` for a fixed ``k``: a number, or a tensor that broadcasts against the input.

    (Torch took a vector matching the last dim.) The gradient is ``grad_output``, copied.

    With ``inplace=True`` the input is overwritten with ``x + k`` (and becomes the output); the
    backward pass subtracts ``k`` from it again (restoring it up to rounding) and returns
    ``grad_output`` itself as ``grad_input``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.AddConstant(2).forward(ft.Tensor([1.0, -1.0])).tolist()
    [3.0, 1.0]
    """

    def __init__(self, constant_scalar: Any, inplace: bool = False) -> None:
        super().__init__()
        _check_constant("AddConstant", constant_scalar, tensor_ok=True)
        self.constant_scalar = constant_scalar
        self.inplace = _check_inplace_flag("AddConstant", inplace)

    def update_output(self, input: Any) -> Any:
        k = self.constant_scalar
        self.output = input.add_(k) if self.inplace else input + k
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        if self.inplace:
            self.grad_input = grad_output
            input.sub_(self.constant_scalar)
        else:
            self.grad_input = grad_output.clone()
        return self.grad_input

    def extra_repr(self) -> str:
        k = self.constant_scalar
        text = _num(k) if not isinstance(k, Tensor) else f"tensor of size {size_text(tuple(k.size()))}"
        return _with_inplace(text, self.inplace)


class MulConstant(Module):
    """``k x`` for a fixed number ``k``; gradient ``k g``.

    With ``inplace=True`` the input is overwritten with ``k x`` (and becomes the output); the
    backward pass divides it by ``k`` again (restoring it up to rounding, so ``k`` must be
    non-zero) and scales ``grad_output`` in place, returning it as ``grad_input``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> nn.MulConstant(0.5).forward(ft.Tensor([2.0, -4.0])).tolist()
    [1.0, -2.0]
    """

    def __init__(self, constant_scalar: float, inplace: bool = False) -> None:
        super().__init__()
        _check_constant("MulConstant", constant_scalar, tensor_ok=False)
        self.inplace = _check_inplace_flag("MulConstant", inplace)
        if inplace and constant_scalar == 0:
            raise ArgumentError("MulConstant: in-place processing cannot restore the input after a multiplication by 0")
        self.constant_scalar = constant_scalar

    def update_output(self, input: Any) -> Any:
        k = self.constant_scalar
        self.output = input.mul_(k) if self.inplace else input * k
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        k = self.constant_scalar
        if self.inplace:
            self.grad_input = grad_output.mul_(k)
            input.div_(k)
        else:
            self.grad_input = grad_output * k
        return self.grad_input

    def extra_repr(self) -> str:
        return _with_inplace(_num(self.constant_scalar), self.inplace)


__all__ = [
    "ELU",
    "AddConstant",
    "HardShrink",
    "HardTanh",
    "LeakyReLU",
    "LogSigmoid",
    "LogSoftMax",
    "MulConstant",
    "PReLU",
    "RReLU",
    "ReLU",
    "ReLU6",
    "Sigmoid",
    "SoftMax",
    "SoftMin",
    "SoftPlus",
    "SoftShrink",
    "SoftSign",
    "SpatialSoftMax",
    "Tanh",
    "TanhShrink",
    "Threshold",
]
