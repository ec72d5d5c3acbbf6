"""Spatial convolution and pooling: gradients, values against independent references, sizes, errors."""

from __future__ import annotations

import itertools
import math
import re
from typing import Any

import numpy as np
import pytest
from nncheck import check_module
from scipy.signal import correlate2d

import flambeau.nn as nn
import flambeau.tensor as ft
from flambeau.nn import kernels
from flambeau.tensor.errors import ArgumentError, DeviceMismatchError, DTypeError, ShapeError
from flambeau.tensor.testing import host, on_device, type_prefix

RNG = np.random.default_rng(0)


def T(a: np.ndarray) -> ft.Tensor:
    return on_device(a, np.float64)


def randn(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


# --------------------------------------------------------------------------------------------------
# Independent references: scipy's correlate2d and plain loops over every output element.


def ref_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: tuple[int, int], pad: tuple[int, int]):
    """Cross-correlation by scipy, plane by plane: ``x`` N x C x H x W, ``w`` O x C x kh x kw."""
    (sh, sw), (ph, pw) = stride, pad
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, o = x.shape[0], w.shape[0]
    full = [
        [sum(correlate2d(xp[i, c], w[j, c], mode="valid") for c in range(x.shape[1])) for j in range(o)]
        for i in range(n)
    ]
    out = np.array(full)[:, :, ::sh, ::sw]
    return out + (0 if b is None else b[None, :, None, None])


