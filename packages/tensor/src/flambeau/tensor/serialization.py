"""Saving and loading objects: ``ft.save`` / ``ft.load``, ``ft.serialize`` / ``ft.deserialize``.

The Torch7 calls (inventory section 3) in a format that never executes code on load: no pickle, no
``eval``; a zip archive holding a JSON manifest (the object graph) and one raw buffer per storage.

>>> import os, tempfile, flambeau.tensor as ft
>>> a = ft.range(1, 5)  # 1 to 5, inclusive as in Torch7
>>> obj = {"a": a, "tail": a.narrow(0, 2, 3), "lr": 0.1}
>>> with tempfile.TemporaryDirectory() as d:
...     ft.save(os.path.join(d, "model.flb"), obj)
...     back = ft.load(os.path.join(d, "model.flb"))
>>> _ = back["tail"].fill_(0)  # the view still shares its storage with back["a"]
>>> back["a"].tolist(), back["lr"]
([1.0, 2.0, 0.0, 0.0, 0.0], 0.1)

What can be saved
-----------------
``None``, ``bool``, ``int`` (any size), ``float``, ``complex``, ``str``, ``bytes``, ``bytearray``,
numpy scalars of numeric dtypes, ``list``, ``tuple``, ``dict`` (any serializable hashable keys, order
kept), ``set``, ``frozenset``, :class:`Tensor`, :class:`Storage`, :class:`Size`, :class:`Device`,
numpy dtypes, and every type registered with :func:`register_type` (built in: ``Generator`` and
``collections.OrderedDict``). Anything else (a function, a file, a numpy array) is refused with a
:class:`SerializationError` naming where it sits, e.g. ``obj['layers'][2]``.

Sharing and identity are kept, as Torch7's ``referenced`` mode does: each distinct allocation is
written once, and tensors and storages are rebuilt as views over the loaded buffers, so views that
shared memory before saving share it after loading. A container, tensor, storage or registered
object reached twice is written once and loaded as one object. Cycles through lists and dicts are
kept; a cycle through a tuple, set or registered object cannot be rebuilt and is refused on save.

Format, version 1
-----------------
A zip archive (members stored or deflated; flambeau writes them stored, with fixed timestamps, so
saving the same object twice gives the same bytes). Members:

``manifest.json``
    UTF-8 JSON (flambeau writes pure ASCII) holding one object::

        {"format": "flambeau", "format_version": 1, "flambeau_version": "0.1.0",
         "byteorder": "little", "buffers": [BUFFER, ...], "root": NODE}

    A reader refuses a ``format`` other than ``"flambeau"`` and a ``format_version`` it does not know
    (this module reads version 1). Other keys are ignored.

``buffers/<i>``
    The raw elements of buffer ``i``: ``numel`` items of ``dtype``, little-endian, packed, no header,
    so exactly ``numel * itemsize`` bytes. Members not named by the manifest are ignored.

A BUFFER is ``{"file": "buffers/<i>", "dtype": D, "numel": N, "device": "cpu"}``: ``D`` one of
``uint8 int8 int16 int32 int64 float16 float32 float64`` (Torch7's Byte, Char, Short, Int, Long,
Half, Float and Double), ``device`` the device the data lived on (``"cuda:0"``, a plugin's name).

A NODE is a JSON value. ``null``, ``true``, ``false`` and strings stand for themselves; a JSON
integer is a Python ``int`` (flambeau writes those in ``[-2**53, 2**53]`` so; JSON fractions,
arrays and exponents are not nodes). Everything else is an object with a ``"type"``:

=================  ==================================================================================
``"type"``         other keys
=================  ==================================================================================
``int``            ``hex``: ``hex(n)``, e.g. ``"-0x1f"`` (integers beyond 2**53)
``float``          ``value``: Python's ``repr`` (shortest round-trip decimal, ``nan``, ``inf``, ``-inf``)
``complex``        ``real``, ``imag``: as ``float``'s ``value``
``bytes``          ``base64``: the bytes, standard base64
``bytearray``      ``id``, ``base64``
``scalar``         ``dtype`` (a numpy name: ``bool``, ``int8`` ... ``complex128``), ``hex``: its
                   little-endian bytes as hexadecimal (a numpy scalar)
``list``           ``id``, ``items``: [NODE, ...]
``tuple``          ``id``, ``items``
``set``            ``id``, ``items``
``frozenset``      ``id``, ``items``
``dict``           ``id``, ``items``: [[KEY NODE, VALUE NODE], ...] in insertion order
``size``           ``items``: [int, ...] (an ``ft.Size``)
``device``         ``name``: e.g. ``"cpu"``, ``"cuda:1"``
``dtype``          ``name``: a numpy dtype name
``tensor``         ``id``, ``buffer`` (index into ``buffers``), ``offset`` (elements), ``size``:
                   [int, ...], ``stride``: [int, ...] (elements; 0 for expanded dimensions). The
                   tensor views the buffer, with its dtype and device, as Torch7's
                   ``Tensor(storage, offset, size, stride)`` does (0-based offset).
``storage``        ``id``, ``buffer``, ``offset``, ``numel``: a Storage over that part of the buffer
``object``         ``id``, ``class`` (a name given to :func:`register_type`), ``state``: NODE
``ref``            ``id``: the object defined by the node with that ``id``
=================  ==================================================================================

Ids are distinct integers. Nodes are read depth-first, in order (a dict's key before its value).
A ``ref`` always follows the node that defines its id: a ``list`` or ``dict`` is defined as soon as
it starts (so it may contain refs to itself), every other node once it is complete. An ``object``
is rebuilt by the ``from_state`` registered under its class name, called with its decoded state.
The built-in classes: ``"flambeau.Generator"``, state ``{"device": DEVICE, "seed": int, "state":
bytes}`` (the backend's generator state); ``"collections.OrderedDict"``, state ``[[key, value], ...]``.

Errors
------
A file that is not a zip, is truncated, lacks ``manifest.json`` or a buffer, has a buffer of the
wrong length, bad JSON, an unknown node type, dtype or class, or a format version this flambeau does
not read raises :class:`SerializationError` (a ``ValueError``) saying which. So does a hostile one,
before anything is allocated: a member encrypted or compressed otherwise than stored or deflated,
sizes claiming more than the file holds (or a deflated manifest expanding over 200 times past its
first MiB), two buffer records naming one member, or nesting deeper than Python's recursion limit. Data saved on a device
that is not available here (a model saved on a GPU, opened on a machine without one) is loaded on
the cpu with a ``RuntimeWarning``; ``map_location`` chooses the device instead, and one it names
that is unavailable raises :class:`DeviceUnavailableError`.
"""

