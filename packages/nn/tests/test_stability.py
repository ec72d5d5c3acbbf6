"""Numerical stability on inputs of magnitude 1e4, mixed signs, in float64 and float32.

The log-domain functions (``ft.logsumexp``, ``flambeau.autograd.util.log_softmax``, ``ft.sigmoid``),
the transfer modules (``LogSoftMax``, ``SoftMax``, ``SoftMin``, ``Sigmoid``, ``LogSigmoid``,
``SoftPlus``) and the criteria whose value depends on the inputs' magnitude (``CrossEntropy``,
``ClassNLL`` after ``LogSoftMax``, ``BCE`` with probabilities at and next to 0 and 1, ``MSE``,
``Abs``, ``SmoothL1``, ``SoftMargin``, ``Margin``, ``MultiMargin``, ``MultiLabelSoftMargin``,
``DistKLDiv``) give finite outputs equal to a stable float64 numpy/scipy reference computed from
the same (rounded) inputs, and so do their gradients: ``grad`` of flambeau.autograd for the
functions (skipped where flambeau.autograd is not installed), ``backward`` for the modules.

Tolerances are those the inputs allow: a float32 value near 1e4 is only known to
``spacing(1e4) ~ 1e-3``, so log-domain results carry an absolute error of a few such spacings
and probabilities (``exp`` of a difference of such numbers) the same relative error.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from scipy import special

import flambeau.nn as nn
import flambeau.tensor as ft
from flambeau.tensor.testing import host, on_device, spec

pytestmark = pytest.mark.device

DTYPES = [np.float64, np.float32]

# logits of magnitude 1e4: mixed signs, a winner by far, near-ties, an all-negative row, exact ties
X = np.array(
    [
        [1e4, -1e4, 5e3, 0.0, 1e4 - 0.5],
        [-1e4, -2e4, -3e4, -1e4 + 1, -1.5e4],
        [3e3, -7e3, 1e4, 9.9e3, -1.0],
        [1e4, -1e4, 1e4, 1e4, 0.0],
    ]
)
CLASSES = np.array([2, 1, 4, 3])  # 0-based: a far loser, a negative row's best, a near-tie loser, a tie
W = np.random.default_rng(5).uniform(0.5, 1.5, X.shape)  # upstream gradient weights


def _in(a: np.ndarray, dtype: Any) -> np.ndarray:
    """``a`` rounded to ``dtype`` and back to float64: the values the library actually sees."""
    return np.asarray(a, dtype=dtype).astype(np.float64)


def _tol(dtype: Any, scale: float = 1e4) -> float:
    """A few spacings of ``scale`` in ``dtype``: the error rounded inputs of that size allow."""
    return 8 * float(np.spacing(np.asarray(scale, dtype=dtype)))


def _close_log(got: Any, want: np.ndarray, dtype: Any) -> None:
    """Log-domain values (magnitude up to ~1e4): absolute error of a few spacings of 1e4."""
    g = np.asarray(host(got) if isinstance(got, ft.Tensor) else got, dtype=np.float64)
    assert np.all(np.isfinite(g)), g
    np.testing.assert_allclose(g, want, rtol=_tol(dtype, 1.0), atol=_tol(dtype))


def _close_prob(got: Any, want: np.ndarray, dtype: Any) -> None:
    """Probability-like values (exp of log-domain ones, gradients): relative error of that size."""
    g = np.asarray(host(got) if isinstance(got, ft.Tensor) else got, dtype=np.float64)
    assert np.all(np.isfinite(g)), g
    tiny = 1e-300 if dtype == np.float64 else 1e-35  # float32 flushes e^-90 and below towards 0
    np.testing.assert_allclose(g, want, rtol=_tol(dtype), atol=tiny)


def _t(a: np.ndarray, dtype: Any) -> ft.Tensor:
    return on_device(np.asarray(a, dtype=dtype))


def _softmax(x: np.ndarray) -> np.ndarray:
    return np.exp(special.log_softmax(x, axis=-1))


# ----------------------------------------------------------------------------------------------------
# functions, and their autograd gradients


@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp(dtype: Any) -> None:
    x = _in(X, dtype)
    _close_log(ft.logsumexp(_t(X, dtype), 1), special.logsumexp(x, axis=1), dtype)
    _close_log(ft.logsumexp(_t(X, dtype)), special.logsumexp(x), dtype)
    _close_log(ft.logsumexp(_t(X, dtype), 0, True), special.logsumexp(x, axis=0, keepdims=True), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid(dtype: Any) -> None:
    x = _in(X, dtype)
    _close_prob(ft.sigmoid(_t(X, dtype)), special.expit(x), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_function(dtype: Any) -> None:
    util = pytest.importorskip("flambeau.autograd.util")
    x = _in(X, dtype)
    _close_log(util.log_softmax(_t(X, dtype)), special.log_softmax(x, axis=1), dtype)
    _close_prob(util.softmax(_t(X, dtype)), _softmax(x), dtype)
    _close_log(util.log_sum_exp(_t(X, dtype), 1), special.logsumexp(x, axis=1), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_function_gradients(dtype: Any) -> None:
    autograd = pytest.importorskip("flambeau.autograd")
    from flambeau.autograd import loss, util

    x, w = _in(X, dtype), _t(W, dtype)
    p = _softmax(x)
    cases = {
        # d/dx sum(w * lse(x, 1)) = w_row * softmax(x)
        "logsumexp": (lambda a: (ft.logsumexp(a, 1) * w[:, 0]).sum(), p * _in(W, dtype)[:, :1]),
        "logsumexp all": (lambda a: ft.logsumexp(a), np.exp(x - special.logsumexp(x))),
        # flambeau.autograd.loss.cross_entropy: -sum(log_softmax(x) * onehot)
        "loss.cross_entropy": (
            lambda a: loss.cross_entropy(a, on_device(CLASSES))[0],
            _softmax(x) - _onehot(CLASSES, x.shape[1]),
        ),
        # d/dx sum(w * log_softmax(x)) = w - softmax(x) * sum_row(w)
        "log_softmax": (
            lambda a: (util.log_softmax(a) * w).sum(),
            _in(W, dtype) - p * _in(W, dtype).sum(1, keepdims=True),
        ),
        # d/dx sum(w * sigmoid(x)) = w s (1 - s), s(1 - s) = expit(x) expit(-x)
        "sigmoid": (lambda a: (ft.sigmoid(a) * w).sum(), _in(W, dtype) * special.expit(x) * special.expit(-x)),
        "util.sigmoid": (lambda a: (util.sigmoid(a) * w).sum(), _in(W, dtype) * special.expit(x) * special.expit(-x)),
    }
    for name, (f, want) in cases.items():
        g, value = autograd.grad(f)(_t(X, dtype))
        assert np.isfinite(float(value)), name
        assert g.dtype == _t(X, dtype).dtype, name
        got = host(g)
        assert np.all(np.isfinite(got)), (name, got)
        # the gradients of log-domain sums are differences of O(1) numbers: absolute error
        np.testing.assert_allclose(got, want, rtol=_tol(dtype), atol=_tol(dtype) * 1.5, err_msg=name)


# ----------------------------------------------------------------------------------------------------
# transfer modules: forward and backward


MODULES = [
    ("LogSoftMax", lambda: nn.LogSoftMax(), lambda x: special.log_softmax(x, axis=1), "log"),
    ("SoftMax", lambda: nn.SoftMax(), _softmax, "prob"),
    ("SoftMin", lambda: nn.SoftMin(), lambda x: _softmax(-x), "prob"),
    ("Sigmoid", lambda: nn.Sigmoid(), special.expit, "prob"),
    ("LogSigmoid", lambda: nn.LogSigmoid(), special.log_expit, "log"),
    ("SoftPlus", lambda: nn.SoftPlus(), lambda x: np.logaddexp(0, x), "log"),
]


def _module_grad(name: str, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The stable analytic ``d/dx sum(w * module(x))``."""
    s = special.expit
    if name == "LogSoftMax":
        return w - _softmax(x) * w.sum(1, keepdims=True)
    if name in ("SoftMax", "SoftMin"):
        sign = 1 if name == "SoftMax" else -1
        p = _softmax(sign * x)
        return sign * p * (w - (w * p).sum(1, keepdims=True))
    if name == "Sigmoid":
        return w * s(x) * s(-x)
    if name == "LogSigmoid":
        return w * s(-x)
    if name == "SoftPlus":
        return w * s(x)
    raise AssertionError(name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "make", "ref", "kind"), MODULES, ids=[m[0] for m in MODULES])
