"""Transfer functions: forward values against numpy/scipy, gradients against finite differences,
in-place variants, RReLU's training and evaluation modes, PReLU's channels, and errors."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.special as sp
from nncheck import check_module

import flambeau.nn as nn
import flambeau.tensor as ft
from flambeau.nn.module import Module
from flambeau.tensor.errors import ArgumentError, ShapeError
from flambeau.tensor.testing import host, on_device


def _input(shape: tuple[int, ...], kinks: tuple[float, ...] = (), scale: float = 1.5, seed: int = 0) -> Any:
    """A float64 input of random values kept 0.05 away from each kink (finite differences need it)."""
    a = np.random.default_rng(seed).standard_normal(shape) * scale
    for k in kinks:
        near = np.abs(a - k) < 0.05
        a[near] = k + np.where(a[near] >= k, 0.05, -0.05)
    return on_device(a)


def _close(t: Any, ref: np.ndarray, rtol: float = 1e-12, atol: float = 1e-14) -> None:
    np.testing.assert_allclose(host(t), ref, rtol=rtol, atol=atol)


class TransferOnACopy(Module):
    """Runs an in-place module on a copy of its input, so the finite-difference checks can use it."""

    def __init__(self, inner: Module) -> None:
        super().__init__()
        self.inner = inner

    def update_output(self, input: Any) -> Any:
        self.output = self.inner.forward(input.clone()).clone()
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        copy = input.clone()
        self.inner.forward(copy)
        self.grad_input = self.inner.update_grad_input(copy, grad_output.clone()).clone()
        return self.grad_input


# --------------------------------------------------------------------------------------------------
# Element-wise modules: forward against numpy, gradients against finite differences.

# name -> (module factory, numpy reference, kinks to keep away from)
ELEMENTWISE: dict[str, tuple[Callable[[], Module], Callable[[np.ndarray], np.ndarray], tuple[float, ...]]] = {
    "Tanh": (nn.Tanh, np.tanh, ()),
    "Sigmoid": (nn.Sigmoid, sp.expit, ()),
    "HardTanh": (nn.HardTanh, lambda x: np.clip(x, -1, 1), (-1, 1)),
    "HardTanh(-2,0.5)": (lambda: nn.HardTanh(-2, 0.5), lambda x: np.clip(x, -2, 0.5), (-2, 0.5)),
    "HardShrink": (nn.HardShrink, lambda x: np.where(np.abs(x) > 0.5, x, 0.0), (-0.5, 0.5)),
    "HardShrink(1)": (lambda: nn.HardShrink(1.0), lambda x: np.where(np.abs(x) > 1, x, 0.0), (-1, 1)),
    "SoftShrink": (
        nn.SoftShrink,
        lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0.0)),
        (-0.5, 0.5),
    ),
    "TanhShrink": (nn.TanhShrink, lambda x: x - np.tanh(x), ()),
    "Threshold": (nn.Threshold, lambda x: np.where(x > 1e-6, x, 0.0), (0,)),
    "Threshold(0.5,-1)": (lambda: nn.Threshold(0.5, -1.0), lambda x: np.where(x > 0.5, x, -1.0), (0.5,)),
    "ReLU": (nn.ReLU, lambda x: np.maximum(x, 0), (0,)),
    "ReLU6": (nn.ReLU6, lambda x: np.minimum(np.maximum(x, 0), 6), (0, 6)),
    "LeakyReLU": (nn.LeakyReLU, lambda x: np.where(x > 0, x, 0.01 * x), (0,)),
    "LeakyReLU(0.3)": (lambda: nn.LeakyReLU(0.3), lambda x: np.where(x > 0, x, 0.3 * x), (0,)),
    "PReLU": (nn.PReLU, lambda x: np.where(x > 0, x, 0.25 * x), (0,)),
    "RReLU(eval)": (lambda: nn.RReLU().evaluate(), lambda x: np.where(x > 0, x, x * (1 / 8 + 1 / 3) / 2), (0,)),
    "ELU": (nn.ELU, lambda x: np.where(x > 0, x, np.expm1(x)), (0,)),
    "ELU(0.5)": (lambda: nn.ELU(0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)), (0,)),
    "SoftPlus": (nn.SoftPlus, lambda x: np.logaddexp(0, x), ()),
    "SoftPlus(2,3)": (lambda: nn.SoftPlus(2, 3), lambda x: np.where(2 * x > 3, x, np.logaddexp(0, 2 * x) / 2), (1.5,)),
    "SoftSign": (nn.SoftSign, lambda x: x / (1 + np.abs(x)), ()),
    "LogSigmoid": (nn.LogSigmoid, lambda x: -np.logaddexp(0, -x), ()),
    "AddConstant": (lambda: nn.AddConstant(2.5), lambda x: x + 2.5, ()),
    "MulConstant": (lambda: nn.MulConstant(-1.5), lambda x: x * -1.5, ()),
}


@pytest.mark.device
@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("shape", [(7,), (4, 5), (2, 3, 4)])
def test_elementwise_forward_matches_numpy(name: str, shape: tuple[int, ...]) -> None:
    make, ref, kinks = ELEMENTWISE[name]
    x = _input(shape, kinks, scale=4.0)
    before = x.clone()
    y = make().forward(x)
    assert tuple(y.size()) == shape
    _close(y, ref(host(x)))
    assert x.equal(before), "the out-of-place forward pass changed its input"


@pytest.mark.device
@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("shape", [(5,), (3, 4)], ids=["single", "batch"])
def test_elementwise_gradients(name: str, shape: tuple[int, ...]) -> None:
    make, _, kinks = ELEMENTWISE[name]
    check_module(make(), _input(shape, kinks))


@pytest.mark.device
def test_elementwise_extreme_inputs_are_finite_and_silent() -> None:
    x = ft.Tensor([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for m in (nn.Sigmoid(), nn.ELU(), nn.SoftPlus(threshold=1e9), nn.LogSigmoid(), nn.SoftSign(), nn.TanhShrink()):
            y = m.forward(x)
            g = m.backward(x, ft.ones(5))
            assert np.isfinite(host(y)).all() and np.isfinite(host(g)).all(), repr(m)
    a = host(x)
    _close(nn.LogSigmoid().forward(x), -np.logaddexp(0, -a))
    _close(nn.SoftPlus(threshold=1e9).forward(x), np.logaddexp(0, a))


@pytest.mark.device
def test_softplus_is_linear_above_the_threshold() -> None:
    m = nn.SoftPlus(beta=2.0, threshold=4.0)
    x = ft.Tensor([1.9, 2.1, 30.0])  # beta x = 3.8, 4.2, 60
    y = m.forward(x).tolist()
    assert y[1:] == [2.1, 30.0]
    assert y[0] == pytest.approx(np.logaddexp(0, 3.8) / 2, rel=1e-14)
    g = m.backward(x, ft.ones(3)).tolist()
    assert g[1:] == [1.0, 1.0]
    assert g[0] == pytest.approx(sp.expit(3.8), rel=1e-14)


@pytest.mark.device
@pytest.mark.parametrize(
    "make", [v[0] for v in ELEMENTWISE.values()] + [nn.LogSoftMax, nn.SoftMax, nn.SoftMin, lambda: nn.PReLU(3)]
)
def test_float32_stays_float32(make: Callable[[], Module]) -> None:
    m = make().float()
    x = _input((2, 3), (0,)).float()
    y = m.forward(x)
    g = m.backward(x, ft.ones(2, 3).float())
    assert y.type() == g.type() == x.type() and x.dtype == ft.float32


# --------------------------------------------------------------------------------------------------
# The softmax family.


@pytest.mark.device
@pytest.mark.parametrize(
    ("shape", "axis"),
    [((6,), 0), ((3, 5), 1), ((4, 2, 3), 0), ((2, 4, 2, 3), 1)],
    ids=["C", "NxC", "CxHxW", "NxCxHxW"],
)
def test_softmax_family_forward_over_the_feature_dim(shape: tuple[int, ...], axis: int) -> None:
    x = _input(shape, scale=3.0)
    a = host(x)
    _close(nn.SoftMax().forward(x), sp.softmax(a, axis=axis))
    _close(nn.SpatialSoftMax().forward(x), sp.softmax(a, axis=axis))
    _close(nn.SoftMin().forward(x), sp.softmax(-a, axis=axis))
    _close(nn.LogSoftMax().forward(x), sp.log_softmax(a, axis=axis))
    np.testing.assert_allclose(host(nn.SoftMax().forward(x)).sum(axis), 1.0, rtol=1e-14)


@pytest.mark.device
@pytest.mark.parametrize("make", [nn.SoftMax, nn.SoftMin, nn.LogSoftMax, nn.SpatialSoftMax])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (3, 2, 2), (2, 3, 2, 2)], ids=["C", "NxC", "CxHxW", "NxCxHxW"])
def test_softmax_family_gradients(make: Callable[[], Module], shape: tuple[int, ...]) -> None:
    check_module(make(), _input(shape))


@pytest.mark.device
def test_softmax_family_is_stable_for_large_inputs() -> None:
    x = ft.Tensor([[1000.0, 1001.0, 999.0], [-1000.0, -1001.0, -999.0]])
    a = host(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _close(nn.SoftMax().forward(x), sp.softmax(a, axis=1))
        _close(nn.SoftMin().forward(x), sp.softmax(-a, axis=1))
        _close(nn.LogSoftMax().forward(x), sp.log_softmax(a, axis=1), rtol=1e-12, atol=1e-12)
    assert nn.SoftMax().forward(ft.Tensor([7.0, 7.0, 7.0, 7.0])).tolist() == [0.25] * 4


@pytest.mark.device
def test_logsoftmax_backward_is_the_closed_form() -> None:
    m = nn.LogSoftMax()
    x, g = _input((128, 10)), _input((128, 10), seed=1)
    y = m.forward(x)
    gi = m.backward(x, g)
    ref = host(g) - np.exp(host(y)) * host(g).sum(1, keepdims=True)
    _close(gi, ref)
    # the two passes allocate their results and leave input and grad_output alone
    assert gi is not g and y is not x


@pytest.mark.device
@pytest.mark.parametrize("make", [nn.SoftMax, nn.SoftMin, nn.LogSoftMax, nn.SpatialSoftMax])
def test_softmax_family_rejects_0d_and_5d_inputs(make: Callable[[], Module]) -> None:
    name = make.__name__
    with pytest.raises(ShapeError, match=rf"^{name}: expected an input of 1 to 4 dims .* got 2x2x2x2x2$"):
        make().forward(ft.zeros(2, 2, 2, 2, 2))
    with pytest.raises(ShapeError, match=r"got \[\] \(0-d\)"):
        make().forward(ft.tensor(1.0))


@pytest.mark.device
def test_mlp_with_logsoftmax_trains() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3), nn.LogSoftMax())
    crit = nn.ClassNLLCriterion()
    x = _input((12, 4))
    t = ft.LongTensor([0, 1, 2] * 4)
    losses = []
    for _ in range(30):
        model.zero_grad_parameters()
        losses.append(crit.forward(model.forward(x), t))
        model.backward(x, crit.backward(model.output, t))
        model.update_parameters(0.5)
    assert losses[-1] < 0.8 * losses[0]


# --------------------------------------------------------------------------------------------------
# PReLU.


@pytest.mark.device
def test_prelu_starts_at_a_quarter_and_reset_restores_it() -> None:
    m = nn.PReLU(3)
    assert m.weight.tolist() == [0.25] * 3 and m.grad_weight.tolist() == [0.0] * 3
    assert nn.PReLU().weight.tolist() == [0.25]
    m.weight.fill_(2.0)
    assert m.reset().weight.tolist() == [0.25] * 3
    m.forward(ft.zeros(3))
    m.clear_state()
    assert m.weight.tolist() == [0.25] * 3


@pytest.mark.device
@pytest.mark.parametrize(
    ("shape", "cdim"),
    [((3,), 0), ((4, 3), 1), ((3, 2, 2), 0), ((2, 3, 2, 2), 1)],
    ids=["C", "NxC", "CxHxW", "NxCxHxW"],
)
def test_prelu_per_channel_values_and_weight_gradient(shape: tuple[int, ...], cdim: int) -> None:
    m = nn.PReLU(3)
    m.weight.copy_(ft.Tensor([0.1, -0.5, 2.0]))
    x, g = _input(shape, (0,)), _input(shape, seed=1)
    a, ga = host(x), host(g)
    wshape = [1] * len(shape)
    wshape[cdim] = 3
    w = np.array([0.1, -0.5, 2.0]).reshape(wshape)
    _close(m.forward(x), np.where(a > 0, a, w * a))
    m.zero_grad_parameters()
    gi = m.backward(x, g, 0.5)
    _close(gi, np.where(a > 0, ga, w * ga))
    others = tuple(d for d in range(len(shape)) if d != cdim)
    _close(m.grad_weight, 0.5 * np.where(a > 0, 0.0, a * ga).sum(others))


@pytest.mark.device
@pytest.mark.parametrize("shape", [(3,), (4, 3), (3, 2, 2), (2, 3, 2, 2)], ids=["C", "NxC", "CxHxW", "NxCxHxW"])
def test_prelu_per_channel_gradients(shape: tuple[int, ...]) -> None:
    m = nn.PReLU(3)
    m.weight.copy_(ft.Tensor([0.1, -0.5, 2.0]))
    check_module(m, _input(shape, (0,)))


@pytest.mark.device
@pytest.mark.parametrize("shape", [(5,), (2, 3, 2, 2)])
def test_prelu_shared_weight_gradient(shape: tuple[int, ...]) -> None:
    m = nn.PReLU()
    x, g = _input(shape, (0,)), _input(shape, seed=1)
    m.forward(x)
    m.backward(x, g)
    a = host(x)
    _close(m.grad_weight, np.array([np.where(a > 0, 0.0, a * host(g)).sum()]))
    check_module(nn.PReLU(), x)


@pytest.mark.device
def test_prelu_rejects_the_wrong_number_of_channels() -> None:
    with pytest.raises(ShapeError, match=r"^PReLU: expected an input with 3 channels .* got 4x4$"):
        nn.PReLU(3).forward(ft.zeros(4, 4))
    with pytest.raises(ShapeError, match=r"got 1x3x1x1x1$"):
        nn.PReLU(3).forward(ft.zeros(1, 3, 1, 1, 1))
    with pytest.raises(ArgumentError, match="n_output_plane must be >= 0"):
        nn.PReLU(-1)


# --------------------------------------------------------------------------------------------------
# RReLU: random slopes in training, their mean in evaluation.


@pytest.mark.device
def test_rrelu_training_draws_slopes_in_range_and_uses_them_backward() -> None:
    m = nn.RReLU(0.1, 0.4)
    x, g = _input((50, 8), (0,)), _input((50, 8), seed=1)
    a = host(x)
    y = m.forward(x)
    noise = host(m.noise)
    assert (noise[a > 0] == 1).all()
    neg = noise[a <= 0]
    assert ((neg >= 0.1) & (neg < 0.4)).all()
    assert len(np.unique(neg)) == neg.size  # one slope per element
    assert abs(neg.mean() - 0.25) < 0.02
    _close(y, a * noise)
    _close(m.backward(x, g), host(g) * noise)


@pytest.mark.device
def test_rrelu_training_is_reproducible_with_manual_seed_and_random_across_calls() -> None:
    x = _input((4, 6), (0,))
    m = nn.RReLU()
    ft.manual_seed(7)
    first = m.forward(x).clone()
    second = m.forward(x).clone()
    ft.manual_seed(7)
    again = m.forward(x).clone()
    assert first.equal(again)
    assert not first.equal(second)


@pytest.mark.device
def test_rrelu_evaluation_uses_the_mean_slope_and_is_deterministic() -> None:
    m = nn.RReLU(0.2, 0.6).evaluate()
    x = _input((3, 5), (0,))
    a = host(x)
    y1, y2 = m.forward(x).clone(), m.forward(x).clone()
    assert y1.equal(y2)
    _close(y1, np.where(a > 0, a, 0.4 * a))
    check_module(m, x)
    check_module(nn.RReLU(0.2, 0.6).evaluate(), _input((5,), (0,)))
    m.training()
    assert not m.forward(x).equal(y1)


@pytest.mark.device
def test_rrelu_with_equal_bounds_is_deterministic_in_training() -> None:
    m = nn.RReLU(0.3, 0.3)
    assert m.train
    x = _input((3, 4), (0,))
    _close(m.forward(x), np.where(host(x) > 0, host(x), 0.3 * host(x)))
    check_module(m, x)


@pytest.mark.device
def test_rrelu_inplace_training_overwrites_input_and_grad_output() -> None:
    x = _input((4, 5), (0,))
    a = host(x).copy()
    g = _input((4, 5), seed=1)
    ga = host(g).copy()
    m = nn.RReLU(inplace=True)
    y = m.forward(x)
    assert y is x
    noise = host(m.noise)
    _close(x, a * noise)
    gi = m.backward(x, g)
    assert gi is g
    _close(g, ga * noise)


@pytest.mark.device
def test_rrelu_rejects_bad_bounds() -> None:
    with pytest.raises(ArgumentError, match="expected 0 <= lower <= upper, got lower=0.5, upper=0.2"):
        nn.RReLU(0.5, 0.2)


# --------------------------------------------------------------------------------------------------
# In-place variants: the same values as the out-of-place modules, on the caller's tensors.

INPLACE: dict[str, tuple[Callable[[bool], Module], tuple[float, ...]]] = {
    "Threshold": (lambda ip: nn.Threshold(0.5, -1.0, ip), (0.5,)),
    "Threshold(v=th)": (lambda ip: nn.Threshold(0.3, 0.3, ip), (0.3,)),
    "ReLU": (lambda ip: nn.ReLU(ip), (0,)),
    "ReLU6": (lambda ip: nn.ReLU6(ip), (0, 6)),
    "HardTanh": (lambda ip: nn.HardTanh(-0.5, 1.0, ip), (-0.5, 1)),
    "LeakyReLU": (lambda ip: nn.LeakyReLU(0.2, ip), (0,)),
    "LeakyReLU(0)": (lambda ip: nn.LeakyReLU(0.0, ip), (0,)),
    "RReLU(eval)": (lambda ip: nn.RReLU(0.1, 0.3, ip).evaluate(), (0,)),
    "ELU": (lambda ip: nn.ELU(0.7, ip), (0,)),
    "AddConstant": (lambda ip: nn.AddConstant(-1.25, ip), ()),
    "MulConstant": (lambda ip: nn.MulConstant(3.0, ip), ()),
}


@pytest.mark.device
@pytest.mark.parametrize("name", INPLACE)
def test_inplace_matches_out_of_place_on_the_callers_tensors(name: str) -> None:
    make, kinks = INPLACE[name]
    x = _input((4, 5), kinks, scale=4.0)
    g = _input((4, 5), seed=1)
    plain = make(False)
    ref_y = plain.forward(x).clone()
    ref_g = plain.backward(x, g).clone()

    m = make(True)
    xi, gi_in = x.clone(), g.clone()
    y = m.forward(xi)
    assert y is xi, "the in-place forward pass must return its input"
    assert y.equal(ref_y)
    gi = m.backward(xi, gi_in)
    assert gi is gi_in, "the in-place backward pass must return grad_output"
    assert gi.equal(ref_g)
    if name in ("AddConstant", "MulConstant"):  # these restore the input
        _close(xi, host(x), rtol=1e-15, atol=1e-15)
    else:
        assert xi.equal(ref_y)


@pytest.mark.device
@pytest.mark.parametrize("name", INPLACE)
@pytest.mark.parametrize("shape", [(5,), (3, 4)], ids=["single", "batch"])
def test_inplace_gradients(name: str, shape: tuple[int, ...]) -> None:
    make, kinks = INPLACE[name]
    check_module(TransferOnACopy(make(True)), _input(shape, kinks))


@pytest.mark.device
def test_inplace_relu_in_a_sequential_leaves_linear_output_rectified() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(True), nn.Linear(4, 2))
    x = _input((5, 3))
    out = model.forward(x)
    lin = model.get(0).output
    assert model.get(1).output is lin and (host(lin) >= 0).all()
    ref = nn.Sequential(model.get(0), nn.ReLU(), model.get(2))
    np.testing.assert_allclose(host(out), host(ref.forward(x)))
    check_module(TransferOnACopy(model), x, params=False)


@pytest.mark.device
def test_inplace_options_that_cannot_be_undone_are_rejected() -> None:
    with pytest.raises(ArgumentError, match=r"value \(2\) not to exceed the threshold \(1\)"):
        nn.Threshold(1.0, 2.0, True)
    with pytest.raises(ArgumentError, match="requires negval >= 0, got -0.5"):
        nn.LeakyReLU(-0.5, True)
    with pytest.raises(ArgumentError, match="requires alpha >= 0, got -1"):
        nn.ELU(-1.0, True)
    with pytest.raises(ArgumentError, match="multiplication by 0"):
        nn.MulConstant(0, True)
    with pytest.raises(ArgumentError, match="in-place flag must be a bool, got 1"):
        nn.ReLU(1)  # type: ignore[arg-type]
    # the out-of-place versions of the same parameters are fine
    assert nn.LeakyReLU(-0.5).forward(ft.Tensor([-2.0])).tolist() == [1.0]
    assert nn.Threshold(1.0, 2.0).forward(ft.Tensor([0.0, 3.0])).tolist() == [2.0, 3.0]


# --------------------------------------------------------------------------------------------------
# Constants, arguments and printing.


@pytest.mark.device
def test_add_constant_takes_a_broadcasting_tensor() -> None:
    k = ft.Tensor([1.0, 2.0, 3.0])
    m = nn.AddConstant(k)
    x = _input((2, 3))
    _close(m.forward(x), host(x) + np.array([1.0, 2.0, 3.0]))
    check_module(m, x)
    mi = nn.AddConstant(k, True)
    xi = x.clone()
    mi.forward(xi)
    mi.backward(xi, ft.ones(2, 3))
    _close(xi, host(x), rtol=1e-15, atol=1e-15)


@pytest.mark.device
def test_add_constant_gradient_is_a_copy_when_out_of_place() -> None:
    m = nn.AddConstant(1.0)
    g = ft.ones(3)
    gi = m.backward(ft.zeros(3), g)
    assert gi is not g and gi.equal(g)


@pytest.mark.device
def test_bad_arguments() -> None:
    with pytest.raises(ArgumentError, match=r"max_value \(-1\) must be larger than min_value \(1\)"):
        nn.HardTanh(1.0, -1.0)
    with pytest.raises(ArgumentError, match="beta must be non-zero"):
        nn.SoftPlus(0)
    with pytest.raises(ArgumentError, match="constant must be a number or a tensor, got str"):
        nn.AddConstant("2")  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="constant must be a number, got Tensor"):
        nn.MulConstant(ft.ones(2))  # type: ignore[arg-type]


@pytest.mark.device
def test_errors_inside_a_container_name_the_module() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.PReLU(4))
    with pytest.raises(ShapeError, match=r"^\(1\) nn.PReLU\(4\): PReLU: expected an input with 4 channels"):
        model.forward(ft.zeros(2, 4))


@pytest.mark.parametrize(
    ("module", "text"),
    [
        (nn.Tanh(), "nn.Tanh"),
        (nn.ReLU(), "nn.ReLU"),
        (nn.ReLU(True), "nn.ReLU(inplace)"),
        (nn.ReLU6(), "nn.ReLU6"),
        (nn.Threshold(), "nn.Threshold(1e-06, 0)"),
        (nn.HardTanh(-2, 2, True), "nn.HardTanh(-2, 2, inplace)"),
        (nn.HardShrink(), "nn.HardShrink(0.5)"),
        (nn.SoftShrink(0.25), "nn.SoftShrink(0.25)"),
        (nn.LeakyReLU(), "nn.LeakyReLU(0.01)"),
        (nn.PReLU(), "nn.PReLU"),
        (nn.PReLU(16), "nn.PReLU(16)"),
        (nn.RReLU(), "nn.RReLU(0.125, 0.3333)"),
        (nn.ELU(), "nn.ELU(alpha=1)"),
        (nn.SoftPlus(), "nn.SoftPlus(beta=1, threshold=20)"),
        (nn.LogSoftMax(), "nn.LogSoftMax"),
        (nn.AddConstant(3), "nn.AddConstant(3)"),
        (nn.AddConstant(ft.ones(4)), "nn.AddConstant(tensor of size 4)"),
        (nn.MulConstant(0.5, True), "nn.MulConstant(0.5, inplace)"),
    ],
)
def test_repr(module: Module, text: str) -> None:
    assert repr(module) == text


@pytest.mark.device
def test_relu_is_a_threshold_and_relu6_a_hardtanh() -> None:
    relu, relu6 = nn.ReLU(), nn.ReLU6()
    assert isinstance(relu, nn.Threshold) and (relu.threshold, relu.val) == (0.0, 0.0)
    assert isinstance(relu6, nn.HardTanh) and (relu6.min_val, relu6.max_val) == (0.0, 6.0)


@pytest.mark.device
def test_save_and_load_keep_parameters_and_options() -> None:
    model = nn.Sequential(nn.PReLU(2), nn.RReLU(0.2, 0.5, True), nn.SoftPlus(3, 5), nn.AddConstant(ft.ones(2)))
    model.get(0).weight.copy_(ft.Tensor([0.5, -1.0]))
    copy = ft.deserialize(ft.serialize(model))
    assert copy.get(0).weight.tolist() == [0.5, -1.0]
    r = copy.get(1)
    assert (r.lower, r.upper, r.inplace) == (0.2, 0.5, True)
    assert (copy.get(2).beta, copy.get(2).threshold) == (3, 5)
    x = _input((3, 2), (0,))
    model.evaluate()
    copy.evaluate()
    assert model.forward(x.clone()).equal(copy.forward(x.clone()))
