"""Python callables over elements (Torch7 1.9): ``apply_``, ``map_``, ``map2_``.

In-place only, as in Torch7. The function is called once per element, in row-major order (the
storage order of a contiguous tensor), with Python numbers; a returned value other than None
replaces the element (converted to the tensor's type), None leaves it as it was. The elements
travel through a host copy, so these work on every backend, and they are slow by nature: one
Python call per element. If the function raises, the tensor is left unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ArgumentError, ShapeError
from ..optable import Op, declare
from ..registry import device_of_array


def _run(op: str, fn: Any, input: Any, *others: Any) -> Any:
    """Call ``fn(x, *ys)`` over the elements of ``input`` and ``others``; the new ``input`` array."""
    if not callable(fn):
        raise ArgumentError(f"{op}: fn must be callable, got {type(fn).__name__}")
    for i, o in enumerate(others):
        if not hasattr(o, "shape"):
            raise ArgumentError(f"{op}: argument {i + 1} must be a Tensor, got {type(o).__name__}")
        if o.size != input.size:  # Torch7: equal element counts, any shapes
            raise ShapeError(
                f"{op}: the tensors have {input.size} and {o.size} elements ({'x'.join(map(str, input.shape))} and "
                f"{'x'.join(map(str, o.shape))}); they must have as many"
            )
    dev = device_of_array(input)
    host = np.array(dev.backend.to_host(input), order="C")  # a row-major copy: reshape(-1) is a view of it
    flat = host.reshape(-1)
    columns = [flat.tolist()] + [np.asarray(dev.backend.to_host(o)).reshape(-1).tolist() for o in others]
    for i, xs in enumerate(zip(*columns, strict=True)):
        r = fn(*xs)
        if r is not None:
            flat[i] = r
    return dev.backend.from_host(host, dev.index)


def _apply(xp: Any, input: Any, fn: Callable[[Any], Any]) -> Any:
    return _run("apply_", fn, input)


def _map(xp: Any, input: Any, other: Any, fn: Callable[[Any, Any], Any]) -> Any:
    return _run("map_", fn, input, other)


def _map2(xp: Any, input: Any, tensor1: Any, tensor2: Any, fn: Callable[[Any, Any, Any], Any]) -> Any:
    return _run("map2_", fn, input, tensor1, tensor2)


_E = ">>> import flambeau.tensor as ft\n>>> "
_SLOW = " One Python call per element through a host copy: slow by nature, meant for small tensors and tests."

declare(
    Op(
        "apply",
        _apply,
        kind="fill",
        group="functional",
        doc="Call ``fn(x)`` on every element in row-major order; a returned value other than None replaces "
        "the element. In place; returns the tensor." + _SLOW,
        example=_E + "x = ft.tensor([1, 2, 3]); seen = []\n>>> x.apply_(seen.append).tolist(), seen\n"
        "([1, 2, 3], [1, 2, 3])\n>>> x.apply_(lambda v: v * 10).tolist()\n[10, 20, 30]",
    ),
    Op(
        "map",
        _map,
        ("input", "other"),
        kind="fill",
        group="functional",
        doc="Call ``fn(x, y)`` on the pairs of elements of the tensor and ``other`` (equal element counts, "
        "any shapes, as Torch7); a returned value other than None replaces the tensor's element. In place; "
        "returns the tensor." + _SLOW,
        example=_E + "x = ft.tensor([1.0, 2.0, 3.0])\n>>> x.map_(ft.tensor([[10.0, 20.0, 30.0]]), lambda a, b: a + b)"
        ".tolist()\n[11.0, 22.0, 33.0]",
    ),
    Op(
        "map2",
        _map2,
        ("input", "tensor1", "tensor2"),
        kind="fill",
        group="functional",
        doc="Call ``fn(x, y, z)`` on the elements of the tensor, ``tensor1`` and ``tensor2`` (equal element "
        "counts); a returned value other than None replaces the tensor's element. In place; returns the "
        "tensor." + _SLOW,
        example=_E + "x = ft.zeros(2)\n>>> ft.map2_(x, ft.tensor([1.0, 2.0]), ft.tensor([3.0, 4.0]), "
        "lambda a, b, c: b * c).tolist()\n[3.0, 8.0]",
    ),
)
