"""grad() on the talk's examples, on parameter trees, at higher order, and its errors."""

from __future__ import annotations

import gc
import math
import weakref
from collections import namedtuple
from typing import Any

import numpy as np
import pytest

import flambeau.tensor as ft
from flambeau.autograd import (
    MissingGradientError,
    NonScalarOutputError,
    TracedValueError,
    check_grads,
    checkpoint,
    detach,
    grad,
    jacobian,
    loss,
    primitive,
    util,
)
from flambeau.tensor.testing import host, on_device

pytestmark = pytest.mark.device

# -- the talk ------------------------------------------------------------------------------------


def test_talk_scalars_a_plus_b_times_c() -> None:
    da, value = grad(lambda a, b, c: a + b * c)(3.5, 2.1, 1.1)
    assert float(value) == pytest.approx(5.81)
    assert da == 1.0 and isinstance(da, float)


def test_talk_if_statement() -> None:
    def f(a: Any, b: Any, c: Any) -> Any:
        if b > c:
            return a * ft.sin(b)
        return a / c

    da, value = grad(f)(3.5, 2.1, 1.1)
    assert float(value) == pytest.approx(3.0212327832711, abs=1e-12)
    assert da == pytest.approx(0.86320936664887, abs=1e-13)
    db, _ = grad(f, argnum=1)(3.5, 2.1, 1.1)
    assert db == pytest.approx(3.5 * math.cos(2.1))
    dc, value = grad(f, argnum=2)(3.5, 1.0, 2.0)  # the other branch
    assert float(value) == 1.75 and dc == pytest.approx(-3.5 / 4)


def test_talk_for_loop_and_recursion() -> None:
    def loop(a: Any) -> Any:
        for _ in range(2):
            a = a * a
        return a

    def rec(a: Any, n: int = 2) -> Any:
        return a if n == 0 else rec(a * a, n - 1)

    for f in (loop, rec):
        da, value = grad(f)(3.0)
        assert float(value) == 81.0 and da == 108.0


def test_talk_tensors_with_an_if_on_sums() -> None:
    def f(a: Any, b: Any) -> Any:
        if a.sum() > b.sum():
            return (a * b).sum()
        return (a + b).sum()

    a, b = ft.Tensor([1.0, 2.0, 3.0]), ft.Tensor([0.5, 0.5, 0.5])
    da, value = grad(f)(a, b)
    assert float(value) == 3.0 and da.tolist() == [0.5, 0.5, 0.5]
    da, value = grad(f)(b, a)
    assert float(value) == 7.5 and da.tolist() == [1.0, 1.0, 1.0]


def test_talk_floor_has_a_zero_gradient_and_a_user_rule_passes_it_through() -> None:
    from flambeau.autograd import defvjp, undefvjp

    def f(a: Any) -> Any:
        return ft.floor(a**3).sum()

    da, value = grad(f)(ft.eye(3))
    assert float(value) == 3.0 and da.tolist() == np.zeros((3, 3)).tolist()
    defvjp("floor", lambda g, ans, x: g)
    try:
        da, _ = grad(f)(ft.eye(3))
        assert da.tolist() == (3 * np.eye(3)).tolist()
    finally:
        undefvjp("floor")


def _neural_net(params: dict[str, list[Any]], x: Any, y: Any) -> Any:
    """The talk's neuralNet: W and b lists, tanh hidden layers, squared error."""
    h = x
    for i, (W, b) in enumerate(zip(params["W"], params["b"], strict=True)):
        h = h @ W + b
        if i < len(params["W"]) - 1:
            h = ft.tanh(h)
    return ((h - y) ** 2).sum(), h


def test_talk_neural_net_with_lists_and_its_training_loop() -> None:
    ft.manual_seed(0)
    params = {"W": [ft.randn(4, 8) * 0.5, ft.randn(8, 3) * 0.5], "b": [ft.zeros(8), ft.zeros(3)]}
    x, y = ft.randn(16, 4), ft.randn(16, 3)
    dnet = grad(_neural_net)
    grads, loss, pred = dnet(params, x, y)
    assert set(grads) == {"W", "b"} and [g.size() for g in grads["W"]] == [ft.Size([4, 8]), ft.Size([8, 3])]
    assert pred.size() == ft.Size([16, 3]) and type(pred) is ft.Tensor

    def loss_of(w0: Any, b1: Any) -> Any:
        return _neural_net({"W": [w0, params["W"][1]], "b": [params["b"][0], b1]}, x, y)[0]

    check_grads(loss_of, params["W"][0], params["b"][1], order=2)
    losses = []
    for _ in range(30):
        grads, loss, _ = dnet(params, x, y)
        losses.append(float(loss))
        for k in params:
            params[k] = [p - 0.01 * g for p, g in zip(params[k], grads[k], strict=True)]
    assert losses[-1] < 0.7 * losses[0]