def ref_dilated(x, w, b, stride, pad, dil):
    """Dilated convolution by a loop over output positions."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (h + 2 * pad[0] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * pad[1] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, o, oh, ow))
    for y, xx in itertools.product(range(oh), range(ow)):
        r0, c0 = y * stride[0], xx * stride[1]
        patch = xp[:, :, r0 : r0 + dil[0] * (kh - 1) + 1 : dil[0], c0 : c0 + dil[1] * (kw - 1) + 1 : dil[1]]
        out[:, :, y, xx] = np.einsum("ncij,ocij->no", patch, w)
    return out + b[None, :, None, None]


def ref_full(x, w, b, stride, pad, adj):
    """Transposed convolution by scattering every input element: ``w`` is I x O x kh x kw."""
    n, i_, h, wd = x.shape
    o, kh, kw = w.shape[1:]
    oh = (h - 1) * stride[0] - 2 * pad[0] + kh + adj[0]
    ow = (wd - 1) * stride[1] - 2 * pad[1] + kw + adj[1]
    big = np.zeros((n, o, oh + 2 * pad[0] + kh, ow + 2 * pad[1] + kw))
    for y, xx in itertools.product(range(h), range(wd)):
        big[:, :, y * stride[0] : y * stride[0] + kh, xx * stride[1] : xx * stride[1] + kw] += np.einsum(
            "ni,iokl->nokl", x[:, :, y, xx], w
        )
    return big[:, :, pad[0] : pad[0] + oh, pad[1] : pad[1] + ow] + b[None, :, None, None]


def ref_pool(x, k, stride, pad, out, fn, fill):
    """Any pooling by a loop over output positions: ``fn(window values)`` with padding ``fill``."""
    n, c, h, w = x.shape
    xp = np.full((n, c, h + 2 * pad[0] + k[0] * 2, w + 2 * pad[1] + k[1] * 2), fill)
    xp[:, :, pad[0] : pad[0] + h, pad[1] : pad[1] + w] = x
    res = np.zeros((n, c, *out))
    for y, xx in itertools.product(range(out[0]), range(out[1])):
        win = xp[:, :, y * stride[0] : y * stride[0] + k[0], xx * stride[1] : xx * stride[1] + k[1]]
        res[:, :, y, xx] = fn(win.reshape(n, c, -1), y, xx)
    return res


# --------------------------------------------------------------------------------------------------
# Gradients of every module (finite differences), batch and single inputs.


def modules() -> list[tuple[str, Any, Any]]:
    """(id, module factory, input transform) for the Jacobian checks on 2 x 3 x 7 x 6 inputs."""
    pos = lambda x: x.abs() + 0.5
    same = lambda x: x
    return [
        ("conv", lambda: nn.SpatialConvolution(3, 2, 3, 2, 2, 2, 1), same),
        ("conv-whole", lambda: nn.SpatialConvolution(3, 2, 6, 7), same),
        ("conv-nobias", lambda: nn.SpatialConvolution(3, 2, 2, 2, 1, 1, 0, 1).no_bias(), same),
        ("convMM", lambda: nn.SpatialConvolutionMM(3, 2, 2, 3, 1, 2, 1, 0), same),
        ("dilated", lambda: nn.SpatialDilatedConvolution(3, 2, 2, 2, 1, 2, 1, 1, 2, 1), same),
        ("full", lambda: nn.SpatialFullConvolution(3, 2, 3, 2, 2, 2, 1, 0, 1, 1), same),
        ("local", lambda: nn.SpatialConvolutionLocal(3, 2, 6, 7, 3, 2, 2, 2, 1), same),
        ("map", lambda: nn.SpatialConvolutionMap(nn.tables.random(3, 2, 2), 3, 2, 2, 1), same),
        ("fullmap", lambda: nn.SpatialFullConvolutionMap(nn.tables.random(3, 2, 2), 3, 2, 2, 1), same),
        ("subsampling", lambda: nn.SpatialSubSampling(3, 3, 2, 2, 2), same),
        ("max", lambda: nn.SpatialMaxPooling(3, 2, 2, 2, 1, 1), same),
        ("max-ceil", lambda: nn.SpatialMaxPooling(3, 2, 2, 2, 1, 1).ceil(), same),
        ("max-2x2", lambda: nn.SpatialMaxPooling(2, 2), same),
        ("dilated-max", lambda: nn.SpatialDilatedMaxPooling(2, 2, 1, 1, 1, 0, 2, 2), same),
        ("avg", lambda: nn.SpatialAveragePooling(3, 2, 2, 2, 1, 1), same),
        ("avg-ceil-exclude", lambda: nn.SpatialAveragePooling(3, 2, 2, 2, 1, 1).ceil().set_count_exclude_pad(), same),
        ("adaptive-max", lambda: nn.SpatialAdaptiveMaxPooling(4, 3), same),
        ("lp2", lambda: nn.SpatialLPPooling(3, 2, 3, 2, 2, 2), pos),
        ("lp3", lambda: nn.SpatialLPPooling(3, 3, 2, 2), pos),
        ("fractional", lambda: nn.SpatialFractionalMaxPooling(2, 2, 3, 4).fix_pooling_regions(), same),
    ]


@pytest.mark.device
@pytest.mark.parametrize("batched", [True, False], ids=["batch", "single"])
@pytest.mark.parametrize(("make", "prep"), [m[1:] for m in modules()], ids=[m[0] for m in modules()])
def test_gradients_match_finite_differences(make: Any, prep: Any, batched: bool) -> None:
    x = prep(ft.randn(2, 3, 7, 6) if batched else ft.randn(3, 7, 6))
    check_module(make(), x)


@pytest.mark.device
def test_max_unpooling_gradient_and_round_trip() -> None:
    pool = nn.SpatialMaxPooling(2, 2, 2, 2, 1, 1)
    x = ft.rand(2, 3, 7, 6) + 0.1  # positive: pooling the unpooled map (zeros elsewhere) gives y back
    y = pool.forward(x)
    unpool = nn.SpatialMaxUnpooling(pool)
    check_module(unpool, y.clone(), io=False)
    back = host(unpool.forward(y))
    assert back.shape == (2, 3, 7, 6)
    xn = host(x)
    kept = back != 0
    np.testing.assert_array_equal(back[kept], xn[kept])  # every maximum back in its place
    assert kept.sum() == y.nelement()
    np.testing.assert_array_equal(host(pool.forward(unpool.output)), host(y))
    single = nn.SpatialMaxPooling(2, 2)
    ys = single.forward(ft.randn(3, 4, 4))
    check_module(nn.SpatialMaxUnpooling(single), ys.clone(), io=False)


# --------------------------------------------------------------------------------------------------
# Convolution values.


@pytest.mark.device
@pytest.mark.parametrize(
    ("k", "stride", "pad"),
    [((3, 2), (1, 1), (0, 0)), ((3, 2), (2, 2), (1, 1)), ((2, 3), (2, 1), (1, 0)), ((1, 1), (1, 1), (0, 0))],
)
def test_convolution_matches_scipy(k: tuple[int, int], stride: tuple[int, int], pad: tuple[int, int]) -> None:
    kh, kw = k
    m = nn.SpatialConvolution(3, 4, kw, kh, stride[1], stride[0], pad[1], pad[0])
    x = randn(2, 3, 7, 6)
    want = ref_conv(x, host(m.weight), host(m.bias), stride, pad)
    np.testing.assert_allclose(host(m.forward(T(x))), want, atol=1e-12)
    np.testing.assert_allclose(host(m.forward(T(x[1]))), want[1], atol=1e-12)
    mm = nn.SpatialConvolutionMM(3, 4, kw, kh, stride[1], stride[0], pad[1], pad[0])
    mm.weight.copy_(m.weight)
    mm.bias.copy_(m.bias)
    np.testing.assert_allclose(host(mm.forward(T(x))), want, atol=1e-12)


@pytest.mark.device
def test_convolution_pad_h_defaults_to_pad_w_and_no_bias() -> None:
    m = nn.SpatialConvolution(1, 1, 3, 3, 1, 1, 1)
    assert (m.pad_w, m.pad_h) == (1, 1)
    assert m.forward(ft.zeros(1, 5, 5)).size() == (1, 5, 5)
    m.no_bias()
    assert len(m.parameters()[0]) == 1 and "bias" not in m.__dict__
    x = randn(1, 5, 5)
    np.testing.assert_allclose(host(m.forward(T(x))), ref_conv(x[None], host(m.weight), None, (1, 1), (1, 1))[0])
    assert repr(m) == "nn.SpatialConvolution(1 -> 1, 3x3, 1,1, 1,1, without bias)"


@pytest.mark.device
def test_convolution_init_bounds_and_reset_stdv() -> None:
    m = nn.SpatialConvolution(4, 8, 3, 2)
    bound = 1 / math.sqrt(4 * 3 * 2)
    assert float(m.weight.abs().max()) <= bound and float(m.bias.abs().max()) <= bound
    assert float(m.weight.abs().max()) > bound / 2
    m.reset(0.1)
    assert float(m.weight.abs().max()) <= 0.1 * math.sqrt(3)
    assert float(m.weight.abs().max()) > 0.1


@pytest.mark.device
def test_dilated_convolution_matches_loop() -> None:
    m = nn.SpatialDilatedConvolution(3, 2, 3, 2, 2, 1, 1, 2, 2, 3)
    x = randn(2, 3, 9, 8)
    want = ref_dilated(x, host(m.weight), host(m.bias), (1, 2), (2, 1), (3, 2))
    np.testing.assert_allclose(host(m.forward(T(x))), want, atol=1e-12)
    assert repr(m) == "nn.SpatialDilatedConvolution(3 -> 2, 3x2, 2,1, 1,2, 2,3)"


@pytest.mark.device
@pytest.mark.parametrize(
    ("stride", "pad", "adj"), [((1, 1), (0, 0), (0, 0)), ((2, 3), (1, 1), (1, 2)), ((2, 2), (0, 1), (0, 1))]
)
def test_full_convolution_matches_scatter_loop(stride: Any, pad: Any, adj: Any) -> None:
    m = nn.SpatialFullConvolution(3, 2, 3, 2, stride[1], stride[0], pad[1], pad[0], adj[1], adj[0])
    x = randn(2, 3, 4, 5)
    want = ref_full(x, host(m.weight), host(m.bias), stride, pad, adj)
    np.testing.assert_allclose(host(m.forward(T(x))), want, atol=1e-12)


@pytest.mark.device
def test_full_convolution_is_the_adjoint_of_convolution() -> None:
    conv = nn.SpatialConvolution(3, 2, 3, 3, 2, 2, 1)
    full = nn.SpatialFullConvolution(2, 3, 3, 3, 2, 2, 1, 1, 0, 0).no_bias()
    full.weight.copy_(conv.weight)
    x, g = randn(1, 3, 7, 7), randn(1, 2, 4, 4)
    conv.forward(T(x))
    want = host(conv.update_grad_input(T(x), T(g)))
    np.testing.assert_allclose(host(full.forward(T(g))), want, atol=1e-12)


@pytest.mark.device
def test_full_convolution_target_size_input() -> None:
    m = nn.SpatialFullConvolution(2, 3, 3, 3, 2, 2, 1, 1)
    x = ft.randn(2, 2, 4, 4)
    assert m.forward(x).size() == (2, 3, 7, 7)
    y = m.forward([x, ft.zeros(2, 1, 8, 8)])
    assert y.size() == (2, 3, 8, 8)
    gi = m.backward([x, ft.zeros(2, 1, 8, 8)], ft.ones(2, 3, 8, 8))
    assert isinstance(gi, list) and gi[0].size() == (2, 2, 4, 4) and gi[1].size() == (2, 1, 8, 8)
    with pytest.raises(ArgumentError, match="smaller than the stride"):
        nn.SpatialFullConvolution(2, 3, 3, 3, 2, 2, 1, 1, 2, 0)


@pytest.mark.device
def test_convolution_local_matches_loop() -> None:
    m = nn.SpatialConvolutionLocal(2, 3, 6, 5, 3, 2, 2, 1, 1, 0)
    x = randn(2, 2, 5, 6)
    assert m.weight.size() == (4, 3, 3, 2, 2, 3)
    w, b = host(m.weight), host(m.bias)
    xp = np.pad(x, ((0, 0), (0, 0), (0, 0), (1, 1)))
    want = np.zeros((2, 3, 4, 3))
    for y, xx in itertools.product(range(4), range(3)):
        patch = xp[:, :, y : y + 2, 2 * xx : 2 * xx + 3]
        want[:, :, y, xx] = np.einsum("ncij,ocij->no", patch, w[y, xx]) + b[:, y, xx]
    np.testing.assert_allclose(host(m.forward(T(x))), want, atol=1e-12)
    with pytest.raises(ShapeError, match=r"expected an input of size 2x5x6 or N x 2x5x6, got 2x6x6"):
        m.forward(ft.zeros(2, 6, 6))


# --------------------------------------------------------------------------------------------------
# Connection tables.


@pytest.mark.device
def test_tables() -> None:
    assert nn.tables.full(3, 2).tolist() == [[0, 0], [1, 0], [2, 0], [0, 1], [1, 1], [2, 1]]
    assert nn.tables.one_to_one(2).tolist() == [[0, 0], [1, 1]]
    t = nn.tables.random(5, 7, 2).tolist()
    assert len(t) == 14 and [r[1] for r in t] == [j for j in range(7) for _ in range(2)]
    ins = [r[0] for r in t]
    assert all(0 <= i < 5 for i in ins)
    assert all(ins[2 * j] != ins[2 * j + 1] for j in range(7))
    # the first two output planes use disjoint chunks of one permutation
    assert len(set(ins[:4])) == 4
    with pytest.raises(ArgumentError, match="nto"):
        nn.tables.random(3, 2, 4)


@pytest.mark.device
def test_convolution_map_is_a_sparse_dense_convolution() -> None:
    table = ft.LongTensor([[0, 0], [2, 0], [1, 1], [2, 2]])
    m = nn.SpatialConvolutionMap(table, 3, 2, 1, 2)
    assert (m.n_input_plane, m.n_output_plane) == (3, 3) and m.weight.size() == (4, 2, 3)
    dense = np.zeros((3, 3, 2, 3))
    for k, (i, o) in enumerate(table.tolist()):
        dense[o, i] = host(m.weight)[k]
    x = randn(2, 3, 7, 6)
    want = ref_conv(x, dense, host(m.bias), (2, 1), (0, 0))
    np.testing.assert_allclose(host(m.forward(T(x))), want, atol=1e-12)
    assert repr(m) == "nn.SpatialConvolutionMap(3 -> 3, 3x2, 1,2, 4 connections)"


@pytest.mark.device
def test_convolution_map_reset_uses_each_outputs_fan_in() -> None:
    m = nn.SpatialConvolutionMap(ft.LongTensor([[0, 0], [1, 0], [2, 0], [0, 1]]), 2, 2)
    w = host(m.weight)
    assert np.abs(w[:3]).max() <= 1 / math.sqrt(4 * 3) and np.abs(w[3]).max() <= 1 / math.sqrt(4)
    assert np.abs(w[3]).max() > 1 / math.sqrt(4 * 3)  # the wider bound is used (4 draws; fails 1 in 10^6)


@pytest.mark.device
def test_full_convolution_map_matches_full_convolution() -> None:
    table = nn.tables.full(2, 3)
    m = nn.SpatialFullConvolutionMap(table, 3, 2, 2, 1)
    full = nn.SpatialFullConvolution(2, 3, 3, 2, 2, 1)
    for k, (i, o) in enumerate(table.tolist()):
        full.weight[i, o].copy_(m.weight[k])
    full.bias.copy_(m.bias)
    x = ft.randn(2, 2, 4, 5)
    np.testing.assert_allclose(host(m.forward(x)), host(full.forward(x)), atol=1e-12)


@pytest.mark.device
def test_connection_table_errors() -> None:
    with pytest.raises(ShapeError, match="n x 2"):
        nn.SpatialConvolutionMap(ft.LongTensor([[0, 1, 2]]), 2, 2)
    with pytest.raises(ArgumentError, match="twice"):
        nn.SpatialConvolutionMap(ft.LongTensor([[0, 1], [0, 1]]), 2, 2)


# --------------------------------------------------------------------------------------------------
# Pooling values and sizes.


@pytest.mark.device
def test_subsampling_matches_window_sums() -> None:
    m = nn.SpatialSubSampling(3, 2, 3, 2, 1)
    x = randn(2, 3, 7, 6)
    s = ref_pool(x, (3, 2), (1, 2), (0, 0), (5, 3), lambda v, *_: v.sum(-1), 0.0)
    want = s * host(m.weight)[:, None, None] + host(m.bias)[:, None, None]
    np.testing.assert_allclose(host(m.forward(T(x))), want, atol=1e-12)


@pytest.mark.device
def test_max_pooling_2x2_matches_reshape_max() -> None:
    x = randn(2, 3, 8, 6)
    m = nn.SpatialMaxPooling(2, 2, 2, 2)
    want = x.reshape(2, 3, 4, 2, 3, 2).max(axis=(3, 5))
    np.testing.assert_array_equal(host(m.forward(T(x))), want)
    idx = host(m.indices)
    assert m.indices.dtype == ft.int64 and m.indices.device == ft.device() and idx.shape == (2, 3, 4, 3)
    np.testing.assert_array_equal(
        np.take_along_axis(x.reshape(2, 3, -1), idx.reshape(2, 3, -1), 2).reshape(want.shape), want
    )
    g = randn(2, 3, 4, 3)
    gin = host(m.backward(T(x), T(g)))
    mask = x == np.repeat(np.repeat(want, 2, 2), 2, 3)
    np.testing.assert_array_equal(gin, mask * np.repeat(np.repeat(g, 2, 2), 2, 3))


@pytest.mark.device
@pytest.mark.parametrize("ceil", [False, True])
def test_max_pooling_padded_overlapping_matches_loop(ceil: bool) -> None:
    x = randn(2, 2, 7, 6)
    m = nn.SpatialMaxPooling(3, 2, 2, 1, 1, 1)
    if ceil:
        m.ceil()
    out = m.forward(T(x))
    oh = kernels.out_size(7, 2, 1, 1, ceil=ceil)
    ow = kernels.out_size(6, 3, 2, 1, ceil=ceil)
    assert tuple(out.size()) == (2, 2, oh, ow)
    want = ref_pool(x, (2, 3), (1, 2), (1, 1), (oh, ow), lambda v, *_: v.max(-1), -np.inf)
    np.testing.assert_array_equal(host(out), want)
    # indices: the first maximum of each window, as a flat position in the unpadded plane
    xi = np.arange(42.0).reshape(1, 1, 7, 6)
    pos = ref_pool(np.zeros((1, 1, 7, 6)) + xi, (2, 3), (1, 2), (1, 1), (oh, ow), lambda v, *_: v.max(-1), -np.inf)
    np.testing.assert_array_equal(host(m.forward(T(xi))), pos)
    np.testing.assert_array_equal(host(m.indices), pos.astype(np.int64))


@pytest.mark.device
@pytest.mark.parametrize(
    ("size", "k", "stride", "pad", "floor", "ceil"),
    [
        (7, 2, 2, 0, 3, 4),
        (6, 2, 2, 0, 3, 3),
        (5, 3, 2, 1, 3, 3),
        (6, 3, 2, 1, 3, 4),
        (10, 3, 3, 0, 3, 4),
        (4, 2, 3, 1, 2, 2),
    ],
)
def test_pooling_output_sizes_floor_and_ceil(size: int, k: int, stride: int, pad: int, floor: int, ceil: int) -> None:
    for cls in (nn.SpatialMaxPooling, nn.SpatialAveragePooling):
        m = cls(k, k, stride, stride, pad, pad)
        assert m.forward(ft.zeros(1, size, size)).size() == (1, floor, floor)
        assert m.ceil().forward(ft.zeros(1, size, size)).size() == (1, ceil, ceil)
        assert m.floor().forward(ft.zeros(1, size, size)).size() == (1, floor, floor)


@pytest.mark.device
def test_max_pooling_ties_pick_the_first_and_nan_propagates() -> None:
    m = nn.SpatialMaxPooling(2, 2)
    assert m.forward(ft.ones(1, 2, 2)).tolist() == [[[1.0]]] and m.indices.tolist() == [[[0]]]
    x = ft.Tensor([[[1.0, float("nan")], [float("nan"), 0.0]]])
    y = m.forward(x)
    assert math.isnan(float(y[0, 0, 0])) and m.indices.tolist() == [[[2]]]  # Torch keeps the last NaN


@pytest.mark.device
def test_dilated_max_pooling_matches_loop() -> None:
    x = randn(2, 2, 9, 8)
    m = nn.SpatialDilatedMaxPooling(2, 3, 2, 1, 1, 1, 3, 2)
    out = host(m.forward(T(x)))
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    oh, ow = (9 + 2 - 5) // 1 + 1, (8 + 2 - 4) // 2 + 1
    want = np.stack(
        [
            np.stack([xp[:, :, y : y + 5 : 2, 2 * xx : 2 * xx + 4 : 3].max(axis=(2, 3)) for xx in range(ow)], -1)
            for y in range(oh)
        ],
        -2,
    )
    np.testing.assert_array_equal(out, want)
    assert repr(m) == "nn.SpatialDilatedMaxPooling(2x3, 2,1, 1,1, 3,2)"


@pytest.mark.device
@pytest.mark.parametrize("include", [True, False])
@pytest.mark.parametrize("ceil", [False, True])
def test_average_pooling_matches_loop(include: bool, ceil: bool) -> None:
    x = randn(2, 2, 7, 6)
    m = nn.SpatialAveragePooling(3, 2, 2, 2, 1, 1)
    if ceil:
        m.ceil()
    if not include:
        m.set_count_exclude_pad()
    out = host(m.forward(T(x)))
    oh, ow = out.shape[2:]
    h, w = 7, 6

    def avg(v: np.ndarray, y: int, xx: int) -> np.ndarray:  # Torch's divisor rule, element by element
        hs, ws = y * 2 - 1, xx * 2 - 1
        he, we = min(hs + 2, h + 1), min(ws + 3, w + 1)
        size = (he - hs) * (we - ws)
        if not include:
            size = (min(he, h) - max(hs, 0)) * (min(we, w) - max(ws, 0))
        return v.sum(-1) / size

    want = ref_pool(x, (2, 3), (2, 2), (1, 1), (oh, ow), avg, 0.0)
    np.testing.assert_allclose(out, want, atol=1e-12)


@pytest.mark.device
def test_average_pooling_stride_defaults_to_one() -> None:
    m = nn.SpatialAveragePooling(2, 2)
    assert (m.dw, m.dh) == (1, 1)
    assert m.forward(ft.zeros(3, 5, 5)).size() == (3, 4, 4)


@pytest.mark.device
def test_adaptive_max_pooling_matches_loop() -> None:
    x = randn(2, 3, 7, 5)
    m = nn.SpatialAdaptiveMaxPooling(3, 4)
    out = host(m.forward(T(x)))
    want = np.zeros((2, 3, 4, 3))
    for i, j in itertools.product(range(4), range(3)):
        r0, r1 = (i * 7) // 4, -(-((i + 1) * 7) // 4)
        c0, c1 = (j * 5) // 3, -(-((j + 1) * 5) // 3)
        want[:, :, i, j] = x[:, :, r0:r1, c0:c1].max(axis=(2, 3))
    np.testing.assert_array_equal(out, want)
    assert m.forward(T(x[0])).size() == (3, 4, 3)
    big = nn.SpatialAdaptiveMaxPooling(7, 9).forward(T(x))  # more outputs than inputs: windows repeat
    assert big.size() == (2, 3, 9, 7)


@pytest.mark.device
def test_lp_pooling_matches_norms() -> None:
    x = np.abs(randn(2, 3, 6, 6)) + 0.1
    m2 = nn.SpatialLPPooling(3, 2, 2, 2)
    want = np.sqrt((x.reshape(2, 3, 3, 2, 3, 2) ** 2).sum(axis=(3, 5)))
    np.testing.assert_allclose(host(m2.forward(T(x))), want, rtol=1e-12)
    m3 = nn.SpatialLPPooling(3, 3, 3, 2, 1, 2)
    want3 = ref_pool(x, (2, 3), (2, 1), (0, 0), (3, 4), lambda v, *_: (v**3).sum(-1) ** (1 / 3), 0.0)
    np.testing.assert_allclose(host(m3.forward(T(x))), want3, rtol=1e-12)


def ref_intervals(u: float, size: int, out: int, pool: int) -> list[int]:
    """Torch's generateIntervals, written out."""
    alpha = (size - pool) / (out - 1)
    return [int((i + u) * alpha) - int(u * alpha) for i in range(out - 1)] + [size - pool]


