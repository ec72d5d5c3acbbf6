"""A whole training step as one optimized function: forward, backward and the optimizer's update.

``step = train_step(f, params, "sgd", {"learning_rate": 0.1})`` makes ``loss = step(x, y)`` run
``f(params, x, y)``, its gradient with respect to ``params`` (:func:`~flambeau.autograd.grad`),
and the optimizer's element-wise update, writing the new parameters into ``params``' own tensors
in place. All three are recorded as one program (:func:`~flambeau.autograd.optimize`), and with
``cuda_graph=True`` on a cuda device the program, update included, is one CUDA graph whose
parameter buffers are the parameters' own arrays (see :mod:`flambeau.autograd.graphs`).

The updates are flambeau.optim's (Torch's) element-wise rules, written as tensor ops so that they
are part of the program: ``sgd``, ``adam``, ``adagrad``, ``adadelta``, ``adamax``, ``nag``,
``rmsprop``, ``asgd`` and ``rprop``, with the same config keys, defaults and results as
``autograd.optim.<name>`` (flambeau.optim's optimizers driven by ``grad(f)``) step after step.
``nag`` evaluates the gradient at Torch's look-ahead point and returns the loss there, as Torch's
does; asgd's averaged iterate is ``step.state["ax"]``; rprop takes one gradient per call
(``niter=1``). The line searches and quasi-Newton methods (``lbfgs``, ``cg``...) evaluate the
function a varying number of times per step and stay with ``autograd.optim``. What differs is
where the state lives: every counter is a 0-dim tensor on the parameters' device (so a graph
replays without reading anything on the host) and the state is per parameter (``step.state``,
the same tree as ``params`` for buffers). Config values are arguments of the program: changing
``step.config`` takes effect at the next call, which records (and captures) the program again for
the new values.

>>> import flambeau.tensor as ft
>>> from flambeau import autograd
>>> def loss(p, target):
...     d = p["w"] - target
...     return (d * d).sum()
>>> params = {"w": ft.Tensor([0.0, 0.0])}
>>> step = autograd.train_step(loss, params, "sgd", {"learning_rate": 0.25})
>>> for _ in range(20):
...     value = step(ft.Tensor([1.0, -2.0]))
>>> [round(v, 4) for v in params["w"].tolist()], round(float(value), 6)
([1.0, -2.0], 0.0)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, DomainError

from .compiler import Optimized
from .differentiate import grad
from .graphs import Written
from .tree import tree_map

__all__ = ["OPTIMIZERS", "TrainStep", "train_step"]

# Config keys and Torch's defaults (flambeau.optim's <NAME>_DEFAULTS, less the per-element tensors
# ``learning_rates`` and ``weight_decays``; a test keeps the two equal).
OPTIMIZERS: dict[str, dict[str, Any]] = {
    "sgd": {
        "learning_rate": 1e-3,
        "learning_rate_decay": 0.0,
        "weight_decay": 0.0,
        "momentum": 0.0,
        "dampening": None,  # None: the momentum's value, as Torch's
        "nesterov": False,
    },
    "adam": {
        "learning_rate": 1e-3,
        "learning_rate_decay": 0.0,
        "beta1": 0.9,
        "beta2": 0.999,
        "epsilon": 1e-8,
        "weight_decay": 0.0,
    },
    "adagrad": {"learning_rate": 1e-3, "learning_rate_decay": 0.0, "weight_decay": 0.0},
    "adadelta": {"rho": 0.9, "eps": 1e-6, "weight_decay": 0.0},
    "adamax": {"learning_rate": 2e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-38, "weight_decay": 0.0},
    "nag": {
        "learning_rate": 1e-3,
        "learning_rate_decay": 0.0,
        "weight_decay": 0.0,
        "momentum": 0.9,
        "dampening": None,  # read by Torch's nag and never used: accepted and ignored
    },
    "rmsprop": {"learning_rate": 1e-2, "alpha": 0.99, "epsilon": 1e-8, "weight_decay": 0.0, "initial_mean": 0.0},
    "asgd": {"eta0": 1e-4, "lambda": 1e-4, "alpha": 0.75, "t0": 1e6},
    "rprop": {
        "stepsize": 0.1,
        "etaplus": 1.2,
        "etaminus": 0.5,
        "stepsizemax": 50.0,
        "stepsizemin": 1e-6,
        "niter": 1,  # one evaluation per call: a step is one gradient here
    },
}


def _leaves(tree: Any, out: list[Tensor], where: str) -> list[Tensor]:
    """The tensors of a nest of dicts, lists and tuples, in the order optimize's signatures walk it."""
    if isinstance(tree, dict):
        for v in tree.values():
            _leaves(v, out, where)
    elif isinstance(tree, (list, tuple)):
        for v in tree:
            _leaves(v, out, where)
    elif isinstance(tree, Tensor) and tree._a.dtype.kind == "f":
        out.append(tree)
    else:
        raise ArgumentError(
            f"train_step: {where} must be a nest of dicts, lists and tuples of floating-point tensors,"
            f" found a {type(tree).__name__}" + (f" of dtype {tree._a.dtype}" if isinstance(tree, Tensor) else "")
        )
    return out


