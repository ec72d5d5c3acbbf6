"""The demo: train the talk's networks -- an MLP and its small convnet -- to read handwritten digits.

Run it with `python3 -m nox -s demo` (or `python examples/demo.py` where flambeau, scikit-learn and
tqdm are installed). It trains on scikit-learn's bundled 8x8 digits (1797 images, no download) with
flambeau.nn modules and flambeau.optim's Adam, a fixed split and seed; a progress bar runs over the
batches and each epoch prints its loss and accuracy. At the end it writes `loss.png` (the loss
curves, from optim.Logger) and `confusion_mlp.png`, `confusion_convnet.png` (optim.ConfusionMatrix)
into the current directory, and checks that both networks reach at least 95% test accuracy (in about 10 s on 2 cores).

Options: `--mnist PATH` trains on the MNIST idx files in PATH instead (the `t10k` split, 10000
28x28 images, split 8000/2000; or `train` when only it is there), `--epochs N`, `--quick` (fewer
epochs, a smoke run that checks nothing about accuracy). With nox: `python3 -m nox -s demo -- --quick`.
On MNIST the convnet must reach 95% and the MLP 92% (3 epochs: 35 s on 2 idle cores); a missing
or malformed file ends the demo with its error and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

import flambeau.nn as nn
import flambeau.optim as optim
import flambeau.tensor as ft
from flambeau.nn import datasets, image
from flambeau.tensor.errors import FlambeauError

SEED = 1234
# The test accuracy each network must reach (checked after the default number of epochs or more). On MNIST
# the MLP, trained on 8000 images only, levels off near 94%.
REQUIRED_ACCURACY = {"digits": {"mlp": 0.95, "convnet": 0.95}, "mnist": {"mlp": 0.92, "convnet": 0.95}}
DEFAULT_EPOCHS = {"digits": 12, "mnist": 3}


@dataclass
class Data:
    name: str
    train_x: ft.Tensor  # N x 1 x side x side, standardized
    train_y: ft.Tensor  # N class indices, a LongTensor
    test_x: ft.Tensor
    test_y: ft.Tensor

    @property
    def side(self) -> int:
        return int(self.train_x.size(2))


def standardized(train: np.ndarray, test: np.ndarray) -> tuple[ft.Tensor, ft.Tensor]:
    """Pixels scaled by the training set's mean and deviation, as N x 1 x side x side DoubleTensors."""
    mean, std = train.mean(), train.std()

    def scaled(a: np.ndarray) -> ft.Tensor:
        return ft.from_numpy(((a - mean) / std)[:, None, :, :].astype(np.float64))

    return scaled(train), scaled(test)


