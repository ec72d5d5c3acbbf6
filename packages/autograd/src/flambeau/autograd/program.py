"""From a recording to a program: Python source of backend calls on arrays, compiled once.

A :class:`Program` is built from a finished :class:`~.capture.Capture`: the ``expand``s that
element-wise ops make needless go, repeated computations are shared, dead code is removed, every
value is freed after its last use, large results of ``out=``-capable backend functions get buffers
reused from call to call (values whose lifetimes do not overlap share one), an op that would copy
an array dying there (``index_put``) writes into it instead, and the function ``run(leaves)`` is
written that returns the recorded function's result for new tensor values.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import re
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from flambeau.tensor import Tensor, optable
from flambeau.tensor.registry import Device

from . import fusion
from .capture import Capture, Ins, RetraceSignal, Sym, _FloatOut, _new, _range_ok

# Results smaller than this many elements are not given buffers: numpy allocates small arrays
# from a cache faster than a call passes ``out=``; large ones cost page faults every time.
BUFFER_MIN = 1 << 12
# Device types whose programs run chains of element-wise ops as fused kernels (see ``fusion``);
# add "cpu" to run the kernels' numpy evaluators instead (what the CPU tests of fusion do).
FUSE_ON: set[str] = {"cuda"}


class Program:
    """A compiled recording: ``run(leaves)`` returns the function's result for new tensor values."""

    def __init__(
        self,
        cap: Capture,
        result: Any,
        source_name: str,
        stable_buffers: bool = False,
    ):
        self.ns: dict[str, Any] = {"_Retrace": RetraceSignal, "_same": _same, "_w": _wrap, "_clone": Tensor.clone}
        self.buffers: list[Any] = []  # arrays the program writes into on every call (out=)
        # The fused kernels the program calls (on the device types in FUSE_ON); each has
        # ``source`` and ``operation``.
        self.kernels: list[fusion.Kernel] = []
        # What it reads on the host: guards (a branch or item() on a tensor value), and results
        # returned as Python numbers computed on the device (``float(v)``).
        self.reads: dict[str, bool] = {"guards": False, "numbers": False}
        self.source = _compile(cap, result, self.ns, self.buffers, stable_buffers, self.kernels, self.reads)
        self.lock = threading.Lock()  # buffers make a program non-reentrant: one thread at a time
        exec(compile(self.source, f"<flambeau program {source_name}>", "exec"), self.ns)
        self.run: Callable[[list[Any]], Any] = self.ns["run"]
        # Index range checks made guards (each op's indices checked before it): the ops skip
        # theirs, so that what runs between two guards reads nothing back (a CUDA graph's segment).
        self.guarded_ranges = cap.range_guards > 0 and not cap.unguarded_ranges
        if self.guarded_ranges:
            run = self.run

            def checked(leaves: list[Any]) -> Any:
                with optable.guarded_ranges():
                    return run(leaves)

            self.run = checked

    def checks(self) -> contextlib.AbstractContextManager[None]:
        """Where the program's own code runs (its segments, in a CUDA graph's warm-up and capture):
        with the ops' index range checks off when its guards make them."""
        return optable.guarded_ranges() if self.guarded_ranges else contextlib.nullcontext()


def _hoist_range_guards(keep: list[Ins], drop: bool) -> list[Ins]:
    """Index range guards move up to just after what makes their indices (with the reshapes, which
    are views, between: to the start for an argument's): a bad index is found before the work it
    would waste, and a CUDA graph is cut where the indices are ready (before any device work, for
    targets given as an argument). A guard repeating an earlier one goes; with ``drop`` (the ops
    check their indices themselves) they all go.

    The guard reads the same values there: a variable is never written in place before its last
    reader (``Program`` reuses an op's last-read input only after this).
    """
    producer = {o: ins for ins in keep for o in ins.outs}
    moving: set[int] = set()  # ids of the instructions to move: the guards and their reshapes
    seen: set[tuple[Any, ...]] = set()
    kept = []
    for ins in keep:
        if ins.kind == "guard" and ins.fn is _range_ok:
            key = tuple(id(it[1]) if hasattr(it[1], "shape") else it for it in ins.args)  # (arrays by identity)
            if drop or key in seen:
                continue
            seen.add(key)
            moving.add(id(ins))
        kept.append(ins)
    todo = [ins for ins in kept if id(ins) in moving]
    while todo:
        ins = todo.pop()
        moving.add(id(ins))
        todo += [p for v in ins.uses() if (p := producer.get(v)) is not None and p.kind == "reshape"]
    out: list[Ins] = []
    made: dict[int, int] = {}  # var -> its producer's position in out
    for ins in kept:
        if id(ins) in moving:
            at = max((made[v] + 1 for v in ins.uses() if v in made), default=0)
            out.insert(at, ins)
            made = {v: p + (p >= at) for v, p in made.items()}
        else:
            out.append(ins)
            at = len(out) - 1
        for o in ins.outs:
            made[o] = at
    return out


