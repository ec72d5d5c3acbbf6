"""``Module``: Torch's nn.Module API in snake_case, with hand-written backward passes.

A module keeps its last ``output`` and ``grad_input``, its parameters in ``weight``/``bias`` and
their gradients in ``grad_weight``/``grad_bias`` (any module may name more, see
:meth:`Module.parameters`), and a ``train`` flag. Subclasses override three methods:

- ``update_output(input)``: compute and return ``self.output``;
- ``update_grad_input(input, grad_output)``: compute and return ``self.grad_input``;
- ``acc_grad_parameters(input, grad_output, scale)``: **add** ``scale * dL/dparam`` to each gradient.

Every subclass is registered with flambeau's serializer under ``flambeau.nn.<ClassName>`` when it
is defined, so ``ft.save``/``ft.load`` round-trip whole models (no pickle); a file naming a class
that is not defined on load raises a clear error.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError

# Fields that hold parameters and their gradients, by default (Torch's Module:parameters()).
PARAMETERS = (("weight", "grad_weight"), ("bias", "grad_bias"))


def _state(m: Module) -> dict[str, Any]:
    return dict(m.__dict__)


def _registered_name(cls: type) -> str:
    return f"flambeau.nn.{cls.__name__}"


class Module:
    """The base of every layer and container: Torch's ``nn.Module``.

    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> m = nn.Linear(3, 2)
    >>> out = m.forward(ft.ones(4, 3))
    >>> out.size(), m.backward(ft.ones(4, 3), ft.ones(4, 2)).size()
    (Size([4, 2]), Size([4, 3]))
    >>> [p.size() for p in m.parameters()[0]]
    [Size([2, 3]), Size([2])]
    """

    _nn = True  # serialized and converted field by field (see _register, convert_tensors)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _register(cls)

    def __init__(self) -> None:
        self.output: Any = ft.Tensor()
        self.grad_input: Any = ft.Tensor()
        self.train = True

    # -- the three methods a layer overrides ------------------------------------------------------
    def update_output(self, input: Any) -> Any:
        """Compute ``self.output`` from ``input`` and return it."""
        return self.output

    def update_grad_input(self, input: Any, grad_output: Any) -> Any:
        """Compute ``self.grad_input`` (dL/dinput) from ``grad_output`` (dL/doutput) and return it."""
        return self.grad_input

    def acc_grad_parameters(self, input: Any, grad_output: Any, scale: float = 1.0) -> None:
        """Add ``scale * dL/dparam`` into each parameter's gradient (nothing for a module without any)."""

    # -- what callers use ------------------------------------------------------------------------
    def forward(self, input: Any) -> Any:
        """``update_output``: the output for ``input`` (kept in ``self.output``)."""
        return self.update_output(input)

    def backward(self, input: Any, grad_output: Any, scale: float = 1.0) -> Any:
        """``update_grad_input`` then ``acc_grad_parameters(..., scale)``; returns ``self.grad_input``.

        Call it after ``forward`` with the same input, as Torch requires. A module whose
        ``grad_input`` is set to None (Torch's idiom for the first layer of a model, whose input
        needs no gradient) only accumulates its parameters' gradients.
        """
        if self.grad_input is not None:
            self.update_grad_input(input, grad_output)
        self.acc_grad_parameters(input, grad_output, scale)
        return self.grad_input

    def __call__(self, input: Any, grad_output: Any = None) -> Any:
        """``m(x)`` is ``forward``; ``m(x, g)`` is forward then backward, returning ``(output, grad_input)``."""
        out = self.forward(input)
        if grad_output is None:
            return out
        return out, self.backward(input, grad_output)

    def acc_update_grad_parameters(self, input: Any, grad_output: Any, lr: float) -> None:
        """Update the parameters in place by ``-lr * dL/dparam`` without touching the gradient buffers.

        As Torch does it: each gradient tensor is pointed at its parameter's memory for the duration
        of one ``acc_grad_parameters(input, grad_output, -lr)``, then pointed back.
        """
        params, grads = self.parameters()
        saved = [ft.Tensor().set_(g) for g in grads]
        for p, g in zip(params, grads, strict=True):
            g.set_(p)
        try:
            self.acc_grad_parameters(input, grad_output, -lr)
        finally:
            for g, back in zip(grads, saved, strict=True):
                g.set_(back)

    def backward_update(self, input: Any, grad_output: Any, lr: float) -> Any:
        """``update_grad_input`` then ``acc_update_grad_parameters``; returns ``self.grad_input``."""
        grad = self.update_grad_input(input, grad_output)
        self.acc_update_grad_parameters(input, grad_output, lr)
        return grad

    def zero_grad_parameters(self) -> None:
        """Set every parameter gradient to zero."""
        for g in self.parameters()[1]:
            g.zero_()

    def update_parameters(self, lr: float) -> None:
        """``param -= lr * grad`` for every parameter."""
        for p, g in zip(*self.parameters(), strict=True):
            p.add_(g * -lr)  # in place through the backend's out= (an alpha would take the general path)

    # -- parameters ------------------------------------------------------------------------------
    def _parameter_fields(self) -> list[tuple[str, str]]:
        return [(p, g) for p, g in PARAMETERS if isinstance(self.__dict__.get(p), Tensor)]

    def parameters(self) -> tuple[list[Tensor], list[Tensor]]:
        """``(params, grads)``: two lists in the same order (``weight``, ``bias`` by default).

        Containers concatenate their children's lists. A module with no parameters gives two empty lists.
        """
        fields = self._parameter_fields()
        return [self.__dict__[p] for p, _ in fields], [self.__dict__[g] for _, g in fields]

    def get_parameters(self) -> tuple[Tensor, Tensor]:
        """Every parameter, and every gradient, as one contiguous 1-D tensor: ``(flat_params, flat_grads)``.

        Each module tensor is re-pointed to a view into the flat tensor (so updating the flat tensor
        updates the model, as ``optim`` expects); parameters that shared memory still share it.
        Call it once, after building the model: it invalidates earlier flat tensors. Torch's
        ``getParameters``.

        >>> import flambeau.tensor as ft
        >>> import flambeau.nn as nn
        >>> m = nn.Sequential().add(nn.Linear(3, 2)).add(nn.Linear(2, 1))
        >>> flat, grads = m.get_parameters()
        >>> flat.size(), grads.size()
        (Size([11]), Size([11]))
        >>> _ = flat.fill_(0.5)
        >>> m.get(0).weight.tolist()[0]
        [0.5, 0.5, 0.5]
        """
        params, grads = self.parameters()
        return flatten(params), flatten(grads)

    # -- modes, sharing, copies, types -----------------------------------------------------------
    def training(self) -> Module:
        """Training mode (Dropout drops, BatchNorm uses batch statistics); returns self."""
        for m in self.list_modules():
            m.train = True
        return self

    def evaluate(self) -> Module:
        """Evaluation mode (Dropout is the identity, BatchNorm uses running statistics); returns self."""
        for m in self.list_modules():
            m.train = False
        return self

    def share(self, other: Module, *names: str) -> Module:
        """Make the named tensor fields view ``other``'s memory (``share(m, 'weight', 'bias')``); returns self."""
        for n in names:
            mine, theirs = self.__dict__.get(n), other.__dict__.get(n)
            if isinstance(mine, Tensor) and isinstance(theirs, Tensor):
                mine.set_(theirs)
            elif theirs is not None:
                self.__dict__[n] = theirs
        return self

    def clone(self, *names: str) -> Module:
        """A deep copy (through serialization); with names, those fields are shared with the original."""
        copy = ft.deserialize(ft.serialize(self))
        if names:
            copy.share(self, *names)  # a container shares child by child
        return copy

    def type(self, dtype: Any = None, device: Any = None) -> Any:
        """With no argument, the type name of the parameters (``'flambeau.DoubleTensor'``); else convert.

        Every tensor field of this module and its children is converted in place (the same tensor
        objects, re-pointed), and tensors that shared memory still share it: Torch's
        ``recursiveType``. ``dtype`` is a type name, a numpy dtype or ``'torch.FloatTensor'``-style
        string; ``device`` moves as well. Returns self.
        """
        if dtype is None and device is None:
            for m in self.list_modules():
                for p in m.parameters()[0]:
                    return p.type()
            return self.output.type() if isinstance(self.output, Tensor) else ft.Tensor().type()
        if device is None:
            device = device_in(dtype)
        convert_tensors(self, dtype, device)
        for m in self.list_modules():  # a module pinned to a device (nn.GPU) goes back to it now
            rehome = getattr(m, "_rehome", None)
            if rehome is not None:
                rehome()
        return self

    def float(self) -> Module:
        return self.type("torch.FloatTensor")

    def double(self) -> Module:
        return self.type("torch.DoubleTensor")

    def cuda(self, device: int | None = None) -> Module:
        return self.to("cuda" if device is None else f"cuda:{device}")

    def cpu(self) -> Module:
        return self.to("cpu")

    def to(self, device: Any) -> Module:
        """Move every tensor field to ``device`` (sharing kept); returns self."""
        return self.type(None, device)

    def reset(self, stdv: builtins.float | None = None) -> Module:
        """Re-draw the parameters from Torch's initialisation; returns self."""
        return self

    # -- walking the module tree ---------------------------------------------------------------------
    def children(self) -> list[Module]:
        """Direct sub-modules (``modules`` of a container; empty for a layer)."""
        return list(self.__dict__.get("modules", []))

    def list_modules(self) -> list[Module]:
        """Self and every descendant, pre-order."""
        out: list[Module] = [self]
        for c in self.children():
            out.extend(c.list_modules())
        return out

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on self and every descendant, pre-order; returns self."""
        for m in self.list_modules():
            fn(m)
        return self

    def replace(self, fn: Callable[[Module], Module]) -> Module:
        """Like :meth:`apply`, but ``fn``'s return value replaces each module; returns the new root."""
        new = fn(self)
        mods = new.__dict__.get("modules")
        if isinstance(mods, list):
            mods[:] = [m.replace(fn) for m in mods]
        return new

    def find_modules(self, typename: builtins.type | str) -> tuple[list[Module], list[Module]]:
        """``(modules, containers)``: every descendant of this class (or class name) and its container."""
        found: list[Module] = []
        parents: list[Module] = []

        def walk(m: Module, parent: Module | None) -> None:
            if _is_kind(m, typename):
                found.append(m)
                parents.append(parent if parent is not None else m)
            for c in m.children():
                walk(c, m)

        walk(self, None)
        return found, parents

    def clear_state(self) -> Module:
        """Empty ``output``, ``grad_input`` and every buffer of this module and its children; returns self.

        Parameters and their gradients (whatever ``parameters()`` returns) and the fields a class
        names in ``STATE`` are kept. Children clear themselves (a class may override this).
        """
        children = self.children()
        params, grads = self.parameters() if not children else ([], [])
        kept = {id(t) for t in params + grads}
        for name, v in list(self.__dict__.items()):
            if name in self._kept_fields() or id(v) in kept:
                continue
            if isinstance(v, Tensor):
                v.set_()
            elif isinstance(v, list) and name in ("output", "grad_input"):
                self.__dict__[name] = []
        for c in children:
            c.clear_state()
        return self

    def _kept_fields(self) -> set[str]:
        """Tensor fields ``clear_state`` keeps: parameters, their gradients and named state."""
        kept = {n for pair in PARAMETERS for n in pair}
        kept.update(getattr(self, "STATE", ()))
        return kept

    # -- printing ----------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        return f"nn.{type(self).__name__}" + (f"({extra})" if extra else "")

    def __iter__(self) -> Iterator[Module]:
        return iter(self.children())


