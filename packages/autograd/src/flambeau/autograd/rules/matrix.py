"""Rules of the matrix ops: diag, trace, tril, triu, renorm, match.

``renorm`` differentiates through its rescaling factor (``maxnorm / (norm + 1e-7)`` for the slices
whose norm is above ``maxnorm``; slices exactly at the threshold take the unscaled side).
"""

from __future__ import annotations

import math
from typing import Any

import flambeau.tensor as ft

from ._table import rule
from .reduce import norm_grad


def _diag(g: Any, ans: Any, x: Any, k: int) -> Any:
    if x.dim() == 1:  # vector -> matrix: read the diagonal back
        return ft.diag(g, k)
    # matrix -> vector: put g on diagonal k of an m x n zero matrix (flat positions i*n + j, j = i + k)
    m, n = x.size()
    idx = ft.arange(g.size(0), dtype=ft.int64, device=g.device) * (n + 1) + (k if k >= 0 else -k * n)
    return ft.zeros(m * n, dtype=g.dtype, device=g.device).index_add(0, idx, g).view(m, n)


def _trace(g: Any, ans: Any, x: Any) -> Any:
    m, n = x.size()
    return g * ft.eye(m, n, dtype=x.dtype, device=x.device)


def _renorm(g: Any, ans: Any, x: Any, p: Any, dim: int, maxnorm: Any) -> Any:
    d = dim % x.dim()
    others: tuple[int, ...] | None = tuple(i for i in range(x.dim()) if i != d)
    if not others:  # each slice is one number: its norm is |x|
        others = None
    norms = ft.norm(x, p, others, True) if others is not None else ft.abs(x)
    over = ft.gt(norms, maxnorm)
    den = norms + 1e-7
    scale = ft.where(over, maxnorm / den, ft.ones_like(norms))
    # y = x * scale(norm(x)): g * scale + x-part through the norm, on the rescaled slices only
    inner = ft.sum(g * x, others, True) if others is not None else g * x
    dscale = ft.where(over, -maxnorm / (den * den), ft.zeros_like(norms)) * inner
    if others is None:
        return g * scale + dscale * ft.sign(x)
    return g * scale + norm_grad(dscale, norms, x, p, others, True)


def _flat(t: Any) -> Any:
    return t.reshape(t.size(0), math.prod(t.size()[1:]))


def _match_input(g: Any, ans: Any, x: Any, y: Any, gain: Any) -> Any:
    a, b = _flat(x), _flat(y)
    d = a.unsqueeze(1) - b.unsqueeze(0)  # N1 x N2 x D
    return ((g.unsqueeze(2) * d).sum(1) * (2 * gain)).reshape(*x.size())


def _match_other(g: Any, ans: Any, x: Any, y: Any, gain: Any) -> Any:
    a, b = _flat(x), _flat(y)
    d = a.unsqueeze(1) - b.unsqueeze(0)
    return ((g.unsqueeze(2) * d).sum(0) * (-2 * gain)).reshape(*y.size())


rule("diag", _diag)
rule("trace", _trace)
rule("tril", lambda g, ans, x, k: ft.tril(g, k))
rule("triu", lambda g, ans, x, k: ft.triu(g, k))
rule("renorm", _renorm)
rule("match", _match_input, _match_other)
