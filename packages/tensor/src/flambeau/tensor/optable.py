"""The op table: one :class:`Op` record per op, and the code that generates everything from it.

An op is declared once, as a record holding its forward (written against the backend's array
namespace ``xp``), which of its parameters take tensors, its dtype rule, its variants and its
documentation. :func:`install` turns each record into the function ``ft.<name>``, the
``Tensor`` method, the in-place ``<name>_`` method and the ``out=`` form; the op reference in
``docs/`` and the table-driven tests read the same records.

The generated functions have a fast path for the common case (every tensor argument a plain
``Tensor``, or a Python number where numbers are allowed) that costs a few attribute loads on top
of the backend call. Everything else goes through :func:`call`, which also hands arguments of
foreign types (autograd's boxes) to the handler registered for that type.
"""

from __future__ import annotations

import builtins
import contextlib
import inspect
import threading
from collections import namedtuple
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import dtypes as _dt
from .errors import (
    ArgumentError,
    DeviceMismatchError,
    DomainError,
    DTypeError,
    FlambeauError,
    IndexError,
    ShapeError,
    size_text,
)
from .registry import Device, current_device
from .registry import device as _device

ALL_VARIANTS = frozenset({"function", "method", "inplace", "out"})

# Bound by install(): tensor.py imports this module, so these cannot be imported at its top.
Tensor: Any = None
wrap: Any = None

# Ops in declaration order, by name (aliases included).
OPS: dict[str, Op] = {}

# type -> handler(op, bound, out, target): how ops treat arguments of foreign types.
# autograd registers its box types here; flambeau.tensor never imports autograd.
_handlers: dict[type, Callable[..., Any]] = {}


# Called as watcher(tensor, what) before any in-place write into a plain tensor's memory while the
# list is non-empty: autograd watches writes into values that a recorded op still needs.
write_watchers: list[Callable[[Any, str], None]] = []

_trust = threading.local()


def value_checks() -> bool:
    """Whether ops check their argument *values* (index ranges, singular matrices) on devices
    where that means reading them back (a GPU sync): off inside :func:`trusted_values`."""
    return not getattr(_trust, "on", False)


@contextlib.contextmanager
def _setting(name: str, value: Any) -> Iterator[None]:
    """This thread's ``_trust.<name>`` set to ``value`` inside, and restored after."""
    before = getattr(_trust, name, None)
    setattr(_trust, name, value)
    try:
        yield
    finally:
        setattr(_trust, name, before)


def trusted_values() -> contextlib.AbstractContextManager[None]:
    """Skip the value checks that read a device back, for code re-using values already checked.

    Autograd's backward pass runs its rules inside it: their indices and matrices are the forward
    pass's, which were checked there. numpy's own checks (it raises on an out-of-range index)
    still apply.
    """
    return _setting("on", True)


def ranges_guarded() -> bool:
    """Whether index range checks are left to the running program's guards (see
    :func:`guarded_ranges`): the ops skip their own."""
    return bool(getattr(_trust, "ranges", False))


def guarded_ranges() -> contextlib.AbstractContextManager[None]:
    """Skip the ops' index range checks: a recorded program runs inside it when a guard before
    each indexing op checks its indices (autograd's optimized mode). Other value checks stay.

    >>> import flambeau.tensor as ft
    >>> from flambeau.tensor.optable import guarded_ranges, ranges_guarded
    >>> with guarded_ranges():
    ...     ranges_guarded()
    True
    >>> ranges_guarded()
    False
    """
    return _setting("ranges", True)


def checked_range(index: Any, n: int, op: str) -> None:
    """Tell a recording (:func:`range_checks_to`) that op ``op`` checked ``index`` against ``n``."""
    hook = getattr(_trust, "range_hook", None)
    if hook is not None:
        hook(index, n, op)


def range_checks_to(hook: Callable[[Any, int, str], None]) -> contextlib.AbstractContextManager[None]:
    """Call ``hook(index, n, op)`` for each index array op ``op`` checks against a dimension of
    size ``n`` (and finds in range) inside it: how a recording turns the checks into guards.

    >>> import flambeau.tensor as ft
    >>> from flambeau.tensor.optable import range_checks_to
    >>> heard = []
    >>> with range_checks_to(lambda index, n, op: heard.append((index.tolist(), n, op))):
    ...     ft.index_select(ft.zeros(4), 0, ft.LongTensor([3, 1])).tolist()
    [0.0, 0.0]
    >>> heard
    [([3, 1], 4, 'index_select')]
    """
    return _setting("range_hook", hook)