@pytest.mark.device
def test_fractional_max_pooling_matches_torch_intervals() -> None:
    x = randn(2, 3, 9, 8)
    m = nn.SpatialFractionalMaxPooling(3, 2, 4, 5)  # pool 3 wide, 2 high; output 4 wide, 5 high
    out = host(m.forward(T(x)))
    assert out.shape == (2, 3, 5, 4)
    s = host(m.random_samples)
    assert s.shape == (2, 3, 2) and (0 <= s).all() and (s < 1).all()
    for n, c in itertools.product(range(2), range(3)):
        rows = ref_intervals(s[n, c, 1], 9, 5, 2)
        cols = ref_intervals(s[n, c, 0], 8, 4, 3)
        for i, j in itertools.product(range(5), range(4)):
            win = x[n, c, rows[i] : rows[i] + 2, cols[j] : cols[j] + 3]
            assert out[n, c, i, j] == win.max()
            assert x[n, c].reshape(-1)[host(m.indices)[n, c, i, j]] == win.max()


@pytest.mark.device
def test_fractional_max_pooling_regions_are_redrawn_unless_fixed() -> None:
    x = ft.randn(1, 4, 12, 12)
    m = nn.SpatialFractionalMaxPooling(2, 2, 0.5, 0.5)
    m.forward(x)
    first = m.random_samples.clone()
    m.forward(x)
    assert not np.array_equal(host(first), host(m.random_samples))
    m.fix_pooling_regions()
    kept = m.random_samples.clone()
    y1 = m.forward(x).clone()
    np.testing.assert_array_equal(host(m.forward(x)), host(y1))
    np.testing.assert_array_equal(host(m.random_samples), host(kept))
    assert y1.size() == (1, 4, 6, 6)
    with pytest.raises(ArgumentError, match="reduction ratios"):
        nn.SpatialFractionalMaxPooling(2, 2, 0.5, 2)
    with pytest.raises(ShapeError, match="needs an input of at least 8x8"):
        nn.SpatialFractionalMaxPooling(3, 3, 6, 6).forward(ft.zeros(1, 7, 7))


