"""AutoModule / AutoCriterion: nn modules defined by a function, their backward derived by grad."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import flambeau.nn as nn
import flambeau.tensor as ft
from flambeau.autograd import check_grads, grad
from flambeau.autograd.automodule import AutoCriterion, AutoModule
from flambeau.autograd.nn import functionalize
from flambeau.nn.jacobian import test_jacobian as jacobian_error
from flambeau.nn.jacobian import test_jacobian_parameters as jacobian_parameters_error
from flambeau.tensor import Tensor
from flambeau.tensor.errors import SerializationError
from flambeau.tensor.testing import host


def linear(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    out = x @ w.t()
    return out if b is None else out + b


def tanh_linear(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return ft.tanh(x @ w.t() + b)


def bilinear_table(xs: list[Tensor], w: Tensor) -> Tensor:
    return ((xs[0] @ w) * xs[1]).sum(1)


def mse(x: Tensor, t: Tensor) -> Tensor:
    return ((x - t) ** 2).mean()


def same(a: Tensor, b: Tensor, tol: float = 1e-12) -> None:
    assert tuple(a.size()) == tuple(b.size())
    np.testing.assert_allclose(host(a), host(b), rtol=tol, atol=tol)


@pytest.mark.device
def test_trained_with_sgd_like_the_hand_written_linear() -> None:
    ref = nn.Linear(5, 3)
    auto = AutoModule(linear, ref.weight.clone(), ref.bias.clone(), name="Linear")
    crit = nn.MSECriterion()
    true_w = ft.randn(3, 5)
    losses = []
    for _ in range(300):
        x = ft.randn(8, 5)
        y = x @ true_w.t()
        for m in (ref, auto):
            m.zero_grad_parameters()
            loss = crit.forward(m.forward(x), y)
            m.backward(x, crit.backward(m.output, y))
            m.update_parameters(0.05)
        losses.append(loss)
    assert losses[-1] < 0.01 * losses[0]
    for p, q in zip(ref.parameters()[0], auto.parameters()[0], strict=True):
        assert float((p - q).abs().max()) < 1e-6
    for p, q in zip(ref.parameters()[1], auto.parameters()[1], strict=True):
        same(p, q, 1e-9)


@pytest.mark.device
def test_module_fields_parameters_and_backward() -> None:
    w, b = ft.randn(3, 4), ft.randn(3)
    m = AutoModule(tanh_linear, w, b)
    assert m.weight is w and m.bias is b and m.parameters()[0] == [w, b]
    assert m.parameters()[1] == [m.grad_weight, m.grad_bias]
    assert repr(m) == "nn.AutoModule(tanh_linear)"
    x, g = ft.randn(2, 4), ft.randn(2, 3)
    same(m.forward(x), ft.tanh(x @ w.t() + b))
    m.zero_grad_parameters()
    gin = m.backward(x, g, 0.5)
    d = g * (1 - ft.tanh(x @ w.t() + b) ** 2)
    same(gin, d @ w)
    same(m.grad_weight, 0.5 * d.t() @ x)
    same(m.grad_bias, 0.5 * d.sum(0))
    m.acc_grad_parameters(x, g)  # called alone: traced on its own, and accumulates
    same(m.grad_weight, 1.5 * d.t() @ x)


@pytest.mark.device
def test_no_bias_extra_parameters_and_table_input() -> None:
    m = AutoModule(linear, ft.randn(2, 3), None)
    assert m.bias is None and len(m.parameters()[0]) == 1
    x = ft.randn(4, 3)
    same(m.forward(x), x @ m.weight.t())
    t = AutoModule(bilinear_table, ft.randn(3, 2))
    xs = [ft.randn(5, 3), ft.randn(5, 2)]
    assert t.forward(xs).size() == ft.Size([5])
    gin = t.backward(xs, ft.ones(5))
    same(gin[0], xs[1] @ t.weight.t())
    same(gin[1], xs[0] @ t.weight)
    with pytest.raises(ft.ArgumentError, match="float tensor or None"):
        AutoModule(linear, ft.LongTensor([1]))


@pytest.mark.device
def test_auto_criterion_equals_mse_criterion() -> None:
    auto, ref = AutoCriterion(mse, name="MSE"), nn.MSECriterion()
    x, t = ft.randn(4, 3), ft.randn(4, 3)
    assert auto.forward(x, t) == pytest.approx(ref.forward(x, t), rel=1e-14)
    same(auto.backward(x, t), ref.backward(x, t))
    assert repr(auto) == "nn.AutoCriterion(MSE)"


@pytest.mark.device
def test_auto_criterion_takes_the_first_of_a_tuple() -> None:
    crit = AutoCriterion(lambda x, t: (((x - t) ** 2).sum(), x))
    x, t = ft.randn(3), ft.randn(3)
    assert crit.forward(x, t) == pytest.approx(float(((x - t) ** 2).sum()))
    same(crit.backward(x, t), 2 * (x - t))


@pytest.mark.device
def test_functionalized_auto_module_matches_plain_autograd() -> None:
    m = AutoModule(tanh_linear, ft.randn(3, 4), ft.randn(3))
    f, params = functionalize(m)
    x = ft.randn(2, 4)
    (dp, dx), value = grad(lambda p, x: (f(p, x) ** 2).sum(), argnum=(0, 1))(params, x)
    (ep, ex), expect = grad(lambda p, x: (tanh_linear(x, *p) ** 2).sum(), argnum=(0, 1))(params, x)
    assert float(value) == pytest.approx(float(expect), rel=1e-12)
    for a, b in zip([*dp, dx], [*ep, ex], strict=True):
        same(a, b)
    check_grads(lambda w, b, x: f([w, b], x), *params, x, order=1)


@pytest.mark.device
def test_jacobian_checks() -> None:
    m = AutoModule(tanh_linear, ft.randn(3, 4), ft.randn(3))
    x = ft.randn(2, 4)
    assert jacobian_error(m, x) < 1e-8
    assert jacobian_parameters_error(m, x, m.weight, m.grad_weight) < 1e-8
    assert jacobian_parameters_error(m, x, m.bias, m.grad_bias) < 1e-8


def test_save_and_load(tmp_path: Path) -> None:
    m = AutoModule(tanh_linear, ft.randn(3, 4), ft.randn(3), name="layer")
    model = nn.Sequential(m, nn.Linear(3, 2))
    crit = AutoCriterion(mse)
    x = ft.randn(5, 4)
    out = model.forward(x)
    path = tmp_path / "model.flb"
    ft.save(str(path), {"model": model, "crit": crit})
    back = ft.load(str(path))
    loaded, lcrit = back["model"], back["crit"]
    assert type(loaded.get(0)) is AutoModule and loaded.get(0).fn is tanh_linear and loaded.get(0).name == "layer"
    assert type(lcrit) is AutoCriterion and lcrit.fn is mse
    same(loaded.forward(x), out, 0)
    y = ft.randn(5, 2)
    loaded.zero_grad_parameters()
    model.zero_grad_parameters()
    for mod, c in ((model, crit), (loaded, lcrit)):
        c.forward(mod.forward(x), y)
        mod.backward(x, c.backward(mod.output, y))
    for p, q in zip(model.parameters()[1], loaded.parameters()[1], strict=True):
        same(p, q, 0)
    assert loaded.get(0).weight is loaded.parameters()[0][0]  # fields and parameters() agree after loading
    clone = m.clone()
    same(clone.forward(x), m.forward(x), 0)


def test_saving_a_lambda_or_local_function_says_what_to_do(tmp_path: Path) -> None:
    m = AutoModule(lambda x, w: x * w, ft.ones(2))
    with pytest.raises(SerializationError, match=r"<lambda>, a lambda.*top level of a module"):
        ft.save(str(tmp_path / "m.flb"), m)

    def local(x: Tensor, t: Tensor) -> Tensor:
        return (x - t).sum()

    with pytest.raises(SerializationError, match="local.*defined inside another function"):
        ft.serialize(AutoCriterion(local))


def test_subclass_saves_its_function_too() -> None:
    class Scaled(AutoModule):
        pass

    assert "flambeau.nn.Scaled" in ft.registered_types()
    with pytest.raises(SerializationError, match="lambda"):
        ft.serialize(Scaled(lambda x, w: x * w, ft.ones(2)))
    back = ft.deserialize(ft.serialize(Scaled(linear, ft.ones(2, 2), None)))
    assert type(back) is Scaled and back.fn is linear


@pytest.mark.device
def test_type_conversion() -> None:
    float_t = ft.ones(1, dtype=ft.float32).type()  # "flambeau.FloatTensor" on the cpu, the device's name elsewhere
    m = AutoModule(linear, ft.randn(2, 3), ft.randn(2)).float()
    assert [p.type() for p in m.parameters()[0] + m.parameters()[1]] == [float_t] * 4
    x = ft.randn(4, 3).float()
    assert m.forward(x).type() == float_t
    assert m.backward(x, ft.ones(4, 2).float()).type() == float_t
    assert m.grad_weight.type() == float_t


def test_loading_a_function_that_is_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    data = ft.serialize(AutoCriterion(mse))
    monkeypatch.delattr(sys.modules[__name__], "mse")
    with pytest.raises(SerializationError, match="cannot load its function 'mse'"):
        ft.deserialize(data)
