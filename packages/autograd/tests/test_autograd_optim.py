"""autograd.optim: flambeau.optim's optimizers driven by a gradient function, against a hand-written loop."""

from __future__ import annotations

from typing import Any

import pytest

import flambeau.tensor as ft
from flambeau import autograd
from flambeau.tensor.errors import ArgumentError

optim = pytest.importorskip("flambeau.optim", reason="flambeau.optim (the optim extra) is not installed")

pytestmark = pytest.mark.device


def _need(name: str) -> Any:
    fn = getattr(optim, name, None)
    if fn is None:
        pytest.skip(f"flambeau.optim.{name} is not written yet")
    return fn


def _model(p: dict[str, Any], x: ft.Tensor, y: ft.Tensor) -> tuple[Any, Any]:
    pred = (x @ p["W"] + p["b"][0]).tanh()
    d = pred - y
    return (d * d).sum() + 0.1 * (p["W"] * p["W"]).sum(), pred


def _params() -> dict[str, Any]:
    return {"W": ft.randn(3, 2), "b": [ft.randn(2)]}


def _clone(p: dict[str, Any]) -> dict[str, Any]:
    return {"W": p["W"].clone(), "b": [p["b"][0].clone()]}


def _close(a: Any, b: Any, tol: float = 1e-12) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _close(a[k], b[k], tol)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for u, v in zip(a, b, strict=True):
            _close(u, v, tol)
    else:
        assert float((a - b).abs().max().item()) <= tol


@pytest.mark.parametrize(
    ("name", "config"),
    [
        ("sgd", {"learning_rate": 0.05, "momentum": 0.9, "weight_decay": 1e-3}),
        ("adam", {"learning_rate": 0.01}),
    ],
)
def test_equals_a_hand_written_loop(name: str, config: dict[str, Any]) -> None:
    method = _need(name)
    x, y = ft.randn(5, 3), ft.randn(5, 2)
    params = _params()
    mine = _clone(params)
    start = _clone(params)
    df = autograd.grad(_model)
    given = dict(config)
    optimfn, state = getattr(autograd.optim, name)(df, given, params)
    hand_state = dict(config)
    for _ in range(20):
        out = optimfn(x, y)
        grads, loss, pred = df(mine, x, y)  # the hand-written loop: grad, then the optimizer on the tree
        method(lambda p, loss=loss, grads=grads: (float(loss.item()), grads), mine, hand_state)
        assert len(out) == 3  # what df returned: grads, loss, pred
        _close(out[0], grads)
        assert abs(float(out[1].item()) - float(loss.item())) <= 1e-12
        _close(out[2], pred)
        _close(params, mine)
    assert given == config  # the caller's config is not the state
    assert state.keys() == hand_state.keys()
    assert float((params["W"] - start["W"]).abs().max().item()) > 1e-3  # it moved


def test_flat_tensor_parameters() -> None:
    method = _need("adam")
    target = ft.Tensor([1.0, -2.0, 0.5])

    def f(w: ft.Tensor) -> Any:
        d = w - target
        return (d * d).sum()

    w = ft.zeros(3)
    mine = ft.zeros(3)
    optimfn, state = autograd.optim.adam(autograd.grad(f), {"learning_rate": 0.1}, w)
    hand: dict[str, Any] = {"learning_rate": 0.1}
    for _ in range(20):
        g, loss = optimfn()
        hg, hl = autograd.grad(f)(mine)
        method(lambda _p, hl=hl, hg=hg: (float(hl.item()), hg), mine, hand)
        _close(g, hg)
        _close(w, mine)
    assert float((w - target).abs().max().item()) < 1.0


def test_every_evaluation_calls_df_where_the_optimizer_evaluates() -> None:
    _need("lbfgs")
    calls: list[list[float]] = []

    def f(p: dict[str, Any]) -> Any:
        a, b = p["a"], p["b"][0]
        return (a - 3.0).pow(2).sum() + 10.0 * (b + 1.0).pow(2).sum()

    def df(p: dict[str, Any]) -> Any:
        calls.append(p["a"].tolist() + p["b"][0].tolist())
        return autograd.grad(f)(p)

    params = {"a": ft.Tensor([0.0, 1.0]), "b": [ft.Tensor([2.0])]}
    start = params["a"].tolist() + params["b"][0].tolist()
    optimfn, _ = autograd.optim.lbfgs(df, {"max_iter": 50}, params)
    grads, loss = optimfn()
    assert calls[0] == start and len(calls) > 1  # one optimizer step evaluated df many times
    assert float(loss.item()) == pytest.approx(9 + 4 + 10 * 9)  # the values at the starting point
    assert params["a"].tolist() == pytest.approx([3.0, 3.0], abs=1e-6)
    assert params["b"][0].tolist() == pytest.approx([-1.0], abs=1e-6)


def test_names_and_errors() -> None:
    _need("sgd")
    names = autograd.optim.available()
    assert {"sgd"} <= set(names) <= set(dir(autograd.optim))
    assert "FistaLS" not in names and "lswolfe" not in names and "Logger" not in names
    assert autograd.optim.sgd.__name__ == "sgd"
    with pytest.raises(AttributeError, match="no attribute 'nope'.*sgd"):
        autograd.optim.nope  # noqa: B018
    with pytest.raises(AttributeError):
        autograd.optim.Logger  # noqa: B018
    if hasattr(optim, "FistaLS"):
        with pytest.raises(ArgumentError, match="opfunc, x, config, state"):
            autograd.optim.wrap(optim.FistaLS)
    with pytest.raises(ArgumentError, match="give the parameters"):
        autograd.optim.sgd(autograd.grad(lambda w: w.sum()), {})
    optimfn, _ = autograd.optim.sgd(lambda w: w.sum(), {}, ft.zeros(2))
    with pytest.raises(ArgumentError, match=r"\(grads, loss, \.\.\.\)"):
        optimfn()


def test_wrap_takes_any_optimizer_with_torchs_interface() -> None:
    seen: list[float] = []

    def halve(opfunc: Any, x: ft.Tensor, config: dict[str, Any] | None = None, state: Any = None) -> Any:
        f, g = opfunc(x)
        seen.append(f)
        x.add_(-0.5 * g)
        return x, [f]

    w = ft.Tensor([4.0])
    optimfn, state = autograd.optim.wrap(halve)(autograd.grad(lambda w, k: k * (w * w).sum()), {"k": 1}, w)
    g, loss = optimfn(0.25)
    assert g.tolist() == [2.0] and float(loss.item()) == 4.0 and seen == [4.0]
    assert w.tolist() == [3.0] and state == {"k": 1}
