"""argnum tuples, value_and_grad, elementwise_grad, make_vjp, jvp/make_jvp, hessian and hvp.

Checked against analytic derivatives computed with numpy, against jacobian() (an independent
path: one reverse sweep per output element), and against central finite differences.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import flambeau.tensor as ft
from flambeau.autograd import (
    elementwise_grad,
    grad,
    hessian,
    hessian_vector_product,
    hvp,
    jacobian,
    jvp,
    make_jvp,
    make_vjp,
    util,
    value_and_grad,
)
from flambeau.tensor.errors import ArgumentError, ShapeError
from flambeau.tensor.testing import host

pytestmark = pytest.mark.device


def _np(x: Any) -> np.ndarray:
    return np.asarray(host(x), dtype=float)


def _fd_jvp(f: Any, x: ft.Tensor, v: ft.Tensor, eps: float = 1e-6) -> np.ndarray:
    """Central difference of ``f`` at ``x`` along ``v`` (float64)."""
    return (_np(f(x + eps * v)) - _np(f(x - eps * v))) / (2 * eps)


def _softmax(x: Any) -> Any:
    e = ft.exp(x - 1.0)
    return e / e.sum(1, keepdim=True)


# Functions that are not element-wise: each output element mixes several inputs.
A = ft.randn(3, 4)  # made on import, on the cpu: moved to the device under test when used
NON_ELEMENTWISE = {
    "matmul": lambda x: A.to(x.device) @ ft.tanh(x),  # x: 4x2 -> 3x2
    "reduce": lambda x: (x * x).sum(1) * x.prod(0).sum(),  # x: 4x2 -> 4
    "softmax": _softmax,  # x: 4x2 -> 4x2
    "scalar": lambda x: ft.log((x @ x.t()).exp().sum()),  # x: 4x2 -> one element, 0-d
}


# -- argnum tuples ---------------------------------------------------------------------------------


def _loss(params: dict[str, Any], xs: list[Any], scale: Any, y: Any) -> Any:
    pred = ft.tanh(xs[0] @ params["W"] + params["b"]) * scale + xs[1].sum()
    return ((pred - y) ** 2).sum(), pred


def _loss_args() -> tuple[Any, ...]:
    params = {"W": ft.randn(3, 2), "b": ft.randn(2)}
    return params, [ft.randn(4, 3), ft.randn(5)], 1.5, ft.randn(4, 2)


def test_an_argnum_tuple_gives_one_gradient_per_argument_like_separate_calls() -> None:
    args = _loss_args()
    (dp, dxs, dscale), value, pred = grad(_loss, argnum=(0, 1, 2))(*args)
    ref = [grad(_loss, argnum=i)(*args) for i in range(3)]
    assert sorted(dp) == ["W", "b"] and isinstance(dxs, list) and len(dxs) == 2
    for k in ("W", "b"):
        np.testing.assert_allclose(_np(dp[k]), _np(ref[0][0][k]), rtol=1e-12)
    for got, want in zip(dxs, ref[1][0], strict=True):
        np.testing.assert_allclose(_np(got), _np(want), rtol=1e-12)
    assert isinstance(dscale, float) and dscale == pytest.approx(ref[2][0], rel=1e-12)
    np.testing.assert_allclose(_np(value), _np(ref[0][1]))
    np.testing.assert_allclose(_np(pred), _np(ref[0][2]))


def test_an_argnum_tuple_keeps_its_order_and_takes_negative_positions() -> None:
    args = _loss_args()
    (dy, dp), _, _ = grad(_loss, argnum=(-1, 0))(*args)
    params, xs, scale, y = args
    pred = np.tanh(_np(xs[0]) @ _np(params["W"]) + _np(params["b"])) * scale + _np(xs[1]).sum()
    np.testing.assert_allclose(_np(dy), -2 * (pred - _np(y)), rtol=1e-12)
    ref = grad(_loss)(*args)[0]
    for k in ("W", "b"):
        np.testing.assert_allclose(_np(dp[k]), _np(ref[k]), rtol=1e-12)
    (single,) = grad(lambda a, b: a * b, argnum=(1,))(2.0, 5.0)[:1]
    assert single == (2.0,)  # a one-element tuple stays a tuple
    assert grad(lambda a, b: a * b, argnum=-1)(2.0, 5.0)[0] == 2.0  # one int: no tuple


def test_the_same_tensor_in_two_arguments_gets_each_its_partial() -> None:
    x = ft.Tensor([1.0, 2.0])
    (da, db), _ = grad(lambda a, b: (a * a * b).sum(), argnum=(0, 1))(x, x)
    assert da.tolist() == [2.0, 8.0] and db.tolist() == [1.0, 4.0]  # 2ab and a^2


@pytest.mark.parametrize(
    ("argnum", "match"),
    [
        ((0, 3), r"grad: argnum=\(0, 3\) but the function was called with 3 positional argument\(s\); 3 is out"),
        ((0, -3), r"grad: argnum=\(0, -3\) names argument 0 twice \(the function was called with 3 positional"),
        ([1, 1], r"grad: argnum=\[1, 1\] names argument 1 twice"),
        (5, r"grad: argnum=5 but the function was called with 3 positional argument\(s\)$"),
    ],
)
def test_bad_argnums_are_argument_errors_naming_grad_the_argnum_and_the_count(argnum: Any, match: str) -> None:
    with pytest.raises(ArgumentError, match=match):
        grad(lambda a, b, c: a * b * c, argnum=argnum)(1.0, 2.0, 3.0)


def test_argnums_that_are_not_ints_are_refused_when_the_transform_is_made() -> None:
    with pytest.raises(ArgumentError, match=r"grad: argnum=\(\) names no argument"):
        grad(lambda a: a, argnum=())
    with pytest.raises(ArgumentError, match=r"jacobian: argnum must be an int or a tuple of ints, got \(0, 'b'\)"):
        jacobian(lambda a: a, argnum=(0, "b"))  # type: ignore[arg-type]
    for make in (value_and_grad, elementwise_grad, make_vjp, make_jvp, jvp, hessian, hvp):
        with pytest.raises(ArgumentError, match="argnum must be an int"):
            make(lambda a: a, argnum=1.0)  # type: ignore[arg-type]


def test_jacobian_with_an_argnum_tuple() -> None:
    x, W = ft.randn(3), ft.randn(2, 3)
    Jx, JW = jacobian(lambda w, x: ft.tanh(w @ x), argnum=(1, 0))(W, x)
    assert Jx.size() == ft.Size([2, 3]) and JW.size() == ft.Size([2, 2, 3])
    np.testing.assert_allclose(_np(Jx), _np(jacobian(lambda w, x: ft.tanh(w @ x), argnum=1)(W, x)))
    s = 1 - np.tanh(_np(W) @ _np(x)) ** 2
    want = np.einsum("ik,j->ikj", np.diag(s), _np(x))
    np.testing.assert_allclose(_np(JW), want, rtol=1e-12)
    with pytest.raises(ArgumentError, match=r"jacobian: argnum=\(1, 1\) names argument 1 twice"):
        jacobian(lambda w, x: w @ x, argnum=(1, 1))(W, x)


# -- value_and_grad and elementwise_grad ----------------------------------------------------------


def test_value_and_grad_puts_the_value_first() -> None:
    x = ft.randn(5)
    value, g = value_and_grad(lambda x: (ft.sin(x) * x).sum())(x)
    assert type(value) is ft.Tensor
    assert float(value) == pytest.approx(float((np.sin(_np(x)) * _np(x)).sum()), rel=1e-12)
    np.testing.assert_allclose(_np(g), np.cos(_np(x)) * _np(x) + np.sin(_np(x)), rtol=1e-12)
    args = _loss_args()
    value, (dp, dy) = value_and_grad(_loss, argnum=(0, 3))(*args)  # f returns (loss, pred): value is loss
    ref = grad(_loss, argnum=(0, 3))(*args)
    assert float(value) == float(ref[1])
    np.testing.assert_allclose(_np(dy), _np(ref[0][1]))
    np.testing.assert_allclose(_np(dp["W"]), _np(ref[0][0]["W"]))


def test_elementwise_grad_of_tanh_and_of_a_power() -> None:
    x = ft.randn(3, 4)
    np.testing.assert_allclose(_np(elementwise_grad(ft.tanh)(x)), 1 - np.tanh(_np(x)) ** 2, rtol=1e-12)
    g = elementwise_grad(lambda a, b: a**3 * b, argnum=1)(x, ft.ones(4))  # b broadcast: column sums
    np.testing.assert_allclose(_np(g), (_np(x) ** 3).sum(0), rtol=1e-12)
    assert elementwise_grad(lambda a: a * a)(3.0) == 6.0


def test_elementwise_grad_of_a_mixing_function_sums_the_jacobian_rows() -> None:
    x = ft.randn(4, 2)
    f = NON_ELEMENTWISE["matmul"]
    np.testing.assert_allclose(_np(elementwise_grad(f)(x)), _np(jacobian(f)(x)).sum((0, 1)), rtol=1e-12)


# -- make_vjp --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(NON_ELEMENTWISE))
def test_make_vjp_matches_the_jacobian_for_several_cotangents(name: str) -> None:
    f = NON_ELEMENTWISE[name]
    x = ft.randn(4, 2)
    vjp, ans = make_vjp(f)(x)
    np.testing.assert_allclose(_np(ans), _np(f(x)))
    J = _np(jacobian(f)(x)).reshape(ans.numel(), -1)
    for _ in range(3):
        u = ft.randn(*ans.size())
        got = vjp(u)
        assert got.size() == x.size()
        np.testing.assert_allclose(_np(got).ravel(), _np(u).ravel() @ J, rtol=1e-10, atol=1e-12)


def test_make_vjp_details() -> None:
    x = ft.Tensor([1.0, 2.0])
    vjp, ans = make_vjp(lambda x: x)(x)  # the output is the input itself
    v = ft.Tensor([3.0, 4.0])
    g = vjp(v)
    assert g.tolist() == [3.0, 4.0] and g is not v
    vjp, ans = make_vjp(lambda x: x * 2.0)(x)
    assert vjp(1.5).tolist() == [3.0, 3.0]  # a number: a tensor of the output's size full of it
    assert vjp(ft.LongTensor([1, 0])).tolist() == [2.0, 0.0]  # an integer cotangent is cast
    with pytest.raises(ShapeError, match=r"make_vjp: the vector has size 3, but f's output is of size 2"):
        vjp(ft.ones(3))
    vjp, ans = make_vjp(lambda a, b: a * b + 1.0, argnum=(0, 1))(2.0, 5.0)
    assert float(ans) == 11.0 and vjp(1.0) == (5.0, 2.0)
    vjp, ans = make_vjp(lambda x, y: y * 2)(x, ft.ones(2))  # not depending on x
    assert vjp(ft.ones(2)).tolist() == [0.0, 0.0]
    with pytest.raises(ArgumentError, match="make_vjp: f must return one tensor"):
        make_vjp(lambda x: (x, x))(x)


# -- jvp and make_jvp ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(NON_ELEMENTWISE))
def test_jvp_matches_the_jacobian_and_finite_differences(name: str) -> None:
    f = NON_ELEMENTWISE[name]
    x = ft.randn(4, 2)
    J = _np(jacobian(f)(x))
    out_shape = J.shape[: J.ndim - 2]
    J = J.reshape(-1, 8)
    product = make_jvp(f)(x)
    for _ in range(2):
        v = ft.randn(4, 2)
        ans, Jv = product(v)
        assert Jv.size() == ans.size() and tuple(Jv.size()) == out_shape
        np.testing.assert_allclose(_np(Jv).ravel(), J @ _np(v).ravel(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(_np(Jv), _fd_jvp(f, x, v), rtol=1e-6, atol=1e-7)
        value, Jv2 = jvp(f)(x, v)
        np.testing.assert_allclose(_np(Jv2), _np(Jv), rtol=1e-12)
        np.testing.assert_allclose(_np(value), _np(f(x)))


def test_jvp_of_python_floats_trees_and_argnum_tuples() -> None:
    ans, d = jvp(lambda a, b: ft.sin(a) * b)(0.5, 3.0, 2.0)
    assert float(ans) == pytest.approx(np.sin(0.5) * 3.0) and float(d) == pytest.approx(2 * np.cos(0.5) * 3.0)
    W, x = ft.randn(3, 4), ft.randn(4)
    f = lambda p, x: ft.tanh(p["W"] @ x) * p["s"]
    p = {"W": W, "s": 2.0}
    t = {"W": ft.randn(3, 4), "s": 0.5}
    _, d = jvp(f)(p, x, t)
    h = np.tanh(_np(W) @ _np(x))
    want = (1 - h**2) * (_np(t["W"]) @ _np(x)) * 2.0 + h * 0.5
    np.testing.assert_allclose(_np(d), want, rtol=1e-10)
    v = ft.randn(4)
    _, d2 = jvp(f, argnum=(0, -1))(p, x, (t, v))  # the sum of the two partial products
    want2 = want + (1 - h**2) * (_np(W) @ _np(v)) * 2.0
    np.testing.assert_allclose(_np(d2), want2, rtol=1e-10)
    _, zero = jvp(lambda x, y: y * 2)(x, ft.ones(2), ft.ones(4))
    assert zero.tolist() == [0.0, 0.0]


def test_jvp_refuses_a_tangent_of_the_wrong_size_or_kind() -> None:
    with pytest.raises(ShapeError, match=r"jvp: the vector for argument 0 has size 3, but the argument has size 2"):
        jvp(lambda x: x * 2)(ft.ones(2), ft.ones(3))
    with pytest.raises(ArgumentError, match=r"jvp: the vector for argument 0\['W'\] must be a tensor of size 2"):
        jvp(lambda p: p["W"] * 2)({"W": ft.ones(2)}, {"W": 1.0})
    with pytest.raises(ArgumentError, match="the tangent vector comes last"):
        jvp(lambda x: x)()


def test_jvp_can_be_differentiated_again() -> None:
    f = lambda x: (ft.sin(x) * x * x).sum()
    x, v = ft.randn(5), ft.randn(5)
    # d/dx <grad f(x), v> is H v
    g, _ = grad(lambda x: jvp(f)(x, v)[1])(x)
    np.testing.assert_allclose(_np(g), _np(hvp(f)(x, v)), rtol=1e-10)


# -- hessian and hvp -------------------------------------------------------------------------------


def test_hessians_against_analytic_ones() -> None:
    x = ft.randn(4)
    a = _np(x)
    np.testing.assert_allclose(_np(hessian(lambda x: (x**3).sum())(x)), np.diag(6 * a), rtol=1e-12)
    H = hessian(lambda x: (ft.sin(x) * x).sum())(x)
    assert H.size() == ft.Size([4, 4])
    np.testing.assert_allclose(_np(H), np.diag(2 * np.cos(a) - a * np.sin(a)), rtol=1e-12, atol=1e-14)
    p = np.exp(a - a.max()) / np.exp(a - a.max()).sum()
    H = hessian(lambda x: util.log_sum_exp(x))(x)
    np.testing.assert_allclose(_np(H), np.diag(p) - np.outer(p, p), rtol=1e-10, atol=1e-14)
    M = ft.randn(3, 2)
    H = hessian(lambda m: (m @ m.t()).sum())(M)  # sum_ij m_i . m_j = |sum_i m_i|^2
    assert H.size() == ft.Size([3, 2, 3, 2])
    np.testing.assert_allclose(_np(H), 2 * np.einsum("ij,kl->ikjl", np.ones((3, 3)), np.eye(2)))


def test_hessian_blocks_for_an_argnum_tuple() -> None:
    x, y = ft.randn(3), ft.randn(3)
    (Hxx, Hxy), (Hyx, Hyy) = hessian(lambda x, y: (x * x * y).sum(), argnum=(0, 1))(x, y)
    np.testing.assert_allclose(_np(Hxx), np.diag(2 * _np(y)))
    np.testing.assert_allclose(_np(Hxy), np.diag(2 * _np(x)))
    np.testing.assert_allclose(_np(Hyx), np.diag(2 * _np(x)))
    np.testing.assert_allclose(_np(Hyy), np.zeros((3, 3)))
    with pytest.raises(ArgumentError, match=r"hessian: argument 0 must be a tensor, got float"):
        hessian(lambda a: a * a)(2.0)


def test_hvp_matches_hessian_times_v_and_finite_differences() -> None:
    f = lambda x, c: (ft.tanh(x @ c) ** 2).sum() + (x**4).sum()
    x, c = ft.randn(3, 2), ft.randn(2, 5)
    H = _np(hessian(f)(x, c)).reshape(6, 6)
    for _ in range(2):
        v = ft.randn(3, 2)
        got = hvp(f)(x, c, v)
        assert got.size() == x.size()
        np.testing.assert_allclose(_np(got).ravel(), H @ _np(v).ravel(), rtol=1e-10)
        gradient = lambda x: grad(f)(x, c)[0]
        np.testing.assert_allclose(_np(got), _fd_jvp(gradient, x, v), rtol=1e-6, atol=1e-6)
    assert hessian_vector_product is hvp


def test_hvp_of_trees_and_argnum_tuples() -> None:
    f = lambda p, y: (p["a"] ** 2 * p["b"]).sum() * y
    p = {"a": ft.Tensor([1.0, 2.0]), "b": ft.Tensor([3.0, -1.0])}
    v = {"a": ft.Tensor([1.0, 0.0]), "b": ft.Tensor([0.0, 1.0])}
    Hv = hvp(f)(p, 2.0, v)  # d2/da2 = 2b y, d2/dadb = 2a y
    assert Hv["a"].tolist() == [12.0, 8.0] and Hv["b"].tolist() == [4.0, 0.0]
    Hv_a, Hv_y = hvp(f, argnum=(0, 1))(p, 2.0, (v, 1.0))
    # d/dy of grad_a f = 2ab, d/dy of grad_b f = a^2; d2f/dy2 = 0; d/dp <grad_p f, v> for y
    assert Hv_a["a"].tolist() == [12.0 + 6.0, 8.0 - 4.0] and Hv_a["b"].tolist() == [4.0 + 1.0, 0.0 + 4.0]
    assert Hv_y == pytest.approx(6.0 * 1.0 + 4.0 * 1.0)
    assert hvp(lambda x: x**3)(2.0, 1.0) == 12.0
