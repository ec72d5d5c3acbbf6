"""Batch normalization, Torch's local (subtractive / divisive / contrastive) normalization and
SpatialCrossMapLRN: forward values against numpy references, gradients against finite
differences, running statistics, the kernel normalized in place, errors."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from nncheck import check_module

import flambeau.nn as nn
import flambeau.tensor as ft
from flambeau.nn import image
from flambeau.tensor.errors import ArgumentError, ShapeError
from flambeau.tensor.testing import host, on_device

pytestmark = pytest.mark.device


def rand(*size: int, seed: int = 0) -> ft.Tensor:
    return on_device(np.random.default_rng(seed).standard_normal(size))


# --------------------------------------------------------------------------------------------------
# Batch normalization


def np_batchnorm(x, w, b, eps, axes):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def shaped(v, ndim):  # a per-channel vector broadcast over N x C x ...
    return v.reshape((1, -1) + (1,) * (ndim - 2))


@pytest.mark.parametrize(
    "cls, size",
    [
        (nn.BatchNormalization, (6, 3)),
        (nn.SpatialBatchNormalization, (4, 3, 2, 5)),
        (nn.VolumetricBatchNormalization, (2, 3, 2, 3, 2)),
    ],
)
def test_batchnorm_training_forward_and_running_statistics(cls, size) -> None:
    m = cls(3, eps=1e-3, momentum=0.2)
    w, b = host(m.weight), host(m.bias)
    assert ((w >= 0) & (w <= 1)).all() and (b == 0).all()  # Torch's reset: U(0, 1) and 0
    m.bias.copy_(ft.Tensor([0.5, -1.0, 2.0]))
    b = host(m.bias)
    x = rand(*size) * 3 + 1
    xn = host(x)
    axes = (0,) + tuple(range(2, len(size)))
    y = m.forward(x)
    assert y.size() == x.size()
    nd = len(size)
    np.testing.assert_allclose(host(y), np_batchnorm(xn, shaped(w, nd), shaped(b, nd), 1e-3, axes), atol=1e-12)
    count = xn.size // 3
    mean = xn.mean(axis=axes)
    unbiased = xn.var(axis=axes) * count / (count - 1)
    np.testing.assert_allclose(host(m.running_mean), 0.2 * mean, atol=1e-14)
    np.testing.assert_allclose(host(m.running_var), 0.8 + 0.2 * unbiased, atol=1e-14)
    m.forward(x)  # a second step moves them again
    np.testing.assert_allclose(host(m.running_mean), 0.8 * 0.2 * mean + 0.2 * mean, atol=1e-14)
    # evaluation: the running statistics, not the batch's
    m.evaluate()
    rm, rv = host(m.running_mean).copy(), host(m.running_var).copy()
    y = m.forward(x)
    ref = (xn - shaped(rm, nd)) / np.sqrt(shaped(rv, nd) + 1e-3) * shaped(w, nd) + shaped(b, nd)
    np.testing.assert_allclose(host(y), ref, atol=1e-12)
    np.testing.assert_array_equal(host(m.running_mean), rm)  # untouched in evaluation


@pytest.mark.parametrize(
    "cls, size",
    [
        (nn.BatchNormalization, (5, 3)),
        (nn.SpatialBatchNormalization, (2, 3, 2, 3)),
        (nn.VolumetricBatchNormalization, (2, 2, 2, 2, 2)),
    ],
)
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_gradients_in_training_and_evaluation(cls, size, affine) -> None:
    m = cls(size[1], affine=affine)
    if affine:
        m.bias.uniform_(-1, 1)
    x = rand(*size, seed=1) * 2 + 0.5
    check_module(m, x)  # training: through the batch statistics
    m.running_mean.uniform_(-1, 1)
    m.running_var.uniform_(0.5, 2)
    m.evaluate()
    check_module(m, x)  # evaluation: the affine map with the running statistics


def test_batchnorm_evaluation_backward_is_the_affine_map() -> None:
    m = nn.BatchNormalization(2).evaluate()
    m.weight.copy_(ft.Tensor([2.0, 3.0]))
    m.running_var.copy_(ft.Tensor([3.0, 8.0]))
    x, g = rand(4, 2), rand(4, 2, seed=3)
    m.forward(x)
    gi = m.backward(x, g)
    np.testing.assert_allclose(host(gi), host(g) * np.array([2, 3]) / np.sqrt(np.array([3, 8]) + 1e-5))


def test_batchnorm_without_affine_has_no_parameters_and_whitens() -> None:
    m = nn.SpatialBatchNormalization(2, affine=False)
    assert m.parameters() == ([], [])
    y = host(m.forward(rand(3, 2, 4, 4) * 5 - 2))
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-14)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, atol=1e-5)
    assert repr(m) == "nn.SpatialBatchNormalization(2, affine=False)"


def test_batchnorm_state_type_and_repr() -> None:
    m = nn.BatchNormalization(3, momentum=0.5)
    m.forward(rand(4, 3))
    rm = m.running_mean.clone()
    m.clear_state()
    assert m.running_mean.equal(rm) and m.running_var.nelement() == 3
    assert m.save_mean.nelement() == 0
    m.evaluate().forward(rand(4, 3))
    m.clear_state()  # the buffers of an evaluation forward do not alias the running statistics
    assert m.running_mean.equal(rm) and m.running_var.nelement() == 3
    m.training()
    m.float()
    y = m.forward(rand(4, 3).float())
    assert y.dtype == np.float32 and m.running_mean.dtype == np.float32
    assert repr(m) == "nn.BatchNormalization(3, momentum=0.5)"
    m.reset()
    assert m.running_mean.abs().sum().item() == 0 and m.running_var.sum().item() == 3


def test_batchnorm_errors() -> None:
    with pytest.raises(ShapeError, match=r"expected a mini-batch of size N x 3 x H x W .*, got 3x4x4"):
        nn.SpatialBatchNormalization(3).forward(ft.zeros(3, 4, 4))
    with pytest.raises(ShapeError, match=r"expected a mini-batch of size N x 3 \(only .*\), got 2x4"):
        nn.BatchNormalization(3).forward(ft.zeros(2, 4))
    with pytest.raises(ShapeError, match="more than one value per feature"):
        nn.BatchNormalization(3).forward(ft.zeros(1, 3))
    assert nn.BatchNormalization(3).evaluate().forward(ft.zeros(1, 3)).size() == ft.Size([1, 3])
    with pytest.raises(ArgumentError, match="positive integer, got 0"):
        nn.BatchNormalization(0)


# --------------------------------------------------------------------------------------------------
# Local normalization: explicit loops as the reference


def np_local(x, k2, planes_factor):
    """Torch's mean estimator on one C x H x W image: S(x)(y, x) = sum_c sum_ab K[a,b] x_c[y+a-p, x+b-p]
    with zero padding, and the coefficient map S(ones)."""
    c, h, w = x.shape
    kh, kw = k2.shape
    ph, pw = kh // 2, kw // 2
    s = np.zeros((h, w))
    coef = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            for a in range(kh):
                for b in range(kw):
                    ii, jj = i + a - ph, j + b - pw
                    if 0 <= ii < h and 0 <= jj < w:
                        for p in range(c):
                            s[i, j] += k2[a, b] * x[p, ii, jj]
                        coef[i, j] += k2[a, b] * c
    del planes_factor
    return s, coef


def torch_kernel(k, n, divisive):
    """The effective 2-D kernel of Torch's convolutions after its in-place normalization."""
    k = np.asarray(k, dtype=float)
    if k.ndim == 2:
        return k / (k.sum() * n)
    kn = k / (k.sum() * (math.sqrt(n) if divisive else n))
    return np.outer(kn, kn)


