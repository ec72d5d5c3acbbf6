"""Rules of the LAPACK group, written with flambeau ops (solves, products, masks) so they differentiate again.

Conventions and restrictions (the rules do not detect the excluded cases; the results there are
wrong or not finite):

* Ops that read one triangle of a symmetric input (``potrf``, ``cholesky``, ``symeig``, ``eigh``)
  are differentiated as the functions they are: the gradient lies in the triangle read, the
  off-diagonal entries carrying both symmetric contributions. On symmetric perturbations this
  agrees with the usual symmetric gradient; ``potri`` and ``potrs`` likewise give the factor's
  gradient in the triangle they read (strictly below/above the diagonal for ``diag='U'`` in ``trtrs``).
* Solves (``gesv``, ``solve``, ``trtrs``, ``potrs``) and ``inverse``, ``det``, ``slogdet``: the
  matrix must be non-singular (``det``'s gradient uses the inverse). ``gesv``'s ``lu`` output has
  no gradient: using it in a differentiated function raises; ``trtrs``'s second output (a copy of
  ``a``) passes its gradient to ``a``; ``slogdet``'s ``sign`` is piecewise constant (no gradient).
* ``qr``: full-rank input (any m x n, the reduced factorization).
* ``svd``: distinct, non-zero singular values (only the ``S`` term when U and V get no gradient);
  with ``some=False`` and a non-square input, gradients through ``U`` or ``V`` raise (their extra
  columns are not determined by the input).
* ``symeig``/``eigh``: distinct eigenvalues when the eigenvectors get a gradient. Eigenvectors are
  defined up to sign; the gradient is that of the branch LAPACK returns.
* ``pinverse``: input of full rank (the rank must not change near it); ``rcond`` is not
  differentiated.
"""

from __future__ import annotations

from typing import Any

import flambeau.tensor as ft

from ..errors import MissingGradientError
from ._table import rule


def _mT(x: Any) -> Any:  # noqa: N802 - the usual name of a batched transpose
    return x.transpose(-1, -2)


def _eye(n: int, like: Any) -> Any:
    return ft.eye(n, dtype=like.dtype, device=like.device)


def _mask(n: int, like: Any, upper: bool, strict: bool = False) -> Any:
    """A constant 0/1 triangle (upper or lower, with or without the diagonal)."""
    ones = ft.ones(n, n, dtype=like.dtype, device=like.device)
    if upper:
        return ft.triu(ones, 1 if strict else 0)
    return ft.tril(ones, -1 if strict else 0)


def _fold(gs: Any, upper: bool) -> Any:
    """From the gradient wrt a symmetric matrix to that wrt the triangle it was read from."""
    n = gs.size(-1)
    return (gs + _mT(gs)) * _mask(n, gs, upper) - gs * _eye(n, gs)


def _rhs_solve(fn: Any, rhs: Any, vector: bool) -> Any:
    """``fn(rhs)`` for a solve whose right-hand side was a vector: batched vectors as columns."""
    if vector and rhs.dim() > 1:
        return fn(rhs.unsqueeze(-1)).squeeze(-1)
    return fn(rhs)


def _outer(gb: Any, x: Any, vector: bool) -> Any:
    """``-gb x^T`` (the matrix gradient of a solve ``A x = b`` from that of ``b``)."""
    if vector:
        return -(gb.unsqueeze(-1) * x.unsqueeze(-2))
    return -ft.matmul(gb, _mT(x))


# --------------------------------------------------------------------------------------------
# Solves.


def _solve_b(gx: Any, a: Any, b: Any) -> Any:
    return _rhs_solve(lambda r: ft.solve(_mT(a), r), gx, b.dim() == 1)


def _gesv_g(g: Any) -> Any:
    gx, glu = g
    if glu is not None:
        raise MissingGradientError("gesv: the lu output has no gradient; differentiate through the solution only")
    return gx


def _gesv_b(g: Any, ans: Any, b: Any, a: Any) -> Any:
    gx = _gesv_g(g)
    return None if gx is None else _solve_b(gx, a, b)


def _gesv_a(g: Any, ans: Any, b: Any, a: Any) -> Any:
    gx = _gesv_g(g)
    return None if gx is None else _outer(_solve_b(gx, a, b), ans[0], b.dim() == 1)


rule("gesv", b=_gesv_b, a=_gesv_a)
rule(
    "solve",
    a=lambda g, ans, a, b: _outer(_solve_b(g, a, b), ans, b.dim() == 1),
    b=lambda g, ans, a, b: _solve_b(g, a, b),
)


def _trtrs_b_of(gx: Any, b: Any, a: Any, uplo: Any, trans: Any, diag: Any) -> Any:
    back = "N" if str(trans).upper() == "T" else "T"
    return _rhs_solve(lambda r: ft.trtrs(r, a, uplo, back, diag)[0], gx, b.dim() == 1)


def _trtrs_b(g: Any, ans: Any, b: Any, a: Any, uplo: Any, trans: Any, diag: Any) -> Any:
    return None if g[0] is None else _trtrs_b_of(g[0], b, a, uplo, trans, diag)