def _scalar(like: Tensor, value: float) -> Tensor:
    t = ft.zeros((), dtype=like.dtype, device=like.device)
    if value:
        t.fill_(value)
    return t


def _filled(params: Any, value: float = 0.0) -> Any:
    """A buffer per parameter, like it, holding ``value``."""
    return tree_map(lambda p: ft.zeros_like(p) + value if value else ft.zeros_like(p), params)


def _rate(lr: float, decay: float, n: Any) -> Any:
    """Torch's decayed learning rate ``lr / (1 + n * decay)`` after ``n`` steps (a 0-dim counter)."""
    return lr if decay == 0 else lr / (n * decay + 1)


def _buffers(state: dict[str, Any], key: str) -> list[Any]:
    """The tensors of the state's per-parameter buffer ``key``, in the parameters' order."""
    return _leaves(state[key], [], "state")


def _params_grads(params: Any, grads: Any, wd: float = 0.0) -> tuple[list[Any], list[Any]]:
    """The parameters and their gradients, with the weight decay's ``wd * p`` (Torch's ``weight_decay``)."""
    ps, gs = _leaves(params, [], "params"), _leaves(grads, [], "the gradients")
    return ps, gs if wd == 0 else [g + p * wd for g, p in zip(gs, ps, strict=True)]


# --------------------------------------------------------------------------------------------
# The updates: ``(params, grads, state, config) -> (new params, new state)``, element-wise tensor
# ops only, each counter a 0-dim tensor; the state's keys keep their order (they are the program's
# inputs and outputs in that order).


