"""Every differentiable op against finite differences, first and second order, from the tables.

The tables are ``gradcases_<family>.py``; a meta-test keeps them and the rules in step with the op
table: every differentiable op has a rule for each differentiable argument and at least one case,
and every rule names a real op and one of its tensor arguments.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gradcase import GradCase, default_wrt

import flambeau.tensor as ft
from flambeau.autograd import check_grads, gradients_info
from flambeau.autograd.registry import _HISTORY, RULES, load_gradients
from flambeau.tensor.optable import OPS, Op
from flambeau.tensor.testing import on_device

CASES: dict[str, list[GradCase]] = {}
for path in sorted(Path(__file__).parent.glob("gradcases_*.py")):
    for name, cases in importlib.import_module(path.stem).CASES.items():
        CASES.setdefault(name, []).extend(cases)

DIFFERENTIABLE = {op.name: op for op in OPS.values() if op.differentiable}


def test_every_differentiable_op_has_a_rule_per_differentiable_argument() -> None:
    load_gradients()
    missing = []
    for op in DIFFERENTIABLE.values():
        names = [p.name for p in op.params]
        have = RULES.get(op, {})
        missing += [f"{op.name}({n})" for n in op.differentiable if names.index(n) not in have]
    assert not missing, f"differentiable arguments without a gradient rule: {missing}"


def test_every_rule_names_an_op_and_a_tensor_argument() -> None:
    load_gradients()
    ops = set(OPS.values())
    for key, per_argument in _HISTORY.items():
        if not isinstance(key, Op):  # primitives (autograd's own clone, type, to, copy_; users')
            continue
        if key not in ops and not getattr(key.impl, "__module__", "").startswith("flambeau.tensor."):
            continue  # an op another package declares for itself (flambeau.special's): its own tests check it
        assert key in ops, f"a rule names {key!r}, which is not in the op table"
        names = [p.name for p in key.params]
        for i in per_argument:
            assert names[i] in key.tensors + key.seqs, f"{key.name}: rule for {names[i]!r}, not a tensor argument"
    assert {i.op for i in gradients_info()} >= {op.name for op in DIFFERENTIABLE.values()}


def test_every_differentiable_op_has_gradient_cases() -> None:
    missing = sorted(n for n in DIFFERENTIABLE if n not in CASES)
    assert not missing, f"differentiable ops without cases in gradcases_*.py: {missing}"
    unknown = sorted(n for n in CASES if n not in OPS)
    assert not unknown, f"gradient cases for ops that are not in the table: {unknown}"


def _tensor(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return on_device(v.astype(np.float64) if v.dtype.kind == "f" else v)
    if isinstance(v, list):
        return [_tensor(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_tensor(x) for x in v)
    return v


def _params() -> list[Any]:
    return [
        pytest.param(name, case, id=f"{name}-{i}{'-' + case.label if case.label else ''}")
        for name, cases in sorted(CASES.items())
        for i, case in enumerate(cases)
    ]


def _function(op: Op, case: GradCase) -> Any:
    if case.call is not None:
        return case.call
    fn = getattr(ft, op.name, None)
    if fn is None or "function" not in op.variants:
        raise AssertionError(f"{op.name}: no function form; give the case a call=")
    return fn


@pytest.mark.device
@pytest.mark.parametrize(("name", "case"), _params())
def test_gradient_matches_finite_differences(name: str, case: GradCase) -> None:
    op = OPS[name]
    args = [_tensor(a) for a in case.args]
    wrt = default_wrt(op, args, case)
    fn = _function(op, case)
    seqs = [i for i in wrt if isinstance(args[i], list)]
    if seqs:  # a list argument (cat, stack): differentiate its tensors one by one, as separate arguments
        (s,) = seqs
        n = len(args[s])
        flat = args[:s] + list(args[s]) + args[s + 1 :]

        def f(*xs: Any) -> Any:
            full = list(xs[:s]) + [list(xs[s : s + n])] + list(xs[s + n :])
            return fn(*full, **case.kwargs)

        check_grads(f, *flat, order=case.order, wrt=range(s, s + n), rtol=case.rtol, atol=case.atol)
        return
    assert wrt, f"{name}: the case differentiates nothing"
    check_grads(lambda *xs: fn(*xs, **case.kwargs), *args, order=case.order, wrt=wrt, rtol=case.rtol, atol=case.atol)