def _same(a: Any, b: Any) -> bool:
    return bool(a == b) or (a != a and b != b)


def _wrap(a: Any, d: Any) -> Tensor:
    t = _new(Tensor)
    t._a = a
    t._d = d
    return t


def _skip_expands(cap: Capture) -> None:
    """Element-wise ops broadcast: an ``expand`` read only by ones whose result keeps its size goes."""
    users: dict[int, list[Ins]] = {}
    for ins in cap.code:
        for v in ins.uses():
            users.setdefault(v, []).append(ins)
    for ins in cap.code:
        if ins.op is None or ins.op.name not in ("expand", "expand_as") or ins.args[1][0] != "v":
            continue
        e = ins.outs[0]
        shape = cap.shapes[e]
        readers = users.get(e, [])
        if readers and all(
            r.kind == "op"
            and r.op is not None
            and r.op.group == "pointwise"
            and len(r.outs) == 1
            and cap.shapes[r.outs[0]] == shape
            and all(a[0] != "s" for a in r.args)
            for r in readers
        ):
            src = ins.args[1]
            new_args = [[src if a == ("v", e) else a for a in r.args] for r in readers]
            if all(_broadcast(cap, args) == shape for args in new_args):  # the other operands keep the size
                for r, args in zip(readers, new_args, strict=True):
                    r.args = args


def _share_repeats(cap: Capture, needed: set[int]) -> None:
    """Common subexpressions: an op with the same function and arguments as an earlier one reuses
    its result (the backward pass often recomputes what the forward had, e.g. ``z - logsumexp(z)``).

    Returned values are left alone, so that two results never share memory.
    """
    seen: dict[tuple[Any, ...], int] = {}
    same: dict[int, int] = {}
    for ins in cap.code:
        if same:
            ins.args = [_renamed(a, same) for a in ins.args]
            ins.kw = {k: _renamed(a, same) for k, a in ins.kw.items()}
        if ins.kind != "op" or ins.unpack or len(ins.outs) != 1 or ins.outs[0] in needed:
            continue
        try:
            key = (id(ins.fn), _frozen(ins.args), _frozen(list(ins.kw.items())), ins.fix)
            hash(key)
        except TypeError:
            continue
        first = seen.get(key)
        if first is None:
            seen[key] = ins.outs[0]
        else:
            same[ins.outs[0]] = first


def _frozen(items: list[Any]) -> tuple[Any, ...]:
    """Arguments as a hashable key: constants by identity (arrays are not hashable by value)."""
    out: list[Any] = []
    for it in items:
        if isinstance(it, tuple) and len(it) == 2 and isinstance(it[0], str) and it[0] in ("s", "t"):
            out.append((it[0], _frozen(it[1])))
        elif isinstance(it, tuple) and it and it[0] == "c":
            out.append(("c", id(it[1])))
        elif isinstance(it, tuple) and len(it) == 2 and isinstance(it[1], tuple):  # a keyword: (name, item)
            out.append((it[0], _frozen([it[1]])))
        else:
            out.append(it)
    return tuple(out)


def _renamed(item: Any, same: dict[int, int]) -> Any:
    tag = item[0]
    if tag in ("v", "f", "w", "m") and item[1] in same:
        return (tag, same[item[1]], *item[2:])
    if tag in ("s", "t"):
        return (tag, [_renamed(x, same) for x in item[1]])
    return item


def _broadcast(cap: Capture, items: list[Any]) -> tuple[int, ...] | None:
    shapes = [cap.shapes[a[1]] if a[0] in ("v", "f") else np.shape(a[1]) for a in items]
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        return None


