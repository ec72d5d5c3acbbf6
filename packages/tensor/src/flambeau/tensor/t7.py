"""Reading and writing Lua Torch7 ``.t7`` files: :func:`load_t7` and :func:`save_t7`.

Files written by Torch7's ``torch.save`` (inventory section 3) load into Python objects, and
:func:`save_t7` writes objects back so that a Lua user can ``torch.load`` them. Nothing in a file
is ever executed: Lua functions load as :class:`T7Function` objects that refuse to be called.

>>> import io, flambeau.tensor as ft
>>> a = ft.DoubleTensor([[1, 2, 3], [4, 5, 6]])
>>> buf = io.BytesIO()
>>> ft.save_t7(buf, {"weight": a, "row": a.select(0, 1), "lr": 0.5, "names": ["x", "y"]})
>>> back = ft.load_t7(io.BytesIO(buf.getvalue()))
>>> _ = back["row"].fill_(0)  # the row is still a view of the weight
>>> back["weight"].tolist(), back["lr"], back["names"]
([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], 0.5, ['x', 'y'])

The format
----------
A file holds one object, written recursively. Every object starts with an int type tag: ``0``
nil, ``1`` number (a double), ``2`` string (an int length, then the bytes), ``3`` table, ``4``
torch object, ``5`` boolean (an int 0 or 1), ``6`` function without upvalues (an int length and
LuaJIT bytecode), ``7`` and ``8`` functions with upvalues (legacy and current). Tables, torch
objects and functions 7 and 8 then carry an int reference index: an index met before stands for
the object read there (so shared objects stay shared and cycles work); a new one is followed by
the object itself. A table is an int count then that many key and value objects. A torch object
is the string ``"V <version>"`` (files from before versions start directly with the class name),
the class name, then the class's payload:

- ``torch.<T>Tensor`` and ``torch.Cuda<T>Tensor``: int nDimension, nDimension longs of sizes,
  nDimension longs of strides, a long storage offset (1-based), then the storage as an object
  (nil when there is none). ``T`` is Byte, Char, Short, Int, Long, Float, Double or Half
  (``torch.CudaTensor`` is the float one).
- ``torch.<T>Storage`` and ``torch.Cuda<T>Storage``: a long size, then the raw elements.
- ``tds.Hash``: a long count, then that many key and value objects; ``tds.Vec``: a long count,
  then that many objects.
- Every other class (nn modules, criteria, ``torch.class`` instances): a table of its fields.

The binary format writes ints as 4 bytes, longs as 8 (or 4, for files from 32-bit systems or
Windows), doubles as 8, all in the writer's byte order. The ascii format writes each value or run
of values as text separated by spaces and ended by a newline, and bytes (strings, Byte and Char
storages) raw.

What loads as what
------------------
nil is ``None``; a number is an ``int`` when it is integral (and within 2**53), a ``float``
otherwise (Lua has only doubles); a string is a ``str`` when it is UTF-8, ``bytes`` otherwise; a
table whose keys are exactly 1..n is a ``list``, any other table (the empty one included) a
``dict``. A key that Python cannot hash (a table, an object) is wrapped in a :class:`TableKey`.
Tensors and storages become flambeau tensors and storages of the matching dtype on the cpu (CUDA
types too), or on ``device``; two tensors over one storage are views of one flambeau storage.
``tds.Hash`` is a ``dict``, ``tds.Vec`` a ``list``. A class with a hook registered by
:func:`register_t7_class` becomes what the hook builds from its fields (``flambeau.nn`` registers
its modules and criteria; the first ``nn.`` class met imports it); any other class becomes a
:class:`T7Object` keeping its type name and fields.

Limitations: a table that contains itself while it is being read stays a ``dict`` even when its
keys are 1..n; a hooked object that refers to itself (through its fields) sees the dict of its
fields in those places, since the hook only runs once they are all read.

Errors
------
A malformed, truncated or unsupported file raises :class:`SerializationError` naming the byte
offset and what was expected there. When the format is detected (the default), each plausible
format is tried and the error reported is the one from the reading that got furthest.
"""

from __future__ import annotations

import io
import math
import os
import re
import reprlib
import struct
import threading
from collections.abc import Callable
from typing import IO, Any, Literal

import numpy as np

from . import dtypes as _dt
from .errors import ArgumentError, RegistrationError, SerializationError
from .registry import device as _device
from .tensor import Storage, Tensor, _data_ptr, placed, wrap

__all__ = ["T7Function", "T7Object", "TableKey", "load_t7", "register_t7_class", "save_t7"]

TYPE_NIL, TYPE_NUMBER, TYPE_STRING, TYPE_TABLE, TYPE_TORCH, TYPE_BOOLEAN = 0, 1, 2, 3, 4, 5
TYPE_FUNCTION, TYPE_RECUR_FUNCTION_LEGACY, TYPE_RECUR_FUNCTION = 6, 7, 8

_KINDS = _dt.NAMES  # Torch7's type names: every flambeau dtype has one
_KIND_OF_DTYPE = _dt.NAME_OF