from __future__ import annotations

import base64
import binascii
import collections
import io
import json
import os
import reprlib
import secrets
import struct
import sys
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from . import dtypes as _dt
from .errors import ArgumentError, DeviceUnavailableError, FlambeauError, RegistrationError, SerializationError
from .random import Generator
from .registry import Device
from .registry import device as _device
from .tensor import Size, Storage, Tensor, _data_ptr, placed, wrap

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "SerializationError",
    "deserialize",
    "load",
    "register_type",
    "registered_types",
    "save",
    "serialize",
    "unregister_type",
]

FORMAT = "flambeau"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_BUFFER_DTYPES = {str(dt): dt for dt in _dt.NAMES.values()}
_SCALAR_KINDS = "biufc"
_INT_JSON = 2**53
_COPY_CHUNK = 1 << 24
# What reading a damaged zip can raise (beyond BadZipFile): a bad deflate stream (zlib.error), an
# unsupported method or flag (NotImplementedError), an encrypted member (RuntimeError), short reads.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
    OverflowError,
    struct.error,
    zlib.error,
)
_DEFLATE_MAX_RATIO = 1032  # deflate cannot expand a stream more than this (RFC 1951's longest match per bit)
# A deflated manifest may expand at most this much past its first MiB: JSON text compresses ~10x, and
# its objects take ~25x their text in memory, so a few-KB file claiming more is a bomb, not a manifest.
_MANIFEST_MAX_RATIO = 200
_MANIFEST_FREE = 1 << 20


# -- the type registry -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    cls: type
    name: str
    to_state: Callable[[Any], Any]
    from_state: Callable[[Any], Any]


_by_name: dict[str, _Entry] = {}
_by_type: dict[type, _Entry] = {}


def register_type(
    cls: type,
    name: str,
    to_state: Callable[[Any], Any],
    from_state: Callable[[Any], Any],
    *,
    override: bool = False,
) -> None:
    """Make objects of type ``cls`` serializable, under the stable name ``name``.

    Parameters
    ----------
    cls : type
        The exact type (subclasses are not covered; register them too).
    name : str
        The name written into files, e.g. ``'nn.Linear'``: keep it stable across versions. A
        dotted name starting with the package's own name avoids clashes between plugins.
    to_state : callable
        ``to_state(obj)`` returns what to save: any serializable object (tensors, numbers, strings,
        nested lists and dicts, other registered objects). Tensors shared with the rest of the
        saved object stay shared.
    from_state : callable
        ``from_state(state)`` rebuilds the object from the loaded state.
    override : bool
        Replace an earlier registration of the same name or type instead of refusing it.

    Raises
    ------
    RegistrationError
        The name or the type is already registered (naming both), or ``cls`` is a type this
        module serializes itself.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> class Point:
    ...     def __init__(self, x, y):
    ...         self.x, self.y = x, y
    >>> ft.register_type(Point, "doc.Point", lambda p: [p.x, p.y], lambda s: Point(*s))
    >>> p = ft.deserialize(ft.serialize(Point(1, 2.5)))
    >>> type(p).__name__, p.x, p.y
    ('Point', 1, 2.5)
    >>> ft.unregister_type("doc.Point")
    """
    if not isinstance(cls, type):
        raise RegistrationError(f"register_type: expected a class, got {cls!r}")
    if not isinstance(name, str) or not name:
        raise RegistrationError(f"register_type: the name must be a non-empty string, got {name!r}")
    if not callable(to_state) or not callable(from_state):
        raise RegistrationError(f"register_type({name!r}): to_state and from_state must be callable")
    if cls in _BUILTIN_ENCODERS:
        raise RegistrationError(f"register_type({name!r}): {cls.__qualname__} is serialized by flambeau itself")
    old_name, old_type = _by_name.get(name), _by_type.get(cls)
    if not override:
        if old_name is not None:
            raise RegistrationError(
                f"register_type: the name {name!r} is already registered for {_qualname(old_name.cls)};"
                f" cannot register it for {_qualname(cls)} (pass override=True to replace it)"
            )
        if old_type is not None:
            raise RegistrationError(
                f"register_type: {_qualname(cls)} is already registered as {old_type.name!r};"
                f" cannot register it again as {name!r} (pass override=True to replace it)"
            )
    for old in (old_name, old_type):
        if old is not None:
            _by_name.pop(old.name, None)
            _by_type.pop(old.cls, None)
    entry = _Entry(cls, name, to_state, from_state)
    _by_name[name] = entry
    _by_type[cls] = entry


def unregister_type(name: str) -> None:
    """Remove the registration made under ``name`` (files naming it can no longer be loaded).

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> class Tag: pass
    >>> ft.register_type(Tag, "doc.Tag", lambda t: None, lambda s: Tag())
    >>> "doc.Tag" in ft.registered_types()
    True
    >>> ft.unregister_type("doc.Tag"); "doc.Tag" in ft.registered_types()
    False
    """
    entry = _by_name.pop(name, None)
    if entry is None:
        raise RegistrationError(f"unregister_type: no type is registered as {name!r}")
    _by_type.pop(entry.cls, None)