def _is_kind(m: Module, typename: builtins.type | str) -> bool:
    if isinstance(typename, str):
        name = typename.removeprefix("nn.").removeprefix("flambeau.nn.")
        return type(m).__name__ == name
    return isinstance(m, typename)


def _register(cls: type) -> None:
    """Teach the serializer a module class: its state is its ``__dict__``."""

    def from_state(state: dict[str, Any], cls: type = cls) -> Any:
        obj: Any = object.__new__(cls)
        obj.__dict__.update(state)
        return obj

    ft.register_type(cls, _registered_name(cls), _state, from_state, override=True)


_register(Module)


# --------------------------------------------------------------------------------------------------
# Flattening (getParameters) and type conversion (recursiveType).


def _root_key(t: Tensor) -> tuple[Any, int]:
    return (t._d, t.storage().data_ptr())


def flatten(tensors: list[Tensor]) -> Tensor:
    """One contiguous 1-D tensor holding ``tensors``; each is re-pointed to a view into it.

    Tensors that share memory (views of one storage) keep sharing it: each storage's used extent
    is copied once. Torch's ``Module.flatten``.
    """
    if not tensors:
        return ft.Tensor()
    first = tensors[0]
    for t in tensors:
        if t._a.dtype != first._a.dtype or t._d is not first._d:
            raise ArgumentError(
                f"get_parameters: every parameter must have one type and device, got {first.type()} on"
                f" {first._d} and {t.type()} on {t._d}"
            )
    extents: dict[tuple[Any, int], list[int]] = {}
    for t in tensors:
        off = t.storage_offset()
        span = 1 + sum((n - 1) * abs(s) for n, s in zip(t._a.shape, t.stride(), strict=True)) if t._a.size else 0
        lo_hi = extents.setdefault(_root_key(t), [off, off + span])
        lo_hi[0] = min(lo_hi[0], off)
        lo_hi[1] = max(lo_hi[1], off + span)
    starts: dict[tuple[Any, int], int] = {}
    total = 0
    for key, (lo, hi) in extents.items():
        starts[key] = total - lo
        total += hi - lo
    flat = ft.zeros(total, dtype=first._a.dtype, device=first._d)
    copied: set[tuple[Any, int]] = set()
    storage = flat.storage()
    for t in tensors:
        key = _root_key(t)
        lo, hi = extents[key]
        if key not in copied:  # the used part of this storage, once
            src = ft.Tensor().set_(t.storage(), lo, (hi - lo,), (1,))
            flat.narrow(0, starts[key] + lo, hi - lo).copy_(src)
            copied.add(key)
    for t in tensors:  # then re-point every tensor (after all copies: a storage may be read twice)
        key = _root_key(t)
        t.set_(storage, starts[key] + t.storage_offset(), tuple(t._a.shape), tuple(t.stride()))
    return flat