def load_digits() -> Data:
    """scikit-learn's bundled 8x8 digits, split 75/25 (stratified, fixed seed)."""
    from sklearn.datasets import load_digits as sk_digits
    from sklearn.model_selection import train_test_split

    digits = sk_digits()
    x_tr, x_te, y_tr, y_te = train_test_split(
        digits.images, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    train_x, test_x = standardized(x_tr, x_te)
    return Data(
        "8x8 digits", train_x, ft.from_numpy(y_tr.astype(np.int64)), test_x, ft.from_numpy(y_te.astype(np.int64))
    )


def load_mnist(folder: str) -> Data:
    """The MNIST idx files of ``folder``: t10k (or train when only it is there), shuffled once, 80/20."""
    try:
        images, labels = datasets.load_mnist(folder, "t10k")
    except datasets.DatasetNotFoundError as first:
        try:
            images, labels = datasets.load_mnist(folder, "train")
        except datasets.DatasetNotFoundError as second:
            raise datasets.DatasetNotFoundError(f"{first}; {second}") from None
    order = np.random.default_rng(SEED).permutation(images.size(0))
    x, y = images.numpy()[order].astype(np.float64) / 255.0, labels.numpy()[order].astype(np.int64)
    n_train = int(0.8 * len(order))
    train_x, test_x = standardized(x[:n_train], x[n_train:])
    return Data(f"MNIST ({folder})", train_x, ft.from_numpy(y[:n_train]), test_x, ft.from_numpy(y[n_train:]))


def mlp(side: int) -> nn.Sequential:
    """The talk's MLP: Linear, Tanh, Linear, LogSoftMax."""
    hidden = 128 if side <= 8 else 256
    return nn.Sequential(
        nn.Reshape(side * side), nn.Linear(side * side, hidden), nn.Tanh(), nn.Linear(hidden, 10), nn.LogSoftMax()
    )


def convnet(side: int) -> nn.Sequential:
    """The talk's convnet: convolution, tanh, max pooling and contrastive normalization, twice, then a classifier.

    The talk's net takes 3x32x32 images with 5x5 kernels; on 1x8x8 digits the kernels are 3x3 and
    the second stage ends the spatial extent (8 -> 6 -> 3 -> 1); on 28x28 MNIST the first stage's
    kernel is 5x5 (28 -> 24 -> 12 -> 8 -> 4), then a 4x4 convolution down to the features.
    """
    k1, k2, k3 = (3, 3, 0) if side <= 8 else (5, 5, 4)
    model = nn.Sequential()
    model.add(nn.SpatialConvolution(1, 16, k1, k1)).add(nn.Tanh()).add(nn.SpatialMaxPooling(2, 2, 2, 2))
    model.add(nn.SpatialContrastiveNormalization(16, image.gaussian(3)))
    model.add(nn.SpatialConvolution(16, 64, k2, k2)).add(nn.Tanh())
    if k3:
        model.add(nn.SpatialMaxPooling(2, 2, 2, 2))
        model.add(nn.SpatialContrastiveNormalization(64, image.gaussian(3)))
        model.add(nn.SpatialConvolution(64, 128, k3, k3)).add(nn.Tanh())
    features = 128 if k3 else 64
    model.add(nn.Reshape(features)).add(nn.Linear(features, 10)).add(nn.LogSoftMax())
    return model


def evaluate(
    model: nn.Module, crit: nn.Criterion, x: ft.Tensor, y: ft.Tensor, batch: int = 500
) -> tuple[float, float, ft.Tensor]:
    """Mean loss, accuracy and the predictions over ``x``, in batches (evaluation mode)."""
    model.evaluate()
    loss, predictions = 0.0, []
    for i in range(0, x.size(0), batch):
        xb, yb = x.narrow(0, i, min(batch, x.size(0) - i)), y.narrow(0, i, min(batch, y.size(0) - i))
        out = model.forward(xb)
        loss += crit.forward(out, yb) * xb.size(0)
        predictions.append(ft.argmax(out, 1))
    model.training()
    pred = ft.cat(predictions, 0)
    return loss / x.size(0), float(ft.eq(pred, y).double().mean()), pred


def train(
    name: str, model: nn.Sequential, data: Data, epochs: int, batch: int, learning_rate: float
) -> tuple[list[tuple[float, float]], float, ft.Tensor]:
    """Train with Adam on mini-batches; returns per-epoch (train loss, test loss), the test accuracy, predictions."""
    crit = nn.ClassNLLCriterion()
    params, grads = model.get_parameters()
    config = {"learning_rate": learning_rate}
    n = data.train_x.size(0)
    print(f"\n{name}: {params.nelement()} parameters, {epochs} epochs of {n} images in batches of {batch}")
    print(model)
    history = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        order = ft.randperm(n).long()
        total, correct = 0.0, 0
        bar = tqdm(
            range(0, n, batch), desc=f"{name} epoch {epoch}/{epochs}", unit="batch", leave=False, mininterval=0.5
        )
        for i in bar:
            idx = order.narrow(0, i, min(batch, n - i))
            xb, yb = data.train_x.index_select(0, idx), data.train_y.index_select(0, idx)

            def feval(_: ft.Tensor, xb: ft.Tensor = xb, yb: ft.Tensor = yb) -> tuple[float, ft.Tensor]:
                grads.zero_()
                out = model.forward(xb)
                loss = crit.forward(out, yb)
                model.backward(xb, crit.backward(out, yb))
                return loss, grads

            _, (loss,) = optim.adam(feval, params, config)
            total += loss * idx.size(0)
            correct += int(ft.eq(ft.argmax(model.output, 1), yb).sum().item())
            bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        bar.close()
        test_loss, test_acc, _ = evaluate(model, crit, data.test_x, data.test_y)
        history.append((total / n, test_loss))
        print(
            f"{name} epoch {epoch:2d}/{epochs}: train loss {total / n:.4f} acc {correct / n:.4f} | "
            f"test loss {test_loss:.4f} acc {test_acc:.4f} | {time.perf_counter() - start:.1f} s"
        )
    _, accuracy, predictions = evaluate(model, crit, data.test_x, data.test_y)
    return history, accuracy, predictions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--mnist", metavar="PATH", help="train on the MNIST idx files in PATH instead of the 8x8 digits"
    )
    parser.add_argument(
        "--epochs",
        type=int,
        metavar="N",
        help="epochs per network (default: 12 on digits, 3 on MNIST; fewer: accuracy not checked)",
    )
    parser.add_argument("--quick", action="store_true", help="2 epochs, a smoke run: the accuracy is not checked")
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")

    start = time.perf_counter()
    ft.manual_seed(SEED)
    if args.mnist:
        try:
            data = load_mnist(args.mnist)
        except (FlambeauError, OSError) as e:
            print(f"demo.py: --mnist {args.mnist}: {e}", file=sys.stderr)
            return 2
    else:
        data = load_digits()
    kind = "mnist" if args.mnist else "digits"
    epochs = 2 if args.quick else args.epochs or DEFAULT_EPOCHS[kind]
    print(
        f"{data.name}: {data.train_x.size(0)} training and {data.test_x.size(0)} test images of {data.side}x{data.side}"
    )

    networks: dict[str, Callable[[int], nn.Sequential]] = {"mlp": mlp, "convnet": convnet}
    learning_rates = {"mlp": 0.003, "convnet": 0.003}
    results = {}
    for name, make in networks.items():
        ft.manual_seed(SEED)
        history, accuracy, predictions = train(name, make(data.side), data, epochs, 32, learning_rates[name])
        results[name] = (history, accuracy)
        cm = optim.ConfusionMatrix([str(d) for d in range(10)])
        cm.batch_add(predictions, data.test_y)
        print(f"\n{name}: test confusion matrix (rows: the digit, columns: the prediction)")
        print(cm)
        cm.render(path=f"confusion_{name}.png")

    logger = optim.Logger("loss.log")
    logger.set_names([f"{name} {part} loss" for name in networks for part in ("train", "test")])
    for epoch in range(epochs):
        logger.add([v for name in networks for v in results[name][0][epoch]])
    logger.close()
    logger.style(["+-"] * len(logger.names))  # Torch's styles: points joined by lines
    logger.plot(path="loss.png")

    elapsed = time.perf_counter() - start
    print(f"\nwrote loss.png, loss.log, {', '.join(f'confusion_{n}.png' for n in networks)} in {os.getcwd()}")
    print(
        ", ".join(f"{name} test accuracy {acc:.4f}" for name, (_, acc) in results.items()) + f"; {elapsed:.1f} s in all"
    )
    for path in ["loss.png"] + [f"confusion_{n}.png" for n in networks]:
        with open(path, "rb") as f:
            assert f.read(4) == b"\x89PNG", path
    if not args.quick and epochs >= DEFAULT_EPOCHS[kind]:
        for name, (_, acc) in results.items():
            required = REQUIRED_ACCURACY[kind][name]
            assert acc >= required, f"{name}: test accuracy {acc:.4f} < {required}"
    return 0


if __name__ == "__main__":
    sys.exit(main())
