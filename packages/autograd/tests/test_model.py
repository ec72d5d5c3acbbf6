"""flambeau.autograd.model: output sizes, agreement with nn's layers, gradients and training."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import flambeau.nn as nn
import flambeau.tensor as ft
from flambeau.autograd import check_grads, grad, loss, model, util
from flambeau.tensor.errors import ArgumentError, ShapeError
from flambeau.tensor.testing import host, on_device

pytestmark = pytest.mark.device


def check_tree(f: Callable[..., Any], params: Any, *rest: Any) -> None:
    """check_grads of ``f(params, *rest)`` with respect to every leaf of the parameter tree."""
    leaves, unflatten = util.flatten(params)
    check_grads(lambda *ls: f(unflatten(ls), *rest), *leaves, order=1)


def central_differences(
    cost: Callable[..., Any], params: Any, coords: Sequence[tuple[int, ...]], *rest: Any, eps: float = 1e-6
) -> list[float]:
    """``d cost / d leaf[index]`` by central differences, for ``coords = [(leaf, *index), ...]``."""
    leaves, unflatten = util.flatten(params)
    out = []
    for leaf, *index in coords:
        plus = [t.clone() for t in leaves]
        minus = [t.clone() for t in leaves]
        plus[leaf][tuple(index)] += eps
        minus[leaf][tuple(index)] -= eps
        out.append((float(cost(unflatten(plus), *rest)) - float(cost(unflatten(minus), *rest))) / (2 * eps))
    return out


def normal_(params: Any, std: float = 0.01) -> Any:
    leaves, _ = util.flatten(params)
    for t in leaves:
        t.normal_(0, std)
    return params


# -- NeuralNetwork ----------------------------------------------------------------------------


def test_neural_network_defaults_and_sizes() -> None:
    f, params, layers = model.NeuralNetwork()
    assert [[tuple(t.size()) for t in p] for p in params] == [[(100, 10), (100,)], [(2, 100), (2,)]]
    assert [layer.kind for layer in layers] == ["Reshape", "Linear", "ReLU", "Linear", "ReLU"]
    assert f(params, ft.randn(6, 10)).size() == (6, 2)
    assert f(params, ft.randn(10)).size() == (2,)  # one sample, as nn.Reshape
    assert f(params, ft.randn(1, 10)).size() == (1, 2)
    assert f(params, ft.randn(4, 2, 5)).size() == (4, 2)  # rows of 10 features
    assert (f(params, ft.randn(6, 10)) >= 0).all()  # ends with a ReLU
    with pytest.raises(ShapeError):
        f(params, ft.randn(3, 7))


def test_neural_network_initialisation_as_nn_linear() -> None:
    _, params, _ = model.NeuralNetwork(input_features=400, hidden_features=[300])
    w, b = params[0]
    bound = 1 / 20
    assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.9 * bound
    assert float(b.abs().max()) <= bound
    assert abs(float(w.mean())) < 0.01 * bound * 10


def test_neural_network_matches_nn_sequential() -> None:
    f, params, _ = model.NeuralNetwork(input_features=5, hidden_features=[4, 3], activations="Tanh", classifier=True)
    lin1, lin2 = nn.Linear(5, 4), nn.Linear(4, 3)
    seq = nn.Sequential().add(lin1).add(nn.Tanh()).add(lin2).add(nn.LogSoftMax())
    lin1.weight.copy_(params[0][0])
    lin1.bias.copy_(params[0][1])
    lin2.weight.copy_(params[1][0])
    lin2.bias.copy_(params[1][1])
    x = ft.randn(6, 5)
    y = ft.LongTensor([0, 2, 1, 1, 0, 2])
    logp = model.activation("LogSoftMax")(f(params, x))
    np.testing.assert_allclose(host(logp), host(seq.forward(x)), rtol=1e-12, atol=1e-14)
    crit = nn.ClassNLLCriterion(size_average=False)
    want_loss = crit.forward(seq.forward(x), y)
    seq.zero_grad_parameters()
    seq.backward(x, crit.backward(seq.output, y))
    dparams, value = grad(lambda p: loss.cross_entropy(f(p, x), y)[0])(params)
    assert float(value) == pytest.approx(want_loss, rel=1e-12)
    np.testing.assert_allclose(host(dparams[0][0]), host(lin1.grad_weight), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(dparams[1][1]), host(lin2.grad_bias), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["ReLU", "Tanh", "Sigmoid", "SoftMax", "LogSoftMax", "ELU", "SoftPlus"])
def test_neural_network_gradients_against_finite_differences(name: str) -> None:
    f, params, _ = model.NeuralNetwork(input_features=3, hidden_features=[4, 2], activations=name)
    check_tree(f, params, ft.randn(5, 3))


def test_classifier_784_50_10_is_ten_way_and_trains_with_sgd() -> None:
    f, params, layers = model.NeuralNetwork(input_features=784, hidden_features=[50, 10], classifier=True)
    assert [layer.kind for layer in layers] == ["Reshape", "Linear", "ReLU", "Linear"]
    x, y = ft.randn(32, 784), ft.LongTensor([i % 10 for i in range(32)])
    assert f(params, x).size() == (32, 10)

    def cost(params: Any, x: Any, y: Any) -> Any:
        return loss.cross_entropy(f(params, x), y)[0] / x.size(0)

    df = grad(cost)
    dparams, first = df(params, x, y)
    coords = [(0, 3, 100), (1, 7), (2, 9, 49), (3, 0)]  # flatten order: W1, b1, W2, b2
    leaves, _ = util.flatten(dparams)
    want = central_differences(cost, params, coords, x, y)
    got = [float(leaves[c[0]][tuple(c[1:])]) for c in coords]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-8)
    for _ in range(30):
        dparams, value = df(params, x, y)
        params = [[p - 0.1 * g for p, g in zip(ps, gs, strict=True)] for ps, gs in zip(params, dparams, strict=True)]
    assert float(cost(params, x, y)) < 0.5 * float(first)


def test_dropout_only_in_training() -> None:
    f, params, layers = model.NeuralNetwork(
        input_features=50, hidden_features=[50], activations="Identity", dropout_probs=[0.5]
    )
    assert [layer.kind for layer in layers] == ["Reshape", "Dropout", "Linear", "Identity"]
    params[0][0].copy_(ft.eye(50))
    params[0][1].zero_()
    x = ft.ones(4, 50)
    assert f(params, x, train=False).tolist() == x.tolist()
    y = f(params, x)
    assert sorted(set(y.view(-1).tolist())) == [0.0, 2.0]
    dx = grad(lambda x: f(params, x).sum())(x)[0]  # the mask drawn at that call
    assert sorted(set(dx.view(-1).tolist())) == [0.0, 2.0]


def test_batch_normalization_matches_nn() -> None:
    f, params, layers = model.NeuralNetwork(input_features=4, hidden_features=[3, 2], batch_normalization=True)
    assert [layer.kind for layer in layers] == [
        "Reshape",
        "Linear",
        "BatchNormalization",
        "ReLU",
        "Linear",
        "BatchNormalization",
        "ReLU",
    ]
    assert len(params) == 4
    x = ft.randn(8, 4)
    bn = nn.BatchNormalization(3)
    bn.weight.copy_(params[1][0])
    bn.bias.copy_(params[1][1])
    h = model.sequence(layers[:3])(params, x)
    np.testing.assert_allclose(host(h), host(bn.forward(x @ params[0][0].t() + params[0][1])), rtol=1e-10)
    state = layers[2].state
    assert state is not None
    np.testing.assert_allclose(host(state["running_mean"]), host(bn.running_mean), rtol=1e-12)
    np.testing.assert_allclose(host(state["running_var"]), host(bn.running_var), rtol=1e-12)
    bn.evaluate()
    h_eval = model.sequence(layers[:3])(params, x, train=False)
    np.testing.assert_allclose(host(h_eval), host(bn.forward(x @ params[0][0].t() + params[0][1])), rtol=1e-10)
    check_tree(lambda p, x: f(p, x), params, x)  # training mode: through the batch statistics
    check_tree(lambda p, x: f(p, x, False), params, x)


def test_classifier_drops_last_activation_and_batch_normalization() -> None:
    _, params, layers = model.NeuralNetwork(
        input_features=4, hidden_features=[3, 2], batch_normalization=True, classifier=True
    )
    assert [layer.kind for layer in layers][-2:] == ["ReLU", "Linear"]
    assert len(params) == 3


def test_bad_options_are_refused() -> None:
    with pytest.raises(ArgumentError):
        model.NeuralNetwork(activations="Swish")
    with pytest.raises(ArgumentError):
        model.NeuralNetwork(hidden_features=[10, 0])
    with pytest.raises(ArgumentError):
        model.NeuralNetwork(dropout_probs=[0.5, 1.0])
    with pytest.raises(ArgumentError):
        model.RecurrentNetwork(output_type="first")


# -- SpatialNetwork and AlexNet ---------------------------------------------------------------


def test_spatial_network_defaults_and_sizes() -> None:
    f, params, layers = model.SpatialNetwork()
    assert [tuple(p[0].size()) for p in params] == [(16, 3, 5, 5), (32, 16, 5, 5), (64, 32, 5, 5)]
    assert f(params, ft.randn(2, 3, 9, 9)).size() == (2, 64, 9, 9)  # padding 2 keeps the size
    assert f(params, ft.randn(3, 9, 9)).size() == (64, 9, 9)
    f, params, _ = model.SpatialNetwork(
        input_features=1, hidden_features=[2, 3], kernel_size=3, padding=0, poolings=[2, 1], input_stride=2
    )
    # 17 -> conv stride 2 -> 8 -> pool 2 -> 4 -> conv -> 2
    assert f(params, ft.randn(1, 1, 17, 17)).size() == (1, 3, 2, 2)


def test_spatial_layers_match_nn() -> None:
    f, params, layers = model.SpatialNetwork(
        input_features=2, hidden_features=[3], kernel_size=3, poolings=[2], input_stride=2
    )
    conv = nn.SpatialConvolutionMM(2, 3, 3, 3, 2, 2, 1, 1)
    conv.weight.copy_(params[0][0])
    conv.bias.copy_(params[0][1])
    seq = nn.Sequential().add(conv).add(nn.ReLU()).add(nn.SpatialMaxPooling(2, 2))
    x = ft.randn(2, 2, 11, 11)  # conv -> 6 x 6, pool -> 3 x 3
    np.testing.assert_allclose(host(f(params, x)), host(seq.forward(x)), rtol=1e-12, atol=1e-14)
    x = ft.randn(2, 13, 13)  # conv -> 7 x 7; pooling drops the last row and column, as nn's floor mode
    np.testing.assert_allclose(host(f(params, x)), host(seq.forward(x)), rtol=1e-12, atol=1e-14)


def test_spatial_network_gradients() -> None:
    f, params, _ = model.SpatialNetwork(
        input_features=2, hidden_features=[3, 2], kernel_size=3, poolings=[2, 1], activations="Tanh"
    )
    check_tree(f, params, ft.randn(2, 2, 6, 6))
    f, params, _ = model.SpatialNetwork(input_features=1, hidden_features=[2], kernel_size=3, batch_normalization=True)
    check_tree(f, params, ft.randn(3, 1, 5, 5))


@pytest.mark.parametrize("k", [2, 3])
def test_max_pooling_gradients_match_finite_differences_and_share_ties_evenly(k: int) -> None:
    from flambeau.autograd.model import _max_pool2d

    x = ft.randn(2, 3, 3 * k + 1, 2 * k + 1)  # floor mode: the last row and column are dropped
    check_grads(lambda x: _max_pool2d(x, k), x, order=2)
    g = host(grad(lambda x: (_max_pool2d(x, k) * ft.arange(1.0, 7.0).view(3, 2)).sum())(x[0, 0])[0])
    assert np.all(g[3 * k :] == 0) and np.all(g[:, 2 * k :] == 0)
    assert sorted(g[g != 0].tolist()) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]  # each block's maximum only
    # Ties: the gradient is shared evenly by the block's maxima, as max's own rule does.
    block = np.full((k, k), -1.0)
    block.flat[[0, k, k * k - 1]] = 2.0  # three maxima
    tied = grad(lambda x: _max_pool2d(x, k).sum())(on_device(block))[0]
    np.testing.assert_allclose(host(tied), np.where(block == 2.0, 1 / 3, 0.0), rtol=1e-15)


def test_spatial_dropout_and_batch_normalization_layers() -> None:
    f, params, layers = model.SpatialNetwork(
        input_features=1, hidden_features=[20], kernel_size=1, dropout_probs=0.5, batch_normalization=True
    )
    assert [layer.kind for layer in layers] == [
        "SpatialDropout",
        "SpatialConvolutionMM",
        "SpatialBatchNormalization",
        "ReLU",
    ]
    drop = layers[0]
    y = drop(params, ft.ones(2, 20, 3, 3))
    planes = y.sum(3).sum(2).view(-1).tolist()
    assert set(planes) == {0.0, 9.0}  # whole maps dropped, no rescaling (nn's SpatialDropout)
    assert drop(params, ft.ones(1, 2, 1, 1), False).view(-1).tolist() == [0.5, 0.5]
    bn = nn.SpatialBatchNormalization(20)
    bn.weight.copy_(params[1][0])
    bn.bias.copy_(params[1][1])
    x = ft.randn(4, 20, 3, 3)
    np.testing.assert_allclose(host(layers[2](params, x)), host(bn.forward(x)), rtol=1e-10)


def test_alexnet_sizes_and_gradients() -> None:
    f, params, layers = model.AlexNet(
        3,
        10,
        8,
        {"hidden_features": [4, 5], "kernel_size": 3, "poolings": [2, 2]},
        {"hidden_features": [6, 4], "dropout_probs": [0.2, 0.0]},
    )
    # 10 x 8 -> pool -> 5 x 4 -> pool -> 2 x 2, 5 planes: 20 features
    assert [tuple(p[0].size()) for p in params] == [(4, 3, 3, 3), (5, 4, 3, 3), (6, 20), (4, 6)]
    assert [layer.kind for layer in layers][-4:] == ["Dropout", "Linear", "ReLU", "Linear"]  # a classifier
    x = ft.randn(2, 3, 10, 8)
    assert f(params, x).size() == (2, 4)
    assert f(params, x[0]).size() == (4,)
    y = ft.LongTensor([1, 3])
    check_tree(lambda p, x: loss.cross_entropy(f(p, x, False), y)[0], params, x)
    with pytest.raises(ArgumentError):
        model.AlexNet(3, 8, 8, {"input_features": 1})
    with pytest.raises(ArgumentError):
        model.AlexNet(3, 8, 8, None, {"input_features": 100})


# -- recurrent networks ----------------------------------------------------------------------

F, H, N, T = 3, 4, 2, 10


@pytest.mark.parametrize(
    "builder, keys",
    [
        (model.RecurrentNetwork, {"W": (F + H, H), "b": (1, H)}),
        (model.RecurrentLSTMNetwork, {"W": (F + H, 4 * H), "b": (1, 4 * H)}),
        (model.RecurrentGRUNetwork, {"W": (F + H, 2 * H), "b": (1, 2 * H), "V": (F + H, H), "c": (1, H)}),
    ],
)
def test_recurrent_sizes(builder: Any, keys: dict[str, tuple[int, ...]]) -> None:
    f, params, *_ = builder(input_features=F, hidden_features=H)
    assert {k: tuple(v.size()) for k, v in params[0].items()} == keys
    assert all(float(v.abs().sum()) == 0 for v in params[0].values())  # zeros, as torch-autograd's
    normal_(params, 0.1)
    h, state = f(params, ft.randn(N, T, F))
    assert h.size() == (N, H) and state["h"].size() == (N, H)
    h1, _ = f(params[0], ft.randn(T, F))  # the dict itself, one sequence
    assert h1.size() == (1, H)
    f_all, _, *_ = builder(input_features=F, hidden_features=H, output_type="all")
    x = ft.randn(N, T, F)
    hs, state = f_all(params, x)
    assert hs.size() == (N, T, H)
    np.testing.assert_allclose(host(hs[:, -1]), host(state["h"]))
    np.testing.assert_allclose(host(f(params, x)[0]), host(state["h"]))
    # continuing from the state equals running the whole sequence
    first, state = f_all(params, x.narrow(1, 0, 6))
    rest, _ = f_all(params, x.narrow(1, 6, 4), state)
    np.testing.assert_allclose(host(ft.cat([first, rest], 1)), host(hs), rtol=1e-12)


def test_lstm_one_step_by_hand() -> None:
    f, params, layers = model.RecurrentLSTMNetwork(input_features=F, hidden_features=H)
    assert layers == {}
    normal_(params, 0.5)
    W, b = host(params[0]["W"]), host(params[0]["b"])
    x, h0, c0 = np.random.default_rng(0).normal(size=(3, N, F + H))
    x, h0, c0 = x[:, :F], h0[:, :H], c0[:, :H]
    z = np.concatenate([x, h0], 1) @ W + b
    sig = lambda v: 1 / (1 + np.exp(-v))
    i, fg, o, g = (z[:, k * H : (k + 1) * H] for k in range(4))  # input, forget, output, candidate
    c = sig(fg) * c0 + sig(i) * np.tanh(g)
    h = sig(o) * np.tanh(c)
    got, state = f(params, on_device(x).view(N, 1, F), {"h": on_device(h0), "c": on_device(c0)})
    np.testing.assert_allclose(host(got), h, rtol=1e-12)
    np.testing.assert_allclose(host(state["c"]), c, rtol=1e-12)


def test_gru_one_step_by_hand() -> None:
    f, params = model.RecurrentGRUNetwork(input_features=F, hidden_features=H)
    normal_(params, 0.5)
    p = {k: host(v) for k, v in params[0].items()}
    rng = np.random.default_rng(1)
    x, h0 = rng.normal(size=(N, F)), rng.normal(size=(N, H))
    gates = 1 / (1 + np.exp(-(np.concatenate([x, h0], 1) @ p["W"] + p["b"])))
    reset, update = gates[:, :H], gates[:, H:]
    candidate = np.tanh(np.concatenate([x, h0 * reset], 1) @ p["V"] + p["c"])
    want = (1 - update) * h0 + update * candidate
    got, _ = f(params, on_device(x).view(N, 1, F), {"h": on_device(h0)})
    np.testing.assert_allclose(host(got), want, rtol=1e-12)


def test_rnn_one_step_by_hand() -> None:
    f, params = model.RecurrentNetwork(input_features=F, hidden_features=H)
    normal_(params, 0.5)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(N, F))
    want = np.tanh(np.concatenate([x, np.zeros((N, H))], 1) @ host(params[0]["W"]) + host(params[0]["b"]))
    np.testing.assert_allclose(host(f(params, on_device(x).view(N, 1, F))[0]), want, rtol=1e-12)


@pytest.mark.parametrize("builder", [model.RecurrentLSTMNetwork, model.RecurrentGRUNetwork, model.RecurrentNetwork])
@pytest.mark.parametrize("output_type", ["last", "all"])
def test_recurrent_gradients_through_ten_steps(builder: Any, output_type: str) -> None:
    """The issue's test: LSTM and GRU differentiated through 10 time steps against finite differences."""
    f, params, *_ = builder(input_features=F, hidden_features=H, output_type=output_type)
    normal_(params, 0.01)
    x = ft.randn(N, T, F)
    check_tree(lambda p, x: f(p, x)[0], params, x)
    # the gradient of a scalar loss, coordinate by coordinate, and the input's gradient too
    target = ft.randn(N, H)

    def cost(p: Any, x: Any) -> Any:
        h = f(p, x)[0]
        h = h if output_type == "last" else h.select(1, T - 1)
        return ((h - target) ** 2).sum()

    dparams, _ = grad(cost)(params, x)
    leaves, _ = util.flatten(dparams)
    coords = [(0, 0, 0), (len(leaves) - 1, 0, 1), (len(leaves) - 1, 0, 0)]
    want = central_differences(cost, params, coords, x)
    np.testing.assert_allclose([float(leaves[c[0]][c[1:]]) for c in coords], want, rtol=1e-5, atol=1e-9)
    check_grads(lambda x: f(params, x)[0], x, order=1)