def _class_table() -> dict[str, tuple[str, str]]:
    """Torch class name -> (kind, 'Tensor' or 'Storage'), for the cpu and the CUDA types."""
    out = {}
    for kind in _KINDS:
        for what in ("Tensor", "Storage"):
            out[f"torch.{kind}{what}"] = (kind, what)
            out[f"torch.Cuda{'' if kind == 'Float' else kind}{what}"] = (kind, what)
    return out


_CLASSES = _class_table()
_MAX_INT = 2**53
_TOKEN = re.compile(rb"[ \t\r\n\f\v]*([^ \t\r\n\f\v]+)")
_SPACE = b" \t\r\n\f\v"


# -- the objects that stand for Lua things ------------------------------------------------------------

_eq_state = threading.local()


def _same(a: Any, b: Any) -> bool:
    """Deep equality of loaded objects: tensors by dtype, size and values; cycles compare equal."""
    if a is b:
        return True
    active: set[tuple[int, int]] = getattr(_eq_state, "active", None) or set()
    _eq_state.active = active
    key = (id(a), id(b))
    if key in active:
        return True
    active.add(key)
    try:
        return _same_inner(a, b)
    finally:
        active.discard(key)


def _same_inner(a: Any, b: Any) -> bool:
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return (
            isinstance(a, Tensor)
            and isinstance(b, Tensor)
            and a.dtype == b.dtype
            and tuple(a.size()) == tuple(b.size())
            and np.array_equal(_host(a), _host(b), equal_nan=_isf(a))
        )
    if isinstance(a, Storage) or isinstance(b, Storage):
        return (
            isinstance(a, Storage)
            and isinstance(b, Storage)
            and a.dtype == b.dtype
            and np.array_equal(
                a.device.backend.to_host(a._a), b.device.backend.to_host(b._a), equal_nan=a.dtype.kind == "f"
            )
        )
    if isinstance(a, dict) and isinstance(b, dict):
        if len(a) != len(b):
            return False
        a_refs = [(k.value, v) for k, v in a.items() if isinstance(k, TableKey)]
        b_refs = [(k.value, v) for k, v in b.items() if isinstance(k, TableKey)]
        if len(a_refs) != len(b_refs):  # identity keys of two graphs: paired in order
            return False
        for k, v in a.items():
            if not isinstance(k, TableKey) and (k not in b or not _same(v, b[k])):
                return False
        return all(_same(ka, kb) and _same(va, vb) for (ka, va), (kb, vb) in zip(a_refs, b_refs, strict=True))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, T7Object) and isinstance(b, T7Object):
        return a.typename == b.typename and _same(a.fields, b.fields)
    if isinstance(a, T7Function) and isinstance(b, T7Function):
        return a.kind == b.kind and a.bytecode == b.bytecode and _same(a.upvalues, b.upvalues)
    return bool(a == b)


def _isf(t: Tensor) -> bool:
    return t.dtype.kind == "f"


def _host(t: Tensor) -> Any:
    return t.device.backend.to_host(t._a)