def registered_types() -> dict[str, type]:
    """Every registered name and its class.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> ft.registered_types()["flambeau.Generator"] is ft.Generator
    True
    """
    return {name: e.cls for name, e in sorted(_by_name.items())}


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# -- paths inside the saved object (for messages) --------------------------------------------------

_Path = tuple[Any, str] | None  # a linked list of steps, formatted only when an error needs it


def _fmt(path: _Path) -> str:
    steps = []
    while path is not None:
        path, step = path
        steps.append(step)
    return "obj" + "".join(reversed(steps))


def _item(path: _Path, key: Any) -> _Path:
    return (path, f"[{key!r}]")


# -- saving --------------------------------------------------------------------------------------------


class _Encoder:
    """Walks the object graph once: the JSON tree, and the buffers (allocations) it references."""

    def __init__(self, op: str) -> None:
        self.op = op
        self.memo: dict[int, tuple[Any, int]] = {}  # id(obj) -> (obj kept alive, node id)
        self.open: set[int] = set()  # ids of tuples, sets and objects still being encoded
        self.buffers: list[tuple[Any, Device, dict[str, Any]]] = []  # (allocation, device, record)
        self.buffer_of: dict[tuple[str, str, int, int], int] = {}
        self.keep: list[Any] = []  # temporaries whose ids are memo keys

    def fail(self, path: _Path, msg: str) -> SerializationError:
        return SerializationError(f"{self.op}: cannot serialize {_fmt(path)}: {msg}")

    def new_id(self, obj: Any) -> int:
        i = len(self.memo)
        self.memo[id(obj)] = (obj, i)
        return i

    def encode(self, obj: Any, path: _Path) -> Any:
        t = type(obj)
        if obj is None or t is bool or t is str:
            return obj
        if t is int:
            return obj if -_INT_JSON <= obj <= _INT_JSON else {"type": "int", "hex": hex(obj)}
        if t is float:
            return {"type": "float", "value": repr(obj)}
        hit = self.memo.get(id(obj))
        if hit is not None:
            if id(obj) in self.open:
                raise self.fail(
                    path,
                    f"it contains itself through a {_describe(obj)}; only cycles through lists and dicts can be saved",
                )
            return {"type": "ref", "id": hit[1]}
        enc = _BUILTIN_ENCODERS.get(t)
        if enc is not None:
            return enc(self, obj, path)
        entry = _by_type.get(t)
        if entry is not None:
            return self.encode_object(entry, obj, path)
        if isinstance(obj, np.generic) and obj.dtype.kind in _SCALAR_KINDS:
            le = obj.dtype.newbyteorder("<")
            return {"type": "scalar", "dtype": obj.dtype.name, "hex": np.asarray(obj, dtype=le).tobytes().hex()}
        if isinstance(obj, np.dtype):
            return {"type": "dtype", "name": obj.name}
        hint = ""
        if isinstance(obj, np.ndarray):
            hint = "; wrap numpy arrays with ft.from_numpy"
        elif isinstance(obj, (Tensor, Storage, list, tuple, dict, set, frozenset, int, float, str, bytes)):
            base = next(
                b
                for b in (Tensor, Storage, list, tuple, dict, set, frozenset, int, float, str, bytes)
                if isinstance(obj, b)
            )
            hint = f" (a subclass of {base.__name__}; register it with ft.register_type)"
        else:
            hint = "; register the type with ft.register_type"
        raise self.fail(path, f"objects of type {_qualname(t)!r} are not serializable{hint}")

    def encode_object(self, entry: _Entry, obj: Any, path: _Path) -> Any:
        i = self.new_id(obj)
        self.open.add(id(obj))
        try:
            state = entry.to_state(obj)
        except SerializationError:
            raise
        except Exception as e:
            raise self.fail(path, f"to_state of {entry.name!r} raised {type(e).__name__}: {e}") from e
        self.keep.append(state)  # a fresh state must outlive the walk: ids of dead objects are reused
        node = {"type": "object", "id": i, "class": entry.name, "state": self.encode(state, (path, f"<{entry.name}>"))}
        self.open.discard(id(obj))
        return node

    def buffer(self, flat: Any, dev: Device) -> int:
        key = (str(dev), flat.dtype.str, _data_ptr(flat) if flat.size else id(flat), int(flat.shape[0]))
        b = self.buffer_of.get(key)
        if b is None:
            b = self.buffer_of[key] = len(self.buffers)
            record = {"file": f"buffers/{b}", "dtype": flat.dtype.name, "numel": int(flat.shape[0]), "device": str(dev)}
            self.buffers.append((flat, dev, record))
        return b

    def view(self, a: Any, dev: Device) -> tuple[int, int, list[int], list[int]]:
        """(buffer, offset, sizes, strides) of backend array ``a``: a view of its whole allocation."""
        sizes = [int(n) for n in a.shape]
        where = placed(a)
        if where is not None:
            return self.buffer(where[0], dev), where[1], sizes, [s // a.itemsize for s in a.strides]
        # A layout we cannot place inside an allocation (memory not owned by a numpy/cupy array):
        # save the values as a buffer of their own.
        own = dev.xp.ascontiguousarray(a).reshape(-1)
        self.keep.append(own)
        cont, acc = [], 1
        for s in reversed(sizes):
            cont.append(acc)
            acc *= max(s, 1)
        return self.buffer(own, dev), 0, sizes, cont[::-1]


def _describe(obj: Any) -> str:
    entry = _by_type.get(type(obj))
    return f"registered {entry.name!r} object" if entry is not None else type(obj).__name__


def _enc_complex(e: _Encoder, obj: complex, path: _Path) -> Any:
    return {"type": "complex", "real": repr(obj.real), "imag": repr(obj.imag)}


def _enc_bytes(e: _Encoder, obj: bytes, path: _Path) -> Any:
    return {"type": "bytes", "base64": base64.b64encode(obj).decode("ascii")}


def _enc_bytearray(e: _Encoder, obj: bytearray, path: _Path) -> Any:
    return {"type": "bytearray", "id": e.new_id(obj), "base64": base64.b64encode(obj).decode("ascii")}


def _enc_list(e: _Encoder, obj: list[Any], path: _Path) -> Any:
    node: dict[str, Any] = {"type": "list", "id": e.new_id(obj)}
    node["items"] = [e.encode(x, (path, f"[{i}]")) for i, x in enumerate(obj)]
    return node


def _enc_dict(e: _Encoder, obj: dict[Any, Any], path: _Path) -> Any:
    node: dict[str, Any] = {"type": "dict", "id": e.new_id(obj)}
    node["items"] = [[e.encode(k, (path, f" key {k!r}")), e.encode(v, _item(path, k))] for k, v in list(obj.items())]
    return node


def _sequence_encoder(kind: str) -> Callable[[_Encoder, Any, _Path], Any]:
    def enc(e: _Encoder, obj: Any, path: _Path) -> Any:
        i = e.new_id(obj)
        e.open.add(id(obj))
        items = [e.encode(x, (path, f"[{j}]" if kind == "tuple" else f" item {x!r}")) for j, x in enumerate(obj)]
        e.open.discard(id(obj))
        return {"type": kind, "id": i, "items": items}

    return enc


def _enc_tensor(e: _Encoder, obj: Tensor, path: _Path) -> Any:
    b, off, sizes, strides = e.view(obj._a, obj._d)
    return {"type": "tensor", "id": e.new_id(obj), "buffer": b, "offset": off, "size": sizes, "stride": strides}


def _enc_storage(e: _Encoder, obj: Storage, path: _Path) -> Any:
    b, off, sizes, strides = e.view(obj._a, obj._d)
    if len(sizes) != 1 or (sizes[0] > 1 and strides[0] != 1):
        raise e.fail(path, "a storage that is not a contiguous 1-d buffer")
    return {"type": "storage", "id": e.new_id(obj), "buffer": b, "offset": off, "numel": sizes[0]}


_BUILTIN_ENCODERS: dict[type, Callable[[_Encoder, Any, _Path], Any]] = {
    complex: _enc_complex,
    bytes: _enc_bytes,
    bytearray: _enc_bytearray,
    list: _enc_list,
    tuple: _sequence_encoder("tuple"),
    set: _sequence_encoder("set"),
    frozenset: _sequence_encoder("frozenset"),
    dict: _enc_dict,
    Size: lambda e, obj, path: {"type": "size", "items": [int(n) for n in obj]},
    Device: lambda e, obj, path: {"type": "device", "name": str(obj)},
    Tensor: _enc_tensor,
    Storage: _enc_storage,
}
for _t in (type(None), bool, int, float, str):
    _BUILTIN_ENCODERS[_t] = lambda e, obj, path: obj  # handled inline; listed so register_type refuses them


def _encode(obj: Any, op: str) -> tuple[bytes, list[tuple[Any, Device, dict[str, Any]]]]:
    from . import __version__

    enc = _Encoder(op)
    try:
        root = enc.encode(obj, None)
    except RecursionError:
        raise SerializationError(f"{op}: the object is nested too deeply to serialize") from None
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "flambeau_version": __version__,
        "byteorder": "little",
        "buffers": [rec for _, _, rec in enc.buffers],
        "root": root,
    }
    try:
        text = json.dumps(manifest, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    except RecursionError:
        raise SerializationError(f"{op}: the object is nested too deeply to serialize") from None
    return text.encode("ascii"), enc.buffers


def _write_zip(f: IO[bytes], manifest: bytes, buffers: list[tuple[Any, Device, dict[str, Any]]]) -> None:
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        info = zipfile.ZipInfo(MANIFEST, _ZIP_DATE)
        zf.writestr(info, manifest)
        for flat, dev, rec in buffers:
            host = np.asarray(dev.backend.to_host(flat))
            data = np.ascontiguousarray(host, dtype=host.dtype.newbyteorder("<")).reshape(-1).view(np.uint8)
            info = zipfile.ZipInfo(rec["file"], _ZIP_DATE)
            info.file_size = int(data.nbytes)
            with zf.open(info, "w", force_zip64=data.nbytes >= 1 << 31) as out:
                for start in range(0, data.nbytes, _COPY_CHUNK):
                    out.write(data[start : start + _COPY_CHUNK].data)


def serialize(obj: Any) -> bytes:
    """The bytes :func:`save` would write for ``obj`` (Torch7's ``torch.serialize``).

    Parameters
    ----------
    obj : object
        Anything :mod:`flambeau.tensor.serialization` can save (see its docstring).

    Returns
    -------
    bytes
        A zip archive in flambeau's documented format; :func:`deserialize` reads it back.

    Raises
    ------
    SerializationError
        Some part of ``obj`` cannot be saved; the message names where it sits, e.g.
        ``obj['layers'][2]``.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> data = ft.serialize({"w": ft.ones(2, 2), "step": 3})
    >>> data[:2], ft.deserialize(data)["w"].sum().item()
    (b'PK', 4.0)
    """
    manifest, buffers = _encode(obj, "serialize")
    out = io.BytesIO()
    _write_zip(out, manifest, buffers)
    return out.getvalue()


def save(path: str | os.PathLike[str] | IO[bytes], obj: Any) -> None:
    """Write ``obj`` to ``path`` (Torch7's ``torch.save(filename, obj)``), atomically.

    The file is written to a temporary file in the same directory, flushed to disk, then renamed
    over ``path``: an error or a crash during the save leaves an earlier file at ``path`` as it
    was, and no temporary file behind (the object is walked completely before anything is written).

    Parameters
    ----------
    path : str, os.PathLike or binary file object
        Where to write. A file object (``io.BytesIO``, an open file) gets the bytes written at its
        current position; atomicity is then the caller's business.
    obj : object
        Anything :mod:`flambeau.tensor.serialization` can save: tensors, storages, numbers, strings,
        ``None``, nested lists, tuples and dicts, generators, registered types.

    Raises
    ------
    SerializationError
        Some part of ``obj`` cannot be saved (the message names where); nothing is written.
    OSError
        The file cannot be written; an earlier file at ``path`` is left intact.

    Examples
    --------
    >>> import os, tempfile, flambeau.tensor as ft
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "x.flb")
    ...     ft.save(p, [ft.zeros(3), "three", None])
    ...     ft.load(p)[1], sorted(os.listdir(d))
    ('three', ['x.flb'])
    """
    manifest, buffers = _encode(obj, "save")
    if hasattr(path, "write"):
        buf = io.BytesIO()
        _write_zip(buf, manifest, buffers)
        path.write(buf.getvalue())
        return
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentError(f"save: expected a path or a binary file object, got {type(path).__name__}")
    write_atomically(path, lambda f: _write_zip(f, manifest, buffers))


def write_atomically(path: str | os.PathLike[str], write: Any) -> None:
    """Call ``write(file)`` on a new file beside ``path``, then put it in place of ``path`` at once.

    An error, a crash or a full disk leaves an earlier file at ``path`` as it was.
    """
    target = os.fspath(path)
    directory, base = os.path.split(os.path.abspath(target))
    tmp, fd = _create_temp(directory, base)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


def _create_temp(directory: str, base: str) -> tuple[str, int]:
    """A new file beside the target, created with the process umask's default mode."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(f"save: cannot create a temporary file in {directory!r}")


def _fsync_dir(directory: str) -> None:
    if sys.platform == "win32":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- loading -------------------------------------------------------------------------------------------


class _Decoder:
    def __init__(
        self, op: str, zf: zipfile.ZipFile, manifest: dict[str, Any], map_location: Any, archive_size: int
    ) -> None:
        self.op = op
        self.zf = zf
        self.archive_size = archive_size
        self.objs: dict[int, Any] = {}
        self.map_location = _check_map_location(op, map_location)
        self.devices: dict[str, Device] = {}
        records = manifest.get("buffers")
        if not isinstance(records, list):
            raise self.corrupt("the manifest's 'buffers' is not a list")
        self.records = records
        self.buffers: dict[int, Storage] = {}
        self.files: dict[str, int] = {}  # member name -> the buffer record naming it

    def corrupt(self, msg: str, path: Any = ...) -> SerializationError:
        where = "" if path is ... else f" at {_fmt(path)}"
        return SerializationError(f"{self.op}: corrupt file: {msg}{where}")

    def device(self, name: str) -> Device:
        dev = self.devices.get(name)
        if dev is not None:
            return dev
        target: Any = name
        ml = self.map_location
        if isinstance(ml, dict):
            target = ml.get(name, ml.get(name.partition(":")[0], name))
        elif ml is not None:
            target = ml
        try:
            dev = _device(target)
        except DeviceUnavailableError as e:
            saved = f"saved on device {name!r}" + (f", mapped to {str(target)!r}" if str(target) != name else "")
            if ml is not None:  # the caller chose the device: no second guess
                raise DeviceUnavailableError(
                    f"{self.op}: the file holds data {saved}, which is unavailable: {e}"
                ) from None
            # A model saved on a GPU opens on a machine without one: on the cpu, and saying so.
            warnings.warn(
                f"{self.op}: the file holds data {saved}, which is unavailable here ({e}); it is loaded on the"
                " cpu (pass map_location to choose the device)",
                RuntimeWarning,
                stacklevel=4,
            )
            dev = _device("cpu")
        except (ArgumentError, TypeError) as e:
            raise self.corrupt(f"bad device {name!r} ({e})") from None
        self.devices[name] = dev
        return dev

    def buffer(self, b: Any, path: _Path) -> Storage:
        if type(b) is not int or not 0 <= b < len(self.records):
            raise self.corrupt(f"buffer index {b!r} out of range ({len(self.records)} buffers)", path)
        s = self.buffers.get(b)
        if s is None:
            s = self.buffers[b] = self.read_buffer(b)
        return s

    def read_buffer(self, b: int) -> Storage:
        rec = self.records[b]
        if not isinstance(rec, dict):
            raise self.corrupt(f"buffer record {b} is not an object")
        name, dtype, numel, dev = (rec.get(k) for k in ("file", "dtype", "numel", "device"))
        if not isinstance(name, str) or type(numel) is not int or numel < 0 or not isinstance(dev, str):
            raise self.corrupt(f"buffer record {b} is malformed: {_brief(rec)}")
        dt = _BUFFER_DTYPES.get(dtype) if isinstance(dtype, str) else None
        if dt is None:
            raise self.corrupt(
                f"buffer {name!r} has unknown dtype {_brief(dtype)} (known: {', '.join(_BUFFER_DTYPES)})"
            )
        if self.files.setdefault(name, b) != b:  # each record has a member of its own: no reading one 10**5 times
            raise self.corrupt(f"buffer records {self.files[name]} and {b} both name {_brief(name)}")
        try:
            info = self.zf.getinfo(name)
        except KeyError:
            raise self.corrupt(f"missing buffer {_brief(name)}") from None
        problem = _member_problem(info, self.archive_size)
        if problem is not None:
            raise self.corrupt(f"buffer {name!r} {problem}")
        expected = numel * dt.itemsize
        if info.file_size != expected:
            raise self.corrupt(
                f"buffer {name!r} holds {info.file_size} bytes, but {numel} {dtype} elements need {expected}"
            )
        host = np.empty(numel, dtype=dt.newbyteorder("<"))
        view = host.view(np.uint8).reshape(-1).data
        try:
            with self.zf.open(info) as f:
                got = 0
                while got < expected:
                    n = f.readinto(view[got:])  # type: ignore[attr-defined]  # a ZipExtFile
                    if not n:
                        break
                    got += n
                extra = f.read(1)  # reaching the end checks the CRC
        except _ZIP_ERRORS as e:
            raise self.corrupt(f"cannot read buffer {name!r}: {_zip_error(e)}") from None
        if got != expected or extra:
            raise self.corrupt(f"buffer {name!r} has {'more' if extra else got} bytes, expected {expected}")
        if not host.dtype.isnative:
            host = host.astype(dt)
        d = self.device(dev)
        return Storage._from(d.backend.from_host(host, d.index), d)

    def decode(self, node: Any, path: _Path) -> Any:
        if node is None or isinstance(node, (bool, str)):
            return node
        if type(node) is int:
            return node
        if not isinstance(node, dict):
            raise self.corrupt(f"unexpected JSON value {_short(node)} (not a node)", path)
        kind = node.get("type")
        fn = _DECODERS.get(kind) if isinstance(kind, str) else None
        if fn is None:
            raise self.corrupt(f"unknown node type {kind!r}", path)
        try:
            return fn(self, node, path)
        except (SerializationError, DeviceUnavailableError):
            raise
        except (KeyError, TypeError, ValueError, OverflowError, binascii.Error) as e:
            raise self.corrupt(f"bad {kind!r} node {_short(node)}: {type(e).__name__}: {e}", path) from None

    def define(self, node: dict[str, Any], obj: Any, path: _Path) -> Any:
        i = node["id"]
        if type(i) is not int:
            raise self.corrupt(f"bad id {i!r}", path)
        if i in self.objs:
            raise self.corrupt(f"id {i} defined twice", path)
        self.objs[i] = obj
        return obj

    def items(self, node: dict[str, Any], path: _Path) -> list[Any]:
        items = node["items"]
        if not isinstance(items, list):
            raise self.corrupt("'items' is not a list", path)
        return items

    def ints(self, node: dict[str, Any], key: str, path: _Path) -> list[int]:
        v = node[key]
        if not isinstance(v, list) or any(type(x) is not int for x in v):
            raise self.corrupt(f"{key!r} is not a list of integers", path)
        return v


def _member_problem(
    info: zipfile.ZipInfo, archive_size: int, max_ratio: int = _DEFLATE_MAX_RATIO, floor: int = 1024
) -> str | None:
    """Why a member cannot be read safely (its header lies, or it is a bomb), or None; checked before reading.

    A deflated member may hold at most ``max(compressed size * max_ratio, floor)`` bytes.
    """
    if info.flag_bits & 0x61:  # 0x01 encrypted, 0x20 patched data, 0x40 strong encryption
        return f"has flags {info.flag_bits:#x} (encrypted or patched), which flambeau files never use"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return f"uses compression method {info.compress_type} (flambeau files are stored or deflated)"
    if info.header_offset < 0 or info.header_offset + info.compress_size > archive_size:
        return f"claims {info.compress_size} bytes at offset {info.header_offset}, beyond the file's {archive_size}"
    if info.compress_type == zipfile.ZIP_STORED:
        most = info.compress_size
    else:
        most = max(info.compress_size * max_ratio, floor)
    if info.file_size > most:
        return f"claims {info.file_size} bytes, more than its {info.compress_size} stored bytes may hold"
    return None


def _zip_error(e: BaseException) -> str:
    """zipfile's message, cut short: some quote a whole damaged header."""
    s = str(e) or type(e).__name__
    return s if len(s) <= 200 else s[:197] + "..."


def _check_map_location(op: str, ml: Any) -> Any:
    ok = ml is None or isinstance(ml, (str, Device))
    if isinstance(ml, dict):
        ok = all(isinstance(k, str) and isinstance(v, (str, Device)) for k, v in ml.items())
    if not ok:
        raise ArgumentError(
            f"{op}: map_location must be a device ('cpu', ft.device('cuda:0')) or a dict from saved device"
            f" names to devices, got {ml!r}"
        )
    return ml


def _short(node: Any) -> str:
    s = json.dumps(node)
    return s if len(s) <= 80 else s[:77] + "..."


_BRIEF = reprlib.Repr()
_BRIEF.maxstring = _BRIEF.maxother = 80


def _brief(v: Any) -> str:
    """``repr(v)``, cut short (a hostile file's strings and containers may be huge or deep)."""
    return _BRIEF.repr(v)


def _float(v: Any) -> float:
    if not isinstance(v, str):
        raise TypeError(f"expected a string, got {v!r}")
    return float(v)


def _dec_ref(d: _Decoder, node: dict[str, Any], path: _Path) -> Any:
    i = node["id"]
    if type(i) is not int or i not in d.objs:
        raise d.corrupt(f"reference to id {i!r}, which is not defined before it", path)
    return d.objs[i]


def _dec_list(d: _Decoder, node: dict[str, Any], path: _Path) -> Any:
    out: list[Any] = d.define(node, [], path)
    for i, x in enumerate(d.items(node, path)):
        out.append(d.decode(x, (path, f"[{i}]")))
    return out


def _dec_dict(d: _Decoder, node: dict[str, Any], path: _Path) -> Any:
    out: dict[Any, Any] = d.define(node, {}, path)
    for pair in d.items(node, path):
        if not isinstance(pair, list) or len(pair) != 2:
            raise d.corrupt(f"a dict item is not a [key, value] pair: {_short(pair)}", path)
        k = d.decode(pair[0], (path, " key"))
        try:
            hash(k)
        except TypeError:
            raise d.corrupt(f"unhashable dict key of type {type(k).__name__}", path) from None
        out[k] = d.decode(pair[1], _item(path, k))
    return out


def _dec_sequence(make: Callable[[Iterable[Any]], Any]) -> Callable[[_Decoder, dict[str, Any], _Path], Any]:
    def dec(d: _Decoder, node: dict[str, Any], path: _Path) -> Any:
        items = [d.decode(x, (path, f"[{i}]")) for i, x in enumerate(d.items(node, path))]
        try:
            obj = make(items)
        except TypeError as e:
            raise d.corrupt(f"cannot build a {node['type']}: {e}", path) from None
        return d.define(node, obj, path)

    return dec


def _dec_tensor(d: _Decoder, node: dict[str, Any], path: _Path) -> Any:
    from .constructors import view_of_storage

    s = d.buffer(node["buffer"], path)
    off = node["offset"]
    if type(off) is not int:
        raise d.corrupt(f"bad tensor offset {off!r}", path)
    size, stride = d.ints(node, "size", path), d.ints(node, "stride", path)
    try:
        a = view_of_storage(s, off, tuple(size), tuple(stride))
    except FlambeauError as e:
        raise d.corrupt(f"a tensor that does not fit its buffer ({e})", path) from None
    return d.define(node, wrap(a, s._d), path)


def _dec_storage(d: _Decoder, node: dict[str, Any], path: _Path) -> Any:
    s = d.buffer(node["buffer"], path)
    off, n = node["offset"], node["numel"]
    if type(off) is not int or type(n) is not int or off < 0 or n < 0 or off + n > len(s):
        raise d.corrupt(f"a storage (offset {off!r}, {n!r} elements) outside its buffer of {len(s)}", path)
    return d.define(node, Storage._from(s._a[off : off + n], s._d), path)


def _dec_scalar(d: _Decoder, node: dict[str, Any], path: _Path) -> Any:
    name = node["dtype"]
    dt = np.dtype(name) if isinstance(name, str) else None
    if dt is None or dt.kind not in _SCALAR_KINDS or dt.name != name:
        raise d.corrupt(f"unknown scalar dtype {name!r}", path)
    raw = bytes.fromhex(node["hex"])
    if len(raw) != dt.itemsize:
        raise d.corrupt(f"a {name} scalar of {len(raw)} bytes", path)
    return np.frombuffer(raw, dtype=dt.newbyteorder("<")).astype(dt)[0]


def _dec_object(d: _Decoder, node: dict[str, Any], path: _Path) -> Any:
    name = node["class"]
    entry = _by_name.get(name) if isinstance(name, str) else None
    if entry is None:
        names = sorted(_by_name)
        known = ", ".join(names[:8]) + (f", ... ({len(names)} in all)" if len(names) > 8 else "") or "none"
        raise SerializationError(
            f"{d.op}: the file holds an object of unknown type {_brief(name)} at {_fmt(path)}: no type is registered"
            f" under that name here (import the package that registers it; registered: {known})"
        )
    state = d.decode(node["state"], (path, f"<{name}>"))
    try:
        obj = entry.from_state(state)
    except SerializationError:
        raise
    except DeviceUnavailableError as e:
        raise DeviceUnavailableError(f"{d.op}: cannot rebuild the {name!r} object at {_fmt(path)}: {e}") from None
    except Exception as e:
        raise SerializationError(
            f"{d.op}: cannot rebuild the {name!r} object at {_fmt(path)}: from_state raised {type(e).__name__}: {e}"
        ) from e
    return d.define(node, obj, path)


def _dec_bytes(d: _Decoder, node: dict[str, Any], path: _Path) -> Any:
    return base64.b64decode(node["base64"], validate=True)


def _dec_int(d: _Decoder, node: dict[str, Any], path: _Path) -> Any:
    v = node["hex"]
    if not isinstance(v, str):
        raise TypeError(f"expected a string, got {v!r}")
    return int(v, 16)


def _dec_dtype(name: Any) -> np.dtype:
    if not isinstance(name, str):
        raise TypeError(f"a dtype name must be a string, got {name!r}")
    return _BUFFER_DTYPES.get(name) or np.dtype(name)


_DECODERS: dict[str, Callable[[_Decoder, dict[str, Any], _Path], Any]] = {
    "ref": _dec_ref,
    "int": _dec_int,
    "float": lambda d, node, path: _float(node["value"]),
    "complex": lambda d, node, path: complex(_float(node["real"]), _float(node["imag"])),
    "bytes": _dec_bytes,
    "bytearray": lambda d, node, path: d.define(node, bytearray(_dec_bytes(d, node, path)), path),
    "scalar": _dec_scalar,
    "list": _dec_list,
    "tuple": _dec_sequence(tuple),
    "set": _dec_sequence(set),
    "frozenset": _dec_sequence(frozenset),
    "dict": _dec_dict,
    "size": lambda d, node, path: Size(d.ints(node, "items", path)),
    "device": lambda d, node, path: d.device(node["name"]),
    "dtype": lambda d, node, path: _dec_dtype(node["name"]),
    "tensor": _dec_tensor,
    "storage": _dec_storage,
    "object": _dec_object,
}


def _read(op: str, f: IO[bytes], map_location: Any) -> Any:
    try:
        zf = zipfile.ZipFile(f)
        archive_size = f.seek(0, os.SEEK_END)  # zipfile seeks before each read: members must lie within
    except _ZIP_ERRORS as e:
        raise SerializationError(f"{op}: not a flambeau file, or a truncated one: {_zip_error(e)}") from None
    with zf:
        try:
            info = zf.getinfo(MANIFEST)
        except KeyError:
            raise SerializationError(f"{op}: not a flambeau file: the archive has no {MANIFEST}") from None
        problem = _member_problem(info, archive_size, _MANIFEST_MAX_RATIO, _MANIFEST_FREE)
        if problem is not None:
            raise SerializationError(f"{op}: corrupt file: {MANIFEST} {problem}")
        try:
            raw = zf.read(info)
        except _ZIP_ERRORS as e:
            raise SerializationError(f"{op}: corrupt file: cannot read {MANIFEST}: {_zip_error(e)}") from None
        try:
            manifest = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise SerializationError(f"{op}: corrupt file: {MANIFEST} is not valid JSON: {e}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            fmt = manifest.get("format") if isinstance(manifest, dict) else None
            raise SerializationError(f"{op}: not a flambeau file ({MANIFEST} names format {_brief(fmt)})")
        version, written_by = manifest.get("format_version"), manifest.get("flambeau_version", "?")
        if version != FORMAT_VERSION:
            if type(version) is int and version > FORMAT_VERSION:
                from . import __version__

                wb = written_by if isinstance(written_by, str) else _brief(written_by)
                wb = wb if len(wb) <= 40 else wb[:37] + "..."

                raise SerializationError(
                    f"{op}: the file has format version {version} (written by flambeau {wb}); flambeau"
                    f" {__version__} reads format version {FORMAT_VERSION}: upgrade flambeau"
                )
            raise SerializationError(f"{op}: the file has unknown format version {_brief(version)}")
        if manifest.get("byteorder", "little") != "little":
            raise SerializationError(f"{op}: corrupt file: unknown byteorder {_brief(manifest.get('byteorder'))}")
        if "root" not in manifest:
            raise SerializationError(f"{op}: corrupt file: {MANIFEST} has no 'root'")
        dec = _Decoder(op, zf, manifest, map_location, archive_size)
        for b in range(len(dec.records)):  # every buffer is checked, and its device resolved
            dec.buffer(b, None)
        try:
            return dec.decode(manifest["root"], None)
        except RecursionError:
            raise SerializationError(f"{op}: the object is nested too deeply to load") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def deserialize(data: bytes | bytearray | memoryview, map_location: Any = None) -> Any:
    """Rebuild the object :func:`serialize` turned into ``data`` (Torch7's ``torch.deserialize``).

    Parameters
    ----------
    data : bytes-like
        Bytes from :func:`serialize`, or the contents of a file written by :func:`save`.
    map_location : str, Device or dict, optional
        Where tensors go; see :func:`load`.

    Returns
    -------
    object
        A new object equal to the one serialized, tensors sharing storage as they did.

    Raises
    ------
    SerializationError
        ``data`` is not flambeau's format, is truncated or corrupt, or has a newer format version.
    DeviceUnavailableError
        A tensor's device is not available here and ``map_location`` does not move it.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> t = ft.LongTensor([[1, 2, 3], [4, 5, 6]])
    >>> a, b = ft.deserialize(ft.serialize((t, t.t())))
    >>> b.stride(), b.type()
    ((1, 3), 'flambeau.LongTensor')
    >>> a[0, 1] = 20; b[1, 0].item()
    20
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ArgumentError(f"deserialize: expected bytes, got {type(data).__name__}")
    return _read("deserialize", io.BytesIO(bytes(data)), map_location)


def load(path: str | os.PathLike[str] | IO[bytes], map_location: Any = None) -> Any:
    """Read an object written by :func:`save` (Torch7's ``torch.load(filename)``).

    Nothing in the file is executed: it is a zip of raw buffers and a JSON manifest (see the
    module docstring); only types registered with :func:`register_type` are rebuilt, by their
    registered ``from_state``.

    Parameters
    ----------
    path : str, os.PathLike or binary file object
        The file to read (a file object is read from its current position).
    map_location : str, Device or dict, optional
        ``None``: tensors go back to the device they were saved from. A device (``'cpu'``,
        ``ft.device('cuda:1')``): every tensor, storage, device object and generator goes there.
        A dict maps saved devices to targets, by full name first, then by type:
        ``{'cuda': 'cpu'}``; devices it does not name stay where they were.

    Returns
    -------
    object
        The object saved, with views sharing storage as they did and repeated objects identical.

    Raises
    ------
    SerializationError
        The file is not flambeau's, is truncated or corrupt, has a newer format version, or names
        a type not registered here.
    DeviceUnavailableError
        A tensor's device is not available here; pass ``map_location``.
    FileNotFoundError
        No file at ``path``.

    Examples
    --------
    >>> import io, flambeau.tensor as ft
    >>> f = io.BytesIO()
    >>> ft.save(f, {"mask": ft.ByteTensor([1, 0, 1]), "name": "m"})
    >>> _ = f.seek(0)
    >>> ft.load(f, map_location="cpu")["mask"].type()
    'flambeau.ByteTensor'
    """
    if hasattr(path, "read"):
        f: IO[bytes] = path  # type: ignore[assignment]
        seekable = getattr(f, "seekable", lambda: False)
        return _read("load", f if seekable() else io.BytesIO(f.read()), map_location)
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentError(f"load: expected a path or a binary file object, got {type(path).__name__}")
    with open(path, "rb") as fh:
        return _read("load", fh, map_location)


# -- built-in registrations --------------------------------------------------------------------------


def _generator_state(g: Generator) -> dict[str, Any]:
    return {"device": g.device, "seed": g.initial_seed(), "state": np.asarray(g.get_state()).tobytes()}


def _generator_from_state(s: dict[str, Any]) -> Generator:
    from .constructors import from_numpy

    g = Generator(s["device"], s["seed"])
    try:
        g.set_state(from_numpy(np.frombuffer(s["state"], dtype=np.uint8).copy()))
    except ValueError as e:  # the state of another backend's generator (a cuda one loaded on the cpu)
        warnings.warn(
            f"load: a generator's state does not fit the generator of device '{g.device}' ({e}); it starts"
            f" again from its initial seed {s['seed']}",
            RuntimeWarning,
            stacklevel=2,
        )
    return g


register_type(Generator, "flambeau.Generator", _generator_state, _generator_from_state)
register_type(
    collections.OrderedDict,
    "collections.OrderedDict",
    lambda d: [[k, v] for k, v in d.items()],
    lambda items: collections.OrderedDict((k, v) for k, v in items),
)
