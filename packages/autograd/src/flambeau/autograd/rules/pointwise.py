"""Rules of the element-wise ops. Broadcasting is undone by the tracer, so these stay one-liners.

Ties and kinks: ``abs`` has gradient 0 at 0; ``cmax``/``cmin`` give each side half of ``g`` where
the two are equal (the total is kept); ``clamp`` passes ``g`` only strictly inside its bounds;
``fmod``/``remainder``/``frac`` have gradient 1 in their first argument (the jumps are ignored).
"""

from __future__ import annotations

import math
from typing import Any

import flambeau.tensor as ft

from ._table import rule


def _isnum(x: Any) -> bool:
    return not isinstance(x, ft.Tensor)


def _eq_half(x: Any, y: Any) -> Any:
    """1 where x > y, 0.5 where equal, 0 where x < y (as x's float type, broadcast)."""
    return ft.gt(x, y).type(_ftype(x, y)) + 0.5 * ft.eq(x, y).type(_ftype(x, y))


def _ftype(x: Any, y: Any) -> Any:
    for v in (x, y):
        if isinstance(v, ft.Tensor) and v.dtype.kind == "f":
            return v.dtype
    return ft.default_dtype()


rule("abs", lambda g, ans, x: g * ft.sign(x))
rule("neg", lambda g, ans, x: -g)
rule("acos", lambda g, ans, x: -g * ft.rsqrt(1 - x * x))
rule("asin", lambda g, ans, x: g * ft.rsqrt(1 - x * x))
rule("atan", lambda g, ans, x: g / (1 + x * x))
rule("frac", lambda g, ans, x: g)
rule("cos", lambda g, ans, x: -g * ft.sin(x))
rule("sin", lambda g, ans, x: g * ft.cos(x))
rule("tan", lambda g, ans, x: g * (1 + ans * ans))
rule("cosh", lambda g, ans, x: g * ft.sinh(x))
rule("sinh", lambda g, ans, x: g * ft.cosh(x))
rule("tanh", lambda g, ans, x: g * (1 - ans * ans))
rule("exp", lambda g, ans, x: g * ans)
rule("expm1", lambda g, ans, x: g * (ans + 1))
rule("log", lambda g, ans, x: g / x)
rule("log1p", lambda g, ans, x: g / (x + 1))
rule("log2", lambda g, ans, x: g / (x * 0.6931471805599453))
rule("log10", lambda g, ans, x: g / (x * 2.302585092994046))
rule("sqrt", lambda g, ans, x: g * 0.5 / ans)
rule("rsqrt", lambda g, ans, x: g * -0.5 * ans / x)
rule("cinv", lambda g, ans, x: -g * ans * ans)
rule("square", lambda g, ans, x: g * 2 * x)
rule("sigmoid", lambda g, ans, x: g * ans * (1 - ans))

rule("add", lambda g, ans, x, y, alpha: g, lambda g, ans, x, y, alpha: g if alpha == 1 else g * alpha)
rule("sub", lambda g, ans, x, y, alpha: g, lambda g, ans, x, y, alpha: -g if alpha == 1 else g * -alpha)
rule("mul", lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x)
rule("div", lambda g, ans, x, y: g / y, lambda g, ans, x, y: -g * ans / y)


def _pow_base(g: Any, ans: Any, x: Any, y: Any) -> Any:
    if _isnum(y):
        if y == 0:
            return None
        return g * y * (x ** (y - 1))  # x ** (y-1) is finite at 0 for y >= 1
    # x**(y-1) where y != 0; where y == 0 the term is 0 (avoids 0**-1 at x == 0)
    safe = ft.where(ft.eq(y, 0), ft.ones_like(y), y)
    return g * ft.where(ft.eq(y, 0), ft.zeros_like(y), y * x ** (safe - 1))


def _pow_exponent(g: Any, ans: Any, x: Any, y: Any) -> Any:
    if _isnum(x):  # d/dy x**y = log(x) x**y; 0 at x == 0 (the limit for y > 0), nan below
        return g * ans * (math.log(x) if x > 0 else 0.0 if x == 0 else math.nan)
    # d/dy x**y = log(x) x**y; 0 where x == 0 (the limit for y > 0)
    safe = ft.where(ft.eq(x, 0), ft.ones_like(x), x)
    return g * ans * ft.log(safe)


rule("pow", _pow_base, _pow_exponent)
rule("fmod", lambda g, ans, x, y: g)
rule("remainder", lambda g, ans, x, y: g)
rule(
    "atan2",
    lambda g, ans, y, x: g * x / (x * x + y * y),
    lambda g, ans, y, x: -g * y / (x * x + y * y),
)
rule("cmax", lambda g, ans, x, y: g * _eq_half(x, y), lambda g, ans, x, y: g * _eq_half(y, x))
rule("cmin", lambda g, ans, x, y: g * _eq_half(y, x), lambda g, ans, x, y: g * _eq_half(x, y))


def _clamp(g: Any, ans: Any, x: Any, lo: Any, hi: Any) -> Any:
    inside = ft.ones_like(x)
    if lo is not None:
        inside = inside * ft.gt(x, lo).type(x.dtype)
    if hi is not None:
        inside = inside * ft.lt(x, hi).type(x.dtype)
    return g * inside


rule("clamp", _clamp)
rule(
    "lerp",
    lambda g, ans, a, b, w: g * (1 - w),
    lambda g, ans, a, b, w: g * w,
    lambda g, ans, a, b, w: g * (b - a),
)
rule(
    "addcmul",
    lambda g, ans, x, t1, t2, value: g,
    lambda g, ans, x, t1, t2, value: g * t2 * value,
    lambda g, ans, x, t1, t2, value: g * t1 * value,
)
rule(
    "addcdiv",
    lambda g, ans, x, t1, t2, value: g,
    lambda g, ans, x, t1, t2, value: g * value / t2,
    lambda g, ans, x, t1, t2, value: -g * value * t1 / (t2 * t2),
)
rule(
    "where",
    lambda g, ans, c, x, y: ft.where(c, g, ft.zeros_like(g)),
    lambda g, ans, c, x, y: ft.where(c, ft.zeros_like(g), g),
)
