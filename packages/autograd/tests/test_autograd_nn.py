"""flambeau.autograd.nn: nn modules as functions for grad, their gradients from nn's backward."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import flambeau.autograd as ag
import flambeau.autograd.nn as agnn
import flambeau.nn as nn
import flambeau.tensor as ft
from flambeau.autograd import check_grads, grad
from flambeau.autograd.nn import FunctionalModule, functionalize
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, ShapeError
from flambeau.tensor.testing import host


def close(a: Any, b: Any, tol: float = 1e-10) -> None:
    if isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b)
        for u, v in zip(a, b, strict=True):
            close(u, v, tol)
        return
    assert isinstance(a, Tensor) and isinstance(b, Tensor)
    assert tuple(a.size()) == tuple(b.size())
    np.testing.assert_allclose(host(a), host(b), rtol=tol, atol=tol)


def clone_tree(x: Any) -> Any:
    return [clone_tree(v) for v in x] if isinstance(x, list) else x.clone()


def randn_like_tree(x: Any) -> Any:
    return [randn_like_tree(v) for v in x] if isinstance(x, list) else ft.randn(*x.size())


def flat(x: Any) -> list[Tensor]:
    return [t for v in x for t in flat(v)] if isinstance(x, list) else [x]


# (name, module factory, input factory): modules with and without parameters, containers, tables.
MODULES: list[tuple[str, Callable[[], nn.Module], Callable[[], Any]]] = [
    ("Linear", lambda: nn.Linear(4, 3), lambda: ft.randn(5, 4)),
    ("SpatialConvolution", lambda: nn.SpatialConvolution(2, 3, 3, 3, 1, 1, 1, 1), lambda: ft.randn(2, 2, 5, 5)),
    ("Tanh", lambda: nn.Tanh(), lambda: ft.randn(3, 4)),
    ("LogSoftMax", lambda: nn.LogSoftMax(), lambda: ft.randn(3, 5)),
    (
        "Sequential",
        lambda: nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3), nn.LogSoftMax()),
        lambda: ft.randn(5, 4),
    ),
    ("CAddTable", lambda: nn.CAddTable(), lambda: [ft.randn(3, 4), ft.randn(3, 4)]),
    ("MM", lambda: nn.MM(), lambda: [ft.randn(2, 3, 4), ft.randn(2, 4, 5)]),
    ("ConcatTable", lambda: nn.ConcatTable(nn.Linear(4, 2), nn.Tanh()), lambda: ft.randn(3, 4)),
]
IDS = [m[0] for m in MODULES]


def call(f: FunctionalModule, params: list[Tensor], x: Any) -> Any:
    return f(params, x) if params else f(x)


@pytest.mark.device
@pytest.mark.parametrize(("name", "make", "make_input"), MODULES, ids=IDS)
def test_forward_equals_the_module(name: str, make: Any, make_input: Any) -> None:
    m = make()
    x = make_input()
    f, params = functionalize(m)
    assert params == m.parameters()[0] and all(p is q for p, q in zip(params, m.parameters()[0], strict=True))
    out = call(f, params, x)
    close(out, m.forward(x), 0)
    kept = clone_tree(out)
    m.forward(randn_like_tree(x))  # the module reuses its output buffer: ours was a copy
    close(out, kept, 0)


@pytest.mark.device
@pytest.mark.parametrize(("name", "make", "make_input"), MODULES, ids=IDS)
def test_gradient_equals_the_module_backward(name: str, make: Any, make_input: Any) -> None:
    m = make()
    x = make_input()
    f, params = functionalize(m)
    w = randn_like_tree(m.forward(x))

    def loss(params: list[Tensor], x: Any) -> Any:
        out = call(f, params, x)
        return sum(((o * u).sum() for o, u in zip(flat(out), flat(w), strict=True)), ft.tensor(0.0))

    (dparams, dx), value = grad(loss, argnum=(0, 1))(params, x)
    m.zero_grad_parameters()
    m.forward(x)
    gin = m.backward(x, w)
    close(dparams, m.parameters()[1])
    close(dx, gin)
    assert float(value) == pytest.approx(float(loss(params, x)))


@pytest.mark.device
@pytest.mark.parametrize(("name", "make", "make_input"), MODULES, ids=IDS)
def test_check_grads(name: str, make: Any, make_input: Any) -> None:
    m = make()
    x = make_input()
    f, params = functionalize(m)
    n = len(params)
    xs = flat(x)

    def g(*ts: Tensor) -> Any:
        inputs = list(ts[n:]) if isinstance(x, list) else ts[n]
        out = call(f, list(ts[:n]), inputs)
        return tuple(flat(out)) if isinstance(out, list) else out

    check_grads(g, *params, *xs, order=1)


CRITERIA = [
    (
        "ClassNLLCriterion",
        nn.ClassNLLCriterion,
        lambda x: nn.LogSoftMax().forward(x).clone(),
        lambda: ft.LongTensor([0, 2, 1, 2]),
    ),
    ("MSECriterion", nn.MSECriterion, lambda x: x, lambda: ft.randn(4, 3)),
]


@pytest.mark.device
@pytest.mark.parametrize(("name", "make", "make_input", "make_target"), CRITERIA, ids=[c[0] for c in CRITERIA])
def test_criteria_forward_backward_and_check_grads(name: str, make: Any, make_input: Any, make_target: Any) -> None:
    crit = make()
    inp, t = make_input(ft.randn(4, 3)), make_target()
    f, params = functionalize(crit)
    assert params == []
    out = f(inp, t)
    assert out.dim() == 0 and float(out) == crit.forward(inp, t)
    dx, value = grad(lambda x: 3.0 * f(x, t))(inp)
    close(dx, 3.0 * crit.backward(inp, t))
    check_grads(lambda x: f(x, t), inp, order=1)


@pytest.mark.device
def test_parallel_criterion_table_input() -> None:
    crit = nn.ParallelCriterion().add(nn.MSECriterion(), 0.5).add(nn.AbsCriterion())
    x, t = [ft.randn(3, 2), ft.randn(4)], [ft.randn(3, 2), ft.randn(4)]
    f, _ = functionalize(crit)
    assert float(f(x, t)) == pytest.approx(crit.forward(x, t))
    dx, _ = grad(lambda x: f(x, t))(x)
    close(dx, crit.backward(x, t))


@pytest.mark.device
def test_container_equals_its_forward_and_backward() -> None:
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    f, params = functionalize(model)
    assert len(params) == 4 and tuple(params[0].size()) == (8, 5)  # nn's layout: out x in
    x, y = ft.randn(6, 5), ft.randn(6, 3)
    crit = nn.MSECriterion()
    dparams, loss = grad(lambda p: crit_f(f(p, x), y))(params)
    model.zero_grad_parameters()
    expect = crit.forward(model.forward(x), y)
    model.backward(x, crit.backward(model.output, y))
    assert float(loss) == pytest.approx(expect, rel=1e-12)
    close(dparams, model.parameters()[1])


crit_f = agnn.MSECriterion()


@pytest.mark.device
def test_mixed_with_hand_written_autograd_code() -> None:
    linear, params = agnn.Linear(4, 3)
    w2 = ft.randn(3, 2)
    x = ft.randn(5, 4)

    def mixed(params: list[Tensor], w2: Tensor, x: Tensor) -> Any:
        h = ft.tanh(linear(params, x * 2.0))
        return ((h @ w2) ** 2).sum()

    def by_hand(params: list[Tensor], w2: Tensor, x: Tensor) -> Any:
        h = ft.tanh((x * 2.0) @ params[0].t() + params[1])
        return ((h @ w2) ** 2).sum()

    (dp, dw, dx), value = grad(mixed, argnum=(0, 1, 2))(params, w2, x)
    (ep, ew, ex), expect = grad(by_hand, argnum=(0, 1, 2))(params, w2, x)
    assert float(value) == pytest.approx(float(expect), rel=1e-12)
    close(dp, ep)
    close(dw, ew)
    close(dx, ex)
    check_grads(lambda w, b, w2, x: mixed([w, b], w2, x), *params, w2, x, order=1)


@pytest.mark.device
def test_the_same_layer_twice_sums_the_gradients() -> None:
    linear, params = agnn.Linear(3, 3)
    tanh = agnn.Tanh()
    x = ft.randn(4, 3)

    def twice(params: list[Tensor], x: Tensor) -> Any:
        return (linear(params, tanh(linear(params, x))) ** 2).sum()

    def by_hand(params: list[Tensor], x: Tensor) -> Any:
        w, b = params
        return ((ft.tanh(x @ w.t() + b) @ w.t() + b) ** 2).sum()

    dp, value = grad(twice)(params, x)
    ep, expect = grad(by_hand)(params, x)
    assert float(value) == pytest.approx(float(expect), rel=1e-12)
    close(dp, ep)
    check_grads(lambda w, b, x: twice([w, b], x), *params, x, order=1)


@pytest.mark.device
def test_params_other_than_the_module_own_are_used() -> None:
    m = nn.Linear(3, 2)
    f, params = functionalize(m)
    other = [ft.randn(2, 3), ft.randn(2)]
    x = ft.randn(4, 3)
    close(f(other, x), x @ other[0].t() + other[1])
    dp, _ = grad(lambda p: f(p, x).sum())(other)
    close(dp, [ft.ones(4, 2).t() @ x, ft.full(2, fill_value=4.0)])
    assert all(p is q for p, q in zip(params, m.parameters()[0], strict=True))
    close(m.forward(x), x @ params[0].t() + params[1])  # the module's own parameters are unchanged
    params[0].add_(1.0)  # an in-place step on the returned params updates the module
    close(f(params, x), m.forward(x), 0)
    with pytest.raises(ShapeError, match="out x in"):
        f([ft.randn(3, 2), ft.randn(2)], x)
    with pytest.raises(ArgumentError, match="list of the module's 2 parameter"):
        f(other[0], x)


@pytest.mark.device
def test_in_place_modules_do_not_overwrite_traced_values() -> None:
    relu = agnn.ReLU(True)
    add = agnn.CAddTable(True)
    x, w = ft.randn(4, 3), ft.randn(4, 3)

    def f(x: Tensor) -> Any:
        t = ft.tanh(x)  # tanh's gradient reads its output: an in-place write into it would spoil it
        return (add([relu(t), t]) * w).sum()

    def by_hand(x: Tensor) -> Any:
        t = ft.tanh(x)
        return ((t.clamp(min=0.0) + t) * w).sum()

    dx, value = grad(f)(x)
    ex, expect = grad(by_hand)(x)
    assert float(value) == pytest.approx(float(expect), rel=1e-12)
    close(dx, ex)


@pytest.mark.device
def test_float32_params_make_the_module_run_in_float32() -> None:
    # "flambeau.FloatTensor", "flambeau.DoubleTensor" on the cpu; the device's own names elsewhere
    float_t, double_t = ft.ones(1, dtype=ft.float32).type(), ft.ones(1, dtype=ft.float64).type()
    m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    f, params = functionalize(m)
    x = ft.randn(5, 3)
    dp64, _ = grad(lambda p: f(p, x).sum())(params)
    p32 = [p.float() for p in params]
    x32 = x.float()
    out = f(p32, x32)
    assert out.type() == float_t
    assert m.get(1).output.type() == float_t and m.get(2).grad_weight.type() == float_t
    assert [p.type() for p in params] == [double_t] * 4  # the caller's tensors are left alone
    dp32, _ = grad(lambda p: f(p, x32).sum())(p32)
    assert [d.type() for d in dp32] == [float_t] * 4
    close([d.double() for d in dp32], dp64, 1e-5)
    dp, _ = grad(lambda p: f(p, x).sum())(params)  # back to double: the module follows again
    assert m.get(1).output.type() == double_t
    close(dp, dp64)


def test_device_move_with_the_boxed_backend() -> None:
    try:
        dev = ft.device("boxed")
    except ft.DeviceError:
        pytest.skip("no second device (the 'boxed' test backend is not installed)")
    m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    f, params = functionalize(m)
    x = ft.randn(5, 3)
    dp_cpu, _ = grad(lambda p: f(p, x).sum())(params)
    pb = [p.to(dev) for p in params]
    xb = x.to(dev)
    dp_b, _ = grad(lambda p: f(p, xb).sum())(pb)
    assert m.get(1).output.type() == "flambeau.boxed.DoubleTensor"
    assert [p.type() for p in params] == ["flambeau.DoubleTensor"] * 4
    assert all(d.type() == "flambeau.boxed.DoubleTensor" for d in dp_b)
    close([d.to("cpu") for d in dp_b], dp_cpu)


@pytest.mark.device
def test_nn_constructors() -> None:
    linear, params = agnn.Linear(784, 50)
    assert isinstance(linear, FunctionalModule) and isinstance(linear.module, nn.Linear)
    assert [tuple(p.size()) for p in params] == [(50, 784), (50,)]
    tanh = agnn.Tanh()
    assert isinstance(tanh, FunctionalModule)
    close(tanh(ft.zeros(2)), ft.zeros(2), 0)
    nll = agnn.ClassNLLCriterion()
    assert float(nll(ft.tensor([[-1.0, -2.0]]), ft.LongTensor([1]))) == 2.0
    conv, cparams = agnn.SpatialConvolution(1, 2, 3, 3, pad_w=1, pad_h=1)
    assert conv(cparams, ft.randn(1, 4, 4)).size() == ft.Size([2, 4, 4])
    assert "Linear" in dir(agnn) and "ClassNLLCriterion" in dir(agnn) and "functionalize" in dir(agnn)
    with pytest.raises(AttributeError, match="NoSuchLayer"):
        agnn.NoSuchLayer  # noqa: B018
    with pytest.raises(AttributeError, match="not a module or criterion class"):
        agnn.jacobian  # noqa: B018
    assert agnn.Linear.__name__ == "Linear"


@pytest.mark.device
def test_batch_normalization_in_training_mode() -> None:
    bn = nn.BatchNormalization(3)
    f, params = functionalize(bn)
    x = ft.randn(6, 3)
    check_grads(lambda w, b, x: f([w, b], x), *params, x, order=1)


@pytest.mark.device
def test_second_order_is_refused_clearly() -> None:
    linear, params = agnn.Linear(2, 2)
    x = ft.randn(3, 2)

    def g(p: list[Tensor]) -> Any:
        return grad(lambda q: (linear(q, x) ** 2).sum())(p)[0][0].sum()

    with pytest.raises(ag.TracedValueError, match="first-order"):
        grad(g)(params)


def test_standalone_import() -> None:
    import importlib
    import subprocess
    import sys

    code = (
        "import flambeau.autograd.nn as m, flambeau.tensor as ft; f, p = m.Linear(2, 1);"
        " print(tuple(f(p, ft.ones(1, 2)).size()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(1, 1)"
    assert importlib.import_module("flambeau.autograd.nn") is agnn