def notify_write(target: Any, what: str) -> None:
    for w in tuple(write_watchers):  # a copy: another thread may add or remove a watcher meanwhile
        w(target, what)


def register_handler(cls: type, handler: Callable[..., Any]) -> None:
    """Route every op that receives an argument of type ``cls`` to ``handler(op, args, out, target)``.

    ``args`` is the tuple of the op's arguments in the order of its parameters (a ``*param`` as
    one tuple); ``out`` is the ``out=`` tensor or None; ``target`` is the tensor an in-place form
    writes to, or None.
    """
    _handlers[cls] = handler


@dataclass(eq=False, repr=False)
class Op:
    """One op of the table. See the module docstring; fields are documented inline."""

    name: str
    impl: Callable[..., Any]  # forward: impl(xp, [rng,] *params) on backend arrays
    tensors: tuple[str, ...] = ("input",)  # parameters taking a tensor (or a number)
    seqs: tuple[str, ...] = ()  # parameters taking a sequence of tensors
    variants: frozenset[str] = ALL_VARIANTS
    result: str = "tensor"  # tensor | byte (0/1 ByteTensor) | view | tuple (or one tensor) | list | python
    names: tuple[str, ...] = ()  # field names of a tuple result
    dtypes: str = "any"  # any | float (integer inputs promoted to the default float) | integer
    kind: str = "op"  # op | factory (makes a tensor from sizes) | fill (in-place only)
    rng: bool = False  # impl takes a random generator after xp
    default_dtype: Callable[[dict[str, Any]], np.dtype] | None = None  # factories
    differentiable: tuple[str, ...] = ()  # parameters with a gradient (rules live in autograd)
    aliases: tuple[str, ...] = ()
    group: str = "misc"  # section of the op reference
    doc: str = ""
    example: str = ""  # doctest text, run by the test suite and shown in the docs
    syntax: str = ""  # Python syntax bound to the op instead of named forms (``t[key]``)
    kernel: str = ""  # name under which a backend's ``kernels`` may replace ``impl`` (same signature)
    # The ``xp`` function the forward is, once its argument checks pass and its keyword-only
    # parameters keep their defaults: ``impl(xp, *positional) == getattr(xp, ufunc)(*positional)``.
    # Optimized programs (autograd's compiler), whose argument checks are done, call it directly.
    ufunc: str = ""
    params: tuple[inspect.Parameter, ...] = field(init=False)
    result_type: Any = field(init=False, default=None)

    def __post_init__(self) -> None:
        sig = list(inspect.signature(self.impl).parameters.values())
        self.params = tuple(sig[2 if self.rng else 1 :])
        names = {p.name for p in self.params}
        for n in self.tensors + self.seqs:
            if n not in names:
                raise TypeError(f"op {self.name}: declared tensor parameter {n!r} is not a parameter of its impl")
        if self.result == "tuple":
            self.result_type = namedtuple(f"{self.name}_result", self.names)  # type: ignore[misc]
        if self.kind == "fill":
            self.variants = frozenset({"inplace"})

    def __repr__(self) -> str:
        return f"<op {self.name}>"

    @property
    def signature(self) -> str:
        """The Python signature of the generated function form."""
        return _signature_text(self, with_out="out" in self.variants)


# --------------------------------------------------------------------------------------------
# The general path: any argument kinds, devices resolved, errors translated.


def _describe(v: Any) -> str:
    from .tensor import Tensor

    if isinstance(v, Tensor):
        return f"{_dt.NAME_OF[v._a.dtype]}Tensor of size {'x'.join(map(str, v._a.shape)) or '[]'} on {v._d}"
    if isinstance(v, (list, tuple)) and v and all(isinstance(x, Tensor) for x in v):
        return "[" + ", ".join(_describe(x) for x in v) + "]"
    return repr(v) if isinstance(v, (int, float, str, type(None))) else type(v).__name__


