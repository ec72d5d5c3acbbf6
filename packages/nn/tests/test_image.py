"""image.gaussian / gaussian1D against torch/image's formula (1-based positions, relative sigma and mean)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import flambeau.tensor as ft
from flambeau.nn import image
from flambeau.tensor.errors import ArgumentError, ShapeError
from flambeau.tensor.testing import host

pytestmark = pytest.mark.device


def formula_2d(h, w, amplitude, sigma_h, sigma_v, mean_h, mean_v):
    out = np.zeros((h, w))
    for v in range(1, h + 1):  # rows
        for u in range(1, w + 1):  # columns
            du = (u - mean_h * w - 0.5) / (sigma_h * w)
            dv = (v - mean_v * h - 0.5) / (sigma_v * h)
            out[v - 1, u - 1] = amplitude * math.exp(-0.5 * (du * du + dv * dv))
    return out


def formula_1d(n, amplitude, sigma, mean):
    return np.array([amplitude * math.exp(-0.5 * ((i - mean * n - 0.5) / (sigma * n)) ** 2) for i in range(1, n + 1)])


def test_gaussian_default_is_3x3_with_centre_1_and_the_formula() -> None:
    k = image.gaussian()
    assert k.size() == ft.Size([3, 3])
    assert k[1, 1].item() == 1.0
    np.testing.assert_allclose(host(k), formula_2d(3, 3, 1, 0.25, 0.25, 0.5, 0.5), rtol=1e-14)
    # known values: the edge neighbours are exp(-0.5 * (1 / 0.75)^2), the corners its square
    e = math.exp(-0.5 / 0.75**2)
    np.testing.assert_allclose(host(k), [[e * e, e, e * e], [e, 1, e], [e * e, e, e * e]], rtol=1e-14)
    assert image.gaussian(3).equal(k)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(size=5, sigma=0.1),
        dict(size=4),  # even: the centre falls between two values
        dict(size=3, amplitude=2.5),
        dict(width=5, height=3, sigma_horz=0.3, sigma_vert=0.2, mean_horz=0.4, mean_vert=0.7),
        dict(size=7, sigma_vert=0.5),
    ],
)
def test_gaussian_matches_the_formula(kwargs) -> None:
    size = kwargs.get("size", 3)
    w, h = kwargs.get("width", size), kwargs.get("height", size)
    sigma = kwargs.get("sigma", 0.25)
    ref = formula_2d(
        h,
        w,
        kwargs.get("amplitude", 1),
        kwargs.get("sigma_horz", sigma),
        kwargs.get("sigma_vert", sigma),
        kwargs.get("mean_horz", 0.5),
        kwargs.get("mean_vert", 0.5),
    )
    k = image.gaussian(**kwargs)
    assert tuple(k.size()) == (h, w)
    np.testing.assert_allclose(host(k), ref, rtol=1e-13)


def test_gaussian_normalize_sums_to_one_and_overrides_amplitude() -> None:
    k = image.gaussian(5, amplitude=7, normalize=True)
    assert abs(k.sum().item() - 1.0) < 1e-14
    ref = formula_2d(5, 5, 1, 0.25, 0.25, 0.5, 0.5)
    np.testing.assert_allclose(host(k), ref / ref.sum(), rtol=1e-13)


def test_gaussian_fills_a_given_tensor_and_accepts_a_table() -> None:
    t = ft.zeros(2, 4)
    out = image.gaussian(tensor=t, sigma=0.5)
    assert out is t
    np.testing.assert_allclose(host(t), formula_2d(2, 4, 1, 0.5, 0.5, 0.5, 0.5), rtol=1e-14)
    assert image.gaussian({"size": 5, "sigma": 0.1}).equal(image.gaussian(5, sigma=0.1))


def test_gaussian1d_matches_the_formula_and_the_alias() -> None:
    k = image.gaussian1D()
    assert k.size() == ft.Size([3]) and k[1].item() == 1.0
    np.testing.assert_allclose(host(k), formula_1d(3, 1, 0.25, 0.5), rtol=1e-14)
    k7 = image.gaussian1D(7, sigma=0.2, amplitude=3, mean=0.4)
    np.testing.assert_allclose(host(k7), formula_1d(7, 3, 0.2, 0.4), rtol=1e-13)
    n = image.gaussian1d(7, normalize=True)
    assert abs(n.sum().item() - 1.0) < 1e-14
    assert image.gaussian1d is image.gaussian1D
    # the 2-D kernel is the outer product of two 1-D ones
    np.testing.assert_allclose(host(image.gaussian(5)), np.outer(host(image.gaussian1D(5)), host(image.gaussian1D(5))))
    t = ft.zeros(4)
    assert image.gaussian1D(tensor=t) is t
    np.testing.assert_allclose(host(t), formula_1d(4, 1, 0.25, 0.5), rtol=1e-14)


def test_gaussian_errors() -> None:
    with pytest.raises(ArgumentError, match="size must be a positive integer, got 0"):
        image.gaussian1D(0)
    with pytest.raises(ArgumentError, match="width must be a positive integer, got 2.5"):
        image.gaussian(3, width=2.5)
    with pytest.raises(ShapeError, match="non-empty 2-D result tensor, got 3"):
        image.gaussian(tensor=ft.zeros(3))
