"""Rules of the indexing ops: ``t[key]``, ``index_put``, gather/scatter, index_*, masked_*.

Adjoint pairs carry each other's gradients, so every rule is differentiable again: ``getitem``
goes back through ``index_put(accumulate=True)`` into zeros (repeated integer indices add up) and
``index_put`` back through ``g[key]``; ``index_select`` <-> ``index_add``; ``gather`` goes back
through ``index_put(accumulate=True)`` with the full integer key of the gathered positions;
``masked_select`` <-> ``masked_copy``. Writes (``scatter``, ``index_copy``, ``index_fill``,
``masked_fill``, ``masked_copy``, ``index_put`` without accumulation) give the overwritten
positions of ``input`` no gradient. Where a write names a position twice (repeated indices without
accumulation) the last write wins in the forward pass but every written value gets that position's
gradient, as in Torch.
"""

from __future__ import annotations

from typing import Any

import flambeau.tensor as ft

from ._table import rule


def _d(x: Any, dim: int) -> int:
    return int(dim) % max(x.dim(), 1)


def _is_int_array(k: Any) -> bool:
    """An integer index array (a LongTensor or a backend array; ByteTensor masks are not)."""
    if isinstance(k, list):
        return True
    dtype = getattr(k, "dtype", None)
    return dtype is not None and dtype.kind in "iu" and dtype.itemsize > 1


def _items(key: Any) -> tuple[Any, ...]:
    return key if isinstance(key, tuple) else (key,)


def _getitem(g: Any, ans: Any, x: Any, key: Any) -> Any:
    # Only integer arrays can name an element twice; bool masks and basic keys never do.
    repeats = any(_is_int_array(k) for k in _items(key))
    return ft.zeros_like(x).index_put(key, g, accumulate=repeats)


def _index_put_input(g: Any, ans: Any, x: Any, key: Any, values: Any, accumulate: bool = False) -> Any:
    return g if accumulate else g.index_put(key, 0.0)


def _index_put_values(g: Any, ans: Any, x: Any, key: Any, values: Any, accumulate: bool = False) -> Any:
    return g[key]  # the tracer sums it down to values' size (undoing the broadcast)


def _full_key(x: Any, d: int, index: Any) -> tuple[Any, ...]:
    """The integer key naming, for each element of ``index``, the element of ``x`` that gather reads."""
    n = index.dim()
    key = []
    for k in range(n):
        if k == d:
            key.append(index)
        else:
            shape = [1] * n
            shape[k] = index.size(k)
            key.append(ft.arange(index.size(k), device=x.device).view(*shape))
    return tuple(key)


def _gather(g: Any, ans: Any, x: Any, dim: int, index: Any) -> Any:
    return ft.zeros_like(x).index_put(_full_key(x, _d(x, dim), index), g, accumulate=True)


def _fit_back(gs: Any, src: Any) -> Any:
    """``gs`` (of ``index``'s size) padded with zeros to ``src``'s size where ``src`` is larger."""
    if not isinstance(src, ft.Tensor) or src.dim() != gs.dim() or tuple(gs.size()) == tuple(src.size()):
        return gs
    if all(a <= b for a, b in zip(gs.size(), src.size(), strict=True)):
        return ft.zeros_like(src).index_put(tuple(slice(0, s) for s in gs.size()), gs)
    return gs


rule("getitem", _getitem)
rule("index_put", _index_put_input, _index_put_values)
rule("index_select", lambda g, ans, x, dim, index: ft.zeros_like(x).index_add(dim, index, g))
rule("gather", _gather)
rule(
    "scatter",
    lambda g, ans, x, dim, index, src: g.scatter(dim, index, 0.0),
    lambda g, ans, x, dim, index, src: _fit_back(g.gather(dim, index), src),
)
rule(
    "index_copy",
    lambda g, ans, x, dim, index, source: g.index_fill(dim, index, 0.0),
    lambda g, ans, x, dim, index, source: g.index_select(dim, index),
)
rule(
    "index_add",
    lambda g, ans, x, dim, index, source: g,
    lambda g, ans, x, dim, index, source: g.index_select(dim, index),
)
rule("index_fill", lambda g, ans, x, dim, index, value: g.index_fill(dim, index, 0.0))


def _masked_copy_source(g: Any, ans: Any, x: Any, mask: Any, source: Any) -> Any:
    picked = g.masked_select(mask)
    n, count = source.nelement(), picked.nelement()
    if n > count:
        picked = ft.cat([picked, ft.zeros(n - count, dtype=g.dtype, device=g.device)], 0)
    return picked.reshape(*source.size()) if source.dim() else picked.reshape(())


rule("masked_select", lambda g, ans, x, mask: ft.zeros_like(x).masked_copy(mask, g))
rule(
    "masked_fill",
    lambda g, ans, x, mask, value: g.masked_fill(mask, 0.0),
    value=lambda g, ans, x, mask, value: g.masked_select(mask).sum(),
)
rule("masked_copy", lambda g, ans, x, mask, source: g.masked_fill(mask, 0.0), _masked_copy_source)
