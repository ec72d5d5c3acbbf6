"""Linear algebra (ops/lapack.py): identities, agreement with numpy/scipy, and error cases.

The table-driven cases of opcases_linalg.py compare each op with LAPACK; these tests check what the
results mean (A @ solve(A, b) == b, Q orthogonal, reconstructions from every decomposition) in
float32 and float64 and on non-contiguous inputs, and that bad inputs raise clear errors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.linalg as sl
from support import layouts, typename

import flambeau.tensor as ft
from flambeau.tensor import DomainError, ShapeError
from flambeau.tensor.testing import host, on_device, shares_memory

pytestmark = pytest.mark.device

RNG = np.random.default_rng(11)
DTYPES = [np.float64, np.float32]
TOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 2e-4}


def close(got: Any, want: Any, dt: Any = np.float64, scale: float = 1.0) -> None:
    got = host(got) if isinstance(got, ft.Tensor) else np.asarray(got)
    want = host(want) if isinstance(want, ft.Tensor) else np.asarray(want)
    tol = TOL[np.dtype(dt)] * scale
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def well(n: int, *batch: int, dt: Any = np.float64) -> np.ndarray:
    return (RNG.uniform(-1, 1, (*batch, n, n)) + 2 * n * np.eye(n)).astype(dt)


def spd(n: int, *batch: int, dt: Any = np.float64) -> np.ndarray:
    m = RNG.uniform(-1, 1, (*batch, n, n))
    return (m @ np.swapaxes(m, -1, -2) + n * np.eye(n)).astype(dt)


def rand(*shape: int, dt: Any = np.float64) -> np.ndarray:
    return RNG.uniform(-2, 2, shape).astype(dt)


def each_layout(a: np.ndarray) -> list[tuple[str, ft.Tensor]]:
    return list(layouts(a).items())


def T(a: np.ndarray) -> ft.Tensor:  # a tensor from a numpy array, on the device under test
    return on_device(a)


def eye(n: int, dt: Any) -> np.ndarray:
    return np.eye(n, dtype=dt)


# -- solving ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dt", DTYPES)
def test_solve_and_gesv_solve_the_system(dt: Any) -> None:
    a, b = well(5, dt=dt), rand(5, 3, dt=dt)
    for layout, ta in each_layout(a):
        x = ft.solve(ta, T(b))
        assert host(x).dtype == dt, layout
        close(ta @ x, b, dt)
        xg, lu = ft.gesv(T(b), ta)  # Torch7's order: b first
        close(xg, x, dt)
        p, low, up = sl.lu(a)  # a = p @ low @ up; the packed LU holds low (below the diagonal) and up
        close(np.tril(host(lu), -1) + np.eye(5), low, dt, 10)
        close(np.triu(host(lu)), up, dt, 10)
    v = rand(5, dt=dt)
    close(ft.solve(T(a), T(v)), np.linalg.solve(a, v), dt)
    assert tuple(ft.solve(T(a), T(v)).size()) == (5,)


def test_solve_batched_and_broadcast() -> None:
    a, b = well(3, 4), rand(4, 3, 2)
    x = ft.solve(T(a), T(b))
    close(ft.matmul(T(a), x), b)
    xb = ft.solve(T(a), T(b[0]))  # one right-hand side for the whole batch
    close(xb, np.linalg.solve(a, b[0]))
    x2, lu = ft.gesv(T(b), T(a))
    close(x2, x)
    close(lu[2], sl.lu_factor(a[2])[0], scale=10)


def test_forms_methods_and_out() -> None:
    a, b = well(3), rand(3, 2)
    x = T(b).gesv(T(a)).solution
    close(x, np.linalg.solve(a, b))
    outs = (ft.empty(0), ft.empty(0))
    r = ft.gesv(T(b), T(a), out=outs)
    assert r.solution is outs[0] and r.lu is outs[1]
    close(outs[0], x)
    o = ft.empty(7)
    assert ft.inverse(T(a), out=o) is o
    close(o, np.linalg.inv(a))
    assert ft.inv is ft.inverse and T(a).inv().equal(T(a).inverse())
    assert not hasattr(ft.Tensor, "inverse_")


def test_integer_inputs_are_promoted_to_the_default_float() -> None:
    a = ft.LongTensor([[2, 1], [1, 3]])
    inv = ft.inverse(a)
    assert inv.type() == typename("DoubleTensor")
    close(inv, np.linalg.inv([[2.0, 1.0], [1.0, 3.0]]))
    assert ft.solve(a, ft.LongTensor([3, 4])).type() == typename("DoubleTensor")


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("uplo", ["U", "L"])
@pytest.mark.parametrize("trans", ["N", "T"])
@pytest.mark.parametrize("diag", ["N", "U"])
def test_trtrs_matches_scipy_solve_triangular(dt: Any, uplo: str, trans: str, diag: str) -> None:
    a, b = well(4, dt=dt), rand(4, 2, dt=dt)
    want = sl.solve_triangular(a, b, lower=uplo == "L", trans=trans, unit_diagonal=diag == "U")
    for layout, ta in each_layout(a):
        x, coeff = ft.trtrs(T(b), ta, uplo, trans, diag)
        close(x, want, dt)
        close(coeff, a, dt)  # a copy of A
        assert not shares_memory(coeff, ta), layout
    t = np.triu(a) if uplo == "U" else np.tril(a)
    if diag == "U":
        np.fill_diagonal(t, 1)
    op_t = t.T if trans == "T" else t
    close(op_t @ host(ft.trtrs(T(b), T(a), uplo=uplo, trans=trans, diag=diag).solution), b, dt)


# -- Cholesky --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dt", DTYPES)
def test_potrf_and_cholesky_reconstruct(dt: Any) -> None:
    a = spd(5, dt=dt)
    for layout, ta in each_layout(a):
        u = host(ft.potrf(ta))  # Torch7's default: upper, A = U^T U
        assert np.array_equal(u, np.triu(u)), layout
        close(u.T @ u, a, dt, 10)
        low = host(ft.potrf(ta, "L"))
        assert np.array_equal(low, np.tril(low))
        close(low @ low.T, a, dt, 10)
        c = host(ft.cholesky(ta))  # PyTorch's default: lower, A = L L^T
        close(c, low, dt, 10)
        cu = host(ft.cholesky(ta, upper=True))
        close(cu, u, dt, 10)
    bl = spd(3, 2, dt=dt)
    lb = host(ft.cholesky(T(bl)))
    close(lb @ np.swapaxes(lb, -1, -2), bl, dt, 10)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("uplo", ["U", "L"])
def test_potri_and_potrs_agree_with_inverse_and_solve(dt: Any, uplo: str) -> None:
    a, b = spd(4, dt=dt), rand(4, 3, dt=dt)
    f = ft.potrf(T(a), uplo)
    for layout, tf in each_layout(host(f)):
        close(ft.potri(tf, uplo), ft.inverse(T(a)), dt, 10)
        close(ft.potrs(T(b), tf, uplo), ft.solve(T(a), T(b)), dt, 10)
        assert layout


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("uplo", ["U", "L"])
def test_pstrf_pivoted_reconstruction(dt: Any, uplo: str) -> None:
    a = spd(6, dt=dt)
    for layout, ta in each_layout(a):
        f, piv = ft.pstrf(ta, uplo)
        assert piv.type() == typename("IntTensor"), layout
        p = host(piv)
        assert sorted(p.tolist()) == list(range(6))  # 0-based permutation
        f = host(f)
        g = f.T @ f if uplo == "U" else f @ f.T
        assert np.array_equal(f, np.triu(f) if uplo == "U" else np.tril(f))
        close(g, a[p][:, p], dt, 10)  # P^T A P with P[piv[k], k] = 1
        d = np.diagonal(f)
        assert np.all(d[:-1] >= d[1:] - TOL[np.dtype(dt)])  # complete pivoting: non-increasing pivots


def test_pstrf_rank_deficient_and_tolerance() -> None:
    m = RNG.uniform(-1, 1, (6, 2))
    a = m @ m.T  # positive semi-definite, rank 2
    f, piv = ft.pstrf(T(a))
    f, p = host(f), host(piv)
    assert np.count_nonzero(np.abs(np.diagonal(f)) > 1e-8) == 2
    assert np.all(f[2:] == 0)  # rows past the rank are zero
    close(f.T @ f, a[p][:, p], scale=100)
    # a large tolerance stops early: only the pivots above it are factored
    big = np.diag([9.0, 4.0, 1e-2, 1e-3])
    f2, p2 = ft.pstrf(T(big), tol=0.1)
    assert p2.tolist()[:2] == [0, 1] and np.count_nonzero(host(f2)) == 2


# -- QR and reflectors -----------------------------------------------------------------------------


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4)])
def test_qr_orthogonal_and_reconstructs(dt: Any, shape: tuple[int, int]) -> None:
    a = rand(*shape, dt=dt)
    k = min(shape)
    for layout, ta in each_layout(a):
        q, r = ft.qr(ta)
        q, r = host(q), host(r)
        assert q.shape == (shape[0], k) and r.shape == (k, shape[1]), layout
        close(q.T @ q, eye(k, dt), dt, 10)
        assert np.array_equal(r, np.triu(r))
        close(q @ r, a, dt, 10)


def test_qr_batched() -> None:
    a = rand(3, 5, 2)
    q, r = ft.qr(T(a))
    close(ft.matmul(q, r), a)
    close(np.swapaxes(host(q), -1, -2) @ host(q), np.broadcast_to(np.eye(2), (3, 2, 2)))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4)])
def test_geqrf_orgqr_ormqr(dt: Any, shape: tuple[int, int]) -> None:
    a = rand(*shape, dt=dt)
    m = shape[0]
    h, tau = ft.geqrf(T(a))
    q, r = ft.qr(T(a))
    close(ft.orgqr(h, tau), q, dt, 10)  # geqrf + orgqr == qr's Q
    close(np.triu(host(h))[: min(shape)], r, dt, 10)  # R sits on and above the diagonal
    full = np.linalg.qr(a.astype(np.float64), mode="complete")[0]
    c, cr = rand(m, 2, dt=dt), rand(2, m, dt=dt)
    for layout, th in each_layout(host(h)):
        close(ft.ormqr(th, tau, T(c)), full @ c, dt, 10)
        close(ft.ormqr(th, tau, T(c), trans="T"), full.T @ c, dt, 10)
        close(ft.ormqr(th, tau, T(cr), side="R"), cr @ full, dt, 10)
        close(ft.ormqr(th, tau, T(cr), "R", "T"), cr @ full.T, dt, 10)
        assert layout


def test_geqrf_matches_scipy_lapack() -> None:
    a = rand(5, 3)
    qr, tau, _, _ = sl.lapack.dgeqrf(a)
    h, t = ft.geqrf(T(a))
    close(h, qr)
    close(t, tau)


# -- eigenvalues and singular values ---------------------------------------------------------------


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4)])
def test_svd_reconstructs_and_returns_v(dt: Any, shape: tuple[int, int]) -> None:
    a = rand(*shape, dt=dt)
    k = min(shape)
    for layout, ta in each_layout(a):
        u, s, v = (host(x) for x in ft.svd(ta))
        assert u.shape == (shape[0], k) and v.shape == (shape[1], k), layout
        close(u @ np.diag(s) @ v.T, a, dt, 10)  # V, not V^T
        close(u.T @ u, eye(k, dt), dt, 10)
        close(v.T @ v, eye(k, dt), dt, 10)
        assert np.all(s[:-1] >= s[1:])
    u, s, v = (host(x) for x in ft.svd(T(a), some=False))
    assert u.shape == (shape[0], shape[0]) and v.shape == (shape[1], shape[1])
    sm = np.zeros(shape, dt)
    sm[:k, :k] = np.diag(s)
    close(u @ sm @ v.T, a, dt, 10)


def test_svd_batched() -> None:
    a = rand(2, 4, 3)
    u, s, v = ft.svd(T(a))
    us = host(u) * host(s)[:, None, :]
    close(us @ np.swapaxes(host(v), -1, -2), a)


@pytest.mark.parametrize("dt", DTYPES)
def test_symeig_and_eigh(dt: Any) -> None:
    a = spd(5, dt=dt)
    for layout, ta in each_layout(a):
        e, v = ft.symeig(ta)  # PyTorch's default: with vectors (Torch7's was 'N')
        e, v = host(e), host(v)
        close(a @ v, v * e, dt, 100)
        close(v.T @ v, eye(5, dt), dt, 10)
        assert np.all(e[:-1] <= e[1:]), layout
        e2, v2 = ft.eigh(ta)
        close(e2, e, dt, 10)
        close(np.abs(host(v2)), np.abs(v), dt, 100)
    e, none = ft.symeig(T(a), eigenvectors=False)
    assert none.nelement() == 0
    close(e, np.linalg.eigvalsh(a.astype(np.float64)), dt, 100)


def test_symeig_reads_one_triangle() -> None:
    a = rand(4, 4)
    up = np.triu(a) + np.triu(a, 1).T
    low = np.tril(a) + np.tril(a, -1).T
    close(ft.symeig(T(a)).eigenvalues, np.linalg.eigvalsh(up))
    close(ft.symeig(T(a), upper=False).eigenvalues, np.linalg.eigvalsh(low))
    close(ft.eigh(T(a)).eigenvalues, np.linalg.eigvalsh(low))
    close(ft.eigh(T(a), UPLO="U").eigenvalues, np.linalg.eigvalsh(up))


def test_eigh_batched() -> None:
    a = spd(3, 4)
    e, v = ft.eigh(T(a))
    close(ft.matmul(T(a), v), host(v) * host(e)[:, None, :], scale=100)


def _complex_vectors(e: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unpack Torch7/LAPACK's real form of eig's results into complex eigenvalues and vectors."""
    w = e[:, 0] + 1j * e[:, 1]
    vc = v.astype(complex)
    j = 0
    while j < len(w):
        if e[j, 1] > 0:
            vc[:, j] = v[:, j] + 1j * v[:, j + 1]
            vc[:, j + 1] = v[:, j] - 1j * v[:, j + 1]
            j += 2
        else:
            j += 1
    return w, vc


