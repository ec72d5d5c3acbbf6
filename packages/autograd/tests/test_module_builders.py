"""flambeau.autograd.module: LayerNormalization, MaskedBatchNormalization and SoftAttention."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import flambeau.tensor as ft
from flambeau.autograd import check_grads, grad, module, util
from flambeau.tensor.errors import ArgumentError, ShapeError
from flambeau.tensor.testing import host

pytestmark = pytest.mark.device


def check_tree(f: Callable[..., Any], params: Any, *rest: Any) -> None:
    """check_grads of ``f(params, *rest)`` with respect to every leaf of the parameter tree and the tensors in rest."""
    leaves, unflatten = util.flatten(params)
    k = len(leaves)
    check_grads(lambda *ls: f(unflatten(ls[:k]), *ls[k:]), *leaves, *rest, order=1)


# -- LayerNormalization -----------------------------------------------------------------------


def test_layer_normalization_parameters() -> None:
    f, params = module.LayerNormalization(5)
    assert params[0]["gain"].tolist() == [[1.0] * 5]
    assert params[0]["bias"].tolist() == [[0.0] * 5]
    existing: list[Any] = [{"other": ft.zeros(1)}]
    _, same = module.LayerNormalization(5, params=existing)
    assert same is existing and len(existing) == 2
    with pytest.raises(ArgumentError):
        module.LayerNormalization(0)


def test_layer_normalization_zero_mean_unit_variance_per_row() -> None:
    f, params = module.LayerNormalization(6)
    x = ft.randn(4, 6) * 5 + 3
    y = f(params, x, eps=0.0)
    np.testing.assert_allclose(host(y.mean(1)), 0, atol=1e-12)
    np.testing.assert_allclose(host(y.var(1, unbiased=False)), 1, rtol=1e-12)  # population variance
    xn = host(x)
    want = (xn - xn.mean(1, keepdims=True)) / (xn.std(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(host(f(params, x)), want, rtol=1e-12)  # eps is added to the std
    assert f(params[0], x[1]).tolist() == pytest.approx(f(params, x)[1].tolist())  # one row, the dict itself
    params[0]["gain"].fill_(2.0)
    params[0]["bias"].fill_(-1.0)
    np.testing.assert_allclose(host(f(params, x)), 2 * want - 1, rtol=1e-12)
    with pytest.raises(ShapeError):
        f(params, ft.randn(2, 5))


def test_layer_normalization_gradients() -> None:
    f, params = module.LayerNormalization(4)
    params[0]["gain"].normal_(1, 0.3)
    params[0]["bias"].normal_(0, 0.3)
    check_tree(f, params, ft.randn(3, 4))
    dparams, _ = grad(lambda p, x: (f(p, x) * ft.arange(4.0)).sum())(params, ft.randn(3, 4))
    assert dparams[0]["gain"].size() == (1, 4)
    np.testing.assert_allclose(host(dparams[0]["bias"]), [[0.0, 3.0, 6.0, 9.0]])


# -- MaskedBatchNormalization -----------------------------------------------------------------


def test_masked_batch_normalization_parameters_and_state() -> None:
    f, params, state = module.MaskedBatchNormalization(3, momentum=0.2)
    assert params[0]["gain"].tolist() == [[0.1] * 3] and params[0]["bias"].tolist() == [[0.0] * 3]
    assert state["momentum"] == 0.2 and state["train"] is True
    assert state["running_mean"].tolist() == [[0.0] * 3] and state["running_std"].tolist() == [[1.0] * 3]


def masked_reference(x: np.ndarray, mask: np.ndarray, state: dict[str, np.ndarray], m: float, eps: float) -> Any:
    rows, valid = (
        x.reshape(-1, x.shape[-1]),
        np.broadcast_to(mask.reshape(-1, mask.shape[-1]), (x.size // x.shape[-1], x.shape[-1])),
    )
    n = valid.sum(0)
    mean = (rows * valid).sum(0) / n
    rm = m * mean + (1 - m) * state["running_mean"]
    centered = (rows - rm) * valid
    std = np.sqrt((centered**2).sum(0) / n + eps)
    rs = m * std + (1 - m) * state["running_std"]
    return centered / rs, rm, rs


def test_masked_batch_normalization_statistics_over_valid_rows() -> None:
    f, params, state = module.MaskedBatchNormalization(3)
    params[0]["gain"].fill_(1.0)
    x = ft.randn(4, 5, 3) * 2 + 1
    lengths = [5, 3, 1, 4]
    mask = ft.tensor([[[1.0] if t < n else [0.0] for t in range(5)] for n in lengths])
    for step in range(3):  # the running estimates move with momentum at each training call
        before = {k: host(state[k]).copy() for k in ("running_mean", "running_std")}
        y = f(params, x, mask, state)
        want, rm, rs = masked_reference(host(x), host(mask), before, 0.1, 1e-5)
        np.testing.assert_allclose(host(y).reshape(-1, 3), want, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(host(state["running_mean"]), rm, rtol=1e-12)
        np.testing.assert_allclose(host(state["running_std"]), rs, rtol=1e-12)
        assert step == 0 or not np.allclose(rm, before["running_mean"])
    padded = host(y)[host(mask)[..., 0] == 0]
    assert np.all(padded == 0)  # padding rows give the bias (zero)
    # momentum 1: exactly the batch statistics of the valid rows: zero mean and unit variance there
    f1, params1, state1 = module.MaskedBatchNormalization(3, momentum=1.0)
    params1[0]["gain"].fill_(1.0)
    y1 = host(f1(params1, x, mask, state1, eps=0.0))[host(mask)[..., 0] == 1]
    np.testing.assert_allclose(y1.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(y1.var(0), 1, rtol=1e-12)
    # a full-size mask means the same as one flag per row
    f2, params2, state2 = module.MaskedBatchNormalization(3, momentum=1.0)
    params2[0]["gain"].fill_(1.0)
    y2 = host(f2(params2, x, mask.expand(4, 5, 3), state2, eps=0.0))[host(mask)[..., 0] == 1]
    np.testing.assert_allclose(y2, y1, rtol=1e-12)


def test_masked_batch_normalization_evaluation_keeps_state() -> None:
    f, params, state = module.MaskedBatchNormalization(2)
    x, mask = ft.randn(6, 2), ft.ones(6, 1)
    f(params, x, mask, state)
    state["train"] = False
    frozen = copy.deepcopy(state)
    y = f(params, x, mask, state)
    assert (state["running_mean"] == frozen["running_mean"]).all()
    assert (state["running_std"] == frozen["running_std"]).all()
    rm, rs = host(frozen["running_mean"]), host(frozen["running_std"])
    np.testing.assert_allclose(host(y), (host(x) - rm) / rs * 0.1, rtol=1e-12)
    assert f(params, x[0], mask[0], state).size() == (2,)
    with pytest.raises(ShapeError):
        f(params, x, ft.ones(5, 1), state)


@pytest.mark.parametrize("train", [True, False])
def test_masked_batch_normalization_gradients(train: bool) -> None:
    f, params, state = module.MaskedBatchNormalization(3, momentum=0.3)
    params[0]["gain"].normal_(1, 0.3)
    x = ft.randn(3, 4, 3)
    mask = ft.tensor([[[1.0]] * 4, [[1.0]] * 2 + [[0.0]] * 2, [[1.0]] * 3 + [[0.0]]])
    f(params, x, mask, state)
    state["train"] = train

    def fresh(p: Any, x: Any) -> Any:  # a copy of the state per call, so every evaluation sees the same one
        return f(p, x, mask, copy.deepcopy(state))

    check_tree(fresh, params, x)


# -- SoftAttention ----------------------------------------------------------------------------


def test_soft_attention_parameters() -> None:
    _, params = module.SoftAttention(hidden_features=5, subject_features=3, subject_choices=4)
    assert {k: tuple(v.size()) for k, v in params[0].items()} == {
        "W_att_subject": (1, 1, 3),
        "W_att_h": (5, 4),
        "b_att": (1, 4),
    }
    _, params = module.SoftAttention(hidden_features=5, subject_features=3, subject_choices=4, layer_normalization=True)
    assert sorted(params[0]) == ["W_att_h", "W_att_subject", "focus_ln_bias", "focus_ln_gain"]


@pytest.mark.parametrize("layer_normalization", [False, True])
def test_soft_attention_focus_is_a_distribution_and_attention_its_expectation(layer_normalization: bool) -> None:
    f, params = module.SoftAttention(
        hidden_features=5, subject_features=3, subject_choices=4, layer_normalization=layer_normalization
    )
    for t in params[0].values():
        t.normal_(0, 1)
    subject, h = ft.randn(2, 3, 4), ft.randn(2, 5)
    attention, focus = f(params, subject, h)
    assert attention.size() == (2, 3) and focus.size() == (2, 4)
    np.testing.assert_allclose(host(focus.sum(1)), 1, rtol=1e-12)
    assert (focus > 0).all()
    s, p = host(subject), params[0]
    logit = np.einsum("f,bfc->bc", host(p["W_att_subject"]).ravel(), s) + host(h) @ host(p["W_att_h"])
    if layer_normalization:
        c = logit - logit.mean(1, keepdims=True)
        logit = c / (c.std(1, keepdims=True) + 1e-5) * host(p["focus_ln_gain"]) + host(p["focus_ln_bias"])
    else:
        logit = logit + host(p["b_att"])
    want = np.exp(logit - logit.max(1, keepdims=True))
    want /= want.sum(1, keepdims=True)
    np.testing.assert_allclose(host(focus), want, rtol=1e-12)
    np.testing.assert_allclose(host(attention), np.einsum("bfc,bc->bf", s, want), rtol=1e-12)
    one_attention, one_focus = f(params, subject[1], h[1])  # one subject, no batch dim
    np.testing.assert_allclose(host(one_focus), host(focus[1]), rtol=1e-12)
    np.testing.assert_allclose(host(one_attention), host(attention[1]), rtol=1e-12)
    check_tree(lambda p, s, h: f(p, s, h), params, subject, h)


def test_soft_attention_starts_uniform_and_checks_sizes() -> None:
    f, params = module.SoftAttention(hidden_features=2, subject_features=3, subject_choices=5)
    attention, focus = f(params, ft.randn(4, 3, 5), ft.randn(4, 2))
    np.testing.assert_allclose(host(focus), 0.2, rtol=1e-12)
    with pytest.raises(ShapeError):
        f(params, ft.randn(4, 3, 6), ft.randn(4, 2))
    with pytest.raises(ShapeError):
        f(params, ft.randn(4, 3, 5), ft.randn(3, 2))
