"""Rules of sorting and order statistics: sort, topk, kthvalue, median, mode.

``sort`` and ``topk`` send each output's gradient back to the element it came from (through the
returned indices: a permutation, so ties need no convention). ``kthvalue``, ``median`` (whole tensor
or along a dim) and ``mode`` share the gradient evenly among the elements equal to the result, as
``max``/``min`` do (the HIPS convention: the total equals the incoming gradient), not only the one
at the returned index.
"""

from __future__ import annotations

from typing import Any

import flambeau.tensor as ft

from ._table import rule
from .reduce import split_ties


def _scatter_back(g: Any, ans: Any, x: Any, dim: int) -> Any:
    """``g`` (the values' gradient) placed back at the positions ``ans.indices`` picked along ``dim``."""
    if g[0] is None:
        return None
    if not x.dim():
        return g[0].reshape(())
    return ft.zeros_like(x).scatter(dim, ans[1], g[0])


def _sort(g: Any, ans: Any, x: Any, dim: int, descending: bool) -> Any:
    return _scatter_back(g, ans, x, dim)


def _topk(g: Any, ans: Any, x: Any, k: int, dim: int, largest: bool, sorted: bool) -> Any:  # noqa: A002
    return _scatter_back(g, ans, x, dim)


def _order_stat(g: Any, ans: Any, x: Any, dim: int, keepdim: bool) -> Any:
    if g[0] is None:
        return None
    if not x.dim():
        return g[0].reshape(())
    return split_ties(g[0], ans[0], x, dim, keepdim)


def _median(g: Any, ans: Any, x: Any, dim: Any, keepdim: bool) -> Any:
    if dim is None:  # a single 0-d result
        return split_ties(g, ans, x, None, False)
    return _order_stat(g, ans, x, dim, keepdim)


rule("sort", _sort)
rule("topk", _topk)
rule("kthvalue", lambda g, ans, x, k, dim, keepdim: _order_stat(g, ans, x, dim, keepdim))
rule("median", _median)
rule("mode", _order_stat)