@pytest.mark.parametrize("dt", DTYPES)
def test_eig_pairs_and_vectors(dt: Any) -> None:
    rot = np.array([[0.0, -2.0, 1.0], [2.0, 0.0, 0.5], [0.0, 0.0, 3.0]], dt)  # eigenvalues 3, ±2i
    for a in (rot, rand(6, 6, dt=dt)):
        for layout, ta in each_layout(a):
            e, v = ft.eig(ta)
            assert tuple(e.size()) == (a.shape[0], 2), layout
            w, vc = _complex_vectors(host(e).astype(np.float64), host(v).astype(np.float64))
            close(a @ vc, vc * w, dt, 100)
            close(np.sort_complex(w), np.sort_complex(np.linalg.eigvals(a.astype(np.float64))), dt, 100)
    e, v = ft.eig(T(rot))
    assert sorted(host(e)[:, 1].tolist()) == pytest.approx([-2.0, 0.0, 2.0])
    e, none = ft.eig(T(rot), eigenvectors=False)
    assert none.nelement() == 0 and tuple(e.size()) == (3, 2)


# -- inverse, determinants, least squares ----------------------------------------------------------


@pytest.mark.parametrize("dt", DTYPES)
def test_inverse_det_slogdet(dt: Any) -> None:
    a = well(4, dt=dt)
    for layout, ta in each_layout(a):
        close(ft.inverse(ta) @ ta, eye(4, dt), dt, 10)
        close(ta @ ft.inv(ta), eye(4, dt), dt, 10)
        d = ft.det(ta)
        assert d.dim() == 0, layout
        close(d, np.prod(np.linalg.eigvals(a.astype(np.float64))).real, dt, 1e3 * float(np.abs(d.item())))
        s, logabs = ft.slogdet(ta)
        close(s * ft.exp(logabs), d, dt, 10 * float(np.abs(d.item())))
    b = well(3, 2, dt=dt)
    close(ft.matmul(ft.inverse(T(b)), T(b)), np.broadcast_to(eye(3, dt), (2, 3, 3)), dt, 10)
    assert tuple(ft.det(T(b)).size()) == (2,)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", [(6, 3), (3, 6)])
