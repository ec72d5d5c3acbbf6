"""Every op of the table against its numpy/scipy reference, through every generated form.

Cases live in ``opcases.py``. Each case runs over its dtypes and over several memory layouts of
the first tensor argument (contiguous, strided, transposed, offset into a larger storage), and
through the function, method, ``out=`` and in-place forms the op has.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from opcases import CASES, Case
from support import layouts

import flambeau.tensor as ft
from flambeau.tensor.optable import OPS
from flambeau.tensor.testing import CUDA_LIMITATIONS, host, limited, on_device, shares_memory

pytestmark = pytest.mark.device

# Random ops are checked statistically in test_creation.py.
RECORDS = {op.name: op for op in OPS.values() if op.kind == "op" and not op.rng}
# Ops whose only form is Python syntax.
SYNTAX = {"getitem": lambda t, key: t[key]}


def test_every_op_of_the_table_has_cases() -> None:
    missing = sorted(n for n in RECORDS if n not in CASES)
    assert not missing, f"ops without test cases in opcases.py: {missing}"
    unknown = sorted(n for n in CASES if n not in RECORDS)
    assert not unknown, f"cases for ops that are not in the table: {unknown}"


def _params() -> list[Any]:
    out = []
    for name, cases in CASES.items():
        for i, case in enumerate(cases):
            for dt in case.dtypes:
                out.append(
                    pytest.param(
                        name,
                        case,
                        np.dtype(dt),
                        id=f"{name}-{i}{'-' + case.label if case.label else ''}-{np.dtype(dt)}",
                    )
                )
    return out


def _cast(v: Any, dt: np.dtype) -> Any:
    if isinstance(v, np.ndarray) and v.dtype == np.float64:
        return v.astype(dt)
    if isinstance(v, list):
        return [_cast(x, dt) for x in v]
    return v


def _to_tensor(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return on_device(v)
    if isinstance(v, list):
        return [_to_tensor(x) for x in v]
    return v


def _ref_args(v: Any, case: Case) -> Any:
    if (
        isinstance(v, np.ndarray)
        and case.float_op
        and v.dtype.kind in "iu"
        and v.dtype != np.uint8
        or (isinstance(v, np.ndarray) and case.float_op and v.dtype == np.uint8)
    ):
        return v.astype(np.float64)
    return v


def _strided(name: str, layout: str) -> bool:
    """Whether a view comes from ``as_strided`` (unfold; the "strided" layout is made by unfold)."""
    return name == "unfold" or layout == "strided"


def _columns_up_to_sign(a: np.ndarray) -> np.ndarray:
    """Each column (last dim) times the sign of its first entry of (nearly) the largest magnitude."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim < 2 or a.size == 0:
        return a
    big = np.abs(a) >= np.abs(a).max(axis=-2, keepdims=True) * (1 - 1e-3)
    first = np.take_along_axis(a, np.argmax(big, axis=-2)[..., None, :], axis=-2)
    return a * np.where(first < 0, -1.0, 1.0)


def check(result: Any, expected: Any, case: Case, what: str) -> None:
    if isinstance(expected, (list, tuple)):
        assert isinstance(result, (list, tuple)) and len(result) == len(expected), what
        for i, (r, e) in enumerate(zip(result, expected, strict=False)):
            if i in case.sign_free and isinstance(r, ft.Tensor) and np.asarray(e).size:
                assert not case.exact_dtype or host(r).dtype == np.asarray(e).dtype, f"{what}: dtype"
                got, want = _columns_up_to_sign(host(r)), _columns_up_to_sign(e)
                tol = max(case.tol, 1e-5) if r.dtype in (np.float32, np.float16) else case.tol
                np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"{what} (up to sign)")
                continue
            check(r, e, case, what)
        return
    expected = np.asarray(expected)
    assert isinstance(result, ft.Tensor), f"{what}: expected a Tensor, got {type(result).__name__}"
    got = host(result)
    assert got.shape == expected.shape, f"{what}: size {got.shape} != {expected.shape}"
    if case.exact_dtype:
        assert got.dtype == expected.dtype, f"{what}: dtype {got.dtype} != {expected.dtype}"
    tol = max(case.tol, 1e-5) if got.dtype in (np.float32, np.float16) else case.tol
    if got.dtype.kind == "f":
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(got, expected, err_msg=what)