def describe_args(op: Op, bound: dict[str, Any]) -> str:
    return ", ".join(f"{n}: {_describe(bound[n])}" for n in op.tensors + op.seqs if n in bound)


def translate(op: Op, bound: dict[str, Any], e: Exception) -> Exception:
    """Turn a backend exception into a flambeau error naming the op and its arguments."""
    if isinstance(e, FlambeauError):
        return e
    where = describe_args(op, bound)
    msg = f"{op.name}: {e}" + (f" ({where})" if where else "")
    if isinstance(e, np.exceptions.AxisError) or isinstance(e, builtins.IndexError):
        return IndexError(msg)
    if isinstance(e, (TypeError, OverflowError)):
        return DTypeError(msg)
    if isinstance(e, ValueError):
        text = str(e).lower()
        shapey = any(w in text for w in ("shape", "broadcast", "align", "size", "dimension", "mismatch"))
        return ShapeError(msg) if shapey else DomainError(msg)
    return e


def mismatch(op: Op, n1: str, d1: Device, n2: str, d2: Device) -> DeviceMismatchError:
    return DeviceMismatchError(
        f"{op.name}: argument {n2!r} is on device '{d2}' but argument {n1!r} is on device '{d1}';"
        f" data never moves between devices silently: use .to('{d1}') or .to('{d2}') first"
    )


_NUMBER = (int, float, np.number, np.bool_)


