"""Indexing ops (Torch7 1.5 and 1.8): ``[]`` reads, gather/scatter, index_*, masked_*, nonzero.

``t[key]`` with ints, slices, None and Ellipsis is a view; integer tensors and 0/1 ByteTensor
masks give copies (as numpy's advanced indexing). Index tensors are 0-based LongTensors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ArgumentError, DeviceMismatchError, DTypeError, IndexError, ShapeError
from ..optable import Op, _handlers, checked_range, declare, ranges_guarded, value_checks
from .shape import _dim


def normalize_key(key: Any, dev: Any) -> Any:
    """A ``[]`` key with tensors replaced by backend arrays (ByteTensor masks by booleans)."""
    from ..tensor import Tensor

    items = key if isinstance(key, tuple) else (key,)
    out: list[Any] = []
    for k in items:
        if isinstance(k, Tensor):
            if k._d is not dev:
                raise DeviceMismatchError(
                    f"index: the index tensor is on '{k._d}', the indexed tensor on '{dev}'; data never moves"
                    " between devices silently: move one with .to()"
                )
            if k.__class__ in _handlers:  # a traced index (autograd's recording): its handler reads it
                out.append(k)
                continue
            a = k._a
            if a.dtype == np.uint8:
                a = a.astype(bool)
            elif a.dtype.kind not in "iu":
                raise DTypeError(f"index: index tensors must be LongTensors or ByteTensor masks, got {k.type()}")
            out.append(a)
        elif isinstance(k, (list, np.ndarray)):
            out.append(np.asarray(k) if dev.type == "cpu" else dev.xp.asarray(k))
        elif isinstance(k, (bool, np.bool_)):
            raise ArgumentError("index: a bool is not an index; use a ByteTensor mask")
        else:
            out.append(k)
    # All-integer keys would give a numpy scalar (a copy); the trailing Ellipsis keeps a 0-d view.
    if all(isinstance(k, (int, np.integer)) for k in out):
        out.append(Ellipsis)
    return tuple(out)


def check_key_range(input: Any, key: Any, op: str) -> None:
    """Integer index arrays of a ``[]`` key against the dims they index, on a device: numpy raises
    on out-of-range indices itself, cupy wraps them silently. Skipped under ``trusted_values()``."""
    if isinstance(input, np.ndarray) or not value_checks():
        return
    items = key if isinstance(key, tuple) else (key,)

    def width(k: Any) -> int:  # how many of input's dims k indexes
        if k is None or k is Ellipsis:
            return 0
        return int(k.ndim) if getattr(k, "dtype", None) == np.bool_ else 1

    d = 0
    for k in items:
        if k is Ellipsis:
            d += input.ndim - sum(width(x) for x in items)
        elif getattr(k, "ndim", 0) and k.dtype.kind in "iu" and d < input.ndim:
            _check_range(k, input.shape[d], op)
        d += width(k)


def _getitem(xp: Any, input: Any, key: Any) -> Any:
    check_key_range(input, key, "index")
    return input[key]


def _index_arg(index: Any, op: str) -> Any:
    if index.dtype.kind not in "iu":
        raise DTypeError(f"{op}: index must be a LongTensor, got dtype {index.dtype}")
    return index


def require_in_range(index: Any, n: int, op: str) -> None:
    """Raise op ``op``'s ``IndexError`` unless every index is one of a dimension of size ``n``
    (``-n`` to ``n - 1``): one read on a device (a GPU sync: Torch7's CUDA kernels asserted on the
    device instead, which cupy cannot turn into a Python error); the details only on failure.

    >>> import numpy as np
    >>> require_in_range(np.array([0, -3, 2]), 3, "gather")
    >>> require_in_range(np.array([3]), 3, "gather")
    Traceback (most recent call last):
    ...
    flambeau.tensor.errors.IndexError: gather: index out of range for a dimension of size 3 (indices from 3 to 3)
    """
    if bool(((index < -n) | (index >= n)).any()):
        raise IndexError(
            f"{op}: index out of range for a dimension of size {n}"
            f" (indices from {int(index.min())} to {int(index.max())})"
        )


def _check_range(index: Any, n: int, op: str) -> None:
    if not index.size or not value_checks() or ranges_guarded():
        return
    require_in_range(index, n, op)
    checked_range(index, n, op)  # a recording program checks them in a guard instead, on each replay


def _index_select(xp: Any, input: Any, dim: int, index: Any) -> Any:
    d = _dim(input, dim, "index_select")
    index = _index_arg(index, "index_select")
    if index.ndim > 1:
        raise ShapeError(f"index_select: index must be 1-D, got {index.ndim} dims")
    _check_range(index, input.shape[d], "index_select")
    return xp.take(input, index.reshape(-1), axis=d)


def _fit_to(a: Any, index: Any, d: int) -> Any:
    """Torch7's gather/scatter: the index may be smaller than the source outside ``dim``."""
    if index.ndim != a.ndim:
        raise ShapeError(f"index has {index.ndim} dims but the tensor has {a.ndim}")
    for k, (si, sa) in enumerate(zip(index.shape, a.shape, strict=False)):
        if k != d and si > sa:
            raise ShapeError(f"index size {index.shape} exceeds the tensor's size {a.shape} in dim {k}")
    return a[tuple(slice(None) if k == d else slice(0, s) for k, s in enumerate(index.shape))]


