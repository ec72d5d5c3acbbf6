"""Test cases for every op of the table, with numpy/scipy references.

``CASES[name]`` is a list of :class:`Case`: the arguments (numpy arrays become tensors, in
several memory layouts and dtypes) and a reference computed by numpy or scipy on the same
values. ``test_ops.py`` runs every case through every generated form of the op; a meta-test
fails when an op of the table has no case here, so new ops come with their tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.special as sps

R = np.random.default_rng(0)
FLOATS = (np.float64, np.float32)
INTS = (np.int64, np.int32, np.int16, np.int8, np.uint8)
ALL = FLOATS + INTS


@dataclass
class Case:
    args: tuple[Any, ...]
    ref: Callable[..., Any]
    kwargs: dict[str, Any] = field(default_factory=dict)
    dtypes: tuple[Any, ...] = (np.float64,)  # each array argument is cast to each of these
    float_op: bool = False  # integer inputs are promoted to float64 before the reference
    tol: float = 1e-12
    exact_dtype: bool = True  # the result's dtype must equal the reference's
    label: str = ""
    contiguous_only: bool = False  # the op needs a contiguous first argument (view)
    # Outputs (positions in the result tuple) whose columns are defined up to sign only
    # (eigenvectors, singular vectors): LAPACK, cuSOLVER and float32 vs float64 choose differently.
    sign_free: tuple[int, ...] = ()


def arr(*shape: int, lo: float = -2.0, hi: float = 2.0) -> np.ndarray:
    return R.uniform(lo, hi, shape)


def ints(*shape: int, lo: int = 0, hi: int = 10) -> np.ndarray:
    return R.integers(lo, hi, shape).astype(np.float64)


SHAPES = [(), (5,), (3, 4), (2, 3, 4), (0,), (1, 4)]


def mask(*shape: int) -> np.ndarray:
    return R.integers(0, 2, shape).astype(np.uint8)


def _promote(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float64) if a.dtype.kind in "iu" else a


def unary_cases(
    ref: Callable[..., Any],
    lo: float = -2,
    hi: float = 2,
    dtypes: tuple[Any, ...] = ALL,
    float_op: bool = True,
    integer_inputs: bool = False,
) -> list[Case]:
    cases = []
    for shape in SHAPES:
        a = ints(*shape, lo=int(lo), hi=int(hi)) if integer_inputs else arr(*shape, lo=lo, hi=hi)
        cases.append(Case((a,), ref, dtypes=dtypes, float_op=float_op, tol=1e-12))
    return cases


def binary_cases(
    ref: Callable[..., Any],
    dtypes: tuple[Any, ...] = ALL,
    float_op: bool = False,
    lo: float = -5,
    hi: float = 5,
    avoid_zero: bool = False,
    integer_values: bool = True,
    kwargs: dict[str, Any] | None = None,
) -> list[Case]:
    def pick(*shape: int) -> np.ndarray:
        a = ints(*shape, lo=int(lo), hi=int(hi)) if integer_values else arr(*shape, lo=lo, hi=hi)
        if avoid_zero:
            a[a == 0] = 1
        return a

    pairs = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((5,), ()), ((2, 3, 4), (3, 1)), ((0, 3), (3,))]
    cases = [
        Case((pick(*s1), pick(*s2)), ref, dict(kwargs or {}), dtypes=dtypes, float_op=float_op) for s1, s2 in pairs
    ]
    cases.append(Case((pick(3, 4), 3), ref, dict(kwargs or {}), dtypes=dtypes, float_op=float_op, label="scalar"))
    return cases


def _round_half_away(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind in "iu":
        return x.copy()
    return np.array(
        [math.copysign(math.floor(abs(v) + 0.5), v) for v in x.reshape(-1).tolist()], dtype=x.dtype
    ).reshape(x.shape)


def _keep_int(f: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: x.copy() if x.dtype.kind in "iu" else f(x)


CASES: dict[str, list[Case]] = {
    # -- unary -------------------------------------------------------------------------------
    "abs": unary_cases(
        np.abs, dtypes=(np.float64, np.float32, np.int64, np.int8), float_op=False, integer_inputs=False
    ),
    "sign": unary_cases(np.sign, dtypes=(np.float64, np.int32), float_op=False),
    "neg": unary_cases(np.negative, dtypes=(np.float64, np.float32, np.int64), float_op=False),
    "acos": unary_cases(np.arccos, -1, 1, dtypes=FLOATS),
    "asin": unary_cases(np.arcsin, -1, 1, dtypes=FLOATS),
    "atan": unary_cases(np.arctan),
    "ceil": unary_cases(_keep_int(np.ceil), float_op=False),
    "floor": unary_cases(_keep_int(np.floor), float_op=False),
    "round": unary_cases(_round_half_away, float_op=False)
    + [Case((np.array([0.5, 1.5, 2.5, -0.5, -2.5]),), _round_half_away)],
    "trunc": unary_cases(_keep_int(np.trunc), float_op=False),
    "frac": unary_cases(lambda x: np.modf(x)[0], dtypes=FLOATS),
    "cos": unary_cases(np.cos),
    "sin": unary_cases(np.sin),
    "tan": unary_cases(np.tan, -1, 1),
    "cosh": unary_cases(np.cosh),
    "sinh": unary_cases(np.sinh),
    "tanh": unary_cases(np.tanh),
    "exp": unary_cases(np.exp),
    "expm1": unary_cases(np.expm1),
    "log": unary_cases(np.log, 0.1, 9),
    "log1p": unary_cases(np.log1p, 0, 9),
    "log2": unary_cases(np.log2, 1, 9),
    "log10": unary_cases(np.log10, 1, 9),
    "sqrt": unary_cases(np.sqrt, 0, 9),
    "rsqrt": unary_cases(lambda x: 1 / np.sqrt(x), 1, 9),
    "cinv": unary_cases(lambda x: 1 / x, 1, 9),
    "square": unary_cases(np.square, dtypes=(np.float64, np.float32, np.int64), float_op=False),
    "sigmoid": unary_cases(sps.expit, -30, 30) + [Case((np.array([-1e4, 0.0, 1e4]),), sps.expit)],
    "logical_not": [Case((ints(3, 4, lo=0, hi=3),), lambda x: np.logical_not(x).astype(np.uint8), dtypes=ALL)],
    # -- binary ------------------------------------------------------------------------------
    "add": binary_cases(np.add) + binary_cases(lambda a, b, alpha: a + alpha * b, dtypes=FLOATS, kwargs={"alpha": 3}),
    "sub": binary_cases(np.subtract, dtypes=FLOATS + (np.int64, np.int32))
    + binary_cases(lambda a, b, alpha: a - alpha * b, dtypes=FLOATS, kwargs={"alpha": 0.5}),
    "mul": binary_cases(np.multiply),
    "div": binary_cases(np.true_divide, float_op=True, avoid_zero=True),
    "pow": binary_cases(np.power, dtypes=FLOATS, lo=0.5, hi=3, integer_values=False)
    + binary_cases(np.power, dtypes=(np.int64,), lo=0, hi=4),
    "fmod": binary_cases(np.fmod, dtypes=FLOATS + (np.int64,), avoid_zero=True),
    "remainder": binary_cases(np.remainder, dtypes=FLOATS + (np.int64, np.int32), avoid_zero=True),
    "atan2": binary_cases(np.arctan2, float_op=True, integer_values=False),
    "cmax": binary_cases(np.maximum),
    "cmin": binary_cases(np.minimum),
    "lt": binary_cases(lambda a, b: (a < b).astype(np.uint8)),
    "le": binary_cases(lambda a, b: (a <= b).astype(np.uint8)),
    "gt": binary_cases(lambda a, b: (a > b).astype(np.uint8)),
    "ge": binary_cases(lambda a, b: (a >= b).astype(np.uint8)),
    "eq": binary_cases(lambda a, b: (a == b).astype(np.uint8), lo=0, hi=3),
    "ne": binary_cases(lambda a, b: (a != b).astype(np.uint8), lo=0, hi=3),
    "logical_and": binary_cases(lambda a, b: np.logical_and(a, b).astype(np.uint8), lo=0, hi=2),
    "logical_or": binary_cases(lambda a, b: np.logical_or(a, b).astype(np.uint8), lo=0, hi=2),
    "logical_xor": binary_cases(lambda a, b: np.logical_xor(a, b).astype(np.uint8), lo=0, hi=2),
    "bitand": binary_cases(np.bitwise_and, dtypes=INTS, lo=0, hi=100),
    "bitor": binary_cases(np.bitwise_or, dtypes=INTS, lo=0, hi=100),
    "bitxor": binary_cases(np.bitwise_xor, dtypes=INTS, lo=0, hi=100),
    # -- other point-wise ----------------------------------------------------------------------
    "clamp": [
        Case((arr(3, 4),), lambda a, min, max: np.clip(a, min, max), {"min": -0.5, "max": 0.5}, dtypes=ALL),
        Case((arr(5),), lambda a, min: np.maximum(a, min), {"min": 0.0}),
        Case((arr(5),), lambda a, max: np.minimum(a, max), {"max": 0.0}),
    ],
    "lerp": [
        Case((arr(3, 4), arr(3, 4), 0.3), lambda a, b, w: a + w * (b - a), dtypes=FLOATS, tol=1e-6),
        Case((arr(3, 4), arr(4), arr(3, 1, lo=0, hi=1)), lambda a, b, w: a + w * (b - a)),
    ],
    "addcmul": [
        Case(
            (arr(3, 4), arr(3, 4), arr(4)),
            lambda x, a, b, value=1: x + value * a * b,
            {"value": 2.0},
            dtypes=FLOATS,
            tol=1e-6,
        ),
        Case((ints(3), ints(3), ints(3)), lambda x, a, b: x + a * b, dtypes=(np.int64,)),
    ],
    "addcdiv": [
        Case(
            (arr(3, 4), arr(3, 4), arr(4, lo=1, hi=2)),
            lambda x, a, b, value=1: x + value * a / b,
            {"value": 0.5},
            dtypes=FLOATS,
            tol=1e-6,
        )
    ],
    "where": [
        Case((mask(3, 4), arr(3, 4), arr(4)), lambda c, a, b: np.where(c != 0, a, b)),
        Case((mask(3), arr(3), 0.0), lambda c, a, b: np.where(c != 0, a, b)),
    ],
    # -- reductions ------------------------------------------------------------------------------
}


def _acc(a: np.ndarray) -> Any:
    return np.int64 if a.dtype.kind in "iu" else None


def reduction_cases(
    ref: Callable[..., Any],
    dtypes: tuple[Any, ...] = ALL,
    float_op: bool = False,
    extra: dict[str, Any] | None = None,
    empty: bool = True,
    lo: float = -2,
    hi: float = 2,
    tol: float = 1e-12,
) -> list[Case]:
    cases = []
    base = dict(extra or {})
    for shape, dims in (((3, 4), (None, 0, 1, -1)), ((2, 3, 4), (None, 1, 2)), ((5,), (None, 0)), ((), (None,))):
        a = ints(*shape, lo=int(lo), hi=int(hi)) if lo >= 0 else arr(*shape, lo=lo, hi=hi)
        for dim in dims:
            for keepdim in (False, True) if dim is not None else (False,):
                kw = dict(base)
                if dim is not None:
                    kw.update(dim=dim, keepdim=keepdim)
                cases.append(Case((a,), ref, kw, dtypes=dtypes, float_op=float_op, tol=tol))
    if empty:
        cases.append(Case((np.zeros((0, 3)),), ref, dict(base, dim=0), dtypes=(np.float64,), float_op=float_op))
    return cases


def _sum(a, dim=None, keepdim=False):  # noqa: ANN001, ANN202
    return np.sum(a, axis=dim, keepdims=keepdim, dtype=_acc(a))


def _prod(a, dim=None, keepdim=False):  # noqa: ANN001, ANN202
    return np.prod(a, axis=dim, keepdims=keepdim, dtype=_acc(a))


def _var(ddof: int) -> Callable[..., Any]:
    def ref(a, dim=None, keepdim=False, unbiased=True):  # noqa: ANN001, ANN202
        return np.var(a, axis=dim, keepdims=keepdim, ddof=1 if unbiased else 0)

    return ref


def _std(a, dim=None, keepdim=False, unbiased=True):  # noqa: ANN001, ANN202
    return np.std(a, axis=dim, keepdims=keepdim, ddof=1 if unbiased else 0)


def _extreme(f: Callable[..., Any], arg: Callable[..., Any]) -> Callable[..., Any]:
    def ref(a, dim=None, keepdim=False):  # noqa: ANN001, ANN202
        if dim is None:
            return f(a)
        i = arg(a, axis=dim, keepdims=True)
        v = np.take_along_axis(a, i, axis=dim)
        if not keepdim:
            i, v = i.squeeze(dim), v.squeeze(dim)
        return v, i.astype(np.int64)

    return ref


def _arg(f: Callable[..., Any]) -> Callable[..., Any]:
    return lambda a, dim=None, keepdim=False: f(a, axis=dim, keepdims=keepdim).astype(np.int64)


def _norm(a, p=2, dim=None, keepdim=False):  # noqa: ANN001, ANN202
    if dim is None:
        return np.asarray(np.linalg.norm(a.reshape(-1), ord=p))
    return np.linalg.norm(a, ord=p, axis=dim, keepdims=keepdim)


def _cum(f: Callable[..., Any]) -> Callable[..., Any]:
    return lambda a, dim=0: a.copy() if a.ndim == 0 else f(a, axis=dim, dtype=_acc(a))


CASES.update(
    {
        "sum": reduction_cases(_sum),
        "prod": reduction_cases(_prod, lo=1, hi=3),
        "mean": reduction_cases(
            lambda a, dim=None, keepdim=False: np.mean(a, axis=dim, keepdims=keepdim), float_op=True, empty=False
        ),
        "var": reduction_cases(_var(1), dtypes=FLOATS + (np.int64,), float_op=True, empty=False, tol=1e-5)
        + [Case((arr(3, 4),), _var(0), {"dim": 1, "unbiased": False})],
        "std": reduction_cases(_std, dtypes=FLOATS, float_op=True, empty=False, tol=1e-5)
        + [Case((arr(3, 4),), _std, {"dim": 0, "unbiased": False})],
        "max": reduction_cases(_extreme(np.max, np.argmax), empty=False),
        "min": reduction_cases(_extreme(np.min, np.argmin), empty=False),
        "argmax": reduction_cases(_arg(np.argmax), empty=False),
        "argmin": reduction_cases(_arg(np.argmin), empty=False),
        "cumsum": [Case((arr(3, 4),), _cum(np.cumsum), {"dim": d}, dtypes=ALL) for d in (0, 1, -1)]
        + [Case((arr(5),), _cum(np.cumsum), dtypes=ALL), Case((np.array(2.0),), _cum(np.cumsum))],
        "cumprod": [Case((ints(3, 4, lo=1, hi=3),), _cum(np.cumprod), {"dim": d}, dtypes=ALL) for d in (0, 1)],
        "norm": [
            Case((arr(3, 4),), _norm, {"p": p, **kw}, dtypes=FLOATS + (np.int64,), float_op=True, tol=1e-5)
            for p in (1, 2, 3, np.inf)
            for kw in ({}, {"dim": 1}, {"dim": 0, "keepdim": True})
        ]
        + [Case((arr(3, 4),), lambda a, p: np.asarray(float(np.count_nonzero(a))), {"p": 0})],
        "dist": [
            Case(
                (arr(3, 4), arr(4)),
                lambda a, b, p=2: np.asarray(np.linalg.norm((a - b).reshape(-1), ord=p)),
                {"p": p},
                dtypes=FLOATS,
                float_op=True,
                tol=1e-5,
            )
            for p in (1, 2, 3)
        ],
        "all": reduction_cases(
            lambda a, dim=None, keepdim=False: np.all(a, axis=dim, keepdims=keepdim).astype(np.uint8), lo=0, hi=2
        ),
        "any": reduction_cases(
            lambda a, dim=None, keepdim=False: np.any(a, axis=dim, keepdims=keepdim).astype(np.uint8), lo=0, hi=2
        ),
        "logsumexp": reduction_cases(
            lambda a, dim=None, keepdim=False: np.asarray(sps.logsumexp(a, axis=dim, keepdims=keepdim)),
            dtypes=FLOATS,
            float_op=True,
            empty=False,
            tol=1e-6,
        )
        + [Case((np.array([1e4, 1e4, -1e4]),), lambda a: np.asarray(1e4 + math.log(2)))],
    }
)

# -- BLAS -------------------------------------------------------------------------------------
MAT = (np.float64, np.float32, np.int64)
CASES.update(
    {
        "mm": [Case((arr(3, 4), arr(4, 5)), np.matmul, dtypes=MAT, tol=1e-5), Case((arr(0, 4), arr(4, 2)), np.matmul)],
        "mv": [Case((arr(3, 4), arr(4)), np.matmul, dtypes=MAT, tol=1e-5)],
        "bmm": [Case((arr(2, 3, 4), arr(2, 4, 5)), np.matmul, dtypes=MAT, tol=1e-5)],
        "dot": [
            Case((arr(6), arr(6)), lambda a, b: np.asarray(np.dot(a, b)), dtypes=MAT, tol=1e-5),
            Case((arr(2, 3), arr(6)), lambda a, b: np.asarray(np.dot(a.reshape(-1), b)), label="flat"),
        ],
        "ger": [Case((arr(3), arr(4)), np.outer, dtypes=MAT, tol=1e-6)],
        "matmul": [
            Case((arr(3, 4), arr(4)), np.matmul),
            Case((arr(2, 3, 4), arr(4, 2)), np.matmul),
            Case((arr(4), arr(4)), lambda a, b: np.asarray(np.matmul(a, b))),
        ],
        "addmm": [
            Case(
                (arr(3, 5), arr(3, 4), arr(4, 5)),
                lambda m, a, b, beta=1, alpha=1: beta * m + alpha * (a @ b),
                kw,
                dtypes=FLOATS,
                tol=1e-5,
            )
            for kw in ({}, {"beta": 0.5, "alpha": 2.0})
        ]
        + [Case((arr(5), arr(3, 4), arr(4, 5)), lambda m, a, b: m + a @ b, label="broadcast")],
        "addmv": [
            Case(
                (arr(3), arr(3, 4), arr(4)),
                lambda m, a, b, beta=1, alpha=1: beta * m + alpha * (a @ b),
                kw,
                dtypes=FLOATS,
                tol=1e-5,
            )
            for kw in ({}, {"beta": 0.0, "alpha": -1.0})
        ],
        "addr": [
            Case(
                (arr(3, 4), arr(3), arr(4)),
                lambda m, a, b, beta=1, alpha=1: beta * m + alpha * np.outer(a, b),
                kw,
                dtypes=FLOATS,
                tol=1e-5,
            )
            for kw in ({}, {"beta": 2.0, "alpha": 3.0})
        ],
        "addbmm": [
            Case(
                (arr(3, 5), arr(2, 3, 4), arr(2, 4, 5)),
                lambda m, a, b, beta=1, alpha=1: beta * m + alpha * np.matmul(a, b).sum(0),
                kw,
                dtypes=FLOATS,
                tol=1e-5,
            )
            for kw in ({}, {"alpha": 0.5})
        ],
        "baddbmm": [
            Case(
                (arr(2, 3, 5), arr(2, 3, 4), arr(2, 4, 5)),
                lambda m, a, b, beta=1, alpha=1: beta * m + alpha * np.matmul(a, b),
                kw,
                dtypes=FLOATS,
                tol=1e-5,
            )
            for kw in ({}, {"beta": 0.0})
        ],
        "cross": [
            Case((arr(3), arr(3)), np.cross, dtypes=MAT, tol=1e-6),
            Case((arr(4, 3), arr(4, 3)), lambda a, b, dim: np.cross(a, b, axis=dim), {"dim": 1}),
            Case((arr(3, 4), arr(3, 4)), lambda a, b: np.cross(a, b, axis=0), label="first dim of size 3"),
        ],
    }
)

# -- views and joins: references on numpy arrays ----------------------------------------------------------------
V = ALL
CASES.update(
    {
        "select": [
            Case((arr(3, 4), 0, 2), lambda a, d, i: a[2], dtypes=V),
            Case((arr(3, 4), 1, -1), lambda a, d, i: a[:, -1]),
            Case((arr(5), 0, 1), lambda a, d, i: a[1], label="1-D gives 0-d"),
        ],
        "narrow": [
            Case((arr(4, 5), 1, 1, 3), lambda a, d, s, n: a[:, 1:4], dtypes=V),
            Case((arr(4, 5), 0, -2, 2), lambda a, d, s, n: a[2:4]),
        ],
        "sub_view": [
            Case((arr(4, 5), 1, 2, 0, -2), lambda a, *b: a[1:3, 0:4], dtypes=V),
            Case((arr(4, 5), 0, 0), lambda a, *b: a[0:1]),
        ],
        "transpose": [Case((arr(2, 3, 4), 0, 2), lambda a, i, j: np.swapaxes(a, 0, 2), dtypes=V)],
        "t": [Case((arr(3, 4),), lambda a: a.T, dtypes=V), Case((arr(3),), lambda a: a)],
        "permute": [Case((arr(2, 3, 4), 2, 0, 1), lambda a, *p: np.transpose(a, p), dtypes=V)],
        "unfold": [
            Case((arr(7), 0, 3, 2), lambda a, d, s, st: np.stack([a[i : i + 3] for i in range(0, 5, 2)]), dtypes=V),
            Case((arr(2, 5), 1, 2, 1), lambda a, d, s, st: np.stack([a[:, i : i + 2] for i in range(4)], 1)),
        ],
        "view": [
            Case((arr(3, 4), 2, 6), lambda a, *s: a.reshape(2, 6), dtypes=V, contiguous_only=True),
            Case((arr(3, 4), -1), lambda a, s: a.reshape(-1), contiguous_only=True),
            Case((arr(2, 3, 4), 6, -1), lambda a, *s: a.reshape(6, 4), contiguous_only=True),
            Case((arr(3, 4), 3, 2, 2), lambda a, *s: a.reshape(3, 2, 2), label="split last dim"),
        ],
        "view_as": [Case((arr(3, 4), arr(12)), lambda a, b: a.reshape(12), contiguous_only=True)],
        "expand": [
            Case((arr(3, 1), 3, 4), lambda a, *s: np.broadcast_to(a, (3, 4)), dtypes=V),
            Case((arr(4), 2, -1), lambda a, *s: np.broadcast_to(a, (2, 4))),
        ],
        "expand_as": [Case((arr(1, 4), arr(3, 4)), lambda a, b: np.broadcast_to(a, (3, 4)))],
        "squeeze": [
            Case((arr(1, 3, 1),), lambda a: a.reshape(3), dtypes=V),
            Case((arr(1, 3, 1), 2), lambda a, d: a.reshape(1, 3)),
            Case((arr(2, 3), 0), lambda a, d: a),
        ],
        "unsqueeze": [
            Case((arr(3, 4), 1), lambda a, d: a[:, None], dtypes=V),
            Case((arr(3, 4), -1), lambda a, d: a[..., None]),
        ],
        "reshape": [Case((arr(3, 4), 4, 3), lambda a, *s: a.reshape(4, 3), dtypes=V)],
        "flatten": [Case((arr(3, 4),), lambda a: a.reshape(-1), dtypes=V)],
        "cat": [
            Case(([arr(2, 3), arr(4, 3)],), lambda ts: np.concatenate(ts), dtypes=V),
            Case(([arr(2, 3), arr(2, 1)], 1), lambda ts, d: np.concatenate(ts, 1)),
            Case(([arr(0), arr(2, 3)], 0), lambda ts, d: ts[1], label="empty skipped"),
        ],
        "stack": [
            Case(([arr(2, 3), arr(2, 3)],), lambda ts: np.stack(ts), dtypes=V),
            Case(([arr(2), arr(2)], 1), lambda ts, d: np.stack(ts, 1)),
        ],
        "split": [
            Case((arr(5, 2), 2), lambda a, n: [a[0:2], a[2:4], a[4:5]], dtypes=V),
            Case((arr(2, 4), 3, 1), lambda a, n, d: [a[:, :3], a[:, 3:]]),
        ],
        "chunk": [
            Case((arr(5, 2), 2), lambda a, n: [a[0:3], a[3:5]], dtypes=V),
            Case((arr(2, 6), 3, 1), lambda a, n, d: [a[:, 0:2], a[:, 2:4], a[:, 4:]]),
        ],
        "repeat_tensor": [Case((arr(2, 3), 2, 1, 2), lambda a, *r: np.tile(a, r), dtypes=V)],
    }
)

# -- indexing ------------------------------------------------------------------------------------
IDX = np.array([2, 0, 2], dtype=np.int64)
CASES.update(
    {
        "getitem": [
            Case((arr(3, 4), (1, slice(None, None, 2))), lambda a, k: a[k], dtypes=V),
            Case((arr(3, 4), (Ellipsis, None, 2)), lambda a, k: a[k]),
        ],
        "index_select": [
            Case((arr(3, 4), 0, IDX), lambda a, d, i: a[i], dtypes=V),
            Case((arr(3, 4), 1, IDX), lambda a, d, i: a[:, i]),
        ],
        "gather": [
            Case(
                (arr(3, 4), 1, np.array([[0, 3], [1, 1], [2, 0]])),
                lambda a, d, i: np.take_along_axis(a, i, 1),
                dtypes=V,
            ),
            Case(
                (arr(3, 4), 0, np.array([[2, 0]])),
                lambda a, d, i: np.take_along_axis(a[:, :2], i, 0),
                label="smaller index",
            ),
        ],
        "scatter": [
            Case(
                (arr(3, 4), 1, np.array([[0, 3], [1, 2], [2, 0]]), arr(3, 2)),
                lambda a, d, i, s: _put(a, i, s, 1),
                dtypes=V,
            ),
            Case((arr(3, 4), 0, np.array([[2, 0, 1, 1]]), 9.0), lambda a, d, i, s: _put(a, i, s, 0), label="number"),
        ],
        "index_copy": [
            Case((arr(3, 4), 0, np.array([2, 0]), arr(2, 4)), lambda a, d, i, s: _assign_at(a, (i,), s), dtypes=V)
        ],
        "index_add": [
            Case(
                (arr(3, 4), 1, IDX, arr(3, 3)),
                lambda a, d, i, s: _add_at(a, i, s),
                dtypes=FLOATS + (np.int64,),
                tol=1e-6,
            )
        ],
        "index_put": [
            # Distinct rows: with a repeated one, which value lands is undefined on cuda (see the op's
            # doc); the cpu's last-wins order has its own test (test_tensor's index_put duplicates).
            Case(
                (arr(3, 4), (np.array([2, 0, 1]), slice(1, 3)), arr(3, 2)),
                lambda a, k, v: _assign_at(a, k, v),
                dtypes=V,
            ),
            Case(
                (arr(3, 4), (IDX,), arr(3, 4)),
                lambda a, k, v, accumulate: _add_rows_at(a, k[0], v),
                kwargs={"accumulate": True},
                label="accumulate",
                tol=1e-6,
            ),
            Case((arr(3, 4), (1, slice(None)), 5.0), lambda a, k, v: _assign_at(a, k, v), label="basic key"),
        ],
        "index_fill": [Case((arr(3, 4), 1, IDX, 7.0), lambda a, d, i, v: _assign_at(a, (slice(None), i), v), dtypes=V)],
        "masked_select": [
            Case((arr(3, 4), mask(3, 4)), lambda a, m: a[m != 0], dtypes=V),
            Case((arr(3, 4), mask(4)), lambda a, m: a[np.broadcast_to(m != 0, (3, 4))], label="broadcast"),
        ],
        "masked_fill": [
            Case((arr(3, 4), mask(3, 4), 7.0), lambda a, m, v: np.where(m != 0, v, a).astype(a.dtype), dtypes=V)
        ],
        "masked_copy": [
            Case(
                (arr(3, 4), mask(3, 4), arr(12)),
                lambda a, m, s: _assign_at(a, (m != 0,), s[: int((m != 0).sum())]),
                dtypes=V,
            )
        ],
        "zeros_like": [
            Case((arr(3, 4),), np.zeros_like, dtypes=V),
            Case((arr(3),), lambda a, dtype: np.zeros(3, np.int64), {"dtype": "int64"}),
        ],
        "ones_like": [Case((arr(2, 3),), np.ones_like, dtypes=V)],
        "nonzero": [Case((ints(3, 4, lo=0, hi=2),), lambda a: np.argwhere(a).astype(np.int64), dtypes=V)],
    }
)


def _put(a: np.ndarray, i: np.ndarray, s: Any, d: int) -> np.ndarray:
    out = a.copy()
    for idx in np.ndindex(*i.shape):
        pos = list(idx)
        pos[d] = i[idx]
        out[tuple(pos)] = s if np.isscalar(s) else s[idx]
    return out


def _assign_at(a: np.ndarray, key: tuple[Any, ...], v: Any) -> np.ndarray:
    out = a.copy()
    out[key] = v
    return out


def _add_at(a: np.ndarray, i: np.ndarray, s: np.ndarray) -> np.ndarray:
    out = a.copy()
    for k, j in enumerate(i):
        out[:, j] += s[:, k]
    return out


def _add_rows_at(a: np.ndarray, i: np.ndarray, v: np.ndarray) -> np.ndarray:
    out = a.copy()
    for k, j in enumerate(i):
        out[j] += v[k]
    return out


# Cases of later op families live in their own modules, merged here.
def _merge() -> None:
    import opcases_conv
    import opcases_linalg
    import opcases_more
    import opcases_random

    for mod in (opcases_more, opcases_conv, opcases_linalg, opcases_random):
        for name, cases in mod.CASES.items():
            CASES.setdefault(name, []).extend(cases)


_merge()
