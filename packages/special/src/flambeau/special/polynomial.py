"""cephes's polynomial and power-series helpers, Simpson integration, ``euclid`` and ``drand``.

Two coefficient orders are used, as in cephes:

- :func:`polevl`, :func:`p1evl` and :func:`chbevl` (polevl.c, chbevl.c) take the coefficient of
  the HIGHEST degree first;
- the polyn.c arithmetic (:func:`polclr`, :func:`polmov`, :func:`poladd`, :func:`polsub`,
  :func:`polmul`, :func:`poldiv`, :func:`polsbt`, :func:`poleva`, :func:`polprt`, :func:`polrt`),
  the series helpers (:func:`revers`, :func:`polatn`, :func:`polsqt`, :func:`polsin`,
  :func:`polcos`) take the CONSTANT TERM first: ``a[0] + a[1] x + a[2] x**2 + ...``.

Coefficients may be flambeau tensors (1-D), numpy arrays or Python lists of numbers; a degree
argument ``n`` means that ``n + 1`` coefficients are read.  Coefficient results are new 1-D
``DoubleTensor`` s; scalar results are Python floats.  Where cephes writes into an output array
(``polsub(a, na, b, nb, c)``, ``polsin(x, y, nn)``, ...) the Python function returns the result
instead; the series functions still accept cephes's output argument (``None``, or a tensor that is
then filled in place); their inputs are series: missing high-order coefficients count as zeros.

The polyn.c functions truncate at the module's maximum degree, set by :func:`polini` (default 16,
as a call ``polini(16)`` would give).

>>> from flambeau.special import polynomial as P
>>> P.polmul([1, 1], 1, [1, -1], 1).tolist()
[1.0, 0.0, -1.0]
>>> P.polevl(2.0, [1, 0, -1], 2)
3.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import flambeau.tensor as ft

__all__ = [
    "chbevl",
    "drand",
    "euclid",
    "p1evl",
    "poladd",
    "polatn",
    "polclr",
    "polcos",
    "poldiv",
    "poleva",
    "polevl",
    "polini",
    "polmov",
    "polmul",
    "polprt",
    "polrt",
    "polsbt",
    "polsin",
    "polsqt",
    "polsub",
    "revers",
    "sdrand",
    "simpsn",
]

Coef = Any  # a flambeau tensor, a numpy array or a sequence of numbers

_MAXPOL = 16


def _coef(a: Coef, n: int, name: str = "coef") -> np.ndarray:
    """The first ``n + 1`` coefficients of ``a`` as a float64 numpy array."""
    arr = np.asarray(a.tolist() if ft.is_tensor(a) else a, dtype=np.float64).reshape(-1)
    if n < 0:
        raise ValueError(f"{name}: degree must be >= 0, got {n}")
    if arr.size < n + 1:
        raise ValueError(f"{name}: {n + 1} coefficients needed, got {arr.size}")
    return arr[: n + 1].copy()


def _series(a: Coef, nn: int, name: str) -> np.ndarray:
    """A series to degree ``nn``: missing high-order coefficients are zero, extra ones dropped."""
    arr = np.asarray(a.tolist() if ft.is_tensor(a) else a, dtype=np.float64).reshape(-1)[: nn + 1]
    if arr.size == 0:
        raise ValueError(f"{name}: no coefficients")
    return np.append(arr, np.zeros(nn + 1 - arr.size))


def _tensor(c: np.ndarray, out: Any = None) -> Any:
    """``c`` as a new DoubleTensor; also written into ``out`` when that is a tensor."""
    if out is not None and ft.is_tensor(out):
        for i in range(min(len(c), len(out.tolist()))):
            out[i] = float(c[i])
    return ft.tensor([float(v) for v in c])


def _is_x_tensor(x: Any) -> bool:
    return bool(ft.is_tensor(x))


def _x_array(x: Any) -> np.ndarray:
    xa = np.asarray(x)  # a tensor's values on the host (a copy from any device other than the cpu)
    return xa if np.issubdtype(xa.dtype, np.floating) else xa.astype(np.float64)


def _on_x_device(values: np.ndarray, x: Any) -> Any:
    """``values`` (computed on the host) as a tensor on the device of the tensor ``x``."""
    return ft.from_numpy(values).to(x.device)


def _degree_and_out(out: Any, n: int | None, name: str) -> tuple[Any, int]:
    """cephes's ``(..., out, n)`` tail: ``out`` may be omitted (``None`` or the degree itself)."""
    if n is None:
        if isinstance(out, int | np.integer) and not isinstance(out, bool):
            return None, int(out)
        raise TypeError(f"{name}: the truncation degree is required")
    return out, int(n)


