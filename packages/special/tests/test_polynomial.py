"""flambeau.special.polynomial against numpy, scipy and series identities.

The tests that pass or get tensors are device suites (tensors on the device under test).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.polynomial.chebyshev as cheb
import numpy.polynomial.polynomial as npoly
import pytest
from scipy.integrate import simpson

import flambeau.tensor as ft
from flambeau.special import polynomial as poly

RNG = np.random.default_rng(7)


def tl(t) -> np.ndarray:
    return np.asarray(t.tolist(), dtype=np.float64)


@pytest.fixture(autouse=True)
def _maxdeg():
    old = poly.polini(16)
    yield
    poly.polini(old)


@pytest.mark.device
def test_polevl_p1evl_against_polyval():
    c = RNG.normal(size=6)
    for x in (-1.3, 0.0, 0.7, 2.5):
        assert poly.polevl(x, c, 5) == pytest.approx(np.polyval(c, x), rel=1e-13)
        assert poly.polevl(x, ft.tensor(list(c)), 5) == pytest.approx(np.polyval(c, x), rel=1e-13)
        assert poly.p1evl(x, c[1:], 5) == pytest.approx(np.polyval([1.0, *c[1:]], x), rel=1e-13)
    xs = np.linspace(-2, 2, 7)
    out = poly.polevl(ft.tensor(list(xs)), c, 5)
    assert ft.is_tensor(out) and out.device == ft.zeros(1).device  # on the device of x
    np.testing.assert_allclose(tl(out), np.polyval(c, xs), rtol=1e-13)
    np.testing.assert_allclose(tl(poly.p1evl(ft.tensor(list(xs)), c[1:], 5)), np.polyval([1.0, *c[1:]], xs), rtol=1e-13)
    assert isinstance(poly.polevl(1, [1, 2], 1), float)


@pytest.mark.device
def test_chbevl_is_reversed_halved_chebyshev_at_half_x():
    c = RNG.normal(size=7)
    d = c[::-1]
    for x in (-1.9, -0.3, 0.0, 1.1, 2.0):
        expect = cheb.chebval(x / 2, d) - d[0] / 2
        assert poly.chbevl(x, c, 7) == pytest.approx(expect, abs=1e-13)
    xs = np.linspace(-2, 2, 5)
    out = poly.chbevl(ft.tensor(list(xs)), c, 7)
    np.testing.assert_allclose(tl(out), cheb.chebval(xs / 2, d) - d[0] / 2, atol=1e-13)
    assert out.device == ft.zeros(1).device


@pytest.mark.device
def test_arith_against_numpy():
    a, b = RNG.normal(size=4), RNG.normal(size=6)
    np.testing.assert_allclose(tl(poly.polmul(a, 3, b, 5)), npoly.polymul(a, b), rtol=1e-13)
    np.testing.assert_allclose(tl(poly.poladd(a, 3, b, 5)), npoly.polyadd(a, b), rtol=1e-13)
    np.testing.assert_allclose(tl(poly.polsub(a, 3, b, 5)), npoly.polysub(b, a), rtol=1e-13)  # b - a
    np.testing.assert_allclose(tl(poly.polsub(b, 5, a, 3)), npoly.polysub(a, b), rtol=1e-13)
    np.testing.assert_allclose(tl(poly.polmov(ft.tensor(list(a)), 3)), a)
    assert tl(poly.polclr(None, 4)).tolist() == [0.0] * 5
    t = ft.tensor([1.0, 2.0, 3.0])
    poly.polclr(t, 1)
    assert t.tolist() == [0.0, 0.0, 3.0]
    for x in (-0.5, 1.5):
        assert poly.poleva(a, 3, x) == pytest.approx(npoly.polyval(x, a), rel=1e-13)


@pytest.mark.device
def test_truncation_at_maxdeg():
    poly.polini(4)
    a = [1.0, 2.0, 3.0, 4.0]
    assert tl(poly.polmul(a, 3, a, 3)).tolist() == npoly.polymul(a, a)[:5].tolist()
    assert len(poly.polmov([1.0] * 10, 9).tolist()) == 5
    assert len(poly.poldiv([1.0, 1.0], 1, [1.0], 0).tolist()) == 5


def test_poldiv_power_series():
    a = np.array([2.0, -1.0, 0.5])
    b = RNG.normal(size=5)
    q = tl(poly.poldiv(a, 2, b, 4))
    assert len(q) == 17
    np.testing.assert_allclose(npoly.polymul(q, a)[:17], np.append(b, np.zeros(12)), atol=1e-12)
    # exact division agrees with numpy.polydiv
    num = npoly.polymul(a, [1.0, 3.0])
    quo, rem = npoly.polydiv(num, a)
    np.testing.assert_allclose(tl(poly.poldiv(a, 2, num, 3))[:2], quo, atol=1e-13)
    np.testing.assert_allclose(tl(poly.poldiv(a, 2, num, 3))[2:], 0.0, atol=1e-13)
    assert np.allclose(rem, 0.0)
    # a[0] == 0 and b[0] == 0: both divided by x
    np.testing.assert_allclose(tl(poly.poldiv([0.0, 1.0, 1.0], 2, [0.0, 1.0], 1))[:4], [1.0, -1.0, 1.0, -1.0])
    with pytest.raises(ZeroDivisionError):
        poly.poldiv([0.0], 0, [1.0], 0)


def test_polsbt_is_b_of_a():
    a, b = RNG.normal(size=3), RNG.normal(size=4)
    c = tl(poly.polsbt(a, 2, b, 3))
    assert len(c) == 2 * 3 + 3 + 1
    for x in (-0.7, 0.3, 1.2):
        assert npoly.polyval(x, c) == pytest.approx(npoly.polyval(npoly.polyval(x, a), b), rel=1e-12)


def test_polprt(capsys):
    text = poly.polprt([1.0, -2.5, 3.25e-7], 2, 4)
    assert capsys.readouterr().out == text
    assert [float(v) for v in text.split()] == [1.0, -2.5, 3.25e-7]
    assert text.split()[0] == "1.0000e+00"
    long = poly.polprt([1.0] * 12, 11, 6)
    assert all(len(line) < 78 for line in long.splitlines())
    assert len(long.split()) == 12


def test_polrt_against_roots():
    roots = np.array([-2.0, 0.5, 3.0])
    xcof = npoly.polyfromroots(roots)
    got = sorted(poly.polrt(xcof, None, 3), key=lambda z: z.real)
    np.testing.assert_allclose([z.real for z in got], roots, atol=1e-12)
    got2 = poly.polrt([1.0, 0.0, 1.0], 2)
    assert sorted(z.imag for z in got2) == pytest.approx([-1.0, 1.0])
    c = RNG.normal(size=6)
    np.testing.assert_allclose(
        sorted(poly.polrt(c, None, 5), key=lambda z: (z.real, z.imag)),
        sorted(np.roots(c[::-1]), key=lambda z: (z.real, z.imag)),
    )


@pytest.mark.device
def test_revers():
    # y = exp(x) - 1  <->  x = log(1 + y)
    n = 8
    y = [0.0] + [1.0 / math.factorial(k) for k in range(1, n + 1)]
    x = tl(poly.revers(y, None, n))
    np.testing.assert_allclose(x, [0.0] + [(-1.0) ** (k + 1) / k for k in range(1, n + 1)], atol=1e-13)
    s = np.append(0.0, RNG.normal(size=n))
    s[1] = 1.7
    np.testing.assert_allclose(tl(poly.revers(poly.revers(s, n), n)), s, rtol=1e-9, atol=1e-9)
    out = ft.zeros(n + 1)
    poly.revers(y, out, n)
    np.testing.assert_allclose(tl(out), x)
    with pytest.raises(ValueError):
        poly.revers([1.0, 1.0], None, 1)


@pytest.mark.parametrize(("num", "den"), [(12, 18), (-35, 14), (7, 13), (0, 5), (1071, 462)])
def test_euclid(num, den):
    n2, d2, g = poly.euclid(num, den)
    assert g == math.gcd(num, den)
    assert (n2 * g, d2 * g) == (num, den)
    assert all(isinstance(v, float) for v in (n2, d2, g))


@pytest.mark.device
def test_simpsn():
    # 8-panel Newton-Cotes groups, exact for polynomials up to degree 9
    x = np.linspace(0.0, 2.0, 17)
    f = x**9 - 3 * x**4
    assert poly.simpsn(f, x[1] - x[0]) == pytest.approx(2.0**10 / 10 - 3 * 2.0**5 / 5, rel=1e-12)
    assert poly.simpsn(ft.tensor(list(np.exp(x))), x[1] - x[0]) == pytest.approx(math.exp(2.0) - 1, rel=1e-12)
    # cephes's 9-point formula for smooth functions vs scipy
    x9 = np.linspace(0.0, 1.0, 9)
    assert poly.simpsn(np.sin(x9), x9[1]) == pytest.approx(simpson(np.sin(x9), x=x9), rel=1e-5)
    assert poly.simpsn(np.sin(x9), x9[1]) == pytest.approx(1 - math.cos(1.0), rel=1e-9)
    for npts in (3, 7, 10, 12):  # composite Simpson (+ 3/8 on odd interval counts)
        xs = np.linspace(0.0, 1.0, npts)
        got = poly.simpsn(np.exp(xs), xs[1])
        assert got == pytest.approx(simpson(np.exp(xs), x=xs), rel=1e-4)
        assert got == pytest.approx(math.e - 1, rel=1e-3)
    assert poly.simpsn([2.0, 4.0], 0.5) == 1.5
    assert poly.simpsn([2.0], 0.5) == 0.0


def test_polsin_polcos_identity():
    nn = 10
    x = np.append([0.3], RNG.normal(size=4))
    s, c = tl(poly.polsin(x, None, nn)), tl(poly.polcos(x, nn))
    one = npoly.polymul(s, s)[: nn + 1] + npoly.polymul(c, c)[: nn + 1]
    np.testing.assert_allclose(one, np.eye(1, nn + 1)[0], atol=1e-12)
    # against Taylor series of sin(0.3 + t) with x = 0.3 + t
    expect = [math.sin(0.3 + k * math.pi / 2) / math.factorial(k) for k in range(nn + 1)]
    np.testing.assert_allclose(tl(poly.polsin([0.3, 1.0], None, nn)), expect, atol=1e-14)
    with pytest.raises(ValueError):
        poly.polsin(x, None, 17)


def test_polsqt():
    nn = 10
    p = np.append([2.5], RNG.normal(size=5))
    r = tl(poly.polsqt(p, None, nn))
    np.testing.assert_allclose(npoly.polymul(r, r)[: nn + 1], np.append(p, np.zeros(nn - 5)), atol=1e-11)
    # leading x**2 factor
    r2 = tl(poly.polsqt([0.0, 0.0, 4.0, 4.0, 1.0], nn))
    np.testing.assert_allclose(r2[:4], [0.0, 2.0, 1.0, 0.0], atol=1e-14)
    with pytest.raises(ValueError):
        poly.polsqt([0.0, 1.0], None, 4)
    with pytest.raises(ValueError):
        poly.polsqt([-1.0, 1.0], None, 4)


def test_polatn():
    nn = 9
    # tan series (sin/cos) gives atan(tan t) = t
    sin_t = tl(poly.polsin([0.0, 1.0], None, nn))
    cos_t = tl(poly.polcos([0.0, 1.0], None, nn))
    np.testing.assert_allclose(tl(poly.polatn(sin_t, cos_t, None, nn)), np.eye(1, nn + 1, 1)[0], atol=1e-13)
    tan_t = tl(poly.poldiv(cos_t, nn, sin_t, nn))[: nn + 1]
    np.testing.assert_allclose(tl(poly.polatn(tan_t, [1.0], nn)), np.eye(1, nn + 1, 1)[0], atol=1e-13)
    # constant term branch and a shift of both
    assert tl(poly.polatn([-1.0], [-1.0], None, 3))[0] == pytest.approx(math.atan2(-1.0, -1.0))
    np.testing.assert_allclose(tl(poly.polatn([0.0, 0.0, 1.0], [0.0, 1.0], None, 3)), [0.0, 1.0, 0.0, -1.0 / 3])


def test_drand():
    poly.sdrand()
    first = [poly.drand() for _ in range(1000)]
    assert all(1.0 <= v < 2.0 for v in first)
    assert 1.4 < float(np.mean(first)) < 1.6
    poly.sdrand()
    assert [poly.drand() for _ in range(1000)] == first
    poly.sdrand(12345)
    a = [poly.drand() for _ in range(10)]
    poly.sdrand(12345)
    assert [poly.drand() for _ in range(10)] == a
    assert a != first[:10]
    poly.sdrand((1, 10000, 3000))
    assert poly.drand() == first[0]
    # the documented recurrence
    sx, sy, sz = 171 % 30269, 10000 * 172 % 30307, 3000 * 170 % 30323
    r = sx / 30269 + sy / 30307 + sz / 30323
    assert first[0] == 1.0 + (r - math.floor(r))
    with pytest.raises(ValueError):
        poly.sdrand((0, 1, 1))


def test_all_exported():
    assert set(poly.__all__) <= set(dir(poly))
    assert len(poly.__all__) == 23
