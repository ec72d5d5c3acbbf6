"""Spatial padding and upsampling: values against numpy references, Jacobian checks, errors."""

from __future__ import annotations

import numpy as np
import pytest
from nncheck import check_module

import flambeau.tensor as ft
from flambeau.nn.resample import (
    SpatialReflectionPadding,
    SpatialReplicationPadding,
    SpatialUpSamplingBilinear,
    SpatialUpSamplingNearest,
    SpatialZeroPadding,
)
from flambeau.tensor.errors import ArgumentError, ShapeError
from flambeau.tensor.testing import host

pytestmark = pytest.mark.device


def _np(t: ft.Tensor) -> np.ndarray:
    return np.asarray(host(t))


def ref_pad(x: np.ndarray, l: int, r: int, t: int, b: int, mode: str) -> np.ndarray:  # noqa: E741
    """np.pad for the positive pads, then slicing for the negative ones (crops)."""
    lead = [(0, 0)] * (x.ndim - 2)
    y = np.pad(x, [*lead, (max(t, 0), max(b, 0)), (max(l, 0), max(r, 0))], mode=mode)
    h, w = y.shape[-2:]
    return y[..., max(-t, 0) : h - max(-b, 0), max(-l, 0) : w - max(-r, 0)]


PADS = [(1, 2, 0, 1), (2, -1, -1, 1), (0, 0, 0, 0), (1, 1, 1, 1)]


@pytest.mark.parametrize("pads", PADS)
@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 1, 3, 4)])
@pytest.mark.parametrize(
    ("cls", "mode"),
    [(SpatialZeroPadding, "constant"), (SpatialReflectionPadding, "reflect"), (SpatialReplicationPadding, "edge")],
)
def test_padding_matches_numpy_and_gradients(cls, mode, shape, pads):
    m = cls(*pads)
    x = ft.randn(*shape)
    np.testing.assert_array_equal(_np(m.forward(x)), ref_pad(_np(x), *pads, mode=mode))
    check_module(m, x)


def test_padding_defaults_repr_and_gradient_accumulation():
    m = SpatialReplicationPadding(2)
    assert (m.pad_l, m.pad_r, m.pad_t, m.pad_b) == (2, 2, 2, 2)
    assert repr(m) == "nn.SpatialReplicationPadding(l=2, r=2, t=2, b=2)"
    x = ft.ones(1, 1, 2)
    m = SpatialReplicationPadding(2, 1, 0, 0)
    m.forward(x)
    # the left edge pixel appears three times, the right one twice
    assert m.backward(x, ft.ones(1, 1, 5)).tolist() == [[[3.0, 2.0]]]


def test_zero_padding_crop_to_nothing_and_errors():
    with pytest.raises(ShapeError, match="output would be 2x0"):
        SpatialZeroPadding(-2, -1, 0, 0).forward(ft.randn(1, 2, 3))
    with pytest.raises(ShapeError, match=r"C x H x W or N x C x H x W, got 3x4"):
        SpatialZeroPadding(1).forward(ft.randn(3, 4))
    with pytest.raises(ArgumentError, match="pads must be integers"):
        SpatialZeroPadding(1.5)


def test_reflection_padding_larger_than_input_is_an_error():
    with pytest.raises(ShapeError, match="must be smaller than the input's 2x3"):
        SpatialReflectionPadding(3, 0, 0, 0).forward(ft.randn(1, 2, 3))
    # replication has no such limit
    assert SpatialReplicationPadding(3, 0, 0, 0).forward(ft.randn(1, 2, 3)).size() == (1, 2, 6)


@pytest.mark.parametrize("shape", [(2, 3, 2), (2, 2, 2, 3)])
def test_upsampling_nearest(shape):
    m = SpatialUpSamplingNearest(3)
    x = ft.randn(*shape)
    ref = np.repeat(np.repeat(_np(x), 3, axis=-2), 3, axis=-1)
    np.testing.assert_array_equal(_np(m.forward(x)), ref)
    check_module(m, x)
    assert repr(m) == "nn.SpatialUpSamplingNearest(3)"


def test_upsampling_nearest_errors():
    with pytest.raises(ArgumentError, match="scale must be a positive integer, got 1.5"):
        SpatialUpSamplingNearest(1.5)  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match="got 4"):
        SpatialUpSamplingNearest(2).forward(ft.randn(4))


def ref_bilinear(x: np.ndarray, oh: int, ow: int) -> np.ndarray:
    """Torch's corner-aligned loop, pixel by pixel."""
    ih, iw = x.shape[-2:]
    rh = (ih - 1) / (oh - 1) if oh > 1 else 0.0
    rw = (iw - 1) / (ow - 1) if ow > 1 else 0.0
    out = np.zeros((*x.shape[:-2], oh, ow))
    for h2 in range(oh):
        h1r = rh * h2
        h1 = int(h1r)
        h1p = 1 if h1 < ih - 1 else 0
        hl = h1r - h1
        for w2 in range(ow):
            w1r = rw * w2
            w1 = int(w1r)
            w1p = 1 if w1 < iw - 1 else 0
            wl = w1r - w1
            out[..., h2, w2] = (1 - hl) * ((1 - wl) * x[..., h1, w1] + wl * x[..., h1, w1 + w1p]) + hl * (
                (1 - wl) * x[..., h1 + h1p, w1] + wl * x[..., h1 + h1p, w1 + w1p]
            )
    return out


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 1, 3, 2)])
def test_upsampling_bilinear_scale(shape):
    m = SpatialUpSamplingBilinear(2)
    x = ft.randn(*shape)
    h, w = shape[-2:]
    out = m.forward(x)
    assert tuple(out.size())[-2:] == ((h - 1) * 2 + 1, (w - 1) * 2 + 1)
    np.testing.assert_allclose(_np(out), ref_bilinear(_np(x), (h - 1) * 2 + 1, (w - 1) * 2 + 1), rtol=1e-12, atol=1e-14)
    check_module(m, x)


@pytest.mark.parametrize(
    ("make", "size"),
    [
        (lambda: SpatialUpSamplingBilinear(oheight=5, owidth=4), (5, 4)),
        (lambda: SpatialUpSamplingBilinear({"oheight": 1, "owidth": 7}), (1, 7)),
        (lambda: SpatialUpSamplingBilinear(oheight=2, owidth=2), (2, 2)),  # shrinking
    ],
)
def test_upsampling_bilinear_output_size(make, size):
    m = make()
    x = ft.randn(2, 3, 4)
    np.testing.assert_allclose(_np(m.forward(x)), ref_bilinear(_np(x), *size), rtol=1e-12, atol=1e-14)
    check_module(m, x)


def test_upsampling_bilinear_corners_align_and_errors():
    x = ft.randn(1, 3, 4)
    out = SpatialUpSamplingBilinear(3).forward(x)
    for i, j in [(0, 0), (0, -1), (-1, 0), (-1, -1)]:
        assert out[0, i, j].item() == x[0, i, j].item()
    assert repr(SpatialUpSamplingBilinear(oheight=4, owidth=5)) == "nn.SpatialUpSamplingBilinear(4x5)"
    with pytest.raises(ArgumentError, match="not both"):
        SpatialUpSamplingBilinear(2, oheight=3, owidth=3)
    with pytest.raises(ArgumentError, match="owidth must be a positive integer"):
        SpatialUpSamplingBilinear(oheight=3)
    with pytest.raises(ShapeError, match=r"C x H x W or N x C x H x W, got 2x2x2x2x2"):
        SpatialUpSamplingBilinear(2).forward(ft.randn(2, 2, 2, 2, 2))