def _gather(xp: Any, input: Any, dim: int, index: Any) -> Any:
    d = _dim(input, dim, "gather")
    index = _index_arg(index, "gather")
    src = _fit_to(input, index, d)
    _check_range(index, input.shape[d], "gather")
    return xp.take_along_axis(src, index, axis=d)


def _scatter(xp: Any, input: Any, dim: int, index: Any, src: Any) -> Any:
    d = _dim(input, dim, "scatter")
    index = _index_arg(index, "scatter")
    _check_range(index, input.shape[d], "scatter")
    out = input.copy()
    view = _fit_to(out, index, d)
    values = _fit_to(src, index, d) if getattr(src, "ndim", 0) else src
    xp.put_along_axis(view, index, values, axis=d)
    return out


def _slot(input: Any, d: int, index: Any) -> tuple[Any, ...]:
    return (slice(None),) * d + (index,)


def _index_copy(xp: Any, input: Any, dim: int, index: Any, source: Any) -> Any:
    d = _dim(input, dim, "index_copy")
    _check_range(_index_arg(index, "index_copy"), input.shape[d], "index_copy")
    out = input.copy()
    out[_slot(out, d, index.reshape(-1))] = source
    return out


def _index_add(xp: Any, input: Any, dim: int, index: Any, source: Any) -> Any:
    d = _dim(input, dim, "index_add")
    _check_range(_index_arg(index, "index_add"), input.shape[d], "index_add")
    out = input.copy()
    moved = xp.moveaxis(out, d, 0)
    xp.add.at(moved, index.reshape(-1), xp.moveaxis(xp.asarray(source), d, 0) if getattr(source, "ndim", 0) else source)
    return out


def _index_put(xp: Any, input: Any, key: Any, values: Any, accumulate: bool = False) -> Any:
    key = _put_key(xp, input, key)
    return _put(xp, input.copy(), key, values, accumulate)


def _index_put_into(xp: Any, input: Any, key: Any, values: Any, accumulate: bool = False) -> Any:
    """``index_put`` written into ``input`` itself and returned: what a compiled program calls
    where ``input`` is its own value and dies there (``flambeau.autograd``'s programs: a chain of
    ``index_put`` into zeros, as gradients of views are, then costs no copy per step)."""
    return _put(xp, input, _put_key(xp, input, key), values, accumulate)


_index_put.into = _index_put_into  # type: ignore[attr-defined]


def _put_key(xp: Any, input: Any, key: Any) -> tuple[Any, ...]:
    from ..tensor import Tensor

    items = key if isinstance(key, tuple) else (key,)
    raw = []
    for k in items:
        if isinstance(k, Tensor):  # the method form: tensors in the key, as ``t[key]`` takes them
            k = k._a.astype(bool) if k._a.dtype == np.uint8 else k._a
        elif isinstance(k, (list, np.ndarray)):  # host index data goes to the device, as in ``t[key]``
            k = xp.asarray(k)
        raw.append(k)
    check_key_range(input, tuple(raw), "index_put")
    return tuple(raw)


