"""Gradient conventions of the reductions, matrix and sorting ops, checked by value against numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest

import flambeau.tensor as ft
from flambeau.autograd import check_grads, grad
from flambeau.tensor.testing import host, on_device

pytestmark = pytest.mark.device


def t(a: object) -> ft.Tensor:
    return on_device(a, np.float64)


def g_of(f, x):  # noqa: ANN001, ANN202
    return host(grad(f)(x)[0])


# ---- ties: the gradient is shared evenly among the elements equal to the result


def test_max_whole_tensor_splits_ties() -> None:
    x = t([[1.0, 3.0], [3.0, 3.0]])
    np.testing.assert_allclose(g_of(lambda x: ft.max(x) * 6, x), [[0, 2], [2, 2]])
    np.testing.assert_allclose(g_of(lambda x: ft.min(x), t([2.0, 1.0, 1.0])), [0, 0.5, 0.5])


def test_max_min_along_dim_split_ties() -> None:
    x = t([[1.0, 4.0, 4.0], [2.0, 2.0, 2.0], [5.0, 0.0, 1.0]])
    w = t([1.0, 3.0, 2.0])
    np.testing.assert_allclose(
        g_of(lambda x: (ft.max(x, 1).values * w).sum(), x), [[0, 0.5, 0.5], [1, 1, 1], [2, 0, 0]]
    )
    np.testing.assert_allclose(
        g_of(lambda x: ft.min(x, 0, keepdim=True).values.sum(), x), [[1, 0, 0], [0, 0, 0], [0, 1, 1]]
    )
    np.testing.assert_allclose(
        g_of(lambda x: ft.min(x, -1).values.sum(), x), [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0, 1, 0]]
    )


def test_indices_output_carries_no_gradient() -> None:
    x = t([[1.0, 2.0], [4.0, 3.0]])
    np.testing.assert_allclose(g_of(lambda x: ft.max(x, 1).indices.double().sum() + x.sum(), x), np.ones((2, 2)))


def test_norm_inf_splits_ties_with_sign() -> None:
    x = t([2.0, -2.0, 1.0])
    np.testing.assert_allclose(g_of(lambda x: ft.norm(x, math.inf), x), [0.5, -0.5, 0])


def test_median_kthvalue_mode_split_ties() -> None:
    np.testing.assert_allclose(g_of(lambda x: ft.median(x), t([3.0, 1.0, 2.0, 2.0, 5.0])), [0, 0, 0.5, 0.5, 0])
    x = t([[1.0, 2.0, 2.0], [0.5, 0.2, 0.9]])
    np.testing.assert_allclose(g_of(lambda x: ft.kthvalue(x, 2).values.sum(), x), [[0, 0.5, 0.5], [1, 0, 0]])
    x = t([[1.5, 0.3, 1.5, -0.2], [0.7, 0.1, 0.7, 0.7]])
    np.testing.assert_allclose(g_of(lambda x: ft.mode(x).values.sum(), x), [[0.5, 0, 0.5, 0], [1 / 3, 0, 1 / 3, 1 / 3]])


# ---- placement through the indices


def test_median_gradient_lands_on_the_median() -> None:
    a = np.array([[4.0, 1.0, 3.0, 2.0], [0.5, 0.9, 0.1, 0.7]])
    expect = np.zeros_like(a)
    expect[0, 3], expect[1, 0] = 10.0, 20.0  # lower median of an even count: the 2nd smallest
    np.testing.assert_allclose(g_of(lambda x: (ft.median(x, 1).values * t([10.0, 20.0])).sum(), t(a)), expect)
    w = np.arange(1.0, 6.0)
    b = np.array([5.0, 1.0, 4.0, 2.0, 3.0])
    np.testing.assert_allclose(g_of(lambda x: ft.median(x) * 7, t(b)), [0, 0, 0, 0, 7])
    # sort: d sum(w * sorted(x)) / dx_i = w[rank of x_i]
    np.testing.assert_allclose(g_of(lambda x: (ft.sort(x).values * t(w)).sum(), t(b)), w[np.argsort(np.argsort(b))])
    desc = w[np.argsort(np.argsort(-b))]
    np.testing.assert_allclose(g_of(lambda x: (ft.sort(x, 0, True).values * t(w)).sum(), t(b)), desc)


def test_topk_gradient_lands_on_the_chosen() -> None:
    b = np.array([[5.0, 1.0, 4.0, 2.0], [0.1, 0.4, 0.3, 0.2]])
    out = g_of(lambda x: (ft.topk(x, 2).values * t([[1.0, 2.0], [3.0, 4.0]])).sum(), t(b))
    np.testing.assert_allclose(out, [[1, 0, 2, 0], [0, 3, 4, 0]])


# ---- prod with zeros, std and norm against the formulas


def test_prod_with_zeros() -> None:
    a = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0], [1.0, 2.0, 3.0]])
    expect = np.array([[0, 6.0, 0], [0, 0, 0], [6.0, 3.0, 2.0]])
    np.testing.assert_allclose(g_of(lambda x: ft.prod(x, 1).sum(), t(a)), expect)
    np.testing.assert_allclose(g_of(lambda x: ft.prod(x), t([2.0, 0.0, -3.0])), [0, -6.0, 0])
    np.testing.assert_allclose(g_of(lambda x: ft.prod(x), t([2.0, 0.0, 0.0])), [0, 0, 0])
    # the second derivative across a zero: d2/dx0 dx1 of x0 x1 x2 = x2 at x = (2, 0, 3)
    hess_row = host(grad(lambda x: grad(lambda y: ft.prod(y))(x)[0][1])(t([2.0, 0.0, 3.0]))[0])
    np.testing.assert_allclose(hess_row, [3.0, 0.0, 2.0])
    # two zeros: the gradient at each zero is 0 but its derivative in the other zero is not
    hess_row = host(grad(lambda x: grad(lambda y: ft.prod(y))(x)[0][1])(t([2.0, 0.0, 0.0]))[0])
    np.testing.assert_allclose(hess_row, [0.0, 0.0, 2.0])


def test_prod_with_zeros_second_order_finite_differences() -> None:
    check_grads(lambda x: ft.prod(x, 1), t([[2.0, 0.0, 3.0], [0.5, 1.5, -1.0]]), order=2)


@pytest.mark.parametrize("unbiased", [True, False])
def test_std_var_gradients(unbiased: bool) -> None:
    a = np.random.default_rng(1).uniform(-2, 2, (3, 5))
    ddof = 1 if unbiased else 0
    n = a.shape[1] - ddof
    c = a - a.mean(1, keepdims=True)
    np.testing.assert_allclose(g_of(lambda x: ft.var(x, 1, unbiased).sum(), t(a)), 2 * c / n)
    np.testing.assert_allclose(
        g_of(lambda x: ft.std(x, 1, unbiased).sum(), t(a)), c / (n * a.std(1, ddof=ddof)[:, None])
    )
    whole = a - a.mean()
    np.testing.assert_allclose(
        g_of(lambda x: ft.std(x, None, unbiased), t(a)), whole / ((a.size - ddof) * a.std(ddof=ddof))
    )


@pytest.mark.parametrize("p", [1, 2, 3, 1.5])
def test_norm_gradients(p: float) -> None:
    a = np.random.default_rng(2).uniform(-2, 2, (3, 4))
    n = (np.abs(a) ** p).sum(1, keepdims=True) ** (1 / p)
    expect = np.sign(a) * np.abs(a) ** (p - 1) / n ** (p - 1)
    np.testing.assert_allclose(g_of(lambda x: ft.norm(x, p, 1).sum(), t(a)), expect)
    y = np.random.default_rng(3).uniform(-2, 2, (3, 4))
    d = a - y
    nd = (np.abs(d) ** p).sum() ** (1 / p)
    expect = np.sign(d) * np.abs(d) ** (p - 1) / nd ** (p - 1)
    gx = host(grad(lambda x: ft.dist(x, t(y), p))(t(a))[0])
    gy = host(grad(lambda y_: ft.dist(t(a), y_, p))(t(y))[0])
    np.testing.assert_allclose(gx, expect)
    np.testing.assert_allclose(gy, -expect)


def test_norm_zero_and_p2_at_zero() -> None:
    np.testing.assert_allclose(g_of(lambda x: ft.norm(x, 0), t([1.0, 0.0, -2.0])), [0, 0, 0])
    np.testing.assert_allclose(g_of(lambda x: ft.norm(x), t([0.0, 0.0])), [0, 0])


# ---- running ops, matrix ops


def test_cumsum_cumprod_gradients() -> None:
    a = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    w = np.array([[1.0, 10.0, 100.0], [2.0, 3.0, 4.0]])
    np.testing.assert_allclose(g_of(lambda x: (ft.cumsum(x, 1) * t(w)).sum(), t(a)), np.cumsum(w[:, ::-1], 1)[:, ::-1])
    cp = np.cumprod(a, 1)
    expect = np.cumsum((w * cp)[:, ::-1], 1)[:, ::-1] / a
    np.testing.assert_allclose(g_of(lambda x: (ft.cumprod(x, 1) * t(w)).sum(), t(a)), expect)


def test_diag_trace_gradients() -> None:
    w = t([1.0, 2.0])
    expect = np.zeros((3, 4))
    expect[0, 1], expect[1, 2] = 1.0, 2.0
    np.testing.assert_allclose(g_of(lambda x: (ft.diag(x, 1)[:2] * w).sum(), t(np.ones((3, 4)))), expect)
    np.testing.assert_allclose(g_of(lambda x: ft.trace(x), t(np.ones((2, 3)))), np.eye(2, 3))
    m = np.arange(16.0).reshape(4, 4)
    np.testing.assert_allclose(g_of(lambda x: (ft.diag(x, -1) * t(m)).sum(), t([1.0, 1.0, 1.0])), np.diag(m, -1))


def test_renorm_gradient_against_numpy_formula() -> None:
    a = np.array([[3.0, 4.0], [0.3, 0.4]])
    w = np.array([[1.0, -2.0], [0.5, 3.0]])
    out = g_of(lambda x: (ft.renorm(x, 2, 0, 1.0) * t(w)).sum(), t(a))
    n = np.linalg.norm(a[0])
    s = 1.0 / (n + 1e-7)
    row0 = w[0] * s - 1.0 / (n + 1e-7) ** 2 * (w[0] @ a[0]) * a[0] / n
    np.testing.assert_allclose(out, np.stack([row0, w[1]]))
