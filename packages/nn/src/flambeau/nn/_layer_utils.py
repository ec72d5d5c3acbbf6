"""Helpers shared by the simple layers (``linear``, ``reshaping``, ``elementwise``, ``regularization``)."""

from __future__ import annotations

from typing import Any

from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, size_text


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


def _safe(y: Tensor) -> Tensor:
    """``y`` with zeros replaced by ones (to divide by a norm that may vanish)."""
    return y.masked_fill(y.eq(0), 1.0)