def _put(xp: Any, out: Any, key: tuple[Any, ...], values: Any, accumulate: bool) -> Any:
    if not accumulate:
        out[key] = values
    elif all(isinstance(k, (int, np.integer, slice)) or k is None or k is Ellipsis for k in key):
        out[key] += values  # a basic key names each element once
    else:
        xp.add.at(out, key, values)  # repeated indices accumulate
    return out


def _index_fill(xp: Any, input: Any, dim: int, index: Any, value: Any) -> Any:
    d = _dim(input, dim, "index_fill")
    _check_range(_index_arg(index, "index_fill"), input.shape[d], "index_fill")
    out = input.copy()
    out[_slot(out, d, index.reshape(-1))] = value
    return out


def _mask(xp: Any, input: Any, mask: Any, op: str) -> Any:
    if mask.dtype.kind not in "biu":
        raise DTypeError(f"{op}: mask must be a ByteTensor, got dtype {mask.dtype}")
    mask = mask.astype(bool)
    if mask.shape == input.shape:
        return mask
    try:
        return xp.broadcast_to(mask, input.shape)
    except ValueError:
        if mask.size == input.size:  # Torch7: equal element counts suffice
            return mask.reshape(input.shape)
        raise ShapeError(f"{op}: a mask of size {mask.shape} does not fit a tensor of size {input.shape}") from None


def _masked_select(xp: Any, input: Any, mask: Any) -> Any:
    return input[_mask(xp, input, mask, "masked_select")]


def _masked_fill(xp: Any, input: Any, mask: Any, value: Any) -> Any:
    if getattr(value, "ndim", 0):
        raise ShapeError(f"masked_fill: value must be a number or a 0-d tensor, got size {value.shape}")
    return xp.where(_mask(xp, input, mask, "masked_fill"), xp.asarray(value, dtype=input.dtype), input)


def _masked_copy(xp: Any, input: Any, mask: Any, source: Any) -> Any:
    m = _mask(xp, input, mask, "masked_copy")
    count = int(m.sum())
    if source.size < count:
        raise ShapeError(f"masked_copy: the mask selects {count} elements but the source has only {source.size}")
    out = input.copy()
    out[m] = source.reshape(-1)[:count]
    return out


def _nonzero(xp: Any, input: Any) -> Any:
    return xp.argwhere(input).astype(np.int64)


_X = ">>> import flambeau.tensor as ft\n>>> a = ft.arange(6).view(2, 3)\n>>> "
_C = frozenset({"function", "method", "inplace", "out"})

