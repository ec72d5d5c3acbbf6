"""detect_anomaly(): the first NaN/Inf, forward or backward, raises naming the op, the argument and the user's line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import flambeau.tensor as ft
from flambeau.autograd import (
    AnomalyError,
    checkpoint,
    detect_anomaly,
    grad,
    primitive,
    profile,
    tracer,
)
from flambeau.tensor.errors import FlambeauError

pytestmark = [
    pytest.mark.device,
    pytest.mark.filterwarnings("ignore:(invalid value|divide by zero) encountered:RuntimeWarning"),
]

HERE = Path(__file__).resolve()


def _at(marker: str) -> str:
    """``this_file:line`` of the line carrying ``# <marker>``, as the error names it."""
    for n, text in enumerate(HERE.read_text().splitlines(), 1):
        if text.rstrip().endswith(f"# <{marker}>"):
            return f"{HERE}:{n}"
    raise AssertionError(marker)


def test_the_error_is_a_flambeau_error_and_a_floating_point_error() -> None:
    assert issubclass(AnomalyError, FlambeauError)
    assert issubclass(AnomalyError, FloatingPointError) and issubclass(AnomalyError, ArithmeticError)


# -- forward -------------------------------------------------------------------------------------


def test_forward_nan_names_the_op_and_the_line() -> None:
    def f(x: Any) -> Any:
        y = x * 2
        z = ft.log(y - 3)  # <log>
        return z.sum()

    with detect_anomaly(), pytest.raises(AnomalyError) as err:
        grad(f)(ft.Tensor([1.0, 2.0, 3.0]))
    msg = str(err.value)
    assert msg.startswith("log returned non-finite values (1 NaN of 3 elements) in the forward pass")
    assert f"called at {_at('log')}: z = ft.log(y - 3)  # <log>" in msg
    assert "its inputs were finite" in msg


def test_forward_inf_from_an_operator() -> None:
    def f(x: Any) -> Any:
        return (1 / (x - 1)).sum()  # <div>

    with detect_anomaly(), pytest.raises(AnomalyError, match=re.escape(_at("div"))) as err:
        grad(f)(ft.Tensor([1.0, 2.0]))
    assert "1 infinite of 2 elements" in str(err.value)
    assert str(err.value).split(" ")[0] in ("div", "rdiv")


def test_a_non_finite_input_is_reported_at_its_first_use() -> None:
    with detect_anomaly(), pytest.raises(AnomalyError) as err:
        grad(lambda x: ft.sin(x).sum())(ft.Tensor([float("nan"), 1.0]))  # <nan-input>
    assert str(err.value).startswith("sin returned non-finite values (1 NaN of 2 elements)")
    assert _at("nan-input") in str(err.value) and "an input already held non-finite values" in str(err.value)


def test_forward_false_checks_only_gradients() -> None:
    def f(x: Any) -> Any:
        masked = ft.where(x > 0, x, ft.full(*x.size(), fill_value=float("-inf")))
        return ft.exp(masked).sum()

    x = ft.Tensor([1.0, -1.0])
    with detect_anomaly(forward=False):
        g, value = grad(f)(x)
    assert g.tolist() == pytest.approx([np.e, 0.0]) and float(value) == pytest.approx(np.e)
    with detect_anomaly(), pytest.raises(AnomalyError, match="forward pass"):
        grad(f)(x)


# -- backward ------------------------------------------------------------------------------------


def test_backward_inf_names_the_rule_the_argument_and_the_forward_line() -> None:
    def f(x: Any) -> Any:
        r = ft.sqrt(x)  # <sqrt>
        return r.sum()

    with detect_anomaly(), pytest.raises(AnomalyError) as err:
        grad(f)(ft.Tensor([0.0, 4.0]))
    msg = str(err.value)
    assert msg.startswith(
        "the gradient rule of sqrt for argument 0 ('input') returned non-finite values (1 infinite of 2 elements)"
        " in the backward pass"
    )
    assert f"that sqrt was called at {_at('sqrt')}: r = ft.sqrt(x)  # <sqrt>" in msg
    assert msg.endswith("the gradient flowing into it was finite")


def test_backward_zero_times_inf_is_a_nan() -> None:
    def f(x: Any, w: Any) -> Any:
        r = ft.sqrt(x)  # <sqrt-0>
        return (r * w).sum()  # w = 0 there: the gradient into sqrt is 0, and 0 * inf is NaN

    with detect_anomaly(), pytest.raises(AnomalyError) as err:
        grad(f)(ft.Tensor([0.0, 4.0]), ft.Tensor([0.0, 1.0]))
    msg = str(err.value)
    assert "the gradient rule of sqrt for argument 0 ('input')" in msg and "(1 NaN of 2 elements)" in msg
    assert _at("sqrt-0") in msg


def test_backward_names_the_argument_of_a_two_argument_op() -> None:
    def f(y: Any, x: Any) -> Any:
        return ft.atan2(y, x).sum()  # <atan2>

    # atan2(0, 0) is 0, but its gradient is 0 / 0; only the second argument is traced here
    with detect_anomaly(), pytest.raises(AnomalyError) as err:
        grad(f, argnum=1)(ft.Tensor([0.0, 2.0]), ft.Tensor([0.0, 2.0]))
    msg = str(err.value)
    assert msg.startswith("the gradient rule of atan2 for argument 1 ('other')"), msg
    assert "(1 NaN of 2 elements)" in msg and _at("atan2") in msg


