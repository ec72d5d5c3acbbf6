"""The core Module API (nn/module.py, nn/container.py): forward/backward, updates, parameters and
their flattening, sharing, cloning, types, modes, tree walks, state, printing, save/load, errors."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from nncheck import check_module

import flambeau.nn as nn
import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import SerializationError
from flambeau.tensor.testing import host, type_prefix


def rand(*size: int) -> Tensor:
    return ft.randn(*size)


def mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))


def mlp_ref(m: nn.Sequential, x: np.ndarray) -> np.ndarray:
    a, b = m.get(0), m.get(2)
    h = np.tanh(x @ host(a.weight).T + host(a.bias))
    return h @ host(b.weight).T + host(b.bias)


def numpy_grads(m: nn.Sequential, x: np.ndarray, go: np.ndarray) -> dict[str, np.ndarray]:
    """The gradients of mlp() by hand in numpy."""
    a, b = m.get(0), m.get(2)
    h = np.tanh(x @ host(a.weight).T + host(a.bias))
    gh = go @ host(b.weight)
    gz = gh * (1 - h * h)
    return {
        "input": gz @ host(a.weight),
        "w0": gz.T @ x,
        "b0": gz.sum(0),
        "w2": go.T @ h,
        "b2": go.sum(0),
    }


def grads_of(m: nn.Sequential) -> list[np.ndarray]:
    return [host(g).copy() for g in m.parameters()[1]]


def params_of(m: nn.Module) -> list[np.ndarray]:
    return [host(p).copy() for p in m.parameters()[0]]


# --------------------------------------------------------------------------------------------------
# forward, backward, scale, calling


@pytest.mark.device
def test_forward_and_backward_against_numpy() -> None:
    m = mlp()
    x, go = rand(5, 4), rand(5, 2)
    np.testing.assert_allclose(host(m.forward(x)), mlp_ref(m, host(x)), rtol=1e-12)
    assert m.output is m.get(2).output
    m.zero_grad_parameters()
    gi = m.backward(x, go)
    ref = numpy_grads(m, host(x), host(go))
    assert gi is m.grad_input
    np.testing.assert_allclose(host(gi), ref["input"], rtol=1e-12)
    for g, k in zip(m.parameters()[1], ["w0", "b0", "w2", "b2"], strict=True):
        np.testing.assert_allclose(host(g), ref[k], rtol=1e-12)
    check_module(m, x)
    check_module(m, rand(4))


@pytest.mark.device
def test_backward_accumulates_and_scales() -> None:
    m = mlp()
    x, go = rand(3, 4), rand(3, 2)
    m.forward(x)
    m.zero_grad_parameters()
    m.backward(x, go)
    once = grads_of(m)
    m.backward(x, go, 0.5)
    for g, o in zip(m.parameters()[1], once, strict=True):
        np.testing.assert_allclose(host(g), 1.5 * o, rtol=1e-12)
    # update_grad_input and acc_grad_parameters separately give what backward gives
    m.zero_grad_parameters()
    gi = m.update_grad_input(x, go).clone()
    m.acc_grad_parameters(x, go, 2.0)
    for g, o in zip(m.parameters()[1], once, strict=True):
        np.testing.assert_allclose(host(g), 2.0 * o, rtol=1e-12)
    np.testing.assert_allclose(host(gi), host(m.backward(x, go)), rtol=1e-12)


@pytest.mark.device
def test_call_with_and_without_grad_output() -> None:
    m = mlp()
    x, go = rand(2, 4), rand(2, 2)
    out = m(x)
    np.testing.assert_allclose(host(out), mlp_ref(m, host(x)), rtol=1e-12)
    m.zero_grad_parameters()
    out2, gi = m(x, go)
    assert out2 is m.output and gi is m.grad_input
    np.testing.assert_allclose(host(gi), numpy_grads(m, host(x), host(go))["input"], rtol=1e-12)
    np.testing.assert_allclose(host(m.get(0).grad_bias), numpy_grads(m, host(x), host(go))["b0"], rtol=1e-12)


# --------------------------------------------------------------------------------------------------
# Updates


def _manual_update(m: nn.Module, x: Tensor, go: Tensor, lr: float) -> tuple[list[np.ndarray], np.ndarray]:
    m.forward(x)
    m.zero_grad_parameters()
    gi = host(m.backward(x, go)).copy()
    return [p - lr * g for p, g in zip(params_of(m), grads_of(m), strict=True)], gi


@pytest.mark.device
@pytest.mark.parametrize("make", [lambda: nn.Linear(4, 2), mlp])
def test_acc_update_grad_parameters_and_backward_update_equal_a_manual_update(make: Any) -> None:
    x, go, lr = rand(3, 4), rand(3, 2), 0.1
    a = make()
    expected, gi = _manual_update(a.clone(), x, go, lr)
    # acc_update_grad_parameters (after update_grad_input, as backward_update does it)
    b = a.clone()
    b.zero_grad_parameters()
    b.forward(x)
    b.update_grad_input(x, go)
    b.acc_update_grad_parameters(x, go, lr)
    for p, e in zip(params_of(b), expected, strict=True):
        np.testing.assert_allclose(p, e, rtol=1e-12)
    assert all(not g.any() for g in grads_of(b))  # the gradient buffers are left alone
    # backward_update
    c = a.clone()
    c.zero_grad_parameters()
    c.forward(x)
    gc = c.backward_update(x, go, lr)
    np.testing.assert_allclose(host(gc), gi, rtol=1e-12)
    for p, e in zip(params_of(c), expected, strict=True):
        np.testing.assert_allclose(p, e, rtol=1e-12)
    assert all(not g.any() for g in grads_of(c))


@pytest.mark.device
def test_zero_grad_parameters_and_update_parameters() -> None:
    m = mlp()
    x, go = rand(3, 4), rand(3, 2)
    m.forward(x)
    m.backward(x, go)
    assert any(g.any() for g in grads_of(m))
    m.zero_grad_parameters()
    assert all(not g.any() for g in grads_of(m))
    m.backward(x, go)
    before, grads = params_of(m), grads_of(m)
    m.update_parameters(0.5)
    for p, b, g in zip(params_of(m), before, grads, strict=True):
        np.testing.assert_allclose(p, b - 0.5 * g, rtol=1e-12)


# --------------------------------------------------------------------------------------------------
# Parameters and flattening


def test_parameters_order() -> None:
    a, b = nn.Linear(4, 3), nn.Linear(3, 2)
    m = nn.Sequential(a, nn.Tanh(), nn.Sequential(b))
    params, grads = m.parameters()
    assert [p is q for p, q in zip(params, [a.weight, a.bias, b.weight, b.bias], strict=True)] == [True] * 4
    assert [g is q for g, q in zip(grads, [a.grad_weight, a.grad_bias, b.grad_weight, b.grad_bias], strict=True)] == [
        True
    ] * 4
    assert nn.Tanh().parameters() == ([], [])
    assert len(nn.Linear(2, 2, bias=False).parameters()[0]) == 1


@pytest.mark.device
def test_get_parameters_flattens_into_views() -> None:
    m = mlp()
    x = rand(2, 4)
    before = host(m.forward(x)).copy()
    values = np.concatenate([p.reshape(-1) for p in params_of(m)])
    flat, gflat = m.get_parameters()
    assert flat.nelement() == 4 * 3 + 3 + 3 * 2 + 2 == gflat.nelement()
    assert flat.dim() == 1 and flat.is_contiguous()
    np.testing.assert_array_equal(host(flat), values)  # the values, in parameters() order
    np.testing.assert_array_equal(host(m.forward(x)), before)
    # every module tensor is a view into the flat tensors
    for p in m.parameters()[0]:
        assert p.storage().data_ptr() == flat.storage().data_ptr()
    for g in m.parameters()[1]:
        assert g.storage().data_ptr() == gflat.storage().data_ptr()
    # updating the flat tensor updates the model; the model's gradients land in the flat gradient
    flat.add_(1.0)
    np.testing.assert_array_equal(host(m.get(0).weight).reshape(-1), values[:12] + 1.0)
    gflat.zero_()
    m.forward(x)
    m.backward(x, ft.ones(2, 2))
    np.testing.assert_array_equal(host(gflat)[-2:], [2.0, 2.0])  # the last bias's gradient
    m.get(0).weight.fill_(3.0)
    assert host(flat)[:12].tolist() == [3.0] * 12


@pytest.mark.device
def test_get_parameters_keeps_shared_parameters_shared_and_counts_them_once() -> None:
    a, b = nn.Linear(3, 3), nn.Linear(3, 3)
    b.share(a, "weight", "grad_weight")
    m = nn.Sequential(a, nn.Tanh(), b)
    flat, gflat = m.get_parameters()
    assert flat.nelement() == 9 + 3 + 3 and gflat.nelement() == 9 + 3 + 3
    assert b.weight.data_ptr() == a.weight.data_ptr() and b.grad_weight.data_ptr() == a.grad_weight.data_ptr()
    flat.fill_(0.25)
    assert b.weight.tolist() == [[0.25] * 3] * 3
    a.weight.fill_(-1.0)
    assert b.weight.tolist() == [[-1.0] * 3] * 3
    # sharing only the weight: the gradients are separate buffers
    c, d = nn.Linear(2, 2), nn.Linear(2, 2)
    d.share(c, "weight")
    p, g = nn.Sequential(c, d).get_parameters()
    assert p.nelement() == 4 + 2 + 2 and g.nelement() == 4 + 2 + 4 + 2


@pytest.mark.device
def test_share_points_at_the_other_modules_memory() -> None:
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    assert b.share(a, "weight", "bias") is b
    assert b.weight.data_ptr() == a.weight.data_ptr() and b.bias.data_ptr() == a.bias.data_ptr()
    a.bias.fill_(7.0)
    assert b.bias.tolist() == [7.0, 7.0]
    assert b.grad_weight.data_ptr() != a.grad_weight.data_ptr()
    x = rand(3)
    np.testing.assert_array_equal(host(a.forward(x)), host(b.forward(x)))
    # containers share child by child
    s, t = mlp(), mlp()
    t.share(s, "weight")
    assert t.get(2).weight.data_ptr() == s.get(2).weight.data_ptr()
    assert t.get(2).bias.data_ptr() != s.get(2).bias.data_ptr()


@pytest.mark.device
def test_clone_is_deep_and_clone_with_names_shares() -> None:
    m = mlp()
    x = rand(2, 4)
    c = m.clone()
    assert type(c) is nn.Sequential and c is not m
    np.testing.assert_array_equal(host(c.forward(x)), host(m.forward(x)))
    c.get(0).weight.fill_(0.0)
    assert m.get(0).weight.any()
    s = m.clone("weight", "bias")
    for p, q in zip(s.parameters()[0], m.parameters()[0], strict=True):
        assert p.data_ptr() == q.data_ptr()
    assert s.get(0).grad_weight.data_ptr() != m.get(0).grad_weight.data_ptr()
    m.get(2).bias.fill_(5.0)
    assert s.get(2).bias.tolist() == [5.0, 5.0]
    m.get(0).weight.add_(1.0)
    np.testing.assert_array_equal(host(s.forward(x)), host(m.forward(x)))


@pytest.mark.device
@pytest.mark.parametrize(
    ("convert", "name"),
    [
        (lambda m: m.type("torch.FloatTensor"), "FloatTensor"),
        (lambda m: m.float(), "FloatTensor"),
        (lambda m: m.float().double(), "DoubleTensor"),
    ],
)
def test_type_conversion_keeps_sharing(convert: Any, name: str) -> None:
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    b.share(a, "weight", "bias", "grad_weight", "grad_bias")
    m = nn.Sequential(nn.Concat(0).add(a).add(b))
    x = rand(3)
    name = type_prefix() + "." + name
    before = host(m.forward(x)).copy()
    w = a.weight
    assert convert(m) is m
    assert m.type() == name
    assert a.weight is w  # the same tensor objects, converted in place
    assert all(p.type() == name for p in [*m.parameters()[0], *m.parameters()[1], a.output])
    assert b.weight.data_ptr() == a.weight.data_ptr() and b.grad_bias.data_ptr() == a.grad_bias.data_ptr()
    np.testing.assert_allclose(host(m.forward(x.type(name))), before, rtol=1e-6)


def test_training_and_evaluate_are_recursive() -> None:
    m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Tanh(), nn.Linear(2, 2)))
    assert all(k.train for k in m.list_modules())
    assert m.evaluate() is m
    assert [k.train for k in m.list_modules()] == [False] * 5
    assert m.training() is m
    assert [k.train for k in m.list_modules()] == [True] * 5


@pytest.mark.device
def test_reset() -> None:
    m = nn.Sequential(nn.Linear(100, 50), nn.Tanh(), nn.Linear(50, 10))
    m.apply(lambda k: [p.fill_(9.0) for p in k.parameters()[0]] if isinstance(k, nn.Linear) else None)
    assert m.reset() is m
    for k, fan_in in ((m.get(0), 100), (m.get(2), 50)):
        bound = 1 / math.sqrt(fan_in)
        for p in k.parameters()[0]:
            a = host(p)
            assert np.abs(a).max() <= bound and np.abs(a).max() > 0.5 * bound
    lin = nn.Linear(100, 50)
    assert lin.reset(0.1) is lin
    a = host(lin.weight)
    assert np.abs(a).max() <= 0.1 * math.sqrt(3) and np.abs(a).max() > 0.1 * 1.5


# --------------------------------------------------------------------------------------------------
# Walking the tree


def _tree() -> nn.Sequential:
    return nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.Tanh(), nn.Linear(3, 3)), nn.Tanh())


def test_list_modules_and_apply_are_pre_order() -> None:
    m = _tree()
    names = [type(k).__name__ for k in m.list_modules()]
    assert names == ["Sequential", "Linear", "Sequential", "Tanh", "Linear", "Tanh"]
    seen: list[str] = []
    assert m.apply(lambda k: seen.append(type(k).__name__)) is m
    assert seen == names
    assert list(m) == m.modules and m.children() == m.modules


@pytest.mark.device
def test_replace() -> None:
    m = _tree()
    new = m.replace(lambda k: nn.Linear(3, 3) if isinstance(k, nn.Tanh) else k)
    assert new is m
    assert [type(k).__name__ for k in m.list_modules()] == [
        "Sequential",
        "Linear",
        "Sequential",
        "Linear",
        "Linear",
        "Linear",
    ]
    assert m.forward(rand(2)).size() == (3,)
    # the root itself can be replaced
    assert isinstance(nn.Tanh().replace(lambda k: nn.Linear(1, 1)), nn.Linear)


def test_find_modules_by_class_and_by_name() -> None:
    m = _tree()
    inner = m.get(1)
    found, parents = m.find_modules(nn.Linear)
    assert found == [m.get(0), inner.get(1)] and parents == [m, inner]
    found, parents = m.find_modules("nn.Tanh")
    assert found == [inner.get(0), m.get(2)] and parents == [inner, m]
    assert m.find_modules("Tanh")[0] == found
    assert m.find_modules("flambeau.nn.Tanh")[0] == found
    found, parents = m.find_modules(nn.Sequential)
    assert found == [m, inner] and parents == [m, m]  # the root is its own container
    assert m.find_modules("Concat") == ([], [])


@pytest.mark.device
def test_clear_state_empties_outputs_and_keeps_parameters() -> None:
    m = mlp()
    x = rand(2, 4)
    m.forward(x)
    m.backward(x, rand(2, 2))
    params, grads = params_of(m), grads_of(m)
    assert m.clear_state() is m
    for k in m.list_modules():
        assert k.output.nelement() == 0 and k.grad_input.nelement() == 0
    for p, q in zip(params_of(m), params, strict=True):
        np.testing.assert_array_equal(p, q)
    for p, q in zip(grads_of(m), grads, strict=True):
        np.testing.assert_array_equal(p, q)
    np.testing.assert_allclose(host(m.forward(x)), mlp_ref(m, host(x)), rtol=1e-12)


def test_printing_nested_containers() -> None:
    m = nn.Sequential(nn.Linear(4, 3), nn.Sequential(nn.Tanh(), nn.Linear(3, 2, bias=False)), nn.Tanh())
    assert repr(m) == (
        "nn.Sequential {\n"
        "  [input -> (0) -> (1) -> (2) -> output]\n"
        "  (0): nn.Linear(4 -> 3)\n"
        "  (1): nn.Sequential {\n"
        "    [input -> (0) -> (1) -> output]\n"
        "    (0): nn.Tanh\n"
        "    (1): nn.Linear(3 -> 2, without bias)\n"
        "  }\n"
        "  (2): nn.Tanh\n"
        "}"
    )
    assert str(nn.Sequential()) == "nn.Sequential"


# --------------------------------------------------------------------------------------------------
# Saving and loading


@pytest.mark.device
def test_save_load_whole_model_keeps_outputs_and_sharing(tmp_path: Path) -> None:
    a, b = nn.Linear(3, 3), nn.Linear(3, 3)
    b.share(a, "weight", "grad_weight")
    m = nn.Sequential(a, nn.Tanh(), b, nn.Concat(0).add(nn.Linear(3, 1)).add(nn.Tanh()))
    x = rand(3)
    out = host(m.forward(x)).copy()
    path = tmp_path / "model.t7"
    ft.save(path, m)
    n = ft.load(path)
    assert type(n) is nn.Sequential and repr(n) == repr(m)
    np.testing.assert_array_equal(host(n.forward(x)), out)
    na, nb = n.get(0), n.get(2)
    assert nb.weight.data_ptr() == na.weight.data_ptr() and nb.grad_weight.data_ptr() == na.grad_weight.data_ptr()
    assert nb.bias.data_ptr() != na.bias.data_ptr()
    assert na.weight.data_ptr() != a.weight.data_ptr()  # a copy, not the original
    flat, _ = n.get_parameters()
    assert flat.nelement() == 9 + 3 + 3 + 3 + 1


@pytest.mark.device
def test_save_load_single_module(tmp_path: Path) -> None:
    m = nn.Linear(4, 2)
    m.evaluate()
    path = tmp_path / "linear.t7"
    ft.save(path, m)
    n = ft.load(path)
    assert type(n) is nn.Linear and not n.train
    np.testing.assert_array_equal(host(n.weight), host(m.weight))
    x = rand(4)
    np.testing.assert_array_equal(host(n.forward(x)), host(m.forward(x)))


def test_loading_an_unknown_nn_class_names_it(tmp_path: Path) -> None:
    class ScaleForLoadTest(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.factor = 2.0

        def update_output(self, input: Any) -> Any:
            self.output = input * self.factor
            return self.output

    path = tmp_path / "custom.t7"
    ft.save(path, nn.Sequential(nn.Linear(2, 2), ScaleForLoadTest()))
    assert isinstance(ft.load(path).get(1), ScaleForLoadTest)
    ft.unregister_type("flambeau.nn.ScaleForLoadTest")
    with pytest.raises(SerializationError, match="flambeau.nn.ScaleForLoadTest"):
        ft.load(path)


# --------------------------------------------------------------------------------------------------
# Errors


@pytest.mark.device
def test_errors_in_nested_containers_name_the_path() -> None:
    m = nn.Sequential(nn.Linear(4, 3), nn.Sequential(nn.Tanh(), nn.Linear(2, 2)))
    with pytest.raises(ValueError) as err:
        m.forward(rand(5, 4))
    assert str(err.value) == (
        "(1) nn.Sequential: (1) nn.Linear(2 -> 2): size mismatch: expected an input of size 2 or a batch N x 2, got 5x3"
    )
    # the error keeps its class
    assert type(err.value).__name__ == "ShapeError"


def test_container_get_and_add_errors() -> None:
    m = nn.Sequential(nn.Tanh())
    with pytest.raises(IndexError, match="index 3 is out of range for 1 modules"):
        m.get(3)
    with pytest.raises(TypeError, match="expected an nn module, got int"):
        m.add(3)  # type: ignore[arg-type]
    assert m.insert(nn.Linear(2, 2), 0).get(0).extra_repr() == "2 -> 2"
    assert isinstance(m.remove(), nn.Tanh) and len(m) == 1 and m.size() == 1


@pytest.mark.device
def test_a_container_of_ones_own_gets_the_fused_update_from_module() -> None:
    class Twice(nn.Container):  # defines only forward and the two backward halves
        def update_output(self, input: Any) -> Any:
            self.output = self.modules[1].forward(self.modules[0].forward(input))
            return self.output

        def update_grad_input(self, input: Any, grad_output: Any) -> Any:
            g = self.modules[1].update_grad_input(self.modules[0].output, grad_output)
            self.grad_input = self.modules[0].update_grad_input(input, g)
            return self.grad_input

        def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
            self.modules[1].acc_grad_parameters(self.modules[0].output, grad_output, scale)
            self.modules[0].acc_grad_parameters(input, self.modules[1].grad_input, scale)

    ft.manual_seed(3)
    fused = Twice(nn.Linear(3, 4), nn.Linear(4, 2))
    plain = fused.clone()
    x, g = ft.randn(5, 3), ft.randn(5, 2)
    fused.forward(x)
    before = [p.clone() for p in fused.parameters()[1]]
    fused.backward_update(x, g, 0.1)
    plain.forward(x)
    plain.zero_grad_parameters()
    plain.backward(x, g)
    plain.update_parameters(0.1)
    for a, b in zip(fused.parameters()[0], plain.parameters()[0], strict=True):
        np.testing.assert_allclose(host(a), host(b), rtol=1e-12, atol=1e-14)
    for a, b in zip(fused.parameters()[1], before, strict=True):  # gradient buffers untouched
        assert a.equal(b)
