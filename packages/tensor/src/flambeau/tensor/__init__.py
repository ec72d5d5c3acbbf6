"""flambeau.tensor: Torch7's tensors and maths in Python.

Tensors are views over storages on a device served by a backend plugin (numpy on the cpu).
Every op is one record of the op table (:mod:`flambeau.tensor.optable`); the functions here,
the ``Tensor`` methods, the in-place ``_`` forms and the ``out=`` forms are generated from it.

>>> import flambeau.tensor as ft
>>> a = ft.eye(3) * 4 - 2
>>> a
 2 -2 -2
-2  2 -2
-2 -2  2
[flambeau.DoubleTensor of size 3x3]
>>> ft.le(ft.range(1, 5), 3).tolist(), ft.max(ft.FloatTensor([1, 3, 5])).item()
([1, 1, 1, 0, 0], 5.0)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import dtypes, errors, operators, ops, optable
from .constructors import from_numpy, tensor
from .dtypes import (
    TensorType,
    default_dtype,
    float16,
    float32,
    float64,
    get_default_tensor_type,
    int8,
    int16,
    int32,
    int64,
    set_default_tensor_type,
    uint8,
)
from .errors import (
    ArgumentError,
    DeviceError,
    DeviceMismatchError,
    DeviceUnavailableError,
    DomainError,
    DTypeError,
    FlambeauError,
    IndexError,
    RegistrationError,
    SerializationError,
    ShapeError,
)
from .printing import get_printoptions, printoptions, set_printoptions
from .random import Generator, default_generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from .registry import Device, backends, current_device, device, hookimpl, hookspec, register_backend
from .serialization import (
    deserialize,
    load,
    register_type,
    registered_types,
    save,
    serialize,
    unregister_type,
)
from .t7 import T7Function, T7Object, load_t7, register_t7_class, save_t7
from .tensor import Size, Storage, StorageType, Tensor

__version__ = "0.1.0"

ByteTensor = TensorType("flambeau.ByteTensor", uint8)
CharTensor = TensorType("flambeau.CharTensor", int8)
ShortTensor = TensorType("flambeau.ShortTensor", int16)
IntTensor = TensorType("flambeau.IntTensor", int32)
LongTensor = TensorType("flambeau.LongTensor", int64)
HalfTensor = TensorType("flambeau.HalfTensor", float16)
FloatTensor = TensorType("flambeau.FloatTensor", float32)
DoubleTensor = TensorType("flambeau.DoubleTensor", float64)
CudaTensor = TensorType("flambeau.cuda.FloatTensor", float32, device="cuda")

ByteStorage = StorageType("flambeau.ByteStorage", uint8)
CharStorage = StorageType("flambeau.CharStorage", int8)
ShortStorage = StorageType("flambeau.ShortStorage", int16)
IntStorage = StorageType("flambeau.IntStorage", int32)
LongStorage = StorageType("flambeau.LongStorage", int64)
HalfStorage = StorageType("flambeau.HalfStorage", float16)
FloatStorage = StorageType("flambeau.FloatStorage", float32)
DoubleStorage = StorageType("flambeau.DoubleStorage", float64)


def is_tensor(obj: object) -> bool:
    """True for a flambeau Tensor."""
    return isinstance(obj, Tensor)


def is_storage(obj: object) -> bool:
    """True for a flambeau Storage."""
    return isinstance(obj, Storage)


def typename(obj: object) -> str:
    """Torch7's ``torch.typename``: ``'flambeau.DoubleTensor'`` for tensors, the class name otherwise."""
    if isinstance(obj, (Tensor, Storage)):
        return obj.type()
    return type(obj).__qualname__


def numel(t: Tensor) -> int:
    """Number of elements."""
    return t.nelement()


def equal(a: Tensor, b: Tensor) -> bool:
    """True when both tensors have the same size and values (a Python bool)."""
    return a.equal(b)


Tensor.numel = Tensor.nelement  # type: ignore[attr-defined]

optable.install(globals(), Tensor)
operators.bind(globals(), Tensor)

if TYPE_CHECKING:  # the op functions are generated at import: to a type checker they are loosely typed

    def __getattr__(name: str) -> Any: ...
