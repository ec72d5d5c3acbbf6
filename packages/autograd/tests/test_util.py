"""flambeau.autograd.util: values against numpy/scipy, gradients against finite differences."""

from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np
import pytest
from scipy import special

import flambeau.tensor as ft
from flambeau.autograd import check_grads, grad, util
from flambeau.tensor.errors import ArgumentError
from flambeau.tensor.testing import host, on_device

R = np.random.default_rng(7)


def T(a: np.ndarray) -> ft.Tensor:
    return on_device(a, np.float64)


def np_of(t: ft.Tensor) -> np.ndarray:
    return host(t)


def type_of(dtype: ft.dtype) -> str:
    """The type name of a tensor of ``dtype`` on the current device ("flambeau.FloatTensor" on the cpu)."""
    return ft.zeros(1, dtype=dtype).type()


# -- log_sum_exp, log_softmax, softmax, sigmoid ------------------------------------------------


@pytest.mark.device
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_log_sum_exp_matches_scipy(dim: int | None, keepdim: bool) -> None:
    a = R.normal(0, 3, (4, 5))
    got = util.log_sum_exp(T(a), dim, keepdim)
    want = special.logsumexp(a, axis=dim, keepdims=keepdim)
    assert tuple(got.size()) == np.shape(want)
    np.testing.assert_allclose(np_of(got), want, rtol=1e-12)


@pytest.mark.device
def test_log_sum_exp_is_stable() -> None:
    a = np.array([1000.0, 1000.0, -1000.0])
    assert util.log_sum_exp(T(a)).item() == pytest.approx(1000 + np.log(2))
    assert util.log_sum_exp(T(-a)).item() == pytest.approx(1000.0)


@pytest.mark.device
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_log_softmax_and_softmax_match_scipy(dim: int) -> None:
    a = R.normal(0, 3, (3, 6))
    np.testing.assert_allclose(np_of(util.log_softmax(T(a), dim)), special.log_softmax(a, axis=dim), rtol=1e-12)
    np.testing.assert_allclose(np_of(util.softmax(T(a), dim)), special.softmax(a, axis=dim), rtol=1e-12)


@pytest.mark.device
def test_log_softmax_defaults_to_the_last_dim_and_is_stable() -> None:
    a = np.array([[0.0, 1000.0, 2000.0], [-5.0, 5.0, 0.0]])
    got = np_of(util.log_softmax(T(a)))
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, special.log_softmax(a, axis=-1), atol=1e-12)
    np.testing.assert_allclose(np_of(util.softmax(T(a))).sum(1), [1.0, 1.0])


@pytest.mark.device
def test_sigmoid_matches_scipy() -> None:
    a = np.concatenate([R.normal(0, 4, 20), [-800.0, 800.0]])
    np.testing.assert_allclose(np_of(util.sigmoid(T(a))), special.expit(a), rtol=1e-12)


@pytest.mark.device
def test_float32_stays_float32() -> None:
    x = ft.randn(3, 4).float()
    for y in (util.log_softmax(x), util.softmax(x), util.sigmoid(x), util.log_sum_exp(x, 1)):
        assert y.type() == type_of(ft.float32)


@pytest.mark.parametrize(
    "f",
    [
        lambda x: util.log_sum_exp(x),
        lambda x: util.log_sum_exp(x, 0),
        lambda x: util.log_sum_exp(x, 1, keepdim=True),
        lambda x: util.log_softmax(x),
        lambda x: util.log_softmax(x, 0),
        lambda x: util.softmax(x),
        lambda x: util.softmax(x, 0),
        lambda x: util.sigmoid(x),
    ],
    ids=["lse", "lse0", "lse1k", "log_softmax", "log_softmax0", "softmax", "softmax0", "sigmoid"],
)
@pytest.mark.device
def test_gradients_first_and_second_order(f: object) -> None:
    check_grads(f, T(R.normal(0, 2, (3, 4))), order=2)


@pytest.mark.device
def test_log_softmax_gradient_in_closed_form() -> None:
    a = R.normal(0, 1, (2, 5))
    w = R.normal(0, 1, (2, 5))
    dx = grad(lambda x: (util.log_softmax(x) * T(w)).sum())(T(a))[0]
    want = w - special.softmax(a, axis=1) * w.sum(1, keepdims=True)
    np.testing.assert_allclose(np_of(dx), want, rtol=1e-10, atol=1e-12)


# -- one_hot ----------------------------------------------------------------------------------


@pytest.mark.device
def test_one_hot_values() -> None:
    got = util.one_hot(ft.LongTensor([2, 0, 3, 0]), 5)
    assert got.type() == type_of(ft.float64)
    np.testing.assert_array_equal(np_of(got), np.eye(5)[[2, 0, 3, 0]])


@pytest.mark.device
def test_one_hot_from_a_list_with_n_inferred() -> None:
    np.testing.assert_array_equal(np_of(util.one_hot([1, 1, 0])), [[0, 1], [0, 1], [1, 0]])


