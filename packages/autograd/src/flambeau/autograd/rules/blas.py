"""Rules of the matrix and vector products (Torch7's BLAS group) and ``cross``.

Each rule is written with the products themselves (and transposes), so it differentiates again.
``beta``/``alpha`` scale the gradients of the added tensor and of the product factors; a ``beta``
of 0 gives the added tensor no gradient. Broadcasting of ``matmul``'s batch dims and of the added
tensor of ``addmm``... is undone by the tracer.
"""

from __future__ import annotations

from typing import Any

import flambeau.tensor as ft

from ._table import rule


def _mT(x: Any) -> Any:  # noqa: N802 - the usual name of a batched transpose
    return x.transpose(-1, -2)


def _scale(g: Any, s: Any) -> Any:
    if isinstance(s, (int, float)) and not isinstance(s, bool):
        if s == 0:
            return None
        if s == 1:
            return g
    return g * s


# --------------------------------------------------------------------------------------------
# Plain products.

rule("mm", lambda g, ans, a, b: ft.mm(g, b.t()), lambda g, ans, a, b: ft.mm(a.t(), g))
rule("mv", lambda g, ans, a, v: ft.ger(g, v), lambda g, ans, a, v: ft.mv(a.t(), g))
rule("bmm", lambda g, ans, a, b: ft.bmm(g, _mT(b)), lambda g, ans, a, b: ft.bmm(_mT(a), g))
rule("ger", lambda g, ans, u, v: ft.mv(g, v), lambda g, ans, u, v: ft.mv(g.t(), u))


def _dot_side(g: Any, other: Any, like: Any) -> Any:
    out = g * other  # dot takes both tensors as flat: the other's values in this one's shape
    return out if out.size() == like.size() else out.reshape(*like.size())


rule("dot", lambda g, ans, a, b: _dot_side(g, b, a), lambda g, ans, a, b: _dot_side(g, a, b))


def _matmul_input(g: Any, ans: Any, a: Any, b: Any) -> Any:
    if a.dim() == 1:
        if b.dim() == 1:  # dot: g is 0-d
            return g * b
        if b.dim() == 2:  # (n) @ (n, p) -> (p)
            return ft.mv(b, g)
        return (b * g.unsqueeze(-2)).sum(-1)  # (n) @ (..., n, p) -> (..., p); batch dims summed by the tracer
    if b.dim() == 1:  # (..., m, n) @ (n) -> (..., m)
        return g.unsqueeze(-1) * b
    return ft.matmul(g, _mT(b))


def _matmul_other(g: Any, ans: Any, a: Any, b: Any) -> Any:
    if b.dim() == 1:
        if a.dim() == 1:
            return g * a
        if a.dim() == 2:  # (m, n) @ (n) -> (m)
            return ft.mv(a.t(), g)
        return (a * g.unsqueeze(-1)).sum(-2)  # (..., m, n) @ (n) -> (..., m)
    if a.dim() == 1:  # (n) @ (..., n, p) -> (..., p)
        return a.unsqueeze(-1) * g.unsqueeze(-2)
    return ft.matmul(_mT(a), g)


rule("matmul", _matmul_input, _matmul_other)

# --------------------------------------------------------------------------------------------
# beta * input + alpha * product.

rule(
    "addmm",
    lambda g, ans, x, m1, m2, beta, alpha: _scale(g, beta),
    lambda g, ans, x, m1, m2, beta, alpha: _scale(ft.mm(g, m2.t()), alpha),
    lambda g, ans, x, m1, m2, beta, alpha: _scale(ft.mm(m1.t(), g), alpha),
)
rule(
    "addmv",
    lambda g, ans, x, m, v, beta, alpha: _scale(g, beta),
    lambda g, ans, x, m, v, beta, alpha: _scale(ft.ger(g, v), alpha),
    lambda g, ans, x, m, v, beta, alpha: _scale(ft.mv(m.t(), g), alpha),
)
rule(
    "addr",
    lambda g, ans, x, u, v, beta, alpha: _scale(g, beta),
    lambda g, ans, x, u, v, beta, alpha: _scale(ft.mv(g, v), alpha),
    lambda g, ans, x, u, v, beta, alpha: _scale(ft.mv(g.t(), u), alpha),
)
rule(
    "addbmm",  # g is n x p, shared by every batch entry
    lambda g, ans, x, b1, b2, beta, alpha: _scale(g, beta),
    lambda g, ans, x, b1, b2, beta, alpha: _scale(ft.matmul(g, _mT(b2)), alpha),
    lambda g, ans, x, b1, b2, beta, alpha: _scale(ft.matmul(_mT(b1), g), alpha),
)
rule(
    "baddbmm",
    lambda g, ans, x, b1, b2, beta, alpha: _scale(g, beta),
    lambda g, ans, x, b1, b2, beta, alpha: _scale(ft.bmm(g, _mT(b2)), alpha),
    lambda g, ans, x, b1, b2, beta, alpha: _scale(ft.bmm(_mT(b1), g), alpha),
)

# d(a x b) . g = da . (b x g) + db . (g x a); ``dim`` (None: the first of size 3) is the same for g.
rule(
    "cross",
    lambda g, ans, a, b, dim: ft.cross(b, g, dim),
    lambda g, ans, a, b, dim: ft.cross(g, a, dim),
)
