"""View ops (Torch7 1.7), which share the input's storage, and joining and splitting.

Every view op returns a tensor over the **same** storage: writing through it changes the input.
Dims are 0-based; negative dims count from the end.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from ..errors import IndexError, ShapeError, check_dim
from ..optable import Op, declare

_V = frozenset({"function", "method"})


def _dim(a: Any, dim: Any, op: str, extra: int = 0) -> int:
    return check_dim(a, operator.index(dim), op, extra)


def _index(n: int, i: Any, op: str, what: str = "index") -> int:
    i = operator.index(i)
    if not -n <= i < n:
        raise IndexError(f"{op}: {what} {i} out of range for a dimension of size {n}")
    return i % n


def _shape_of(size: tuple[Any, ...]) -> tuple[int, ...]:
    if len(size) == 1 and not isinstance(size[0], int):
        size = tuple(size[0])
    return tuple(operator.index(s) for s in size)


def _select(xp: Any, input: Any, dim: int, index: int) -> Any:
    d = _dim(input, dim, "select")
    i = _index(input.shape[d], index, "select")
    return input[(slice(None),) * d + (i, Ellipsis)]


def _narrow(xp: Any, input: Any, dim: int, start: int, length: int) -> Any:
    d = _dim(input, dim, "narrow")
    n = input.shape[d]
    s = start + n if start < 0 else start
    if not (0 <= s <= n and 0 <= length and s + length <= n):
        raise IndexError(f"narrow: start {start} and length {length} do not fit in dim {d} of size {n}")
    return input[(slice(None),) * d + (slice(s, s + length),)]


def _sub_view(xp: Any, input: Any, *bounds: int) -> Any:
    if len(bounds) % 2 or len(bounds) // 2 > input.ndim:
        raise ShapeError(f"sub_view: expected pairs of (start, end) bounds for at most {input.ndim} dims, got {bounds}")
    key = []
    for d in range(len(bounds) // 2):
        n = input.shape[d]
        s, e = (_index(n, b, "sub_view", "bound") for b in bounds[2 * d : 2 * d + 2])
        if e < s:
            raise IndexError(f"sub_view: end {bounds[2 * d + 1]} before start {bounds[2 * d]} in dim {d}")
        key.append(slice(s, e + 1))
    return input[tuple(key)]


def _transpose(xp: Any, input: Any, dim0: int, dim1: int) -> Any:
    return xp.swapaxes(input, _dim(input, dim0, "transpose"), _dim(input, dim1, "transpose"))


def _t(xp: Any, input: Any) -> Any:
    if input.ndim > 2:
        raise ShapeError(f"t: expects a tensor of at most 2 dims, got {input.ndim}; use transpose(dim0, dim1)")
    return input.T


def _permute(xp: Any, input: Any, *dims: int) -> Any:
    dims = _shape_of(dims)
    if sorted(d % max(input.ndim, 1) for d in dims) != list(range(input.ndim)):
        raise ShapeError(f"permute: {dims} is not a permutation of the {input.ndim} dims")
    return xp.transpose(input, dims)


def _unfold(xp: Any, input: Any, dimension: int, size: int, step: int) -> Any:
    d = _dim(input, dimension, "unfold") if input.ndim else 0
    n = input.shape[d] if input.ndim else 1
    if size > n or step <= 0:
        raise ShapeError(f"unfold: size {size} > {n} (the size of dim {d}) or non-positive step {step}")
    count = (n - size) // step + 1
    shape = input.shape[:d] + (count,) + input.shape[d + 1 :] + (size,)
    st = input.strides
    strides = st[:d] + (st[d] * step,) + st[d + 1 :] + (st[d] if input.ndim else input.itemsize,)
    if type(input) is not np.ndarray and input.size and all(v % input.itemsize == 0 for v in strides):
        # Through the storage, so that the view stays chained to it (see tensor.strided_view).
        from ..tensor import _data_ptr, chained_flat, strided_view

        flat = chained_flat(input)
        if flat is not None:  # else input is itself an unchained view: view it directly
            offset = (_data_ptr(input) - _data_ptr(flat)) // input.itemsize
            return strided_view(xp, flat, offset, shape, tuple(v // input.itemsize for v in strides))
    return xp.lib.stride_tricks.as_strided(input, shape=shape, strides=strides)


def _infer(shape: tuple[int, ...], n: int, op: str, have: tuple[int, ...]) -> tuple[int, ...]:
    if shape.count(-1) > 1:
        raise ShapeError(f"{op}: only one size may be -1, got {shape}")
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    if -1 in shape:
        if known == 0 or n % known:
            raise ShapeError(f"{op}: cannot view {n} elements (size {'x'.join(map(str, have))}) as {shape}")
        shape = tuple(n // known if s == -1 else s for s in shape)
    elif known != n:
        raise ShapeError(
            f"{op}: size {'x'.join(map(str, shape))} has {known} elements but the tensor"
            f" (size {'x'.join(map(str, have))}) has {n}"
        )
    return shape


def _view(xp: Any, input: Any, *size: int) -> Any:
    shape = _infer(_shape_of(size), input.size, "view", input.shape)
    if input.flags.c_contiguous:
        return input.reshape(shape)
    try:
        return input.reshape(shape, copy=False)
    except (ValueError, TypeError, AttributeError):
        raise ShapeError(
            f"view: the tensor (size {'x'.join(map(str, input.shape))}) is not contiguous;"
            " use .contiguous().view(...) or reshape(...)"
        ) from None


def _view_as(xp: Any, input: Any, other: Any) -> Any:
    return _view(xp, input, other.shape)


def _reshape(xp: Any, input: Any, *size: int) -> Any:
    shape = _infer(_shape_of(size), input.size, "reshape", input.shape)
    return xp.array(input, copy=True, order="C").reshape(shape)


def _expand(xp: Any, input: Any, *size: int) -> Any:
    shape = _shape_of(size)
    if len(shape) < input.ndim:
        raise ShapeError(f"expand: {len(shape)} sizes for a tensor of {input.ndim} dims")
    lead = len(shape) - input.ndim
    old = (1,) * lead + input.shape
    new_shape = []
    for d, (want, have) in enumerate(zip(shape, old, strict=False)):
        if want == -1:
            want = have
        if have == want or have == 1:
            new_shape.append(want)  # a size-1 dim grows through stride 0: every index reads one element
        else:
            raise ShapeError(f"expand: dim {d} has size {have} (not 1) and cannot grow to {want}")
    # A read-only view (as PyTorch refuses writes into expanded tensors, where elements repeat);
    # broadcast_to makes it three times faster than as_strided.
    return xp.broadcast_to(input, tuple(new_shape))


def _expand_as(xp: Any, input: Any, other: Any) -> Any:
    return _expand(xp, input, other.shape)


def _squeeze(xp: Any, input: Any, dim: Any = None) -> Any:
    if dim is None:
        return input.reshape(tuple(s for s in input.shape if s != 1)) if input.flags.c_contiguous else xp.squeeze(input)
    d = _dim(input, dim, "squeeze")
    return xp.squeeze(input, axis=d) if input.shape[d] == 1 else input[...]


def _unsqueeze(xp: Any, input: Any, dim: int) -> Any:
    return xp.expand_dims(input, _dim(input, dim, "unsqueeze", extra=1))


def _flatten(xp: Any, input: Any) -> Any:
    return xp.array(input, copy=True, order="C").reshape(-1)


def _cat(xp: Any, tensors: list[Any], dim: int = 0) -> Any:
    if not tensors:
        raise ShapeError("cat: expected a non-empty list of tensors")
    # Torch7 skips empty tensors when concatenating.
    parts = [t for t in tensors if t.size > 0] or tensors[:1]
    d = _dim(parts[0], dim, "cat")
    for i, t in enumerate(parts[1:], 1):
        if t.ndim != parts[0].ndim or t.shape[:d] + t.shape[d + 1 :] != parts[0].shape[:d] + parts[0].shape[d + 1 :]:
            raise ShapeError(
                f"cat: tensor {i} has size {'x'.join(map(str, t.shape))}, which does not match"
                f" {'x'.join(map(str, parts[0].shape))} outside dim {d}"
            )
    return xp.concatenate(parts, axis=d)


def _stack(xp: Any, tensors: list[Any], dim: int = 0) -> Any:
    if not tensors:
        raise ShapeError("stack: expected a non-empty list of tensors")
    for i, t in enumerate(tensors[1:], 1):
        if t.shape != tensors[0].shape:
            raise ShapeError(
                f"stack: tensor {i} has size {'x'.join(map(str, t.shape))}, tensor 0 has"
                f" {'x'.join(map(str, tensors[0].shape))}; all must be equal"
            )
    return xp.stack(tensors, axis=_dim(tensors[0], dim, "stack", extra=1))


def _split(xp: Any, input: Any, split_size: int, dim: int = 0) -> Any:
    d = _dim(input, dim, "split")
    if split_size <= 0:
        raise ShapeError(f"split: split_size must be positive, got {split_size}")
    n = input.shape[d]
    return tuple(
        input[(slice(None),) * d + (slice(s, min(s + split_size, n)),)] for s in range(0, max(n, 1), split_size)
    )


def _chunk(xp: Any, input: Any, chunks: int, dim: int = 0) -> Any:
    d = _dim(input, dim, "chunk")
    if chunks <= 0:
        raise ShapeError(f"chunk: chunks must be positive, got {chunks}")
    n = input.shape[d]
    return _split(xp, input, max(-(-n // chunks), 1), d)


def _repeat_tensor(xp: Any, input: Any, *sizes: int) -> Any:
    reps = _shape_of(sizes)
    if len(reps) < input.ndim:
        raise ShapeError(f"repeat_tensor: {len(reps)} repetition counts for a tensor of {input.ndim} dims")
    return xp.tile(input, reps)


_E = ">>> import flambeau.tensor as ft\n>>> a = ft.arange(6).view(2, 3)\n>>> "


def _view_op(name: str, impl: Any, doc: str, example: str, tensors: tuple[str, ...] = ("input",), **kw: Any) -> Op:
    return Op(
        name,
        impl,
        tensors,
        variants=_V,
        result="view",
        differentiable=("input",),
        group="view",
        doc=doc + "\n\nThe result shares the input's storage.",
        example=_E + example,
        **kw,
    )


declare(
    _view_op(
        "select",
        _select,
        "The slice at ``index`` along ``dim``, which is removed.",
        "a.select(0, 1).tolist(), a.select(1, -1).tolist()\n([3, 4, 5], [2, 5])",
    ),
    _view_op(
        "narrow",
        _narrow,
        "Elements ``start .. start+length-1`` along ``dim``.",
        "a.narrow(1, 1, 2).tolist()\n[[1, 2], [4, 5]]",
    ),
    _view_op(
        "sub_view",
        _sub_view,
        "Torch7's ``sub``: successive narrows with **inclusive** (start, end) bounds per dim;"
        " negative bounds count from the end. ``t.sub(0, 1, 1, -1)`` (two or more integers) calls this.",
        "a.sub_view(0, 1, 1, -1).tolist(), a.sub(0, 0).tolist()\n([[1, 2], [4, 5]], [[0, 1, 2]])",
    ),
    _view_op(
        "transpose",
        _transpose,
        "Swap dims ``dim0`` and ``dim1``.",
        "a.transpose(0, 1).tolist()\n[[0, 3], [1, 4], [2, 5]]",
        ufunc="swapaxes",
    ),
    _view_op(
        "t",
        _t,
        "Transpose of a 2-D tensor (1-D tensors are returned as a view of themselves).",
        "a.t().size()\nSize([3, 2])",
        ufunc="transpose",
    ),
    _view_op("permute", _permute, "Reorder all dims.", "ft.zeros(2, 3, 4).permute(2, 0, 1).size()\nSize([4, 2, 3])"),
    _view_op(
        "unfold",
        _unfold,
        "Sliding windows of ``size`` with ``step`` along ``dimension``, appended as a last dim.",
        "ft.arange(5).unfold(0, 2, 2).tolist()\n[[0, 1], [2, 3]]",
    ),
    _view_op(
        "view",
        _view,
        "The same elements with new sizes (one may be -1); the tensor must be contiguous (or stride-compatible).",
        "a.view(3, 2).tolist(), a.view(-1).size()\n([[0, 1], [2, 3], [4, 5]], Size([6]))",
    ),
    _view_op(
        "view_as",
        _view_as,
        "``view`` to the sizes of ``other``.",
        "a.view_as(ft.zeros(6)).tolist()\n[0, 1, 2, 3, 4, 5]",
        tensors=("input", "other"),
    ),
    _view_op(
        "expand",
        _expand,
        "Grow size-1 dims (or add leading dims) through stride 0; -1 keeps a size. The view is read-only"
        " (its elements repeat): write into the tensor it came from.",
        "ft.tensor([[1], [2]]).expand(2, 3).tolist()\n[[1, 1, 1], [2, 2, 2]]",
    ),
    _view_op(
        "expand_as",
        _expand_as,
        "``expand`` to the sizes of ``other``.",
        "ft.tensor([1, 2]).expand_as(a.t()).tolist()\n[[1, 2], [1, 2], [1, 2]]",
        tensors=("input", "other"),
    ),
    _view_op(
        "squeeze",
        _squeeze,
        "Remove every size-1 dim, or only ``dim`` (a 0-d tensor is kept, never a number).",
        "ft.zeros(2, 1, 3).squeeze().size(), ft.zeros(1, 1).squeeze(0).size()\n(Size([2, 3]), Size([1]))",
    ),
    _view_op("unsqueeze", _unsqueeze, "Insert a size-1 dim at ``dim``.", "a.unsqueeze(1).size()\nSize([2, 1, 3])"),
    Op(
        "reshape",
        _reshape,
        group="view",
        differentiable=("input",),
        variants=frozenset({"function", "method", "out"}),
        doc="A **copy** of the elements in row order with new sizes (Torch7's ``reshape``; ``view`` never copies).",
        example=_E + "ft.reshape(a, 3, 2).tolist()\n[[0, 1], [2, 3], [4, 5]]",
    ),
    Op(
        "flatten",
        _flatten,
        group="view",
        differentiable=("input",),
        variants=frozenset({"function", "method", "out"}),
        doc="A 1-D contiguous copy.",
        example=_E + "a.t().flatten().tolist()\n[0, 3, 1, 4, 2, 5]",
    ),
    Op(
        "cat",
        _cat,
        (),
        seqs=("tensors",),
        group="join",
        differentiable=("tensors",),
        variants=frozenset({"function", "out"}),
        doc="Concatenate along ``dim`` (default 0; Torch7 defaulted to the last dim). Empty tensors are skipped.",
        example=_E + "ft.cat([a, a]).size(), ft.cat([a, a], 1).size()\n(Size([4, 3]), Size([2, 6]))",
    ),
    Op(
        "stack",
        _stack,
        (),
        seqs=("tensors",),
        group="join",
        differentiable=("tensors",),
        variants=frozenset({"function", "out"}),
        doc="Join equal-sized tensors along a new dim.",
        example=_E + "ft.stack([a, a], 1).size()\nSize([2, 2, 3])",
    ),
    Op(
        "split",
        _split,
        result="list",
        group="join",
        differentiable=("input",),
        variants=_V,
        doc="Views of ``split_size`` along ``dim``; the last may be shorter.",
        example=_E + "[t.tolist() for t in ft.arange(5).split(2)]\n[[0, 1], [2, 3], [4]]",
    ),
    Op(
        "chunk",
        _chunk,
        result="list",
        group="join",
        differentiable=("input",),
        variants=_V,
        doc="``split`` into ``chunks`` views of ``ceil(size/chunks)``.",
        example=_E + "[t.size(1) for t in a.chunk(2, 1)]\n[2, 1]",
    ),
    Op(
        "repeat_tensor",
        _repeat_tensor,
        group="join",
        differentiable=("input",),
        aliases=("repeat",),
        variants=frozenset({"function", "method", "out"}),
        doc="Tile the tensor ``sizes`` times along each dim (a copy).",
        example=">>> import flambeau.tensor as ft\n>>> ft.tensor([1, 2]).repeat_tensor(2, 2).tolist()\n[[1, 2, 1, 2], [1, 2, 1, 2]]",
    ),
)