# --------------------------------------------------------------------------------------------------
# Types, state, printing, devices.


def float_modules() -> list[nn.Module]:
    pool = nn.SpatialMaxPooling(2, 2)
    return [
        nn.SpatialConvolution(3, 4, 3, 2, 2, 1, 1),
        nn.SpatialConvolution(3, 4, 6, 8),
        nn.SpatialDilatedConvolution(3, 4, 2, 2, 1, 1, 0, 0, 2, 2),
        nn.SpatialFullConvolution(3, 4, 3, 3, 2, 2),
        nn.SpatialConvolutionLocal(3, 2, 6, 8, 3, 3),
        nn.SpatialConvolutionMap(nn.tables.one_to_one(3), 2, 2),
        nn.SpatialFullConvolutionMap(nn.tables.one_to_one(3), 2, 2),
        nn.SpatialSubSampling(3, 2, 2),
        pool,
        nn.SpatialDilatedMaxPooling(2, 2, 1, 1, 0, 0, 2, 2),
        nn.SpatialAveragePooling(2, 2, 2, 2, 1, 1),
        nn.SpatialAdaptiveMaxPooling(3, 3),
        nn.SpatialLPPooling(3, 2, 2, 2),
        nn.SpatialFractionalMaxPooling(2, 2, 3, 3),
    ]


