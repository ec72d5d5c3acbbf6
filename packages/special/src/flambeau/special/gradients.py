"""Gradients of the special functions, registered through the ``flambeau.gradients`` entry point.

Each rule is ``vjp(g, ans, *args)`` written with flambeau ops and special functions (themselves
traced), so rules are differentiable again. Keys are the op records behind ``special.<name>``.
flambeau.autograd loads this module on the first differentiation (pyproject's
``[project.entry-points."flambeau.gradients"] special = "flambeau.special.gradients"``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pluggy

import flambeau.tensor as ft
from flambeau import special as S  # noqa: N812 - the rules read best short

hookimpl = pluggy.HookimplMarker("flambeau")

SQRT_PI = math.sqrt(math.pi)
LN10, LN2 = math.log(10.0), math.log(2.0)
DEG = math.pi / 180.0


def _zeta_dx(x: Any, q: Any) -> Any:
    """d/dx zeta(x, q) by a fourth-order central difference (no closed form)."""
    h = 1e-3
    return (8 * (S.zeta(x + h, q) - S.zeta(x - h, q)) - (S.zeta(x + 2 * h, q) - S.zeta(x - 2 * h, q))) / (12 * h)


def _incbet_dx(a: Any, b: Any, x: Any) -> Any:
    return ft.exp((a - 1) * ft.log(x) + (b - 1) * ft.log1p(-x) - S.lbeta(a, b))


def _gamma_pdf(a: Any, x: Any) -> Any:  # d/dx igam(a, x)
    return ft.exp(-x + (a - 1) * ft.log(x) - S.lgam(a))


def _t_pdf(k: Any, t: Any) -> Any:
    return ft.exp(S.lgam((k + 1) / 2) - S.lgam(k / 2) - 0.5 * ft.log(k * math.pi) - (k + 1) / 2 * ft.log1p(t * t / k))


def _f_pdf(a: Any, b: Any, x: Any) -> Any:  # fdtr(a, b, x) = incbet(a/2, b/2, a x / (a x + b))
    w = a * x / (a * x + b)
    return _incbet_dx(a / 2, b / 2, w) * a * b / ((a * x + b) * (a * x + b))


def _sign(x: Any) -> Any:
    return ft.sign(x)


RULES: dict[str, tuple[Callable[..., Any] | None, ...]] = {
    # elementary
    "acos": (lambda g, ans, x: -g / ft.sqrt(1 - x * x),),
    "asin": (lambda g, ans, x: g / ft.sqrt(1 - x * x),),
    "atan": (lambda g, ans, x: g / (1 + x * x),),
    "atan2": (lambda g, ans, y, x: g * x / (x * x + y * y), lambda g, ans, y, x: -g * y / (x * x + y * y)),
    "acosh": (lambda g, ans, x: g / ft.sqrt(x * x - 1),),
    "asinh": (lambda g, ans, x: g / ft.sqrt(x * x + 1),),
    "atanh": (lambda g, ans, x: g / (1 - x * x),),
    "cos": (lambda g, ans, x: -g * S.sin(x),),
    "sin": (lambda g, ans, x: g * S.cos(x),),
    "tan": (lambda g, ans, x: g * (1 + ans * ans),),
    "cot": (lambda g, ans, x: -g * (1 + ans * ans),),
    "cosh": (lambda g, ans, x: g * S.sinh(x),),
    "sinh": (lambda g, ans, x: g * S.cosh(x),),
    "tanh": (lambda g, ans, x: g * (1 - ans * ans),),
    "exp": (lambda g, ans, x: g * ans,),
    "log": (lambda g, ans, x: g / x,),
    "log10": (lambda g, ans, x: g / (x * LN10),),
    "log2": (lambda g, ans, x: g / (x * LN2),),
    "sqrt": (lambda g, ans, x: g * 0.5 / ans,),
    "fabs": (lambda g, ans, x: g * _sign(x),),
    "floor": (None,),
    "ceil": (None,),
    "round": (None,),
    "pow": (lambda g, ans, x, y: g * y * S.pow(x, y - 1), lambda g, ans, x, y: g * ans * S.log(x)),
    "powi": (lambda g, ans, x, n: g * _trunc(n) * S.pow(x, _trunc(n) - 1),),
    "hypot": (lambda g, ans, x, y: g * x / ans, lambda g, ans, x, y: g * y / ans),
    "ldexp": (lambda g, ans, x, e: g * S.ldexp(1.0, e),),
    "cbrt": (lambda g, ans, x: g / (3 * ans * ans),),
    "exp10": (lambda g, ans, x: g * ans * LN10,),
    "exp2": (lambda g, ans, x: g * ans * LN2,),
    "expm1": (lambda g, ans, x: g * (ans + 1),),
    "log1p": (lambda g, ans, x: g / (1 + x),),
    "cosm1": (lambda g, ans, x: -g * S.sin(x),),
    "sindg": (lambda g, ans, x: g * DEG * S.cosdg(x),),
    "cosdg": (lambda g, ans, x: -g * DEG * S.sindg(x),),
    "tandg": (lambda g, ans, x: g * DEG * (1 + ans * ans),),
    "cotdg": (lambda g, ans, x: -g * DEG * (1 + ans * ans),),
    "radian": (
        lambda g, ans, d, m, s: g * (math.pi / 180),
        lambda g, ans, d, m, s: g * (math.pi / 10800),
        lambda g, ans, d, m, s: g * (math.pi / 648000),
    ),
    # gamma and beta
    "gamma": (lambda g, ans, x: g * ans * S.psi(x),),
    "lgam": (lambda g, ans, x: g * S.psi(x),),
    "rgamma": (lambda g, ans, x: -g * ans * S.psi(x),),
    "beta": (
        lambda g, ans, a, b: g * ans * (S.psi(a) - S.psi(a + b)),
        lambda g, ans, a, b: g * ans * (S.psi(b) - S.psi(a + b)),
    ),
    "lbeta": (
        lambda g, ans, a, b: g * (S.psi(a) - S.psi(a + b)),
        lambda g, ans, a, b: g * (S.psi(b) - S.psi(a + b)),
    ),
    "psi": (lambda g, ans, x: g * S.polygamma(1, x),),
    "polygamma": (lambda g, ans, m, x: g * S.polygamma(m + 1, x),),
    "igam": (lambda g, ans, a, x: g * _gamma_pdf(a, x),),
    "igamc": (lambda g, ans, a, x: -g * _gamma_pdf(a, x),),
    "igami": (lambda g, ans, a, p: -g / _gamma_pdf(a, ans),),
    "incbet": (lambda g, ans, a, b, x: g * _incbet_dx(a, b, x),),
    "incbi": (lambda g, ans, a, b, y: g / _incbet_dx(a, b, ans),),
    "lmvgam": (lambda g, ans, x, p: g * _mvdigamma(x, p),),
    "mvgam": (lambda g, ans, x, p: g * ans * _mvdigamma(x, p),),
    # error function and normal distribution
    "erf": (lambda g, ans, x: g * (2 / SQRT_PI) * ft.exp(-x * x),),
    "erfc": (lambda g, ans, x: -g * (2 / SQRT_PI) * ft.exp(-x * x),),
    "ndtr": (lambda g, ans, x: g * ft.exp(-x * x / 2) / math.sqrt(2 * math.pi),),
    "ndtri": (lambda g, ans, y: g * math.sqrt(2 * math.pi) * ft.exp(ans * ans / 2),),
    "expx2": (lambda g, ans, x, sign: g * 2 * x * ans * _sign_of(sign),),
    # distributions
    "bdtr": (lambda g, ans, k, n, p: -g * _incbet_dx(n - _floor(k), _floor(k) + 1, 1 - p),),
    "bdtrc": (lambda g, ans, k, n, p: g * _incbet_dx(n - _floor(k), _floor(k) + 1, 1 - p),),
    "btdtr": (lambda g, ans, a, b, x: g * _incbet_dx(a, b, x),),
    "chdtr": (lambda g, ans, df, x: g * _gamma_pdf(df / 2, x / 2) / 2,),
    "chdtrc": (lambda g, ans, df, x: -g * _gamma_pdf(df / 2, x / 2) / 2,),
    "chdtri": (lambda g, ans, df, y: -g * 2 / _gamma_pdf(df / 2, ans / 2),),
    "fdtr": (lambda g, ans, a, b, x: g * _f_pdf(a, b, x),),
    "fdtrc": (lambda g, ans, a, b, x: -g * _f_pdf(a, b, x),),
    "fdtri": (lambda g, ans, a, b, y: -g / _f_pdf(a, b, ans),),
    "gdtr": (lambda g, ans, a, b, x: g * a * _gamma_pdf(b, a * x),),
    "gdtrc": (lambda g, ans, a, b, x: -g * a * _gamma_pdf(b, a * x),),
    "nbdtr": (lambda g, ans, k, n, p: g * _incbet_dx(n, _floor(k) + 1, p),),
    "nbdtrc": (lambda g, ans, k, n, p: -g * _incbet_dx(n, _floor(k) + 1, p),),
    "pdtr": (lambda g, ans, k, m: -g * _gamma_pdf(_floor(k) + 1, m),),
    "pdtrc": (lambda g, ans, k, m: g * _gamma_pdf(_floor(k) + 1, m),),
    "pdtri": (lambda g, ans, k, y: -g / _gamma_pdf(_floor(k) + 1, ans),),
    "stdtr": (lambda g, ans, k, t: g * _t_pdf(k, t),),
    "stdtri": (lambda g, ans, k, p: g / _t_pdf(k, ans),),
    "kolmogorov": (lambda g, ans, y: g * _kolmogorov_dy(y),),
    "kolmogi": (lambda g, ans, p: g / _kolmogorov_dy(ans),),
    "smirnov": (lambda g, ans, n, e: g * _smirnov_de(n, e),),
    "smirnovi": (lambda g, ans, n, p: g / _smirnov_de(n, ans),),
    # Bessel
    "j0": (lambda g, ans, x: -g * S.j1(x),),
    "j1": (lambda g, ans, x: g * (S.j0(x) - S.jv(2.0, x)) / 2,),
    "jn": (lambda g, ans, n, x: g * (S.jn(n - 1, x) - S.jn(n + 1, x)) / 2,),
    "jv": (lambda g, ans, v, x: g * (S.jv(v - 1, x) - S.jv(v + 1, x)) / 2,),
    "y0": (lambda g, ans, x: -g * S.y1(x),),
    "y1": (lambda g, ans, x: g * (S.y0(x) - S.yn(2, x)) / 2,),
    "yn": (lambda g, ans, n, x: g * (S.yn(n - 1, x) - S.yn(n + 1, x)) / 2,),
    "i0": (lambda g, ans, x: g * S.i1(x),),
    "i0e": (lambda g, ans, x: g * (S.i1e(x) - _sign(x) * ans),),
    "i1": (lambda g, ans, x: g * (S.i0(x) + S.iv(2.0, x)) / 2,),
    "i1e": (lambda g, ans, x: g * (S.i0e(x) - ans * (_sign(x) + 1 / x)),),
    "iv": (lambda g, ans, v, x: g * (S.iv(v - 1, x) + S.iv(v + 1, x)) / 2,),
    "k0": (lambda g, ans, x: -g * S.k1(x),),
    "k0e": (lambda g, ans, x: g * (ans - S.k1e(x)),),
    "k1": (lambda g, ans, x: -g * (S.k0(x) + S.kn(2, x)) / 2,),
    "k1e": (lambda g, ans, x: g * (ans - S.k0e(x) - ans / x),),
    "kn": (lambda g, ans, n, x: -g * (S.kn(n - 1, x) + S.kn(n + 1, x)) / 2,),
    # hypergeometric and Struve
    "hyp2f1": (lambda g, ans, a, b, c, x: g * a * b / c * S.hyp2f1(a + 1, b + 1, c + 1, x),),
    "hyperg": (lambda g, ans, a, b, x: g * a / b * S.hyperg(a + 1, b + 1, x),),
    "struve": (
        lambda g, ans, v, x: (
            g * ((S.struve(v - 1, x) - S.struve(v + 1, x)) / 2 + S.pow(x / 2, v) / (2 * SQRT_PI) * S.rgamma(v + 1.5))
        ),
    ),
    # integrals and zeta
    "dawsn": (lambda g, ans, x: g * (1 - 2 * x * ans),),
    "ei": (lambda g, ans, x: g * ft.exp(x) / x,),
    "expn": (lambda g, ans, n, x: -g * S.expn(n - 1, x),),
    "spence": (lambda g, ans, x: g * ft.log(x) / (1 - x),),
    "zeta": (lambda g, ans, x, q: g * _zeta_dx(x, q), lambda g, ans, x, q: -g * x * S.zeta(x + 1, q)),
    "zetac": (lambda g, ans, x: g * _zeta_dx(x, 1.0),),
    "polylog": (lambda g, ans, n, x: g * S.polylog(n - 1, x) / x,),
    # elliptic (parameter m; ellpk/ellpe take m1 = 1 - m)
    "ellik": (
        lambda g, ans, phi, m: g / ft.sqrt(1 - m * S.sin(phi) ** 2),
        lambda g, ans, phi, m: (
            g
            * (
                S.ellie(phi, m) / (2 * m * (1 - m))
                - ans / (2 * m)
                - S.sin(2 * phi) / (4 * (1 - m) * ft.sqrt(1 - m * S.sin(phi) ** 2))
            )
        ),
    ),
    "ellie": (
        lambda g, ans, phi, m: g * ft.sqrt(1 - m * S.sin(phi) ** 2),
        lambda g, ans, phi, m: g * (ans - S.ellik(phi, m)) / (2 * m),
    ),
    "ellpk": (lambda g, ans, m1: -g * (S.ellpe(m1) - m1 * ans) / (2 * (1 - m1) * m1),),
    "ellpe": (lambda g, ans, m1: -g * (ans - S.ellpk(m1)) / (2 * (1 - m1)),),
}


def _trunc(n: Any) -> Any:
    return int(n) if isinstance(n, (int, float)) else ft.trunc(n)


def _sign_of(s: Any) -> Any:  # +1 for s >= 0, -1 below (expx2's sign argument)
    return (1.0 if s >= 0 else -1.0) if isinstance(s, (int, float)) else ft.ge(s, 0).double() * 2 - 1


def _floor(k: Any) -> Any:
    return math.floor(k) if isinstance(k, (int, float)) else S.floor(k)


def _mvdigamma(x: Any, p: Any) -> Any:
    """d/dx lmvgam(x, p): the sum of psi(x + (1 - j)/2) for j = 1..p."""
    if isinstance(p, (int, float)):
        return sum(S.psi(x + (1 - j) / 2) for j in range(1, int(p) + 1))
    pmax = int(ft.max(p).item())
    total: Any = 0
    for j in range(1, pmax + 1):
        total = total + S.psi(x + (1 - j) / 2) * ft.ge(p, j).double()
    return total


def _kolmogorov_dy(y: Any) -> Any:
    """d/dy kolmogorov(y) = -8 y sum_k (-1)**(k-1) k**2 exp(-2 k**2 y**2)."""
    total: Any = 0
    for k in range(1, 40):
        total = total + (-1) ** (k - 1) * k * k * ft.exp(-2.0 * k * k * y * y)
    return -8 * y * total


def _smirnov_de(n: Any, e: Any) -> Any:
    """d/de smirnov(n, e) by a fourth-order central difference (no closed form in scipy)."""
    h = 1e-4
    return (8 * (S.smirnov(n, e + h) - S.smirnov(n, e - h)) - (S.smirnov(n, e + 2 * h) - S.smirnov(n, e - 2 * h))) / (
        12 * h
    )


@hookimpl
def flambeau_register_gradients(register: Any) -> None:
    """Register a rule per differentiable argument of every record that declares one."""
    for rec in S.RECORDS:
        rules = RULES.get(rec.name)
        if rules is None:
            continue
        register(S.OPS[rec.name], *rules)
