"""Torch's ``nn.utils``: helpers on tensors and on nested lists of tensors (Torch tables).

Every function takes a tensor, or a (nested) Python list of tensors, the way Torch's take a tensor
or a table of them. Where Torch returns two values (``t1, t2``), these return the first, the one
they build or change. Import as ``flambeau.nn.utils`` (not star-imported into ``flambeau.nn``).

>>> import flambeau.tensor as ft
>>> from flambeau.nn import utils
>>> grads = utils.recursive_resize_as(None, [ft.ones(2), [ft.ones(3, 1)]])
>>> _ = utils.recursive_fill(grads, 0.5)
>>> _ = utils.recursive_add(grads, 2, [ft.ones(2), [ft.ones(3, 1)]])
>>> grads[0].tolist(), grads[1][0].size()
([2.5, 2.5], Size([3, 1]))
"""

from __future__ import annotations

from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import ArgumentError

from .module import _root_key, device_in, dtype_of

__all__ = [
    "recursive_type",
    "recursive_resize_as",
    "recursive_fill",
    "recursive_add",
    "recursive_copy",
    "add_singleton_dimension",
    "contiguous_view",
    "clear",
]


def _kind(x: Any) -> str:
    return "None" if x is None else type(x).__name__


def _nested_error(fn: str, t1: Any, t2: Any) -> ArgumentError:
    return ArgumentError(f"{fn}: expected nested tensors or lists, got {_kind(t1)} and {_kind(t2)}")


# --------------------------------------------------------------------------------------------------
# recursiveType


def recursive_type(
    param: Any, type_name_or_dtype: Any = None, device: Any = None, tensor_cache: dict[Any, Any] | None = None
) -> Any:
    """``param`` converted to a tensor type and/or a device: Torch's ``nn.utils.recursiveType``.

    Parameters
    ----------
    param : Tensor, Module, Criterion, or a (nested) list, tuple or dict of them
        A tensor gives a new, converted tensor (``param`` itself when nothing changes); a list or
        dict is converted in place, element by element, and returned; a tuple gives a new tuple; a
        module or criterion is converted in place by its ``type(...)``. Anything else (numbers,
        strings, None) is returned as it is.
    type_name_or_dtype : str or dtype, optional
        ``'torch.FloatTensor'``, ``'flambeau.DoubleTensor'``, ``'float'``, ``ft.float32``, ... A
        type name that carries a device (``'flambeau.boxed.DoubleTensor'``) moves as well.
        As ``Module.type`` does, only floating tensors change type: integer and boolean tensors
        (class targets, indices) keep their type and only move (Torch would convert them too).
    device : str or Device, optional
        Where to move every tensor.
    tensor_cache : dict, optional
        Shared across calls to keep sharing: tensors that viewed one storage view one converted
        storage afterwards (one cache is used for a whole call by default, as Torch's ``tensorCache``).

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.nn.utils import recursive_type
    >>> x = ft.ones(2, 3)
    >>> out = recursive_type([x, [x[0], 7]], "torch.FloatTensor")
    >>> out[0].type(), out[1][0].type(), out[1][1]
    ('flambeau.FloatTensor', 'flambeau.FloatTensor', 7)
    >>> out[1][0].storage().data_ptr() == out[0].storage().data_ptr()  # still a view of the same memory
    True
    """
    if type_name_or_dtype is None and device is None:
        raise ArgumentError("recursive_type: expected a tensor type, a device or both, got neither")
    if device is None:
        device = device_in(type_name_or_dtype)
    cache: dict[Any, Any] = {} if tensor_cache is None else tensor_cache
    return _convert(param, type_name_or_dtype, device, cache)


