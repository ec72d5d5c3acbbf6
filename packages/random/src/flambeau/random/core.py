"""The fill convention and the draw: one function serves every record of :mod:`flambeau.random.records`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import flambeau.tensor.dtypes as _dt
from flambeau.random.records import REQUIRED, Dist
from flambeau.random.text import _signature as signature
from flambeau.tensor.errors import ArgumentError, DomainError, ShapeError
from flambeau.tensor.optable import notify_write, read_only, write_watchers
from flambeau.tensor.random import Generator, generator_for
from flambeau.tensor.registry import Device, current_device
from flambeau.tensor.tensor import Tensor, wrap


def _method(d: Dist, dev: Device, rng: Any) -> Any:
    m = getattr(rng, d.method, None)
    if m is None:
        raise NotImplementedError(
            f"random.{d.name}: the generator of the '{dev}' backend ({type(rng).__module__}.{type(rng).__name__})"
            f" has no method {d.method!r}, which draws {d.name}"
        )
    return m


def _int_value(d: Dist, name: str, v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ArgumentError(f"random.{d.name}: {name} must be a number or a tensor, got {type(v).__name__}")
    if name in d.int_params:
        if not float(v).is_integer():
            raise DomainError(f"random.{d.name}: {name} must be an integer, got {v!r}")
        return int(v)
    return float(v)


def draw(d: Dist, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``d``'s sampler: fill ``out`` and return it, return a new tensor, or return a Python number."""
    generator: Generator | None = kwargs.pop("generator", None)
    out = kwargs.pop("out", None)
    n = len(d.params)
    rest = list(args)
    if out is None and rest and isinstance(rest[0], Tensor) and len(rest) == n + 1:
        out = rest.pop(0)  # Torch's rule: a first tensor with one argument too many is the output
    if len(rest) > n:
        raise ArgumentError(
            f"random.{d.name}: takes {n} parameter(s) ({', '.join(p for p, _ in d.params) or 'none'}) after an"
            f" optional output tensor, got {len(args)} positional argument(s)"
        )
    if out is not None and not isinstance(out, Tensor):
        raise ArgumentError(f"random.{d.name}: the output must be a Tensor, got {type(out).__name__}")
    values: list[Any] = []
    for i, (name, default) in enumerate(d.params):
        if i < len(rest):
            if name in kwargs:
                raise ArgumentError(f"random.{d.name}: {name} given twice")
            v = rest[i]
        elif name in kwargs:
            v = kwargs.pop(name)
        elif default is not REQUIRED:
            v = default
        else:
            raise ArgumentError(f"random.{d.name}: missing the parameter {name!r} (signature {signature(d)})")
        values.append(v)
    if kwargs:
        raise ArgumentError(f"random.{d.name}: unexpected keyword(s) {', '.join(sorted(kwargs))}")

    tensors = [t for t in [out, *values] if isinstance(t, Tensor)]
    if tensors:
        dev = tensors[0]._d
        for t in tensors[1:]:
            if t._d is not dev:
                raise ArgumentError(f"random.{d.name}: tensors on '{dev}' and '{t._d}'")
    else:
        dev = generator.device if isinstance(generator, Generator) else current_device()
    rng = generator_for(dev, generator)

    params: list[Any] = []
    shapes: list[tuple[int, ...]] = []
    for (name, _), v in zip(d.params, values, strict=True):
        if isinstance(v, Tensor):
            a = v._a
            if name in d.int_params and a.dtype.kind not in "iu":
                if not bool(dev.xp.all(a == dev.xp.floor(a))):
                    raise DomainError(f"random.{d.name}: {name} must hold integers")
                a = a.astype(np.int64)
            params.append(a)
            shapes.append(tuple(a.shape))
        else:
            params.append(_int_value(d, name, v))
    if out is not None:
        oshape: tuple[int, ...] = tuple(out._a.shape)
        shape: tuple[int, ...] | None = oshape
        count = math.prod(oshape)
        for i, a in enumerate(params):
            if isinstance(a, dev.array_type) and a.ndim > 0:
                try:
                    np.broadcast_shapes(tuple(a.shape), oshape)
                except ValueError:
                    if a.size != count:  # Torch's rule: N elements, whatever their shape
                        raise ShapeError(
                            f"random.{d.name}: {d.params[i][0]} has size {tuple(a.shape)}, which neither"
                            f" broadcasts to the output's {oshape} nor has {count} elements"
                        ) from None
                    params[i] = a.reshape(oshape)
    elif shapes:
        try:
            shape = np.broadcast_shapes(*shapes)
        except ValueError:
            raise ShapeError(f"random.{d.name}: the parameter sizes {shapes} do not broadcast together") from None
    else:
        shape = None

    method = _method(d, dev, rng)
    size = () if shape is None else shape
    try:
        r = d.call(method, params, size) if d.call is not None else method(*params, size=size)
    except (ValueError, OverflowError) as e:
        raise DomainError(f"random.{d.name}: {e}") from e
    r = dev.xp.asarray(r)

    if shape is None:
        return int(r.item()) if d.kind == "int" else float(r.item())
    if out is not None:
        a = out._a
        if read_only(a):
            raise ArgumentError(f"random.{d.name}: the output tensor's memory is read-only")
        if write_watchers:
            notify_write(out, f"random.{d.name}")
        dev.xp.copyto(a, r.reshape(a.shape), casting="unsafe")  # the output keeps its type
        return out
    dtype = np.dtype(np.uint8) if d.name == "bytes" else np.dtype(np.int64) if d.kind == "int" else _dt.default_dtype()
    return wrap(r.astype(dtype, copy=False), dev)
