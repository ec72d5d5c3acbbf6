"""Matrix construction and extraction, histograms and tensor-wide ops (Torch7 2.1 and 2.5):
diag, trace, tril, triu, histc, bhistc, renorm, match.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import DomainError, IndexError, ShapeError, size_text
from ..optable import Op, declare
from .reduce import pnorm


def _diag(xp: Any, input: Any, diagonal: int = 0) -> Any:
    if input.ndim == 1:
        return xp.diag(input, diagonal)
    if input.ndim == 2:
        return xp.diagonal(input, diagonal).copy()  # numpy's diagonal is a read-only view
    raise ShapeError(f"diag: input must be 1-D or 2-D, got size {size_text(input.shape)}")


def _trace(xp: Any, input: Any) -> Any:
    if input.ndim != 2:
        raise ShapeError(f"trace: input must be 2-D, got size {size_text(input.shape)}")
    return xp.trace(input, dtype=np.int64 if input.dtype.kind in "iu" else None)


def _triangle(name: str) -> Any:
    def impl(xp: Any, input: Any, diagonal: int = 0) -> Any:
        if input.ndim < 2:
            raise ShapeError(f"{name}: input must have at least 2 dims, got size {size_text(input.shape)}")
        return getattr(xp, name)(input, diagonal)

    return impl


def _range(xp: Any, op: str, input: Any, bins: int, min: Any, max: Any) -> tuple[float, float]:  # noqa: A002
    """Torch7's histogram range: ``min == max`` means the data's range, widened by 1 if still empty."""
    if bins < 1:
        raise DomainError(f"{op}: bins must be at least 1, got {bins}")
    lo, hi = float(min), float(max)
    if lo > hi:
        raise DomainError(f"{op}: min ({lo}) must not exceed max ({hi})")
    if lo == hi:
        data = input[~xp.isnan(input)]
        if data.size:
            lo, hi = float(data.min()), float(data.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    return lo, hi


def _counts(xp: Any, rows: Any, bins: int, lo: float, hi: float) -> Any:
    """Histogram of each row of a 2-D array into ``bins`` equal bins over [lo, hi] (NaN and outliers dropped)."""
    inside = (rows >= lo) & (rows <= hi)
    x = xp.where(inside, rows.astype(np.float64), lo)
    b = xp.clip(xp.floor((x - lo) / (hi - lo) * bins).astype(np.int64), 0, bins - 1)  # max goes in the last bin
    b = b + xp.arange(rows.shape[0], dtype=np.int64)[:, None] * bins
    return xp.bincount(b[inside], minlength=rows.shape[0] * bins).reshape(rows.shape[0], bins)


def _histc(xp: Any, input: Any, bins: int = 100, min: Any = 0, max: Any = 0) -> Any:  # noqa: A002
    lo, hi = _range(xp, "histc", input, bins, min, max)
    return _counts(xp, input.reshape(1, input.size), bins, lo, hi)[0].astype(input.dtype)


def _bhistc(xp: Any, input: Any, bins: int = 100, min: Any = 0, max: Any = 0) -> Any:  # noqa: A002
    if input.ndim != 2:
        raise ShapeError(f"bhistc: input must be 2-D (one histogram per row), got size {size_text(input.shape)}")
    lo, hi = _range(xp, "bhistc", input, bins, min, max)
    return _counts(xp, input, bins, lo, hi).astype(input.dtype)


def _renorm(xp: Any, input: Any, p: Any, dim: int, maxnorm: Any) -> Any:
    if not p > 0:
        raise DomainError(f"renorm: p must be positive, got {p}")
    if maxnorm < 0:
        raise DomainError(f"renorm: maxnorm must be non-negative, got {maxnorm}")
    if input.ndim == 0 or not -input.ndim <= dim < input.ndim:
        raise IndexError(f"renorm: dim {dim} is out of range for a tensor of size {size_text(input.shape)}")
    others = tuple(i for i in range(input.ndim) if i != dim % input.ndim)
    norms = pnorm(xp, input, p, others, keepdim=True)
    # Torch7's and PyTorch's 1e-7 keeps the rescaled norm just below maxnorm.
    scale = xp.where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)
    return (input * scale).astype(input.dtype, copy=False)


def _match(xp: Any, input: Any, other: Any, gain: Any = 1) -> Any:
    if input.ndim == 0 or other.ndim == 0:
        raise ShapeError(
            f"match: input ({size_text(input.shape)}) and other ({size_text(other.shape)}) need at least 1 dim"
        )
    a = input.reshape(input.shape[0], math.prod(input.shape[1:]))
    b = other.reshape(other.shape[0], math.prod(other.shape[1:]))
    if a.shape[1] != b.shape[1]:
        raise ShapeError(
            f"match: rows of input ({size_text(input.shape)}) have {a.shape[1]} elements, rows of other ({size_text(other.shape)})"
            f" have {b.shape[1]}; they must have as many"
        )
    d = a[:, None, :] - b[None, :, :]
    return gain * (d * d).sum(axis=2)


_E = ">>> import flambeau.tensor as ft\n>>> "
_NOT_INPLACE = frozenset({"function", "method", "out"})

declare(
    Op(
        "diag",
        _diag,
        differentiable=("input",),
        group="matrix",
        variants=_NOT_INPLACE,
        doc="1-D input: a square matrix with the input on diagonal ``diagonal`` (0 the main one, > 0 above, "
        "< 0 below). 2-D input: that diagonal as a new 1-D tensor (a copy, as in Torch7, not a view).",
        example=_E + "ft.diag(ft.tensor([1, 2])).tolist()\n[[1, 0], [0, 2]]\n"
        ">>> ft.diag(ft.tensor([[1, 2], [3, 4]]), 1).tolist()\n[2]",
    ),
    Op(
        "trace",
        _trace,
        differentiable=("input",),
        group="matrix",
        variants=_NOT_INPLACE,
        doc="Sum of the main diagonal of a matrix, as a 0-d tensor (integer matrices sum in int64).",
        example=_E + "ft.tensor([[1.0, 2.0], [3.0, 4.0]]).trace().item()\n5.0",
    ),
    Op(
        "tril",
        _triangle("tril"),
        differentiable=("input",),
        group="matrix",
        doc="The lower triangle (on and below diagonal ``diagonal``), the rest zeroed; batches of matrices "
        "work on the last two dims.",
        example=_E + "ft.tril(ft.ones(3, 3)).tolist()\n[[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]",
    ),
    Op(
        "triu",
        _triangle("triu"),
        differentiable=("input",),
        group="matrix",
        doc="The upper triangle (on and above diagonal ``diagonal``), the rest zeroed; batches of matrices "
        "work on the last two dims.",
        example=_E + "ft.ones(2, 3).triu(1).tolist()\n[[0.0, 1.0, 1.0], [0.0, 0.0, 1.0]]",
    ),
    Op(
        "histc",
        _histc,
        dtypes="float",
        group="matrix",
        variants=_NOT_INPLACE,
        doc="Histogram of all elements in ``bins`` equal bins over [min, max] (Torch7): ``min == max`` (the "
        "default 0, 0) uses the data's smallest and largest values. Values outside the range and NaN are "
        "ignored; ``max`` itself falls in the last bin. The counts have the input's float type.",
        example=_E + "ft.histc(ft.tensor([1.0, 2.0, 1.0, 4.0]), bins=4).tolist()\n[2.0, 1.0, 0.0, 1.0]\n"
        ">>> ft.histc(ft.tensor([1.0, 2.0, 9.0]), bins=2, min=0, max=4).tolist()\n[1.0, 1.0]",
    ),
    Op(
        "bhistc",
        _bhistc,
        dtypes="float",
        group="matrix",
        variants=_NOT_INPLACE,
        doc="One :func:`histc` per row of a 2-D tensor, all over the same range (``min == max``: the range of "
        "the whole tensor). The result is rows x bins.",
        example=_E + "ft.bhistc(ft.tensor([[0.0, 1.0, 1.0], [2.0, 2.0, 2.0]]), bins=2).tolist()\n"
        "[[1.0, 2.0], [0.0, 3.0]]",
    ),
    Op(
        "renorm",
        _renorm,
        dtypes="float",
        differentiable=("input",),
        group="matrix",
        doc="Rescale each sub-tensor ``input.select(dim, i)`` whose p-norm exceeds ``maxnorm`` to norm "
        "``maxnorm`` (times ``1 - 1e-7``, as Torch7); the others are unchanged. ``renorm_`` works in place.",
        example=_E + "x = ft.tensor([[3.0, 4.0], [0.3, 0.4]]).renorm(2, 0, 1)\n"
        ">>> x.norm(2, dim=1).gt(0.99999).tolist(), (x * 10).round().tolist()\n"
        "([1, 0], [[6.0, 8.0], [3.0, 4.0]])",
    ),
    Op(
        "match",
        _match,
        ("input", "other"),
        dtypes="float",
        differentiable=("input", "other"),
        group="matrix",
        variants=_NOT_INPLACE,
        doc="The N1 x N2 matrix of ``gain * ||input[i] - other[j]||**2`` between the rows of ``input`` (N1 rows) "
        "and of ``other`` (N2 rows); rows of more than one dim are flattened (Torch7's undocumented ``match``).",
        example=_E + "ft.match(ft.tensor([[0.0, 0.0], [1.0, 1.0]]), ft.tensor([[1.0, 0.0]]), gain=2).tolist()\n"
        "[[2.0], [2.0]]",
    ),
)
