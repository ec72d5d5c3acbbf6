"""Rules of the view, shape, join and split ops.

Conventions: a view that picks part of its input (select, narrow, sub_view, unfold) sends ``g``
back by writing it into zeros with :func:`ft.index_put` (``accumulate=True``, so unfold's
overlapping windows add up), whose own rules read ``g[key]`` back: the pair is its own adjoint and
every rule stays differentiable. Ops that only rearrange elements (view, reshape, squeeze,
flatten, ...) reshape ``g`` to the input's size; ``expand``/``expand_as`` return ``g`` as is and let
the tracer sum it down (their growth is numpy broadcasting).
"""

from __future__ import annotations

import operator
from typing import Any

import flambeau.tensor as ft

from ._table import rule


def _ints(size: tuple[Any, ...]) -> tuple[int, ...]:
    """A ``*size`` argument as ints: ``(2, 3)``, ``((2, 3),)`` or ``(Size,)`` alike."""
    if len(size) == 1 and not isinstance(size[0], int):
        size = tuple(size[0])
    return tuple(operator.index(s) for s in size)


def _d(x: Any, dim: int, extra: int = 0) -> int:
    return operator.index(dim) % max(x.dim() + extra, 1)


def same_size(g: Any, x: Any) -> Any:
    """``g`` (same number of elements as ``x``) reshaped to ``x``'s size."""
    if tuple(g.size()) == tuple(x.size()):
        return g
    return g.reshape(*x.size()) if x.dim() else g.reshape(())


def embed(g: Any, x: Any, key: tuple[Any, ...]) -> Any:
    """Zeros of ``x``'s size with ``g`` added at ``x[key]`` (repeated positions accumulate)."""
    return embed_all([(key, g)], x)


def embed_all(parts: Any, x: Any) -> Any:
    """Zeros of ``x``'s size with each ``(key, g)`` of ``parts`` added at ``x[key]`` in turn."""
    out = ft.zeros_like(x)
    for key, g in parts:
        out = out.index_put(key, g, accumulate=True)
    return out


def _select(g: Any, ans: Any, x: Any, dim: int, index: int) -> Any:
    d = _d(x, dim)
    return embed(g, x, (slice(None),) * d + (operator.index(index), Ellipsis))


def _narrow(g: Any, ans: Any, x: Any, dim: int, start: int, length: int) -> Any:
    d = _d(x, dim)
    s = start + x.size(d) if start < 0 else start
    return embed(g, x, (slice(None),) * d + (slice(s, s + length),))


def _sub_view(g: Any, ans: Any, x: Any, bounds: tuple[int, ...]) -> Any:
    key = []
    for d in range(len(bounds) // 2):
        n = x.size(d)
        s, e = (b % n for b in bounds[2 * d : 2 * d + 2])
        key.append(slice(s, e + 1))
    return embed(g, x, tuple(key))


def _permute(g: Any, ans: Any, x: Any, dims: tuple[Any, ...]) -> Any:
    dims = tuple(d % max(x.dim(), 1) for d in _ints(dims))
    inverse = [0] * len(dims)
    for i, d in enumerate(dims):
        inverse[d] = i
    return g.permute(*inverse) if inverse else g


def _unfold(g: Any, ans: Any, x: Any, dimension: int, size: int, step: int) -> Any:
    # g: x's size with dim d replaced by the window count, plus a last dim of the window size.
    # Element j of every window sits at x's positions j, j + step, j + 2 step, ...: one strided
    # slice per j, so g goes back as `size` slice additions. (A scatter-add through an index array
    # is 5-10x slower on the cpu, and its atomics serialise on a GPU where windows overlap.)
    d = _d(x, dimension)
    count, last = ans.size(d), g.dim() - 1
    lead = (slice(None),) * d
    return embed_all(
        ((lead + (slice(j, j + (count - 1) * step + 1, step),), g.select(last, j)) for j in range(size)), x
    )


def _repeat(g: Any, ans: Any, x: Any, sizes: tuple[Any, ...]) -> Any:
    reps = _ints(sizes)
    have = (1,) * (len(reps) - x.dim()) + tuple(x.size())
    split = []
    for r, s in zip(reps, have, strict=True):
        split += [r, s]
    if not split:
        return g
    g = g.reshape(*split).sum(dim=tuple(range(0, len(split), 2)))
    return same_size(g, x)


def _cat(g: Any, ans: Any, tensors: list[Any], dim: int = 0) -> list[Any]:
    parts = [t for t in tensors if t.nelement() > 0] or tensors[:1]
    d = _d(parts[0], dim)
    out: list[Any] = []
    start = 0
    for t in tensors:
        if t.nelement() == 0:
            out.append(None)
            continue
        n = t.size(d)
        out.append(g.narrow(d, start, n))
        start += n
    return out


def _stack(g: Any, ans: Any, tensors: list[Any], dim: int = 0) -> list[Any]:
    d = _d(tensors[0], dim, extra=1)
    return [g.select(d, i) for i in range(len(tensors))]


def _pieces(g: Any, ans: Any, x: Any, dim: int) -> Any:
    """The gradient of a split into ``ans`` along ``dim``: the pieces' gradients joined."""
    if all(p is None for p in g):
        return None
    parts = [ft.zeros_like(a) if p is None else p for p, a in zip(g, ans, strict=True)]
    return parts[0] if len(parts) == 1 else ft.cat(parts, _d(x, dim))


rule("select", _select)
rule("narrow", _narrow)
rule("sub_view", _sub_view)
rule("transpose", lambda g, ans, x, d0, d1: g.transpose(d0, d1))
rule("t", lambda g, ans, x: g.t())
rule("permute", _permute)
rule("unfold", _unfold)
rule("view", lambda g, ans, x, size: same_size(g, x))
rule("view_as", lambda g, ans, x, other: same_size(g, x), other=None)
rule("expand", lambda g, ans, x, size: g)  # the tracer sums g down to x's size
rule("expand_as", lambda g, ans, x, other: g, other=None)
rule("squeeze", lambda g, ans, x, dim: same_size(g, x))
rule("unsqueeze", lambda g, ans, x, dim: same_size(g, x))
rule("reshape", lambda g, ans, x, size: same_size(g, x))
rule("flatten", lambda g, ans, x: same_size(g, x))
rule("cat", _cat)
rule("stack", _stack)
rule("split", lambda g, ans, x, split_size, dim: _pieces(g, ans, x, dim))
rule("chunk", lambda g, ans, x, chunks, dim: _pieces(g, ans, x, dim))
rule("repeat_tensor", _repeat)