def test_transfer_module(name: str, make: Any, ref: Any, kind: str, dtype: Any) -> None:
    x, w = _in(X, dtype), _in(W, dtype)
    m = make()
    xt = _t(X, dtype)
    out = m.forward(xt)
    assert out.dtype == xt.dtype
    (_close_log if kind == "log" else _close_prob)(out, ref(x), dtype)
    g = m.backward(xt, _t(W, dtype))
    assert g.dtype == xt.dtype
    got = host(g)
    assert np.all(np.isfinite(got)), got
    np.testing.assert_allclose(got, _module_grad(name, x, w), rtol=_tol(dtype), atol=_tol(dtype) * 1.5)


# ----------------------------------------------------------------------------------------------------
# criteria: forward against a stable float64 reference, backward against the analytic gradient


def _onehot(c: np.ndarray, n: int) -> np.ndarray:
    return np.eye(n)[c]


Y = np.where(np.random.default_rng(6).uniform(size=X.shape) > 0.5, 1.0, -1.0)  # +-1 labels
Z = np.array(  # regression targets: some within 1 of the input (SmoothL1's quadratic part), most far
    [
        [1e4 + 0.25, -1e4, -5e3, 0.5, 1e4],
        [1e4, -2e4, -3e4, -1e4 - 0.5, 1.5e4],
        [3e3, 7e3, 1e4, -9.9e3, -1.5],
        [-1e4, -1e4 + 0.75, 1e4, 0.0, 2e4],
    ]
)