def test_gels_and_lstsq_match_numpy(dt: Any, shape: tuple[int, int]) -> None:
    a, b = rand(*shape, dt=dt), rand(shape[0], 2, dt=dt)
    want = np.linalg.lstsq(a, b, rcond=None)
    for layout, ta in each_layout(a):
        r = ft.lstsq(ta, T(b))
        close(r.solution, want[0], dt, 10)
        close(r.residuals, want[1], dt, 100)
        assert r.rank.item() == want[2] and r.rank.type() == typename("LongTensor"), layout
        close(r.singular_values, want[3], dt, 10)
        x, _ = ft.gels(T(b), ta)  # Torch7's order; n rows only (no residual rows)
        assert tuple(x.size()) == (shape[1], 2)
        close(x, want[0], dt, 10)
    if shape[0] > shape[1]:  # least squares: the residual is orthogonal to A's columns
        x = host(ft.gels(T(b), T(a)).solution)
        close(a.T @ (a @ x - b), np.zeros((shape[1], 2)), dt, 10)
    else:  # minimum norm: exact, and in the row space of A
        x = host(ft.gels(T(b), T(a)).solution)
        close(a @ x, b, dt, 10)


def test_gels_factor_is_lapack_gels_output() -> None:
    for shape in ((6, 3), (3, 6)):
        a, b = rand(*shape), rand(max(shape), 1)
        lqr, x, info = sl.lapack.dgels(a, b)
        sol, f = ft.gels(T(b[: shape[0]]), T(a))
        close(f, lqr)
        close(sol, x[: shape[1]])


