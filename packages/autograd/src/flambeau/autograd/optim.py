"""torch-autograd's ``autograd.optim``: flambeau.optim's optimizers driven by a gradient function.

``optimfn, state = autograd.optim.<name>(df, config, params)`` for every optimizer of
:mod:`flambeau.optim` with Torch's interface ``optim.<name>(opfunc, x, config, state)`` (``sgd``,
``adam``, ``lbfgs``, ...; looked up by name when asked for, so new ones are picked up). ``df`` is a
gradient function as :func:`flambeau.autograd.grad` makes: ``df(params, *args)`` returns
``(grads, loss, *more)`` with ``grads`` in ``params``' structure. Each ``optimfn(*args)`` runs one
step of the optimizer on ``params`` (a tensor or a nest of dicts and lists of tensors), updating it
in place, and returns what ``df`` returned.

Differences from torch-autograd, on purpose:

- **One state for the whole tree.** torch-autograd gives each leaf of ``params`` its own copy of
  the state and runs the optimizer leaf by leaf; here flambeau.optim flattens the tree into one
  vector and keeps one state (``state``, a copy of ``config``: pass it to ``ft.save`` to keep it).
  For element-wise algorithms (sgd, asgd, adagrad, adadelta, adam, adamax, nag, rmsprop, rprop)
  the steps are the same; global ones (lbfgs, cg, cmaes, de) see the whole vector, so their
  curvature pairs, line searches and populations span every leaf. Per-element config tensors
  (sgd's ``learning_rates``, ``weight_decays``) are over the whole flattened vector.
- **Every evaluation is real.** ``df`` is called wherever the optimizer evaluates: once per step
  for the one-evaluation algorithms, at nag's look-ahead point for nag, and at each line-search
  point for lbfgs and cg (torch-autograd computed the gradient once and gave the optimizer that
  same, stale, value at every point). ``optimfn`` returns the first evaluation's values: at the
  parameters before the update (at nag's look-ahead point for nag, as the optimizer's own ``f``;
  at the first candidate for the derivative-free cmaes and de, which ignore the gradients).

flambeau.optim is an optional dependency (``pip install flambeau-optim``), imported when an
optimizer is first asked for.

>>> import flambeau.tensor as ft
>>> from flambeau import autograd
>>> def loss(p, target):
...     d = p["w"] - target
...     return (d * d).sum()
>>> params = {"w": ft.Tensor([0.0, 0.0])}
>>> optimfn, state = autograd.optim.sgd(autograd.grad(loss), {"learning_rate": 0.25}, params)
>>> for _ in range(20):
...     grads, value = optimfn(ft.Tensor([1.0, -2.0]))
>>> [round(v, 4) for v in params["w"].tolist()]
[1.0, -2.0]
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError

__all__ = ["available", "wrap"]

_INTERFACE = ("opfunc", "x", "config", "state")


def _optim() -> Any:
    try:
        import flambeau.optim as optim
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "flambeau.autograd.optim needs flambeau.optim, which is not installed; install it with"
            " `pip install flambeau-optim`"
        ) from e
    return optim


def _is_optimizer(fn: Any) -> bool:
    """Whether ``fn`` has Torch's optimizer interface ``fn(opfunc, x, config, state)``."""
    if not callable(fn) or isinstance(fn, type):
        return False
    try:
        params = tuple(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return False
    return params[:4] == _INTERFACE


def available() -> list[str]:
    """The names of flambeau.optim's optimizers that ``autograd.optim`` wraps (those present now).

    >>> from flambeau import autograd
    >>> set(autograd.optim.available()) <= set(dir(autograd.optim))
    True
    """
    optim = _optim()
    # Every public name, not just __all__: flambeau.optim star-imports its algorithm modules.
    return sorted(n for n in dir(optim) if not n.startswith("_") and _is_optimizer(getattr(optim, n, None)))


def _loss_value(v: Any) -> Any:
    """The loss as the optimizer wants it: a Python float (a one-element tensor is read out)."""
    if isinstance(v, Tensor):
        if v.nelement() != 1:
            raise ArgumentError(
                f"autograd.optim: the loss (df's second value) must be a scalar, got a tensor of size {v.size()}"
            )
        return float(v.item())
    return float(v)


def wrap(
    optimizer: Callable[..., Any],
) -> Callable[[Callable[..., Any], dict[str, Any] | None, Any], tuple[Callable[..., Any], dict[str, Any]]]:
    """torch-autograd's wrapper around one optimizer ``optimizer(opfunc, x, config, state)``.

    Returns ``make(df, config, params) -> (optimfn, state)``; see the module's description.
    ``autograd.optim.<name>`` is ``wrap(flambeau.optim.<name>)``. ``state`` is a copy of
    ``config`` that the optimizer also keeps its state in (Torch's "config doubles as state"); the
    caller's ``config`` dict is not changed.

    >>> import flambeau.tensor as ft
    >>> import flambeau.optim as optim
    >>> from flambeau import autograd
    >>> x = ft.Tensor([2.0])
    >>> optimfn, state = autograd.optim.wrap(optim.sgd)(autograd.grad(lambda x: (x * x).sum()), {"learning_rate": 0.5}, x)
    >>> grads, loss = optimfn()
    >>> grads.tolist(), float(loss), x.tolist()
    ([4.0], 4.0, [0.0])
    """
    if not _is_optimizer(optimizer):
        raise ArgumentError(
            f"autograd.optim.wrap: {getattr(optimizer, '__name__', optimizer)!r} does not take"
            " (opfunc, x, config, state) as Torch's optimizers do"
        )
    name = getattr(optimizer, "__name__", "optimizer")

    def make(
        df: Callable[..., Any], config: dict[str, Any] | None = None, params: Any = None
    ) -> tuple[Callable[..., Any], dict[str, Any]]:
        if not callable(df):
            raise ArgumentError(f"autograd.optim.{name}: df must be a gradient function, got {type(df).__name__}")
        if params is None:
            raise ArgumentError(f"autograd.optim.{name}: give the parameters to optimize: {name}(df, config, params)")
        state: dict[str, Any] = dict(config or {})

        def optimfn(*args: Any) -> Any:
            first: list[tuple[Any, ...]] = []

            def opfunc(x: Any) -> tuple[Any, Any]:
                out = df(x, *args)
                if not isinstance(out, tuple) or len(out) < 2:
                    raise ArgumentError(
                        f"autograd.optim.{name}: df must return (grads, loss, ...) as autograd.grad's functions do,"
                        f" got {type(out).__name__}"
                    )
                if not first:
                    first.append(out)
                return _loss_value(out[1]), out[0]

            optimizer(opfunc, params, state)
            if not first:  # an optimizer that evaluated nothing: give df's values at params all the same
                first.append(df(params, *args))
            return first[0]

        return optimfn, state

    make.__name__ = name
    make.__qualname__ = name
    make.__doc__ = (
        f"``optimfn, state = autograd.optim.{name}(df, config, params)``: flambeau.optim.{name} driven by"
        " the gradient function ``df``; see :mod:`flambeau.autograd.optim`."
    )
    return make


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    optim = _optim()
    fn = getattr(optim, name, None)
    if fn is None or not _is_optimizer(fn):
        raise AttributeError(
            f"module 'flambeau.autograd.optim' has no attribute {name!r}"
            f" (flambeau.optim's optimizers: {', '.join(available()) or 'none yet'})"
        )
    return wrap(fn)


def __dir__() -> list[str]:
    try:
        names = available()
    except ImportError:  # pragma: no cover
        names = []
    return sorted({*globals(), *names})
