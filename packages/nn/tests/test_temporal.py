"""Temporal layers and LookupTable: values against numpy references, Jacobian checks, errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
from nncheck import check_module

import flambeau.nn as nn
import flambeau.tensor as ft
from flambeau.nn import jacobian
from flambeau.tensor.errors import ArgumentError, DTypeError, IndexError, ShapeError
from flambeau.tensor.testing import host, type_prefix

pytestmark = pytest.mark.device


def _np(t: ft.Tensor) -> np.ndarray:
    return np.asarray(host(t))


def ref_temporal_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, kw: int, dw: int) -> np.ndarray:
    t, f = x.shape[-2:]
    ot = (t - kw) // dw + 1
    out = np.zeros((*x.shape[:-2], ot, w.shape[0]))
    for i in range(ot):
        window = x[..., i * dw : i * dw + kw, :].reshape(*x.shape[:-2], kw * f)  # frame-major
        out[..., i, :] = window @ w.T + b
    return out


@pytest.mark.parametrize("shape", [(7, 3), (2, 7, 3)])
@pytest.mark.parametrize(("kw", "dw"), [(3, 1), (3, 2), (1, 1)])
def test_temporal_convolution_matches_numpy_and_gradients(shape, kw, dw):
    m = nn.TemporalConvolution(3, 4, kw, dw)
    x = ft.randn(*shape)
    out = m.forward(x)
    np.testing.assert_allclose(_np(out), ref_temporal_conv(_np(x), _np(m.weight), _np(m.bias), kw, dw), rtol=1e-12)
    assert tuple(m.weight.size()) == (4, kw * 3)
    check_module(m, x)


def test_temporal_convolution_errors_and_repr():
    m = nn.TemporalConvolution(3, 4, 5, 2)
    with pytest.raises(ShapeError, match=r"T x 3 or N x T x 3, got 7x2"):
        m.forward(ft.randn(7, 2))
    with pytest.raises(ShapeError, match="shorter than the kernel width 5"):
        m.forward(ft.randn(4, 3))
    with pytest.raises(ArgumentError, match="kw must be a positive integer"):
        nn.TemporalConvolution(3, 4, 0)
    assert repr(m) == "nn.TemporalConvolution(3 -> 4, kW=5, dW=2)"


def test_temporal_convolution_reset_range():
    m = nn.TemporalConvolution(5, 7, 3)
    bound = 1 / np.sqrt(15)
    assert np.abs(_np(m.weight)).max() <= bound and np.abs(_np(m.bias)).max() <= bound
    m.reset(0.1)
    assert np.abs(_np(m.weight)).max() <= 0.1 * np.sqrt(3)


@pytest.mark.parametrize("shape", [(7, 3), (2, 6, 3)])
def test_temporal_subsampling(shape):
    m = nn.TemporalSubSampling(3, 3, 2)
    x = ft.randn(*shape)
    xn = _np(x)
    ot = (shape[-2] - 3) // 2 + 1
    ref = np.stack([xn[..., 2 * i : 2 * i + 3, :].sum(-2) for i in range(ot)], -2) * _np(m.weight) + _np(m.bias)
    np.testing.assert_allclose(_np(m.forward(x)), ref, rtol=1e-12)
    check_module(m, x)
    with pytest.raises(ShapeError, match="T x 3 or N x T x 3"):
        m.forward(ft.randn(2, 2, 7, 3))


@pytest.mark.parametrize("shape", [(7, 3), (2, 7, 3)])
@pytest.mark.parametrize(("kw", "dw"), [(2, None), (3, 1), (3, 2)])
def test_temporal_max_pooling(shape, kw, dw):
    m = nn.TemporalMaxPooling(kw, dw)
    x = ft.randn(*shape)
    step = kw if dw is None else dw
    xn = _np(x)
    ot = (shape[-2] - kw) // step + 1
    windows = np.stack([xn[..., i * step : i * step + kw, :] for i in range(ot)], -3)  # ... x oT x kW x F
    np.testing.assert_array_equal(_np(m.forward(x)), windows.max(-2))
    np.testing.assert_array_equal(_np(m.indices), windows.argmax(-2) + step * np.arange(ot)[:, None])
    check_module(m, x)


def test_temporal_max_pooling_gradient_routes_to_the_max():
    m = nn.TemporalMaxPooling(2, 1)
    x = ft.Tensor([[0.0], [5.0], [1.0]])
    m.forward(x)  # both windows pick frame 1
    assert m.backward(x, ft.Tensor([[1.0], [2.0]])).tolist() == [[0.0], [3.0], [0.0]]
    assert m.indices.dtype == ft.int64 and m.indices.device == x.device
    m.clear_state()
    assert m.indices.nelement() == 2  # kept: named in STATE


def test_lookup_table_forward_1d_and_2d():
    m = nn.LookupTable(5, 3)
    w = _np(m.weight).copy()
    idx = np.array([[1, 4, 1], [0, 2, 4]])
    out = m.forward(ft.LongTensor(idx.tolist()))
    np.testing.assert_array_equal(_np(out), w[idx])
    np.testing.assert_array_equal(_np(m.forward(ft.LongTensor([3, 3]))), w[[3, 3]])
    assert m.backward(ft.LongTensor([3, 3]), ft.ones(2, 3)).tolist() == [0.0, 0.0]
    assert repr(m) == "nn.LookupTable(5 -> 3)"


def test_lookup_table_gradient_repeated_indices_and_jacobian():
    m = nn.LookupTable(5, 3)
    idx = ft.LongTensor([[1, 4, 1], [0, 1, 4]])
    assert jacobian.test_jacobian_parameters(m, idx, m.weight, m.grad_weight) < 1e-6
    assert jacobian.test_io(m, idx) == 0.0
    m.zero_grad_parameters()
    g = ft.randn(2, 3, 3)
    m.forward(idx)
    m.backward(idx, g, 0.5)
    ref = np.zeros((5, 3))
    np.add.at(ref, _np(idx).reshape(-1), 0.5 * _np(g).reshape(-1, 3))
    np.testing.assert_allclose(_np(m.grad_weight), ref, rtol=1e-12)
    assert ref[1].any()  # index 1 occurs three times and its gradients add up


def test_lookup_table_padding_and_scale_grad_by_freq():
    m = nn.LookupTable(4, 2, padding_value=2).scale_grad_by_freq()
    idx = ft.LongTensor([2, 0, 0, 3, 2])
    m.forward(idx)
    m.backward(idx, ft.ones(5, 2))
    assert m.grad_weight.tolist() == [[1.0, 1.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0]]
    m.set_padding(None)
    m.zero_grad_parameters()
    m.backward(idx, ft.ones(5, 2))
    assert m.grad_weight.tolist()[2] == [1.0, 1.0]
    assert repr(nn.LookupTable(4, 2, padding_value=2)) == "nn.LookupTable(4 -> 2, padding_value=2)"


def test_lookup_table_max_norm_renormalises_selected_rows_only():
    m = nn.LookupTable(3, 2, max_norm=1.0)
    m.weight.copy_(ft.Tensor([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]]))
    out = m.forward(ft.LongTensor([0, 1, 0]))
    np.testing.assert_allclose(_np(m.weight)[0], np.array([3.0, 4.0]) / (5.0 + 1e-7))
    assert m.weight.tolist()[1] == [0.3, 0.4] and m.weight.tolist()[2] == [6.0, 8.0]
    np.testing.assert_allclose(_np(out)[0], _np(m.weight)[0])
    m.set_max_norm(None).forward(ft.LongTensor([2]))
    assert m.weight.tolist()[2] == [6.0, 8.0]
    m3 = nn.LookupTable(1, 2, max_norm=1.0, norm_type=1)
    m3.weight.copy_(ft.Tensor([[1.0, 3.0]]))
    m3.forward(ft.LongTensor([0]))
    np.testing.assert_allclose(_np(m3.weight), [[1.0 / (4 + 1e-7), 3.0 / (4 + 1e-7)]])


def test_lookup_table_errors():
    m = nn.LookupTable(4, 2)
    with pytest.raises(IndexError, match="index 4 out of range for 4 rows"):
        m.forward(ft.LongTensor([0, 4]))
    with pytest.raises(IndexError, match="index -1 out of range"):
        m.forward(ft.LongTensor([-1]))
    prefix = re.escape(type_prefix())
    with pytest.raises(DTypeError, match=f"integer .* got {prefix}.DoubleTensor"):
        m.forward(ft.Tensor([1.0]))
    with pytest.raises(ShapeError, match="1-D .* or 2-D .* got 1x1x1"):
        m.forward(ft.LongTensor([[[1]]]))


def test_lookup_table_type_keeps_long_indices_working():
    m = nn.LookupTable(4, 2).float()
    out = m.forward(ft.LongTensor([1, 2]))
    assert out.dtype == ft.float32 and out.device == m.weight.device == ft.device()
