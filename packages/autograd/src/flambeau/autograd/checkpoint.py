"""Gradient checkpointing: trade computation for memory by recomputing a segment in the backward pass.

``checkpoint(fn)`` returns a function that, inside ``grad``, runs ``fn`` on the plain values and
records a single node for the whole call: the tape keeps ``fn``'s inputs and outputs, none of its
intermediates. When the backward pass reaches that node, its rule runs ``fn`` again under a fresh
:class:`~flambeau.autograd.tracer.Trace` (the traced arguments boxed as leaves), back-propagates
the incoming gradient through that recomputation and hands each traced argument its gradient:
one recomputation per backward pass, whatever the number of arguments. In higher order the
recomputation runs on the outer trace's boxes, so the outer trace records it like any rule.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor, optable
from flambeau.tensor.errors import ArgumentError

from . import tracer
from .errors import TracedValueError
from .tracer import Box, Node, Trace, backward, leaf, record
from .tree import tree_map


class _Slot:
    """Where the ``i``-th tensor goes back in the arguments' structure."""

    __slots__ = ("i",)

    def __init__(self, i: int) -> None:
        self.i = i


def _flatten(x: Any, label: str, leaves: list[Any], labels: list[str]) -> Any:
    """``x`` with each tensor replaced by a :class:`_Slot`; the tensors and their labels appended."""
    if isinstance(x, Tensor):
        leaves.append(x)
        labels.append(label)
        return _Slot(len(leaves) - 1)
    if isinstance(x, dict):
        return type(x)((k, _flatten(v, f"{label}[{k!r}]", leaves, labels)) for k, v in x.items())
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*(_flatten(v, f"{label}.{f}", leaves, labels) for f, v in zip(x._fields, x, strict=True)))
    if isinstance(x, (list, tuple)):
        return type(x)(_flatten(v, f"{label}[{i}]", leaves, labels) for i, v in enumerate(x))
    return x


def _fill(t: Any, vals: list[Any]) -> Any:
    """The structure ``t`` with its slots filled from ``vals``."""
    return tree_map(lambda v: vals[v.i] if v.__class__ is _Slot else v, t)


def _strip_stale(v: Any) -> Any:
    while v.__class__ is Box and not v._g.trace.active:
        v = v._g.value
    return v


class Segment:
    """The rule key of one checkpointed call's node: names it in errors, anomaly reports and profiles.

    >>> Segment("checkpoint(block)", ("args[0]", "args[1]")).name
    'checkpoint(block)'
    """

    __slots__ = ("name", "names")

    def __init__(self, name: str, names: tuple[str, ...]) -> None:
        self.name = name
        self.names = names  # a label per tensor argument, in the node's argument order

    def __repr__(self) -> str:
        return f"<{self.name}>"


class _Recompute:
    """The rules of one checkpointed call: the first one asked recomputes every traced argument's gradient."""

    __slots__ = ("fn", "template", "traced", "rng", "g", "grads", "left")

    def __init__(self, fn: Callable[..., Any], template: Any, traced: list[int], rng: Any) -> None:
        self.fn = fn
        self.template = template
        self.traced = traced  # positions, among the tensor arguments, of those traced at this level
        self.rng = rng  # [(device, generator state)] when the call ran, or None
        self.g: Any = None
        self.grads: dict[int, Any] | None = None
        self.left = 0

    def rule(self, k: int) -> Callable[..., Any]:
        def vjp(g: Any, ans: Any, *tensors: Any) -> Any:
            if self.grads is None or self.g is not g:  # a new backward pass (jacobian sweeps several)
                self.grads = self.run(g, tensors)
                self.g = g
                self.left = len(self.traced)
            gk = self.grads[k]
            self.left -= 1
            if self.left <= 0:  # every argument served: let the gradients go
                self.g = self.grads = None
            return gk

        return vjp

    def run(self, g: Any, tensors: tuple[Any, ...]) -> dict[int, Any]:
        """Run ``fn`` again under a fresh trace and back-propagate ``g``: gradient per traced position."""
        sub = Trace()
        vals = list(tensors)
        nodes: list[Node] = []
        for k in self.traced:
            b = leaf(sub, tensors[k])
            vals[k] = b
            nodes.append(b._g)
        args, kwargs = _fill(self.template, vals)
        now = _swap_rng(self.rng) if self.rng is not None else None
        try:
            with sub:
                out = self.fn(*args, **kwargs)
        finally:
            if now is not None:
                _swap_rng(now)
        outs, gs = (out, g) if isinstance(out, (tuple, list)) else ((out,), (g,))
        end = None
        for o, go in zip(outs, gs, strict=True):
            if go is None or o.__class__ is not Box or o._g.tid != sub.id:
                continue
            node = o._g
            node.g = go if node.g is None else node.g + go
            end = node
        if end is not None:
            backward(sub, end, end.g)
        sub.tape.clear()
        return {k: node.g for k, node in zip(self.traced, nodes, strict=True)}


def _rng_states(tensors: list[Any]) -> list[tuple[Any, Any]]:
    devices = {"cpu": "cpu"}
    for t in tensors:
        devices.setdefault(str(t._d), t._d)
    return [(d, ft.get_rng_state(d)) for d in devices.values()]


