"""What every optimizer shares: reading its config, its state, and parameters given as a tree.

Every algorithm is written once, on a flat 1-D tensor ``x`` and ``opfunc(x) -> (f, df/dx)``, and
wrapped with :func:`optimizer`, which gives it Torch's interface
``x, fs = optim.<name>(opfunc, x, config=None, state=None)`` and three things on top:

- ``x`` may be a flat tensor (as from ``model.get_parameters()``), updated in place, or any nest
  of dicts and lists of tensors. A tree is copied into one flat tensor, the algorithm runs on it
  (``opfunc`` still receives and returns trees), and every leaf is updated in place at the end, so
  a tree and its flattening give identical results, for every algorithm.
- ``config`` keys are checked: an unknown key raises an error naming the closest known one.
- When ``state`` is omitted, ``config`` doubles as the state (Torch's convention): pass the same
  dict on every call. State holds tensors and numbers only, so ``ft.save`` keeps it.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError

OpFunc = Callable[[Any], tuple[Any, Any]]


class Config:
    """An optimizer's settings: the user's config over the algorithm's defaults, keys checked.

    >>> c = Config("sgd", {"learning_rate": 0.1}, {"learning_rate": 1e-3, "momentum": 0})
    >>> c.learning_rate, c.momentum
    (0.1, 0)
    >>> Config("sgd", {"learning_rat": 0.1}, {"learning_rate": 1e-3})
    Traceback (most recent call last):
      ...
    flambeau.tensor.errors.ArgumentError: sgd: unknown config key 'learning_rat'; did you mean 'learning_rate'? (known: learning_rate)
    """

    def __init__(
        self, name: str, config: dict[str, Any] | None, defaults: dict[str, Any], state_keys: tuple[str, ...] = ()
    ):
        given = dict(config or {})
        known = set(defaults) | set(state_keys)
        for key in given:
            if key not in known and not key.startswith("_"):
                close = difflib.get_close_matches(key, sorted(defaults), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ArgumentError(f"{name}: unknown config key {key!r}{hint} (known: {', '.join(sorted(defaults))})")
        self._values = {**defaults, **{k: v for k, v in given.items() if k in defaults}}

    def __getattr__(self, key: str) -> Any:
        try:
            return self.__dict__["_values"][key]
        except KeyError:
            raise AttributeError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)


# --------------------------------------------------------------------------------------------------
# Parameter trees.


def leaves(tree: Any) -> list[Tensor]:
    """The tensors of a nest of dicts and lists, in order (dicts in their key order)."""
    if isinstance(tree, Tensor):
        return [tree]
    if isinstance(tree, dict):
        return [t for v in tree.values() for t in leaves(v)]
    if isinstance(tree, (list, tuple)):
        return [t for v in tree for t in leaves(v)]
    raise ArgumentError(f"optim: parameters must be tensors in dicts and lists, got {type(tree).__name__}")


def _rebuild(tree: Any, values: list[Tensor], pos: list[int]) -> Any:
    if isinstance(tree, Tensor):
        v = values[pos[0]]
        pos[0] += 1
        return v
    if isinstance(tree, dict):
        return type(tree)((k, _rebuild(v, values, pos)) for k, v in tree.items())
    return type(tree)(_rebuild(v, values, pos) for v in tree)


def flatten(tree: Any) -> Tensor:
    """One new 1-D tensor holding every leaf of ``tree``, in :func:`leaves` order."""
    ts = leaves(tree)
    if not ts:
        raise ArgumentError("optim: the parameter tree holds no tensor")
    return ft.cat([t.reshape(-1) for t in ts])


def unflatten(flat: Tensor, like: Any) -> Any:
    """``flat`` cut into views shaped like the leaves of ``like``, in a tree of ``like``'s structure."""
    parts = []
    offset = 0
    for t in leaves(like):
        n = t.nelement()
        parts.append(flat.narrow(0, offset, n).view(*t.size()) if t.dim() else flat.narrow(0, offset, 1).view(()))
        offset += n
    return _rebuild(like, parts, [0])


def optimizer(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Give an algorithm written on flat tensors Torch's interface, parameter trees and the config/state rule.

    ``fn(opfunc, x, config, state)`` receives a flat ``x`` and a flat-gradient ``opfunc``, and a
    ``state`` dict that persists between calls (``config`` itself when no state was given).
    """

    @functools.wraps(fn)
    def run(opfunc: OpFunc, x: Any, config: dict[str, Any] | None = None, state: dict[str, Any] | None = None) -> Any:
        if config is None:
            config = {}
        if state is None:
            state = config  # Torch: the config table doubles as the state
        if isinstance(x, Tensor):
            if x.dim() != 1:
                raise ArgumentError(
                    f"{fn.__name__}: x must be a 1-D tensor (or a tree of tensors), got size {x.size()}"
                )
            return fn(opfunc, x, config, state)
        tree = x
        flat = flatten(tree)

        def flat_opfunc(v: Tensor) -> tuple[Any, Any]:
            f, g = opfunc(unflatten(v, tree))
            if g is None:  # derivative-free algorithms (cmaes, de) take no gradient
                return f, None
            return f, (g if isinstance(g, Tensor) and g.dim() == 1 and g.nelement() == v.nelement() else flatten(g))

        out = fn(flat_opfunc, flat, config, state)
        for leaf, part in zip(leaves(tree), leaves(unflatten(flat, tree)), strict=True):
            leaf.copy_(part)  # in place, leaf by leaf
        if not isinstance(out, tuple):
            return out

        def shaped(v: Any) -> Any:  # another result shaped like x (asgd's average, cmaes's best x): a tree too
            if isinstance(v, Tensor) and v.dim() == 1 and v.nelement() == flat.nelement() and v is not flat:
                return unflatten(v.clone(), tree)
            return v

        return (tree, *(shaped(v) for v in out[1:]))

    run.__wrapped__ = fn
    return run