def test_pinverse_and_matrix_rank() -> None:
    a = np.outer(rand(5), rand(4)) + np.outer(rand(5), rand(4))  # rank 2
    p = host(ft.pinverse(T(a)))
    close(a @ p @ a, a, scale=100)
    close(p, np.linalg.pinv(a, rcond=1e-15), scale=100)
    assert ft.matrix_rank(T(a)).item() == 2
    assert ft.matrix_rank(T(np.eye(3))).type() == typename("LongTensor")


# -- errors -----------------------------------------------------------------------------------------

SQUARE_OPS = ["inverse", "det", "slogdet", "cholesky", "potrf", "potri", "pstrf", "eig", "symeig", "eigh"]


@pytest.mark.parametrize("name", SQUARE_OPS)
def test_non_square_matrices_are_refused(name: str) -> None:
    with pytest.raises(ShapeError, match=rf"^{name}: .*square.*3x4") as e:
        getattr(ft, name)(ft.zeros(3, 4))
    assert isinstance(e.value, ValueError)
    with pytest.raises(ShapeError, match=name):
        getattr(ft, name)(ft.zeros(4))


@pytest.mark.parametrize("name", ["qr", "geqrf", "svd", "pinverse", "matrix_rank"])
def test_vectors_are_refused(name: str) -> None:
    with pytest.raises(ShapeError, match=rf"^{name}: .*2-D.*size 4$"):
        getattr(ft, name)(ft.zeros(4))


