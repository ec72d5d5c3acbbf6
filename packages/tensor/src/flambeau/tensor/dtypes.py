"""Element types: Torch7's type names over numpy dtypes, and the default tensor type.

``ft.DoubleTensor``, ``ft.FloatTensor``, ... are :class:`TensorType` objects: calling one
constructs a tensor of that type (every Torch7 constructor form), and ``isinstance`` works.

>>> import flambeau.tensor as ft
>>> t = ft.FloatTensor(2, 3).zero_()
>>> t.type(), isinstance(t, ft.FloatTensor), isinstance(t, ft.DoubleTensor)
('flambeau.FloatTensor', True, False)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import DTypeError

# Torch7 name -> numpy dtype. Half is for storage and conversion, like Torch7's HalfTensor.
NAMES: dict[str, np.dtype] = {
    "Byte": np.dtype(np.uint8),
    "Char": np.dtype(np.int8),
    "Short": np.dtype(np.int16),
    "Int": np.dtype(np.int32),
    "Long": np.dtype(np.int64),
    "Half": np.dtype(np.float16),
    "Float": np.dtype(np.float32),
    "Double": np.dtype(np.float64),
}
NAME_OF: dict[np.dtype, str] = {dt: name for name, dt in NAMES.items()}
SUPPORTED = frozenset(NAMES.values())

uint8, int8, int16, int32, int64 = (NAMES[n] for n in ("Byte", "Char", "Short", "Int", "Long"))
float16, float32, float64 = NAMES["Half"], NAMES["Float"], NAMES["Double"]

_default = [float64]


def default_dtype() -> np.dtype:
    """The dtype of tensors made without one (``float64`` unless changed)."""
    return _default[0]


def set_default_tensor_type(t: Any) -> None:
    """Set the default tensor type, as Torch7's ``torch.setdefaulttensortype``.

    >>> import flambeau.tensor as ft
    >>> ft.set_default_tensor_type('flambeau.FloatTensor')
    >>> ft.zeros(2).type()
    'flambeau.FloatTensor'
    >>> ft.set_default_tensor_type(ft.DoubleTensor)
    """
    dt = as_dtype(t)
    if dt.kind != "f":
        raise DTypeError(f"set_default_tensor_type: the default type must be floating point, got {type_name(dt)}")
    _default[0] = dt


def get_default_tensor_type() -> str:
    """The default tensor type's name, e.g. ``'flambeau.DoubleTensor'``."""
    return type_name(_default[0])


def type_name(dt: np.dtype, device_type: str = "cpu", kind: str = "Tensor") -> str:
    """Torch7 name of a dtype on a device: ``flambeau.DoubleTensor``, ``flambeau.cuda.FloatTensor``."""
    prefix = "flambeau." if device_type == "cpu" else f"flambeau.{device_type}."
    return f"{prefix}{NAME_OF[dt]}{kind}"


def as_dtype(spec: Any) -> np.dtype:
    """Normalise a dtype spec: a numpy dtype or its name, a TensorType, or a Torch7 type name.

    >>> as_dtype('flambeau.LongTensor'), as_dtype('float32'), as_dtype(int)
    (dtype('int64'), dtype('float32'), dtype('int64'))
    """
    if isinstance(spec, TensorType):
        return spec.dtype
    if isinstance(spec, str) and ("Tensor" in spec or "Storage" in spec):
        base = spec.rsplit(".", 1)[-1].replace("Tensor", "").replace("Storage", "")
        base = {"Cuda": "Float", "": default_dtype_name()}.get(base, base)
        if base in NAMES:
            return NAMES[base]
        raise DTypeError(f"unknown tensor type {spec!r}; known: {', '.join(n + 'Tensor' for n in NAMES)}")
    if spec is float:
        return default_dtype()
    if spec is bool:
        return uint8
    try:
        dt = np.dtype(spec)
    except TypeError as e:
        raise DTypeError(f"cannot interpret {spec!r} as a dtype") from e
    if dt == np.bool_:
        return uint8
    if dt not in SUPPORTED:
        raise DTypeError(f"dtype {dt} is not supported; flambeau has {', '.join(str(d) for d in NAMES.values())}")
    return dt


def default_dtype_name() -> str:
    return NAME_OF[_default[0]]


class TensorType:
    """A Torch7 tensor type such as ``ft.DoubleTensor``: a constructor and an ``isinstance`` target."""

    def __init__(self, name: str, dtype: np.dtype, device: str | None = None):
        self.__name__ = self.name = name
        self.dtype = dtype
        self.device = device

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from .constructors import construct

        return construct(self.dtype, args, device=kwargs.pop("device", self.device), **kwargs)

    def __instancecheck__(self, obj: Any) -> bool:
        from .tensor import Tensor

        if not isinstance(obj, Tensor) or obj.dtype != self.dtype:
            return False
        return self.device is None or obj.device.type == self.device

    def __repr__(self) -> str:
        return f"<tensor type {self.name}>"