@pytest.mark.device
def test_float32_stays_float32() -> None:
    x = ft.rand(2, 3, 8, 6, dtype="float32")
    prefix = type_prefix()
    for m in float_modules():
        m.float()
        y = m.forward(x)
        assert y.type() == f"{prefix}.FloatTensor", m
        g = m.backward(x, ft.ones(*y.size(), dtype="float32"))
        assert g.type() == f"{prefix}.FloatTensor", m
        assert all(p.type() == f"{prefix}.FloatTensor" for p in m.parameters()[1]), m
    pool = nn.SpatialMaxPooling(2, 2).float()
    y = pool.forward(x)
    unpool = nn.SpatialMaxUnpooling(pool)
    assert unpool.forward(y).type() == f"{prefix}.FloatTensor"
    assert pool.indices.type() == f"{prefix}.LongTensor"


@pytest.mark.device
def test_wrong_input_sizes_name_expected_and_got() -> None:
    with pytest.raises(ShapeError, match=r"expected an input of size 3 x H x W or N x 3 x H x W, got 4x32x32"):
        nn.SpatialConvolution(3, 16, 5, 5).forward(ft.zeros(4, 32, 32))
    with pytest.raises(ShapeError, match=r"expected an input of size 3 x H x W or N x 3 x H x W, got 32x32"):
        nn.SpatialConvolution(3, 16, 5, 5).forward(ft.zeros(32, 32))
    with pytest.raises(ShapeError, match=r"expected an input of size C x H x W or N x C x H x W, got 2x3x4x5x6"):
        nn.SpatialMaxPooling(2, 2).forward(ft.zeros(2, 3, 4, 5, 6))
    with pytest.raises(
        ShapeError, match=r"input of size 3x4x4 is too small for a 5x5 kernel: the output would be 16x0x0"
    ):
        nn.SpatialConvolution(3, 16, 5, 5).forward(ft.zeros(3, 4, 4))
    with pytest.raises(ShapeError, match=r"too small for a 3x3 window"):
        nn.SpatialMaxPooling(3, 3).forward(ft.zeros(1, 2, 5))
    with pytest.raises(ShapeError, match=r"too small"):
        nn.SpatialFullConvolution(1, 1, 1, 1, 1, 1, 2, 2).forward(ft.zeros(1, 2, 2))
    with pytest.raises(ArgumentError, match=r"at most half the kernel size, got pad 2,0 for a 3x3 kernel"):
        nn.SpatialMaxPooling(3, 3, 1, 1, 2, 0).forward(ft.zeros(1, 5, 5))