@pytest.mark.parametrize(("name", "case", "dt"), _params())
def test_op_matches_reference(name: str, case: Case, dt: np.dtype) -> None:
    op = RECORDS[name]
    fn = getattr(ft, name) if "function" in op.variants else SYNTAX[name] if name in SYNTAX else None
    assert fn is not None or "method" in op.variants, f"{name}: no form to test"
    args = [_cast(a, dt) for a in case.args]
    expected = case.ref(*[_ref_args(a, case) for a in args], **case.kwargs)
    if op.result == "byte":
        assert np.asarray(expected).dtype == np.uint8
    first = args[0]
    variants = layouts(first) if isinstance(first, np.ndarray) else {"given": None}
    if case.contiguous_only:
        variants = {k: v for k, v in variants.items() if v is None or v.is_contiguous()}
    for layout, t0 in variants.items():
        targs = [_to_tensor(a) for a in args]
        if t0 is not None:
            targs[0] = t0
        what = f"{name}[{layout}, {dt}]"
        snapshot = [t.clone() if isinstance(t, ft.Tensor) else t for t in targs]
        if fn is not None:
            r = fn(*targs, **case.kwargs)
            check(r, expected, case, what + " function")
            if op.result == "view" and isinstance(t0, ft.Tensor) and r.nelement():
                if not shares_memory(r, t0) and limited() and _strided(name, layout):
                    pytest.xfail(f"cuda: {CUDA_LIMITATIONS['strided storage']}")
                assert shares_memory(r, t0), f"{what}: a view op must share the input's storage"
        if "method" in op.variants and isinstance(targs[0], ft.Tensor):
            check(getattr(targs[0], name)(*targs[1:], **case.kwargs), expected, case, what + " method")
        for t, s in zip(targs, snapshot, strict=False):  # out-of-place forms never touch their inputs
            if isinstance(t, ft.Tensor):
                assert t.equal(s), f"{what}: an input was modified"
        if "out" in op.variants and fn is not None and not isinstance(expected, list):
            _check_out(fn, targs, case, expected, what)
        if "inplace" in op.variants:
            _check_inplace(name, targs, case, expected, what)


def _check_out(fn: Any, targs: list[Any], case: Case, expected: Any, what: str) -> None:
    if isinstance(expected, tuple):
        outs = tuple(ft.empty(0, dtype=np.asarray(e).dtype) for e in expected)
        r = fn(*targs, **case.kwargs, out=outs)
        assert all(a is b for a, b in zip(r, outs, strict=False)), f"{what}: out= must return the given tensors"
        check(tuple(r), expected, case, what + " out=")
        return
    out = ft.empty(2, 7, dtype=np.asarray(expected).dtype)  # the wrong size: out= resizes, as Torch7
    r = fn(*targs, **case.kwargs, out=out)
    assert r is out, f"{what}: out= must return the given tensor"
    check(out, expected, case, what + " out=")


def _check_inplace(name: str, targs: list[Any], case: Case, expected: Any, what: str) -> None:
    target = targs[0].clone()
    before = target.clone()
    expected = np.asarray(expected)
    fits = expected.shape == tuple(target.size()) and np.can_cast(expected.dtype, target.dtype, "same_kind")
    method = getattr(target, name + "_")
    if fits:
        r = method(*targs[1:], **case.kwargs)
        assert r is target, f"{what}: in-place forms return self"
        check(target, expected.astype(target.dtype), case, what + " in-place")
    else:
        with pytest.raises(ft.FlambeauError) as e:
            method(*targs[1:], **case.kwargs)
        assert name + "_" in str(e.value) or name in str(e.value), f"{what}: the error must name the op"
        assert target.equal(before), f"{what}: a failed in-place op must leave its target unchanged"
