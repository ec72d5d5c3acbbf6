"""Volumetric layers: values against loop-by-loop numpy references, Jacobian checks, errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from nncheck import check_module

import flambeau.nn as nn
import flambeau.tensor as ft
from flambeau.tensor.errors import ArgumentError, ShapeError
from flambeau.tensor.testing import host

pytestmark = pytest.mark.device


def _np(t: ft.Tensor) -> np.ndarray:
    return np.asarray(host(t))


def _batch(x: np.ndarray) -> np.ndarray:
    return x[None] if x.ndim == 4 else x


def ref_conv3d(x, w, b, d, p, dil=(1, 1, 1)):
    """Direct cross-correlation; d, p, dil in T, H, W order."""
    single = x.ndim == 4
    x = _batch(x)
    xp = np.pad(x, [(0, 0), (0, 0)] + [(q, q) for q in p])
    k = w.shape[2:]
    o = [(xp.shape[2 + i] - dil[i] * (k[i] - 1) - 1) // d[i] + 1 for i in range(3)]
    out = np.zeros((x.shape[0], w.shape[0], *o))
    for t, h, v in itertools.product(*map(range, o)):
        patch = xp[
            :,
            :,
            t * d[0] : t * d[0] + dil[0] * (k[0] - 1) + 1 : dil[0],
            h * d[1] : h * d[1] + dil[1] * (k[1] - 1) + 1 : dil[1],
            v * d[2] : v * d[2] + dil[2] * (k[2] - 1) + 1 : dil[2],
        ]
        out[:, :, t, h, v] = np.einsum("ncijk,ocijk->no", patch, w) + (0 if b is None else b)
    return out[0] if single else out


def ref_full_conv3d(x, w, b, d, p, adj):
    single = x.ndim == 4
    x = _batch(x)
    n = x.shape[2:]
    k = w.shape[2:]
    full = np.zeros((x.shape[0], w.shape[1], *[(n[i] - 1) * d[i] + k[i] + adj[i] for i in range(3)]))
    for t, h, v in itertools.product(*map(range, n)):
        full[:, :, t * d[0] : t * d[0] + k[0], h * d[1] : h * d[1] + k[1], v * d[2] : v * d[2] + k[2]] += np.einsum(
            "nc,coijk->noijk", x[:, :, t, h, v], w
        )
    o = [(n[i] - 1) * d[i] - 2 * p[i] + k[i] + adj[i] for i in range(3)]
    out = full[:, :, p[0] : p[0] + o[0], p[1] : p[1] + o[1], p[2] : p[2] + o[2]] + b.reshape(-1, 1, 1, 1)
    return out[0] if single else out


def ref_pool3d(x, k, d, p, dil=(1, 1, 1), ceil=False, op="max"):
    single = x.ndim == 4
    x = _batch(x)
    n = x.shape[2:]
    o = []
    for i in range(3):
        span = dil[i] * (k[i] - 1) + 1
        f = (n[i] + 2 * p[i] - span) / d[i]
        oi = (math.ceil(f) if ceil else math.floor(f)) + 1
        if ceil and (oi - 1) * d[i] >= n[i] + p[i]:
            oi -= 1
        o.append(oi)
    out = np.zeros((*x.shape[:2], *o))
    idx = np.zeros((*x.shape[:2], *o), dtype=np.int64)
    for t, h, v in itertools.product(*map(range, o)):
        best = np.full(x.shape[:2], -np.inf)
        arg = np.zeros(x.shape[:2], dtype=np.int64)
        total = np.zeros(x.shape[:2])
        for a, bb, c in itertools.product(*map(range, k)):
            pt = t * d[0] - p[0] + a * dil[0]
            ph = h * d[1] - p[1] + bb * dil[1]
            pw = v * d[2] - p[2] + c * dil[2]
            if 0 <= pt < n[0] and 0 <= ph < n[1] and 0 <= pw < n[2]:
                val = x[:, :, pt, ph, pw]
                better = val > best
                best = np.where(better, val, best)
                arg = np.where(better, (pt * n[1] + ph) * n[2] + pw, arg)
                total = total + val
        out[:, :, t, h, v] = best if op == "max" else total / (k[0] * k[1] * k[2])
        idx[:, :, t, h, v] = arg
    if single:
        return out[0], idx[0]
    return out, idx


# -- convolutions ----------------------------------------------------------------------------------

CONV_CASES = [
    # (nIn, nOut, kT, kW, kH, dT, dW, dH, padT, padW, padH), input shape
    ((2, 3, 2, 2, 1), (2, 3, 3, 4)),
    ((2, 2, 2, 3, 2, 1, 2, 1, 1, 1, 0), (2, 2, 3, 3, 4)),
    ((1, 2, 1, 1, 1, 2, 2, 2), (1, 1, 3, 3, 3)),
]


@pytest.mark.parametrize(("args", "shape"), CONV_CASES)
def test_volumetric_convolution(args, shape):
    m = nn.VolumetricConvolution(*args)
    full = list(args) + [1, 1, 1, 0, 0, 0][len(args) - 5 :]
    d = (full[5], full[7], full[6])
    p = (full[8], full[10], full[9])
    x = ft.randn(*shape)
    assert tuple(m.weight.size()) == (args[1], args[0], args[2], args[4], args[3])
    ref = ref_conv3d(_np(x), _np(m.weight), _np(m.bias), d, p)
    np.testing.assert_allclose(_np(m.forward(x)), ref, rtol=1e-10, atol=1e-12)
    check_module(m, x)


def test_volumetric_convolution_no_bias_reset_repr_and_errors():
    m = nn.VolumetricConvolution(2, 3, 3, 2, 1)
    bound = 1 / math.sqrt(2 * 3 * 2 * 1)
    assert np.abs(_np(m.weight)).max() <= bound
    assert repr(m) == "nn.VolumetricConvolution(2 -> 3, 3x2x1)"
    m.no_bias()
    x = ft.randn(2, 3, 2, 2)
    np.testing.assert_allclose(
        _np(m.forward(x)), ref_conv3d(_np(x), _np(m.weight), None, (1, 1, 1), (0, 0, 0)), rtol=1e-10
    )
    check_module(m, x)
    assert repr(m).endswith("without bias)")
    with pytest.raises(ShapeError, match=r"expected an input of size 2 x T x H x W or N x 2 x T x H x W, got 3x3x2x2"):
        m.forward(ft.randn(3, 3, 2, 2))
    with pytest.raises(ShapeError, match="too small"):
        m.forward(ft.randn(2, 2, 2, 2))
    with pytest.raises(ArgumentError, match="dw must be a positive integer"):
        nn.VolumetricConvolution(1, 1, 1, 1, 1, 1, 0)


def test_volumetric_dilated_convolution():
    m = nn.VolumetricDilatedConvolution(2, 2, 2, 2, 2, 1, 2, 1, 1, 0, 1, 2, 1, 2)
    x = ft.randn(2, 3, 4, 3)
    ref = ref_conv3d(_np(x), _np(m.weight), _np(m.bias), (1, 1, 2), (1, 1, 0), (2, 2, 1))
    np.testing.assert_allclose(_np(m.forward(x)), ref, rtol=1e-10, atol=1e-12)
    check_module(m, x)
    assert "dilation 2x1x2" in repr(m)


FULL_CASES = [
    # (nIn, nOut, kT, kW, kH, dT, dW, dH, padT, padW, padH, adjT, adjW, adjH), input shape
    ((2, 1, 2, 2, 2), (2, 2, 2, 2)),
    ((2, 2, 2, 3, 2, 2, 2, 1, 1, 0, 1, 1, 1, 0), (2, 2, 2, 3)),
    ((1, 2, 3, 2, 2, 2, 1, 2, 0, 0, 0, 1, 0, 1), (2, 1, 2, 2, 2)),
]


@pytest.mark.parametrize(("args", "shape"), FULL_CASES)
def test_volumetric_full_convolution(args, shape):
    m = nn.VolumetricFullConvolution(*args)
    full = list(args) + [1, 1, 1, 0, 0, 0, 0, 0, 0][len(args) - 5 :]
    d = (full[5], full[7], full[6])
    p = (full[8], full[10], full[9])
    adj = (full[11], full[13], full[12])
    x = ft.randn(*shape)
    assert tuple(m.weight.size()) == (args[0], args[1], args[2], args[4], args[3])
    ref = ref_full_conv3d(_np(x), _np(m.weight), _np(m.bias), d, p, adj)
    np.testing.assert_allclose(_np(m.forward(x)), ref, rtol=1e-10, atol=1e-12)
    check_module(m, x)


def test_volumetric_full_convolution_is_the_adjoint_of_convolution():
    conv = nn.VolumetricConvolution(2, 3, 2, 3, 2, 2, 1, 2, 1, 1, 0).no_bias()
    deconv = nn.VolumetricFullConvolution(3, 2, 2, 3, 2, 2, 1, 2, 1, 1, 0, 1, 0, 0).no_bias()
    deconv.weight.copy_(conv.weight)
    x = ft.randn(1, 2, 5, 4, 5)
    y = conv.forward(x)
    g = ft.randn(*tuple(y.size()))
    back = deconv.forward(g)
    assert back.size() == x.size()
    np.testing.assert_allclose(_np(back), _np(conv.backward(x, g)), rtol=1e-10, atol=1e-12)


def test_volumetric_full_convolution_errors():
    with pytest.raises(ArgumentError, match="must be smaller than dt, dw, dh"):
        nn.VolumetricFullConvolution(1, 1, 2, 2, 2, 1, 1, 1, 0, 0, 0, 1, 0, 0)
    m = nn.VolumetricFullConvolution(2, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2)
    with pytest.raises(ShapeError, match="too much padding"):
        m.forward(ft.randn(2, 1, 1, 1))
    with pytest.raises(ShapeError, match="2 x T x H x W"):
        m.forward(ft.randn(3, 2, 2, 2))


# -- pooling ---------------------------------------------------------------------------------------

POOL_CASES = [
    # (kT, kW, kH, dT, dW, dH, padT, padW, padH), ceil, input shape
    ((2, 2, 2), False, (2, 3, 4, 5)),
    ((2, 2, 2), True, (2, 3, 4, 5)),
    ((3, 2, 2, 2, 1, 2, 1, 1, 1), True, (2, 1, 4, 3, 5)),
    ((2, 3, 2, 1, 2, 1, 1, 1, 0), False, (1, 2, 3, 4, 5)),
]


@pytest.mark.parametrize(("args", "ceil", "shape"), POOL_CASES)
def test_volumetric_max_pooling(args, ceil, shape):
    m = nn.VolumetricMaxPooling(*args)
    if ceil:
        m.ceil()
    a = list(args) + [None] * (9 - len(args))
    k = (a[0], a[2], a[1])
    d = tuple(k[i] if v is None else v for i, v in enumerate((a[3], a[5], a[4])))
    p = tuple(0 if v is None else v for v in (a[6], a[8], a[7]))
    x = ft.randn(*shape)
    ref, idx = ref_pool3d(_np(x), k, d, p, ceil=ceil)
    np.testing.assert_array_equal(_np(m.forward(x)), ref)
    np.testing.assert_array_equal(_np(m.indices), idx)
    assert (m.itime, m.iheight, m.iwidth) == tuple(shape[-3:])
    check_module(m, x)


def test_volumetric_max_pooling_ceil_floor_repr_and_errors():
    x = ft.randn(1, 3, 3, 3)
    m = nn.VolumetricMaxPooling(2, 2, 2)
    assert m.forward(x).size() == (1, 1, 1, 1)
    assert m.ceil().forward(x).size() == (1, 2, 2, 2)
    assert m.floor().forward(x).size() == (1, 1, 1, 1)
    assert repr(m.ceil()) == "nn.VolumetricMaxPooling(2x2x2, 2x2x2, ceil)"
    with pytest.raises(ArgumentError, match="at most half the kernel"):
        nn.VolumetricMaxPooling(2, 2, 2, 1, 1, 1, 2, 0, 0)
    with pytest.raises(ShapeError, match="C x T x H x W or N x C x T x H x W, got 3x3x3"):
        m.forward(ft.randn(3, 3, 3))
    with pytest.raises(ShapeError, match="too small"):
        nn.VolumetricMaxPooling(3, 3, 3).forward(ft.randn(1, 2, 3, 3))


def test_volumetric_dilated_max_pooling():
    m = nn.VolumetricDilatedMaxPooling(2, 2, 2, 1, 1, 1, 0, 1, 0, 2, 1, 2)
    x = ft.randn(2, 3, 4, 5)
    ref, idx = ref_pool3d(_np(x), (2, 2, 2), (1, 1, 1), (0, 0, 1), dil=(2, 2, 1))
    np.testing.assert_array_equal(_np(m.forward(x)), ref)
    np.testing.assert_array_equal(_np(m.indices), idx)
    check_module(m, x)


@pytest.mark.parametrize(
    ("args", "shape"),
    [((2, 2, 2), (2, 3, 4, 5)), ((2, 2, 2, 1, 1, 1), (2, 3, 4, 5)), ((2, 3, 2, 1, 2, 1, 1, 1, 0), (2, 1, 3, 4, 5))],
)
def test_volumetric_average_pooling(args, shape):
    m = nn.VolumetricAveragePooling(*args)
    a = list(args) + [None] * (9 - len(args))
    k = (a[0], a[2], a[1])
    d = tuple(k[i] if v is None else v for i, v in enumerate((a[3], a[5], a[4])))
    p = tuple(0 if v is None else v for v in (a[6], a[8], a[7]))
    x = ft.randn(*shape)
    ref, _ = ref_pool3d(_np(x), k, d, p, op="avg")
    np.testing.assert_allclose(_np(m.forward(x)), ref, rtol=1e-12, atol=1e-14)
    check_module(m, x)


def test_volumetric_max_unpooling():
    pool = nn.VolumetricMaxPooling(2, 2, 2)
    x = ft.randn(2, 2, 4, 4, 5)
    y = pool.forward(x)
    unpool = nn.VolumetricMaxUnpooling(pool)
    back = unpool.forward(y)
    assert back.size() == x.size()
    xn, bn = _np(x), _np(back)
    kept = bn != 0
    np.testing.assert_array_equal(bn[kept], xn[kept])  # the maxima go back to where they came from
    assert kept.sum() == y.nelement()
    check_module(unpool, ft.randn(2, 2, 2, 2, 2), io=False)
    single = nn.VolumetricMaxPooling(2, 2, 2)
    single.forward(ft.randn(1, 4, 2, 2))
    u = nn.VolumetricMaxUnpooling(single)
    assert u.forward(ft.ones(1, 2, 1, 1)).sum().item() == 2.0
    with pytest.raises(ShapeError, match="pooling module's output size 1x2x1x1"):
        u.forward(ft.ones(1, 3, 1, 1))
    with pytest.raises(ArgumentError, match="expected a VolumetricMaxPooling"):
        nn.VolumetricMaxUnpooling(nn.VolumetricAveragePooling(2, 2, 2))  # type: ignore[arg-type]


@pytest.mark.parametrize("pads", [(1, 2, 0, 1, 2, -1), (1,), (0, 0, 0, 0, 0, 0)])
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (2, 1, 2, 3, 3)])
def test_volumetric_replication_padding(pads, shape):
    m = nn.VolumetricReplicationPadding(*pads)
    l, r, t, b, f, k = (pads * 6)[:6] if len(pads) == 1 else pads  # noqa: E741
    x = ft.randn(*shape)
    lead = [(0, 0)] * (len(shape) - 3)
    y = np.pad(_np(x), [*lead, (max(f, 0), max(k, 0)), (max(t, 0), max(b, 0)), (max(l, 0), max(r, 0))], mode="edge")
    y = y[
        ...,
        max(-f, 0) : y.shape[-3] - max(-k, 0),
        max(-t, 0) : y.shape[-2] - max(-b, 0),
        max(-l, 0) : y.shape[-1] - max(-r, 0),
    ]
    np.testing.assert_array_equal(_np(m.forward(x)), y)
    check_module(m, x)


def test_volumetric_replication_padding_errors():
    with pytest.raises(ShapeError, match="at least 1x1x1"):
        nn.VolumetricReplicationPadding(0, 0, 0, 0, -2, 0).forward(ft.randn(1, 2, 2, 2))
    with pytest.raises(ArgumentError, match="pads must be integers"):
        nn.VolumetricReplicationPadding(1, 0.5)  # type: ignore[arg-type]
