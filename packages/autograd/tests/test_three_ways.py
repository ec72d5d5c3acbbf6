"""The talk's "neural net three ways": individual functions, autograd.nn layers, autograd.model.

The same 784-50-10 network (tanh hidden layer, log-softmax, class NLL averaged over the batch)
written three ways must give the same loss and the same gradients for the same weights; each is
checked against finite differences and trained by SGD to a lower loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import flambeau.tensor as ft
from flambeau.autograd import check_grads, grad, model, util
from flambeau.autograd import nn as agnn
from flambeau.tensor.testing import host, on_device

pytestmark = pytest.mark.device

BATCH = 8


def _data(seed: int = 0) -> tuple[Any, Any, dict[str, Any]]:
    rng = np.random.default_rng(seed)
    x = on_device(rng.standard_normal((BATCH, 784)) * 0.5)
    y = on_device(rng.integers(0, 10, BATCH))
    w = {
        "W1": on_device(rng.standard_normal((50, 784)) / 28),
        "b1": on_device(rng.standard_normal(50) * 0.1),
        "W2": on_device(rng.standard_normal((10, 50)) / 7),
        "b2": on_device(rng.standard_normal(10) * 0.1),
    }
    return x, y, w


# 1. Individual functions.
def net_functions(params: dict[str, Any], x: Any, y: Any) -> Any:
    h = ft.tanh(x @ params["W1"].t() + params["b1"])
    z = h @ params["W2"].t() + params["b2"]
    logp = util.log_softmax(z)
    return -logp[ft.arange(x.size(0)), y].mean()


# 2. autograd.nn layers: the nn modules' own backward passes provide the gradients.
linear1, _ = agnn.Linear(784, 50)
tanh = agnn.Tanh()
linear2, _ = agnn.Linear(50, 10)
log_softmax = agnn.LogSoftMax()
nll = agnn.ClassNLLCriterion()


def net_layers(params: list[Any], x: Any, y: Any) -> Any:
    h = tanh(linear1(params[0], x))
    return nll(log_softmax(linear2(params[1], h)), y)


# 3. autograd.model.NeuralNetwork.
mlp, _, _ = model.NeuralNetwork(input_features=784, hidden_features=[50, 10], activations="Tanh", classifier=True)


def net_model(params: list[Any], x: Any, y: Any) -> Any:
    return nll(log_softmax(mlp(params, x)), y)


def _as_lists(w: dict[str, Any]) -> list[Any]:
    return [[w["W1"].clone(), w["b1"].clone()], [w["W2"].clone(), w["b2"].clone()]]


def _flat(g: Any) -> list[np.ndarray]:
    if isinstance(g, dict):
        return [host(g[k]) for k in ("W1", "b1", "W2", "b2")]
    return [host(t) for layer in g for t in layer]


def test_the_three_ways_give_the_same_loss_and_gradients() -> None:
    x, y, w = _data()
    g1, loss1 = grad(net_functions)(w, x, y)
    g2, loss2 = grad(net_layers)(_as_lists(w), x, y)
    g3, loss3 = grad(net_model)(_as_lists(w), x, y)
    assert float(loss1) == pytest.approx(float(loss2), rel=1e-12) == pytest.approx(float(loss3), rel=1e-12)
    for a, b, c in zip(_flat(g1), _flat(g2), _flat(g3), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("way", ["functions", "layers", "model"])
def test_each_way_matches_finite_differences(way: str) -> None:
    x, y, w = _data(1)
    x, y = x[:2], y[:2]
    if way == "functions":
        check_grads(lambda w2, b2: net_functions({**w, "W2": w2, "b2": b2}, x, y), w["W2"], w["b2"], order=1)
        check_grads(lambda b1: net_functions({**w, "b1": b1}, x, y), w["b1"], order=1)
        return
    net = net_layers if way == "layers" else net_model
    p = _as_lists(w)
    check_grads(lambda w2, b2: net([p[0], [w2, b2]], x, y), p[1][0], p[1][1], order=1)
    check_grads(lambda b1: net([[p[0][0], b1], p[1]], x, y), p[0][1], order=1)


@pytest.mark.parametrize("way", ["functions", "layers", "model"])
def test_each_way_trains_to_a_lower_loss(way: str) -> None:
    x, y, w = _data(2)
    net = {"functions": net_functions, "layers": net_layers, "model": net_model}[way]
    params: Any = w if way == "functions" else _as_lists(w)
    dnet = grad(net)
    first = None
    for _ in range(25):
        g, loss = dnet(params, x, y)
        first = float(loss) if first is None else first
        if way == "functions":
            params = {k: v - 0.5 * g[k] for k, v in params.items()}
        else:
            params = [
                [t - 0.5 * dt for t, dt in zip(layer, dl, strict=True)] for layer, dl in zip(params, g, strict=True)
            ]
    assert float(loss) < 0.5 * first