class T7Object:
    """An instance of a Torch class that flambeau has no hook for: its type name and its fields.

    Fields read as attributes too; two objects are equal when their types and fields are.

    >>> import flambeau.tensor as ft
    >>> o = ft.T7Object("Blah", {"x": 1, "name": "b"})
    >>> o.typename, o.x, o["name"], o
    ('Blah', 1, 'b', T7Object('Blah', {'x': 1, 'name': 'b'}))
    >>> o == ft.T7Object("Blah", {"x": 1, "name": "b"}), o == ft.T7Object("Other", {"x": 1, "name": "b"})
    (True, False)
    """

    __slots__ = ("typename", "fields", "version")
    __hash__ = None  # type: ignore[assignment]  # mutable, compared by content

    def __init__(self, typename: str, fields: dict[Any, Any] | None = None, version: int = 1):
        object.__setattr__(self, "typename", typename)
        object.__setattr__(self, "fields", {} if fields is None else fields)
        object.__setattr__(self, "version", version)

    def __getattr__(self, name: str) -> Any:
        if name in T7Object.__slots__:
            raise AttributeError(name)
        try:
            return self.fields[name]
        except KeyError:
            raise AttributeError(f"{self.typename} object has no field {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name in T7Object.__slots__:
            object.__setattr__(self, name, value)
        else:
            self.fields[name] = value

    def __getitem__(self, key: Any) -> Any:
        return self.fields[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self.fields[key] = value

    def __dir__(self) -> list[str]:
        return sorted(set(object.__dir__(self)) | {k for k in self.fields if isinstance(k, str)})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, T7Object):
            return NotImplemented
        return _same(self, other)

    @reprlib.recursive_repr()
    def __repr__(self) -> str:
        return f"T7Object({self.typename!r}, {self.fields!r})"


class T7Function:
    """A Lua function read from a file: its LuaJIT bytecode and upvalues, kept but never run.

    >>> import flambeau.tensor as ft
    >>> f = ft.T7Function(b"\\x1bLJ...")
    >>> f()
    Traceback (most recent call last):
    ...
    flambeau.tensor.errors.SerializationError: a Lua function (LuaJIT bytecode, 6 bytes) cannot be called from Python: flambeau never runs code read from a file
    """

    __slots__ = ("bytecode", "upvalues", "kind")

    def __init__(self, bytecode: bytes, upvalues: Any = None, kind: int = TYPE_RECUR_FUNCTION):
        self.bytecode = bytes(bytecode)
        self.upvalues = upvalues  # the upvalues table as read: for kind 8 a list of {'name', 'value'} dicts
        self.kind = kind  # the type tag it was written with: 6, 7 or 8

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise SerializationError(
            f"a Lua function (LuaJIT bytecode, {len(self.bytecode)} bytes) cannot be called from Python:"
            " flambeau never runs code read from a file"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, T7Function):
            return NotImplemented
        return _same(self, other)

    def __hash__(self) -> int:
        return hash((self.kind, self.bytecode))

    def __repr__(self) -> str:
        return f"<T7Function: Lua bytecode, {len(self.bytecode)} bytes>"


class TableKey:
    """A table key that Python cannot hash (a table, a T7Object), kept by identity.

    ``TableKey(x) == TableKey(y)`` when ``x is y``; ``.value`` is the object. :func:`save_t7`
    writes the object itself.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TableKey) and other.value is self.value

    def __hash__(self) -> int:
        return id(self.value)

    def __repr__(self) -> str:
        return f"TableKey(<{type(self.value).__name__} at {id(self.value):#x}>)"


# -- class hooks --------------------------------------------------------------------------------------

_load_hooks: dict[str, Callable[[dict[Any, Any]], Any]] = {}
_save_hooks: dict[type, tuple[str, Callable[[Any], tuple[str, dict[Any, Any]]]]] = {}
_nn_import_tried = False


def register_t7_class(
    typename: str,
    load: Callable[[dict[Any, Any]], Any] | None = None,
    save: tuple[type, Callable[[Any], tuple[str, dict[Any, Any]]]] | None = None,
    *,
    override: bool = True,
) -> None:
    """Map the Torch class ``typename`` to Python objects for :func:`load_t7` and :func:`save_t7`.

    Parameters
    ----------
    typename : str
        The Torch class name, e.g. ``'nn.Linear'``.
    load : callable, optional
        ``load(fields)`` builds the Python object from the class's fields (a dict with str and int
        keys, values loaded as usual).
    save : (type, callable), optional
        ``(cls, fn)``: an instance of ``cls`` (or of a subclass) is written as a Torch class;
        ``fn(obj)`` returns ``(typename, fields)``.
    override : bool
        Replace an earlier registration (the default); False refuses it with a RegistrationError.

    Examples
    --------
    >>> import io, flambeau.tensor as ft
    >>> class Point:
    ...     def __init__(self, x, y):
    ...         self.x, self.y = x, y
    >>> ft.register_t7_class(
    ...     "demo.Point", load=lambda f: Point(f["x"], f["y"]), save=(Point, lambda p: ("demo.Point", vars(p)))
    ... )
    >>> buf = io.BytesIO()
    >>> ft.save_t7(buf, [Point(1, 2)])
    >>> p = ft.load_t7(io.BytesIO(buf.getvalue()))[0]
    >>> type(p).__name__, p.x, p.y
    ('Point', 1, 2)
    """
    if load is None and save is None:
        raise ArgumentError("register_t7_class: give load=, save= or both")
    if load is not None:
        if not override and typename in _load_hooks:
            raise RegistrationError(f"register_t7_class: {typename!r} already has a load hook")
        _load_hooks[typename] = load
    if save is not None:
        cls, fn = save
        if not override and cls in _save_hooks:
            raise RegistrationError(f"register_t7_class: {cls.__qualname__} already has a save hook")
        _save_hooks[cls] = (typename, fn)


def _load_hook(name: str) -> Callable[[dict[Any, Any]], Any] | None:
    global _nn_import_tried
    hook = _load_hooks.get(name)
    if hook is None and name.startswith("nn.") and not _nn_import_tried:
        _nn_import_tried = True
        try:
            import flambeau.nn.t7  # noqa: F401  (registers the nn hooks)
        except ImportError:
            pass
        hook = _load_hooks.get(name)
    return hook


def _save_hook(obj: Any) -> Callable[[Any], tuple[str, dict[Any, Any]]] | None:
    for klass in type(obj).__mro__:
        entry = _save_hooks.get(klass)
        if entry is not None:
            return entry[1]
    return None


# -- reading ------------------------------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes, binary: bool, byteorder: str, long_size: int, dev: Any):
        self.data = data
        self.n = len(data)
        self.pos = 0
        self.binary = binary
        self.bo: Literal["<", ">"] = "<" if byteorder == "little" else ">"
        self.long_size = long_size
        self.dev = dev
        self.memo: dict[int, Any] = {}
        self.hits: set[int] = set()
        self.furthest = 0

    # errors
    def fail(self, at: int, expected: str, found: str) -> SerializationError:
        return SerializationError(f"at byte {at}: expected {expected}, {found}")

    def need(self, k: int, expected: str) -> None:
        if self.pos + k > self.n:
            left = self.n - self.pos
            raise self.fail(self.pos, expected, f"but the file ends ({left} byte{'s' * (left != 1)} left): truncated")

    # ascii helpers
    def end_block(self) -> None:
        if self.pos < self.n and self.data[self.pos] == 0x0A:
            self.pos += 1

    def tokens(self, k: int, expected: str) -> list[bytes]:
        out = []
        for _ in range(k):
            m = _TOKEN.match(self.data, self.pos)
            if m is None:
                raise self.fail(self.pos, expected, "but the file ends: truncated")
            out.append(m.group(1))
            self.pos = m.end()
        if k > 0:
            self.end_block()
        return out

    def ascii_ints(self, k: int, expected: str) -> list[int]:
        start = self.pos
        toks = self.tokens(k, expected)
        out = []
        for t in toks:
            # int() also takes '1_000' and ' 1', and refuses more than sys.get_int_max_str_digits() digits
            if not re.fullmatch(rb"[+-]?\d{1,40}", t):
                raise self.fail(start, expected, f"found {t[:20]!r}" + ("..." if len(t) > 20 else ""))
            out.append(int(t))
        return out

    # scalars
    def read_int(self, expected: str) -> int:
        if not self.binary:
            return self.ascii_ints(1, expected)[0]
        self.need(4, expected)
        v = struct.unpack_from(self.bo + "i", self.data, self.pos)[0]
        self.pos += 4
        return int(v)

    def read_long(self, expected: str) -> int:
        return self.read_longs(1, expected)[0]

    def read_longs(self, k: int, expected: str) -> list[int]:
        if not self.binary:
            return self.ascii_ints(k, expected)
        self.need(k * self.long_size, expected)
        fmt = f"{self.bo}{k}{'q' if self.long_size == 8 else 'i'}"
        v = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += k * self.long_size
        return [int(x) for x in v]

    def read_double(self, expected: str) -> float:
        if self.binary:
            self.need(8, expected)
            v = struct.unpack_from(self.bo + "d", self.data, self.pos)[0]
            self.pos += 8
            return float(v)
        start = self.pos
        tok = self.tokens(1, expected)[0]
        try:
            return float(tok)
        except ValueError:
            raise self.fail(start, expected, f"found {tok[:20]!r}") from None

    def read_raw(self, k: int, expected: str) -> bytes:
        self.need(k, expected)
        out = self.data[self.pos : self.pos + k]
        self.pos += k
        if not self.binary and k > 0:
            self.end_block()
        return out

    def read_count(self, expected: str, unit: int = 1, long: bool = False) -> int:
        start = self.pos
        k = self.read_long(expected) if long else self.read_int(expected)
        if k < 0:
            raise self.fail(start, expected, f"found {k} (negative)")
        if k * unit > self.n - self.pos:
            raise self.fail(start, expected, f"found {k}, more than the {self.n - self.pos} bytes left: truncated")
        return k

    def read_string(self, expected: str) -> bytes:
        k = self.read_count(f"the length of {expected}")
        return self.read_raw(k, expected)

    # objects
    def read_object(self) -> Any:
        start = self.pos
        tag = self.read_int("a type tag (0 nil, 1 number, 2 string, 3 table, 4 torch object, 5 boolean, 6-8 function)")
        if tag == TYPE_NIL:
            return None
        if tag == TYPE_NUMBER:
            return _number(self.read_double("a number (a double)"))
        if tag == TYPE_STRING:
            return _text(self.read_string("a string"))
        if tag == TYPE_BOOLEAN:
            at = self.pos
            v = self.read_int("a boolean (an int 0 or 1)")
            if v not in (0, 1):
                raise self.fail(at, "a boolean (an int 0 or 1)", f"found {v}")
            return v == 1
        if tag == TYPE_FUNCTION:
            return T7Function(self.read_string("a function's bytecode"), None, TYPE_FUNCTION)
        if tag in (TYPE_TABLE, TYPE_TORCH, TYPE_RECUR_FUNCTION, TYPE_RECUR_FUNCTION_LEGACY):
            index = self.read_int("a reference index")
            if index in self.memo:
                self.hits.add(index)
                return self.memo[index]
            if tag == TYPE_TABLE:
                return self.read_table(index)
            if tag == TYPE_TORCH:
                return self.read_torch(index, start)
            f = T7Function(self.read_string("a function's bytecode"), None, tag)
            self.memo[index] = f
            f.upvalues = self.read_object()
            return f
        raise self.fail(start, "a type tag (0 to 8)", f"found {tag}")

    def read_table(self, index: int, into: dict[Any, Any] | None = None, alias: int | None = None) -> Any:
        k = self.read_count("a table's entry count", unit=2 if not self.binary else 8)
        d: dict[Any, Any] = {} if into is None else into
        self.memo[index] = d
        if alias is not None:
            self.memo[alias] = d
        for _ in range(k):
            key = _key(self.read_object())
            d[key] = self.read_object()
        if into is None and index not in self.hits and d and is_lua_array(d):
            lst = [d[i] for i in range(1, len(d) + 1)]
            self.memo[index] = lst
            return lst
        return d

    def read_torch(self, index: int, start: int) -> Any:
        version = self.read_string("a class version string ('V <n>') or a class name")
        m = re.fullmatch(rb"V (.*)", version)
        vnum: float | None = None
        if m is not None:
            try:
                vnum = float(m.group(1))
            except ValueError:
                vnum = None
            if vnum is not None and not math.isfinite(vnum):  # Lua's tonumber gives nil for nan; inf is no version
                raise self.fail(start, "a class version ('V <n>')", f"found {version[:40]!r}")
        if vnum is None:
            raw_name, vnum = version, 0.0
        else:
            raw_name = self.read_string("a class name")
        try:
            name = raw_name.decode("ascii")
        except UnicodeDecodeError:
            raise self.fail(start, "a torch class name in ascii", f"found {raw_name[:40]!r}") from None
        if name in _CLASSES:
            kind, what = _CLASSES[name]
            obj = self.read_storage(kind) if what == "Storage" else self.read_tensor(kind, name)
            self.memo[index] = obj
            return obj
        hook = _load_hook(name)
        if hook is None and name == "tds.Hash":
            d: dict[Any, Any] = {}
            self.memo[index] = d
            for _ in range(self.read_count("a tds.Hash's entry count", unit=8 if self.binary else 2, long=True)):
                key = _key(self.read_object())
                d[key] = self.read_object()
            return d
        if hook is None and name == "tds.Vec":
            lst: list[Any] = []
            self.memo[index] = lst
            for _ in range(self.read_count("a tds.Vec's length", unit=4 if self.binary else 2, long=True)):
                lst.append(self.read_object())
            return lst
        if hook is None:
            tobj = T7Object(name, {}, int(vnum))
            self.memo[index] = tobj
            self.read_fields(name, tobj.fields, None)
            return tobj
        fields: dict[Any, Any] = {}
        self.memo[index] = fields
        self.read_fields(name, fields, index)
        try:
            obj = hook(fields)
        except SerializationError:
            raise
        except Exception as e:
            raise SerializationError(f"at byte {start}: the fields of a {name} could not be converted: {e}") from e
        self.memo[index] = obj
        return obj

    def read_fields(self, name: str, into: dict[Any, Any], alias: int | None) -> None:
        start = self.pos
        expected = f"the table of a {name}'s fields (type tag 3)"
        tag = self.read_int(expected)
        if tag != TYPE_TABLE:
            raise self.fail(
                start,
                expected,
                f"found type tag {tag} (classes with their own format other than tensors, storages, tds.Hash"
                " and tds.Vec are not supported)",
            )
        index = self.read_int("a reference index")
        if index in self.memo:
            old = self.memo[index]
            if not isinstance(old, (dict, list)):
                raise self.fail(start, expected, f"found a reference to a {type(old).__name__} (index {index})")
            into.update(old if isinstance(old, dict) else dict(enumerate(old, 1)))
            return
        self.read_table(index, into=into, alias=alias)

    def read_storage(self, kind: str) -> Storage:
        dtype = _KINDS[kind]
        width = self.long_size if kind == "Long" else dtype.itemsize
        k = self.read_count(f"the size of a {kind}Storage", unit=width if self.binary else 1, long=True)
        start = self.pos
        expected = f"{k} elements of a {kind}Storage"
        if self.binary or kind in ("Byte", "Char"):
            if not self.binary:
                raw = self.read_raw(k, expected)
                arr = np.frombuffer(raw, dtype=dtype).copy()
            else:
                fdt = np.dtype(f"{self.bo}i{width}") if kind == "Long" else dtype.newbyteorder(self.bo)
                self.need(k * width, expected)
                arr = np.frombuffer(self.data, dtype=fdt, count=k, offset=self.pos).astype(dtype)
                self.pos += k * width
        else:
            toks = self.tokens(k, expected)
            try:
                if dtype.kind == "f":
                    arr = np.array([float(t) for t in toks], dtype=dtype)
                else:
                    arr = np.array([int(t) for t in toks], dtype=dtype)
            except (ValueError, OverflowError) as e:
                raise self.fail(start, expected, f"found a token that is not one ({e})") from None
        return Storage._from(self.dev.backend.from_host(arr, self.dev.index), self.dev)

    def read_tensor(self, kind: str, name: str) -> Tensor:
        start = self.pos
        ndim = self.read_int(f"the dimension count of a {name}")
        if not 0 <= ndim <= 1024:
            raise self.fail(start, f"the dimension count of a {name} (0 to 1024)", f"found {ndim}")
        at = self.pos
        sizes = self.read_longs(ndim, f"the {ndim} sizes of a {name}")
        if any(s < 0 for s in sizes):
            raise self.fail(at, f"the sizes of a {name} (not negative)", f"found {reprlib.repr(sizes)}")
        strides = self.read_longs(ndim, f"the {ndim} strides of a {name}")
        offset = self.read_long(f"the storage offset of a {name} (1-based)") - 1
        at = self.pos
        storage = self.read_object()
        dtype = _KINDS[kind]
        if storage is None:
            if ndim and 0 not in sizes:
                raise self.fail(at, f"the storage of a {name} of size {reprlib.repr(sizes)}", "found nil")
            try:  # an empty tensor: numpy still refuses more than 64 dimensions, or sizes whose product overflows
                return wrap(self.dev.xp.zeros(tuple(sizes) if ndim else (0,), dtype=dtype), self.dev)
            except ValueError as e:
                raise self.fail(
                    start, f"sizes of an empty {name} that an array can have", f"but {str(e)[:200]}"
                ) from None
        if not isinstance(storage, Storage) or storage.dtype != dtype:
            found = storage.type() if isinstance(storage, Storage) else type(storage).__name__
            raise self.fail(at, f"a torch.{kind}Storage for a {name}", f"found {found}")
        from .constructors import view_of_storage

        if ndim == 0:
            sizes, strides, offset = [0], [1], min(max(offset, 0), len(storage))
        try:
            return wrap(view_of_storage(storage, offset, tuple(sizes), tuple(strides)), self.dev)
        except Exception as e:
            raise self.fail(
                start,
                f"sizes, strides and offset of a {name} that fit its storage of {len(storage)}",
                f"but {str(e)[:200]}",
            ) from None


def _number(x: float) -> int | float:
    if x.is_integer() and abs(x) <= _MAX_INT and not (x == 0 and str(x).startswith("-")):
        return int(x)
    return x


def _text(b: bytes) -> str | bytes:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b


def _key(k: Any) -> Any:
    try:
        hash(k)
    except TypeError:
        return TableKey(k)
    return k


def is_lua_array(d: dict[Any, Any]) -> bool:
    """Whether a decoded Lua table is an array: keyed 1..n (the empty table is one).

    >>> is_lua_array({1: "a", 2: "b"}), is_lua_array({1: "a", "n": 2}), is_lua_array({})
    (True, False, True)
    """
    n = len(d)
    return all(type(k) is int and 1 <= k <= n for k in d)


def _plausible(head: bytes, binary: bool, order: str) -> bool:
    if not binary:
        m = _TOKEN.match(head)
        return m is not None and m.group(1).isdigit() and 0 <= int(m.group(1)) <= 8
    if len(head) < 4:
        return False
    return 0 <= int.from_bytes(head[:4], order, signed=True) <= 8  # type: ignore[arg-type]


def load_t7(
    path: str | os.PathLike[str] | IO[bytes],
    *,
    format: str | None = None,
    byteorder: str | None = None,
    long_size: int | None = None,
    device: Any = None,
) -> Any:
    """Load the object in a Lua Torch7 ``.t7`` file (written by ``torch.save``).

    Parameters
    ----------
    path : str, path-like or binary file object
        The file (a file object is read from its current position to its end).
    format : {'binary', 'ascii'}, optional
        The file's format; detected when not given.
    byteorder : {'little', 'big'}, optional
        The byte order of a binary file; detected when not given.
    long_size : {8, 4}, optional
        Bytes per C long in a binary file (4 for files written on 32-bit systems or Windows,
        Torch7's ``'b32'``); detected when not given.
    device : str or Device, optional
        Where tensors and storages go: the cpu when not given (CUDA tensors included).

    Returns
    -------
    object
        See the module documentation for what loads as what.

    Raises
    ------
    SerializationError
        A malformed, truncated or unsupported file, naming the byte offset and what was expected.

    Examples
    --------
    >>> import io, flambeau.tensor as ft
    >>> data = b"3\\n1\\n1\\n2\\n5\\nhello\\n1\\n123\\n"  # torch.save(f, {hello = 123}, 'ascii')
    >>> ft.load_t7(io.BytesIO(data))
    {'hello': 123}
    >>> ft.load_t7(io.BytesIO(data[:-6]))
    Traceback (most recent call last):
    ...
    flambeau.tensor.errors.SerializationError: load_t7 (ascii): at byte 16: expected a type tag (0 nil, ...), but the file ends: truncated
    """
    if format not in (None, "binary", "ascii"):
        raise ArgumentError(f"load_t7: format must be 'binary' or 'ascii', not {format!r}")
    if byteorder not in (None, "little", "big"):
        raise ArgumentError(f"load_t7: byteorder must be 'little' or 'big', not {byteorder!r}")
    if long_size not in (None, 4, 8):
        raise ArgumentError(f"load_t7: long_size must be 4 or 8, not {long_size!r}")
    dev = _device("cpu" if device is None else device)
    if hasattr(path, "read"):
        data = path.read()
        name = getattr(path, "name", "<file>")
    else:
        with open(os.fspath(path), "rb") as fh:
            data = fh.read()
        name = os.fspath(path)
    data = bytes(data)
    candidates: list[tuple[bool, str, int]] = []
    for fmt in ("binary", "ascii") if format is None else (format,):
        if fmt == "ascii":
            candidates.append((False, "little", 8))
            continue
        for order in ("little", "big") if byteorder is None else (byteorder,):
            for size in (8, 4) if long_size is None else (long_size,):
                candidates.append((True, order, size))
    plausible = [c for c in candidates if _plausible(data[:64], c[0], c[1])]
    if not plausible:
        if not data:
            raise SerializationError(f"load_t7: {name}: the file is empty")
        what = "binary" if format == "binary" else "ascii" if format == "ascii" else "binary or ascii"
        raise SerializationError(
            f"load_t7: {name}: at byte 0: expected a type tag 0 to 8 ({what}{_order_text(byteorder)}),"
            f" found {data[:8]!r}: not a Torch7 file"
        )
    fallback: Any = None
    best: tuple[int, SerializationError] | None = None
    for binary, order, size in plausible:
        r = _Reader(data, binary, order, size, dev)
        desc = f"binary, {order}-endian, {size}-byte longs" if binary else "ascii"
        try:
            obj = r.read_object()
        except SerializationError as e:
            err = SerializationError(f"load_t7 ({desc}): {e}")
            if best is None or r.pos > best[0]:
                best = (r.pos, err)
            continue
        except RecursionError:
            err = SerializationError(f"load_t7 ({desc}): at byte {r.pos}: objects nested too deeply to read")
            if best is None or r.pos > best[0]:
                best = (r.pos, err)
            continue
        rest = data[r.pos :]
        if not rest.strip(_SPACE if not binary else b""):
            return obj
        if fallback is None:
            fallback = (obj,)
    if fallback is not None:
        return fallback[0]
    assert best is not None
    raise best[1]


def _order_text(byteorder: str | None) -> str:
    return f", {byteorder}-endian" if byteorder else ""


# -- writing ------------------------------------------------------------------------------------------


class _Writer:
    def __init__(self, binary: bool, byteorder: str, long_size: int):
        self.out = io.BytesIO()
        self.binary = binary
        self.bo: Literal["<", ">"] = "<" if byteorder == "little" else ">"
        self.long_size = long_size
        self.ids: dict[Any, int] = {}
        self.keep: list[Any] = []
        self.count = 0

    def ints(self, values: list[int], long: bool = False) -> None:
        if self.binary:
            code = "q" if long and self.long_size == 8 else "i"
            lim = 2 ** (63 if code == "q" else 31)
            for v in values:
                if not -lim <= v < lim:
                    raise SerializationError(f"save_t7: {v} does not fit a {8 if code == 'q' else 4}-byte integer")
            self.out.write(struct.pack(f"{self.bo}{len(values)}{code}", *values))
        elif values:
            self.out.write(" ".join(str(int(v)) for v in values).encode() + b"\n")

    def double(self, v: float) -> None:
        if self.binary:
            self.out.write(struct.pack(self.bo + "d", v))
        else:
            self.out.write(repr(float(v)).encode() + b"\n")

    def raw(self, b: bytes) -> None:
        self.out.write(b)
        if not self.binary and b:
            self.out.write(b"\n")

    def string(self, b: bytes) -> None:
        self.ints([len(b)])
        self.raw(b)

    def reference(self, tag: int, key: Any, obj: Any) -> bool:
        """Write the tag and index; True when the object was written before (only its index)."""
        self.ints([tag])
        if key in self.ids:
            self.ints([self.ids[key]])
            return True
        self.count += 1
        self.ids[key] = self.count
        self.keep.append(obj)
        self.ints([self.count])
        return False

    def class_header(self, name: str, version: int = 1) -> None:
        self.string(f"V {version}".encode())
        self.string(name.encode())

    def write(self, obj: Any, where: str) -> None:
        if isinstance(obj, TableKey):
            obj = obj.value
        if obj is None:
            self.ints([TYPE_NIL])
        elif isinstance(obj, (bool, np.bool_)):
            self.ints([TYPE_BOOLEAN, int(bool(obj))])
        elif isinstance(obj, (int, np.integer)):
            if abs(int(obj)) > _MAX_INT:
                raise SerializationError(f"save_t7: {where} = {int(obj)} is beyond 2**53: Lua's doubles cannot hold it")
            self.ints([TYPE_NUMBER])
            self.double(float(obj))
        elif isinstance(obj, (float, np.floating)):
            self.ints([TYPE_NUMBER])
            self.double(float(obj))
        elif isinstance(obj, str):
            self.ints([TYPE_STRING])
            self.string(obj.encode("utf-8"))
        elif isinstance(obj, (bytes, bytearray)):
            self.ints([TYPE_STRING])
            self.string(bytes(obj))
        elif isinstance(obj, Tensor):
            self.write_tensor(obj, where)
        elif isinstance(obj, Storage):
            self.write_storage(obj, obj._a, where)
        elif isinstance(obj, (dict, list, tuple)):
            if self.reference(TYPE_TABLE, id(obj), obj):
                return
            self.write_table_body(obj, where)
        elif isinstance(obj, T7Object):
            if self.reference(TYPE_TORCH, id(obj), obj):
                return
            self.class_header(obj.typename, obj.version)
            self.write(dict(obj.fields), f"{where}.fields")
        elif isinstance(obj, T7Function):
            if obj.kind == TYPE_FUNCTION:
                self.ints([TYPE_FUNCTION])
                self.string(obj.bytecode)
            elif not self.reference(obj.kind, id(obj), obj):
                self.string(obj.bytecode)
                self.write(obj.upvalues if obj.upvalues is not None else {}, f"{where}.upvalues")
        else:
            hook = _save_hook(obj)
            if hook is None:
                raise SerializationError(
                    f"save_t7: {where} is a {type(obj).__qualname__}, which a .t7 file cannot hold"
                    " (register_t7_class gives a class a save hook)"
                )
            if self.reference(TYPE_TORCH, id(obj), obj):
                return
            typename, fields = hook(obj)
            self.class_header(typename)
            self.keep.append(fields)
            self.write(dict(fields), f"{where}.fields")

    def write_table_body(self, obj: Any, where: str) -> None:
        items = list(obj.items()) if isinstance(obj, dict) else list(enumerate(obj, 1))
        self.ints([len(items)])
        for k, v in items:
            if k is None:
                raise SerializationError(f"save_t7: {where} has a None key, which a Lua table cannot have")
            self.write(k, f"{where} (a key)")
            self.write(v, f"{where}[{k!r}]")

    def write_storage(self, s: Storage, flat: Any, where: str) -> None:
        kind = _KIND_OF_DTYPE[np.dtype(flat.dtype)]
        key = ("storage", _data_ptr(flat), int(flat.shape[0]), str(flat.dtype), str(s.device))
        if self.reference(TYPE_TORCH, key, flat):
            return
        self.class_header(f"torch.{kind}Storage")
        host = np.ascontiguousarray(s.device.backend.to_host(flat))
        n = int(host.shape[0])
        self.ints([n], long=True)
        if kind == "Long" and self.long_size == 4:
            if n and (host.min() < -(2**31) or host.max() >= 2**31):
                raise SerializationError(f"save_t7: {where} holds longs beyond 4 bytes (long_size=4)")
            host = host.astype(np.int32)
        if self.binary:
            self.out.write(host.astype(host.dtype.newbyteorder(self.bo), copy=False).tobytes())
        elif kind in ("Byte", "Char"):
            self.raw(host.tobytes())
        elif n:
            vals = host.tolist()
            text = " ".join(map(repr, vals)) if host.dtype.kind == "f" else " ".join(map(str, vals))
            self.out.write(text.encode() + b"\n")

    def write_tensor(self, t: Tensor, where: str) -> None:
        kind = _KIND_OF_DTYPE[np.dtype(t.dtype)]
        if self.reference(TYPE_TORCH, id(t), t):
            return
        self.class_header(f"torch.{kind}Tensor")
        a = t._a
        if a.ndim == 0:  # Torch7 has no 0-dim tensors: a 1-element 1-D tensor
            a = a.reshape(1)
        if any(s < 0 for s in a.strides):  # Torch7's strides are not negative
            a = t.device.xp.ascontiguousarray(a)
        found = placed(a)
        if found is None:  # not placeable in its storage (cupy's base-less views): a copy of the values
            a = t.device.xp.ascontiguousarray(a)
            found = (a.reshape(-1), 0)
        flat, offset = found
        sizes = [int(x) for x in a.shape]
        strides = [int(x) // a.itemsize for x in a.strides]
        self.ints([len(sizes)])
        self.ints(sizes, long=True)
        self.ints(strides, long=True)
        self.ints([offset + 1], long=True)
        self.write_storage(Storage._from(flat, t.device), flat, f"{where}.storage")


def save_t7(
    path: str | os.PathLike[str] | IO[bytes],
    obj: Any,
    *,
    format: str = "binary",
    byteorder: str = "little",
    long_size: int = 8,
) -> None:
    """Write ``obj`` as Lua Torch7's ``torch.save`` would, for :func:`load_t7` or Lua's ``torch.load``.

    Parameters
    ----------
    path : str, path-like or binary file object
        Where to write.
    obj : object
        ``None``, bools, numbers (ints up to 2**53), ``str`` and ``bytes`` (Lua strings), lists and
        tuples (tables with keys 1..n), dicts (tables), tensors and storages of every flambeau dtype
        (written as the cpu Torch type: ``torch.FloatTensor``, ...), :class:`T7Object`,
        :class:`T7Function`, and instances of classes with a save hook (:func:`register_t7_class`;
        ``flambeau.nn`` registers its modules). An object reached twice is written once, so shared
        tensors, storages and tables stay shared and cycles work.
    format : {'binary', 'ascii'}
        Torch7's two formats.
    byteorder : {'little', 'big'}
        Byte order of a binary file (Torch7 writes the machine's; x86 is little).
    long_size : {8, 4}
        Bytes per C long in a binary file (4 for Lua Torch7 on 32-bit systems or Windows).

    Raises
    ------
    SerializationError
        ``obj`` holds something a .t7 file cannot (naming where); nothing is written then.

    Examples
    --------
    >>> import io, flambeau.tensor as ft
    >>> buf = io.BytesIO()
    >>> ft.save_t7(buf, {"hello": 123}, format="ascii")
    >>> buf.getvalue()
    b'3\\n1\\n1\\n2\\n5\\nhello\\n1\\n123.0\\n'
    """
    if format not in ("binary", "ascii"):
        raise ArgumentError(f"save_t7: format must be 'binary' or 'ascii', not {format!r}")
    if byteorder not in ("little", "big"):
        raise ArgumentError(f"save_t7: byteorder must be 'little' or 'big', not {byteorder!r}")
    if long_size not in (4, 8):
        raise ArgumentError(f"save_t7: long_size must be 4 or 8, not {long_size!r}")
    w = _Writer(format == "binary", byteorder, long_size)
    try:
        w.write(obj, "obj")
    except RecursionError:
        raise SerializationError("save_t7: obj is nested too deeply to write") from None
    data = w.out.getvalue()
    if hasattr(path, "write"):
        path.write(data)
    else:  # an earlier file at path stays intact if writing fails
        from .serialization import write_atomically

        write_atomically(path, lambda f: f.write(data))