def _trtrs_a(g: Any, ans: Any, b: Any, a: Any, uplo: Any, trans: Any, diag: Any) -> Any:
    gx, gcopy = g
    out = None
    if gx is not None:
        gm = _outer(_trtrs_b_of(gx, b, a, uplo, trans, diag), ans[0], b.dim() == 1)  # wrt op(T)
        if str(trans).upper() == "T":
            gm = _mT(gm)
        out = gm * _mask(a.size(-1), a, str(uplo).upper() == "U", strict=str(diag).upper() == "U")
    if gcopy is not None:  # the second result is a copy of a
        out = gcopy if out is None else out + gcopy
    return out


rule("trtrs", b=_trtrs_b, a=_trtrs_a)

# --------------------------------------------------------------------------------------------
# Cholesky and friends.


def _chol_back(gl: Any, low: Any) -> Any:
    """Gradient wrt A = L L^T (not symmetrized) from that wrt L: L^-T Phi(L^T gL) L^-1 (Murray 2016)."""
    n = low.size(-1)
    gl = gl * _mask(n, gl, upper=False)
    p = ft.matmul(_mT(low), gl)
    p = p * _mask(n, p, upper=False) - 0.5 * p * _eye(n, p)  # Phi: the lower triangle, half the diagonal
    y = ft.trtrs(p, low, "L", "T")[0]  # L^-T P
    return _mT(ft.trtrs(_mT(y), low, "L", "T")[0])  # L^-T P L^-1


def _potrf(g: Any, ans: Any, x: Any, uplo: Any) -> Any:
    upper = str(uplo).upper() == "U"
    low, gl = (_mT(ans), _mT(g)) if upper else (ans, g)
    return _fold(_chol_back(gl, low), upper)


def _cholesky(g: Any, ans: Any, x: Any, upper: Any) -> Any:
    low, gl = (_mT(ans), _mT(g)) if upper else (ans, g)
    return _fold(_chol_back(gl, low), upper=False)  # cholesky reads the lower triangle


rule("potrf", _potrf)
rule("cholesky", _cholesky)


def _factor_back(ga: Any, u: Any, uplo: Any) -> Any:
    """Gradient wrt the factor read from ``u`` from that wrt A = C^T C (uplo 'U') or C C^T ('L')."""
    upper = str(uplo).upper() == "U"
    m = _mask(u.size(-1), u, upper)
    c = u * m
    s = ga + _mT(ga)
    return (ft.matmul(c, s) if upper else ft.matmul(s, c)) * m


def _potri(g: Any, ans: Any, u: Any, uplo: Any) -> Any:
    r = _mT(ans)
    return _factor_back(-ft.matmul(ft.matmul(r, g), r), u, uplo)


rule("potri", _potri)


def _potrs_b(g: Any, ans: Any, b: Any, u: Any, uplo: Any) -> Any:
    return _rhs_solve(lambda r: ft.potrs(r, u, uplo), g, b.dim() == 1)  # A is symmetric


def _potrs_u(g: Any, ans: Any, b: Any, u: Any, uplo: Any) -> Any:
    return _factor_back(_outer(_potrs_b(g, ans, b, u, uplo), ans, b.dim() == 1), u, uplo)


rule("potrs", b=_potrs_b, u=_potrs_u)

# --------------------------------------------------------------------------------------------
# QR.


def _qr_tall(q: Any, r: Any, gq: Any, gr: Any) -> Any:
    """m >= n: gA = (gQ + Q copyltu(M)) R^-T with M = R gR^T - gQ^T Q."""
    n = r.size(-1)
    m = ft.matmul(r, _mT(gr)) - ft.matmul(_mT(gq), q)
    m = m * _mask(n, m, upper=False) + _mT(m * _mask(n, m, upper=False, strict=True))
    b = gq + ft.matmul(q, m)
    return _mT(ft.trtrs(_mT(b), r, "U")[0])  # b R^-T


def _qr(g: Any, ans: Any, x: Any) -> Any:
    q, r = ans
    gq, gr = g
    gq = ft.zeros_like(q) if gq is None else gq
    gr = ft.zeros_like(r) if gr is None else gr
    rows, cols = x.size(-2), x.size(-1)
    if rows >= cols:
        return _qr_tall(q, r, gq, gr)
    # wide: A = [X | Y] with X square; R = [Rx | Q^T Y]
    last = x.dim() - 1
    y = x.narrow(last, rows, cols - rows)
    grx, gry = gr.narrow(last, 0, rows), gr.narrow(last, rows, cols - rows)
    gx = _qr_tall(q, r.narrow(last, 0, rows), gq + ft.matmul(y, _mT(gry)), grx)
    return ft.cat([gx, ft.matmul(q, gry)], last)


rule("qr", _qr)

# --------------------------------------------------------------------------------------------
# Singular values and eigenvalues.