def test_lstm_gradient_with_previous_state() -> None:
    f, params, _ = model.RecurrentLSTMNetwork(input_features=F, hidden_features=H)
    normal_(params, 0.3)
    x = ft.randn(N, T, F)
    h0, c0 = ft.randn(N, H), ft.randn(N, H)
    check_grads(lambda h0, c0: f(params, x, {"h": h0, "c": c0})[1]["c"], h0, c0, order=1)


def test_lstm_batch_normalization() -> None:
    f, params, layers = model.RecurrentLSTMNetwork(
        input_features=F, hidden_features=H, batch_normalization=True, max_batch_normalization_layers=3
    )
    assert "b" not in params[0] and float(params[0]["lstm_bn_1"][0]) == pytest.approx(0.1)
    assert len(layers["lstm_bn"]) == 3 and len(layers["cell_bn"]) == 3
    params[0]["W"].normal_(0, 0.3)
    x = ft.randn(5, T, F)
    h, state = f(params, x)
    assert h.size() == (5, H)
    assert float(layers["lstm_bn"][2]["running_mean"].abs().sum()) > 0  # the later steps share the last
    before = copy.deepcopy(layers)
    h_eval, _ = f(params, x, train=False)
    assert all(
        (a["running_mean"] == b["running_mean"]).all()
        for a, b in zip(before["lstm_bn"], layers["lstm_bn"], strict=True)
    )
    assert not np.allclose(host(h_eval), host(h))
    check_tree(lambda p, x: f(p, x)[0], params, x)


def test_recurrent_input_errors() -> None:
    f, params = model.RecurrentNetwork(input_features=F, hidden_features=H)
    with pytest.raises(ShapeError):
        f(params, ft.randn(N, T, F + 1))
    with pytest.raises(ShapeError):
        f(params, ft.randn(F))
