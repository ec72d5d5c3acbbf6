"""The Tensor: a backend array (storage, offset, sizes, strides) on a device.

A tensor holds a backend array ``_a`` — numpy and cupy arrays already are a buffer with an
offset, a shape and strides, so views are just views — and its :class:`Device` ``_d``. The maths
(functions, methods, in-place and ``out=`` forms, operators) is generated from the op table;
this module holds structure, conversion and transfers.

>>> import flambeau.tensor as ft
>>> a = ft.zeros(3, 4)
>>> a.select(0, 2).fill_(3)  # a view: row 2 of a
<BLANKLINE>
 3
 3
 3
 3
[flambeau.DoubleTensor of size 4]
<BLANKLINE>
>>> a.sum().item(), a.storage_offset(), a.t().stride()
(12.0, 0, (1, 4))
"""

from __future__ import annotations

import builtins
import operator
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from . import dtypes as _dt
from .errors import ArgumentError, DTypeError, IndexError, ShapeError
from .optable import _handlers as optable_handlers
from .optable import check_writable, notify_write, write_watchers
from .registry import Device
from .registry import device as _device

_new = object.__new__


class Size(tuple):
    """Sizes of a tensor: a tuple of ints that prints like Torch's ``2x3``."""

    def __repr__(self) -> str:
        return f"Size({list(self)})"

    def __str__(self) -> str:
        return "x".join(map(str, self)) or "[]"

    def numel(self) -> int:
        return int(np.prod(self, dtype=np.int64)) if self else 1


def wrap(a: Any, d: Device) -> Tensor:
    """A tensor over backend array ``a`` on device ``d`` (no copy, no checks)."""
    t = _new(Tensor)
    t._a = a
    t._d = d
    return t


def sizes_arg(size: tuple[Any, ...], op: Any = None) -> tuple[int, ...]:
    """Normalise ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])``, ``f(ft.Size)`` and ``f(LongTensor)`` to a shape."""
    name = op.name if op is not None else "size"
    try:
        if len(size) == 1 and not isinstance(size[0], (int, np.integer)):
            s = size[0]
            size = tuple(s.tolist() if isinstance(s, (Tensor, Storage)) else s)
        shape = tuple(operator.index(n) for n in size)
    except TypeError:
        raise ArgumentError(f"{name}: sizes must be integers, got {size!r}") from None
    if any(n < 0 for n in shape):
        raise ShapeError(f"{name}: negative size in {shape}")
    return shape


def _data_ptr(a: Any) -> int:
    iface = getattr(a, "__array_interface__", None) or a.__cuda_array_interface__
    return int(iface["data"][0])


def _chain_root(a: Any) -> Any:
    """The last array of ``a``'s own type along its ``.base`` chain (``a`` itself when there is none)."""
    root, base = a, getattr(a, "base", None)
    while base is not None:  # as_strided leaves a non-array holder in the chain: walk through it
        if type(base) is type(a):  # not a plain ndarray under a backend's array subclass
            root = base
        base = getattr(base, "base", None)
    return root


def _root_flat(a: Any) -> Any:
    """A 1-D array over the whole allocation that ``a`` views (its Torch7 storage)."""
    return _flat_of(_chain_root(a), a)


def _flat_of(root: Any, a: Any) -> Any:
    if root.dtype != a.dtype or root.itemsize != a.itemsize:
        root = root.view(a.dtype) if root.flags.c_contiguous else a
    if root.flags.c_contiguous:
        return root.reshape(-1)
    if root.flags.f_contiguous:
        return root.reshape(-1, order="F")
    return a.reshape(-1) if a.flags.c_contiguous else a.ravel()


