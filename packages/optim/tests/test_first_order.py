"""flambeau.optim's first-order algorithms against numpy references written here from Torch's update rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import flambeau.optim as optim
import flambeau.tensor as ft
from flambeau.tensor.errors import ArgumentError, DomainError
from flambeau.tensor.testing import host, on_device

pytestmark = pytest.mark.device

N = 5
CALLS = 6
TOL = {"rtol": 1e-10, "atol": 1e-10}

# --------------------------------------------------------------------------------------------------
# Problems, as numpy functions returning (f, gradient).

_M = np.array(
    [
        [1.0, 0.2, 0.0, 0.3, 0.1],
        [0.0, 0.8, 0.4, 0.0, 0.2],
        [0.3, 0.0, 1.2, 0.1, 0.0],
        [0.0, 0.5, 0.0, 0.7, 0.3],
        [0.2, 0.0, 0.1, 0.0, 0.9],
    ]
)
_A = _M @ _M.T + 0.5 * np.eye(N)
_B = np.array([1.0, -2.0, 0.5, 0.3, -0.7])


def quadratic(x: np.ndarray) -> tuple[float, np.ndarray]:
    return float(0.5 * x @ _A @ x - _B @ x), _A @ x - _B


def rosenbrock(x: np.ndarray) -> tuple[float, np.ndarray]:
    a, b = x[:-1], x[1:]
    f = float(np.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2))
    g = np.zeros_like(x)
    g[:-1] = -400.0 * a * (b - a * a) - 2.0 * (1.0 - a)
    g[1:] += 200.0 * (b - a * a)
    return f, g


PROBLEMS = {
    # name: (function, x0, learning-rate scale for the cases)
    "quadratic": (quadratic, np.array([1.5, -0.5, 2.0, -1.0, 0.7]), 0.1),
    "rosenbrock": (rosenbrock, np.array([-1.2, 1.0, 0.8, -0.5, 0.3]), 1e-3),
}

LRS = np.array([1.0, 0.5, 2.0, 0.1, 1.5])  # per-parameter learning rates
WDS = np.array([0.1, 0.0, 0.3, 0.2, 0.05])  # per-parameter weight decays


def flat_opfunc(fn: Callable[[np.ndarray], tuple[float, np.ndarray]]) -> Callable[[Any], tuple[float, Any]]:
    def opfunc(x: Any) -> tuple[float, Any]:
        f, g = fn(np.array(host(x), dtype=np.float64))
        return f, on_device(g)

    return opfunc


def tree_opfunc(fn: Callable[[np.ndarray], tuple[float, np.ndarray]]) -> Callable[[Any], tuple[float, Any]]:
    def opfunc(tree: Any) -> tuple[float, Any]:
        flat = np.concatenate([np.array(host(tree["a"])).reshape(-1), np.array(host(tree["b"][0])).reshape(-1)])
        f, g = fn(flat)
        return f, {"a": on_device(g[:2]), "b": [on_device(g[2:].reshape(3, 1))]}

    return opfunc


# --------------------------------------------------------------------------------------------------
# numpy references, one per algorithm, from the update rules (Torch's code, quirks included). Each
# returns the trajectory: after every call, (x, [f values]) — asgd also the average.


def _get(cfg: dict[str, Any], key: str, default: Any) -> Any:
    v = cfg.get(key, default)
    return np.array(host(v)) if isinstance(v, ft.Tensor) else v


def ref_sgd(fn, x, cfg, calls):
    lr, lrd, wd = _get(cfg, "learning_rate", 1e-3), _get(cfg, "learning_rate_decay", 0), _get(cfg, "weight_decay", 0)
    mom = _get(cfg, "momentum", 0)
    damp = _get(cfg, "dampening", mom)
    nesterov = _get(cfg, "nesterov", False)
    lrs, wds = _get(cfg, "learning_rates", None), _get(cfg, "weight_decays", None)
    v, out = None, []
    for n in range(calls):
        f, g = fn(x)
        if wd != 0:
            g = g + wd * x
        elif wds is not None:
            g = g + wds * x
        if mom != 0:
            v = g.copy() if v is None else mom * v + (1 - damp) * g
            d = g + mom * v if nesterov else v
        else:
            d = g
        clr = lr / (1 + n * lrd)
        x = x - clr * (lrs * d if lrs is not None else d)
        out.append((x, [f]))
    return out


def ref_asgd(fn, x, cfg, calls):
    eta0, lam, alpha, t0 = (
        _get(cfg, "eta0", 1e-4),
        _get(cfg, "lambda", 1e-4),
        _get(cfg, "alpha", 0.75),
        cfg.get("t0", 1e6),
    )
    eta, mu, ax, out = eta0, 1.0, None, []
    for t in range(1, calls + 1):
        f, g = fn(x)
        x = (1 - lam * eta) * x - eta * g
        ax = x.copy() if mu == 1 else ax + mu * (x - ax)
        eta = eta0 / (1 + lam * eta0 * t) ** alpha
        mu = 1 / max(1, t - t0)
        out.append((x, [f], ax))
    return out


def ref_adagrad(fn, x, cfg, calls):
    lr, lrd, wd = _get(cfg, "learning_rate", 1e-3), _get(cfg, "learning_rate_decay", 0), _get(cfg, "weight_decay", 0)
    G, out = np.zeros_like(x), []
    for n in range(calls):
        f, g = fn(x)
        g = g + wd * x
        G = G + g * g
        x = x - lr / (1 + n * lrd) * g / (np.sqrt(G) + 1e-10)
        out.append((x, [f]))
    return out


def ref_adadelta(fn, x, cfg, calls):
    rho, eps, wd = _get(cfg, "rho", 0.9), _get(cfg, "eps", 1e-6), _get(cfg, "weight_decay", 0)
    Eg, Ed, out = np.zeros_like(x), np.zeros_like(x), []
    for _ in range(calls):
        f, g = fn(x)
        g = g + wd * x
        Eg = rho * Eg + (1 - rho) * g * g
        d = np.sqrt(Ed + eps) / np.sqrt(Eg + eps) * g
        x = x - d
        Ed = rho * Ed + (1 - rho) * d * d
        out.append((x, [f]))
    return out


def ref_adam(fn, x, cfg, calls):
    lr, lrd = _get(cfg, "learning_rate", 1e-3), _get(cfg, "learning_rate_decay", 0)
    b1, b2, eps, wd = (
        _get(cfg, "beta1", 0.9),
        _get(cfg, "beta2", 0.999),
        _get(cfg, "epsilon", 1e-8),
        _get(cfg, "weight_decay", 0),
    )
    m, v, out = np.zeros_like(x), np.zeros_like(x), []
    for t in range(1, calls + 1):
        f, g = fn(x)
        g = g + wd * x
        clr = lr / (1 + (t - 1) * lrd)  # t before the increment
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        x = x - clr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)  # eps on sqrt(v)
        out.append((x, [f]))
    return out


def ref_adamax(fn, x, cfg, calls):
    lr, b1, b2 = _get(cfg, "learning_rate", 2e-3), _get(cfg, "beta1", 0.9), _get(cfg, "beta2", 0.999)
    eps, wd = _get(cfg, "epsilon", 1e-38), _get(cfg, "weight_decay", 0)
    m, u, out = np.zeros_like(x), np.zeros_like(x), []
    for t in range(1, calls + 1):
        f, g = fn(x)
        g = g + wd * x
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g) + eps)
        x = x - lr / (1 - b1**t) * m / u
        out.append((x, [f]))
    return out


def ref_nag(fn, x, cfg, calls):
    lr, lrd, wd = _get(cfg, "learning_rate", 1e-3), _get(cfg, "learning_rate_decay", 0), _get(cfg, "weight_decay", 0)
    mom, lrs = _get(cfg, "momentum", 0.9), _get(cfg, "learning_rates", None)
    v, out = None, []
    for n in range(calls):
        if v is not None:
            x = x + mom * v  # look ahead
        f, g = fn(x)  # f at the look-ahead point
        g = g + wd * x
        step = lr / (1 + n * lrd) * (lrs * g if lrs is not None else g)
        v = -step if v is None else mom * v - step
        x = x - step
        out.append((x, [f]))
    return out


def ref_rmsprop(fn, x, cfg, calls):
    lr, alpha, eps = _get(cfg, "learning_rate", 1e-2), _get(cfg, "alpha", 0.99), _get(cfg, "epsilon", 1e-8)
    wd, m0 = _get(cfg, "weight_decay", 0), _get(cfg, "initial_mean", 0)
    m, out = np.full_like(x, m0), []
    for _ in range(calls):
        f, g = fn(x)
        g = g + wd * x
        m = alpha * m + (1 - alpha) * g * g
        x = x - lr * g / (np.sqrt(m) + eps)
        out.append((x, [f]))
    return out


def ref_rprop(fn, x, cfg, calls):
    step0, etap, etam = _get(cfg, "stepsize", 0.1), _get(cfg, "etaplus", 1.2), _get(cfg, "etaminus", 0.5)
    smax, smin, niter = _get(cfg, "stepsizemax", 50.0), _get(cfg, "stepsizemin", 1e-6), _get(cfg, "niter", 1)
    prev, step, out = np.zeros_like(x), np.full_like(x, step0), []
    for _ in range(calls):
        fs = []
        for _ in range(niter):
            f, g = fn(x)
            s = np.sign(g * prev)
            step = step * np.where(s > 0, etap, np.where(s < 0, etam, 1.0))
            step = np.where(step > smax, smax, step)
            step = np.where(step < smin, smin, step)
            g = np.where(s < 0, 0.0, g)  # zeroed where the sign flipped
            x = x - np.sign(g) * step
            prev = g
            fs.append(f)
        out.append((x, fs))
    return out


# --------------------------------------------------------------------------------------------------
# Cases: (algorithm, reference, config factory given a learning-rate scale). Factories: configs
# double as state, so every run gets a fresh one.


def _t(a: np.ndarray) -> Any:
    return on_device(a)


CASES: list[tuple[str, Callable[..., Any], Callable[[float], dict[str, Any]]]] = [
    ("sgd", ref_sgd, lambda lr: {}),
    ("sgd", ref_sgd, lambda lr: {"learning_rate": lr, "momentum": 0.9}),  # dampening defaults to 0.9
    ("sgd", ref_sgd, lambda lr: {"learning_rate": lr, "momentum": 0.9, "dampening": 0, "nesterov": True}),
    (
        "sgd",
        ref_sgd,
        lambda lr: {
            "learning_rate": lr,
            "learning_rate_decay": 0.5,
            "weight_decay": 0.1,
            "momentum": 0.5,
            "dampening": 0.2,
        },
    ),
    ("sgd", ref_sgd, lambda lr: {"learning_rate": lr, "learning_rates": _t(LRS), "weight_decays": _t(WDS)}),
    ("asgd", ref_asgd, lambda lr: {}),
    ("asgd", ref_asgd, lambda lr: {"eta0": lr, "t0": 2}),  # averaging starts after step 2
    ("asgd", ref_asgd, lambda lr: {"eta0": lr, "lambda": 0.1, "alpha": 0.5, "t0": 0}),
    ("adagrad", ref_adagrad, lambda lr: {}),
    ("adagrad", ref_adagrad, lambda lr: {"learning_rate": 10 * lr, "learning_rate_decay": 0.3, "weight_decay": 0.05}),
    ("adadelta", ref_adadelta, lambda lr: {}),
    ("adadelta", ref_adadelta, lambda lr: {"rho": 0.5, "eps": 1e-3, "weight_decay": 0.1}),
    ("adam", ref_adam, lambda lr: {}),
    (
        "adam",
        ref_adam,
        lambda lr: {
            "learning_rate": lr,
            "learning_rate_decay": 0.2,
            "beta1": 0.8,
            "beta2": 0.9,
            "epsilon": 1e-2,
            "weight_decay": 0.05,
        },
    ),
    ("adamax", ref_adamax, lambda lr: {}),
    (
        "adamax",
        ref_adamax,
        lambda lr: {"learning_rate": lr, "beta1": 0.8, "beta2": 0.9, "epsilon": 1e-3, "weight_decay": 0.05},
    ),
    ("nag", ref_nag, lambda lr: {}),
    (
        "nag",
        ref_nag,
        lambda lr: {"learning_rate": lr, "momentum": 0.5, "learning_rate_decay": 0.1, "weight_decay": 0.05},
    ),
    ("nag", ref_nag, lambda lr: {"learning_rate": lr, "learning_rates": _t(LRS)}),
    ("rmsprop", ref_rmsprop, lambda lr: {}),
    (
        "rmsprop",
        ref_rmsprop,
        lambda lr: {"learning_rate": lr, "alpha": 0.9, "epsilon": 1e-3, "weight_decay": 0.05, "initial_mean": 0.5},
    ),
    ("rprop", ref_rprop, lambda lr: {}),
    (
        "rprop",
        ref_rprop,
        lambda lr: {
            "stepsize": 0.3,
            "etaplus": 1.5,
            "etaminus": 0.3,
            "stepsizemax": 0.5,
            "stepsizemin": 0.05,
            "niter": 3,
        },
    ),
]
CASE_IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(CASES)]


def run(
    name: str, opfunc: Any, x: Any, config: dict[str, Any], calls: int, state: dict[str, Any] | None = None
) -> list[Any]:
    """The algorithm's trajectory: after every call, (x as numpy, fs[, ax as numpy])."""
    out = []
    for _ in range(calls):
        res = getattr(optim, name)(opfunc, x, config, state)
        assert res[0] is x  # updated in place, returned
        flat = x if isinstance(x, ft.Tensor) else optim.flatten(x)
        # a result shaped like x (asgd's average) comes back as a tree for a tree x
        rest = [np.array(host(r if isinstance(r, ft.Tensor) else optim.flatten(r))).copy() for r in res[2:]]
        out.append((np.array(host(flat)).copy(), res[1], *rest))
    return out