# ---------------------------------------------------------------- evaluation (highest degree first)


def polevl(x: Any, coef: Coef, n: int) -> Any:
    """Evaluate a polynomial by Horner's rule, highest degree first (cephes polevl.c).

    Parameters
    ----------
    x : float or Tensor
        The point(s); a tensor is evaluated element-wise and gives a new tensor.
    coef : Tensor or sequence of float
        ``n + 1`` coefficients, ``coef[0]`` multiplies ``x**n``.
    n : int
        The degree.

    Returns
    -------
    float or Tensor
        ``coef[0] x**n + coef[1] x**(n-1) + ... + coef[n]``.

    Examples
    --------
    >>> polevl(2.0, [1, 2, 3], 2)
    11.0
    >>> import flambeau.tensor as ft
    >>> polevl(ft.tensor([0.0, 1.0]), [1, 2, 3], 2).tolist()
    [3.0, 6.0]
    """
    c = _coef(coef, n, "polevl")
    if _is_x_tensor(x):
        xa = _x_array(x)
        acc = np.full_like(xa, c[0])
        for ci in c[1:]:
            acc = acc * xa + ci
        return _on_x_device(acc, x)
    xf = float(x)
    ans = float(c[0])
    for ci in c[1:]:
        ans = ans * xf + float(ci)
    return ans


def p1evl(x: Any, coef: Coef, n: int) -> Any:
    """Evaluate a monic polynomial, highest degree first: the leading 1 is implicit (cephes p1evl).

    Parameters
    ----------
    x : float or Tensor
        The point(s); a tensor is evaluated element-wise.
    coef : Tensor or sequence of float
        ``n`` coefficients: those of ``x**(n-1)``, ..., ``x**0``.
    n : int
        The degree (``n >= 1``).

    Returns
    -------
    float or Tensor
        ``x**n + coef[0] x**(n-1) + ... + coef[n-1]``.

    Examples
    --------
    >>> p1evl(2.0, [2, 3], 2)
    11.0
    """
    if n < 1:
        raise ValueError(f"p1evl: degree must be >= 1, got {n}")
    c = _coef(coef, n - 1, "p1evl")
    if _is_x_tensor(x):
        xa = _x_array(x)
        acc = xa + c[0]
        for ci in c[1:]:
            acc = acc * xa + ci
        return _on_x_device(acc, x)
    xf = float(x)
    ans = xf + float(c[0])
    for ci in c[1:]:
        ans = ans * xf + float(ci)
    return ans


def chbevl(x: Any, coef: Coef, n: int) -> Any:
    """Evaluate a Chebyshev series as cephes chbevl.c does (Clenshaw's recurrence).

    ``b0 = coef[0]``; for ``i = 1 .. n-1``: ``b2 = b1; b1 = b0; b0 = x*b1 - b2 + coef[i]``; the
    result is ``0.5 * (b0 - b2)``.  With ``d = coef[::-1]`` this is
    ``sum(d[k] T_k(x/2)) - d[0]/2``: cephes's tables hold the coefficients in reverse order, the
    constant term is halved and the caller passes the already transformed argument ``x`` (twice the
    argument of the Chebyshev polynomials, on ``[-2, 2]``).

    Parameters
    ----------
    x : float or Tensor
        The transformed argument; a tensor is evaluated element-wise.
    coef : Tensor or sequence of float
        ``n`` coefficients, highest order first.
    n : int
        The number of coefficients (``n >= 1``).

    Returns
    -------
    float or Tensor

    Examples
    --------
    >>> chbevl(1.0, [1.0, 0.0, 2.0], 3)  # T_2(0.5) + 2/2
    0.5
    """
    if n < 1:
        raise ValueError(f"chbevl: n must be >= 1, got {n}")
    c = _coef(coef, n - 1, "chbevl")
    if _is_x_tensor(x):
        xa = _x_array(x)
        b0 = np.full_like(xa, c[0])
        b1 = np.zeros_like(xa)
        b2 = np.zeros_like(xa)
        for ci in c[1:]:
            b2 = b1
            b1 = b0
            b0 = xa * b1 - b2 + ci
        return _on_x_device(0.5 * (b0 - b2), x)
    xf = float(x)
    s0, s1, s2 = float(c[0]), 0.0, 0.0
    for ci in c[1:]:
        s2 = s1
        s1 = s0
        s0 = xf * s1 - s2 + float(ci)
    return 0.5 * (s0 - s2)


