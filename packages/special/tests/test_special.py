"""flambeau.special against scipy.special and mpmath, driven by the records.

The tensor tests are device suites: every function on tensors of the device under test, against
scipy on the host. Numbers always compute on the cpu; the error levels are honoured there only.
"""

from __future__ import annotations

import math
import pathlib
import warnings

import numpy as np
import pytest
import scipy.special as sp

import flambeau.tensor as ft
from flambeau import special
from flambeau.special import RECORDS
from flambeau.special.records import E1, Record
from flambeau.tensor.testing import host

ROOT = pathlib.Path(__file__).resolve().parents[3]
TENSOR_RECORDS = [r for r in RECORDS if not r.numbers_only and r.params]


def reference(rec: Record, *args):
    if rec.reference is not None:
        return rec.reference(*args)
    if rec.fallback is not None and rec.scipy is None and rec.numpy is None:
        pytest.skip("no reference")  # pragma: no cover
    if rec.scipy:
        a = rec.adapt(*args) if rec.adapt else args
        return getattr(sp, rec.scipy)(*a)
    return getattr(np, rec.numpy)(*args)


def points(rec: Record):
    pts = [rec.example, *rec.edges]
    if not rec.numbers_only and (rec.arity == 1 and rec.result != "tuple" or rec.name in ("frexp",)):
        pts += list(E1)
    return pts


def close(a, b, rtol=1e-12):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind != "c" and b.dtype.kind != "c":
        a, b = a.astype(float), b.astype(float)
    return np.allclose(a, b, rtol=rtol, atol=1e-300, equal_nan=True)