def _crit_cases() -> list[Any]:
    """``(id, criterion, input array, target (array or classes), reference loss, reference grad)``."""
    n = X.size
    b, c = X.shape
    s = special.expit
    cases = [
        (
            "CrossEntropy",
            nn.CrossEntropyCriterion,
            lambda x: x,
            CLASSES,
            lambda x: (special.logsumexp(x, axis=1) - x[np.arange(b), CLASSES]).mean(),
            lambda x: (_softmax(x) - _onehot(CLASSES, c)) / b,
        ),
        (
            "MSE",
            nn.MSECriterion,
            lambda x: x,
            Z,
            lambda x: ((x - Z) ** 2).mean(),
            lambda x: 2 * (x - Z) / n,
        ),
        ("Abs", nn.AbsCriterion, lambda x: x, Z, lambda x: np.abs(x - Z).mean(), lambda x: np.sign(x - Z) / n),
        (
            "SmoothL1",
            nn.SmoothL1Criterion,
            lambda x: x,
            Z,
            lambda x: np.where(np.abs(x - Z) < 1, 0.5 * (x - Z) ** 2, np.abs(x - Z) - 0.5).mean(),
            lambda x: np.clip(x - Z, -1, 1) / n,
        ),
        (
            "SoftMargin",
            nn.SoftMarginCriterion,
            lambda x: x,
            Y,
            lambda x: np.logaddexp(0, -Y * x).mean(),
            lambda x: -Y * s(-Y * x) / n,
        ),
        (
            "Margin",
            nn.MarginCriterion,
            lambda x: x,
            Y,
            lambda x: np.maximum(0, 1 - Y * x).mean(),
            lambda x: np.where(Y * x < 1, -Y, 0.0) / n,
        ),
        (
            "HingeEmbedding",
            nn.HingeEmbeddingCriterion,
            lambda x: x,
            Y,
            lambda x: np.where(Y > 0, x, np.maximum(0, 1 - x)).mean(),
            lambda x: np.where(Y > 0, 1.0, np.where(x < 1, -1.0, 0.0)) / n,
        ),
        (
            "MultiMargin",
            nn.MultiMarginCriterion,
            lambda x: x,
            CLASSES,
            lambda x: _multimargin(x)[0],
            lambda x: _multimargin(x)[1],
        ),
        (
            "MultiLabelSoftMargin",  # Torch's definition: BCE (eps 1e-12) on sigmoid(x), saturating at -log(eps)
            nn.MultiLabelSoftMarginCriterion,
            lambda x: x,
            (Y > 0).astype(np.float64),
            lambda x: _bce(s(x), (Y > 0).astype(np.float64))[0],
            lambda x: _bce(s(x), (Y > 0).astype(np.float64))[1] * s(x) * s(-x),
        ),
        (
            "DistKLDiv",  # log-probability inputs of magnitude 1e4, targets with zeros
            nn.DistKLDivCriterion,
            lambda x: x - special.logsumexp(x, axis=1, keepdims=True),
            np.where(Y > 0, 0.0, 0.25),
            lambda lp: np.where(Y > 0, 0.0, 0.25 * (np.log(0.25) - lp)).mean(),
            lambda lp: np.where(Y > 0, 0.0, -0.25) / n,
        ),
    ]
    return cases