# -- structures ---------------------------------------------------------------------------------


def test_the_gradient_mirrors_nested_dicts_lists_tuples_with_zeros_and_constants() -> None:
    Pair = namedtuple("Pair", "u v")
    params = {
        "a": ft.Tensor([1.0, 2.0]),
        "layers": [(ft.Tensor([3.0]), 2.0), Pair(ft.ones(2), ft.ones(3))],
        "n": 3,
        "flag": True,
        "ids": ft.LongTensor([1, 2]),
        "name": "net",
    }

    def f(p: Any) -> Any:
        return (p["a"] * p["layers"][0][0]).sum() * p["layers"][0][1] + p["layers"][1].u.sum() * p["n"]

    g, value = grad(f)(params)
    assert float(value) == 2 * 9 + 2 * 3
    assert g["a"].tolist() == [6.0, 6.0]
    assert g["layers"][0][0].tolist() == [6.0] and g["layers"][0][1] == 9.0
    assert isinstance(g["layers"][0], tuple) and isinstance(g["layers"][1], Pair)
    assert g["layers"][1].u.tolist() == [3.0, 3.0] and g["layers"][1].v.tolist() == [0.0, 0.0, 0.0]  # unused
    assert g["n"] == 0 and g["flag"] is False and g["name"] is None
    assert g["ids"].tolist() == [0, 0] and g["ids"].type() == params["ids"].type()  # a LongTensor


def test_the_same_tensor_twice_in_the_tree_gets_two_gradients() -> None:
    w = ft.Tensor([2.0])
    g, _ = grad(lambda p: (p[0] * 3 + p[1] * 5).sum())([w, w])
    assert g[0].tolist() == [3.0] and g[1].tolist() == [5.0]


def test_an_output_independent_of_the_input_gives_zeros() -> None:
    g, value = grad(lambda x, y: (y * 2).sum())(ft.ones(3), ft.ones(3))
    assert g.tolist() == [0.0, 0.0, 0.0] and float(value) == 6.0
    g, value = grad(lambda x: 4.0)(2.5)
    assert g == 0.0 and value == 4.0


def test_every_return_value_follows_the_gradient_unboxed() -> None:
    g, loss, extra, aux = grad(lambda x: ((x * x).sum(), x * 2, {"k": [x.exp()]}))(ft.ones(2))
    assert type(extra) is ft.Tensor and extra.tolist() == [2.0, 2.0]
    assert type(aux["k"][0]) is ft.Tensor
    assert g.tolist() == [2.0, 2.0]


def test_float32_parameters_get_float32_gradients() -> None:
    w = ft.ones(3, dtype=ft.float32)
    g, _ = grad(lambda w, x: (w * x).sum())(w, ft.ones(3))  # float64 data promotes the product
    assert g.type() == w.type() and g.dtype == ft.float32 and g.tolist() == [1.0, 1.0, 1.0]


def test_broadcasting_is_undone_in_gradients() -> None:
    b = ft.Tensor([1.0, 2.0, 3.0])
    g, _ = grad(lambda b, x: (x + b).sum())(b, ft.ones(4, 3))
    assert g.tolist() == [4.0, 4.0, 4.0]
    g, _ = grad(lambda s, x: (x * s).sum())(ft.Tensor([[2.0]]), ft.ones(4, 3))
    assert g.size() == ft.Size([1, 1]) and g.item() == 12.0


# -- higher order --------------------------------------------------------------------------------


def test_grad_of_grad_and_third_order() -> None:
    f = lambda x: x**4
    d1 = lambda x: grad(f)(x)[0]
    d2 = lambda x: grad(d1)(x)[0]
    d3 = grad(d2)
    assert d1(2.0) == 32.0 and d2(2.0) == 48.0 and d3(2.0)[0] == 48.0


