"""Gradient properties at random points: every gradient case, perturbed by hypothesis.

``test_rules.py`` checks each case of the ``gradcases_*.py`` tables at its one fixed point; here
hypothesis draws points around it. Each float array argument of a case is the centre: it is
multiplied element-wise by ``1 + s * u`` with ``u`` uniform in ``[-1, 1]`` and ``s`` at most 1%,
which keeps every domain constraint the tables build in (signs, so positive arguments stay
positive and zeros stay zeros; ordering of ``distinct`` values, at least 0.1 apart; distance from
kinks and ties, and the conditioning of the linear-algebra inputs). Integer and byte arrays
(indices, masks) and Python values stay as they are. At every drawn point:

* ``check_grads`` at the case's order (2 for every case today: the gradient, then the gradient of
  the gradient) agrees with finite differences;
* ``grad(loss, optimize=True)`` equals plain ``grad(loss)`` within 1e-10, for the first call (a
  recording) and for a second point with the same signature (a replay).

A few examples per case by default (the whole file runs in seconds); ``FLAMBEAU_FUZZ=long``
draws many more.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import pytest
from gradcase import GradCase, default_wrt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from same import assert_same
from test_optimize_table import _weighted_loss
from test_rules import _function, _params, _tensor

import flambeau.tensor as ft
from flambeau.autograd import check_grads, grad
from flambeau.tensor.optable import OPS

pytestmark = pytest.mark.device

LONG = os.environ.get("FLAMBEAU_FUZZ", "") == "long"
SETTINGS = settings(
    max_examples=60 if LONG else 3,
    deadline=None,
    derandomize=not LONG,
    database=None,
    suppress_health_check=list(HealthCheck),
)
POINTS = st.tuples(st.integers(0, 2**32 - 1), st.floats(0.0, 0.01, allow_nan=False))


def _perturb(v: Any, rng: np.random.Generator, scale: float) -> Any:
    """``v`` with its float arrays scaled element-wise by ``1 + scale * u``, ``u`` in ``[-1, 1]``."""
    if isinstance(v, np.ndarray) and v.dtype.kind == "f":
        return np.asarray(v * (1 + scale * rng.uniform(-1, 1, v.shape)), dtype=v.dtype)
    if isinstance(v, list):
        return [_perturb(x, rng, scale) for x in v]
    if isinstance(v, tuple):
        return tuple(_perturb(x, rng, scale) for x in v)
    return v


def _check(name: str, case: GradCase, args: list[Any]) -> None:
    op = OPS[name]
    wrt = default_wrt(op, args, case)
    fn = _function(op, case)
    seqs = [i for i in wrt if isinstance(args[i], list)]
    if seqs:  # a list argument (cat, stack): its tensors as separate arguments
        (s,) = seqs
        n = len(args[s])
        flat = args[:s] + list(args[s]) + args[s + 1 :]

        def f(*xs: Any) -> Any:
            return fn(*(list(xs[:s]) + [list(xs[s : s + n])] + list(xs[s + n :])), **case.kwargs)

        check_grads(f, *flat, order=case.order, wrt=range(s, s + n), rtol=case.rtol, atol=case.atol)
        return
    assert wrt, f"{name}: the case differentiates nothing"
    check_grads(lambda *xs: fn(*xs, **case.kwargs), *args, order=case.order, wrt=wrt, rtol=case.rtol, atol=case.atol)


@pytest.mark.parametrize(("name", "case"), _params())
@SETTINGS
@given(point=POINTS)
def test_gradients_match_finite_differences_at_random_points(
    name: str, case: GradCase, point: tuple[int, float]
) -> None:
    seed, scale = point
    ft.manual_seed(seed % 2**31)  # check_grads' random directions
    args = [_tensor(_perturb(a, np.random.default_rng(seed), scale)) for a in case.args]
    _check(name, case, args)


@pytest.mark.parametrize(("name", "case"), _params())
@SETTINGS
@given(point=POINTS, other=POINTS)
def test_optimized_gradient_equals_plain_at_random_points(
    name: str, case: GradCase, point: tuple[int, float], other: tuple[int, float]
) -> None:
    points = []
    for seed, scale in (point, other):
        args = [_tensor(_perturb(a, np.random.default_rng(seed), scale)) for a in case.args]
        points.append(args)
    loss, wrt = _weighted_loss(OPS[name], case, points[0])

    plain = grad(loss)
    fast = grad(loss, optimize=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback to plain mode fails the test
        for args in points:  # the first call records, the second replays (same signature)
            ws = [args[i] for i in wrt]
            assert_same(fast(ws, args), plain(ws, args), rtol=1e-10, atol=1e-10)