def _multimargin(x: np.ndarray) -> tuple[float, np.ndarray]:
    b, c = x.shape
    z = np.maximum(0, 1 - x[np.arange(b), CLASSES][:, None] + x)
    z[np.arange(b), CLASSES] = 0
    g = (z > 0) / (b * c)
    g[np.arange(b), CLASSES] = -g.sum(1)
    return z.sum() / (b * c), g


def _bce(p: np.ndarray, t: np.ndarray, eps: float = 1e-12) -> tuple[float, np.ndarray]:
    """Torch's BCE ``-mean(t log(p + eps) + (1 - t) log(1 - p + eps))`` and its gradient."""
    loss = -(t * np.log(p + eps) + (1 - t) * np.log((1 - p) + eps)).mean()
    return loss, (p - t) / ((1 - p + eps) * (p + eps)) / p.size


CRITERIA = _crit_cases()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "make", "prep", "target", "ref", "dref"), CRITERIA, ids=[c[0] for c in CRITERIA])
def test_criterion(name: str, make: Any, prep: Any, target: Any, ref: Any, dref: Any, dtype: Any) -> None:
    x = _in(prep(X), dtype)
    xt = _t(prep(X), dtype)
    tt = on_device(target) if target.dtype.kind == "i" else _t(target, dtype)
    crit = make()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow or invalid value on the way
        loss = crit.forward(xt, tt)
        g = crit.backward(xt, tt)
    want = ref(x)
    assert np.isfinite(loss), loss
    # a mean of terms of magnitude up to 1e4 (1e8 squared): a few spacings of the largest term
    scale = float(np.max(np.abs(x))) ** (2 if name == "MSE" else 1)
    assert abs(loss - want) <= _tol(dtype, scale) + _tol(dtype, 1.0) * abs(want), (loss, want)
    assert g.dtype == xt.dtype
    got = host(g)
    assert np.all(np.isfinite(got)), got
    dwant = dref(x)
    atol = _tol(dtype, float(np.max(np.abs(dwant)))) if name == "MSE" else _tol(dtype) / x.size * 2
    np.testing.assert_allclose(got, dwant, rtol=_tol(dtype), atol=atol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_class_nll_after_log_softmax(dtype: Any) -> None:
    x = _in(X, dtype)
    b, c = X.shape
    lsm, nll = nn.LogSoftMax(), nn.ClassNLLCriterion()
    xt, tt = _t(X, dtype), on_device(CLASSES)
    lp = lsm.forward(xt)
    loss = nll.forward(lp, tt)
    want = (special.logsumexp(x, axis=1) - x[np.arange(b), CLASSES]).mean()
    assert np.isfinite(loss) and abs(loss - want) <= _tol(dtype) + _tol(dtype, 1.0) * abs(want), (loss, want)
    g = lsm.backward(xt, nll.backward(lp, tt))
    assert g.dtype == xt.dtype
    got = host(g)
    assert np.all(np.isfinite(got)), got
    np.testing.assert_allclose(got, (_softmax(x) - _onehot(CLASSES, c)) / b, rtol=_tol(dtype), atol=_tol(dtype) / b)
    # and the same through one CrossEntropyCriterion
    ce = nn.CrossEntropyCriterion()
    assert abs(ce.forward(xt, tt) - loss) <= _tol(dtype)
    np.testing.assert_allclose(host(ce.backward(xt, tt)), got, rtol=_tol(dtype), atol=_tol(dtype) / b)


# probabilities at and next to 0 and 1 (the smallest float32 normal, 1 - 2^-24, ...), both labels
P = np.array([0.0, 1e-300, 1e-38, 1e-12, 1e-7, 0.5, 1 - 1e-7, 1 - 2.0**-24, 1 - 1e-16, 1.0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("label", [0.0, 1.0])
def test_bce_near_0_and_1(dtype: Any, label: float) -> None:
    p = _in(P, dtype)
    t = np.full_like(p, label)
    crit = nn.BCECriterion()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        loss = crit.forward(_t(P, dtype), _t(t, dtype))
        g = crit.backward(_t(P, dtype), _t(t, dtype))
    want, dwant = _bce(p, t)
    assert np.isfinite(loss)
    # log(1 - p + eps) in float32 rounds 1 - p + eps: that term is good to a spacing of 1
    assert abs(loss - want) <= (1e-12 if dtype == np.float64 else 1e-5) * max(1.0, abs(want)), (loss, want)
    got = host(g)
    assert g.dtype == _t(P, dtype).dtype and np.all(np.isfinite(got)), got
    if dtype == np.float64:
        np.testing.assert_allclose(got, dwant, rtol=1e-9)
    else:  # (1 - p + eps) is 1 - p in float32 once p > eps: compare with that rounding
        p32 = P.astype(np.float32)
        if spec().startswith("cuda"):  # cupy's kernels flush float32 subnormals to zero (-ftz=true)
            p32[np.abs(p32) < np.finfo(np.float32).tiny] = 0
        d32 = (
            (p32 - np.float32(label)) / ((1 - p32 + np.float32(1e-12)) * (p32 + np.float32(1e-12))) / np.float32(P.size)
        )
        np.testing.assert_allclose(got, d32.astype(np.float64), rtol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cosine_embedding(dtype: Any) -> None:
    a, b = _in(X, dtype), _in(Z, dtype)
    y = np.array([1.0, -1.0, 1.0, -1.0])
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    cos = (a * b).sum(1) / (na * nb)
    terms = np.where(y > 0, 1 - cos, np.maximum(0, cos))
    live = np.where(terms > 0, np.where(y > 0, -1.0, 1.0), 0.0)[:, None] / len(y)
    ga = live * (b / (na * nb)[:, None] - cos[:, None] * a / (na**2)[:, None])
    gb = live * (a / (na * nb)[:, None] - cos[:, None] * b / (nb**2)[:, None])
    crit = nn.CosineEmbeddingCriterion()
    inp = [_t(X, dtype), _t(Z, dtype)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        loss = crit.forward(inp, _t(y, dtype))
        g1, g2 = crit.backward(inp, _t(y, dtype))
    assert np.isfinite(loss) and abs(loss - terms.mean()) <= _tol(dtype, 1.0) * 8, (loss, terms.mean())
    for got, want in ((g1, ga), (g2, gb)):
        assert got.dtype == inp[0].dtype and np.all(np.isfinite(host(got)))
        np.testing.assert_allclose(host(got), want, rtol=_tol(dtype, 1.0) * 8, atol=_tol(dtype, 1.0) * 1e-4)
