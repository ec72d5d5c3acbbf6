"""The talk's neural net three ways: autograd on functions, autograd.nn layers, nn modules.

The same 784-50-10 network (tanh hidden layer, log-softmax, class NLL averaged over the batch),
with the same weights, written

1. as an ordinary function of a dict of weight tensors, differentiated by `autograd.grad`;
2. with `flambeau.autograd.nn`'s functional layers (nn modules as functions `grad` understands,
   their own backward passes supplying the gradients), plus an `AutoModule` variant: an
   `nn.Module` whose backward pass autograd derives from a function;
3. with `flambeau.nn` modules, `forward` and `backward` by hand.

Every way must give the same loss and the same gradients, the first is checked against finite
differences, and each way trains by SGD to a lower loss.

Run it with `python examples/neural_net_three_ways.py` where flambeau is installed
(`python3 -m nox -s examples` runs every example).
"""

from typing import Any

import numpy as np

import flambeau.nn as nn
import flambeau.tensor as ft
from flambeau.autograd import AutoModule, check_grads, grad, util
from flambeau.autograd import nn as agnn

BATCH = 16


# 1. Individual functions of the weights.
def net_functions(params: dict[str, Any], x: Any, y: Any) -> Any:
    h = ft.tanh(x @ params["W1"].t() + params["b1"])
    logp = util.log_softmax(h @ params["W2"].t() + params["b2"])
    return -logp[ft.arange(x.size(0)), y].mean()


# 2. autograd.nn functional layers: nn modules as functions, called with their parameters.
linear1, _ = agnn.Linear(784, 50)
tanh = agnn.Tanh()
linear2, _ = agnn.Linear(50, 10)
log_softmax = agnn.LogSoftMax()
nll = agnn.ClassNLLCriterion()


def net_layers(params: list[list[Any]], x: Any, y: Any) -> Any:
    return nll(log_softmax(linear2(params[1], tanh(linear1(params[0], x)))), y)


# 2'. AutoModule: an nn module whose forward is a function and whose backward autograd derives.
def tanh_layer(x: Any, weight: Any, bias: Any) -> Any:
    return ft.tanh(x @ weight.t() + bias)


# 3. nn modules.
def nn_model(w: dict[str, Any]) -> nn.Sequential:
    model = nn.Sequential(nn.Linear(784, 50), nn.Tanh(), nn.Linear(50, 10), nn.LogSoftMax())
    model.get(0).weight.copy_(w["W1"])
    model.get(0).bias.copy_(w["b1"])
    model.get(2).weight.copy_(w["W2"])
    model.get(2).bias.copy_(w["b2"])
    return model


def modules_loss_and_grads(model: nn.Module, x: Any, y: Any) -> tuple[float, list[Any]]:
    crit = nn.ClassNLLCriterion()  # averages over the batch, as the other two ways do
    model.zero_grad_parameters()
    loss = crit.forward(model.forward(x), y)
    model.backward(x, crit.backward(model.output, y))
    return loss, [g.clone() for g in model.parameters()[1]]


def main() -> None:
    rng = np.random.default_rng(0)
    x = ft.from_numpy(rng.standard_normal((BATCH, 784)) * 0.5)
    y = ft.from_numpy(rng.integers(0, 10, BATCH))
    w = {
        "W1": ft.from_numpy(rng.standard_normal((50, 784)) / 28),
        "b1": ft.from_numpy(rng.standard_normal(50) * 0.1),
        "W2": ft.from_numpy(rng.standard_normal((10, 50)) / 7),
        "b2": ft.from_numpy(rng.standard_normal(10) * 0.1),
    }
    order = ("W1", "b1", "W2", "b2")
    as_lists = lambda w: [[w["W1"].clone(), w["b1"].clone()], [w["W2"].clone(), w["b2"].clone()]]

    print("== the same loss and gradients, three ways")
    g1, loss1 = grad(net_functions)(w, x, y)
    g1 = [g1[k] for k in order]
    g2, loss2 = grad(net_layers)(as_lists(w), x, y)
    g2 = [t for layer in g2 for t in layer]
    loss3, g3 = modules_loss_and_grads(nn_model(w), x, y)
    auto = nn.Sequential(AutoModule(tanh_layer, w["W1"].clone(), w["b1"].clone()), nn.Linear(50, 10), nn.LogSoftMax())
    auto.get(1).weight.copy_(w["W2"])
    auto.get(1).bias.copy_(w["b2"])
    print(auto)
    loss4, g4 = modules_loss_and_grads(auto, x, y)
    print(
        f"loss: functions {float(loss1):.12f}, autograd.nn {float(loss2):.12f}, nn {loss3:.12f}, AutoModule {loss4:.12f}"
    )
    for name, other_loss, other in (("autograd.nn", loss2, g2), ("nn", loss3, g3), ("AutoModule", loss4, g4)):
        assert abs(float(loss1) - float(other_loss)) < 1e-12, name
        for k, a, b in zip(order, g1, other, strict=True):
            assert a.size() == b.size() and ft.max(ft.abs(a - b)).item() < 1e-12, (name, k)
    print("gradients of W1, b1, W2, b2 agree to 1e-12 between the four")

    # the gradients are right: finite differences on the smaller tensors (W1 has 39200 elements)
    xs, ys = x[:4], y[:4]
    check_grads(lambda w2, b2: net_functions({**w, "W2": w2, "b2": b2}, xs, ys), w["W2"], w["b2"], order=1)
    check_grads(lambda b1: net_functions({**w, "b1": b1}, xs, ys), w["b1"], order=1)
    print("functions: gradients of W2, b2, b1 match finite differences")

    print("== 25 SGD steps each")
    lr = 0.5
    params1 = dict(w)
    dnet = grad(net_functions)
    for _ in range(25):
        g, _ = dnet(params1, x, y)
        params1 = {k: v - lr * g[k] for k, v in params1.items()}
    params2 = as_lists(w)
    dlayers = grad(net_layers)
    for _ in range(25):
        g, _ = dlayers(params2, x, y)
        params2 = [[t - lr * dt for t, dt in zip(p, dp, strict=True)] for p, dp in zip(params2, g, strict=True)]
    model = nn_model(w)
    for _ in range(25):
        modules_loss_and_grads(model, x, y)
        model.update_parameters(lr)
    after = (
        float(net_functions(params1, x, y)),
        float(net_layers(params2, x, y)),
        modules_loss_and_grads(model, x, y)[0],
    )
    print(f"loss {float(loss1):.4f} -> functions {after[0]:.6f}, autograd.nn {after[1]:.6f}, nn {after[2]:.6f}")
    assert max(after) < 0.5 * float(loss1)
    assert max(after) - min(after) < 1e-10  # the same steps from the same weights


if __name__ == "__main__":
    main()
    print("neural_net_three_ways.py: all checks passed")
