"""The cephes functions, one record each: the single source of the functions, docs and tests.

A record names the function and its parameters in cephes's order and convention, the
``scipy.special`` function computing it (``adapt`` maps cephes's arguments to scipy's where the
conventions differ), the numpy function for the elementary ones, the ``cupyx.scipy.special``
name, and a fallback written against the array namespace ``xp`` (``fallback(xp, fns, *args)``,
where ``S.<name>`` is another record's forward on the same backend) where no native kernel
exists. ``diff`` lists the parameters with a gradient (:mod:`flambeau.special.gradients`);
``example`` the arguments of the documented example; ``edges`` further test points.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

inf, nan = math.inf, math.nan


@dataclass(frozen=True)
class Record:
    name: str
    params: tuple[str, ...]
    doc: str
    example: tuple[Any, ...]
    group: str
    scipy: str | None = None  # scipy.special function (cpu kernel)
    numpy: str | None = None  # numpy / cupy function (elementary functions)
    cupyx: str | None = None  # cupyx.scipy.special function (cuda kernel)
    fallback: Callable[..., Any] | None = None  # fallback(xp, fns, *args), written with xp
    adapt: Callable[..., tuple[Any, ...]] | None = None  # cephes arguments -> the native's
    diff: tuple[str, ...] = ()  # parameters with a gradient rule
    result: str = "tensor"  # tensor | byte (0/1) | tuple
    names: tuple[str, ...] = ()  # fields of a tuple result
    ints: tuple[str, ...] = ()  # integer parameters (truncated toward zero, as cephes's C int)
    aliases: tuple[str, ...] = ()
    numbers_only: bool = False  # complex functions: Python numbers only (flambeau has no complex tensors)
    edges: tuple[tuple[Any, ...], ...] = ()  # more test points (poles, 0, inf, nan)
    reference: Callable[..., Any] | None = None  # test reference when scipy has no equivalent

    @property
    def arity(self) -> int:
        return len(self.params)

    @property
    def kernel(self) -> str:
        """Where the value comes from on the cpu, for the docs."""
        if self.scipy:
            return f"scipy.special.{self.scipy}" + (" (arguments adapted)" if self.adapt else "")
        if self.numpy:
            return f"numpy.{self.numpy}"
        return "flambeau fallback (xp)"


RECORDS: list[Record] = []


def R(name: str, params: str, doc: str, example: tuple[Any, ...], group: str, **kw: Any) -> None:  # noqa: N802 - one short line per record
    if "cupyx" not in kw and kw.get("scipy") and not kw.get("adapt"):
        kw["cupyx"] = kw["scipy"]
    RECORDS.append(Record(name, tuple(params.split()) if params else (), doc, example, group, **kw))


DEG = math.pi / 180.0
E1 = ((0.0,), (-0.0,), (inf,), (-inf,), (nan,))  # every unary function is tested here too


# ---------------------------------------------------------------------------------- elementary
G = "elementary"
R(
    "acos",
    "x",
    "Inverse cosine, in radians, of x in [-1, 1].",
    (0.5,),
    G,
    numpy="arccos",
    diff=("x",),
    edges=((1.0,), (-1.0,), (2.0,)),
)
R(
    "asin",
    "x",
    "Inverse sine, in radians, of x in [-1, 1].",
    (0.5,),
    G,
    numpy="arcsin",
    diff=("x",),
    edges=((1.0,), (2.0,)),
)
R("atan", "x", "Inverse tangent, in radians.", (1.0,), G, numpy="arctan", diff=("x",))
R(
    "atan2",
    "y x",
    "Angle of the point (x, y): the quadrant-correct inverse tangent of y/x (y first, as in C).",
    (3.0, 1.0),
    G,
    numpy="arctan2",
    diff=("y", "x"),
    edges=((0.0, 0.0), (0.0, -1.0), (-0.0, -1.0), (inf, inf)),
)
R("acosh", "x", "Inverse hyperbolic cosine, x >= 1.", (2.0,), G, numpy="arccosh", diff=("x",), edges=((1.0,), (0.5,)))
R("asinh", "x", "Inverse hyperbolic sine.", (1.0,), G, numpy="arcsinh", diff=("x",))
R(
    "atanh",
    "x",
    "Inverse hyperbolic tangent, |x| < 1.",
    (0.5,),
    G,
    numpy="arctanh",
    diff=("x",),
    edges=((1.0,), (-1.0,), (2.0,)),
)
R("cos", "x", "Cosine of x in radians.", (1.0,), G, numpy="cos", diff=("x",))
R("sin", "x", "Sine of x in radians.", (1.0,), G, numpy="sin", diff=("x",))
R("tan", "x", "Tangent of x in radians.", (1.0,), G, numpy="tan", diff=("x",))
R(
    "cot",
    "x",
    "Cotangent 1/tan(x) of x in radians (inf at 0).",
    (1.0,),
    G,
    fallback=lambda xp, fns, x: 1.0 / xp.tan(x),
    diff=("x",),
    reference=lambda x: 1 / np.tan(x),
)
R("cosh", "x", "Hyperbolic cosine.", (1.0,), G, numpy="cosh", diff=("x",), edges=((800.0,),))
R("sinh", "x", "Hyperbolic sine.", (1.0,), G, numpy="sinh", diff=("x",))
R("tanh", "x", "Hyperbolic tangent.", (1.0,), G, numpy="tanh", diff=("x",))
R("exp", "x", "Exponential e**x.", (1.0,), G, numpy="exp", diff=("x",), edges=((710.0,), (-750.0,)))
R("log", "x", "Natural logarithm, x > 0 (-inf at 0, NaN below).", (2.0,), G, numpy="log", diff=("x",), edges=((-1.0,),))
R("log10", "x", "Common logarithm.", (1000.0,), G, numpy="log10", diff=("x",), edges=((-1.0,),))
R("log2", "x", "Base-2 logarithm.", (8.0,), G, numpy="log2", diff=("x",), edges=((-1.0,),))
R("sqrt", "x", "Square root, x >= 0.", (2.0,), G, numpy="sqrt", diff=("x",), edges=((-1.0,),))
R("fabs", "x", "Absolute value.", (-2.5,), G, numpy="fabs", diff=("x",))
R("floor", "x", "Largest integer not above x (as a float).", (-2.5,), G, numpy="floor", diff=("x",))
R("ceil", "x", "Smallest integer not below x (as a float).", (-2.5,), G, numpy="ceil", diff=("x",))
R("round", "x", "Nearest integer, halves to even (cephes round; numpy.rint).", (2.5,), G, numpy="rint", diff=("x",))
R(
    "pow",
    "x y",
    "x raised to the power y.",
    (2.0, 0.5),
    G,
    numpy="power",
    diff=("x", "y"),
    edges=((0.0, -1.0), (-8.0, 1 / 3), (0.0, 0.0)),
)
R(
    "powi",
    "x n",
    "x raised to the integer power n (n truncated to an integer).",
    (2.0, 10),
    G,
    fallback=lambda xp, fns, x, n: xp.power(x, xp.asarray(n, dtype=float)),
    ints=("n",),
    diff=("x",),
    reference=lambda x, n: np.power(float(x), float(int(n))),
    edges=((0.0, -1),),
)
R(
    "hypot",
    "x y",
    "sqrt(x**2 + y**2) without undue overflow.",
    (3.0, 4.0),
    G,
    numpy="hypot",
    diff=("x", "y"),
    edges=((1e308, 1e308),),
)
R(
    "frexp",
    "x",
    "Split x into (mantissa, exponent): x = m * 2**e with 0.5 <= |m| < 1 (exponent an integer).",
    (8.0,),
    G,
    numpy="frexp",
    result="tuple",
    names=("mantissa", "exponent"),
)
R(
    "ldexp",
    "x e",
    "x * 2**e for an integer e (e truncated to an integer).",
    (0.75, 4),
    G,
    numpy="ldexp",
    ints=("e",),
    diff=("x",),
    edges=((1.0, 1100), (1e-300, -100)),
)
R(
    "signbit",
    "x",
    "1 where the sign bit of x is set (negative numbers and -0.0), else 0.",
    (-0.0,),
    G,
    numpy="signbit",
    result="byte",
)

# ----------------------------------------------------------------------- elementary, accurate
G = "elementary, special accuracy"
R("cbrt", "x", "Cube root (real, also for negative x).", (-27.0,), G, scipy="cbrt", diff=("x",))
R("exp10", "x", "10**x.", (2.0,), G, scipy="exp10", diff=("x",))
R("exp2", "x", "2**x.", (10.0,), G, scipy="exp2", diff=("x",))
R("expm1", "x", "exp(x) - 1, accurate near 0.", (1e-10,), G, scipy="expm1", diff=("x",))
R("log1p", "x", "log(1 + x), accurate near 0.", (1e-10,), G, scipy="log1p", diff=("x",), edges=((-1.0,), (-2.0,)))
R("cosm1", "x", "cos(x) - 1, accurate near 0.", (1e-5,), G, scipy="cosm1", diff=("x",))
R("sindg", "x", "Sine of x in degrees (exact at multiples of 30).", (30.0,), G, scipy="sindg", diff=("x",))
R("cosdg", "x", "Cosine of x in degrees.", (60.0,), G, scipy="cosdg", diff=("x",))
R("tandg", "x", "Tangent of x in degrees (inf at 90 + 180k).", (45.0,), G, scipy="tandg", diff=("x",), edges=((90.0,),))
R("cotdg", "x", "Cotangent of x in degrees (inf at 180k).", (45.0,), G, scipy="cotdg", diff=("x",), edges=((180.0,),))

# ---------------------------------------------------------------------------------- angles
G = "angles"
R(
    "radian",
    "d m s",
    "Degrees, minutes and seconds to radians: ((d*60 + m)*60 + s) * pi/648000.",
    (180.0, 0.0, 0.0),
    G,
    fallback=lambda xp, fns, d, m, s: ((d * 60.0 + m) * 60.0 + s) * (math.pi / 648000.0),
    diff=("d", "m", "s"),
    reference=lambda d, m, s: ((d * 60 + m) * 60 + s) * math.pi / 648000,
)
R(
    "sincos",
    "x",
    "(sin, cos) of x in degrees (cephes's sincos(x, &s, &c, flg), computed exactly).",
    (30.0,),
    G,
    fallback=lambda xp, fns, x: (fns.sindg(x), fns.cosdg(x)),
    result="tuple",
    names=("sin", "cos"),
    reference=lambda x: (np.sin(x * DEG), np.cos(x * DEG)),
)


# ---------------------------------------------------------------------------------- gamma/beta
def _fac(xp: Any, fns: Any, n: Any) -> Any:
    n = xp.asarray(n, dtype=float)
    return xp.where(n < 0, xp.inf, fns.gamma(xp.floor(n) + 1.0))


def _lmvgam(xp: Any, fns: Any, x: Any, p: Any) -> Any:
    p = xp.asarray(p, dtype=float)
    pmax = int(xp.max(p)) if p.size else 0
    r = p * (p - 1) / 4 * math.log(math.pi) + 0 * xp.asarray(x, dtype=float)
    for j in range(1, pmax + 1):
        r = r + xp.where(j <= p, fns.lgam(x + (1.0 - j) / 2.0), 0.0)
    return r


def _betagrad(xp: Any, fns: Any, x: Any, y: Any) -> Any:
    return fns.beta(x, y) * (fns.psi(x) - fns.psi(x + y))


def _ref_lmvgam(x: float, p: float) -> float:
    from scipy.special import multigammaln

    return float(multigammaln(x, int(p)))


G = "gamma and beta"
R(
    "gamma",
    "x",
    "Gamma function (poles at 0, -1, -2, ...).",
    (0.5,),
    G,
    scipy="gamma",
    diff=("x",),
    edges=((-1.0,), (-0.5,), (171.7,), (1e-300,)),
)
R(
    "lgam",
    "x",
    "Natural log of |gamma(x)| (the sign is not returned).",
    (0.5,),
    G,
    scipy="gammaln",
    diff=("x",),
    edges=((-1.0,), (-2.5,), (1e300,)),
)
R(
    "rgamma",
    "x",
    "Reciprocal gamma 1/gamma(x), entire (0 at the poles).",
    (0.5,),
    G,
    scipy="rgamma",
    diff=("x",),
    edges=((-1.0,),),
)
R(
    "beta",
    "a b",
    "Beta function gamma(a) gamma(b) / gamma(a + b).",
    (2.0, 3.0),
    G,
    scipy="beta",
    diff=("a", "b"),
    edges=((0.0, 1.0), (-1.5, 0.5)),
)
R(
    "lbeta",
    "a b",
    "Natural log of |beta(a, b)|.",
    (2.0, 3.0),
    G,
    scipy="betaln",
    diff=("a", "b"),
    edges=((0.0, 1.0), (1e300, 1.0)),
)
R(
    "psi",
    "x",
    "Digamma function, the logarithmic derivative of gamma (poles at 0, -1, ...).",
    (1.0,),
    G,
    scipy="psi",
    cupyx="digamma",
    diff=("x",),
    aliases=("digamma",),
    edges=((-1.0,), (-0.5,)),
)
R(
    "polygamma",
    "m x",
    "Polygamma function: the m-th derivative of digamma (Torch addition; m an integer >= 0).",
    (1, 1.0),
    G,
    scipy="polygamma",
    diff=("x",),
    edges=((2, 0.0), (0, -1.0)),
)
R(
    "fac",
    "n",
    "Factorial n! of the integer part of n (inf for n < 0, where cephes returns its MAXNUM).",
    (5,),
    G,
    fallback=_fac,
    reference=lambda n: (
        n if n != n else math.inf if n < 0 else (float(math.factorial(int(n))) if n < 171 else math.inf)
    ),
    edges=((-1.0,), (0.0,), (170.0,), (171.0,)),
)
R(
    "igam",
    "a x",
    "Regularized lower incomplete gamma P(a, x) (a first, as cephes).",
    (2.0, 1.0),
    G,
    scipy="gammainc",
    diff=("x",),
    edges=((1.0, 0.0), (1.0, inf), (0.0, 1.0), (-1.0, 1.0)),
)
R(
    "igamc",
    "a x",
    "Regularized upper incomplete gamma Q(a, x) = 1 - P(a, x).",
    (2.0, 1.0),
    G,
    scipy="gammaincc",
    diff=("x",),
    edges=((1.0, 0.0), (1.0, inf), (-1.0, 1.0)),
)
R(
    "igami",
    "a p",
    "Inverse of igamc: the x with igamc(a, x) = p.",
    (2.0, 0.5),
    G,
    scipy="gammainccinv",
    diff=("p",),
    edges=((1.0, 0.0), (1.0, 1.0), (1.0, 2.0)),
)
R(
    "incbet",
    "a b x",
    "Regularized incomplete beta I_x(a, b) (cephes's order: a, b, x).",
    (2.0, 3.0, 0.4),
    G,
    scipy="betainc",
    diff=("x",),
    edges=((1.0, 1.0, 0.0), (1.0, 1.0, 1.0), (1.0, 1.0, 2.0)),
)
R(
    "incbi",
    "a b y",
    "Inverse of incbet: the x with incbet(a, b, x) = y.",
    (2.0, 3.0, 0.5),
    G,
    scipy="betaincinv",
    diff=("y",),
    edges=((1.0, 1.0, 0.0), (1.0, 1.0, 1.0), (1.0, 1.0, 2.0)),
)
R(
    "betagrad",
    "x y",
    "Derivative of beta(x, y) in x: beta(x, y) (psi(x) - psi(x + y)) (Torch addition).",
    (2.0, 3.0),
    G,
    fallback=_betagrad,
    reference=lambda x, y: float(
        __import__("scipy.special").special.beta(x, y)
        * (__import__("scipy.special").special.psi(x) - __import__("scipy.special").special.psi(x + y))
    ),
)
R(
    "lmvgam",
    "x p",
    "Log of the multivariate gamma function of dimension p (integer) at x (Torch addition).",
    (3.0, 2),
    G,
    fallback=_lmvgam,
    diff=("x",),
    reference=_ref_lmvgam,
)
R(
    "mvgam",
    "x p",
    "Multivariate gamma function exp(lmvgam(x, p)) (Torch addition).",
    (3.0, 2),
    G,
    fallback=lambda xp, fns, x, p: xp.exp(fns.lmvgam(x, p)),
    diff=("x",),
    reference=lambda x, p: math.exp(_ref_lmvgam(x, p)),
)


# ------------------------------------------------------------------------------- error/normal
def _expx2(xp: Any, fns: Any, x: Any, sign: Any) -> Any:
    # cephes: split x = m + f with m a multiple of 1/128 so that exp(±x²) loses no accuracy.
    x = xp.abs(xp.asarray(x, dtype=float))
    m = (1.0 / 128) * xp.floor(128 * x + 0.5)
    f = x - m
    u = m * m
    u1 = 2 * m * f + f * f
    neg = xp.asarray(sign) < 0
    u = xp.where(neg, -u, u)
    u1 = xp.where(neg, -u1, u1)
    return xp.where(u + u1 > 709.782712893384, xp.inf, xp.exp(u) * xp.exp(u1))


G = "error function and normal distribution"
R("erf", "x", "Error function 2/sqrt(pi) * integral of exp(-t**2) from 0 to x.", (0.5,), G, scipy="erf", diff=("x",))
R(
    "erfc",
    "x",
    "Complementary error function 1 - erf(x), accurate for large x.",
    (0.5,),
    G,
    scipy="erfc",
    diff=("x",),
    edges=((30.0,),),
)
R(
    "ndtr",
    "x",
    "Standard normal cumulative distribution function.",
    (1.0,),
    G,
    scipy="ndtr",
    diff=("x",),
    edges=((-40.0,),),
)
R(
    "ndtri",
    "y",
    "Inverse of ndtr: the x with ndtr(x) = y, y in [0, 1].",
    (0.975,),
    G,
    scipy="ndtri",
    diff=("y",),
    edges=((1.0,), (2.0,)),
)
R(
    "expx2",
    "x sign",
    "exp(x**2) (sign >= 0) or exp(-x**2) (sign < 0) without the error amplification of exp(x*x).",
    (2.0, -1),
    G,
    fallback=_expx2,
    diff=("x",),
    reference=lambda x, s: math.exp(math.copysign(x * x, s)) if x * x < 709 or s < 0 else math.inf,
)

# -------------------------------------------------------------------------- distribution CDFs
G = "distribution functions"
R(
    "bdtr",
    "k n p",
    "Binomial CDF: P(X <= k) for n trials of success probability p.",
    (3, 10, 0.5),
    G,
    scipy="bdtr",
    diff=("p",),
    edges=((10, 10, 0.5), (-1, 10, 0.5), (3, 10, 2.0)),
)
R("bdtrc", "k n p", "Binomial upper tail P(X > k).", (3, 10, 0.5), G, scipy="bdtrc", diff=("p",))
R("bdtri", "k n y", "Inverse binomial: the p with bdtr(k, n, p) = y.", (3, 10, 0.5), G, scipy="bdtri")
R(
    "btdtr",
    "a b x",
    "Beta distribution CDF, = incbet(a, b, x) (removed from scipy 1.14: computed by betainc).",
    (2.0, 3.0, 0.4),
    G,
    scipy="betainc",
    diff=("x",),
)
R(
    "chdtr",
    "df x",
    "Chi-square CDF with df degrees of freedom (df first).",
    (3.0, 2.0),
    G,
    scipy="chdtr",
    diff=("x",),
    edges=((3.0, 0.0), (3.0, -1.0)),
)
R("chdtrc", "df x", "Chi-square upper tail.", (3.0, 2.0), G, scipy="chdtrc", diff=("x",))
R("chdtri", "df y", "Inverse of chdtrc: the x with chdtrc(df, x) = y.", (3.0, 0.5), G, scipy="chdtri", diff=("y",))
R(
    "fdtr",
    "ia ib x",
    "F distribution CDF with ia, ib degrees of freedom.",
    (2.0, 3.0, 1.5),
    G,
    scipy="fdtr",
    diff=("x",),
)
R("fdtrc", "ia ib x", "F distribution upper tail.", (2.0, 3.0, 1.5), G, scipy="fdtrc", diff=("x",))
R(
    "fdtri",
    "ia ib y",
    "Inverse of fdtrc: the x with fdtrc(ia, ib, x) = y (cephes 2.x convention; scipy's fdtri inverts fdtr).",
    (2.0, 3.0, 0.25),
    G,
    scipy="fdtri",
    adapt=lambda a, b, y: (a, b, 1.0 - y),
    cupyx="fdtri",
    diff=("y",),
)
R(
    "gdtr",
    "a b x",
    "Gamma distribution CDF with rate a and shape b (cephes's order: rate first).",
    (1.0, 2.0, 3.0),
    G,
    scipy="gdtr",
    diff=("x",),
)
R("gdtrc", "a b x", "Gamma distribution upper tail, rate a, shape b.", (1.0, 2.0, 3.0), G, scipy="gdtrc", diff=("x",))
R(
    "nbdtr",
    "k n p",
    "Negative binomial CDF: P(at most k failures before the n-th success), success probability p.",
    (3, 5, 0.5),
    G,
    scipy="nbdtr",
    diff=("p",),
)
R("nbdtrc", "k n p", "Negative binomial upper tail.", (3, 5, 0.5), G, scipy="nbdtrc", diff=("p",))
R("nbdtri", "k n y", "Inverse negative binomial: the p with nbdtr(k, n, p) = y.", (3, 5, 0.5), G, scipy="nbdtri")
R(
    "pdtr",
    "k m",
    "Poisson CDF: P(X <= k) for mean m (k first).",
    (2, 1.5),
    G,
    scipy="pdtr",
    diff=("m",),
    edges=((-1, 1.0), (2, 0.0)),
)
R("pdtrc", "k m", "Poisson upper tail P(X > k).", (2, 1.5), G, scipy="pdtrc", diff=("m",))
R("pdtri", "k y", "Inverse Poisson: the mean m with pdtr(k, m) = y.", (2, 0.5), G, scipy="pdtri", diff=("y",))
R(
    "stdtr",
    "k t",
    "Student's t CDF with k degrees of freedom (k first).",
    (3, 1.0),
    G,
    scipy="stdtr",
    diff=("t",),
    edges=((3, inf), (0, 1.0)),
)
R("stdtri", "k p", "Inverse Student's t: the t with stdtr(k, t) = p.", (3, 0.9), G, scipy="stdtrit", diff=("p",))

# ------------------------------------------------------------------------ Kolmogorov-Smirnov
G = "Kolmogorov-Smirnov"
R(
    "kolmogorov",
    "y",
    "Kolmogorov limiting distribution: P(sqrt(n) D_n > y) as n grows.",
    (1.0,),
    G,
    scipy="kolmogorov",
    cupyx="kolmogorov",
    diff=("y",),
    edges=((0.0,),),
)
R("kolmogi", "p", "Inverse of kolmogorov.", (0.5,), G, scipy="kolmogi", diff=("p",))
R(
    "smirnov",
    "n e",
    "Exact one-sided Kolmogorov-Smirnov: P(D_n^+ > e) for n samples.",
    (5, 0.3),
    G,
    scipy="smirnov",
    ints=("n",),
    diff=("e",),
)
R("smirnovi", "n p", "Inverse of smirnov in e.", (5, 0.3), G, scipy="smirnovi", ints=("n",), diff=("p",))

# ---------------------------------------------------------------------------------- Bessel
G = "Bessel functions"
R("j0", "x", "Bessel function of the first kind, order 0.", (1.0,), G, scipy="j0", diff=("x",))
R("j1", "x", "Bessel function of the first kind, order 1.", (1.0,), G, scipy="j1", diff=("x",))
R("jn", "n x", "Bessel function of the first kind, integer order n.", (2, 1.0), G, scipy="jv", diff=("x",), ints=("n",))
R(
    "jv",
    "v x",
    "Bessel function of the first kind, real order v.",
    (2.5, 1.0),
    G,
    scipy="jv",
    diff=("x",),
    edges=((0.5, -1.0),),
)
R(
    "y0",
    "x",
    "Bessel function of the second kind, order 0 (-inf at 0, NaN below).",
    (1.0,),
    G,
    scipy="y0",
    diff=("x",),
    edges=((-1.0,),),
)
R("y1", "x", "Bessel function of the second kind, order 1.", (1.0,), G, scipy="y1", diff=("x",))
R(
    "yn",
    "n x",
    "Bessel function of the second kind, integer order n.",
    (2, 1.0),
    G,
    scipy="yn",
    diff=("x",),
    ints=("n",),
)
R(
    "i0",
    "x",
    "Modified Bessel function of the first kind, order 0.",
    (1.0,),
    G,
    scipy="i0",
    diff=("x",),
    edges=((800.0,),),
)
R("i0e", "x", "Exponentially scaled i0: exp(-|x|) i0(x).", (1.0,), G, scipy="i0e", diff=("x",))
R("i1", "x", "Modified Bessel function of the first kind, order 1.", (1.0,), G, scipy="i1", diff=("x",))
R("i1e", "x", "Exponentially scaled i1: exp(-|x|) i1(x).", (1.0,), G, scipy="i1e", diff=("x",))
R("iv", "v x", "Modified Bessel function of the first kind, real order v.", (2.5, 1.0), G, scipy="iv", diff=("x",))
R(
    "k0",
    "x",
    "Modified Bessel function of the second kind, order 0 (inf at 0).",
    (1.0,),
    G,
    scipy="k0",
    diff=("x",),
    edges=((-1.0,),),
)
R("k0e", "x", "Exponentially scaled k0: exp(x) k0(x).", (1.0,), G, scipy="k0e", diff=("x",))
R("k1", "x", "Modified Bessel function of the second kind, order 1.", (1.0,), G, scipy="k1", diff=("x",))
R("k1e", "x", "Exponentially scaled k1: exp(x) k1(x).", (1.0,), G, scipy="k1e", diff=("x",))
R(
    "kn",
    "n x",
    "Modified Bessel function of the second kind, integer order n.",
    (2, 1.0),
    G,
    scipy="kn",
    cupyx=None,
    diff=("x",),
    ints=("n",),
)
R(
    "airy",
    "x",
    "Airy functions (ai, aip, bi, bip): Ai, Ai', Bi, Bi' at x.",
    (1.0,),
    G,
    scipy="airy",
    result="tuple",
    names=("ai", "aip", "bi", "bip"),
)


# -------------------------------------------------------------------- hypergeometric, Struve
def _series(xp: Any, x: Any, num: list[Any], den: list[Any], asymptotic: bool) -> tuple[Any, Any]:
    """Sum of the generalized hypergeometric series pFq(num; den; x), term by term with masks.

    Asymptotic (divergent) series stop at their smallest term, as cephes does; the error
    estimate is the last term taken.
    """
    x = xp.asarray(x, dtype=float)
    shape = np.broadcast_shapes(x.shape, *(xp.asarray(a).shape for a in num + den))
    x = xp.broadcast_to(x, shape)
    term = xp.ones(shape)
    total = xp.ones(shape)
    err = xp.zeros(shape)
    active = xp.ones(shape, dtype=bool)
    for k in range(500):
        factor = x / (k + 1.0)
        for a in num:
            factor = factor * (a + k)
        for b in den:
            factor = factor / (b + k)
        new = term * factor
        small = xp.abs(new) <= 1e-17 * xp.abs(total)
        grows = (xp.abs(new) > xp.abs(term)) if asymptotic else xp.zeros(shape, dtype=bool)
        stop = active & (small | grows | ~xp.isfinite(new))
        err = xp.where(stop, xp.where(grows, xp.abs(term), xp.abs(new)), err)
        active = active & ~stop
        if not bool(active.any()):
            break
        total = xp.where(active, total + new, total)
        term = xp.where(active, new, term)
    return total, err


def _onef2(xp: Any, fns: Any, a: Any, b: Any, c: Any, x: Any) -> Any:
    return _series(xp, x, [a], [b, c], False)


def _threef0(xp: Any, fns: Any, a: Any, b: Any, c: Any, x: Any) -> Any:
    return _series(xp, x, [a, b, c], [], True)


def _hyp2f0(xp: Any, fns: Any, a: Any, b: Any, x: Any, type: Any) -> Any:
    return _series(xp, x, [a, b], [], True)


def _mp(f: str) -> Callable[..., Any]:
    def ref(*args: Any) -> Any:
        mpmath = importlib.import_module("mpmath")  # by name: a test dependency, absent where types are checked
        return float(getattr(mpmath, f)(*args))

    return ref


G = "hypergeometric and Struve"
R(
    "hyp2f1",
    "a b c x",
    "Gauss hypergeometric function 2F1(a, b; c; x).",
    (1.0, 2.0, 3.0, 0.5),
    G,
    scipy="hyp2f1",
    diff=("x",),
    edges=((1.0, 1.0, 2.0, 1.0),),
)
R(
    "hyperg",
    "a b x",
    "Confluent hypergeometric function 1F1(a; b; x) (scipy hyp1f1).",
    (1.0, 2.0, 0.5),
    G,
    scipy="hyp1f1",
    diff=("x",),
)
R(
    "hyp2f0",
    "a b x type",
    "Asymptotic series 2F0(a, b; ; x), summed to its smallest term: (value, error estimate) (type, cephes's choice of converging factor, is accepted and ignored).",
    (0.5, 1.0, -0.01, 1),
    G,
    fallback=_hyp2f0,
    result="tuple",
    names=("value", "error"),
)
R(
    "onef2",
    "a b c x",
    "Hypergeometric series 1F2(a; b, c; x): (value, error estimate).",
    (1.0, 2.0, 3.0, 0.5),
    G,
    fallback=_onef2,
    result="tuple",
    names=("value", "error"),
)
R(
    "threef0",
    "a b c x",
    "Asymptotic series 3F0(a, b, c; ; x), summed to its smallest term: (value, error estimate).",
    (0.5, 1.0, 1.5, -0.001),
    G,
    fallback=_threef0,
    result="tuple",
    names=("value", "error"),
)
R("struve", "v x", "Struve function H_v(x).", (1.0, 2.0), G, scipy="struve", cupyx=None, diff=("x",))


# --------------------------------------------------------------------------- integrals, zeta
def _polylog(xp: Any, fns: Any, n: Any, x: Any) -> Any:
    """Li_n(x) for integer n >= 0 and x <= 1 (cephes's domain): closed forms for n <= 2, else
    the power series for |x| <= 1/2, the expansion in log(x) near 1 and the duplication formula
    Li_n(-y) = 2**(1-n) Li_n(y**2) - Li_n(y) below -1/2."""
    n = xp.asarray(n, dtype=float)
    x = xp.asarray(x, dtype=float)
    n, x = xp.broadcast_arrays(n, x)
    out = xp.full(x.shape, xp.nan)

    def series(nn: Any, xx: Any) -> Any:
        tot = xp.zeros(xx.shape)
        p = xp.ones(xx.shape)
        for k in range(1, 80):
            p = p * xx
            tot = tot + p / k**nn
        return tot

    def near_one(nn: float, xx: Any) -> Any:
        mu = xp.log(xx)
        tot = xp.zeros(xx.shape)
        fact = 1.0
        muk = xp.ones(xx.shape)
        harm = sum(1.0 / j for j in range(1, int(nn)))
        for k in range(0, 60):
            if k > 0:
                fact *= k
                muk = muk * mu
            if k == nn - 1:
                with np.errstate(divide="ignore", invalid="ignore"):
                    lg = xp.where(mu == 0, 0.0, xp.log(xp.where(mu == 0, 1.0, -mu)))
                tot = tot + muk / fact * (harm - lg)
            else:
                tot = tot + float(fns.zetac(nn - k) + 1.0) * muk / fact
        return tot

    def li(nn: float, xx: Any) -> Any:
        if nn == 0:
            return xx / (1.0 - xx)
        if nn == 1:
            return -xp.log1p(-xx)
        if nn == 2:
            return fns.spence(1.0 - xx)
        res = xp.full(xx.shape, xp.nan)
        small = xp.abs(xx) <= 0.5
        res = xp.where(small, series(nn, xp.where(small, xx, 0.0)), res)
        hi = (xx > 0.5) & (xx <= 1.0)
        res = xp.where(hi, near_one(nn, xp.where(hi, xx, 1.0)), res)
        lo = (xx < -0.5) & (xx >= -1.0)
        if bool(lo.any()):
            y = xp.where(lo, -xx, 0.5)
            res = xp.where(lo, 2.0 ** (1 - nn) * li(nn, y * y) - li(nn, y), res)
        return res

    for nv in {float(v) for v in xp.asarray(n).ravel().tolist()}:  # the distinct orders, read on the host
        if not (nv >= 0 and nv == int(nv)):
            continue
        sel = n == nv
        with np.errstate(all="ignore"):
            val = li(nv, xp.where(sel & (x <= 1), x, 0.0))
        out = xp.where(sel & (x <= 1), val, out)
    return out


G = "integrals and zeta"
R(
    "dawsn",
    "x",
    "Dawson's integral exp(-x**2) * integral of exp(t**2) from 0 to x.",
    (1.0,),
    G,
    scipy="dawsn",
    cupyx=None,
    diff=("x",),
)
R("ei", "x", "Exponential integral Ei(x) (scipy expi).", (1.0,), G, scipy="expi", diff=("x",), edges=((-1.0,),))
R(
    "expn",
    "n x",
    "Generalized exponential integral E_n(x) for integer n >= 0.",
    (1, 1.0),
    G,
    scipy="expn",
    ints=("n",),
    diff=("x",),
    edges=((1, 0.0), (0, 0.0), (-1, 1.0)),
)
R(
    "fresnl",
    "x",
    "Fresnel integrals (S, C) at x (cephes's fresnl(x, &S, &C); scipy fresnel).",
    (1.0,),
    G,
    scipy="fresnel",
    result="tuple",
    names=("s", "c"),
)
R("sici", "x", "Sine and cosine integrals (si, ci) at x.", (1.0,), G, scipy="sici", result="tuple", names=("si", "ci"))
R(
    "shichi",
    "x",
    "Hyperbolic sine and cosine integrals (shi, chi) at x.",
    (1.0,),
    G,
    scipy="shichi",
    result="tuple",
    names=("shi", "chi"),
)
R(
    "spence",
    "x",
    "Dilogarithm in cephes's (and scipy's) convention: integral of log(t)/(1 - t) from 1 to x, x >= 0 (= Li2(1 - x)).",
    (0.5,),
    G,
    scipy="spence",
    diff=("x",),
    edges=((-1.0,), (1.0,)),
)
R(
    "zeta",
    "x q",
    "Hurwitz zeta function: the sum of (k + q)**-x over k >= 0 (x the exponent, q the shift).",
    (2.0, 1.0),
    G,
    scipy="zeta",
    diff=("x", "q"),
    edges=((1.0, 1.0), (0.5, 1.0), (2.0, 0.0), (2.0, -1.5)),
)
R(
    "zetac",
    "x",
    "Riemann zeta minus one, zeta(x) - 1, accurate for large x.",
    (2.0,),
    G,
    scipy="zetac",
    cupyx=None,
    diff=("x",),
    edges=((1.0,), (-2.0,)),
)
R(
    "polylog",
    "n x",
    "Polylogarithm Li_n(x) for integer n >= 0 and x <= 1 (NaN elsewhere).",
    (3, 0.5),
    G,
    fallback=_polylog,
    diff=("x",),
    reference=_mp("polylog"),
    edges=((3, 1.0), (4, -1.0), (2, 0.9), (5, -0.8)),
)

# -------------------------------------------------------------------------------- elliptic
G = "elliptic integrals and functions"
R(
    "ellik",
    "phi m",
    "Incomplete elliptic integral of the first kind F(phi | m): parameter m = k**2, not the modulus k.",
    (1.0, 0.5),
    G,
    scipy="ellipkinc",
    diff=("phi", "m"),
)
R(
    "ellie",
    "phi m",
    "Incomplete elliptic integral of the second kind E(phi | m), parameter m = k**2.",
    (1.0, 0.5),
    G,
    scipy="ellipeinc",
    diff=("phi", "m"),
)
R(
    "ellpk",
    "m1",
    "Complete elliptic integral of the first kind K, of the COMPLEMENTARY parameter m1 = 1 - m (K(m) = ellpk(1 - m)).",
    (0.5,),
    G,
    scipy="ellipkm1",
    diff=("m1",),
    edges=((0.0,), (1.0,), (-1.0,)),
)
R(
    "ellpe",
    "m1",
    "Complete elliptic integral of the second kind E, of the COMPLEMENTARY parameter m1 = 1 - m.",
    (0.5,),
    G,
    scipy="ellipe",
    adapt=lambda m1: (1.0 - m1,),
    cupyx="ellipe",
    diff=("m1",),
    edges=((0.0,), (1.0,)),
)
R(
    "ellpj",
    "u m",
    "Jacobian elliptic functions (sn, cn, dn, ph) of u for parameter m, 0 <= m <= 1.",
    (0.5, 0.3),
    G,
    scipy="ellipj",
    result="tuple",
    names=("sn", "cn", "dn", "ph"),
)


# --------------------------------------------------------------------------- complex numbers
def _c(f: Callable[..., Any]) -> Callable[..., Any]:
    return lambda xp, fns, *a: f(*(np.complex128(v) for v in a))


G = "complex numbers (Python numbers only)"
_CX: dict[str, tuple[str, Callable[..., Any], str]] = {
    "cadd": ("a b", lambda a, b: a + b, "Sum a + b."),
    "csub": ("a b", lambda a, b: b - a, "Difference b - a (cephes's csub(a, b, c) sets c = b - a)."),
    "cmul": ("a b", lambda a, b: a * b, "Product a * b."),
    "cdiv": ("a b", lambda a, b: b / a, "Quotient b / a (cephes's cdiv(a, b, c) sets c = b / a)."),
    "cmov": ("a", lambda a: a, "A copy of a."),
    "cneg": ("a", lambda a: -a, "Negation -a."),
    "cabs": ("z", lambda z: np.abs(z), "Modulus |z| (a real number)."),
    "csqrt": ("z", np.sqrt, "Principal square root."),
    "clog": ("z", np.log, "Principal natural logarithm."),
    "cexp": ("z", np.exp, "Exponential."),
    "csin": ("z", np.sin, "Sine."),
    "ccos": ("z", np.cos, "Cosine."),
    "ctan": ("z", np.tan, "Tangent."),
    "ccot": ("z", lambda z: 1 / np.tan(z), "Cotangent."),
    "casin": ("z", np.arcsin, "Inverse sine."),
    "cacos": ("z", np.arccos, "Inverse cosine."),
    "catan": ("z", np.arctan, "Inverse tangent."),
    "csinh": ("z", np.sinh, "Hyperbolic sine."),
    "ccosh": ("z", np.cosh, "Hyperbolic cosine."),
    "ctanh": ("z", np.tanh, "Hyperbolic tangent."),
    "casinh": ("z", np.arcsinh, "Inverse hyperbolic sine."),
    "cacosh": ("z", np.arccosh, "Inverse hyperbolic cosine."),
    "catanh": ("z", np.arctanh, "Inverse hyperbolic tangent."),
    "cpow": ("a b", lambda a, b: a**b, "Power a ** b."),
}
for _n, (_p, _f, _d) in _CX.items():
    R(
        _n,
        _p,
        _d,
        (1 + 2j,) if len(_p.split()) == 1 else (1 + 2j, 3 - 1j),
        G,
        fallback=_c(_f),
        numbers_only=True,
        reference=_f,
    )
R(
    "new_cmplx",
    "re im",
    "The complex number re + im*1j (Torch addition).",
    (1.0, 2.0),
    G,
    fallback=lambda xp, fns, r, i: complex(r, i),
    numbers_only=True,
    reference=lambda r, i: complex(r, i),
)

# ------------------------------------------------------------------------------------ misc
G = "miscellaneous"
R("isnan", "x", "1 where x is NaN, else 0.", (nan,), G, numpy="isnan", result="byte")
R("isfinite", "x", "1 where x is finite, else 0.", (1.0,), G, numpy="isfinite", result="byte")
R("isinf", "x", "1 where x is +inf or -inf, else 0 (Torch addition).", (-inf,), G, numpy="isinf", result="byte")
R(
    "nan",
    "",
    "A quiet NaN (Torch addition).",
    (),
    G,
    fallback=lambda xp, fns: math.nan,
    numbers_only=True,
    reference=lambda: math.nan,
)

BY_NAME: dict[str, Record] = {r.name: r for r in RECORDS}
for _r in RECORDS:
    for _a in _r.aliases:
        BY_NAME[_a] = _r
GROUPS: list[str] = list(dict.fromkeys(r.group for r in RECORDS))
