"""The talk's convolutional network, end to end: sizes, the backward pass, and training it.

The model of the Torch7 tutorial the talk showed: two stages of 5x5 convolution, tanh, 2x2 max
pooling and contrastive normalization with a 3x3 gaussian, a third convolution down to 256
features, then Linear(256, 10) and LogSoftMax, on 3x32x32 images.
"""

from __future__ import annotations

import numpy as np
import pytest

import flambeau.nn as nn
import flambeau.tensor as ft
from flambeau.nn import image

pytestmark = pytest.mark.device


def talk_model() -> nn.Sequential:
    model = nn.Sequential()
    model.add(nn.SpatialConvolution(3, 16, 5, 5))
    model.add(nn.Tanh())
    model.add(nn.SpatialMaxPooling(2, 2, 2, 2))
    model.add(nn.SpatialContrastiveNormalization(16, image.gaussian(3)))
    model.add(nn.SpatialConvolution(16, 64, 5, 5))
    model.add(nn.Tanh())
    model.add(nn.SpatialMaxPooling(2, 2, 2, 2))
    model.add(nn.SpatialContrastiveNormalization(64, image.gaussian(3)))
    model.add(nn.SpatialConvolution(64, 256, 5, 5))
    model.add(nn.Tanh())
    model.add(nn.Reshape(256))
    model.add(nn.Linear(256, 10))
    model.add(nn.LogSoftMax())
    return model


def test_the_talk_model_forward_sizes_and_backward() -> None:
    model = talk_model()
    x = ft.randn(3, 32, 32)
    out = model.forward(x)
    assert out.size() == ft.Size([10])
    assert abs(float(out.exp().sum()) - 1.0) < 1e-12  # log-probabilities
    sizes = [tuple(m.output.size()) for m in model.modules]
    assert sizes[:4] == [(16, 28, 28), (16, 28, 28), (16, 14, 14), (16, 14, 14)]
    assert sizes[4:10] == [(64, 10, 10), (64, 10, 10), (64, 5, 5), (64, 5, 5), (256, 1, 1), (256, 1, 1)]
    g = model.backward(x, ft.randn(10))
    assert g.size() == x.size()
    batch = model.forward(ft.randn(4, 3, 32, 32))
    assert batch.size() == ft.Size([4, 10])


def test_the_talk_model_backward_matches_finite_differences_on_a_few_inputs() -> None:
    model = talk_model()
    x = ft.randn(2, 3, 32, 32)
    w = ft.randn(2, 10)
    model.forward(x)
    model.zero_grad_parameters()
    gx = model.backward(x, w)
    rng = np.random.default_rng(0)
    flat = x.view(-1)
    for i in rng.choice(flat.size(0), 6, replace=False).tolist():
        orig = float(flat[i])
        flat[i] = orig + 1e-6
        hi = float((model.forward(x) * w).sum())
        flat[i] = orig - 1e-6
        lo = float((model.forward(x) * w).sum())
        flat[i] = orig
        assert abs((hi - lo) / 2e-6 - float(gx.view(-1)[i])) < 1e-6


def test_training_the_talk_model_lowers_the_loss() -> None:
    model = talk_model()
    crit = nn.ClassNLLCriterion()
    x = ft.randn(16, 3, 32, 32)
    y = ft.LongTensor([i % 10 for i in range(16)])
    params, grads = model.get_parameters()
    first = None
    for _ in range(15):
        grads.zero_()
        loss = crit.forward(model.forward(x), y)
        model.backward(x, crit.backward(model.output, y))
        params.add_(grads, alpha=-0.05)
        first = loss if first is None else first
    assert loss < 0.5 * first