def _sgd_state(params: Any, first: Tensor, c: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = {"eval_counter": _scalar(first, 0.0)}
    if c["momentum"] != 0:
        state["dfdx"] = _filled(params)
        state["started"] = _scalar(first, 0.0)  # 1 once the momentum buffer holds a gradient
    return state


def _sgd(params: Any, grads: Any, state: dict[str, Any], c: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    lr, lrd, wd, mom = c["learning_rate"], c["learning_rate_decay"], c["weight_decay"], c["momentum"]
    damp = mom if c["dampening"] is None else c["dampening"]
    n = state["eval_counter"]
    clr = _rate(lr, lrd, n)
    new: dict[str, Any] = {"eval_counter": n + 1}
    ps, gs = _params_grads(params, grads, wd)
    if mom != 0:
        # Torch's first momentum step is undamped (v = g): with s = 0 on the first step and 1
        # after, v = s*(mom*v) + (s*(1 - damp) + 1 - s)*g is exactly g, then mom*v + (1 - damp)*g.
        s = state["started"]
        k = s * (1 - damp) + (1 - s)
        vs = _buffers(state, "dfdx")
        new_v = []
        for i, g in enumerate(gs):
            v = (vs[i] * mom) * s + g * k
            new_v.append(v)
            gs[i] = g + v * mom if c["nesterov"] else v
        new["dfdx"] = _rebuild(state["dfdx"], new_v)
        new["started"] = s * 0 + 1
    return _rebuild(params, [p - g * clr for p, g in zip(ps, gs, strict=True)]), new


def _adam_state(params: Any, first: Tensor, c: dict[str, Any]) -> dict[str, Any]:
    return {"t": _scalar(first, 0.0), "m": _filled(params), "v": _filled(params)}


def _adam(params: Any, grads: Any, state: dict[str, Any], c: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    lr, lrd, b1, b2, eps, wd = (
        c[k] for k in ("learning_rate", "learning_rate_decay", "beta1", "beta2", "epsilon", "weight_decay")
    )
    t = state["t"]
    clr = _rate(lr, lrd, t)  # t before the increment, as Torch's
    t1 = t + 1
    bias1, bias2 = 1 - ft.pow(b1, t1), 1 - ft.pow(b2, t1)
    step = clr * bias2.sqrt() / bias1
    ps, gs = _params_grads(params, grads, wd)
    ms, vs = _buffers(state, "m"), _buffers(state, "v")
    new_p, new_m, new_v = [], [], []
    for p, g, m, v in zip(ps, gs, ms, vs, strict=True):
        m = m * b1 + g * (1 - b1)
        v = v * b2 + g * g * (1 - b2)
        new_m.append(m)
        new_v.append(v)
        new_p.append(p - m / (v.sqrt() + eps) * step)
    new = {"t": t1, "m": _rebuild(state["m"], new_m), "v": _rebuild(state["v"], new_v)}
    return _rebuild(params, new_p), new


def _adagrad_state(params: Any, first: Tensor, c: dict[str, Any]) -> dict[str, Any]:
    return {"eval_counter": _scalar(first, 0.0), "param_variance": _filled(params)}


def _adagrad(params: Any, grads: Any, state: dict[str, Any], c: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    n, lr, lrd = state["eval_counter"], c["learning_rate"], c["learning_rate_decay"]
    clr = _rate(lr, lrd, n)
    ps, gs = _params_grads(params, grads, c["weight_decay"])
    new_p, new_var = [], []
    for p, g, var in zip(ps, gs, _buffers(state, "param_variance"), strict=True):
        var = var + g * g
        new_var.append(var)
        new_p.append(p - g / (var.sqrt() + 1e-10) * clr)  # Torch's fixed 1e-10
    new = {"eval_counter": n + 1, "param_variance": _rebuild(state["param_variance"], new_var)}
    return _rebuild(params, new_p), new


def _adadelta_state(params: Any, first: Tensor, c: dict[str, Any]) -> dict[str, Any]:
    return {"param_variance": _filled(params), "acc_delta": _filled(params)}


def _adadelta(params: Any, grads: Any, state: dict[str, Any], c: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    rho, eps = c["rho"], c["eps"]
    ps, gs = _params_grads(params, grads, c["weight_decay"])
    variances, accs = _buffers(state, "param_variance"), _buffers(state, "acc_delta")
    new_p, new_var, new_acc = [], [], []
    for p, g, var, acc in zip(ps, gs, variances, accs, strict=True):
        var = var * rho + g * g * (1 - rho)
        delta = (acc + eps).sqrt() / (var + eps).sqrt() * g
        new_var.append(var)
        new_acc.append(acc * rho + delta * delta * (1 - rho))
        new_p.append(p - delta)
    new = {
        "param_variance": _rebuild(state["param_variance"], new_var),
        "acc_delta": _rebuild(state["acc_delta"], new_acc),
    }
    return _rebuild(params, new_p), new


def _adamax_state(params: Any, first: Tensor, c: dict[str, Any]) -> dict[str, Any]:
    return {"t": _scalar(first, 0.0), "m": _filled(params), "u": _filled(params)}


def _adamax(params: Any, grads: Any, state: dict[str, Any], c: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    b1, b2, eps = c["beta1"], c["beta2"], c["epsilon"]
    t1 = state["t"] + 1
    step = c["learning_rate"] / (1 - ft.pow(b1, t1))
    ps, gs = _params_grads(params, grads, c["weight_decay"])
    ms, us = _buffers(state, "m"), _buffers(state, "u")
    new_p, new_m, new_u = [], [], []
    for p, g, m, u in zip(ps, gs, ms, us, strict=True):
        m = m * b1 + g * (1 - b1)
        u = ft.cmax(u * b2, g.abs() + max(eps, float(np.finfo(p.dtype).tiny)))  # as flambeau.optim's
        new_m.append(m)
        new_u.append(u)
        new_p.append(p - m / u * step)
    new = {"t": t1, "m": _rebuild(state["m"], new_m), "u": _rebuild(state["u"], new_u)}
    return _rebuild(params, new_p), new


def _nag_state(params: Any, first: Tensor, c: dict[str, Any]) -> dict[str, Any]:
    return {"eval_counter": _scalar(first, 0.0), "dfdx": _filled(params)}


def _nag_ahead(params: Any, state: dict[str, Any], c: dict[str, Any]) -> Any:
    """Where Torch's nag evaluates the gradient: ``x + momentum * v`` (``x`` itself at first, as v = 0)."""
    vs = _buffers(state, "dfdx")
    return _rebuild(params, [p + v * c["momentum"] for p, v in zip(_leaves(params, [], "params"), vs, strict=True)])


def _nag(params: Any, grads: Any, state: dict[str, Any], c: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    n, lr, lrd, mom = state["eval_counter"], c["learning_rate"], c["learning_rate_decay"], c["momentum"]
    clr = _rate(lr, lrd, n)
    ps, gs = _params_grads(params, grads, c["weight_decay"])  # the look-ahead point
    vs = _buffers(state, "dfdx")
    new_p = [p - g * clr for p, g in zip(ps, gs, strict=True)]
    new_v = [v * mom - g * clr for v, g in zip(vs, gs, strict=True)]
    return _rebuild(params, new_p), {"eval_counter": n + 1, "dfdx": _rebuild(state["dfdx"], new_v)}


def _rmsprop_state(params: Any, first: Tensor, c: dict[str, Any]) -> dict[str, Any]:
    return {"m": _filled(params, c["initial_mean"])}


def _rmsprop(params: Any, grads: Any, state: dict[str, Any], c: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    lr, alpha, eps = c["learning_rate"], c["alpha"], c["epsilon"]
    ps, gs = _params_grads(params, grads, c["weight_decay"])
    new_p, new_m = [], []
    for p, g, m in zip(ps, gs, _buffers(state, "m"), strict=True):
        m = m * alpha + g * g * (1 - alpha)
        new_m.append(m)
        new_p.append(p - g / (m.sqrt() + eps) * lr)
    return _rebuild(params, new_p), {"m": _rebuild(state["m"], new_m)}


def _asgd_state(params: Any, first: Tensor, c: dict[str, Any]) -> dict[str, Any]:
    return {
        "eta_t": _scalar(first, c["eta0"]),
        "mu_t": _scalar(first, 1.0),
        "t": _scalar(first, 0.0),
        "ax": _filled(params),  # the averaged iterate: read it here
    }


def _asgd(params: Any, grads: Any, state: dict[str, Any], c: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    eta0, lam, alpha, t0 = c["eta0"], c["lambda"], c["alpha"], c["t0"]
    eta, mu = state["eta_t"], state["mu_t"]
    ps, gs = _params_grads(params, grads)
    new_p, new_ax = [], []
    for p, g, ax in zip(ps, gs, _buffers(state, "ax"), strict=True):
        p = p * (1 - lam * eta) - g * eta
        new_p.append(p)
        new_ax.append(ft.where(mu == 1, p, ax + (p - ax) * mu))  # Torch copies x while mu_t is 1
    t = state["t"] + 1
    new = {
        "eta_t": eta0 / ft.pow(t * (lam * eta0) + 1, alpha),
        "mu_t": 1 / ft.cmax(t - t0, 1.0),
        "t": t,
        "ax": _rebuild(state["ax"], new_ax),
    }
    return _rebuild(params, new_p), new


def _rprop_state(params: Any, first: Tensor, c: dict[str, Any]) -> dict[str, Any]:
    return {"delta": _filled(params), "stepsize": _filled(params, c["stepsize"])}


def _rprop(params: Any, grads: Any, state: dict[str, Any], c: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    ps, gs = _params_grads(params, grads)
    deltas, sizes = _buffers(state, "delta"), _buffers(state, "stepsize")
    new_p, new_delta, new_size = [], [], []
    for p, g, delta, size in zip(ps, gs, deltas, sizes, strict=True):
        sign = ft.sign(g * delta)
        size = size * ft.where(sign > 0, c["etaplus"], ft.where(sign < 0, c["etaminus"], 1.0))
        size = ft.clamp(size, c["stepsizemin"], c["stepsizemax"])
        g = ft.where(sign < 0, 0.0, g)  # a flipped sign: that weight rests this step
        new_p.append(p - ft.sign(g) * size)
        new_delta.append(g)
        new_size.append(size)
    new = {"delta": _rebuild(state["delta"], new_delta), "stepsize": _rebuild(state["stepsize"], new_size)}
    return _rebuild(params, new_p), new


Update = Callable[..., tuple[Any, dict[str, Any]]]
# name: (the initial state, the update, where the gradient is taken (None: at the parameters))
_UPDATES: dict[str, tuple[Callable[..., dict[str, Any]], Update, Callable[..., Any] | None]] = {
    "sgd": (_sgd_state, _sgd, None),
    "adam": (_adam_state, _adam, None),
    "adagrad": (_adagrad_state, _adagrad, None),
    "adadelta": (_adadelta_state, _adadelta, None),
    "adamax": (_adamax_state, _adamax, None),
    "nag": (_nag_state, _nag, _nag_ahead),
    "rmsprop": (_rmsprop_state, _rmsprop, None),
    "asgd": (_asgd_state, _asgd, None),
    "rprop": (_rprop_state, _rprop, None),
}


def _rebuild(tree: Any, values: list[Any]) -> Any:
    """``tree`` with its tensors replaced by ``values``, in :func:`_leaves`' order."""
    it = iter(values)
    return tree_map(lambda _: next(it), tree)


# --------------------------------------------------------------------------------------------


class TrainStep:
    """``loss = step(*batch)``: one training step, the parameters updated in place; see :func:`train_step`."""

    def __init__(
        self,
        f: Callable[..., Any],
        params: Any,
        optimizer: str = "sgd",
        config: dict[str, Any] | None = None,
        optimize: bool = True,
        cuda_graph: bool = False,
    ):
        if optimizer not in _UPDATES:
            raise ArgumentError(
                f"train_step: unknown optimizer {optimizer!r}; element-wise updates exist for {', '.join(_UPDATES)}"
                " (autograd.optim drives every flambeau.optim optimizer, outside the program)"
            )
        if cuda_graph and not optimize:
            raise ArgumentError(
                "train_step: cuda_graph=True needs optimize=True (a graph replays an optimized program)"
            )
        self.f = f
        self.params = params
        self.optimizer = optimizer
        self.config: dict[str, Any] = dict(config or {})
        self._check_config()
        self._targets = _leaves(params, [], "params")
        if not self._targets:
            raise ArgumentError("train_step: params holds no tensor to train")
        self.state: dict[str, Any] = _UPDATES[optimizer][0](params, self._targets[0], self._settings())
        df = grad(f)
        _, update, ahead = _UPDATES[optimizer]

        def train_step(params: Any, state: dict[str, Any], settings: dict[str, Any], *batch: Any) -> Any:
            if ahead is not None:
                params = ahead(params, state, settings)
            grads, *values = df(params, *batch)
            new_params, new_state = update(params, grads, state, settings)
            return tuple(values), new_params, new_state

        self._step = train_step
        self.fn: Callable[..., Any] = (
            Optimized(train_step, name=f"train_step_{optimizer}", cuda_graph=cuda_graph, writeback=self._writeback)
            if optimize
            else train_step
        )

    def __repr__(self) -> str:
        return f"<train_step {self.optimizer} of {getattr(self.f, '__name__', 'f')}: {self.fn!r}>"

    def _check_config(self) -> None:
        known = OPTIMIZERS[self.optimizer]
        unknown = sorted(set(self.config) - set(known))
        if unknown:
            raise ArgumentError(
                f"train_step: {self.optimizer} has no config key(s) {', '.join(map(repr, unknown))}; known:"
                f" {', '.join(known)} (per-element learning_rates / weight_decays: use autograd.optim)"
            )

    def _settings(self) -> dict[str, Any]:
        self._check_config()
        c = {**OPTIMIZERS[self.optimizer], **self.config}
        for k, v in c.items():
            if v is not None and not isinstance(v, bool):
                c[k] = float(v)  # one signature per value, whatever number type it came as
        if self.optimizer == "rprop" and c["niter"] != 1:
            raise ArgumentError(
                f"train_step: rprop evaluates the gradient once per step here (niter=1, got {c['niter']:g});"
                " call the step niter times, or use autograd.optim.rprop"
            )
        if self.optimizer == "nag" and not c["momentum"] > 0:
            raise DomainError(
                f"train_step: nag needs momentum > 0 for Nesterov's accelerated gradient (got {c['momentum']})"
            )
        if self.optimizer == "sgd":
            damp = c["momentum"] if c["dampening"] is None else c["dampening"]
            if c["nesterov"] and not (c["momentum"] > 0 and damp == 0):
                raise DomainError(
                    f"train_step: sgd's Nesterov momentum needs momentum > 0 and dampening 0 (got momentum="
                    f"{c['momentum']}, dampening={damp}); dampening defaults to the momentum, so pass dampening=0"
                )
        return c

    def _writeback(self, result: Any) -> tuple[Any, list[tuple[Any, int]]]:
        """The step's result as (what the caller gets, [(new value, input index), ...]).

        The inputs are ``(params, state, settings, *batch)``: params' tensors come first, then the state's.
        """
        values, new_params, new_state = result
        news = _leaves(new_params, [], "params") + _leaves(new_state, [], "state")
        return (values[0] if len(values) == 1 else values), [(t, i) for i, t in enumerate(news)]

    def __call__(self, *batch: Any) -> Any:
        settings = self._settings()
        if self.optimizer == "sgd" and settings["momentum"] != 0 and "dfdx" not in self.state:
            self.state.update(_sgd_state(self.params, self._targets[0], settings))  # momentum turned on later
        res = self.fn(self.params, self.state, settings, *batch)
        if isinstance(res, Written):  # a CUDA graph made the updates itself
            return res.value
        value, pairs = self._writeback(res)
        # The tensors in params now (the caller may have put new ones in), then the state's.
        targets = _leaves(self.params, [], "params") + _leaves(self.state, [], "state")
        for t, i in pairs:
            dst = targets[i]
            if t._a is not dst._a:
                dst._d.xp.copyto(dst._a, t._a)
        return value


def train_step(
    f: Callable[..., Any],
    params: Any,
    optimizer: str = "sgd",
    config: dict[str, Any] | None = None,
    optimize: bool = True,
    cuda_graph: bool = False,
) -> TrainStep:
    """One training step as one function: ``loss = step(*batch)`` updates ``params`` in place.

    Each call runs ``f(params, *batch)``, its gradient with respect to ``params`` and the
    optimizer's update, and writes the new parameters into ``params``' own tensors. With
    ``optimize=True`` (the default) the three are recorded once per signature and replayed as one
    program (:func:`~flambeau.autograd.optimize`); with ``cuda_graph=True`` too, on a cuda device,
    that program (update included) is captured as one CUDA graph reading and writing the
    parameters' own arrays, and each step is one launch.

    Parameters
    ----------
    f : callable
        ``f(params, *batch)`` returning the loss (a one-element tensor), or ``(loss, *more)``.
    params : tensor, or nest of dicts, lists and tuples of tensors
        Floating-point tensors, updated in place by every call.
    optimizer : {'sgd', 'adam', 'adagrad', 'adadelta', 'adamax', 'nag', 'rmsprop', 'asgd', 'rprop'}
        The update: flambeau.optim's rule of that name (Torch's), element-wise.
    config : dict, optional
        That optimizer's config keys (snake_case, Torch's defaults, listed in ``OPTIMIZERS``), e.g.
        ``learning_rate``, ``momentum``, ``dampening``, ``nesterov``, ``weight_decay``,
        ``learning_rate_decay`` (sgd); ``beta1``, ``beta2``, ``epsilon`` (adam). Per-element
        tensors are not supported.
        Copied: change ``step.config`` to change it (the next call records again).
    optimize : bool
        Record and replay the step (default). False runs it as plain code every time.
    cuda_graph : bool
        Also capture the step as a CUDA graph on a cuda device (needs ``optimize``).

    Returns
    -------
    TrainStep
        ``step(*batch)`` returns what ``f`` returned (fresh tensors); ``step.state`` holds the
        optimizer's state (0-dim tensors for counters, trees like ``params`` for buffers), and
        ``step.fn`` the optimized function (``recordings``, ``captures``, ``graph_fallbacks``...).

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau import autograd
    >>> w = ft.Tensor([1.0, -2.0])
    >>> step = autograd.train_step(lambda w: (w * w).sum(), w, "adam", {"learning_rate": 0.1})
    >>> [round(float(step()), 4) for _ in range(3)]
    [5.0, 4.42, 3.8813]
    >>> [round(v, 6) for v in w.tolist()], float(step.state["t"])
    ([0.701586, -1.700623], 3.0)
    """
    return TrainStep(f, params, optimizer, config, optimize, cuda_graph)
