"""flambeau.nn modules: a Lego-style MLP trained by a loop written by hand, saved and loaded.

The parameters of every module are gathered into one flat tensor (`get_parameters`, what
flambeau.optim expects); the loop zeroes the gradients, runs forward and backward, and steps.
The model is then saved to `mlp.flb` in the current directory and loaded back. The talk's convnet
is in `nn_convnet.py`, the same training with flambeau.optim in `optim_training.py`.

Run it with `python examples/nn_modules.py` where flambeau is installed
(`python3 -m nox -s examples` runs every example). Every step prints what it computes and checks it.
"""

import os

import flambeau.nn as nn
import flambeau.tensor as ft


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
    ft.save("mlp.flb", mlp)
    back = ft.load("mlp.flb")
    print(back)
    assert back.forward(x).equal(mlp.forward(x)) and back is not mlp
    print(f"saved to {os.path.abspath('mlp.flb')} and loaded: same outputs")


if __name__ == "__main__":
    main()
    print("nn_modules.py: all checks passed")