@pytest.mark.device
def test_grad_output_type_and_device_errors() -> None:
    m = nn.SpatialConvolution(2, 3, 3, 3)
    x = ft.randn(2, 5, 5)
    m.forward(x)
    with pytest.raises(ShapeError, match=r"grad_output of size 3x2x2 does not match the output \(size 3x3x3\)"):
        m.backward(x, ft.zeros(3, 2, 2))
    prefix = re.escape(type_prefix())
    with pytest.raises(DTypeError, match=rf"input is a {prefix}.FloatTensor but the weight a {prefix}.DoubleTensor"):
        m.forward(x.float())
    with pytest.raises(DTypeError, match="floating-point"):
        nn.SpatialMaxPooling(2, 2).forward(ft.LongTensor(1, 4, 4))
    pool = nn.SpatialMaxPooling(2, 2)
    pool.forward(ft.zeros(1, 4, 4))
    with pytest.raises(ShapeError, match=r"must have the size of the pooling module's indices \(1x2x2\)"):
        nn.SpatialMaxUnpooling(pool).forward(ft.zeros(1, 3, 3))
    with pytest.raises(ArgumentError, match="SpatialMaxPooling module"):
        nn.SpatialMaxUnpooling(nn.SpatialAveragePooling(2, 2))


@pytest.mark.device
def test_a_grad_output_on_another_device_is_refused() -> None:
    """The kernels take raw arrays: a grad_output from another device must not reach them."""
    if ft.device() == "cpu":
        pytest.importorskip("boxed_backend")
        if "boxed" not in {b.name for b in ft.backends() if b.available}:
            pytest.skip("the boxed test backend is not available")
        other = "boxed:0"
    else:
        other = "cpu"
    x = ft.randn(2, 2, 6, 6)
    for m in (nn.SpatialConvolution(2, 3, 3, 3), nn.SpatialSubSampling(2, 2, 2, 2, 2), nn.SpatialMaxPooling(2, 2)):
        y = m.forward(x)
        g = ft.ones(*y.size(), device=other)
        with pytest.raises(DeviceMismatchError, match=r"grad_output is on .* but the output on"):
            m.backward(x, g)


