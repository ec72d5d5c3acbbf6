"""The branching containers (nn/containers.py): values against numpy, gradients by finite differences
(nncheck for tensor in/out, test_table.check_table_module for tables), sharing, errors, printing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from nncheck import check_module
from test_table import check_table_module, flat

import flambeau.nn as nn
import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.testing import host

pytestmark = pytest.mark.device


def rand(*size: int) -> Tensor:
    return ft.randn(*size)


def lin(m: nn.Linear, x: np.ndarray) -> np.ndarray:
    """Linear's forward in numpy."""
    return x @ host(m.weight).T + host(m.bias)


class CropForTest(nn.Module):
    """Keeps the middle ``n`` entries of the last dim: outputs of different sizes for DepthConcat."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def _start(self, input: Any) -> int:
        return (input.size(-1) - self.n) // 2

    def update_output(self, input: Any) -> Any:
        self.output = input.narrow(-1, self._start(input), self.n).clone()
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        self.grad_input = ft.zeros_like(input)
        self.grad_input.narrow(-1, self._start(input), self.n).copy_(grad_output)
        return self.grad_input


# --------------------------------------------------------------------------------------------------
# Parallel, Concat, DepthConcat


def test_parallel_values_and_gradient() -> None:
    a, b = nn.Linear(4, 3), nn.Linear(4, 2)
    m = nn.Parallel(1, 0).add(a).add(b)
    x = rand(4, 2)
    ref = np.concatenate([lin(a, host(x)[:, 0]), lin(b, host(x)[:, 1])])
    np.testing.assert_allclose(host(m.forward(x)), ref, rtol=1e-12)
    check_module(m, x)


def test_parallel_on_batches_concatenates_along_the_output_dim() -> None:
    a, b, c = nn.Linear(3, 2), nn.Linear(3, 2), nn.Linear(3, 1)
    m = nn.Parallel(0, 1).add(a).add(b).add(c)
    x = rand(3, 4, 3)  # three slices, each a batch of 4
    out = m.forward(x)
    ref = np.concatenate([lin(k, host(x)[i]) for i, k in enumerate((a, b, c))], 1)
    np.testing.assert_allclose(host(out), ref, rtol=1e-12)
    check_module(m, rand(3, 2, 3))


def test_parallel_needs_a_module_per_slice() -> None:
    m = nn.Parallel(0, 0).add(nn.Linear(2, 1))
    with pytest.raises(ValueError, match=r"the input has 2 slices along dimension 0 \(size 2x2\) but there are only 1"):
        m.forward(rand(2, 2))
    assert repr(m) == "nn.Parallel(0, 0) {\n  (0): nn.Linear(2 -> 1)\n}"


@pytest.mark.parametrize("batch", [False, True])
def test_concat_values_and_gradient(batch: bool) -> None:
    a, b = nn.Linear(3, 2), nn.Linear(3, 4)
    m = nn.Concat(1 if batch else 0).add(a).add(nn.Sequential(b, nn.Tanh()))
    x = rand(5, 3) if batch else rand(3)
    ref = np.concatenate([lin(a, host(x)), np.tanh(lin(b, host(x)))], -1)
    np.testing.assert_allclose(host(m.forward(x)), ref, rtol=1e-12)
    check_module(m, x)


def test_depth_concat_pads_and_centres_smaller_outputs() -> None:
    m = nn.DepthConcat(0).add(CropForTest(4)).add(CropForTest(1)).add(CropForTest(2))
    x = ft.arange(1.0, 6.0).view(1, 5)
    out = m.forward(x)
    # widths 4, 1, 2 padded to 4: starts (4-4)//2=0, (4-1)//2=1, (4-2)//2=1
    assert out.tolist() == [[1.0, 2.0, 3.0, 4.0], [0.0, 3.0, 0.0, 0.0], [0.0, 2.0, 3.0, 0.0]]
    check_module(m, rand(2, 5))
    check_module(nn.DepthConcat(1).add(CropForTest(3)).add(nn.Sequential(CropForTest(1), nn.Tanh())), rand(2, 2, 5))


def test_depth_concat_with_linear_layers() -> None:
    a, b = nn.Linear(3, 3), nn.Linear(3, 1)
    m = nn.DepthConcat(0).add(a).add(b)
    x = rand(2, 3)
    ref = np.zeros((4, 3))
    ref[:2] = lin(a, host(x))
    ref[2:, 1:2] = lin(b, host(x))
    np.testing.assert_allclose(host(m.forward(x)), ref, rtol=1e-12)
    check_module(m, x)


def test_concat_error_names_the_child() -> None:
    m = nn.Concat(0).add(nn.Linear(3, 2)).add(nn.Linear(4, 2))
    with pytest.raises(ValueError, match=r"^\(1\) nn\.Linear\(4 -> 2\): size mismatch: expected an input of size 4"):
        m.forward(rand(3))


# --------------------------------------------------------------------------------------------------
# ConcatTable, ParallelTable


def test_concat_table_on_a_tensor() -> None:
    a, b = nn.Linear(3, 2), nn.Linear(3, 4)
    m = nn.ConcatTable().add(a).add(b)
    x = rand(2, 3)
    out = m.forward(x)
    np.testing.assert_allclose(host(out[0]), lin(a, host(x)), rtol=1e-12)
    np.testing.assert_allclose(host(out[1]), lin(b, host(x)), rtol=1e-12)
    check_table_module(m, x)
    # the input gradient is the sum of the children's
    go = [rand(2, 2), rand(2, 4)]
    g = m.backward(x, go)
    ref = host(go[0]) @ host(a.weight) + host(go[1]) @ host(b.weight)
    np.testing.assert_allclose(host(g), ref, rtol=1e-12)


def test_concat_table_adds_nested_table_gradients() -> None:
    # every child sees {x, {y, z}}; their input gradients are nested tables summed entry by entry
    m = nn.ConcatTable(
        nn.SelectTable(0),
        nn.Sequential(nn.SelectTable(1), nn.SelectTable(0)),
        nn.Sequential(nn.SelectTable(1), nn.CMulTable()),
        nn.Sequential(nn.FlattenTable(), nn.CAddTable()),
    )
    x, y, z = rand(3), rand(3), rand(3)
    inp = [x, [y, z]]
    go = [ft.ones(3), ft.ones(3) * 2, ft.ones(3) * 3, ft.ones(3) * 4]
    m.forward(inp)
    g = m.backward(inp, go)
    np.testing.assert_allclose(host(g[0]), np.full(3, 1.0 + 4.0))
    np.testing.assert_allclose(host(g[1][0]), 2.0 + 3.0 * host(z) + 4.0)
    np.testing.assert_allclose(host(g[1][1]), 3.0 * host(y) + 4.0)
    check_table_module(m, inp)


def test_concat_table_does_not_write_into_child_buffers_or_grad_output() -> None:
    m = nn.ConcatTable(nn.Sequential(), nn.Sequential())  # empty Sequentials pass the gradient through
    x = rand(3)
    go = [ft.ones(3), ft.ones(3)]
    m.forward(x)
    g = m.backward(x, go)
    assert g.tolist() == [2.0, 2.0, 2.0]
    assert go[0].tolist() == [1.0, 1.0, 1.0] and go[1].tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(TypeError, match="ConcatTable: grad_output: expected a table of 2 entries, got 1"):
        m.backward(x, [go[0]])


def test_parallel_table() -> None:
    a = nn.Linear(3, 2)
    m = nn.ParallelTable().add(a).add(nn.Tanh())
    x, y = rand(2, 3), rand(4)
    out = m.forward([x, y])
    np.testing.assert_allclose(host(out[0]), lin(a, host(x)), rtol=1e-12)
    np.testing.assert_allclose(host(out[1]), np.tanh(host(y)), rtol=1e-12)
    check_table_module(m, [x, y])
    with pytest.raises(TypeError, match="ParallelTable: expected a table of 2 entries, got 1"):
        m.forward([x])


def test_parallel_table_error_names_the_child() -> None:
    m = nn.ParallelTable(nn.Linear(3, 2), nn.Sequential(nn.Linear(2, 2), nn.Linear(3, 1)))
    with pytest.raises(ValueError) as err:
        m.forward([rand(3), rand(2)])
    assert str(err.value) == (
        "(1) nn.Sequential: (1) nn.Linear(3 -> 1): size mismatch: expected an input of size 3 or a batch N x 3, got 2"
    )


# --------------------------------------------------------------------------------------------------
# MapTable


def test_map_table_shares_parameters_between_clones() -> None:
    lin0 = nn.Linear(3, 2)
    m = nn.MapTable(lin0)
    xs = [rand(3), rand(4, 3), rand(3)]
    out = m.forward(xs)
    for o, x in zip(out, xs, strict=True):
        np.testing.assert_allclose(host(o), lin(lin0, host(x)), rtol=1e-12)
    assert len(m) == 3
    for c in m.modules[1:]:
        assert c.weight.data_ptr() == lin0.weight.data_ptr()
        assert c.grad_bias.data_ptr() == lin0.grad_bias.data_ptr()
        assert c.output.data_ptr() != lin0.output.data_ptr()
    params, grads = m.parameters()
    assert len(params) == 2 and params[0] is lin0.weight
    check_table_module(m, xs)


def test_map_table_gradient_is_the_sum_over_entries_and_updates_once() -> None:
    lin0 = nn.Linear(2, 2)
    m = nn.MapTable(lin0)
    xs = [rand(2), rand(2)]
    m.forward(xs)
    m.zero_grad_parameters()
    gos = [rand(2), rand(2)]
    m.backward(xs, gos)
    ref = sum(np.outer(host(g), host(x)) for g, x in zip(gos, xs, strict=True))
    np.testing.assert_allclose(host(lin0.grad_weight), ref, rtol=1e-12)
    w = host(lin0.weight).copy()
    m.update_parameters(0.1)
    np.testing.assert_allclose(host(lin0.weight), w - 0.1 * ref, rtol=1e-12)


def test_map_table_follows_get_parameters_and_type() -> None:
    model = nn.Sequential(nn.MapTable(nn.Linear(3, 2)), nn.CAddTable())
    xs = [rand(3), rand(3), rand(3)]
    model.forward(xs)  # clones exist before flattening
    flat_p, flat_g = model.get_parameters()
    assert flat_p.nelement() == 8 and flat_g.nelement() == 8
    flat_p.fill_(0.5)
    out = model.forward(xs)
    ref = sum(0.5 * host(x).sum() + 0.5 for x in xs)
    np.testing.assert_allclose(host(out), np.full(2, ref), rtol=1e-12)
    model.float()
    mt = model.get(0)
    assert mt.get(2).weight.dtype == ft.float32 and mt.get(2).weight.device == xs[0].device
    assert mt.get(2).weight.data_ptr() == mt.get(0).weight.data_ptr()


def test_map_table_without_sharing() -> None:
    m = nn.MapTable(nn.Linear(2, 2), share=False)
    xs = [rand(2), rand(2)]
    m.forward(xs)
    assert m.get(1).weight.data_ptr() != m.get(0).weight.data_ptr()
    np.testing.assert_array_equal(host(m.get(1).weight), host(m.get(0).weight))
    assert len(m.parameters()[0]) == 4
    check_table_module(m, xs)
    with pytest.raises(TypeError, match="MapTable holds a single module"):
        m.add(nn.Tanh())


def test_map_table_error_names_the_entry_and_replace_keeps_the_module() -> None:
    m = nn.MapTable(nn.Linear(3, 2))
    with pytest.raises(
        ValueError, match=r"^\(1\) nn\.Linear\(3 -> 2\): size mismatch: expected an input of size 3 .* got 4$"
    ):
        m.forward([rand(3), rand(4)])
    m.replace(lambda k: nn.Linear(3, 1) if isinstance(k, nn.Linear) else k)
    assert m.module is m.get(0) and m.forward([rand(3)])[0].size() == (1,)


def test_map_table_over_nested_containers_and_printing() -> None:
    m = nn.MapTable(nn.Sequential(nn.Linear(2, 3), nn.Tanh()))
    xs = [rand(2), rand(2)]
    check_table_module(m, xs)
    assert m.get(1).get(0).weight.data_ptr() == m.get(0).get(0).weight.data_ptr()
    assert repr(nn.MapTable(nn.Linear(2, 3))) == "nn.MapTable {\n  nn.Linear(2 -> 3)\n}"


def test_map_table_save_load_keeps_sharing(tmp_path: Any) -> None:
    m = nn.MapTable(nn.Linear(2, 2))
    xs = [rand(2), rand(2)]
    m.forward(xs)
    ft.save(tmp_path / "m.t7", m)
    n = ft.load(tmp_path / "m.t7")
    np.testing.assert_array_equal(flat(n.forward(xs)), flat(m.forward(xs)))
    n.get(0).weight.fill_(1.0)
    assert n.get(1).weight.tolist() == [[1.0, 1.0], [1.0, 1.0]]


# --------------------------------------------------------------------------------------------------
# Bottle


def test_bottle_folds_leading_dims() -> None:
    a = nn.Linear(4, 2)
    m = nn.Bottle(a)
    x = rand(3, 5, 4)
    out = m.forward(x)
    assert tuple(out.size()) == (3, 5, 2)
    np.testing.assert_allclose(host(out), lin(a, host(x)), rtol=1e-12)
    check_module(m, rand(2, 3, 4))
    check_module(m, rand(2, 1, 3, 4))
    # an input the module takes as it is goes through unchanged
    x2 = rand(5, 4)
    np.testing.assert_allclose(host(m.forward(x2)), lin(a, host(x2)), rtol=1e-12)
    check_module(m, x2)


def test_bottle_checks_the_output_dims() -> None:
    m = nn.Bottle(nn.Linear(4, 2), 2, 3)
    with pytest.raises(ValueError, match="Bottle: expected the module to give a 3-D output, got 6x2"):
        m.forward(rand(2, 3, 4))
    assert repr(m) == "nn.Bottle(2 -> 3) {\n  (0): nn.Linear(4 -> 2)\n}"


# --------------------------------------------------------------------------------------------------
# Updates, modes, state


def _model() -> nn.Module:
    return nn.Sequential(
        nn.ConcatTable(nn.Linear(3, 2), nn.Sequential(nn.Linear(3, 2), nn.Tanh())),
        nn.ParallelTable(nn.Linear(2, 2), nn.Tanh()),
        nn.CAddTable(),
        nn.Concat(0).add(nn.Linear(2, 1)).add(nn.Linear(2, 2)),
    )


def test_backward_update_equals_a_manual_update() -> None:
    x, go = rand(3), rand(3)
    a = _model()
    b = a.clone()
    a.forward(x)
    a.zero_grad_parameters()
    ga = a.backward(x, go)
    a.update_parameters(0.1)
    b.forward(x)
    gb = b.backward_update(x, go, 0.1)
    np.testing.assert_allclose(host(gb), host(ga), rtol=1e-12)
    for p, q in zip(a.parameters()[0], b.parameters()[0], strict=True):
        np.testing.assert_allclose(host(q), host(p), rtol=1e-12)
    # and the gradient buffers were left alone by backward_update
    assert all(g.abs().max().item() == 0.0 for g in b.parameters()[1])


def test_containers_gradients_in_a_model() -> None:
    check_module(_model(), rand(3))


def test_clear_state_empties_table_outputs_and_keeps_parameters() -> None:
    m = nn.ConcatTable(nn.Linear(3, 2), nn.Linear(3, 2))
    m.forward(rand(3))
    w = m.get(0).weight.clone()
    m.clear_state()
    assert m.output == []
    assert m.get(0).output.nelement() == 0
    assert m.get(0).weight.tolist() == w.tolist()


def test_training_and_evaluate_reach_children_of_table_containers() -> None:
    m = nn.Sequential(nn.ConcatTable(nn.Linear(2, 2), nn.Linear(2, 2)), nn.MapTable(nn.Linear(2, 2)))
    m.forward(rand(2))
    m.evaluate()
    assert all(not k.train for k in m.list_modules())
    m.training()
    assert all(k.train for k in m.list_modules())


def test_printing_nested_table_containers() -> None:
    m = nn.Sequential(nn.ConcatTable(nn.Linear(2, 2), nn.Tanh()), nn.CAddTable())
    assert repr(m) == (
        "nn.Sequential {\n"
        "  [input -> (0) -> (1) -> output]\n"
        "  (0): nn.ConcatTable {\n"
        "    (0): nn.Linear(2 -> 2)\n"
        "    (1): nn.Tanh\n"
        "  }\n"
        "  (1): nn.CAddTable\n"
        "}"
    )
    assert repr(nn.Concat(1).add(nn.Tanh())) == "nn.Concat(1) {\n  (0): nn.Tanh\n}"
