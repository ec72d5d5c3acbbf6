"""Every Torch7 constructor form (inventory 1.3), and ``from_numpy``.

>>> import flambeau.tensor as ft
>>> ft.DoubleTensor(2, 3).size(), ft.LongTensor([[1, 2], [3, 4]]).tolist()
(Size([2, 3]), [[1, 2], [3, 4]])
>>> s = ft.DoubleStorage([1, 2, 3, 4, 5, 6])
>>> ft.DoubleTensor(s, 1, (2, 2), (3, 1)).tolist()  # storage, offset, sizes, strides
[[2.0, 3.0], [5.0, 6.0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import dtypes as _dt
from .errors import ArgumentError, DTypeError, IndexError, ShapeError
from .registry import Device, device_of_array
from .registry import device as _device
from .tensor import Size, Storage, Tensor, sizes_arg, strided_view, wrap


def construct(dtype: Any, args: tuple[Any, ...], device: Any = None, **kwargs: Any) -> Tensor:
    """Build a tensor from any Torch7 constructor form; ``dtype=None`` means the default type."""
    if kwargs:
        raise ArgumentError(f"Tensor: unexpected keyword(s) {sorted(kwargs)}")
    dt = _dt.default_dtype() if dtype is None else _dt.as_dtype(dtype)
    if not args:
        d = _device(device)
        return wrap(d.xp.empty((0,), dtype=dt), d)
    first = args[0]
    if isinstance(first, Storage):
        if device is not None and _device(device) is not first._d:
            raise ArgumentError(f"Tensor: the storage is on '{first._d}', not on '{device}'")
        if dtype is not None and first._a.dtype != dt:
            raise DTypeError(
                f"Tensor: a storage argument is viewed, not copied, so its type ({first.type()}) must match the"
                f" tensor's ({_dt.type_name(dt, first._d.type)})"
            )
        return wrap(view_of_storage(first, *args[1:]), first._d)
    if isinstance(first, Tensor):
        if len(args) > 1:
            raise ArgumentError("Tensor(tensor) takes no further arguments")
        t = first if device is None else first.to(device)
        return wrap(t._a, t._d) if t.dtype == dt else t.type(dt)
    if isinstance(first, (bool, float)):
        raise ArgumentError(
            f"Tensor: a single number {first!r} is not a size; pass a list ([{first!r}]) to make a tensor holding it"
        )
    d = _device(device)
    if isinstance(first, (int, np.integer)) or isinstance(first, Size):
        if isinstance(first, Size) and len(args) == 2:  # Tensor(sizes, strides)
            shape = tuple(first)
            return wrap(_strided_new(d, dt, shape, tuple(args[1])), d)
        shape = sizes_arg(args)
        return wrap(d.xp.empty(shape, dtype=dt), d)
    if len(args) > 1:
        raise ArgumentError(
            f"Tensor: cannot build a tensor from {len(args)} arguments starting with {type(first).__name__}"
        )
    return wrap(d.backend.from_host(host_array(first, dt, "Tensor"), d.index), d)


def host_array(data: Any, dt: np.dtype | None, op: str) -> np.ndarray:
    """Nested lists, tuples, numbers or array-likes -> a fresh contiguous numpy array."""
    if isinstance(data, Tensor):
        data = data._d.backend.to_host(data._a)
    try:
        a = np.array(data, dtype=dt, order="C")
    except (ValueError, TypeError) as e:
        raise ArgumentError(f"{op}: cannot make a tensor from {type(data).__name__}: {e}") from None
    if a.dtype == np.bool_:
        a = a.view(np.uint8)
    if a.dtype not in _dt.SUPPORTED:
        if a.dtype.kind in "iu":
            a = a.astype(np.int64)
        elif a.dtype.kind == "f":
            a = a.astype(_dt.default_dtype())
        else:
            raise DTypeError(f"{op}: cannot make a tensor from data of dtype {a.dtype}")
    return a


def tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """A new tensor holding a copy of ``data``, its dtype inferred like PyTorch's ``torch.tensor``.

    >>> import flambeau.tensor as ft
    >>> ft.tensor([1, 2]).type(), ft.tensor([1.5]).type(), ft.tensor(3).dim()
    ('flambeau.LongTensor', 'flambeau.DoubleTensor', 0)
    """
    d = _device(device)
    a = host_array(data, None if dtype is None else _dt.as_dtype(dtype), "tensor")
    if dtype is None and a.dtype.kind == "f":
        a = a.astype(_dt.default_dtype())
    return wrap(d.backend.from_host(a, d.index), d)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with a numpy array (bool arrays become ByteTensors over the same bytes).

    >>> import numpy as np, flambeau.tensor as ft
    >>> a = np.zeros(3)
    >>> t = ft.from_numpy(a); t[1] = 5
    >>> a.tolist()
    [0.0, 5.0, 0.0]
    """
    if not isinstance(array, np.ndarray):
        raise ArgumentError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    if array.dtype == np.bool_:
        array = array.view(np.uint8)
    if array.dtype not in _dt.SUPPORTED:
        raise DTypeError(
            f"from_numpy: dtype {array.dtype} is not supported; flambeau has {', '.join(map(str, _dt.SUPPORTED))}"
        )
    if not array.dtype.isnative:
        raise DTypeError(
            "from_numpy: the array is not in the machine's byte order; use array.astype(array.dtype.newbyteorder('='))"
        )
    return wrap(array, device_of_array(array))


def view_of_storage(storage: Storage, offset: int = 0, size: Any = None, stride: Any = None) -> Any:
    """A backend array viewing ``storage`` from ``offset`` with the given sizes and strides (in elements)."""
    flat = storage._a
    n = flat.shape[0]
    if not 0 <= offset <= n:
        raise IndexError(f"Tensor: storage offset {offset} out of range for a storage of size {n}")
    shape = (n - offset,) if size is None else sizes_arg((size,))
    if stride is None:
        strides = _contiguous_strides(shape)
    else:
        strides = tuple(int(s) for s in stride)
        if len(strides) != len(shape):
            raise ShapeError(f"Tensor: {len(shape)} sizes but {len(strides)} strides")
    if 0 not in shape:
        hi = offset + sum((s - 1) * st for s, st in zip(shape, strides, strict=False) if st > 0)
        lo = offset + sum((s - 1) * st for s, st in zip(shape, strides, strict=False) if st < 0)
        if hi >= n or lo < 0:
            raise IndexError(
                f"Tensor: sizes {shape} with strides {strides} from offset {offset} reach element {hi},"
                f" beyond a storage of size {n}"
            )
    return strided_view(storage._d.xp, flat, offset, shape, strides)


def _contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, acc = [], 1
    for s in reversed(shape):
        strides.append(acc)
        acc *= max(s, 1)
    return tuple(reversed(strides))


def _strided_new(d: Device, dt: np.dtype, shape: tuple[int, ...], stride: tuple[int, ...]) -> Any:
    # Torch7: a negative or missing stride means contiguous; stride 0 makes elements alias.
    cont = _contiguous_strides(shape)
    stride = tuple(c if s is None or s < 0 else s for s, c in zip(stride + (None,) * len(shape), cont, strict=False))
    n = 1 + sum((s - 1) * st for s, st in zip(shape, stride, strict=False)) if 0 not in shape else 0
    storage = Storage._from(d.xp.empty(n, dtype=dt), d)
    return view_of_storage(storage, 0, shape, stride)
