"""Gradient rules: one table keyed by op records (and primitives), filled through pluggy.

A rule is ``vjp(g, ans, *args)``: given the gradient ``g`` flowing into the op's result ``ans``
(a tuple of gradients, ``None`` for unused outputs, when the op returns several tensors) and the
op's arguments in declaration order (a ``*param`` as one tuple), it returns the gradient for one
argument, written with flambeau ops so that it can be differentiated again. ``None`` means zero.
Broadcasting is undone and the dtype matched by the caller, so rules may return a gradient of the
broadcast shape.

Rules arrive through the hook ``flambeau_register_gradients(register)`` of the plugin manager
that flambeau.tensor's backends use: the built-in rules (:mod:`flambeau.autograd.rules`) first,
then every plugin of the entry-point group ``flambeau.gradients``, loaded on the first
differentiation. :func:`defvjp` registers at run time; :func:`gradients_info` lists who supplied
what.
"""

from __future__ import annotations

import importlib.metadata
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flambeau.tensor import optable
from flambeau.tensor.errors import RegistrationError
from flambeau.tensor.registry import hookspec, plugin_manager

ENTRY_POINT_GROUP = "flambeau.gradients"

# key (an Op or a Primitive) -> argument position -> vjp: what the tracer reads.
RULES: dict[Any, dict[int, Callable[..., Any]]] = {}
# key -> position -> [(vjp, source), ...]: every registration, the last one in force.
_HISTORY: dict[Any, dict[int, list[tuple[Callable[..., Any], str]]]] = {}


class GradientSpecs:
    @hookspec
    def flambeau_register_gradients(self, register: Any) -> None:
        """Register rules by calling ``register(op, *vjps, override=False, **named_vjps)``.

        ``op`` is an op name (``"floor"``), an op record or a primitive; positional vjps follow the
        op's differentiable arguments in order (for a primitive: its parameters), named ones name
        the parameter.
        """


plugin_manager.add_hookspecs(GradientSpecs)


@dataclass(frozen=True)
class GradientInfo:
    """One line of :func:`gradients_info`: the rule for one argument of one op, and its source."""

    op: str
    argument: str
    position: int
    source: str

    def __str__(self) -> str:
        return f"{self.op}[{self.position}] ({self.argument}): from {self.source}"


def resolve(target: Any) -> Any:
    """The rule key for an op name, op record, generated op function or primitive."""
    from .tracer import Primitive

    if isinstance(target, (optable.Op, Primitive)):
        return target
    op = getattr(target, "__op__", None)
    if isinstance(op, optable.Op):
        return op
    if isinstance(target, str):
        op = optable.OPS.get(target) or optable.OPS.get(target + "_")
        if op is None:
            raise RegistrationError(f"defvjp: there is no op named {target!r} in the op table")
        return op
    raise RegistrationError(
        f"defvjp: expected an op name, an op function or an autograd.primitive, got {type(target).__name__}"
    )


