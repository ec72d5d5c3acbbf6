"""conv2 / xcorr2 / conv3 / xcorr3: hand-computed values, scipy.signal over every shape form, mode,
dtype and memory layout of both arguments, the blocked kernel, and the errors.

The generic forms (function, method, ``out=``) are covered by test_ops.py from opcases_conv.py.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import opcases  # noqa: F401  (loads opcases_conv through its merge: import order matters)
import pytest
from opcases_conv import reference
from support import layouts, typename

import flambeau.tensor as ft
from flambeau.tensor.ops import conv as conv_module
from flambeau.tensor.testing import host

pytestmark = pytest.mark.device

OPS = {"conv2": (2, True), "xcorr2": (2, False), "conv3": (3, True), "xcorr3": (3, False)}
R = np.random.default_rng(3)


def _shapes(d: int) -> list[tuple[str, tuple[int, ...], tuple[int, ...]]]:
    n, k = ((7, 5), (3, 2)) if d == 2 else ((5, 4, 6), (2, 3, 3))
    return [("single", n, k), ("planes", (3, *n), (3, *k)), ("mv", (3, *n), (4, 3, *k))]


def _values(shape: tuple[int, ...], dt: np.dtype) -> np.ndarray:
    if dt.kind == "f":
        return R.uniform(-2, 2, shape).astype(dt)
    return R.integers(0, 5, shape).astype(dt)


# -- hand-computed ----------------------------------------------------------------------------


def test_hand_computed_2d() -> None:
    x = ft.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    k = ft.tensor([[1.0, 0.0], [0.0, 2.0]])
    # xcorr: x[i, j] + 2 x[i+1, j+1]; conv flips the kernel: 2 x[i, j] + x[i+1, j+1]
    assert ft.xcorr2(x, k).tolist() == [[11.0, 14.0], [20.0, 23.0]]
    assert ft.conv2(x, k).tolist() == [[7.0, 10.0], [16.0, 19.0]]
    assert ft.conv2(x, k, "F").tolist() == [
        [1.0, 2.0, 3.0, 0.0],
        [4.0, 7.0, 10.0, 6.0],
        [7.0, 16.0, 19.0, 12.0],
        [0.0, 14.0, 16.0, 18.0],
    ]
    assert ft.xcorr2(x, k, "F").tolist() == [
        [2.0, 4.0, 6.0, 0.0],
        [8.0, 11.0, 14.0, 3.0],
        [14.0, 20.0, 23.0, 6.0],
        [0.0, 7.0, 8.0, 9.0],
    ]


def test_hand_computed_planes_and_mv() -> None:
    x = ft.tensor([[[1.0, 2.0], [3.0, 4.0]], [[10.0, 20.0], [30.0, 40.0]]])  # 2 planes of 2x2
    k = ft.tensor([[[1.0]], [[2.0]]])  # one 1x1 kernel per plane
    assert ft.conv2(x, k).tolist() == [[[1.0, 2.0], [3.0, 4.0]], [[20.0, 40.0], [60.0, 80.0]]]
    km = ft.tensor([[[[1.0]], [[1.0]]], [[[1.0]], [[-1.0]]]])  # 2 out planes x 2 in planes x 1x1
    assert ft.xcorr2(x, km).tolist() == [[[11.0, 22.0], [33.0, 44.0]], [[-9.0, -18.0], [-27.0, -36.0]]]


def test_hand_computed_3d() -> None:
    x = ft.arange(0, 27).double().view(3, 3, 3)
    k = ft.zeros(2, 2, 2)
    k[0, 0, 0] = 1
    k[1, 1, 1] = 10
    xs = host(x)
    expected = xs[:2, :2, :2] + 10 * xs[1:, 1:, 1:]
    assert ft.xcorr3(x, k).tolist() == expected.tolist()
    flipped = 10 * xs[:2, :2, :2] + xs[1:, 1:, 1:]
    assert ft.conv3(x, k).tolist() == flipped.tolist()


# -- against scipy.signal ---------------------------------------------------------------------


@pytest.mark.parametrize("name", list(OPS))
@pytest.mark.parametrize("mode", ["V", "F"])
@pytest.mark.parametrize("dt", [np.float64, np.float32, np.int64, np.int32, np.uint8], ids=str)
def test_against_scipy_every_form_and_layout(name: str, mode: str, dt: Any) -> None:
    d, flip = OPS[name]
    dt = np.dtype(dt)
    ref = reference(d, flip)
    fn = getattr(ft, name)
    tol = 1e-4 if dt == np.float32 else 1e-10
    for form, ns, ks in _shapes(d):
        x, k = _values(ns, dt), _values(ks, dt)
        expected = ref(x, k, mode)
        for (lx, tx), (lk, tk) in itertools.product(layouts(x).items(), layouts(k).items()):
            got = fn(tx, tk, mode)
            what = f"{name} {form} {mode} {dt} input {lx} kernel {lk}"
            assert host(got).dtype == expected.dtype, what
            assert tuple(got.size()) == expected.shape, what
            np.testing.assert_allclose(host(got), expected, rtol=tol, atol=tol, err_msg=what)


@pytest.mark.parametrize("name", list(OPS))
def test_output_sizes(name: str) -> None:
    d, _ = OPS[name]
    fn = getattr(ft, name)
    n, k = (9, 6, 8)[:d], (4, 2, 3)[:d]
    assert tuple(fn(ft.ones(*n), ft.ones(*k)).size()) == tuple(a - b + 1 for a, b in zip(n, k, strict=True))
    assert tuple(fn(ft.ones(*n), ft.ones(*k), "F").size()) == tuple(a + b - 1 for a, b in zip(n, k, strict=True))
    assert tuple(fn(ft.ones(2, *n), ft.ones(5, 2, *k)).size()) == (5,) + tuple(
        a - b + 1 for a, b in zip(n, k, strict=True)
    )


def test_full_mode_allows_a_kernel_larger_than_the_input() -> None:
    x, k = R.uniform(-1, 1, (2, 3)), R.uniform(-1, 1, (4, 5))
    np.testing.assert_allclose(host(ft.conv2(ft.tensor(x), ft.tensor(k), "F")), reference(2, True)(x, k, "F"))
    # and full convolution commutes
    np.testing.assert_allclose(
        host(ft.conv2(ft.tensor(x), ft.tensor(k), "F")), host(ft.conv2(ft.tensor(k), ft.tensor(x), "F"))
    )


@pytest.mark.parametrize("mode", ["v", "valid", "VALID", "f", "full", "Full"])
def test_mode_spellings(mode: str) -> None:
    x, k = R.uniform(-1, 1, (5, 5)), R.uniform(-1, 1, (2, 3))
    canonical = "F" if mode.upper().startswith("F") else "V"
    got = ft.xcorr2(ft.tensor(x), ft.tensor(k), mode=mode)
    assert got.equal(ft.xcorr2(ft.tensor(x), ft.tensor(k), canonical))


def test_integers_keep_their_type_and_wrap_like_torch7() -> None:
    x = ft.tensor(np.full((3, 3), 100, dtype=np.int8))
    k = ft.tensor(np.ones((2, 2), dtype=np.int8))
    r = ft.conv2(x, k)
    assert r.type() == typename("CharTensor")
    assert r.tolist() == [[-112, -112], [-112, -112]]  # 400 wraps to -112, as in scipy and Torch7


def test_mixed_types_promote_like_matmul() -> None:
    x = ft.tensor([[1, 2], [3, 4]])  # LongTensor
    k = ft.tensor([[0.5]])
    r = ft.conv2(x, k)
    assert r.type() == typename("DoubleTensor")
    assert r.tolist() == [[0.5, 1.0], [1.5, 2.0]]


@pytest.mark.parametrize("name", list(OPS))
def test_blocks_of_output_rows_give_the_same_result(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    d, flip = OPS[name]
    ref = reference(d, flip)
    for _, ns, ks in _shapes(d):
        x, k = R.uniform(-1, 1, ns), R.uniform(-1, 1, ks)
        monkeypatch.setattr(conv_module, "_BLOCK", 1)  # one output row per block
        np.testing.assert_allclose(host(getattr(ft, name)(ft.tensor(x), ft.tensor(k), "F")), ref(x, k, "F"))
        monkeypatch.setattr(conv_module, "_BLOCK", 40)  # a few rows per block, a ragged last block
        np.testing.assert_allclose(host(getattr(ft, name)(ft.tensor(x), ft.tensor(k))), ref(x, k, "V"))


def test_out_form_writes_the_result() -> None:
    x, k = ft.randn(2, 6, 6), ft.randn(3, 2, 3, 3)
    out = ft.empty(0)
    assert ft.conv2(x, k, "F", out=out) is out
    assert tuple(out.size()) == (3, 8, 8)
    assert out.equal(ft.conv2(x, k, "F"))
    assert x.conv2(k).equal(ft.conv2(x, k))


def test_no_inplace_form() -> None:
    assert not hasattr(ft.Tensor, "conv2_")


# -- errors -------------------------------------------------------------------------------------


def _raises(exc: type, fn: Any, *args: Any, match: str) -> None:
    with pytest.raises(exc, match=match):
        fn(*args)


def test_kernel_larger_than_input_in_valid_mode() -> None:
    _raises(
        ft.ShapeError,
        ft.conv2,
        ft.ones(3, 4),
        ft.ones(4, 2),
        match=r"conv2: the kernel \(4x2\) is larger than the input \(3x4\).*'F'",
    )
    _raises(ft.ShapeError, ft.xcorr3, ft.ones(3, 4, 5), ft.ones(1, 5, 1), match=r"xcorr3: .*larger")
    _raises(ft.ShapeError, ft.conv2, ft.ones(2, 3, 4), ft.ones(5, 2, 3, 5), match=r"larger")


@pytest.mark.parametrize(
    ("name", "ni", "nk"),
    [("conv2", (5,), (2,)), ("conv2", (5, 5), (2, 2, 2)), ("xcorr2", (2, 5, 5), (2, 2)), ("conv2", (1, 2, 5, 5), (2, 2)),
     ("conv2", (2, 5, 5), (1, 1, 2, 2, 2)), ("conv3", (5, 5), (2, 2)), ("xcorr3", (5, 5, 5), (2, 2, 2, 2)),
     ("conv3", (2, 5, 5, 5), (2, 2, 2))],
)  # fmt: skip
def test_wrong_ranks(name: str, ni: tuple[int, ...], nk: tuple[int, ...]) -> None:
    si, sk = "x".join(map(str, ni)), "x".join(map(str, nk))
    _raises(
        ft.ShapeError,
        getattr(ft, name),
        ft.ones(*ni),
        ft.ones(*nk),
        match=rf"{name}: input of size {si} and kernel of size {sk}",
    )


def test_scalar_arguments_are_refused() -> None:
    _raises(ft.ShapeError, ft.conv2, ft.ones(3, 3), 2.0, match=r"conv2: input of size 3x3 and kernel of size \[\]")


def test_mismatched_plane_counts() -> None:
    _raises(
        ft.ShapeError,
        ft.conv2,
        ft.ones(3, 5, 5),
        ft.ones(2, 2, 2),
        match=r"conv2: the input has 3 planes but the kernel \(2x2x2\) is for 2",
    )
    _raises(
        ft.ShapeError, ft.xcorr2, ft.ones(3, 5, 5), ft.ones(4, 2, 2, 2), match=r"input has 3 planes .*4x2x2x2.* for 2"
    )
    _raises(
        ft.ShapeError, ft.conv3, ft.ones(2, 4, 4, 4), ft.ones(3, 1, 1, 1, 1), match=r"conv3: the input has 2 planes"
    )


def test_empty_arguments() -> None:
    _raises(ft.ShapeError, ft.conv2, ft.ones(3, 0), ft.ones(1, 1), match=r"conv2: .*non-empty")
    _raises(ft.ShapeError, ft.conv2, ft.ones(3, 3), ft.ones(0, 1), "F", match=r"non-empty")


@pytest.mark.parametrize("mode", ["X", "same", "", 1, None])
def test_bad_mode(mode: Any) -> None:
    _raises(
        ft.DomainError,
        ft.conv2,
        ft.ones(3, 3),
        ft.ones(2, 2),
        mode,
        match=r"conv2: mode must be 'V' \(valid\) or 'F' \(full\)",
    )


def test_errors_leave_out_unchanged() -> None:
    out = ft.ones(2, 2)
    with pytest.raises(ft.ShapeError):
        ft.conv2(ft.ones(2, 2), ft.ones(3, 3), out=out)
    assert out.equal(ft.ones(2, 2))
