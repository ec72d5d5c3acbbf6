"""A third-party flambeau backend: numpy arrays in a type of their own, on the device type ``boxed``.

This dist exists to prove flambeau's backend registry end to end on a machine without a GPU. It is
what an outside author would write: its own top-level package, an entry point in the group
``flambeau.backends`` naming this module, and a hook implementation made with pluggy's marker for
the project ``"flambeau"``. It never imports ``flambeau.tensor``.

The device behaves like a real accelerator as far as flambeau can tell:

- its arrays are :class:`BoxedArray`, not ``numpy.ndarray``, and :attr:`BoxedBackend.xp` (a
  numpy-like namespace) returns ``BoxedArray`` from every function;
- a transfer (``from_host`` / ``to_host``) copies: device and host never share memory;
- its maths refuses host arrays: a ufunc or ``xp`` function given a ``numpy.ndarray`` of one or
  more dimensions raises ``TypeError`` (as cupy does), so a silent host/device mix in flambeau
  would show up as an error instead of passing unnoticed;
- ``device_count()`` is 2 (``boxed:0`` and ``boxed:1``);
- ``BOXED_BACKEND_UNAVAILABLE=<reason>`` in the environment makes it report itself unavailable,
  the way the cupy backend does on a machine without cupy or a GPU;
- reading a device value into Python (``float``, ``int``, ``bool``, ``operator.index``, ``item``,
  ``tolist``: on a GPU each one waits for the device and copies) is counted in
  :data:`HOST_READS`, so tests can prove an op path makes none.

>>> b = BoxedBackend()
>>> x = b.from_host(np.arange(3.0))
>>> type(b.xp.tanh(x)).__name__, b.owns(x), type(b.to_host(x)).__name__
('BoxedArray', True, 'ndarray')
"""

from __future__ import annotations

import collections
import ctypes
import functools
import operator
import os
from types import SimpleNamespace
from typing import Any

import numpy as np
import pluggy

__all__ = ["HOST_READS", "BoxedArray", "BoxedBackend", "UNAVAILABLE_ENV", "flambeau_register_backends", "xp"]

hookimpl = pluggy.HookimplMarker("flambeau")

UNAVAILABLE_ENV = "BOXED_BACKEND_UNAVAILABLE"
_MT_WORDS = 624  # MT19937 state: 624 32-bit words plus the position


# Every read of a device value into Python, by kind: ``{"float": 3, "bool": 1}``. Tests reset it.
HOST_READS: collections.Counter[str] = collections.Counter()


class BoxedArray(np.ndarray):
    """A numpy array that lives "on the boxed device": host arrays are refused in its maths."""

    def __getitem__(self, key: Any) -> Any:
        r = super().__getitem__(key)
        # An element is a 0-d device array, as on a GPU, not a host scalar.
        return np.asarray(r).view(BoxedArray) if isinstance(r, np.generic) else r

    def __float__(self) -> float:
        HOST_READS["float"] += 1
        return float(self.view(np.ndarray))

    def __int__(self) -> int:
        HOST_READS["int"] += 1
        return int(self.view(np.ndarray))

    def __bool__(self) -> bool:
        HOST_READS["bool"] += 1
        return bool(self.view(np.ndarray))

    def __index__(self) -> int:
        HOST_READS["index"] += 1
        return operator.index(self.view(np.ndarray))

    def item(self, *args: Any) -> Any:
        HOST_READS["item"] += 1
        return self.view(np.ndarray).item(*args)

    def tolist(self) -> Any:
        HOST_READS["tolist"] += 1
        return self.view(np.ndarray).tolist()

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        name = ufunc.__name__ + ("" if method == "__call__" else "." + method)
        _refuse_host(name, inputs, kwargs)
        out = kwargs.get("out")
        r = getattr(ufunc, method)(*_unbox(inputs), **_unbox(kwargs))
        if out is not None:  # written in place: hand back the caller's own arrays
            return out[0] if isinstance(out, tuple) and len(out) == 1 else out
        return _box(r)


def _unbox(x: Any) -> Any:
    """The same data as plain numpy arrays (views, no copy), recursively through containers."""
    if isinstance(x, BoxedArray):
        return x.view(np.ndarray)
    if isinstance(x, tuple):
        return tuple(_unbox(v) for v in x)
    if isinstance(x, list):
        return [_unbox(v) for v in x]
    if isinstance(x, dict):
        return {k: _unbox(v) for k, v in x.items()}
    return x