def assert_same_trajectory(got: list[Any], want: list[Any], exact: bool = False) -> None:
    assert len(got) == len(want)
    for step, (g, w) in enumerate(zip(got, want, strict=True)):
        assert len(g) == len(w)
        assert all(isinstance(f, float) for f in g[1])
        for a, b in zip(g, w, strict=True):
            if exact:
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=f"step {step}")
            else:
                np.testing.assert_allclose(np.asarray(a), np.asarray(b), **TOL, err_msg=f"step {step}")


# --------------------------------------------------------------------------------------------------
# Against the references.


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize(("name", "ref", "make"), CASES, ids=CASE_IDS)
def test_matches_reference(name: str, ref: Any, make: Any, problem: str) -> None:
    fn, x0, lr = PROBLEMS[problem]
    want = ref(fn, x0.copy(), make(lr), CALLS)
    got = run(name, flat_opfunc(fn), on_device(x0), make(lr), CALLS)
    assert_same_trajectory(got, want)
    # the trajectory moved: the test compares updates, not a fixed point
    assert not np.allclose(got[-1][0], x0)


@pytest.mark.parametrize(("name", "ref", "make"), CASES, ids=CASE_IDS)
def test_separate_state_matches_config_as_state(name: str, ref: Any, make: Any) -> None:
    fn, x0, lr = PROBLEMS["quadratic"]
    config = make(lr)
    state: dict[str, Any] = {}
    got = run(name, flat_opfunc(fn), on_device(x0), config, CALLS, state)
    want = run(name, flat_opfunc(fn), on_device(x0), make(lr), CALLS)
    assert_same_trajectory(got, want, exact=True)
    assert state  # the state went to `state`, ...
    assert set(config) == set(make(lr))  # ... and the config was left alone


