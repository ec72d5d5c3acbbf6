"""Regularization layers (Torch's simple.md): Dropout and its spatial and volumetric forms,
L1Penalty and GradientReversal.
"""

from __future__ import annotations

from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, ShapeError

from ._layer_utils import _sz, _tensor
from .module import Module


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


__all__ = [
    "Dropout",
    "SpatialDropout",
    "VolumetricDropout",
    "L1Penalty",
    "GradientReversal",
]
