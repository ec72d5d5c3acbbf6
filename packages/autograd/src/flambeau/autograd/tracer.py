"""Tracing by boxes, HIPS style: how ``grad`` sees every op a function runs.

A traced tensor is a :class:`Box`: a ``Tensor`` subclass with the same memory layout, whose
``_a``/``_d`` are those of the value it stands for (so sizes, dtypes and printing work
unchanged) and whose ``_g`` slot holds its :class:`Node`. Each ``grad`` call opens a
:class:`Trace` with a fresh, increasing id; boxes of nested traces wrap boxes of outer ones, and
an op unwraps only the boxes of the innermost trace among its arguments. That is all
``grad(grad(f))`` needs: the inner backward pass runs flambeau ops on outer boxes, so the outer
trace records it.

The op table routes any op that receives a Box to :func:`handle` (``optable.register_handler``),
so a call with plain tensors never pays for tracing. A traced op runs its forward on the
unwrapped values, appends a node to the trace's tape (execution order is a topological order)
and returns a new Box. :func:`backward` walks the tape in reverse, calling each argument's rule
``vjp(g, ans, *args)``, and frees each node's saved values as it goes.

In-place ops on traced tensors are functional: the box is re-pointed at a new value and node
(copy on write), so a value a recorded op saved is never overwritten. Boxes made by view ops
remember their base: writing into a view writes the base (``index_put`` at the view's key),
and writing into a base re-derives its live views, so aliasing behaves as with plain tensors.
A plain tensor that receives a traced value (``out[i] = w * x``) becomes a Box for the rest of
the trace and a plain tensor again, holding the final value, when the trace ends.
"""

from __future__ import annotations

import inspect
import itertools
import threading
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

import flambeau.tensor as ft
from flambeau.tensor import Tensor, optable
from flambeau.tensor.errors import ArgumentError, DTypeError, ShapeError, size_text
from flambeau.tensor.optable import OPS, Op, trusted_values

from .errors import MissingGradientError, TracedValueError
from .registry import RULES, load_gradients

_new = object.__new__
_trace_ids = itertools.count(1)
active_traces: list[Trace] = []
# Guards active_traces with optable.write_watchers: grad calls in several threads enter and leave
# traces at the same time, and _check_write must be watching exactly while some trace is active.
_traces_lock = threading.Lock()
# [monitor hook] The object anomaly detection and profiling install (monitor.Monitor), None when both
# are off: handle() and Primitive.__call__ check it once per traced op, backward() once per node.
monitor: Any = None


class Trace:
    """One ``grad`` call's recording: a tape of nodes in execution order."""

    __slots__ = ("id", "tape", "active", "promoted", "views")

    def __init__(self) -> None:
        self.id = next(_trace_ids)
        self.tape: list[Node] = []
        self.active = True
        self.promoted: list[Tensor] = []  # plain tensors turned into boxes by an in-place write
        self.views: dict[int, tuple[Any, list[Any]]] = {}  # id(base box) -> (ref(base), [ref(view), ...])

    def __enter__(self) -> Trace:
        with _traces_lock:
            if not active_traces:
                optable.write_watchers.append(_check_write)
            active_traces.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.active = False
        with _traces_lock:
            active_traces.remove(self)
            if not active_traces:
                optable.write_watchers.remove(_check_write)
        for t in self.promoted:  # back to plain tensors (or to boxes of the outer trace)
            while t.__class__ is Box and t._g.tid >= self.id:
                v = t._g.value
                t._a = v._a
                if v.__class__ is Tensor:
                    t.__class__ = Tensor  # type: ignore[assignment]  # a Box becomes plain again
                    del t._g
                else:  # a box of an outer trace, or a symbol of an optimize capture
                    t.__class__ = v.__class__
                    t._g = v._g
        self.promoted = []
        self.views = {}


class Node:
    """A recorded op: its rule key (an Op or a Primitive), unwrapped args and result, and parents.

    ``parents`` holds ``(parent node, vjp, argument position, index in a sequence argument or
    None)``. ``g`` accumulates the gradient flowing into the node during :func:`backward`.
    ``view`` is ``(base box, op, args)`` for a node made by a view op from a traced base.
    """

    __slots__ = ("trace", "tid", "value", "key", "args", "parents", "g", "view")
    trace: Trace
    tid: int
    value: Any
    key: Any
    args: Any
    parents: Any
    g: Any
    view: Any

    def __repr__(self) -> str:
        name = getattr(self.key, "name", "leaf")
        return f"<node {name} of trace {self.tid}>"