def _handler_args(op: Op, bound: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(bound[p.name] for p in op.params)


def call(op: Op, bound: dict[str, Any], out: Any = None, target: Any = None) -> Any:
    """Run ``op`` on arguments of any kind: the path taken when the generated fast path declines."""
    if _handlers:
        for n in op.tensors:
            h = _handlers.get(type(bound[n]))
            if h is not None:
                return h(op, _handler_args(op, bound), out, target)
        for n in op.seqs:
            for v in bound[n]:
                h = _handlers.get(type(v))
                if h is not None:
                    return h(op, _handler_args(op, bound), out, target)
    args = dict(bound)
    dev: Device | None = None
    first = ""
    for n in op.tensors:
        v = bound[n]
        if isinstance(v, Tensor):
            if dev is None:
                dev, first = v._d, n
            elif v._d is not dev:
                raise mismatch(op, first, dev, n, v._d)
            args[n] = v._a
        elif isinstance(v, bool):
            args[n] = int(v)
        elif v is not None and not isinstance(v, _NUMBER):
            raise ArgumentError(f"{op.name}: argument {n!r} must be a Tensor or a number, got {type(v).__name__}")
    for n in op.seqs:
        seq = bound[n]
        if isinstance(seq, Tensor) or not isinstance(seq, (list, tuple)):
            raise ArgumentError(
                f"{op.name}: argument {n!r} must be a list or tuple of tensors, got {type(seq).__name__}"
            )
        arrays = []
        for i, v in enumerate(seq):
            if not isinstance(v, Tensor):
                raise ArgumentError(f"{op.name}: {n}[{i}] must be a Tensor, got {type(v).__name__}")
            if dev is None:
                dev, first = v._d, f"{n}[{i}]"
            elif v._d is not dev:
                raise mismatch(op, first, dev, f"{n}[{i}]", v._d)
            arrays.append(v._a)
        args[n] = arrays
    for t, n in ((out, "out"), (target, "self")):
        if isinstance(t, Tensor) and dev is not None and t._d is not dev:
            raise mismatch(op, first, dev, n, t._d)
    if op.kind == "factory":
        dev = _device(args.pop("device", None))
        dt = args.get("dtype")
        args["dtype"] = (
            _dt.as_dtype(dt)
            if dt is not None
            else (op.default_dtype(args) if op.default_dtype else _dt.default_dtype())
        )
    elif dev is None:
        dev = target._d if isinstance(target, Tensor) else current_device()
        if op.tensors:  # every tensor argument is a number: the first becomes a 0-d tensor
            n = op.tensors[0]
            v = args[n]
            if v is not None:
                args[n] = dev.xp.asarray(v, dtype=_dt.default_dtype() if isinstance(v, float) else None)
    if op.rng:
        from .random import generator_for

        args["generator"] = generator_for(dev, args.get("generator"))
    r = invoke(op, dev, args, bound)
    return finish(op, r, dev, out, target)


def invoke(op: Op, dev: Device, args: dict[str, Any], bound: dict[str, Any]) -> Any:
    """Apply the dtype rule and call the op's forward, translating backend errors."""
    if op.dtypes != "any":
        for n in op.tensors:
            a = args[n]
            kind = getattr(getattr(a, "dtype", None), "kind", None)
            if kind is None:
                continue
            if op.dtypes == "float" and kind != "f":
                args[n] = a.astype(_dt.default_dtype())
            elif op.dtypes == "integer" and kind not in "iu":
                raise DTypeError(f"{op.name}: argument {n!r} must be an integer tensor, got {_describe(bound[n])}")
    pos: list[Any] = [dev.xp]
    if op.rng:
        pos.append(args["generator"])
    kw = {}
    for p in op.params:
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            pos.extend(args[p.name])
        elif p.kind is inspect.Parameter.KEYWORD_ONLY:
            kw[p.name] = args[p.name]
        else:
            pos.append(args[p.name])
    impl = op.impl
    if op.kernel:  # a backend's native kernel replaces the portable forward
        impl = getattr(dev.backend, "kernels", {}).get(op.kernel, impl)
    try:
        return impl(*pos, **kw)
    except Exception as e:
        raise translate(op, bound, e) from e


def finish(op: Op, r: Any, dev: Device, out: Any, target: Any) -> Any:
    """Wrap a forward's raw result: a new tensor, written into ``out``, or into the in-place target."""
    if op.result == "python":
        return r
    if op.result == "list":
        return [wrap(as_array(x, dev), dev) for x in r]
    if op.result == "tuple" and isinstance(r, tuple):
        rs = [as_array(x, dev) for x in r]
        if out is not None:
            if not (isinstance(out, (tuple, list)) and len(out) == len(rs)):
                raise ArgumentError(f"{op.name}: out= must be a tuple of {len(rs)} tensors ({', '.join(op.names)})")
            return op.result_type(*(write_out(op, o, x, dev) for o, x in zip(out, rs, strict=False)))
        return op.result_type(*(wrap(x, dev) for x in rs))
    r = as_array(r, dev)
    if target is not None:
        assign(op, target, r, "unsafe" if op.kind == "fill" else "same_kind")  # draws fill any type
        return target
    if out is not None:
        return write_out(op, out, r, dev)
    return wrap(r, dev)


def as_array(r: Any, dev: Device) -> Any:
    if r.__class__ is not dev.array_type:
        r = dev.xp.asarray(r)
    if r.dtype == np.bool_:
        r = r.view(np.uint8)
    return r


def _check_cast(label: str, r: Any, a: Any, casting: Any) -> None:
    if not np.can_cast(r.dtype, a.dtype, casting):
        raise DTypeError(
            f"{label}: the result is {_dt.NAME_OF.get(r.dtype, r.dtype)} and cannot be stored in place in a"
            f" {_dt.NAME_OF[a.dtype]}Tensor; convert the target first (e.g. .double())"
        )


def read_only(a: Any) -> bool:
    """Whether writes into ``a`` are refused: an expanded view, whose elements repeat.

    numpy marks such views non-writeable. cupy's ``flags`` has no ``writeable`` at all: there a
    view is read-only when a dim of size > 1 has stride 0, the mark of an expansion (PyTorch too
    refuses writes where several elements share one memory location).
    """
    writeable = getattr(getattr(a, "flags", None), "writeable", None)
    if writeable is not None:
        return not writeable
    # cupy gives every dim of an empty array stride 0: nothing repeats there, nothing is written
    return a.size > 0 and any(st == 0 and n > 1 for n, st in zip(a.shape, a.strides, strict=True))


def check_writable(target: Any, label: str) -> None:
    """Refuse a write into read-only memory (an expanded view: its elements repeat), before anything is written."""
    if read_only(target._a):
        raise ArgumentError(
            f"{label}: this tensor (size {'x'.join(map(str, target._a.shape)) or '[]'}) is read-only, as expanded"
            " views are (their elements repeat); write into the tensor it came from"
        )


def assign(op: Op, target: Any, r: Any, casting: str = "same_kind", label: str = "") -> None:
    """Write ``r`` into ``target``'s memory; on any error the target is left untouched."""
    a = target._a
    label = label or op.name + "_"
    if write_watchers:
        notify_write(target, label)
    if r.shape != a.shape:
        raise ShapeError(
            f"{label}: the result has size {size_text(r.shape)}, which cannot be written in place"
            f" into a tensor of size {size_text(a.shape)}"
        )
    _check_cast(label, r, a, casting)
    check_writable(target, label)
    target._d.xp.copyto(a, r, casting="unsafe")


def ufunc_inplace(op: Op, target: Any, fn: Any, args: tuple[Any, ...], bound: dict[str, Any]) -> Any:
    """An in-place form as ``fn(*args, out=target's array)`` (ops with ``Op.ufunc``).

    numpy and cupy check the output's shape and the casting before they write anything; when
    they refuse, the general path runs instead, which raises the op table's usual error (the target
    is left as it was either way).
    """
    a = target._a
    if write_watchers:
        notify_write(target, op.name + "_")
    if getattr(a, "flags", None) is not None and not read_only(a):
        try:
            fn(*args, out=a)
            return target
        except Exception:
            pass
    return call(op, bound, None, target)


def write_out(op: Op, out: Any, r: Any, dev: Device) -> Any:
    """Torch7's result-argument form: ``out`` is resized to the result and receives it."""
    if not isinstance(out, Tensor):
        raise ArgumentError(f"{op.name}: out= must be a Tensor, got {type(out).__name__}")
    if out._d is not dev:
        raise mismatch(op, "input", dev, "out", out._d)
    _check_cast(f"{op.name}(out=)", r, out._a, "same_kind")  # before resizing: a refused out= stays as it was
    if out._a.shape != r.shape:
        out.resize_(*r.shape)
    assign(op, out, r, label=f"{op.name}(out=)")
    return out


# --------------------------------------------------------------------------------------------
# Code generation.


def _signature_text(op: Op, with_out: bool, drop_first: bool = False) -> str:
    parts: list[str] = []
    star = False
    params = op.params[1:] if drop_first else op.params
    if op.kind == "factory" and any(p.name == "size" for p in params):
        parts.append("*size")
        star = True
        params = tuple(p for p in params if p.name != "size")
    for p in params:
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            parts.append("*" + p.name)
            star = True
            continue
        if p.kind is inspect.Parameter.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        parts.append(p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}")
    extra = []
    if op.kind == "factory":
        extra += ["device=None"]
    if op.rng:
        extra += ["generator=None"]
    if with_out:
        extra += ["out=None"]
    if extra:
        if not star:
            parts.append("*")
        parts += extra
    return ", ".join(parts)


def _fast_path(op: Op, ret: str, inplace: bool = False) -> list[str]:
    """Source of the fast path, or [] when the op does not qualify for one."""
    if (
        op.kind != "op"
        or op.seqs
        or op.rng
        or op.kernel
        or op.result not in ("tensor", "byte", "view")
        or not op.tensors
    ):
        return []
    t0, rest = op.tensors[0], op.tensors[1:]
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in op.params):
        return []
    lines = [f"    _c = {t0}.__class__", "    if _c is _T:", f"        _d = {t0}._d", f"        _a_{t0} = {t0}._a"]
    if rest:  # a number first and a tensor second (``1 - t``, ``2 ** t``) is common enough to be fast too
        t1 = rest[0]
        lines += [
            f"    elif (_c is float or _c is int) and {t1}.__class__ is _T:",
            f"        _d = {t1}._d",
            f"        _a_{t0} = {t0}",
        ]
    lines += ["    else:", f"        return {ret}"]
    for n in rest:
        lines += [
            f"    _c = {n}.__class__",
            "    if _c is _T:",
            f"        if {n}._d is not _d: return {ret}",
            f"        _a_{n} = {n}._a",
            "    elif _c is float or _c is int:",
            f"        _a_{n} = {n}",
            "    else:",
            f"        return {ret}",
        ]
    if op.dtypes == "float":
        for n in op.tensors:
            lines.append(
                f"    if _a_{n}.__class__ is _d.array_type and _a_{n}.dtype.kind != 'f': _a_{n} = _a_{n}.astype(_dflt[0])"
            )
    elif op.dtypes == "integer":
        return []
    args = ", ".join(
        f"_a_{p.name}" if p.name in op.tensors else p.name
        for p in op.params
        if p.kind is not inspect.Parameter.KEYWORD_ONLY
    )
    if inplace and op.ufunc and op.result == "tensor":
        # In place through the backend function's out=: no temporary result and no second copy.
        t0 = op.tensors[0]
        kw_ok = "".join(
            f" and {p.name} == {p.default!r}" for p in op.params if p.kind is inspect.Parameter.KEYWORD_ONLY
        )
        lines += [
            f"    if _a_{t0}.__class__ is _d.array_type{kw_ok}:",
            f"        return _inplace(_op, {t0}, _d.xp.{op.ufunc}, ({args},), {_bound_dict(op)})",
        ]
    kwargs = ", ".join(f"{p.name}={p.name}" for p in op.params if p.kind is inspect.Parameter.KEYWORD_ONLY)
    call_args = ", ".join(x for x in (args, kwargs) if x)
    lines += [
        "    try:",
        f"        _r = _impl(_d.xp, {call_args})",
        "    except Exception as _e:",
        f"        raise _translate(_op, {_bound_dict(op)}, _e) from _e",
        "    if _r.__class__ is not _d.array_type: _r = _d.xp.asarray(_r)",
    ]
    if op.result == "byte":
        lines.append("    if _r.dtype == _bool: _r = _r.view(_u8)")
    return lines