@pytest.mark.device
def test_one_hot_of_a_matrix_of_labels_and_a_dtype() -> None:
    got = util.one_hot(ft.LongTensor([[0, 2], [1, 1]]), 3, dtype=ft.float32)
    assert got.type() == type_of(ft.float32) and tuple(got.size()) == (2, 2, 3)
    np.testing.assert_array_equal(np_of(got), np.eye(3)[[[0, 2], [1, 1]]])


@pytest.mark.device
def test_one_hot_errors() -> None:
    with pytest.raises(IndexError, match="out of range"):
        util.one_hot([0, 3], 3)
    with pytest.raises(IndexError, match="-1"):
        util.one_hot([0, -1], 3)
    with pytest.raises(ArgumentError, match="integer"):
        util.one_hot(ft.tensor([0.0, 1.0]), 2)
    assert tuple(util.one_hot(ft.LongTensor([]), 4).size()) == (0, 4)


# -- lookup -----------------------------------------------------------------------------------


@pytest.mark.device
def test_lookup_values_and_gradient() -> None:
    W = R.normal(0, 1, (6, 3))
    idx = np.array([[5, 0, 5], [2, 2, 1]])
    got = util.lookup(T(W), on_device(idx))
    np.testing.assert_array_equal(np_of(got), W[idx])
    G = R.normal(0, 1, (2, 3, 3))
    dW = grad(lambda w: (util.lookup(w, on_device(idx)) * T(G)).sum())(T(W))[0]
    want = np.zeros_like(W)
    np.add.at(want, idx.reshape(-1), G.reshape(-1, 3))
    np.testing.assert_allclose(np_of(dW), want, rtol=1e-12)
    check_grads(lambda w: util.lookup(w, [3, 3, 0]), T(W), order=2)


# -- dropout ----------------------------------------------------------------------------------


@pytest.mark.device
def test_dropout_statistics_and_scaling() -> None:
    p = 0.3
    y = np_of(util.dropout(ft.ones(200_000), p))
    kept = y != 0
    assert abs(kept.mean() - (1 - p)) < 0.005
    np.testing.assert_allclose(y[kept], 1 / (1 - p))
    assert abs(y.mean() - 1.0) < 0.01  # inverted dropout keeps the expectation


@pytest.mark.device
def test_dropout_identities() -> None:
    x = ft.randn(4, 5)
    assert util.dropout(x, 0.0) is x
    assert util.dropout(x, 0.9, training=False) is x
    assert np.all(np_of(util.dropout(x, 1.0)) == 0)
    with pytest.raises(ArgumentError):
        util.dropout(x, 1.5)


@pytest.mark.device
def test_dropout_gradient_is_the_scaled_mask() -> None:
    p = 0.4
    x = T(R.uniform(0.5, 1.5, (50, 8)))
    dx, _, y = grad(lambda x: (lambda y: (y.sum(), y))(util.dropout(x, p)))(x)
    mask = np_of(y) / np_of(x)  # 0 or 1/(1-p) per element: the draw made inside grad
    assert set(np.round(np.unique(mask), 12)) <= {0.0, round(1 / (1 - p), 12)}
    np.testing.assert_allclose(np_of(dx), mask, rtol=1e-12)


@pytest.mark.device
def test_dropout_with_a_fixed_generator_passes_check_grads() -> None:
    def f(x: ft.Tensor) -> ft.Tensor:
        g = ft.Generator(x.device)
        g.manual_seed(3)
        return util.dropout(x * x, 0.5, generator=g)

    check_grads(f, T(R.normal(0, 1, (4, 4))), order=2)


# -- cat --------------------------------------------------------------------------------------


@pytest.mark.device
def test_cat_of_numbers_and_scalars() -> None:
    got = util.cat([1, 2, 3])
    assert got.type() == type_of(ft.float64) and got.tolist() == [1.0, 2.0, 3.0]
    got = util.cat([ft.tensor(1.5).float(), 2])
    assert got.type() == type_of(ft.float32) and got.tolist() == [1.5, 2.0]
    assert util.cat([ft.arange(3), 7]).tolist() == [0, 1, 2, 7]


@pytest.mark.device
def test_cat_of_tensors_along_a_dim() -> None:
    a, b = R.normal(0, 1, (2, 3)), R.normal(0, 1, (2, 1))
    np.testing.assert_array_equal(np_of(util.cat([T(a), T(b)], 1)), np.concatenate([a, b], 1))
    np.testing.assert_array_equal(np_of(util.cat([T(a), T(a)])), np.concatenate([a, a]))


@pytest.mark.device
def test_cat_gradients() -> None:
    check_grads(lambda a, b: util.cat([a.sum(), b * 2, 3.0, (a * b).sum()]), T(R.normal(0, 1, 3)), ft.tensor(0.7))
    check_grads(lambda a, b: util.cat([a, b], 1), T(R.normal(0, 1, (2, 3))), T(R.normal(0, 1, (2, 2))))


# -- cast -------------------------------------------------------------------------------------

Pair = namedtuple("Pair", "weight bias")