# ---------------------------------------------------------------- polyn.c (constant term first)


def polini(maxdeg: int = 16) -> int:
    """Set the maximum degree of the polyn.c functions (cephes polini); returns the previous one.

    Results of :func:`polmul`, :func:`poladd`, ... are truncated at this degree and
    :func:`poldiv` returns ``maxdeg + 1`` coefficients.  cephes allocates its work arrays here;
    flambeau only records the degree.  The default, before any call, is 16.

    Parameters
    ----------
    maxdeg : int
        The new maximum degree (``>= 0``).

    Returns
    -------
    int
        The maximum degree in force before the call.

    Examples
    --------
    >>> old = polini(4)
    >>> polmul([1, 1], 1, [1, 2, 1], 2).tolist()
    [1.0, 3.0, 3.0, 1.0]
    >>> polini(old)
    4
    """
    global _MAXPOL
    if maxdeg < 0:
        raise ValueError(f"polini: maxdeg must be >= 0, got {maxdeg}")
    old, _MAXPOL = _MAXPOL, int(maxdeg)
    return old


def polclr(a: Coef, n: int) -> Any:
    """Zero coefficients ``0 .. min(n, maxdeg)`` (cephes polclr).

    Parameters
    ----------
    a : Tensor, list or None
        A tensor or list is zeroed in place (its first entries); ``None`` is allowed.
    n : int
        The degree.

    Returns
    -------
    Tensor
        ``min(n, maxdeg) + 1`` zeros.

    Examples
    --------
    >>> polclr(None, 2).tolist()
    [0.0, 0.0, 0.0]
    """
    m = min(int(n), _MAXPOL) + 1
    if a is not None and ft.is_tensor(a):
        for i in range(min(m, len(a.tolist()))):
            a[i] = 0.0
    elif isinstance(a, list):
        for i in range(min(m, len(a))):
            a[i] = 0.0
    return ft.tensor([0.0] * m)


def polmov(a: Coef, na: int) -> Any:
    """Copy the coefficients ``0 .. min(na, maxdeg)`` of ``a`` (cephes polmov).

    Examples
    --------
    >>> polmov([1, 2, 3], 1).tolist()
    [1.0, 2.0]
    """
    na = min(int(na), _MAXPOL)
    return _tensor(_coef(a, na, "polmov"))


def _addsub(a: Coef, na: int, b: Coef, nb: int, sign: float, name: str) -> Any:
    ca, cb = _coef(a, na, name), _coef(b, nb, name)
    n = min(max(na, nb), _MAXPOL)
    c = np.zeros(n + 1)
    c[: min(nb, n) + 1] += cb[: n + 1]
    c[: min(na, n) + 1] += sign * ca[: n + 1]
    return _tensor(c)


def poladd(a: Coef, na: int, b: Coef, nb: int) -> Any:
    """``b + a`` (cephes poladd), degree ``min(max(na, nb), maxdeg)``.

    Examples
    --------
    >>> poladd([1, 2], 1, [1, 1, 1], 2).tolist()
    [2.0, 3.0, 1.0]
    """
    return _addsub(a, na, b, nb, 1.0, "poladd")