def test_reprs_read_like_torch() -> None:
    assert repr(nn.SpatialConvolution(3, 16, 5, 5)) == "nn.SpatialConvolution(3 -> 16, 5x5)"
    assert repr(nn.SpatialConvolution(3, 16, 5, 3, 2, 2)) == "nn.SpatialConvolution(3 -> 16, 5x3, 2,2)"
    assert repr(nn.SpatialMaxPooling(2, 2)) == "nn.SpatialMaxPooling(2x2, 2,2)"
    assert repr(nn.SpatialMaxPooling(3, 3, 2, 2, 1, 1).ceil()) == "nn.SpatialMaxPooling(3x3, 2,2, 1,1, ceil)"
    assert repr(nn.SpatialAveragePooling(2, 2)) == "nn.SpatialAveragePooling(2x2, 1,1)"
    assert (
        repr(nn.SpatialFullConvolution(3, 2, 4, 4, 2, 2, 1, 1, 1, 1))
        == "nn.SpatialFullConvolution(3 -> 2, 4x4, 2,2, 1,1, 1,1)"
    )
    assert repr(nn.SpatialSubSampling(4, 2, 2, 2, 2)) == "nn.SpatialSubSampling(4, 2x2, 2,2)"
    assert repr(nn.SpatialLPPooling(4, 2, 3, 3)) == "nn.SpatialLPPooling(4, 2, 3x3, 3,3)"
    assert repr(nn.SpatialAdaptiveMaxPooling(5, 4)) == "nn.SpatialAdaptiveMaxPooling(5x4)"
    assert repr(nn.SpatialFractionalMaxPooling(2, 2, 0.5, 0.5)) == "nn.SpatialFractionalMaxPooling(2x2, ratio 0.5,0.5)"
    pool = nn.SpatialMaxPooling(2, 2)
    assert repr(nn.SpatialMaxUnpooling(pool)) == "nn.SpatialMaxUnpooling(associated to nn.SpatialMaxPooling(2x2, 2,2))"


