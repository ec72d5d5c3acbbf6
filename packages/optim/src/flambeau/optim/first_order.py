"""Torch's first-order optimizers: sgd, asgd, adagrad, adadelta, adam, adamax, nag, rmsprop, rprop.

Each is ``x, fs = optim.<name>(opfunc, x, config=None, state=None)`` (``asgd`` also returns the
average ``ax``), with Torch's config keys in snake_case, Torch's defaults and the update rules as
Torch's code has them, quirks included (each function's docstring lists them). ``fs`` holds the
value(s) of ``f`` *before* the update, as Python floats. State tensors are flat like ``x`` and the
state holds tensors and numbers only, so ``ft.save``/``ft.load`` of it resumes identically.

One deliberate difference: Torch adds weight decay (and, in sgd's Nesterov mode and in rprop, more)
to the gradient tensor ``opfunc`` returned, in place; here the gradient ``opfunc`` returned is never
modified, so a gradient buffer shared with a model keeps ``opfunc``'s values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError, DomainError

from .core import Config, OpFunc, flatten, optimizer

__all__ = ["adadelta", "adagrad", "adam", "adamax", "asgd", "nag", "rmsprop", "rprop", "sgd"]


def _evaluate(opfunc: OpFunc, x: Tensor, name: str) -> tuple[float, Tensor]:
    """``opfunc(x)`` as (Python float, flat gradient tensor)."""
    f, g = opfunc(x)
    fx = float(f.item()) if isinstance(f, Tensor) else float(f)
    if not isinstance(g, Tensor):
        g = flatten(g)
    if g.nelement() != x.nelement():
        raise ArgumentError(
            f"{name}: opfunc returned a gradient of {g.nelement()} elements for {x.nelement()} parameters"
        )
    return fx, g.reshape(-1)


def _per_parameter(value: Any, x: Tensor, name: str, key: str) -> Tensor:
    """A per-parameter config tensor (``learning_rates``, ``weight_decays``) as a flat tensor like ``x``."""
    t = value if isinstance(value, Tensor) else flatten(value)
    if t.nelement() != x.nelement():
        raise ArgumentError(f"{name}: {key} has {t.nelement()} elements, the parameters {x.nelement()}")
    return t.reshape(-1)


def _with_weight_decay(g: Tensor, x: Tensor, wd: float) -> Tensor:
    """``g + wd * x`` (a new tensor) when ``wd != 0``, else ``g`` itself."""
    return g.add(x, alpha=wd) if wd != 0 else g


# --------------------------------------------------------------------------------------------------
# sgd


SGD_DEFAULTS: dict[str, Any] = {
    "learning_rate": 1e-3,
    "learning_rate_decay": 0,
    "weight_decay": 0,
    "weight_decays": None,
    "momentum": 0,
    "dampening": None,  # None: the momentum's value (Torch's ``config.dampening or mom``)
    "nesterov": False,
    "learning_rates": None,
}
SGD_STATE_KEYS = ("eval_counter", "dfdx")


@optimizer
def sgd(opfunc: OpFunc, x: Tensor, config: dict[str, Any], state: dict[str, Any]) -> tuple[Tensor, list[float]]:
    """Stochastic gradient descent, with momentum, Nesterov momentum, weight decay and annealing.

    Config (Torch's defaults): ``learning_rate=1e-3``, ``learning_rate_decay=0``,
    ``weight_decay=0``, ``weight_decays`` (a tensor like ``x``: per-parameter decay, used only when
    ``weight_decay`` is 0), ``momentum=0``, ``dampening`` (defaults to ``momentum``),
    ``nesterov=False``, ``learning_rates`` (a tensor like ``x``: per-parameter factors of the rate).

    The step, with ``g = df/dx + wd*x``: ``v = g`` on the first call with momentum, then
    ``v = momentum*v + (1 - dampening)*g``; the direction is ``g + momentum*v`` with Nesterov,
    else ``v`` (``g`` without momentum); ``x -= lr_t * learning_rates * direction`` with
    ``lr_t = learning_rate / (1 + eval_counter*learning_rate_decay)``.

    Torch's quirks, kept: ``dampening`` defaults to the momentum, so plain ``momentum=0.9``
    averages with weight ``0.1`` on the new gradient (pass ``dampening=0`` for classic momentum);
    the first momentum step is undamped (``v = g``); ``learning_rates`` is read from the config (the
    Torch docs say state). ``nesterov=True`` needs ``momentum > 0`` and ``dampening == 0`` and
    raises a DomainError otherwise, before ``opfunc`` is called.

    State: ``eval_counter`` (calls so far), ``dfdx`` (the momentum buffer ``v``).

    Returns
    -------
    (x, [f]) with ``f`` the value before the update.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> import flambeau.optim as optim
    >>> x = ft.Tensor([1.0, -2.0])
    >>> config = {"learning_rate": 0.1, "momentum": 0.5, "dampening": 0}
    >>> for _ in range(3):
    ...     x, (f,) = optim.sgd(lambda x: ((x * x).sum().item(), 2 * x), x, config)
    >>> [round(v, 6) for v in x.tolist()], config["eval_counter"]
    ([0.302, -0.604], 3)
    """
    c = Config("sgd", config, SGD_DEFAULTS, state_keys=SGD_STATE_KEYS)
    lr, lrd, wd = c.learning_rate, c.learning_rate_decay, c.weight_decay
    mom = c.momentum
    damp = mom if c.dampening is None else c.dampening
    if c.nesterov and not (mom > 0 and damp == 0):
        raise DomainError(
            f"sgd: Nesterov momentum needs momentum > 0 and dampening 0 (got momentum={mom}, dampening={damp}); "
            "note that dampening defaults to the momentum, so pass dampening=0"
        )
    nevals = state.get("eval_counter", 0)

    fx, g = _evaluate(opfunc, x, "sgd")

    if wd != 0:
        g = g.add(x, alpha=wd)
    elif c.weight_decays is not None:
        g = g.add(_per_parameter(c.weight_decays, x, "sgd", "weight_decays").mul(x))

    if mom != 0:
        if state.get("dfdx") is None:
            state["dfdx"] = g.clone()
        else:
            state["dfdx"].mul_(mom).add_(g, alpha=1 - damp)
        g = g.add(state["dfdx"], alpha=mom) if c.nesterov else state["dfdx"]

    clr = lr / (1 + nevals * lrd)

    if c.learning_rates is not None:
        x.add_(_per_parameter(c.learning_rates, x, "sgd", "learning_rates").mul(g), alpha=-clr)
    else:
        x.add_(g, alpha=-clr)

    state["eval_counter"] = nevals + 1
    return x, [fx]


# --------------------------------------------------------------------------------------------------
# asgd


ASGD_DEFAULTS: dict[str, Any] = {"eta0": 1e-4, "lambda": 1e-4, "alpha": 0.75, "t0": 1e6}
ASGD_STATE_KEYS = ("eta_t", "mu_t", "t", "ax")


@optimizer
def asgd(
    opfunc: OpFunc, x: Tensor, config: dict[str, Any], state: dict[str, Any]
) -> tuple[Tensor, list[float], Tensor]:
    """Averaged stochastic gradient descent (Bottou's ASGD).

    Config (Torch's defaults): ``eta0=1e-4`` (initial rate), ``lambda=1e-4`` (decay term),
    ``alpha=0.75`` (power of the rate's decay), ``t0=1e6`` (the step averaging starts at).

    The step: ``x = (1 - lambda*eta_t)*x - eta_t*g``, then the average ``ax += mu_t*(x - ax)``
    (``ax = x`` while ``mu_t == 1``); then ``t += 1``,
    ``eta_t = eta0 / (1 + lambda*eta0*t)**alpha`` and ``mu_t = 1/max(1, t - t0)``.

    State: ``eta_t`` (starts at ``eta0``), ``mu_t`` (starts at 1), ``t`` (starts at 0), ``ax``.

    Returns
    -------
    (x, [f], ax): ``f`` the value before the update, ``ax`` the running average of the iterates
    (a flat tensor, also for a tree ``x``; it is the state's tensor, not a copy).

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> import flambeau.optim as optim
    >>> x = ft.Tensor([1.0, -2.0])
    >>> config = {"eta0": 0.1, "t0": 1}
    >>> for _ in range(3):
    ...     x, (f,), ax = optim.asgd(lambda x: ((x * x).sum().item(), 2 * x), x, config)
    >>> [round(v, 6) for v in ax.tolist()]
    [0.511984, -1.023967]
    """
    c = Config("asgd", config, ASGD_DEFAULTS, state_keys=ASGD_STATE_KEYS)
    eta0, lam, alpha, t0 = c.eta0, c.get("lambda"), c.alpha, c.t0
    eta_t = state.get("eta_t", eta0)
    mu_t = state.get("mu_t", 1)
    t = state.get("t", 0)

    fx, g = _evaluate(opfunc, x, "asgd")

    x.mul_(1 - lam * eta_t)
    x.add_(g, alpha=-eta_t)

    ax = state.get("ax")
    if ax is None:
        ax = state["ax"] = ft.zeros_like(x)
    if mu_t != 1:
        ax.add_(x.sub(ax).mul_(mu_t))
    else:
        ax.copy_(x)

    t += 1
    state["t"] = t
    state["eta_t"] = eta0 / (1 + lam * eta0 * t) ** alpha
    state["mu_t"] = 1 / max(1, t - t0)
    return x, [fx], ax


# --------------------------------------------------------------------------------------------------
# adagrad


ADAGRAD_DEFAULTS: dict[str, Any] = {"learning_rate": 1e-3, "learning_rate_decay": 0, "weight_decay": 0}
ADAGRAD_STATE_KEYS = ("eval_counter", "param_variance", "param_std")


@optimizer
def adagrad(opfunc: OpFunc, x: Tensor, config: dict[str, Any], state: dict[str, Any]) -> tuple[Tensor, list[float]]:
    """AdaGrad: per-parameter rates scaled by the root of the summed squared gradients.

    Config (Torch's defaults): ``learning_rate=1e-3``, ``learning_rate_decay=0``,
    ``weight_decay=0``.

    The step, with ``g = df/dx + wd*x``: ``G += g*g``; ``x -= lr_t * g / (sqrt(G) + 1e-10)`` with
    ``lr_t = learning_rate / (1 + eval_counter*learning_rate_decay)``. The ``1e-10`` is fixed (not
    a config key), as in Torch.

    State: ``eval_counter``, ``param_variance`` (``G``), ``param_std`` (``sqrt(G) + 1e-10``).

    Returns
    -------
    (x, [f]) with ``f`` the value before the update.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> import flambeau.optim as optim
    >>> x = ft.Tensor([1.0, -2.0])
    >>> config = {"learning_rate": 0.5}
    >>> for _ in range(3):
    ...     x, (f,) = optim.adagrad(lambda x: ((x * x).sum().item(), 2 * x), x, config)
    >>> [round(v, 6) for v in x.tolist()]
    [0.156399, -0.983634]
    """
    c = Config("adagrad", config, ADAGRAD_DEFAULTS, state_keys=ADAGRAD_STATE_KEYS)
    lr, lrd, wd = c.learning_rate, c.learning_rate_decay, c.weight_decay
    nevals = state.get("eval_counter", 0)

    fx, g = _evaluate(opfunc, x, "adagrad")
    g = _with_weight_decay(g, x, wd)

    clr = lr / (1 + nevals * lrd)

    if state.get("param_variance") is None:
        state["param_variance"] = ft.zeros_like(x)
    variance = state["param_variance"]
    variance.addcmul_(g, g)
    std = state["param_std"] = ft.sqrt(variance).add_(1e-10)
    x.addcdiv_(g, std, value=-clr)

    state["eval_counter"] = nevals + 1
    return x, [fx]


# --------------------------------------------------------------------------------------------------
# adadelta


ADADELTA_DEFAULTS: dict[str, Any] = {"rho": 0.9, "eps": 1e-6, "weight_decay": 0}
ADADELTA_STATE_KEYS = ("eval_counter", "param_variance", "param_std", "delta", "acc_delta")


@optimizer
def adadelta(opfunc: OpFunc, x: Tensor, config: dict[str, Any], state: dict[str, Any]) -> tuple[Tensor, list[float]]:
    """ADADELTA (Zeiler 2012): no learning rate, steps scaled by running RMS of steps and gradients.

    Config (Torch's defaults): ``rho=0.9``, ``eps=1e-6``, ``weight_decay=0``.

    The step, with ``g = df/dx + wd*x``: ``E[g2] = rho*E[g2] + (1-rho)*g*g``;
    ``delta = sqrt(E[dx2] + eps) / sqrt(E[g2] + eps) * g``; ``x -= delta``;
    ``E[dx2] = rho*E[dx2] + (1-rho)*delta*delta``.

    State: ``eval_counter``, ``param_variance`` (``E[g2]``), ``param_std`` (``sqrt(E[g2]+eps)``),
    ``delta`` (the last step), ``acc_delta`` (``E[dx2]``).

    Returns
    -------
    (x, [f]) with ``f`` the value before the update.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> import flambeau.optim as optim
    >>> x = ft.Tensor([1.0, -2.0])
    >>> config = {"rho": 0.5}
    >>> for _ in range(3):
    ...     x, (f,) = optim.adadelta(lambda x: ((x * x).sum().item(), 2 * x), x, config)
    >>> [round(v, 6) for v in x.tolist()]
    [0.995156, -1.995155]
    """
    c = Config("adadelta", config, ADADELTA_DEFAULTS, state_keys=ADADELTA_STATE_KEYS)
    rho, eps, wd = c.rho, c.eps, c.weight_decay
    nevals = state.get("eval_counter", 0)

    fx, g = _evaluate(opfunc, x, "adadelta")
    g = _with_weight_decay(g, x, wd)

    if state.get("param_variance") is None:
        state["param_variance"] = ft.zeros_like(x)
        state["param_std"] = ft.zeros_like(x)
        state["delta"] = ft.zeros_like(x)
        state["acc_delta"] = ft.zeros_like(x)
    variance, std, delta, acc_delta = (state[k] for k in ("param_variance", "param_std", "delta", "acc_delta"))
    variance.mul_(rho).addcmul_(g, g, value=1 - rho)
    std.copy_(variance).add_(eps).sqrt_()
    delta.copy_(acc_delta).add_(eps).sqrt_().div_(std).mul_(g)
    x.add_(delta, alpha=-1)
    acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)

    state["eval_counter"] = nevals + 1
    return x, [fx]


# --------------------------------------------------------------------------------------------------
# adam


ADAM_DEFAULTS: dict[str, Any] = {
    "learning_rate": 1e-3,
    "learning_rate_decay": 0,
    "beta1": 0.9,
    "beta2": 0.999,
    "epsilon": 1e-8,
    "weight_decay": 0,
}
ADAM_STATE_KEYS = ("t", "m", "v", "denom")


@optimizer
def adam(opfunc: OpFunc, x: Tensor, config: dict[str, Any], state: dict[str, Any]) -> tuple[Tensor, list[float]]:
    """Adam (Kingma & Ba), as Torch's code has it.

    Config (Torch's defaults): ``learning_rate=1e-3``, ``learning_rate_decay=0``, ``beta1=0.9``,
    ``beta2=0.999``, ``epsilon=1e-8``, ``weight_decay=0``.

    The step, with ``g = df/dx + wd*x``: ``lr_t = learning_rate / (1 + t*learning_rate_decay)``
    with ``t`` the count *before* this step; then ``t += 1``; ``m = beta1*m + (1-beta1)*g``;
    ``v = beta2*v + (1-beta2)*g*g``; ``x -= lr_t*sqrt(1-beta2**t)/(1-beta1**t) * m/(sqrt(v) + epsilon)``.

    Torch's quirk, kept: ``epsilon`` is added to ``sqrt(v)`` itself, not to the bias-corrected
    ``sqrt(v/(1-beta2**t))``, so early on it weighs ``1/sqrt(1-beta2**t)`` times more than in the
    paper's formula.

    State: ``t``, ``m``, ``v``, ``denom`` (``sqrt(v) + epsilon``).

    Returns
    -------
    (x, [f]) with ``f`` the value before the update.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> import flambeau.optim as optim
    >>> x = ft.Tensor([1.0, -2.0])
    >>> config = {"learning_rate": 0.1}
    >>> for _ in range(3):
    ...     x, (f,) = optim.adam(lambda x: ((x * x).sum().item(), 2 * x), x, config)
    >>> [round(v, 6) for v in x.tolist()], config["t"]
    ([0.701586, -1.700623], 3)
    """
    c = Config("adam", config, ADAM_DEFAULTS, state_keys=ADAM_STATE_KEYS)
    lr, lrd, beta1, beta2, eps, wd = (
        c.learning_rate,
        c.learning_rate_decay,
        c.beta1,
        c.beta2,
        c.epsilon,
        c.weight_decay,
    )

    fx, g = _evaluate(opfunc, x, "adam")
    g = _with_weight_decay(g, x, wd)

    t = state.get("t", 0)
    if state.get("m") is None:
        state["m"] = ft.zeros_like(x)
        state["v"] = ft.zeros_like(x)
        state["denom"] = ft.zeros_like(x)
    m, v, denom = state["m"], state["v"], state["denom"]

    clr = lr / (1 + t * lrd)  # t before the increment
    t += 1
    state["t"] = t

    m.mul_(beta1).add_(g, alpha=1 - beta1)
    v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
    denom.copy_(v).sqrt_().add_(eps)

    bias_correction1 = 1 - beta1**t
    bias_correction2 = 1 - beta2**t
    step_size = clr * bias_correction2**0.5 / bias_correction1
    x.addcdiv_(m, denom, value=-step_size)
    return x, [fx]


# --------------------------------------------------------------------------------------------------
# adamax


ADAMAX_DEFAULTS: dict[str, Any] = {
    "learning_rate": 2e-3,
    "beta1": 0.9,
    "beta2": 0.999,
    "epsilon": 1e-38,
    "weight_decay": 0,
}
ADAMAX_STATE_KEYS = ("t", "m", "u")


@optimizer
def adamax(opfunc: OpFunc, x: Tensor, config: dict[str, Any], state: dict[str, Any]) -> tuple[Tensor, list[float]]:
    """AdaMax (Kingma & Ba, section 7): Adam with the infinity norm.

    Config (Torch's defaults): ``learning_rate=2e-3``, ``beta1=0.9``, ``beta2=0.999``,
    ``epsilon=1e-38``, ``weight_decay=0`` (no learning-rate decay, as in Torch).

    The step, with ``g = df/dx + wd*x``: ``t += 1``; ``m = beta1*m + (1-beta1)*g``;
    ``u = max(beta2*u, |g| + epsilon)``; ``x -= learning_rate/(1-beta1**t) * m/u``.

    Torch's quirk, kept: ``epsilon`` defaults to ``1e-38``, which only guards ``u`` against 0 where
    the gradient has been exactly 0. An ``epsilon`` below the smallest normal number of ``x``'s
    dtype is taken as that number (float32's is about 1.18e-38): cupy flushes subnormal float32
    values to zero, and ``u`` would then be 0 and the step 0/0 there.

    State: ``t``, ``m``, ``u``.

    Returns
    -------
    (x, [f]) with ``f`` the value before the update.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> import flambeau.optim as optim
    >>> x = ft.Tensor([1.0, -2.0])
    >>> config = {"learning_rate": 0.1}
    >>> for _ in range(3):
    ...     x, (f,) = optim.adamax(lambda x: ((x * x).sum().item(), 2 * x), x, config)
    >>> [round(v, 6) for v in x.tolist()]
    [0.715499, -1.707648]
    """
    c = Config("adamax", config, ADAMAX_DEFAULTS, state_keys=ADAMAX_STATE_KEYS)
    lr, beta1, beta2, eps, wd = c.learning_rate, c.beta1, c.beta2, c.epsilon, c.weight_decay
    eps = max(eps, float(np.finfo(x.dtype).tiny))  # a subnormal epsilon is 0 on cuda (see above)

    fx, g = _evaluate(opfunc, x, "adamax")
    g = _with_weight_decay(g, x, wd)

    t = state.get("t", 0)
    if state.get("m") is None:
        state["m"] = ft.zeros_like(x)
        state["u"] = ft.zeros_like(x)
    m, u = state["m"], state["u"]

    t += 1
    state["t"] = t

    m.mul_(beta1).add_(g, alpha=1 - beta1)
    u.copy_(ft.cmax(u.mul(beta2), g.abs().add_(eps)))

    step_size = lr / (1 - beta1**t)
    x.addcdiv_(m, u, value=-step_size)
    return x, [fx]


# --------------------------------------------------------------------------------------------------
# nag


NAG_DEFAULTS: dict[str, Any] = {
    "learning_rate": 1e-3,
    "learning_rate_decay": 0,
    "weight_decay": 0,
    "momentum": 0.9,
    "dampening": None,  # read by Torch's nag but never used; accepted and ignored
    "learning_rates": None,
}
NAG_STATE_KEYS = ("eval_counter", "dfdx")


@optimizer
def nag(opfunc: OpFunc, x: Tensor, config: dict[str, Any], state: dict[str, Any]) -> tuple[Tensor, list[float]]:
    """Nesterov's accelerated gradient, in Sutskever et al.'s (2013) look-ahead form.

    Config (Torch's defaults): ``learning_rate=1e-3``, ``learning_rate_decay=0``,
    ``weight_decay=0``, ``momentum=0.9`` (must be > 0, else a DomainError), ``learning_rates``
    (a tensor like ``x``). ``dampening`` is accepted and ignored, as Torch reads and never uses it.

    The step: from the second call on, ``x += momentum*v`` first (the look-ahead point); then
    ``g = df/dx + wd*x`` is evaluated there; ``v = momentum*v - lr_t*lrs*g`` (``v = -lr_t*lrs*g``
    on the first call) and ``x -= lr_t*lrs*g``, with
    ``lr_t = learning_rate / (1 + eval_counter*learning_rate_decay)``.

    Torch's quirks, kept: the returned ``f`` is the value at the look-ahead point (not at the ``x``
    passed in), and ``x`` is left at the look-ahead point minus the gradient step, so the iterate
    carries the momentum step taken at the start of the next call.

    State: ``eval_counter``, ``dfdx`` (the velocity ``v``).

    Returns
    -------
    (x, [f]) with ``f`` the value at the look-ahead point.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> import flambeau.optim as optim
    >>> x = ft.Tensor([1.0, -2.0])
    >>> config = {"learning_rate": 0.1}
    >>> for _ in range(3):
    ...     x, (f,) = optim.nag(lambda x: ((x * x).sum().item(), 2 * x), x, config)
    >>> [round(v, 6) for v in x.tolist()]
    [0.17792, -0.35584]
    """
    c = Config("nag", config, NAG_DEFAULTS, state_keys=NAG_STATE_KEYS)
    lr, lrd, wd, mom = c.learning_rate, c.learning_rate_decay, c.weight_decay, c.momentum
    if mom <= 0:
        raise DomainError(f"nag: momentum must be positive for Nesterov's accelerated gradient (got {mom})")
    nevals = state.get("eval_counter", 0)

    velocity = state.get("dfdx")
    if velocity is not None:
        x.add_(velocity, alpha=mom)  # the look-ahead point

    fx, g = _evaluate(opfunc, x, "nag")
    g = _with_weight_decay(g, x, wd)

    clr = lr / (1 + nevals * lrd)

    if velocity is None:
        velocity = state["dfdx"] = ft.zeros_like(x)
    else:
        velocity.mul_(mom)

    if c.learning_rates is not None:
        g = _per_parameter(c.learning_rates, x, "nag", "learning_rates").mul(g)
    x.add_(g, alpha=-clr)
    velocity.add_(g, alpha=-clr)

    state["eval_counter"] = nevals + 1
    return x, [fx]


# --------------------------------------------------------------------------------------------------
# rmsprop


RMSPROP_DEFAULTS: dict[str, Any] = {
    "learning_rate": 1e-2,
    "alpha": 0.99,
    "epsilon": 1e-8,
    "weight_decay": 0,
    "initial_mean": 0,
}
RMSPROP_STATE_KEYS = ("m",)


@optimizer
def rmsprop(opfunc: OpFunc, x: Tensor, config: dict[str, Any], state: dict[str, Any]) -> tuple[Tensor, list[float]]:
    """RMSprop (Tieleman & Hinton): steps divided by a running RMS of the gradient.

    Config (Torch's defaults): ``learning_rate=1e-2``, ``alpha=0.99``, ``epsilon=1e-8``,
    ``weight_decay=0``, ``initial_mean=0`` (undocumented in Torch: the value the mean square ``m``
    starts at).

    The step, with ``g = df/dx + wd*x``: ``m = alpha*m + (1-alpha)*g*g``;
    ``x -= learning_rate * g / (sqrt(m) + epsilon)``. No learning-rate decay, as in Torch.

    State: ``m``.

    Returns
    -------
    (x, [f]) with ``f`` the value before the update.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> import flambeau.optim as optim
    >>> x = ft.Tensor([1.0, -2.0])
    >>> config = {"learning_rate": 0.01, "initial_mean": 1.0}
    >>> for _ in range(3):
    ...     x, (f,) = optim.rmsprop(lambda x: ((x * x).sum().item(), 2 * x), x, config)
    >>> [round(v, 6) for v in x.tolist()]
    [0.942773, -1.895906]
    """
    c = Config("rmsprop", config, RMSPROP_DEFAULTS, state_keys=RMSPROP_STATE_KEYS)
    lr, alpha, eps, wd = c.learning_rate, c.alpha, c.epsilon, c.weight_decay

    fx, g = _evaluate(opfunc, x, "rmsprop")
    g = _with_weight_decay(g, x, wd)

    if state.get("m") is None:
        state["m"] = ft.zeros_like(x).fill_(c.initial_mean)
    m = state["m"]
    m.mul_(alpha).addcmul_(g, g, value=1 - alpha)
    x.addcdiv_(g, ft.sqrt(m).add_(eps), value=-lr)
    return x, [fx]


# --------------------------------------------------------------------------------------------------
# rprop


RPROP_DEFAULTS: dict[str, Any] = {
    "stepsize": 0.1,
    "etaplus": 1.2,
    "etaminus": 0.5,
    "stepsizemax": 50.0,
    "stepsizemin": 1e-6,
    "niter": 1,
}
RPROP_STATE_KEYS = ("delta", "stepsize")


@optimizer
def rprop(opfunc: OpFunc, x: Tensor, config: dict[str, Any], state: dict[str, Any]) -> tuple[Tensor, list[float]]:
    """Rprop (Riedmiller & Braun): per-weight step sizes adapted from the signs of the gradient.

    Config (Torch's defaults): ``stepsize=0.1`` (initial step size), ``etaplus=1.2``,
    ``etaminus=0.5``, ``stepsizemax=50``, ``stepsizemin=1e-6``, ``niter=1``.

    Each of the ``niter`` iterations of one call evaluates ``g = df/dx``; where ``g*delta`` is
    positive (``delta`` the previous gradient) the weight's step size is multiplied by
    ``etaplus``, where it is negative by ``etaminus`` (unchanged where 0); step sizes are clipped to
    ``[stepsizemin, stepsizemax]``; where the sign flipped, ``g`` is set to 0 (that weight does not
    move, and the next iteration leaves its step size alone); ``x -= sign(g)*stepsize`` and
    ``delta = g``.

    Torch's quirks, kept: one call runs ``niter`` evaluations and returns all their values; the
    gradient is zeroed on a sign flip (Rprop without backtracking, "Rprop-"); the state's
    ``stepsize`` (the per-weight tensor) shares its name with the config's initial ``stepsize``,
    so when the config doubles as the state the number is replaced by the tensor after the first
    call (it is only read on the first).

    State: ``delta`` (the last, zeroed-on-flip gradient), ``stepsize`` (per-weight step sizes).

    Returns
    -------
    (x, [f_1, ..., f_niter]) with each ``f`` the value before that iteration's update.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> import flambeau.optim as optim
    >>> x = ft.Tensor([1.0, -0.15])
    >>> x, fs = optim.rprop(lambda x: ((x * x).sum().item(), 2 * x), x, {"niter": 3})
    >>> [round(v, 6) for v in x.tolist()], len(fs)
    ([0.636, 0.07], 3)
    """
    c = Config("rprop", config, RPROP_DEFAULTS, state_keys=RPROP_STATE_KEYS)
    etaplus, etaminus = c.etaplus, c.etaminus
    stepsizemax, stepsizemin = c.stepsizemax, c.stepsizemin

    fs: list[float] = []
    for _ in range(int(c.niter)):
        fx, g = _evaluate(opfunc, x, "rprop")

        if state.get("delta") is None:
            state["delta"] = ft.zeros_like(x)
            state["stepsize"] = ft.zeros_like(x).fill_(c.stepsize)
        delta, stepsize = state["delta"], state["stepsize"]

        sign = ft.sign(g.mul(delta))
        flipped = sign.lt(0)
        factor = ft.ones_like(x).masked_fill_(sign.gt(0), etaplus).masked_fill_(flipped, etaminus)
        stepsize.mul_(factor)
        stepsize.masked_fill_(stepsize.gt(stepsizemax), stepsizemax)
        stepsize.masked_fill_(stepsize.lt(stepsizemin), stepsizemin)

        g = g.masked_fill(flipped, 0)
        x.addcmul_(ft.sign(g), stepsize, value=-1)
        delta.copy_(g)
        fs.append(fx)
    return x, fs