def test_hessian_vector_product_of_a_tensor_function() -> None:
    A = ft.Tensor([[3.0, 1.0], [1.0, 2.0]])

    def f(x: Any) -> Any:
        return 0.5 * (x * (A @ x)).sum() + ft.sin(x).sum()

    def hvp(x: Any, v: Any) -> Any:
        return grad(lambda x: (grad(f)(x)[0] * v).sum())(x)[0]

    x, v = ft.Tensor([0.3, -0.7]), ft.Tensor([1.0, 2.0])
    expected = host(A) @ host(v) - np.sin(host(x)) * host(v)
    np.testing.assert_allclose(host(hvp(x, v)), expected, rtol=1e-12)


def test_closures_over_outer_traced_values_in_nested_grads() -> None:
    def outer(x: Any) -> Any:
        inner = lambda y: (x * y * y).sum()
        return grad(inner)(ft.ones(1) * 3.0)[0].sum()  # d/dy = 2xy -> 6x

    g, value = grad(outer)(ft.Tensor([2.0]))
    assert float(value) == 12.0 and g.tolist() == [6.0]


def test_jacobian_of_a_vector_function() -> None:
    x = ft.Tensor([1.0, 2.0, 3.0])
    J = jacobian(lambda x: ft.stack([x.prod(), (x * x).sum()]))(x)
    np.testing.assert_allclose(host(J), [[6.0, 3.0, 2.0], [2.0, 4.0, 6.0]])


# -- custom primitives --------------------------------------------------------------------------


def test_a_primitive_with_its_own_gradient_and_a_missing_one() -> None:
    calls = []

    @primitive
    def scaled_square(x: Any, s: Any) -> Any:
        calls.append(type(x))
        return x * x * s

    scaled_square.defvjp(lambda g, ans, x, s: g * 2 * x * s)
    g, value = grad(lambda x: scaled_square(x, 3.0).sum())(ft.Tensor([1.0, 2.0]))
    assert g.tolist() == [6.0, 12.0] and float(value) == 15.0
    assert calls == [ft.Tensor]  # the primitive sees plain values
    with pytest.raises(MissingGradientError, match=r"scaled_square: no gradient rule for argument 1 \('s'\)"):
        grad(lambda s: scaled_square(ft.ones(2), s).sum())(ft.Tensor([2.0]))


def test_a_primitive_whose_rule_is_differentiable_supports_second_order() -> None:
    @primitive
    def cube(x: Any) -> Any:
        return x * x * x

    cube.defvjp(lambda g, ans, x: g * 3 * x * x)
    check_grads(lambda x: cube(x), ft.randn(4), order=2)


# -- errors --------------------------------------------------------------------------------------


def test_a_non_scalar_output_names_its_size_and_points_to_jacobian() -> None:
    with pytest.raises(NonScalarOutputError, match=r"DoubleTensor of size 2x3.*jacobian"):
        grad(lambda x: x * 2)(ft.ones(2, 3))


def test_leaving_the_graph_through_python_numbers_is_explained() -> None:
    for conv in (math.sin, float, int, lambda x: x.numpy(), lambda x: x.item(), lambda x: x.tolist()):
        with pytest.raises(TracedValueError, match=r"silently lose its gradient.*detach"):
            grad(lambda x: conv(x.sum()))(ft.ones(2))  # noqa: B023


def test_detach_makes_a_constant() -> None:
    g, _ = grad(lambda x: (x * detach(x)).sum() + float(detach(x).sum()))(ft.Tensor([3.0]))
    assert g.tolist() == [3.0]


def test_a_traced_value_in_an_argument_without_a_rule_is_an_error_at_the_call() -> None:
    with pytest.raises(MissingGradientError, match=r"fmod: no gradient rule for argument 1 \('other'\)"):
        grad(lambda y: ft.fmod(ft.ones(2) * 3, y).sum())(ft.Tensor([2.0, 2.0]))


def test_argnum_out_of_range() -> None:
    with pytest.raises(TypeError, match="argnum=3"):
        grad(lambda x: x, argnum=3)(1.0)


def test_the_tape_and_saved_values_are_freed_after_the_call() -> None:
    refs = []

    def f(x: Any) -> Any:
        y = ft.tanh(x) * 2
        refs.append(weakref.ref(detach(y)))
        return y.sum()

    grad(f)(ft.ones(1000))
    gc.collect()
    assert refs[0]() is None