def _swap_rng(states: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Put the default generators in ``states``; return their states before."""
    before = [(d, ft.get_rng_state(d)) for d, _ in states]
    for d, s in states:
        ft.set_rng_state(s, d)
    return before


def _traced_at(x: Any, tid: int) -> bool:
    if x.__class__ is Box:
        return bool(x._g.tid >= tid)
    if isinstance(x, (tuple, list)):
        return any(_traced_at(v, tid) for v in x)
    return False


def _write_guard(name: str, vals: list[Any], labels: list[str]) -> Callable[[Any, str], None]:
    """A write watcher that refuses in-place writes into the arguments (the recomputation needs them)."""

    def watch(target: Any, what: str) -> None:
        a = target._a
        xp = target._d.xp
        for v, label in zip(vals, labels, strict=True):
            if v._d is target._d and xp.may_share_memory(v._a, a):
                raise TracedValueError(
                    f"{what}: {name} writes in place into its argument {label}, which the recomputation in the"
                    " backward pass needs as it was; work on a clone (x = x.clone()) or use out-of-place ops"
                )

    return watch


def _closure_text(name: str) -> str:
    return (
        f"{name}: the function used a value that grad() is tracing without receiving it as an argument"
        " (a closure or a global?), so its work would be recorded, not checkpointed, and its gradient"
        " could be lost; pass every traced tensor it uses as an argument: checkpoint(fn)(x, W)"
    )


def _call(
    fn: Callable[..., Any], name: str, preserve_rng_state: bool, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    leaves: list[Any] = []
    labels: list[str] = []
    template = (_flatten(args, "args", leaves, labels), _flatten(kwargs, "kwargs", leaves, labels))
    top = None
    for v in leaves:
        if v.__class__ is Box and (top is None or v._g.tid > top.tid):
            top = v._g
    if top is None:  # nothing traced: just the call
        if not tracer.active_traces:
            return fn(*args, **kwargs)
        lengths = [len(t.tape) for t in tracer.active_traces]
        ans = fn(*args, **kwargs)
        if lengths != [len(t.tape) for t in tracer.active_traces[: len(lengths)]]:
            raise TracedValueError(_closure_text(name))
        return ans
    trace = top.trace
    if not trace.active:  # boxes left over from a finished grad call: constants now
        a, kw = _fill(template, [_strip_stale(v) for v in leaves])
        return _call(fn, name, preserve_rng_state, a, kw)
    tid = top.tid
    vals = list(leaves)
    traced = []
    for k, v in enumerate(vals):
        if v.__class__ is Box and v._g.tid == tid:
            vals[k] = v._g.value
            traced.append(k)
    a, kw = _fill(template, vals)
    key = Segment(name, tuple(labels))
    rng = _rng_states(vals) if preserve_rng_state else None
    length = len(trace.tape)
    watch = _write_guard(name, vals, labels)
    optable.write_watchers.append(watch)
    try:
        monitor = tracer.monitor  # [monitor hook]: anomaly detection, profiling
        ans = fn(*a, **kw) if monitor is None else monitor.forward(trace, key, fn, *a, **kw)
    finally:
        optable.write_watchers.remove(watch)
    if len(trace.tape) != length or _traced_at(ans, tid):
        raise TracedValueError(_closure_text(name))
    if not (isinstance(ans, Tensor) or (isinstance(ans, (tuple, list)) and all(isinstance(o, Tensor) for o in ans))):
        raise ArgumentError(
            f"{name}: a checkpointed function must return a tensor or a tuple or list of tensors,"
            f" got {type(ans).__name__}"
        )
    rules = _Recompute(fn, template, traced, rng)
    parents = [(leaves[k]._g, rules.rule(k), k, None) for k in traced]
    return record(trace, key, ans, vals, parents)


def checkpoint(fn: Callable[..., Any], *, preserve_rng_state: bool = True) -> Callable[..., Any]:
    """``fn`` made to keep no intermediate values for the gradient: they are recomputed in the backward pass.

    Inside a function that ``grad`` differentiates, ``checkpoint(fn)(*args, **kwargs)`` runs
    ``fn`` without recording its ops and records one node for the whole call, which keeps only
    the call's arguments and result. The backward pass runs ``fn`` again, traced, and
    back-propagates through that (once per backward pass). Checkpointing the segments of a deep
    chain keeps one segment's intermediates alive at a time instead of all of them, for about one
    more forward pass of work. Gradients are those of ``fn`` itself; higher order works (the
    recomputation is recorded by the outer trace). Outside ``grad``, it is ``fn(*args, **kwargs)``.

    The arguments may be tensors, numbers, and lists, tuples and dicts of them; ``fn`` must return a
    tensor or a tuple or list of tensors, and receive every traced tensor it uses as an argument
    (one it reaches through a closure raises ``TracedValueError``). ``fn`` should be a function of its
    arguments, since the recomputation must give the same result, and must not write into them in
    place (that raises ``TracedValueError``).

    Parameters
    ----------
    fn : callable
        The segment to checkpoint.
    preserve_rng_state : bool, default True
        Restore the default random generators (the cpu's and those of the arguments' devices) for
        the recomputation, so that random ops (dropout) draw the same numbers again.

    Returns
    -------
    callable
        The checkpointed function, with ``fn``'s name and docstring.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import checkpoint, grad
    >>> def block(x, W):
    ...     for _ in range(4):
    ...         x = ft.tanh(x @ W)
    ...     return x
    >>> def f(W, x, ckpt):
    ...     return (checkpoint(block) if ckpt else block)(x, W).sum()
    >>> W, x = ft.eye(3) * 0.5, ft.ones(2, 3)
    >>> grad(f)(W, x, True)[0].equal(grad(f)(W, x, False)[0])
    True
    """
    name = f"checkpoint({getattr(fn, '__name__', 'fn')})"

    @functools.wraps(fn)
    def checkpointed(*args: Any, **kwargs: Any) -> Any:
        return _call(fn, name, preserve_rng_state, args, kwargs)

    return checkpointed
