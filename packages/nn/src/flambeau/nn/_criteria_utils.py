"""Helpers shared by the criteria (``criteria_classification``, ``criteria_regression``,
``criteria_embedding``).
"""

from __future__ import annotations

from typing import Any

from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, ShapeError, size_text

from .criterion import Criterion


def _sizes(t: Tensor) -> str:
    return size_text(tuple(t.size()))


def _tensor(who: str, x: Any, what: str = "input") -> Tensor:
    if not isinstance(x, Tensor):
        raise ArgumentError(f"{who}: expected the {what} to be a tensor, got {type(x).__name__}")
    return x


def _like_input(who: str, input: Any, target: Any) -> tuple[Tensor, Tensor]:
    """``input`` and ``target`` as tensors of the same size (Torch asks for the same element count)."""
    x = _tensor(who, input)
    t = _tensor(who, target, "target")
    if t.size() != x.size():
        if t.nelement() != x.nelement():
            raise ShapeError(
                f"{who}: expected a target with as many elements as the input ({_sizes(x)}, {x.nelement()}"
                f" elements), got {_sizes(t)} ({t.nelement()} elements)"
            )
        t = t.reshape(tuple(x.size()))
    if t.dtype != x.dtype:  # integer labels, or a double target for a float input: the input's type
        t = t.type(x.dtype)  # (the dtype only: a target on another device is an error, never moved)
    return x, t


def _norm(crit: Criterion, n: int) -> float:
    """The factor a summed loss is multiplied by: ``1/n`` with ``size_average``, else 1."""
    return 1.0 / n if crit.size_average and n > 0 else 1.0
