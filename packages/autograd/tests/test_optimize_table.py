"""Optimized mode against plain mode for every differentiable op, from the gradient tables.

Each case becomes a scalar loss (every float output weighted by fixed random numbers, summed) whose
gradient with respect to the case's differentiated arguments is taken plainly and through
``optimize``: the recording call must equal the plain one, and a second call with other values
(the same signature) must be a replay that equals the plain gradient at those values.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from gradcase import default_wrt
from same import assert_same
from test_rules import _function, _params, _tensor

import flambeau.tensor as ft
from flambeau.autograd import grad, optimize
from flambeau.tensor.optable import OPS
from flambeau.tensor.testing import on_device

pytestmark = pytest.mark.device


def _weighted_sum(out: Any, rng: np.random.Generator, weights: list[Any]) -> Any:
    """sum(w * out) over every float tensor in ``out``, with one fixed weight tensor per output."""
    parts = out if isinstance(out, (tuple, list)) else [out]
    total = None
    k = 0
    for p in parts:
        if isinstance(p, ft.Tensor) and p.dtype.kind == "f":
            if k == len(weights):
                weights.append(on_device(rng.uniform(0.5, 1.5, tuple(p.size()))))
            term = (p * weights[k]).sum()
            total = term if total is None else total + term
            k += 1
    return total


def _weighted_loss(op: Any, case: Any, args: list[Any]) -> tuple[Callable[[list[Any], list[Any]], Any], list[int]]:
    """``(loss, wrt)``: the weighted sum of the op's float outputs as a function ``loss(ws, rest)``
    of the arguments at positions ``wrt`` (``ws``), the others taken from ``rest``."""
    wrt = default_wrt(op, args, case) or [i for i, a in enumerate(args) if isinstance(a, list)]
    fn = _function(op, case)
    rng = np.random.default_rng(7)
    weights: list[Any] = []

    def loss(ws: list[Any], rest: list[Any]) -> Any:
        full = list(rest)
        for i, w in zip(wrt, ws, strict=True):
            full[i] = w
        return _weighted_sum(fn(*full, **case.kwargs), rng, weights)

    return loss, wrt


def _perturbed(v: Any, rng: np.random.Generator) -> Any:
    if isinstance(v, ft.Tensor) and v.dtype.kind == "f":
        return v * on_device(1 + 1e-3 * rng.uniform(-1, 1, tuple(v.size())))
    if isinstance(v, list):
        return [_perturbed(x, rng) for x in v]
    return v


@pytest.mark.parametrize(("name", "case"), _params())
def test_optimized_gradient_equals_plain(name: str, case: Any) -> None:
    args = [_tensor(a) for a in case.args]
    loss, wrt = _weighted_loss(OPS[name], case, args)
    ws = [args[i] for i in wrt]
    plain = grad(loss)
    fast = optimize(grad(loss))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback fails the test
        assert_same(fast(ws, args), plain(ws, args))
        ws2 = _perturbed(ws, np.random.default_rng(3))
        assert_same(fast(ws2, args), plain(ws2, args))
    layout_changed = any(a.is_contiguous() != b.is_contiguous() for a, b in zip(_flat(ws), _flat(ws2), strict=True))
    assert (fast.recordings, fast.replays) == ((2, 0) if layout_changed else (1, 1)), fast.fallbacks


def _flat(ws: list[Any]) -> list[Any]:
    return [x for w in ws for x in (w if isinstance(w, list) else [w])]