def np_subtractive(x, k, n):
    k2 = torch_kernel(k, n, False)
    if x.ndim == 4:
        return np.stack([np_subtractive(xi, k, n) for xi in x])
    s, coef = np_local(x, k2, n)
    return x - s / coef


def np_divisive(x, k, n, threshold=1e-4, thresval=None):
    thresval = threshold if thresval is None else thresval
    k2 = torch_kernel(k, n, True)
    if x.ndim == 4:
        return np.stack([np_divisive(xi, k, n, threshold, thresval) for xi in x])
    s, coef = np_local(x * x, k2, n)
    std = np.sqrt(s) / coef
    std = np.where(std > threshold, std, thresval)
    return x / std


KERNELS = {
    "ones3x3": lambda: ft.ones(3, 3),
    "gauss3x5": lambda: image.gaussian(width=5, height=3, sigma=0.4),
    "gauss1d5": lambda: image.gaussian1D(5),
    "default9x9": lambda: None,
}


@pytest.mark.parametrize("name", list(KERNELS))
@pytest.mark.parametrize("size", [(3, 6, 7), (2, 2, 5, 4)])
def test_subtractive_matches_the_loop_reference(name, size) -> None:
    k = KERNELS[name]()
    raw = host(ft.ones(9, 9) if k is None else k).copy()
    c = size[-3]
    m = nn.SpatialSubtractiveNormalization(c, k)
    x = rand(*size) + 2
    np.testing.assert_allclose(host(m.forward(x)), np_subtractive(host(x), raw, c), atol=1e-12)
    # a constant image is removed entirely, borders included (the coefficient map)
    assert m.forward(ft.full(*size, fill_value=3.0)).abs().max().item() < 1e-13


