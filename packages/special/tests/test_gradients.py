"""Gradients of every differentiable special function, checked against finite differences.

The gradient checks are device suites (tensors on the device under test).
"""

from __future__ import annotations

import warnings

import pytest

import flambeau.tensor as ft
from flambeau import special
from flambeau.special import RECORDS
from flambeau.special.gradients import RULES

autograd = pytest.importorskip("flambeau.autograd")

SAFE = {  # points away from kinks, poles and branch cuts where the example sits on one
    "round": (2.3,),
    "floor": (2.3,),
    "ceil": (2.3,),
    "expm1": (0.3,),
    "log1p": (0.3,),
    "cosm1": (0.3,),
    "igami": (2.0, 0.4),
    "smirnov": (5, 0.3),
}
DIFF = [r for r in RECORDS if r.diff]


@pytest.fixture(autouse=True)
def quiet():
    with special.error_level("off"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def test_every_differentiable_function_has_rules():
    for r in DIFF:
        assert r.name in RULES, r.name
        assert len(RULES[r.name]) == len(r.diff), r.name
    assert set(RULES) <= {r.name for r in RECORDS}


def test_registered_through_entry_point():
    from importlib.metadata import entry_points

    eps = [e for e in entry_points(group="flambeau.gradients") if e.value == "flambeau.special.gradients"]
    assert eps
    info = autograd.gradients_info(special.gamma)
    assert info and "flambeau-special" in info[0].source


@pytest.mark.device
@pytest.mark.parametrize("rec", DIFF, ids=lambda r: r.name)
def test_check_grads(rec):
    pt = SAFE.get(rec.name, rec.example)
    pos = [rec.params.index(p) for p in rec.diff]
    args = [ft.tensor([float(v), float(v) * 1.01 + (0.0 if v else 0.01)]) if i in pos else v for i, v in enumerate(pt)]
    if rec.name in ("igami", "kolmogi", "ndtri", "stdtri", "chdtri", "pdtri", "smirnovi", "incbi", "fdtri"):
        args = [ft.tensor([float(v), float(v) * 0.98]) if i in pos else v for i, v in enumerate(pt)]
    fn = special.function(rec.name)
    autograd.check_grads(lambda *a: fn(*a), *args, order=1, wrt=pos, rtol=1e-4, atol=1e-6)


@pytest.mark.device
def test_grad_values():
    g = autograd.grad(lambda x: special.gamma(x).sum())(ft.tensor([0.5, 2.0]))
    g = g[0] if isinstance(g, tuple) else g
    import scipy.special as sp

    assert abs(g.tolist()[1] - sp.gamma(2.0) * sp.psi(2.0)) < 1e-12
    # second order through the rules (gamma's rule uses psi, whose rule uses polygamma)
    autograd.check_grads(lambda x: special.gamma(x), ft.tensor([1.5, 2.5]), order=2)
