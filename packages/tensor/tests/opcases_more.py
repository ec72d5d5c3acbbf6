"""Cases of the sorting, matrix and bitwise families, merged into opcases.CASES.

Index references come from numpy's stable argsort (ascending) or Python's stable ``sorted``
(descending); values from numpy and scipy (``np.percentile(method='lower')``, ``np.histogram``,
``scipy.spatial.distance.cdist``) where they have the op.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from opcases import ALL, FLOATS, INTS, Case, arr, ints
from scipy.spatial.distance import cdist

SIGNED = (np.int64, np.int32, np.int16, np.int8)


def _rows(a: np.ndarray, dim: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """The 1-D slices of ``a`` along ``dim`` as the rows of a 2-D array, and the moved shape."""
    m = np.moveaxis(a, dim, -1)
    return m.reshape(int(np.prod(m.shape[:-1])), m.shape[-1]), m.shape


def _sort(a: np.ndarray, dim: int = -1, descending: bool = False) -> tuple[np.ndarray, np.ndarray]:
    if a.ndim == 0:
        return a.copy(), np.zeros((), np.int64)
    rows, shape = _rows(a, dim)
    if descending:  # Python's sort stays stable with reverse=True
        idx = np.array([sorted(range(len(r)), key=r.__getitem__, reverse=True) for r in rows], dtype=np.int64)
    else:
        idx = np.argsort(rows, axis=1, kind="stable").astype(np.int64)
    idx = np.moveaxis(idx.reshape(shape), -1, dim)
    return np.take_along_axis(a, idx, dim), idx


def _topk(a: np.ndarray, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:  # noqa: A002
    v, i = _sort(a, dim, largest)
    if a.ndim == 0:
        return (v, i) if k == 1 else (v.reshape(1)[:0], i.reshape(1)[:0])
    key = [slice(None)] * a.ndim
    key[dim] = slice(0, k)
    return v[tuple(key)], i[tuple(key)]


def _kth(a: np.ndarray, k: int, dim: int = -1, keepdim: bool = False) -> tuple[np.ndarray, np.ndarray]:
    v, i = _sort(a, dim)
    if a.ndim == 0:
        return v, i
    v, i = np.take(v, [k - 1], axis=dim), np.take(i, [k - 1], axis=dim)
    return (v, i) if keepdim else (v.squeeze(dim), i.squeeze(dim))


def _median(a: np.ndarray, dim: Any = None, keepdim: bool = False) -> Any:
    if dim is None:
        return np.asarray(np.percentile(a, 50, method="lower"))
    n = a.shape[dim] if a.ndim else 1
    v, i = _kth(a, (n + 1) // 2, dim, keepdim)
    if a.ndim:
        np.testing.assert_array_equal(v, np.percentile(a, 50, axis=dim, method="lower", keepdims=keepdim))
    return v, i


def _mode(a: np.ndarray, dim: int = -1, keepdim: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rows, shape = _rows(a.reshape(1) if a.ndim == 0 else a, dim)
    vals, idx = [], []
    for r in rows:
        u, counts = np.unique(r, return_counts=True)  # sorted: argmax picks the smallest among ties
        v = u[np.argmax(counts)]
        vals.append(v)
        idx.append(np.flatnonzero(r == v)[0])
    out = shape[:-1] if a.ndim else ()
    v, i = np.array(vals, dtype=a.dtype).reshape(out), np.array(idx, dtype=np.int64).reshape(out)
    if keepdim and a.ndim:
        v, i = np.expand_dims(v, dim), np.expand_dims(i, dim)
    return v, i


def _hist_range(a: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    return (lo - 1, hi + 1) if lo == hi else (lo, hi)


def _histc(a: np.ndarray, bins: int = 100, min: float = 0, max: float = 0) -> np.ndarray:  # noqa: A002
    lo, hi = _hist_range(a, min, max)
    return np.histogram(a.reshape(-1), bins, range=(lo, hi))[0].astype(a.dtype)


def _bhistc(a: np.ndarray, bins: int = 100, min: float = 0, max: float = 0) -> np.ndarray:  # noqa: A002
    lo, hi = _hist_range(a, min, max)
    return np.array([np.histogram(r, bins, range=(lo, hi))[0] for r in a], dtype=a.dtype).reshape(len(a), bins)


def _renorm(a: np.ndarray, p: float, dim: int, maxnorm: float) -> np.ndarray:
    out = a.copy()
    for i in range(a.shape[dim]):
        sub = np.take(a, i, axis=dim)
        norm = np.linalg.norm(sub.reshape(-1), ord=p)
        if norm > maxnorm:
            key = [slice(None)] * a.ndim
            key[dim] = i
            out[tuple(key)] = sub * (maxnorm / (norm + 1e-7))
    return out


def _match(a: np.ndarray, b: np.ndarray, gain: float = 1) -> np.ndarray:
    rows = [x.reshape(len(x), int(np.prod(x.shape[1:]))).astype(np.float64) for x in (a, b)]
    d = cdist(*rows, "sqeuclidean")
    return (gain * d).astype(np.result_type(a.dtype, b.dtype))


def _trace(a: np.ndarray) -> np.ndarray:
    return np.asarray(np.trace(a, dtype=np.int64 if a.dtype.kind in "iu" else None))


def _shift(kind: str) -> Any:
    def ref(a: np.ndarray, b: Any) -> np.ndarray:
        if a.dtype.kind == "f":
            f = np.exp2(np.asarray(b, dtype=a.dtype))
            return a * f if kind == "left" else a / f
        return np.left_shift(a, b) if kind == "left" else np.right_shift(a, b)

    return ref


def _mixed() -> np.ndarray:
    """Integer values with repeats (ties) in every slice."""
    return ints(3, 5, lo=0, hi=4)


CASES: dict[str, list[Case]] = {
    "sort": [
        Case((ints(3, 5),), _sort, kw, dtypes=ALL)
        for kw in ({}, {"dim": 0}, {"descending": True}, {"dim": 0, "descending": True})
    ]
    + [
        Case((_mixed(),), _sort, {"descending": True}, dtypes=ALL, label="ties"),
        Case((arr(2, 3, 4),), _sort, {"dim": 1}, dtypes=FLOATS),
        Case((arr(6),), _sort, {"descending": True}),
        Case((np.array(2.5),), _sort, label="0-d"),
        Case((np.zeros((0, 3)),), _sort, {"dim": 0}, label="empty"),
    ],
    "topk": [
        Case((ints(3, 5), 2), _topk, {}, dtypes=ALL),
        Case((_mixed(), 3), _topk, {"largest": False}, dtypes=ALL, label="ties"),
        Case((arr(4, 3), 4), _topk, {"dim": 0}, dtypes=FLOATS),
        Case((arr(4, 3), 1), _topk, {"dim": 0, "largest": False, "sorted": False}),
        Case((arr(5), 0), _topk, label="k=0"),
        Case((arr(5), 5), _topk, label="k=n"),
        Case((np.array(1.5), 1), _topk, label="0-d"),
    ],
    "kthvalue": [
        Case((ints(3, 5), k), _kth, kw, dtypes=ALL)
        for k, kw in ((1, {}), (3, {}), (5, {"keepdim": True}), (2, {"dim": 0}), (3, {"dim": 0, "keepdim": True}))
    ]
    + [
        Case((_mixed(), 2), _kth, dtypes=ALL, label="ties"),
        Case((arr(2, 3, 4), 2), _kth, {"dim": 1}, dtypes=FLOATS),
        Case((np.array(4.0), 1), _kth, label="0-d"),
    ],
    "median": [
        Case((ints(3, 5),), _median, kw, dtypes=ALL)
        for kw in ({}, {"dim": 1}, {"dim": 0}, {"dim": -1, "keepdim": True}, {"dim": 0, "keepdim": True})
    ]
    + [
        Case((ints(4, 6),), _median, {}, dtypes=ALL, label="even count"),
        Case((_mixed(),), _median, {"dim": 1}, dtypes=ALL, label="ties"),
        Case((arr(2, 3, 4),), _median, {"dim": 2}, dtypes=FLOATS),
        Case((np.array(3.0),), _median, label="0-d"),
    ],
    "mode": [
        Case((_mixed(),), _mode, kw, dtypes=ALL)
        for kw in ({}, {"dim": 0}, {"keepdim": True}, {"dim": 0, "keepdim": True})
    ]
    + [
        Case((np.array([[3.0, 1.0, 1.0, 3.0, 2.0], [5.0, 4.0, 5.0, 4.0, 4.0]]),), _mode, label="ties pick smallest"),
        Case((arr(2, 3, 4),), _mode, {"dim": 1}, dtypes=FLOATS, label="all distinct"),
        Case((ints(2, 3, 6, lo=0, hi=3),), _mode, {"dim": 2}, dtypes=(np.float32, np.int16)),
        Case((np.array(7.0),), _mode, label="0-d"),
    ],
    "diag": [
        Case((arr(4),), np.diag, dtypes=ALL),
        Case((arr(3), 1), np.diag),
        Case((arr(3), -2), np.diag),
        Case((arr(3, 4),), np.diag, dtypes=ALL),
        Case((arr(3, 4), 1), np.diag),
        Case((arr(4, 3), -2), np.diag),
        Case((arr(2, 2), 5), np.diag, label="past the edge"),
    ],
    "trace": [
        Case((arr(4, 4),), _trace, dtypes=ALL),
        Case((ints(3, 5),), _trace, dtypes=INTS + (np.float32,), label="rectangular"),
        Case((np.zeros((0, 0)),), _trace, label="empty"),
    ],
    "tril": [Case((arr(4, 5), k), np.tril, dtypes=ALL) for k in (0, 1, -1)]
    + [Case((arr(2, 3, 3),), np.tril, label="batch"), Case((arr(3, 3), 7), np.tril)],
    "triu": [Case((arr(4, 5), k), np.triu, dtypes=ALL) for k in (0, 2, -1)]
    + [Case((arr(2, 3, 3),), np.triu, label="batch"), Case((arr(3, 3), -7), np.triu)],
    "histc": [
        Case((arr(40),), _histc, {}, dtypes=ALL, float_op=True),
        Case((arr(5, 8),), _histc, {"bins": 7}, dtypes=FLOATS),
        Case((arr(50),), _histc, {"bins": 10, "min": -1, "max": 1.5}, label="outside ignored"),
        Case((ints(30, lo=0, hi=10),), _histc, {"bins": 5, "min": 0, "max": 10}, dtypes=ALL, float_op=True),
        Case((np.full(4, 3.0),), _histc, {"bins": 4}, label="constant"),
        Case((np.zeros(0),), _histc, {"bins": 3}, label="empty"),
        Case((np.array(2.0),), _histc, {"bins": 2}, label="0-d"),
    ],
    "bhistc": [
        Case((arr(3, 20),), _bhistc, {}, dtypes=ALL, float_op=True),
        Case((arr(4, 10),), _bhistc, {"bins": 5, "min": -1, "max": 1}, dtypes=FLOATS),
        Case((np.zeros((0, 4)),), _bhistc, {"bins": 3}, label="no rows"),
    ],
    "renorm": [
        Case((arr(4, 5), p, d, 1.0), _renorm, dtypes=ALL, float_op=True, tol=1e-6)
        for p, d in ((2, 0), (1, 1), (3, -1), (np.inf, 0))
    ]
    + [
        Case((arr(2, 3, 4), 2, 1, 0.8), _renorm, dtypes=FLOATS, tol=1e-6),
        Case((arr(3, 4, lo=-0.1, hi=0.1), 2, 0, 5.0), _renorm, label="all below"),
        Case((arr(6), 2, 0, 0.5), _renorm, label="1-D"),
    ],
    "match": [
        Case((arr(3, 4), arr(5, 4)), _match, dtypes=ALL, float_op=True, tol=1e-6),
        Case((arr(3, 4), arr(2, 4), 0.5), _match, dtypes=FLOATS, tol=1e-6),
        Case((arr(3, 2, 2), arr(2, 4)), _match, label="rows flattened"),
        Case((arr(0, 3), arr(2, 3)), _match, label="empty"),
    ],
    "lshift": [
        Case((ints(3, 4, lo=0, hi=10), 3), _shift("left"), dtypes=ALL),
        Case((ints(3, 4, lo=0, hi=10), ints(4, lo=0, hi=4)), _shift("left"), dtypes=ALL, label="element-wise"),
        Case((ints(3, 4, lo=-8, hi=8), 2), _shift("left"), dtypes=SIGNED, label="negative"),
        Case((arr(3, 4), arr(3, 4, lo=-3, hi=3)), _shift("left"), dtypes=FLOATS, label="float exponents"),
        Case((ints(5), 0), _shift("left"), dtypes=ALL, label="by 0"),
    ],
    "rshift": [
        Case((ints(3, 4, lo=0, hi=100), 2), _shift("right"), dtypes=ALL),
        Case((ints(3, 4, lo=0, hi=100), ints(3, 1, lo=0, hi=5)), _shift("right"), dtypes=ALL, label="element-wise"),
        Case((ints(3, 4, lo=-50, hi=50), 3), _shift("right"), dtypes=SIGNED, label="arithmetic"),
        Case((arr(3, 4), 1.5), _shift("right"), dtypes=FLOATS, label="float amount"),
    ],
    "bitnot": [
        Case((ints(3, 4, lo=0, hi=100),), np.invert, dtypes=INTS),
        Case((ints(5, lo=-50, hi=50),), np.invert, dtypes=SIGNED, label="negative"),
    ],
}