# --------------------------------------------------------------------------------------------------
# Trees: {"a": 2 values, "b": [3x1 values]} gives exactly the flat tensor's results.


@pytest.mark.parametrize(("name", "ref", "make"), CASES, ids=CASE_IDS)
def test_tree_equals_flat(name: str, ref: Any, make: Any) -> None:
    fn, x0, lr = PROBLEMS["rosenbrock"]
    a, b = on_device(x0[:2]), on_device(x0[2:].reshape(3, 1))
    tree = {"a": a, "b": [b]}
    got = run(name, tree_opfunc(fn), tree, make(lr), CALLS)
    want = run(name, flat_opfunc(fn), on_device(x0), make(lr), CALLS)
    assert_same_trajectory(got, want, exact=True)
    # the leaves themselves were updated in place
    np.testing.assert_array_equal(np.concatenate([host(a), host(b).reshape(-1)]), want[-1][0])


def test_tree_learning_rates_given_as_a_tree() -> None:
    fn, x0, lr = PROBLEMS["quadratic"]
    tree = {"a": on_device(x0[:2]), "b": [on_device(x0[2:].reshape(3, 1))]}
    lrs_tree = {"a": _t(LRS[:2]), "b": [_t(LRS[2:].reshape(3, 1))]}
    got = run("sgd", tree_opfunc(fn), tree, {"learning_rate": lr, "learning_rates": lrs_tree}, 3)
    want = ref_sgd(fn, x0.copy(), {"learning_rate": lr, "learning_rates": _t(LRS)}, 3)
    assert_same_trajectory(got, want)