def _box(r: Any) -> Any:
    """Results as BoxedArray (views, no copy); numpy scalars become 0-d arrays, as on a GPU."""
    if isinstance(r, BoxedArray):
        return r
    if isinstance(r, np.ndarray):
        return r.view(BoxedArray)
    if isinstance(r, np.generic):
        return np.asarray(r).view(BoxedArray)
    if isinstance(r, tuple):
        return tuple(_box(v) for v in r)
    if isinstance(r, list):
        return [_box(v) for v in r]
    return r


def _refuse_host(name: str, args: Any, kwargs: Any = None) -> None:
    """Raise TypeError if a host ``numpy.ndarray`` (1-d or more) is among the operands."""
    stack = [args, kwargs or {}]
    while stack:
        x = stack.pop()
        if type(x) is np.ndarray and x.ndim > 0:
            raise TypeError(
                f"boxed.{name}: got a host numpy.ndarray of shape {x.shape}; the boxed device computes on"
                " BoxedArray only (move data with from_host)"
            )
        if isinstance(x, (tuple, list)):
            stack.extend(x)
        elif isinstance(x, dict):
            stack.extend(x.values())


def _function(f: Any, name: str) -> Any:
    @functools.wraps(f)
    def boxed(*args: Any, **kwargs: Any) -> Any:
        _refuse_host(name, args, kwargs)
        out = kwargs.get("out")
        r = f(*_unbox(args), **_unbox(kwargs))
        return out if out is not None else _box(r)

    return boxed


