"""Simple layers (Torch's simple.md): Linear and the shape, arithmetic and reduction layers."""

from __future__ import annotations

from typing import Any

import flambeau.tensor as ft
from flambeau.tensor.errors import ShapeError, size_text

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
        self.grad_input = grad_output @ self.weight
        return self.grad_input

    def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
        if input.dim() == 1:
            self.grad_weight.add_(ft.ger(grad_output, input), alpha=scale)
            if "bias" in self.__dict__:
                self.grad_bias.add_(grad_output, alpha=scale)
        else:
            self.grad_weight.addmm_(grad_output.t(), input, alpha=scale)
            if "bias" in self.__dict__:
                self.grad_bias.add_(grad_output.sum(0), alpha=scale)

    def extra_repr(self) -> str:
        text = f"{self.weight.size(1)} -> {self.weight.size(0)}"
        return text if "bias" in self.__dict__ else text + ", without bias"


__all__ = ["Linear"]