class Box(Tensor):
    """A traced tensor. It behaves as a ``Tensor`` in every op; see the module docstring."""

    __slots__ = ()

    # -- conversions that would leave the graph: explain instead of silently detaching --------
    def _refuse(self, what: str) -> Any:
        raise TracedValueError(
            f"{what} on a tensor that grad() is tracing would turn it into a constant and silently lose its"
            f" gradient (a {self.type()} of size {self.size()}). Stay with tensor ops (ft.sin(x), not math.sin(x);"
            " x.sum(), not sum(x.tolist())); if you do mean a constant, take autograd.detach(x) first."
        )

    def item(self) -> Any:
        return self._refuse("item()")

    def __float__(self) -> float:
        return self._refuse("float()")

    def __int__(self) -> int:
        return self._refuse("int()")

    def __complex__(self) -> complex:
        return self._refuse("complex()")

    def tolist(self) -> Any:
        return self._refuse("tolist()")

    totable = tolist

    def numpy(self) -> Any:
        return self._refuse("numpy()")

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        return self._refuse("conversion to a numpy array")

    def __reduce__(self) -> Any:
        return self._refuse("pickling")

    def __bool__(self) -> bool:  # Python control flow on traced values is fine: it is not differentiated
        return bool(detach(self).item())

    def __format__(self, spec: str) -> str:
        return format(detach(self), spec)

    # -- methods of Tensor that are not ops: traced here ---------------------------------------
    def clone(self) -> Tensor:
        return _clone(self)

    def contiguous(self) -> Tensor:
        return self if self._a.flags.c_contiguous else _clone(self)

    def _converted(self, dt: Any) -> Tensor:  # the data steps of Tensor.type and Tensor.to, traced
        return _cast(self, str(np.dtype(dt)))

    def _moved(self, d: Any) -> Tensor:
        return _move(self, str(d))

    def copy_(self, src: Any) -> Tensor:
        return rebind(self, _copy_like(self, src), "copy_")

    def fill_(self, value: Any) -> Tensor:
        if value.__class__ is Box:
            return rebind(self, _copy_like(self, value), "fill_")
        return rebind(self, ft.full(*self._a.shape, fill_value=value, dtype=self._a.dtype, device=self._d), "fill_")

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def set_(self, *args: Any, **kwargs: Any) -> Tensor:
        raise TracedValueError("set_: a traced tensor cannot be re-pointed at other memory; build a new tensor instead")

    def resize_(self, *sizes: Any) -> Tensor:
        raise TracedValueError(
            f"resize_: a traced tensor (size {self.size()}) cannot be resized in place; use view/reshape or a new tensor"
        )

    def resize_as_(self, other: Tensor) -> Tensor:
        return self.resize_(*other._a.shape)


def detach(x: Any) -> Any:
    """The value of ``x`` with every level of tracing removed: a constant for the gradient.

    >>> import flambeau.tensor as ft
    >>> from flambeau.autograd import grad, detach
    >>> grad(lambda x: (x * detach(x)).sum())(ft.ones(2))[0].tolist()  # d/dx of x * c is c
    [1.0, 1.0]
    """
    while x.__class__ is Box:
        x = x._g.value
    return x


# Tensor subclasses (optimize's capture symbols) whose one-element values become a Python float
# gradient later, not now: class -> converter. Anything else is read with item().
FLOAT_LATER: dict[type, Callable[[Any], Any]] = {}


# Tensor subclasses that must vet a traced value being written into one of them (turning it
# into a box): class -> check(target, label), raising to refuse.
PROMOTE_CHECKS: dict[type, Callable[[Any, str], None]] = {}


def float_of(g: Any) -> Any:
    """A float leaf's gradient: a Python float, or a box (higher order) or symbol that stands for one."""
    if g.__class__ is Box:
        return g
    later = FLOAT_LATER.get(g.__class__)
    return later(g) if later is not None else float(Tensor.item(g))


def value_of(x: Any, trace: Trace) -> Any:
    """``x`` with the boxes of ``trace`` (and of traces nested in it) removed."""
    while x.__class__ is Box and x._g.tid >= trace.id:
        x = x._g.value
    return x


# --------------------------------------------------------------------------------------------
# Recording an op.