# -- in place ------------------------------------------------------------------------------------


def test_in_place_ops_on_traced_tensors_are_recorded_and_leave_the_callers_tensor_alone() -> None:
    def f(x: Any) -> Any:
        x.mul_(3)
        x += 1
        x[0] = x[1] * x[1]
        return x.sum()

    x = ft.Tensor([1.0, 2.0])
    g, value = grad(f)(x)
    assert float(value) == 49.0 + 7.0  # x = [49, 7]
    assert g.tolist() == [0.0, 3.0 + 2 * 7 * 3]  # x[0] overwritten; d/dx1 of 7 + 7**2 with 7 = 3 x1 + 1
    assert x.tolist() == [1.0, 2.0]


def test_modifying_a_tensor_that_a_recorded_op_still_needs_raises() -> None:
    def f(w: Any, x: Any) -> Any:
        y = (w * x).sum()
        x.mul_(2)  # the gradient of w is x: it must not change under the tape
        return y

    with pytest.raises(TracedValueError, match=r"mul_: this tensor .* is argument 1 of mul"):
        grad(f)(ft.ones(2), ft.ones(2))
    x = ft.ones(2)
    g, _ = grad(lambda w, x: (w * x.clone().mul_(2)).sum())(ft.ones(2), x)  # a clone is fine
    assert g.tolist() == [2.0, 2.0] and x.tolist() == [1.0, 1.0]


def test_a_plain_tensor_filled_with_traced_values_is_traced_then_plain_again() -> None:
    out = ft.zeros(3)

    def f(w: Any) -> Any:
        for i in range(3):
            out[i] = w[i] * (i + 1)
        return (out * out).sum()

    g, value = grad(f)(ft.Tensor([1.0, 1.0, 1.0]))
    assert float(value) == 14.0 and g.tolist() == [2.0, 8.0, 18.0]
    assert type(out) is ft.Tensor and out.tolist() == [1.0, 2.0, 3.0]


def test_type_conversions_and_moves_are_traced() -> None:
    double = ft.ones(1, dtype=ft.float64).type()  # "flambeau.DoubleTensor" on the cpu, the device's own name elsewhere

    def f(x: Any) -> Any:
        y = x.float().type(double) * x.to("cpu").to(x.device)  # on another device: there and back
        return (y * x.type_as(ft.ones(1, dtype=ft.float32)).double()).sum()

    g, value = grad(f)(ft.Tensor([1.0, 2.0]))
    assert float(value) == 9.0 and g.tolist() == [3.0, 12.0] and g.type() == double
    check_grads(lambda x: x.double().to("cpu").to(x.device) ** 3, ft.randn(3), order=2)


# -- devices -------------------------------------------------------------------------------------


def test_numbers_index_lists_and_rule_constants_follow_the_arguments_device() -> None:
    """Outside a ``with ft.device(...)`` block, what autograd makes itself lands on its arguments' device."""
    x, m = on_device([1.0, 2.0, 3.0]), on_device(np.arange(12.0).reshape(3, 4))
    table = on_device(np.arange(8.0).reshape(4, 2))
    with ft.device("cpu"):  # the current device is not (necessarily) the arguments' one
        da, value = grad(lambda a, x: (a * x).sum())(0.5, x)  # a Python float: traced on x's device
        assert da == 6.0 and float(value) == 3.0
        da, _ = grad(lambda a, x: checkpoint(lambda a, x: (a * x).sin())(a, x).sum())(0.5, x)
        assert da == pytest.approx(float((x * ft.cos(x * 0.5)).sum()))
        g, _ = grad(lambda t: util.lookup(t, [3, 0, 3]).sum())(table)  # an index list goes to the table's device
        assert g.device == table.device and g.tolist() == [[1.0, 1.0], [0.0, 0.0], [0.0, 0.0], [2.0, 2.0]]
        value, _ = loss.margin(x, [1.0, 0.0, 0.0])  # a target list, likewise
        assert float(value) == 5.0  # margin 1 - (1 - 2) and 1 - (1 - 3)
        g, _ = grad(lambda t: (ft.diag(t, 1) * x).sum() + ft.trace(t))(m)  # the rules' own constants
        assert g.device == m.device
        assert host(g).tolist() == [[1.0, 1.0, 0.0, 0.0], [0.0, 1.0, 2.0, 0.0], [0.0, 0.0, 1.0, 3.0]]
