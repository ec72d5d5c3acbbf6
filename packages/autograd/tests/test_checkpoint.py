"""checkpoint(fn): same gradients as without, less memory, one recomputation per backward pass."""

from __future__ import annotations

import tracemalloc
from collections import namedtuple
from typing import Any

import numpy as np
import pytest

import flambeau.tensor as ft
from flambeau.autograd import (
    TracedValueError,
    check_grads,
    checkpoint,
    grad,
    jacobian,
    profile,
)
from flambeau.tensor.errors import ArgumentError
from flambeau.tensor.testing import host


def _close(a: Any, b: Any, rtol: float, atol: float) -> bool:
    return bool(np.allclose(host(a), host(b), rtol=rtol, atol=atol))


# -- a deep chain: gradients and peak memory -----------------------------------------------------

N, STEPS, SEG = 256, 200, 10


def _segment(x: Any, w: Any) -> Any:
    for _ in range(SEG):
        x = ft.tanh(x @ w)
    return x


def _chain_loss(p: Any, ckpt: bool) -> Any:
    x, W = p
    step = checkpoint(_segment) if ckpt else _segment
    for _ in range(STEPS // SEG):
        x = step(x, W)
    return (x * x).sum()


def _peak(ckpt: bool, p: Any) -> tuple[Any, Any, int]:
    tracemalloc.start()  # numpy reports its data allocations to tracemalloc
    try:
        g, value = grad(_chain_loss)(p, ckpt)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return g, value, peak


# cpu-only: tracemalloc sees numpy's allocations, not a device's
def test_deep_chain_same_gradients_and_lower_peak_memory() -> None:
    p = (ft.randn(N, N).double(), ft.randn(N, N).double() / N**0.5)
    g_plain, v_plain, peak_plain = _peak(False, p)
    g_ckpt, v_ckpt, peak_ckpt = _peak(True, p)
    assert v_ckpt.equal(v_plain)
    assert g_ckpt[0].equal(g_plain[0])  # a chain: the very same operations in the same order
    # W's gradient sums 200 terms; checkpointing sums them segment by segment (another rounding)
    assert _close(g_ckpt[1], g_plain[1], rtol=1e-12, atol=1e-12)
    assert float(g_plain[1].abs().max()) > 1e-3  # a gradient that says something
    # 200 steps keep ~400 arrays of 512 KiB without checkpointing; with it, 20 segment boundaries
    # and one segment's intermediates at a time
    assert peak_plain > 100 * 2**20
    assert peak_ckpt < 0.6 * peak_plain, (peak_ckpt, peak_plain)


# -- calls and recomputation ---------------------------------------------------------------------


@pytest.mark.device
def test_one_recomputation_per_backward_pass_whatever_the_argument_count() -> None:
    calls = []

    def block(x: Any, w: Any, b: Any) -> Any:
        calls.append(1)
        return ft.tanh(x @ w + b)

    f = checkpoint(block)
    x, W, b = ft.randn(4, 3).double(), ft.randn(3, 3).double(), ft.randn(3).double()
    g, value = grad(lambda p: f(*p).sum())([x, W, b])
    assert len(calls) == 2  # the forward pass, one recomputation
    g_plain, v_plain = grad(lambda p: block(*p).sum())([x, W, b])
    assert value.equal(v_plain) and all(a.equal(c) for a, c in zip(g, g_plain, strict=True))


@pytest.mark.device
def test_the_recomputation_is_traced_and_profiled() -> None:
    f = checkpoint(lambda x: ft.tanh(ft.tanh(x)))
    with profile() as prof:
        grad(lambda x: f(x).sum())(ft.randn(5).double())
    # the forward pass runs the segment untraced (its time is the segment's); the recomputation is traced
    assert prof.stats["tanh"].forward_calls == 2
    assert prof.stats["tanh"].backward_calls == 2
    seg = prof.stats["checkpoint(<lambda>)"]
    assert (seg.forward_calls, seg.backward_calls) == (1, 1)


@pytest.mark.device
def test_outside_grad_it_is_just_the_call() -> None:
    def block(x: Any, s: float = 2.0) -> Any:
        return ft.sin(x) * s

    x = ft.randn(3)
    f = checkpoint(block)
    out = f(x, s=3.0)
    assert type(out) is ft.Tensor and out.equal(block(x, 3.0))
    assert f.__name__ == "block" and f.__wrapped__ is block  # type: ignore[attr-defined]


@pytest.mark.device
def test_a_python_float_argument() -> None:
    f = checkpoint(lambda x, s: ft.tanh(x * s) ** 2)
    x = ft.randn(6).double()
    g, value = grad(lambda x: f(x, 0.5).sum())(x)
    g_plain, v_plain = grad(lambda x: (ft.tanh(x * 0.5) ** 2).sum())(x)
    assert g.equal(g_plain) and value.equal(v_plain)


@pytest.mark.device
def test_a_differentiated_float_is_a_traced_scalar() -> None:
    f = checkpoint(lambda a, x: (a * x).sin())
    da, _ = grad(lambda a, x: f(a, x).sum())(0.3, ft.Tensor([1.0, 2.0]).double())
    assert isinstance(da, float)
    assert da == pytest.approx(float((ft.Tensor([1.0, 2.0]).double() * ft.cos(ft.Tensor([0.3, 0.6]).double())).sum()))


@pytest.mark.device
def test_keyword_arguments() -> None:
    def block(x: Any, *, w: Any, scale: float) -> Any:
        return ft.tanh(x @ w) * scale

    f = checkpoint(block)
    x, w = ft.randn(2, 3).double(), ft.randn(3, 3).double()
    g, _ = grad(lambda p: f(p["x"], w=p["w"], scale=2.0).sum())({"x": x, "w": w})
    g_plain, _ = grad(lambda p: block(p["x"], w=p["w"], scale=2.0).sum())({"x": x, "w": w})
    assert g["x"].equal(g_plain["x"]) and g["w"].equal(g_plain["w"])


@pytest.mark.device
def test_an_argument_that_is_not_traced() -> None:
    W = ft.randn(3, 3).double()  # a constant: grad differentiates x only

    def block(x: Any, w: Any) -> Any:
        return ft.tanh(x @ w)

    f = checkpoint(block)
    x = ft.randn(2, 3).double()
    g, value = grad(lambda x: f(x, W).sum())(x)
    g_plain, v_plain = grad(lambda x: block(x, W).sum())(x)
    assert g.equal(g_plain) and value.equal(v_plain)
    # and only the constant traced: nothing to differentiate through the segment
    g0, _ = grad(lambda y: (f(x, W) * y).sum())(ft.ones(2, 3).double())
    assert g0.equal(block(x, W))


@pytest.mark.device
def test_structured_arguments_and_tuple_outputs() -> None:
    Params = namedtuple("Params", "W b")

    def block(x: Any, p: Any, extra: list[Any]) -> Any:
        h = ft.tanh(x @ p.W + p.b)
        return h, h * extra[0], ft.argmax(h, 1)  # an integer output rides along

    f = checkpoint(block)

    def loss(p: Any, x: Any, c: Any, ckpt: bool) -> Any:
        h, hc, idx = (f if ckpt else block)(x, p, [c])
        assert idx.dtype.kind == "i"
        return (h.sum() + hc.pow(2).sum()), idx

    p = Params(ft.randn(3, 3).double(), ft.randn(3).double())
    x, c = ft.randn(4, 3).double(), ft.randn(4, 3).double()
    g, value, idx = grad(loss)(p, x, c, True)
    g_plain, v_plain, idx_plain = grad(loss)(p, x, c, False)
    assert isinstance(g, Params) and value.equal(v_plain) and idx.equal(idx_plain)
    assert g.W.equal(g_plain.W) and g.b.equal(g_plain.b)
    # an output the loss does not use gets no gradient, and needs none
    gx, _ = grad(lambda x: f(x, p, [c])[1].sum())(x)
    assert gx.equal(grad(lambda x: block(x, p, [c])[1].sum())(x)[0])


@pytest.mark.device
def test_the_same_tensor_passed_twice() -> None:
    f = checkpoint(lambda a, b: a * ft.sin(b))
    x = ft.randn(4).double()
    g, _ = grad(lambda x: f(x, x).sum())(x)
    assert _close(g, ft.sin(x) + x * ft.cos(x), rtol=1e-14, atol=0)


@pytest.mark.device
def test_an_output_that_is_an_input() -> None:
    f = checkpoint(lambda x, y: (x, x * y))
    x, y = ft.randn(3).double(), ft.randn(3).double()
    g, _ = grad(lambda x: (f(x, y)[0] * 3).sum() + f(x, y)[1].sum())(x)
    assert _close(g, 3 + y, rtol=1e-15, atol=0)


@pytest.mark.device
def test_random_ops_draw_the_same_numbers_when_recomputed() -> None:
    def dropout(x: Any) -> Any:
        mask = (ft.rand(*x.size()) > 0.5).double()
        return ft.tanh(x * mask * 2)

    x = ft.randn(50).double()
    ft.manual_seed(7)
    g, value = grad(lambda x: checkpoint(dropout)(x).sum())(x)
    after = ft.rand(1)
    ft.manual_seed(7)
    g_plain, v_plain = grad(lambda x: dropout(x).sum())(x)
    assert ft.rand(1).equal(after)  # the recomputation left the generator where the plain run does
    assert value.equal(v_plain) and g.equal(g_plain)
    assert 0 < int((g == 0).sum()) < 50  # the mask did something


@pytest.mark.device
def test_jacobian_sweeps_recompute_each_time() -> None:
    f = checkpoint(lambda x: ft.sin(x) * x)
    x = ft.randn(4).double()
    assert jacobian(f)(x).equal(jacobian(lambda x: ft.sin(x) * x)(x))


# -- higher order --------------------------------------------------------------------------------


@pytest.mark.device
def test_second_order_with_check_grads() -> None:
    def block(x: Any, w: Any) -> Any:
        for _ in range(3):
            x = ft.tanh(x @ w) + 0.1 * x
        return x

    f = checkpoint(block)
    check_grads(lambda x, w: f(x, w), ft.randn(2, 3).double(), ft.randn(3, 3).double() * 0.5, order=2)


@pytest.mark.device
def test_second_order_equals_the_plain_one() -> None:
    def block(x: Any) -> Any:
        return ft.sin(x) * ft.exp(x / 3)

    def d2(g: Any) -> Any:
        d1 = lambda x: grad(lambda x: g(x).sum())(x)[0]
        return grad(lambda x: d1(x).sum())

    x = ft.randn(5).double()
    h, _ = d2(checkpoint(block))(x)
    h_plain, _ = d2(block)(x)
    assert _close(h, h_plain, rtol=1e-14, atol=1e-15)


@pytest.mark.device
def test_outer_and_inner_traced_arguments() -> None:
    # d/da of (d/db of f(a, b)) with the segment seeing a box of each level
    f = checkpoint(lambda a, b: (a * b).sin())

    def inner(a: Any, b: Any) -> Any:
        return grad(lambda b: f(a, b).sum())(b)[0]

    a, b = ft.randn(3).double(), ft.randn(3).double()
    got, _ = grad(lambda a: inner(a, b).sum())(a)
    # d/db sin(ab) = a cos(ab); d/da of that = cos(ab) - ab sin(ab)
    assert _close(got, ft.cos(a * b) - a * b * ft.sin(a * b), rtol=1e-13, atol=1e-15)


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.device
def test_a_traced_value_reached_through_a_closure_is_refused() -> None:
    def loss(w: Any, x: Any) -> Any:
        return checkpoint(lambda x: ft.tanh(x @ w))(x).sum()

    with pytest.raises(TracedValueError, match=r"checkpoint\(<lambda>\).*closure.*checkpoint\(fn\)\(x, W\)"):
        grad(loss)(ft.randn(3, 3), ft.randn(2, 3))  # x is a constant here: the segment sees nothing traced
    with pytest.raises(TracedValueError, match="closure"):
        grad(lambda p: loss(*p))([ft.randn(3, 3), ft.randn(2, 3)])  # x traced too
    # a closure over a constant is fine
    W = ft.randn(3, 3).double()
    g, _ = grad(lambda x: checkpoint(lambda x: ft.tanh(x @ W))(x).sum())(ft.ones(2, 3).double())
    assert g.equal(grad(lambda x: ft.tanh(x @ W).sum())(ft.ones(2, 3).double())[0])


@pytest.mark.device
def test_a_result_that_is_not_tensors_is_refused() -> None:
    def count(x: Any) -> Any:
        return {"y": x * 2}

    with pytest.raises(ArgumentError, match=r"checkpoint\(count\).*tensor or a tuple or list of tensors, got dict"):
        grad(lambda x: checkpoint(count)(x)["y"].sum())(ft.randn(3))


@pytest.mark.device
def test_writing_into_an_argument_is_refused() -> None:
    def scale_(x: Any, c: Any) -> Any:
        c.mul_(2)  # c is a plain constant: the recomputation would see it doubled
        return x * c

    c = ft.ones(3)
    with pytest.raises(
        TracedValueError, match=r"mul_: checkpoint\(scale_\) writes in place into its argument args\[1\]"
    ):
        grad(lambda x: checkpoint(scale_)(x, c).sum())(ft.ones(3))
    assert c.tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(TracedValueError, match=r"args\[0\]"):
        grad(lambda x: checkpoint(lambda x: x.add_(1))(x).sum())(ft.ones(3))
    # writes into its own temporaries are fine, and outside grad nothing is watched
    f = checkpoint(lambda x: (x * 1).add_(1))
    assert grad(lambda x: f(x).sum())(ft.ones(3))[0].tolist() == [1.0, 1.0, 1.0]
    assert checkpoint(scale_)(ft.ones(3), c).tolist() == [2.0, 2.0, 2.0]


@pytest.mark.device
def test_nested_checkpoints() -> None:
    inner = checkpoint(lambda x, w: ft.tanh(x @ w))

    def outer(x: Any, w: Any) -> Any:
        return inner(inner(x, w), w) * 2

    x, w = ft.randn(2, 3).double(), ft.randn(3, 3).double()
    g, value = grad(lambda p: checkpoint(outer)(*p).sum())([x, w])
    g_plain, v_plain = grad(lambda p: (ft.tanh(ft.tanh(p[0] @ p[1]) @ p[1]) * 2).sum())([x, w])
    assert value.equal(v_plain) and g[0].equal(g_plain[0]) and _close(g[1], g_plain[1], rtol=1e-14, atol=1e-15)