declare(
    Op(
        "getitem",
        _getitem,
        variants=frozenset(),
        syntax="t[key]",
        result="view",
        differentiable=("input",),
        group="indexing",
        doc="``t[key]`` (``Tensor.__getitem__``): ints, slices, None and Ellipsis give views; LongTensors and ByteTensor masks give copies.",
        example=_X
        + "a[1].tolist(), a[:, 1].tolist(), a[a.gt(3)].tolist(), a[0, 2].item()\n([3, 4, 5], [1, 4], [4, 5], 2)",
    ),
    Op(
        "index_select",
        _index_select,
        ("input", "index"),
        differentiable=("input",),
        group="indexing",
        aliases=("index",),
        variants=frozenset({"function", "method", "out"}),
        doc="The slices at ``index`` (a 1-D LongTensor) along ``dim``, copied (Torch7's ``index``).",
        example=_X + "a.index_select(1, ft.LongTensor([2, 0])).tolist()\n[[2, 0], [5, 3]]",
    ),
    Op(
        "gather",
        _gather,
        ("input", "index"),
        differentiable=("input",),
        group="indexing",
        variants=frozenset({"function", "method", "out"}),
        doc="``out[i][j] = input[index[i][j]][j]`` for ``dim=0`` (and likewise for other dims); ``out`` has ``index``'s size.",
        example=_X + "a.gather(1, ft.LongTensor([[2], [0]])).tolist()\n[[2], [3]]",
    ),
    Op(
        "scatter",
        _scatter,
        ("input", "index", "src"),
        differentiable=("input", "src"),
        group="indexing",
        variants=_C,
        doc="Inverse of :func:`gather`: writes ``src`` (a tensor or a number) at the ``index`` positions along ``dim``.",
        example=_X
        + "ft.zeros(2, 3).scatter_(1, ft.LongTensor([[1], [2]]), 7.0).tolist()\n[[0.0, 7.0, 0.0], [0.0, 0.0, 7.0]]",
    ),
    Op(
        "index_copy",
        _index_copy,
        ("input", "index", "source"),
        differentiable=("input", "source"),
        group="indexing",
        variants=_C,
        doc="Copy the slices of ``source`` into the positions ``index`` along ``dim``.",
        example=_X + "a.index_copy(0, ft.LongTensor([1]), ft.LongTensor([[9, 9, 9]])).tolist()\n[[0, 1, 2], [9, 9, 9]]",
    ),
    Op(
        "index_add",
        _index_add,
        ("input", "index", "source"),
        differentiable=("input", "source"),
        group="indexing",
        variants=_C,
        doc="Like :func:`index_copy` but adding; repeated indices accumulate.",
        example=_X + "ft.zeros(3).index_add_(0, ft.LongTensor([0, 0, 2]), ft.ones(3)).tolist()\n[2.0, 0.0, 1.0]",
    ),
    Op(
        "index_put",
        _index_put,
        ("input", "values"),
        differentiable=("input", "values"),
        group="indexing",
        variants=_C,
        doc="``input`` with ``input[key] = values`` (``accumulate=True``: ``+=``, repeated indices adding"
        " up). ``key`` is anything ``t[key]`` takes. ``t[key] = v`` on a tensor traced by autograd records"
        " this op. Without ``accumulate``, an element a key names twice gets the last of its values on the"
        " cpu (numpy's order, as Torch7); on cuda which one it gets is undefined (cupy writes them in"
        " parallel), as in PyTorch.",
        example=_X
        + "ft.zeros(4).index_put(ft.LongTensor([0, 0, 3]), 1.0, accumulate=True).tolist()\n[2.0, 0.0, 0.0, 1.0]",
    ),
    Op(
        "index_fill",
        _index_fill,
        ("input", "index"),
        differentiable=("input",),
        group="indexing",
        variants=_C,
        doc="Fill the slices at ``index`` along ``dim`` with ``value``.",
        example=_X + "a.index_fill(1, ft.LongTensor([0]), -1).tolist()\n[[-1, 1, 2], [-1, 4, 5]]",
    ),
    Op(
        "masked_select",
        _masked_select,
        ("input", "mask"),
        differentiable=("input",),
        group="indexing",
        variants=frozenset({"function", "method", "out"}),
        doc="A new 1-D tensor of the elements where ``mask`` (a ByteTensor) is 1.",
        example=_X + "a.masked_select(a.ge(4)).tolist()\n[4, 5]",
    ),
    Op(
        "masked_fill",
        _masked_fill,
        ("input", "mask", "value"),
        differentiable=("input",),
        group="indexing",
        variants=_C,
        doc="``value`` where ``mask`` is 1, the input elsewhere.",
        example=_X + "a.masked_fill(a.lt(2), 0).tolist()\n[[0, 0, 2], [3, 4, 5]]",
    ),
    Op(
        "masked_copy",
        _masked_copy,
        ("input", "mask", "source"),
        differentiable=("input", "source"),
        group="indexing",
        variants=_C,
        aliases=("masked_scatter",),
        doc="Successive elements of ``source`` written where ``mask`` is 1.",
        example=_X + "a.masked_copy(a.gt(3), ft.LongTensor([7, 8])).tolist()\n[[0, 1, 2], [3, 7, 8]]",
    ),
    Op(
        "nonzero",
        _nonzero,
        group="indexing",
        variants=frozenset({"function", "method", "out"}),
        doc="An N x ndim LongTensor of the (0-based) subscripts of the non-zero elements.",
        example=_X + "a.gt(3).nonzero().tolist()\n[[1, 1], [1, 2]]",
    ),
)
