"""Recording for optimized mode: symbols, and the instructions every op on them appends.

A :class:`Sym` is a tensor subclass carrying a real value and standing for a variable of the
program being recorded (:class:`Capture`). The op table hands every op that receives a symbol to
:func:`capture_handle`, which runs the op's backend forward on the values and appends one
:class:`Ins`. Values the signature fixes (``ones_like(x)`` and what is computed from such values
alone) are folded into constants. In-place writes are made functional (the target stands for a new
variable); writes a program could not reproduce faithfully (into an argument, into a view or a
tensor with views) stop the recording with :class:`UncompilableError`, and so do numpy views and
storage access. Python reading a value out of a symbol (``bool``, ``item``, ``int``) appends a
guard that a replay checks.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

import flambeau.tensor as ft
from flambeau.tensor import Tensor, optable
from flambeau.tensor.errors import DTypeError, ShapeError, size_text
from flambeau.tensor.ops.indexing import require_in_range
from flambeau.tensor.optable import Op

from . import tracer
from .tracer import Box

_new = object.__new__
_captures: list[Capture] = []


class UncompilableError(Exception):
    """Raised inside a recording run: this call cannot become a program (the reason is the text)."""


class RetraceSignal(Exception):  # noqa: N818  (a signal, not an error)
    """Raised by a program whose guard failed: record this call again."""


class Var:
    """A value of the program being recorded: its number, device, and what the safety checks need."""

    __slots__ = ("cap", "id", "dev", "input", "aliased", "const")

    def __init__(self, cap: Capture, dev: Any, input: bool = False):
        self.cap = cap
        self.id = cap.nvars
        cap.nvars += 1
        cap.vars.append(self)
        self.dev = dev
        self.input = input
        self.aliased = False
        self.const: Any = None  # the array, for a value fixed by the signature (ones_like(x), ...)


class Capture:
    """One recording run: instructions in execution order, and what the run did that a program cannot."""

    def __init__(self) -> None:
        self.nvars = 0
        self.vars: list[Var] = []
        self.code: list[Ins] = []
        self.active = True
        self.failed: str | None = None
        self.random = False
        self.inputs: list[Sym] = []
        self.promoted: list[tuple[Tensor, Any, int]] = []  # (plain tensor, its array before, code position)
        self.shapes: dict[int, tuple[int, ...]] = {}  # var id -> its size
        self.dtypes: dict[int, Any] = {}
        # Index range checks: how many became guards, and whether one could not (its indices were
        # made inside an op, or were the array of two arguments: the program's ops then keep
        # checking, each a host read, and the guards go).
        self.range_guards = 0
        self.unguarded_ranges = False

    def fail(self, reason: str) -> UncompilableError:
        if self.failed is None:
            self.failed = reason
        return UncompilableError(reason)

    def sym(self, value: Any, dev: Any, input: bool = False, const: bool = False) -> Sym:
        s = _new(Sym)
        s._a = value
        s._d = dev
        s._g = Var(self, dev, input)
        if const:
            s._g.const = value
        self.shapes[s._g.id] = value.shape
        self.dtypes[s._g.id] = value.dtype
        return s


class Ins:
    """One instruction: ``outs = fn(*args, **kw)``, or a guard that ``fn(*args)`` still gives ``expect``.

    Kinds: ``op`` (a backend forward on arrays), ``call`` (a Tensor method on wrapped arrays),
    ``reshape`` (a view that is a plain reshape), ``guard``. Arguments are items: ``("v", var)``,
    ``("f", var, dtype)`` (cast first), ``("w", var, device)`` (wrapped as a Tensor), ``("m", var)``
    (a mask, as booleans), ``("c", constant)``, ``("s", [items])`` (a list) and ``("t", [items])``
    (an index key). ``fix`` says per output how to finish the raw result (``a``: it came back as a
    scalar; ``b``: booleans, seen as a ByteTensor's bytes).
    """

    __slots__ = ("kind", "outs", "fn", "args", "kw", "fix", "expect", "consts", "unpack", "xp", "op")

    def __init__(self, kind: str, outs: tuple[int, ...], fn: Any, args: list[Any], kw: dict[str, Any]):
        self.kind, self.outs, self.fn, self.args, self.kw = kind, outs, fn, args, kw
        self.fix: tuple[str, ...] = ()
        self.unpack = False  # the raw result is a tuple or list of outputs
        self.xp: Any = None  # the array namespace (asarray for results that came back as scalars)
        self.op: Op | None = None  # set when ``fn`` is the op's backend function itself (Op.ufunc)
        self.expect: Any = None
        self.consts: list[Any] = []

    def uses(self) -> list[int]:
        found: list[int] = []
        for it in itertools.chain(self.args, self.kw.values()):
            _var_ids(it, found)
        return found


def _var_ids(item: Any, found: list[int]) -> None:
    if item[0] in ("v", "f", "w", "m"):
        found.append(item[1])
    elif item[0] in ("s", "t"):
        for x in item[1]:
            _var_ids(x, found)


class _FloatOut:
    """A float leaf's gradient that stays symbolic until the program returns it."""

    __slots__ = ("sym",)

    def __init__(self, sym: Sym):
        self.sym = sym


def _current() -> Capture | None:
    return _captures[-1] if _captures else None


def _stale(s: Any) -> None:
    """A symbol of a finished recording is a plain tensor from now on."""
    s.__class__ = Tensor
    del s._g


# --------------------------------------------------------------------------------------------
# Symbols.


class Sym(Tensor):
    """A tensor being recorded into a program: a real value that also stands for a program variable."""

    __slots__ = ()

    def _live(self) -> Capture | None:
        cap = self._g.cap
        if cap.active:
            return cap
        _stale(self)
        return None

    # Values Python reads out of a symbol: guards.
    def _read(self, name: str, *args: Any) -> Any:
        method = getattr(Tensor, name)
        cap = self._live()
        plain = _plain(self)
        value = method(plain, *args)
        if cap is not None and self._g.const is None:
            ins = Ins("guard", (), method, [_wrapped(self), *(_wrapped(a) for a in args)], {})
            ins.expect = value
            cap.code.append(ins)
        return value

    def item(self) -> Any:
        return self._read("item")

    def __float__(self) -> float:
        return float(self._read("item"))

    def __int__(self) -> int:
        return int(self._read("item"))

    def __complex__(self) -> complex:
        return complex(self._read("item"))

    def __index__(self) -> int:
        return self._read("__index__")

    def __bool__(self) -> bool:
        return self._read("__bool__")

    def tolist(self) -> Any:
        return self._read("tolist")

    totable = tolist

    def equal(self, other: Any) -> bool:
        if isinstance(other, Sym) and other._live() is not None:
            return self._read("tolist") == other._read("tolist") and self._a.shape == other._a.shape
        return self._read("equal", other)

    def __format__(self, spec: str) -> str:
        return format(_plain(self), spec)  # printing reads the value without deciding anything

    # What a program cannot reproduce.
    def numpy(self) -> Any:
        if self._live() is None:
            return Tensor.numpy(self)
        raise self._g.cap.fail("numpy() on a recorded tensor (its array would be a constant of the program)")

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        if self._live() is None:
            return Tensor.__array__(self, dtype)
        raise self._g.cap.fail("conversion of a recorded tensor to a numpy array")

    def storage(self) -> Any:
        if self._live() is None:
            return Tensor.storage(self)
        raise self._g.cap.fail("storage() of a recorded tensor")

    def set_(self, *args: Any, **kwargs: Any) -> Tensor:
        if self._live() is None:
            return Tensor.set_(self, *args, **kwargs)
        raise self._g.cap.fail("set_ on a recorded tensor")

    def resize_(self, *sizes: Any) -> Tensor:
        if self._live() is None:
            return Tensor.resize_(self, *sizes)
        raise self._g.cap.fail("resize_ on a recorded tensor")

    def resize_as_(self, other: Tensor) -> Tensor:
        return self.resize_(*other._a.shape)

    def __reduce__(self) -> Any:
        return Tensor.__reduce__(_plain(self))

    # Tensor methods that are not ops: recorded as calls.
    def clone(self) -> Tensor:
        return _method(self, Tensor.clone)

    def contiguous(self) -> Tensor:
        return self if self._a.flags.c_contiguous else _method(self, Tensor.clone)

    def _converted(self, dt: Any) -> Tensor:
        return _method(self, Tensor._converted, dt)

    def _moved(self, d: Any) -> Tensor:
        return _method(self, Tensor._moved, d)

    def copy_(self, src: Any) -> Tensor:
        return _write(self, _method(self, _copied, src), "copy_")

    def fill_(self, value: Any) -> Tensor:
        return _write(self, _method(self, _copied, value), "fill_")

    def zero_(self) -> Tensor:
        return self.fill_(0)


def _copied(target: Tensor, src: Any) -> Tensor:
    """``src`` as it would be copied into ``target``: broadcast, cast, or reshaped when the counts agree."""
    return target.clone().copy_(src if isinstance(src, Tensor) else float(src))


def _plain(s: Any) -> Tensor:
    t = _new(Tensor)
    t._a = s._a
    t._d = s._d
    return t


def _method(self: Sym, fn: Callable[..., Any], *args: Any) -> Any:
    """Run a Tensor method that is not an op, recording it as one instruction."""
    cap = self._live()
    vals = [_plain(a) if isinstance(a, Sym) else a for a in args]
    res = fn(_plain(self), *vals)
    if cap is None:
        return res
    if any(isinstance(a, Box) for a in args):
        raise cap.fail(f"{getattr(fn, '__name__', fn)} of a recorded tensor with a traced argument")
    if self._g.const is not None and not any(isinstance(a, Tensor) and not _is_const(a) for a in args):
        return cap.sym(res._a, res._d, const=True)  # folded: fixed by the signature
    items = [_wrapped(self), *(_wrapped(a) for a in args)]
    out = cap.sym(res._a, res._d)
    if res._a is self._a or res._d.xp.may_share_memory(res._a, self._a):
        out._g.aliased = self._g.aliased = True
    ins = Ins("call", (out._g.id,), fn, items, {})
    cap.code.append(ins)
    return out


def _wrapped(x: Any) -> tuple[Any, ...]:
    """The item for an argument of a Tensor method: a live symbol's variable, else a constant."""
    if x.__class__ is Sym and x._g.const is None and x._g.cap.active:
        return ("w", x._g.id, x._d)
    return ("c", _plain(x) if isinstance(x, Tensor) else x)


def _is_const(x: Any) -> bool:
    """A symbol whose value the signature fixes (not a tensor of the caller's: those may change)."""
    return x.__class__ is Sym and x._g.const is not None


_FLOAT_AS: dict[type, Callable[[Any], Any]] = {
    Sym: lambda g: _FloatOut(g) if g._live() is not None else float(Tensor.item(g))
}
tracer.FLOAT_LATER.update(_FLOAT_AS)


def _vet_promotion(target: Sym, label: str) -> None:
    """A traced value written into a symbol: the same refusals as :func:`_write`'s."""
    cap = target._live()
    if cap is None:
        return
    if target._g.input:
        raise cap.fail(f"{label} writes into an argument of the function")
    if target._g.aliased:
        raise cap.fail(f"{label} writes into a view, or into a tensor that has views")


tracer.PROMOTE_CHECKS[Sym] = _vet_promotion


# --------------------------------------------------------------------------------------------
# Recording ops.


class _Spec:
    __slots__ = ("names", "kinds", "tensors", "seqs")

    def __init__(self, op: Op):
        self.names = tuple(p.name for p in op.params)
        self.kinds = tuple(int(p.kind) for p in op.params)
        self.tensors = frozenset(op.tensors)
        self.seqs = frozenset(op.seqs)


_SPECS: dict[Op, _Spec] = {}
_SHAPE_ONLY = frozenset({"zeros_like", "ones_like"})  # results that depend on the sizes alone


def _has_box(args: tuple[Any, ...], spec: _Spec) -> bool:
    for n, v in zip(spec.names, args, strict=True):
        if n in spec.tensors and v.__class__ is Box:
            return True
        if n in spec.seqs and any(x.__class__ is Box for x in v):
            return True
    return False


def capture_handle(op: Op, args: tuple[Any, ...], out: Any, target: Any) -> Any:
    """The op table's handler for symbols: run the op on their values and record it."""
    spec = _SPECS.get(op)
    if spec is None:
        spec = _SPECS.setdefault(op, _Spec(op))
    if _has_box(args, spec):  # a grad trace inside the recording unwraps its boxes first
        return tracer.handle(op, args, out, target)
    cap = _current()
    syms: list[Sym] = []
    for n, v in zip(spec.names, args, strict=True):
        if n in spec.tensors and v.__class__ is Sym:
            syms.append(v)
        elif n in spec.seqs:
            syms.extend(x for x in v if x.__class__ is Sym)
        elif v.__class__ is tuple:  # an index key
            syms.extend(x for x in v if x.__class__ is Sym)
    for t in (out, target):
        if t is not None and t.__class__ is Sym:
            syms.append(t)
    live = [s for s in syms if s._g.cap is cap and cap is not None]
    if len(live) != len(syms):
        for s in syms:
            if s._g.cap is not cap or cap is None:
                _stale(s)
    if cap is None or not live:
        return optable.call(op, dict(zip(spec.names, args, strict=True)), out, target)
    if op.name in _SHAPE_ONLY and out is None and target is None:  # fixed by the signature: folded
        res = optable.call(op, _plain_bound(dict(zip(spec.names, args, strict=True)), spec))
        return cap.sym(res._a, res._d, const=True)
    if op.rng or op.kind != "op":
        raise cap.fail(f"{op.name} draws random numbers")
    return _record_op(cap, op, spec, args, out, target)


def _item(v: Any, cast: Any, dev: Any, raw: list[Any]) -> Any:
    if v.__class__ is Sym:
        a = v._a
        if cast is not None and a.dtype.kind != "f":
            if v._g.const is not None:
                raw.append(a.astype(cast))
                return ("c", raw[-1])
            raw.append(a.astype(cast))
            return ("f", v._g.id, cast)
        raw.append(a)
        return ("c", a) if v._g.const is not None else ("v", v._g.id)
    if isinstance(v, Tensor):
        a = v._a
        if cast is not None and a.dtype.kind != "f":
            a = a.astype(cast)
        raw.append(a)
        return ("c", a)
    if isinstance(v, bool):
        v = int(v)
    raw.append(v)
    return ("c", v)


def _record_op(cap: Capture, op: Op, spec: _Spec, args: tuple[Any, ...], out: Any, target: Any) -> Any:
    bound = dict(zip(spec.names, args, strict=True))
    dev: Any = None
    for n, v in bound.items():
        vals = v if n in spec.seqs else (v,) if n in spec.tensors else ()
        for x in vals:
            if isinstance(x, Tensor):
                if dev is None:
                    dev = x._d
                elif x._d is not dev:
                    return optable.call(op, _plain_bound(bound, spec), None, None)  # raises the mismatch
    cast = ft.default_dtype() if op.dtypes == "float" else None
    if op.dtypes == "integer":
        for n in op.tensors:
            v = bound[n]
            if isinstance(v, Tensor) and v._a.dtype.kind not in "iu":
                return optable.call(op, _plain_bound(bound, spec), None, None)  # raises the dtype error
    items: list[Any] = [("c", dev.xp)]
    raw_pos: list[Any] = [dev.xp]
    kw_items: dict[str, Any] = {}
    raw_kw: dict[str, Any] = {}
    for n, kind, v in zip(spec.names, spec.kinds, args, strict=True):
        if n in spec.tensors:
            r: Any = []
            it = _item(v, cast, dev, r)
            rv = r[0]
        elif n in spec.seqs:
            r = []
            it = ("s", [_item(x, None, dev, r) for x in v])
            rv = r
        else:
            it, rv = _key_item(cap, op, v)
        if kind == 2:  # VAR_POSITIONAL: spread
            items.extend(it[1] if n in spec.seqs else [("c", x) for x in v])
            raw_pos.extend(rv if n in spec.seqs else v)
        elif kind == 3:  # KEYWORD_ONLY
            kw_items[n] = it
            raw_kw[n] = rv
        else:
            items.append(it)
            raw_pos.append(rv)
    impl = op.impl
    if op.kernel:
        impl = getattr(dev.backend, "kernels", {}).get(op.kernel, impl)
    try:
        with optable.range_checks_to(_range_hook(cap, items, raw_pos, kw_items, raw_kw)):
            r = impl(*raw_pos, **raw_kw)
    except Exception:
        optable.call(op, _plain_bound(bound, spec), None, None)  # the op table's error, translated
        raise
    found: list[int] = []
    for it in itertools.chain(items, kw_items.values()):
        _var_ids(it, found)
    if op.result != "python" and not found and all(_is_const(x) for x in _tensor_args(args, spec)):
        # Only values fixed by the signature in: the result is one too (no caller's tensor, whose
        # memory a replay must read, is among them).
        many = op.result == "list" or (op.result == "tuple" and isinstance(r, tuple))
        consts = [cap.sym(optable.as_array(x, dev), dev, const=True) for x in (r if many else [r])]
        if many:
            res_c: Any = op.result_type(*consts) if op.result == "tuple" else consts
            return (
                res_c
                if out is None
                else type(out)(_write(o, c, op.name + "(out=)", True) for o, c in zip(out, consts, strict=False))
            )
        if target is not None:
            return _write(target, consts[0], op.name + "_", cast_unsafe=op.kind == "fill")
        if out is not None:
            return _write(out, consts[0], op.name + "(out=)", resize=True)
        return consts[0]
    ins = Ins("op", (), impl, items, kw_items)
    ins.xp = dev.xp
    if op.name in ("expand", "expand_as"):
        ins.op = op
    ins.consts = [x[1] for x in itertools.chain(items[1:], kw_items.values()) if x[0] == "c"]
    if op.ufunc and impl is op.impl and _at_defaults(op, args):  # the backend function itself
        ins.fn = getattr(dev.xp, op.ufunc)
        ins.args = items[1:]
        ins.kw = {}
        ins.op = op
    if op.result == "python":
        ins.kind = "guard"
        ins.expect = r
        cap.code.append(ins)
        return r
    if op.result == "view" and items[1][0] == "v" and r.__class__ is dev.array_type:
        a = raw_pos[1]
        src = args[spec.names.index(op.tensors[0])]
        same = _same_start(a, r)
        if same and r.shape == a.shape and r.strides == a.strides:  # a view of all of it: the same variable
            s = _new(Sym)
            s._a, s._d, s._g = r, dev, src._g
            s._g.aliased = True
            return s
        if same and r.size == a.size and r.flags.c_contiguous and a.flags.c_contiguous:
            ins = Ins("reshape", (), None, [items[1]], {})
            ins.expect = r.shape
            o = cap.sym(r, dev)
            o._g.aliased = src._g.aliased = True
            ins.outs = (o._g.id,)
            cap.code.append(ins)
            return o
    many = op.result == "list" or (op.result == "tuple" and isinstance(r, tuple))
    parts = list(r) if many else [r]
    fixes, outs = [], []
    srcs = [a for a in raw_pos[1:] if hasattr(a, "shape")]
    in_syms = [s for s in _syms_of(args, spec)]
    for p in parts:
        fix = ""
        if p.__class__ is not dev.array_type:
            p = dev.xp.asarray(p)
            fix = "a"
        if p.dtype == np.bool_:
            p = p.view(np.uint8)
            fix += "b"
        s = cap.sym(p, dev)
        if op.result == "view" or any(dev.xp.may_share_memory(p, a) for a in srcs):
            s._g.aliased = True
            for x in in_syms:
                x._g.aliased = True
        fixes.append(fix)
        outs.append(s)
    ins.outs = tuple(s._g.id for s in outs)
    ins.fix = tuple(fixes)
    ins.unpack = many
    cap.code.append(ins)
    if many:
        res: Any = op.result_type(*outs) if op.result == "tuple" else outs
        if out is not None:
            return type(out)(_write(o, s, op.name + "(out=)", resize=True) for o, s in zip(out, outs, strict=False))
        return res
    res = outs[0]
    if target is not None:
        return _write(target, res, op.name + "_", cast_unsafe=op.kind == "fill")
    if out is not None:
        return _write(out, res, op.name + "(out=)", resize=True)
    return res


def _same_start(a: Any, b: Any) -> bool:
    """Whether two arrays start at the same address (numpy and cupy; False when unknown)."""
    try:
        if hasattr(a, "__array_interface__"):
            return bool(a.__array_interface__["data"][0] == b.__array_interface__["data"][0])
        return bool(a.data.ptr == b.data.ptr)
    except (AttributeError, TypeError):
        return False


def _at_defaults(op: Op, args: tuple[Any, ...]) -> bool:
    """Whether the keyword-only parameters keep their defaults (``Op.ufunc`` then applies)."""
    for p, v in zip(op.params, args, strict=True):
        if p.kind == 3 and not (v is p.default or (type(v) is type(p.default) and v == p.default)):
            return False
    return True


def _range_ok(index: Any, n: int, op: str) -> bool:
    """A program's guard in place of an op's index range check: ``True`` when ``index`` holds
    indices of a dimension of size ``n``; else it raises the op's own ``IndexError`` (a bad index
    is an error, not another path to record). Like the check, it reads nothing inside
    ``trusted_values()``."""
    if optable.value_checks():
        require_in_range(index, n, op)
    return True


def _range_hook(
    cap: Capture, items: list[Any], raw_pos: list[Any], kw_items: dict[str, Any], raw_kw: dict[str, Any]
) -> Callable[[Any, int, str], None]:
    """The hook that turns an op's index range check into a guard before the op (see
    ``optable.range_checks_to``): the indices are an argument's array, found by identity (a
    variable's, or a constant's: a plain tensor's memory, read again on each replay). The
    arguments are paired with their items on the first check only: most ops make none."""
    found: dict[int, list[Any]] = {}  # id of an argument's array -> its items, and the array (kept alive)

    def pair(it: Any, raw: Any) -> None:
        if it[0] in ("v", "c"):
            found.setdefault(id(raw), [raw]).append(it)
        elif it[0] in ("s", "t"):
            for i, r in zip(it[1], raw, strict=False):
                pair(i, r)

    def hook(index: Any, n: int, op: str) -> None:
        if not found:
            for it, raw in zip(items[1:], raw_pos[1:], strict=False):
                pair(it, raw)
            for name, it in kw_items.items():
                pair(it, raw_kw[name])
        its = found.get(id(index), [None])[1:]
        if len(its) != 1:  # made inside the op, or one array for two arguments: the op checks it
            cap.unguarded_ranges = True
            return
        ins = Ins("guard", (), _range_ok, [its[0], ("c", n), ("c", op)], {})
        ins.expect = True
        cap.code.append(ins)
        cap.range_guards += 1

    return hook


def _key_item(cap: Capture, op: Op, v: Any) -> tuple[Any, Any]:
    """A non-tensor argument: a constant, or an index key holding symbols (each read on replay)."""
    if v.__class__ is Sym:
        v = (v,)
    elif not (isinstance(v, tuple) and any(k.__class__ is Sym for k in v)):
        return ("c", v), v
    items, raw = [], []
    for k in v:
        if k.__class__ is Sym and k._a.dtype == np.uint8 and k._g.const is None:
            # A mask: the result's size is its count of ones, a guard; its values are read on replay.
            ins = Ins("guard", (), k._d.xp.count_nonzero, [("v", k._g.id)], {})
            ins.expect = int(k._d.xp.count_nonzero(k._a))
            cap.code.append(ins)
            items.append(("m", k._g.id))
            raw.append(k._a.astype(bool))
        elif k.__class__ is Sym:
            a = k._a.astype(bool) if k._a.dtype == np.uint8 else k._a
            items.append(("c", a) if k._g.const is not None else ("v", k._g.id))
            raw.append(a)
        else:
            items.append(("c", k))
            raw.append(k)
    return ("t", items), tuple(raw)


def _tensor_args(args: tuple[Any, ...], spec: _Spec) -> list[Any]:
    found = []
    for n, v in zip(spec.names, args, strict=True):
        if n in spec.tensors and isinstance(v, Tensor):
            found.append(v)
        elif n in spec.seqs:
            found.extend(v)
    return found


def _syms_of(args: tuple[Any, ...], spec: _Spec) -> list[Sym]:
    found = []
    for n, v in zip(spec.names, args, strict=True):
        if n in spec.tensors and v.__class__ is Sym:
            found.append(v)
        elif n in spec.seqs:
            found.extend(x for x in v if x.__class__ is Sym)
    return found


def _plain_bound(bound: dict[str, Any], spec: _Spec) -> dict[str, Any]:
    def p(v: Any) -> Any:
        return _plain(v) if v.__class__ is Sym else v

    return {n: ([p(x) for x in v] if n in spec.seqs else p(v)) for n, v in bound.items()}


def _write(target: Any, new: Sym, label: str, resize: bool = False, cast_unsafe: bool = False) -> Any:
    """An in-place write, made functional: ``target`` stands for a new program variable from now on."""
    cap = new._g.cap
    if not isinstance(target, Tensor):
        raise ShapeError(f"{label}: the target must be a tensor")
    if not resize and new._a.shape != target._a.shape:
        raise ShapeError(
            f"{label}: the result has size {size_text(new._a.shape)}, which cannot be written in place"
            f" into a tensor of size {size_text(target._a.shape)}"
        )
    if new._a.dtype != target._a.dtype:
        if not cast_unsafe and not np.can_cast(new._a.dtype, target._a.dtype, "same_kind"):
            raise DTypeError(
                f"{label}: the result is {new.type()} and cannot be stored in place in a {target.type()};"
                " convert the target first (e.g. .double())"
            )
        new = _method(new, Tensor._converted, target._a.dtype)
    if target.__class__ is Sym and target._g.cap is cap:
        var = target._g
        if var.input:
            raise cap.fail(f"{label} writes into an argument of the function")
        if var.aliased:
            raise cap.fail(f"{label} writes into a view, or into a tensor that has views")
    elif target.__class__ is Tensor:
        cap.promoted.append((target, target._a, len(cap.code)))
        target.__class__ = Sym
    else:
        raise cap.fail(f"{label} writes into a {type(target).__name__}")
    target._a, target._d, target._g = new._a, new._d, new._g
    return target


optable.register_handler(Sym, capture_handle)