def _tensors_in(x: Any, found: list[Tensor], seen: set[int]) -> None:
    if id(x) in seen:
        return
    if isinstance(x, Tensor):
        seen.add(id(x))
        found.append(x)
    elif getattr(type(x), "_nn", False):  # a module or a criterion
        seen.add(id(x))
        for v in x.__dict__.values():
            _tensors_in(v, found, seen)
    elif isinstance(x, (list, tuple)):
        seen.add(id(x))
        for v in x:
            _tensors_in(v, found, seen)
    elif isinstance(x, dict):
        seen.add(id(x))
        for v in x.values():
            _tensors_in(v, found, seen)


def convert_tensors(root: Any, dtype: Any, device: Any) -> None:
    """Convert every tensor reachable from ``root`` (modules, lists, dicts) in place, keeping sharing."""
    tensors: list[Tensor] = []
    _tensors_in(root, tensors, set())
    converted: dict[tuple[Any, ...], Tensor] = {}
    target_dt = dtype_of(dtype)
    for t in tensors:
        dt = target_dt
        if dt is None or t._a.dtype.kind not in "fc":  # index tensors (LookupTable's, pooling's) keep their type
            dt = t._a.dtype
        key = (*_root_key(t), str(dt))
        whole = converted.get(key)
        if whole is None:  # each storage is converted once: views of it stay views of one new storage
            whole = ft.Tensor().set_(t.storage())
            if device is not None:
                whole = whole.to(device)
            if whole._a.dtype != dt:
                whole = whole.type(dt)
            converted[key] = whole
        t.set_(whole.storage(), t.storage_offset(), tuple(t._a.shape), tuple(t.stride()))