class _Spec:
    """Per-op facts for the handler, computed on first use."""

    __slots__ = ("names", "tpos", "spos", "nparams", "forward", "view_key")

    def __init__(self, op: Op):
        self.names = tuple(p.name for p in op.params)
        self.nparams = len(self.names)
        self.tpos = tuple(self.names.index(n) for n in op.tensors)
        self.spos = tuple(self.names.index(n) for n in op.seqs)
        self.forward = _forward_caller(op)
        self.view_key = op.result == "view" or None  # results that share the input's memory


def _forward_caller(op: Op) -> Callable[[list[Any]], Any]:
    """``call(values)``: the op's generated function on positional values (its fast path)."""
    fn = getattr(ft, op.name, None) if "function" in op.variants else None
    if fn is None or getattr(fn, "__op__", None) is not op:
        names = [p.name for p in op.params]
        return lambda vals: optable.call(op, dict(zip(names, vals, strict=True)))
    if all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in op.params):
        return lambda vals: fn(*vals)
    parts = []
    for i, p in enumerate(op.params):
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            parts.append(f"*v[{i}]")
        elif p.kind is inspect.Parameter.KEYWORD_ONLY:
            parts.append(f"{p.name}=v[{i}]")
        else:
            parts.append(f"v[{i}]")
    ns = {"fn": fn}
    exec(f"def call(v): return fn({', '.join(parts)})", ns)
    return ns["call"]


_SPECS: dict[Op, _Spec] = {}


def _top(vals: list[Any], spec: _Spec) -> Node | None:
    top = None
    for i in spec.tpos:
        v = vals[i]
        if v.__class__ is Box and (top is None or v._g.tid > top.tid):
            top = v._g
    for i in spec.spos:
        for v in vals[i]:
            if v.__class__ is Box and (top is None or v._g.tid > top.tid):
                top = v._g
    return top


def _strip_stale(v: Any) -> Any:
    while v.__class__ is Box and not v._g.trace.active:
        v = v._g.value
    return v


def handle(op: Op, args: tuple[Any, ...], out: Any, target: Any) -> Any:
    """The op table's handler for boxes: run ``op`` on unwrapped values and record it."""
    spec = _SPECS.get(op)
    if spec is None:
        spec = _SPECS.setdefault(op, _Spec(op))
    vals = list(args)
    if len(active_traces) == 1 and out is None and target is None and not spec.spos:
        # The common case, kept short: one grad active, an op of tensors and numbers, a new result.
        trace = active_traces[0]
        tid = trace.id
        rules = RULES.get(op)
        parents: list[tuple[Any, Any, int, int | None]] = []
        for i in spec.tpos:
            v = vals[i]
            if v.__class__ is Box:
                node = v._g
                vjp = rules.get(i) if rules is not None else None
                if node.tid != tid or vjp is None:
                    break  # a stale box or a missing rule: the general path sorts it out
                vals[i] = node.value
                parents.append((node, vjp, i, None))
        else:
            # [monitor hook]
            ans = spec.forward(vals) if monitor is None else monitor.forward(trace, op, spec.forward, vals)
            if ans.__class__ is not Tensor or ans._a.dtype.kind not in "fc" or spec.view_key is not None:
                res = record(trace, op, ans, vals, parents, op.result)
                if spec.view_key is not None and res.__class__ is Box and parents[0][2] == 0:
                    _note_view(trace, args[0], res, op, spec, vals)
                return res
            return _boxed(trace, op, ans, vals, parents)
        vals = list(args)
    top = _top(vals, spec)
    if top is None or not top.trace.active:  # boxes left over from a finished grad call: constants now
        for i in spec.tpos:
            vals[i] = _strip_stale(vals[i])
        for i in spec.spos:
            vals[i] = [_strip_stale(v) for v in vals[i]]
        if _top(vals, spec) is None:
            ans = spec.forward(vals)
            return _place(ans, out, target, op.name) if (out is not None or target is not None) else ans
        return handle(op, tuple(vals), out, target)
    tid = top.tid
    rules = RULES.get(op)
    parents = []
    missing = []
    for i in spec.tpos:
        v = vals[i]
        if v.__class__ is Box and v._g.tid == tid:
            node = v._g
            vals[i] = node.value
            vjp = rules.get(i) if rules else None
            if vjp is None:
                missing.append(spec.names[i])
            else:
                parents.append((node, vjp, i, None))
    for i in spec.spos:
        seq = list(vals[i])
        for j, v in enumerate(seq):
            if v.__class__ is Box and v._g.tid == tid:
                seq[j] = v._g.value
                vjp = rules.get(i) if rules else None
                if vjp is None:
                    missing.append(f"{spec.names[i]}[{j}]")
                else:
                    parents.append((v._g, vjp, i, j))
        vals[i] = seq
    if missing and (rules or op.differentiable):
        raise MissingGradientError(_missing_text(op.name, missing, spec.names, op))
    # [monitor hook]
    ans = spec.forward(vals) if monitor is None else monitor.forward(top.trace, op, spec.forward, vals)
    if not parents:  # not differentiable (comparisons, floor, argmax, ...): a constant result
        return _place(ans, out, target, op.name) if (out is not None or target is not None) else ans
    res = record(top.trace, op, ans, vals, parents, op.result)
    if spec.view_key is not None and res.__class__ is Box and parents[0][2] == 0:
        _note_view(top.trace, args[0], res, op, spec, vals)
    if target is not None:
        return rebind(target, res, op.name + "_")
    if out is not None:
        return rebind(out, res, op.name + "(out=)", resize=True)
    return res