def _gap(w: Any) -> Any:
    """F[i, j] = 1 / (w_j - w_i) off the diagonal, 0 on it."""
    k = w.size(-1)
    eye = _eye(k, w)
    return (1 - eye) / (w.unsqueeze(-2) - w.unsqueeze(-1) + eye)


def _svd(g: Any, ans: Any, x: Any, some: Any) -> Any:
    u, s, v = ans
    gu, gs, gv = g
    m, n = x.size(-2), x.size(-1)
    k = min(m, n)
    if not some and m != n:
        if gu is not None or gv is not None:
            raise MissingGradientError(
                "svd: with some=False and a non-square input, U and V have columns the input does not"
                " determine; differentiate through some=True (or S only)"
            )
        u, _, v = ft.svd(x, True)  # the thin factors (their pairs u_i v_i^T agree with the full ones)
    srow = s.unsqueeze(-2)  # scales columns: M * srow = M diag(S)
    inner = None
    if gs is not None:
        inner = gs.unsqueeze(-2) * _eye(k, s)
    out = None
    if gu is not None or gv is not None:
        f = _gap(s * s)
        if gu is not None:
            utgu = ft.matmul(_mT(u), gu)
            j = f * (utgu - _mT(utgu)) * srow  # (F o (U^T gU - gU^T U)) S
            inner = j if inner is None else inner + j
            out = ft.matmul((gu - ft.matmul(u, utgu)) / srow, _mT(v))  # (I - U U^T) gU S^-1 V^T
        if gv is not None:
            vtgv = ft.matmul(_mT(v), gv)
            kk = f * (vtgv - _mT(vtgv)) * s.unsqueeze(-1)  # S (F o (V^T gV - gV^T V))
            inner = kk if inner is None else inner + kk
            t = ft.matmul(u / srow, _mT(gv) - ft.matmul(_mT(vtgv), _mT(v)))  # U S^-1 gV^T (I - V V^T)
            out = t if out is None else out + t
    if inner is not None:
        core = ft.matmul(ft.matmul(u, inner), _mT(v))
        out = core if out is None else out + core
    return out


rule("svd", _svd)


def _eig_back(gw: Any, gv: Any, w: Any, v: Any) -> Any:
    """Gradient wrt the (full) symmetric matrix: V (diag(gw) + F o (V^T gV)) V^T."""
    n = w.size(-1)
    inner = None
    if gw is not None:
        inner = gw.unsqueeze(-2) * _eye(n, w)
    if gv is not None:
        t = _gap(w) * ft.matmul(_mT(v), gv)
        inner = t if inner is None else inner + t
    if inner is None:
        return None
    return ft.matmul(ft.matmul(v, inner), _mT(v))


def _symeig(g: Any, ans: Any, x: Any, eigenvectors: Any, upper: Any) -> Any:
    gw, gv = g
    w, v = ans
    if not eigenvectors:  # the eigenvalues' gradient still needs the vectors
        w, v = ft.symeig(x, True, upper)
        gv = None
    gs = _eig_back(gw, gv, w, v)
    return None if gs is None else _fold(gs, bool(upper))


def _eigh(g: Any, ans: Any, x: Any, uplo: Any) -> Any:
    gs = _eig_back(g[0], g[1], ans[0], ans[1])
    return None if gs is None else _fold(gs, str(uplo).upper() == "U")


rule("symeig", _symeig)
rule("eigh", _eigh)

# --------------------------------------------------------------------------------------------
# Inverses and determinants.


def _inverse(g: Any, ans: Any, x: Any) -> Any:
    r = _mT(ans)
    return -ft.matmul(ft.matmul(r, g), r)


def _per_matrix(t: Any) -> Any:
    """A 0-d (or batch of) scalar(s) shaped to scale (a batch of) matrices."""
    return t.unsqueeze(-1).unsqueeze(-1) if t.dim() else t


def _det(g: Any, ans: Any, x: Any) -> Any:
    return _per_matrix(g * ans) * _mT(ft.inverse(x))


def _slogdet(g: Any, ans: Any, x: Any) -> Any:
    glog = g[1]  # sign is piecewise constant
    return None if glog is None else _per_matrix(glog) * _mT(ft.inverse(x))


rule("inverse", _inverse)
rule("det", _det)
rule("slogdet", _slogdet)


def _pinverse(g: Any, ans: Any, x: Any, rcond: Any) -> Any:
    """-P^T G P^T + (I - A P) G^T P P^T + P^T P G^T (I - P A) (Golub & Pereyra; constant rank)."""
    p, pt, gt = ans, _mT(ans), _mT(g)
    first = -ft.matmul(ft.matmul(pt, g), pt)
    gtppt = ft.matmul(gt, ft.matmul(p, pt))
    second = gtppt - ft.matmul(x, ft.matmul(p, gtppt))
    ptpgt = ft.matmul(ft.matmul(pt, p), gt)
    third = ptpgt - ft.matmul(ft.matmul(ptpgt, p), x)
    return first + second + third


rule("pinverse", _pinverse)
