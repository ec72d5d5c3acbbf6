"""Cases of the linear-algebra ops (ops/lapack.py), merged into opcases.CASES.

References call LAPACK through scipy.linalg.lapack where it has the routine (getrf, potrf, pstrf,
geqrf, orgqr, ormqr, geev, gels), otherwise numpy.linalg called the way the op calls it, so that
decompositions unique only up to signs come out with the same signs. Each case runs in float64
(tight tolerance) and float32 (loose); a few run on integer inputs, which the ops promote to float64.
Identities (A @ solve(A, b) == b, Q orthogonal, reconstructions) live in test_lapack.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg as sl
from opcases import Case, arr

R = np.random.default_rng(7)
I64 = (np.int64,)


def lapack(name: str, a: np.ndarray) -> Any:
    return sl.get_lapack_funcs((name,), (a,))[0]


def cases(
    args: tuple[Any, ...],
    ref: Callable[..., Any],
    kwargs: dict[str, Any] | None = None,
    label: str = "",
    tol32: float = 1e-4,
    tol64: float = 1e-10,
    sign_free: tuple[int, ...] = (),
) -> list[Case]:
    """The same case in float64 (tight tolerance) and float32 (loose)."""
    kw = dict(kwargs or {})
    return [
        Case(args, ref, kw, dtypes=(np.float64,), tol=tol64, label=label, sign_free=sign_free),
        Case(args, ref, dict(kw), dtypes=(np.float32,), tol=tol32, label=label, sign_free=sign_free),
    ]


def well(n: int, *batch: int) -> np.ndarray:
    """A random, well-conditioned n x n matrix (diagonally dominated), or a batch of them."""
    return R.uniform(-1, 1, (*batch, n, n)) + 2 * n * np.eye(n)


def spd(n: int, *batch: int) -> np.ndarray:
    """A random symmetric positive definite n x n matrix, or a batch of them."""
    m = R.uniform(-1, 1, (*batch, n, n))
    return m @ np.swapaxes(m, -1, -2) + n * np.eye(n)


def psd(n: int, rank: int) -> np.ndarray:
    m = R.uniform(-1, 1, (n, rank))
    return m @ m.T


def junk(a: np.ndarray, upper: bool) -> np.ndarray:
    """``a`` with random values in the triangle that an op reading the other triangle must ignore."""
    below = np.tri(a.shape[-1], k=-1, dtype=bool)
    return np.where(below if upper else below.T, R.uniform(5, 9, a.shape), a)


def tri(a: np.ndarray, upper: bool) -> np.ndarray:
    return np.triu(a) if upper else np.tril(a)


# -- references ------------------------------------------------------------------------------------


def _lu(a: np.ndarray) -> np.ndarray:
    if a.ndim > 2:
        return np.stack([_lu(x) for x in a])
    return sl.lu_factor(a)[0]


def _gesv(b: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.linalg.solve(a, b), _lu(a)


def _trtrs(b: np.ndarray, a: np.ndarray, uplo: str = "U", trans: str = "N", diag: str = "N") -> Any:
    x = sl.solve_triangular(a, b, lower=uplo == "L", trans=trans, unit_diagonal=diag == "U")
    return x.astype(a.dtype), a.copy()


def _potrf(a: np.ndarray, uplo: str = "U") -> np.ndarray:
    return tri(lapack("potrf", a)(a, lower=uplo == "L")[0], uplo == "U")


def _cholesky(a: np.ndarray, upper: bool = False) -> np.ndarray:
    low = np.linalg.cholesky(a)
    return np.swapaxes(low, -1, -2) if upper else low


def _gram(u: np.ndarray, uplo: str) -> np.ndarray:
    t = tri(u, uplo == "U")
    return np.swapaxes(t, -1, -2) @ t if uplo == "U" else t @ np.swapaxes(t, -1, -2)


def _potri(u: np.ndarray, uplo: str = "U") -> np.ndarray:
    return np.linalg.inv(_gram(u, uplo))


def _potrs(b: np.ndarray, u: np.ndarray, uplo: str = "U") -> np.ndarray:
    return np.linalg.solve(_gram(u, uplo), b)


def _pstrf(a: np.ndarray, uplo: str = "U", tol: float = -1) -> tuple[np.ndarray, np.ndarray]:
    c, piv, rank, info = lapack("pstrf", a)(a, tol=tol, lower=uplo == "L")
    c = tri(c, uplo == "U")
    c[rank:, rank:] = 0  # LAPACK leaves the unfactored remainder there
    return c, (piv - 1).astype(np.int32)


def _qr(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return tuple(np.linalg.qr(a))  # type: ignore[return-value]


def _geqrf(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if a.ndim > 2:
        parts = [_geqrf(x) for x in a]
        return np.stack([p[0] for p in parts]), np.stack([p[1] for p in parts])
    qr, tau, _, _ = lapack("geqrf", a)(a)
    return qr, tau


def _orgqr(h: np.ndarray, tau: np.ndarray) -> np.ndarray:
    k = min(h.shape)
    q, _, _ = lapack("orgqr", h)(h[:, :k], tau)
    return q


def _ormqr(h: np.ndarray, tau: np.ndarray, c: np.ndarray, side: str = "L", trans: str = "N") -> np.ndarray:
    k = tau.shape[0]
    cq, _, _ = lapack("ormqr", h)(side, trans, h[:, :k], tau, c, lwork=64 * max(c.shape))
    return cq


_V, _UV = (1,), (0, 2)  # the outputs of eig/symeig/eigh and of svd that are vectors up to sign


def _svd(a: np.ndarray, some: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    u, s, vh = np.linalg.svd(a, full_matrices=not some)
    return u, s, np.swapaxes(vh, -1, -2)


def _eig(a: np.ndarray, eigenvectors: bool = True) -> tuple[np.ndarray, np.ndarray]:
    # numpy (and so eig) computes float32 in double precision: the signs are dgeev's
    wr, wi, _, vr, _ = sl.lapack.dgeev(a.astype(np.float64), compute_vl=0, compute_vr=1)
    e = np.stack([wr, wi], -1).astype(a.dtype)
    return e, vr.astype(a.dtype) if eigenvectors else np.empty(0, a.dtype)


def _symeig(a: np.ndarray, eigenvectors: bool = True, upper: bool = True) -> tuple[np.ndarray, np.ndarray]:
    uplo = "U" if upper else "L"
    if not eigenvectors:
        return np.linalg.eigvalsh(a, UPLO=uplo), np.empty(0, a.dtype)
    return tuple(np.linalg.eigh(a, UPLO=uplo))  # type: ignore[return-value]


def _eigh(a: np.ndarray, UPLO: str = "L") -> tuple[np.ndarray, np.ndarray]:  # noqa: N803
    return tuple(np.linalg.eigh(a, UPLO=UPLO))  # type: ignore[return-value]


def _lstsq(a: np.ndarray, b: np.ndarray, rcond: Any = None) -> tuple[np.ndarray, ...]:
    x, res, rank, s = np.linalg.lstsq(a, b, rcond=rcond)
    return x, res, np.asarray(rank, dtype=np.int64), s


def _gels(b: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m, n = a.shape
    b2 = b.reshape(m, -1)
    padded = np.zeros((max(m, n), b2.shape[1]), b.dtype)
    padded[:m] = b2
    lqr, x, _ = lapack("gels", a)(a, padded)
    x = x[:n]
    return (x.reshape(n) if b.ndim == 1 else x), lqr


def _raw(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, tau = np.linalg.qr(a, mode="raw")
    return np.ascontiguousarray(h.T), tau


TALL, WIDE = arr(5, 3), arr(3, 5)
H_TALL, TAU_TALL = _raw(TALL)
H_WIDE, TAU_WIDE = _raw(WIDE)
SQ = arr(4, 4)
H_SQ, TAU_SQ = _raw(SQ)
U4 = np.linalg.cholesky(spd(4)).T  # an upper Cholesky factor
INT_A = np.array([[4.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 2.0]])  # integer-valued SPD


CASES: dict[str, list[Case]] = {
    "gesv": cases((arr(4, 2), well(4)), _gesv)
    + cases((arr(4), well(4)), _gesv, label="vector b")
    + cases((arr(2, 3, 2), well(3, 2)), _gesv, label="batch")
    + [Case((INT_A[:, :1].copy(), INT_A), _gesv, dtypes=I64, float_op=True, label="integers")],
    "solve": cases((well(4), arr(4, 2)), np.linalg.solve)
    + cases((well(4), arr(4)), np.linalg.solve, label="vector b")
    + cases((well(3, 2), arr(2, 3, 1)), np.linalg.solve, label="batch")
    + cases((well(3, 2), arr(3, 2)), np.linalg.solve, label="broadcast b")
    + [
        Case((INT_A, INT_A), np.linalg.solve, dtypes=I64, float_op=True, label="integers"),
        Case((np.zeros((0, 0)), np.zeros((0, 2))), np.linalg.solve, label="empty"),
    ],
    "trtrs": [
        c
        for kw in (
            {},
            {"uplo": "L"},
            {"trans": "T"},
            {"uplo": "L", "trans": "T", "diag": "U"},
            {"diag": "U"},
        )
        for c in cases((arr(4, 3), well(4)), _trtrs, kw)
    ]
    + cases((arr(4), well(4)), _trtrs, {"uplo": "L"}, label="vector b"),
    "potrf": cases((spd(4),), _potrf)
    + cases((spd(4),), _potrf, {"uplo": "L"})
    + cases((junk(spd(4), upper=True),), _potrf, label="reads the upper triangle only")
    + cases((junk(spd(4), upper=False),), _potrf, {"uplo": "L"}, label="reads the lower triangle only")
    + [Case((INT_A,), _potrf, dtypes=I64, float_op=True, label="integers")],
    "cholesky": cases((spd(4),), _cholesky)
    + cases((spd(4),), _cholesky, {"upper": True})
    + cases((spd(3, 2),), _cholesky, label="batch"),
    "potri": cases((U4,), _potri, tol32=1e-3)
    + cases((U4 + np.tril(arr(4, 4), -1),), _potri, label="reads the upper triangle only", tol32=1e-3)
    + cases((U4.T.copy(),), _potri, {"uplo": "L"}, tol32=1e-3),
    "potrs": cases((arr(4, 2), U4), _potrs)
    + cases((arr(4), U4.T + np.triu(arr(4, 4), 1)), _potrs, {"uplo": "L"}, label="lower, vector b"),
    "pstrf": cases((spd(5),), _pstrf)
    + cases((spd(5),), _pstrf, {"uplo": "L"})
    + cases((junk(spd(4), upper=True),), _pstrf, label="reads the upper triangle only")
    + [Case((psd(5, 3),), _pstrf, tol=1e-10, label="rank 3 of 5")]
    + cases((psd(4, 2),), _pstrf, {"tol": 1e-3}, label="tol"),
    "qr": cases((TALL,), _qr) + cases((WIDE,), _qr) + cases((arr(2, 4, 3),), _qr, label="batch"),
    "geqrf": cases((TALL,), _geqrf) + cases((WIDE,), _geqrf) + cases((arr(2, 4, 3),), _geqrf, label="batch"),
    "orgqr": cases((H_TALL, TAU_TALL), _orgqr) + cases((H_WIDE, TAU_WIDE), _orgqr) + cases((H_SQ, TAU_SQ), _orgqr),
    "ormqr": [
        c
        for kw in ({}, {"trans": "T"}, {"side": "R"}, {"side": "R", "trans": "T"})
        for c in cases((H_TALL, TAU_TALL, arr(5, 2) if kw.get("side", "L") == "L" else arr(2, 5)), _ormqr, kw)
    ]
    + cases((H_WIDE, TAU_WIDE, arr(3, 4)), _ormqr, label="wide reflectors"),
    "svd": cases((TALL,), _svd, sign_free=_UV)
    + cases((WIDE,), _svd, {"some": False}, sign_free=_UV)
    + cases((arr(2, 3, 4),), _svd, label="batch", sign_free=_UV),
    "eig": cases((SQ,), _eig, sign_free=_V)
    # A complex pair whose eigenvector has one largest component: LAPACK makes that one real, so its
    # phase is fixed. With two of equal size ([[0, -2], [2, 0]]) rounding picks: sgeev (cuSOLVER's
    # float32) and dgeev then return vectors differing by a factor i.
    + cases((np.array([[0.0, -2.0, 1.0], [1.0, 0.0, 0.5], [0.0, 0.0, 3.0]]),), _eig, label="complex pair", sign_free=_V)
    + cases((SQ,), _eig, {"eigenvectors": False}),
    "symeig": cases((spd(4),), _symeig, sign_free=_V)
    + cases((SQ,), _symeig, label="reads the upper triangle only", sign_free=_V)
    + cases((SQ,), _symeig, {"upper": False}, sign_free=_V)
    + cases((spd(4),), _symeig, {"eigenvectors": False})
    + cases((spd(3, 2),), _symeig, label="batch", sign_free=_V),
    "eigh": cases((SQ,), _eigh, label="reads the lower triangle only", sign_free=_V)
    + cases((SQ,), _eigh, {"UPLO": "U"}, sign_free=_V)
    + cases((spd(3, 2),), _eigh, label="batch", sign_free=_V),
    "inverse": cases((well(4),), np.linalg.inv)
    + cases((well(3, 2),), np.linalg.inv, label="batch")
    + [Case((INT_A,), np.linalg.inv, dtypes=I64, float_op=True, label="integers")],
    "det": cases((SQ,), np.linalg.det) + cases((arr(2, 3, 3),), np.linalg.det, label="batch"),
    "slogdet": cases((SQ,), lambda a: tuple(np.linalg.slogdet(a)))
    + cases((arr(2, 3, 3),), lambda a: tuple(np.linalg.slogdet(a)), label="batch"),
    "lstsq": cases((TALL, arr(5, 2)), _lstsq)
    + cases((WIDE, arr(3)), _lstsq, label="minimum norm")
    # float64 only: in float32 the rank a solver finds (and so its answer) depends on rounding, and
    # numpy's sgelsd and cuSOLVER disagree (numpy's float32 answer is 1e7 times the minimum-norm one)
    + cases((np.outer(arr(5), arr(3)), arr(5)), _lstsq, label="rank 1")[:1],
    "gels": cases((arr(5, 2), TALL), _gels)
    + cases((arr(5), TALL), _gels, label="vector b")
    + cases((arr(3, 2), WIDE), _gels, label="minimum norm"),
    "pinverse": cases((TALL,), lambda a: np.linalg.pinv(a, rcond=1e-15))
    + cases((arr(2, 3, 4),), lambda a: np.linalg.pinv(a, rcond=1e-15), label="batch"),
    "matrix_rank": [
        Case((a,), lambda a: np.asarray(np.linalg.matrix_rank(a), dtype=np.int64), dtypes=(np.float64, np.float32))
        for a in (TALL, np.outer(arr(4), arr(3)), arr(2, 3, 3))
    ],
}
