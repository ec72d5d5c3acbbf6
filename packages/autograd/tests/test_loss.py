"""flambeau.autograd.loss: values against numpy references, gradients, and the talk's MLP trained with them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

import flambeau.tensor as ft
from flambeau.autograd import check_grads, grad, loss, util
from flambeau.tensor.errors import ShapeError
from flambeau.tensor.testing import host, on_device

pytestmark = pytest.mark.device

R = np.random.default_rng(11)


def T(a: np.ndarray) -> ft.Tensor:
    return on_device(a, np.float64)


def np_of(t: ft.Tensor) -> np.ndarray:
    return host(t)


def onehot(labels: np.ndarray, n: int) -> np.ndarray:
    return np.eye(n)[labels]


LABELS = np.array([0, 3, 1, 1, 2])
SCORES = R.normal(0, 2, (5, 4))


# -- values -----------------------------------------------------------------------------------


def test_log_multinomial_loss() -> None:
    out = special.log_softmax(SCORES, axis=1)
    want = -(out * onehot(LABELS, 4)).sum()
    got = loss.log_multinomial_loss(T(out), T(onehot(LABELS, 4)))
    assert got.dim() == 0 and got.item() == pytest.approx(want, rel=1e-12)
    assert loss.log_multinomial_loss(T(out), on_device(LABELS)).item() == pytest.approx(want, rel=1e-12)


def test_cross_entropy_returns_loss_and_log_probabilities() -> None:
    value, yhat = loss.cross_entropy(T(SCORES), T(onehot(LABELS, 4)))
    logp = special.log_softmax(SCORES, axis=1)
    assert value.dim() == 0 and value.item() == pytest.approx(-logp[np.arange(5), LABELS].sum(), rel=1e-12)
    np.testing.assert_allclose(np_of(yhat), logp, rtol=1e-12)
    value2, _ = loss.cross_entropy(T(SCORES), on_device(LABELS))
    assert value2.item() == pytest.approx(value.item(), rel=1e-14)


def test_cross_entropy_over_another_dim() -> None:
    value, yhat = loss.cross_entropy(T(SCORES.T), T(onehot(LABELS, 4).T), dim=0)
    np.testing.assert_allclose(np_of(yhat), special.log_softmax(SCORES.T, axis=0), rtol=1e-12)
    assert value.item() == pytest.approx(loss.cross_entropy(T(SCORES), on_device(LABELS))[0].item())


def test_cross_entropy_rejects_mismatched_class_indices() -> None:
    with pytest.raises(ShapeError):
        loss.cross_entropy(T(SCORES), ft.LongTensor([0, 1]))


def test_binary_cross_entropy() -> None:
    out = np.concatenate([R.normal(0, 2, 8), [60.0, -60.0]])
    t = np.concatenate([R.integers(0, 2, 8).astype(float), [0.0, 1.0]])  # two confidently wrong answers
    p = 1e-6
    yhat = special.expit(out) * (1 - 2 * p) + p
    want = -(t * np.log(yhat) + (1 - t) * np.log(1 - yhat)).sum()
    value, got = loss.binary_cross_entropy(T(out), T(t))
    assert value.dim() == 0 and value.item() == pytest.approx(want, rel=1e-10)
    assert np.isfinite(value.item())
    np.testing.assert_allclose(np_of(got), yhat, rtol=1e-12)
    assert loss.binary_cross_entropy(T(out), on_device(t.astype(np.int64)))[0].item() == pytest.approx(want)


def test_log_bce_loss_with_and_without_shift() -> None:
    prob = R.uniform(0.05, 0.95, 10)
    t = R.integers(0, 2, 10).astype(float)
    want = -(t * np.log(prob) + (1 - t) * np.log(1 - prob)).sum()
    got = loss.log_bce_loss(T(prob), T(t))
    assert got.dim() == 0 and got.item() == pytest.approx(want, rel=1e-12)
    s = prob + 1e-3  # the shift enters both logs, as in torch-autograd
    want_p = -(t * np.log(s) + (1 - t) * np.log(1 - s)).sum()
    assert loss.log_bce_loss(T(prob), T(t), 1e-3).item() == pytest.approx(want_p, rel=1e-12)
    assert np.isfinite(loss.log_bce_loss(ft.tensor([0.0]), ft.tensor([1.0]), 1e-6).item())


def test_least_squares() -> None:
    out, target = R.normal(0, 1, (3, 4)), R.normal(0, 1, (3, 4))
    value, yhat = loss.least_squares(T(out), T(target))
    assert value.dim() == 0 and value.item() == pytest.approx(((out - target) ** 2).sum(), rel=1e-12)
    np.testing.assert_array_equal(np_of(yhat), out)


def _margin_reference(out: np.ndarray, target: np.ndarray, m: float) -> float:
    pos, neg = out[target == 1], out[target == 0]
    return float(sum(max(0.0, m - (a - b)) for a in pos for b in neg))


@pytest.mark.parametrize("m", [1.0, 0.25, 3.0])
def test_margin_pairwise_hinge(m: float) -> None:
    out = R.normal(0, 1, (4, 3))
    target = R.integers(0, 2, (4, 3)).astype(float)
    target[0, 0] = 0.5  # neither positive nor negative: takes no part
    value, yhat = loss.margin(T(out), T(target), m)
    assert value.dim() == 0 and value.item() == pytest.approx(_margin_reference(out, target, m), rel=1e-12)
    assert yhat.tolist() == out.tolist()


def test_margin_gradient_counts_violating_pairs() -> None:
    out, target = np.array([2.0, 0.5, 0.0, 1.2, 3.0]), np.array([1.0, 1.0, 0.0, 0.0, 0.0])
    d = grad(lambda o: loss.margin(o, T(target)))(T(out))[0]
    # pairs closer than the margin 1: (2, 1.2), (2, 3), (0.5, 0), (0.5, 1.2), (0.5, 3); not (2, 0)
    assert d.tolist() == [-2.0, -3.0, 1.0, 2.0, 2.0]


def test_margin_without_negatives_is_zero() -> None:
    value, _ = loss.margin(ft.tensor([1.0, 2.0]), ft.tensor([1.0, 1.0]))
    assert value.item() == 0.0
    assert grad(lambda o: loss.margin(o, ft.tensor([1.0, 1.0])))(ft.tensor([1.0, 2.0]))[0].tolist() == [0.0, 0.0]


# -- gradients --------------------------------------------------------------------------------


def test_loss_gradients_first_and_second_order() -> None:
    Y = T(onehot(LABELS, 4))
    t = T(R.integers(0, 2, (5, 4)).astype(float))
    check_grads(lambda o, y: loss.log_multinomial_loss(util.log_softmax(o), y), T(SCORES), Y, order=2)
    check_grads(lambda o: loss.cross_entropy(o, on_device(LABELS)), T(SCORES), order=2)
    check_grads(lambda o, y: loss.cross_entropy(o, y)[0], T(SCORES), Y, order=2)
    check_grads(lambda o: loss.binary_cross_entropy(o, t), T(SCORES), order=2)
    check_grads(lambda o: loss.log_bce_loss(o, t, 1e-3), T(R.uniform(0.1, 0.8, (5, 4))), order=2)
    check_grads(lambda o, y: loss.least_squares(o, y), T(SCORES), T(R.normal(0, 1, (5, 4))), order=2)
    check_grads(lambda o: loss.margin(o, t, 0.5)[0], T(SCORES), order=2)


def test_grad_returns_gradient_then_loss_then_yhat() -> None:
    dout, value, yhat = grad(loss.cross_entropy)(T(SCORES), T(onehot(LABELS, 4)))
    np.testing.assert_allclose(np_of(dout), special.softmax(SCORES, axis=1) - onehot(LABELS, 4), atol=1e-12)
    assert value.dim() == 0
    np.testing.assert_allclose(np_of(yhat), special.log_softmax(SCORES, axis=1), rtol=1e-12)


# -- the talk's MLP, written with individual functions ------------------------------------------

SIZES = (20, 8, 8, 4)


def _init(rng: np.random.Generator) -> dict[str, ft.Tensor]:
    params = {}
    for i, (n_in, n_out) in enumerate(zip(SIZES, SIZES[1:], strict=False), start=1):
        params[f"W{i}"] = T(rng.normal(0, 1 / np.sqrt(n_in), (n_in, n_out)))
        params[f"b{i}"] = T(rng.normal(0, 0.1, n_out))
    return params


def mlp_loss(params: dict[str, ft.Tensor], x: ft.Tensor, y: ft.Tensor) -> tuple[ft.Tensor, ft.Tensor]:
    h1 = ft.tanh(x @ params["W1"] + params["b1"])
    h2 = ft.tanh(h1 @ params["W2"] + params["b2"])
    out = util.log_softmax(h2 @ params["W3"] + params["b3"])
    return loss.log_multinomial_loss(out, y), out


def _data(rng: np.random.Generator, n: int = 16) -> tuple[ft.Tensor, ft.Tensor]:
    x = rng.normal(0, 1, (n, SIZES[0]))
    labels = (x[:, :4].argmax(1)) % SIZES[-1]  # learnable: the largest of the first four inputs
    return T(x), util.one_hot(on_device(labels), SIZES[-1])


def test_mlp_gradients_against_finite_differences() -> None:
    rng = np.random.default_rng(5)
    params, (x, y) = _init(rng), _data(rng)
    dparams, value, out = grad(mlp_loss)(params, x, y)
    assert list(dparams) == list(params) and value.dim() == 0
    assert value.item() == pytest.approx(mlp_loss(params, x, y)[0].item())
    assert tuple(out.size()) == (16, 4)
    eps = 1e-6
    for name, p in params.items():
        assert dparams[name].size() == p.size()
        for _ in range(3):  # random directions per leaf
            v = T(rng.normal(0, 1, tuple(p.size())))
            plus = mlp_loss({**params, name: p + eps * v}, x, y)[0].item()
            minus = mlp_loss({**params, name: p - eps * v}, x, y)[0].item()
            numeric = (plus - minus) / (2 * eps)
            analytic = (dparams[name] * v).sum().item()
            assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-7), name
    names = list(params)
    check_grads(lambda *ps: mlp_loss(dict(zip(names, ps, strict=True)), x, y)[0], *params.values(), order=2, rtol=1e-4)


def test_mlp_sgd_lowers_the_loss() -> None:
    rng = np.random.default_rng(6)
    params, (x, y) = _init(rng), _data(rng, 32)
    df = grad(mlp_loss)
    losses = []
    for _ in range(30):
        dparams, value, _ = df(params, x, y)
        losses.append(value.item())
        params = {k: p - 0.02 * dparams[k] for k, p in params.items()}
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False))
    assert losses[-1] < 0.7 * losses[0]


def test_mlp_sgd_through_flatten_and_cast() -> None:
    rng = np.random.default_rng(8)
    params, (x, y) = util.cast(_init(rng), "float"), _data(rng)
    x, y = util.cast((x, y), "float")
    leaves, unflatten = util.flatten(params)
    first = None
    for _ in range(10):
        dparams, value, _ = grad(mlp_loss)(unflatten(leaves), x, y)
        assert value.dtype == ft.float32 and value.device == x.device
        first = value.item() if first is None else first
        gleaves, _ = util.flatten(dparams)
        leaves = [p - 0.02 * g for p, g in zip(leaves, gleaves, strict=True)]
    assert mlp_loss(unflatten(leaves), x, y)[0].item() < first