def polsub(a: Coef, na: int, b: Coef, nb: int) -> Any:
    """``b - a`` (cephes polsub: ``polsub(a, na, b, nb, c)`` sets ``c = b - a``).

    Examples
    --------
    >>> polsub([1, 2], 1, [1, 1, 1], 2).tolist()
    [0.0, -1.0, 1.0]
    """
    return _addsub(a, na, b, nb, -1.0, "polsub")


def _mul(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Product of two coefficient arrays truncated at degree ``n`` (``n + 1`` coefficients)."""
    c = np.zeros(n + 1)
    for i, ai in enumerate(a[: n + 1]):
        if ai != 0.0:
            k = min(len(b), n + 1 - i)
            c[i : i + k] += ai * b[:k]
    return c


def polmul(a: Coef, na: int, b: Coef, nb: int) -> Any:
    """``b * a`` (cephes polmul), truncated at degree ``min(na + nb, maxdeg)``.

    Examples
    --------
    >>> polmul([1, 2], 1, [3, 4], 1).tolist()
    [3.0, 10.0, 8.0]
    """
    ca, cb = _coef(a, na, "polmul"), _coef(b, nb, "polmul")
    return _tensor(_mul(ca, cb, min(na + nb, _MAXPOL)))


def _series_div(num: np.ndarray, den: np.ndarray, n: int) -> np.ndarray:
    """Power series ``num / den`` to degree ``n``; ``den[0]`` must be nonzero."""
    tb = np.zeros(n + 1)
    tb[: min(len(num), n + 1)] = num[: n + 1]
    ta = np.zeros(n + 1)
    ta[: min(len(den), n + 1)] = den[: n + 1]
    q = np.zeros(n + 1)
    for i in range(n + 1):
        quot = tb[i] / ta[0]
        tb[i:] -= quot * ta[: n + 1 - i]
        q[i] = quot
    return q


def poldiv(a: Coef, na: int, b: Coef, nb: int) -> Any:
    """Power-series quotient ``b / a`` to degree ``maxdeg`` (cephes poldiv's long division).

    As in cephes, when ``a[0] == 0`` both series are divided by ``x`` first (only the denominator
    when ``b[0] != 0``: the result must then be divided by ``x``, which cephes reports through its
    return value and flambeau through a :class:`RuntimeWarning`).  An all-zero denominator raises
    :class:`ZeroDivisionError` (cephes: ``mtherr("poldiv", SING)``).

    Returns
    -------
    Tensor
        ``maxdeg + 1`` coefficients.

    Examples
    --------
    >>> old = polini(3)
    >>> poldiv([1, -1], 1, [1], 0).tolist()  # 1 / (1 - x)
    [1.0, 1.0, 1.0, 1.0]
    >>> _ = polini(old)
    """
    ca, cb = _coef(a, na, "poldiv"), _coef(b, nb, "poldiv")
    if not np.any(ca):
        raise ZeroDivisionError("poldiv: the denominator is zero")
    while ca[0] == 0.0:
        ca = np.append(ca[1:], 0.0)
        if cb[0] != 0.0:
            import warnings

            warnings.warn("poldiv singularity: divide the quotient by x", RuntimeWarning, stacklevel=2)
        else:
            cb = np.append(cb[1:], 0.0)
    return _tensor(_series_div(cb, ca, _MAXPOL))


def _compose(outer: np.ndarray, inner: np.ndarray, n: int) -> np.ndarray:
    """``outer(inner(x))`` truncated at degree ``n`` (Horner on series)."""
    r = np.zeros(n + 1)
    for c in outer[::-1]:
        r = _mul(r, inner, n)
        r[0] += c
    return r


def polsbt(a: Coef, na: int, b: Coef, nb: int) -> Any:
    """Substitute ``a(x)`` for the variable of ``b``: ``c = b(a(x))`` (cephes polsbt).

    The result has ``min(na * nb + nb, maxdeg) + 1`` coefficients, as cephes copies them (the
    terms above ``na * nb`` are zero).

    Examples
    --------
    >>> polsbt([1, 1], 1, [0, 0, 1], 2).tolist()  # (1 + x)**2
    [1.0, 2.0, 1.0, 0.0, 0.0]
    """
    ca, cb = _coef(a, na, "polsbt"), _coef(b, nb, "polsbt")
    k = min(na * nb + nb, _MAXPOL)
    return _tensor(_compose(cb, ca, k))


def poleva(a: Coef, na: int, x: Any) -> Any:
    """Evaluate ``a[0] + a[1] x + ... + a[na] x**na`` (cephes poleva; ``x`` may be a tensor).

    Examples
    --------
    >>> poleva([1, 2, 3], 2, 2.0)
    17.0
    """
    return polevl(x, _coef(a, na, "poleva")[::-1], na)


def polprt(a: Coef, na: int, d: int) -> str:
    """Print the coefficients ``0 .. na`` with ``d`` decimals (cephes polprt); return the text.

    Each number is written as C's ``%{d+8}.{d}e`` followed by a space, and a new line starts
    before a line would reach 78 characters, as in cephes.

    Examples
    --------
    >>> text = polprt([1, -2.5], 1, 3)  # doctest: +NORMALIZE_WHITESPACE
       1.000e+00  -2.500e+00
    >>> text.split()
    ['1.000e+00', '-2.500e+00']
    """
    c = _coef(a, na, "polprt")
    d1 = d + 8
    parts: list[str] = []
    j = 0
    for v in c:
        j += d1 + 1
        if j >= 78:
            parts.append("\n")
            j = d1 + 1
        parts.append(f"{v:{d1}.{d}e} ")
    parts.append("\n")
    text = "".join(parts)
    print(text, end="")
    return text


def polrt(xcof: Coef, cof: Any = None, m: int | None = None) -> list[complex]:
    """Roots of ``xcof[0] + xcof[1] x + ... + xcof[m] x**m`` (cephes polrt).

    cephes iterates Newton's method from a set of starting points with deflation; flambeau calls
    :func:`numpy.roots` (eigenvalues of the companion matrix) on the reversed coefficients, which
    is more robust.  ``cof`` is cephes's work array and is ignored (``polrt(xcof, m)`` also works).
    Leading zero coefficients lower the degree.

    Returns
    -------
    list of complex
        The ``m`` roots (fewer when ``xcof[m] == 0``), in numpy's order.

    Examples
    --------
    >>> sorted(polrt([2, -3, 1], None, 2), key=lambda z: z.real)
    [(1+0j), (2+0j)]
    """
    _, m = _degree_and_out(cof, m, "polrt")
    c = _coef(xcof, m, "polrt")
    return [complex(z) for z in np.roots(c[::-1])]


def revers(y: Coef, x: Any = None, n: int | None = None) -> Any:
    """Reversion of a power series (cephes revers.c).

    Given ``y = a1 x + a2 x**2 + ... + an x**n`` (``a[0]`` must be 0 and ``a1 != 0``), return the
    coefficients of ``x = b1 y + b2 y**2 + ... + bn y**n`` (``b[0] = 0``), truncated at degree
    ``n``.  Computed by the fixed-point iteration ``x <- x + (y - a(x)) / a1`` on series (each step
    fixes one more coefficient) with the composition of :func:`polsbt`.  ``x`` is cephes's output
    array: ``None`` or a tensor, filled in place (``revers(y, n)`` also works).

    Examples
    --------
    >>> revers([0, 1, 1], None, 3).tolist()  # y = x + x**2
    [0.0, 1.0, -1.0, 2.0]
    """
    out, n = _degree_and_out(x, n, "revers")
    a = _series(y, n, "revers")
    if a[0] != 0.0:
        raise ValueError("revers: the constant term must be zero")
    if n < 1 or a[1] == 0.0:
        raise ValueError("revers: the linear coefficient must be nonzero")
    ident = np.zeros(n + 1)
    ident[1] = 1.0
    b = ident / a[1]
    for _ in range(n):
        b = b + (ident - _compose(a, b, n)) / a[1]
    return _tensor(b, out)


def euclid(num: float, den: float) -> tuple[float, float, float]:
    """Reduce the fraction ``num / den`` by the greatest common divisor (cephes euclid.c).

    cephes updates ``*num`` and ``*den`` in place and returns the gcd; flambeau returns all three.
    The arguments must be integers (as floats or ints); the signs are kept on the reduced values
    and the gcd is positive.  ``euclid(0, 0)`` returns ``(0.0, 0.0, 0.0)``.

    Returns
    -------
    (float, float, float)
        ``(num / g, den / g, g)``.

    Examples
    --------
    >>> euclid(12, -18)
    (2.0, -3.0, 6.0)
    """
    if float(num) != math.floor(float(num)) or float(den) != math.floor(float(den)):
        raise ValueError("euclid: num and den must be integers")
    g = math.gcd(int(num), int(den))
    if g == 0:
        return 0.0, 0.0, 0.0
    return float(int(num) // g), float(int(den) // g), float(g)


# 8-panel Newton-Cotes weights of cephes simpsn.c (its "8th order formula"), times 8 panels.
_SIMCON = (
    3.488536155202821869e-2,
    2.076895943562610229e-1,
    -3.27336860670194003527e-2,
    3.7022927689594356261e-1,
    -1.6014109347442680776e-1,
)
_NCOTE = 8


def simpsn(f: Coef, delta: float) -> float:
    """Integrate values tabulated at spacing ``delta`` (cephes simpsn.c).

    cephes integrates exactly 9 points with the 8-panel Newton-Cotes formula (weights ``simcon``,
    ``8 delta sum(w_i f_i)``).  flambeau applies that formula panel group by panel group when
    ``len(f) - 1`` is a positive multiple of 8; otherwise it uses composite Simpson's rule (with
    Simpson's 3/8 rule on the last three intervals when their number is odd, the trapezoid rule for
    a single interval and 0 for a single point).

    Parameters
    ----------
    f : Tensor or sequence of float
        The tabulated values.
    delta : float
        The spacing of the arguments.

    Returns
    -------
    float

    Examples
    --------
    >>> simpsn([float(i) for i in range(9)], 1.0)  # 8 panels: int_0^8 x dx
    32.0
    >>> simpsn([0.0, 1.0, 4.0], 1.0)  # Simpson: int_0^2 x**2 dx
    2.6666666666666665
    """
    v = _coef(f, len(f.tolist() if ft.is_tensor(f) else f) - 1, "simpsn")
    n = len(v) - 1
    h = float(delta)
    if n >= _NCOTE and n % _NCOTE == 0:
        total = 0.0
        for s in range(0, n, _NCOTE):
            p = v[s : s + _NCOTE + 1]
            ans = _SIMCON[_NCOTE // 2] * p[_NCOTE // 2]
            for i in range(_NCOTE // 2):
                ans += _SIMCON[i] * (p[i] + p[_NCOTE - i])
            total += ans * h * _NCOTE
        return float(total)
    if n == 0:
        return 0.0
    if n == 1:
        return float(0.5 * h * (v[0] + v[1]))
    total = 0.0
    m = n if n % 2 == 0 else n - 3
    if m > 0:
        total += h / 3.0 * (v[0] + 4.0 * v[1:m:2].sum() + 2.0 * v[2 : m - 1 : 2].sum() + v[m])
    if m != n:
        total += 3.0 * h / 8.0 * (v[m] + 3.0 * v[m + 1] + 3.0 * v[m + 2] + v[m + 3])
    return float(total)


# ---------------------------------------------------------------- polmisc.c (FFI-only in torch-cephes)


def _check_nn(nn: int, name: str) -> int:
    if nn < 0 or nn > _MAXPOL:
        raise ValueError(f"{name}: nn must be in 0..maxdeg ({_MAXPOL}), got {nn}; see polini")
    return int(nn)


def polatn(num: Coef, den: Coef, ans: Any = None, nn: int | None = None) -> Any:
    """Power series of ``atan(num(x) / den(x))`` to degree ``nn`` (cephes polatn).

    The constant term is ``atan2(num[0], den[0])`` (the branch of the quotient of the constant
    terms; when both are zero a common factor ``x`` is removed first) and the rest is the integral
    of ``(num' den - num den') / (num**2 + den**2)``.  ``ans`` is cephes's output array: ``None`` or
    a tensor, filled in place (``polatn(num, den, nn)`` also works).  ``nn`` may not exceed the
    maximum degree of :func:`polini`.

    Examples
    --------
    >>> [round(c, 12) for c in polatn([0, 1, 0, 0], [1, 0, 0, 0], None, 3).tolist()]
    [0.0, 1.0, 0.0, -0.333333333333]
    """
    out, nn = _degree_and_out(ans, nn, "polatn")
    nn = _check_nn(nn, "polatn")
    p, q = _series(num, nn, "polatn"), _series(den, nn, "polatn")
    if not (np.any(p) or np.any(q)):
        raise ValueError("polatn: num and den are both zero")
    while p[0] == 0.0 and q[0] == 0.0:
        p, q = np.append(p[1:], 0.0), np.append(q[1:], 0.0)
    dp = np.append(p[1:] * np.arange(1, nn + 1), 0.0)
    dq = np.append(q[1:] * np.arange(1, nn + 1), 0.0)
    deriv = _series_div(_mul(dp, q, nn) - _mul(p, dq, nn), _mul(p, p, nn) + _mul(q, q, nn), nn)
    c = np.zeros(nn + 1)
    c[0] = math.atan2(p[0], q[0])
    c[1:] = deriv[:nn] / np.arange(1, nn + 1)
    return _tensor(c, out)


def polsqt(pol: Coef, ans: Any = None, nn: int | None = None) -> Any:
    """Power series of ``sqrt(pol(x))`` to degree ``nn`` (cephes polsqt).

    The lowest nonzero coefficient must be of even degree ``2k`` and positive (otherwise
    :class:`ValueError`, cephes's ``mtherr("polsqt", DOMAIN)``); the result starts at degree ``k``
    and is computed by the recurrence of ``s**2 = pol``.  ``ans`` is cephes's output array
    (``None`` or a tensor, filled in place; ``polsqt(pol, nn)`` also works).

    Examples
    --------
    >>> polsqt([1, 2, 1], None, 3).tolist()  # sqrt((1 + x)**2)
    [1.0, 1.0, 0.0, 0.0]
    """
    out, nn = _degree_and_out(ans, nn, "polsqt")
    nn = _check_nn(nn, "polsqt")
    p = _series(pol, nn, "polsqt")
    nz = np.flatnonzero(p)
    c = np.zeros(nn + 1)
    if nz.size == 0:
        return _tensor(c, out)
    m = int(nz[0])
    if m % 2 or p[m] < 0.0:
        raise ValueError("polsqt: the series has no real power-series square root")
    k = m // 2
    u = np.append(p[m:], np.zeros(m))  # pol / x**m, to degree nn
    s = np.zeros(nn + 1)
    s[0] = math.sqrt(u[0])
    for i in range(1, nn + 1 - k):
        s[i] = (u[i] - float(np.dot(s[1:i], s[i - 1 : 0 : -1]))) / (2.0 * s[0])
    c[k:] = s[: nn + 1 - k]
    return _tensor(c, out)


def _sincos(x: Coef, nn: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    a = _series(x, nn, name)
    a0 = float(a[0])
    w = a.copy()
    w[0] = 0.0
    sin_t = np.zeros(nn + 1)
    cos_t = np.zeros(nn + 1)
    for k in range(nn + 1):
        term = (-1.0) ** (k // 2) / math.factorial(k)
        if k % 2:
            sin_t[k] = term
        else:
            cos_t[k] = term
    sw, cw = _compose(sin_t, w, nn), _compose(cos_t, w, nn)
    sa, ca = math.sin(a0), math.cos(a0)
    return sa * cw + ca * sw, ca * cw - sa * sw


def polsin(x: Coef, y: Any = None, nn: int | None = None) -> Any:
    """Power series of ``sin(x(t))`` to degree ``nn`` (cephes polsin).

    ``sin(a + w) = sin(a) cos(w) + cos(a) sin(w)`` with ``a = x[0]`` and the Taylor series of sin
    and cos composed with ``w = x - a``.  ``y`` is cephes's output array (``None`` or a tensor,
    filled in place; ``polsin(x, nn)`` also works).

    Examples
    --------
    >>> [round(c, 12) for c in polsin([0, 1], None, 3).tolist()]
    [0.0, 1.0, 0.0, -0.166666666667]
    """
    out, nn = _degree_and_out(y, nn, "polsin")
    nn = _check_nn(nn, "polsin")
    return _tensor(_sincos(x, nn, "polsin")[0], out)


def polcos(x: Coef, y: Any = None, nn: int | None = None) -> Any:
    """Power series of ``cos(x(t))`` to degree ``nn`` (cephes polcos); see :func:`polsin`.

    Examples
    --------
    >>> [round(c, 12) for c in polcos([0, 1], None, 4).tolist()]
    [1.0, 0.0, -0.5, 0.0, 0.041666666667]
    """
    out, nn = _degree_and_out(y, nn, "polcos")
    nn = _check_nn(nn, "polcos")
    return _tensor(_sincos(x, nn, "polcos")[1], out)


# ---------------------------------------------------------------- drand.c

_DRAND_INIT = (1, 10000, 3000)
_drand_state = list(_DRAND_INIT)


def sdrand(seed: int | Sequence[int] | None = None) -> None:
    """Seed :func:`drand` (not in cephes, whose state can only be set by recompiling).

    ``None`` restores cephes's initial state ``(sx, sy, sz) = (1, 10000, 3000)``, which is also
    the state at import.  An integer ``s >= 0`` gives ``sx = 1 + s % 30268``,
    ``sy = 1 + (s // 30268) % 30306``, ``sz = 1 + (s // (30268 * 30306)) % 30322``; three integers
    set ``(sx, sy, sz)`` directly (each must be nonzero modulo its generator's modulus).

    Examples
    --------
    >>> sdrand()
    >>> drand()
    1.5771310922801314
    """
    if seed is None:
        _drand_state[:] = _DRAND_INIT
    elif isinstance(seed, int | np.integer):
        s = int(seed)
        if s < 0:
            raise ValueError("sdrand: the seed must be >= 0")
        _drand_state[:] = [1 + s % 30268, 1 + (s // 30268) % 30306, 1 + (s // (30268 * 30306)) % 30322]
    else:
        sx, sy, sz = (int(v) for v in seed)
        if sx % 30269 == 0 or sy % 30307 == 0 or sz % 30323 == 0:
            raise ValueError("sdrand: a seed is zero modulo its modulus")
        _drand_state[:] = [sx % 30269, sy % 30307, sz % 30323]


def drand() -> float:
    """A pseudo-random number in ``[1, 2)`` (cephes drand.c).

    Wichmann and Hill's three combined multiplicative congruential generators (BYTE, March 1987;
    period about 6.95e12): ``sx = 171 sx mod 30269``, ``sy = 172 sy mod 30307``,
    ``sz = 170 sz mod 30323``, then ``r = sx/30269 + sy/30307 + sz/30323`` and the result is the
    fractional part of ``r`` plus 1.  cephes builds the result by writing the fraction into the
    mantissa of a double; flambeau adds 1.0, which gives the same value up to the last bits.
    cephes's ``drand(&y)`` stores the number in ``y`` and returns 0; this returns it.  The state
    starts at cephes's ``(1, 10000, 3000)``; see :func:`sdrand`.

    Examples
    --------
    >>> sdrand(42)
    >>> a = drand(); sdrand(42); a == drand() and 1.0 <= a < 2.0
    True
    """
    sx, sy, sz = _drand_state
    sx = (sx * 171) % 30269
    sy = (sy * 172) % 30307
    sz = (sz * 170) % 30323
    _drand_state[:] = [sx, sy, sz]
    r = sx / 30269.0 + sy / 30307.0 + sz / 30323.0
    r -= math.floor(r)
    return 1.0 + r
