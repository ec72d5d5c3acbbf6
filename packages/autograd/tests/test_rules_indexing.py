"""Explicit gradient values of the indexing ops, and ``x[idx] = v`` / ``out[i] = ...`` under grad."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

import flambeau.tensor as ft
from flambeau.autograd import check_grads, grad
from flambeau.tensor.testing import host, on_device

pytestmark = pytest.mark.device

RNG = np.random.default_rng(7)


def F(a: object) -> ft.Tensor:
    return on_device(a, np.float64)


def L(a: object) -> ft.Tensor:
    return on_device(a, np.int64)


W = RNG.normal(size=(4, 3))


def _weights(shape: tuple[int, ...]) -> ft.Tensor:
    return on_device(np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape))


def test_getitem_with_repeated_long_indices_accumulates() -> None:
    idx = np.array([0, 2, 0, 0, 3])
    w = _weights((5, 3))
    g, _ = grad(lambda x: (x[L(idx)] * w).sum())(on_device(W))
    want = np.zeros((4, 3))
    np.add.at(want, idx, host(w))
    assert_allclose(host(g), want)


def test_getitem_mixed_key_with_repeats() -> None:
    x = RNG.normal(size=(3, 4, 5))
    i, j = np.array([1, 1, 0]), np.array([4, 4, 4])
    w = _weights((3, 4))
    g, _ = grad(lambda t: (t[(L(i), slice(None), L(j))] * w).sum())(on_device(x))
    want = np.zeros_like(x)
    np.add.at(want, (i, slice(None), j), host(w))
    assert_allclose(host(g), want)


def test_getitem_with_a_mask() -> None:
    x = on_device(W)
    mask = x.gt(0)
    n = int(mask.sum())
    w = _weights((n,))
    g, _ = grad(lambda t: (t[mask] * w).sum())(x)
    want = np.zeros((4, 3))
    want[W > 0] = host(w)
    assert_allclose(host(g), want)
    g, _ = grad(lambda t: (t.masked_select(mask) * w).sum())(x)
    assert_allclose(host(g), want)


def test_index_select_and_gather_repeats_accumulate() -> None:
    idx = np.array([2, 2, 0, 2])
    w = _weights((4, 4))
    g, _ = grad(lambda x: (x.index_select(1, L(idx)) * w).sum())(on_device(W))
    want = np.zeros((4, 3))
    np.add.at(want.T, idx, host(w).T)
    assert_allclose(host(g), want)

    gidx = np.array([[0, 0, 0], [1, 1, 0], [3, 3, 3]])
    w = _weights((3, 3))
    g, _ = grad(lambda x: (x.gather(0, L(gidx)) * w).sum())(on_device(W))
    want = np.zeros((4, 3))
    for r in range(3):
        for c in range(3):
            want[gidx[r, c], c] += host(w)[r, c]
    assert_allclose(host(g), want)


def test_setitem_on_a_traced_tensor() -> None:
    c = _weights((4, 3))
    idx = [0, 2]

    def f(p: dict) -> ft.Tensor:
        x, v = p["x"], p["v"]
        x[L(idx)] = v
        return (x * c).sum()

    g, val = grad(f)({"x": on_device(W), "v": F(RNG.normal(size=(2, 3)))})
    want = host(c).copy()
    want[idx] = 0
    assert_allclose(host(g["x"]), want)
    assert_allclose(host(g["v"]), host(c)[idx])


def test_setitem_broadcast_value_and_mask() -> None:
    c = _weights((4, 3))

    def f(p: dict) -> ft.Tensor:
        x, v = p["x"], p["v"]
        x[:, 1] = v  # v of size 1: broadcast
        x[x.lt(-0.5)] = 0.0
        return (x * c).sum()

    x = W.copy()
    g, _ = grad(f)({"x": on_device(x), "v": F([0.3])})
    x[:, 1] = 0.3
    want = host(c).copy()
    want[:, 1] = 0
    want[x < -0.5] = 0
    assert_allclose(host(g["x"]), want)
    assert_allclose(host(g["v"]), [host(c)[:, 1].sum()])


def _chain(x: ft.Tensor, w: ft.Tensor) -> ft.Tensor:
    x[0] = w * 2
    x[1] = x[0] * x[2]
    x[2:4] = w * x[1:3]
    x[:, 0] += x[:, 2] * w[0]
    return (x * x).sum()


def _chain_out_of_place(x: ft.Tensor, w: ft.Tensor) -> ft.Tensor:
    r0 = w * 2
    r1 = r0 * x[2]
    r2, r3 = w * r1, w * x[2]
    rows = [r0, r1, r2, r3]
    rows = [ft.cat([r[:1] + r[2:3] * w[0:1], r[1:]]) for r in rows]
    return sum((r * r).sum() for r in rows)


def test_a_chain_of_assignments_with_values_from_another_parameter() -> None:
    x0, w0 = RNG.normal(size=(4, 3)), RNG.normal(size=3)

    def f(p: dict) -> ft.Tensor:
        return _chain(p["x"].clone(), p["w"])

    def f_ref(p: dict) -> ft.Tensor:
        return _chain_out_of_place(p["x"], p["w"])

    P = {"x": on_device(x0), "w": on_device(w0)}
    (g, v), (g_ref, v_ref) = grad(f)(P), grad(f_ref)(P)
    assert_allclose(float(v), float(v_ref))
    assert_allclose(host(g["x"]), host(g_ref["x"]))
    assert_allclose(host(g["w"]), host(g_ref["w"]))
    check_grads(lambda x, w: _chain(x.clone(), w), on_device(x0), on_device(w0), order=2)


def test_a_chain_of_assignments_second_order() -> None:
    x0, w0 = RNG.normal(size=(4, 3)), RNG.normal(size=3)
    # without clone() (see test_rules_shape.test_second_order_through_clone); x is a fresh copy per call
    check_grads(lambda x, w: _chain(x * 1.0, w), on_device(x0), on_device(w0), order=2)


def test_writing_traced_values_into_a_plain_tensor() -> None:
    def f(w: ft.Tensor, x: ft.Tensor) -> ft.Tensor:
        out = ft.zeros(3, dtype=ft.float64)
        for i in range(3):
            out[i] = w * x[i]
        return (out * out).sum()

    def f_ref(w: ft.Tensor, x: ft.Tensor) -> ft.Tensor:
        out = ft.stack([w * x[i] for i in range(3)])
        return (out * out).sum()

    w, x = F(1.5), F([1.0, -2.0, 3.0])
    for argnum in (0, 1):
        (g, v), (g_ref, v_ref) = grad(f, argnum)(w, x), grad(f_ref, argnum)(w, x)
        assert_allclose(float(v), float(v_ref))
        assert_allclose(host(g), host(g_ref))
    check_grads(f, w, x, order=2)


def test_index_put_accumulate_and_overwrite() -> None:
    x = on_device(W)
    key = (L([0, 0, 3]), L([1, 1, 2]))
    v = F([1.0, 2.0, 3.0])
    g, _ = grad(lambda p: (ft.index_put(p[0], key, p[1], accumulate=True) * _weights((4, 3))).sum())([x, v])
    assert_allclose(host(g[0]), host(_weights((4, 3))))
    assert_allclose(host(g[1]), [2.0, 2.0, 12.0])
    g, _ = grad(lambda t: (ft.index_put(t, key, 5.0) * _weights((4, 3))).sum())(x)
    want = host(_weights((4, 3)))
    want[[0, 3], [1, 2]] = 0
    assert_allclose(host(g), want)


def test_scatter_index_copy_masked_copy_values() -> None:
    x = on_device(W)
    w = _weights((4, 3))
    src = F(RNG.normal(size=(2, 3)))
    idx = L([[3, 0, 1], [2, 2, 0]])
    g, _ = grad(lambda p: (p[0].scatter(0, idx, p[1]) * w).sum())([x, src])
    want = host(w).copy()
    want[host(idx), np.arange(3)] = 0
    assert_allclose(host(g[0]), want)
    assert_allclose(host(g[1]), host(w)[host(idx), np.arange(3)])
    g, _ = grad(lambda p: (p[0].index_copy(0, L([3, 1]), p[1]) * w).sum())([x, src])
    want = host(w).copy()
    want[[3, 1]] = 0
    assert_allclose(host(g[0]), want)
    assert_allclose(host(g[1]), host(w)[[3, 1]])
    mask = x.gt(0)
    n = int(mask.sum())
    g, _ = grad(lambda s: (x.masked_copy(mask, s) * w).sum())(F(np.zeros(n + 2)))
    assert_allclose(host(g), np.concatenate([host(w)[W > 0], [0.0, 0.0]]))