def _missing_text(name: str, missing: list[str], names: tuple[str, ...], op: Any) -> str:
    which = ", ".join(f"argument {names.index(m.split('[')[0])} ({m!r})" for m in missing)
    have = sorted(names[i] for i in RULES.get(op, {}))
    return (
        f"{name}: no gradient rule for {which}, which is traced; "
        + (f"rules exist for {', '.join(have)}. " if have else "the op has no gradient rule. ")
        + "Pass a constant there (autograd.detach), or give it a rule with autograd.defvjp."
    )


def record(trace: Trace, key: Any, ans: Any, vals: list[Any], parents: list[Any], result: str = "tensor") -> Any:
    """Append a node for ``ans`` to the tape and box it (each float tensor of a tuple or list result)."""
    if isinstance(ans, Tensor):
        if ans._a.dtype.kind not in "fc":
            trace.tape.append(_node(trace, key, ans, tuple(vals), tuple(parents)))  # kept for the write watch
            return detach(ans)
        return _boxed(trace, key, ans, tuple(vals), tuple(parents))
    node = _node(trace, key, ans, tuple(vals), tuple(parents))
    trace.tape.append(node)
    if isinstance(ans, (tuple, list)):
        outs = [
            _boxed(trace, _PROJECT, a, (i, len(ans)), ((node, None, 0, None),))
            if isinstance(a, Tensor) and a._a.dtype.kind in "fc"
            else a
            for i, a in enumerate(ans)
        ]
        return type(ans)(*outs) if hasattr(ans, "_fields") else type(ans)(outs)
    return ans


def _node(trace: Trace, key: Any, value: Any, args: Any, parents: Any) -> Node:
    node = _new(Node)
    node.trace = trace
    node.tid = trace.id
    node.value = value
    node.key = key
    node.args = args
    node.parents = parents
    node.g = None
    node.view = None
    return node


def _boxed(trace: Trace, key: Any, value: Tensor, args: Any, parents: Any, on_tape: bool = True) -> Box:
    """A new node for ``value`` (appended to the tape unless a leaf) and the box that carries it."""
    node = _node(trace, key, value, args, parents)
    if on_tape:
        trace.tape.append(node)
    box = _new(Box)
    box._a = value._a
    box._d = value._d
    box._g = node
    return box


_NUMBERS = (int, float, np.number, np.bool_)
_PROJECT = object()  # key of the nodes that pick one output of a tuple- or list-valued op


def leaf(trace: Trace, value: Tensor) -> Box:
    """A box for a differentiated input (its node is not on the tape: nothing to run backward)."""
    return _boxed(trace, None, value, (), (), on_tape=False)


# --------------------------------------------------------------------------------------------
# In-place writes: copy on write, views kept in step.


def _index_back(key_of: Callable[..., Any]) -> Callable[..., Any]:
    """Write-back for a view that picks elements: ``index_put`` at the view's place in the base."""
    return lambda base, new, *args: ft.index_put(base, key_of(tuple(base.size()), *args), new)


def _sub_key(shape: tuple[int, ...], bounds: tuple[int, ...]) -> tuple[Any, ...]:
    return tuple(slice(bounds[i], (bounds[i + 1] + 1) or None) for i in range(0, len(bounds), 2))


