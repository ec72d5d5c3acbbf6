"""``Container`` (modules holding modules) and ``Sequential``, the chain."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, IndexError

from .errors import located
from .module import Module


class Container(Module):
    """A module made of child modules (``self.modules``): parameters, modes and resets go to every child.

    An error raised inside a child names the child's position and class on its way out, so a
    failure deep in a model reads ``(3) nn.Sequential: (1) nn.Linear(256 -> 10): size mismatch ...``.
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        self.modules: list[Module] = []
        for m in modules:
            self.add(m)

    def add(self, module: Module) -> Container:
        """Append a child; returns self (so ``Sequential().add(a).add(b)`` chains)."""
        if not isinstance(module, Module):
            raise ArgumentError(f"{type(self).__name__}.add: expected an nn module, got {type(module).__name__}")
        self.modules.append(module)
        return self

    def get(self, index: int) -> Module:
        """The child at ``index`` (0-based; negative counts from the end)."""
        try:
            return self.modules[index]
        except builtins.IndexError:
            raise IndexError(
                f"{type(self).__name__}.get: index {index} is out of range for {len(self.modules)} modules"
            ) from None

    def size(self) -> int:
        """The number of children."""
        return len(self.modules)

    def __len__(self) -> int:
        return len(self.modules)

    def __getitem__(self, index: int) -> Module:
        return self.get(index)

    def run(self, i: int, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` for child ``i``, with an error naming the child's place."""
        try:
            return fn(*args)
        except Exception as e:
            name = repr(self.modules[i]).split("\n", 1)[0].removesuffix(" {")  # a container: its first line
            raise located(e, f"({i}) {name}") from None

    def parameters(self) -> tuple[list[Tensor], list[Tensor]]:
        params: list[Tensor] = []
        grads: list[Tensor] = []
        for m in self.modules:
            p, g = m.parameters()
            params += p
            grads += g
        return params, grads

    def reset(self, stdv: float | None = None) -> Container:
        for m in self.modules:
            m.reset(stdv)
        return self

    def share(self, other: Module, *names: str) -> Container:
        """Share the named fields child by child with ``other``'s children (same structure)."""
        theirs = other.children()
        if len(theirs) != len(self.modules):
            raise ArgumentError(
                f"share: {type(self).__name__} has {len(self.modules)} modules, the other {len(theirs)}"
            )
        for mine, t in zip(self.modules, theirs, strict=True):
            mine.share(t, *names)
        return self

    def __repr__(self) -> str:
        name = f"nn.{type(self).__name__}"
        if not self.modules:
            return name
        lines = [f"{name} {{"]
        for i, m in enumerate(self.modules):
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({i}): {child}")
        lines.append("}")
        return "\n".join(lines)


class Sequential(Container):
    """Modules applied one after another: Torch's ``nn.Sequential``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> mlp = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    >>> mlp.forward(ft.ones(5, 4)).size()
    Size([5, 2])
    >>> print(mlp)
    nn.Sequential {
      [input -> (0) -> (1) -> (2) -> output]
      (0): nn.Linear(4 -> 3)
      (1): nn.Tanh
      (2): nn.Linear(3 -> 2)
    }
    """

    def insert(self, module: Module, index: int | None = None) -> Sequential:
        """Insert ``module`` before position ``index`` (at the end by default); returns self."""
        self.modules.insert(len(self.modules) if index is None else index, module)
        return self

    def remove(self, index: int | None = None) -> Module:
        """Remove and return the child at ``index`` (the last by default)."""
        return self.modules.pop(-1 if index is None else index)

    def update_output(self, input: Any) -> Any:
        out = input
        for i, m in enumerate(self.modules):
            out = self.run(i, m.update_output, out)
        self.output = out
        return out

    def _inputs(self, input: Any) -> list[Any]:
        return [input] + [m.output for m in self.modules[:-1]]

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        g = grad_output
        ins = self._inputs(input)
        for i in range(len(self.modules) - 1, -1, -1):
            g = self.run(i, self.modules[i].update_grad_input, ins[i], g)
        self.grad_input = g
        return g

    def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
        g = grad_output
        ins = self._inputs(input)
        for i in range(len(self.modules) - 1, -1, -1):
            m = self.modules[i]
            self.run(i, m.acc_grad_parameters, ins[i], g, scale)
            g = m.grad_input

    def backward(self, input: Any, grad_output: Any, scale: float = 1.0) -> Any:
        g = grad_output
        ins = self._inputs(input)
        for i in range(len(self.modules) - 1, -1, -1):
            g = self.run(i, self.modules[i].backward, ins[i], g, scale)
        self.grad_input = g
        return g

    def backward_update(self, input: Any, grad_output: Any, lr: float) -> Any:
        g = grad_output
        ins = self._inputs(input)
        for i in range(len(self.modules) - 1, -1, -1):
            g = self.run(i, self.modules[i].backward_update, ins[i], g, lr)
        self.grad_input = g
        return g

    def acc_update_grad_parameters(self, input: Any, grad_output: Any, lr: float) -> None:
        g = grad_output
        ins = self._inputs(input)
        for i in range(len(self.modules) - 1, -1, -1):
            m = self.modules[i]
            self.run(i, m.acc_update_grad_parameters, ins[i], g, lr)
            g = m.grad_input

    def __repr__(self) -> str:
        text = super().__repr__()
        if not self.modules:
            return text
        chain = " -> ".join(["input", *(f"({i})" for i in range(len(self.modules))), "output"])
        head, rest = text.split("\n", 1)
        return f"{head}\n  [{chain}]\n{rest}"


__all__ = ["Container", "Sequential"]