@pytest.mark.parametrize("name", list(KERNELS))
@pytest.mark.parametrize("size", [(3, 6, 7), (2, 2, 5, 4)])
def test_divisive_matches_the_loop_reference(name, size) -> None:
    k = KERNELS[name]()
    raw = host(ft.ones(9, 9) if k is None else k).copy()
    c = size[-3]
    m = nn.SpatialDivisiveNormalization(c, k)
    x = rand(*size, seed=5)
    np.testing.assert_allclose(host(m.forward(x)), np_divisive(host(x), raw, c), atol=1e-12)


def test_divisive_threshold_and_thresval() -> None:
    x = rand(2, 5, 5)
    x.narrow(2, 0, 2).zero_()  # a dark region: its std falls under the threshold
    m = nn.SpatialDivisiveNormalization(2, ft.ones(3, 3), threshold=0.3, thresval=2.0)
    ref = np_divisive(host(x), np.ones((3, 3)), 2, 0.3, 2.0)
    np.testing.assert_allclose(host(m.forward(x)), ref, atol=1e-12)
    assert (host(m.thresholded_stds) == 2.0).any()
    assert nn.SpatialDivisiveNormalization(2, threshold=0.5).thresval == 0.5  # thresval defaults to threshold
    check_module(m, x)


def test_local_normalization_kernels_are_normalized_in_place_as_torch() -> None:
    k = ft.ones(3, 3)
    sub = nn.SpatialSubtractiveNormalization(4, k)
    assert abs(k.sum().item() - 1 / 4) < 1e-15 and sub.kernel is k
    assert sub.mean_kernel is not k and sub.mean_kernel.equal(k)
    k1 = image.gaussian1D(5)
    div = nn.SpatialDivisiveNormalization(4, k1)
    assert abs(k1.sum().item() - 1 / 2) < 1e-15  # a 1-D kernel: by sum * sqrt(n)
    assert div.mean_kernel.equal(k1)
    # the contrastive module normalizes the same tensor twice
    k2 = image.gaussian(3)
    c2 = nn.SpatialContrastiveNormalization(16, k2)
    assert abs(k2.sum().item() - 1 / 16) < 1e-15
    assert c2.normalizer.get(0).kernel is k2 and c2.normalizer.get(1).kernel is k2
    k3 = image.gaussian1D(5)
    nn.SpatialContrastiveNormalization(16, k3)
    assert abs(k3.sum().item() - 1 / 4) < 1e-15  # 1/n, then times sqrt(n)


@pytest.mark.parametrize("name", ["ones3x3", "gauss3x5", "gauss1d5"])
def test_local_normalization_gradients(name) -> None:
    for cls in (
        nn.SpatialSubtractiveNormalization,
        nn.SpatialDivisiveNormalization,
        nn.SpatialContrastiveNormalization,
    ):
        m = cls(2, KERNELS[name]())
        check_module(m, rand(2, 4, 5, seed=2))
        check_module(m, rand(2, 2, 3, 4, seed=3))


@pytest.mark.parametrize("name", list(KERNELS))
def test_contrastive_is_subtractive_then_divisive(name) -> None:
    k = KERNELS[name]()
    raw = host(ft.ones(9, 9) if k is None else k).copy()
    m = nn.SpatialContrastiveNormalization(3, k)
    x = rand(2, 3, 6, 5, seed=7) * 2 + 1
    ref = np_divisive(np_subtractive(host(x), raw, 3), raw, 3)
    np.testing.assert_allclose(host(m.forward(x)), ref, atol=1e-12)
    single = m.forward(x[0])
    np.testing.assert_allclose(host(single), ref[0], atol=1e-12)


def test_local_normalization_state_types_and_repr() -> None:
    m = nn.SpatialContrastiveNormalization(2, image.gaussian(3), threshold=0.01)
    x = rand(2, 2, 5, 5)
    y = m.forward(x).clone()
    m.clear_state()
    assert m.kernel.nelement() == 9 and m.normalizer.get(1).mean_kernel.nelement() == 9
    assert m.forward(x).equal(y)
    m.float()
    yf = m.forward(x.float())
    assert yf.dtype == np.float32
    np.testing.assert_allclose(host(yf), host(y), atol=1e-5)
    assert repr(m) == "nn.SpatialContrastiveNormalization(2, 3x3 kernel, threshold=0.01)"
    assert repr(nn.SpatialSubtractiveNormalization(3)) == "nn.SpatialSubtractiveNormalization(3, 9x9 kernel)"
    d = nn.SpatialDivisiveNormalization(3, image.gaussian1D(5), 1e-3, 0.5)
    assert repr(d) == "nn.SpatialDivisiveNormalization(3, 5 kernel, threshold=0.001, thresval=0.5)"
    # a new image size recomputes the border coefficients
    s = nn.SpatialSubtractiveNormalization(1, ft.ones(3, 3))
    s.forward(ft.ones(1, 4, 4))
    assert s.forward(ft.full(1, 6, 3, fill_value=2.0)).abs().max().item() < 1e-14