def _convert(x: Any, type_name: Any, device: Any, cache: dict[Any, Any]) -> Any:
    if isinstance(x, Tensor):
        return _convert_tensor(x, type_name, device, cache)
    if getattr(type(x), "_nn", False):  # a module or a criterion: converted in place, sharing kept
        x.type(type_name, device)
        return x
    if isinstance(x, list):
        for i, v in enumerate(x):
            x[i] = _convert(v, type_name, device, cache)
        return x
    if isinstance(x, tuple):
        return tuple(_convert(v, type_name, device, cache) for v in x)
    if isinstance(x, dict):
        for k, v in x.items():
            x[k] = _convert(v, type_name, device, cache)
        return x
    return x


def _convert_tensor(t: Tensor, type_name: Any, device: Any, cache: dict[Any, Any]) -> Tensor:
    dt = dtype_of(type_name)
    if dt is None or t.dtype.kind not in "fc":  # index tensors keep their type, as Module.type does
        dt = t.dtype
    target = ft.device(device) if device is not None else t.device
    if dt == t.dtype and target == t.device:
        return t
    hit = cache.get(id(t))
    if hit is not None and hit[0] is t:
        return hit[1]
    storage = t.storage()
    if storage.size() == 0:  # nothing to share: a new empty tensor of the target type and device
        new = t.new().to(target).type(dt)
    else:
        key = (*_root_key(t), str(dt), str(target))
        whole = cache.get(key)
        if whole is None:  # each storage is converted once, so its views stay views of one storage
            whole = ft.Tensor().set_(storage).to(target).type(dt)
            cache[key] = whole
        new = ft.Tensor().set_(whole.storage(), t.storage_offset(), tuple(t.size()), tuple(t.stride()))
    cache[id(t)] = (t, new)  # the tensor is kept so that its id stays its own
    return new


# --------------------------------------------------------------------------------------------------
# recursiveResizeAs, recursiveFill, recursiveAdd, recursiveCopy


def _as_list(t1: Any) -> list[Any]:
    """Torch's ``t1 = type(t1) == 'table' and t1 or {t1}``: a list is kept, anything else is wrapped."""
    if isinstance(t1, list):
        return t1
    return [] if t1 is None else [t1]


def recursive_resize_as(t1: Any, t2: Any) -> Any:
    """``t1`` resized like ``t2`` (a tensor or nested lists), reusing ``t1``'s tensors: Torch's ``recursiveResizeAs``.

    Where ``t1`` is None or not a tensor where ``t2`` has one, a new tensor of ``t2``'s type and
    device is made; a list ``t1`` is updated in place and its extra entries dropped; a tensor
    ``t1`` where ``t2`` is a list becomes that list's first entry, as in Torch. Values are not copied.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.nn.utils import recursive_resize_as
    >>> buf = [ft.Tensor(), ft.Tensor(), ft.Tensor()]
    >>> out = recursive_resize_as(buf, [ft.ones(2, 3), [ft.ones(4)]])
    >>> out is buf, len(out), out[0].size(), out[1][0].size()
    (True, 2, Size([2, 3]), Size([4]))
    """
    if isinstance(t2, list):
        out = _as_list(t1)
        for i, v in enumerate(t2):
            mine = out[i] if i < len(out) else None
            r = recursive_resize_as(mine, v)
            if i < len(out):
                out[i] = r
            else:
                out.append(r)
        del out[len(t2) :]
        return out
    if isinstance(t2, Tensor):
        out_t = t1 if isinstance(t1, Tensor) else t2.new()
        out_t.resize_as_(t2)
        return out_t
    raise _nested_error("recursive_resize_as", t1, t2)


def recursive_fill(t: Any, value: float) -> Any:
    """Fill every tensor of ``t`` (a tensor or nested lists) with ``value``, in place; returns ``t``.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.nn.utils import recursive_fill
    >>> t = recursive_fill([ft.zeros(2), [ft.zeros(1)]], 3)
    >>> t[0].tolist(), t[1][0].tolist()
    ([3.0, 3.0], [3.0])
    """
    if isinstance(t, list):
        for i, v in enumerate(t):
            t[i] = recursive_fill(v, value)
        return t
    if isinstance(t, Tensor):
        t.fill_(value)
        return t
    raise ArgumentError(f"recursive_fill: expected a tensor or a list of them, got {_kind(t)}")