def placed(a: Any) -> tuple[Any, int] | None:
    """``a``'s storage (the 1-D array of its whole allocation) and ``a``'s offset in it, in elements.

    None when ``a`` cannot be placed inside an allocation it is chained to: a view cupy made
    without a base, memory no array owns, strides that are not whole elements, or a layout
    reaching outside the storage found. Savers then write a copy of the values instead.
    """
    root = _chain_root(a)
    if not (root.flags.c_contiguous or root.flags.f_contiguous):
        return None  # no chain to the allocation: _root_flat would give a copy
    item = a.itemsize
    flat = _root_flat(a)
    if flat.dtype != a.dtype or any(s % item for s in a.strides):
        return None
    off, rem = divmod(_data_ptr(a) - _data_ptr(flat) if a.size else 0, item)
    n = int(flat.shape[0])
    if rem:
        return None
    if a.size == 0:
        return (flat, off) if 0 <= off <= n else None
    strides = [s // item for s in a.strides]
    hi = off + sum((s - 1) * st for s, st in zip(a.shape, strides, strict=True) if st > 0)
    lo = off + sum((s - 1) * st for s, st in zip(a.shape, strides, strict=True) if st < 0)
    return (flat, off) if 0 <= lo and hi < n else None


def chained_flat(a: Any) -> Any:
    """The 1-D storage array that ``a`` views when ``a`` is chained to it, else None (no copy made).

    A view whose base chain ends at a non-contiguous array (a view cupy made without a base) has
    no storage to find: :func:`_root_flat` would return a copy.
    """
    root = _chain_root(a)
    if root.dtype != a.dtype or not (root.flags.c_contiguous or root.flags.f_contiguous):
        return None
    return _flat_of(root, a)


def strided_view(xp: Any, flat: Any, offset: int, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
    """A view of the 1-D array ``flat`` from element ``offset`` with ``shape`` and ``strides`` (in elements).

    numpy's ``as_strided`` keeps the view chained to ``flat`` through ``.base``, which is how a
    tensor finds its storage (:func:`_root_flat`); cupy's makes a view without a base. So on other
    backends, when the layout allows it, the view is made by slicing and reshaping ``flat``
    instead, which every array library chains: dims sorted by stride, each stride a multiple of the
    next and leaving room for it (no overlap), the whole within ``flat``. Other layouts (windows
    that overlap, expansions) still use ``as_strided``.

    >>> import numpy as np
    >>> flat = np.arange(10.0).view(np.ndarray)
    >>> strided_view(np, flat, 2, (2, 3), (4, 1)).tolist()
    [[2.0, 3.0, 4.0], [6.0, 7.0, 8.0]]
    """
    item = flat.itemsize
    if type(flat) is not np.ndarray:
        v = _sliced(xp, flat, offset, shape, strides)
        if v is not None:
            return v
    return xp.lib.stride_tricks.as_strided(flat[offset:], shape=shape, strides=tuple(st * item for st in strides))


def _sliced(xp: Any, flat: Any, offset: int, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
    """:func:`strided_view` by slicing and reshaping, or None when the layout does not allow it."""
    if 0 in shape:
        return None
    dims = sorted((st, n, i) for i, (n, st) in enumerate(zip(shape, strides, strict=True)) if n > 1)[::-1]
    if any(st <= 0 for st, _, _ in dims):
        return None
    for (st, _, _), (st2, n2, _) in zip(dims, dims[1:], strict=False):
        if st % st2 or n2 * st2 > st:  # not a multiple, or the inner dim overlaps the next outer step
            return None
    if not dims:  # one element
        return flat[offset : offset + 1].reshape(shape) if offset < flat.shape[0] else None
    length = dims[0][0] * dims[0][1]
    if offset + length > flat.shape[0]:
        return None
    # flat[offset:offset+length] as (n_1, s_1/s_2, ..., s_k), then [:, :n_2, ..., :n_k, 0]
    split = [dims[0][1]] + [st // st2 for (st, _, _), (st2, _, _) in zip(dims, dims[1:], strict=False)]
    split.append(dims[-1][0])
    seg = flat[offset : offset + length].reshape(tuple(split))
    v = seg[(slice(None),) + tuple(slice(0, n) for _, n, _ in dims[1:]) + (0,)]
    order = [i for _, _, i in dims]  # v's axes hold these dims of shape
    v = xp.transpose(v, sorted(range(len(order)), key=lambda k: order[k]))
    return v.reshape(shape)  # adds the size-1 dims: a view


class Tensor:
    """A Torch7 tensor. ``ft.Tensor(...)`` builds one of the default type (see :mod:`constructors`).

    >>> import flambeau.tensor as ft
    >>> ft.Tensor([[1, 2], [3, 4]]).size()
    Size([2, 2])
    """

    # ``_g`` is reserved for flambeau.autograd: a traced tensor (a Box, a subclass with the same
    # layout) keeps its trace node there, so a plain tensor can become traced in place (``x[i] = v``).
    __slots__ = ("_a", "_d", "_g", "__weakref__")
    __hash__ = object.__hash__  # __eq__ is element-wise
    __array_priority__ = 1000  # numpy scalars on the left defer to our operators

    _a: Any
    _d: Device
    _g: Any

    if TYPE_CHECKING:  # op methods and operators are generated at import (optable.install)

        def __getattr__(self, name: str) -> Any: ...

        def __add__(self, other: Any) -> Any: ...

        def __radd__(self, other: Any) -> Any: ...

        def __sub__(self, other: Any) -> Any: ...

        def __rsub__(self, other: Any) -> Any: ...

        def __mul__(self, other: Any) -> Any: ...

        def __rmul__(self, other: Any) -> Any: ...

        def __truediv__(self, other: Any) -> Any: ...

        def __rtruediv__(self, other: Any) -> Any: ...

        def __pow__(self, other: Any) -> Any: ...

        def __rpow__(self, other: Any) -> Any: ...

        def __matmul__(self, other: Any) -> Any: ...

        def __rmatmul__(self, other: Any) -> Any: ...

        def __mod__(self, other: Any) -> Any: ...

        def __lt__(self, other: Any) -> Any: ...

        def __le__(self, other: Any) -> Any: ...

        def __gt__(self, other: Any) -> Any: ...

        def __ge__(self, other: Any) -> Any: ...

        def __neg__(self) -> Any: ...

    def __new__(cls, *args: Any, **kwargs: Any) -> Tensor:
        from .constructors import construct

        return construct(kwargs.pop("dtype", None), args, **kwargs)

    # -- structure (Torch7 1.4) ---------------------------------------------------------------
    @property
    def shape(self) -> Size:
        return Size(self._a.shape)

    def size(self, dim: builtins.int | None = None) -> Any:
        """Every size as a :class:`Size`, or the size of dimension ``dim`` (negative counts from the end)."""
        if dim is None:
            return Size(self._a.shape)
        return self._a.shape[self._dim(dim, "size")]

    def stride(self, dim: builtins.int | None = None) -> Any:
        """Strides in elements, or the stride of dimension ``dim``."""
        st = tuple(s // self._a.itemsize for s in self._a.strides)
        return st if dim is None else st[self._dim(dim, "stride")]

    def dim(self) -> builtins.int:
        return self._a.ndim

    ndimension = n_dimension = dim

    @property
    def ndim(self) -> builtins.int:
        return self._a.ndim

    def nelement(self) -> builtins.int:
        return int(self._a.size)

    def element_size(self) -> builtins.int:
        return int(self._a.itemsize)

    @property
    def dtype(self) -> np.dtype:
        return self._a.dtype

    @property
    def device(self) -> Device:
        return self._d

    @property
    def is_cuda(self) -> bool:
        return self._d.type == "cuda"

    def is_contiguous(self) -> bool:
        return bool(self._a.flags.c_contiguous)

    def is_size(self, sizes: Any) -> bool:
        return tuple(self._a.shape) == sizes_arg((sizes,))

    def is_same_size_as(self, other: Tensor) -> bool:
        return tuple(self._a.shape) == tuple(other._a.shape)

    def is_set_to(self, other: Tensor) -> bool:
        """Same storage, offset, sizes and strides."""
        a, b = self._a, other._a
        return (
            self._d is other._d
            and a.dtype == b.dtype
            and a.shape == b.shape
            and a.strides == b.strides
            and _data_ptr(a) == _data_ptr(b)
            and a.size > 0
        )

    def storage(self) -> Storage:
        """The :class:`Storage` this tensor views (shared, not copied)."""
        return Storage._from(_root_flat(self._a), self._d)

    def storage_offset(self) -> builtins.int:
        """Index (0-based) of this tensor's first element in its storage."""
        flat = _root_flat(self._a)
        return (_data_ptr(self._a) - _data_ptr(flat)) // self._a.itemsize if self._a.size else 0

    def data_ptr(self) -> builtins.int:
        return _data_ptr(self._a)

    def _dim(self, dim: builtins.int, op: str, extra: builtins.int = 0) -> builtins.int:
        n = self._a.ndim + extra
        try:
            d = operator.index(dim)
        except TypeError:
            raise ArgumentError(f"{op}: dim must be an int, got {type(dim).__name__}") from None
        if not -max(n, 1) <= d < max(n, 1):
            raise IndexError(f"{op}: dim {dim} out of range for a tensor of {self._a.ndim} dimension(s)")
        return d % max(n, 1)

    # -- types (Torch7 1.10) ----------------------------------------------------------------
    def type(self, type: Any = None) -> Any:
        """Without argument, the type name (``'flambeau.DoubleTensor'``); with one, self converted to it."""
        if type is None:
            return _dt.type_name(self._a.dtype, self._d.type)
        dt = _dt.as_dtype(type)
        if isinstance(type, str) and type.startswith("flambeau."):
            # The name carries a device, as Torch7's cuda names did: 'flambeau.<device>.XTensor',
            # 'flambeau.CudaTensor' (cuda) or 'flambeau.XTensor' (cpu). A different one moves the tensor.
            parts = type.split(".")
            kind = parts[1] if len(parts) == 3 else "cuda" if parts[-1].startswith("Cuda") else "cpu"
            if kind != self._d.type:
                return self.to(kind).type(dt)
        return self if dt == self._a.dtype else self._converted(dt)

    # The two data steps of type() and to(); autograd's traced tensors override them, not the parsing.
    def _converted(self, dt: np.dtype) -> Tensor:
        return wrap(self._a.astype(dt), self._d)

    def _moved(self, d: Device) -> Tensor:
        host = self._d.backend.to_host(self._a)
        return wrap(d.backend.from_host(_host_c(host), d.index), d)

    def type_as(self, other: Tensor) -> Tensor:
        return self.type(other.dtype).to(other._d)

    def byte(self) -> Tensor:
        return self.type(_dt.uint8)

    def char(self) -> Tensor:
        return self.type(_dt.int8)

    def short(self) -> Tensor:
        return self.type(_dt.int16)

    def int(self) -> Tensor:
        return self.type(_dt.int32)

    def long(self) -> Tensor:
        return self.type(_dt.int64)

    def half(self) -> Tensor:
        return self.type(_dt.float16)

    def float(self) -> Tensor:
        return self.type(_dt.float32)

    def double(self) -> Tensor:
        return self.type(_dt.float64)

    def real(self) -> Tensor:
        """Converted to the default tensor type (Torch7 ``t:real()``)."""
        return self.type(_dt.default_dtype())

    # -- devices ------------------------------------------------------------------------------
    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """Move to a device and/or convert: ``t.to('cuda')``, ``t.to(ft.float32)``, ``t.to(other)``."""
        dev, dt = kwargs.pop("device", None), kwargs.pop("dtype", None)
        if kwargs:
            raise ArgumentError(f"to: unexpected keyword(s) {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dev, dt = a._d, a.dtype
            elif isinstance(a, Device) or (isinstance(a, str) and "Tensor" not in a and not _is_dtype_name(a)):
                dev = a
            else:
                dt = a
        t = self
        if dev is not None:
            d = _device(dev)
            if d is not t._d:
                t = t._moved(d)
        return t.type(dt) if dt is not None else t

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device: builtins.int | None = None) -> Tensor:
        return self.to("cuda" if device is None else f"cuda:{device}")

    def numpy(self) -> np.ndarray:
        """The data as a numpy array: a view sharing memory for cpu tensors."""
        if self._d.type != "cpu":
            raise ArgumentError(f"numpy: the tensor is on device '{self._d}'; call .cpu() first")
        return self._a

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = np.asarray(self._d.backend.to_host(self._a))
        return a if dtype is None else a.astype(dtype)

    def tolist(self) -> Any:
        return self._d.backend.to_host(self._a).tolist()

    totable = tolist

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self._a.size != 1:
            raise ShapeError(f"item: only one-element tensors can be converted to a number, got size {self.size()}")
        return self._d.backend.to_host(self._a).reshape(()).item()

    def __float__(self) -> builtins.float:
        return float(self.item())

    def __int__(self) -> builtins.int:
        return int(self.item())

    def __index__(self) -> builtins.int:
        if self._a.dtype.kind not in "iu":
            raise DTypeError(f"only integer tensors can be used as an index, got {self.type()}")
        return int(self.item())

    def __bool__(self) -> bool:
        if self._a.size != 1:
            raise ShapeError(f"the truth value of a tensor of size {self.size()} is ambiguous; use .all() or .any()")
        return bool(self.item())

    def __len__(self) -> builtins.int:
        if self._a.ndim == 0:
            raise ArgumentError("len() of a 0-d tensor")
        return int(self._a.shape[0])

    def __iter__(self) -> Iterator[Tensor]:
        if self._a.ndim == 0:
            raise ArgumentError("iteration over a 0-d tensor")
        return (self.select(0, i) for i in range(self._a.shape[0]))

    def __repr__(self) -> str:
        from .printing import format_tensor

        return format_tensor(self._d.backend.to_host(self._a), self.type())

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        if spec and self._a.ndim == 0:
            return format(self.item(), spec)
        return str(self)

    def __reduce__(self) -> Any:
        return (_rebuild, (np.array(self._d.backend.to_host(self._a)), str(self._d)))

    # -- referencing, copying, resizing (Torch7 1.6) --------------------------------------------
    def set_(
        self, source: Any = None, storage_offset: builtins.int = 0, size: Any = None, stride: Any = None
    ) -> Tensor:
        """Make self a view of ``source`` (a tensor, or a storage with offset, sizes and strides)."""
        if source is None:
            self._a = self._d.xp.empty((0,), dtype=self._a.dtype)
        elif isinstance(source, Tensor):
            self._a, self._d = source._a, source._d
        elif isinstance(source, Storage):
            from .constructors import view_of_storage

            self._a = view_of_storage(source, storage_offset, size, stride)
            self._d = source._d
        else:
            raise ArgumentError(f"set_: expected a Tensor or a Storage, got {type(source).__name__}")
        return self

    def copy_(self, src: Any) -> Tensor:
        """Copy ``src`` (any type, any device, broadcastable or with the same element count) into self."""
        if not isinstance(src, Tensor):
            from .constructors import construct

            src = construct(self._a.dtype, (src,), device=self._d)
        if src.__class__ in optable_handlers:  # a traced source (autograd): an op the tracer records
            src = cast(Any, src)
            if src._a.shape != self._a.shape and not _broadcasts_to(src._a.shape, self._a.shape):
                src = src.reshape(*self._a.shape)  # equal counts (checked by reshape)
            self[...] = src if src._a.dtype == self._a.dtype else src.type(self._a.dtype)
            return self
        a = src._a
        if src._d is not self._d:
            a = self._d.backend.from_host(_host_c(src._d.backend.to_host(a)), self._d.index)
        if a.shape != self._a.shape and not _broadcasts_to(a.shape, self._a.shape):
            if a.size != self._a.size:
                raise ShapeError(
                    f"copy_: cannot copy a tensor of size {src.size()} ({a.size} elements) into one of size"
                    f" {self.size()} ({self._a.size} elements)"
                )
            a = a.reshape(self._a.shape)  # Torch7: equal element counts suffice
        if write_watchers:
            notify_write(self, "copy_")
        check_writable(self, "copy_")
        self._d.xp.copyto(self._a, a, casting="unsafe")
        return self

    def fill_(self, value: Any) -> Tensor:
        """Fill with ``value`` in place."""
        if isinstance(value, Tensor):
            if value.__class__ in optable_handlers:  # a traced value (autograd): recorded, not read
                self[...] = (
                    value.reshape(()) if value._a.dtype == self._a.dtype else value.reshape(()).type(self._a.dtype)
                )
                return self
            value = value.item()
        if write_watchers:
            notify_write(self, "fill_")
        check_writable(self, "fill_")
        try:
            self._a[...] = value
        except (TypeError, ValueError, OverflowError) as e:
            raise DTypeError(f"fill_: cannot fill a {self.type()} with {value!r}: {e}") from None
        return self

    def zero_(self) -> Tensor:
        if write_watchers:
            notify_write(self, "zero_")
        check_writable(self, "zero_")
        self._a[...] = 0
        return self

    def resize_(self, *sizes: Any) -> Tensor:
        """Resize to ``sizes`` in place, Torch7 style: contiguous, contents kept as far as the storage goes."""
        shape = sizes_arg(sizes)
        if shape == self._a.shape and self._a.flags.c_contiguous:
            return self
        n = int(np.prod(shape, dtype=np.int64))
        flat = _root_flat(self._a)
        off = self.storage_offset()
        xp = self._d.xp
        if self._a.flags.c_contiguous and off + n <= flat.shape[0]:
            self._a = flat[off : off + n].reshape(shape)
        else:
            # Torch7 grows the storage: what it held from the offset on is kept.
            old = flat[off:] if self._a.flags.c_contiguous else self._a.reshape(-1)
            new = xp.zeros(n, dtype=self._a.dtype)
            m = min(n, old.shape[0])
            new[:m] = old[:m]
            self._a = new.reshape(shape)
        return self

    def resize_as_(self, other: Tensor) -> Tensor:
        return self.resize_(*other._a.shape)

    def clone(self) -> Tensor:
        """A deep copy with new contiguous storage."""
        return wrap(self._d.xp.array(self._a, copy=True, order="C"), self._d)

    def contiguous(self) -> Tensor:
        """Self if already contiguous, else a contiguous copy."""
        return self if self._a.flags.c_contiguous else self.clone()

    def new(self, *args: Any, **kwargs: Any) -> Tensor:
        """A new tensor of the same type and device, from any constructor form (``x.new()`` is empty)."""
        from .constructors import construct

        return construct(self._a.dtype, args, device=kwargs.pop("device", self._d), **kwargs)

    def equal(self, other: Tensor) -> bool:
        """True when ``other`` has the same size and the same values."""
        if not isinstance(other, Tensor) or other._d is not self._d:
            return False
        return self._a.shape == other._a.shape and bool(self._d.xp.array_equal(self._a, other._a))


def _host_c(a: Any) -> np.ndarray:
    """A C-contiguous host array; unlike ``np.ascontiguousarray`` it keeps 0-d arrays 0-d."""
    return np.asarray(a, order="C")


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _is_dtype_name(s: str) -> bool:
    try:
        np.dtype(s)
        return True
    except TypeError:
        return False


def _rebuild(a: np.ndarray, dev: str) -> Tensor:
    return wrap(a, _device("cpu")).to(dev)


class StorageType:
    """A Torch7 storage type such as ``ft.DoubleStorage``: constructor and ``isinstance`` target."""

    def __init__(self, name: str, dtype: np.dtype):
        self.__name__ = self.name = name
        self.dtype = dtype

    def __call__(self, data: Any = 0, offset: int = 0, size: int | None = None, device: Any = None) -> Storage:
        d = _device(device)
        if isinstance(data, Storage):
            end = len(data) if size is None else offset + size
            return Storage._from(data._a[offset:end], data._d)
        if isinstance(data, (int, np.integer)):
            return Storage._from(d.xp.zeros(int(data), dtype=self.dtype), d)
        arr = np.asarray(data, dtype=self.dtype).reshape(-1)
        return Storage._from(d.backend.from_host(arr, d.index), d)

    def __instancecheck__(self, obj: Any) -> bool:
        return isinstance(obj, Storage) and obj._a.dtype == self.dtype

    def __repr__(self) -> str:
        return f"<storage type {self.name}>"


class Storage:
    """A flat typed buffer (Torch7 1.2). Tensors view it; indexing is 0-based.

    >>> import flambeau.tensor as ft
    >>> s = ft.DoubleStorage([1, 2, 3])
    >>> t = ft.DoubleTensor(s, 1, (2,))
    >>> s[2] = 9; t.tolist()
    [2.0, 9.0]
    """

    __slots__ = ("_a", "_d")
    _a: Any
    _d: Device

    def __init__(self, *args: Any, **kwargs: Any):
        s = StorageType("flambeau.Storage", _dt.default_dtype())(*args, **kwargs)
        self._a, self._d = s._a, s._d

    @classmethod
    def _from(cls, flat: Any, d: Device) -> Storage:
        s = _new(cls)
        s._a, s._d = flat, d
        return s

    def size(self) -> int:
        return int(self._a.shape[0])

    def __len__(self) -> int:
        return int(self._a.shape[0])

    def element_size(self) -> int:
        return int(self._a.itemsize)

    @property
    def dtype(self) -> np.dtype:
        return self._a.dtype

    @property
    def device(self) -> Device:
        return self._d

    def type(self) -> str:
        return _dt.type_name(self._a.dtype, self._d.type, "Storage")

    def __getitem__(self, i: int) -> Any:
        return self._a[self._index(i)].item()

    def __setitem__(self, i: int, v: Any) -> None:
        self._a[self._index(i)] = v

    def _index(self, i: int) -> int:
        n = self._a.shape[0]
        if not -n <= i < n:
            raise IndexError(f"storage index {i} out of range for a storage of size {n}")
        return i % n

    def __iter__(self) -> Iterator[Any]:
        return iter(self.tolist())

    def copy_(self, other: Any) -> Storage:
        if isinstance(other, (Storage, Tensor)):
            src = other._a
            if other._d is not self._d:
                src = self._d.backend.from_host(_host_c(other._d.backend.to_host(src)), self._d.index)
        else:  # host data (a list, a numpy array): onto this storage's device first
            src = self._d.backend.from_host(np.asarray(other), self._d.index)
        if src.size != self._a.shape[0]:
            raise ShapeError(f"Storage.copy_: sizes differ ({src.size} into {self._a.shape[0]})")
        self._d.xp.copyto(self._a, src.reshape(-1), casting="unsafe")
        return self

    def fill_(self, v: Any) -> Storage:
        self._a[...] = v
        return self

    def resize_(self, n: int) -> Storage:
        """Resize to ``n`` elements (a new buffer: tensors made earlier keep viewing the old one)."""
        new = self._d.xp.zeros(n, dtype=self._a.dtype)
        m = min(n, self._a.shape[0])
        new[:m] = self._a[:m]
        self._a = new
        return self

    def tolist(self) -> list[Any]:
        return self._d.backend.to_host(self._a).tolist()

    def data_ptr(self) -> int:
        return _data_ptr(self._a)

    def string(self, value: str | None = None) -> Any:
        """Byte/Char storages: read as a string, or set from one."""
        if self._a.dtype not in (_dt.uint8, _dt.int8):
            raise DTypeError(f"string: only Byte and Char storages hold strings, not {self.type()}")
        if value is None:
            return self._d.backend.to_host(self._a).tobytes().decode("latin-1")
        data = np.frombuffer(value.encode("latin-1"), dtype=self._a.dtype)
        self._a = self._d.backend.from_host(data.copy(), self._d.index)
        return self

    def __repr__(self) -> str:
        from .printing import format_storage

        return format_storage(self._d.backend.to_host(self._a), self.type())