def _params(key: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(every parameter name in order, the names that may carry a traced tensor)."""
    if isinstance(key, optable.Op):
        return tuple(p.name for p in key.params), key.tensors + key.seqs
    return key.names, key.names


def positions(key: Any, vjps: tuple[Any, ...], named: dict[str, Any]) -> dict[int, Any]:
    names, traced = _params(key)
    label = getattr(key, "name", str(key))
    if isinstance(key, optable.Op):
        order = key.differentiable or key.tensors
    else:
        order = names
    if len(vjps) > len(order):
        raise RegistrationError(
            f"defvjp: {label} takes rules for {len(order)} argument(s) ({', '.join(order)}), got {len(vjps)}"
        )
    out = {names.index(n): v for n, v in zip(order, vjps, strict=False)}
    for n, v in named.items():
        if n not in traced:
            raise RegistrationError(
                f"defvjp: {label} has no tensor argument {n!r} (its tensor arguments: {', '.join(traced)})"
            )
        out[names.index(n)] = v
    return out


def defvjp(target: Any, *vjps: Any, override: bool = False, source: str = "user code", **named: Any) -> Any:
    """Give an op (or a primitive) a gradient rule per argument, ``vjp(g, ans, *args)``.

    Positional rules follow the op's differentiable arguments in order (for an op that has none,
    such as ``floor``, its tensor arguments; for a primitive, its parameters); keyword rules name
    the argument. ``None`` declares a zero gradient. Replacing a rule that exists needs
    ``override=True``; :func:`undefvjp` takes a registration back.

    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import grad, defvjp, undefvjp
    >>> f = lambda a: ft.floor(a ** 3).sum()
    >>> grad(f)(ft.eye(2))[0].tolist()  # floor is piecewise constant
    [[0.0, 0.0], [0.0, 0.0]]
    >>> _ = defvjp("floor", lambda g, ans, x: g)  # the talk's pass-through gradient
    >>> grad(f)(ft.eye(2))[0].tolist()
    [[3.0, 0.0], [0.0, 3.0]]
    >>> undefvjp("floor")
    """
    key = resolve(target)
    load_gradients()
    return _define(key, positions(key, vjps, named), override, source)


def _define(key: Any, rules: dict[int, Any], override: bool, source: str) -> Any:
    names, _ = _params(key)
    hist = _HISTORY.setdefault(key, {})
    if not override:
        for i in rules:
            if hist.get(i):
                old = hist[i][-1][1]
                raise RegistrationError(
                    f"{getattr(key, 'name', key)}: argument {i} ({names[i]!r}) already has a gradient rule from"
                    f" {old}; registering another from {source} needs override=True"
                )
    for i, v in rules.items():
        hist.setdefault(i, []).append((zero_gradient if v is None else v, source))
    _refresh(key)
    return key


def zero_gradient(g: Any, ans: Any, *args: Any) -> None:
    """The rule registered as ``None``: this argument gets no gradient (declared, not missing)."""
    return None


# Bumped whenever the live rules change: optimized programs recorded under other rules are stale.
VERSION = [0]


def _refresh(key: Any) -> None:
    VERSION[0] += 1
    live = {i: stack[-1][0] for i, stack in _HISTORY.get(key, {}).items() if stack}
    if live:
        RULES[key] = live
    else:
        RULES.pop(key, None)


def undefvjp(target: Any) -> None:
    """Take back the latest rule registered for each argument of ``target`` (earlier ones return)."""
    key = resolve(target)
    for stack in _HISTORY.get(key, {}).values():
        if stack:
            stack.pop()
    _refresh(key)


def gradients_info(target: Any = None) -> list[GradientInfo]:
    """Which rule is in force for each argument of ``target`` (every op when None), and its source.

    >>> from flambeau.autograd import gradients_info
    >>> [str(i) for i in gradients_info("mul")]  # doctest: +ELLIPSIS
    ['mul[0] (input): from flambeau-autograd ...', 'mul[1] (other): from flambeau-autograd ...']
    """
    load_gradients()
    keys = [resolve(target)] if target is not None else list(_HISTORY)
    out = []
    for key in keys:
        names, _ = _params(key)
        for i, stack in sorted(_HISTORY.get(key, {}).items()):
            if stack:
                out.append(GradientInfo(getattr(key, "name", str(key)), names[i], i, stack[-1][1]))
    return out


# --------------------------------------------------------------------------------------------
# Loading plugins.

_lock = threading.RLock()
_loaded = False  # set once every rule is registered: other threads wait on _lock until then
_loading = False  # the loading thread is inside load_gradients (a plugin's register() calls back)


def _dist_of(name: str) -> str:
    try:
        return f"{name} {importlib.metadata.version(name)}"
    except importlib.metadata.PackageNotFoundError:
        return name


def _registrar(source: str) -> Callable[..., Any]:
    def register(op: Any, *vjps: Any, override: bool = False, **named: Any) -> Any:
        key = resolve(op)
        return _define(key, positions(key, vjps, named), override, source)

    return register


def load_gradients() -> None:
    """Register the built-in rules, then every ``flambeau.gradients`` plugin (once)."""
    global _loaded, _loading
    if _loaded:
        return
    with _lock:
        if _loaded or _loading:  # _loading: a call back from a plugin's register(), in the loading thread
            return
        # _loaded is set only once every rule is in: a thread that sees it True finds the rules
        # (setting it first let a second thread's first grad run with no rules: MissingGradientError).
        _loading = True
        try:
            from . import rules

            pm = plugin_manager
            if pm.get_plugin("flambeau-autograd") is None:
                pm.register(rules, name="flambeau-autograd")
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
            dists = {id(p): f"{d.project_name} {d.version}" for p, d in pm.list_plugin_distinfo()}
            impls = pm.hook.flambeau_register_gradients.get_hookimpls()
            impls.sort(key=lambda impl: impl.plugin is not rules)  # built-ins first, plugins may override
            for impl in impls:
                source = _dist_of("flambeau-autograd") if impl.plugin is rules else dists.get(id(impl.plugin), "")
                impl.function(register=_registrar(source or f"plugin {impl.plugin_name}"))
        finally:
            _loaded = True  # tried once, as before: a failing plugin is not retried on every call
            _loading = False


def register_gradients(plugin: Any, name: str | None = None) -> None:
    """Register a gradient plugin object at run time (instead of through an entry point)."""
    load_gradients()
    name = name or getattr(plugin, "__name__", None) or type(plugin).__qualname__
    try:
        plugin_manager.register(plugin, name=name)
    except ValueError as e:
        raise RegistrationError(f"gradient plugin {name!r} cannot be registered: {e}") from None
    try:
        for impl in plugin_manager.hook.flambeau_register_gradients.get_hookimpls():
            if impl.plugin is plugin:
                impl.function(register=_registrar(f"plugin {name}"))
    except Exception:
        plugin_manager.unregister(plugin)
        raise