def _buffers(
    cap: Capture,
    keep: list[Ins],
    last: dict[int, int],
    needed: set[int],
    stable: bool,
    buffers: list[Any],
    ns: dict[str, Any],
) -> dict[int, str]:
    """Give results of backend functions that take ``out=`` a buffer kept across calls.

    Only results nothing else views (so a buffer is free once its value's last reader has run),
    and, unless ``stable``, not returned ones (a later call would overwrite what a caller holds).
    Values whose lifetimes do not overlap share a buffer; an instruction never writes into a
    buffer one of its own arguments is in.
    """
    free: dict[tuple[Any, ...], list[str]] = {}
    held: dict[int, tuple[tuple[Any, ...], str]] = {}
    given: dict[int, str] = {}
    for j, ins in enumerate(keep):
        o = ins.outs[0] if len(ins.outs) == 1 else None
        if (
            o is not None
            and (ins.kind == "fused" or (ins.kind == "op" and ins.op is not None and ins.op.result == "tensor"))
            and not ins.unpack
            and ins.fix == ("",)
            and not cap.vars[o].aliased
            and (stable or o not in needed)
            and math.prod(cap.shapes[o]) >= BUFFER_MIN
        ):
            key = (cap.shapes[o], cap.dtypes[o], cap.vars[o].dev)
            pool = free.get(key)
            if pool:
                name = pool.pop()
            else:
                name = f"b{len(buffers)}"
                ns[name] = cap.vars[o].dev.xp.empty(cap.shapes[o], dtype=cap.dtypes[o])
                buffers.append(ns[name])
            given[j] = name
            held[o] = (key, name)
        for v in ins.uses():
            if last.get(v) == j and v in held:
                k, name = held.pop(v)
                free.setdefault(k, []).append(name)
    return given


def _in_place(cap: Capture, keep: list[Ins], last: dict[int, int], outbuf: dict[int, str]) -> set[int]:
    """The instructions that may write into their input array instead of into a copy of it.

    An op implementation offering ``impl.into`` (the same op writing into its first array
    argument, e.g. ``index_put``'s) is called that way when that argument is the program's own
    value: made by an op or a fused kernel of the program (not a caller's tensor, a constant or a
    reused buffer), viewed by nothing else, not returned, read by no later instruction, and not
    also another argument of the same call. A chain of ``index_put`` into zeros (the gradients of
    views: unfold, pooling, slicing) then copies its array once instead of at every link.
    """
    made = {o: j for j, ins in enumerate(keep) for o in ins.outs}
    found = set()
    for j, ins in enumerate(keep):
        if ins.kind != "op" or getattr(ins.fn, "into", None) is None or len(ins.args) < 2 or ins.args[1][0] != "v":
            continue
        v = ins.args[1][1]
        p = made.get(v)
        if (
            p is not None
            and keep[p].kind in ("op", "fused")
            and p not in outbuf
            and last.get(v) == j  # (a returned value's last use is past the end)
            and not cap.vars[v].aliased
            and ins.uses().count(v) == 1
        ):
            found.add(j)
    return found


def _const_name(v: Any, ns: dict[str, Any], k: int) -> str:
    """A readable name for a program constant: the function's own name where it has one."""
    base = getattr(v, "__name__", "") if callable(v) else ""
    if isinstance(v, Device):
        base = f"dev_{v.type}"
    base = base.strip("_")
    if not base.isidentifier() or base in ns or base in ("float", "bool", "L") or re.fullmatch(r"[vbc]\d+", base):
        return f"{base or 'c'}{k}" if base.isidentifier() else f"c{k}"
    return base


