"""The form of the gradient test tables (``gradcases_<family>.py``), read by ``test_rules.py``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

R = np.random.default_rng(0)


@dataclass
class GradCase:
    """One call of an op to check with ``check_grads``.

    ``args``: numpy float arrays become float64 tensors (integer arrays LongTensors, uint8 arrays
    ByteTensors); other values pass as they are, lists and tuples recursively. ``wrt``: positions
    of the arguments to differentiate (default: the op's differentiable arguments that are float
    tensors, or, for a list argument such as cat's, the whole list). ``call(*args, **kwargs)``
    replaces the op's function form (Python syntax, a method, one output of a tuple op).
    """

    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    wrt: tuple[int, ...] | None = None
    order: int = 2
    label: str = ""
    call: Callable[..., Any] | None = None
    rtol: float = 1e-5
    atol: float = 1e-6


def arr(*shape: int, lo: float = -2.0, hi: float = 2.0) -> np.ndarray:
    """Uniform random float64 values (a fixed stream: tables are the same on every run)."""
    return R.uniform(lo, hi, shape)


def distinct(*shape: int) -> np.ndarray:
    """Float64 values at least 0.1 apart (no ties: for max, sort, median, ...)."""
    n = int(np.prod(shape)) if shape else 1
    return (R.permutation(n) * 0.1 - n * 0.05 + R.uniform(0, 0.01, n)).reshape(shape)


def spd(n: int) -> np.ndarray:
    """A well-conditioned symmetric positive definite matrix."""
    a = R.uniform(-1, 1, (n, n))
    return a @ a.T + n * np.eye(n)


def default_wrt(op: Any, args: list[Any], case: GradCase) -> list[int]:
    """The positions a case differentiates: its ``wrt``, else the op's differentiable float tensors."""
    import flambeau.tensor as ft

    if case.wrt is not None:
        return list(case.wrt)
    names = [p.name for p in op.params]
    return [
        i
        for i, n in enumerate(names[: len(args)])
        if n in op.differentiable and isinstance(args[i], ft.Tensor) and args[i].dtype.kind == "f"
    ]