@pytest.mark.device
def test_clear_state_keeps_indices_and_drops_columns() -> None:
    conv, pool = nn.SpatialConvolution(2, 3, 3, 3), nn.SpatialMaxPooling(2, 2)
    x = ft.randn(2, 2, 6, 6)
    pool.forward(conv.forward(x))
    assert conv.finput.nelement() > 0
    nn.Sequential(conv, pool).clear_state()
    assert pool.indices.size() == (2, 3, 2, 2) and conv.output.nelement() == 0
    # finput is state kept for the backward pass; backward after clear_state recomputes columns if needed
    conv.forward(x)
    g = ft.ones(2, 3, 4, 4)
    conv.zero_grad_parameters()
    conv.backward(x, g)
    want = conv.grad_weight.clone()
    conv.finput.set_()
    conv.zero_grad_parameters()
    conv.backward(x, g)
    np.testing.assert_allclose(host(conv.grad_weight), host(want))


@pytest.mark.device
def test_convnet_trains_on_a_batch() -> None:
    """The talk's convnet shape: two conv/tanh/pool stages and a 5x5 conv to 1x1, loss goes down."""
    model = nn.Sequential(
        nn.SpatialConvolution(3, 4, 5, 5),
        nn.Tanh(),
        nn.SpatialMaxPooling(2, 2, 2, 2),
        nn.SpatialConvolution(4, 8, 5, 5),
        nn.Tanh(),
        nn.SpatialMaxPooling(2, 2, 2, 2),
        nn.SpatialConvolution(8, 10, 5, 5),
    ).float()
    x = ft.randn(6, 3, 32, 32, dtype="float32")
    target = ft.randn(6, 10, 1, 1, dtype="float32")
    losses = []
    for _ in range(5):
        model.zero_grad_parameters()
        d = model.forward(x) - target
        losses.append(float((d * d).sum()))
        model.backward(x, 2 * d)
        model.update_parameters(0.001)
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False)), losses


def test_modules_run_on_a_second_backend() -> None:
    """The portable kernels use only what numpy and a device backend share (the boxed test backend)."""
    pytest.importorskip("boxed_backend")
    names = {b.name for b in ft.backends() if b.available}
    if "boxed" not in names:
        pytest.skip("the boxed test backend is not available")
    x = ft.rand(2, 3, 8, 6)
    for m in float_modules():
        y = m.forward(x).clone()
        g = ft.ones(*y.size())
        gi = m.backward(x, g).clone()
        if isinstance(m, nn.SpatialFractionalMaxPooling):
            m.fix_pooling_regions()
        m.to("boxed:0")
        xb = x.to("boxed:0")
        yb = m.forward(xb)
        assert str(yb.device) == "boxed:0", m
        if not isinstance(m, nn.SpatialFractionalMaxPooling):
            np.testing.assert_allclose(host(yb.cpu()), host(y), atol=1e-12, err_msg=repr(m))
            gib = m.backward(xb, g.to("boxed:0"))
            np.testing.assert_allclose(host(gib.cpu()), host(gi), atol=1e-12, err_msg=repr(m))


@pytest.mark.device
def test_grad_input_none_skips_the_input_gradient() -> None:
    """Torch's opt-out for a first layer: only the parameter gradients are computed."""
    conv = nn.SpatialConvolution(2, 3, 3, 3)
    x, g = ft.randn(2, 2, 5, 5), ft.randn(2, 3, 3, 3)
    conv.forward(x)
    conv.backward(x, g)
    want = conv.grad_weight.clone()
    conv.zero_grad_parameters()
    conv.grad_input = None
    assert conv.backward(x, g) is None and conv.grad_input is None
    np.testing.assert_allclose(host(conv.grad_weight), host(want))
    net = nn.Sequential(conv, nn.Tanh())
    net.forward(x)
    assert net.backward(x, ft.ones(2, 3, 3, 3)) is None