def _bound_dict(op: Op) -> str:
    return "{" + ", ".join(f"{p.name!r}: {p.name}" for p in op.params) + "}"


def generate(op: Op, form: str = "function") -> Callable[..., Any]:
    """Build the function form (``form='function'``) or the in-place form (``'inplace'``)."""
    from .tensor import Tensor

    with_out = form == "function" and "out" in op.variants
    name = op.name + ("_" if form == "inplace" else "")
    sig = _signature_text(op, with_out)
    bound = _bound_dict(op)
    if form == "inplace":
        ret = f"_call(_op, {bound}, None, {op.tensors[0]})"
    else:
        ret = f"_call(_op, {bound}, {'out' if with_out else 'None'})"
    if op.tensors and not op.seqs and op.kind == "op":
        # Arguments of a registered foreign type (autograd's boxes) go straight to its handler.
        args = "(" + "".join(f"{p.name}, " for p in op.params) + ")"
        look = " or ".join(f"_hget({n}.__class__)" for n in op.tensors)
        where = f"None, {op.tensors[0]}" if form == "inplace" else ("out, None" if with_out else "None, None")
        ret = f"(_h(_op, {args}, {where}) if (_h := {look}) is not None else {ret})"
    extra = [p for p in ("device", "generator") if f"{p}=None" in sig]
    if extra:
        bound_with = "{" + bound[1:-1] + (", " if op.params else "") + ", ".join(f"{p!r}: {p}" for p in extra) + "}"
        ret = ret.replace(bound, bound_with, 1)
    src = [f"def {name}({sig}):"]
    if op.kind == "factory" and any(p.name == "size" for p in op.params):
        src.append("    size = _sizes(size, _op)")
    fast = _fast_path(op, ret, inplace=form == "inplace")
    if fast:
        src += fast
        if form == "inplace":
            src += [f"    _assign(_op, {op.tensors[0]}, _r)", f"    return {op.tensors[0]}"]
        else:
            if with_out:
                src.append("    if out is not None: return _write_out(_op, out, _r, _d)")
            src += ["    _t = _new(_T)", "    _t._a = _r", "    _t._d = _d", "    return _t"]
    else:
        src.append(f"    return {ret}")
    from .tensor import sizes_arg

    ns: dict[str, Any] = {
        "_T": Tensor,
        "_new": object.__new__,
        "_op": op,
        "_impl": op.impl,
        "_call": call,
        "_translate": translate,
        "_assign": assign,
        "_inplace": ufunc_inplace,
        "_write_out": write_out,
        "_dflt": _dt._default,
        "_bool": np.dtype(np.bool_),
        "_u8": np.dtype(np.uint8),
        "_sizes": sizes_arg,
        "_hget": _handlers.get,
    }
    code = "\n".join(src)
    exec(compile(code, f"<flambeau op {name}>", "exec"), ns)
    fn = ns[name]
    fn.__qualname__ = name
    fn.__module__ = "flambeau.tensor"
    fn.__doc__ = docstring(op, form)
    fn.__op__ = op
    fn.__source__ = code
    return fn