def test_local_normalization_errors() -> None:
    with pytest.raises(ShapeError, match="odd sizes, got 4x3"):
        nn.SpatialSubtractiveNormalization(2, ft.ones(4, 3))
    with pytest.raises(ShapeError, match="must be 2-D or 1-D"):
        nn.SpatialDivisiveNormalization(2, ft.ones(3, 3, 3))
    with pytest.raises(ShapeError, match="odd sizes, got 2"):
        nn.SpatialContrastiveNormalization(2, ft.ones(2))
    m = nn.SpatialContrastiveNormalization(3, image.gaussian(3))
    with pytest.raises(ShapeError, match="expected an input of size 3 x H x W or N x 3 x H x W, got 2x4x4"):
        m.forward(ft.zeros(2, 4, 4))
    with pytest.raises(ShapeError, match="got 4x4"):
        nn.SpatialSubtractiveNormalization(1).forward(ft.zeros(4, 4))
    model = nn.Sequential(nn.SpatialSubtractiveNormalization(3))
    with pytest.raises(ShapeError, match=r"^\(0\) nn.SpatialSubtractiveNormalization\(3, 9x9 kernel\): size mismatch"):
        model.forward(ft.zeros(1, 5, 5))


def test_contrastive_of_the_talk_is_fast_enough_to_train() -> None:
    m = nn.SpatialContrastiveNormalization(16, image.gaussian(3))
    x, g = rand(32, 16, 14, 14), rand(32, 16, 14, 14, seed=1)
    m.forward(x)
    m.backward(x, g)
    start = time.perf_counter()
    for _ in range(5):
        m.forward(x)
        m.backward(x, g)
    per_step = (time.perf_counter() - start) / 5
    assert per_step < 0.05, f"forward + backward of a 32 x 16 x 14 x 14 batch took {per_step:.3f} s"


# --------------------------------------------------------------------------------------------------
# SpatialCrossMapLRN


def np_lrn(x, size, alpha, beta, k):
    c = x.shape[-3]
    pre = (size - 1) // 2
    out = np.empty_like(x)
    for ch in range(c):
        lo, hi = max(0, ch - pre), min(c - 1, ch + size - 1 - pre)
        s = (x[..., lo : hi + 1, :, :] ** 2).sum(axis=-3)
        out[..., ch, :, :] = x[..., ch, :, :] / (k + alpha / size * s) ** beta
    return out


@pytest.mark.parametrize(
    "size, alpha, beta, k", [(3, 1e-4, 0.75, 1), (5, 0.5, 0.75, 2), (4, 1.0, 0.6, 1.5), (1, 2.0, 1.0, 0.5)]
)
def test_lrn_matches_the_reference_and_finite_differences(size, alpha, beta, k) -> None:
    m = nn.SpatialCrossMapLRN(size, alpha, beta, k)
    x = rand(2, 6, 3, 2, seed=4)
    np.testing.assert_allclose(host(m.forward(x)), np_lrn(host(x), size, alpha, beta, k), rtol=1e-13)
    y1 = m.forward(x[1])
    assert y1.size() == ft.Size([6, 3, 2])
    np.testing.assert_allclose(host(y1), np_lrn(host(x)[1], size, alpha, beta, k), rtol=1e-13)
    check_module(m, x)
    check_module(m, rand(4, 2, 3, seed=5))


def test_lrn_defaults_errors_and_repr() -> None:
    m = nn.SpatialCrossMapLRN(5)
    assert (m.alpha, m.beta, m.k) == (1e-4, 0.75, 1)
    assert repr(m) == "nn.SpatialCrossMapLRN(5, alpha=0.0001, beta=0.75, k=1)"
    with pytest.raises(ShapeError, match="C x H x W or N x C x H x W, got 3x4"):
        m.forward(ft.zeros(3, 4))
    with pytest.raises(ArgumentError, match="size must be a positive integer, got 0"):
        nn.SpatialCrossMapLRN(0)
