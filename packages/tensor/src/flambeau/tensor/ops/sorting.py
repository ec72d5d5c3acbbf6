"""Sorting and order statistics (Torch7 2.4): sort, topk, kthvalue, median, mode.

Each returns a ``(values, indices)`` named tuple along ``dim`` (default: the last dim), with
0-based LongTensor indices. Sorting is stable, so indices are deterministic: equal elements keep
their original order, ascending or descending. NaN follows numpy's order: it is larger than every
number (last in an ascending sort, first in a descending one, the largest for ``topk``).
A 0-d tensor counts as one element along dim 0 (or -1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import IndexError, ShapeError, check_dim
from ..optable import Op, declare


def _argsort(xp: Any, a: Any, axis: int) -> Any:
    try:
        return xp.argsort(a, axis=axis, kind="stable")
    except (TypeError, NotImplementedError):  # cupy without ``kind``: its sort is always stable
        return xp.argsort(a, axis=axis)


def _sorted(xp: Any, op: str, input: Any, dim: int, descending: bool) -> tuple[Any, Any, int]:
    """Stably sorted values and int64 indices along ``dim`` (0-d inputs as 1 element), and the dim."""
    d = check_dim(input, dim, op, scalar_ok=True)
    a = input.reshape(1) if input.ndim == 0 else input
    if descending:  # a stable descending sort: sort the reversed slices, then reverse back
        idx = (a.shape[d] - 1) - xp.flip(_argsort(xp, xp.flip(a, axis=d), d), axis=d)
    else:
        idx = _argsort(xp, a, d)
    return xp.take_along_axis(a, idx, axis=d), idx.astype(np.int64), d


def _reduced_shape(input: Any, d: int, keepdim: bool) -> tuple[int, ...]:
    if input.ndim == 0:
        return ()
    s = list(input.shape)
    if keepdim:
        s[d] = 1
    else:
        del s[d]
    return tuple(s)


def _at(a: Any, d: int, k: int) -> Any:
    """The k-th entry along dim ``d``, keeping the dim."""
    key = [slice(None)] * a.ndim
    key[d] = slice(k, k + 1)
    return a[tuple(key)]


def _nonempty(op: str, input: Any, d: int) -> int:
    n = input.shape[d] if input.ndim else 1
    if n == 0:
        raise ShapeError(f"{op}: dim {d} of the input (size {'x'.join(map(str, input.shape))}) is empty")
    return n


def _sort(xp: Any, input: Any, dim: int = -1, descending: bool = False) -> Any:
    v, i, _ = _sorted(xp, "sort", input, dim, descending)
    return v.reshape(input.shape), i.reshape(input.shape)


def _topk(xp: Any, input: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:  # noqa: A002
    d = check_dim(input, dim, "topk", scalar_ok=True)
    n = input.shape[d] if input.ndim else 1
    if not 0 <= k <= n:
        raise IndexError(f"topk: k={k} is out of range for dim {d} of size {n}")
    v, i, d = _sorted(xp, "topk", input, dim, largest)
    key = [slice(None)] * v.ndim
    key[d] = slice(0, k)
    v, i = v[tuple(key)], i[tuple(key)]
    if input.ndim == 0 and k == 1:  # the 0-d input itself
        return v.reshape(()), i.reshape(())
    return v, i


def _kthvalue(xp: Any, input: Any, k: int, dim: int = -1, keepdim: bool = False) -> Any:
    d = check_dim(input, dim, "kthvalue", scalar_ok=True)
    n = _nonempty("kthvalue", input, d)
    if not 1 <= k <= n:
        raise IndexError(f"kthvalue: k={k} is out of range for dim {d} of size {n} (k counts from 1)")
    v, i, d = _sorted(xp, "kthvalue", input, d, False)
    shape = _reduced_shape(input, d, keepdim)
    return _at(v, d, k - 1).reshape(shape), _at(i, d, k - 1).reshape(shape)


def _median(xp: Any, input: Any, dim: Any = None, keepdim: bool = False) -> Any:
    if dim is None:
        if input.size == 0:
            raise ShapeError("median: the input is empty (size 0)")
        flat = input.reshape(-1)
        v, _, _ = _sorted(xp, "median", flat, 0, False)
        return v[(flat.size - 1) // 2]
    d = check_dim(input, dim, "median", scalar_ok=True)
    n = _nonempty("median", input, d)
    return _kthvalue(xp, input, (n + 1) // 2, d, keepdim)


def _mode(xp: Any, input: Any, dim: int = -1, keepdim: bool = False) -> Any:
    d = check_dim(input, dim, "mode", scalar_ok=True)
    n = _nonempty("mode", input, d)
    a = input.reshape(1) if input.ndim == 0 else input
    moved = xp.moveaxis(a, d, -1)
    rows = moved.reshape(int(np.prod(moved.shape[:-1])), n)
    order = _argsort(xp, rows, 1)
    s = xp.take_along_axis(rows, order, axis=1)
    new_run = xp.ones(s.shape, dtype=bool)
    new_run[:, 1:] = s[:, 1:] != s[:, :-1]  # each row starts a run; NaN never equals NaN
    run = xp.cumsum(new_run.reshape(-1)) - 1
    counts = xp.bincount(run)[run].reshape(s.shape)
    # The first position of a longest run: the smallest such value, at its first occurrence.
    best = xp.argmax(counts, axis=1)[:, None]
    shape = _reduced_shape(input, d, keepdim)
    values = xp.take_along_axis(s, best, axis=1).reshape(shape)
    indices = xp.take_along_axis(order, best, axis=1).astype(np.int64).reshape(shape)
    return values, indices


_E = ">>> import flambeau.tensor as ft\n>>> "
_T: dict[str, Any] = dict(
    result="tuple",
    names=("values", "indices"),
    differentiable=("input",),
    group="sorting",
    variants=frozenset({"function", "method", "out"}),
)

declare(
    Op(
        "sort",
        _sort,
        doc="Sort along ``dim`` (default the last); returns (values, indices) with ``values == input.gather(dim, "
        "indices)``. The sort is stable: equal elements keep their order, also with ``descending=True``. "
        "NaN sorts as the largest value.",
        example=_E + "v, i = ft.sort(ft.tensor([3.0, 1.0, 2.0, 1.0]))\n>>> v.tolist(), i.tolist()\n"
        "([1.0, 1.0, 2.0, 3.0], [1, 3, 2, 0])\n"
        ">>> ft.tensor([[3, 1], [2, 5]]).sort(0, descending=True).indices.tolist()\n[[0, 1], [1, 0]]",
        **_T,
    ),
    Op(
        "topk",
        _topk,
        doc="The ``k`` largest elements along ``dim`` and their indices, largest first (PyTorch's defaults; "
        "Torch7's ``topk`` gave the k *smallest*, unsorted: pass ``largest=False``). ``sorted=False`` allows "
        "any order; the result is sorted anyway. Ties keep their original order; ``k`` may be 0.",
        example=_E + "v, i = ft.tensor([1.0, 5.0, 3.0, 4.0]).topk(2)\n>>> v.tolist(), i.tolist()\n"
        "([5.0, 4.0], [1, 3])\n>>> ft.topk(ft.tensor([1.0, 5.0, 3.0]), 2, largest=False).values.tolist()\n[1.0, 3.0]",
        **_T,
    ),
    Op(
        "kthvalue",
        _kthvalue,
        doc="The ``k``-th smallest element along ``dim`` (``k`` counts from 1, as in Torch7), with its index. "
        "The dim is dropped unless ``keepdim=True``.",
        example=_E + "r = ft.kthvalue(ft.tensor([[4.0, 1.0, 3.0], [2.0, 6.0, 5.0]]), 2)\n"
        ">>> r.values.tolist(), r.indices.tolist()\n([3.0, 5.0], [2, 2])",
        **_T,
    ),
    Op(
        "median",
        _median,
        doc="The median: of all elements as a 0-d tensor, or with ``dim`` the (values, indices) along it. "
        "For an even count it is the lower of the two middle values (Torch7), never their mean. "
        "NaN counts as the largest value.",
        example=_E + "ft.tensor([4.0, 1.0, 3.0, 2.0]).median().item()\n2.0\n"
        ">>> [t.tolist() for t in ft.median(ft.tensor([[1, 5, 2], [9, 7, 8]]), 1)]\n[[2, 8], [2, 2]]",
        **_T,
    ),
    Op(
        "mode",
        _mode,
        doc="The most frequent value along ``dim`` (default the last) and the index of its first occurrence. "
        "When several values are equally frequent, the smallest wins (as PyTorch). NaN never equals NaN.",
        example=_E + "r = ft.mode(ft.tensor([[1, 3, 3, 2], [2, 2, 1, 1]]))\n"
        ">>> r.values.tolist(), r.indices.tolist()\n([3, 1], [1, 2])",
        **_T,
    ),
)