class _Ufunc:
    """A numpy ufunc whose call and methods (``at``, ``outer``, ``reduce``...) take and give BoxedArray."""

    def __init__(self, uf: np.ufunc):
        self._uf = uf
        self.__name__ = uf.__name__
        self.__doc__ = uf.__doc__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _function(self._uf, self._uf.__name__)(*args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        v = getattr(self._uf, attr)
        return _function(v, f"{self._uf.__name__}.{attr}") if callable(v) else v

    def __repr__(self) -> str:
        return f"<boxed ufunc {self._uf.__name__}>"


def _to_device(a: Any, dtype: Any = None, copy: bool | None = None, order: Any = None) -> BoxedArray:
    """Host data (arrays, lists, numbers) copied onto the device; device arrays kept unless converted."""
    if isinstance(a, BoxedArray):
        if copy or (dtype is not None and np.dtype(dtype) != a.dtype) or (order == "C" and not a.flags.c_contiguous):
            return np.array(a.view(np.ndarray), dtype=dtype, order=order or "K", copy=True).view(BoxedArray)
        return a
    if isinstance(a, (list, tuple)):
        a = _unbox(a)  # nested lists may hold device arrays too
    host = np.array(a, dtype=dtype, order=order or "K", copy=True)
    out = np.ndarray.__new__(BoxedArray, host.shape, host.dtype, order="C")
    np.copyto(out.view(np.ndarray), host)
    return out


def _asarray(a: Any, dtype: Any = None, order: Any = None, *, copy: bool | None = None) -> BoxedArray:
    return _to_device(a, dtype=dtype, copy=copy, order=order)


def _array(a: Any, dtype: Any = None, *, copy: bool = True, order: Any = "K", ndmin: int = 0) -> BoxedArray:
    r = _to_device(a, dtype=dtype, copy=copy, order=order)
    return r.reshape((1,) * (ndmin - r.ndim) + r.shape) if ndmin > r.ndim else r  # type: ignore[return-value]


def _ascontiguousarray(a: Any, dtype: Any = None) -> BoxedArray:
    return _to_device(a, dtype=dtype, order="C")


def _as_strided(x: Any, shape: Any = None, strides: Any = None, subok: bool = False, writeable: bool = True) -> Any:
    """A strided view of ``x`` that, as cupy's, is not chained to ``x`` through ``.base``.

    It shares ``x``'s memory (through a buffer over the whole allocation), but walking ``.base``
    from it never reaches an array: flambeau must find a view's storage some other way.
    """
    if not isinstance(x, BoxedArray):
        raise TypeError(f"boxed.as_strided: expected a BoxedArray, got {type(x).__name__}")
    root = x.view(np.ndarray)
    while isinstance(root.base, np.ndarray):
        root = root.base
    if not (root.flags.c_contiguous and root.flags.writeable):  # no buffer to cut loose: keep numpy's
        v = np.lib.stride_tricks.as_strided(x.view(np.ndarray), shape=shape, strides=strides, writeable=writeable)
        return v.view(BoxedArray)
    start = x.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    # A ctypes buffer over the allocation: numpy records it as the view's base, and it has no
    # ``.base`` leading back to ``root`` (it keeps ``root`` alive through an attribute).
    buf = (ctypes.c_char * root.nbytes).from_address(root.__array_interface__["data"][0])
    buf.owner = root  # type: ignore[attr-defined]
    v = np.ndarray(
        x.shape if shape is None else tuple(shape),
        x.dtype,
        buffer=buf,
        offset=start,
        strides=x.strides if strides is None else tuple(strides),
    )
    return v.view(BoxedArray)


class _Namespace:
    """numpy's API for boxed arrays, built on first use of each name and then cached.

    Functions and ufuncs are wrapped (host arrays refused, results boxed); constants, dtypes and
    scalar types pass through; submodules become namespaces of their own.
    """

    # Conversions accept host data (they are the transfers); everything else refuses it.
    _SPECIAL = {"asarray": _asarray, "array": _array, "ascontiguousarray": _ascontiguousarray, "asanyarray": _asarray}

    def __init__(self, module: Any, prefix: str = ""):
        self._module = module
        self._prefix = prefix
        if module is np:
            self.lib = SimpleNamespace(stride_tricks=SimpleNamespace(as_strided=_as_strided))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if self._module is np and name in self._SPECIAL:
            v: Any = self._SPECIAL[name]
        else:
            obj = getattr(self._module, name)
            if isinstance(obj, np.ufunc):
                v = _Ufunc(obj)
            elif isinstance(obj, type) or not callable(obj):
                v = _Namespace(obj, f"{self._prefix}{name}.") if type(obj) is type(np) else obj
            else:
                v = _function(obj, self._prefix + name)
        setattr(self, name, v)
        return v

    def __repr__(self) -> str:
        return f"<boxed namespace over {self._module.__name__}>"


xp = _Namespace(np)


class BoxedBackend:
    """The backend object flambeau's registry receives (see ``flambeau.tensor.registry.Backend``)."""

    name = "boxed"
    device = "boxed"
    array_type = BoxedArray
    xp = xp
    kernels: dict[str, Any] = {}

    def is_available(self) -> bool:
        return not os.environ.get(UNAVAILABLE_ENV)

    def unavailable_reason(self) -> str:
        return os.environ.get(UNAVAILABLE_ENV, "")

    def device_count(self) -> int:
        return 2

    def owns(self, array: Any) -> bool:
        return type(array) is BoxedArray

    def to_host(self, array: Any) -> np.ndarray:
        """Device -> host: a new numpy array (a copy, as a real device transfer is)."""
        return np.array(array.view(np.ndarray) if isinstance(array, BoxedArray) else array, copy=True)

    def from_host(self, array: np.ndarray, index: int | None = None) -> BoxedArray:
        """Host -> device ``boxed:<index>``: a new BoxedArray (a copy)."""
        return _to_device(array, copy=True)

    # The same Mersenne Twister as flambeau's cpu backend (numpy's MT19937).
    def new_generator(self, seed: int, index: int | None = None) -> np.random.Generator:
        return np.random.Generator(np.random.MT19937(seed))

    def get_generator_state(self, gen: np.random.Generator) -> bytes:
        st = gen.bit_generator.state["state"]
        return st["key"].astype("<u4").tobytes() + np.int32(st["pos"]).astype("<i4").tobytes()

    def set_generator_state(self, gen: np.random.Generator, state: bytes) -> None:
        if len(state) != 4 * (_MT_WORDS + 1):
            raise ValueError(f"a boxed MT19937 state has {4 * (_MT_WORDS + 1)} bytes, got {len(state)}")
        key = np.frombuffer(state[: 4 * _MT_WORDS], dtype="<u4").astype(np.uint32)
        pos = int(np.frombuffer(state[4 * _MT_WORDS :], dtype="<i4")[0])
        gen.bit_generator.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": pos}}

    def __repr__(self) -> str:
        return "<BoxedBackend device='boxed'>"


@hookimpl
def flambeau_register_backends(register: Any) -> None:
    register(BoxedBackend())