def test_singular_matrices() -> None:
    s = ft.tensor([[1.0, 2.0], [2.0, 4.0]])
    b = ft.tensor([1.0, 1.0])
    for call in (lambda: ft.inverse(s), lambda: ft.solve(s, b), lambda: ft.gesv(b, s)):
        with pytest.raises(DomainError, match="singular"):
            call()
    with pytest.raises(DomainError, match=r"^trtrs: .*singular"):
        ft.trtrs(b, ft.tensor([[1.0, 2.0], [0.0, 0.0]]))
    with pytest.raises(DomainError, match=r"^potri: .*singular"):
        ft.potri(ft.tensor([[1.0, 2.0], [0.0, 0.0]]))
    with pytest.raises(DomainError, match=r"^potrs: .*singular"):
        ft.potrs(b, ft.tensor([[1.0, 2.0], [0.0, 0.0]]))
    # the singular matrix's determinant is 0, not an error
    assert ft.det(s).item() == pytest.approx(0.0)


def test_not_positive_definite() -> None:
    a = ft.tensor([[1.0, 2.0], [2.0, 1.0]])  # eigenvalues 3 and -1
    for name in ("potrf", "cholesky"):
        with pytest.raises(DomainError, match=rf"^{name}: A is not positive definite"):
            getattr(ft, name)(a)
    with pytest.raises(DomainError, match=r"^pstrf: A is not positive semi-definite"):
        ft.pstrf(a)
    with pytest.raises(DomainError, match=r"^pstrf: A is not positive semi-definite"):
        ft.pstrf(ft.tensor([[0.0, 1.0], [1.0, 0.0]]))
    with pytest.raises(ValueError):  # DomainError is a ValueError
        ft.cholesky(a)


