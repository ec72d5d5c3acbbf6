"""Table modules (nn/table.py): forward values against numpy, gradients by finite differences on
table inputs and outputs (``check_table_module``, also used by test_containers.py), errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import flambeau.nn as nn
import flambeau.tensor as ft
from flambeau.nn.module import Module
from flambeau.tensor import Tensor
from flambeau.tensor.testing import host, on_device

pytestmark = pytest.mark.device

TOL = 1e-6


# --------------------------------------------------------------------------------------------------
# Finite differences for modules whose input or output is a (nested) table.


def leaves(x: Any) -> list[Tensor]:
    """The tensors of a nested table, depth first."""
    if isinstance(x, Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in leaves(v)]
    return []


def flat(x: Any) -> np.ndarray:
    """Every number in a tensor, a float or a nested table of them, as one float64 vector."""
    if isinstance(x, (int, float)):
        return np.array([float(x)])
    parts = [host(t).reshape(-1).astype(np.float64) for t in leaves(x)]
    return np.concatenate(parts) if parts else np.zeros(0)


def one_hot_like(x: Any, j: int) -> Any:
    """Zeros with the structure of ``x`` and a one at flat position ``j``."""
    if isinstance(x, (int, float)):
        return 1.0
    pos = [j]

    def build(v: Any) -> Any:
        if isinstance(v, Tensor):
            z = ft.zeros_like(v)
            n = v.nelement()
            if 0 <= pos[0] < n:
                z.view(-1)[pos[0]] = 1.0
            pos[0] -= n
            return z
        return [build(e) for e in v]

    return build(x)


def jacobians(module: Module, input: Any, h: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """(backward, finite differences) Jacobians: rows are input elements then parameter elements."""
    out = module.forward(input)
    n_out = flat(out).size
    params, grads = module.parameters()
    # from the backward pass: one backward per output element
    cols = []
    for j in range(n_out):
        out = module.forward(input)
        module.zero_grad_parameters()
        gi = module.backward(input, one_hot_like(out, j))
        cols.append(np.concatenate([flat(gi), *(flat(g) for g in grads)]))
    bp = np.stack(cols, axis=1)
    # central differences on every input and parameter element
    rows = []
    for t in [*leaves(input), *params]:
        v = t.view(-1)
        for i in range(v.nelement()):
            orig = float(v[i])
            v[i] = orig + h
            hi = flat(module.forward(input))
            v[i] = orig - h
            lo = flat(module.forward(input))
            v[i] = orig
            rows.append((hi - lo) / (2 * h))
    fd = np.stack(rows)
    return bp, fd


def check_table_module(module: Module, input: Any, tol: float = TOL, io: bool = True) -> None:
    """check_module for tables: the input and parameter gradients against central differences,
    ``backward``'s scale, ``update_grad_input`` + ``acc_grad_parameters`` equal to ``backward``, and
    a saved and loaded copy giving the same output."""
    bp, fd = jacobians(module, input)
    assert bp.shape == fd.shape, f"{module!r}: gradient of {bp.shape} elements for {fd.shape}"
    err = np.abs(bp - fd).max() if bp.size else 0.0
    assert err < tol, f"{module!r}: backward differs from finite differences by {err:.3g}"
    out = module.forward(input)
    rng = np.random.default_rng(0)
    go = _random_like(out, rng)
    params, grads = module.parameters()
    module.zero_grad_parameters()
    g1 = flat(module.backward(input, go, 1.0))
    once = [flat(g) for g in grads]
    module.forward(input)
    module.zero_grad_parameters()
    g2 = flat(module.update_grad_input(input, go))
    module.acc_grad_parameters(input, go, 0.5)
    np.testing.assert_allclose(g2, g1, rtol=1e-12, atol=1e-14)
    for a, g in zip(once, grads, strict=True):
        np.testing.assert_allclose(flat(g), 0.5 * a, rtol=1e-12, atol=1e-14)
    if io:
        copy = ft.deserialize(ft.serialize(module))
        np.testing.assert_array_equal(flat(copy.forward(input)), flat(module.forward(input)))


def _random_like(x: Any, rng: np.random.Generator) -> Any:
    if isinstance(x, Tensor):
        return on_device(rng.standard_normal(tuple(x.size())))
    if isinstance(x, (int, float)):
        return float(rng.standard_normal())
    return [_random_like(v, rng) for v in x]


def rand(*size: int) -> Tensor:
    return ft.randn(*size)


# --------------------------------------------------------------------------------------------------
# SplitTable, JoinTable


@pytest.mark.parametrize(
    ("dim", "n_input_dims", "shape", "axis"),
    [(0, None, (3, 4), 0), (1, None, (3, 4), 1), (-1, None, (2, 3, 4), 2), (0, 1, (4,), 0), (0, 1, (5, 4), 1)],
)
def test_split_table_values_and_gradient(dim: int, n_input_dims: int | None, shape: tuple[int, ...], axis: int) -> None:
    x = rand(*shape)
    m = nn.SplitTable(dim, n_input_dims)
    out = m.forward(x)
    ref = [np.take(host(x), i, axis=axis) for i in range(shape[axis])]
    assert len(out) == len(ref)
    for o, r in zip(out, ref, strict=True):
        np.testing.assert_array_equal(host(o), r)
    check_table_module(m, x)


def test_split_table_gradient_with_fewer_entries_is_zero_elsewhere() -> None:
    x = rand(3, 2)
    m = nn.SplitTable(0)
    m.forward(x)
    g = m.update_grad_input(x, [ft.ones(2)])
    assert g.tolist() == [[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]]


@pytest.mark.parametrize(
    ("dim", "n_input_dims", "shapes", "axis"),
    [
        (0, None, [(2, 3), (4, 3)], 0),
        (1, None, [(2, 3), (2, 1), (2, 2)], 1),
        (-1, None, [(2, 3), (2, 2)], 1),
        (0, 1, [(3,), (2,)], 0),
        (0, 1, [(4, 3), (4, 2)], 1),
    ],
)
def test_join_table_values_and_gradient(
    dim: int, n_input_dims: int | None, shapes: list[tuple[int, ...]], axis: int
) -> None:
    xs = [rand(*s) for s in shapes]
    m = nn.JoinTable(dim, n_input_dims)
    np.testing.assert_array_equal(host(m.forward(xs)), np.concatenate([host(x) for x in xs], axis))
    check_table_module(m, xs)


def test_split_then_join_is_identity_with_gradient() -> None:
    x = rand(4, 3)
    m = nn.Sequential(nn.SplitTable(1), nn.JoinTable(0))
    np.testing.assert_array_equal(host(m.forward(x)), host(x).T.reshape(-1))
    check_table_module(m, x)


def test_split_and_join_dimension_errors() -> None:
    with pytest.raises(ValueError, match="dimension 3 is out of range for a 2-D input"):
        nn.SplitTable(3).forward(rand(2, 2))
    with pytest.raises(TypeError, match="expected a table"):
        nn.JoinTable(0).forward(rand(2))


# --------------------------------------------------------------------------------------------------
# SelectTable, NarrowTable, FlattenTable


def test_select_table_positive_negative_and_nested_gradient() -> None:
    a, b, c = rand(2), rand(3), rand(2, 2)
    x = [a, [b, c]]
    m = nn.SelectTable(-1)
    out = m.forward(x)
    assert out[0] is b and out[1] is c
    g = m.backward(x, [ft.ones(3), ft.ones(2, 2) * 2])
    assert g[0].tolist() == [0.0, 0.0]
    assert g[1][0].tolist() == [1.0] * 3 and g[1][1].tolist() == [[2.0, 2.0], [2.0, 2.0]]
    check_table_module(nn.SelectTable(0), x)
    check_table_module(nn.SelectTable(1), x)
    check_table_module(nn.SelectTable(-2), x)


def test_select_table_copies_the_gradient_and_checks_range() -> None:
    x = [rand(2), rand(2)]
    m = nn.SelectTable(1)
    m.forward(x)
    go = ft.ones(2)
    g = m.backward(x, go)
    assert g[1].data_ptr() != go.data_ptr()
    with pytest.raises(IndexError, match="index 2 is out of range for a table of 2 entries"):
        nn.SelectTable(2).forward(x)
    with pytest.raises(IndexError, match="index -3"):
        nn.SelectTable(-3).forward(x)


def test_narrow_table() -> None:
    x = [rand(2), rand(3), rand(1), rand(2)]
    m = nn.NarrowTable(1, 2)
    out = m.forward(x)
    assert out[0] is x[1] and out[1] is x[2]
    check_table_module(m, x)
    assert [t is e for t, e in zip(nn.NarrowTable(1, -1).forward(x), x[1:], strict=True)] == [True] * 3
    assert len(nn.NarrowTable(0, -2).forward(x)) == 3
    assert nn.NarrowTable(3).forward(x)[0] is x[3]
    with pytest.raises(IndexError, match="entries 3 .. 4 are out of range for a table of 4 entries"):
        nn.NarrowTable(3, 2).forward(x)


def test_flatten_table_values_and_gradient_structure() -> None:
    a, b, c, d = rand(2), rand(1), rand(3), rand(2)
    x = [a, [b, [c]], d]
    m = nn.FlattenTable()
    out = m.forward(x)
    assert len(out) == 4 and all(o is t for o, t in zip(out, [a, b, c, d], strict=True))
    g = m.backward(x, [ft.ones(2), ft.ones(1) * 2, ft.ones(3) * 3, ft.ones(2) * 4])
    assert g[1][1][0].tolist() == [3.0, 3.0, 3.0] and g[2].tolist() == [4.0, 4.0]
    check_table_module(m, x)


# --------------------------------------------------------------------------------------------------
# Pairs


@pytest.mark.parametrize("p", [1, 1.5, 2, 3])
@pytest.mark.parametrize("batch", [False, True])
def test_pairwise_distance(p: float, batch: bool) -> None:
    x, y = (rand(3, 4), rand(3, 4)) if batch else (rand(4), rand(4))
    m = nn.PairwiseDistance(p)
    out = m.forward([x, y])
    d = np.abs(host(x) - host(y))
    ref = (d**p).sum(-1) ** (1 / p)
    np.testing.assert_allclose(host(out), np.atleast_1d(ref), rtol=1e-12)
    assert tuple(out.size()) == ((3,) if batch else (1,))
    check_table_module(m, [x, y])


def test_pairwise_distance_gradient_is_zero_for_equal_inputs() -> None:
    x = rand(2, 3)
    m = nn.PairwiseDistance(2)
    m.forward([x, x.clone()])
    g = m.backward([x, x.clone()], ft.ones(2))
    assert g[0].abs().max().item() == 0.0 and not np.isnan(host(g[1])).any()
    with pytest.raises(ValueError, match="expected two vectors of one size"):
        m.forward([rand(3), rand(4)])


@pytest.mark.parametrize("batch", [False, True])
def test_dot_product(batch: bool) -> None:
    x, y = (rand(3, 4), rand(3, 4)) if batch else (rand(4), rand(4))
    m = nn.DotProduct()
    np.testing.assert_allclose(host(m.forward([x, y])), np.atleast_1d((host(x) * host(y)).sum(-1)), rtol=1e-12)
    check_table_module(m, [x, y])


@pytest.mark.parametrize("batch", [False, True])
def test_cosine_distance(batch: bool) -> None:
    x, y = (rand(3, 4), rand(3, 4)) if batch else (rand(4), rand(4))
    m = nn.CosineDistance()
    a, b = np.atleast_2d(host(x)), np.atleast_2d(host(y))
    ref = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(host(m.forward([x, y])), ref, rtol=1e-10)
    check_table_module(m, [x, y])


def test_cosine_distance_of_a_zero_vector_is_zero() -> None:
    out = nn.CosineDistance().forward([ft.zeros(3), rand(3)])
    assert out.tolist() == [0.0]


# --------------------------------------------------------------------------------------------------
# Element-wise


@pytest.mark.parametrize(
    ("cls", "n", "ref"),
    [
        (nn.CAddTable, 3, lambda a: a[0] + a[1] + a[2]),
        (nn.CSubTable, 2, lambda a: a[0] - a[1]),
        (nn.CMulTable, 3, lambda a: a[0] * a[1] * a[2]),
        (nn.CDivTable, 2, lambda a: a[0] / a[1]),
        (nn.CMaxTable, 3, lambda a: np.maximum(np.maximum(a[0], a[1]), a[2])),
        (nn.CMinTable, 3, lambda a: np.minimum(np.minimum(a[0], a[1]), a[2])),
    ],
)
@pytest.mark.parametrize("shape", [(4,), (2, 3)])
def test_elementwise_tables(cls: type, n: int, ref: Any, shape: tuple[int, ...]) -> None:
    xs = [rand(*shape) for _ in range(n)]
    if cls is nn.CDivTable:
        xs[1] = xs[1].sign() * (xs[1].abs() + 0.5)
    m = cls()
    np.testing.assert_allclose(host(m.forward(xs)), ref([host(x) for x in xs]), rtol=1e-12)
    check_table_module(m, xs)


def test_cmul_table_gradient_with_zeros_in_the_input() -> None:
    xs = [ft.Tensor([0.0, 2.0]), ft.Tensor([3.0, 0.0]), ft.Tensor([5.0, 7.0])]
    m = nn.CMulTable()
    m.forward(xs)
    g = m.backward(xs, ft.ones(2))
    assert [t.tolist() for t in g] == [[15.0, 0.0], [0.0, 14.0], [0.0, 0.0]]


def test_cmax_table_ties_go_to_the_first_entry() -> None:
    xs = [ft.Tensor([1.0, 2.0]), ft.Tensor([1.0, 3.0]), ft.Tensor([0.0, 3.0])]
    m = nn.CMaxTable()
    m.forward(xs)
    g = m.backward(xs, ft.Tensor([10.0, 20.0]))
    assert [t.tolist() for t in g] == [[10.0, 0.0], [0.0, 20.0], [0.0, 0.0]]
    m = nn.CMinTable()
    m.forward(xs)
    assert m.min_idx.tolist() == [2, 0]


def test_cadd_table_inplace_writes_the_first_entry() -> None:
    a, b = ft.Tensor([1.0, 2.0]), ft.Tensor([3.0, 4.0])
    m = nn.CAddTable(True)
    out = m.forward([a, b])
    assert out is a and a.tolist() == [4.0, 6.0]
    go = ft.ones(2)
    g = m.backward([a, b], go)
    assert g[0] is go and g[1] is go


def test_elementwise_tables_reject_different_sizes() -> None:
    with pytest.raises(ValueError, match=r"one size, got 3 \(entry 0\) and 2x3 \(entry 1\)"):
        nn.CAddTable().forward([rand(3), rand(2, 3)])
    with pytest.raises(TypeError, match="expected a table of 2 entries, got 3"):
        nn.CSubTable().forward([rand(3), rand(3), rand(3)])


# --------------------------------------------------------------------------------------------------
# MixtureTable


def _mixture_ref(gater: np.ndarray, experts: np.ndarray, dim: int) -> np.ndarray:
    shape = [1] * experts.ndim
    shape[dim] = gater.shape[-1]
    if gater.ndim == 2:
        shape[0] = gater.shape[0]
    return (gater.reshape(shape) * experts).sum(dim)


@pytest.mark.parametrize("batch", [False, True])
def test_mixture_table_with_a_table_of_experts(batch: bool) -> None:
    gater = rand(3, 2) if batch else rand(2)
    experts = [rand(3, 4) if batch else rand(4) for _ in range(2)]
    m = nn.MixtureTable()
    stacked = np.stack([host(e) for e in experts], 1 if batch else 0)
    np.testing.assert_allclose(host(m.forward([gater, experts])), _mixture_ref(host(gater), stacked, 1 if batch else 0))
    check_table_module(m, [gater, experts])


@pytest.mark.parametrize(
    ("batch", "dim", "shape"), [(False, None, (3, 4)), (True, None, (2, 3, 4)), (True, 2, (2, 4, 3))]
)
def test_mixture_table_with_a_tensor_of_experts(batch: bool, dim: int | None, shape: tuple[int, ...]) -> None:
    gater = rand(2, 3) if batch else rand(3)
    experts = rand(*shape)
    m = nn.MixtureTable(dim)
    d = dim if dim is not None else (1 if batch else 0)
    np.testing.assert_allclose(host(m.forward([gater, experts])), _mixture_ref(host(gater), host(experts), d))
    check_table_module(m, [gater, experts])


def test_mixture_table_errors() -> None:
    with pytest.raises(ValueError, match="the gater weighs 3 experts, but 2 came"):
        nn.MixtureTable().forward([rand(3), [rand(4), rand(4)]])
    with pytest.raises(ValueError, match="expected experts with 3 entries along dimension 1"):
        nn.MixtureTable().forward([rand(2, 3), rand(2, 4, 5)])


# --------------------------------------------------------------------------------------------------
# CriterionTable, and tables inside models


def test_criterion_table() -> None:
    x, t = rand(3), rand(3)
    m = nn.CriterionTable(nn.MSECriterion())
    loss = m.forward([x, t])
    assert isinstance(loss, float)
    np.testing.assert_allclose(loss, ((host(x) - host(t)) ** 2).mean())
    g = m.backward([x, t])
    np.testing.assert_allclose(host(g[0]), 2 * (host(x) - host(t)) / 3)
    assert g[1].tolist() == [0.0] * 3
    assert repr(m) == "nn.CriterionTable(nn.MSECriterion)"
    bp, fd = jacobians(m, [x, t])  # the target is not differentiated: compare the rows of x
    np.testing.assert_allclose(bp[:3], fd[:3], atol=TOL)
    assert m.backward([x, t], 0.5)[0].tolist() == (0.5 * g[0]).tolist()


def test_nested_tables_through_a_model() -> None:
    # {x, {y, z}} -> x + y * z, then a dot product with x: tables in, tables out, nested tables
    model = nn.Sequential(
        nn.ConcatTable(nn.SelectTable(0), nn.Sequential(nn.SelectTable(1), nn.CMulTable())),
        nn.ConcatTable(nn.CAddTable(), nn.SelectTable(0)),
        nn.DotProduct(),
    )
    x, y, z = rand(2, 3), rand(2, 3), rand(2, 3)
    out = model.forward([x, [y, z]])
    a, b, c = host(x), host(y), host(z)
    np.testing.assert_allclose(host(out), ((a + b * c) * a).sum(1), rtol=1e-12)
    check_table_module(model, [x, [y, z]])


def test_printing() -> None:
    assert repr(nn.SplitTable(1)) == "nn.SplitTable(1)"
    assert repr(nn.JoinTable(0, 2)) == "nn.JoinTable(0, 2)"
    assert repr(nn.SelectTable(-1)) == "nn.SelectTable(-1)"
    assert repr(nn.NarrowTable(1, 2)) == "nn.NarrowTable(1, 2)"
    assert repr(nn.PairwiseDistance(2)) == "nn.PairwiseDistance(2)"
    assert repr(nn.CAddTable()) == "nn.CAddTable"
