"""Explicit values of the BLAS, LAPACK and convolution gradients (against numpy and hand formulas)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import flambeau.tensor as ft
from flambeau.autograd import grad
from flambeau.autograd.errors import MissingGradientError
from flambeau.tensor.testing import host, on_device

pytestmark = pytest.mark.device

R = np.random.default_rng(7)


def T(a: np.ndarray) -> Any:
    return on_device(a, np.float64)


def both(f: Any, *args: Any) -> tuple[np.ndarray, ...]:
    """The gradients of ``f`` wrt every argument, as numpy arrays."""
    return tuple(host(grad(f, argnum=i)(*args)[0]) for i in range(len(args)))


def test_mm_and_addmm_gradients_are_the_transposed_products() -> None:
    a, b, w = R.normal(size=(3, 4)), R.normal(size=(4, 2)), R.normal(size=(3, 2))
    ga, gb = both(lambda x, y: (ft.mm(x, y) * T(w)).sum(), T(a), T(b))
    np.testing.assert_allclose(ga, w @ b.T)
    np.testing.assert_allclose(gb, a.T @ w)
    gi, ga, gb = both(
        lambda i, x, y: (ft.addmm(i, x, y, beta=0.5, alpha=3.0) * T(w)).sum(), T(R.normal(size=2)), T(a), T(b)
    )
    np.testing.assert_allclose(gi, 0.5 * w.sum(0))  # the broadcast input gets the summed gradient
    np.testing.assert_allclose(ga, 3 * w @ b.T)
    np.testing.assert_allclose(gb, 3 * a.T @ w)


@pytest.mark.parametrize(
    ("sa", "sb"),
    [((4,), (4,)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,)), ((2, 1, 3, 4), (5, 4, 2)), ((3, 4), (2, 4, 5))],
)
def test_matmul_gradients_have_the_arguments_shapes(sa: tuple[int, ...], sb: tuple[int, ...]) -> None:
    a, b = R.normal(size=sa), R.normal(size=sb)
    w = R.normal(size=np.matmul(a, b).shape)
    ga, gb = both(lambda x, y: ((x @ y) * T(w)).sum(), T(a), T(b))
    assert ga.shape == sa and gb.shape == sb
    # against numpy through the einsum-free identity <w, a @ b> = <ga, a> for a linear map
    eps = R.normal(size=sa)
    assert np.isclose((w * np.matmul(eps, b)).sum(), (ga * eps).sum())


def test_det_gradient_is_det_times_inverse_transpose() -> None:
    a = R.normal(size=(3, 3)) + 2 * np.eye(3)
    (g,) = both(ft.det, T(a))
    np.testing.assert_allclose(g, np.linalg.det(a) * np.linalg.inv(a).T, rtol=1e-10)
    (g,) = both(lambda x: ft.slogdet(x).logabsdet, T(-a))
    np.testing.assert_allclose(g, np.linalg.inv(-a).T, rtol=1e-10)


def test_inverse_gradient_of_the_sum() -> None:
    a = R.normal(size=(3, 3)) + 2 * np.eye(3)
    (g,) = both(lambda x: ft.inverse(x).sum(), T(a))
    ai = np.linalg.inv(a)
    np.testing.assert_allclose(g, -ai.T @ np.ones((3, 3)) @ ai.T, rtol=1e-10)


def test_solve_gradients_are_adjoint_solves() -> None:
    a, b, w = R.normal(size=(3, 3)) + 3 * np.eye(3), R.normal(size=(3, 2)), R.normal(size=(3, 2))
    ga, gb = both(lambda x, y: (ft.solve(x, y) * T(w)).sum(), T(a), T(b))
    gb_ = np.linalg.solve(a.T, w)
    np.testing.assert_allclose(gb, gb_, rtol=1e-10)
    np.testing.assert_allclose(ga, -gb_ @ np.linalg.solve(a, b).T, rtol=1e-10)
    gb2, ga2 = both(lambda y, x: (ft.gesv(y, x).solution * T(w)).sum(), T(b), T(a))
    np.testing.assert_allclose(ga2, ga, rtol=1e-12)
    np.testing.assert_allclose(gb2, gb, rtol=1e-12)


def test_gesv_lu_has_no_gradient() -> None:
    a = T(np.eye(2) * 2)
    with pytest.raises(MissingGradientError, match="lu"):
        grad(lambda x: ft.gesv(T(np.ones((2, 1))), x).lu.sum())(a)


def test_svd_full_factors_of_a_non_square_matrix_raise() -> None:
    with pytest.raises(MissingGradientError, match="some=False"):
        grad(lambda x: ft.svd(x, False).U.sum())(T(R.normal(size=(3, 2))))


def test_cholesky_gradient_lies_in_the_triangle_read() -> None:
    s = R.normal(size=(3, 3))
    a = s @ s.T + 3 * np.eye(3)
    w = R.normal(size=(3, 3))
    (gu,) = both(lambda x: (ft.potrf(x) * T(np.triu(w))).sum(), T(a))
    (gl,) = both(lambda x: (ft.cholesky(x) * T(np.tril(w.T))).sum(), T(a))
    assert np.all(np.tril(gu, -1) == 0) and np.all(np.triu(gl, 1) == 0)
    np.testing.assert_allclose(gu, gl.T, rtol=1e-10)  # same function: A = U^T U = L L^T, U = L^T
    # on symmetric perturbations: the directional derivative against finite differences
    e = R.normal(size=(3, 3))
    e = e + e.T
    f = lambda m: (np.linalg.cholesky(m) * np.tril(w.T)).sum()
    fd = (f(a + 1e-6 * e) - f(a - 1e-6 * e)) / 2e-6
    assert np.isclose((gl * e).sum(), fd, rtol=1e-6)


def _conv2_valid(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    kf = k[::-1, ::-1]
    n, m = x.shape[0] - k.shape[0] + 1, x.shape[1] - k.shape[1] + 1
    return np.array([[(x[i : i + k.shape[0], j : j + k.shape[1]] * kf).sum() for j in range(m)] for i in range(n)])


def test_conv2_gradients_against_a_numpy_loop() -> None:
    x, k = R.normal(size=(4, 5)), R.normal(size=(2, 3))
    w = R.normal(size=(3, 3))
    np.testing.assert_allclose(host(ft.conv2(T(x), T(k))), _conv2_valid(x, k), rtol=1e-12)
    gx, gk = both(lambda a, b: (ft.conv2(a, b) * T(w)).sum(), T(x), T(k))
    ex, ek = np.zeros_like(x), np.zeros_like(k)  # by hand: out[i, j] = sum x[i+p, j+q] k[K-1-p, L-1-q]
    for i in range(3):
        for j in range(3):
            for p in range(2):
                for q in range(3):
                    ex[i + p, j + q] += w[i, j] * k[1 - p, 2 - q]
                    ek[1 - p, 2 - q] += w[i, j] * x[i + p, j + q]
    np.testing.assert_allclose(gx, ex, rtol=1e-12)
    np.testing.assert_allclose(gk, ek, rtol=1e-12)


def test_xcorr2_planes_kernel_gradient_against_a_numpy_loop() -> None:
    x, k = R.normal(size=(2, 4, 4)), R.normal(size=(3, 2, 2, 2))
    w = R.normal(size=(3, 3, 3))
    gk = host(grad(lambda b: (ft.xcorr2(T(x), b) * T(w)).sum())(T(k))[0])
    ek = np.zeros_like(k)
    for q in range(3):
        for p in range(2):
            for a in range(2):
                for b in range(2):
                    ek[q, p, a, b] = (w[q] * x[p, a : a + 3, b : b + 3]).sum()
    np.testing.assert_allclose(gk, ek, rtol=1e-12)


def test_eigh_eigenvalue_gradient_is_v_outer_v() -> None:
    s = R.normal(size=(3, 3))
    a = s + s.T
    w, v = np.linalg.eigh(a)
    (g,) = both(lambda x: ft.eigh(x, "U").eigenvalues[2], T(a))
    outer = np.outer(v[:, 2], v[:, 2])
    np.testing.assert_allclose(g, np.triu(2 * outer) - np.diag(np.diag(outer)), atol=1e-12)
    (gs,) = both(lambda x: ft.svd(x).S.sum(), T(s))
    u, _, vt = np.linalg.svd(s)
    np.testing.assert_allclose(gs, u @ vt, atol=1e-12)  # d sum(S) = U V^T