def test_a_primitive_rule_is_named_with_its_parameter() -> None:
    @primitive
    def bad(x: Any, scale: Any) -> Any:
        return x * scale

    bad.defvjp(lambda g, ans, x, scale: g * scale, lambda g, ans, x, scale: g / 0.0)
    with detect_anomaly(), pytest.raises(AnomalyError) as err:
        grad(lambda s: bad(ft.ones(2), s).sum())(ft.ones(2))  # <prim>
    msg = str(err.value)
    assert msg.startswith(
        "the gradient rule of test_a_primitive_rule_is_named_with_its_parameter.<locals>.bad for argument 1 ('scale')"
    ), msg
    assert _at("prim") in msg


def test_inside_a_checkpointed_segment_the_line_is_in_the_segment() -> None:
    def block(x: Any) -> Any:
        y = ft.tanh(x)
        return ft.sqrt(y)  # <ckpt-sqrt>

    with detect_anomaly(), pytest.raises(AnomalyError) as err:
        grad(lambda x: checkpoint(block)(x).sum())(ft.Tensor([0.0, 1.0]))
    assert "the gradient rule of sqrt" in str(err.value) and _at("ckpt-sqrt") in str(err.value)


def test_second_order() -> None:
    def d1(x: Any) -> Any:  # 1.5 x ** 0.5: finite at 0, its derivative is not
        return grad(lambda x: (x**1.5).sum())(x)[0]  # <d1>

    x = ft.Tensor([0.0, 4.0])
    with detect_anomaly():
        assert d1(x).tolist() == [0.0, 3.0]
        with pytest.raises(AnomalyError) as err:
            grad(lambda x: d1(x).sum())(x)
    msg = str(err.value)
    assert msg.startswith("the gradient rule of pow for argument 0 ('input') returned non-finite values"), msg
    # the op was made by pow's rule in the inner backward pass: the user's line is the inner grad call
    assert _at("d1") in msg


# -- nothing to report ---------------------------------------------------------------------------


def _mlp(p: Any, x: Any) -> Any:
    h = ft.tanh(x @ p["W1"] + p["b1"])
    out = h @ p["W2"]
    parts = ft.split(out, 1, 1)
    both = ft.cat([parts[1], h], 1)  # a rule for a list argument
    return (ft.log(ft.exp(parts[0]) + 1) ** 2).sum() + ft.sigmoid(both).sum()


def test_finite_computations_raise_nothing_and_give_the_same_results() -> None:
    p = {"W1": ft.randn(4, 5).double(), "b1": ft.randn(5).double(), "W2": ft.randn(5, 2).double()}
    x = ft.randn(8, 4).double()
    g_plain, v_plain = grad(_mlp)(p, x)
    with detect_anomaly():
        g, value = grad(_mlp)(p, x)
    assert value.equal(v_plain) and all(g[k].equal(g_plain[k]) for k in p)
    assert tracer.monitor is None  # off again, and the tracer back on its unmonitored path


def test_modes_nest_with_each_other_and_with_profile() -> None:
    with detect_anomaly(forward=False):
        with profile() as prof, detect_anomaly() as inner:
            assert inner.forward and tracer.monitor is not None
            with pytest.raises(AnomalyError):
                grad(lambda x: ft.log(x).sum())(ft.Tensor([-1.0]))
        # the outer mode again: forward results unchecked
        g, _ = grad(lambda x: ft.log(x).sum())(ft.Tensor([-1.0]))
        assert g.tolist() == [-1.0]
        assert tracer.monitor is not None
    assert tracer.monitor is None
    assert prof.stats["log"].forward_calls == 1


def test_as_a_decorator_and_off_outside() -> None:
    @detect_anomaly()
    def checked(x: Any) -> Any:
        return grad(lambda x: ft.log(x).sum())(x)

    with pytest.raises(AnomalyError):
        checked(ft.Tensor([-1.0]))
    g, _ = grad(lambda x: ft.sqrt(x).sum())(ft.Tensor([0.0]))  # off: the infinity flows silently
    assert np.isinf(g.tolist()[0])
    assert repr(detect_anomaly(forward=False)) == "detect_anomaly(forward=False)"


def test_a_checkpointed_segment_is_checked_as_a_whole_in_the_forward_pass() -> None:
    def block(x: Any) -> Any:
        return ft.log(x - 1)

    with detect_anomaly(), pytest.raises(AnomalyError) as err:
        grad(lambda x: checkpoint(block)(x).sum())(ft.Tensor([0.0, 2.0]))  # <ckpt-fwd>
    assert str(err.value).startswith("checkpoint(block) returned non-finite values (1 NaN of 2 elements)")
    assert _at("ckpt-fwd") in str(err.value)


def test_the_sites_of_finished_traces_are_forgotten() -> None:
    from flambeau.autograd.monitor import MONITOR

    with detect_anomaly():
        for _ in range(20):
            grad(lambda x: ft.tanh(x).sum())(ft.randn(3))
        for _ in range(20):  # stopped by an error: their tapes are kept only for a few
            with pytest.raises(AnomalyError):
                grad(lambda x: ft.log(x).sum())(ft.Tensor([-1.0]))
        assert len(MONITOR.sites) <= 9
    assert MONITOR.sites == {}