def recursive_add(t1: Any, val: Any, t2: Any = None) -> Any:
    """``t1 += val * t2`` tensor by tensor (``recursive_add(t1, t2)``: ``val = 1``); returns ``t1``.

    Torch's ``recursiveAdd``. ``t1`` and ``t2`` have the same nested structure; a tensor ``t1``
    where ``t2`` is a list is wrapped as the list's first entry, as in Torch.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.nn.utils import recursive_add
    >>> acc = [ft.ones(2), [ft.zeros(2)]]
    >>> _ = recursive_add(acc, 0.5, [ft.ones(2) * 2, [ft.ones(2)]])
    >>> acc[0].tolist(), acc[1][0].tolist()
    ([2.0, 2.0], [0.5, 0.5])
    >>> recursive_add(ft.ones(2), ft.ones(2)).tolist()
    [2.0, 2.0]
    """
    if t2 is None:
        if val is None:
            raise ArgumentError("recursive_add: expected recursive_add(t1, t2) or recursive_add(t1, val, t2)")
        t2, val = val, 1
    return _add(t1, val, t2)


def _add(t1: Any, val: Any, t2: Any) -> Any:
    if isinstance(t2, list):
        out = _as_list(t1)
        if len(out) < len(t2):
            raise ArgumentError(f"recursive_add: a list of {len(out)} entries cannot take a list of {len(t2)}")
        for i, v in enumerate(t2):
            out[i] = _add(out[i], val, v)
        return out
    if isinstance(t1, Tensor) and isinstance(t2, Tensor):
        t1.add_(t2, alpha=val)
        return t1
    raise _nested_error("recursive_add", t1, t2)


def recursive_copy(t1: Any, t2: Any) -> Any:
    """``t1`` resized like ``t2`` and holding a copy of its values: Torch's ``recursiveCopy``.

    As :func:`recursive_resize_as` for the structure (new tensors take ``t2``'s type and device;
    an existing ``t1`` tensor keeps its own, and the values are converted on the way), except
    that, as in Torch, entries of a longer ``t1`` list beyond ``t2``'s are kept. Torch's
    ``async`` flag is not taken: flambeau's copies are ordered with the device's other work.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.nn.utils import recursive_copy
    >>> src = [ft.Tensor([1.0, 2.0]), [ft.Tensor([[3.0]])]]
    >>> dst = recursive_copy(None, src)
    >>> dst[0].tolist(), dst[1][0].tolist(), dst[0] is src[0]
    ([1.0, 2.0], [[3.0]], False)
    """
    if isinstance(t2, list):
        out = _as_list(t1)
        for i, v in enumerate(t2):
            mine = out[i] if i < len(out) else None
            r = recursive_copy(mine, v)
            if i < len(out):
                out[i] = r
            else:
                out.append(r)
        return out
    if isinstance(t2, Tensor):
        out_t = t1 if isinstance(t1, Tensor) else t2.new()
        out_t.resize_(*t2.size())
        out_t.copy_(t2)
        return out_t
    raise _nested_error("recursive_copy", t1, t2)


# --------------------------------------------------------------------------------------------------
# addSingletonDimension, contiguousView, clear


