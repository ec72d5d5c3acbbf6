"""Transfer functions (Torch's transfer.md): element-wise non-linearities and the softmax family."""

from __future__ import annotations

from typing import Any

import flambeau.tensor as ft

from .module import Module


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


__all__ = ["Tanh"]
