"""The examples of the autograd guide and of ``examples/autograd_talk_examples.py``, optimized against plain.

Each function is called several times with changing values (replays, and new recordings where
a branch flips) and must give what plain ``grad`` gives, every time.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from same import assert_same

import flambeau.tensor as ft
from flambeau.autograd import defvjp, grad, loss, undefvjp, util

pytestmark = pytest.mark.device


def _agree(f: Callable[..., Any], calls: list[tuple[Any, ...]], argnum: Any = 0) -> Any:
    fast, plain = grad(f, argnum, optimize=True), grad(f, argnum)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback
        for args in calls:
            assert_same(fast(*args), plain(*args))
    return fast


def f_branch(a: Any, b: Any, c: Any) -> Any:
    if b > c:
        return a * ft.sin(b)
    return a + b + c


def loop(a: Any) -> Any:
    for _ in range(2):
        a = a * a
    return a


def recursive(a: Any, n: int = 2) -> Any:
    return a if n == 0 else recursive(a * a, n - 1)


def g_tensors(a: Any, b: Any) -> Any:
    return (a * b).sum() if a.sum() > b.sum() else (a + b).sum()


def test_scalars_branches_loops_and_recursion() -> None:
    fast = _agree(lambda a, b, c: a + b * c, [(3.5, 2.1, 1.1), (3.5, 2.1, 1.1)])
    assert fast.replays == 1
    t = ft.Tensor
    fast = _agree(
        f_branch, [(t([3.5]), t([2.1]), t([1.1])), (t([1.0]), t([0.5]), t([1.1])), (t([2.0]), t([3.0]), t([1.0]))]
    )
    assert (fast.recordings, fast.replays) == (2, 1)  # the branch flipped once, then replayed
    for fn in (loop, recursive):
        fast = _agree(fn, [(t([3.0]),), (t([-1.5]),), (t([0.25]),)])
        assert fast.replays == 2


def test_tensors_with_an_if_on_sums() -> None:
    t = ft.Tensor
    calls = [
        (t([1.0, 2.0, 3.0]), t([0.5, 0.5, 0.5])),
        (t([0.0, 0.0, 0.1]), t([1.0, 1.0, 1.0])),
        (t([4.0, 2.0, 3.0]), t([1.0, 0.0, 0.5])),
    ]
    fast = _agree(g_tensors, calls, argnum=(0, 1))
    assert (fast.recordings, fast.replays) == (2, 1)


def test_a_new_gradient_rule_makes_programs_record_again() -> None:
    h = lambda a: ft.floor(a**3).sum()
    fast = grad(h, optimize=True)
    assert fast(ft.eye(3))[0].sum().item() == 0.0
    defvjp("floor", lambda g, ans, x: g)  # pass the gradient through
    try:
        assert fast(ft.eye(3))[0].tolist() == (ft.eye(3) * 3).tolist()
    finally:
        undefvjp("floor")
    assert fast(ft.eye(3))[0].sum().item() == 0.0
    assert fast.recordings == 3  # one per set of rules (the last is a new version too)


def test_mlp_training_follows_the_same_trajectory() -> None:
    def mlp(params: dict[str, Any], x: Any, y: Any) -> Any:
        h1 = ft.tanh(x @ params["W1"] + params["b1"])
        h2 = ft.tanh(h1 @ params["W2"] + params["b2"])
        return loss.log_multinomial_loss(util.log_softmax(h2 @ params["W3"] + params["b3"]), y)

    ft.manual_seed(0)
    params: dict[str, Any] = {}
    for i, (n, m) in enumerate([(8, 16), (16, 16), (16, 4)], 1):
        params[f"W{i}"] = ft.randn(n, m) / math.sqrt(n)
        params[f"b{i}"] = ft.zeros(m)
    x = ft.randn(32, 8)
    y = util.one_hot(ft.argmax(x[:, :4], 1), 4)
    fast, plain = grad(mlp, optimize=True), grad(mlp)
    p_fast, p_plain = dict(params), dict(params)
    for _ in range(30):
        d_fast, v_fast = fast(p_fast, x, y)
        d_plain, v_plain = plain(p_plain, x, y)
        assert_same((d_fast, v_fast), (d_plain, v_plain))
        p_fast = {k: p - 0.05 * d_fast[k] for k, p in p_fast.items()}
        p_plain = {k: p - 0.05 * d_plain[k] for k, p in p_plain.items()}
    assert (fast.recordings, fast.replays) == (1, 29)


def test_hessian_vector_product_through_a_nested_grad() -> None:
    cube = lambda x: (x**3).sum()
    v = ft.Tensor([1.0, 1.0])
    fast = _agree(lambda x: (grad(cube)(x)[0] * v).sum(), [(ft.Tensor([1.0, 2.0]),), (ft.Tensor([-3.0, 0.5]),)])
    assert fast(ft.Tensor([1.0, 2.0]))[0].tolist() == [6.0, 12.0]


def test_guide_loss_with_a_nested_parameter_dict() -> None:
    def lossf(params: dict[str, Any], x: Any, y: Any) -> Any:
        pred = ft.tanh(x @ params["W"] + params["b"])
        return ((pred - y) ** 2).sum(), pred

    calls = [
        ({"W": ft.zeros(3, 2), "b": ft.ones(2)}, ft.ones(4, 3), ft.zeros(4, 2)),
        ({"W": ft.ones(3, 2) * 0.1, "b": ft.ones(2) * -1}, ft.ones(4, 3) * 2, ft.ones(4, 2)),
    ]
    fast = _agree(lossf, calls)
    assert fast.replays == 1