def add_singleton_dimension(t: Tensor, dim: int = 0, view: Tensor | None = None) -> Tensor:
    """A view of ``t`` with a size-1 dimension inserted before ``dim`` (0-based, 0 to ``t.dim()``).

    Torch's ``nn.utils.addSingletonDimension([view,] t [, dim=1])``; ``view``, when given, is
    re-pointed to the view and returned (Torch's first argument). Writes through the view change ``t``.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.nn.utils import add_singleton_dimension
    >>> t = ft.zeros(3, 4)
    >>> add_singleton_dimension(t).size(), add_singleton_dimension(t, 1).size(), add_singleton_dimension(t, 2).size()
    (Size([1, 3, 4]), Size([3, 1, 4]), Size([3, 4, 1]))
    >>> _ = add_singleton_dimension(t, 1)[2, 0, 3].fill_(7.0)
    >>> t[2, 3].item()
    7.0
    """
    if not isinstance(t, Tensor):
        raise ArgumentError(f"add_singleton_dimension: expected a tensor, got {_kind(t)}")
    nd = t.dim()
    if not isinstance(dim, int) or not 0 <= dim <= nd:
        raise ArgumentError(
            f"add_singleton_dimension: invalid dimension {dim}: expected 0 to {nd} for a tensor of {nd} dimensions"
        )
    size, stride = list(t.size()), list(t.stride())
    size.insert(dim, 1)
    stride.insert(dim, stride[dim] * size[dim + 1] if dim < nd else 1)  # the stride a view would give it
    out = view if view is not None else t.new()
    return out.set_(t.storage(), t.storage_offset(), tuple(size), tuple(stride))


def contiguous_view(output: Tensor | None, input: Tensor, *sizes: Any) -> Tensor:
    """``input`` viewed with ``sizes``: a view of ``input`` when it is contiguous, else of a contiguous copy.

    Torch's ``nn.utils.contiguousView(output, input, ...)``: ``output`` (a tensor, or None for a new
    one) is re-pointed and returned. When ``input`` is contiguous ``output`` shares its memory
    (writes through it change ``input``); otherwise ``output`` views a new contiguous copy. Sizes
    are those ``view`` takes (``-1`` infers one). Torch copies a non-contiguous input into
    ``output``'s current memory; here the copy always goes to new memory, because ``output`` may
    still view an earlier contiguous input, whose values Torch would then overwrite.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.nn.utils import contiguous_view
    >>> x = ft.Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> v = contiguous_view(None, x, 3, 2)
    >>> v.tolist(), v.storage().data_ptr() == x.storage().data_ptr()
    ([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], True)
    >>> c = contiguous_view(v, x.t(), -1)
    >>> c is v, c.tolist(), c.storage().data_ptr() == x.storage().data_ptr()
    (True, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0], False)
    """
    if not isinstance(input, Tensor):
        raise ArgumentError(f"contiguous_view: expected an input tensor, got {_kind(input)}")
    out = output if output is not None else input.new()
    source = input if input.is_contiguous() else input.contiguous()
    return out.set_(source.view(*sizes))


def clear(module: Any, *names: Any) -> Any:
    """Empty the named fields of ``module`` (or any object with fields); returns ``module``.

    Torch's ``nn.utils.clear(self, 'a', 'b')`` (or ``clear(self, ['a', 'b'])``): a tensor field is
    emptied in place (``set_()``, so views of it are left alone), a list becomes ``[]``, a dict
    ``{}``, anything else None; a field that is missing, None or False is left as it is.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> import flambeau.nn as nn
    >>> from flambeau.nn.utils import clear
    >>> m = nn.Linear(3, 2)
    >>> m._buffer, m._list, m._n = ft.ones(5), [ft.ones(2)], 4
    >>> _ = clear(m, "_buffer", "_list", "_n", "_missing")
    >>> m._buffer.nelement(), m._list, m._n
    (0, [], None)
    """
    if len(names) == 1 and isinstance(names[0], (list, tuple)):
        names = tuple(names[0])
    fields = module.__dict__
    for name in names:
        if not isinstance(name, str):
            raise ArgumentError(f"clear: expected field names (strings), got {_kind(name)}")
        v = fields.get(name)
        if v is None or v is False:
            continue
        if isinstance(v, Tensor):
            v.set_()
        elif isinstance(v, list):
            fields[name] = []
        elif isinstance(v, dict):
            fields[name] = {}
        else:
            fields[name] = None
    return module