@pytest.fixture(autouse=True)
def quiet():
    with special.error_level("off"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def test_talk():
    assert abs(special.gamma(0.5) - 1.7724538509055) < 1e-12
    assert abs(special.atan2(3, 1) - 1.2490457723983) < 1e-12


def test_count():
    assert len(RECORDS) >= 150
    assert len({r.name for r in RECORDS}) == len(RECORDS)


@pytest.mark.parametrize("rec", [r for r in RECORDS if r.name not in ("new_cmplx",)], ids=lambda r: r.name)
def test_numbers(rec):
    for args in points(rec):
        got = special.function(rec.name)(*args)
        want = reference(rec, *args)
        if rec.result == "tuple":
            assert isinstance(got, tuple) and all(isinstance(x, (int, float)) for x in got)
            if rec.name in ("hyp2f0", "onef2", "threef0"):
                continue  # checked against mpmath below
            assert close(np.asarray(got), np.asarray(want)), (rec.name, args, got, want)
        else:
            assert isinstance(got, (int, float, complex)), (rec.name, type(got))
            assert close(got, want), (rec.name, args, got, want)


@pytest.mark.device
@pytest.mark.parametrize("rec", TENSOR_RECORDS, ids=lambda r: r.name)
def test_tensors_broadcast(rec):
    """Each argument as a tensor in turn, the others numbers, then all tensors broadcast together."""
    fn = special.function(rec.name)
    pts = [p for p in points(rec) if len(p) == rec.arity]
    cols = list(zip(*pts, strict=True))
    for i in range(rec.arity):
        args = [ft.tensor([float(v) for v in cols[j]]) if j == i else None for j in range(rec.arity)]
        for k, pt in enumerate(pts):
            one = [args[j][k : k + 1] if j == i else pt[j] for j in range(rec.arity)]
            r = fn(*one)
            want = reference(rec, *pt)
            if rec.result == "tuple":
                assert all(close(x.tolist()[0], w) for x, w in zip(r, want, strict=False)), (rec.name, pt)
            else:
                assert isinstance(r, ft.Tensor)
                assert close(r.tolist()[0], want), (rec.name, pt, r.tolist(), want)
    # all tensors, shapes (n, 1), (1, n)... broadcast to a grid: element-wise equal to the numbers
    ex = rec.example
    ts = []
    for j, v in enumerate(ex):
        shape = [1] * rec.arity
        shape[j] = 2
        ts.append(ft.tensor(np.full(2, float(v)).reshape(shape)))
    r = fn(*ts)
    r0 = r[0] if rec.result == "tuple" else r
    assert list(r0.size()) == [2] * rec.arity
    want = reference(rec, *ex)
    want0 = want[0] if rec.result == "tuple" else want
    assert close(np.asarray(r0.tolist()), np.full([2] * rec.arity, float(want0)))


@pytest.mark.device
@pytest.mark.parametrize("rec", [r for r in TENSOR_RECORDS if r.result == "tensor"], ids=lambda r: r.name)
def test_float32_and_int_promotion(rec):
    fn = special.function(rec.name)
    args = [ft.tensor([float(v)]).float() for v in rec.example]
    r = fn(*args)
    assert r.dtype == np.float32, (rec.name, r.dtype)
    assert close(r.tolist()[0], reference(rec, *rec.example), rtol=2e-5) or not np.isfinite(r.tolist()[0])
    if all(float(v).is_integer() for v in rec.example):
        r = fn(*[ft.tensor([int(v)]) for v in rec.example])
        assert r.dtype == np.float64


@pytest.mark.device
def test_byte_results():
    assert special.isnan(math.nan) == 1 and special.signbit(-0.0) == 1
    t = special.isinf(ft.tensor([1.0, math.inf, -math.inf]))
    assert t.tolist() == [0, 1, 1]


@pytest.mark.device
def test_broadcast_four_arguments():
    a = ft.tensor([1.0, 2.0]).view(2, 1, 1, 1)
    b = ft.tensor([2.0, 3.0]).view(1, 2, 1, 1)
    c = ft.tensor([3.0, 4.0]).view(1, 1, 2, 1)
    x = ft.tensor([0.1, 0.5]).view(1, 1, 1, 2)
    r = special.hyp2f1(a, b, c, x)
    want = sp.hyp2f1(*np.broadcast_arrays(host(a), host(b), host(c), host(x)))
    assert r.device == a.device and np.allclose(host(r), want, rtol=1e-13)
    r3 = special.incbet(2.0, ft.tensor([[1.0], [3.0]]), ft.tensor([0.2, 0.4, 0.6]))
    assert list(r3.size()) == [2, 3]


MP = [
    ("gamma", (0.5,), lambda mp: mp.gamma(0.5)),
    ("lgam", (-2.5,), lambda mp: mp.log(abs(mp.gamma(-2.5)))),
    ("psi", (0.25,), lambda mp: mp.digamma(0.25)),
    ("igam", (2.0, 1.0), lambda mp: mp.gammainc(2, 0, 1, regularized=True)),
    ("igamc", (2.0, 1.0), lambda mp: mp.gammainc(2, 1, mp.inf, regularized=True)),
    ("incbet", (2.0, 3.0, 0.4), lambda mp: mp.betainc(2, 3, 0, 0.4, regularized=True)),
    ("ndtr", (1.0,), lambda mp: mp.ncdf(1)),
    ("erfc", (10.0,), lambda mp: mp.erfc(10)),
    ("ellik", (1.0, 0.5), lambda mp: mp.ellipf(1, 0.5)),
    ("ellie", (1.0, 0.5), lambda mp: mp.ellipe(1, 0.5)),
    ("ellpk", (0.3,), lambda mp: mp.ellipk(0.7)),  # m1 = 1 - m
    ("ellpe", (0.3,), lambda mp: mp.ellipe(0.7)),
    ("zeta", (2.0, 1.5), lambda mp: mp.zeta(2, 1.5)),
    ("zetac", (3.0,), lambda mp: mp.zeta(3) - 1),
    ("pdtr", (2, 1.5), lambda mp: sum(mp.exp(-1.5) * mp.mpf(1.5) ** k / mp.factorial(k) for k in range(3))),
    ("stdtr", (3, 1.0), lambda mp: 0.5 + mp.atan(1 / mp.sqrt(3)) / mp.pi + mp.sqrt(3) / (4 * mp.pi)),
    ("jn", (3, 2.5), lambda mp: mp.besselj(3, 2.5)),
    ("kn", (2, 1.0), lambda mp: mp.besselk(2, 1)),
    ("struve", (1.0, 2.0), lambda mp: mp.struveh(1, 2)),
    ("hyperg", (1.0, 2.0, 0.5), lambda mp: mp.hyp1f1(1, 2, 0.5)),
    ("polylog", (3, 0.9), lambda mp: mp.polylog(3, 0.9)),
    ("polylog", (4, -0.8), lambda mp: mp.polylog(4, -0.8)),
    ("spence", (0.5,), lambda mp: mp.polylog(2, 0.5)),
    ("ei", (1.0,), lambda mp: mp.ei(1)),
    ("dawsn", (1.0,), lambda mp: mp.sqrt(mp.pi) / 2 * mp.exp(-1) * mp.erfi(1)),
    ("expx2", (2.0, -1), lambda mp: mp.exp(-4)),
    ("lmvgam", (3.0, 2), lambda mp: mp.log(mp.pi) / 2 + mp.loggamma(3) + mp.loggamma(2.5)),
]


@pytest.mark.parametrize(("name", "args", "f"), MP, ids=[m[0] for m in MP])
def test_mpmath(name, args, f):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 30
    assert close(special.function(name)(*args), float(f(mpmath)), rtol=1e-12)


def test_series_against_mpmath():
    mpmath = pytest.importorskip("mpmath")
    v, err = special.onef2(1.0, 2.0, 3.0, 0.5)
    assert close(v, float(mpmath.hyper([1], [2, 3], 0.5)))
    v, err = special.hyp2f0(0.5, 1.0, -0.01, 1)
    assert abs(v - float(mpmath.hyp2f0(0.5, 1, -0.01))) <= max(err, 1e-15) * 10
    v, err = special.threef0(0.5, 1.0, 1.5, -0.001)
    assert abs(v - float(mpmath.hyper([0.5, 1, 1.5], [], -0.001, asymp_tol=1e-20))) < 1e-10


def test_conventions():
    # fdtri inverts the upper tail, as in cephes
    assert close(special.fdtrc(2.0, 3.0, special.fdtri(2.0, 3.0, 0.25)), 0.25)
    assert close(special.ellpk(0.0), math.inf)  # K(m=1)
    assert close(special.gdtr(2.0, 3.0, 1.5), sp.gammainc(3.0, 3.0))
    assert special.frexp(8.0) == (0.5, 4)
    assert special.powi(2.0, 10.7) == 1024.0
    assert special.cadd(1 + 2j, 3) == 4 + 2j and special.csub(1, 3) == 2 and special.cdiv(2, 6) == 3
    assert math.isnan(special.nan())
    assert special.fac(5) == 120.0 and special.fac(-1) == math.inf


def test_error_levels():
    assert special.get_error_level() == "off"  # the fixture
    with special.error_level("error"):
        with pytest.raises(ft.DomainError, match="gamma"):
            special.gamma(-1.0)
        with pytest.raises(ft.DomainError):
            special.psi(ft.tensor([0.0, 1.0]))
        with pytest.raises(ft.DomainError):
            special.log(ft.tensor([-1.0]))
        assert special.gamma(0.5) > 0
    with special.error_level("warning"):
        with pytest.warns(Warning):
            assert special.gamma(-1.0) != special.gamma(-1.0)  # nan, with a SpecialFunctionWarning
        with pytest.warns(RuntimeWarning):
            special.sqrt(ft.tensor([-1.0]))
    with special.error_level("off"), warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isinf(special.gamma(0.0)) and math.isnan(special.sqrt(-1.0))
    special.set_error_level(1)
    assert special.get_error_level() == "error"
    special.set_error_level("off")
    with pytest.raises(ft.ArgumentError):
        special.set_error_level("loud")


def test_default_level_is_warning():
    import threading

    from flambeau.special import _core

    seen = []
    saved = _core._DEFAULT[0]
    _core._DEFAULT[0] = "warning"
    t = threading.Thread(target=lambda: seen.append(special.get_error_level()))
    t.start()
    t.join()
    _core._DEFAULT[0] = saved
    assert seen == ["warning"]


def test_arity_error():
    with pytest.raises(ft.ArgumentError):
        special.gamma(1.0, 2.0)


def test_docs_current():
    from flambeau.special.reference import render

    assert (ROOT / "docs" / "special.md").read_text() == render(), (
        "run python -m flambeau.special.reference > docs/special.md"
    )


@pytest.mark.parametrize("name", sorted(special.FUNCTIONS), ids=str)
def test_documented(name):
    doc = special.function(name).__doc__
    assert "Examples" in doc and f">>> special.{special.function(name).__name__}(" in doc
    assert "Error" not in doc.split("Examples")[1]


def test_the_cupyx_corrections_patch_what_cupyx_gets_wrong() -> None:
    """The wrappers put around cupyx kernels, run here with numpy stand-ins for those kernels."""
    from flambeau.special._core import _cupyx_native
    from flambeau.special.records import BY_NAME

    def broken_j0(x: np.ndarray) -> np.ndarray:  # as cupyx's j0: 0 at +-inf, where cephes gives nan
        return np.where(np.isinf(x), 0.0, sp.j0(x))

    j0 = _cupyx_native(BY_NAME["j0"], broken_j0, np)
    x = np.array([-np.inf, 0.0, 2.5, np.inf])
    np.testing.assert_array_equal(j0(x), sp.j0(x))

    def broken_beta(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # nan where a + b is a pole of gamma
        return np.full(np.broadcast(a, b).shape, np.nan)

    beta = _cupyx_native(BY_NAME["beta"], broken_beta, np)
    assert beta(np.array([-1.5, 2.0]), np.array([0.5, 3.0])).tolist()[0] == 0.0
    assert np.isnan(beta(np.array([2.0]), np.array([3.0]))[0])  # elsewhere the kernel's value stands

    seen = []
    polygamma = _cupyx_native(BY_NAME["polygamma"], lambda n, x: seen.append(type(n)) or x, np)
    polygamma(1, np.array([1.0]))
    assert seen == [np.ndarray]  # the Python int order became an array