def _narrow_key(shape: tuple[int, ...], dim: int, start: int, length: int) -> tuple[Any, ...]:
    d = dim % len(shape)
    start = start % shape[d] if start < 0 else start
    return (slice(None),) * d + (slice(start, start + length),)


def _permute_back(base: Any, new: Any, dims: tuple[int, ...]) -> Any:
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    n = len(dims)
    inverse = [0] * n
    for i, d in enumerate(dims):
        inverse[d % n] = i
    return new.permute(*inverse)


# View op -> write-back(base, new view value, *view args) -> the new base value (traced). A view
# whose elements repeat or overlap (expand, unfold) has none: writing into it is refused.
_WRITE_BACK: dict[str, Callable[..., Any]] = {
    "select": _index_back(lambda shape, dim, index: (slice(None),) * (dim % len(shape)) + (index,)),
    "narrow": _index_back(_narrow_key),
    "sub_view": _index_back(_sub_key),
    "getitem": lambda base, new, key: ft.index_put(base, key, new),
    "transpose": lambda base, new, d0, d1: new.transpose(d0, d1),
    "t": lambda base, new: new.t(),
    "permute": _permute_back,
    "view": lambda base, new, size: new.reshape(*base.size()),
    "view_as": lambda base, new, other: new.reshape(*base.size()),
    "squeeze": lambda base, new, dim: new.reshape(*base.size()),
    "unsqueeze": lambda base, new, dim: new.reshape(*base.size()),
}


def _basic(key: Any) -> bool:
    items = key if isinstance(key, tuple) else (key,)
    return all(isinstance(k, (int, np.integer, slice)) or k is None or k is Ellipsis for k in items)


def _note_view(trace: Trace, base: Any, view: Box, op: Op, spec: _Spec, vals: list[Any]) -> None:
    args = tuple(vals[1:])
    if op.name == "getitem" and not _basic(args[0]):
        return  # advanced indexing copies
    view._g.view = (base, op, args)
    entry = trace.views.get(id(base))
    if entry is None or entry[0]() is not base:
        entry = trace.views[id(base)] = (weakref.ref(base), [])
    entry[1].append(weakref.ref(view))


def _place(ans: Any, out: Any, target: Any, name: str) -> Any:
    if target is not None:
        return rebind(target, ans, name + "_")
    return rebind(out, ans, name + "(out=)", resize=True)


def rebind(target: Tensor, new: Any, label: str, resize: bool = False) -> Tensor:
    """Make ``target`` hold ``new`` (the out-of-place result of an in-place op on it), keeping views in step."""
    if not isinstance(new, Tensor):
        raise ArgumentError(f"{label}: an in-place form needs a tensor result")
    if not resize and new._a.shape != target._a.shape:
        raise ShapeError(
            f"{label}: the result has size {size_text(new._a.shape)}, which cannot be written in place"
            f" into a tensor of size {size_text(target._a.shape)}"
        )
    if new._a.dtype != target._a.dtype:
        if not np.can_cast(new._a.dtype, target._a.dtype, "same_kind"):
            raise DTypeError(
                f"{label}: the result is {new.type()} and cannot be stored in place in a {target.type()};"
                " convert the target first (e.g. .double())"
            )
        new = new.type(target._a.dtype)
    if target.__class__ is Box:
        info = target._g.view
        if info is not None and target._g.trace.active:
            base, op, args = info
            back = _WRITE_BACK.get(op.name)
            if back is None:
                raise TracedValueError(
                    f"{label}: writing in place into a traced {op.name} view is not supported (its elements"
                    " repeat or overlap in the base); write into the base tensor, or use out-of-place ops"
                )
            rebind(base, back(base, new, *args), label)  # re-derives this view too
            return target
        _set(target, new)
        if new.__class__ is Box:
            target._g.view = None  # the node may have been made as a view of a temporary: target is no view
    elif new.__class__ is Box:
        check = PROMOTE_CHECKS.get(target.__class__)
        if check is not None:  # a tensor subclass of someone else's (optimize's symbols) may object
            check(target, label)
        target.__class__ = Box
        target._a, target._d, target._g = new._a, new._d, new._g
        new._g.view = None
        new._g.trace.promoted.append(target)
    else:  # a constant result into a plain tensor: a real write (watched like any other)
        if resize and new._a.shape != target._a.shape:
            target.resize_(*new._a.shape)
        optable.assign(OPS["index_put"], target, new._a, label=label)
        return target
    _rederive(target)
    return target


