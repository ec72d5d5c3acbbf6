"""Rules of the reductions and running ops.

Ties: ``max``/``min`` (whole tensor or along a dim) and ``norm(p=inf)`` share the gradient evenly
among the elements equal to the result (the HIPS convention: the total equals the incoming
gradient), not only the element at the returned index. ``prod`` is exact with zeros in the input
(first and second order); ``cumprod`` divides by the input, so it is exact only where the input has
no zero. ``norm(p=0)`` (a count) has gradient 0; ``norm`` with p=2 and ``std`` give 0 or inf/nan
where the result is 0 as a subgradient choice (p=2: 0; std: nan, as 0/0).
"""

from __future__ import annotations

import math
from typing import Any

import flambeau.tensor as ft

from ._table import rule


def _dims(x: Any, dim: Any) -> tuple[int, ...]:
    """The reduced dimensions as non-negative ints (every one when ``dim`` is None)."""
    n = x.dim()
    if dim is None:
        return tuple(range(n))
    if isinstance(dim, int):
        return (dim % max(n, 1),)
    return tuple(d % max(n, 1) for d in dim)


def expand_back(g: Any, x: Any, dim: Any, keepdim: bool) -> Any:
    """The gradient ``g`` of a reduction over ``dim`` broadcast back to ``x``'s size."""
    if not keepdim and x.dim():
        shape = list(x.size())
        for d in _dims(x, dim):
            shape[d] = 1
        g = g.view(*shape) if g.is_contiguous() else g.reshape(*shape)  # view: no copy
    return g.expand(*x.size()) if x.dim() else g.reshape(())


def _count(x: Any, dim: Any) -> int:
    n = 1
    for d in _dims(x, dim):
        n *= x.size(d)
    return n


rule("sum", lambda g, ans, x, dim, keepdim: expand_back(g, x, dim, keepdim))
rule("mean", lambda g, ans, x, dim, keepdim: expand_back(g, x, dim, keepdim) / _count(x, dim))


def _keep(v: Any, x: Any, dim: Any, keepdim: bool) -> Any:
    """A reduction's result ``v`` with its reduced dims kept (size 1), ready to broadcast against ``x``."""
    if keepdim or not x.dim():
        return v
    shape = list(x.size())
    for d in _dims(x, dim):
        shape[d] = 1
    return v.reshape(*shape)


def _safe(t: Any) -> Any:
    """``t`` with its zeros replaced by ones (a divisor that cannot blow up where the quotient is masked)."""
    return ft.where(ft.eq(t, 0), ft.ones_like(t), t)


def _prod(g: Any, ans: Any, x: Any, dim: Any, keepdim: bool) -> Any:
    # d prod / d x_j = prod_{k != j} x_k = (product of the non-zero x_k, k != j) * Z_j, where Z_j is the
    # product of the zero x_k, k != j: 1 if there is none, that x_k (a traced 0) if one, 0 if more.
    # Exact with zeros, for the gradient and for its derivative (second order).
    zero = ft.eq(x, 0)
    xs = ft.where(zero, ft.ones_like(x), x)
    others = _keep(ft.prod(xs, dim, keepdim), x, dim, keepdim) / xs
    # no data-dependent branch (a rule may be recorded once and replayed by the optimized mode)
    z = zero.type(x.dtype)
    rest = _keep(ft.sum(z, dim, keepdim), x, dim, keepdim) - z  # zeros among the others
    zx = ft.where(zero, x, ft.zeros_like(x))
    lone = _keep(ft.sum(zx, dim, keepdim), x, dim, keepdim) - zx  # the one other zero, as a traced value
    zprod = ft.where(ft.eq(rest, 0), ft.ones_like(x), ft.where(ft.eq(rest, 1), lone, ft.zeros_like(x)))
    return expand_back(g, x, dim, keepdim) * others * zprod


def _var(g: Any, ans: Any, x: Any, dim: Any, unbiased: bool, keepdim: bool) -> Any:
    n = _count(x, dim) - (1 if unbiased else 0)
    return expand_back(g, x, dim, keepdim) * (x - ft.mean(x, dim, True)) * (2.0 / n)


def _std(g: Any, ans: Any, x: Any, dim: Any, unbiased: bool, keepdim: bool) -> Any:
    n = _count(x, dim) - (1 if unbiased else 0)
    return expand_back(g, x, dim, keepdim) * (x - ft.mean(x, dim, True)) / (_keep(ans, x, dim, keepdim) * n)


def split_ties(g: Any, value: Any, x: Any, dim: Any, keepdim: bool) -> Any:
    """``g`` shared evenly among the elements of ``x`` equal to the reduction's ``value`` (ties split)."""
    mask = ft.eq(x, _keep(value, x, dim, keepdim)).type(x.dtype)
    count = ft.sum(mask, dim, True) if x.dim() else mask
    return expand_back(g, x, dim, keepdim) * mask / count


def _extreme(g: Any, ans: Any, x: Any, dim: Any, keepdim: bool) -> Any:
    if dim is None:  # a single 0-d result
        return split_ties(g, ans, x, None, False)
    if g[0] is None:
        return None
    return split_ties(g[0], ans[0], x, dim, keepdim)


def _cumsum(g: Any, ans: Any, x: Any, dim: int) -> Any:
    if not x.dim():
        return g
    # the reversed running sum: sum_{i >= j} g_i
    return ft.sum(g, dim, True) - ft.cumsum(g, dim) + g


def _cumprod(g: Any, ans: Any, x: Any, dim: int) -> Any:
    # sum_{i >= j} g_i * ans_i / x_j: exact where x has no zero (zeros give inf/nan, as 1/x).
    if not x.dim():
        return g
    return _cumsum(g * ans, ans, x, dim) / x


def norm_grad(g: Any, ans: Any, x: Any, p: Any, dim: Any, keepdim: bool) -> Any:
    """The gradient of ``x.norm(p, dim, keepdim)`` (value ``ans``) for the incoming ``g``."""
    p = float(p)
    if p == 0:  # a count of non-zeros: piecewise constant
        return None
    gx = expand_back(g, x, dim, keepdim)
    if p == 1:
        return gx * ft.sign(x)
    n = _keep(ans, x, dim, keepdim)
    if p == math.inf:  # |x| at its largest: ties split, as max
        return split_ties(g, ans, ft.abs(x), dim, keepdim) * ft.sign(x)
    if p == 2:
        return gx * x / _safe(n)  # 0 where the norm is 0 (x = 0: a subgradient)
    return gx * ft.sign(x) * ft.abs(x) ** (p - 1) / _safe(n) ** (p - 1)


rule("prod", _prod)
rule("var", _var)
rule("std", _std)
rule("max", _extreme)
rule("min", _extreme)
rule("cumsum", _cumsum)
rule("cumprod", _cumprod)
rule("norm", norm_grad)
rule(
    "dist",
    lambda g, ans, x, y, p: norm_grad(g, ans, x - y, p, None, False),
    lambda g, ans, x, y, p: _neg(norm_grad(g, ans, x - y, p, None, False)),
)
rule(
    "logsumexp",
    lambda g, ans, x, dim, keepdim: expand_back(g, x, dim, keepdim) * ft.exp(x - _keep(ans, x, dim, keepdim)),
)


def _neg(t: Any) -> Any:
    return None if t is None else -t