def test_size_mismatches_name_both_sizes() -> None:
    a = ft.eye(3)
    with pytest.raises(ShapeError, match=r"^solve: size mismatch, B is 4 and A is 3x3"):
        ft.solve(a, ft.zeros(4))
    with pytest.raises(ShapeError, match=r"^gesv: size mismatch, B is 2x1 and A is 3x3"):
        ft.gesv(ft.zeros(2, 1), a)
    with pytest.raises(ShapeError, match=r"^potrs: size mismatch"):
        ft.potrs(ft.zeros(2), a)
    with pytest.raises(ShapeError, match=r"^lstsq: size mismatch, B is 4x2 and A is 3x2"):
        ft.lstsq(ft.zeros(3, 2), ft.zeros(4, 2))
    with pytest.raises(ShapeError, match=r"^gels: "):
        ft.gels(ft.zeros(4), ft.zeros(3, 2))
    h, tau = ft.geqrf(ft.rand(4, 3))
    with pytest.raises(ShapeError, match=r"^ormqr: size mismatch, mat is 3x2 .*4 rows"):
        ft.ormqr(h, tau, ft.zeros(3, 2))
    with pytest.raises(ShapeError, match=r"^ormqr: .*4 columns"):
        ft.ormqr(h, tau, ft.zeros(4, 2), side="R")
    with pytest.raises(ShapeError, match=r"^orgqr: tau must be a vector of at most min\(m, n\) = 3"):
        ft.orgqr(h, ft.zeros(4))
    with pytest.raises(ShapeError, match=r"^lstsq: .*2-D"):
        ft.lstsq(ft.zeros(2, 3, 2), ft.zeros(2, 3, 1))


def test_bad_flags() -> None:
    a, b = ft.eye(2), ft.ones(2)
    with pytest.raises(DomainError, match=r"^trtrs: uplo must be 'U' or 'L', got 'X'"):
        ft.trtrs(b, a, "X")
    with pytest.raises(DomainError, match=r"^trtrs: trans must be 'N' or 'T'"):
        ft.trtrs(b, a, trans="C")
    with pytest.raises(DomainError, match=r"^potrf: uplo"):
        ft.potrf(a, "upper")
    with pytest.raises(DomainError, match=r"^ormqr: side must be 'L' or 'R'"):
        ft.ormqr(*ft.geqrf(a), a, side="X")
    with pytest.raises(DomainError, match=r"^eigh: UPLO"):
        ft.eigh(a, UPLO="X")
    assert ft.trtrs(b, a, "l", "t", "u").solution.tolist() == [1.0, 1.0]  # LAPACK's flags ignore case


def test_failed_out_leaves_nothing_half_written() -> None:
    s = ft.tensor([[1.0, 2.0], [2.0, 4.0]])
    out = ft.ones(2, 2).fill_(7.0)
    with pytest.raises(DomainError):
        ft.inverse(s, out=out)
    assert out.tolist() == [[7.0, 7.0], [7.0, 7.0]]