def _set(target: Any, new: Any) -> None:
    target._a = new._a
    target._d = new._d
    if new.__class__ is Box:
        target._g = new._g
    else:
        target.__class__ = Tensor
        del target._g


def _rederive(base: Any) -> None:
    for trace in tuple(active_traces):
        entry = trace.views.get(id(base))
        if entry is None or entry[0]() is not base:
            continue
        live = []
        for ref in entry[1]:
            view = ref()
            if view is not None and view.__class__ is Box and view._g.view is not None and view._g.view[0] is base:
                live.append((ref, view))
        entry[1][:] = [ref for ref, _ in live]
        for _, view in live:
            _, op, args = view._g.view
            _set(view, _SPECS[op].forward([base, *args]))  # recorded again: a view of the new base
            _rederive(view)


def _check_write(target: Any, what: str) -> None:
    """Refuse an in-place write into a plain tensor's memory that a recorded op still needs."""
    a = target._a
    xp = target._d.xp
    for trace in tuple(active_traces):  # a copy: other threads' grad calls come and go meanwhile
        for node in trace.tape:
            args = node.args  # read once: a finished trace's sweep may clear it meanwhile
            if args is None:
                continue
            for i, v in enumerate(args):
                if isinstance(v, Tensor) and v._d is target._d and xp.may_share_memory(v._a, a):
                    name = getattr(node.key, "name", "an op")
                    raise TracedValueError(
                        f"{what}: this tensor (size {target.size()}) is argument {i} of {name}, recorded for the"
                        " gradient, which still needs its values; writing into it would make the gradient silently"
                        " wrong. Modify a clone (x = x.clone()) or do the write before using the tensor."
                    )