def _tree() -> dict:
    return {
        "W1": ft.randn(3, 2),
        "layers": [Pair(ft.randn(2, 2), ft.randn(2)), (ft.randn(4), 0.25, "tanh")],
        "ordered": OrderedDict([("z", ft.randn(1)), ("a", None)]),
        "idx": ft.LongTensor([0, 2]),
    }


def _leaves_equal(a: object, b: object) -> None:
    assert type(a) is type(b) or (isinstance(a, ft.Tensor) and isinstance(b, ft.Tensor))
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _leaves_equal(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for u, v in zip(a, b, strict=True):
            _leaves_equal(u, v)
    elif isinstance(a, ft.Tensor):
        assert tuple(a.size()) == tuple(b.size())
        np.testing.assert_allclose(host(a.double()), host(b.double()), rtol=1e-6)
    else:
        assert a == b


def _types(tree: object) -> list[str]:
    leaves, _ = util.flatten(tree)
    return [t.type() for t in leaves if isinstance(t, ft.Tensor)]


def _want(floating: str, integer: str | None = None) -> list[str]:
    """The types of _tree()'s tensors in flatten order: W1, idx, the three of layers, ordered's z.

    ``integer`` defaults to a LongTensor's type on the current device.
    """
    return [floating, integer or type_of(ft.int64)] + [floating] * 4


@pytest.mark.device
def test_cast_float_double_round_trip_preserves_structure_and_values() -> None:
    tree = _tree()
    f32 = util.cast(tree, "float")
    assert _types(f32) == _want(type_of(ft.float32))
    _leaves_equal(tree, f32)
    back = util.cast(f32, "double")
    assert _types(back) == _want(type_of(ft.float64))
    _leaves_equal(tree, back)
    assert isinstance(back["layers"][0], Pair) and isinstance(back["ordered"], OrderedDict)
    assert back["layers"][1][1:] == (0.25, "tanh") and back["ordered"]["a"] is None
    assert tree["W1"].type() == type_of(ft.float64)  # the input tree is left alone


@pytest.mark.parametrize("spec", ["flambeau.FloatTensor", "torch.FloatTensor", ft.FloatTensor, ft.float32, "float32"])
def test_cast_type_name_and_dtype_forms(spec: object) -> None:
    assert _types(util.cast(_tree(), spec)) == _want("flambeau.FloatTensor")


@pytest.mark.device
def test_cast_every_tensor_and_a_bare_tensor() -> None:
    assert _types(util.cast(_tree(), "float", floating_only=False)) == [type_of(ft.float32)] * 6
    assert util.cast(ft.ones(2), "float").type() == type_of(ft.float32)
    assert util.cast(3.5, "float") == 3.5


def test_cast_to_another_device() -> None:
    try:
        ft.device("boxed")
    except ft.DeviceError:
        pytest.skip("no second device (the 'boxed' test backend is not installed)")
    tree = _tree()
    moved = util.cast(tree, "boxed")
    assert _types(moved) == _want("flambeau.boxed.DoubleTensor", "flambeau.boxed.LongTensor")
    f32 = util.cast(moved, "float")  # a dtype change stays on the device
    assert _types(f32) == _want("flambeau.boxed.FloatTensor", "flambeau.boxed.LongTensor")
    back = util.cast(moved, "cpu")
    assert _types(back) == _types(tree)
    _leaves_equal(tree, back)
    assert _types(util.cast(tree, "flambeau.boxed.FloatTensor")) == _types(f32)


def test_cast_unknown_device() -> None:
    with pytest.raises(ft.DeviceError):
        util.cast(_tree(), "nowhere")


# -- flatten ----------------------------------------------------------------------------------


@pytest.mark.device
def test_flatten_sorted_keys_and_round_trip() -> None:
    tree = {"b": ft.ones(1), "a": [ft.zeros(1), {"y": 2, "x": 1}], "c": Pair(3, 4)}
    leaves, unflatten = util.flatten(tree)
    assert [v if not isinstance(v, ft.Tensor) else v.tolist() for v in leaves] == [[0.0], 1, 2, [1.0], 3, 4]
    rebuilt = unflatten(leaves)
    _leaves_equal(tree, rebuilt)
    assert list(rebuilt) == ["b", "a", "c"] and isinstance(rebuilt["c"], Pair)
    with pytest.raises(ArgumentError):
        unflatten(leaves[:-1])


@pytest.mark.device
def test_flatten_params_and_their_gradient_in_step() -> None:
    params = {"W": ft.randn(2, 3), "b": ft.randn(2)}
    dparams, _ = grad(lambda p: (p["W"].sum(1) * p["b"]).sum())(params)
    pleaves, unflatten = util.flatten(params)
    gleaves, _ = util.flatten(dparams)
    stepped = unflatten([p - 0.1 * g for p, g in zip(pleaves, gleaves, strict=True)])
    np.testing.assert_allclose(np_of(stepped["b"]), np_of(params["b"] - 0.1 * params["W"].sum(1)))


def test_flatten_mixed_keys() -> None:
    leaves, unflatten = util.flatten({2: "two", "1": "one"})
    assert leaves == ["one", "two"]
    assert unflatten(["uno", "dos"]) == {2: "dos", "1": "uno"}