def form_lines(op: Op, returns: bool = True) -> list[str]:
    """One line per form the op has: its call signature and, with ``returns``, what it gives back."""
    names = {"byte": "ByteTensor", "list": "list[Tensor]", "python": "object"}
    kind = f"({', '.join(op.names)})" if op.result == "tuple" else names.get(op.result, "Tensor")
    ret, same = (f" -> {kind}", " -> Tensor") if returns else ("", "")
    meth = _signature_text(op, with_out=False, drop_first=True)
    forms = [op.syntax] if op.syntax else []
    if op.kind == "fill":
        on_input = "  # in place, on input" if returns else ""
        return forms + [
            f"Tensor.{op.name}_({meth}){same}  # in place",
            f"ft.{op.name}_({_signature_text(op, with_out=False)}){same}{on_input}",
        ]
    if "function" in op.variants:
        forms.append(f"ft.{op.name}({op.signature}){ret}")
    if "method" in op.variants:
        forms.append(f"Tensor.{op.name}({meth}){ret}")
    if "inplace" in op.variants:
        forms.append(f"Tensor.{op.name}_({meth}){same}  # in place")
    return forms


def docstring(op: Op, form: str = "function") -> str:
    """The help text of a generated form, laid out like Torch7's ``?torch.cmul``.

    First the call forms the op has, one per line with what each returns (``ft.cmul(input, other,
    *, out=None) -> Tensor``, ``Tensor.cmul(other) -> Tensor``, ``Tensor.cmul_(other) -> Tensor  #
    in place``) and its other names; then the record's text; then, for the function form (or the
    in-place form of an op that has no other), its ``Examples`` section, which doctest runs.
    """
    forms = form_lines(op)
    suffix = "_" if op.kind == "fill" else ""
    if op.aliases:
        forms.append("Also named: " + ", ".join(a + suffix for a in op.aliases) + " (every form)")
    parts = ["\n".join(forms)]
    if form == "inplace" and op.kind != "fill":
        parts.append(f"In-place form of ``{op.name}``: writes the result into the tensor and returns it.")
    parts.append(op.doc.strip() or "(no description)")
    if op.rng:
        parts.append("Draws from ``generator=`` (a ``Generator``) or else the device's default generator.")
    if op.example.strip() and (form == "function" or "function" not in op.variants):
        parts.append("Examples\n--------\n" + op.example.strip("\n"))
    return "\n\n".join(parts) + "\n"


def declare(*ops: Op) -> None:
    """Add records to the table (names must be new)."""
    for op in ops:
        suffix = "_" if op.kind == "fill" else ""  # in-place-only ops are known by their ``_`` name
        for n in (op.name + suffix, *(a + suffix for a in op.aliases)):
            if n in OPS:
                raise TypeError(f"op {n!r} declared twice")
            OPS[n] = op


def install(namespace: dict[str, Any], tensor_cls: type) -> None:
    """Generate every form of every op: functions into ``namespace``, methods onto ``tensor_cls``."""
    global Tensor, wrap
    from .tensor import Tensor, wrap

    for name, op in OPS.items():
        if name != op.name + ("_" if op.kind == "fill" else ""):
            continue
        fn = generate(op, "function")
        inplace = generate(op, "inplace") if "inplace" in op.variants else None
        for n in (op.name, *op.aliases):
            if "function" in op.variants:
                namespace[n] = fn
            if "method" in op.variants:
                setattr(tensor_cls, n, fn)
            if inplace is not None:
                setattr(tensor_cls, n + "_", inplace)
                if op.kind == "fill":
                    namespace[n + "_"] = inplace