# --------------------------------------------------------------------------------------------
# Backward.


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` down to ``shape``, undoing numpy broadcasting (leading dims, then size-1 dims)."""
    gs = g._a.shape
    if gs == shape:
        return g
    lead = len(gs) - len(shape)
    if lead < 0:
        return g.view(*shape) if shape and g.is_contiguous() else g.reshape(*shape)
    dims = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and gs[lead + i] != 1)
    if dims:
        g = ft.sum(g, dim=dims, keepdim=True)
    return g.view(*shape) if shape else g.reshape(())


def backward(trace: Trace, end: Node, seed: Any, keep: bool = False) -> None:
    """Reverse sweep over ``trace``'s tape from ``end``; gradients land in each node's ``g``.

    The tape and each node's saved values are freed as the sweep passes, unless ``keep`` (for
    several sweeps over one recording, as :func:`jacobian` makes).
    """
    end.g = seed
    work = trace.tape[:] if keep else trace.tape
    with trusted_values():  # the rules re-use the forward's indices and matrices, checked there
        _sweep(work, keep)


def _sweep(work: list[Node], keep: bool) -> None:
    pop = work.pop
    while work:
        node = pop()
        g = node.g
        if g is None:
            if not keep:
                node.args = None
            continue
        node.g = None
        if node.key is _PROJECT:
            main = node.parents[0][0]
            i, n = node.args
            if main.g is None:
                main.g = [None] * n
            main.g[i] = g if main.g[i] is None else main.g[i] + g
            continue
        if g.__class__ is list:
            g = tuple(g)
        ans, args = node.value, node.args
        seq = None
        for parent, vjp, i, j in node.parents if monitor is None else monitor.rules(node):  # [monitor hook]
            if j is None:
                gi = vjp(g, ans, *args)
                ref = args[i]
            else:
                if seq is None or seq[0] != i:
                    seq = (i, vjp(g, ans, *args))
                gi = seq[1][j]
                ref = args[i][j]
            if gi is None:
                continue
            if not isinstance(gi, Tensor):
                gi = ft.full(*ref._a.shape, fill_value=float(gi), dtype=ref._a.dtype, device=ref._d)
            ga, ra = gi._a, ref._a
            if ga.shape != ra.shape:
                gi = unbroadcast(gi, ra.shape)
            if ga.dtype is not ra.dtype and ga.dtype != ra.dtype:
                gi = gi.type(ra.dtype)
            pg = parent.g
            parent.g = gi if pg is None else pg + gi
        if not keep:
            node.args = None  # its saved values are no longer needed
            node.parents = ()


# --------------------------------------------------------------------------------------------
# Primitives: any function made traceable, with rules attached like an op's.


class Primitive:
    """A function that autograd treats as one op: see :func:`flambeau.autograd.primitive`."""

    def __init__(self, fn: Callable[..., Any], name: str | None = None):
        self.fn = fn
        self.name: str = name or str(getattr(fn, "__qualname__", getattr(fn, "__name__", "primitive")))
        self.signature = inspect.signature(fn)
        self.names = tuple(self.signature.parameters)
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", self.name)
        self.__wrapped__ = fn

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    def defvjp(self, *vjps: Any, override: bool = False, **named: Any) -> Primitive:
        """Attach rules: one ``vjp(g, ans, *args)`` per parameter, in order (None: no gradient)."""
        from .registry import defvjp

        defvjp(self, *vjps, override=override, **named)
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        top = None
        for v in itertools.chain(args, kwargs.values()):
            if v.__class__ is Box and (top is None or v._g.tid > top.tid):
                top = v._g
        if top is None:
            return self.fn(*args, **kwargs)
        if not top.trace.active:
            return self(*(_strip_stale(a) for a in args), **{k: _strip_stale(v) for k, v in kwargs.items()})
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        vals = list(bound.arguments.values())
        tid = top.tid
        rules = RULES.get(self)
        parents, missing = [], []
        for i, v in enumerate(vals):
            if v.__class__ is Box and v._g.tid == tid:
                vals[i] = v._g.value
                vjp = rules.get(i) if rules else None
                if vjp is None:
                    missing.append(self.names[i])
                else:
                    parents.append((v._g, vjp, i, None))
        if missing:
            raise MissingGradientError(_missing_text(self.name, missing, self.names, self))
        pos, kw = [], {}
        for (name, p), v in zip(self.signature.parameters.items(), vals, strict=True):
            if p.kind is inspect.Parameter.VAR_POSITIONAL:
                pos.extend(v)
            elif p.kind is inspect.Parameter.KEYWORD_ONLY:
                kw[name] = v
            elif p.kind is inspect.Parameter.VAR_KEYWORD:
                kw.update(v)
            else:
                pos.append(v)
        # [monitor hook]
        ans = self.fn(*pos, **kw) if monitor is None else monitor.forward(top.trace, self, self.fn, *pos, **kw)
        return record(top.trace, self, ans, vals, parents)


# Forwards of autograd's own primitives. They call the methods (not Tensor's functions) so that a
# box of an outer trace among the values is traced there too: second order goes through them.


def _clone_fwd(x: Tensor) -> Tensor:
    return x.clone()


def _cast_fwd(x: Tensor, dtype: str) -> Tensor:
    return x.type(dtype)


def _move_fwd(x: Tensor, device: str) -> Tensor:
    return x.to(device)


def _copy_like_fwd(target: Tensor, src: Any) -> Tensor:
    """``src`` as it would be copied into ``target`` (broadcast, or reshaped when only the counts agree)."""
    return target.clone().copy_(src if isinstance(src, Tensor) else float(src))


_clone = Primitive(_clone_fwd, "clone")
_cast = Primitive(_cast_fwd, "type")
_move = Primitive(_move_fwd, "to")
_copy_like = Primitive(_copy_like_fwd, "copy_")


def _bind_operators() -> None:
    """Arithmetic operators of boxes call the handler directly (one dispatch step less)."""
    from flambeau.tensor.operators import OPERATORS

    arithmetic = {"add", "sub", "mul", "div", "pow", "matmul", "remainder"}
    for dunder, (name, reflected) in OPERATORS.items():
        if name not in arithmetic:
            continue
        op = OPS[name]
        rest = tuple(p.default for p in op.params[2:])
        if reflected:

            def method(self: Any, other: Any, op: Op = op, rest: tuple[Any, ...] = rest) -> Any:
                if not isinstance(other, _NUMBERS):
                    return NotImplemented
                return handle(op, (other, self, *rest), None, None)

        else:

            def method(self: Any, other: Any, op: Op = op, rest: tuple[Any, ...] = rest) -> Any:
                return handle(op, (self, other, *rest), None, None)

        setattr(Box, dunder, method)


_bind_operators()
optable.register_handler(Box, handle)


def ensure_loaded() -> None:
    load_gradients()
