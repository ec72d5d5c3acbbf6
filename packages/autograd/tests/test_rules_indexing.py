"""Explicit gradient values of the indexing ops, and ``x[idx] = v`` / ``out[i] = ...`` under grad."""

from __future__ import annotations

import numpy as np
from numpy.testing import assert_allclose

import flambeau.tensor as ft
from flambeau.autograd import check_grads, grad

RNG = np.random.default_rng(7)


def F(a: object) -> ft.Tensor:
    return ft.from_numpy(np.array(a, dtype=np.float64))


def L(a: object) -> ft.Tensor:
    return ft.from_numpy(np.array(a, dtype=np.int64))


W = RNG.normal(size=(4, 3))


def _weights(shape: tuple[int, ...]) -> ft.Tensor:
    return ft.from_numpy(np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape))


def test_getitem_with_repeated_long_indices_accumulates() -> None:
    idx = np.array([0, 2, 0, 0, 3])
    w = _weights((5, 3))
    g, _ = grad(lambda x: (x[L(idx)] * w).sum())(ft.from_numpy(W))
    want = np.zeros((4, 3))
    np.add.at(want, idx, w.numpy())
    assert_allclose(g.numpy(), want)


def test_getitem_mixed_key_with_repeats() -> None:
    x = RNG.normal(size=(3, 4, 5))
    i, j = np.array([1, 1, 0]), np.array([4, 4, 4])
    w = _weights((3, 4))
    g, _ = grad(lambda t: (t[(L(i), slice(None), L(j))] * w).sum())(ft.from_numpy(x))
    want = np.zeros_like(x)
    np.add.at(want, (i, slice(None), j), w.numpy())
    assert_allclose(g.numpy(), want)


def test_getitem_with_a_mask() -> None:
    x = ft.from_numpy(W)
    mask = x.gt(0)
    n = int(mask.sum())
    w = _weights((n,))
    g, _ = grad(lambda t: (t[mask] * w).sum())(x)
    want = np.zeros((4, 3))
    want[W > 0] = w.numpy()
    assert_allclose(g.numpy(), want)
    g, _ = grad(lambda t: (t.masked_select(mask) * w).sum())(x)
    assert_allclose(g.numpy(), want)


def test_index_select_and_gather_repeats_accumulate() -> None:
    idx = np.array([2, 2, 0, 2])
    w = _weights((4, 4))
    g, _ = grad(lambda x: (x.index_select(1, L(idx)) * w).sum())(ft.from_numpy(W))
    want = np.zeros((4, 3))
    np.add.at(want.T, idx, w.numpy().T)
    assert_allclose(g.numpy(), want)

    gidx = np.array([[0, 0, 0], [1, 1, 0], [3, 3, 3]])
    w = _weights((3, 3))
    g, _ = grad(lambda x: (x.gather(0, L(gidx)) * w).sum())(ft.from_numpy(W))
    want = np.zeros((4, 3))
    for r in range(3):
        for c in range(3):
            want[gidx[r, c], c] += w.numpy()[r, c]
    assert_allclose(g.numpy(), want)


def test_setitem_on_a_traced_tensor() -> None:
    c = _weights((4, 3))
    idx = [0, 2]

    def f(p: dict) -> ft.Tensor:
        x, v = p["x"], p["v"]
        x[L(idx)] = v
        return (x * c).sum()

    g, val = grad(f)({"x": ft.from_numpy(W), "v": F(RNG.normal(size=(2, 3)))})
    want = c.numpy().copy()
    want[idx] = 0
    assert_allclose(g["x"].numpy(), want)
    assert_allclose(g["v"].numpy(), c.numpy()[idx])


def test_setitem_broadcast_value_and_mask() -> None:
    c = _weights((4, 3))

    def f(p: dict) -> ft.Tensor:
        x, v = p["x"], p["v"]
        x[:, 1] = v  # v of size 1: broadcast
        x[x.lt(-0.5)] = 0.0
        return (x * c).sum()

    x = W.copy()
    g, _ = grad(f)({"x": ft.from_numpy(x), "v": F([0.3])})
    x[:, 1] = 0.3
    want = c.numpy().copy()
    want[:, 1] = 0
    want[x < -0.5] = 0
    assert_allclose(g["x"].numpy(), want)
    assert_allclose(g["v"].numpy(), [c.numpy()[:, 1].sum()])


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

    P = {"x": ft.from_numpy(x0), "w": ft.from_numpy(w0)}
    (g, v), (g_ref, v_ref) = grad(f)(P), grad(f_ref)(P)
    assert_allclose(float(v), float(v_ref))
    assert_allclose(g["x"].numpy(), g_ref["x"].numpy())
    assert_allclose(g["w"].numpy(), g_ref["w"].numpy())
    check_grads(lambda x, w: _chain(x.clone(), w), ft.from_numpy(x0), ft.from_numpy(w0), order=2)


def test_a_chain_of_assignments_second_order() -> None:
    x0, w0 = RNG.normal(size=(4, 3)), RNG.normal(size=3)
    # without clone() (see test_rules_shape.test_second_order_through_clone); x is a fresh copy per call
    check_grads(lambda x, w: _chain(x * 1.0, w), ft.from_numpy(x0), ft.from_numpy(w0), order=2)


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
        assert_allclose(g.numpy(), g_ref.numpy())
    check_grads(f, w, x, order=2)


def test_index_put_accumulate_and_overwrite() -> None:
    x = ft.from_numpy(W)
    key = (L([0, 0, 3]), L([1, 1, 2]))
    v = F([1.0, 2.0, 3.0])
    g, _ = grad(lambda p: (ft.index_put(p[0], key, p[1], accumulate=True) * _weights((4, 3))).sum())([x, v])
    assert_allclose(g[0].numpy(), _weights((4, 3)).numpy())
    assert_allclose(g[1].numpy(), [2.0, 2.0, 12.0])
    g, _ = grad(lambda t: (ft.index_put(t, key, 5.0) * _weights((4, 3))).sum())(x)
    want = _weights((4, 3)).numpy()
    want[[0, 3], [1, 2]] = 0
    assert_allclose(g.numpy(), want)


def test_scatter_index_copy_masked_copy_values() -> None:
    x = ft.from_numpy(W)
    w = _weights((4, 3))
    src = F(RNG.normal(size=(2, 3)))
    idx = L([[3, 0, 1], [2, 2, 0]])
    g, _ = grad(lambda p: (p[0].scatter(0, idx, p[1]) * w).sum())([x, src])
    want = w.numpy().copy()
    want[idx.numpy(), np.arange(3)] = 0
    assert_allclose(g[0].numpy(), want)
    assert_allclose(g[1].numpy(), w.numpy()[idx.numpy(), np.arange(3)])
    g, _ = grad(lambda p: (p[0].index_copy(0, L([3, 1]), p[1]) * w).sum())([x, src])
    want = w.numpy().copy()
    want[[3, 1]] = 0
    assert_allclose(g[0].numpy(), want)
    assert_allclose(g[1].numpy(), w.numpy()[[3, 1]])
    mask = x.gt(0)
    n = int(mask.sum())
    g, _ = grad(lambda s: (x.masked_copy(mask, s) * w).sum())(F(np.zeros(n + 2)))
    assert_allclose(g.numpy(), np.concatenate([w.numpy()[W > 0], [0.0, 0.0]]))
