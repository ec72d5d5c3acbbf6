"""Training with flambeau.optim: `optim.sgd` steps, `optim.Logger` and `optim.ConfusionMatrix`.

An MLP (flambeau.nn) learns to tell three Gaussian blobs apart. `optim.sgd` (with momentum) takes
the flat parameter tensor and an `opfunc` returning the loss and its gradient, as in Torch. Every
epoch's loss and accuracies go to `optim.Logger`, which writes `training.log` and the plot
`training.log.png` into the current directory; the test set's `optim.ConfusionMatrix` is printed,
rendered to `confusion.png` and checked against counts made with numpy.

Run it with `python examples/optim_training.py` where flambeau is installed
(`python3 -m nox -s examples` runs every example; `MPLBACKEND=Agg` when there is no display).
"""

import os

import numpy as np

import flambeau.nn as nn
import flambeau.optim as optim
import flambeau.tensor as ft

CLASSES = ["left", "top", "right"]


def blobs(n: int, rng: np.random.Generator) -> tuple[ft.Tensor, ft.Tensor]:
    """``n`` points per class around three centres, and their 0-based labels."""
    centres = np.array([[-2.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
    labels = np.repeat(np.arange(3), n)
    points = centres[labels] + rng.standard_normal((3 * n, 2)) * 0.9
    order = rng.permutation(3 * n)
    return ft.from_numpy(points[order]), ft.from_numpy(labels[order])


def main() -> None:
    rng = np.random.default_rng(0)
    ft.manual_seed(0)
    x_train, y_train = blobs(200, rng)
    x_test, y_test = blobs(100, rng)

    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 3), nn.LogSoftMax())
    crit = nn.ClassNLLCriterion()
    params, grads = model.get_parameters()
    config = {"learning_rate": 0.1, "momentum": 0.9}

    logger = optim.Logger("training.log")
    logger.set_names(["epoch", "train loss", "train accuracy", "test accuracy"])
    logger.style({"train loss": "+-", "train accuracy": "-", "test accuracy": "-"})

    def accuracy(x: ft.Tensor, y: ft.Tensor) -> float:
        return ft.eq(ft.argmax(model.forward(x), 1), y).double().mean().item()

    batch = 40
    for epoch in range(1, 11):
        total = 0.0
        for start in range(0, x_train.size(0), batch):
            xb, yb = x_train[start : start + batch], y_train[start : start + batch]

            def opfunc(p: ft.Tensor, xb: ft.Tensor = xb, yb: ft.Tensor = yb) -> tuple[float, ft.Tensor]:
                if p is not params:
                    params.copy_(p)
                grads.zero_()
                loss = crit.forward(model.forward(xb), yb)
                model.backward(xb, crit.backward(model.output, yb))
                return loss, grads

            _, (loss,) = optim.sgd(opfunc, params, config)
            total += loss * xb.size(0)
        row = [epoch, total / x_train.size(0), accuracy(x_train, y_train), accuracy(x_test, y_test)]
        logger.add(row)
        print(f"epoch {epoch:2d}: loss {row[1]:.4f}, train accuracy {row[2]:.3f}, test accuracy {row[3]:.3f}")
    logger.close()
    logger.hide_series("epoch")  # the row number is the x axis already
    image = logger.plot()

    losses = logger.symbols["train loss"]
    assert losses[-1] < 0.5 * losses[0], losses
    assert logger.symbols["test accuracy"][-1] > 0.85
    lines = open("training.log").read().splitlines()
    assert lines[0].split("\t")[:4] == ["epoch", "train loss", "train accuracy", "test accuracy"] and len(lines) == 11
    assert abs(float(lines[-1].split("\t")[1]) - losses[-1]) < 1e-4 * losses[-1]  # written %11.4e
    assert image == "training.log.png" and open(image, "rb").read(4) == b"\x89PNG"
    print(f"wrote {os.path.abspath('training.log')} and {os.path.abspath(image)}")

    # The confusion matrix on the test set: rows are targets, columns predictions.
    cm = optim.ConfusionMatrix(CLASSES)
    predictions = ft.argmax(model.forward(x_test), 1)
    cm.batch_add(predictions, y_test)
    cm.update_valids()
    print(cm)
    counts = np.zeros((3, 3), dtype=np.int64)
    np.add.at(counts, (y_test.numpy(), predictions.numpy()), 1)
    assert cm.mat.tolist() == counts.tolist()
    assert abs(cm.total_valid - np.trace(counts) / counts.sum()) < 1e-15
    assert abs(cm.total_valid - logger.symbols["test accuracy"][-1]) < 1e-15
    recall = np.diag(counts) / counts.sum(1)
    assert np.allclose(cm.valids.numpy(), recall, rtol=1e-15)
    cm.render("confusion.png")
    assert open("confusion.png", "rb").read(4) == b"\x89PNG"
    print(f"wrote {os.path.abspath('confusion.png')}")


if __name__ == "__main__":
    main()
    print("optim_training.py: all checks passed")
