"""The talk's nn examples, in flambeau: Lego-style models, a training loop by hand, the convnet.

Run it with `python examples/nn.py` where flambeau is installed (`nox -s examples` runs it).
Every step prints what it computes and checks the values.
"""

import os
import tempfile

import flambeau.nn as nn
import flambeau.tensor as ft
from flambeau.nn import image


def main() -> None:
    ft.manual_seed(0)

    # An MLP from modules, trained by hand on a toy problem: which of 4 inputs is largest.
    mlp = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 4), nn.LogSoftMax())
    print(mlp)
    crit = nn.ClassNLLCriterion()
    x = ft.randn(256, 4)
    y = ft.argmax(x, 1)
    params, grads = mlp.get_parameters()  # every parameter in one tensor, as optim expects
    print(f"{params.nelement()} parameters")
    first = None
    for _ in range(200):
        grads.zero_()
        loss = crit.forward(mlp.forward(x), y)
        mlp.backward(x, crit.backward(mlp.output, y))
        params.add_(grads * -0.5)
        first = loss if first is None else first
    accuracy = float(ft.eq(ft.argmax(mlp.forward(x), 1), y).double().mean())
    print(f"MLP: loss {first:.3f} -> {loss:.3f}, training accuracy {accuracy:.2f}")
    assert loss < 0.5 * first and accuracy > 0.8

    # Saved and loaded like any tensor: no pickle, classes by name.
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "mlp.flb")
        ft.save(path, mlp)
        back = ft.load(path)
    assert back.forward(x).equal(mlp.forward(x))
    print("saved and loaded: same outputs")

    # The talk's convnet on 3x32x32 images, a few steps on random data with fixed labels.
    model = nn.Sequential()
    model.add(nn.SpatialConvolution(3, 16, 5, 5)).add(nn.Tanh()).add(nn.SpatialMaxPooling(2, 2, 2, 2))
    model.add(nn.SpatialContrastiveNormalization(16, image.gaussian(3)))
    model.add(nn.SpatialConvolution(16, 64, 5, 5)).add(nn.Tanh()).add(nn.SpatialMaxPooling(2, 2, 2, 2))
    model.add(nn.SpatialContrastiveNormalization(64, image.gaussian(3)))
    model.add(nn.SpatialConvolution(64, 256, 5, 5)).add(nn.Tanh())
    model.add(nn.Reshape(256)).add(nn.Linear(256, 10)).add(nn.LogSoftMax())
    images, labels = ft.randn(16, 3, 32, 32), ft.LongTensor(list(range(10)) + list(range(6)))
    losses = []
    for _ in range(10):
        model.zero_grad_parameters()
        losses.append(crit.forward(model.forward(images), labels))
        model.backward(images, crit.backward(model.output, labels))
        model.update_parameters(0.05)
    print(f"convnet: output {model.output.size()}, loss {losses[0]:.3f} -> {losses[-1]:.3f}")
    assert model.output.size() == ft.Size([16, 10]) and losses[-1] < losses[0]

    # Errors say where they happened.
    try:
        model.forward(ft.randn(3, 28, 28))
    except ft.ShapeError as e:
        print("a 28x28 image:", e)


if __name__ == "__main__":
    main()