_TYPE_NAMES = {
    "double": np.float64,
    "float": np.float32,
    "half": np.float16,
}


def device_in(name: Any) -> Any:
    """The device a type name carries, as ``Tensor.type`` reads it, or None (``'flambeau.boxed.DoubleTensor'``
    is on ``'boxed'``, ``'torch.CudaTensor'`` / ``'flambeau.CudaTensor'`` on cuda, other names say nothing)."""
    if not isinstance(name, str):
        return None
    parts = name.split(".")
    if parts[0] in ("flambeau", "torch") and len(parts) == 3:
        return parts[1]
    if parts[-1].startswith("Cuda"):
        return "cuda"
    return "cpu" if parts[0] == "flambeau" else None


def dtype_of(dtype: Any) -> Any:
    """A numpy dtype from a dtype or a type name (``'torch.FloatTensor'``, ``'flambeau.DoubleTensor'``)."""
    if dtype is None:
        return None
    if isinstance(dtype, str):
        name = dtype.split(".")[-1]
        for prefix, dt in (("Double", np.float64), ("Float", np.float32), ("Half", np.float16), ("Cuda", np.float32)):
            if name.startswith(prefix):
                return np.dtype(dt)
        if name.lower() in _TYPE_NAMES:
            return np.dtype(_TYPE_NAMES[name.lower()])
    try:
        return np.dtype(dtype)
    except TypeError:
        raise ArgumentError(f"type: unknown tensor type {dtype!r}") from None


def fan_in_uniform(*tensors: Tensor | None, fan_in: int, stdv: float | None = None) -> None:
    """Torch's default initialisation: U(-stdv, stdv), stdv = 1/sqrt(fan_in); an explicit stdv is scaled by sqrt(3)."""
    s = stdv * math.sqrt(3) if stdv is not None else 1.0 / math.sqrt(fan_in)
    for t in tensors:
        if t is not None:
            t.uniform_(-s, s)