def _compile(
    cap: Capture,
    result: Any,
    ns: dict[str, Any],
    buffers: list[Any],
    stable: bool,
    kernels: list[Any],
    reads: dict[str, bool],
) -> str:
    consts: dict[int, str] = {}

    def const(v: Any) -> str:
        if v is None or v.__class__ in (bool, int, str) or (v.__class__ is float and np.isfinite(v)):
            return repr(v)
        name = consts.get(id(v))
        if name is None:
            name = consts[id(v)] = _const_name(v, ns, len(consts))
            ns[name] = v
        return name

    # The outputs: an expression per leaf of the result.
    needed: set[int] = set()
    input_pos = {s._g.id: k for k, s in enumerate(cap.inputs) if s._g.input}

    def out(x: Any) -> str:
        if x.__class__ is Sym and x._g.cap is cap and x._g.const is not None:
            return f"_w({const(x._g.const)}.copy(), {const(x._d)})"
        if x.__class__ is Sym and x._g.cap is cap:
            vid = x._g.id
            if vid in input_pos:
                return f"L[{input_pos[vid]}]"
            needed.add(vid)
            return f"_w(v{vid}, {const(x._d)})"
        if x.__class__ is _FloatOut and x.sym._g.const is not None:
            return repr(float(x.sym._g.const))
        if x.__class__ is _FloatOut:
            needed.add(x.sym._g.id)
            reads["numbers"] = True
            return f"float(v{x.sym._g.id})"
        if isinstance(x, Tensor):
            return f"_clone({const(x)})"
        if isinstance(x, dict):
            body = ", ".join(f"{const(k)}: {out(v)}" for k, v in x.items())
            return "{" + body + "}" if type(x) is dict else f"{const(type(x))}({{{body}}})"
        if isinstance(x, tuple) and hasattr(x, "_fields"):
            return f"{const(type(x))}({', '.join(out(v) for v in x)})"
        if isinstance(x, tuple):
            body = ", ".join(out(v) for v in x) + ("," if len(x) == 1 else "")
            return f"({body})" if type(x) is tuple else f"{const(type(x))}(({body}))"
        if isinstance(x, list):
            body = ", ".join(out(v) for v in x)
            return f"[{body}]" if type(x) is list else f"{const(type(x))}([{body}])"
        return const(x)

    ret = out(result)

    _skip_expands(cap)
    _share_repeats(cap, needed)

    # Dead code: keep guards and what the outputs need.
    live = set(needed)
    keep = []
    for ins in reversed(cap.code):
        if ins.kind == "guard" or any(o in live for o in ins.outs):
            keep.append(ins)
            live.update(ins.uses())
    keep.reverse()
    keep = _hoist_range_guards(keep, cap.unguarded_ranges)
    keep, found = fusion.fuse(cap, keep, needed, FUSE_ON)
    kernels.extend(found)

    # Last use of each variable, to free it right after.
    last: dict[int, int] = {}
    for j, ins in enumerate(keep):
        for v in ins.uses():
            last[v] = j
    for v in needed:
        last[v] = len(keep)
    inputs = {s._g.id for s in cap.inputs}
    outbuf = _buffers(cap, keep, last, needed, stable, buffers, ns)
    into = _in_place(cap, keep, last, outbuf)

    def item(it: Any) -> str:
        tag = it[0]
        if tag == "v":
            return f"v{it[1]}"
        if tag == "f":
            return f"v{it[1]}.astype({const(it[2])})"
        if tag == "w":
            return f"_w(v{it[1]}, {const(it[2])})"
        if tag == "s":
            return "[" + ", ".join(item(x) for x in it[1]) + "]"
        if tag == "m":
            return f"v{it[1]}.astype(bool)"
        if tag == "t":
            return "(" + ", ".join(item(x) for x in it[1]) + ",)"
        return const(it[1])

    lines = ["def run(L):"]
    used_inputs = sorted(v for v in inputs if v in last or v in needed)
    for k, s in enumerate(cap.inputs):
        if s._g.id in used_inputs:
            lines.append(f"    v{s._g.id} = L[{k}]._a")
    for j, ins in enumerate(keep):
        fn = ins.fn.into if j in into else ins.fn
        call = (
            ""
            if fn is None
            else f"{const(fn)}({', '.join([item(a) for a in ins.args] + [f'{k}={item(v)}' for k, v in ins.kw.items()])})"
        )
        if ins.kind == "guard":
            reads["guards"] = True
            lines.append(f"    if not _same({call}, {const(ins.expect)}): raise _Retrace")
        elif ins.kind == "call":
            lines.append(f"    v{ins.outs[0]} = {call}._a")
        elif ins.kind == "reshape":
            lines.append(f"    v{ins.outs[0]} = {item(ins.args[0])}.reshape({ins.expect!r})")
        else:
            if j in outbuf:
                lines.append(f"    v{ins.outs[0]} = {call[:-1]}, out={outbuf[j]})")
            elif not ins.unpack:
                lines.append(f"    v{ins.outs[0]} = {call}")
            else:
                lines.append(f"    {', '.join(f'v{o}' for o in ins.outs)}{',' if len(ins.outs) == 1 else ''} = {call}")
            for o, fix in zip(ins.outs, ins.fix, strict=True):
                if "a" in fix:
                    lines.append(f"    v{o} = {const(ins.xp)}.asarray(v{o})")
                if "b" in fix:
                    lines.append(f"    v{o} = v{o}.view({const(np.dtype(np.uint8))})")
        dead = [v for v in itertools.chain(ins.uses(), ins.outs) if last.get(v, -1) <= j and v not in inputs]
        if dead:
            lines.append(f"    del {', '.join(f'v{v}' for v in sorted(set(dead)))}")
    lines.append(f"    return {ret}")
    return "\n".join(lines) + "\n"
