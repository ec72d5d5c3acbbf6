"""Explicit gradient values of the view/shape/join ops, and in-place ops through traced views."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

import flambeau.tensor as ft
from flambeau.autograd import check_grads, grad
from flambeau.tensor.testing import host, on_device

pytestmark = pytest.mark.device


def T(*v: object) -> ft.Tensor:
    return on_device(v, np.float64)


def test_unfold_overlapping_windows_accumulate() -> None:
    g, _ = grad(lambda x: x.unfold(0, 3, 1).sum())(ft.zeros(5, dtype=ft.float64))
    assert g.tolist() == [1.0, 2.0, 3.0, 2.0, 1.0]
    g, _ = grad(lambda x: x.unfold(0, 2, 3).sum())(ft.zeros(7, dtype=ft.float64))
    assert g.tolist() == [1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0]  # gaps get nothing


def test_unfold_weighted_matches_numpy() -> None:
    x = np.random.default_rng(1).normal(size=(2, 6))
    w = np.random.default_rng(2).normal(size=(2, 2, 3))  # windows of 3 at step 2: 2 windows
    g, _ = grad(lambda t: (t.unfold(1, 3, 2) * on_device(w)).sum())(on_device(x))
    want = np.zeros_like(x)
    for i in range(2):
        want[:, 2 * i : 2 * i + 3] += w[:, i, :]
    assert_allclose(host(g), want)


def test_expand_sums_back() -> None:
    g, _ = grad(lambda x: (x.expand(2, 3, 4) * ft.arange(4, dtype=ft.float64)).sum())(ft.ones(3, 1, dtype=ft.float64))
    assert g.tolist() == [[12.0], [12.0], [12.0]]


def test_repeat_tensor_sums_copies() -> None:
    g, _ = grad(lambda x: (x.repeat_tensor(2, 2) * ft.arange(8, dtype=ft.float64).view(2, 4)).sum())(T(1.0, 1.0))
    assert g.tolist() == [0 + 2 + 4 + 6, 1 + 3 + 5 + 7]


def test_cat_stack_split_values() -> None:
    w = ft.arange(5, dtype=ft.float64)
    g, _ = grad(lambda p: (ft.cat([p[0], p[1]]) * w).sum())([T(1.0, 1.0), T(1.0, 1.0, 1.0)])
    assert g[0].tolist() == [0.0, 1.0] and g[1].tolist() == [2.0, 3.0, 4.0]
    g, _ = grad(lambda p: (ft.stack(p, 1) * w[:2]).sum())([T(1.0, 1.0), T(1.0, 1.0)])
    assert g[0].tolist() == [0.0, 0.0] and g[1].tolist() == [1.0, 1.0]
    g, _ = grad(lambda x: x.split(2)[1].sum() * 3)(ft.zeros(5, dtype=ft.float64))
    assert g.tolist() == [0.0, 0.0, 3.0, 3.0, 0.0]


def test_views_of_views() -> None:
    x = on_device(np.arange(24.0).reshape(2, 3, 4))

    def f(t: ft.Tensor) -> ft.Tensor:
        return (t.transpose(0, 2).narrow(0, 1, 2).select(2, -1).t() * 2).sum()

    g, _ = grad(f)(x)
    want = np.zeros((2, 3, 4))
    want[-1, :, 1:3] = 2
    assert_allclose(host(g), want)


def test_inplace_on_a_traced_view_changes_the_input() -> None:
    seen = {}

    def f(x: ft.Tensor) -> ft.Tensor:
        x.narrow(0, 0, 2).mul_(3)
        seen["x"] = x
        return (x * x).sum()

    x = T(1.0, 2.0, 3.0, 4.0)
    g, v = grad(f)(x)
    assert float(v) == 9 + 36 + 9 + 16
    assert g.tolist() == [18.0, 36.0, 6.0, 8.0]  # d/dx (3x)^2 = 18x on the narrowed part


def test_inplace_through_select_and_getitem_views() -> None:
    a = np.arange(1.0, 7.0).reshape(2, 3)

    def f(x: ft.Tensor) -> ft.Tensor:
        x = x.clone()
        x.select(1, 1).add_(x[:, 0])  # column 1 += column 0
        x[:, 2].mul_(x[:, 1])  # column 2 *= (new) column 1
        x.narrow(0, 1, 1).narrow(1, 0, 2).mul_(-2)  # a view of a view
        return (x * x).sum()

    def f_ref(x: ft.Tensor) -> ft.Tensor:
        c0 = x[:, 0]
        c1 = x[:, 1] + c0
        c2 = x[:, 2] * c1
        s = ft.stack([ft.ones(2, dtype=ft.float64), ft.ones(2, dtype=ft.float64) * -2])
        return ((c0 * s[:, 0]) ** 2).sum() + ((c1 * s[:, 1]) ** 2).sum() + (c2 * c2).sum()

    g, v = grad(f)(on_device(a))
    g_ref, v_ref = grad(f_ref)(on_device(a))
    assert_allclose(float(v), float(v_ref))
    assert_allclose(host(g), host(g_ref))
    check_grads(f, on_device(a), order=2)


def test_second_order_through_clone() -> None:
    a = on_device(np.arange(1.0, 7.0).reshape(2, 3))
    gg, _ = grad(lambda x: grad(lambda y: (y.clone() ** 3).sum())(x)[0].sum())(a)
    assert_allclose(host(gg), 6 * host(a))


def test_inplace_through_transpose_and_select_views() -> None:
    a = np.arange(1.0, 7.0).reshape(2, 3)

    def f(x: ft.Tensor) -> ft.Tensor:
        x = x.clone()
        x.t().select(0, 1).add_(x[:, 0])  # column 1 += column 0
        x.t()[2].mul_(x[:, 1])  # column 2 *= (new) column 1
        return (x * x).sum()

    def f_ref(x: ft.Tensor) -> ft.Tensor:
        c0 = x[:, 0]
        c1 = x[:, 1] + c0
        c2 = x[:, 2] * c1
        return (c0 * c0).sum() + (c1 * c1).sum() + (c2 * c2).sum()

    g, v = grad(f)(on_device(a))
    g_ref, v_ref = grad(f_ref)(on_device(a))
    assert_allclose(float(v), float(v_ref))
    assert_allclose(host(g), host(g_ref))
    check_grads(f, on_device(a), order=2)


@pytest.mark.parametrize("make", ["t", "transpose", "view", "unsqueeze"])
def test_inplace_through_rearranging_views(make: str) -> None:
    views = {
        "t": lambda x: x.t(),
        "transpose": lambda x: x.transpose(0, 1),
        "view": lambda x: x.view(6),
        "unsqueeze": lambda x: x.unsqueeze(0),
    }

    def f(x: ft.Tensor) -> ft.Tensor:
        views[make](x).mul_(3)
        return (x * x).sum()

    g, v = grad(f)(on_device(np.arange(1.0, 7.0).reshape(2, 3)))
    assert float(v) == 9 * 91
    assert_allclose(host(g), 18 * np.arange(1.0, 7.0).reshape(2, 3))


def test_inplace_through_narrow_with_negative_start() -> None:
    def f(x: ft.Tensor) -> ft.Tensor:
        x.narrow(0, -2, 2).mul_(3)
        return x.sum()

    g, v = grad(f)(T(1.0, 2.0, 3.0))
    assert float(v) == 1 + 6 + 9 and g.tolist() == [1.0, 3.0, 3.0]


def test_inplace_through_sub_view() -> None:
    def f(x: ft.Tensor) -> ft.Tensor:
        x.sub_view(1, 2).mul_(3)
        return x.sum()

    g, v = grad(f)(T(1.0, 2.0, 3.0))
    assert float(v) == 1 + 6 + 9 and g.tolist() == [1.0, 3.0, 3.0]


def test_second_order_through_views() -> None:
    x = on_device(np.random.default_rng(3).normal(size=(3, 4)))
    check_grads(lambda t: (t.unfold(1, 2, 1) ** 3).sum() + (t.t().reshape(2, 6) ** 2).sum(), x, order=3)