# --------------------------------------------------------------------------------------------------
# State saved mid-run and loaded resumes identically.


@pytest.mark.parametrize("separate_state", [False, True], ids=["config-as-state", "state"])
@pytest.mark.parametrize(("name", "ref", "make"), CASES, ids=CASE_IDS)
def test_save_load_resumes_identically(name: str, ref: Any, make: Any, separate_state: bool, tmp_path: Any) -> None:
    fn, x0, lr = PROBLEMS["rosenbrock"]
    opfunc = flat_opfunc(fn)
    whole = run(name, opfunc, on_device(x0), make(lr), CALLS, {} if separate_state else None)

    x, config = on_device(x0), make(lr)
    state: dict[str, Any] | None = {} if separate_state else None
    first = run(name, opfunc, x, config, CALLS // 2, state)
    path = tmp_path / "state.t7"
    ft.save(path, {"x": x, "config": config, "state": state})
    loaded = ft.load(path)
    assert loaded["x"] is not x
    second = run(name, opfunc, loaded["x"], loaded["config"], CALLS - CALLS // 2, loaded["state"])
    assert_same_trajectory(first + second, whole, exact=True)


# --------------------------------------------------------------------------------------------------
# Config errors and quirks.


TYPOS = {
    "sgd": ("learning_rat", "learning_rate"),
    "asgd": ("eta", "eta0"),
    "adagrad": ("learningRate", "learning_rate"),
    "adadelta": ("weight_decy", "weight_decay"),
    "adam": ("beta_1", "beta1"),
    "adamax": ("epsilom", "epsilon"),
    "nag": ("momentun", "momentum"),
    "rmsprop": ("initialMean", "initial_mean"),
    "rprop": ("stepsize_max", "stepsizemax"),
}


@pytest.mark.parametrize("name", sorted(TYPOS))
def test_unknown_config_key_suggests_the_closest(name: str) -> None:
    typo, meant = TYPOS[name]
    calls = []

    def opfunc(x: Any) -> tuple[float, Any]:
        calls.append(1)
        return 0.0, x.clone()

    with pytest.raises(ArgumentError, match=f"{name}: unknown config key '{typo}'; did you mean '{meant}'"):
        getattr(optim, name)(opfunc, ft.ones(3), {typo: 0.5})
    assert not calls


def test_all_names_exported() -> None:
    from flambeau.optim import first_order

    assert sorted(first_order.__all__) == sorted(TYPOS)
    assert all(getattr(optim, n) is getattr(first_order, n) for n in first_order.__all__)


def _never_called(x: Any) -> tuple[float, Any]:
    raise AssertionError("opfunc called")


@pytest.mark.parametrize(
    "config",
    [
        {"nesterov": True},  # no momentum
        {"nesterov": True, "momentum": 0.9},  # dampening defaults to the momentum
        {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
    ],
)
def test_sgd_nesterov_needs_momentum_and_zero_dampening(config: dict[str, Any]) -> None:
    with pytest.raises(DomainError, match="Nesterov momentum needs momentum > 0 and dampening 0"):
        optim.sgd(_never_called, ft.ones(2), config)


@pytest.mark.parametrize("momentum", [0, -0.5])
def test_nag_needs_positive_momentum(momentum: float) -> None:
    with pytest.raises(DomainError, match="momentum must be positive"):
        optim.nag(_never_called, ft.ones(2), {"momentum": momentum})


def test_sgd_dampening_defaults_to_momentum() -> None:
    fn, x0, lr = PROBLEMS["quadratic"]

    def traj(config: dict[str, Any]) -> np.ndarray:
        return run("sgd", flat_opfunc(fn), on_device(x0), config, 4)[-1][0]

    default = traj({"learning_rate": lr, "momentum": 0.9})
    np.testing.assert_array_equal(default, traj({"learning_rate": lr, "momentum": 0.9, "dampening": 0.9}))
    assert not np.allclose(default, traj({"learning_rate": lr, "momentum": 0.9, "dampening": 0}))


def test_adam_epsilon_is_added_to_sqrt_v() -> None:
    # one step from x with gradient g: m = (1-b1) g, v = (1-b2) g^2, so Torch's step is
    # lr * sqrt(1-b2)/(1-b1) * (1-b1) g / (sqrt(1-b2)|g| + eps) = lr * sqrt(1-b2) g / (sqrt(1-b2)|g| + eps)
    lr, b2, eps = 0.1, 0.999, 0.5
    x = ft.Tensor([2.0])
    optim.adam(lambda x: (0.0, ft.Tensor([3.0])), x, {"learning_rate": lr, "epsilon": eps})
    s = np.sqrt(1 - b2)
    assert x.item() == pytest.approx(2.0 - lr * s * 3.0 / (s * 3.0 + eps), rel=1e-14)
    # the paper's placement (eps on the bias-corrected root) would give a step near lr
    assert abs((2.0 - x.item()) - lr * 3.0 / (3.0 + eps)) > 1e-3


def test_adam_learning_rate_decay_uses_t_before_the_increment() -> None:
    x = ft.Tensor([0.0])
    config = {"learning_rate": 1.0, "learning_rate_decay": 1.0, "beta1": 0.0, "beta2": 0.0, "epsilon": 0.0}
    # with beta1 = beta2 = 0 every step is lr_t * g/|g| = lr_t: 1/(1+0), then 1/(1+1), then 1/(1+2)
    steps = []
    for _ in range(3):
        before = x.item()
        optim.adam(lambda x: (0.0, ft.Tensor([1.0])), x, config)
        steps.append(before - x.item())
    assert steps == pytest.approx([1.0, 0.5, 1 / 3], rel=1e-14)


def test_adamax_epsilon_default_guards_zero_gradients() -> None:
    x = ft.Tensor([1.0, 2.0])
    config: dict[str, Any] = {}
    optim.adamax(lambda x: (0.0, ft.Tensor([0.0, 1.0])), x, config)
    assert config["u"].tolist() == [1e-38, 1.0]
    assert x.tolist() == [1.0, 2.0 - 2e-3]  # the zero-gradient weight does not move (and is no NaN)


@pytest.mark.parametrize("epsilon", [1e-38, 0.0])
def test_adamax_epsilon_below_the_smallest_normal_number_is_raised_to_it(epsilon: float) -> None:
    # float32: 1e-38 is subnormal, which cupy's kernels read as 0 (and 0 is 0 everywhere): u = 0
    # where the gradient is 0, and the step 0/0. The smallest normal float32 keeps it a number.
    x = ft.FloatTensor([1.0, 2.0])
    config: dict[str, Any] = {"epsilon": epsilon}
    optim.adamax(lambda x: (0.0, ft.FloatTensor([0.0, 1.0])), x, config)
    assert config["u"][0].item() == np.finfo(np.float32).tiny
    assert x[0].item() == 1.0 and np.isfinite(x.cpu().numpy()).all()


def test_nag_returns_f_at_the_look_ahead_point() -> None:
    seen: list[list[float]] = []

    def opfunc(x: Any) -> tuple[float, Any]:
        seen.append(x.tolist())
        return float((x * x).sum().item()), 2 * x

    x = ft.Tensor([1.0])
    config = {"learning_rate": 0.1, "momentum": 0.5}
    _, (f1,) = optim.nag(opfunc, x, config)  # x = 1 - 0.2 = 0.8, v = -0.2
    _, (f2,) = optim.nag(opfunc, x, config)  # evaluated at 0.8 + 0.5 * -0.2 = 0.7
    assert seen[1] == pytest.approx([0.7])
    assert f2 == pytest.approx(0.49)
    assert x.item() == pytest.approx(0.7 - 0.1 * 1.4)


def test_rprop_runs_niter_evaluations_and_zeroes_flipped_gradients() -> None:
    evaluations = []

    def opfunc(x: Any) -> tuple[float, Any]:
        evaluations.append(x.tolist())
        return float((x * x).sum().item()), 2 * x

    x = ft.Tensor([1.0, -0.15])
    config: dict[str, Any] = {"niter": 3}
    _, fs = optim.rprop(opfunc, x, config)
    assert len(fs) == len(evaluations) == 3
    assert fs == pytest.approx([sum(v * v for v in e) for e in evaluations])
    # second weight: -0.15 -> -0.05 -> +0.07 (sign kept: step 0.12) -> flips: step halves, weight stays
    assert x.tolist() == pytest.approx([0.636, 0.07])
    assert config["stepsize"].tolist() == pytest.approx([0.1 * 1.2 * 1.2, 0.06])
    assert config["delta"].tolist() == pytest.approx([2 * 0.78, 0.0])  # the zeroed gradient is kept


def test_asgd_returns_the_average() -> None:
    fn, x0, _ = PROBLEMS["quadratic"]
    config = {"eta0": 0.1, "t0": 1}
    x = on_device(x0)
    iterates = []
    for _ in range(5):
        res = optim.asgd(flat_opfunc(fn), x, config)
        assert len(res) == 3
        iterates.append(np.array(host(x)).copy())
    # mu_t = 1/max(1, t - t0), t counting calls done: calls 1 to 3 use mu = 1 (ax = x), calls 4 and 5
    # use 1/2 and 1/3, so ax ends as the mean of the 3rd, 4th and 5th iterates
    np.testing.assert_allclose(host(res[2]), (iterates[2] + iterates[3] + iterates[4]) / 3, **TOL)


@pytest.mark.parametrize("name", sorted(TYPOS))
def test_gradient_from_opfunc_is_not_modified(name: str) -> None:
    grads = [ft.Tensor([0.5, -1.0, 2.0]), ft.Tensor([-0.5, 1.0, 2.0])]  # signs flip: rprop zeroes those
    keep = [g.tolist() for g in grads]
    config: dict[str, Any] = {"weight_decay": 0.1} if name not in ("asgd", "rprop") else {}
    if name == "sgd":
        config.update(momentum=0.9, dampening=0, nesterov=True)
    x = ft.Tensor([1.0, 2.0, 3.0])
    for i in range(4):
        getattr(optim, name)(lambda x, g=grads[i % 2]: (0.0, g), x, config)
    assert [g.tolist() for g in grads] == keep
