"""The talk's convnet with flambeau.nn: Lego-style modules, forward and backward on a batch.

`nn.Sequential` of `SpatialConvolution`, `Tanh`, `SpatialMaxPooling`,
`SpatialContrastiveNormalization`, `Reshape`, `Linear` and `LogSoftMax`, on a batch of 3x32x32
images. The script checks every layer's output size, checks the gradient `backward` accumulates
for weights of the first and last convolutions against central finite differences of the loss,
and takes a few SGD steps.

Run it with `python examples/nn_convnet.py` where flambeau is installed
(`python3 -m nox -s examples` runs every example).
"""

import flambeau.nn as nn
import flambeau.tensor as ft
from flambeau.nn import image


def the_convnet() -> nn.Sequential:
    """The talk's model: 3x32x32 images to 10 log-probabilities."""
    model = nn.Sequential()
    model.add(nn.SpatialConvolution(3, 16, 5, 5)).add(nn.Tanh()).add(nn.SpatialMaxPooling(2, 2, 2, 2))
    model.add(nn.SpatialContrastiveNormalization(16, image.gaussian(3)))
    model.add(nn.SpatialConvolution(16, 64, 5, 5)).add(nn.Tanh()).add(nn.SpatialMaxPooling(2, 2, 2, 2))
    model.add(nn.SpatialContrastiveNormalization(64, image.gaussian(3)))
    model.add(nn.SpatialConvolution(64, 256, 5, 5)).add(nn.Tanh())
    model.add(nn.Reshape(256)).add(nn.Linear(256, 10)).add(nn.LogSoftMax())
    return model


def main() -> None:
    ft.manual_seed(0)
    model = the_convnet()
    print(model)
    crit = nn.ClassNLLCriterion()
    batch = 8
    images, labels = ft.randn(batch, 3, 32, 32), ft.LongTensor([3, 1, 4, 1, 5, 9, 2, 6])

    # forward: every layer's output size
    out = model.forward(images)
    sizes = [tuple(m.output.size()) for m in model.modules]
    for m, s in zip(model.modules, sizes, strict=True):
        print(f"  {str(m):60s} -> {'x'.join(map(str, s))}")
    assert sizes[0] == (batch, 16, 28, 28) and sizes[2] == (batch, 16, 14, 14)
    assert sizes[4] == (batch, 64, 10, 10) and sizes[6] == (batch, 64, 5, 5)
    assert sizes[8] == (batch, 256, 1, 1) and sizes[10] == (batch, 256) and out.size() == ft.Size([batch, 10])
    assert ft.max(ft.abs(out.exp().sum(1) - 1)).item() < 1e-12  # log-probabilities

    # backward: the gradient of the loss for every parameter, and for the input
    model.zero_grad_parameters()
    loss = crit.forward(out, labels)
    grad_images = model.backward(images, crit.backward(out, labels))
    assert grad_images.size() == images.size()
    print(f"loss {loss:.6f}; gradient for the images of size {grad_images.size()}")

    # check single weights against central finite differences of the loss
    def loss_at() -> float:
        return crit.forward(model.forward(images), labels)

    eps = 1e-6
    for index, where in ((0, (5, 2, 1, 3)), (8, (100, 17, 2, 4)), (11, (7, 200))):
        layer = model.get(index)
        analytic = layer.grad_weight[where].item()
        w = layer.weight[where].item()
        layer.weight[where] = w + eps
        up = loss_at()
        layer.weight[where] = w - eps
        down = loss_at()
        layer.weight[where] = w
        numeric = (up - down) / (2 * eps)
        print(
            f"  d loss / d {type(layer).__name__}[{index}].weight{list(where)}: backward {analytic:+.10f},"
            f" finite differences {numeric:+.10f}"
        )
        assert abs(analytic - numeric) < 1e-8 * max(1.0, abs(numeric)), (index, analytic, numeric)

    # a few steps of SGD on this batch lower the loss
    losses = []
    for _ in range(5):
        model.zero_grad_parameters()
        losses.append(crit.forward(model.forward(images), labels))
        model.backward(images, crit.backward(model.output, labels))
        model.update_parameters(0.05)
    print("SGD on the batch, loss:", " ".join(f"{v:.4f}" for v in losses))
    assert losses[-1] < losses[0]

    # errors say which module failed and why
    try:
        model.forward(ft.randn(3, 28, 28))
    except ft.ShapeError as e:
        print("a 28x28 image:", e)
        assert "SpatialConvolution" in str(e)
    else:
        raise AssertionError("a 28x28 image should not fit the model")


if __name__ == "__main__":
    main()
    print("nn_convnet.py: all checks passed")
